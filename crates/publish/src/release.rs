//! An app release for the mirrors: the installers of one version, signed,
//! and the manifest members' apps read, written into a mirror tree beside
//! the library (`updates/`), so an update reaches members from whichever
//! mirror responds.
//!
//! ```text
//! updates/latest.json                   the manifest (written last, atomically)
//! updates/<version>/<installer file>    each installer, as built
//! ```
//!
//! Each installer is signed with a minisign key (`stowaway-publish keygen`),
//! the key whose public half the app is built with. The signature's trusted
//! comment names the file and the version (`timestamp:…\tfile:…\tversion:…`,
//! as Tauri's updater reads it), so a mirror cannot pair an older installer
//! with a newer version number. The manifest is Tauri's static update JSON,
//! except that each `url` is relative to `updates/`: the app resolves it
//! against the mirror it reads the manifest from (see FORMAT.md).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use base64::Engine as _;
use stowaway_catalog::{is_plain_file_name as plain_name, UpdateManifest, UpdatePlatform};

/// The manifest's path below a mirror's root.
pub const MANIFEST: &str = stowaway_catalog::UPDATE_MANIFEST;

pub struct ReleaseOptions {
    /// The mirror tree (the library's, or one of its own).
    pub out: PathBuf,
    pub secret_key: PathBuf,
    /// The version the installers are (semver, as in tauri.conf.json).
    pub version: String,
    pub notes: Option<String>,
    /// Each installer, with the updater target it serves when its name
    /// does not say (`darwin-aarch64` for a `.app.tar.gz`, say).
    pub bundles: Vec<(Option<String>, PathBuf)>,
    pub now: time::OffsetDateTime,
}

#[derive(Debug)]
pub struct ReleaseOutcome {
    pub manifest: PathBuf,
    /// Target and file, in target order.
    pub platforms: Vec<(String, String)>,
}

/// The updater target an installer's file name shows, as the Tauri bundler
/// names them (`Stowaway_0.2.0_amd64.deb`, `Stowaway-0.2.0-1.x86_64.rpm`,
/// `Stowaway_0.2.0_x64_en-US.msi`, `Stowaway_0.2.0_x64-setup.exe`,
/// `Stowaway_0.2.0_amd64.AppImage`); `None` when it does not (a macOS
/// `.app.tar.gz` names no architecture).
pub fn target_of(file_name: &str) -> Option<String> {
    let lower = file_name.to_ascii_lowercase();
    let arch = |table: &[(&str, &str)]| {
        table
            .iter()
            .find(|(tag, _)| lower.contains(tag))
            .map(|(_, a)| (*a).to_owned())
    };
    let debian = [
        ("_amd64", "x86_64"),
        ("_arm64", "aarch64"),
        ("_i386", "i686"),
        ("_armhf", "armv7"),
    ];
    let (os, arch, kind) = if lower.ends_with(".deb") {
        ("linux", arch(&debian)?, "deb")
    } else if lower.ends_with(".appimage") {
        ("linux", arch(&debian)?, "appimage")
    } else if lower.ends_with(".rpm") {
        let rpm = [
            (".x86_64.", "x86_64"),
            (".aarch64.", "aarch64"),
            (".i686.", "i686"),
            (".armhfp.", "armv7"),
        ];
        ("linux", arch(&rpm)?, "rpm")
    } else if lower.ends_with(".msi") || lower.ends_with("-setup.exe") {
        let windows = [("_x64", "x86_64"), ("_arm64", "aarch64"), ("_x86", "i686")];
        let kind = if lower.ends_with(".msi") {
            "msi"
        } else {
            "nsis"
        };
        ("windows", arch(&windows)?, kind)
    } else {
        return None;
    };
    Some(format!("{os}-{arch}-{kind}"))
}

/// The semver versions a file name shows (`Stowaway_0.2.0_amd64.deb` shows
/// 0.2.0).
fn versions_in(name: &str) -> Vec<semver::Version> {
    name.split(['_', '-'])
        .filter_map(|part| {
            // `0.2.0`, or the front of a piece like `0.2.0.tar.gz`.
            let dots: Vec<&str> = part.splitn(4, '.').collect();
            let front = dots.get(..3)?.join(".");
            semver::Version::parse(&front).ok()
        })
        .collect()
}

/// Whether `target` is one the updater knows: `<os>-<arch>` or
/// `<os>-<arch>-<installer>`.
fn valid_target(target: &str) -> bool {
    let parts: Vec<&str> = target.split('-').collect();
    let os = ["linux", "windows", "darwin"];
    let arch = ["x86_64", "aarch64", "i686", "armv7", "riscv64"];
    let kind = ["deb", "rpm", "appimage", "msi", "nsis", "app"];
    match parts[..] {
        [o, a] => os.contains(&o) && arch.contains(&a),
        [o, a, k] => os.contains(&o) && arch.contains(&a) && kind.contains(&k),
        _ => false,
    }
}

