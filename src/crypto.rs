//! Encryption of secrets the panel must be able to read back (provider API keys):
//! AES-256-GCM with a random nonce per value, key from `BOOSTER_SECRET_KEY`.
//! Secrets the panel only has to recognise (tokens, API keys) are hashed instead,
//! see `auth::tokens`.

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
}
