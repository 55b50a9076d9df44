//! Minimal HTTP/1.1 protocol helpers: request-head parsing, request-target
//! decoding, `Range` evaluation, entity tags and content types.
//!
//! Everything here is pure (no I/O) so it can be unit-tested directly and
//! never panics on client input.

use std::time::SystemTime;

/// Maximum size of a request head (request line + headers).
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// A parsed request head.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    pub target: String,
    /// `true` for HTTP/1.1, `false` for HTTP/1.0.
    pub http11: bool,
    /// Header fields in arrival order, names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// First value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the connection should stay open after the response.
    pub fn keep_alive(&self) -> bool {
        let tokens = |want: &str| {
            self.headers
                .iter()
                .filter(|(n, _)| n == "connection")
                .flat_map(|(_, v)| v.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case(want))
        };
        if self.http11 {
            !tokens("close")
        } else {
            tokens("keep-alive")
        }
    }
}

/// Why a request head could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// Syntax error: answer 400 and close.
    Malformed(&'static str),
    /// Head larger than [`MAX_HEAD`]: answer 431 and close.
    TooLarge,
}

/// Length of leading empty lines (`\r\n` / `\n`) which RFC 9112 says a server
/// should ignore before a request line.
pub(crate) fn leading_empty_lines(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count()
}

/// If `buf` contains a complete head, returns its length including the
/// terminating empty line. Accepts `\r\n\r\n` and bare `\n\n`.
pub(crate) fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            let rest = &buf[i + 1..];
            if rest.starts_with(b"\r\n") {
                return Some(i + 3);
            }
            if rest.starts_with(b"\n") {
                return Some(i + 2);
            }
        }
        i += 1;
    }
    None
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses a complete request head (as delimited by [`find_head_end`]).
pub(crate) fn parse_head(head: &[u8]) -> Result<Request, HeadError> {
    if head.len() > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next().ok_or(HeadError::Malformed("empty request"))?;
    let request_line = std::str::from_utf8(request_line)
        .map_err(|_| HeadError::Malformed("non-UTF-8 request line"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("bad request line"));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(HeadError::Malformed("bad method"));
    }
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HeadError::Malformed("bad request target"));
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(HeadError::Malformed("unsupported HTTP version")),
    };

    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            // The terminating empty line (and anything after is not part of the head).
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(HeadError::Malformed("obsolete header line folding"));
        }
        let colon = line
            .iter()
            .position(|b| *b == b':')
            .ok_or(HeadError::Malformed("header line without colon"))?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|b| is_tchar(*b)) {
            return Err(HeadError::Malformed("bad header name"));
        }
        if value.iter().any(|b| *b == 0 || *b == b'\r') {
            return Err(HeadError::Malformed("bad header value"));
        }
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let value = String::from_utf8_lossy(value).trim().to_owned();
        headers.push((name, value));
    }
    Ok(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        http11,
        headers,
    })
}

