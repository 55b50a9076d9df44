//! `library.toml`: the publisher's description of a library, next to its media.
//! See docs/FORMAT.md for a full example.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use stowaway_catalog::CollectionKind;

pub const MANIFEST_FILE: &str = "library.toml";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub library: LibrarySection,
    #[serde(default, rename = "collection")]
    pub collections: Vec<CollectionSection>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibrarySection {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub artwork: Option<String>,
    /// How long a published catalog stays fresh (default
    /// [`DEFAULT_EXPIRES_IN_DAYS`](crate::build::DEFAULT_EXPIRES_IN_DAYS)).
    pub expires_in_days: Option<u32>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionSection {
    pub id: String,
    pub kind: CollectionKind,
    pub title: String,
    pub summary: Option<String>,
    pub artwork: Option<String>,
    #[serde(default, rename = "item")]
    pub items: Vec<ItemSection>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemSection {
    pub id: String,
    pub title: String,
    pub summary: Option<String>,
    /// Show notes inline…
    pub notes: Option<String>,
    /// …or from a file (plain text or Markdown).
    pub notes_file: Option<String>,
    /// `2026-11-01` or RFC 3339.
    pub published: Option<String>,
    /// Seconds, or `MM:SS` / `HH:MM:SS`. Worked out for WAV files when omitted.
    pub duration: Option<toml::Value>,
    pub season: Option<u32>,
    pub number: Option<u32>,
    pub media: Option<String>,
    pub transcript: Option<String>,
    pub chapters: Option<String>,
    pub artwork: Option<String>,
    #[serde(default)]
    pub attachments: Vec<String>,
}

impl Manifest {
    pub fn load(source: &Path) -> Result<Manifest> {
        let path = source.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not a valid manifest", path.display()))
    }
}

/// Resolves a path from the manifest below `source`, refusing absolute paths
/// and `..` so a manifest cannot publish files from elsewhere on the machine.
pub fn resolve(source: &Path, rel: &str) -> Result<PathBuf> {
    let p = Path::new(rel);
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        bail!("{rel:?}: manifest paths must be relative and stay inside the source folder");
    }
    let full = source.join(p);
    if !full.is_file() {
        bail!("{}: no such file", full.display());
    }
    Ok(full)
}

/// Parses a duration: a number of seconds, or `MM:SS`, `HH:MM:SS` (with optional fraction).
pub fn parse_duration_ms(v: &toml::Value) -> Result<u64> {
    match v {
        toml::Value::Integer(s) if *s >= 0 => Ok(*s as u64 * 1000),
        toml::Value::Float(s) if *s >= 0.0 => Ok((*s * 1000.0).round() as u64),
        toml::Value::String(s) => {
            let mut total = 0f64;
            let parts: Vec<&str> = s.split(':').collect();
            if parts.is_empty() || parts.len() > 3 {
                bail!("duration {s:?}: use seconds, MM:SS or HH:MM:SS");
            }
            for p in parts {
                let n: f64 = p
                    .trim()
                    .parse()
                    .with_context(|| format!("duration {s:?}: use seconds, MM:SS or HH:MM:SS"))?;
                if !(0.0..1e9).contains(&n) {
                    bail!("duration {s:?} out of range");
                }
                total = total * 60.0 + n;
            }
            Ok((total * 1000.0).round() as u64)
        }
        other => bail!("duration {other}: use seconds, MM:SS or HH:MM:SS"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration_ms(&toml::Value::Integer(90)).unwrap(),
            90_000
        );
        assert_eq!(
            parse_duration_ms(&toml::Value::String("1:30".into())).unwrap(),
            90_000
        );
        assert_eq!(
            parse_duration_ms(&toml::Value::String("1:00:01.5".into())).unwrap(),
            3_601_500
        );
        assert!(parse_duration_ms(&toml::Value::String("abc".into())).is_err());
        assert!(parse_duration_ms(&toml::Value::Integer(-1)).is_err());
    }

    #[test]
    fn paths_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.ogg"), b"x").unwrap();
        assert!(resolve(dir.path(), "a.ogg").is_ok());
        assert!(resolve(dir.path(), "./a.ogg").is_ok());
        assert!(resolve(dir.path(), "../a.ogg").is_err());
        assert!(resolve(dir.path(), "/etc/passwd").is_err());
        assert!(resolve(dir.path(), "missing.ogg").is_err());
    }
}
