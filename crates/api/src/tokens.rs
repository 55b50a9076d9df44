//! Access tokens of private libraries: loaded from the keyring (or the
//! environment) into the engine, saved when the member gives one (sent only
//! to the mirrors they were shown), forgotten with a library or a change of
//! its mirrors.

use serde::Serialize;
use stowaway_mirrors::AccessToken;
use ts_rs::TS;

use crate::{Api, ApiResult};

/// Where tokens are kept. The OS keyring in the app and the CLI
/// ([`OsKeyring`]); a test may hand in its own.
pub trait Keyring: Send + Sync + 'static {
    /// `library`'s token; `all` are every library's ids (an environment
    /// variable must name only one).
    fn load(
        &self,
        library: &str,
        all: &[String],
    ) -> Result<Option<AccessToken>, stowaway_secrets::SecretsError>;
    fn store(
        &self,
        library: &str,
        token: &AccessToken,
    ) -> Result<(), stowaway_secrets::SecretsError>;
    /// Whether there was one.
    fn forget(&self, library: &str) -> Result<bool, stowaway_secrets::SecretsError>;
}

/// The OS keyring (the Secret Service, the Keychain, the Credential Manager)
/// and `STOWAWAY_TOKEN_<LIB>`.
pub struct OsKeyring;

impl Keyring for OsKeyring {
    fn load(
        &self,
        library: &str,
        all: &[String],
    ) -> Result<Option<AccessToken>, stowaway_secrets::SecretsError> {
        stowaway_secrets::load(library, all)
    }
    fn store(
        &self,
        library: &str,
        token: &AccessToken,
    ) -> Result<(), stowaway_secrets::SecretsError> {
        stowaway_secrets::store(library, token)
    }
    fn forget(&self, library: &str) -> Result<bool, stowaway_secrets::SecretsError> {
        stowaway_secrets::forget(library)
    }
}

/// Whether a private library's token could be kept in the OS keyring.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct TokenSaved {
    pub in_keyring: bool,
    pub warning: Option<String>,
}

impl Api {
    /// Hands the engine the token of every private library the keyring (or
    /// the environment) holds; returns a warning per library whose token
    /// could not be read (public libraries still sync).
    pub async fn load_tokens(&self) -> ApiResult<Vec<String>> {
        let libs = self.engine.store().libraries()?;
        let ids: Vec<String> = libs.iter().map(|l| l.id.clone()).collect();
        let mut warnings = Vec::new();
        for lib in libs.into_iter().filter(|l| l.private) {
            let (keyring, id, all) = (self.keyring.clone(), lib.id.clone(), ids.clone());
            match tokio::task::spawn_blocking(move || keyring.load(&id, &all)).await? {
                Ok(Some(t)) => self.engine.set_access_token(&lib.id, Some(t)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(library = %lib.id, error = %e, "cannot read the access token");
                    warnings.push(format!("{}: cannot read the access token: {e}", lib.id));
                }
            }
        }
        Ok(warnings)
    }

    /// Keeps a private library's token: in the keyring if there is one,
    /// else for this session only (and says so). `shown`: the library's
    /// mirrors as the member was shown them with the question; the token
    /// goes to those.
    pub async fn set_token(
        &self,
        library: &str,
        token: &str,
        shown: &[String],
    ) -> ApiResult<TokenSaved> {
        Ok(match self.give_token(library, token, shown, true).await? {
            None => TokenSaved {
                in_keyring: true,
                warning: None,
            },
            Some(e) => TokenSaved {
                in_keyring: false,
                warning: Some(format!("{e}. The token is kept only until Stowaway quits.")),
            },
        })
    }

    /// Keeps a private library's token in the keyring, or fails with
    /// `keyring` and keeps nothing (for a shell that quits at once, a
    /// token kept for the session is a token lost).
    pub async fn store_token(&self, library: &str, token: &str, shown: &[String]) -> ApiResult<()> {
        match self.give_token(library, token, shown, false).await? {
            None => Ok(()),
            Some(e) => Err(crate::ApiError::from(e).for_library(library)),
        }
    }

    /// Stores the token (the keyring's error, if it refused); hands it to
    /// the engine when stored or when `session` allows a session-only one.
    async fn give_token(
        &self,
        library: &str,
        token: &str,
        shown: &[String],
        session: bool,
    ) -> ApiResult<Option<stowaway_secrets::SecretsError>> {
        self.engine.store().library(library)?;
        let t = AccessToken::new(token).map_err(|e| {
            crate::ApiError::new(crate::ErrorCode::Invalid, e.to_string()).for_library(library)
        })?;
        let (keyring, lib, t2) = (self.keyring.clone(), library.to_owned(), t.clone());
        let kept = tokio::task::spawn_blocking(move || keyring.store(&lib, &t2)).await?;
        if kept.is_err() && !session {
            return Ok(kept.err());
        }
        self.engine.set_access_token(library, Some(t));
        self.engine.confirm_token_mirrors(library, shown)?;
        self.set_status(|s| s.needs_token.retain(|l| l != library));
        Ok(kept.err())
    }

    /// Sends the token already given (keyring or environment) to every
    /// mirror the library has now, after the member checked them.
    pub async fn trust_mirrors(&self, library: &str, shown: &[String]) -> ApiResult<()> {
        self.load_tokens().await?;
        if !self.engine.has_access_token(library) {
            return Err(crate::ApiError::new(
                crate::ErrorCode::NeedsToken,
                format!("no access token for {library} to send: give it with `stowaway token {library}`"),
            )
            .for_library(library));
        }
        self.engine.confirm_token_mirrors(library, shown)?;
        Ok(())
    }

    /// Forgets a library's token, here and in the keyring: whether the
    /// keyring had one.
    pub async fn forget_token(&self, library: &str) -> ApiResult<bool> {
        self.engine.set_access_token(library, None);
        let (keyring, lib) = (self.keyring.clone(), library.to_owned());
        Ok(tokio::task::spawn_blocking(move || keyring.forget(&lib)).await??)
    }
}
