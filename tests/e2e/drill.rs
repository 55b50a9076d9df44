//! The outage drill: the primary mirror fails in every way a mirror can, and
//! the sync still completes from the others, every byte verified, in about the
//! time the healthy mirrors need — measured against a healthy sync of the same
//! library in the same test.

use std::time::Duration;

use stowaway_testmirror::{refused_url, Fault, PathMatch, Rule, TestMirror};
use stowaway_tests::{all_blobs_verify, free_port, Member, Nginx, Publisher};

const FILES: usize = 6;
const SIZE: usize = 3 << 20;
const TOTAL: u64 = (FILES * SIZE) as u64;

struct Drill {
    tmp: tempfile::TempDir,
    publisher: Publisher,
    nginx: Nginx,
    members: usize,
}

impl Drill {
    fn new() -> Drill {
        let tmp = tempfile::tempdir().unwrap();
        let publisher = Publisher::show(&tmp.path().join("publisher"), FILES, SIZE);
        publisher.build();
        let nginx = Nginx::start(&publisher.mirror);
        Drill {
            tmp,
            publisher,
            nginx,
            members: 0,
        }
    }

    /// A subscription file listing `mirrors` in that order.
    fn subscription(&mut self, mirrors: &[String]) -> std::path::PathBuf {
        self.members += 1;
        let sub = self
            .tmp
            .path()
            .join(format!("member{}.stowaway", self.members));
        let mut s: serde_json::Value = serde_json::from_slice(
            &std::fs::read(self.publisher.subscription(&[self.nginx.url()])).unwrap(),
        )
        .unwrap();
        s["mirrors"] = serde_json::json!(mirrors);
        std::fs::write(&sub, s.to_string()).unwrap();
        sub
    }

    /// A fresh member subscribed to `mirrors` (in that order).
    fn member(&mut self, mirrors: &[String]) -> Member {
        let sub = self.subscription(mirrors);
        let m = Member::new(&self.tmp.path().join(format!("member{}", self.members)));
        m.run(&["subscribe", sub.to_str().unwrap()]).success();
        m
    }

    /// The same sync with a healthy primary (a fault-free TestMirror) and nginx.
    fn baseline(&mut self) -> Duration {
        let healthy = TestMirror::start(&self.publisher.mirror).unwrap();
        let m = self.member(&[healthy.url(), self.nginx.url()]);
        let (t, ok, r) = m.timed_sync(&[]);
        assert!(ok, "{r}");
        t
    }
}

/// A finished sync: ok, everything downloaded, every stored byte verified.
#[track_caller]
fn complete(m: &Member, ok: bool, report: &serde_json::Value) {
    assert!(ok, "{report}");
    assert_eq!(
        report["libraries"][0]["files_downloaded"], FILES as u64,
        "{report}"
    );
    assert!(m.items().iter().all(|i| i.2));
    assert_eq!(all_blobs_verify(m), FILES);
    let fsck = m.json(&["fsck"]);
    assert_eq!(fsck["database_ok"], true);
    assert!(fsck["problems"].as_array().unwrap().is_empty(), "{fsck}");
}

#[track_caller]
fn within(t: Duration, baseline: Duration, slack: Duration, what: &str) {
    let bound = baseline * 2 + slack;
    eprintln!("{what}: {t:?} (healthy {baseline:?}, bound {bound:?})");
    assert!(
        t <= bound,
        "{what} took {t:?}; the healthy sync took {baseline:?}"
    );
}

#[test]
fn drill_1_primary_refuses_connections() {
    let mut d = Drill::new();
    let base = d.baseline();
    let nginx = d.nginx.url();
    let m = d.member(&[refused_url(), nginx.clone()]);
    let (t, ok, r) = m.timed_sync(&[]);
    complete(&m, ok, &r);
    within(t, base, Duration::from_secs(1), "refused primary");
}

