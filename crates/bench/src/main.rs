//! `stowaway-bench`: measures the real `stowaway` binary against curl on one
//! machine, in one run, and prints a Markdown table (or `--json`).
//!
//! Four sections (see docs/BENCHMARKS.md):
//! 1. throughput from one local nginx: curl (sequential, `--parallel`, then
//!    hashing with `sha256sum` or `openssl dgst`, then fsync) against
//!    `stowaway sync --jobs 4` / `--jobs 1`;
//! 2. time to a catalog when the first mirror black-holes every request;
//! 3. time lost by one mid-file failover (the primary resets the connection
//!    half-way; the download continues on the next mirror with a Range request);
//! 4. `stowaway ready` (every stored byte hashed again) against `sha256sum`
//!    on the same files.
//!
//! Not a test and never run in CI: it writes gigabytes and takes minutes.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use clap::{Parser, ValueEnum};
use serde::Serialize;
use serde_json::Value;
use stowaway_testmirror::{Fault, PathMatch, Rule, TestMirror};
use stowaway_tests::Nginx;

const MIB: u64 = 1 << 20;

#[derive(Parser)]
#[command(
    name = "stowaway-bench",
    about = "Benchmarks stowaway against curl + nginx on this machine (writes gigabytes; takes minutes)"
)]
struct Args {
    /// Files in the throughput library.
    #[arg(long, default_value_t = 16)]
    files: usize,
    /// Size of each file of the throughput library, in MiB.
    #[arg(long, default_value_t = 64)]
    size_mib: u64,
    /// Repetitions of every throughput and failover measurement.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Repetitions of every catalog measurement.
    #[arg(long, default_value_t = 5)]
    catalog_runs: usize,
    /// Size of the single file of the failover measurement, in MiB.
    #[arg(long, default_value_t = 256)]
    failover_mib: u64,
    /// A fresh working directory is made in DIR (and removed at the end).
    #[arg(long, default_value = "/tmp", value_name = "DIR")]
    dir: PathBuf,
    /// Where `stowaway` and `stowaway-publish` are (default: next to this
    /// binary, rebuilt first with the same profile).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Do not run `cargo build` for the binaries first.
    #[arg(long)]
    no_build: bool,
    /// Keep the working directory and the published mirror trees (the
    /// downloads of each run are removed all the same).
    #[arg(long)]
    keep: bool,
    /// Only these sections (comma-separated); default all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<Section>,
    /// JSON on stdout instead of Markdown.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Section {
    Throughput,
    Catalog,
    Failover,
    Ready,
    Chunks,
    Split,
    Play,
    Feed,
    Update,
}

// ---------------------------------------------------------------- processes

/// The binaries under test.
struct Bins {
    stowaway: PathBuf,
    publish: PathBuf,
    profile: String,
}

impl Bins {
    fn find(args: &Args) -> Result<Bins> {
        let exe = std::env::current_exe().context("path of this executable")?;
        let dir = match &args.bin_dir {
            Some(d) => d.clone(),
            None => exe.parent().context("executable directory")?.to_path_buf(),
        };
        let profile = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if args.bin_dir.is_none() && !args.no_build {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
            let mut c = Command::new(cargo);
            c.args([
                "build",
                "--quiet",
                "-p",
                "stowaway-cli",
                "-p",
                "stowaway-publish",
                // Same package set as the documented build: same features, no rebuild churn.
                "-p",
                "stowaway-bench",
            ]);
            if profile == "release" {
                c.arg("--release");
            }
            c.arg("--manifest-path")
                .arg(manifest)
                .env("CARGO_TARGET_DIR", dir.parent().context("target dir")?);
            eprintln!("building stowaway and stowaway-publish ({profile})…");
            ensure!(
                c.status().context("run cargo build")?.success(),
                "cargo build failed (use --no-build to run the binaries as they are)"
            );
        }
        if profile != "release" {
            eprintln!(
                "WARNING: the binaries in {} are not a release build; the figures mean little",
                dir.display()
            );
        }
        let bins = Bins {
            stowaway: dir.join("stowaway"),
            publish: dir.join("stowaway-publish"),
            profile,
        };
        for b in [&bins.stowaway, &bins.publish] {
            ensure!(
                b.exists(),
                "{} is missing: cargo build --release -p stowaway-cli -p stowaway-publish",
                b.display()
            );
        }
        Ok(bins)
    }

    fn stowaway(&self, data: &Path) -> Command {
        let mut c = Command::new(&self.stowaway);
        c.arg("--data-dir")
            .arg(data)
            .env_remove("STOWAWAY_DATA_DIR")
            .env("STOWAWAY_LOG", "error");
        c
    }

    fn publish(&self) -> Command {
        let mut c = Command::new(&self.publish);
        c.env_remove("STOWAWAY_KEY_PASSWORD")
            .env("STOWAWAY_LOG", "warn");
        c
    }
}

/// A finished process: wall time, CPU time and its stdout.
struct Timed {
    wall: f64,
    cpu: Cpu,
    stdout: String,
}

/// CPU seconds in user and system (kernel) mode.
#[derive(Clone, Copy, Default, Serialize)]
struct Cpu {
    user: f64,
    sys: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, o: Cpu) -> Cpu {
        Cpu {
            user: self.user - o.user,
            sys: self.sys - o.sys,
        }
    }
}

impl std::iter::Sum for Cpu {
    fn sum<I: Iterator<Item = Cpu>>(it: I) -> Cpu {
        it.fold(Cpu::default(), |a, b| Cpu {
            user: a.user + b.user,
            sys: a.sys + b.sys,
        })
    }
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux in practice).
fn clk_tck() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU seconds of every child this process has waited for (`cutime` and
/// `cstime` of /proc/self/stat). Linux only; 0 elsewhere.
fn children_cpu() -> Cpu {
    let Ok(stat) = fs::read_to_string("/proc/self/stat") else {
        return Cpu::default();
    };
    // Fields after "comm)" start at field 3 (state); cutime is field 16, cstime 17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    Cpu {
        user: ticks(13) / clk_tck(),
        sys: ticks(14) / clk_tck(),
    }
}

/// Runs `cmd` to completion with stdout and stderr in files (no pipe can
/// fill up), timing it. Fails unless it exits 0.
fn exec(cmd: &mut Command, what: &str, scratch: &Path) -> Result<Timed> {
    let out_path = scratch.join("proc.stdout");
    let err_path = scratch.join("proc.stderr");
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?);
    let cpu0 = children_cpu();
    let t0 = Instant::now();
    let status = cmd.status().with_context(|| format!("cannot run {what}"))?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = children_cpu() - cpu0;
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = fs::read_to_string(&err_path).unwrap_or_default();
    let _ = fs::remove_file(&out_path);
    let _ = fs::remove_file(&err_path);
    if !status.success() {
        bail!("{what} failed ({status}):\nstdout: {stdout}\nstderr: {stderr}");
    }
    Ok(Timed { wall, cpu, stdout })
}

fn json_of(t: &Timed, what: &str) -> Result<Value> {
    serde_json::from_str(&t.stdout).with_context(|| format!("{what}: not JSON: {}", t.stdout))
}

/// First line of a command's output (stdout, else stderr), or "?".
fn first_line(prog: &str, args: &[&str]) -> String {
    Command::new(prog)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            let s = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&s)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".into())
}

/// The 1, 5 and 15 minute load averages.
fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Writes dirty pages back (untimed, between measurements) so that the
/// write-back of one run does not slow down the next.
fn flush() {
    let _ = Command::new("sync").status();
}

/// Free space (bytes) of the filesystem holding `dir`, from `df -Pk`.
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().nth(1)?;
    line.split_whitespace()
        .nth(3)?
        .parse::<u64>()
        .ok()
        .map(|k| k * 1024)
}

