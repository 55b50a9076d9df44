//! `stowaway-publish`: keygen, build a signed mirror tree, write subscriptions.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use stowaway_catalog::Access;
use stowaway_mirrors::AccessToken;
use stowaway_publish::{
    build, keygen, load_public_key, release, subscription, BuildOptions, ReleaseOptions,
};

#[derive(Parser)]
#[command(
    name = "stowaway-publish",
    version,
    about = "Publish a Stowaway library: keys, signed mirror trees, subscriptions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a minisign key pair (stowaway.key, stowaway.pub) in DIR.
    /// Set STOWAWAY_KEY_PASSWORD to encrypt the secret key.
    Keygen {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Build or update a signed mirror tree from a source folder with a library.toml.
    Build {
        #[arg(long, value_name = "SECRET_KEY")]
        key: PathBuf,
        #[arg(long, value_name = "SRC")]
        source: PathBuf,
        #[arg(long, value_name = "MIRROR_DIR")]
        out: PathBuf,
        /// A mirror URL to announce in the catalog (repeatable).
        #[arg(long = "mirror", value_name = "URL")]
        mirrors: Vec<String>,
        /// Re-sign with a fresh expiry even if nothing changed.
        #[arg(long)]
        refresh: bool,
        /// The catalog format to write: 1 (every Stowaway reads it), or 2
        /// (adds a chunk list to each file over 2 MiB, so clients check it
        /// piece by piece; Stowaway 0.2 and later only). See FORMAT.md.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
        format: u32,
    },
    /// Put an app release into a mirror tree for members' apps to update from:
    /// each installer in updates/VERSION/, signed with the key whose public half
    /// the app is built with, and updates/latest.json (written last).
    Release {
        #[arg(long, value_name = "SECRET_KEY")]
        key: PathBuf,
        /// The version the installers are (as in tauri.conf.json).
        #[arg(long)]
        version: String,
        /// A file with the release notes members see.
        #[arg(long, value_name = "FILE")]
        notes: Option<PathBuf>,
        #[arg(long, value_name = "MIRROR_DIR")]
        out: PathBuf,
        /// An installer as the bundler made it (the target is read from its
        /// name), or TARGET=PATH (e.g. darwin-aarch64=Stowaway.app.tar.gz).
        #[arg(value_name = "INSTALLER", required = true)]
        installers: Vec<String>,
    },
    /// Print the subscription file (JSON) a member is handed.
    Subscription {
        /// The public key file (stowaway.pub) or the key itself.
        #[arg(long, value_name = "PUBLIC_KEY")]
        key: String,
        /// Mirror base URL (repeatable, in order of preference).
        #[arg(long = "mirror", value_name = "URL", required = true)]
        mirrors: Vec<String>,
        /// Library id; read from the first mirror's verified catalog if omitted.
        #[arg(long)]
        library: Option<String>,
        #[arg(long)]
        title: Option<String>,
        /// A private library: members need an access token, which the app
        /// asks for once. To read the library id from a private mirror, put
        /// a token in STOWAWAY_ACCESS_TOKEN.
        #[arg(long)]
        private: bool,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STOWAWAY_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Keygen { out } => {
            let password = std::env::var(stowaway_publish::keys::PASSWORD_ENV).ok();
            let k = keygen(&out, password)?;
            println!("public key:  {}", k.public_key_base64);
            println!(
                "wrote {} and {}",
                k.public_key.display(),
                k.secret_key.display()
            );
            if !k.encrypted {
                eprintln!(
                    "note: the secret key is not password-protected (mode 0600); set STOWAWAY_KEY_PASSWORD to encrypt it"
                );
            }
        }
        Command::Build {
            key,
            source,
            out,
            mirrors,
            refresh,
            format,
        } => {
            let o = build(&BuildOptions {
                source,
                out: out.clone(),
                secret_key: key,
                mirrors,
                refresh,
                format,
                now: time::OffsetDateTime::now_utc(),
            })?;
            if o.changed {
                println!(
                    "published {} sequence {}: {} items, {} blobs ({} new, {} bytes copied) in {}",
                    o.library_id,
                    o.sequence,
                    o.items,
                    o.blobs_total,
                    o.blobs_copied,
                    o.bytes_copied,
                    out.display()
                );
            } else {
                println!(
                    "{} unchanged at sequence {} ({} items); use --refresh to re-sign with a new expiry",
                    o.library_id, o.sequence, o.items
                );
            }
            for f in &o.feeds {
                println!("podcast feed: {}", out.join(f).display());
            }
        }
        Command::Release {
            key,
            version,
            notes,
            out,
            installers,
        } => {
            let notes = match notes {
                Some(p) => Some(
                    std::fs::read_to_string(&p)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?,
                ),
                None => None,
            };
            let bundles = installers
                .iter()
                .map(|a| match a.split_once('=') {
                    Some((t, p)) if !t.contains('/') && !t.contains('\\') => {
                        (Some(t.to_owned()), PathBuf::from(p))
                    }
                    _ => (None, PathBuf::from(a)),
                })
                .collect();
            let o = release(&ReleaseOptions {
                out,
                secret_key: key,
                version,
                notes,
                bundles,
                now: time::OffsetDateTime::now_utc(),
            })?;
            for (target, url) in &o.platforms {
                println!("{target}: updates/{url}");
            }
            println!("wrote {}", o.manifest.display());
        }
        Command::Subscription {
            key,
            mirrors,
            library,
            title,
            private,
        } => {
            let key = load_public_key(&key)?;
            let access = if private {
                Access::Token
            } else {
                Access::Public
            };
            let token = match std::env::var("STOWAWAY_ACCESS_TOKEN") {
                Ok(t) => Some(AccessToken::new(&t)?),
                Err(_) => None,
            };
            let sub = subscription::make_subscription(
                &key,
                &mirrors,
                library,
                title,
                access,
                token.as_ref(),
            )
            .await?;
            print!("{}", sub.to_json());
        }
    }
    Ok(())
}