#[test]
fn drill_2_primary_black_holed() {
    let mut d = Drill::new();
    let base = d.baseline();
    let hole = TestMirror::start(&d.publisher.mirror).unwrap();
    hole.set_faults(vec![Rule::all(Fault::BlackHole)]);
    let nginx = d.nginx.url();
    // Subscribing fetches the catalog: hedging must make the black hole cost
    // well under a second, not a 15 s idle timeout.
    let sub = d.subscription(&[hole.url(), nginx]);
    let m = Member::new(&d.tmp.path().join("hole-member"));
    let t0 = std::time::Instant::now();
    let r = m.json(&["subscribe", sub.to_str().unwrap()]);
    let catalog_time = t0.elapsed();
    assert_eq!(r["catalog_mirror"], d.nginx.url(), "{r}");
    eprintln!("catalog with a black-holed primary: {catalog_time:?}");
    assert!(catalog_time < Duration::from_secs(1), "{catalog_time:?}");

    let (t, ok, r) = m.timed_sync(&[]);
    complete(&m, ok, &r);
    within(t, base, Duration::from_secs(1), "black-holed primary");
}

#[test]
fn drill_3_primary_dies_mid_file_and_the_second_continues_with_range() {
    let mut d = Drill::new();
    let base = d.baseline();
    let primary = TestMirror::start(&d.publisher.mirror).unwrap();
    primary.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::DropAfter(1 << 20),
    )]);
    // A fault-free TestMirror as the second so we can see its requests.
    let second = TestMirror::start(&d.publisher.mirror).unwrap();
    let m = d.member(&[primary.url(), second.url()]);
    let (t, ok, r) = m.timed_sync(&[]);
    complete(&m, ok, &r);
    within(t, base, Duration::from_secs(1), "primary dying mid-file");

    // Files come in segments from both mirrors at once: every request the
    // second served was a bounded Range, answered 206.
    let ranged: Vec<_> = second
        .requests()
        .into_iter()
        .filter(|q| q.path.starts_with("blobs/"))
        .collect();
    assert!(
        !ranged.is_empty(),
        "the second mirror served parts of the files"
    );
    for q in &ranged {
        assert_eq!(q.status, 206, "{q:?}");
        let range = q.range.as_deref().unwrap_or_default();
        assert!(
            range
                .strip_prefix("bytes=")
                .and_then(|r| r.split_once('-'))
                .is_some_and(|(from, to)| from.parse::<u64>().is_ok() && to.parse::<u64>().is_ok()),
            "a bounded segment: {q:?}"
        );
    }
    // Continued, not restarted: what the primary sent before each cut is
    // kept, and nothing was received twice.
    let received = r["libraries"][0]["bytes_received"].as_u64().unwrap();
    eprintln!(
        "received {received}, primary sent {}, second mirror sent {}",
        primary.bytes_sent(),
        second.bytes_sent()
    );
    assert!(
        received <= TOTAL + (64 << 10),
        "received {received} for {TOTAL}"
    );
    assert!(primary.bytes_sent() > 0);
}

#[test]
fn drill_3b_primary_stalls_mid_body() {
    let mut d = Drill::new();
    let base = d.baseline();
    let staller = TestMirror::start(&d.publisher.mirror).unwrap();
    staller.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::StallAfter(1 << 20),
    )]);
    let nginx = d.nginx.url();
    let m = d.member(&[staller.url(), nginx]);
    let (t, ok, r) = m.timed_sync(&[]);
    complete(&m, ok, &r);
    // A silent stream costs the stall timeout (4 s), not the 15 s idle timeout.
    within(t, base, Duration::from_secs(6), "primary stalling mid-body");
}

#[test]
fn drill_3c_primary_trickles() {
    let mut d = Drill::new();
    let base = d.baseline();
    let slow = TestMirror::start(&d.publisher.mirror).unwrap();
    slow.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::Trickle {
            bytes_per_sec: 8 << 10,
        },
    )]);
    let nginx = d.nginx.url();
    let m = d.member(&[slow.url(), nginx]);
    let (t, ok, r) = m.timed_sync(&[]);
    complete(&m, ok, &r);
    // At 8 KB/s the library would take over half an hour from the primary.
    within(t, base, Duration::from_secs(5), "trickling primary");
}

