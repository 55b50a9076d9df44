//! `stowaway-bench-app`: the desktop app, release build, in a real window
//! (run it under `xvfb-run -a`), driven over WebDriver as its end-to-end
//! test drives it. Measures:
//!
//! - on a library of `--items` episodes (generated and published as
//!   `stowaway-bench-scale` does, subscribed and synced by the CLI first):
//!   launch to the first collection drawn (from the WebDriver session
//!   request, which starts the app, to the frame the page marks
//!   `stowaway:first-collection`); the memory of the app's processes then
//!   (main, WebKit web and network processes: resident, proportional,
//!   anonymous, and the web process's peak); scrolling through the first five
//!   shows (5,000 rows) a step per frame, every frame's length measured in the
//!   page with `requestAnimationFrame`; opening an episode near the end (click
//!   to its title in the player, and the frames meanwhile);
//! - the same processes idle on the demo library (synced, 15 s after the
//!   first paint), with what their memory is made of;
//! - with `--play RUNS`, only play while it downloads: from the click on
//!   play of a lesson not downloaded to audio playing, and a seek to 60 %
//!   of it to playback past there (mirror at 2 MB/s per connection).
//!
//! Build first: `npm --prefix ui run build && cargo build --release -p
//! stowaway-app -p stowaway-cli -p stowaway-publish -p stowaway-bench`. Not a
//! test and never run in CI.
#![forbid(unsafe_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use fantoccini::Client;
use serde::Serialize;
use serde_json::{json, Value};
use stowaway_tests::webdriver::Driver;
use stowaway_tests::SecretService;

#[derive(Parser)]
#[command(
    name = "stowaway-bench-app",
    about = "The app at a real member's scale: launch, memory, scrolling, idle"
)]
struct Args {
    /// Episodes in the big library.
    #[arg(long, default_value_t = 100_000)]
    items: usize,
    /// Launches measured (each: first paint, memory, scroll, detail).
    #[arg(long, default_value_t = 3)]
    launches: usize,
    /// Pixels scrolled per frame (a row is 58 px).
    #[arg(long, default_value_t = 600)]
    step_px: u32,
    /// Where `stowaway-app`, `stowaway` and `stowaway-publish` are (default: next to this binary).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// A fresh working directory is made in DIR (and removed at the end).
    #[arg(long, default_value = "/tmp", value_name = "DIR")]
    dir: PathBuf,
    /// Measure on this member cache (already subscribed and synced) instead
    /// of generating one; its first five collections are scrolled.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Collections scrolled through (1,000 rows each).
    #[arg(long, default_value_t = 5)]
    shows: usize,
    /// Scroll through the shows this many times (the web process's resident
    /// size after each is printed on stderr: growth that repeats is a leak).
    #[arg(long, default_value_t = 1)]
    scrolls: usize,
    /// Print the web process's largest memory mappings after the scroll (stderr).
    #[arg(long)]
    smaps: bool,
    /// A diagnosis: run this script (async WebDriver script) in the page
    /// after the first paint, print the web process's memory before and after
    /// (stderr), then go on.
    #[arg(long, value_name = "FILE", hide = true)]
    probe_js: Option<PathBuf>,
    /// Skip the idle measurement on the demo library.
    #[arg(long)]
    no_idle: bool,
    /// JSON on stdout instead of Markdown.
    #[arg(long)]
    json: bool,
    /// Measure only play while it downloads, this many times: a 30-minute
    /// WAV lesson (80 MB) not downloaded, published with chunk lists, on a
    /// loopback mirror sending 2 MB/s per connection; the time from the
    /// click on play to the element's `playing`, and from a seek to 60 %
    /// to playback past it, timed in the page.
    #[arg(long, value_name = "RUNS")]
    play: Option<usize>,
}

struct Bins {
    app: PathBuf,
    stowaway: PathBuf,
    publish: PathBuf,
}

fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// One process's memory, from /proc (bytes).
#[derive(Clone, Debug, Default, Serialize)]
struct Memory {
    name: String,
    rss: u64,
    /// Peak resident set (VmHWM).
    peak_rss: u64,
    /// Proportional set: shared pages divided among the processes mapping them.
    pss: u64,
    pss_anon: u64,
    pss_file: u64,
    pss_shmem: u64,
}

