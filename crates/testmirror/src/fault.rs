//! Fault-injection rules.
//!
//! A [`Rule`] pairs a [`PathMatch`] with a [`Fault`] and an optional budget
//! (`times`). For every request the server walks the active rules in order
//! and applies the first one that matches the request path and still has
//! budget left; a rule with `times: Some(n)` is consumed by the first `n`
//! matching requests and is skipped afterwards.
//!
//! Faults and rules also have a compact textual form (used by the
//! `stowaway-testmirror --fault` flag and by [`RequestLog::fault`](crate::RequestLog::fault)):
//!
//! ```text
//! FAULT[@PATH][#TIMES]
//!
//! FAULT := black-hole | status:CODE[:RETRY_AFTER_SECS] | stall-after:N
//!        | trickle:BYTES_PER_SEC | truncate:N | flip-bytes | ignore-range
//!        | drop-after:N | delay:MILLIS[ms|s] | serve-from:DIR | redirect:URL
//! PATH  := exact path (e.g. `library.json`), or a prefix ending in `*`
//!          (e.g. `blobs/*`); without `@PATH` the rule matches every path
//! ```
//!
//! For example `status:503:5@blobs/*#2` answers the first two requests under
//! `blobs/` with `503 Service Unavailable` and `Retry-After: 5`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Which request paths a [`Rule`] applies to.
///
/// Paths are compared against the percent-decoded URL path without its
/// leading `/` and without query string, e.g. `library.json` or
/// `blobs/sha256/ab/ab12…`. A leading `/` in the pattern is ignored, so
/// `Exact("/library.json")` works too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathMatch {
    /// Every path.
    Any,
    /// Exactly this path.
    Exact(String),
    /// Every path starting with this prefix (e.g. `"blobs/"`).
    Prefix(String),
}

impl PathMatch {
    /// Convenience constructor for [`PathMatch::Exact`].
    pub fn exact(path: impl Into<String>) -> PathMatch {
        PathMatch::Exact(path.into())
    }

    /// Convenience constructor for [`PathMatch::Prefix`].
    pub fn prefix(prefix: impl Into<String>) -> PathMatch {
        PathMatch::Prefix(prefix.into())
    }

    /// Whether `path` (without leading `/`) matches.
    pub fn matches(&self, path: &str) -> bool {
        let path = path.trim_start_matches('/');
        match self {
            PathMatch::Any => true,
            PathMatch::Exact(p) => path == p.trim_start_matches('/'),
            PathMatch::Prefix(p) => path.starts_with(p.trim_start_matches('/')),
        }
    }
}

/// A misbehaviour the server can inject into a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Accept the connection and read the request, but never answer. The
    /// socket stays open until the client closes it or the server shuts down.
    BlackHole,
    /// Answer with this status code (and a short text body) instead of the
    /// file, optionally with a `Retry-After: <seconds>` header.
    Status {
        /// HTTP status code, e.g. 500, 503, 429.
        code: u16,
        /// Value for the `Retry-After` header, in seconds.
        retry_after: Option<u32>,
    },
    /// Send the headers (with the correct `Content-Length`) and the first `N`
    /// body bytes, then send nothing more while keeping the socket open.
    StallAfter(u64),
    /// Send the body slowly, at roughly this many bytes per second.
    Trickle {
        /// Target transfer rate; `0` is treated as `1`.
        bytes_per_sec: u64,
    },
    /// Send the headers with the full `Content-Length`, `N` body bytes, then
    /// close the connection cleanly (FIN).
    Truncate(u64),
    /// Serve the correct length but corrupt a few bytes (XOR `0xFF` at the
    /// first, middle and last byte of the served range).
    FlipBytes,
    /// A damaged copy: the byte at this offset of the file is served
    /// XOR `0xFF`, whatever range is asked for (one bad region, where
    /// [`Fault::FlipBytes`] damages every response).
    CorruptAt(u64),
    /// Ignore any `Range` header and answer `200` with the full body.
    IgnoreRange,
    /// Like [`Fault::Truncate`] but abortive: after `N` body bytes the socket
    /// is closed with `SO_LINGER = 0`, which makes the kernel send a RST.
    DropAfter(u64),
    /// Wait this long before answering normally (a slow mirror).
    Delay(Duration),
    /// A private mirror: answer `401` (with `WWW-Authenticate: Bearer`)
    /// unless the request carries `Authorization: Bearer <token>`.
    RequireToken(String),
    /// Answer `302 Found` with this `Location` (a mirror or feed host
    /// sending the client somewhere else).
    Redirect(String),
    /// Answer from this other tree instead (same path below it): a stale
    /// mirror that still serves an older, validly signed catalog, or one
    /// whose files lag behind.
    ServeFrom(std::path::PathBuf),
}

