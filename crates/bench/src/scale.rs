//! `stowaway-bench-scale`: a real member's library. Generates libraries of
//! `--items` episodes (one show per 1,000, a title and a 40-word summary
//! each), publishes them with `stowaway-publish`, and measures, with the
//! real `stowaway` binary on a file:// mirror:
//!
//! - subscribe (which applies the catalog): wall time and peak memory
//!   (GNU time's maximum resident set), the index and WAL left after it;
//! - search, in process through `stowaway_store::Store::search` (what the
//!   CLI and the app call), p50/p95 over words, one- and two-letter
//!   prefixes; side by side with `sqlite3` running the same FTS5 query on
//!   the same file (`.timer on`, its own "real" time per statement);
//! - 100 podcast feeds whose server answers after `--feed-delay-ms`:
//!   one `sync --catalog-only` of all of them, the feeds on 10 servers and
//!   on one.
//!
//! Build first: `cargo build --release -p stowaway-cli -p stowaway-publish
//! -p stowaway-bench`. Not a test and never run in CI.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use serde::Serialize;
use stowaway_testmirror::{Fault, PathMatch, Rule, TestMirror};

#[derive(Parser)]
#[command(
    name = "stowaway-bench-scale",
    about = "A 100,000-episode library and 100 feeds: apply, index, search, refresh"
)]
struct Args {
    /// Library sizes to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    items: Vec<usize>,
    /// Times each search query is run (after one warm-up).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Podcast feeds in the refresh measurement (0: skip it).
    #[arg(long, default_value_t = 100)]
    feeds: usize,
    /// How long each feed's server takes to answer.
    #[arg(long, default_value_t = 200)]
    feed_delay_ms: u64,
    /// Where `stowaway` and `stowaway-publish` are (default: next to this binary).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// A fresh working directory is made in DIR (and removed at the end).
    #[arg(long, default_value = "/tmp", value_name = "DIR")]
    dir: PathBuf,
    /// JSON on stdout instead of Markdown.
    #[arg(long)]
    json: bool,
    /// Keep the working directory (mirrors, keys, member caches) and print where it is.
    #[arg(long)]
    keep: bool,
}

struct Bins {
    stowaway: PathBuf,
    publish: PathBuf,
}

