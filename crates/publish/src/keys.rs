//! Publisher keys: minisign (Ed25519) key pairs, the format Tauri's updater
//! and the `minisign` tool use.
//!
//! The secret key is encrypted with the password in `STOWAWAY_KEY_PASSWORD`
//! when that is set; otherwise it is written unencrypted with mode 0600 (the
//! publisher is told). It is never printed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Environment variable holding the secret key's password, if any.
pub const PASSWORD_ENV: &str = "STOWAWAY_KEY_PASSWORD";
pub const SECRET_KEY_FILE: &str = "stowaway.key";
pub const PUBLIC_KEY_FILE: &str = "stowaway.pub";

#[derive(Debug)]
pub struct KeygenOutcome {
    pub secret_key: PathBuf,
    pub public_key: PathBuf,
    /// The public key, base64 (`RW…`): what goes into subscriptions.
    pub public_key_base64: String,
    pub encrypted: bool,
}

fn write_new(path: &Path, contents: &[u8], secret: bool) -> Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    Ok(())
}

/// Generates a key pair in `dir`, the secret key encrypted with `password` if
/// one is given. Refuses to overwrite an existing key.
pub fn keygen(dir: &Path, password: Option<String>) -> Result<KeygenOutcome> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let sk_path = dir.join(SECRET_KEY_FILE);
    let pk_path = dir.join(PUBLIC_KEY_FILE);
    for p in [&sk_path, &pk_path] {
        if p.exists() {
            bail!(
                "{} already exists; refusing to overwrite a key (move it away first)",
                p.display()
            );
        }
    }
    let password = password.filter(|p| !p.is_empty());
    let encrypted = password.is_some();
    let kp = match password {
        Some(pw) => minisign::KeyPair::generate_encrypted_keypair(Some(pw))?,
        None => minisign::KeyPair::generate_unencrypted_keypair()?,
    };
    let sk_box = kp
        .sk
        .to_box(Some("stowaway publisher secret key"))?
        .into_string();
    let pk_box = kp.pk.to_box()?.into_string();
    write_new(&sk_path, sk_box.as_bytes(), true)?;
    write_new(&pk_path, pk_box.as_bytes(), false)?;
    Ok(KeygenOutcome {
        secret_key: sk_path,
        public_key: pk_path,
        public_key_base64: kp.pk.to_base64(),
        encrypted,
    })
}

/// Loads a secret key file, decrypting it with `STOWAWAY_KEY_PASSWORD` if it
/// is encrypted.
pub fn load_secret_key(path: &Path) -> Result<minisign::SecretKey> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read secret key {}", path.display()))?;
    let parse = || {
        minisign::SecretKeyBox::from_string(&text)
            .with_context(|| format!("{} is not a minisign secret key", path.display()))
    };
    let sk = match parse()?.into_unencrypted_secret_key() {
        Ok(sk) => sk,
        Err(_) => {
            let Some(pw) = std::env::var(PASSWORD_ENV).ok() else {
                bail!(
                    "{} is encrypted: set {PASSWORD_ENV} to its password",
                    path.display()
                );
            };
            parse()?
                .into_secret_key(Some(pw))
                .with_context(|| format!("cannot decrypt {} with {PASSWORD_ENV}", path.display()))?
        }
    };
    Ok(sk)
}

/// Loads a public key from a `.pub` file or from the base64 key itself.
pub fn load_public_key(path_or_key: &str) -> Result<stowaway_catalog::PublicKey> {
    let text = if Path::new(path_or_key).is_file() {
        fs::read_to_string(path_or_key)
            .with_context(|| format!("cannot read public key {path_or_key}"))?
    } else {
        path_or_key.to_owned()
    };
    Ok(stowaway_catalog::PublicKey::parse(&text)?)
}
