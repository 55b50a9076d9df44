//! Episode identity: which string keys an episode, and how duplicates are told
//! apart.
//!
//! The rule (also in the crate documentation):
//!
//! 1. The feed's `<guid>` (RSS) or `<id>` (Atom), trimmed, verbatim otherwise
//!    (a relative permalink guid is *not* resolved: identity must not change
//!    when the feed moves).
//! 2. Else the enclosure URL (absolute, as resolved).
//! 3. Else the link.
//! 4. Else `sha256:` + 32 hex digits of SHA-256 over the title and the
//!    publication date (RFC 3339), so an unchanged item keeps its id.
//!
//! When several episodes of one feed end up with the same id, the one
//! published earliest keeps it (undated episodes count as later than dated
//! ones; among equals, the last in document order, which in the usual
//! newest-first feed is the one that was there first). Each other one gets
//! `<id>#<12 hex digits>` from SHA-256 of its enclosure URL (else link, else
//! title and date): stable as long as that episode's media does not change,
//! whatever its position. Only if that too collides (the same item listed
//! twice) is `-2`, `-3`, … appended in document order.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use url::Url;

use crate::{Episode, GuidOrigin};

/// Chooses an episode's id before duplicates are considered.
pub(crate) fn initial_guid(
    guid: Option<&str>,
    enclosure_url: Option<&Url>,
    link: Option<&Url>,
    title: Option<&str>,
    published_at: Option<OffsetDateTime>,
) -> (String, GuidOrigin) {
    if let Some(guid) = guid.map(str::trim).filter(|g| !g.is_empty()) {
        return (guid.to_owned(), GuidOrigin::Feed);
    }
    if let Some(url) = enclosure_url {
        return (url.to_string(), GuidOrigin::EnclosureUrl);
    }
    if let Some(url) = link {
        return (url.to_string(), GuidOrigin::Link);
    }
    let hash = content_hash(title, published_at);
    (format!("sha256:{}", &hash[..32]), GuidOrigin::ContentHash)
}

fn content_hash(title: Option<&str>, published_at: Option<OffsetDateTime>) -> String {
    let date = published_at
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_default();
    sha256_hex(&format!("{}\n{}", title.unwrap_or(""), date))
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Makes every id unique, following the rule in the module documentation.
pub(crate) fn disambiguate(episodes: &mut [Episode]) {
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut order = Vec::new();
    for (index, episode) in episodes.iter().enumerate() {
        let group = groups.entry(episode.guid.as_str()).or_default();
        if group.is_empty() {
            order.push(episode.guid.as_str());
        }
        group.push(index);
    }
    let mut renames: Vec<(usize, String)> = Vec::new();
    let mut taken: HashSet<String> = groups.keys().map(|g| g.to_string()).collect();
    for guid in order {
        let indices = &groups[guid];
        if indices.len() < 2 {
            continue;
        }
        tracing::debug!(guid, count = indices.len(), "duplicate episode guid");
        // Earliest date wins; undated sorts last; ties go to the later index.
        let keeper = *indices
            .iter()
            .min_by_key(|i| {
                let date = episodes[**i].published_at;
                (date.is_none(), date, std::cmp::Reverse(**i))
            })
            .expect("a group has members");
        for &index in indices.iter().filter(|i| **i != keeper) {
            let base = format!("{guid}#{}", &fingerprint(&episodes[index])[..12]);
            let mut candidate = base.clone();
            let mut n = 2;
            while taken.contains(&candidate) {
                candidate = format!("{base}-{n}");
                n += 1;
            }
            taken.insert(candidate.clone());
            renames.push((index, candidate));
        }
    }
    for (index, guid) in renames {
        episodes[index].guid = guid;
    }
}

fn fingerprint(episode: &Episode) -> String {
    if let Some(enclosure) = &episode.enclosure {
        return sha256_hex(enclosure.url.as_str());
    }
    if let Some(link) = &episode.link {
        return sha256_hex(link.as_str());
    }
    content_hash(episode.title.as_deref(), episode.published_at)
}
