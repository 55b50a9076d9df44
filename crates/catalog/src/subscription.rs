//! The subscription a member is handed (a `.stowaway` file or its URL): which
//! library, the publisher's public key that every catalog must verify with, and
//! the mirrors to try first.

use serde::{Deserialize, Serialize};

use crate::{validate_id, CatalogError, PublicKey};

/// Value of the `stowaway` field: the subscription format version.
pub const SUBSCRIPTION_FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// Always [`SUBSCRIPTION_FORMAT`].
    pub stowaway: u32,
    pub library: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The publisher's minisign public key, base64 (`RW…`).
    pub public_key: String,
    /// Mirror base URLs in the publisher's order of preference.
    pub mirrors: Vec<String>,
    /// `token`: a private library; its mirrors want the member's access
    /// token (asked for once, kept in the OS keyring, never in this file).
    #[serde(default, skip_serializing_if = "Access::is_public")]
    pub access: Access,
}

/// Who may read a library's mirrors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Anyone with the URL (the content is still verified against the key).
    #[default]
    Public,
    /// Members with an access token, sent as `Authorization: Bearer`.
    Token,
}

impl Access {
    pub fn is_public(&self) -> bool {
        *self == Access::Public
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Token => "token",
        }
    }
}

impl Subscription {
    /// Parses and validates a subscription file.
    pub fn parse(bytes: &[u8]) -> Result<Subscription, CatalogError> {
        if bytes.len() > 64 * 1024 {
            return Err(CatalogError::BadSubscription("larger than 64 KiB".into()));
        }
        let s: Subscription = serde_json::from_slice(bytes)
            .map_err(|e| CatalogError::BadSubscription(e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), CatalogError> {
        let bad = |m: String| CatalogError::BadSubscription(m);
        if self.stowaway != SUBSCRIPTION_FORMAT {
            return Err(bad(format!(
                "unknown subscription version {}",
                self.stowaway
            )));
        }
        validate_id("library", &self.library).map_err(|e| bad(e.to_string()))?;
        self.public_key()?;
        if self.mirrors.is_empty() {
            return Err(bad("no mirrors".into()));
        }
        if self.mirrors.len() > 64 {
            return Err(bad("more than 64 mirrors".into()));
        }
        for m in &self.mirrors {
            let u = url::Url::parse(m).map_err(|e| bad(format!("mirror {m:?}: {e}")))?;
            if !matches!(u.scheme(), "http" | "https" | "file") {
                return Err(bad(format!("mirror {m:?}: only http, https and file URLs")));
            }
        }
        Ok(())
    }

    pub fn public_key(&self) -> Result<PublicKey, CatalogError> {
        PublicKey::parse(&self.public_key)
    }

    /// Pretty JSON, as written to a `.stowaway` file.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("serialises");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

    fn sub() -> Subscription {
        Subscription {
            stowaway: 1,
            library: "acme".into(),
            title: Some("Acme".into()),
            public_key: KEY.into(),
            mirrors: vec![
                "https://a.example/lib/".into(),
                "file:///media/usb/lib/".into(),
            ],
            access: Access::Public,
        }
    }

    #[test]
    fn round_trip() {
        let s = sub();
        assert_eq!(Subscription::parse(s.to_json().as_bytes()).unwrap(), s);
    }

    #[test]
    fn private_libraries_say_so_and_old_files_stay_public() {
        let mut s = sub();
        assert!(
            !s.to_json().contains("access"),
            "public is the default, not written"
        );
        s.access = Access::Token;
        assert!(s.to_json().contains(r#""access": "token""#));
        assert_eq!(Subscription::parse(s.to_json().as_bytes()).unwrap(), s);
        let odd = s.to_json().replace(r#""token""#, r#""password""#);
        assert!(Subscription::parse(odd.as_bytes()).is_err());
    }

    #[test]
    fn rejects_bad_fields() {
        let mut s = sub();
        s.library = "../x".into();
        assert!(Subscription::parse(s.to_json().as_bytes()).is_err());
        let mut s = sub();
        s.public_key = "not a key".into();
        assert!(Subscription::parse(s.to_json().as_bytes()).is_err());
        let mut s = sub();
        s.mirrors = vec!["ftp://x/".into()];
        assert!(Subscription::parse(s.to_json().as_bytes()).is_err());
        let mut s = sub();
        s.mirrors.clear();
        assert!(Subscription::parse(s.to_json().as_bytes()).is_err());
        assert!(Subscription::parse(b"{").is_err());
    }
}
