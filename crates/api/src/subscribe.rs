//! Subscribing: what a `.stowaway` file, link or podcast feed offers, shown
//! to the member first; the confirmed offer (exactly what was shown, never a
//! second fetch) subscribed; unsubscribing; OPML lists.

use std::path::{Path, PathBuf};

use serde::Serialize;
use stowaway_catalog::{Access, Subscription};
use stowaway_sync::{FetchedFeed, Source};
use ts_rs::TS;

use crate::{Api, ApiError, ApiResult, ErrorCode, TokenSaved};

/// What a source turned out to offer, kept between the preview and the
/// member's confirmation.
pub(crate) enum Offer {
    /// A library, with the network shares shown as needing the member's
    /// say-so (the only ones confirming may allow).
    Library(Subscription, Vec<String>),
    Feed(Box<FetchedFeed>),
}

/// What a `.stowaway` file, link or podcast feed URL offers, for the member
/// to confirm.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct SubscriptionPreview {
    /// What to hand `subscribe`.
    pub source: String,
    /// The library id (for a feed: the one it will get).
    pub library: String,
    pub title: Option<String>,
    /// Mirror base URLs (for a feed: the hosts of its files).
    pub mirrors: Vec<String>,
    /// For a library already subscribed: mirrors it did not have, and
    /// mirrors this update drops (for a private one, either makes confirming
    /// forget the access token, to be given again).
    pub new_mirrors: Vec<String>,
    pub removed_mirrors: Vec<String>,
    /// Mirrors that are `file://` network shares the member has not
    /// allowed: used only if they allow them when confirming (on Windows,
    /// connecting to one offers its host their credentials).
    pub network_shares: Vec<NetworkShare>,
    /// The file says a private library is public: it stays private.
    pub access_kept: bool,
    /// Its mirrors want an access token.
    pub private: bool,
    pub already_subscribed: bool,
    /// The publisher's key every catalog must be signed with (empty for a feed).
    pub public_key: String,
    /// Set for a podcast feed (RSS or Atom), which nothing signs.
    pub feed: Option<FeedOffer>,
}