#[test]
fn drill_4_primary_serves_corrupted_bytes() {
    let mut d = Drill::new();
    let base = d.baseline();
    let liar = TestMirror::start(&d.publisher.mirror).unwrap();
    liar.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::FlipBytes,
    )]);
    let nginx = d.nginx.url();
    let m = d.member(&[liar.url(), nginx]);
    let (t, ok, r) = m.timed_sync(&[]);
    complete(&m, ok, &r);
    within(t, base, Duration::from_secs(1), "lying primary");
    // The liar is caught when its bytes were in a copy. Files come from
    // both mirrors at once, and when the honest one sends every byte first
    // (the liar answering slower), the liar's streams give up unanswered
    // and there is nothing to catch it for.
    let mirrors = m.json(&["mirrors"]);
    let health = |i: usize| &mirrors[i]["health"];
    assert!(
        health(0)["bad_bytes"].as_u64().unwrap() >= 1
            || health(0)["latency_ms"].as_f64() > health(1)["latency_ms"].as_f64(),
        "{mirrors}"
    );
}

#[test]
fn drill_5_every_mirror_down_then_one_returns() {
    let mut d = Drill::new();
    let (pa, pb) = (free_port(), free_port());
    let (ua, ub) = (
        format!("http://127.0.0.1:{pa}/"),
        format!("http://127.0.0.1:{pb}/"),
    );
    let m = d.member(&[ua, ub]);
    let t0 = std::time::Instant::now();
    let r = m.run(&["sync"]).failure();
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "failing took {:?}",
        t0.elapsed()
    );
    assert!(
        r.stdout.contains("no mirror gave a valid catalog"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("Connection refused") || r.stdout.contains("connection"),
        "{}",
        r.stdout
    );
    assert!(m.json(&["status"])["libraries"][0]["last_sync_ok"] == false);

    let _back = TestMirror::start_on(&d.publisher.mirror, ([127, 0, 0, 1], pb).into()).unwrap();
    let (_, ok, r) = m.timed_sync(&[]);
    complete(&m, ok, &r);
    assert_eq!(
        r["libraries"][0]["catalog_mirror"],
        format!("http://127.0.0.1:{pb}/")
    );
}

#[test]
fn drill_5b_rate_limited_primary_is_left_alone() {
    let mut d = Drill::new();
    let busy = TestMirror::start(&d.publisher.mirror).unwrap();
    busy.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::Status {
            code: 429,
            retry_after: Some(120),
        },
    )]);
    let nginx = d.nginx.url();
    let m = d.member(&[busy.url(), nginx]);
    let (_, ok, r) = m.timed_sync(&[]);
    complete(&m, ok, &r);
    let asked = busy
        .requests()
        .iter()
        .filter(|q| q.path.starts_with("blobs/"))
        .count();
    assert!(
        asked <= 4,
        "after a 429 with Retry-After the mirror is not asked again at once ({asked})"
    );
    let mirrors = m.json(&["mirrors"]);
    assert_ne!(mirrors[0]["state"], "ok", "{mirrors}");
    assert!(
        mirrors[0]["health"]["retry_after_until"].as_i64().is_some(),
        "{mirrors}"
    );
}

#[test]
fn drill_6_sigkill_at_random_points_then_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let files = 8usize;
    let size = 4usize << 20;
    let total = (files * size) as u64;
    let publisher = Publisher::show(&tmp.path().join("publisher"), files, size);
    publisher.build();
    // A mirror at ~4 MB/s per connection, so kills land mid-transfer.
    let mirror = TestMirror::start(&publisher.mirror).unwrap();
    mirror.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::Trickle {
            bytes_per_sec: 4 << 20,
        },
    )]);
    let sub = publisher.subscription(&[mirror.url()]);
    let member = Member::new(&tmp.path().join("member"));
    member.run(&["subscribe", sub.to_str().unwrap()]).success();

    let bin = stowaway_tests::bin("stowaway");
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut kills = 0;
    for _ in 0..30 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(20 + seed % 120);
        let mut child = std::process::Command::new(&bin)
            .arg("--data-dir")
            .arg(&member.data)
            .arg("sync")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    let served_during_kills = mirror.bytes_sent();
    eprintln!("{kills} kills; {served_during_kills} bytes served of {total}");
    assert!(kills >= 20, "most runs were killed mid-sync ({kills})");

    mirror.clear_faults();
    let r = member.json(&["sync"]);
    assert_eq!(r["ok"], true, "{r}");
    assert!(member.items().iter().all(|i| i.2));
    assert_eq!(all_blobs_verify(&member), files);
    let fsck = member.json(&["fsck"]);
    assert_eq!(fsck["database_ok"], true, "integrity_check: {fsck}");
    assert!(fsck["problems"].as_array().unwrap().is_empty(), "{fsck}");
    assert!(member.json(&["status"])["partial_downloads"]
        .as_array()
        .unwrap()
        .is_empty());
    // Resume works: what was served in all stays close to the library's size
    // (each kill can lose what was in flight, not what was on disk).
    let served = mirror.bytes_sent();
    eprintln!(
        "total served {served} for a {total}-byte library ({:.2}x)",
        served as f64 / total as f64
    );
    assert!(
        served <= total + total / 2,
        "{served} bytes served for {total}: downloads restarted instead of resuming"
    );
}

