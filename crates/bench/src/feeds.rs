//! `stowaway-bench-feeds`: how fast `stowaway-feeds` parses podcast feeds,
//! side by side with the widely used Python parsers (podcastparser, whose
//! test corpus our parser is checked against, and feedparser) on the same
//! files in the same run.
//!
//! Each parser runs in its own process (this binary with `--child`, or
//! `python3`) that reads the file once, parses it `--runs` times and reports
//! the times and its peak resident memory (VmHWM), so no parser pays for
//! another's allocations. Inputs: a generated feed of `--episodes` realistic
//! items (HTML notes, enclosures, alternate enclosures with integrity,
//! transcripts), and the real feeds of the corpus in
//! `crates/feeds/tests/fixtures/podcastparser` parsed one after another.
//!
//! Not a test and never run in CI. The Python parsers are optional
//! (`pip install podcastparser feedparser`); a missing one is reported.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde::{Deserialize, Serialize};

#[derive(Parser)]
#[command(
    name = "stowaway-bench-feeds",
    about = "Feed parsing speed and memory: stowaway-feeds against podcastparser and feedparser"
)]
struct Args {
    /// Episodes in the generated feed.
    #[arg(long, default_value_t = 10_000)]
    episodes: usize,
    /// Parses per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Internal: parse FILES in this process and print the measurement.
    #[arg(long, hide = true, num_args = 1.., value_name = "FILES")]
    child: Vec<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Measured {
    /// Median and best wall time of one parse of all the files, in ms.
    median_ms: f64,
    min_ms: f64,
    /// Episodes found in all the files (a sanity check across parsers).
    episodes: usize,
    /// Peak resident memory of the process, in KiB.
    peak_kib: u64,
    /// Resident memory before anything was parsed (interpreter, binary).
    base_kib: u64,
}

fn vm(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The child: parse every file `runs` times with stowaway-feeds.
fn child(files: &[PathBuf], runs: usize) -> Result<()> {
    let base_kib = vm("VmRSS:");
    let inputs: Vec<(Vec<u8>, url::Url)> = files
        .iter()
        .map(|f| {
            let url = url::Url::from_file_path(std::fs::canonicalize(f)?)
                .map_err(|()| anyhow::anyhow!("not a path"))?;
            Ok((std::fs::read(f)?, url))
        })
        .collect::<Result<_>>()?;
    let mut times = Vec::new();
    let mut episodes = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        episodes = 0;
        for (bytes, url) in &inputs {
            // A corpus file the parser refuses counts no episodes.
            if let Ok(feed) = stowaway_feeds::parse(bytes, url) {
                episodes += feed.episodes.len();
            }
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let min_ms = times.iter().copied().fold(f64::INFINITY, f64::min);
    let m = Measured {
        median_ms: median(&mut times),
        min_ms,
        episodes,
        peak_kib: vm("VmHWM:"),
        base_kib,
    };
    println!("{}", serde_json::to_string(&m)?);
    Ok(())
}

const PYTHON: &str = r#"
import json, sys, time
def vm(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
    return 0
which, runs, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
if which == "podcastparser":
    import podcastparser, io
    def parse(data, path):
        try:
            return len(podcastparser.parse("file://" + path, io.BytesIO(data)).get("episodes", []))
        except Exception:
            return 0
else:
    import feedparser
    def parse(data, path):
        return len(feedparser.parse(data).entries)
base = vm("VmRSS:")
inputs = [(open(f, "rb").read(), f) for f in files]
times = []
for _ in range(max(runs, 1)):
    t = time.perf_counter()
    episodes = sum(parse(d, p) for d, p in inputs)
    times.append((time.perf_counter() - t) * 1000)
s = sorted(times)
print(json.dumps({"median_ms": s[len(s) // 2], "min_ms": s[0], "episodes": episodes,
                  "peak_kib": vm("VmHWM:"), "base_kib": base}))
"#;

fn python_version(module: &str) -> Option<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            &format!("import {module}; print(getattr({module}, '__version__', '?'))"),
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn run_child(cmd: &mut Command) -> Result<Measured> {
    let out = cmd.output().context("start the parser process")?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .with_context(|| format!("parser output {text:?}"))
}

/// A realistic feed of `n` episodes.
fn generated(n: usize) -> String {
    let mut items = String::with_capacity(n * 1200);
    for i in 0..n {
        items.push_str(&format!(
            r#"<item>
  <title>Episode {i}: negotiating the &lt;hard&gt; parts &amp; closing</title>
  <guid isPermaLink="false">urn:uuid:7f1c{i:08}-deal-room</guid>
  <pubDate>Mon, {day:02} Jul 2024 04:{min:02}:00 +0000</pubDate>
  <link>https://example.com/episodes/{i}</link>
  <description><![CDATA[<p>In episode {i} we talk about <em>escrow</em>, inspections and <a href="https://example.com/notes/{i}">the checklist</a>.</p><ul><li>Offers</li><li>Counters</li></ul><script>track()</script>]]></description>
  <itunes:duration>{h}:{min:02}:{sec:02}</itunes:duration>
  <itunes:episode>{i}</itunes:episode>
  <itunes:season>{season}</itunes:season>
  <itunes:explicit>false</itunes:explicit>
  <enclosure url="https://cdn.example.com/media/{i}.mp3" type="audio/mpeg" length="{len}"/>
  <podcast:alternateEnclosure type="audio/mpeg" length="{len}">
    <podcast:source uri="https://mirror.example.org/media/{i}.mp3"/>
    <podcast:integrity type="sri" value="sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="/>
  </podcast:alternateEnclosure>
  <podcast:transcript url="https://example.com/t/{i}.vtt" type="text/vtt"/>
</item>
"#,
            day = 1 + i % 28,
            h = i % 3,
            min = i % 60,
            sec = (i * 7) % 60,
            season = 1 + i / 100,
            len = 20_000_000 + i,
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:podcast="https://podcastindex.org/namespace/1.0">
<channel><title>The Deal Room</title><link>https://example.com/</link><description>Negotiation</description>
<itunes:image href="https://example.com/art.jpg"/>
{items}</channel></rss>
"#
    )
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.child.is_empty() {
        return child(&args.child, args.runs);
    }
    let work = tempfile::tempdir()?;
    let big = work.path().join("generated.xml");
    std::fs::write(&big, generated(args.episodes))?;
    let corpus_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../feeds/tests/fixtures/podcastparser");
    let mut corpus: Vec<PathBuf> = std::fs::read_dir(&corpus_dir)
        .with_context(|| format!("read {}", corpus_dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rss" || x == "xml"))
        .collect();
    corpus.sort();
    let inputs: Vec<(String, Vec<PathBuf>)> = vec![
        (format!("generated, {} episodes", args.episodes), vec![big]),
        (
            format!("real feeds of the corpus ({} files)", corpus.len()),
            corpus,
        ),
    ];
    let me = std::env::current_exe()?;
    println!("| input | size | parser | episodes | median | best | MB/s | peak RSS (base) |");
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    for (name, files) in &inputs {
        let bytes: u64 = files
            .iter()
            .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
            .sum();
        let mut parsers: Vec<(String, Result<Measured>)> = Vec::new();
        let mut rust = Command::new(&me);
        rust.arg("--runs")
            .arg(args.runs.to_string())
            .arg("--child")
            .args(files);
        parsers.push((
            format!("stowaway-feeds {}", env!("CARGO_PKG_VERSION")),
            run_child(&mut rust),
        ));
        for module in ["podcastparser", "feedparser"] {
            let Some(version) = python_version(module) else {
                parsers.push((module.into(), Err(anyhow::anyhow!("not installed"))));
                continue;
            };
            let mut py = Command::new("python3");
            py.args(["-c", PYTHON, module, &args.runs.to_string()])
                .args(files);
            parsers.push((format!("{module} {version} (Python)"), run_child(&mut py)));
        }
        for (parser, m) in parsers {
            match m {
                Ok(m) => println!(
                    "| {name} | {} | {parser} | {} | {:.1} ms | {:.1} ms | {:.1} | {:.0} MiB ({:.0}) |",
                    if bytes >= 1_000_000 {
                        format!("{:.1} MB", bytes as f64 / 1e6)
                    } else {
                        format!("{:.0} kB", bytes as f64 / 1e3)
                    },
                    m.episodes,
                    m.median_ms,
                    m.min_ms,
                    bytes as f64 / 1e6 / (m.median_ms / 1000.0),
                    m.peak_kib as f64 / 1024.0,
                    m.base_kib as f64 / 1024.0,
                ),
                Err(e) => println!("| {name} | | {parser} | — | {e} | | | |"),
            }
        }
    }
    Ok(())
}
