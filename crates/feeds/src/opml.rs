//! OPML subscription lists: what every podcast app imports and exports.
//!
//! Reading uses the same bounded, DTD-free XML reader as feeds, so a hostile
//! OPML file costs no more than a hostile feed. Every `<outline>` with an
//! `xmlUrl` (at any depth: apps nest them in folders) is a subscription;
//! only absolute `http`/`https` URLs are kept, each once.

use url::Url;

use crate::xml::{self, Element, Ns};
use crate::{FeedError, Limits};

/// One feed in an OPML file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpmlFeed {
    pub url: Url,
    /// `title`, else `text`.
    pub title: Option<String>,
    /// `htmlUrl`: the show's web page.
    pub html_url: Option<Url>,
}

/// Reads the feeds listed in an OPML document.
pub fn parse_opml(bytes: &[u8]) -> Result<Vec<OpmlFeed>, FeedError> {
    let limits = Limits::default();
    if bytes.len() > limits.max_bytes {
        return Err(FeedError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let text = crate::decode::decode(bytes);
    // Relative URLs are not resolved: an OPML file has no address of its own.
    let base = Url::parse("opml:/").expect("a valid URL");
    let document = xml::parse(&text, &base, &limits, |root| {
        if root.name.eq_ignore_ascii_case("opml") {
            Ok(())
        } else {
            Err(FeedError::not_a_feed(format!(
                "the root element is <{}>, not <opml>",
                root.name
            )))
        }
    })?;
    let mut feeds = Vec::new();
    if let Some(body) = document.root.elements().find(|e| &*e.name == "body") {
        collect(body, &mut feeds);
    }
    Ok(feeds)
}

fn collect(parent: &Element, feeds: &mut Vec<OpmlFeed>) {
    for outline in parent.elements().filter(|e| &*e.name == "outline") {
        let attr = |name: &str| {
            outline
                .attrs
                .iter()
                .find(|a| a.ns == Ns::None && a.name.eq_ignore_ascii_case(name))
                .map(|a| a.value.trim())
                .filter(|v| !v.is_empty())
        };
        let web = |v: &str| {
            Url::parse(v)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
        };
        if let Some(url) = attr("xmlUrl").and_then(web) {
            if !feeds.iter().any(|f: &OpmlFeed| f.url == url) {
                feeds.push(OpmlFeed {
                    url,
                    title: attr("title")
                        .or_else(|| attr("text"))
                        .map(crate::text::collapse_whitespace),
                    html_url: attr("htmlUrl").and_then(web),
                });
            }
        }
        collect(outline, feeds);
    }
}

/// An OPML 2.0 document listing `feeds`, titled `title`.
pub fn write_opml(title: &str, feeds: &[OpmlFeed]) -> String {
    use quick_xml::escape::escape;
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n");
    out.push_str(&format!(
        "  <head>\n    <title>{}</title>\n  </head>\n  <body>\n",
        escape(title)
    ));
    for f in feeds {
        let name = f.title.as_deref().unwrap_or(f.url.as_str());
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{}\" title=\"{}\" xmlUrl=\"{}\"",
            escape(name),
            escape(name),
            escape(f.url.as_str())
        ));
        if let Some(h) = &f.html_url {
            out.push_str(&format!(" htmlUrl=\"{}\"", escape(h.as_str())));
        }
        out.push_str("/>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_outlines_and_skips_the_rest() {
        let opml = br#"<?xml version="1.0"?>
<opml version="1.0"><head><title>Podcasts</title></head><body>
  <outline text="Business">
    <outline type="rss" text="Deals &amp; Doors" xmlUrl="https://a.example/feed.xml" htmlUrl="https://a.example/"/>
    <outline type="rss" text="Dup" xmlUrl="https://a.example/feed.xml"/>
  </outline>
  <outline type="rss" title="Second" text="ignored" xmlurl="http://b.example/rss"/>
  <outline type="rss" text="Relative" xmlUrl="/feed.xml"/>
  <outline type="rss" text="Script" xmlUrl="javascript:alert(1)"/>
  <outline type="link" text="A page" url="https://c.example/"/>
</body></opml>"#;
        let feeds = parse_opml(opml).unwrap();
        assert_eq!(feeds.len(), 2, "{feeds:?}");
        assert_eq!(feeds[0].url.as_str(), "https://a.example/feed.xml");
        assert_eq!(feeds[0].title.as_deref(), Some("Deals & Doors"));
        assert_eq!(
            feeds[0].html_url.as_ref().unwrap().as_str(),
            "https://a.example/"
        );
        assert_eq!(feeds[1].title.as_deref(), Some("Second"));
    }

    #[test]
    fn round_trips_what_it_writes() {
        let feeds = vec![
            OpmlFeed {
                url: Url::parse("https://a.example/feed.xml?x=1&y=\"2\"").unwrap(),
                title: Some("Tom & Jerry <live>".into()),
                html_url: None,
            },
            OpmlFeed {
                url: Url::parse("http://b.example/rss").unwrap(),
                title: None,
                html_url: Some(Url::parse("http://b.example/").unwrap()),
            },
        ];
        let text = write_opml("Stowaway subscriptions", &feeds);
        let back = parse_opml(text.as_bytes()).unwrap();
        assert_eq!(back[0], feeds[0]);
        assert_eq!(back[1].url, feeds[1].url);
        assert_eq!(back[1].html_url, feeds[1].html_url);
    }

    #[test]
    fn refuses_what_is_not_opml() {
        assert_eq!(
            parse_opml(b"<rss version=\"2.0\"><channel/></rss>")
                .unwrap_err()
                .code(),
            "not_a_feed"
        );
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><opml><body><outline text="&b;" xmlUrl="https://a.example/"/></body></opml>"#;
        // Refused whole, nothing expanded.
        assert_eq!(parse_opml(bomb).unwrap_err(), FeedError::EntityDeclarations);
    }
}
