//! Shared by the sync integration tests: a small signed library.

use std::path::Path;

use stowaway_catalog::Subscription;

pub const SIZE: usize = 3 << 20;

/// A signed mirror tree in `root/mirror` with one show of two 3 MiB
/// episodes; returns the subscription for a mirror at `url`.
pub fn publish(root: &Path, library: &str, url: &str) -> Subscription {
    publish_sized(root, library, url, SIZE)
}

/// [`publish`] with episodes of `size` bytes.
#[allow(dead_code)] // not every test binary uses it
pub fn publish_sized(root: &Path, library: &str, url: &str, size: usize) -> Subscription {
    publish_format(root, library, url, size, 2)
}

/// [`publish_sized`] in catalog `format` (1: no chunk lists). Libraries
/// whose ids have the same length publish the same bytes.
#[allow(dead_code)] // not every test binary uses it
pub fn publish_format(
    root: &Path,
    library: &str,
    url: &str,
    size: usize,
    format: u32,
) -> Subscription {
    let source = root.join("source");
    std::fs::create_dir_all(source.join("media")).unwrap();
    let mut toml = format!(
        "[library]\nid = \"{library}\"\ntitle = \"Acme\"\n\n[[collection]]\nid = \"show\"\nkind = \"show\"\ntitle = \"Show\"\n",
    );
    for e in 1..=2u8 {
        let salt = library.len() as u8;
        let data: Vec<u8> = (0..size)
            .map(|i| (i as u8).wrapping_mul(e).wrapping_add(e ^ salt))
            .collect();
        std::fs::write(source.join(format!("media/e{e}.ogg")), data).unwrap();
        toml.push_str(&format!(
            "\n[[collection.item]]\nid = \"e{e}\"\ntitle = \"Episode {e}\"\nmedia = \"media/e{e}.ogg\"\n"
        ));
    }
    std::fs::write(source.join("library.toml"), toml).unwrap();
    let keys = stowaway_publish::keygen(&root.join("keys"), None).unwrap();
    stowaway_publish::build(&stowaway_publish::BuildOptions {
        source,
        out: root.join("mirror"),
        secret_key: keys.secret_key,
        mirrors: vec![],
        refresh: false,
        format,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
    Subscription {
        stowaway: 1,
        library: library.into(),
        title: None,
        public_key: keys.public_key_base64,
        mirrors: vec![url.to_owned()],
        access: Default::default(),
    }
}