fn kib_field(text: &str, field: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |k| k * 1024)
}

fn memory(pid: u32) -> Option<Memory> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    Some(Memory {
        name: status
            .lines()
            .find_map(|l| l.strip_prefix("Name:"))
            .unwrap_or("")
            .trim()
            .to_owned(),
        rss: kib_field(&status, "VmRSS:"),
        peak_rss: kib_field(&status, "VmHWM:"),
        pss: kib_field(&smaps, "Pss:"),
        pss_anon: kib_field(&smaps, "Pss_Anon:"),
        pss_file: kib_field(&smaps, "Pss_File:"),
        pss_shmem: kib_field(&smaps, "Pss_Shmem:"),
    })
}

/// `(pid, parent pid, exe)` of every process.
fn processes() -> Vec<(u32, u32, PathBuf)> {
    let mut out = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name is in parentheses and may hold spaces.
        let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        out.push((pid, ppid, exe));
    }
    out
}

/// Ends every instance of the app left running (closing its window keeps
/// it in the tray; a next launch would hand over to it and exit).
fn stop_app(app: &Path) {
    let Ok(app) = fs::canonicalize(app) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<u32> = processes()
            .into_iter()
            .filter(|(_, _, exe)| *exe == app)
            .map(|(pid, _, _)| pid)
            .collect();
        if left.is_empty() {
            return;
        }
        let signal = if Instant::now() < deadline {
            "-TERM"
        } else {
            "-KILL"
        };
        for pid in left {
            let _ = Command::new("kill")
                .arg(signal)
                .arg(pid.to_string())
                .status();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The running app (by its executable) and its WebKit children.
fn app_memory(app: &Path) -> Result<Vec<Memory>> {
    let all = processes();
    let app = fs::canonicalize(app)?;
    let main: Vec<u32> = all
        .iter()
        .filter(|(_, _, exe)| *exe == app)
        .map(|(pid, _, _)| *pid)
        .collect();
    ensure!(main.len() == 1, "{} app processes running", main.len());
    let mut out = vec![memory(main[0]).context("the app's /proc")?];
    out[0].name = "stowaway-app (main)".into();
    for (pid, _, _) in all.iter().filter(|(_, ppid, _)| *ppid == main[0]) {
        if let Some(m) = memory(*pid).filter(|m| m.name.starts_with("WebKit")) {
            out.push(m);
        }
    }
    // Main, then the web process, then the network process.
    out[1..].sort_by_key(|m| !m.name.contains("WebKitWeb"));
    Ok(out)
}

/// The web process's mappings by resident size, largest first (a diagnosis).
fn print_smaps(app: &Path) {
    let Ok(app) = fs::canonicalize(app) else {
        return;
    };
    let all = processes();
    let Some(main) = all.iter().find(|(_, _, e)| *e == app).map(|p| p.0) else {
        return;
    };
    for (pid, _, _) in all.iter().filter(|(_, ppid, _)| *ppid == main) {
        let Some(m) = memory(*pid) else { continue };
        if !m.name.contains("WebKitWeb") {
            continue;
        }
        let text = fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
        let mut by: std::collections::HashMap<String, (u64, u64)> = Default::default();
        let mut name = String::new();
        for l in text.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.first().is_some_and(|a| a.contains('-') && a.len() > 8) && !l.ends_with("kB") {
                name = f.get(5).map_or("[anon]".to_owned(), |n| n.to_string());
            } else if f.first() == Some(&"Rss:") {
                let e = by.entry(name.clone()).or_default();
                e.0 += f[1].parse::<u64>().unwrap_or(0);
                e.1 += 1;
            }
        }
        let mut v: Vec<_> = by.into_iter().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1 .0));
        for (n, (kb, count)) in v.iter().take(12) {
            eprintln!("smaps {pid}: {:>8} kB in {count:>4} mappings  {n}", kb);
        }
    }
}

async fn js(c: &Client, script: &str) -> Result<Value> {
    c.execute(script, vec![])
        .await
        .map_err(|e| anyhow::anyhow!("script failed: {e:?}"))
}

