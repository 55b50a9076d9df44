//! A small, bounded, namespace-aware element tree over `quick-xml`.
//!
//! `quick-xml` does the tokenising (markup, CDATA, character references,
//! well-formedness of each tag); this module turns its events into a tree the
//! mappers can query, and owns every safety and tolerance decision about XML:
//!
//! - **No DTD processing.** A DOCTYPE (and its internal subset) is skipped; an
//!   entity it declares is never expanded, so billion-laughs and external
//!   entities (XXE) are inert: `&name;` stays as literal text. Only the five
//!   XML entities and character references are resolved (HTML entities such as
//!   `&nbsp;` are kept literally and decoded later by the HTML-aware text
//!   functions).
//! - **Bounded.** Nesting depth, element count, attributes and text per
//!   element are limited ([`Limits`], `MAX_ATTRIBUTES`); the builder is
//!   iterative, so depth never touches the stack.
//! - **Tolerant where feeds are sloppy, strict where structure is at stake.** A
//!   stray `&` or an unquoted attribute is accepted as text. An end tag that
//!   does not match the open element (raw HTML such as `<br>` pasted into a
//!   description, or a `</channel>` that closes nothing) is refused, not
//!   repaired: guessing where elements end would let one feed be read two
//!   ways. So is anything but comments and whitespace after the root
//!   element. A document that ends with elements still open is refused as
//!   truncated.
//! - **Namespaces by URI, with the usual prefixes as a fallback.** `xmlns` and
//!   `xmlns:p` declarations are honoured on any element (so `it:duration` with
//!   `xmlns:it` = iTunes is iTunes, and so is `<duration xmlns="…itunes…">`);
//!   an undeclared prefix that is one of the well-known ones (`itunes`,
//!   `podcast`, `content`, `media`, `atom`, `dc`, `psc`, …) means its usual
//!   namespace.
//! - **`xml:base`** is tracked per element for resolving relative URLs.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use url::Url;

use crate::{FeedError, Limits};

/// The namespaces the mappers care about. Matching is on the URI (with the
/// variants seen in the wild), never on the prefix, except for undeclared
/// well-known prefixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ns {
    /// No namespace (plain RSS 2.0 elements, unprefixed attributes).
    None,
    /// RSS 0.9 / 1.0 / UserLand RSS 2.0 namespaces: treated like [`Ns::None`].
    Rss,
    Atom,
    Itunes,
    Podcast,
    Content,
    Media,
    DublinCore,
    /// Podlove Simple Chapters.
    Psc,
    GooglePlay,
    Xml,
    Other(Box<str>),
}

impl Ns {
    fn from_uri(uri: &str) -> Ns {
        let uri = uri.trim();
        let lower = uri.to_ascii_lowercase();
        let lower = lower.trim_end_matches('/');
        match lower {
            "http://www.itunes.com/dtds/podcast-1.0.dtd"
            | "https://www.itunes.com/dtds/podcast-1.0.dtd" => Ns::Itunes,
            "https://podcastindex.org/namespace/1.0"
            | "http://podcastindex.org/namespace/1.0"
            | "https://github.com/podcastindex-org/podcast-namespace/blob/main/docs/1.0.md" => {
                Ns::Podcast
            }
            "http://www.w3.org/2005/atom" => Ns::Atom,
            "http://purl.org/rss/1.0/modules/content" => Ns::Content,
            "http://search.yahoo.com/mrss" => Ns::Media,
            "http://purl.org/dc/elements/1.1" => Ns::DublinCore,
            "http://podlove.org/simple-chapters" => Ns::Psc,
            "http://www.google.com/schemas/play-podcasts/1.0" => Ns::GooglePlay,
            "http://www.w3.org/xml/1998/namespace" => Ns::Xml,
            "http://purl.org/rss/1.0"
            | "http://my.netscape.com/rdf/simple/0.9"
            | "http://backend.userland.com/rss2"
            | "http://blogs.law.harvard.edu/tech/rss" => Ns::Rss,
            _ => Ns::Other(uri.into()),
        }
    }

