//! Behaviour of `stowaway_feeds::parse`: agreement with gpodder's
//! podcastparser over its corpus (`corpus`; `-- --nocapture` prints the
//! per-field table), on our own feeds the public model field by field
//! (`model`), messy real-world shapes (`edge`, fixtures in
//! `tests/fixtures/edge/`) and hostile input (`hostile`, fixtures in
//! `tests/fixtures/hostile/` plus generated documents).

mod corpus;
mod edge;
mod hostile;
mod model;

use std::path::Path;

use stowaway_feeds::{Episode, Feed, FeedError};
use url::Url;

/// The feed URL used unless a test needs another.
pub const FEED_URL: &str = "https://example.com/podcast/feed.xml";

pub fn feed_url() -> Url {
    Url::parse(FEED_URL).unwrap()
}

pub fn fixture(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn parse_fixture(relative: &str) -> Result<Feed, FeedError> {
    stowaway_feeds::parse(&fixture(relative), &feed_url())
}

pub fn parse_str(xml: &str) -> Feed {
    stowaway_feeds::parse(xml.as_bytes(), &feed_url()).unwrap_or_else(|e| panic!("{e}"))
}

/// A one-channel RSS document around `items`, with the usual namespaces.
pub fn rss(items: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:podcast="https://podcastindex.org/namespace/1.0"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Test</title>{items}</channel></rss>"#
    )
}

pub fn episode<'f>(feed: &'f Feed, title: &str) -> &'f Episode {
    feed.episodes
        .iter()
        .find(|e| e.title.as_deref() == Some(title))
        .unwrap_or_else(|| panic!("no episode titled {title:?}"))
}

pub fn url_str(url: &Option<Url>) -> Option<&str> {
    url.as_ref().map(Url::as_str)
}