/// A file without a chunk list (format 1) is fetched in segments too:
/// its journal says which pieces are in; the next sync asks only for what
/// is missing, and the whole file is checked by its hash at the end.
#[test]
fn a_killed_sync_resumes_each_file_where_its_bytes_stop() {
    killed_sync_resumes(1);
}

/// The same with chunk lists (format 2), fetched in segments by several
/// streams at once: each file's partial holds the chunks that were checked
/// and written, and its journal says which; the next sync asks only for the
/// chunks that are missing, and unfinished ones from where their bytes were
/// last noted. A kill loses at most a chunk a file.
#[test]
fn a_killed_chunked_sync_resumes_each_file_where_its_bytes_stop() {
    killed_sync_resumes(2);
}

/// What a chunked download's journal (`blobs/partial/<sha256>.chunks`, see
/// store/src/partial.rs) says is on disk: chunks checked, and bytes of
/// unfinished chunks (the latest note of each).
#[derive(Debug, Default)]
struct Journal {
    done: std::collections::BTreeSet<u64>,
    held: std::collections::BTreeMap<u64, u64>,
}

impl Journal {
    fn read(j: &[u8]) -> Journal {
        // The header: magic (chunks checked by a list, or segments of a
        // file checked whole), size, chunk size, the chunk list's hash.
        assert!(&j[..8] == b"STWYCHK3" || &j[..8] == b"STWYSEG1");
        let r: Vec<u32> = j[52..]
            .chunks_exact(4)
            .map(|r| u32::from_le_bytes(r.try_into().unwrap()))
            .collect();
        let mut out = Journal::default();
        let mut k = 0;
        while k < r.len() {
            match r[k] {
                u32::MAX => k += 1,
                0xFFFF_FFFE => {
                    out.held.insert(u64::from(r[k + 1]), u64::from(r[k + 2]));
                    k += 3;
                }
                i => {
                    out.done.insert(u64::from(i));
                    k += 1;
                }
            }
        }
        out.held.retain(|i, _| !out.done.contains(i));
        out
    }

    fn bytes(&self, chunk: u64) -> u64 {
        self.done.len() as u64 * chunk + self.held.values().sum::<u64>()
    }
}

