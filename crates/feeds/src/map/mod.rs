//! From the element tree to the model: the parts shared by RSS and Atom (URL
//! policy, iTunes, Media RSS and Podcasting 2.0 elements, episode assembly).

mod atom;
mod podcast;
mod rss;

use time::OffsetDateTime;
use url::Url;

use crate::identity;
use crate::text::{self, Sanitizer};
use crate::xml::{Document, Element, Ns, NsTest};
use crate::{Enclosure, Episode, EpisodeType, Feed, FeedError, Limits};

/// Accepts RSS (`<rss>`, RSS 1.0 `<rdf:RDF>`) and Atom (`<feed>`) roots.
pub(crate) fn check_root(root: &Element) -> Result<(), FeedError> {
    match &*root.name {
        "rss" | "RDF" => Ok(()),
        "feed" if root.ns.is_atom() => Ok(()),
        name if name.eq_ignore_ascii_case("html") => {
            Err(FeedError::not_a_feed("this is an HTML page"))
        }
        name if name.eq_ignore_ascii_case("opml") => {
            Err(FeedError::not_a_feed("this is an OPML subscription list"))
        }
        name => {
            let name: String = name.chars().take(64).collect();
            Err(FeedError::not_a_feed(format!(
                "the document's root element is <{name}>, not <rss> or <feed>"
            )))
        }
    }
}

/// Maps a parsed document whose root passed [`check_root`].
pub(crate) fn map(doc: &Document, feed_url: &Url, limits: &Limits) -> Result<Feed, FeedError> {
    let ctx = Context {
        doc,
        feed_url,
        limits,
        // Most documents have one base for everything: the feed URL, or an
        // `xml:base` on the root.
        sanitizer: Sanitizer::new(doc.base(&doc.root)),
    };
    let mut feed = if &*doc.root.name == "feed" {
        atom::map(&ctx)?
    } else {
        rss::map(&ctx)?
    };
    identity::disambiguate(&mut feed.episodes);
    Ok(feed)
}

pub(crate) struct Context<'a> {
    doc: &'a Document,
    feed_url: &'a Url,
    limits: &'a Limits,
    sanitizer: Sanitizer,
}

impl Context<'_> {
    /// Resolves `raw` against `element`'s base and applies the URL policy:
    /// `http`/`https`, or the feed URL's own scheme (so a `file://` feed may
    /// point at its neighbours, but a web feed can never point at a local
    /// file). Whitespace around the URL is ignored.
    fn url(&self, element: &Element, raw: &str) -> Option<Url> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        let url = self.doc.base(element).join(raw).ok()?;
        let allowed =
            matches!(url.scheme(), "http" | "https") || url.scheme() == self.feed_url.scheme();
        if !allowed {
            tracing::debug!(url = %url, "URL with a disallowed scheme ignored");
        }
        allowed.then_some(url)
    }

    fn title(&self, raw: &str) -> Option<String> {
        text::title(raw, self.limits.max_title_chars)
    }

    fn summary(&self, raw: &str) -> Option<String> {
        text::summary(raw, self.limits.max_summary_chars)
    }

    fn notes(&self, element: &Element, source: &str) -> Option<String> {
        self.sanitizer.notes(source, self.doc.base(element))
    }

    fn check_episode_count(&self, count: usize) -> Result<(), FeedError> {
        if count > self.limits.max_episodes {
            return Err(FeedError::TooManyEpisodes {
                count,
                limit: self.limits.max_episodes,
            });
        }
        Ok(())
    }
}

fn is_itunes(ns: &Ns) -> bool {
    *ns == Ns::Itunes
}
fn is_podcast(ns: &Ns) -> bool {
    *ns == Ns::Podcast
}
fn is_media(ns: &Ns) -> bool {
    *ns == Ns::Media
}
fn is_content(ns: &Ns) -> bool {
    *ns == Ns::Content
}
fn is_dc(ns: &Ns) -> bool {
    *ns == Ns::DublinCore
}
fn is_atom_ext(ns: &Ns) -> bool {
    *ns == Ns::Atom
}

