//! Podcasting 2.0 episode elements: `podcast:alternateEnclosure` (with
//! `podcast:source` and `podcast:integrity`), `podcast:chapters` and
//! `podcast:transcript`.

use super::{attr_text, is_podcast, length, media_type, Context};
use crate::integrity::parse_sri;
use crate::xml::Element;
use crate::{AlternateEnclosure, Chapters, Transcript};

pub(super) fn alternate_enclosures(ctx: &Context<'_>, item: &Element) -> Vec<AlternateEnclosure> {
    item.children_named(is_podcast, "alternateEnclosure")
        .filter_map(|alt| {
            let sources: Vec<_> = alt
                .children_named(is_podcast, "source")
                .filter_map(|s| ctx.url(s, attr_text(s, "uri").or_else(|| attr_text(s, "url"))?))
                .collect();
            if sources.is_empty() {
                tracing::debug!("podcast:alternateEnclosure without a usable source; ignored");
                return None;
            }
            let integrity = alt
                .children_named(is_podcast, "integrity")
                .flat_map(
                    |i| match attr_text(i, "type").map(str::to_ascii_lowercase) {
                        Some(kind) if kind == "sri" => parse_sri(i.attr("value").unwrap_or("")),
                        other => {
                            tracing::warn!(
                                kind = other.as_deref().unwrap_or("(none)"),
                                "podcast:integrity of a type other than sri; ignored"
                            );
                            Vec::new()
                        }
                    },
                )
                .collect();
            Some(AlternateEnclosure {
                media_type: alt.attr("type").and_then(media_type),
                length: alt.attr("length").and_then(length),
                bitrate: alt.attr("bitrate").and_then(bitrate),
                title: attr_text(alt, "title").and_then(|t| ctx.title(t)),
                language: attr_text(alt, "lang").map(str::to_owned),
                default: alt
                    .attr("default")
                    .is_some_and(|d| d.trim().eq_ignore_ascii_case("true")),
                sources,
                integrity,
            })
        })
        .collect()
}

/// Bits per second; the spec allows decimals.
fn bitrate(raw: &str) -> Option<u64> {
    let value: f64 = raw.trim().parse().ok()?;
    (1.0..1e12).contains(&value).then(|| value.round() as u64)
}

pub(super) fn chapters(ctx: &Context<'_>, item: &Element) -> Option<Chapters> {
    item.children_named(is_podcast, "chapters").find_map(|c| {
        Some(Chapters {
            url: ctx.url(c, attr_text(c, "url")?)?,
            media_type: c.attr("type").and_then(media_type),
        })
    })
}

pub(super) fn transcripts(ctx: &Context<'_>, item: &Element) -> Vec<Transcript> {
    item.children_named(is_podcast, "transcript")
        .filter_map(|t| {
            Some(Transcript {
                url: ctx.url(t, attr_text(t, "url")?)?,
                media_type: t.attr("type").and_then(media_type),
                language: attr_text(t, "language").map(str::to_owned),
                rel: attr_text(t, "rel").map(str::to_owned),
            })
        })
        .collect()
}