/// Decodes a request target into the mirror-relative path: strips an
/// absolute-form `http://host` prefix, the query and fragment, the leading
/// `/`, and percent-decodes. Returns `None` if the target is not usable.
pub(crate) fn target_path(target: &str) -> Option<String> {
    let mut t = target;
    for scheme in ["http://", "https://"] {
        if t.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        {
            let rest = &t[scheme.len()..];
            t = rest.find('/').map_or("/", |i| &rest[i..]);
        }
    }
    let t = t.split(['?', '#']).next().unwrap_or_default();
    let t = t.strip_prefix('/')?;
    let bytes = t.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Splits a decoded path into safe segments, or `None` if it must be refused
/// (contains a `..` segment, a backslash or a NUL byte). Empty and `.`
/// segments are dropped, so the result can be joined onto the root safely.
pub(crate) fn safe_segments(path: &str) -> Option<Vec<&str>> {
    if path.contains(['\\', '\0']) {
        return None;
    }
    let mut segments = Vec::new();
    for seg in path.split('/') {
        match seg {
            ".." => return None,
            "" | "." => {}
            s => segments.push(s),
        }
    }
    Some(segments)
}

/// Outcome of evaluating a `Range` header against a representation length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeOutcome {
    /// Serve the whole representation with 200 (no/ignored/multi range).
    Full,
    /// Serve bytes `start..=end` with 206.
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Evaluates a `Range` header value. Syntactically invalid ranges, other
/// units and multi-range requests are ignored (served in full), as RFC 9110
/// permits.
pub(crate) fn eval_range(value: &str, len: u64) -> RangeOutcome {
    let Some(spec) = value
        .trim()
        .split_once('=')
        .filter(|(unit, _)| unit.trim().eq_ignore_ascii_case("bytes"))
        .map(|(_, spec)| spec.trim())
    else {
        return RangeOutcome::Full;
    };
    if spec.contains(',') {
        return RangeOutcome::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeOutcome::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            // Absurdly long numbers saturate; they're unsatisfiable anyway.
            Some(s.parse().unwrap_or(u64::MAX))
        }
    };
    if first.is_empty() {
        // Suffix range: the last N bytes.
        let Some(n) = parse(last) else {
            return RangeOutcome::Full;
        };
        if n == 0 || len == 0 {
            return RangeOutcome::Unsatisfiable;
        }
        return RangeOutcome::Partial {
            start: len - n.min(len),
            end: len - 1,
        };
    }
    let Some(start) = parse(first) else {
        return RangeOutcome::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match parse(last) {
            Some(end) if end >= start => end,
            _ => return RangeOutcome::Full,
        }
    };
    if start >= len {
        return RangeOutcome::Unsatisfiable;
    }
    RangeOutcome::Partial {
        start,
        end: end.min(len - 1),
    }
}

/// Nanoseconds since the Unix epoch (0 for times before it).
pub(crate) fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Whole seconds since the Unix epoch (HTTP dates have 1 s resolution).
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A strong entity tag derived from size and modification time.
pub(crate) fn etag(len: u64, mtime: SystemTime) -> String {
    format!("\"{len:x}-{:x}\"", unix_nanos(mtime))
}

/// `If-None-Match` evaluation (weak comparison, `*` matches anything).
pub(crate) fn if_none_match(header: &str, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = strip(etag);
    header
        .split(',')
        .any(|t| t.trim() == "*" || strip(t) == ours)
}

/// `If-Modified-Since` evaluation: `true` if unmodified since that date.
pub(crate) fn not_modified_since(header: &str, mtime: SystemTime) -> bool {
    match httpdate::parse_http_date(header.trim()) {
        Ok(since) => unix_secs(mtime) <= unix_secs(since),
        Err(_) => false,
    }
}

/// `If-Range` evaluation: `true` if the range may be honoured.
pub(crate) fn if_range_matches(header: &str, etag: &str, mtime: SystemTime) -> bool {
    let header = header.trim();
    if header.starts_with('"') {
        header == etag
    } else if header.starts_with("W/") {
        false // weak tags never match for If-Range
    } else {
        match httpdate::parse_http_date(header) {
            Ok(date) => unix_secs(date) == unix_secs(mtime),
            Err(_) => false,
        }
    }
}

/// Content type by file extension.
pub(crate) fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit('/')
        .next()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => "application/json",
        "minisig" | "txt" | "sig" => "text/plain; charset=utf-8",
        "xml" | "rss" => "application/rss+xml",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "vtt" => "text/vtt",
        "srt" => "application/x-subrip",
        "html" | "htm" => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Canonical reason phrase for a status code.
