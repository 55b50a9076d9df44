//! Standard podcast feeds next to the catalog, so that ordinary podcast apps
//! get the same redundancy: `feeds/<collection>.xml` per collection, RSS 2.0
//! with the iTunes tags podcast directories expect and the Podcasting 2.0
//! tags that carry the mirrors and hashes:
//!
//! - `<enclosure>` points at the first mirror;
//! - `<podcast:alternateEnclosure>` lists the same file on *every* mirror
//!   (`<podcast:source>`) with `<podcast:integrity type="sri">` (its SHA-256),
//!   so an app that understands it can fail over and verify;
//! - transcripts and chapters become `<podcast:transcript>` /
//!   `<podcast:chapters>`; a course is a `serial` show with numbered episodes.
//!
//! Feeds need absolute URLs, so they are written only when the catalog names
//! mirrors (`build --mirror URL`). Written with quick-xml's writer (escaping
//! is its job), each file replaced atomically.

use std::io;
use std::path::Path;

use anyhow::Result;
use base64::Engine as _;
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use stowaway_catalog::{blob_path, Asset, AssetRole, Catalog, Collection, CollectionKind, Item};
use time::format_description::well_known::Rfc2822;

/// Folder of the feeds in the mirror tree.
pub const FEEDS_DIR: &str = "feeds";

const ITUNES: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";
const PODCAST: &str = "https://podcastindex.org/namespace/1.0";
const CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";
const ATOM: &str = "http://www.w3.org/2005/Atom";

/// Writes one feed per collection below `out/feeds/`; returns their paths
/// relative to `out`. Nothing is written when the catalog names no mirror.
pub fn write_feeds(catalog: &Catalog, out: &Path) -> Result<Vec<String>> {
    if catalog.mirrors.is_empty() {
        return Ok(Vec::new());
    }
    let dir = out.join(FEEDS_DIR);
    std::fs::create_dir_all(&dir)?;
    let mut written = Vec::new();
    for c in &catalog.collections {
        let rel = format!("{FEEDS_DIR}/{}.xml", c.id);
        let xml = collection_feed(catalog, c)?;
        crate::build::write_atomic(&out.join(&rel), &xml)?;
        written.push(rel);
    }
    Ok(written)
}

/// `base` + `path`, with exactly one slash between.
fn url(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path)
}