    /// The namespace an undeclared prefix is taken to mean.
    fn from_undeclared_prefix(prefix: &str) -> Ns {
        match prefix.to_ascii_lowercase().as_str() {
            "itunes" => Ns::Itunes,
            "podcast" => Ns::Podcast,
            "content" => Ns::Content,
            "media" => Ns::Media,
            "atom" => Ns::Atom,
            "dc" => Ns::DublinCore,
            "psc" => Ns::Psc,
            "googleplay" => Ns::GooglePlay,
            "xml" => Ns::Xml,
            other => Ns::Other(format!("undeclared:{other}").into()),
        }
    }

    /// Plain RSS element namespaces.
    pub(crate) fn is_rss(&self) -> bool {
        matches!(self, Ns::None | Ns::Rss)
    }

    /// Atom element namespaces (an Atom document without `xmlns` is accepted).
    pub(crate) fn is_atom(&self) -> bool {
        matches!(self, Ns::Atom | Ns::None)
    }
}

/// Attributes (namespace declarations included) read per element; the rest
/// are ignored. Real feed elements have a handful; this bounds the memory a
/// hostile `<a x1="" x2="" …>` can cost.
const MAX_ATTRIBUTES: usize = 64;

/// Elements whose own text is never read (they only hold other elements),
/// by local name in any namespace.
const CONTAINERS: &[&str] = &[
    "rss",
    "channel",
    "item",
    "feed",
    "entry",
    "image",
    "alternateEnclosure",
    "owner",
    "group",
    "RDF",
];

/// A test on an element's namespace, such as [`Ns::is_rss`].
pub(crate) type NsTest = fn(&Ns) -> bool;

/// A parsed document: the root element and the `xml:base` table.
#[derive(Debug)]
pub(crate) struct Document {
    pub root: Element,
    bases: Vec<Url>,
}

impl Document {
    /// The base URL in effect for `element` (the feed URL unless `xml:base`
    /// says otherwise).
    pub fn base(&self, element: &Element) -> &Url {
        &self.bases[element.base]
    }
}

#[derive(Debug)]
pub(crate) struct Element {
    pub ns: Ns,
    pub name: Box<str>,
    pub attrs: Vec<Attribute>,
    pub children: Vec<Node>,
    /// Index into [`Document::bases`].
    base: usize,
}

#[derive(Debug)]
pub(crate) struct Attribute {
    pub ns: Ns,
    pub name: Box<str>,
    pub value: String,
}

#[derive(Debug)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    pub fn is(&self, ns: NsTest, name: &str) -> bool {
        ns(&self.ns) && &*self.name == name
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    /// Child elements called `name` in a namespace accepted by `ns`.
    pub fn children_named<'a>(
        &'a self,
        ns: NsTest,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(ns, name))
    }

    pub fn child(&self, ns: NsTest, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, name))
    }

    /// Value of the unprefixed attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns == Ns::None && &*a.name == name)
            .map(|a| a.value.as_str())
    }

    /// Value of `xml:name` (`xml:lang`, `xml:base`).
    pub fn xml_attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns == Ns::Xml && &*a.name == name)
            .map(|a| a.value.as_str())
    }

    /// All text inside the element, tags dropped.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    fn collect_text(&self, out: &mut String) {
        for node in &self.children {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Element(element) => element.collect_text(out),
            }
        }
    }

    /// The element's content as markup: text as is when there are no child
    /// elements (the common case: escaped or CDATA HTML), else the children
    /// serialised back to (X)HTML, for feeds that put raw markup inside
    /// `<description>` or use Atom `type="xhtml"`.
    pub fn markup(&self) -> String {
        if self.elements().next().is_none() {
            return self.text();
        }
        let mut out = String::new();
        self.serialise_children(&mut out);
        out
    }

    fn serialise_children(&self, out: &mut String) {
        for node in &self.children {
            match node {
                Node::Text(text) => out.push_str(&quick_xml::escape::escape(text.as_str())),
                Node::Element(element) => {
                    out.push('<');
                    out.push_str(&element.name);
                    for attr in element.attrs.iter().filter(|a| a.ns == Ns::None) {
                        out.push(' ');
                        out.push_str(&attr.name);
                        out.push_str("=\"");
                        out.push_str(&quick_xml::escape::escape(attr.value.as_str()));
                        out.push('"');
                    }
                    out.push('>');
                    if element.children.is_empty() && is_void_html(&element.name) {
                        continue;
                    }
                    element.serialise_children(out);
                    out.push_str("</");
                    out.push_str(&element.name);
                    out.push('>');
                }
            }
        }
    }
}

