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

/// What to start when no keyring answers, where the member can.
#[cfg(target_os = "linux")]
const KEYRING_HINT: &str = ", or start a Secret Service (GNOME Keyring, KWallet)";
#[cfg(not(target_os = "linux"))]
const KEYRING_HINT: &str = "";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("no OS keyring is available ({0}); set STOWAWAY_TOKEN_<LIBRARY> instead{hint}", hint = KEYRING_HINT)]
    Unavailable(String),
    #[error("the OS keyring is locked or refused access ({0})")]
    Denied(String),
    #[error(transparent)]
    Token(#[from] MirrorError),
    #[error("keyring error: {0}")]
    Other(String),
    #[error("{var} would match libraries {0} and {1}; keep their tokens in the keyring instead", .libraries.0, .libraries.1)]
    Ambiguous {
        var: String,
        libraries: (String, String),
    },
}

impl SecretsError {
    pub fn code(&self) -> &'static str {
        match self {
            SecretsError::Unavailable(_) => "keyring_unavailable",
            SecretsError::Denied(_) => "keyring_denied",
            SecretsError::Token(e) => e.code(),
            SecretsError::Other(_) => "keyring",
            SecretsError::Ambiguous { .. } => "token_env_ambiguous",
        }
    }
}

fn map(e: keyring::Error) -> SecretsError {
    match e {
        keyring::Error::PlatformFailure(e) => SecretsError::Unavailable(e.to_string()),
        keyring::Error::NoStorageAccess(e) => SecretsError::Denied(e.to_string()),
        // The Windows Credential Manager keeps at most 1280 characters.
        keyring::Error::TooLong(what, max) => SecretsError::Other(format!(
            "the access token is longer than this keyring keeps ({what}: at most {max}); set STOWAWAY_TOKEN_<LIBRARY> instead"
        )),
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
/// `Ok(None)` when there is none. `subscribed` are all subscribed library
/// ids: an environment variable that would name two of them is refused
/// rather than sent to the wrong library's mirrors. Blocking (the keyring
/// may ask to unlock): call it off the async runtime's worker threads.
pub fn load(library: &str, subscribed: &[String]) -> Result<Option<AccessToken>, SecretsError> {
    let var = env_var(library);
    if let Ok(t) = std::env::var(&var) {
        if let Some(other) = subscribed
            .iter()
            .find(|o| o.as_str() != library && env_var(o) == var)
        {
            return Err(SecretsError::Ambiguous {
                var,
                libraries: (library.to_owned(), other.clone()),
            });
        }
        return Ok(Some(AccessToken::new(&t)?));
    }
    match entry(library)?.get_password() {
        Ok(t) => Ok(Some(AccessToken::new(&t)?)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(map(e)),
    }
}

/// Whether this build's keyring keeps secrets beyond the process: the OS
/// store of this platform, not keyring's in-memory fallback.
pub fn persistent() -> bool {
    matches!(
        keyring::default::default_credential_builder().persistence(),
        keyring::credential::CredentialPersistence::UntilDelete
    )
}

/// Files `token` for `library` in the keyring (replacing any earlier one).
/// Refused where the keyring would only keep it in memory.
pub fn store(library: &str, token: &AccessToken) -> Result<(), SecretsError> {
    if !persistent() {
        return Err(SecretsError::Unavailable(
            "this build has no keyring for this platform".into(),
        ));
    }
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

    /// A token longer than the keyring keeps (Windows' Credential Manager:
    /// 1280 characters) is refused with what to do instead.
    #[test]
    fn a_token_too_long_for_the_keyring_says_what_to_do() {
        let e = map(keyring::Error::TooLong("password".into(), 1280)).to_string();
        assert!(e.contains("at most 1280"), "{e}");
        assert!(e.contains("STOWAWAY_TOKEN_<LIBRARY>"), "{e}");
    }

    #[test]
    fn an_environment_token_is_refused_when_it_could_be_anothers() {
        // Names no other test uses (the environment is per process).
        let var = env_var("amb-lib");
        assert_eq!(var, "STOWAWAY_TOKEN_AMB_LIB");
        std::env::set_var(&var, "t0k3n");
        let both = ["amb-lib".to_string(), "amb.lib".to_string()];
        assert!(matches!(
            load("amb-lib", &both),
            Err(SecretsError::Ambiguous { .. })
        ));
        let one = ["amb-lib".to_string()];
        assert_eq!(
            load("amb-lib", &one)
                .unwrap()
                .map(|t| t.expose().to_owned()),
            Some("t0k3n".to_owned())
        );
        std::env::remove_var(&var);
    }

    #[test]
    fn the_keyring_is_the_platforms_own_store() {
        assert!(persistent(), "keyring would keep tokens in memory only");
    }

    #[test]
    fn env_var_names() {
        assert_eq!(env_var("acme"), "STOWAWAY_TOKEN_ACME");
        assert_eq!(
            env_var("acme-coaching.pro"),
            "STOWAWAY_TOKEN_ACME_COACHING_PRO"
        );
    }
}
