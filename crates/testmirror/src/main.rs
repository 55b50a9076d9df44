//! `stowaway-testmirror`: serve a mirror tree over HTTP on loopback, with
//! optional injected faults, until SIGINT/SIGTERM.
//!
//! ```text
//! stowaway-testmirror --root DIR [--port 0] [--fault SPEC]...
//! ```
//!
//! `SPEC` is `FAULT[@PATH][#TIMES]`, e.g. `black-hole`, `status:503:5`,
//! `truncate:100@blobs/*`, `flip-bytes@library.json#1`, `delay:500ms`.
//! On start-up it prints `listening on http://127.0.0.1:PORT/` to stdout.

#![forbid(unsafe_code)]

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use stowaway_testmirror::{Rule, TestMirror};
use tracing_subscriber::EnvFilter;

/// Fault-injecting static HTTP/1.1 mirror server for Stowaway tests.
#[derive(Debug, Parser)]
#[command(name = "stowaway-testmirror", version)]
struct Args {
    /// Directory to serve (the mirror tree).
    #[arg(long)]
    root: PathBuf,

    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Address to bind.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,

    /// Fault rule `FAULT[@PATH][#TIMES]` (repeatable; first match wins).
    /// FAULT is one of black-hole, status:CODE[:RETRY_AFTER], stall-after:N,
    /// trickle:BYTES_PER_SEC, truncate:N, flip-bytes, corrupt-at:OFFSET, ignore-range,
    /// drop-after:N, delay:MILLIS. PATH is exact, or a prefix ending in `*`.
    #[arg(long = "fault", value_name = "SPEC")]
    faults: Vec<Rule>,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    if !args.root.is_dir() {
        anyhow::bail!("--root {} is not a directory", args.root.display());
    }
    let mirror = TestMirror::start_on(&args.root, SocketAddr::new(args.host, args.port))
        .with_context(|| format!("failed to listen on {}:{}", args.host, args.port))?;
    if !args.faults.is_empty() {
        for rule in &args.faults {
            tracing::info!(%rule, "fault rule");
        }
        mirror.set_faults(args.faults);
    }

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", mirror.url())?;
    stdout.flush()?;
    drop(stdout);

    wait_for_signal()?;
    tracing::info!(
        requests = mirror.requests().len(),
        bytes_sent = mirror.bytes_sent(),
        "shutting down"
    );
    drop(mirror);
    Ok(())
}

/// Blocks until SIGINT or (on Unix) SIGTERM arrives.
fn wait_for_signal() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r?,
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await?;
        Ok(())
    })
}