async fn js_async(c: &Client, script: &str, args: Vec<Value>) -> Result<Value> {
    c.execute_async(script, args)
        .await
        .map_err(|e| anyhow::anyhow!("script failed: {e:?}"))
}

async fn wait_for(c: &Client, secs: u64, what: &str, script: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if js(c, script).await.ok().and_then(|v| v.as_bool()) == Some(true) {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Debug, Default, Serialize)]
struct Frames {
    frames: usize,
    p50_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    /// Frames longer than 100 ms.
    over_100ms: usize,
}

fn frames(v: &Value) -> Frames {
    let mut d: Vec<f64> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    if d.is_empty() {
        return Frames::default();
    }
    d.sort_by(f64::total_cmp);
    let at = |q: f64| d[((d.len() as f64 - 1.0) * q).round() as usize];
    Frames {
        frames: d.len(),
        p50_ms: at(0.5),
        p95_ms: at(0.95),
        max_ms: *d.last().unwrap_or(&0.0),
        over_100ms: d.iter().filter(|&&x| x > 100.0).count(),
    }
}

#[derive(Debug, Serialize)]
struct Launch {
    /// Session request (app start) to the frame that drew the first collection.
    launch_to_first_collection_ms: f64,
    /// The page's own part: its navigation start to that frame.
    page_to_first_collection_ms: f64,
    memory_at_first_paint: Vec<Memory>,
    /// Two seconds of frames with nothing moving (the display's pace).
    idle: Frames,
    scroll: Frames,
    rows_scrolled: f64,
    /// Frames in which fewer than 5 rows were drawn (rows not fetched yet).
    scroll_blank_frames: usize,
    /// Rows in the page at the end of the scroll.
    rows_in_page: u64,
    detail_ms: f64,
    detail: Frames,
    memory_after: Vec<Memory>,
    /// Ten seconds later (what the scroll left that a collection frees).
    memory_later: Vec<Memory>,
}

const SCROLL: &str = r#"
const [step, shows] = [arguments[0], arguments[1]];
const done = arguments[arguments.length - 1];
const m = document.getElementById('content');
const lastList = document.querySelector(`[data-collection='${shows[shows.length - 1]}'] ol.items`);
const firstList = document.querySelector(`[data-collection='${shows[0]}'] ol.items`);
m.scrollTop = 0;
const top0 = firstList.getBoundingClientRect().top - m.getBoundingClientRect().top + m.scrollTop;
const end = lastList.getBoundingClientRect().bottom - m.getBoundingClientRect().bottom + m.scrollTop;
m.scrollTop = top0;
const deltas = [];
let blank = 0;
let prev = 0;
function frame(t) {
  deltas.push(t - prev);
  prev = t;
  if (m.querySelectorAll('[data-item]').length < 5) blank++;
  if (m.scrollTop >= end - 1) {
    setTimeout(() => done({ deltas, blank, scrolled: end - top0, rows: m.querySelectorAll('[data-item]').length }), 500);
    return;
  }
  m.scrollTop = Math.min(end, m.scrollTop + step);
  requestAnimationFrame(frame);
}
requestAnimationFrame((t) => { prev = t; requestAnimationFrame(frame); });
"#;

