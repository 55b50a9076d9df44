//! `stowaway`: the same engine as the desktop app, headless.

/// `println!` that reports a closed standard output as an error instead of
/// panicking (`stowaway list | head -1` ends quietly).
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)?;
    }};
}

/// `print!`, likewise.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($t)*)?;
    }};
}

mod output;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use stowaway_api::{Api, ApiError, DownloadMode, ErrorCode, ItemRef, OsKeyring, ReadyScope};
use stowaway_store::Store;
use stowaway_sync::{Engine, Source, SyncOptions};
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
    /// Subscribe to a library (a .stowaway file or its URL) or to a
    /// podcast feed (an RSS or Atom URL).
    Subscribe {
        #[arg(value_name = "FILE_OR_URL")]
        source: String,
        /// Use the `file://` network shares it names as mirrors. On Windows,
        /// connecting to a share offers that computer your sign-in
        /// credentials: allow only shares on computers you trust.
        #[arg(long)]
        allow_network_share: bool,
    },
    /// Remove a library: its catalog, playback positions, download choices,
    /// access token, and every downloaded file no other library uses.
    Unsubscribe {
        library: String,
        /// Do not ask first.
        #[arg(long, short)]
        yes: bool,
    },
    /// Podcast subscriptions as OPML, to and from other podcast apps.
    Opml {
        #[command(subcommand)]
        action: OpmlAction,
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
    /// Download an item, or a whole collection, now: LIBRARY/COLLECTION[/ITEM].
    Download {
        #[arg(value_name = "TARGET")]
        target: String,
        /// Only queue it; the next sync downloads it.
        #[arg(long)]
        queue_only: bool,
    },
    /// Remove an item's download and free its space: LIBRARY/COLLECTION/ITEM.
    Remove {
        #[arg(value_name = "TARGET")]
        target: String,
    },
    /// A collection's automatic downloads: all items, only new ones, or off.
    AutoDownload {
        #[arg(value_name = "LIBRARY/COLLECTION")]
        target: String,
        #[arg(value_parser = parse_mode)]
        mode: DownloadMode,
    },
    /// What is queued, storage used, the budget, whether downloads are paused.
    Downloads,
    /// Limit the cache's size, e.g. 20G or 500M; `none` removes the limit.
    /// Played items the rules downloaded are evicted first to make room.
    Budget {
        #[arg(value_name = "SIZE")]
        size: String,
    },
    /// Keep a course, a show or an item for the trip: LIBRARY/COLLECTION[/ITEM].
    /// Pinned items are downloaded whatever the collection's rule says,
    /// first, and never evicted to make room.
    Pin {
        #[arg(value_name = "TARGET")]
        target: String,
    },
    /// No longer keep it for the trip (its files stay until removed).
    Unpin {
        #[arg(value_name = "TARGET")]
        target: String,
    },
    /// Is everything kept offline here, whole and playable? Hashes every
    /// stored file again; exits 0 only when ready: LIBRARY[/COLLECTION].
    Ready {
        #[arg(value_name = "LIBRARY[/COLLECTION]")]
        target: Option<String>,
    },
    /// Pause downloads: syncs refresh catalogs only until `resume`.
    Pause,
    /// Resume paused downloads (partial files continue where they stopped).
    Resume,
    /// Give the access token of a private library (read from standard
    /// input, never from the command line); it is kept in the OS keyring.
    Token {
        library: String,
        /// Remove the stored token instead.
        #[arg(long, conflicts_with = "trust_mirrors")]
        forget: bool,
        /// Send the token already given (keyring or STOWAWAY_TOKEN_<LIB>) to
        /// every mirror the library has now, after you checked them: a
        /// subscription update's new mirrors get no token until then.
        #[arg(long)]
        trust_mirrors: bool,
    },
    /// Mirror health: latency, throughput, failures, circuit breaker.
    Mirrors {
        #[arg(long)]
        library: Option<String>,
    },
    /// List collections with their counts and a page of their items (what is
    /// downloaded ✓, partly … , queued ◌): LIBRARY or LIBRARY/COLLECTION.
    List {
        #[arg(value_name = "LIBRARY[/COLLECTION]")]
        target: Option<String>,
        /// Only this library (as the first argument).
        #[arg(long, conflicts_with = "target")]
        library: Option<String>,
        /// Items shown per collection.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Start at this item (1 is the first).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        from: u64,
        /// Every item (read a window at a time).
        #[arg(long, conflicts_with = "limit")]
        all: bool,
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

#[derive(Subcommand)]
enum OpmlAction {
    /// Subscribe to every feed an OPML file lists (the next sync fetches them).
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Write every feed subscription as OPML (to standard output by default).
    Export {
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

fn data_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(d) = arg {
        return Ok(d);
    }
    let dirs = directories::ProjectDirs::from("org", "Stowaway", "Stowaway").ok_or_else(|| {
        ApiError::new(
            ErrorCode::Storage,
            "cannot find a home directory for the data directory; pass --data-dir",
        )
    })?;
    // The machine's own data folder, not one that roams with a Windows
    // profile (gigabytes of media); the same as data_dir on Linux and macOS.
    Ok(dirs.data_local_dir().to_path_buf())
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
        // The reader went away (`| head`): nothing more to say, to anyone.
        Err(e) if closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let a = public_error(&e);
            if json {
                let v = serde_json::json!({
                    "ok": false,
                    "code": a.code,
                    "detail": a.detail,
                    "error": a.message,
                });
                use std::io::Write as _;
                let _ = writeln!(std::io::stdout(), "{v}");
            }
            eprintln!("error: {}", a.message);
            ExitCode::FAILURE
        }
    }
}

/// The public error (stable code, core detail, message) of what failed:
/// the code of the core error in the chain, or of the CLI's own
/// [`ApiError`]; `internal` when neither is there (a bug).
fn public_error(e: &anyhow::Error) -> ApiError {
    let message = format!("{e:#}");
    ApiError::of_chain(e.as_ref(), message.clone())
        .unwrap_or_else(|| ApiError::new(ErrorCode::Internal, message))
}

/// A usage error: what was typed cannot be done (`invalid`).
fn invalid(message: impl Into<String>) -> anyhow::Error {
    ApiError::new(ErrorCode::Invalid, message).into()
}

/// Whether `e` is standard output closed by its reader.
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Runs the command; Ok(false) means "ran, but report failure" (exit 1).
async fn run(cli: Cli) -> Result<bool> {
    let dir = data_dir(cli.data_dir)?;
    if let Command::Fsck { repair } = cli.command {
        // Before opening: the index may be what is broken.
        return fsck(&dir, repair, cli.json);
    }
    let api = Api::open(&dir, Arc::new(OsKeyring))
        .with_context(|| format!("cannot open the cache in {}", dir.display()))?;
    let engine = api.engine();
    let json = cli.json;
    if matches!(
        cli.command,
        Command::Subscribe { .. } | Command::Sync { .. } | Command::Download { .. }
    ) {
        load_tokens(&api).await?;
    }
    match cli.command {
        Command::Subscribe {
            source,
            allow_network_share,
        } => {
            let web = source.starts_with("http://") || source.starts_with("https://");
            let sub = match engine.read_source(&source).await.map_err(|e| {
                let mut a = ApiError::from(e);
                a.message = if web {
                    format!(
                        "{source} is neither a Stowaway subscription nor a podcast feed: {}",
                        a.message
                    )
                } else {
                    format!("{source} is not a Stowaway subscription: {}", a.message)
                };
                a
            })? {
                Source::Library(sub) => sub,
                Source::Feed(fetched) => {
                    let s = engine.subscribe_feed(&fetched)?;
                    output::subscribed_feed(json, &s)?;
                    return Ok(true);
                }
            };
            let shares = engine.shares_not_allowed(&sub)?;
            for m in &shares {
                let host = stowaway_mirrors::Mirror::share_host(m).unwrap_or_default();
                if allow_network_share {
                    eprintln!("allowed: mirror {m}, a network share on {host:?}");
                } else {
                    eprintln!(
                        "warning: mirror {m} is a network share on {host:?}: it is not used (on Windows, connecting offers that computer your sign-in); if you trust it, subscribe again with --allow-network-share"
                    );
                }
            }
            let allowed = if allow_network_share {
                &shares[..]
            } else {
                &[]
            };
            // Forgets the token when the mirrors changed, loads it otherwise.
            let outcome = api.subscribe_library(&sub, allowed).await?;
            let new = outcome.new;
            if outcome.access_kept {
                eprintln!(
                    "warning: this file says library {} is public; it stays private (an update never lowers access; unsubscribe first to change it)",
                    sub.library
                );
            }
            if outcome.token_dropped {
                let mut changes: Vec<String> = outcome
                    .mirrors_added
                    .iter()
                    .map(|m| format!("+ {m}"))
                    .collect();
                changes.extend(outcome.mirrors_removed.iter().map(|m| format!("- {m}")));
                eprintln!(
                    "warning: this subscription changes the mirrors of private library {} ({}): its access token was forgotten and goes to no new mirror until you give it again (`stowaway token {}`)",
                    sub.library,
                    changes.join(", "),
                    sub.library
                );
            }
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
        Command::Unsubscribe { library, yes } => {
            let lib = api.library(&library)?;
            if !yes {
                if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    return Err(invalid(format!(
                        "this removes {library} and its downloads: pass --yes to confirm"
                    )));
                }
                eprint!(
                    "Remove {} ({library}): {} item(s), {} downloaded? [y/N] ",
                    lib.title,
                    lib.items,
                    output::bytes(lib.bytes_stored)
                );
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    eprintln!("Nothing removed.");
                    return Ok(false);
                }
            }
            let gone = api.unsubscribe(&library).await?;
            if let Some(w) = &gone.warning {
                eprintln!("warning: {w}");
            }
            output::unsubscribed(json, &lib.title, &gone)?;
            Ok(true)
        }
        Command::Opml { action } => match action {
            OpmlAction::Import { file } => {
                let done = engine
                    .import_opml_file(&file)
                    .await
                    .with_context(|| format!("{} is not an OPML file", file.display()))?;
                output::opml_imported(json, &done)?;
                Ok(true)
            }
            OpmlAction::Export { output: path } => {
                let (text, n) = engine.export_opml()?;
                match path {
                    Some(p) => {
                        std::fs::write(&p, text)
                            .with_context(|| format!("cannot write {}", p.display()))?;
                        if !json {
                            eprintln!("Wrote {n} feed(s) to {}.", p.display());
                        }
                    }
                    None => out!("{text}"),
                }
                Ok(true)
            }
        },
        Command::Sync {
            library,
            jobs,
            catalog_only,
            per_mirror,
            limit_rate,
        } => {
            if api.libraries()?.is_empty() {
                return Err(invalid(
                    "no subscriptions yet: run `stowaway subscribe FILE_OR_URL` first",
                ));
            }
            let opts = SyncOptions {
                library,
                concurrency: jobs,
                catalog_only,
                per_mirror_connections: per_mirror,
                bandwidth_limit: limit_rate,
                ..SyncOptions::default()
            };
            sync(engine, &opts, json).await
        }
        Command::Download { target, queue_only } => {
            let t = Target::parse(&target, false)?;
            let n = api.download(&t.library, &t.collection, t.item.as_deref())?;
            if !json {
                outln!("Queued {n} item(s) of {target}.");
            }
            if queue_only {
                if json {
                    outln!("{}", serde_json::json!({ "ok": true, "queued": n }));
                }
                return Ok(true);
            }
            let opts = SyncOptions {
                library: Some(t.library),
                ..SyncOptions::default()
            };
            sync(engine, &opts, json).await
        }
        Command::Remove { target } => {
            let t = Target::parse(&target, true)?;
            let freed = api.remove_download(&ItemRef {
                library: t.library,
                collection: t.collection,
                item: t.item.unwrap_or_default(),
            })?;
            output::removed(json, &target, &freed)?;
            Ok(true)
        }
        Command::AutoDownload { target, mode } => {
            let t = Target::parse(&target, false)?;
            if t.item.is_some() {
                return Err(invalid(format!(
                    "{target}: a rule is set for a collection (LIBRARY/COLLECTION)"
                )));
            }
            api.set_download_mode(&t.library, &t.collection, mode)?;
            if json {
                outln!("{}", serde_json::json!({ "ok": true, "mode": mode }));
            } else {
                outln!(
                    "{target}: automatic downloads {}",
                    match mode {
                        DownloadMode::All => "of every item",
                        DownloadMode::New => "of new items only",
                        DownloadMode::Off => "off; download items one by one",
                    }
                );
            }
            Ok(true)
        }
        Command::Downloads => {
            output::downloads(json, &api.downloads()?)?;
            Ok(true)
        }
        Command::Budget { size } => {
            let budget = match size.trim() {
                "none" | "off" | "unlimited" => None,
                s => Some(parse_size(s).map_err(invalid)?),
            };
            api.set_storage_budget(budget)?;
            output::downloads(json, &api.downloads()?)?;
            Ok(true)
        }
        Command::Token {
            library,
            forget,
            trust_mirrors,
        } => {
            api.library(&library)?;
            if forget {
                let had = api.forget_token(&library).await?;
                if json {
                    outln!("{}", serde_json::json!({ "ok": true, "forgotten": had }));
                } else if had {
                    outln!("Removed the access token of {library} from the keyring.");
                } else {
                    outln!("No access token of {library} was stored.");
                }
                return Ok(true);
            }
            // What the member is told the token goes to is what it goes to.
            let shown: Vec<String> = api
                .mirrors(Some(&library))?
                .into_iter()
                .map(|m| m.url)
                .collect();
            if !json {
                eprintln!("The access token of {library} goes to its mirrors:");
                for m in &shown {
                    eprintln!("  {m}");
                }
            }
            if trust_mirrors {
                api.trust_mirrors(&library, &shown).await?;
            } else {
                let text = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    rpassword::prompt_password(format!("Access token for {library}: "))?
                } else {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line
                };
                api.store_token(&library, &text, &shown).await?;
            }
            // Check it at once: a catalog refresh with the new token.
            let opts = SyncOptions {
                library: Some(library.clone()),
                catalog_only: true,
                ..SyncOptions::default()
            };
            let report = engine.sync(&opts, &CancellationToken::new()).await?;
            let lib = &report.libraries[0];
            if json {
                outln!(
                    "{}",
                    serde_json::json!({ "ok": lib.catalog_error.is_none(), "stored": !trust_mirrors, "catalog_error": lib.catalog_error })
                );
            } else if lib.needs_token {
                outln!(
                    "Saved, but the mirrors refused this token: {}",
                    lib.catalog_error.as_deref().unwrap_or("")
                );
            } else if let Some(e) = &lib.catalog_error {
                outln!("Saved. The mirrors could not be checked now: {e}");
            } else if trust_mirrors {
                outln!("Done; the mirrors accept it. Run `stowaway sync`.");
            } else {
                outln!("Saved in the keyring; the mirrors accept it. Run `stowaway sync`.");
            }
            Ok(!lib.needs_token)
        }
        Command::Pin { ref target } | Command::Unpin { ref target } => {
            let pin = matches!(cli.command, Command::Pin { .. });
            let t = Target::parse(target, false)?;
            let changed = if pin {
                api.pin(&t.library, &t.collection, t.item.as_deref())?
            } else {
                api.unpin(&t.library, &t.collection, t.item.as_deref())?
            };
            if json {
                outln!(
                    "{}",
                    serde_json::json!({ "ok": true, "pinned": pin, "changed": changed })
                );
            } else if pin {
                outln!(
                    "{target} is kept for the trip{}. `stowaway sync` fetches what is missing; `stowaway ready {}` checks it.",
                    if changed { "" } else { " (it already was)" },
                    t.library
                );
            } else if changed {
                outln!("{target} is no longer kept for the trip; its files stay until you remove them.");
            } else {
                outln!("{target} was not pinned.");
            }
            Ok(true)
        }
        Command::Ready { target } => {
            let (library, collection) = scope(target.as_deref())?;
            let scope = ReadyScope {
                library: library.map(str::to_owned),
                collection: collection.map(str::to_owned),
            };
            let bar = (!json && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
                let b = indicatif::ProgressBar::new(0);
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "  checking [{bar:30.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                b
            });
            let progress = |done: u64, total: u64| {
                if let Some(b) = &bar {
                    b.set_length(total);
                    b.set_position(done);
                }
            };
            let view = tokio::task::block_in_place(|| api.ready(&scope, &progress))?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            output::ready(json, &view)?;
            Ok(view.ready)
        }
        Command::Pause | Command::Resume => {
            let paused = matches!(cli.command, Command::Pause);
            api.set_downloads_paused(paused)?;
            if json {
                outln!("{}", serde_json::json!({ "ok": true, "paused": paused }));
            } else if paused {
                outln!(
                    "Downloads paused. Syncs refresh catalogs only; `stowaway resume` continues."
                );
            } else {
                outln!("Downloads resumed; the next sync continues where they stopped.");
            }
            Ok(true)
        }
        Command::List {
            target,
            library,
            limit,
            from,
            all,
        } => {
            let target = target.or(library);
            let (library, collection) = scope(target.as_deref())?;
            let limit = if all { usize::MAX } else { limit };
            output::list(&api, json, library, collection, from - 1, limit)?;
            Ok(true)
        }
        Command::Search { query, limit } => {
            let q = query.join(" ");
            let hits = api.search(&q, limit)?;
            output::search(json, &q, &hits)?;
            Ok(true)
        }
        Command::Status => {
            let mirrors = mirror_rows(&api, None)?;
            output::status(
                json,
                &api.libraries()?,
                &mirrors,
                &api.partial_downloads()?,
                &dir,
            )?;
            Ok(true)
        }
        Command::Mirrors { library } => {
            output::mirrors(json, &mirror_rows(&api, library.as_deref())?)?;
            Ok(true)
        }
        Command::Fsck { .. } => unreachable!("handled before the store is opened"),
    }
}

