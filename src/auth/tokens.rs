//! Bearer tokens: 256 random bits, shown to their owner once, stored as SHA-256.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of session tokens (short-lived, from sign-in).
pub const SESSION_PREFIX: &str = "bst_";
/// Prefix of API keys (long-lived, for programs).
pub const API_KEY_PREFIX: &str = "bstk_";
/// How much of an API key is kept in clear to let its owner recognise it.
pub const API_KEY_SHOWN_CHARS: usize = 12;

pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `token` has the shape [`generate`] gives (a known prefix and 43
/// base64url characters).
pub fn well_formed(token: &str) -> bool {
    let body = token
        .strip_prefix(API_KEY_PREFIX)
        .or_else(|| token.strip_prefix(SESSION_PREFIX));
    body.is_some_and(|b| {
        b.len() == 43
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    })
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let a = generate(API_KEY_PREFIX);
        let b = generate(API_KEY_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with("bstk_"));
        assert_eq!(a.len(), 5 + 43);
        assert_eq!(hash(&a), hash(&a));
        assert!(well_formed(&a) && well_formed(&generate(SESSION_PREFIX)));
        for bad in [
            "",
            "bstk_",
            "bstk_short",
            "xyz_0123456789012345678901234567890123456789012",
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
        assert!(!well_formed(&format!("{a}x")));
        assert_ne!(hash(&a), hash(&b));
    }
}