fn remove(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

// ---------------------------------------------------------------- publishing

/// Pseudo-random bytes (xorshift64, 8 bytes a step): incompressible, fast.
fn write_random(path: &Path, seed: u64, len: u64) -> Result<()> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut f = File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut buf = vec![0u8; MIB as usize];
    let mut left = len;
    while left > 0 {
        for c in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// A published library: keys, source, the signed mirror tree and its blobs.
struct Published {
    root: PathBuf,
    id: String,
    keys: PathBuf,
    source: PathBuf,
    mirror: PathBuf,
    /// (sha256 hex, path relative to the mirror root), sorted.
    blobs: Vec<(String, String)>,
    total: u64,
    /// library.toml below its `[library]` table.
    collections: String,
    /// The catalog format `stowaway-publish build` writes.
    format: u32,
}

impl Published {
    /// Generates `count` files of `size` bytes, writes library.toml, makes a
    /// key pair and builds the mirror tree with `stowaway-publish`.
    fn new(bins: &Bins, root: &Path, id: &str, count: usize, size: u64) -> Result<Published> {
        Published::new_in_format(bins, root, id, count, size, 1)
    }

    /// The same in catalog `format` (2: chunk lists, which are blobs too;
    /// `blobs` and `total` are the media files only).
    fn new_in_format(
        bins: &Bins,
        root: &Path,
        id: &str,
        count: usize,
        size: u64,
        format: u32,
    ) -> Result<Published> {
        let source = root.join("source");
        fs::create_dir_all(source.join("media"))?;
        let mut toml =
            String::from("[[collection]]\nid = \"bulk\"\nkind = \"course\"\ntitle = \"Bulk\"\n");
        for i in 0..count {
            let name = format!("media/f{:04}.ogg", i + 1);
            write_random(&source.join(&name), 1000 + i as u64, size)?;
            toml.push_str(&format!(
                "\n[[collection.item]]\nid = \"f{:04}\"\ntitle = \"File {}\"\nmedia = \"{name}\"\nduration = 60\n",
                i + 1,
                i + 1
            ));
        }
        let p = Published {
            root: root.to_path_buf(),
            id: id.to_owned(),
            keys: root.join("keys"),
            source,
            mirror: root.join("mirror"),
            blobs: Vec::new(),
            total: 0,
            collections: toml,
            format,
        };
        p.write_manifest(0)?;
        exec(
            bins.publish().arg("keygen").arg("--out").arg(&p.keys),
            "stowaway-publish keygen",
            root,
        )?;
        let mut p = p;
        p.build(bins)?;
        let mut blobs = Vec::new();
        for dir in fs::read_dir(p.mirror.join("blobs/sha256"))? {
            let dir = dir?;
            for f in fs::read_dir(dir.path())? {
                let f = f?;
                let hex = f.file_name().to_string_lossy().into_owned();
                let len = f.metadata()?.len();
                if p.format >= 2 && len != size {
                    continue; // a chunk list
                }
                p.total += len;
                blobs.push((
                    hex.clone(),
                    format!("blobs/sha256/{}/{hex}", dir.file_name().to_string_lossy()),
                ));
            }
        }
        blobs.sort();
        ensure!(
            blobs.len() == count,
            "expected {count} blobs, the mirror has {}",
            blobs.len()
        );
        p.blobs = blobs;
        Ok(p)
    }

    /// Writes library.toml; `edition` > 0 adds a description `edition` bytes
    /// long, so that every edition's catalog has another size.
    fn write_manifest(&self, edition: usize) -> Result<()> {
        let mut t = format!(
            "[library]\nid = \"{}\"\ntitle = \"Benchmark {}\"\n",
            self.id, self.id
        );
        if edition > 0 {
            t.push_str(&format!("description = \"{}\"\n", "x".repeat(edition)));
        }
        t.push('\n');
        t.push_str(&self.collections);
        Ok(fs::write(self.source.join("library.toml"), t)?)
    }

    /// `stowaway-publish build`.
    fn build(&self, bins: &Bins) -> Result<f64> {
        let mut c = bins.publish();
        c.arg("build")
            .arg("--key")
            .arg(self.keys.join("stowaway.key"))
            .arg("--source")
            .arg(&self.source)
            .arg("--out")
            .arg(&self.mirror)
            .arg("--format")
            .arg(self.format.to_string());
        Ok(exec(&mut c, "stowaway-publish build", &self.root)?.wall)
    }

    /// Writes a subscription file naming `mirrors` in order; returns its path.
    fn subscription(&self, bins: &Bins, name: &str, mirrors: &[String]) -> Result<PathBuf> {
        let mut c = bins.publish();
        c.arg("subscription")
            .arg("--key")
            .arg(self.keys.join("stowaway.pub"))
            .args(["--library", &self.id, "--title", "Benchmark"]);
        for m in mirrors {
            c.arg("--mirror").arg(m);
        }
        let t = exec(&mut c, "stowaway-publish subscription", &self.root)?;
        let path = self.root.join(format!("{name}.stowaway"));
        fs::write(&path, t.stdout)?;
        Ok(path)
    }
}

// ---------------------------------------------------------------- 5. chunks

/// One file from two mirrors, the first of which has a damaged copy (one
/// byte in the middle of the file flipped, whatever range is asked: a 1 MiB
/// chunk's worth of damage), published in format 1 (checked whole at the
/// end) and in format 2 (chunk lists): what came over the network twice.
#[derive(Serialize)]
struct ChunkRow {
    format: u32,
    size: u64,
    received: u64,
    fetched_again: u64,
    wall_s: f64,
    /// The same sync with both mirrors honest.
    healthy_s: f64,
}

fn chunks(bins: &Bins, work: &Path, size: u64) -> Result<Vec<ChunkRow>> {
    let mut rows = Vec::new();
    for format in [1u32, 2] {
        let root = work.join(format!("chunks-{format}"));
        let p = Published::new_in_format(bins, &root, "chunks", 1, size, format)?;
        let liar = TestMirror::start(&p.mirror)?;
        let honest = TestMirror::start(&p.mirror)?;
        let sub = p.subscription(bins, "two", &[liar.url(), honest.url()])?;
        // A subscribe and a sync on a fresh cache.
        let fresh_sync = |data: &Path| -> Result<Timed> {
            exec(
                bins.stowaway(data).arg("subscribe").arg(&sub).arg("--json"),
                "stowaway subscribe",
                &root,
            )?;
            exec(
                bins.stowaway(data).args(["sync", "--json"]),
                "stowaway sync",
                &root,
            )
        };
        // First with both honest: what checking costs when nothing is wrong.
        let healthy = fresh_sync(&root.join("member-healthy"))?;
        fs::remove_dir_all(root.join("member-healthy")).ok();
        liar.set_faults(vec![Rule::path(
            PathMatch::exact(p.blobs[0].1.clone()),
            Fault::CorruptAt(size / 2),
        )]);
        let data = root.join("member");
        let t = fresh_sync(&data)?;
        let v = json_of(&t, "sync --json")?;
        let lib = &v["libraries"][0];
        ensure!(
            lib["failed"].as_array().is_none_or(Vec::is_empty),
            "format {format}: {lib}"
        );
        let received = lib["bytes_received"].as_u64().unwrap_or(0);
        eprintln!(
            "  format {format}: {} MiB received for a {} MiB file in {:.2} s",
            received / MIB,
            size / MIB,
            t.wall
        );
        rows.push(ChunkRow {
            format,
            size: p.total,
            received,
            fetched_again: received.saturating_sub(p.total),
            wall_s: t.wall,
            healthy_s: healthy.wall,
        });
        fs::remove_dir_all(&data).ok();
    }
    Ok(rows)
}

// ---------------------------------------------------------------- 6. split

/// One large file from two nginx mirrors that each serve 20 MiB/s per
/// connection (`limit_rate 20m`, as a CDN or a distant host limits one
/// stream), and from one nginx at full loopback speed: `stowaway sync`
/// (format 2: segments across mirrors, each chunk checked, the file hashed,
/// fsynced and indexed; format 1: one stream) beside `aria2c` with both
/// URLs and `curl` from one mirror (neither hashes nor fsyncs).
/// `curl` fetching `url` into `out/file`.
fn curl_into(out: &Path, url: &str) -> Command {
    let mut c = Command::new("curl");
    c.args(["-sS", "--fail", "-o"])
        .arg(out.join("file"))
        .arg(url);
    c
}

/// `aria2c` fetching one file from `urls` into `out/file`, in `split`
/// pieces with at most `per` connections to a server.
fn aria_into(out: &Path, urls: &[String], split: &str, per: &str) -> Command {
    let mut c = Command::new("aria2c");
    c.args([
        "--quiet=true",
        "--file-allocation=none",
        "--allow-overwrite=true",
        "--auto-file-renaming=false",
        "--min-split-size=1M",
    ])
    .arg(format!("--split={split}"))
    .arg(format!("--max-connection-per-server={per}"))
    .arg("--dir")
    .arg(out)
    .args(["--out", "file"])
    .args(urls);
    c
}

/// `stowaway subscribe SOURCE` into a fresh cache in `out` (untimed), then a
/// timed `stowaway sync --json`: its time and its report.
fn subscribe_then_sync(
    bins: &Bins,
    out: &Path,
    source: impl AsRef<std::ffi::OsStr>,
) -> Result<(Timed, Value)> {
    let data = out.join("data");
    exec(
        bins.stowaway(&data)
            .arg("subscribe")
            .arg(source)
            .arg("--json"),
        "stowaway subscribe",
        out,
    )?;
    flush();
    let t = exec(
        bins.stowaway(&data)
            .args(["sync", "--json"])
            .env("STOWAWAY_LOG", "error"),
        "stowaway sync",
        out,
    )?;
    let v = json_of(&t, "stowaway sync --json")?;
    Ok((t, v))
}

/// Runs each case in turn, `args.runs` times over, each in a fresh `out`,
/// printing every run: a row per case.
fn timed_cases<C>(
    args: &Args,
    out: &Path,
    size: u64,
    cases: &[(&str, C)],
    run: impl Fn(&C) -> Result<Timed>,
) -> Result<Vec<Row>> {
    let mut samples: Vec<Samples> = cases.iter().map(|_| Samples::default()).collect();
    for r in 1..=args.runs {
        for (i, (name, case)) in cases.iter().enumerate() {
            remove(out)?;
            fs::create_dir_all(out)?;
            let t = run(case)?;
            eprintln!("  run {r}/{}: {name:<62} {:>7.2} s", args.runs, t.wall);
            samples[i].add(&t);
        }
    }
    remove(out)?;
    Ok(cases
        .iter()
        .zip(&samples)
        .map(|((name, _), s)| s.row(name, size))
        .collect())
}

fn split(args: &Args, bins: &Bins, work: &Path, size: u64) -> Result<Vec<Row>> {
    let root = work.join("split");
    eprintln!(
        "split: publishing one {} MiB file in formats 1 and 2…",
        size / MIB
    );
    let p2 = Published::new_in_format(bins, &root.join("f2"), "split", 1, size, 2)?;
    let p1 = Published::new_in_format(bins, &root.join("f1"), "split", 1, size, 1)?;
    remove(&p2.source)?;
    remove(&p1.source)?;
    let limited = |p: &Published| {
        [
            Nginx::start_with(&p.mirror, "limit_rate 20m;"),
            Nginx::start_with(&p.mirror, "limit_rate 20m;"),
        ]
    };
    let (l2, l1) = (limited(&p2), limited(&p1));
    let (full2, full1) = (Nginx::start(&p2.mirror), Nginx::start(&p1.mirror));
    let out = root.join("out");
    let blob = &p2.blobs[0];
    let urls = |n: &[Nginx; 2]| -> Vec<String> {
        n.iter().map(|x| format!("{}{}", x.url(), blob.1)).collect()
    };
    enum Case<'a> {
        Curl(String),
        Aria(&'static str, &'static str),
        Sync(&'a Published, Vec<String>),
    }
    let run_case = |case: &Case| -> Result<Timed> {
        let (mut c, what) = match case {
            Case::Curl(url) => (curl_into(&out, url), "curl"),
            Case::Aria(split, per) => (aria_into(&out, &urls(&l2), split, per), "aria2c"),
            Case::Sync(p, mirrors) => {
                let sub = p.subscription(bins, "member", mirrors)?;
                let (t, v) = subscribe_then_sync(bins, &out, &sub)?;
                ensure!(
                    v["ok"] == true && v["libraries"][0]["bytes_downloaded"].as_u64() == Some(size),
                    "stowaway sync did not download the file: {v}"
                );
                return Ok(t);
            }
        };
        flush();
        let t = exec(&mut c, what, &out)?;
        ensure!(
            fs::metadata(out.join("file"))?.len() == size,
            "{what}: short file"
        );
        Ok(t)
    };
    let full_url = format!("{}{}", full2.url(), blob.1);
    let cases: Vec<(&str, Case)> = vec![
        (
            "two mirrors at 20 MiB/s per connection: curl, one mirror",
            Case::Curl(urls(&l2)[0].clone()),
        ),
        (
            "… aria2c both URLs, --split=4 --max-connection-per-server=2",
            Case::Aria("4", "2"),
        ),
        (
            "… aria2c both URLs, --split=8 --max-connection-per-server=4",
            Case::Aria("8", "4"),
        ),
        (
            "… stowaway sync, format 1 (segments, checked whole)",
            Case::Sync(&p1, l1.iter().map(Nginx::url).collect()),
        ),
        (
            "… stowaway sync, format 2 (segments, chunks checked)",
            Case::Sync(&p2, l2.iter().map(Nginx::url).collect()),
        ),
        ("one mirror, full speed: curl", Case::Curl(full_url)),
        (
            "… stowaway sync, format 1 (segments, checked whole)",
            Case::Sync(&p1, vec![full1.url()]),
        ),
        (
            "… stowaway sync, format 2 (segments, chunks checked)",
            Case::Sync(&p2, vec![full2.url()]),
        ),
    ];
    let rows = timed_cases(args, &out, size, &cases, run_case)?;
    drop((l2, l1, full2, full1));
    if !args.keep {
        remove(&root)?;
    }
    Ok(rows)
}

// ---------------------------------------------------------------- 8. feed

/// One podcast episode of `size` bytes in an RSS feed, its enclosure on one
/// nginx and a same-file alternate enclosure on another, both serving the
/// feed's directory: `stowaway subscribe` to the feed (untimed), then a
/// timed `stowaway sync`. Without a digest the episode comes front to back
/// from one host (its hash learned); with a `podcast:integrity` sha384 on
/// the alternate it comes in segments from both. curl and aria2c fetch the
/// same URLs. The file is typed `audio/ogg` (random bytes: as MP3 the
/// duration reader would scan 64 MiB of them for a frame, which is not
/// the transfer).
fn feed(args: &Args, bins: &Bins, work: &Path, size: u64) -> Result<Vec<Row>> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let root = work.join("feed");
    let site = root.join("site");
    fs::create_dir_all(&site)?;
    eprintln!("feed: one {} MiB episode…", size / MIB);
    write_random(&site.join("episode.ogg"), 77, size)?;
    let digest = {
        let mut h = sha2::Sha384::new();
        std::io::copy(&mut File::open(site.join("episode.ogg"))?, &mut h)?;
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    };
    let full = [Nginx::start(&site), Nginx::start(&site)];
    let limited = [
        Nginx::start_with(&site, "limit_rate 20m;"),
        Nginx::start_with(&site, "limit_rate 20m;"),
    ];
    // One feed file per case, naming that case's hosts.
    let write_feed = |name: &str, hosts: &[Nginx; 2], integrity: bool| -> Result<String> {
        let (a, b) = (hosts[0].url(), hosts[1].url());
        let sri = if integrity {
            format!(r#"<podcast:integrity type="sri" value="sha384-{digest}"/>"#)
        } else {
            String::new()
        };
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel><title>Bench {name}</title>
<item><title>Episode 1</title><guid>bench-1</guid>
<enclosure url="{a}episode.ogg" length="{size}" type="audio/ogg"/>
<podcast:alternateEnclosure type="audio/ogg" length="{size}"><podcast:source uri="{b}episode.ogg"/>{sri}</podcast:alternateEnclosure>
</item></channel></rss>
"#
        );
        fs::write(site.join(format!("{name}.xml")), xml)?;
        Ok(format!("{a}{name}.xml"))
    };
    let out = root.join("out");
    enum Case {
        Curl(String),
        Aria(Vec<String>),
        Sync(String),
    }
    let run_case = |case: &Case| -> Result<Timed> {
        let mut c = match case {
            Case::Curl(url) => curl_into(&out, url),
            Case::Aria(urls) => aria_into(&out, urls, "8", "4"),
            Case::Sync(feed_url) => {
                let (t, v) = subscribe_then_sync(bins, &out, feed_url)?;
                ensure!(
                    v["ok"] == true
                        && v["libraries"][0]["bytes_downloaded"]
                            .as_u64()
                            .is_some_and(|n| n >= size),
                    "stowaway sync did not download the episode: {v}"
                );
                return Ok(t);
            }
        };
        flush();
        let t = exec(&mut c, "download", &out)?;
        ensure!(fs::metadata(out.join("file"))?.len() == size, "short file");
        Ok(t)
    };
    let url = |n: &Nginx| format!("{}episode.ogg", n.url());
    let cases: Vec<(&str, Case)> = vec![
        ("one host at full speed: curl", Case::Curl(url(&full[0]))),
        (
            "… stowaway sync, no digest (front to back, its hash learned)",
            Case::Sync(write_feed("full", &full, false)?),
        ),
        (
            "two hosts at 20 MiB/s per connection: curl, one host",
            Case::Curl(url(&limited[0])),
        ),
        (
            "… aria2c both URLs, --split=8 --max-connection-per-server=4",
            Case::Aria(limited.iter().map(url).collect()),
        ),
        (
            "… stowaway sync, no digest (front to back from one host)",
            Case::Sync(write_feed("limited", &limited, false)?),
        ),
        (
            "… stowaway sync, sha384 digest (segments from both hosts)",
            Case::Sync(write_feed("limited-sri", &limited, true)?),
        ),
    ];
    let rows = timed_cases(args, &out, size, &cases, run_case)?;
    drop((full, limited));
    if !args.keep {
        remove(&root)?;
    }
    Ok(rows)
}

// ---------------------------------------------------------------- 9. update

/// The app's update check as the app runs it (`Engine::find_update`, in
/// this process), on a library whose mirrors each serve a release written
/// by `stowaway-publish release`: both mirrors answering; the first
/// refusing connections; the first black-holed (it accepts and never
/// answers). The reference is curl fetching `updates/latest.json` from the
/// answering mirror. The issue's target: a dead first mirror costs a
/// fraction of a second, not a timeout.
fn update(args: &Args, bins: &Bins, work: &Path) -> Result<Vec<Row>> {
    let root = work.join("update");
    eprintln!("update: publishing a small library and a release…");
    let p = Published::new(bins, &root, "update-bench", 1, 64 * 1024)?;
    let keys = root.join("update-key");
    exec(
        bins.publish().args(["keygen", "--out"]).arg(&keys),
        "stowaway-publish keygen",
        &root,
    )?;
    let installer = root.join("Stowaway_0.2.0_amd64.deb");
    write_random(&installer, 13, 4 * MIB)?;
    exec(
        bins.publish()
            .arg("release")
            .arg("--key")
            .arg(keys.join("stowaway.key"))
            .args(["--version", "0.2.0", "--out"])
            .arg(&p.mirror)
            .arg(&installer),
        "stowaway-publish release",
        &root,
    )?;
    let nginx = [Nginx::start(&p.mirror), Nginx::start(&p.mirror)];
    let black = TestMirror::start(&p.mirror)?;
    black.set_faults(vec![Rule::all(Fault::BlackHole)]);
    let configs: Vec<(&str, Vec<String>)> = vec![
        ("[nginx, nginx]", vec![nginx[0].url(), nginx[1].url()]),
        (
            "[refusing connections, nginx]",
            vec![stowaway_testmirror::refused_url(), nginx[1].url()],
        ),
        (
            "[black-holed TestMirror, nginx]",
            vec![black.url(), nginx[1].url()],
        ),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut samples: Vec<Samples> = (0..=configs.len()).map(|_| Samples::default()).collect();
    let manifest = format!("{}updates/latest.json", nginx[1].url());
    for run in 1..=args.catalog_runs {
        for (i, (name, mirrors)) in configs.iter().enumerate() {
            let data = root.join("member");
            remove(&data)?;
            let sub: stowaway_catalog::Subscription = serde_json::from_slice(&fs::read(
                p.subscription(bins, &format!("member{i}"), mirrors)?,
            )?)?;
            let store = std::sync::Arc::new(stowaway_store::Store::open(&data)?);
            let engine =
                stowaway_sync::Engine::new(store, stowaway_mirrors::ClientConfig::default())?;
            engine.subscribe(&sub)?;
            let t0 = Instant::now();
            let found = rt.block_on(engine.find_update("0.1.0"))?;
            let wall = t0.elapsed().as_secs_f64();
            ensure!(
                found.is_some_and(|f| f.offers.first().map(|o| o.version()) == Some("0.2.0")),
                "{name}: no update found"
            );
            samples[i].add(&Timed {
                wall,
                cpu: Cpu::default(),
                stdout: String::new(),
            });
            eprintln!(
                "  run {run}/{}: find_update {name:<34} {:>6.0} ms",
                args.catalog_runs,
                wall * 1000.0
            );
        }
        let mut c = Command::new("curl");
        c.args(["-sS", "--fail", "-o", "/dev/null"]).arg(&manifest);
        let t = exec(&mut c, "curl", &root)?;
        samples[configs.len()].add(&t);
    }
    drop((nginx, black));
    if !args.keep {
        remove(&root)?;
    }
    let mut rows: Vec<Row> = configs
        .iter()
        .zip(&samples)
        .map(|((name, _), s)| s.row(&format!("find_update, {name}"), 0))
        .collect();
    rows.push(samples[configs.len()].row("curl updates/latest.json from nginx (one fetch)", 0));
    Ok(rows)
}

// ---------------------------------------------------------------- 7. play

/// Play while it downloads: one run of the play section.
#[derive(Serialize)]
struct PlayRun {
    /// From the download's start (its journal on disk) to the first byte
    /// of the file served by the media server, asked from byte 0.
    start_s: f64,
    /// From asking 60 % into the file (nothing there yet) to its first
    /// byte.
    seek_s: f64,
}

/// A 64 MiB lesson (format 2) from one mirror that sends 2 MB/s per
/// connection, synced by the engine in this process with the media server
/// beside it (as in the app): the time to the first byte from the start,
/// and of a seek to 60 %, through the media server over loopback
/// HTTP. (Not the time to audio in the window: the window does not play
/// an item that is not downloaded yet.)
fn play(args: &Args, bins: &Bins, work: &Path, size: u64) -> Result<Vec<PlayRun>> {
    let root = work.join("play");
    eprintln!("play: publishing one {} MiB file in format 2…", size / MIB);
    let p = Published::new_in_format(bins, &root, "play", 1, size, 2)?;
    remove(&p.source)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut runs = Vec::new();
    for run in 1..=args.runs {
        let data = root.join(format!("member-{run}"));
        let r = rt.block_on(play_once(bins, &p, &data, size))?;
        eprintln!(
            "  run {run}/{}: start {:.3} s, seek to 60 % {:.3} s",
            args.runs, r.start_s, r.seek_s
        );
        runs.push(r);
        remove(&data)?;
    }
    if !args.keep {
        remove(&root)?;
    }
    Ok(runs)
}

async fn play_once(bins: &Bins, p: &Published, data: &Path, size: u64) -> Result<PlayRun> {
    use stowaway_catalog::AssetRole;
    use stowaway_store::{ItemKey, Store};
    let mirror = TestMirror::start(&p.mirror)?;
    mirror.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::Trickle {
            bytes_per_sec: 2_000_000,
        },
    )]);
    let sub_path = p.subscription(bins, "player", &[mirror.url()])?;
    let sub: stowaway_catalog::Subscription = serde_json::from_slice(&fs::read(&sub_path)?)?;
    let store = std::sync::Arc::new(Store::open(data)?);
    let engine =
        stowaway_sync::Engine::new(store.clone(), stowaway_mirrors::ClientConfig::default())?;
    engine.subscribe(&sub)?;
    let media = stowaway_media::MediaServer::start(store.clone(), &[]).await?;
    let key = ItemKey {
        library: "play",
        collection: "bulk",
        item: "f0001",
    };
    let url = media.asset_url(key, AssetRole::Media, 0);
    let sha = stowaway_catalog::Sha256::parse(&p.blobs[0].0).map_err(anyhow::Error::msg)?;
    let cancel = tokio_util::sync::CancellationToken::new();
    let sync = {
        let (engine, cancel) = (engine.clone(), cancel.clone());
        tokio::spawn(async move {
            engine
                .sync(&stowaway_sync::SyncOptions::default(), &cancel)
                .await
        })
    };
    // The download starts: its journal is on disk.
    let journal = store.blobs().chunk_journal_path(&sha);
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    while !journal.exists() {
        ensure!(Instant::now() < deadline, "the download did not start");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let client = reqwest::Client::new();
    let first_byte = |range: String| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let t = Instant::now();
            let mut r = client.get(&url).header("Range", range).send().await?;
            ensure!(
                r.status() == 206,
                "the media server answered {}",
                r.status()
            );
            ensure!(
                r.chunk().await?.is_some_and(|c| !c.is_empty()),
                "an empty body"
            );
            Ok::<f64, anyhow::Error>(t.elapsed().as_secs_f64())
        }
    };
    let start_s = first_byte("bytes=0-".into()).await?;
    // 60 % in: a chunk in the middle of a segment (segment starts are
    // fetched first anyway), which without the player's want would come
    // after the six before it in that segment, about 3 s in.
    let seek_s = first_byte(format!("bytes={}-", size / 5 * 3)).await?;
    cancel.cancel();
    let _ = sync.await;
    Ok(PlayRun { start_s, seek_s })
}