pub(crate) fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Whether a response with this status must not carry a body.
pub(crate) fn status_has_no_body(code: u16) -> bool {
    (100..200).contains(&code) || code == 204 || code == 304
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn head_parsing() {
        let raw = b"GET /library.json?x=1 HTTP/1.1\r\nHost: a\r\nRange:  bytes=0-1 \r\n\r\n";
        assert_eq!(find_head_end(raw), Some(raw.len()));
        let req = parse_head(raw).unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.header("range"), Some("bytes=0-1"));
        assert!(req.keep_alive());
        assert_eq!(target_path(&req.target).as_deref(), Some("library.json"));

        let req = parse_head(b"HEAD / HTTP/1.0\nConnection: Keep-Alive\n\n").unwrap();
        assert!(!req.http11 && req.keep_alive());
        let req = parse_head(b"GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n").unwrap();
        assert!(!req.keep_alive());

        for bad in [
            &b"GET /\r\n\r\n"[..],
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
            b"\xff\xfe / HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(parse_head(bad), Err(HeadError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn targets_and_segments() {
        assert_eq!(target_path("/a%20b/c").as_deref(), Some("a b/c"));
        assert_eq!(target_path("http://h:1/x#f").as_deref(), Some("x"));
        assert_eq!(target_path("*"), None);
        assert_eq!(target_path("/%zz"), None);
        assert_eq!(target_path("/%f"), None);
        assert_eq!(safe_segments("a//./b"), Some(vec!["a", "b"]));
        assert_eq!(safe_segments("/etc/passwd"), Some(vec!["etc", "passwd"]));
        assert_eq!(safe_segments("a/../b"), None);
        assert_eq!(safe_segments(".."), None);
        assert_eq!(safe_segments("a\\b"), None);
    }

    #[test]
    fn ranges() {
        use RangeOutcome::*;
        assert_eq!(eval_range("bytes=0-3", 10), Partial { start: 0, end: 3 });
        assert_eq!(eval_range("bytes=5-", 10), Partial { start: 5, end: 9 });
        assert_eq!(eval_range("bytes=5-100", 10), Partial { start: 5, end: 9 });
        assert_eq!(eval_range("bytes=-3", 10), Partial { start: 7, end: 9 });
        assert_eq!(eval_range("bytes=-30", 10), Partial { start: 0, end: 9 });
        assert_eq!(eval_range("bytes=10-", 10), Unsatisfiable);
        assert_eq!(eval_range("bytes=-0", 10), Unsatisfiable);
        assert_eq!(eval_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(
            eval_range("bytes=99999999999999999999999-", 10),
            Unsatisfiable
        );
        assert_eq!(eval_range("bytes=0-1,3-4", 10), Full);
        assert_eq!(eval_range("bytes=3-1", 10), Full);
        assert_eq!(eval_range("items=0-1", 10), Full);
        assert_eq!(eval_range("bytes=x-1", 10), Full);
        assert_eq!(eval_range("bytes=", 10), Full);
    }

    #[test]
    fn validators() {
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123);
        let tag = etag(10, t);
        assert!(if_none_match(&tag, &tag));
        assert!(if_none_match(&format!("\"x\", W/{tag}"), &tag));
        assert!(if_none_match("*", &tag));
        assert!(!if_none_match("\"other\"", &tag));
        let date = httpdate::fmt_http_date(t);
        assert!(not_modified_since(&date, t));
        assert!(!not_modified_since(
            &httpdate::fmt_http_date(t - Duration::from_secs(5)),
            t
        ));
        assert!(!not_modified_since("garbage", t));
        assert!(if_range_matches(&tag, &tag, t));
        assert!(!if_range_matches(&format!("W/{tag}"), &tag, t));
        assert!(if_range_matches(&date, &tag, t));
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("library.json"), "application/json");
        assert!(content_type("library.json.minisig").starts_with("text/plain"));
        assert_eq!(content_type("feed.xml"), "application/rss+xml");
        assert_eq!(content_type("a/b.OGG"), "audio/ogg");
        assert_eq!(
            content_type("blobs/sha256/ab/abcdef"),
            "application/octet-stream"
        );
        assert_eq!(content_type("dir.v1/file"), "application/octet-stream");
    }
}
