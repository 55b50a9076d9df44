//! `stowaway-publish subscription`: the `.stowaway` file a member is handed.
//!
//! Without `--library`, the library id and title are read from the first
//! mirror that serves a catalog verifying with the given key, which also
//! proves the mirrors are set up before the file goes out.

use anyhow::{bail, Result};
use stowaway_catalog::{
    verify_catalog, Access, PublicKey, Subscription, CATALOG_FILE, MAX_CATALOG_BYTES,
    MAX_SIGNATURE_BYTES, SIGNATURE_FILE, SUBSCRIPTION_FORMAT,
};
use stowaway_mirrors::{AccessToken, ClientConfig, Mirror, MirrorClient};

pub async fn make_subscription(
    key: &PublicKey,
    mirrors: &[String],
    library: Option<String>,
    title: Option<String>,
    access: Access,
    token: Option<&AccessToken>,
) -> Result<Subscription> {
    if mirrors.is_empty() {
        bail!("give at least one --mirror");
    }
    let (library, title) = match library {
        Some(id) => (id, title),
        None => {
            let client = MirrorClient::new(ClientConfig::default())?;
            let mut errors = Vec::new();
            let mut found = None;
            for url in mirrors {
                let m = Mirror::parse(url)?.with_token(token);
                let fetched = async {
                    let bytes = client
                        .fetch_small(&m, CATALOG_FILE, MAX_CATALOG_BYTES as u64)
                        .await?;
                    let sig = client
                        .fetch_small(&m, SIGNATURE_FILE, MAX_SIGNATURE_BYTES as u64)
                        .await?;
                    anyhow::Ok(verify_catalog(&bytes, &sig, key, None)?)
                }
                .await;
                match fetched {
                    Ok(v) => {
                        found = Some(v.head().library.clone());
                        break;
                    }
                    Err(e) => errors.push(format!("{url}: {e:#}")),
                }
            }
            match found {
                Some(lib) => (lib.id, title.or(Some(lib.title))),
                None => bail!(
                    "no mirror served a catalog signed by this key ({}); publish first, or pass --library",
                    errors.join("; ")
                ),
            }
        }
    };
    let sub = Subscription {
        stowaway: SUBSCRIPTION_FORMAT,
        library,
        title,
        public_key: key.to_base64().to_owned(),
        mirrors: mirrors.to_vec(),
        access,
    };
    sub.validate()?;
    Ok(sub)
}
