//! What the desktop hands the app to subscribe to: a `stowaway://` link, a
//! `.stowaway` file (path or `file://` URI), or what a member pasted.
//!
//! Link form: `stowaway://subscribe?url=<URL of the .stowaway file>`, the
//! URL percent-encoded, http(s) only. Nothing is subscribed from a link
//! without the member confirming it in the app.

use std::path::Path;

use url::Url;

/// Turns a link, URL or path into what `Engine::read_subscription` takes.
pub fn normalize(input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err(
            "paste a stowaway:// link, the URL of a .stowaway file, or pick the file".into(),
        );
    }
    if s.len() > 4096 {
        return Err("that link is too long".into());
    }
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("stowaway:") {
        let u = Url::parse(s).map_err(|e| format!("not a valid stowaway link: {e}"))?;
        if u.host_str() != Some("subscribe") {
            return Err("unknown stowaway link (expected stowaway://subscribe?url=…)".into());
        }
        let target = u
            .query_pairs()
            .find(|(k, _)| k == "url")
            .map(|(_, v)| v.into_owned())
            .ok_or("the stowaway link has no url= parameter")?;
        let t = Url::parse(&target).map_err(|e| format!("the link's url is not valid: {e}"))?;
        if !matches!(t.scheme(), "http" | "https") {
            return Err("a stowaway link may only point to an http(s) URL".into());
        }
        return Ok(t.to_string());
    }
    if lower.starts_with("file:") {
        let u = Url::parse(s).map_err(|e| format!("not a valid file URL: {e}"))?;
        let p = u
            .to_file_path()
            .map_err(|()| "not a local file".to_string())?;
        return Ok(p.display().to_string());
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Url::parse(s).map_err(|e| format!("not a valid URL: {e}"))?;
        return Ok(s.to_owned());
    }
    if s.contains("://") {
        return Err("only stowaway://, http(s):// and file:// links are understood".into());
    }
    Ok(s.to_owned())
}

/// The subscription sources in a command line (argv[0] excluded): links
/// and `.stowaway` files; relative paths resolve against `cwd`.
pub fn from_args(args: &[String], cwd: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        let lower = a.to_ascii_lowercase();
        let source = if a.starts_with('-') {
            None
        } else if lower.starts_with("stowaway:") || lower.starts_with("file:") {
            match normalize(a) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(arg = %a, error = %e, "ignoring an argument");
                    None
                }
            }
        } else if lower.ends_with(".stowaway") {
            Some(cwd.join(a).display().to_string())
        } else {
            None
        };
        if let Some(s) = source {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_urls_and_paths() {
        assert_eq!(
            normalize("stowaway://subscribe?url=https%3A%2F%2Facme.example%2Fmember.stowaway")
                .unwrap(),
            "https://acme.example/member.stowaway"
        );
        assert_eq!(
            normalize("  https://acme.example/m.stowaway\n").unwrap(),
            "https://acme.example/m.stowaway"
        );
        assert_eq!(
            normalize("file:///home/m/acme.stowaway").unwrap(),
            "/home/m/acme.stowaway"
        );
        assert_eq!(normalize("/tmp/a.stowaway").unwrap(), "/tmp/a.stowaway");
        for bad in [
            "",
            "stowaway://evil?url=https://x/",
            "stowaway://subscribe",
            "stowaway://subscribe?url=file%3A%2F%2F%2Fetc%2Fpasswd",
            "stowaway://subscribe?url=javascript%3Aalert(1)",
            "ftp://x/a.stowaway",
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn command_lines() {
        let args: Vec<String> = [
            "--minimized",
            "acme.stowaway",
            "/abs/b.STOWAWAY",
            "file:///c/c.stowaway",
            "stowaway://subscribe?url=https%3A%2F%2Fd.example%2Fd.stowaway",
            "notes.txt",
            "acme.stowaway",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            from_args(&args, Path::new("/home/m")),
            [
                "/home/m/acme.stowaway",
                "/abs/b.STOWAWAY",
                "/c/c.stowaway",
                "https://d.example/d.stowaway"
            ]
        );
    }
}