// ---------------------------------------------------------------- 4. ready

/// `stowaway ready` (every stored byte hashed again, two files at once)
/// against `sha256sum` on the same blob files: one process, and two at once
/// (`xargs -P 2`), the page cache warm for all of them.
fn ready(args: &Args, bins: &Bins, work: &Path) -> Result<Vec<Row>> {
    let root = work.join("ready");
    eprintln!(
        "ready: generating, publishing and syncing {} × {} MiB…",
        args.files, args.size_mib
    );
    let p = Published::new(bins, &root, "ready", args.files, args.size_mib * MIB)?;
    remove(&p.source)?;
    let url = format!("file://{}/", p.mirror.display());
    let sub = p.subscription(bins, "member", std::slice::from_ref(&url))?;
    let data = root.join("member");
    exec(
        bins.stowaway(&data).arg("subscribe").arg(&sub),
        "subscribe",
        &root,
    )?;
    exec(bins.stowaway(&data).arg("sync"), "sync", &root)?;
    let files: Vec<PathBuf> = p
        .blobs
        .iter()
        .map(|(hex, _)| data.join("blobs/sha256").join(&hex[..2]).join(hex))
        .collect();
    for f in &files {
        ensure!(f.exists(), "{} was not downloaded", f.display());
    }
    // Warm: every file read once before the first measurement.
    exec(
        Command::new("cat").args(&files).stdout(Stdio::null()),
        "cat",
        &root,
    )?;
    let methods = [
        "stowaway ready",
        "sha256sum",
        "sha256sum, two at once (xargs -P 2)",
        "openssl dgst -sha256 (SHA extensions)",
    ];
    let mut samples: Vec<Samples> = methods.iter().map(|_| Samples::default()).collect();
    for _ in 0..args.runs {
        let t = exec(
            bins.stowaway(&data).args(["ready", "--json"]),
            "stowaway ready",
            &root,
        )?;
        let v: Value = serde_json::from_str(&t.stdout)?;
        ensure!(
            v["ready"] == true && v["bytes_verified"].as_u64() == Some(p.total),
            "stowaway ready checked {} of {} bytes: {v}",
            v["bytes_verified"],
            p.total
        );
        samples[0].add(&t);
        let t = exec(Command::new("sha256sum").args(&files), "sha256sum", &root)?;
        ensure!(
            t.stdout.lines().count() == files.len(),
            "sha256sum: {}",
            t.stdout
        );
        samples[1].add(&t);
        let list: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
        fs::write(root.join("list"), list)?;
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(format!(
                "xargs -P 2 -n {} sha256sum < list",
                files.len().div_ceil(2)
            ))
            .current_dir(&root);
        let t = exec(&mut sh, "xargs sha256sum", &root)?;
        ensure!(
            t.stdout.lines().count() == files.len(),
            "xargs sha256sum: {}",
            t.stdout
        );
        samples[2].add(&t);
        let t = exec(
            Command::new("openssl")
                .args(["dgst", "-sha256"])
                .args(&files),
            "openssl dgst",
            &root,
        )?;
        ensure!(
            t.stdout.lines().count() == files.len(),
            "openssl: {}",
            t.stdout
        );
        samples[3].add(&t);
    }
    remove(&p.mirror)?;
    Ok(methods
        .iter()
        .zip(&samples)
        .map(|(m, s)| s.row(m, p.total))
        .collect())
}