/// A network share among a library's mirrors, and the computer connecting
/// to it reaches (as the URL parser reads it: what the member is shown to
/// trust is what is connected to).
#[derive(Clone, Debug, Serialize, TS, PartialEq, Eq)]
#[ts(export)]
pub struct NetworkShare {
    pub url: String,
    pub host: String,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct FeedOffer {
    /// Where the feed is (after redirects).
    pub url: String,
    /// Episodes the library will have (with something to play).
    pub episodes: u32,
    /// Episodes it will not, one line per reason.
    pub skipped: Vec<String>,
    pub description: Option<String>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Subscribed {
    pub library: String,
    pub token: Option<TokenSaved>,
}

/// What subscribing to a library did, with what the member must be told.
#[derive(Clone, Debug, Serialize)]
pub struct LibrarySubscribed {
    pub library: String,
    pub new: bool,
    pub private: bool,
    /// The file said public; the library stays private.
    pub access_kept: bool,
    /// Its mirrors changed: the token was forgotten (here and in the keyring).
    pub token_dropped: bool,
    pub mirrors_added: Vec<String>,
    pub mirrors_removed: Vec<String>,
}

/// What unsubscribing removed.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct UnsubscribedView {
    pub library: String,
    #[ts(type = "number")]
    pub items: u64,
    pub files: u32,
    #[ts(type = "number")]
    pub bytes: u64,
    /// The keyring could not forget its token.
    pub warning: Option<String>,
}

/// What an OPML import did.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct OpmlImported {
    /// Titles of the feeds subscribed now.
    pub added: Vec<String>,
    /// Feeds that were already subscribed.
    pub already: u32,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct OpmlExported {
    pub path: String,
    pub feeds: u32,
}

/// Largest OPML text accepted.
pub const MAX_OPML: usize = 32 << 20;

impl Api {
    /// Reads what `source` offers and keeps it for [`Api::confirm`].
    pub async fn preview(&self, source: &str) -> ApiResult<SubscriptionPreview> {
        let store = self.engine.store();
        let sub = match self.engine.read_source(source).await? {
            Source::Library(sub) => sub,
            Source::Feed(fetched) => {
                let existing = store.feed_library(fetched.url.as_str())?;
                let mut hosts: Vec<String> = Vec::new();
                for e in &fetched.feed.episodes {
                    for u in e
                        .enclosure
                        .iter()
                        .map(|x| &x.url)
                        .chain(e.alternate_enclosures.iter().flat_map(|a| a.sources.iter()))
                    {
                        let h = stowaway_sync::origin_of(u);
                        if !hosts.contains(&h) {
                            hosts.push(h);
                        }
                    }
                }
                let mapped = fetched.preview();
                let preview = SubscriptionPreview {
                    source: source.to_owned(),
                    library: existing.clone().unwrap_or_else(|| {
                        stowaway_sync::library_id_for(fetched.feed.title.as_deref(), &fetched.url)
                    }),
                    title: fetched.feed.title.clone(),
                    mirrors: hosts,
                    new_mirrors: Vec::new(),
                    removed_mirrors: Vec::new(),
                    network_shares: Vec::new(),
                    access_kept: false,
                    private: false,
                    already_subscribed: existing.is_some(),
                    public_key: String::new(),
                    feed: Some(FeedOffer {
                        url: fetched.url.to_string(),
                        episodes: mapped.episodes as u32,
                        skipped: mapped.summary(),
                        description: fetched.feed.description.clone(),
                    }),
                };
                self.remember(source, Offer::Feed(fetched));
                return Ok(preview);
            }
        };
        let existing = store.library(&sub.library).ok();
        let (new_mirrors, removed_mirrors) = match &existing {
            Some(_) => {
                let known = store.mirrors(&sub.library)?;
                let new = sub
                    .mirrors
                    .iter()
                    .filter(|m| !known.contains(m))
                    .cloned()
                    .collect();
                let removed = store
                    .subscription_mirrors(&sub.library)?
                    .into_iter()
                    .filter(|m| !sub.mirrors.contains(m))
                    .collect();
                (new, removed)
            }
            None => (Vec::new(), Vec::new()),
        };
        let was_private = existing.as_ref().is_some_and(|l| l.private);
        let shares = self.engine.shares_not_allowed(&sub)?;
        let network_shares = shares
            .iter()
            .map(|url| NetworkShare {
                url: url.clone(),
                host: stowaway_mirrors::Mirror::share_host(url).unwrap_or_default(),
            })
            .collect();
        self.remember(source, Offer::Library(sub.clone(), shares));
        Ok(SubscriptionPreview {
            source: source.to_owned(),
            private: was_private || sub.access == Access::Token,
            access_kept: was_private && sub.access == Access::Public,
            library: sub.library,
            title: sub.title,
            mirrors: sub.mirrors,
            new_mirrors,
            removed_mirrors,
            network_shares,
            already_subscribed: existing.is_some(),
            public_key: sub.public_key,
            feed: None,
        })
    }