/// Runs `cmd` under GNU time: (wall seconds, peak RSS in bytes, stdout).
fn timed(cmd: &mut Command, what: &str, scratch: &Path) -> Result<(f64, u64, String)> {
    let rss = scratch.join("time.out");
    let mut c = Command::new("/usr/bin/time");
    c.arg("-f").arg("%M").arg("-o").arg(&rss);
    c.arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.stdin(Stdio::null());
    let t0 = Instant::now();
    let out = c.output().with_context(|| format!("cannot run {what}"))?;
    let wall = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "{what} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let kb: u64 = fs::read_to_string(&rss)?
        .lines()
        .last()
        .unwrap_or("0")
        .trim()
        .parse()
        .unwrap_or(0);
    Ok((
        wall,
        kb * 1024,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

#[derive(Serialize)]
struct Percentiles {
    queries: usize,
    p50_ms: f64,
    p95_ms: f64,
    max_ms: f64,
}

fn percentiles(mut v: Vec<f64>) -> Percentiles {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    Percentiles {
        queries: v.len(),
        p50_ms: at(0.5),
        p95_ms: at(0.95),
        max_ms: *v.last().unwrap_or(&0.0),
    }
}

#[derive(Serialize)]
struct SearchRow {
    class: &'static str,
    stowaway: Percentiles,
    /// The same SQL as the store runs for these queries.
    sqlite3: Percentiles,
    /// Every match ranked (the query before short prefixes had their own).
    sqlite3_ranked: Percentiles,
}

#[derive(Serialize)]
struct LibraryRow {
    items: usize,
    publish_s: f64,
    subscribe_s: f64,
    subscribe_peak_rss: u64,
    index_bytes: u64,
    wal_bytes: u64,
    /// `sync --catalog-only` of a new sequence with 1,000 titles changed.
    update_s: f64,
    update_peak_rss: u64,
    /// `sync --catalog-only` with nothing new.
    unchanged_s: f64,
    unchanged_peak_rss: u64,
    wal_after_update: u64,
    search: Vec<SearchRow>,
    listening: ListeningRow,
}

/// The member's listening at this size, through the store as the app's
/// commands reach it (milliseconds).
#[derive(Serialize)]
struct ListeningRow {
    /// "Mark older episodes played" on the newest episode of a 1,000-episode show.
    mark_earlier_ms: f64,
    marked: usize,
    /// "Continue where you left off" with 1,000 items in progress.
    in_progress_ms: f64,
    /// 500 items queued one by one (each rewrites the queue), then read back.
    queue_500_adds_ms: f64,
    queue_read_ms: f64,
    /// The full-text index made again from every item, as migration 14 does
    /// once on upgrade (sqlite3, on a copy of the index).
    fts_rebuild_ms: f64,
}

fn listening(data: &Path, scratch: &Path) -> Result<ListeningRow> {
    use std::time::Instant;
    use stowaway_store::{ItemKey, QueueAt, Store};
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    let store = Store::open(data)?;
    let library = store.libraries()?.remove(0).id;
    let key = |show: usize, i: usize| (format!("show-{show:03}"), format!("e{show:03}-{i:04}"));
    let (col, newest) = key(0, 0);
    fn at<'a>(library: &'a str, c: &'a str, i: &'a str) -> ItemKey<'a> {
        ItemKey {
            library,
            collection: c,
            item: i,
        }
    }
    let t = Instant::now();
    let marked = store.mark_earlier_played(at(&library, &col, &newest))?;
    let mark_earlier_ms = ms(t);
    for n in 0..1000 {
        let (c, i) = key(1 + n % 50, n / 50);
        store.set_position(at(&library, &c, &i), 5_000, None)?;
    }
    let t = Instant::now();
    let shelf = store.in_progress(6)?;
    let in_progress_ms = ms(t);
    ensure!(shelf.len() == 6, "continue listed {}", shelf.len());
    let t = Instant::now();
    for n in 0..500 {
        let (c, i) = key(2, n);
        store.queue_add(at(&library, &c, &i), QueueAt::End)?;
    }
    let queue_500_adds_ms = ms(t);
    let t = Instant::now();
    let q = store.queue()?;
    let queue_read_ms = ms(t);
    ensure!(q.len() == 500, "queued {}", q.len());
    drop(store);
    let copy = scratch.join("fts-copy.db");
    fs::copy(data.join("stowaway.db"), &copy)?;
    let t = Instant::now();
    let out = Command::new("sqlite3")
        .arg(&copy)
        .arg("INSERT INTO items_fts(items_fts) VALUES ('rebuild');")
        .output()?;
    let fts_rebuild_ms = ms(t);
    ensure!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::remove_file(&copy).ok();
    Ok(ListeningRow {
        mark_earlier_ms,
        marked,
        in_progress_ms,
        queue_500_adds_ms,
        queue_read_ms,
        fts_rebuild_ms,
    })
}

/// The queries of each class: whole words, one- and two-letter prefixes.
fn queries(words: &[String]) -> Vec<(&'static str, Vec<String>)> {
    let letters: Vec<String> = "bdfghjklmnpqrstvz".chars().map(String::from).collect();
    let pairs: Vec<String> = [
        "ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "ba", "de", "fo", "gu", "ha", "ji",
        "pe", "qu", "ro", "sh", "tu",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let whole: Vec<String> = words.iter().step_by(97).take(20).cloned().collect();
    vec![("word", whole), ("1 letter", letters), ("2 letters", pairs)]
}

/// The FTS query for `q` as `sqlite3` runs it, counted so only one row is
/// printed: `ranked`, every match ranked by BM25 (what `Store::search`
/// runs for words of three letters or more, and ran for every query
/// before); otherwise what it runs while the last word is one or two
/// letters (title matches in index order, stopping at the limit).
fn sqlite_script(q: &[String], runs: usize, ranked: bool) -> String {
    let mut s = String::from(".timer on\n");
    for _ in 0..=runs {
        for w in q {
            let m = stowaway_store::fts_query(w)
                .unwrap_or_default()
                .replace('\'', "''");
            let _ = if ranked || w.chars().count() > 2 {
                writeln!(
                    s,
                    "SELECT count(*) FROM (SELECT i.id, snippet(items_fts, -1, '[', ']', '…', 12) \
                     FROM items_fts JOIN items i ON i.rowid = items_fts.rowid \
                     WHERE items_fts MATCH '{m}' ORDER BY bm25(items_fts, 10.0, 3.0, 1.0, 0.5) LIMIT 50);"
                )
            } else {
                writeln!(
                    s,
                    "SELECT count(*) FROM (SELECT rowid, snippet(items_fts, -1, '[', ']', '…', 12) \
                     FROM items_fts WHERE items_fts MATCH '{{title}} : ({m})' ORDER BY rowid LIMIT 50);"
                )
            };
        }
    }
    s
}

/// Runs a `sqlite3` script on `db` and returns its statements' real times (ms).
fn sqlite_times(db: &Path, script: &str) -> Result<Vec<f64>> {
    let out = Command::new("sqlite3")
        .arg("-readonly")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(script.as_bytes())?;
            c.wait_with_output()
        })
        .context("cannot run sqlite3")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix("Run Time: real "))
        .filter_map(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .map(|s| s * 1000.0)
        .collect())
}