/// A fault applied to requests whose path matches, optionally only a limited
/// number of times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Which paths the rule applies to.
    pub path: PathMatch,
    /// What to do to matching requests.
    pub fault: Fault,
    /// Apply to the first `N` matching requests only; `None` = always.
    pub times: Option<u32>,
}

impl Rule {
    /// A rule applying `fault` to every request.
    pub fn all(fault: Fault) -> Rule {
        Rule {
            path: PathMatch::Any,
            fault,
            times: None,
        }
    }

    /// A rule applying `fault` to requests whose path matches.
    pub fn path(prefix_or_exact: PathMatch, fault: Fault) -> Rule {
        Rule {
            path: prefix_or_exact,
            fault,
            times: None,
        }
    }

    /// Limit the rule to the first `n` matching requests.
    pub fn times(self, n: u32) -> Rule {
        Rule {
            times: Some(n),
            ..self
        }
    }
}

/// Error returned when parsing a [`Fault`] or [`Rule`] from text fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFaultError(String);

impl fmt::Display for ParseFaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseFaultError {}

fn err(msg: impl Into<String>) -> ParseFaultError {
    ParseFaultError(msg.into())
}

fn num<T: FromStr>(what: &str, s: Option<&str>) -> Result<T, ParseFaultError> {
    let s = s.ok_or_else(|| err(format!("`{what}` needs a numeric argument")))?;
    s.trim()
        .parse()
        .map_err(|_| err(format!("invalid number `{s}` for `{what}`")))
}

fn parse_duration(s: Option<&str>) -> Result<Duration, ParseFaultError> {
    let s = s.ok_or_else(|| err("`delay` needs an argument, e.g. `delay:500ms`"))?;
    let s = s.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        return Ok(Duration::from_millis(num("delay", Some(ms))?));
    }
    if let Some(secs) = s.strip_suffix('s') {
        return Ok(Duration::from_secs(num("delay", Some(secs))?));
    }
    Ok(Duration::from_millis(num("delay", Some(s))?))
}

impl FromStr for Fault {
    type Err = ParseFaultError;