// ---------------------------------------------------------------- statistics

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// Samples of one measurement, summarised into a [`Row`].
#[derive(Default)]
struct Samples {
    wall: Vec<f64>,
    cpu: Vec<Cpu>,
    /// Named sub-timings (seconds), e.g. "curl", "sha256sum", "engine", in
    /// the order they happen.
    phases: Vec<(String, Vec<f64>)>,
    /// Free-form per-run notes (e.g. which mirror served the catalog).
    notes: Vec<String>,
    /// Named per-run counters (e.g. bytes received).
    counters: BTreeMap<String, Vec<u64>>,
}

impl Samples {
    fn add(&mut self, t: &Timed) {
        self.wall.push(t.wall);
        self.cpu.push(t.cpu);
    }

    fn phase(&mut self, name: &str, secs: f64) {
        match self.phases.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.push(secs),
            None => self.phases.push((name.to_owned(), vec![secs])),
        }
    }

    fn count(&mut self, name: &str, n: u64) {
        self.counters.entry(name.to_owned()).or_default().push(n);
    }

    fn row(&self, name: &str, bytes: u64) -> Row {
        let med = median(&self.wall);
        let best = min(&self.wall);
        let mbs = |s: f64| (bytes > 0 && s > 0.0).then(|| bytes as f64 / 1e6 / s);
        Row {
            name: name.to_owned(),
            runs: self.wall.len(),
            bytes,
            median_s: med,
            min_s: best,
            max_s: max(&self.wall),
            mb_per_s_median: mbs(med),
            mb_per_s_best: mbs(best),
            user_median_s: median(&self.cpu.iter().map(|c| c.user).collect::<Vec<_>>()),
            sys_median_s: median(&self.cpu.iter().map(|c| c.sys).collect::<Vec<_>>()),
            phases_median_s: self
                .phases
                .iter()
                .map(|(k, v)| (k.clone(), median(v)))
                .collect(),
            wall_s: self.wall.clone(),
            cpu_s: self.cpu.clone(),
            counters: self.counters.clone(),
            notes: self.notes.clone(),
        }
    }
}

