//! Big generated libraries: a real member's 100,000 episodes, for the app's
//! scale journey and `stowaway-bench-scale`. One show per 1,000 episodes;
//! each episode a four-word title ending in a token of its own
//! (`s019n0990`: show 19, episode 990, found by search alone), a 40-word
//! summary, one a day going back from 2026-11-30, all sharing one media
//! file (the index is what is measured, not the transfer).

use std::fmt::Write as _;
use std::path::Path;

use crate::{run, Publisher};

/// A small deterministic generator (xorshift64*): every run, the same library.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The syllables words are made of (so one- and two-letter prefixes of
/// them all match something).
pub const SYLLABLES: [&str; 20] = [
    "ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "ba", "de", "fo", "gu", "ha", "ji", "pe",
    "qua", "ro", "shi", "tu",
];

/// 2,000 pronounceable words made of [`SYLLABLES`].
pub fn vocabulary() -> Vec<String> {
    let mut words = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut rng = Rng(0x5157_0A11);
    while words.len() < 2000 {
        let n = 2 + rng.below(2);
        let w: String = (0..n)
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
            .collect();
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}

fn phrase(rng: &mut Rng, words: &[String], n: usize) -> String {
    (0..n)
        .map(|_| words[rng.below(words.len())].as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Writes the source folder (library.toml and the one media file) of an
/// `items`-episode library `id`. Shows are `show-000`…, episodes
/// `e000-0000`… (newest first).
pub fn write_source(source: &Path, id: &str, items: usize, media: &[u8]) {
    let words = vocabulary();
    std::fs::create_dir_all(source.join("media")).unwrap();
    std::fs::write(source.join("media/ep.ogg"), media).unwrap();
    let mut rng = Rng(items as u64 | 1);
    let mut t = String::with_capacity(items * 400);
    writeln!(
        t,
        "[library]\nid = \"{id}\"\ntitle = \"{items} episodes\"\n"
    )
    .unwrap();
    for show in 0..items.div_ceil(1000) {
        writeln!(
            t,
            "[[collection]]\nid = \"show-{show:03}\"\nkind = \"show\"\ntitle = \"Show {show}: {}\"\n",
            phrase(&mut rng, &words, 2)
        )
        .unwrap();
        for i in 0..(items - show * 1000).min(1000) {
            let (y, m, d) = civil(20_787 - i as i64);
            writeln!(
                t,
                "[[collection.item]]\nid = \"e{show:03}-{i:04}\"\ntitle = \"{} s{show:03}n{i:04}\"\nsummary = \"{}\"\npublished = \"{y:04}-{m:02}-{d:02}\"\nduration = 20\nmedia = \"media/ep.ogg\"\n",
                phrase(&mut rng, &words, 3),
                phrase(&mut rng, &words, 40)
            )
            .unwrap();
        }
    }
    std::fs::write(source.join("library.toml"), t).unwrap();
}

/// Generates, keys and publishes an `items`-episode library below `root`
/// with `stowaway-publish`.
pub fn publish(root: &Path, id: &str, items: usize, media: &[u8]) -> Publisher {
    let p = Publisher {
        root: root.to_path_buf(),
        keys: root.join("keys"),
        source: root.join("source"),
        mirror: root.join("mirror"),
        episodes: items,
    };
    run(
        "stowaway-publish",
        &["keygen", "--out", p.keys.to_str().unwrap()],
    )
    .success();
    write_source(&p.source, id, items, media);
    p.build();
    p
}