/// The trimmed text of the first child `name` in `ns` that has some.
fn child_text(parent: &Element, ns: NsTest, name: &str) -> Option<String> {
    parent
        .children_named(ns, name)
        .map(|e| e.text().trim().to_owned())
        .find(|t| !t.is_empty())
}

/// The raw markup of the first child `name` in `ns` that has visible content.
fn child_markup(parent: &Element, ns: NsTest, name: &str) -> Option<String> {
    parent
        .children_named(ns, name)
        .map(Element::markup)
        .find(|m| !text::plain_text(m).is_empty())
}

fn attr_text<'e>(element: &'e Element, name: &str) -> Option<&'e str> {
    element.attr(name).map(str::trim).filter(|v| !v.is_empty())
}

/// `yes`/`true`/`explicit` → true; `no`/`false`/`clean` → false.
fn explicit(parent: &Element) -> Option<bool> {
    match child_text(parent, is_itunes, "explicit")?
        .to_ascii_lowercase()
        .as_str()
    {
        "yes" | "true" | "explicit" => Some(true),
        "no" | "false" | "clean" => Some(false),
        _ => None,
    }
}

/// `itunes:image href` (or, as some feeds write it, the URL as text).
fn itunes_image(ctx: &Context<'_>, parent: &Element) -> Option<Url> {
    parent.children_named(is_itunes, "image").find_map(|image| {
        let raw = attr_text(image, "href")
            .or_else(|| attr_text(image, "url"))
            .map(str::to_owned)
            .or_else(|| Some(image.text()))?;
        ctx.url(image, &raw)
    })
}

/// `media:thumbnail url`, directly or inside `media:group`.
fn media_thumbnail(ctx: &Context<'_>, parent: &Element) -> Option<Url> {
    let groups = parent.children_named(is_media, "group");
    std::iter::once(parent)
        .chain(groups)
        .flat_map(|e| e.children_named(is_media, "thumbnail"))
        .find_map(|thumb| ctx.url(thumb, attr_text(thumb, "url")?))
}

/// `media:content`s, directly or inside `media:group`, as enclosure candidates.
fn media_contents(ctx: &Context<'_>, parent: &Element) -> Vec<Enclosure> {
    let groups = parent.children_named(is_media, "group");
    std::iter::once(parent)
        .chain(groups)
        .flat_map(|e| e.children_named(is_media, "content"))
        .filter_map(|content| {
            Some(Enclosure {
                url: ctx.url(content, attr_text(content, "url")?)?,
                media_type: content.attr("type").and_then(media_type),
                length: content.attr("fileSize").and_then(length),
            })
        })
        .collect()
}

/// The primary enclosure among candidates: the first audio or video one, else
/// the first without a type, else the first.
fn choose_enclosure(candidates: Vec<Enclosure>) -> Option<Enclosure> {
    let is_av = |e: &Enclosure| {
        e.media_type
            .as_deref()
            .is_some_and(|t| t.starts_with("audio/") || t.starts_with("video/"))
    };
    let index = candidates
        .iter()
        .position(is_av)
        .or_else(|| candidates.iter().position(|e| e.media_type.is_none()))
        .unwrap_or(0);
    candidates.into_iter().nth(index)
}

/// A declared MIME type, trimmed and lowercased.
fn media_type(raw: &str) -> Option<String> {
    let raw = raw.trim();
    (!raw.is_empty()).then(|| raw.to_ascii_lowercase())
}

/// A declared size in bytes; zero and junk are unknown.
fn length(raw: &str) -> Option<u64> {
    raw.trim().parse::<u64>().ok().filter(|n| *n > 0)
}

/// A season or episode number: a non-negative integer (`3`, `3.0`).
fn number(raw: &str) -> Option<u32> {
    let raw = raw.trim();
    raw.parse::<u32>().ok().or_else(|| {
        let float: f64 = raw.parse().ok()?;
        (float.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&float))
            .then_some(float as u32)
    })
}