fn sri(a: &Asset) -> String {
    let bytes = hex::decode(a.sha256.as_str()).expect("validated hex");
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn text<W: io::Write>(w: &mut Writer<W>, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

/// The RSS document of one collection.
pub fn collection_feed(catalog: &Catalog, c: &Collection) -> Result<Vec<u8>> {
    let first = &catalog.mirrors[0];
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("rss")
        .with_attributes([
            ("version", "2.0"),
            ("xmlns:itunes", ITUNES),
            ("xmlns:podcast", PODCAST),
            ("xmlns:content", CONTENT),
            ("xmlns:atom", ATOM),
        ])
        .write_inner_content(|w| {
            w.create_element("channel").write_inner_content(|w| {
                text(w, "title", &c.title)?;
                text(w, "link", first)?;
                let description = c
                    .summary
                    .as_deref()
                    .or(catalog.library.description.as_deref())
                    .unwrap_or(&c.title);
                text(w, "description", description)?;
                text(w, "generator", "stowaway-publish")?;
                w.create_element("atom:link")
                    .with_attributes([
                        (
                            "href",
                            url(first, &format!("{FEEDS_DIR}/{}.xml", c.id)).as_str(),
                        ),
                        ("rel", "self"),
                        ("type", "application/rss+xml"),
                    ])
                    .write_empty()?;
                text(w, "itunes:author", &catalog.library.title)?;
                text(w, "itunes:summary", description)?;
                text(w, "itunes:explicit", "false")?;
                text(
                    w,
                    "itunes:type",
                    match c.kind {
                        CollectionKind::Course => "serial",
                        CollectionKind::Show => "episodic",
                    },
                )?;
                if let Some(art) = c.artwork.as_ref().or(catalog.library.artwork.as_ref()) {
                    let href = url(first, &blob_path(&art.sha256));
                    w.create_element("itunes:image")
                        .with_attribute(("href", href.as_str()))
                        .write_empty()?;
                }
                text(
                    w,
                    "podcast:guid",
                    &format!("{}/{}", catalog.library.id, c.id),
                )?;
                for (n, item) in c.items.iter().enumerate() {
                    write_item(w, catalog, c, item, n)?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    let mut xml = w.into_inner();
    xml.push(b'\n');
    Ok(xml)
}

fn write_item<W: io::Write>(
    w: &mut Writer<W>,
    catalog: &Catalog,
    c: &Collection,
    item: &Item,
    position: usize,
) -> io::Result<()> {
    let Some(media) = item.media() else {
        return Ok(()); // nothing a podcast app could play
    };
    let first = &catalog.mirrors[0];
    w.create_element("item").write_inner_content(|w| {
        text(w, "title", &item.title)?;
        if let Some(s) = item.summary.as_deref().or(item.notes.as_deref()) {
            text(w, "description", s)?;
            text(w, "itunes:summary", s)?;
        }
        if let Some(notes) = &item.notes {
            // Plain-text notes as paragraphs, their web addresses as links
            // (podcast apps show `content:encoded` as HTML); quick-xml
            // escapes the markup.
            let html: String = notes
                .split("\n\n")
                .map(|p| format!("<p>{}</p>", linkify(p.trim())))
                .collect();
            text(w, "content:encoded", &html)?;
        }
        w.create_element("guid")
            .with_attribute(("isPermaLink", "false"))
            .write_text_content(BytesText::new(&format!(
                "{}/{}/{}",
                catalog.library.id, c.id, item.id
            )))?;
        if let Some(t) = item.published_at {
            if let Ok(d) = t.format(&Rfc2822) {
                text(w, "pubDate", &d)?;
            }
        }
        let size = media.size.to_string();
        w.create_element("enclosure")
            .with_attributes([
                ("url", url(first, &blob_path(&media.sha256)).as_str()),
                ("length", size.as_str()),
                ("type", media.media_type.as_str()),
            ])
            .write_empty()?;
        if let Some(ms) = item.duration_ms {
            text(w, "itunes:duration", &(ms / 1000).to_string())?;
        }
        let number = item
            .number
            .or_else(|| (c.kind == CollectionKind::Course).then(|| position as u32 + 1));
        if let Some(n) = number {
            text(w, "itunes:episode", &n.to_string())?;
        }
        if let Some(s) = item.season {
            text(w, "itunes:season", &s.to_string())?;
        }
        text(w, "itunes:episodeType", "full")?;
        w.create_element("podcast:alternateEnclosure")
            .with_attributes([
                ("type", media.media_type.as_str()),
                ("length", size.as_str()),
                ("default", "true"),
            ])
            .write_inner_content(|w| {
                for m in &catalog.mirrors {
                    w.create_element("podcast:source")
                        .with_attribute(("uri", url(m, &blob_path(&media.sha256)).as_str()))
                        .write_empty()?;
                }
                w.create_element("podcast:integrity")
                    .with_attributes([("type", "sri"), ("value", sri(media).as_str())])
                    .write_empty()?;
                Ok(())
            })?;
        for a in &item.assets {
            let href = url(first, &blob_path(&a.sha256));
            match a.role {
                AssetRole::Transcript => {
                    w.create_element("podcast:transcript")
                        .with_attributes([("url", href.as_str()), ("type", a.media_type.as_str())])
                        .write_empty()?;
                }
                AssetRole::Chapters => {
                    w.create_element("podcast:chapters")
                        .with_attributes([
                            ("url", href.as_str()),
                            ("type", "application/json+chapters"),
                        ])
                        .write_empty()?;
                }
                AssetRole::Artwork => {
                    w.create_element("itunes:image")
                        .with_attribute(("href", href.as_str()))
                        .write_empty()?;
                }
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// Text as HTML with each `http(s)://` address a link to itself (a
/// sentence's closing punctuation is not part of it).
fn linkify(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = ["https://", "http://"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
    {
        out.push_str(&html_escape(&rest[..at]));
        let tail = &rest[at..];
        let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
        let url = if url.len() > "https://".len() {
            url
        } else {
            &tail[..end]
        };
        let e = html_escape(url).replace('"', "&quot;");
        out.push_str(&format!("<a href=\"{e}\">{e}</a>"));
        rest = &tail[url.len()..];
    }
    out.push_str(&html_escape(rest));
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', "<br>")
}

#[cfg(test)]
mod tests {
    use super::linkify;

    #[test]
    fn addresses_in_notes_become_links_and_markup_stays_text() {
        assert_eq!(
            linkify("See https://a.example/x?y=1&z=2. Then <b>go</b>"),
            "See <a href=\"https://a.example/x?y=1&amp;z=2\">https://a.example/x?y=1&amp;z=2</a>. Then &lt;b&gt;go&lt;/b&gt;"
        );
        assert_eq!(linkify("no links"), "no links");
        assert_eq!(
            linkify("http://a\"b.example"),
            "<a href=\"http://a&quot;b.example\">http://a&quot;b.example</a>"
        );
    }
}