const IDLE: &str = r#"
const done = arguments[arguments.length - 1];
const deltas = [];
let prev = 0;
const t0 = performance.now();
function frame(t) {
  if (prev) deltas.push(t - prev);
  prev = t;
  if (t - t0 > 2000) { done(deltas); return; }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
"#;

const DETAIL: &str = r#"
const done = arguments[arguments.length - 1];
const rows = [...document.querySelectorAll('[data-item] .item-main')];
const row = rows[rows.length - 1];
const title = row.querySelector('.item-title').textContent;
const t0 = performance.now();
const deltas = [];
let prev = t0;
function frame(t) {
  deltas.push(t - prev);
  prev = t;
  const now = document.getElementById('now-title');
  if (now && now.textContent === title) { done({ ms: performance.now() - t0, deltas, title }); return; }
  if (performance.now() - t0 > 10000) { done({ ms: -1, deltas, title }); return; }
  requestAnimationFrame(frame);
}
row.click();
requestAnimationFrame(frame);
"#;

/// The app alone (any instance left is ended first) in a WebDriver session,
/// once the page has drawn its first collection.
async fn start_app(bins: &Bins, env: &[(&str, String)]) -> Result<(Driver, Client)> {
    stop_app(&bins.app);
    let driver = Driver::start(env);
    let c = driver.session(bins.app.to_str().context("app path")?).await;
    wait_for(
        &c,
        60,
        "the first collection",
        "return performance.getEntriesByName('stowaway:first-collection').length > 0;",
    )
    .await?;
    Ok((driver, c))
}

async fn launch(
    bins: &Bins,
    env: &[(&str, String)],
    step: u32,
    shows: &[String],
    smaps: bool,
    scrolls: usize,
    probe: Option<&Path>,
) -> Result<Launch> {
    let t0 = epoch_ms();
    let (driver, c) = start_app(bins, env).await?;
    let marks = js(
        &c,
        "const m = performance.getEntriesByName('stowaway:first-collection')[0];
         return [performance.timeOrigin + m.startTime, m.startTime];",
    )
    .await?;
    let first = marks[0].as_f64().context("mark")?;
    let page = marks[1].as_f64().context("mark")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let memory_at_first_paint = app_memory(&bins.app)?;
    let idle = js_async(&c, IDLE, vec![]).await?;
    if let Some(p) = probe {
        let web = |m: Vec<Memory>| {
            m.into_iter()
                .find(|m| m.name.contains("WebKitWeb"))
                .map_or(0, |m| m.rss)
        };
        eprintln!(
            "probe: web process {} before",
            mib(web(app_memory(&bins.app)?))
        );
        let out = js_async(&c, &fs::read_to_string(p)?, vec![]).await?;
        eprintln!(
            "probe: {out}; web process {} after",
            mib(web(app_memory(&bins.app)?))
        );
    }

    for s in shows {
        js(
            &c,
            &format!("document.querySelector(\"[data-open='{s}']\").click(); return true;"),
        )
        .await?;
        wait_for(
            &c,
            30,
            "the show to open",
            &format!("return !!document.querySelector(\"[data-collection='{s}'] ol.items\");"),
        )
        .await?;
    }
    let last = shows.last().context("shows")?;
    let mut scrolled = Value::Null;
    for n in 0..scrolls.max(1) {
        scrolled = js_async(&c, SCROLL, vec![json!(step), json!(shows)]).await?;
        if scrolls > 1 {
            for m in app_memory(&bins.app)?
                .iter()
                .filter(|m| m.name.contains("WebKitWeb"))
            {
                eprintln!(
                    "after scroll {}: web process {} resident",
                    n + 1,
                    mib(m.rss)
                );
            }
        }
    }
    let end_item = format!("e{}-0999", last.trim_start_matches("show-"));
    wait_for(
        &c,
        10,
        "the last row",
        &format!("return !!document.querySelector(\"[data-item='{end_item}']\");"),
    )
    .await?;
    let detail = js_async(&c, DETAIL, vec![]).await?;
    ensure!(
        detail["ms"].as_f64().unwrap_or(-1.0) >= 0.0,
        "the player did not show {}",
        detail["title"]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let memory_after = app_memory(&bins.app)?;
    if smaps {
        print_smaps(&bins.app);
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let memory_later = app_memory(&bins.app)?;
    let _ = c.close().await;
    drop(driver);
    stop_app(&bins.app);
    Ok(Launch {
        launch_to_first_collection_ms: first - t0,
        page_to_first_collection_ms: page,
        memory_at_first_paint,
        idle: frames(&idle),
        scroll: frames(&scrolled["deltas"]),
        rows_scrolled: scrolled["scrolled"].as_f64().unwrap_or(0.0) / 58.0,
        scroll_blank_frames: scrolled["blank"].as_u64().unwrap_or(0) as usize,
        rows_in_page: scrolled["rows"].as_u64().unwrap_or(0),
        detail_ms: detail["ms"].as_f64().unwrap_or(-1.0),
        detail: frames(&detail["deltas"]),
        memory_after,
        memory_later,
    })
}

/// The library of `items` episodes, published on a file:// mirror,
/// subscribed and synced by the CLI into `member`.
fn big_library(bins: &Bins, root: &Path, items: usize, member: &Path) -> Result<()> {
    let id = format!("scale-{items}");
    let source = root.join("source");
    let keys = root.join("keys");
    let mirror = root.join("mirror");
    eprintln!("app bench: generating and publishing {items} episodes");
    stowaway_tests::scale::write_source(&source, &id, items, &[7u8; 4096]);
    publish(bins, &source, &keys, &mirror, 1)?;
    let sub = run(
        Command::new(&bins.publish)
            .arg("subscription")
            .arg("--key")
            .arg(keys.join("stowaway.pub"))
            .args(["--library", &id, "--title", "Scale", "--mirror"])
            .arg(format!("file://{}/", mirror.display())),
        "stowaway-publish subscription",
    )?;
    let sub_path = root.join("scale.stowaway");
    fs::write(&sub_path, sub)?;
    subscribe_and_sync(bins, member, &sub_path)
}

fn subscribe_and_sync(bins: &Bins, member: &Path, sub: &Path) -> Result<()> {
    run(
        Command::new(&bins.stowaway)
            .arg("--data-dir")
            .arg(member)
            .arg("subscribe")
            .arg(sub),
        "stowaway subscribe",
    )?;
    run(
        Command::new(&bins.stowaway)
            .arg("--data-dir")
            .arg(member)
            .arg("sync"),
        "stowaway sync",
    )?;
    Ok(())
}

#[derive(Serialize)]
struct Report {
    command: String,
    items: usize,
    launches: Vec<Launch>,
    idle_demo: Option<Vec<Memory>>,
}

async fn idle_on_demo(bins: &Bins, work: &Path, bus: &SecretService) -> Result<Vec<Memory>> {
    let root = work.join("demo");
    let url = format!("file://{}/", root.join("mirror-a").display());
    eprintln!("app bench: the demo library, idle");
    stowaway_demo::prepare(&root, std::slice::from_ref(&url))?;
    let sub = stowaway_demo::write_subscription(&root, &[url])?;
    let member = root.join("member");
    subscribe_and_sync(bins, &member, &sub)?;
    let mut env = bus.env();
    env.push(("STOWAWAY_DATA_DIR", member.display().to_string()));
    let (driver, c) = start_app(bins, &env).await?;
    tokio::time::sleep(Duration::from_secs(15)).await;
    let m = app_memory(&bins.app)?;
    let _ = c.close().await;
    drop(driver);
    stop_app(&bins.app);
    Ok(m)
}

fn mib(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0))
}

fn markdown(r: &Report) {
    println!("`{}`\n", r.command);
    println!(
        "| launch | to first collection | page part | main / web / network RSS at first paint | web RSS after scroll, peak, 10 s later | idle frames p50 | scroll: rows, frames, p50 / p95 / max | frames > 100 ms | blank frames | open an episode: ms, longest frame |"
    );
    println!("|---:|---:|---:|---|---|---:|---|---:|---:|---|");
    for (i, l) in r.launches.iter().enumerate() {
        let rss = |m: &[Memory]| m.iter().map(|p| mib(p.rss)).collect::<Vec<_>>().join(" / ");
        let web = |m: &[Memory]| {
            m.iter()
                .find(|m| m.name.contains("WebKitWeb"))
                .cloned()
                .unwrap_or_default()
        };
        let (after, later) = (web(&l.memory_after), web(&l.memory_later));
        println!(
            "| {} | {:.0} ms | {:.0} ms | {} | {}, {}, {} | {:.1} ms | {:.0} rows, {} frames, {:.1} / {:.1} / {:.1} ms | {} | {} | {:.0} ms, {:.1} ms |",
            i + 1,
            l.launch_to_first_collection_ms,
            l.page_to_first_collection_ms,
            rss(&l.memory_at_first_paint),
            mib(after.rss),
            mib(after.peak_rss),
            mib(later.rss),
            l.idle.p50_ms,
            l.rows_scrolled,
            l.scroll.frames,
            l.scroll.p50_ms,
            l.scroll.p95_ms,
            l.scroll.max_ms,
            l.scroll.over_100ms,
            l.scroll_blank_frames,
            l.detail_ms,
            l.detail.max_ms,
        );
    }
    if let Some(idle) = &r.idle_demo {
        println!("\nIdle on the demo library (15 s after the first paint):\n");
        println!("| process | RSS | PSS | of which anonymous | file-backed | shared memory |");
        println!("|---|---:|---:|---:|---:|---:|");
        let mut total = (0, 0);
        for m in idle {
            total.0 += m.rss;
            total.1 += m.pss;
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                m.name,
                mib(m.rss),
                mib(m.pss),
                mib(m.pss_anon),
                mib(m.pss_file),
                mib(m.pss_shmem)
            );
        }
        println!("| all | {} | {} | | | |", mib(total.0), mib(total.1));
    }
}

