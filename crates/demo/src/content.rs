//! The demo library's content: a course and a show, written as a source
//! folder with a `library.toml`, exactly as a publisher would lay it out.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::Result;

use crate::media;

pub const LIBRARY_ID: &str = "keystone-demo";
pub const LIBRARY_TITLE: &str = "Keystone Real Estate Coaching (demo)";

struct Entry {
    id: &'static str,
    title: &'static str,
    summary: &'static str,
    /// Spoken, and used for the transcript and show notes.
    script: &'static [&'static str],
    published: &'static str,
}

const LESSONS: &[Entry] = &[
    Entry {
        id: "01-mindset",
        title: "Mindset: thinking like an investor",
        summary: "Why the numbers come before the house, and how to set your buy box.",
        script: &[
            "Welcome to your first deal.",
            "An investor buys numbers, not houses.",
            "Before you look at a single listing, write down your buy box: the area, the price range, and the return you need.",
            "Open the workbook and fill in page one before the next lesson.",
        ],
        published: "2026-09-01",
    },
    Entry {
        id: "02-finding-deals",
        title: "Finding off-market deals",
        summary: "Driving for dollars, probate lists and talking to wholesalers.",
        script: &[
            "Most good deals never reach the open market.",
            "Drive your target neighbourhood and note every neglected property.",
            "Probate and tax lists are public records, and they are full of motivated sellers.",
            "Call three wholesalers this week and tell them your buy box.",
        ],
        published: "2026-09-08",
    },
    Entry {
        id: "03-running-numbers",
        title: "Running the numbers",
        summary: "After-repair value, the seventy percent rule and cash on cash return.",
        script: &[
            "Start with the after repair value, from three recent comparable sales.",
            "The seventy percent rule says your maximum offer is seventy percent of that value, minus repairs.",
            "For rentals, divide the yearly cash flow by the cash you put in: that is your cash on cash return.",
        ],
        published: "2026-09-15",
    },
    Entry {
        id: "04-closing",
        title: "Escrow and closing day",
        summary: "What escrow protects, the final walkthrough, and signing.",
        script: &[
            "Escrow holds the money until every condition of the contract is met.",
            "Do the final walkthrough the day before closing, with the contract in your hand.",
            "On closing day, read every page before you sign. Congratulations on your first deal.",
        ],
        published: "2026-09-22",
    },
];

const EPISODES: &[Entry] = &[
    Entry {
        id: "ep-001",
        title: "Negotiation drills: anchoring and silence",
        summary: "Two habits that win more deals than any script.",
        script: &[
            "This is the Deal Room, episode one.",
            "Make the first offer, and make it specific: a precise number anchors the whole negotiation.",
            "Then be quiet. Silence is the cheapest concession you will never have to make.",
        ],
        published: "2026-10-06",
    },
    Entry {
        id: "ep-002",
        title: "Financing a flip with private money",
        summary: "Where private lenders come from and what they expect.",
        script: &[
            "This is the Deal Room, episode two.",
            "Private lenders are often people you already know: they want a secured, simple return.",
            "Bring them a one page deal summary and a clear exit plan.",
        ],
        published: "2026-10-20",
    },
    Entry {
        id: "ep-003",
        title: "When the host goes down",
        summary: "Why this show now reaches you from several mirrors.",
        script: &[
            "This is the Deal Room, episode three.",
            "Last month our only media host was down for four hours and nobody could listen.",
            "Now every episode lives on several independent mirrors, and your app checks every byte.",
        ],
        published: "2026-11-03",
    },
];

fn vtt(script: &[&str], duration_ms: u64) -> String {
    let start = 700u64;
    let span = duration_ms.saturating_sub(start).max(1);
    let total: usize = script.iter().map(|s| s.len()).sum::<usize>().max(1);
    let ts = |ms: u64| {
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    };
    let mut out = String::from("WEBVTT\n\n");
    let mut at = start;
    for (i, line) in script.iter().enumerate() {
        let end = at + span * line.len() as u64 / total as u64;
        let _ = write!(out, "{}\n{} --> {}\n{}\n\n", i + 1, ts(at), ts(end), line);
        at = end;
    }
    out
}

fn chapters(script: &[&str], duration_ms: u64) -> String {
    let total: usize = script.iter().map(|s| s.len()).sum::<usize>().max(1);
    let mut at = 0.7f64;
    let span = (duration_ms as f64 / 1000.0 - 0.7).max(0.1);
    let mut chapters = Vec::new();
    for (i, line) in script.iter().enumerate() {
        let title = if i == 0 {
            "Intro".to_string()
        } else {
            line.split([':', ',', '.'])
                .next()
                .unwrap_or(line)
                .to_string()
        };
        chapters
            .push(serde_json::json!({ "startTime": (at * 10.0).round() / 10.0, "title": title }));
        at += span * line.len() as f64 / total as f64;
    }
    serde_json::to_string_pretty(&serde_json::json!({ "version": "1.2.0", "chapters": chapters }))
        .expect("serialises")
}

