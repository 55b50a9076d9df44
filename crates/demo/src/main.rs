//! `stowaway-demo`: the built-in demo library on two local mirrors.
//!
//! - `stowaway-demo tour`: prepare the demo, serve it from two mirrors, and
//!   walk through subscribe → sync → list → search, then stop the mirrors and
//!   show that everything still works offline. Uses the real `stowaway` binary.
//! - `stowaway-demo serve`: prepare and serve until Ctrl-C, for trying the CLI
//!   (or the app) by hand.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use stowaway_testmirror::TestMirror;

#[derive(Parser)]
#[command(
    name = "stowaway-demo",
    version,
    about = "The Stowaway demo library, served by two local mirrors"
)]
struct Cli {
    /// Where the demo lives (source, keys, mirrors, the member's cache).
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Walk through subscribe, sync, list, search, then offline use (the default).
    Tour {
        /// Keep the mirrors running at the end until Ctrl-C.
        #[arg(long)]
        keep_serving: bool,
    },
    /// Serve the demo mirrors until Ctrl-C.
    Serve {
        #[arg(long, default_value_t = 8701)]
        port_a: u16,
        #[arg(long, default_value_t = 8702)]
        port_b: u16,
    },
}

fn start_mirrors(dir: &Path, port_a: u16, port_b: u16) -> Result<(TestMirror, TestMirror)> {
    let paths = stowaway_demo::DemoPaths::new(dir);
    let a = TestMirror::start_on(&paths.mirror_a, SocketAddr::from(([127, 0, 0, 1], port_a)))
        .with_context(|| format!("cannot listen on 127.0.0.1:{port_a} (pass --port-a)"))?;
    let b = TestMirror::start_on(&paths.mirror_b, SocketAddr::from(([127, 0, 0, 1], port_b)))
        .with_context(|| format!("cannot listen on 127.0.0.1:{port_b} (pass --port-b)"))?;
    eprintln!(
        "Preparing the demo library in {} (first run speaks the audio; a few seconds)…",
        dir.display()
    );
    stowaway_demo::prepare(dir, &[a.url(), b.url()])?;
    stowaway_demo::write_subscription(dir, &[a.url(), b.url()])?;
    Ok((a, b))
}

fn stowaway_bin() -> Result<PathBuf> {
    let me = std::env::current_exe()?;
    let bin = me.with_file_name(format!("stowaway{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        bail!(
            "{} not found: build it with `cargo build -p stowaway-cli` (the ./demo script does)",
            bin.display()
        );
    }
    Ok(bin)
}

fn step(bin: &Path, data: &Path, args: &[&str]) -> Result<bool> {
    println!("\n\x1b[1m$ stowaway {}\x1b[0m", args.join(" "));
    let status = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .status()?;
    Ok(status.success())
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STOWAWAY_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let dir = cli
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join("stowaway-demo"));
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    match cli.command.unwrap_or(Cmd::Tour {
        keep_serving: false,
    }) {
        Cmd::Serve { port_a, port_b } => {
            let (a, b) = start_mirrors(&dir, port_a, port_b)?;
            println!("mirror A: {}\nmirror B: {}", a.url(), b.url());
            println!("subscription: {}", dir.join("demo.stowaway").display());
            println!(
                "try: stowaway subscribe {}",
                dir.join("demo.stowaway").display()
            );
            println!("serving until Ctrl-C");
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(tokio::signal::ctrl_c())?;
        }
        Cmd::Tour { keep_serving } => {
            let bin = stowaway_bin()?;
            let data = dir.join("member");
            let _ = std::fs::remove_dir_all(&data);
            let (a, b) = start_mirrors(&dir, 0, 0)?;
            let sub = dir.join("demo.stowaway");
            println!(
                "Two mirrors are serving the signed demo library:\n  A {}\n  B {}",
                a.url(),
                b.url()
            );
            let sub_s = sub.display().to_string();
            let mut ok = step(&bin, &data, &["subscribe", &sub_s])?;
            ok &= step(&bin, &data, &["sync"])?;
            ok &= step(&bin, &data, &["list"])?;
            ok &= step(&bin, &data, &["search", "escrow"])?;
            println!("\nStopping both mirrors: from here on there is no server at all.");
            drop(a);
            drop(b);
            ok &= step(&bin, &data, &["search", "negotiation"])?;
            ok &= step(&bin, &data, &["fsck"])?;
            step(&bin, &data, &["sync"])?; // fails clearly: nothing answers
            println!("\nThe sync above failed (every mirror is down) and nothing cached was lost.");
            println!(
                "Cache: {}\nTry: stowaway --data-dir {} status",
                data.display(),
                data.display()
            );
            if !ok {
                bail!("a step of the tour failed");
            }
            if keep_serving {
                let (a, b) = start_mirrors(&dir, 8701, 8702)?;
                println!(
                    "\nmirrors back on {} and {}; Ctrl-C to stop",
                    a.url(),
                    b.url()
                );
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
                    .block_on(tokio::signal::ctrl_c())?;
            }
        }
    }
    Ok(())
}