/// One run of `--play`, in milliseconds.
#[derive(Debug, Serialize)]
struct PlayRun {
    start_ms: f64,
    seek_ms: f64,
}

/// A course with one 30-minute WAV lesson (sox makes it), published in
/// catalog format 2 into `root/mirror` with keys in `root/keys`.
fn long_lesson(bins: &Bins, root: &Path) -> Result<()> {
    let source = root.join("source");
    fs::create_dir_all(source.join("media"))?;
    run(
        Command::new("sox")
            .args(["-n", "-r", "22050", "-c", "1", "-b", "16"])
            .arg(source.join("media/long.wav"))
            .args(["synth", "1800", "sine", "440", "vol", "0.1"]),
        "sox",
    )?;
    fs::write(
        source.join("library.toml"),
        "[library]\nid = \"big\"\ntitle = \"Big Course\"\n\n[[collection]]\nid = \"course\"\nkind = \"course\"\ntitle = \"Long lessons\"\n\n\
         [[collection.item]]\nid = \"long\"\ntitle = \"The long lesson\"\nmedia = \"media/long.wav\"\n",
    )?;
    publish(bins, &source, &root.join("keys"), &root.join("mirror"), 2)
}

/// New keys in `keys`, then `source` published into `mirror` in catalog
/// `format`.
fn publish(bins: &Bins, source: &Path, keys: &Path, mirror: &Path, format: u32) -> Result<()> {
    run(
        Command::new(&bins.publish)
            .args(["keygen", "--out"])
            .arg(keys),
        "keygen",
    )?;
    run(
        Command::new(&bins.publish)
            .arg("build")
            .arg("--key")
            .arg(keys.join("stowaway.key"))
            .arg("--source")
            .arg(source)
            .arg("--out")
            .arg(mirror)
            .args(["--format", &format.to_string()]),
        "stowaway-publish build",
    )?;
    Ok(())
}

