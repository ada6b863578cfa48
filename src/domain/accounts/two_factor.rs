//! Two-factor sign-in with TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps;
//! what every authenticator app speaks).
//!
//! `enable` stores a new secret (sealed with the panel's key) and answers it with
//! its `otpauth://` URI for a QR code; `confirm` checks a first code, switches the
//! factor on and answers ten one-time recovery codes (kept as SHA-256). A code is
//! checked against the previous, current and next step, and each step is accepted
//! once (`users.totp_last_step`, one guarded UPDATE), so a code seen over a
//! shoulder or replayed by a proxy is refused.

use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::{
    crypto::SecretBox,
    db::{
        totp_recovery_codes,
        users::{UserRow, UserUpdate},
    },
    error::{AppError, AppResult},
};

pub const STEP_SECONDS: u64 = 30;
pub const RECOVERY_CODES: usize = 10;

/// What `enableTotp` answers: the secret in base32 and its `otpauth://` URI.
pub struct NewSecret {
    pub secret: String,
    pub uri: String,
}

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> AppResult<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS,
        secret,
        Some(issuer.to_string()),
        account.replace(':', " "),
    )
    .map_err(|e| AppError::internal(anyhow::anyhow!("TOTP: {e}")))
}

/// Stores a new, not yet confirmed secret (CONFLICT when the factor is on).
pub async fn enable(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    issuer: &str,
    user: &UserRow,
) -> AppResult<NewSecret> {
    if user.totp_enabled_at.is_some() {
        return Err(AppError::conflict("two-factor sign-in is on already"));
    }
    let mut secret = vec![0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    let totp = totp(secret.clone(), issuer, &user.email)?;
    let sealed = secrets.encrypt(&hex::encode(&secret));
    let update = UserUpdate {
        totp_secret_encrypted: Some(Some(sealed)),
        totp_last_step: Some(None),
        ..Default::default()
    };
    UserRow::update(conn, user.id, &update).await?;
    Ok(NewSecret {
        secret: totp.get_secret_base32(),
        uri: totp.get_url(),
    })
}

/// Switches the factor on with a first code; answers the recovery codes (shown once).
pub async fn confirm(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    user: &UserRow,
    code: &str,
) -> AppResult<Vec<String>> {
    if user.totp_enabled_at.is_some() {
        return Err(AppError::conflict("two-factor sign-in is on already"));
    }
    if user.totp_secret_encrypted.is_none() {
        return Err(AppError::validation("code", "call enableTotp first"));
    }
    if !accept_code(conn, secrets, user, code).await? {
        return Err(AppError::validation(
            "code",
            "this code is wrong or was used",
        ));
    }
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| hash_recovery(c)).collect();
    conn.transaction(async |conn| {
        let on = UserUpdate {
            totp_enabled_at: Some(Some(Utc::now())),
            ..Default::default()
        };
        UserRow::update(conn, user.id, &on).await?;
        totp_recovery_codes::replace(conn, user.id, &hashes).await?;
        Ok::<_, AppError>(())
    })
    .await?;
    Ok(codes)
}

/// Switches the factor off, given a current code or a recovery code.
pub async fn disable(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    user: &UserRow,
    code: &str,
) -> AppResult<()> {
    if user.totp_enabled_at.is_none() {
        return Err(AppError::conflict("two-factor sign-in is off"));
    }
    if !accept_code_or_recovery(conn, secrets, user, code).await? {
        return Err(AppError::validation(
            "code",
            "this code is wrong or was used",
        ));
    }
    conn.transaction(async |conn| {
        let off = UserUpdate {
            totp_secret_encrypted: Some(None),
            totp_enabled_at: Some(None),
            totp_last_step: Some(None),
            ..Default::default()
        };
        UserRow::update(conn, user.id, &off).await?;
        totp_recovery_codes::delete_all(conn, user.id).await?;
        Ok(())
    })
    .await
}

/// The second factor of a sign-in (or of minting a staff key): nothing to check
/// when the factor is off; otherwise a current code or a recovery code, once.
pub async fn check(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    user: &UserRow,
    code: Option<&str>,
) -> AppResult<()> {
    if user.totp_enabled_at.is_none() {
        return Ok(());
    }
    let code = code.filter(|c| !c.trim().is_empty()).ok_or_else(|| {
        AppError::validation(
            "totpCode",
            "this account asks for a code from its authenticator app",
        )
    })?;
    if accept_code_or_recovery(conn, secrets, user, code).await? {
        Ok(())
    } else {
        Err(AppError::Unauthenticated(
            "wrong or used two-factor code".into(),
        ))
    }
}

async fn accept_code_or_recovery(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    user: &UserRow,
    code: &str,
) -> AppResult<bool> {
    if accept_code(conn, secrets, user, code).await? {
        return Ok(true);
    }
    let recovery = code.trim().to_ascii_lowercase();
    Ok(recovery.len() == 9
        && totp_recovery_codes::consume(conn, user.id, &hash_recovery(&recovery)).await?)
}

/// Whether `code` is the code of the previous, current or next step, and that
/// step was not accepted before (then it never is again).
async fn accept_code(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    user: &UserRow,
    code: &str,
) -> AppResult<bool> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(false);
    }
    let Some(sealed) = &user.totp_secret_encrypted else {
        return Ok(false);
    };
    let secret = hex::decode(secrets.decrypt(sealed).map_err(AppError::internal)?)
        .map_err(AppError::internal)?;
    let totp = totp(secret, "booster", "user")?;
    let now = Utc::now().timestamp().max(0) as u64 / STEP_SECONDS;
    for step in [now.saturating_sub(1), now, now + 1] {
        let expected = totp.generate(step * STEP_SECONDS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            return Ok(UserRow::accept_totp_step(conn, user.id, step as i64).await?);
        }
    }
    Ok(false)
}

/// `xxxx-xxxx`, lower-case letters and digits without look-alikes.
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let chars: Vec<char> = (0..8)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!(
        "{}-{}",
        chars[..4].iter().collect::<String>(),
        chars[4..].iter().collect::<String>()
    )
}

fn hash_recovery(code: &str) -> Vec<u8> {
    Sha256::digest(code.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    #[test]
    fn recovery_codes_are_two_groups_of_four() {
        let code = super::recovery_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        assert_ne!(code, super::recovery_code());
    }
}
