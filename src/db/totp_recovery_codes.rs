//! `totp_recovery_codes`: the one-time codes that stand in for an authenticator
//! app, kept as SHA-256.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::totp_recovery_codes;

/// Replaces a user's codes with these (hashes).
pub async fn replace(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    hashes: &[Vec<u8>],
) -> QueryResult<()> {
    diesel::delete(totp_recovery_codes::table.filter(totp_recovery_codes::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = hashes
        .iter()
        .map(|hash| {
            (
                totp_recovery_codes::user_id.eq(user_id),
                totp_recovery_codes::code_hash.eq(hash),
            )
        })
        .collect();
    diesel::insert_into(totp_recovery_codes::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// Uses an unused code of the user, in one statement: true when it was one.
pub async fn consume(conn: &mut AsyncPgConnection, user_id: i64, hash: &[u8]) -> QueryResult<bool> {
    let used = diesel::update(totp_recovery_codes::table)
        .filter(totp_recovery_codes::user_id.eq(user_id))
        .filter(totp_recovery_codes::code_hash.eq(hash))
        .filter(totp_recovery_codes::used_at.is_null())
        .set(totp_recovery_codes::used_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(used == 1)
}

/// Drops every code of the user (two-factor sign-in switched off).
pub async fn delete_all(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<usize> {
    diesel::delete(totp_recovery_codes::table.filter(totp_recovery_codes::user_id.eq(user_id)))
        .execute(conn)
        .await
}
