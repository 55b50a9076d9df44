//! Atom 1.0 feeds and entries.

use url::Url;

use super::{
    attr_text, child_markup, child_text, explicit, finish_episode, first_date, is_content, is_dc,
    is_itunes, is_podcast, itunes_image, length, media_type, Context, EpisodeCore, Preference,
};
use crate::text::plain_text;
use crate::xml::{Element, Ns};
use crate::{Enclosure, Episode, Feed, FeedError, FeedKind};

const NOTES: Preference = &[
    (is_content, "encoded"),
    (Ns::is_atom, "content"),
    (Ns::is_atom, "summary"),
];
const PUBLISHED: Preference = &[
    (Ns::is_atom, "published"),
    (Ns::is_atom, "updated"),
    (is_dc, "date"),
];

pub(super) fn map(ctx: &Context<'_>) -> Result<Feed, FeedError> {
    let root = &ctx.doc.root;
    let entries: Vec<&Element> = root.children_named(Ns::is_atom, "entry").collect();
    ctx.check_episode_count(entries.len())?;
    let episodes = entries
        .into_iter()
        .map(|entry| episode(ctx, entry))
        .collect();
    Ok(Feed {
        kind: FeedKind::Atom,
        title: text_construct(root, "title").and_then(|t| ctx.title(&t)),
        description: text_construct(root, "subtitle")
            .or_else(|| child_markup(root, is_itunes, "summary"))
            .map(|d| plain_text(&d))
            .filter(|d| !d.is_empty()),
        link: alternate_link(ctx, root),
        author: root
            .children_named(Ns::is_atom, "author")
            .find_map(|a| child_markup(a, Ns::is_atom, "name"))
            .or_else(|| child_markup(root, is_itunes, "author"))
            .and_then(|a| ctx.title(&a)),
        language: root
            .xml_attr("lang")
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned),
        artwork_url: ["logo", "icon"]
            .iter()
            .find_map(|name| {
                let element = root.child(Ns::is_atom, name)?;
                ctx.url(element, &element.text())
            })
            .or_else(|| itunes_image(ctx, root)),
        explicit: explicit(root),
        new_feed_url: child_text(root, is_itunes, "new-feed-url").and_then(|u| ctx.url(root, &u)),
        podcast_guid: child_text(root, is_podcast, "guid"),
        episodes,
    })
}

/// An Atom text construct as HTML: `type="html"` content is HTML already,
/// `xhtml` is inline markup, and `text` (the default) is escaped so that the
/// HTML-aware cleaning leaves it exactly as written.
fn text_construct(parent: &Element, name: &str) -> Option<String> {
    parent
        .children_named(Ns::is_atom, name)
        .find_map(|element| {
            let kind = element.attr("type").map(|t| t.trim().to_ascii_lowercase());
            let html = match kind.as_deref() {
                Some("html") | Some("text/html") => element.text(),
                Some("xhtml") | Some("application/xhtml+xml") => element.markup(),
                _ => quick_xml::escape::escape(element.text().as_str()).into_owned(),
            };
            (!plain_text(&html).is_empty()).then_some(html)
        })
}

/// The `link` with `rel="alternate"` (or no `rel`).
fn alternate_link(ctx: &Context<'_>, parent: &Element) -> Option<Url> {
    parent
        .children_named(Ns::is_atom, "link")
        .filter(|l| l.attr("rel").is_none_or(|r| r.trim() == "alternate"))
        .find_map(|l| ctx.url(l, attr_text(l, "href")?))
}

fn episode(ctx: &Context<'_>, entry: &Element) -> Episode {
    let enclosures = entry
        .children_named(Ns::is_atom, "link")
        .filter(|l| l.attr("rel").map(str::trim) == Some("enclosure"))
        .filter_map(|l| {
            Some(Enclosure {
                url: ctx.url(l, attr_text(l, "href")?)?,
                media_type: l.attr("type").and_then(media_type),
                length: l.attr("length").and_then(length),
            })
        })
        .collect();
    let summary_source = text_construct(entry, "summary")
        .or_else(|| child_markup(entry, is_itunes, "summary"))
        .or_else(|| text_construct(entry, "content"))
        .or_else(|| child_markup(entry, is_content, "encoded"));
    let notes_html = NOTES.iter().find_map(|(ns, name)| {
        let element = entry.child(*ns, name)?;
        let html = if element.ns == Ns::Content {
            element.markup()
        } else {
            text_construct(entry, name)?
        };
        ctx.notes(element, &html)
    });

    let core = EpisodeCore {
        guid: child_text(entry, Ns::is_atom, "id"),
        title: text_construct(entry, "title").and_then(|t| ctx.title(&t)),
        link: alternate_link(ctx, entry),
        published_at: first_date(entry, PUBLISHED),
        summary: summary_source.and_then(|s| ctx.summary(&s)),
        notes_html,
        enclosures,
    };
    finish_episode(ctx, entry, core)
}
