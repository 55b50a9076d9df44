//! `stowaway`: the same engine as the desktop app, headless.

mod output;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use stowaway_mirrors::{ClientConfig, MirrorHealth};
use stowaway_store::Store;
use stowaway_sync::{Engine, SyncOptions};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "stowaway",
    version,
    about = "Stowaway: your coaching library, synced from whichever mirror responds, playable offline"
)]
struct Cli {
    /// Where the cache lives (default: the platform's data directory).
    #[arg(long, global = true, env = "STOWAWAY_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Subscribe to a library from a .stowaway file or its URL.
    Subscribe {
        #[arg(value_name = "FILE_OR_URL")]
        source: String,
    },
    /// Fetch the latest catalogs and download everything not yet cached.
    Sync {
        /// Only this library.
        #[arg(long)]
        library: Option<String>,
        /// Downloads at once.
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// Refresh catalogs only; download nothing.
        #[arg(long)]
        catalog_only: bool,
        /// Connections to any one mirror at once.
        #[arg(long, default_value_t = 4)]
        per_mirror: usize,
        /// Overall bandwidth cap, e.g. 500K or 2M (bytes per second).
        #[arg(long, value_name = "RATE", value_parser = parse_rate)]
        limit_rate: Option<u64>,
    },
    /// Mirror health: latency, throughput, failures, circuit breaker.
    Mirrors {
        #[arg(long)]
        library: Option<String>,
    },
    /// List collections and items, with what is downloaded.
    List {
        #[arg(long)]
        library: Option<String>,
    },
    /// Search titles, summaries and show notes (works offline).
    Search {
        query: Vec<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Libraries, catalogs, last sync, mirrors and storage.
    Status,
    /// Re-hash every cached blob against the index.
    Fsck {
        /// Quarantine corrupt blobs and drop missing ones from the index so the next sync fetches them again.
        #[arg(long)]
        repair: bool,
    },
}

fn data_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(d) = arg {
        return Ok(d);
    }
    let dirs = directories::ProjectDirs::from("org", "Stowaway", "Stowaway")
        .context("cannot find a home directory for the data directory; pass --data-dir")?;
    Ok(dirs.data_dir().to_path_buf())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STOWAWAY_LOG")
                .unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            if json {
                let v = serde_json::json!({ "ok": false, "error": format!("{e:#}") });
                println!("{v}");
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command; Ok(false) means "ran, but report failure" (exit 1).
async fn run(cli: Cli) -> Result<bool> {
    let dir = data_dir(cli.data_dir)?;
    let store = Arc::new(
        Store::open(&dir).with_context(|| format!("cannot open the cache in {}", dir.display()))?,
    );
    let engine = Engine::new(store.clone(), ClientConfig::default())?;
    let json = cli.json;
    match cli.command {
        Command::Subscribe { source } => {
            let sub = engine
                .read_subscription(&source)
                .await
                .with_context(|| format!("{source} is not a Stowaway subscription"))?;
            let new = engine.subscribe(&sub)?;
            // Check the mirrors now so the member knows at once; offline is fine.
            let report = engine
                .sync(
                    &SyncOptions {
                        library: Some(sub.library.clone()),
                        catalog_only: true,
                        ..SyncOptions::default()
                    },
                    &CancellationToken::new(),
                )
                .await?;
            output::subscribed(json, &sub, new, &report.libraries[0])?;
            Ok(true)
        }
        Command::Sync {
            library,
            jobs,
            catalog_only,
            per_mirror,
            limit_rate,
        } => {
            if store.libraries()?.is_empty() {
                bail!("no subscriptions yet: run `stowaway subscribe FILE_OR_URL` first");
            }
            let opts = SyncOptions {
                library,
                concurrency: jobs,
                catalog_only,
                per_mirror_connections: per_mirror,
                bandwidth_limit: limit_rate,
                ..SyncOptions::default()
            };
            let cancel = CancellationToken::new();
            let bars = (!json).then(|| progress::spawn(engine.events()));
            let ctrl_c = {
                let cancel = cancel.clone();
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        cancel.cancel();
                    }
                })
            };
            let result = engine.sync(&opts, &cancel).await;
            ctrl_c.abort();
            if let Some(b) = bars {
                b.finish().await;
            }
            let report = result?;
            output::synced(json, &report)?;
            Ok(report.ok())
        }
        Command::List { library } => {
            let cols = store.list(library.as_deref())?;
            output::list(json, &store.libraries()?, &cols)?;
            Ok(true)
        }
        Command::Search { query, limit } => {
            let q = query.join(" ");
            let hits = store.search(&q, limit)?;
            output::search(json, &q, &hits)?;
            Ok(true)
        }
        Command::Status => {
            let mirrors = mirror_health(&store, None)?;
            output::status(json, &store.status()?, &mirrors, &store.partials()?, &dir)?;
            Ok(true)
        }
        Command::Mirrors { library } => {
            output::mirrors(json, &mirror_health(&store, library.as_deref())?)?;
            Ok(true)
        }
        Command::Fsck { repair } => {
            let r = store.fsck(repair)?;
            output::fsck(json, &r, repair)?;
            Ok(r.database_ok
                && (r.problems.is_empty() || (repair && r.repaired.len() == r.problems.len())))
        }
    }
}

/// Parses a rate like `500K`, `2M`, `1.5M` or `100000` (bytes per second).
fn parse_rate(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1_000.0),
        Some((i, 'm' | 'M')) => (&s[..i], 1_000_000.0),
        Some((i, 'g' | 'G')) => (&s[..i], 1_000_000_000.0),
        _ => (s, 1.0),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a rate like 500K or 2M"))?;
    if n.is_nan() || n <= 0.0 || !n.is_finite() {
        return Err(format!("{s:?}: the rate must be positive"));
    }
    Ok((n * mult).max(1.0) as u64)
}

/// Every mirror of every (or one) library with its parsed health record.
fn mirror_health(store: &Store, library: Option<&str>) -> Result<Vec<output::MirrorRow>> {
    let mut rows = Vec::new();
    for lib in store.libraries()? {
        if library.is_some_and(|l| l != lib.id) {
            continue;
        }
        for r in store.mirror_records(&lib.id)? {
            let health: MirrorHealth = r
                .health
                .as_deref()
                .and_then(|h| serde_json::from_str(h).ok())
                .unwrap_or_default();
            rows.push(output::MirrorRow::new(&lib.id, &r.url, health));
        }
    }
    if let Some(l) = library {
        if rows.is_empty() {
            store.library(l)?;
        }
    }
    Ok(rows)
}