#[derive(Serialize)]
struct Row {
    name: String,
    runs: usize,
    bytes: u64,
    median_s: f64,
    min_s: f64,
    max_s: f64,
    /// MB = 10^6 bytes.
    mb_per_s_median: Option<f64>,
    mb_per_s_best: Option<f64>,
    /// CPU seconds of the measured processes in user mode.
    user_median_s: f64,
    /// … and in the kernel.
    sys_median_s: f64,
    phases_median_s: Vec<(String, f64)>,
    wall_s: Vec<f64>,
    cpu_s: Vec<Cpu>,
    counters: BTreeMap<String, Vec<u64>>,
    notes: Vec<String>,
}

// ---------------------------------------------------------------- report

#[derive(Serialize)]
struct Machine {
    nproc: usize,
    cpu_model: String,
    memory: String,
    kernel: String,
    curl: String,
    nginx: String,
    sha256sum: String,
    openssl: String,
    filesystem: String,
    stowaway: String,
    profile: String,
    git: String,
}

impl Machine {
    fn probe(bins: &Bins, dir: &Path) -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |text: &str, key: &str| {
            text.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_else(|| "?".into())
        };
        let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("nginx");
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let ws = workspace.to_string_lossy();
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: field(&cpuinfo, "model name"),
            memory: field(
                &fs::read_to_string("/proc/meminfo").unwrap_or_default(),
                "MemTotal",
            ),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "?".into()),
            curl: first_line("curl", &["--version"]),
            nginx: first_line(nginx, &["-v"]),
            sha256sum: first_line("sha256sum", &["--version"]),
            openssl: first_line("openssl", &["version"]),
            filesystem: format!(
                "{} ({})",
                first_line("stat", &["-f", "-c", "%T", &dir.to_string_lossy()]),
                dir.display()
            ),
            stowaway: first_line(&bins.stowaway.to_string_lossy(), &["--version"]),
            profile: bins.profile.clone(),
            git: first_line("git", &["-C", &ws, "describe", "--always", "--dirty"]),
        }
    }
}

#[derive(Serialize)]
struct Report {
    command: String,
    machine: Machine,
    files: usize,
    size_mib: u64,
    runs: usize,
    catalog_runs: usize,
    failover_mib: u64,
    throughput: Vec<Row>,
    catalog: Vec<Row>,
    failover: Vec<Row>,
    ready: Vec<Row>,
    chunks: Vec<ChunkRow>,
    split: Vec<Row>,
    play: Vec<PlayRun>,
    feed: Vec<Row>,
    update: Vec<Row>,
    /// Median time of the dropped-primary sync minus the healthy-primary one.
    failover_time_lost_s: Option<f64>,
    free_before: Option<u64>,
    free_after: Option<u64>,
    /// /proc/loadavg before and after: anything else running skews the figures.
    load_before: String,
    load_after: String,
}

// ---------------------------------------------------------------- 1. throughput

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    CurlSeq,
    CurlPar,
    CurlSeqSha,
    CurlSeqShaFsync,
    CurlSeqOpensslFsync,
    Stowaway4,
    Stowaway1,
}

impl Method {
    const ALL: [Method; 7] = [
        Method::CurlSeq,
        Method::CurlPar,
        Method::CurlSeqSha,
        Method::CurlSeqShaFsync,
        Method::CurlSeqOpensslFsync,
        Method::Stowaway4,
        Method::Stowaway1,
    ];

