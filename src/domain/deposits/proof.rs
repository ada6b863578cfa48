//! A customer's proof of transfer: one image per manual deposit (PNG, JPEG or
//! WebP, recognised by its first bytes, never by a name or a declared type), at
//! most `DEPOSIT_PROOF_MAX_BYTES`, kept in the database and served only to the
//! deposit's owner and to staff with the DEPOSITS permission.

use chrono::Utc;
use diesel_async::AsyncPgConnection;

use super::manual::MAX_NOTE_CHARS;
use crate::{
    db::{
        bank_mutations::DepositProofRow,
        deposits::{DepositChangeset, DepositRow},
        enums::{DepositStatus, PaymentGateway, Permission},
    },
    domain::text::check_text,
    error::{AppError, AppResult},
    identity::AuthUser,
};

/// The image type of `bytes` from its signature, if it is one we keep. Pure.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Keeps the customer's proof (replacing an earlier one) and note for their own
/// open or expired manual deposit.
pub async fn attach(
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
    deposit_id: i64,
    bytes: Vec<u8>,
    note: Option<&str>,
    max_bytes: usize,
) -> AppResult<DepositRow> {
    let deposit = DepositRow::find(conn, deposit_id)
        .await?
        .filter(|d| d.user_id == user.id())
        .ok_or(AppError::NotFound("deposit"))?;
    if deposit.gateway != PaymentGateway::Manual
        || !matches!(
            deposit.status,
            DepositStatus::Pending | DepositStatus::Expired
        )
    {
        return Err(AppError::validation(
            "depositId",
            "a proof can be attached to an unpaid transfer or QRIS deposit only",
        ));
    }
    if bytes.len() > max_bytes {
        return Err(AppError::validation(
            "file",
            format!("the image is larger than {max_bytes} bytes"),
        ));
    }
    let content_type = image_type(&bytes).ok_or_else(|| {
        AppError::validation("file", "the proof must be a PNG, JPEG or WebP image")
    })?;
    DepositProofRow {
        deposit_id,
        content_type: content_type.to_string(),
        bytes,
        created_at: Utc::now(),
    }
    .upsert(conn)
    .await?;
    let note = note
        .map(|note| check_text("note", note, MAX_NOTE_CHARS, false))
        .transpose()?;
    let changed = DepositChangeset {
        customer_note: note,
        updated_at: Some(Utc::now()),
        ..Default::default()
    };
    Ok(DepositRow::update(conn, deposit_id, &changed).await?)
}

/// The proof of a deposit for its owner or staff who may see deposits; `None`
/// for anyone else, exactly like a deposit without a proof.
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    viewer: &AuthUser,
    deposit_id: i64,
) -> AppResult<Option<DepositProofRow>> {
    let Some(deposit) = DepositRow::find(conn, deposit_id).await? else {
        return Ok(None);
    };
    if !viewer.may_see(deposit.user_id, Permission::Deposits) {
        return Ok(None);
    }
    Ok(DepositProofRow::find(conn, deposit_id).await?)
}

#[cfg(test)]
mod tests {
    use super::image_type;

    #[test]
    fn images_are_known_by_their_first_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0, 0]), Some("image/jpeg"));
        assert_eq!(image_type(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_type(b"<svg onload=alert(1)>"), None);
        assert_eq!(image_type(b"GIF89a"), None);
        assert_eq!(image_type(b""), None);
    }
}
