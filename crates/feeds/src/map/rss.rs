//! RSS 2.0 (and 0.9x / 1.0) channels and items.

use url::Url;

use super::{
    attr_text, child_markup, child_text, explicit, finish_episode, first_date, first_markup,
    is_atom_ext, is_content, is_dc, is_itunes, is_podcast, itunes_image, length, media_thumbnail,
    media_type, Context, EpisodeCore, Preference,
};
use crate::text::plain_text;
use crate::xml::{Element, Ns};
use crate::{Enclosure, Episode, Feed, FeedError, FeedKind};

const FEED_DESCRIPTION: Preference = &[
    (Ns::is_rss, "description"),
    (is_itunes, "summary"),
    (is_itunes, "subtitle"),
];
const FEED_AUTHOR: Preference = &[
    (is_itunes, "author"),
    (Ns::is_rss, "managingEditor"),
    (is_dc, "creator"),
];
const SUMMARY: Preference = &[
    (is_itunes, "summary"),
    (Ns::is_rss, "description"),
    (is_content, "encoded"),
    (is_itunes, "subtitle"),
];
const NOTES: Preference = &[
    (is_content, "encoded"),
    (Ns::is_rss, "description"),
    (is_itunes, "summary"),
];
const PUBLISHED: Preference = &[
    (Ns::is_rss, "pubDate"),
    (is_dc, "date"),
    (is_atom_ext, "published"),
    (is_atom_ext, "updated"),
];

pub(super) fn map(ctx: &Context<'_>) -> Result<Feed, FeedError> {
    let root = &ctx.doc.root;
    let channel = root.child(Ns::is_rss, "channel");
    // RSS 2.0 puts items in the channel, RSS 1.0 beside it.
    let items: Vec<&Element> = channel
        .into_iter()
        .flat_map(|c| c.children_named(Ns::is_rss, "item"))
        .chain(root.children_named(Ns::is_rss, "item"))
        .collect();
    ctx.check_episode_count(items.len())?;
    let episodes = items.into_iter().map(|item| episode(ctx, item)).collect();

    let Some(channel) = channel else {
        return Ok(Feed {
            new_feed_url: redirect(ctx, root),
            ..empty_feed(episodes)
        });
    };
    Ok(Feed {
        kind: FeedKind::Rss,
        title: child_markup(channel, Ns::is_rss, "title").and_then(|t| ctx.title(&t)),
        description: first_markup(channel, FEED_DESCRIPTION)
            .map(|d| plain_text(&d))
            .filter(|d| !d.is_empty()),
        link: rss_link(ctx, channel),
        author: first_markup(channel, FEED_AUTHOR).and_then(|a| ctx.title(&a)),
        language: child_text(channel, Ns::is_rss, "language")
            .or_else(|| child_text(channel, is_dc, "language")),
        artwork_url: itunes_image(ctx, channel)
            .or_else(|| {
                let image = channel.child(Ns::is_rss, "image")?;
                let url = image.child(Ns::is_rss, "url")?;
                ctx.url(url, &url.text())
            })
            .or_else(|| media_thumbnail(ctx, channel)),
        explicit: explicit(channel),
        new_feed_url: child_text(channel, is_itunes, "new-feed-url")
            .and_then(|u| ctx.url(channel, &u))
            .or_else(|| redirect(ctx, channel))
            .or_else(|| redirect(ctx, root)),
        podcast_guid: child_text(channel, is_podcast, "guid"),
        episodes,
    })
}

fn empty_feed(episodes: Vec<Episode>) -> Feed {
    Feed {
        kind: FeedKind::Rss,
        title: None,
        description: None,
        link: None,
        author: None,
        language: None,
        artwork_url: None,
        explicit: None,
        new_feed_url: None,
        podcast_guid: None,
        episodes,
    }
}

/// The old `<redirect><newLocation>` convention.
fn redirect(ctx: &Context<'_>, parent: &Element) -> Option<Url> {
    let redirect = parent.child(Ns::is_rss, "redirect")?;
    let location = child_text(redirect, Ns::is_rss, "newLocation")?;
    ctx.url(redirect, &location)
}

/// The plain `<link>`, else an `atom:link rel="alternate"`.
fn rss_link(ctx: &Context<'_>, parent: &Element) -> Option<Url> {
    parent
        .children_named(Ns::is_rss, "link")
        .find_map(|link| ctx.url(link, &link.text()))
        .or_else(|| {
            parent
                .children_named(is_atom_ext, "link")
                .filter(|l| l.attr("rel").is_none_or(|r| r.trim() == "alternate"))
                .find_map(|l| ctx.url(l, attr_text(l, "href")?))
        })
}

fn episode(ctx: &Context<'_>, item: &Element) -> Episode {
    let guid_element = item.child(Ns::is_rss, "guid");
    let guid = guid_element
        .map(|g| g.text().trim().to_owned())
        .filter(|g| !g.is_empty());
    let link = rss_link(ctx, item).or_else(|| permalink(ctx, guid_element?, guid.as_deref()?));

    let summary = first_markup(item, SUMMARY).and_then(|s| ctx.summary(&s));
    let notes_html = NOTES.iter().find_map(|(ns, name)| {
        let element = item.child(*ns, name)?;
        ctx.notes(element, &element.markup())
    });

    let enclosures = item
        .children_named(Ns::is_rss, "enclosure")
        .filter_map(|e| {
            Some(Enclosure {
                url: ctx.url(e, attr_text(e, "url")?)?,
                media_type: e.attr("type").and_then(media_type),
                length: e.attr("length").and_then(length),
            })
        })
        .collect();

    let core = EpisodeCore {
        guid,
        title: child_markup(item, Ns::is_rss, "title").and_then(|t| ctx.title(&t)),
        link,
        published_at: first_date(item, PUBLISHED),
        summary,
        notes_html,
        enclosures,
    };
    finish_episode(ctx, item, core)
}

/// A guid is the item's link when it says so (`isPermaLink="true"`, resolved
/// against the base) or, by default, when it is an absolute http(s) URL.
/// Guids that are merely unresolvable strings are not links, even though RSS
/// says `isPermaLink` defaults to true: most such feeds never meant it.
fn permalink(ctx: &Context<'_>, element: &Element, guid: &str) -> Option<Url> {
    match element
        .attr("isPermaLink")
        .map(|v| v.trim().to_ascii_lowercase())
    {
        Some(flag) if flag == "false" => None,
        Some(flag) if flag == "true" => ctx.url(element, guid),
        _ => Url::parse(guid)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https")),
    }
}