fn search_rows(data: &Path, words: &[String], runs: usize) -> Result<Vec<SearchRow>> {
    let store = stowaway_store::Store::open(data)?;
    let db = data.join("stowaway.db");
    let mut rows = Vec::new();
    for (class, qs) in queries(words) {
        let mut ours = Vec::new();
        for round in 0..=runs {
            for q in &qs {
                let t0 = Instant::now();
                let hits = store.search(q, 50)?;
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                ensure!(!hits.is_empty(), "{q:?} found nothing");
                if round > 0 {
                    ours.push(ms);
                }
            }
        }
        let mut sqlite = Vec::new();
        for ranked in [false, true] {
            let times = sqlite_times(&db, &sqlite_script(&qs, runs, ranked))?;
            ensure!(
                times.len() == qs.len() * (runs + 1),
                "sqlite3 printed {} timings",
                times.len()
            );
            sqlite.push(percentiles(times[qs.len()..].to_vec()));
        }
        let ranked = sqlite.pop().expect("two");
        rows.push(SearchRow {
            class,
            stowaway: percentiles(ours),
            sqlite3: sqlite.pop().expect("one"),
            sqlite3_ranked: ranked,
        });
    }
    Ok(rows)
}

fn library(
    bins: &Bins,
    work: &Path,
    items: usize,
    words: &[String],
    runs: usize,
) -> Result<LibraryRow> {
    let root = work.join(format!("lib-{items}"));
    let id = format!("scale-{items}");
    let source = root.join("source");
    eprintln!("scale {items}: generating");
    stowaway_tests::scale::write_source(&source, &id, items, &[7u8; 4096]);
    let keys = root.join("keys");
    let mirror = root.join("mirror");
    let status = Command::new(&bins.publish)
        .args(["keygen", "--out"])
        .arg(&keys)
        .stdout(Stdio::null())
        .status()?;
    ensure!(status.success(), "keygen failed");
    eprintln!("scale {items}: publishing");
    let build = || {
        let mut c = Command::new(&bins.publish);
        c.arg("build")
            .arg("--key")
            .arg(keys.join("stowaway.key"))
            .arg("--source")
            .arg(&source)
            .arg("--out")
            .arg(&mirror);
        c
    };
    let (publish_s, _, _) = timed(&mut build(), "stowaway-publish build", &root)?;
    let url = format!("file://{}/", mirror.display());
    let sub = Command::new(&bins.publish)
        .arg("subscription")
        .arg("--key")
        .arg(keys.join("stowaway.pub"))
        .args(["--library", &id, "--title", "Scale", "--mirror", &url])
        .output()?;
    ensure!(sub.status.success(), "subscription failed");
    let sub_path = root.join("scale.stowaway");
    fs::write(&sub_path, sub.stdout)?;
    let data = root.join("member");
    eprintln!("scale {items}: subscribing");
    let (subscribe_s, rss, _) = timed(
        Command::new(&bins.stowaway)
            .arg("--data-dir")
            .arg(&data)
            .args(["--json", "subscribe"])
            .arg(&sub_path),
        "stowaway subscribe",
        &root,
    )?;
    let size = |f: &str| fs::metadata(data.join(f)).map(|m| m.len()).unwrap_or(0);
    let (index_bytes, wal_bytes) = (size("stowaway.db"), size("stowaway.db-wal"));
    eprintln!("scale {items}: searching");
    let search = search_rows(&data, words, runs)?;

    // An update: the first show's 1,000 titles changed, republished (a new
    // sequence), then a sync with nothing new.
    let toml = source.join("library.toml");
    let text = fs::read_to_string(&toml)?.replace(" s000n", " revised s000n");
    fs::write(&toml, text)?;
    let status = build().stdout(Stdio::null()).status()?;
    ensure!(status.success(), "republishing failed");
    let sync = || {
        let mut c = Command::new(&bins.stowaway);
        c.arg("--data-dir")
            .arg(&data)
            .args(["--json", "sync", "--catalog-only"]);
        c
    };
    eprintln!("scale {items}: updating");
    let (update_s, update_rss, out) = timed(&mut sync(), "stowaway sync (update)", &root)?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let changed = v["libraries"][0]["catalog"]["diff"]["changed"]
        .as_array()
        .map_or(0, Vec::len);
    ensure!(
        changed == 1000,
        "the update changed {changed} items, not 1,000"
    );
    let (unchanged_s, unchanged_rss, _) = timed(&mut sync(), "stowaway sync (unchanged)", &root)?;
    let wal_after_update = size("stowaway.db-wal");
    eprintln!("scale {items}: listening");
    let listening = listening(&data, &root)?;
    fs::remove_dir_all(&source).ok();
    Ok(LibraryRow {
        items,
        publish_s,
        subscribe_s,
        subscribe_peak_rss: rss,
        index_bytes,
        wal_bytes,
        update_s,
        update_peak_rss: update_rss,
        unchanged_s,
        unchanged_peak_rss: unchanged_rss,
        wal_after_update,
        search,
        listening,
    })
}