    /// Subscribes to what the member confirmed (the preview of `source`),
    /// with the access token of a private library if they gave one, and the
    /// network shares it showed allowed if they said so.
    pub async fn confirm(
        &self,
        source: &str,
        token: Option<&str>,
        allow_shares: bool,
    ) -> ApiResult<Subscribed> {
        let offer = self.take_offer(source).ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotPreviewed,
                "open the subscription again: it was not shown for confirmation",
            )
        })?;
        let mut shown = Vec::new();
        let library = match offer {
            Offer::Library(sub, shown_shares) => {
                shown.clone_from(&sub.mirrors);
                // Only the shares the preview named (not what the index
                // says now, which an update may have changed meanwhile).
                let shares = if allow_shares {
                    shown_shares
                } else {
                    Vec::new()
                };
                self.subscribe_library(&sub, &shares).await?.library
            }
            Offer::Feed(fetched) => {
                let engine = self.engine.clone();
                tokio::task::spawn_blocking(move || engine.subscribe_feed(&fetched))
                    .await??
                    .library
            }
        };
        let token = match token.filter(|t| !t.trim().is_empty()) {
            Some(t) => Some(self.set_token(&library, t, &shown).await?),
            None => None,
        };
        Ok(Subscribed { library, token })
    }

    /// Records a library subscription, the network shares among its
    /// mirrors in `shares` allowed by the member (see
    /// `Engine::subscribe_allowing`). New or dropped mirrors of a private
    /// library drop its token, here and in the keyring: the member is asked
    /// for it again.
    pub async fn subscribe_library(
        &self,
        sub: &Subscription,
        shares: &[String],
    ) -> ApiResult<LibrarySubscribed> {
        let outcome = self.engine.subscribe_allowing(sub, shares)?;
        let library = sub.library.clone();
        if outcome.token_dropped {
            if let Err(e) = self.forget_token(&library).await {
                tracing::warn!(library, error = %e, "cannot remove the old token from the keyring");
            }
            self.set_status(|s| {
                if !s.needs_token.contains(&library) {
                    s.needs_token.push(library.clone());
                }
            });
        } else if outcome.private {
            // A private library whose token the keyring already holds.
            self.load_tokens().await?;
        }
        Ok(LibrarySubscribed {
            library,
            new: outcome.new,
            private: outcome.private,
            access_kept: outcome.access_kept,
            token_dropped: outcome.token_dropped,
            mirrors_added: outcome.mirrors_added,
            mirrors_removed: outcome.mirrors_removed,
        })
    }

    /// Removes a library the member confirmed removing: its rows, its files
    /// no other library uses, its token in the keyring.
    pub async fn unsubscribe(&self, library: &str) -> ApiResult<UnsubscribedView> {
        let private = self.engine.store().library(library)?.private;
        let engine = self.engine.clone();
        let lib = library.to_owned();
        let gone = tokio::task::spawn_blocking(move || engine.unsubscribe(&lib)).await??;
        let mut warning = None;
        if private {
            if let Err(e) = self.forget_token(library).await {
                tracing::warn!(library, error = %e, "cannot remove the token from the keyring");
                warning = Some(format!(
                    "cannot remove its access token from the keyring: {e}"
                ));
            }
        }
        self.set_status(|s| s.needs_token.retain(|l| l != library));
        Ok(UnsubscribedView {
            library: gone.library,
            items: gone.items,
            files: gone.blobs,
            bytes: gone.bytes,
            warning,
        })
    }

    /// Subscribes to every feed of an OPML text; the next sync fetches them.
    pub fn import_opml(&self, text: &str) -> ApiResult<OpmlImported> {
        if text.len() > MAX_OPML {
            return Err(ApiError::new(
                ErrorCode::TooLarge,
                "that file is larger than 32 MiB: not a subscription list",
            ));
        }
        let done = self.engine.import_opml(text.as_bytes())?;
        let added: Vec<String> = done
            .iter()
            .filter(|f| f.new)
            .map(|f| f.title.clone())
            .collect();
        Ok(OpmlImported {
            already: (done.len() - added.len()) as u32,
            added,
        })
    }

    /// Writes every podcast subscription as OPML into `dir`, never over
    /// another file.
    pub fn export_opml_into(&self, dir: &Path) -> ApiResult<OpmlExported> {
        let (text, n) = self.engine.export_opml()?;
        std::fs::create_dir_all(dir)?;
        let path: PathBuf = (1..1000)
            .map(|i| {
                dir.join(if i == 1 {
                    "stowaway-podcasts.opml".to_owned()
                } else {
                    format!("stowaway-podcasts-{i}.opml")
                })
            })
            .find(|p| !p.exists())
            .ok_or_else(|| ApiError::new(ErrorCode::Storage, "too many exports in that folder"))?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))?;
        Ok(OpmlExported {
            path: path.display().to_string(),
            feeds: n as u32,
        })
    }

    fn remember(&self, source: &str, offer: Offer) {
        let mut p = self.previews.lock().unwrap_or_else(|p| p.into_inner());
        if p.len() > 32 {
            p.clear(); // previews nobody confirmed
        }
        p.insert(source.to_owned(), offer);
    }

    fn take_offer(&self, source: &str) -> Option<Offer> {
        self.previews
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(source)
    }
}