fn episode_type(raw: &str) -> Option<EpisodeType> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "full" => Some(EpisodeType::Full),
        "trailer" => Some(EpisodeType::Trailer),
        "bonus" => Some(EpisodeType::Bonus),
        _ => None,
    }
}

/// What the RSS and Atom mappers read themselves; the rest is shared.
struct EpisodeCore {
    guid: Option<String>,
    title: Option<String>,
    link: Option<Url>,
    published_at: Option<OffsetDateTime>,
    summary: Option<String>,
    notes_html: Option<String>,
    /// RSS `enclosure`s / Atom `link rel="enclosure"`s, in document order.
    enclosures: Vec<Enclosure>,
}

/// Adds the namespaced fields shared by RSS items and Atom entries and
/// chooses the id.
fn finish_episode(ctx: &Context<'_>, item: &Element, core: EpisodeCore) -> Episode {
    let mut candidates = core.enclosures;
    candidates.extend(media_contents(ctx, item));
    let enclosure = choose_enclosure(candidates);
    let title = core
        .title
        .or_else(|| ctx.title(&child_markup(item, is_itunes, "title")?));
    let (guid, guid_origin) = identity::initial_guid(
        core.guid.as_deref(),
        enclosure.as_ref().map(|e| &e.url),
        core.link.as_ref(),
        title.as_deref(),
        core.published_at,
    );
    let duration_ms = child_text(item, is_itunes, "duration")
        .and_then(|d| crate::duration::parse_duration(&d))
        .or_else(|| {
            let groups = item.children_named(is_media, "group");
            std::iter::once(item)
                .chain(groups)
                .flat_map(|e| e.children_named(is_media, "content"))
                .find_map(|c| crate::duration::parse_duration(attr_text(c, "duration")?))
        });
    Episode {
        guid,
        guid_origin,
        title,
        summary: core.summary,
        notes_html: core.notes_html,
        published_at: core.published_at,
        duration_ms,
        season: child_text(item, is_itunes, "season")
            .and_then(|s| number(&s))
            .or_else(|| child_text(item, is_podcast, "season").and_then(|s| number(&s))),
        number: child_text(item, is_itunes, "episode")
            .and_then(|s| number(&s))
            .or_else(|| child_text(item, is_podcast, "episode").and_then(|s| number(&s))),
        episode_type: child_text(item, is_itunes, "episodeType").and_then(|t| episode_type(&t)),
        explicit: explicit(item),
        artwork_url: itunes_image(ctx, item).or_else(|| media_thumbnail(ctx, item)),
        link: core.link,
        enclosure,
        alternate_enclosures: podcast::alternate_enclosures(ctx, item),
        chapters: podcast::chapters(ctx, item),
        transcripts: podcast::transcripts(ctx, item),
    }
}

/// Element names to try in order of preference.
type Preference = &'static [(NsTest, &'static str)];

/// The markup of the first preferred child that has visible content.
fn first_markup(parent: &Element, preference: Preference) -> Option<String> {
    preference
        .iter()
        .find_map(|(ns, name)| child_markup(parent, *ns, name))
}

/// The first date among preferred children that parses.
fn first_date(parent: &Element, preference: Preference) -> Option<OffsetDateTime> {
    preference.iter().find_map(|(ns, name)| {
        parent
            .children_named(*ns, name)
            .find_map(|e| crate::dates::parse_date(&e.text()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number("3"), Some(3));
        assert_eq!(number(" 3.0 "), Some(3));
        assert_eq!(number("0"), Some(0));
        for junk in ["-1", "1.5", "x", "", "1e20", "NaN"] {
            assert_eq!(number(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn lengths_and_types() {
        assert_eq!(length(" 123 "), Some(123));
        assert_eq!(length("0"), None);
        assert_eq!(length("-5"), None);
        assert_eq!(media_type(" Audio/MPEG "), Some("audio/mpeg".into()));
        assert_eq!(media_type(" "), None);
    }
}