fn is_void_html(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "source"
            | "track"
            | "wbr"
    )
}

/// An element being built, with what is needed to close it.
struct Open {
    element: Element,
    /// The tag name as written (`itunes:image`), for matching its end tag.
    qname: Box<str>,
    /// Namespace declarations made on this element: (prefix or "" for default, uri).
    bindings: Vec<(Box<str>, Box<str>)>,
    /// Text bytes kept so far directly in this element.
    text_bytes: usize,
}

/// Decides from the root element (attributes and namespace declarations
/// resolved, no children yet) whether the document is worth reading on.
pub(crate) type RootCheck = fn(&Element) -> Result<(), FeedError>;

/// Parses `text` into a [`Document`], resolving relative `xml:base` against
/// `base`. `root_check` is called as soon as the root element opens, so that a
/// document that is not a feed is refused without being read to the end.
pub(crate) fn parse(
    text: &str,
    base: &Url,
    limits: &Limits,
    root_check: RootCheck,
) -> Result<Document, FeedError> {
    Builder::new(base, limits, root_check).run(text)
}

struct Builder<'l> {
    limits: &'l Limits,
    root_check: RootCheck,
    stack: Vec<Open>,
    root: Option<Element>,
    bases: Vec<Url>,
    elements: usize,
    truncated_text: bool,
    stray_text: bool,
}

impl<'l> Builder<'l> {
    fn new(base: &Url, limits: &'l Limits, root_check: RootCheck) -> Self {
        Builder {
            limits,
            root_check,
            stack: Vec::new(),
            root: None,
            bases: vec![base.clone()],
            elements: 0,
            truncated_text: false,
            stray_text: false,
        }
    }

