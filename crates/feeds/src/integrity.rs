//! `podcast:integrity` values: Subresource Integrity hash lists.
//!
//! `value` holds one or more space-separated `<algorithm>-<base64 digest>`
//! expressions (optionally followed by `?options`, which are ignored), e.g.
//! `sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC`.
//! Unknown algorithms (`sha1`, `md5`), bad base64 and digests of the wrong
//! length are skipped with a debug log; the rest is kept.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use crate::{HashAlgorithm, Integrity};

/// Standard alphabet, padding optional (SRI generators differ).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses an SRI value into its usable digests.
pub(crate) fn parse_sri(value: &str) -> Vec<Integrity> {
    value
        .split_whitespace()
        .filter_map(parse_expression)
        .collect()
}

fn parse_expression(expression: &str) -> Option<Integrity> {
    let expression = expression.split('?').next().unwrap_or(expression);
    let Some((name, encoded)) = expression.split_once('-') else {
        tracing::debug!(expression, "SRI expression without an algorithm; ignored");
        return None;
    };
    let algorithm = match name.to_ascii_lowercase().as_str() {
        "sha256" => HashAlgorithm::Sha256,
        "sha384" => HashAlgorithm::Sha384,
        "sha512" => HashAlgorithm::Sha512,
        other => {
            tracing::debug!(algorithm = other, "unsupported SRI algorithm; ignored");
            return None;
        }
    };
    let digest = match BASE64.decode(encoded) {
        Ok(digest) => digest,
        Err(err) => {
            tracing::debug!(%err, "SRI digest is not base64; ignored");
            return None;
        }
    };
    if digest.len() != algorithm.digest_len() {
        tracing::debug!(
            len = digest.len(),
            "SRI digest has the wrong length for its algorithm; ignored"
        );
        return None;
    }
    Some(Integrity { algorithm, digest })
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use sha2::{Digest, Sha256, Sha384, Sha512};

    use super::*;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn several_algorithms_options_and_junk() {
        let d256 = Sha256::digest(b"a").to_vec();
        let d384 = Sha384::digest(b"b").to_vec();
        let d512 = Sha512::digest(b"c").to_vec();
        let value = format!(
            "  sha256-{}  sha384-{}?ct=audio/mpeg md5-AAAA sha1-{} sha512-{} sha256-!!!! sha256-{} nodash\n",
            b64(&d256),
            b64(&d384),
            b64(&d256[..20]),
            b64(&d512).trim_end_matches('='),
            b64(&d384), // wrong length for sha256
        );
        let parsed = parse_sri(&value);
        assert_eq!(
            parsed,
            vec![
                Integrity {
                    algorithm: HashAlgorithm::Sha256,
                    digest: d256
                },
                Integrity {
                    algorithm: HashAlgorithm::Sha384,
                    digest: d384
                },
                Integrity {
                    algorithm: HashAlgorithm::Sha512,
                    digest: d512
                },
            ]
        );
    }

    #[test]
    fn empty_value_is_empty() {
        assert!(parse_sri("").is_empty());
        assert!(parse_sri("   ").is_empty());
    }
}