/// `--play`: each run a fresh member cache (subscribed, the catalog in, the
/// course set to download only what is asked for), the app started on it,
/// the lesson opened, then play and the seek timed in the page.
async fn play_runs(
    bins: &Bins,
    work: &Path,
    bus: &SecretService,
    runs: usize,
) -> Result<Vec<PlayRun>> {
    use stowaway_testmirror::{Fault, PathMatch, Rule, TestMirror};
    let root = work.join("play");
    eprintln!("app bench: publishing a 30-minute lesson in format 2");
    long_lesson(bins, &root)?;
    let mirror = TestMirror::start(root.join("mirror"))?;
    mirror.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::Trickle {
            bytes_per_sec: 2_000_000,
        },
    )]);
    let sub = run(
        Command::new(&bins.publish)
            .arg("subscription")
            .arg("--key")
            .arg(root.join("keys/stowaway.pub"))
            .args(["--mirror", &mirror.url()]),
        "stowaway-publish subscription",
    )?;
    let sub_path = root.join("big.stowaway");
    fs::write(&sub_path, sub)?;
    let mut out = Vec::new();
    for i in 0..runs {
        let member = root.join(format!("member-{i}"));
        let cli = |args: &[&str]| {
            run(
                Command::new(&bins.stowaway)
                    .arg("--data-dir")
                    .arg(&member)
                    .args(args),
                "stowaway",
            )
        };
        cli(&["subscribe", sub_path.to_str().context("path")?])?;
        cli(&["sync", "--catalog-only"])?;
        cli(&["auto-download", "big/course", "off"])?;
        let mut env = bus.env();
        env.push(("STOWAWAY_DATA_DIR", member.display().to_string()));
        let (driver, c) = start_app(bins, &env).await?;
        wait_for(
            &c,
            30,
            "the lesson",
            "const r = document.querySelector(\"[data-item='long'] .item-main\"); if (r) r.click(); return !!document.getElementById('play');",
        )
        .await?;
        js(&c, stowaway_tests::webdriver::PLAY_TIMED).await?;
        wait_for(
            &c,
            30,
            "playback",
            "const m = document.getElementById('media'); return window.__play.start != null && m.currentTime > 1;",
        )
        .await?;
        let start_ms = js(&c, "return window.__play.start;")
            .await?
            .as_f64()
            .unwrap_or(-1.0);
        js(&c, stowaway_tests::webdriver::SEEK_TIMED).await?;
        wait_for(
            &c,
            30,
            "playback past the seek",
            "return window.__seek.playing != null;",
        )
        .await?;
        let seek_ms = js(&c, "return window.__seek.playing;")
            .await?
            .as_f64()
            .unwrap_or(-1.0);
        eprintln!(
            "  run {}: play {start_ms:.0} ms, seek to 60 % {seek_ms:.0} ms",
            i + 1
        );
        out.push(PlayRun { start_ms, seek_ms });
        let _ = c.close().await;
        drop(driver);
        stop_app(&bins.app);
        fs::remove_dir_all(&member)?;
    }
    Ok(out)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        std::env::var_os("DISPLAY").is_some(),
        "needs a display: run under `xvfb-run -a`"
    );
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no binary directory")?
            .to_path_buf(),
    };
    let bins = Bins {
        app: bin_dir.join("stowaway-app"),
        stowaway: bin_dir.join("stowaway"),
        publish: bin_dir.join("stowaway-publish"),
    };
    for b in [&bins.app, &bins.stowaway, &bins.publish] {
        ensure!(b.exists(), "{} is missing: build it first", b.display());
    }
    let work = tempfile::Builder::new()
        .prefix("stowaway-bench-app-")
        .tempdir_in(&args.dir)?;
    let bus = SecretService::start();
    if let Some(runs) = args.play {
        let r = play_runs(&bins, work.path(), &bus, runs).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
            return Ok(());
        }
        println!(
            "`xvfb-run -a target/release/stowaway-bench-app {}`\n",
            std::env::args().skip(1).collect::<Vec<_>>().join(" ")
        );
        println!("| run | click on play to `playing` | seek to 60 % to playback past it |");
        println!("|---:|---:|---:|");
        for (i, p) in r.iter().enumerate() {
            println!("| {} | {:.0} ms | {:.0} ms |", i + 1, p.start_ms, p.seek_ms);
        }
        return Ok(());
    }
    let member = match &args.data_dir {
        Some(d) => d.clone(),
        None => {
            let m = work.path().join("member");
            big_library(&bins, work.path(), args.items, &m)?;
            m
        }
    };
    let shows: Vec<String> = (0..args.items.div_ceil(1000).min(args.shows))
        .map(|s| format!("show-{s:03}"))
        .collect();
    let mut env = bus.env();
    env.push(("STOWAWAY_DATA_DIR", member.display().to_string()));
    let mut launches = Vec::new();
    for i in 0..args.launches {
        eprintln!("app bench: launch {}", i + 1);
        launches.push(
            launch(
                &bins,
                &env,
                args.step_px,
                &shows,
                args.smaps,
                args.scrolls,
                args.probe_js.as_deref(),
            )
            .await?,
        );
    }
    let idle_demo = if args.no_idle {
        None
    } else {
        Some(idle_on_demo(&bins, work.path(), &bus).await?)
    };
    let report = Report {
        command: format!(
            "xvfb-run -a target/release/stowaway-bench-app {}",
            std::env::args().skip(1).collect::<Vec<_>>().join(" ")
        )
        .trim_end()
        .to_owned(),
        items: args.items,
        launches,
        idle_demo,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        markdown(&report);
    }
    Ok(())
}