    fn name(self) -> &'static str {
        match self {
            Method::CurlSeq => "curl, sequential (one process, all URLs)",
            Method::CurlPar => "curl --parallel --parallel-max 4",
            Method::CurlSeqSha => "curl sequential + sha256sum",
            Method::CurlSeqShaFsync => "curl sequential + sha256sum + fsync",
            Method::CurlSeqOpensslFsync => "curl sequential + openssl dgst -sha256 + fsync",
            Method::Stowaway4 => "stowaway sync --jobs 4",
            Method::Stowaway1 => "stowaway sync --jobs 1",
        }
    }
}

/// One curl process fetching every URL into `out/<hex>`.
fn curl(p: &Published, base: &str, out: &Path, parallel: bool) -> Command {
    let mut c = Command::new("curl");
    c.args(["-sS", "--fail"]);
    if parallel {
        c.args(["--parallel", "--parallel-max", "4"]);
    }
    for (hex, rel) in &p.blobs {
        c.arg("-o").arg(out.join(hex)).arg(format!("{base}{rel}"));
    }
    c
}

/// Sum of the sizes of the files `out/<hex>`.
fn fetched_bytes(p: &Published, out: &Path) -> Result<u64> {
    let mut n = 0;
    for (hex, _) in &p.blobs {
        n += fs::metadata(out.join(hex))
            .with_context(|| format!("curl left no {hex}"))?
            .len();
    }
    Ok(n)
}

fn throughput(args: &Args, bins: &Bins, work: &Path) -> Result<Vec<Row>> {
    let root = work.join("throughput");
    eprintln!(
        "throughput: generating and publishing {} × {} MiB…",
        args.files, args.size_mib
    );
    let p = Published::new(bins, &root, "bench", args.files, args.size_mib * MIB)?;
    // The source is not needed any more: keep the disk footprint at ~2× the library.
    remove(&p.source)?;
    let nginx = Nginx::start(&p.mirror);
    let base = nginx.url();
    let sub = p.subscription(bins, "member", std::slice::from_ref(&base))?;
    let out = root.join("out");
    let scratch = root.clone();
    let mut samples: Vec<Samples> = Method::ALL.iter().map(|_| Samples::default()).collect();
    let mut idle = Samples::default();

    for run in 1..=args.runs {
        for (i, &m) in Method::ALL.iter().enumerate() {
            remove(&out)?;
            fs::create_dir_all(&out)?;
            let s = &mut samples[i];
            match m {
                Method::CurlSeq | Method::CurlPar => {
                    flush();
                    let t = exec(
                        &mut curl(&p, &base, &out, m == Method::CurlPar),
                        "curl",
                        &scratch,
                    )?;
                    ensure!(fetched_bytes(&p, &out)? == p.total, "curl: short files");
                    s.add(&t);
                }
                Method::CurlSeqSha | Method::CurlSeqShaFsync | Method::CurlSeqOpensslFsync => {
                    flush();
                    let c = exec(&mut curl(&p, &base, &out, false), "curl", &scratch)?;
                    let (tool, mut cmd) = if m == Method::CurlSeqOpensslFsync {
                        let mut c = Command::new("openssl");
                        c.args(["dgst", "-sha256"]);
                        ("openssl", c)
                    } else {
                        ("sha256sum", Command::new("sha256sum"))
                    };
                    cmd.args(p.blobs.iter().map(|(hex, _)| out.join(hex)));
                    let h = exec(&mut cmd, tool, &scratch)?;
                    let mut parts = vec![c, h];
                    if m != Method::CurlSeqSha {
                        // coreutils `sync FILE…` fsyncs each file (and the directory).
                        let mut cmd = Command::new("sync");
                        cmd.arg(&out)
                            .args(p.blobs.iter().map(|(hex, _)| out.join(hex)));
                        parts.push(exec(&mut cmd, "sync FILE…", &scratch)?);
                    }
                    // Untimed: the digests must agree with the names. sha256sum
                    // prints `HEX  PATH`, openssl `SHA2-256(PATH)= HEX`.
                    let sums = &parts[1].stdout;
                    for (hex, _) in &p.blobs {
                        ensure!(
                            sums.lines().any(|l| {
                                let mut w = l.split_whitespace();
                                w.next() == Some(hex.as_str()) || w.last() == Some(hex.as_str())
                            }),
                            "{tool} does not confirm {hex}"
                        );
                    }
                    for (name, t) in ["curl", tool, "fsync"].iter().zip(&parts) {
                        s.phase(name, t.wall);
                    }
                    s.add(&Timed {
                        wall: parts.iter().map(|t| t.wall).sum(),
                        cpu: parts.iter().map(|t| t.cpu).sum(),
                        stdout: String::new(),
                    });
                }
                Method::Stowaway4 | Method::Stowaway1 => {
                    let jobs = if m == Method::Stowaway4 { "4" } else { "1" };
                    let data = out.join("data");
                    exec(
                        bins.stowaway(&data)
                            .arg("subscribe")
                            .arg(&sub)
                            .arg("--json"),
                        "stowaway subscribe",
                        &scratch,
                    )?;
                    flush();
                    let t = exec(
                        bins.stowaway(&data)
                            .args(["sync", "--jobs", jobs, "--json"])
                            .env("STOWAWAY_LOG", "error"),
                        "stowaway sync",
                        &scratch,
                    )?;
                    let v = json_of(&t, "stowaway sync --json")?;
                    let lib = &v["libraries"][0];
                    ensure!(v["ok"] == true, "stowaway sync not ok: {v}");
                    ensure!(
                        lib["files_downloaded"].as_u64() == Some(p.blobs.len() as u64)
                            && lib["bytes_downloaded"].as_u64() == Some(p.total),
                        "stowaway sync did not download everything: {v}"
                    );
                    if let Some(ms) = lib["elapsed_ms"].as_f64() {
                        s.phase("engine (elapsed_ms)", ms / 1000.0);
                    }
                    s.count(
                        "bytes_received",
                        lib["bytes_received"].as_u64().unwrap_or(0),
                    );
                    s.add(&t);
                    if m == Method::Stowaway4 {
                        // The fixed cost: the same sync again, nothing to download.
                        let t = exec(
                            bins.stowaway(&data).args(["sync", "--json"]),
                            "stowaway sync (again)",
                            &scratch,
                        )?;
                        let v = json_of(&t, "stowaway sync --json")?;
                        ensure!(
                            v["libraries"][0]["files_downloaded"].as_u64() == Some(0),
                            "second sync downloaded again: {v}"
                        );
                        if let Some(ms) = v["libraries"][0]["elapsed_ms"].as_f64() {
                            idle.phase("engine (elapsed_ms)", ms / 1000.0);
                        }
                        idle.add(&t);
                    }
                }
            }
            eprintln!(
                "  run {run}/{}: {:<44} {:>7.2} s",
                args.runs,
                m.name(),
                samples[i].wall.last().copied().unwrap_or(f64::NAN)
            );
            remove(&out)?;
        }
    }
    flush();
    drop(nginx);
    if !args.keep {
        remove(&root)?;
    }
    let mut rows: Vec<Row> = Method::ALL
        .iter()
        .zip(&samples)
        .map(|(m, s)| s.row(m.name(), p.total))
        .collect();
    rows.push(idle.row("stowaway sync again, nothing to download (fixed cost)", 0));
    Ok(rows)
}

// ---------------------------------------------------------------- 2. catalog

