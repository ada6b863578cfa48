//! Encryption of secrets the panel must be able to read back (provider API keys):
//! AES-256-GCM with a random nonce per value, key from `BOOSTER_SECRET_KEY`.
//! Secrets the panel only has to recognise (tokens, API keys) are hashed instead,
//! see `auth::tokens`. Links the panel hands out and must recognise without storing
//! anything (newsletter confirmation and unsubscribe) carry a [`TokenSigner`] token:
//! HMAC-SHA256 under a key derived from the same secret, bound to a purpose and a
//! subject (the address), so a token for one address or purpose fits no other.

use aes_gcm::{Aes256Gcm, KeyInit, Nonce, aead::Aead};
use rand::RngCore;

use crate::config::SecretKey;

const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl SecretBox {
    pub fn new(key: &SecretKey) -> Self {
        SecretBox {
            cipher: Aes256Gcm::new(&key.0.into()),
        }
    }

    /// `nonce || ciphertext+tag`.
    pub fn encrypt(&self, plaintext: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn decrypt(&self, sealed: &[u8]) -> anyhow::Result<String> {
        if sealed.len() < NONCE_LEN {
            anyhow::bail!("sealed secret is too short");
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| anyhow::anyhow!("secret cannot be decrypted with BOOSTER_SECRET_KEY"))?;
        Ok(String::from_utf8(plaintext)?)
    }
}

/// Signs and checks link tokens. The HMAC key is derived from `BOOSTER_SECRET_KEY`
/// (never the AES key itself), and each token covers `purpose`, `subject` and its
/// expiry: `<expiry unix seconds, 0 for none>.<base64url MAC>`.
#[derive(Clone)]
pub struct TokenSigner {
    key: [u8; 32],
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

impl TokenSigner {
    pub fn new(secret: &SecretKey) -> Self {
        use hmac::Mac;
        let mut mac = <HmacSha256 as hmac::Mac>::new_from_slice(&secret.0)
            .expect("HMAC takes any key length");
        mac.update(b"booster link tokens v1");
        TokenSigner {
            key: mac.finalize().into_bytes().into(),
        }
    }

    fn mac(&self, purpose: &str, subject: &str, expires: i64) -> HmacSha256 {
        use hmac::Mac;
        let mut mac = <HmacSha256 as hmac::Mac>::new_from_slice(&self.key)
            .expect("HMAC takes any key length");
        // Lengths first, so no two (purpose, subject) pairs hash the same bytes.
        for part in [purpose.as_bytes(), subject.as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.update(&expires.to_be_bytes());
        mac
    }

    /// A token for `subject` and `purpose`, valid until `expires` (unix seconds) or
    /// for ever with `None`.
    pub fn sign(&self, purpose: &str, subject: &str, expires: Option<i64>) -> String {
        use base64::Engine;
        use hmac::Mac;
        let expires = expires.unwrap_or(0);
        let tag = self.mac(purpose, subject, expires).finalize().into_bytes();
        format!(
            "{expires}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Whether `token` was signed for exactly this `subject` and `purpose` and has
    /// not expired at `now` (unix seconds). The comparison takes constant time.
    pub fn verify(&self, purpose: &str, subject: &str, token: &str, now: i64) -> bool {
        use base64::Engine;
        use hmac::Mac;
        // A real token is about 55 characters; anything far longer is not one.
        if token.len() > 200 {
            return false;
        }
        let Some((expires, tag)) = token.split_once('.') else {
            return false;
        };
        let Ok(expires) = expires.parse::<i64>() else {
            return false;
        };
        if expires != 0 && expires < now {
            return false;
        }
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        self.mac(purpose, subject, expires)
            .verify_slice(&tag)
            .is_ok()
    }
}

/// A form safe to show: the last four characters only.
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let sealed_box = SecretBox::new(&SecretKey([7; 32]));
        let sealed = sealed_box.encrypt("provider-key-123");
        assert_eq!(sealed_box.decrypt(&sealed).unwrap(), "provider-key-123");
        assert_ne!(
            sealed_box.encrypt("provider-key-123"),
            sealed,
            "nonces differ"
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(sealed_box.decrypt(&tampered).is_err());
        assert!(
            SecretBox::new(&SecretKey([8; 32]))
                .decrypt(&sealed)
                .is_err()
        );
        assert_eq!(mask_secret("abcdef123456"), "****3456");
        assert_eq!(mask_secret("ab"), "****ab");
    }

    #[test]
    fn link_tokens_are_bound_to_purpose_subject_key_and_time() {
        let signer = TokenSigner::new(&SecretKey([7; 32]));
        let token = signer.sign("confirm", "a@example.com", Some(1_000));
        assert!(signer.verify("confirm", "a@example.com", &token, 999));
        assert!(
            !signer.verify("confirm", "a@example.com", &token, 1_001),
            "expired"
        );
        assert!(
            !signer.verify("confirm", "b@example.com", &token, 999),
            "other address"
        );
        assert!(
            !signer.verify("unsubscribe", "a@example.com", &token, 999),
            "other purpose"
        );
        let other_key = TokenSigner::new(&SecretKey([8; 32]));
        assert!(!other_key.verify("confirm", "a@example.com", &token, 999));
        // Moving the expiry breaks the MAC.
        let (_, tag) = token.split_once('.').unwrap();
        assert!(!signer.verify("confirm", "a@example.com", &format!("0.{tag}"), 999));
        let forever = signer.sign("unsubscribe", "a@example.com", None);
        assert!(signer.verify("unsubscribe", "a@example.com", &forever, i64::MAX));
        assert!(!signer.verify("unsubscribe", "a@example.com", "garbage", 0));
    }
}