    fn from_str(s: &str) -> Result<Fault, ParseFaultError> {
        if let Some(to) = s.trim().strip_prefix("redirect:") {
            return Ok(Fault::Redirect(to.to_owned()));
        }
        let mut parts = s.trim().split(':');
        let kind = parts.next().unwrap_or_default().to_ascii_lowercase();
        let arg1 = parts.next();
        let arg2 = parts.next();
        if parts.next().is_some() {
            return Err(err(format!("too many `:` arguments in fault `{s}`")));
        }
        let no_args = |fault: Fault| {
            if arg1.is_some() {
                Err(err(format!("fault `{kind}` takes no argument")))
            } else {
                Ok(fault)
            }
        };
        let one_arg = || {
            if arg2.is_some() {
                Err(err(format!("fault `{kind}` takes one argument")))
            } else {
                Ok(())
            }
        };
        match kind.as_str() {
            "black-hole" | "blackhole" => no_args(Fault::BlackHole),
            "flip-bytes" | "flip" => no_args(Fault::FlipBytes),
            "corrupt-at" => one_arg().and(Ok(Fault::CorruptAt(num(&kind, arg1)?))),
            "ignore-range" => no_args(Fault::IgnoreRange),
            "status" => {
                let code: u16 = num("status", arg1)?;
                if !(100..=999).contains(&code) {
                    return Err(err(format!("invalid status code {code}")));
                }
                let retry_after = arg2.map(|r| num("retry-after", Some(r))).transpose()?;
                Ok(Fault::Status { code, retry_after })
            }
            "stall-after" | "stall" => one_arg().and(Ok(Fault::StallAfter(num(&kind, arg1)?))),
            "trickle" => one_arg().and(Ok(Fault::Trickle {
                bytes_per_sec: num(&kind, arg1)?,
            })),
            "truncate" => one_arg().and(Ok(Fault::Truncate(num(&kind, arg1)?))),
            "drop-after" | "drop" => one_arg().and(Ok(Fault::DropAfter(num(&kind, arg1)?))),
            "delay" => one_arg().and(Ok(Fault::Delay(parse_duration(arg1)?))),
            "serve-from" => {
                one_arg()?;
                match arg1 {
                    Some(dir) if !dir.is_empty() => Ok(Fault::ServeFrom(dir.into())),
                    _ => Err(err("serve-from needs a directory".to_owned())),
                }
            }
            "require-token" => {
                one_arg()?;
                match arg1 {
                    Some(t) if !t.is_empty() => Ok(Fault::RequireToken(t.to_owned())),
                    _ => Err(err("require-token needs a token".to_owned())),
                }
            }
            _ => Err(err(format!(
                "unknown fault `{kind}` (expected black-hole, status:CODE[:RETRY], \
                 stall-after:N, trickle:BPS, truncate:N, flip-bytes, ignore-range, \
                 drop-after:N, delay:MS or require-token:TOKEN)"
            ))),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::BlackHole => f.write_str("black-hole"),
            Fault::Status {
                code,
                retry_after: None,
            } => write!(f, "status:{code}"),
            Fault::Status {
                code,
                retry_after: Some(r),
            } => write!(f, "status:{code}:{r}"),
            Fault::StallAfter(n) => write!(f, "stall-after:{n}"),
            Fault::Trickle { bytes_per_sec } => write!(f, "trickle:{bytes_per_sec}"),
            Fault::Truncate(n) => write!(f, "truncate:{n}"),
            Fault::FlipBytes => f.write_str("flip-bytes"),
            Fault::CorruptAt(n) => write!(f, "corrupt-at:{n}"),
            Fault::IgnoreRange => f.write_str("ignore-range"),
            Fault::DropAfter(n) => write!(f, "drop-after:{n}"),
            Fault::Delay(d) => write!(f, "delay:{}ms", d.as_millis()),
            Fault::RequireToken(t) => write!(f, "require-token:{t}"),
            Fault::ServeFrom(d) => write!(f, "serve-from:{}", d.display()),
            Fault::Redirect(to) => write!(f, "redirect:{to}"),
        }
    }
}

impl FromStr for Rule {
    type Err = ParseFaultError;

    /// Parses `FAULT[@PATH][#TIMES]`; see the [module docs](self).
    fn from_str(s: &str) -> Result<Rule, ParseFaultError> {
        let (rest, times) = match s.rsplit_once('#') {
            Some((rest, times)) => (rest, Some(num("#times", Some(times))?)),
            None => (s, None),
        };
        let (fault, path) = match rest.split_once('@') {
            Some((fault, path)) => {
                let path = path.trim();
                let path = match path.strip_suffix('*') {
                    Some(prefix) => PathMatch::Prefix(prefix.to_owned()),
                    None => PathMatch::Exact(path.to_owned()),
                };
                (fault, path)
            }
            None => (rest, PathMatch::Any),
        };
        Ok(Rule {
            path,
            fault: fault.parse()?,
            times,
        })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.fault)?;
        match &self.path {
            PathMatch::Any => {}
            PathMatch::Exact(p) => write!(f, "@{p}")?,
            PathMatch::Prefix(p) => write!(f, "@{p}*")?,
        }
        if let Some(n) = self.times {
            write!(f, "#{n}")?;
        }
        Ok(())
    }
}