    fn run(mut self, text: &str) -> Result<Document, FeedError> {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.allow_unmatched_ends = false;
        config.allow_dangling_amp = true;
        config.expand_empty_elements = false;

        loop {
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(err) => return Err(self.xml_error(reader.error_position(), &err)),
            };
            match event {
                Event::Start(start) => self.open(&start)?,
                Event::Empty(start) => {
                    self.open(&start)?;
                    self.close_top();
                }
                Event::End(end) => {
                    let qname = end.name();
                    self.close(qname.as_ref().trim());
                }
                Event::Text(text) => self.text(&text.xml10_content())?,
                Event::CData(data) => self.text(&data.xml10_content())?,
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(ch)) => ch.to_string(),
                        // An invalid character reference is kept as written.
                        Ok(None) | Err(_) => {
                            match quick_xml::escape::resolve_predefined_entity(&reference) {
                                Some(text) => text.to_owned(),
                                None => format!("&{};", &*reference),
                            }
                        }
                    };
                    self.text(&resolved)?;
                }
                Event::DocType(doctype) => {
                    // A DOCTYPE naming a DTD (old RSS 0.91 feeds do) is
                    // ignored. One that declares entities is refused: no
                    // real feed needs them, and they are how entity bombs
                    // and external-entity reads are built.
                    if doctype.into_inner().contains("<!ENTITY") {
                        return Err(FeedError::EntityDeclarations);
                    }
                    tracing::debug!("feed has a DOCTYPE; ignored");
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => break,
            }
            if self.root.is_some() {
                return self.after_root(&mut reader);
            }
        }

        self.finish()
    }

    /// After the root element: comments, processing instructions and
    /// whitespace only.
    fn after_root(self, reader: &mut Reader<&[u8]>) -> Result<Document, FeedError> {
        loop {
            let position = reader.buffer_position();
            match reader.read_event() {
                Ok(Event::Eof) => return self.finish(),
                Ok(Event::Comment(_) | Event::PI(_)) => {}
                Ok(Event::Text(t)) if t.as_ref().trim().is_empty() => {}
                Ok(_) | Err(_) => {
                    return Err(FeedError::Malformed {
                        position,
                        message: "content after the root element".into(),
                    })
                }
            }
        }
    }

    fn finish(self) -> Result<Document, FeedError> {
        if let Some(open) = self.stack.last() {
            return Err(FeedError::Truncated {
                open: open.qname.to_string(),
            });
        }
        if self.truncated_text {
            tracing::warn!(
                limit = self.limits.max_text_bytes,
                "feed has over-long text; cut to the limit"
            );
        }
        match self.root {
            Some(root) => Ok(Document {
                root,
                bases: self.bases,
            }),
            None if self.stray_text => Err(FeedError::not_a_feed("no XML element: not XML")),
            None => Err(FeedError::not_a_feed("the document is empty")),
        }
    }

    fn xml_error(&self, position: u64, err: &quick_xml::Error) -> FeedError {
        use quick_xml::errors::SyntaxError;
        let Some(open) = self.stack.last() else {
            return FeedError::not_a_feed(format!("not XML ({err})"));
        };
        match err {
            // The input ended inside markup.
            quick_xml::Error::Syntax(
                SyntaxError::UnclosedPI
                | SyntaxError::UnclosedXmlDecl
                | SyntaxError::UnclosedComment
                | SyntaxError::UnclosedDoctype
                | SyntaxError::UnclosedCData
                | SyntaxError::UnclosedTag
                | SyntaxError::UnclosedSingleQuotedAttributeValue
                | SyntaxError::UnclosedDoubleQuotedAttributeValue,
            ) => FeedError::Truncated {
                open: open.qname.to_string(),
            },
            _ => FeedError::Malformed {
                position,
                message: err.to_string(),
            },
        }
    }

    fn open(&mut self, start: &BytesStart<'_>) -> Result<(), FeedError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(FeedError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(FeedError::TooManyElements {
                limit: self.limits.max_elements,
            });
        }

        let qname: Box<str> = start.name().as_ref().into();
        let mut raw_attrs = Vec::new();
        let mut bindings = Vec::new();
        let mut attributes = start.html_attributes();
        attributes.with_checks(false);
        for attr in attributes.flatten().take(MAX_ATTRIBUTES) {
            let key = attr.key.as_ref().to_owned();
            let value = unescape_lenient(&attr.value);
            if key == "xmlns" {
                bindings.push(("".into(), value.into()));
            } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                bindings.push((prefix.into(), value.into()));
            } else {
                raw_attrs.push((key, value));
            }
        }

        // Resolve names with this element's own declarations in scope.
        let (prefix, local) = split_qname(&qname);
        let ns = self.resolve(prefix, &bindings, true);
        let attrs = raw_attrs
            .into_iter()
            .map(|(key, value)| {
                let (prefix, local) = split_qname(&key);
                Attribute {
                    ns: self.resolve(prefix, &bindings, false),
                    name: local.into(),
                    value,
                }
            })
            .collect::<Vec<_>>();

        let parent_base = self.stack.last().map_or(0, |open| open.element.base);
        let base = match attrs
            .iter()
            .find(|a| a.ns == Ns::Xml && &*a.name == "base")
            .and_then(|a| self.bases[parent_base].join(a.value.trim()).ok())
        {
            Some(url) => {
                self.bases.push(url);
                self.bases.len() - 1
            }
            None => parent_base,
        };

        let element = Element {
            ns,
            name: local.into(),
            attrs,
            children: Vec::new(),
            base,
        };
        if self.stack.is_empty() {
            (self.root_check)(&element)?;
        }
        self.stack.push(Open {
            element,
            qname,
            bindings,
            text_bytes: 0,
        });
        Ok(())
    }

    /// The namespace of `prefix` (None: unprefixed) with `own` declarations
    /// (those of the element being opened) innermost. Unprefixed attributes
    /// are in no namespace.
    fn resolve(&self, prefix: Option<&str>, own: &[(Box<str>, Box<str>)], is_element: bool) -> Ns {
        let wanted = match prefix {
            Some("xml") => return Ns::Xml,
            Some(prefix) => prefix,
            None if is_element => "",
            None => return Ns::None,
        };
        let scopes = std::iter::once(own).chain(self.stack.iter().rev().map(|o| &o.bindings[..]));
        for bindings in scopes {
            if let Some((_, uri)) = bindings.iter().rev().find(|(p, _)| &**p == wanted) {
                return if uri.trim().is_empty() {
                    Ns::None
                } else {
                    Ns::from_uri(uri)
                };
            }
        }
        match prefix {
            Some(prefix) => Ns::from_undeclared_prefix(prefix),
            None => Ns::None,
        }
    }

    /// Closes the innermost open element called `qname`, implicitly closing any
    /// left open inside it; an end tag that matches nothing is ignored.
    fn close(&mut self, qname: &str) {
        match self.stack.iter().rposition(|open| &*open.qname == qname) {
            Some(index) => {
                while self.stack.len() > index {
                    self.close_top();
                }
            }
            None => tracing::debug!(tag = qname, "ignoring an end tag that closes nothing"),
        }
    }

    fn close_top(&mut self) {
        let Some(open) = self.stack.pop() else { return };
        match self.stack.last_mut() {
            Some(parent) => parent.element.children.push(Node::Element(open.element)),
            None => self.root = Some(open.element),
        }
    }

    fn text(&mut self, text: &str) -> Result<(), FeedError> {
        let limit = self.limits.max_text_bytes;
        let Some(open) = self.stack.last_mut() else {
            // Text before the root element (a server's warning printed ahead
            // of the feed) is skipped; if no element ever comes, it was not XML.
            self.stray_text |= !text.trim().is_empty();
            return Ok(());
        };
        // Indentation between the children of a container is never read:
        // not keeping it saves a node per element of a large feed.
        if CONTAINERS.contains(&&*open.element.name) && text.trim().is_empty() {
            return Ok(());
        }
        let room = limit.saturating_sub(open.text_bytes);
        let kept = if text.len() > room {
            self.truncated_text = true;
            &text[..floor_char_boundary(text, room)]
        } else {
            text
        };
        if kept.is_empty() {
            return Ok(());
        }
        open.text_bytes += kept.len();
        match open.element.children.last_mut() {
            Some(Node::Text(existing)) => existing.push_str(kept),
            _ => open.element.children.push(Node::Text(kept.to_owned())),
        }
        Ok(())
    }
}

