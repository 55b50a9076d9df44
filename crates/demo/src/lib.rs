//! The built-in demo library, so Stowaway can be tried with no account and no
//! network: a course of lessons with a PDF workbook and a podcast show, with
//! real audio generated on this machine (speech from espeak-ng, encoded to
//! Ogg Vorbis by sox; pure tones generated here when those tools are absent),
//! published as a signed mirror tree and served by two local mirrors.
#![forbid(unsafe_code)]

mod content;
mod media;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use stowaway_publish::{build, BuildOptions};

pub use content::{LIBRARY_ID, LIBRARY_TITLE};
pub use media::tones_wav;

/// The folders of a prepared demo.
#[derive(Clone, Debug)]
pub struct DemoPaths {
    pub root: PathBuf,
    pub source: PathBuf,
    pub keys: PathBuf,
    pub mirror_a: PathBuf,
    pub mirror_b: PathBuf,
}

impl DemoPaths {
    pub fn new(root: &Path) -> DemoPaths {
        DemoPaths {
            root: root.to_path_buf(),
            source: root.join("source"),
            keys: root.join("keys"),
            mirror_a: root.join("mirror-a"),
            mirror_b: root.join("mirror-b"),
        }
    }
}

/// Generates the demo source folder (media, notes, workbook, library.toml),
/// a publisher key, and the signed mirror tree in both mirror folders.
/// Idempotent: existing media and keys are reused.
pub fn prepare(root: &Path, mirror_urls: &[String]) -> Result<DemoPaths> {
    let paths = DemoPaths::new(root);
    content::write_source(&paths.source)?;
    if !paths
        .keys
        .join(stowaway_publish::keys::SECRET_KEY_FILE)
        .exists()
    {
        // The demo key is throwaway: never encrypted.
        stowaway_publish::keygen(&paths.keys, None)?;
    }
    let opts = BuildOptions {
        source: paths.source.clone(),
        out: paths.mirror_a.clone(),
        secret_key: paths.keys.join(stowaway_publish::keys::SECRET_KEY_FILE),
        mirrors: mirror_urls.to_vec(),
        refresh: false,
        format: 1,
        now: time::OffsetDateTime::now_utc(),
    };
    build(&opts).context("building the demo mirror tree")?;
    copy_tree(&paths.mirror_a, &paths.mirror_b)?;
    Ok(paths)
}

/// Writes `demo.stowaway` (the member's subscription to the demo library on
/// `mirror_urls`) into the demo folder and returns its path.
pub fn write_subscription(root: &Path, mirror_urls: &[String]) -> Result<PathBuf> {
    let paths = DemoPaths::new(root);
    let pub_file = fs::read_to_string(paths.keys.join(stowaway_publish::keys::PUBLIC_KEY_FILE))?;
    let key = pub_file
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .context("empty public key file")?;
    let json = serde_json::json!({
        "stowaway": 1,
        "library": LIBRARY_ID,
        "title": LIBRARY_TITLE,
        "public_key": key,
        "mirrors": mirror_urls,
    });
    let sub = root.join("demo.stowaway");
    fs::write(&sub, serde_json::to_string_pretty(&json)? + "\n")?;
    Ok(sub)
}

/// Mirrors a tree: copies files that are missing or differ in size, and always
/// the (small) catalog and signature.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            let same = fs::metadata(&dest).map(|m| m.len()).ok() == Some(entry.metadata()?.len());
            let small = entry.metadata()?.len() < 1 << 20;
            if !same || small {
                fs::copy(entry.path(), &dest)?;
            }
        }
    }
    Ok(())
}