/// The server-side state of the configured rules: each rule with its
/// remaining budget.
#[derive(Debug, Default)]
pub(crate) struct RuleSet {
    rules: Vec<(Rule, Option<u32>)>,
}

impl RuleSet {
    /// Replace all rules (budgets start afresh).
    pub(crate) fn replace(&mut self, rules: Vec<Rule>) {
        self.rules = rules.into_iter().map(|r| (r.clone(), r.times)).collect();
    }

    /// Find the first matching rule with budget left, consume one unit of its
    /// budget and return its fault.
    pub(crate) fn take(&mut self, path: &str) -> Option<Fault> {
        let (rule, remaining) = self
            .rules
            .iter_mut()
            .find(|(rule, remaining)| *remaining != Some(0) && rule.path.matches(path))?;
        if let Some(n) = remaining {
            *n -= 1;
        }
        Some(rule.fault.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_matching() {
        assert!(PathMatch::Any.matches("x"));
        assert!(PathMatch::exact("library.json").matches("library.json"));
        assert!(PathMatch::exact("/library.json").matches("library.json"));
        assert!(!PathMatch::exact("library.json").matches("library.json.minisig"));
        assert!(PathMatch::prefix("blobs/").matches("blobs/sha256/ab/ab"));
        assert!(!PathMatch::prefix("blobs/").matches("feed.xml"));
    }

    #[test]
    fn rule_budget() {
        let mut set = RuleSet::default();
        set.replace(vec![
            Rule::path(PathMatch::prefix("blobs/"), Fault::FlipBytes).times(1),
            Rule::all(Fault::IgnoreRange).times(2),
        ]);
        assert_eq!(set.take("blobs/x"), Some(Fault::FlipBytes));
        assert_eq!(set.take("blobs/x"), Some(Fault::IgnoreRange));
        assert_eq!(set.take("feed.xml"), Some(Fault::IgnoreRange));
        assert_eq!(set.take("blobs/x"), None);
        set.replace(vec![Rule::all(Fault::BlackHole)]);
        for _ in 0..3 {
            assert_eq!(set.take("anything"), Some(Fault::BlackHole));
        }
    }

    #[test]
    fn parse_and_display_round_trip() {
        for text in [
            "black-hole",
            "status:503",
            "status:503:7",
            "stall-after:10",
            "trickle:1000",
            "truncate:5",
            "flip-bytes",
            "corrupt-at:1048576",
            "ignore-range",
            "drop-after:3",
            "delay:250ms",
            "serve-from:/srv/old-mirror",
            "redirect:http://127.0.0.1:631/admin",
        ] {
            let fault: Fault = text.parse().unwrap();
            assert_eq!(fault.to_string(), text);
        }
        assert_eq!(
            "delay:2s".parse::<Fault>().unwrap(),
            Fault::Delay(Duration::from_secs(2))
        );
        let rule: Rule = "status:429:3@blobs/*#2".parse().unwrap();
        assert_eq!(
            rule,
            Rule::path(
                PathMatch::prefix("blobs/"),
                Fault::Status {
                    code: 429,
                    retry_after: Some(3)
                }
            )
            .times(2)
        );
        assert_eq!(rule.to_string(), "status:429:3@blobs/*#2");
        let rule: Rule = "truncate:4@library.json".parse().unwrap();
        assert_eq!(rule.path, PathMatch::exact("library.json"));
        assert_eq!(rule.times, None);
        for bad in [
            "",
            "nope",
            "status",
            "status:abc",
            "status:42",
            "truncate",
            "truncate:1:2",
            "black-hole:1",
            "flip-bytes#x",
        ] {
            assert!(bad.parse::<Rule>().is_err(), "{bad:?} should not parse");
        }
    }
}