#[derive(Serialize)]
struct FeedsRow {
    feeds: usize,
    servers: usize,
    delay_ms: u64,
    first_sync_s: f64,
    second_sync_s: f64,
}

fn feeds(bins: &Bins, work: &Path, n: usize, servers: usize, delay: u64) -> Result<FeedsRow> {
    let root = work.join(format!("feeds-{servers}"));
    let mut mirrors = Vec::new();
    let mut opml = String::from("<?xml version=\"1.0\"?><opml version=\"2.0\"><body>");
    for s in 0..servers {
        let dir = root.join(format!("server-{s}"));
        fs::create_dir_all(&dir)?;
        let m = TestMirror::start(&dir)?;
        m.set_faults(vec![Rule::path(
            PathMatch::prefix("feed-"),
            Fault::Delay(Duration::from_millis(delay)),
        )]);
        mirrors.push(m);
    }
    for f in 0..n {
        let m = &mirrors[f % servers];
        let u = m.url();
        let mut xml =
            format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {f}</title>");
        for e in 0..20 {
            let _ = write!(
                xml,
                "<item><guid>f{f}-e{e}</guid><title>Episode {e}</title><enclosure url=\"{u}f{f}-e{e}.mp3\" type=\"audio/mpeg\" length=\"1000\"/></item>"
            );
        }
        xml.push_str("</channel></rss>");
        fs::write(m.root().join(format!("feed-{f}.xml")), xml)?;
        let _ = write!(
            opml,
            "<outline type=\"rss\" text=\"Feed {f}\" xmlUrl=\"{u}feed-{f}.xml\"/>"
        );
    }
    opml.push_str("</body></opml>");
    let opml_path = root.join("feeds.opml");
    fs::write(&opml_path, opml)?;
    let data = root.join("member");
    let run = |args: &[&str]| -> Result<f64> {
        let t = timed(
            Command::new(&bins.stowaway)
                .arg("--data-dir")
                .arg(&data)
                .args(args),
            "stowaway",
            &root,
        )?;
        Ok(t.0)
    };
    run(&["--json", "opml", "import", opml_path.to_str().unwrap()])?;
    let first_sync_s = run(&["--json", "sync", "--catalog-only"])?;
    let second_sync_s = run(&["--json", "sync", "--catalog-only"])?;
    Ok(FeedsRow {
        feeds: n,
        servers,
        delay_ms: delay,
        first_sync_s,
        second_sync_s,
    })
}