/// `fsck`: opens what it can and says what is broken; with `repair`, under
/// the sync lock (a sync storing a file meanwhile must not see it moved to
/// quarantine), fixes blobs, or rebuilds an index that cannot be read.
fn fsck(dir: &std::path::Path, repair: bool, json: bool) -> Result<bool> {
    let _lock = if repair {
        std::fs::create_dir_all(dir)?;
        Some(Store::lock_sync(dir).map_err(|e| -> anyhow::Error {
            match e {
                stowaway_store::StoreError::Busy => ApiError::new(
                    ErrorCode::Busy,
                    "a sync is running on this cache; repair it when the sync ends",
                )
                .into(),
                e => e.into(),
            }
        })?)
    } else {
        None
    };
    let broken = match Store::open(dir) {
        Ok(store) => {
            let r = store.fsck(repair)?;
            if r.database_ok || !repair {
                output::fsck(json, &r, repair)?;
                return Ok(r.database_ok
                    && (r.problems.is_empty()
                        || (repair && r.repaired.len() == r.problems.len())));
            }
            r.database_messages.join("; ")
        }
        Err(stowaway_store::StoreError::Corrupt(e)) => e,
        Err(e) => return Err(e).context(format!("cannot open the cache in {}", dir.display())),
    };
    if !repair {
        output::index_unreadable(json, dir, &broken)?;
        return Ok(false);
    }
    let (_, rebuilt) = Store::rebuild(dir)?;
    output::rebuilt(json, &broken, &rebuilt)?;
    Ok(rebuilt.problems.is_empty())
}