fn catalog(args: &Args, bins: &Bins, work: &Path) -> Result<Vec<Row>> {
    let root = work.join("catalog");
    eprintln!("catalog: publishing a small library…");
    let p = Published::new(bins, &root, "catalog-bench", 3, 64 * 1024)?;
    let nginx = Nginx::start(&p.mirror);
    let healthy = TestMirror::start(&p.mirror)?;
    let black = TestMirror::start(&p.mirror)?;
    black.set_faults(vec![Rule::all(Fault::BlackHole)]);
    let label = |url: &str| {
        if url == nginx.url() {
            "nginx"
        } else if url == healthy.url() {
            "healthy TestMirror"
        } else if url == black.url() {
            "black-holed TestMirror"
        } else {
            "?"
        }
    };
    let configs: Vec<(&str, Vec<String>)> = vec![
        ("nginx alone", vec![nginx.url()]),
        (
            "[healthy TestMirror, nginx]",
            vec![healthy.url(), nginx.url()],
        ),
        (
            "[black-holed TestMirror, nginx]",
            vec![black.url(), nginx.url()],
        ),
    ];
    let subs: Vec<PathBuf> = configs
        .iter()
        .enumerate()
        .map(|(i, (_, m))| p.subscription(bins, &format!("member{i}"), m))
        .collect::<Result<_>>()?;
    let data = root.join("member");
    let mut first: Vec<Samples> = configs.iter().map(|_| Samples::default()).collect();
    let mut again: Vec<Samples> = configs.iter().map(|_| Samples::default()).collect();
    let mut edition = 0;
    for run in 1..=args.catalog_runs {
        for (i, sub) in subs.iter().enumerate() {
            remove(&data)?;
            // (a) `subscribe`: a catalog-only sync on a fresh cache, nothing known of the mirrors.
            let t = exec(
                bins.stowaway(&data).arg("subscribe").arg(sub).arg("--json"),
                "stowaway subscribe",
                &root,
            )?;
            let v = json_of(&t, "subscribe --json")?;
            ensure!(
                v["catalog"]["sequence"].is_u64(),
                "subscribe got no catalog: {v}"
            );
            first[i]
                .notes
                .push(label(v["catalog_mirror"].as_str().unwrap_or("")).to_owned());
            first[i].add(&t);
            // (b) a new publication, then `sync --catalog-only` with the mirror
            // health `subscribe` recorded. The new catalog differs in size: nginx's
            // ETag is size + mtime in whole seconds, so a same-size catalog
            // written within the same second would be answered 304.
            edition += 1;
            p.write_manifest(edition)?;
            p.build(bins)?;
            let t = exec(
                bins.stowaway(&data)
                    .args(["sync", "--catalog-only", "--json"]),
                "stowaway sync --catalog-only",
                &root,
            )?;
            let v = json_of(&t, "sync --catalog-only --json")?;
            let lib = &v["libraries"][0];
            ensure!(
                v["ok"] == true && lib["catalog"]["unchanged"] == false,
                "sync --catalog-only did not apply the new catalog: {v}"
            );
            again[i]
                .notes
                .push(label(lib["catalog_mirror"].as_str().unwrap_or("")).to_owned());
            if let Some(ms) = lib["elapsed_ms"].as_f64() {
                again[i].phase("engine (elapsed_ms)", ms / 1000.0);
            }
            again[i].add(&t);
            eprintln!(
                "  run {run}/{}: {:<34} subscribe {:>6.0} ms, sync --catalog-only {:>6.0} ms",
                args.catalog_runs,
                configs[i].0,
                first[i].wall.last().unwrap_or(&f64::NAN) * 1000.0,
                t.wall * 1000.0
            );
        }
    }
    drop((nginx, healthy, black));
    if !args.keep {
        remove(&root)?;
    }
    let mut rows = Vec::new();
    for (i, (name, _)) in configs.iter().enumerate() {
        rows.push(first[i].row(&format!("subscribe (fresh cache), {name}"), 0));
    }
    for (i, (name, _)) in configs.iter().enumerate() {
        rows.push(again[i].row(&format!("sync --catalog-only (new sequence), {name}"), 0));
    }
    Ok(rows)
}

// ---------------------------------------------------------------- 3. failover

fn failover(args: &Args, bins: &Bins, work: &Path) -> Result<(Vec<Row>, Option<f64>)> {
    let root = work.join("failover");
    let size = args.failover_mib * MIB;
    eprintln!(
        "failover: generating and publishing one file of {} MiB…",
        args.failover_mib
    );
    let p = Published::new(bins, &root, "failover-bench", 1, size)?;
    remove(&p.source)?;
    let nginx = Nginx::start(&p.mirror);
    let primary = TestMirror::start(&p.mirror)?;
    let two = p.subscription(bins, "two", &[primary.url(), nginx.url()])?;
    let alone = p.subscription(bins, "alone", &[nginx.url()])?;
    let drop_at = size / 2;
    let configs: Vec<(String, &PathBuf, Vec<Rule>)> = vec![
        ("[healthy TestMirror, nginx]".into(), &two, vec![]),
        (
            format!(
                "[TestMirror drop-after:{} MiB on blobs/, nginx]",
                drop_at / MIB
            ),
            &two,
            vec![Rule::path(
                PathMatch::prefix("blobs/"),
                Fault::DropAfter(drop_at),
            )],
        ),
        ("nginx alone".into(), &alone, vec![]),
    ];
    let data = root.join("member");
    let mut samples: Vec<Samples> = configs.iter().map(|_| Samples::default()).collect();
    for run in 1..=args.runs {
        for (i, (name, sub, rules)) in configs.iter().enumerate() {
            remove(&data)?;
            primary.set_faults(rules.clone());
            exec(
                bins.stowaway(&data).arg("subscribe").arg(sub).arg("--json"),
                "stowaway subscribe",
                &root,
            )?;
            flush();
            let sent0 = primary.bytes_sent();
            let t = exec(
                bins.stowaway(&data).args(["sync", "--json"]),
                "stowaway sync",
                &root,
            )?;
            let sent = primary.bytes_sent() - sent0;
            let v = json_of(&t, "sync --json")?;
            let lib = &v["libraries"][0];
            ensure!(
                v["ok"] == true && lib["bytes_downloaded"].as_u64() == Some(size),
                "{name}: sync failed: {v}"
            );
            let received = lib["bytes_received"].as_u64().unwrap_or(0);
            let s = &mut samples[i];
            s.count("bytes_received", received);
            s.count("primary_bytes_sent", sent);
            if let Some(ms) = lib["elapsed_ms"].as_f64() {
                s.phase("engine (elapsed_ms)", ms / 1000.0);
            }
            s.add(&t);
            eprintln!(
                "  run {run}/{}: {name:<46} {:>6.2} s, received {received} B (primary sent {sent} B)",
                args.runs, t.wall
            );
            remove(&data)?;
        }
    }
    flush();
    drop((nginx, primary));
    if !args.keep {
        remove(&root)?;
    }
    let rows: Vec<Row> = configs
        .iter()
        .zip(&samples)
        .map(|((name, _, _), s)| s.row(name, size))
        .collect();
    let lost = rows[1].median_s - rows[0].median_s;
    Ok((rows, Some(lost)))
}

// ---------------------------------------------------------------- output

fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{x:.prec$}"))
}

