//! The app release a mirror offers: `updates/latest.json` (see FORMAT.md,
//! "An app release"). Tauri's static update manifest, with each platform's
//! `url` relative to `updates/`. Nothing in it is trusted: each installer's
//! signature (checked by the app's updater with the app's own key) names
//! the version it is for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::CatalogError;

/// The manifest's path below a mirror's root.
pub const UPDATE_MANIFEST: &str = "updates/latest.json";

/// Most bytes of a manifest a client reads.
pub const MAX_UPDATE_MANIFEST: u64 = 256 * 1024;

/// Checks `bytes` against a manifest's `signature` (base64 of the minisign
/// signature text) with `pubkey` (base64 of the public key file's text, as
/// Tauri's updater takes it), and that the signed trusted comment names
/// `version` and, when given, the installer's file name `file`.
pub fn check_installer(
    bytes: &[u8],
    signature: &str,
    pubkey: &str,
    version: &str,
    file: Option<&str>,
) -> Result<(), String> {
    let text = |s: &str, what: &str| {
        crate::signed::decode_base64(s)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| format!("the {what} is not base64 text"))
    };
    let pk = minisign_verify::PublicKey::decode(&text(pubkey, "update key")?)
        .map_err(|e| format!("the app's update key: {e}"))?;
    let sig = minisign_verify::Signature::decode(&text(signature, "signature")?)
        .map_err(|e| format!("the signature: {e}"))?;
    pk.verify(bytes, &sig, true)
        .map_err(|e| format!("the signature does not check: {e}"))?;
    let field = |name: &str| {
        sig.trusted_comment()
            .split('\t')
            .find_map(|f| f.strip_prefix(name))
            .map(str::to_owned)
    };
    let same = |a: &str, b: &str| match (parse_version(a), parse_version(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    };
    match field("version:") {
        Some(v) if same(&v, version) => {}
        Some(v) => {
            return Err(format!(
                "the installer is signed for {v}, the manifest offers {version}"
            ))
        }
        None => return Err("the signature names no version".into()),
    }
    match (file, field("file:")) {
        (Some(want), Some(got)) if want != got => Err(format!(
            "the signature is for {got}, the manifest names {want}"
        )),
        _ => Ok(()),
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UpdateManifest {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub pub_date: String,
    pub platforms: BTreeMap<String, UpdatePlatform>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UpdatePlatform {
    /// Base64 of the minisign signature file's text.
    pub signature: String,
    /// Relative to `updates/`: `<version>/<file>`.
    pub url: String,
}

/// A file name an installer may have (what the bundler writes; nothing that
/// climbs out of its folder).
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

/// An app version as semver, a leading `v` allowed (as Tauri's updater reads
/// versions).
pub fn parse_version(v: &str) -> Option<semver::Version> {
    semver::Version::parse(v.trim_start_matches('v')).ok()
}

impl UpdateManifest {
    /// Reads a manifest a mirror served: valid JSON of this shape, a semver
    /// version, an RFC 3339 date (Tauri's updater refuses the manifest
    /// otherwise), each platform's `url` exactly `<that version>/<plain file
    /// name>` (never another host or folder), a signature, notes of at most
    /// 64 KiB.
    pub fn parse(bytes: &[u8]) -> Result<UpdateManifest, CatalogError> {
        let bad = |m: String| CatalogError::Invalid(format!("update manifest: {m}"));
        let m: UpdateManifest =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let version = m
            .semver()
            .ok_or_else(|| bad(format!("{:?} is not a version", m.version)))?;
        if time::OffsetDateTime::parse(&m.pub_date, &time::format_description::well_known::Rfc3339)
            .is_err()
        {
            return Err(bad(format!("{:?} is not an RFC 3339 date", m.pub_date)));
        }
        if m.platforms.is_empty() || m.platforms.len() > 64 {
            return Err(bad("no platforms, or too many".into()));
        }
        if m.notes.as_ref().is_some_and(|n| n.len() > 64 * 1024) {
            return Err(bad("notes longer than 64 KiB".into()));
        }
        for (target, p) in &m.platforms {
            let file = p.url.strip_prefix(&format!("{version}/"));
            if !file.is_some_and(is_plain_file_name) {
                return Err(bad(format!(
                    "{target}: {:?} is not {version}/<file name>",
                    p.url
                )));
            }
            if p.signature.is_empty() || p.signature.len() > 4096 {
                return Err(bad(format!("{target}: no signature")));
            }
        }
        Ok(m)
    }

    /// The version, as semver (a leading `v` allowed).
    pub fn semver(&self) -> Option<semver::Version> {
        parse_version(&self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(url: &str) -> String {
        format!(
            r#"{{"version":"0.2.0","pub_date":"2026-12-05T10:00:00Z","platforms":{{"linux-x86_64-deb":{{"signature":"c2ln","url":"{url}"}}}}}}"#
        )
    }

    #[test]
    fn a_manifest_points_only_at_its_own_versions_folder() {
        assert!(
            UpdateManifest::parse(manifest("0.2.0/Stowaway_0.2.0_amd64.deb").as_bytes()).is_ok()
        );
        for url in [
            "https://elsewhere.example/x.deb",
            "0.2.0/../../library.json",
            "0.1.0/Stowaway_0.1.0_amd64.deb",
            "0.2.0/a/b.deb",
            "/0.2.0/x.deb",
            "0.2.0/",
        ] {
            assert!(
                UpdateManifest::parse(manifest(url).as_bytes()).is_err(),
                "{url}"
            );
        }
        assert!(UpdateManifest::parse(b"<html>").is_err());
        let undated = manifest("0.2.0/x.deb").replace("2026-12-05T10:00:00Z", "yesterday");
        assert!(UpdateManifest::parse(undated.as_bytes()).is_err());
        assert!(UpdateManifest::parse(
            br#"{"version":"latest","pub_date":"","platforms":{"linux-x86_64":{"signature":"c2ln","url":"latest/x"}}}"#
        )
        .is_err());
    }
}