/// Hands the engine the access token of every private library (from the
/// environment or the OS keyring). A keyring that cannot be read is a
/// warning: public libraries still sync.
async fn load_tokens(api: &Api) -> Result<()> {
    for w in api.load_tokens().await? {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// Runs a sync with progress bars (or JSON), stopping cleanly on Ctrl-C.
async fn sync(engine: &Engine, opts: &SyncOptions, json: bool) -> Result<bool> {
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
    let result = engine.sync(opts, &cancel).await;
    ctrl_c.abort();
    if let Some(b) = bars {
        b.finish().await;
    }
    let report = result?;
    output::synced(json, &report)?;
    Ok(report.ok())
}

/// `[LIBRARY[/COLLECTION]]` as typed on the command line (`list`, `ready`).
fn scope(target: Option<&str>) -> Result<(Option<&str>, Option<&str>)> {
    match target.map(|t| (t, t.split_once('/'))) {
        None => Ok((None, None)),
        Some((t, None)) => Ok((Some(t), None)),
        Some((_, Some((l, c)))) if !l.is_empty() && !c.is_empty() && !c.contains('/') => {
            Ok((Some(l), Some(c)))
        }
        Some((t, Some(_))) => Err(invalid(format!(
            "{t}: expected LIBRARY or LIBRARY/COLLECTION"
        ))),
    }
}

/// `LIBRARY/COLLECTION[/ITEM]` as typed on the command line.
struct Target {
    library: String,
    collection: String,
    item: Option<String>,
}

impl Target {
    fn parse(s: &str, need_item: bool) -> Result<Target> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [l, c] if !need_item && !l.is_empty() && !c.is_empty() => Ok(Target {
                library: (*l).into(),
                collection: (*c).into(),
                item: None,
            }),
            [l, c, i] if !l.is_empty() && !c.is_empty() && !i.is_empty() => Ok(Target {
                library: (*l).into(),
                collection: (*c).into(),
                item: Some((*i).into()),
            }),
            _ if need_item => Err(invalid(format!(
                "{s:?}: expected LIBRARY/COLLECTION/ITEM (see `stowaway list`)"
            ))),
            _ => Err(invalid(format!(
                "{s:?}: expected LIBRARY/COLLECTION or LIBRARY/COLLECTION/ITEM (see `stowaway list`)"
            ))),
        }
    }
}

fn parse_mode(s: &str) -> Result<DownloadMode, String> {
    s.parse()
}

/// Parses a size like `20G`, `500M`, `1.5G` or `100000` (bytes).
fn parse_size(s: &str) -> Result<u64, String> {
    parse_rate(s).map_err(|_| format!("{s:?} is not a size like 20G or 500M, or `none`"))
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

/// Every mirror of every (or one) library with its health.
fn mirror_rows(api: &Api, library: Option<&str>) -> Result<Vec<output::MirrorRow>> {
    Ok(api
        .mirrors(library)?
        .into_iter()
        .map(output::MirrorRow::new)
        .collect())
}