fn phases(r: &Row, scale: f64, unit: &str) -> String {
    r.phases_median_s
        .iter()
        .map(|(k, v)| format!("{k} {:.2}{unit}", v * scale))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn tally(notes: &[String]) -> String {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for n in notes {
        *m.entry(n).or_default() += 1;
    }
    m.iter()
        .map(|(k, v)| format!("{k} {v}×"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table of a section of timed rows (split, feed).
fn timed_rows(rows: &[Row]) {
    println!("| method | median s | min s | max s | MB/s (median) | CPU user + sys s (median) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {} | {:.2} + {:.2} |",
            row.name,
            row.median_s,
            row.min_s,
            row.max_s,
            fmt_opt(row.mb_per_s_median, 0),
            row.user_median_s,
            row.sys_median_s
        );
    }
    println!();
}

fn markdown(r: &Report) {
    let m = &r.machine;
    println!("# stowaway-bench\n");
    println!("`{}`\n", r.command);
    println!(
        "Machine: {} × {} ({} RAM), Linux {}; {}; {}; {}; {}; filesystem {}; {} ({} build, {}).\n",
        m.nproc,
        m.cpu_model,
        m.memory,
        m.kernel,
        m.curl,
        m.nginx,
        m.sha256sum,
        m.openssl,
        m.filesystem,
        m.stowaway,
        m.profile,
        m.git
    );
    if !r.throughput.is_empty() {
        let total = r.throughput[0].bytes;
        println!(
            "## 1. Throughput from one local nginx: {} files × {} MiB = {:.0} MiB ({} runs)\n",
            r.files,
            r.size_mib,
            total as f64 / MIB as f64,
            r.runs
        );
        println!("| method | median s | min s | MB/s (median) | MB/s (best) | CPU user + sys s (median) | phases (median) |");
        println!("|---|---:|---:|---:|---:|---:|---|");
        for row in &r.throughput {
            println!(
                "| {} | {:.2} | {:.2} | {} | {} | {:.2} + {:.2} | {} |",
                row.name,
                row.median_s,
                row.min_s,
                fmt_opt(row.mb_per_s_median, 0),
                fmt_opt(row.mb_per_s_best, 0),
                row.user_median_s,
                row.sys_median_s,
                phases(row, 1.0, " s")
            );
        }
        println!("\nMB = 10^6 bytes. CPU = user and system seconds of the measured processes (not nginx's).\n");
    }
    if !r.chunks.is_empty() {
        println!("## 5. One file from two mirrors, the first flipping bytes: what came twice\n");
        println!(
            "| catalog format | file | received | fetched again | sync s | sync s, both honest |"
        );
        println!("|---:|---:|---:|---:|---:|---:|");
        for c in &r.chunks {
            println!(
                "| {} | {} MiB | {:.1} MiB | {:.2} MiB | {:.2} | {:.2} |",
                c.format,
                c.size / MIB,
                c.received as f64 / MIB as f64,
                c.fetched_again as f64 / MIB as f64,
                c.wall_s,
                c.healthy_s
            );
        }
        println!();
    }
    if !r.ready.is_empty() {
        let total = r.ready[0].bytes;
        println!(
            "## 4. Ready for the trip: every byte of {} files × {} MiB = {:.0} MiB hashed again ({} runs, warm page cache)\n",
            r.files,
            r.size_mib,
            total as f64 / MIB as f64,
            r.runs
        );
        println!("| method | median s | min s | MB/s (median) | MB/s (best) | CPU user + sys s (median) |");
        println!("|---|---:|---:|---:|---:|---:|");
        for row in &r.ready {
            println!(
                "| {} | {:.2} | {:.2} | {} | {} | {:.2} + {:.2} |",
                row.name,
                row.median_s,
                row.min_s,
                fmt_opt(row.mb_per_s_median, 0),
                fmt_opt(row.mb_per_s_best, 0),
                row.user_median_s,
                row.sys_median_s
            );
        }
        println!();
    }
    if !r.catalog.is_empty() {
        println!(
            "## 2. Time to a catalog ({} runs; small library)\n",
            r.catalog_runs
        );
        println!("| measured | median ms | min ms | max ms | catalog served by |");
        println!("|---|---:|---:|---:|---|");
        for row in &r.catalog {
            println!(
                "| {} | {:.0} | {:.0} | {:.0} | {} |",
                row.name,
                row.median_s * 1000.0,
                row.min_s * 1000.0,
                row.max_s * 1000.0,
                tally(&row.notes)
            );
        }
        println!();
    }
    if !r.failover.is_empty() {
        println!(
            "## 3. One mid-file failover: one file of {} MiB, `stowaway sync` ({} runs)\n",
            r.failover_mib, r.runs
        );
        println!("| mirrors | median s | min s | MB/s (median) | bytes received (median) | sent by the primary (median) |");
        println!("|---|---:|---:|---:|---:|---:|");
        for row in &r.failover {
            let med = |k: &str| {
                row.counters
                    .get(k)
                    .map(|v| median(&v.iter().map(|&x| x as f64).collect::<Vec<_>>()))
                    .map_or_else(|| "–".into(), |x| format!("{x:.0}"))
            };
            println!(
                "| {} | {:.2} | {:.2} | {} | {} | {} |",
                row.name,
                row.median_s,
                row.min_s,
                fmt_opt(row.mb_per_s_median, 0),
                med("bytes_received"),
                med("primary_bytes_sent")
            );
        }
        if let Some(lost) = r.failover_time_lost_s {
            let size = r.failover_mib * MIB;
            let recv = r.failover[1]
                .counters
                .get("bytes_received")
                .map(|v| v.iter().copied().max().unwrap_or(0))
                .unwrap_or(0);
            println!(
                "\nTime lost by the failover (median dropped − median healthy primary): {:+.3} s. \
                 Bytes received with the drop: at most {recv} for a {size}-byte file ({:+.2} %: {}).\n",
                lost,
                (recv as f64 / size as f64 - 1.0) * 100.0,
                if recv <= size + size / 100 {
                    "continued with a Range request, not restarted"
                } else {
                    "MORE THAN THE FILE: the download restarted"
                }
            );
        }
    }
    if !r.split.is_empty() {
        println!(
            "## 6. One {:.0} MiB file, split across mirrors ({} runs)\n",
            r.split[0].bytes as f64 / MIB as f64,
            r.runs
        );
        timed_rows(&r.split);
    }
    if !r.play.is_empty() {
        println!("## 7. Play while it downloads: 64 MiB, one mirror at 2 MB/s per connection\n");
        println!("| run | first byte from the start s | first byte of a seek to 60 % s |");
        println!("|---:|---:|---:|");
        for (i, p) in r.play.iter().enumerate() {
            println!("| {} | {:.3} | {:.3} |", i + 1, p.start_s, p.seek_s);
        }
        println!();
    }
    if !r.feed.is_empty() {
        println!(
            "## 8. One {:.0} MiB podcast episode from a feed ({} runs)\n",
            r.feed[0].bytes as f64 / MIB as f64,
            r.runs
        );
        timed_rows(&r.feed);
    }
    if !r.update.is_empty() {
        println!(
            "## 9. The app's update check: one library's mirrors, each serving a release ({} runs)\n",
            r.catalog_runs
        );
        println!("| measured | median ms | min ms | max ms |");
        println!("|---|---:|---:|---:|");
        for row in &r.update {
            println!(
                "| {} | {:.0} | {:.0} | {:.0} |",
                row.name,
                row.median_s * 1000.0,
                row.min_s * 1000.0,
                row.max_s * 1000.0
            );
        }
        println!();
    }
    println!(
        "Load average (1, 5, 15 min) before: {}; after: {}.",
        r.load_before, r.load_after
    );
    if let (Some(b), Some(a)) = (r.free_before, r.free_after) {
        println!(
            "Free space in the working directory's filesystem: {:.1} GiB before, {:.1} GiB after.",
            b as f64 / (1u64 << 30) as f64,
            a as f64 / (1u64 << 30) as f64
        );
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.files > 0 && args.size_mib > 0 && args.runs > 0 && args.catalog_runs > 0,
        "sizes and runs must be positive"
    );
    let want = |s: Section| args.only.is_empty() || args.only.contains(&s);
    let bins = Bins::find(&args)?;
    fs::create_dir_all(&args.dir)?;
    let work = tempfile::Builder::new()
        .prefix("stowaway-bench-")
        .tempdir_in(&args.dir)
        .context("cannot make the working directory")?;
    let free_before = free_bytes(work.path());
    // Peak: the mirror tree + the generated source (while publishing), then
    // the mirror tree + one run's output.
    let need = (2 * args.files as u64 * args.size_mib).max(3 * args.failover_mib) * MIB + 512 * MIB;
    if let Some(free) = free_before {
        ensure!(
            free > need,
            "{} has {} MiB free; this run needs about {} MiB",
            args.dir.display(),
            free / MIB,
            need / MIB
        );
    }
    let machine = Machine::probe(&bins, work.path());
    let load = loadavg();
    if load
        .split_whitespace()
        .next()
        .and_then(|l| l.parse::<f64>().ok())
        .is_some_and(|l| l > 0.5)
    {
        eprintln!(
            "WARNING: load average {load}: something else is running; the figures will be noisy"
        );
    }
    let mut report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine,
        files: args.files,
        size_mib: args.size_mib,
        runs: args.runs,
        catalog_runs: args.catalog_runs,
        failover_mib: args.failover_mib,
        throughput: Vec::new(),
        catalog: Vec::new(),
        failover: Vec::new(),
        ready: Vec::new(),
        chunks: Vec::new(),
        split: Vec::new(),
        feed: Vec::new(),
        update: Vec::new(),
        play: Vec::new(),
        failover_time_lost_s: None,
        free_before,
        free_after: None,
        load_before: loadavg(),
        load_after: String::new(),
    };
    if want(Section::Throughput) {
        report.throughput = throughput(&args, &bins, work.path())?;
    }
    if want(Section::Catalog) {
        report.catalog = catalog(&args, &bins, work.path())?;
    }
    if want(Section::Failover) {
        let (rows, lost) = failover(&args, &bins, work.path())?;
        report.failover = rows;
        report.failover_time_lost_s = lost;
    }
    if want(Section::Ready) {
        report.ready = ready(&args, &bins, work.path())?;
    }
    if want(Section::Chunks) {
        report.chunks = chunks(&bins, work.path(), 256 * MIB)?;
    }
    if want(Section::Split) {
        report.split = split(&args, &bins, work.path(), 200 * MIB)?;
    }
    if want(Section::Play) {
        report.play = play(&args, &bins, work.path(), 64 * MIB)?;
    }
    if want(Section::Feed) {
        report.feed = feed(&args, &bins, work.path(), 200 * MIB)?;
    }
    if want(Section::Update) {
        report.update = update(&args, &bins, work.path())?;
    }
    report.free_after = free_bytes(work.path());
    report.load_after = loadavg();
    if args.keep {
        eprintln!("kept {}", work.keep().display());
    }
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &args.json_out {
        fs::write(path, format!("{json}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{json}");
    } else {
        markdown(&report);
    }
    Ok(())
}