#[derive(Serialize)]
struct Report {
    command: String,
    libraries: Vec<LibraryRow>,
    feeds: Vec<FeedsRow>,
}

fn mib(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / 1048576.0)
}

fn markdown(r: &Report) {
    println!("`{}`\n", r.command);
    println!("| items | publish | subscribe (apply) | peak RSS | index | WAL left |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for l in &r.libraries {
        println!(
            "| {} | {:.1} s | {:.2} s | {} | {} | {} |",
            l.items,
            l.publish_s,
            l.subscribe_s,
            mib(l.subscribe_peak_rss),
            mib(l.index_bytes),
            mib(l.wal_bytes)
        );
    }
    println!("\n| items | `sync --catalog-only`: update (1,000 titles changed) | peak RSS | then nothing new | peak RSS | WAL left |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for l in &r.libraries {
        println!(
            "| {} | {:.2} s | {} | {:.2} s | {} | {} |",
            l.items,
            l.update_s,
            mib(l.update_peak_rss),
            l.unchanged_s,
            mib(l.unchanged_peak_rss),
            mib(l.wal_after_update)
        );
    }
    println!("\n| items | mark 999 older played | continue (1,000 in progress) | queue: 500 adds / read | FTS rebuild (migration 14, once) |");
    println!("|---:|---:|---:|---:|---:|");
    for l in &r.libraries {
        let x = &l.listening;
        println!(
            "| {} | {:.0} ms ({} marked) | {:.1} ms | {:.0} ms / {:.1} ms | {:.0} ms |",
            l.items,
            x.mark_earlier_ms,
            x.marked,
            x.in_progress_ms,
            x.queue_500_adds_ms,
            x.queue_read_ms,
            x.fts_rebuild_ms
        );
    }
    println!("\n| items | queries | stowaway p50 / p95 / max | sqlite3, same SQL | sqlite3, every match ranked |");
    println!("|---:|---|---:|---:|---:|");
    for l in &r.libraries {
        for s in &l.search {
            println!(
                "| {} | {} ({}) | {:.2} / {:.2} / {:.2} ms | {:.0} / {:.0} / {:.0} ms | {:.0} / {:.0} / {:.0} ms |",
                l.items,
                s.class,
                s.stowaway.queries,
                s.stowaway.p50_ms,
                s.stowaway.p95_ms,
                s.stowaway.max_ms,
                s.sqlite3.p50_ms,
                s.sqlite3.p95_ms,
                s.sqlite3.max_ms,
                s.sqlite3_ranked.p50_ms,
                s.sqlite3_ranked.p95_ms,
                s.sqlite3_ranked.max_ms
            );
        }
    }
    if !r.feeds.is_empty() {
        println!(
            "\n| feeds | servers | each answers after | first `sync --catalog-only` | second |"
        );
        println!("|---:|---:|---:|---:|---:|");
        for f in &r.feeds {
            println!(
                "| {} | {} | {} ms | {:.2} s | {:.2} s |",
                f.feeds, f.servers, f.delay_ms, f.first_sync_s, f.second_sync_s
            );
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("executable directory")?
            .to_path_buf(),
    };
    let bins = Bins {
        stowaway: dir.join("stowaway"),
        publish: dir.join("stowaway-publish"),
    };
    for b in [&bins.stowaway, &bins.publish] {
        ensure!(b.exists(), "{} is missing: build it first", b.display());
    }
    let work = tempfile::Builder::new()
        .prefix("stowaway-bench-scale-")
        .tempdir_in(&args.dir)?;
    let words = stowaway_tests::scale::vocabulary();
    let mut report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        libraries: Vec::new(),
        feeds: Vec::new(),
    };
    for &n in &args.items {
        report
            .libraries
            .push(library(&bins, work.path(), n, &words, args.runs)?);
    }
    if args.feeds > 0 {
        for servers in [10.min(args.feeds), 1] {
            eprintln!("feeds: {} on {servers} server(s)", args.feeds);
            report.feeds.push(feeds(
                &bins,
                work.path(),
                args.feeds,
                servers,
                args.feed_delay_ms,
            )?);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        markdown(&report);
    }
    if args.keep {
        eprintln!("kept {}", work.keep().display());
    }
    Ok(())
}