/// Writes `bytes` to `path` atomically (see `build::write_atomic`): a
/// mirror never serves half of it.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::build::write_atomic(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Copies the installers into `updates/<version>/`, signs each, and writes
/// `updates/latest.json` last. Refuses a version that is not semver, or one
/// older than the manifest already there (a release never goes back), two
/// installers for one target, and an installer whose target cannot be told.
pub fn release(opts: &ReleaseOptions) -> Result<ReleaseOutcome> {
    let version = stowaway_catalog::parse_version(&opts.version)
        .with_context(|| format!("{:?} is not a version (semver, e.g. 0.2.0)", opts.version))?;
    ensure!(!opts.bundles.is_empty(), "no installer to release");
    let manifest_path = opts.out.join(MANIFEST);
    if let Ok(text) = fs::read_to_string(&manifest_path) {
        let existing: UpdateManifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an update manifest", manifest_path.display()))?;
        let existing = existing
            .semver()
            .with_context(|| format!("{} names no version", manifest_path.display()))?;
        if existing > version {
            bail!(
                "{} already offers {existing}, newer than {version}: a release never goes back",
                manifest_path.display()
            );
        }
    }
    // Every installer's name and target first: nothing is written for a
    // release that would be refused.
    let mut named: Vec<(String, String, &PathBuf)> = Vec::new();
    for (given, path) in &opts.bundles {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| plain_name(n))
            .with_context(|| {
                format!(
                    "{}: an installer's file name is letters, digits and . _ - + only",
                    path.display()
                )
            })?
            .to_owned();
        let target = match given {
            Some(t) => t.clone(),
            None => target_of(&name).with_context(|| {
                format!(
                    "{name}: its target cannot be told from its name; give it as TARGET=PATH (e.g. darwin-aarch64={name})"
                )
            })?,
        };
        ensure!(
            valid_target(&target),
            "{target:?} is not an updater target (e.g. linux-x86_64-deb, windows-x86_64-nsis, darwin-aarch64)"
        );
        ensure!(
            named.iter().all(|(t, _, _)| *t != target),
            "two installers for {target}"
        );
        ensure!(
            named.iter().all(|(_, n, _)| *n != name),
            "two installers named {name}: each is kept under its name, so name each for its target"
        );
        // The bundler names an installer by its version: one that names
        // another is the wrong file (a member would be offered it again and
        // again). A name with no version (a macOS bundle) cannot say.
        if let Some(other) = versions_in(&name).into_iter().find(|v| *v != version) {
            bail!("{name} is version {other}, not {version}");
        }
        named.push((target, name, path));
    }
    let sk = crate::keys::load_secret_key(&opts.secret_key)?;
    let dir = opts.out.join("updates").join(version.to_string());
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let timestamp = opts.now.unix_timestamp();
    let mut platforms = BTreeMap::new();
    for (target, name, path) in named {
        let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        ensure!(!bytes.is_empty(), "{} is empty", path.display());
        // A version, once released, is those bytes: two signed builds of
        // one version would let a mirror choose which one a member gets.
        if let Ok(before) = fs::read(dir.join(&name)) {
            ensure!(
                before == bytes,
                "{version} was released with another {name}: release a new version instead"
            );
        }
        let trusted = format!("timestamp:{timestamp}\tfile:{name}\tversion:{version}");
        let sig = minisign::sign(
            None,
            &sk,
            std::io::Cursor::new(&bytes),
            Some(&trusted),
            Some("signature from stowaway-publish release"),
        )?;
        write_atomically(&dir.join(&name), &bytes)?;
        platforms.insert(
            target,
            UpdatePlatform {
                signature: base64::engine::general_purpose::STANDARD
                    .encode(sig.into_string().as_bytes()),
                url: format!("{version}/{name}"),
            },
        );
    }
    let manifest = UpdateManifest {
        version: version.to_string(),
        notes: opts.notes.clone(),
        pub_date: opts
            .now
            .replace_nanosecond(0)
            .unwrap_or(opts.now)
            .format(&time::format_description::well_known::Rfc3339)?,
        platforms,
    };
    let outcome = ReleaseOutcome {
        manifest: manifest_path.clone(),
        platforms: manifest
            .platforms
            .iter()
            .map(|(t, p)| (t.clone(), p.url.clone()))
            .collect(),
    };
    let mut json = serde_json::to_vec_pretty(&manifest)?;
    json.push(b'\n');
    write_atomically(&manifest_path, &json)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_told_from_the_bundlers_file_names() {
        for (name, target) in [
            ("Stowaway_0.2.0_amd64.deb", Some("linux-x86_64-deb")),
            ("Stowaway_0.2.0_arm64.deb", Some("linux-aarch64-deb")),
            ("Stowaway-0.2.0-1.x86_64.rpm", Some("linux-x86_64-rpm")),
            ("Stowaway-0.2.0-1.aarch64.rpm", Some("linux-aarch64-rpm")),
            ("Stowaway_0.2.0_x64_en-US.msi", Some("windows-x86_64-msi")),
            ("Stowaway_0.2.0_x64-setup.exe", Some("windows-x86_64-nsis")),
            (
                "Stowaway_0.2.0_arm64-setup.exe",
                Some("windows-aarch64-nsis"),
            ),
            (
                "Stowaway_0.2.0_amd64.AppImage",
                Some("linux-x86_64-appimage"),
            ),
            ("Stowaway.app.tar.gz", None),
            ("Stowaway_0.2.0_aarch64.dmg", None),
            ("Stowaway_0.2.0.deb", None),
        ] {
            assert_eq!(target_of(name).as_deref(), target, "{name}");
        }
        let v = |s: &str| semver::Version::parse(s).unwrap();
        assert_eq!(versions_in("Stowaway_0.2.0_amd64.deb"), [v("0.2.0")]);
        assert_eq!(versions_in("Stowaway-0.2.0-1.x86_64.rpm"), [v("0.2.0")]);
        assert_eq!(versions_in("Stowaway_0.2.0_x64-setup.exe"), [v("0.2.0")]);
        assert!(versions_in("Stowaway.app.tar.gz").is_empty());
        assert!(valid_target("darwin-aarch64"));
        assert!(valid_target("linux-x86_64-deb"));
        assert!(!valid_target("linux-x86_64-deb-extra"));
        assert!(!valid_target("beos-x86_64"));
        assert!(!plain_name(".."));
        assert!(!plain_name("a/b.deb"));
        assert!(!plain_name("a b.deb"));
        assert!(plain_name("Stowaway_0.2.0_x64-setup.exe"));
    }
}