fn split_qname(qname: &str) -> (Option<&str>, &str) {
    match qname.split_once(':') {
        Some((prefix, local)) if !prefix.is_empty() && !local.is_empty() => (Some(prefix), local),
        _ => (None, qname),
    }
}

/// The largest index `<= at` that is a character boundary of `text`.
pub(crate) fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0)
}

/// Resolves the XML entities and character references in an attribute value,
/// keeping anything else (a bare `&` in a URL query, an HTML entity) as written.
fn unescape_lenient(raw: &str) -> String {
    if !raw.contains('&') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let resolved = rest[1..]
            .find(';')
            .filter(|end| *end <= 32)
            .and_then(|end| {
                let name = &rest[1..=end];
                resolve_reference(name).map(|text| (text, end + 2))
            });
        match resolved {
            Some((text, consumed)) => {
                out.push_str(&text);
                rest = &rest[consumed..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn resolve_reference(name: &str) -> Option<String> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code)
            .filter(|c| *c != '\0')
            .map(String::from);
    }
    quick_xml::escape::resolve_predefined_entity(name).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Result<Document, FeedError> {
        with_limits(text, &Limits::default())
    }

    fn with_limits(text: &str, limits: &Limits) -> Result<Document, FeedError> {
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        parse(text, &url, limits, |_| Ok(()))
    }

    #[test]
    fn namespaces_by_uri_by_default_ns_and_by_undeclared_prefix() {
        let d = doc(
            r#"<rss xmlns:it="http://www.itunes.com/DTDs/Podcast-1.0.dtd"><channel>
            <it:author>A</it:author><itunes:author>B</itunes:author>
            <pc:guid xmlns:pc="https://podcastindex.org/namespace/1.0">g</pc:guid>
            <duration xmlns="http://www.itunes.com/dtds/podcast-1.0.dtd">1</duration>
            <podcast:locked>yes</podcast:locked><foo:bar>x</foo:bar></channel></rss>"#,
        )
        .unwrap();
        let channel = d.root.child(Ns::is_rss, "channel").unwrap();
        let ns: Vec<_> = channel
            .elements()
            .map(|e| (e.ns.clone(), &*e.name))
            .collect();
        assert_eq!(
            ns,
            vec![
                (Ns::Itunes, "author"),
                (Ns::Itunes, "author"),
                (Ns::Podcast, "guid"),
                (Ns::Itunes, "duration"),
                (Ns::Podcast, "locked"),
                (Ns::Other("undeclared:foo".into()), "bar"),
            ]
        );
    }

    #[test]
    fn entities_cdata_and_stray_ampersands() {
        let d = doc("<a>Tom &amp; Jerry &#233;&#x263A; &nbsp; & <![CDATA[<b>x</b>]]> &lol;</a>")
            .unwrap();
        assert_eq!(d.root.text(), "Tom & Jerry é☺ &nbsp; & <b>x</b> &lol;");
    }

    #[test]
    fn attribute_values_are_unescaped_leniently() {
        let d = doc(r#"<a href="http://x/?a=1&b=2&amp;c=&#51;&bogus"/>"#).unwrap();
        assert_eq!(d.root.attr("href"), Some("http://x/?a=1&b=2&c=3&bogus"));
    }

    #[test]
    fn mismatched_end_tags_and_content_after_the_root_are_refused() {
        // Raw HTML in a description, a stray end tag: not repaired (where
        // each element ends would be a guess).
        for bad in [
            "<rss><d>a<br>b</d><e/></rss>",
            "<rss><d>a</d></x><e/></rss>",
            "<rss><c></rss></c>",
            "<rss/><rss/>",
            "<rss></rss>junk",
            "<rss></rss><item>second root</item>",
        ] {
            let e = doc(bad).unwrap_err();
            assert_eq!(e.code(), "malformed_xml", "{bad}: {e}");
        }
        // Well-formed inline markup, and comments or whitespace after the root.
        let d = doc("<d>a<br/>b<p>c</p></d>\n<!-- generated -->\n<?pi x?>\n").unwrap();
        assert_eq!(d.root.markup(), "a<br>b<p>c</p>");
    }

    #[test]
    fn truncated_documents_are_refused() {
        let err = doc("<rss><channel><item><title>x</title>").unwrap_err();
        assert_eq!(err.code(), "feed_truncated");
    }

    #[test]
    fn xml_base_is_tracked() {
        let d =
            doc(r#"<rss xml:base="http://a.example/p/"><c xml:base="q/"><e/></c></rss>"#).unwrap();
        let c = d.root.elements().next().unwrap();
        let e = c.elements().next().unwrap();
        assert_eq!(d.base(&d.root).as_str(), "http://a.example/p/");
        assert_eq!(d.base(e).as_str(), "http://a.example/p/q/");
    }

    #[test]
    fn depth_and_element_limits() {
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(doc(&deep).unwrap_err().code(), "feed_too_deep");
        let limits = Limits {
            max_elements: 10,
            ..Limits::default()
        };
        let many = format!("<a>{}</a>", "<b/>".repeat(20));
        assert_eq!(
            with_limits(&many, &limits).unwrap_err().code(),
            "feed_too_many_elements"
        );
    }

    #[test]
    fn attributes_per_element_are_bounded() {
        let attrs: String = (0..1000).map(|i| format!(" a{i}=\"v\"")).collect();
        let d = doc(&format!("<rss{attrs}/>")).unwrap();
        assert_eq!(d.root.attrs.len(), MAX_ATTRIBUTES);
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let limits = Limits {
            max_text_bytes: 5,
            ..Limits::default()
        };
        let d = with_limits("<a>ééé</a>", &limits).unwrap();
        assert_eq!(d.root.text(), "éé");
    }

    #[test]
    fn text_before_the_root_is_skipped() {
        let d = doc("Warning: something on line 12\n<?xml version=\"1.0\"?><rss/>").unwrap();
        assert_eq!(&*d.root.name, "rss");
    }

    #[test]
    fn not_xml() {
        assert_eq!(doc("").unwrap_err().code(), "not_a_feed");
        assert_eq!(doc("  \n").unwrap_err().code(), "not_a_feed");
        assert_eq!(doc("{\"json\": true}").unwrap_err().code(), "not_a_feed");
    }
}