fn toml_str(s: &str) -> String {
    format!("{s:?}") // Rust string escapes are valid TOML basic strings for this text.
}

/// Writes the source folder. Media already present is kept (Ogg streams carry
/// random serial numbers, so regenerating would change every hash).
pub fn write_source(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir.join("media"))?;
    fs::create_dir_all(dir.join("art"))?;
    fs::create_dir_all(dir.join("docs"))?;
    fs::write(
        dir.join("art/library.svg"),
        media::artwork_svg("Keystone", "Real estate coaching", 205),
    )?;
    fs::write(
        dir.join("art/first-deal.svg"),
        media::artwork_svg("Your First Deal", "A four-lesson course", 160),
    )?;
    fs::write(
        dir.join("art/deal-room.svg"),
        media::artwork_svg("The Deal Room", "The members' podcast", 20),
    )?;
    fs::write(
        dir.join("docs/first-deal-workbook.pdf"),
        media::pdf(&[
            "Your First Deal - Workbook",
            "Page 1: your buy box",
            "Area: ______________________   Price range: ____________",
            "Return I need (cash on cash): ______ %",
            "",
            "Page 2: the seventy percent rule",
            "After-repair value x 0.70 - repairs = maximum offer",
        ]),
    )?;

    let mut toml = format!(
        "# The Stowaway demo library. Built by `stowaway-demo`; see docs/FORMAT.md.\n\
         [library]\nid = {}\ntitle = {}\ndescription = {}\nartwork = \"art/library.svg\"\nexpires_in_days = 30\n",
        toml_str(LIBRARY_ID),
        toml_str(LIBRARY_TITLE),
        toml_str("A demo coaching library: a short course with a workbook, and a members' podcast."),
    );
    /// (id, kind, title, summary, entries, chime pitch)
    type Section<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [Entry], u32);
    let sections: [Section<'_>; 2] = [
        (
            "first-deal",
            "course",
            "Your First Deal",
            "From mindset to closing day in four short lessons.",
            LESSONS,
            523,
        ),
        (
            "deal-room",
            "show",
            "The Deal Room",
            "The members' podcast: negotiation, financing and war stories.",
            EPISODES,
            440,
        ),
    ];
    for (cid, kind, title, summary, entries, hz) in sections {
        let _ = write!(
            toml,
            "\n[[collection]]\nid = {}\nkind = {}\ntitle = {}\nsummary = {}\nartwork = \"art/{cid}.svg\"\n",
            toml_str(cid),
            toml_str(kind),
            toml_str(title),
            toml_str(summary)
        );
        for (n, e) in entries.iter().enumerate() {
            let stem = dir.join("media").join(e.id);
            let existing = ["ogg", "wav"]
                .iter()
                .map(|ext| format!("{}.{ext}", e.id))
                .find(|f| dir.join("media").join(f).exists());
            let duration_file = dir.join("media").join(format!("{}.duration", e.id));
            let (file, ms) = match (existing, fs::read_to_string(&duration_file).ok()) {
                (Some(f), Some(ms)) if ms.trim().parse::<u64>().is_ok() => (f, ms.trim().parse()?),
                _ => {
                    let text = e.script.join(" ");
                    let (f, ms) = media::speak(&stem, &text, hz + 40 * n as u32)?;
                    fs::write(&duration_file, ms.to_string())?;
                    (f, ms)
                }
            };
            fs::write(
                dir.join("media").join(format!("{}.vtt", e.id)),
                vtt(e.script, ms),
            )?;
            let notes = format!(
                "{}\n\n{}\n\nWorksheet and further reading: https://keystone.example/notes/{}\n\nMissed the key point? Go back to 0:03.",
                e.summary,
                e.script.join("\n\n"),
                e.id
            );
            let _ = write!(
                toml,
                "\n[[collection.item]]\nid = {}\ntitle = {}\nsummary = {}\nnotes = {}\npublished = {}\nduration = {}\nmedia = \"media/{file}\"\ntranscript = \"media/{}.vtt\"\n",
                toml_str(e.id),
                toml_str(e.title),
                toml_str(e.summary),
                toml_str(&notes),
                toml_str(e.published),
                ms as f64 / 1000.0,
                e.id
            );
            if kind == "show" {
                fs::write(
                    dir.join("media").join(format!("{}.chapters.json", e.id)),
                    chapters(e.script, ms),
                )?;
                let _ = write!(
                    toml,
                    "chapters = \"media/{}.chapters.json\"\nnumber = {}\n",
                    e.id,
                    n + 1
                );
            }
            if cid == "first-deal" && n == 0 {
                toml.push_str("attachments = [\"docs/first-deal-workbook.pdf\"]\n");
            }
        }
    }
    fs::write(dir.join("library.toml"), toml)?;
    Ok(())
}
