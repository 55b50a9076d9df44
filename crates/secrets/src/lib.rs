//! Access tokens of private libraries, kept in the OS keyring (the Secret
//! Service on Linux: GNOME Keyring, KWallet; the Keychain on macOS; the
//! Credential Manager on Windows) through the `keyring` crate. Never in the
//! cache, never in a config file.
//!
//! For headless use (a server, CI) a token can come from the environment
//! instead: `STOWAWAY_TOKEN_<LIBRARY>` (the id upper-cased, `-` and `.` as
//! `_`), which wins over the keyring.
#![forbid(unsafe_code)]

use stowaway_mirrors::{AccessToken, MirrorError};

/// The keyring service name every token is filed under.
pub const SERVICE: &str = "org.stowaway.app";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("no OS keyring is available ({0}); set STOWAWAY_TOKEN_<LIBRARY> instead, or start a Secret Service (GNOME Keyring, KWallet)")]
    Unavailable(String),
    #[error("the OS keyring is locked or refused access ({0})")]
    Denied(String),
    #[error(transparent)]
    Token(#[from] MirrorError),
    #[error("keyring error: {0}")]
    Other(String),
}

impl SecretsError {
    pub fn code(&self) -> &'static str {
        match self {
            SecretsError::Unavailable(_) => "keyring_unavailable",
            SecretsError::Denied(_) => "keyring_denied",
            SecretsError::Token(e) => e.code(),
            SecretsError::Other(_) => "keyring",
        }
    }
}

fn map(e: keyring::Error) -> SecretsError {
    match e {
        keyring::Error::PlatformFailure(e) => SecretsError::Unavailable(e.to_string()),
        keyring::Error::NoStorageAccess(e) => SecretsError::Denied(e.to_string()),
        other => SecretsError::Other(other.to_string()),
    }
}

fn entry(library: &str) -> Result<keyring::Entry, SecretsError> {
    keyring::Entry::new(SERVICE, &format!("library:{library}")).map_err(map)
}

/// The environment variable that can hold `library`'s token.
pub fn env_var(library: &str) -> String {
    let id: String = library
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    format!("STOWAWAY_TOKEN_{id}")
}

/// The token for `library`: from the environment, else from the keyring.
/// `Ok(None)` when there is none. Blocking (the keyring may ask to unlock):
/// call it off the async runtime's worker threads.
pub fn load(library: &str) -> Result<Option<AccessToken>, SecretsError> {
    if let Ok(t) = std::env::var(env_var(library)) {
        return Ok(Some(AccessToken::new(&t)?));
    }
    match entry(library)?.get_password() {
        Ok(t) => Ok(Some(AccessToken::new(&t)?)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(map(e)),
    }
}

/// Files `token` for `library` in the keyring (replacing any earlier one).
pub fn store(library: &str, token: &AccessToken) -> Result<(), SecretsError> {
    entry(library)?.set_password(token.expose()).map_err(map)?;
    tracing::info!(library, "access token saved in the OS keyring");
    Ok(())
}

/// Removes `library`'s token from the keyring; false if there was none.
pub fn forget(library: &str) -> Result<bool, SecretsError> {
    match entry(library)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(map(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names() {
        assert_eq!(env_var("acme"), "STOWAWAY_TOKEN_ACME");
        assert_eq!(
            env_var("acme-coaching.pro"),
            "STOWAWAY_TOKEN_ACME_COACHING_PRO"
        );
    }
}