/// A sync of two files from a mirror that limits each connection, killed
/// part-way, then run again with the mirror healthy. Format 1: two 4 MiB
/// files at 256 KiB/s, killed after 1.5 s. Format 2: two 48 MiB files at
/// 8 MB/s per connection (four streams a file: 32 MB/s), killed after 1 s,
/// fast enough that the journal's notes of unfinished chunks every 250 ms
/// alone would lose several chunks a file.
fn killed_sync_resumes(format: u32) {
    let tmp = tempfile::tempdir().unwrap();
    let (files, size, rate, kill_after) = if format == 1 {
        (2usize, 4usize << 20, 256u64 << 10, 1500)
    } else {
        (2usize, 48usize << 20, 8_000_000u64, 1000)
    };
    let total = (files * size) as u64;
    let publisher = Publisher::show(&tmp.path().join("publisher"), files, size);
    publisher.build_format(format);
    let mirror = TestMirror::start(&publisher.mirror).unwrap();
    mirror.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::Trickle {
            bytes_per_sec: rate,
        },
    )]);
    let sub = publisher.subscription(&[mirror.url()]);
    let member = Member::new(&tmp.path().join("member"));
    member.run(&["subscribe", sub.to_str().unwrap()]).success();
    let mut child = std::process::Command::new(stowaway_tests::bin("stowaway"))
        .arg("--data-dir")
        .arg(&member.data)
        .arg("sync")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(kill_after));
    child.kill().unwrap();
    child.wait().unwrap();
    let sent_in_killed = mirror.bytes_sent();

    // The partial files are on disk, in `partial/`, never in the blob store.
    let partial_dir = member.data.join("blobs/partial");
    let mut partials: Vec<(String, u64)> = Vec::new();
    let mut journals: Vec<(String, Vec<u8>)> = Vec::new();
    for e in std::fs::read_dir(&partial_dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        match name.strip_suffix(".chunks") {
            Some(sha) => journals.push((sha.to_owned(), std::fs::read(e.path()).unwrap())),
            None => partials.push((name, e.metadata().unwrap().len())),
        }
    }
    assert_eq!(partials.len(), files, "{partials:?}");
    assert_eq!(
        all_blobs_verify(&member),
        0,
        "nothing partial is presented as complete"
    );
    assert!(member.items().iter().all(|i| !i.2));
    let st = member.json(&["status"]);
    assert_eq!(
        st["partial_downloads"].as_array().unwrap().len(),
        files,
        "{st}"
    );
    // What each file has on disk, as its journal names it: chunks in
    // (checked by the chunk list in format 2; format 1's file is checked
    // whole at its end), and how far unfinished ones are.
    let chunk = 1u64 << 20;
    assert_eq!(journals.len(), files, "a journal beside each partial");
    let had: Vec<(String, Journal)> = journals
        .iter()
        .map(|(sha, j)| (sha.clone(), Journal::read(j)))
        .collect();
    let had_bytes: u64 = had.iter().map(|(_, j)| j.bytes(chunk)).sum();
    assert!(had_bytes > 0, "the killed sync wrote something: {had:?}");
    {
        // A kill costs at most a chunk a file: what came since the journal
        // last noted how far unfinished chunks are (64 KiB at most), and
        // what was on its way to the disk.
        let lost = sent_in_killed.saturating_sub(had_bytes);
        assert!(
            lost <= files as u64 * chunk,
            "{lost} bytes received and lost to the kill ({had_bytes} on disk)"
        );
    }

    // The mirror keeps its limit (both formats come in segments): at full
    // loopback speed a stream whose segment another took the back half of
    // would find megabytes the server pushed ahead into the socket when it
    // stops (see BENCHMARKS, "a damaged copy"), which this drill is not about.
    mirror.clear_requests();
    let sent_before = mirror.bytes_sent();
    let r = member.json(&["sync"]);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["libraries"][0]["files_resumed"], files as u64);
    for (sha, on_disk) in &had {
        let asked: Vec<String> = mirror
            .requests()
            .into_iter()
            .filter(|q| q.path.ends_with(sha.as_str()))
            .map(|q| {
                assert_eq!(q.status, 206, "{q:?}");
                q.range.unwrap_or_default()
            })
            .collect();
        assert!(!asked.is_empty());
        {
            // Only missing chunks, each from a chunk's start or from where
            // its bytes stop.
            for range in &asked {
                let from: u64 = range
                    .strip_prefix("bytes=")
                    .and_then(|r| r.split('-').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{range}"));
                let (i, at) = (from / chunk, from % chunk);
                assert!(!on_disk.done.contains(&i), "{range} was on disk");
                assert_eq!(
                    at,
                    on_disk.held.get(&i).copied().unwrap_or(0),
                    "{range}: {on_disk:?}"
                );
            }
        }
    }
    let resent = mirror.bytes_sent() - sent_before;
    // Only the missing bytes of the blobs (and at most a small catalog) were sent.
    assert!(
        resent >= total - had_bytes && resent <= total - had_bytes + (16 << 10),
        "sent {resent} for {} missing bytes",
        total - had_bytes
    );
    assert_eq!(all_blobs_verify(&member), files);
}
