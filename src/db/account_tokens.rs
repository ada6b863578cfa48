//! `account_tokens`: the single-use links mailed to a user (verify the email,
//! reset the password), kept only as the SHA-256 of their token.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{enums::AccountTokenPurpose, schema::account_tokens};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = account_tokens, check_for_backend(diesel::pg::Pg))]
pub struct AccountTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub purpose: AccountTokenPurpose,
    pub token_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = account_tokens)]
pub struct NewAccountToken<'a> {
    pub user_id: i64,
    pub purpose: AccountTokenPurpose,
    pub token_hash: &'a [u8],
    pub expires_at: DateTime<Utc>,
}

impl AccountTokenRow {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: &NewAccountToken<'_>,
    ) -> QueryResult<usize> {
        diesel::insert_into(account_tokens::table)
            .values(new)
            .execute(conn)
            .await
    }

    /// Forgets a token (its mail was not sent: one of the same kind went out recently).
    pub async fn delete_by_hash(
        conn: &mut AsyncPgConnection,
        token_hash: &[u8],
    ) -> QueryResult<usize> {
        diesel::delete(account_tokens::table.filter(account_tokens::token_hash.eq(token_hash)))
            .execute(conn)
            .await
    }

    /// Uses the token with this hash and purpose, if it is unused and unexpired:
    /// one statement, so two requests with the same link cannot both use it.
    pub async fn consume(
        conn: &mut AsyncPgConnection,
        purpose: AccountTokenPurpose,
        token_hash: &[u8],
    ) -> QueryResult<Option<AccountTokenRow>> {
        diesel::update(account_tokens::table)
            .filter(account_tokens::token_hash.eq(token_hash))
            .filter(account_tokens::purpose.eq(purpose))
            .filter(account_tokens::used_at.is_null())
            .filter(account_tokens::expires_at.gt(diesel::dsl::now))
            .set(account_tokens::used_at.eq(diesel::dsl::now))
            .returning(AccountTokenRow::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Ends every unused link of this purpose of a user (a reset done: older reset
    /// links stop working).
    pub async fn use_up_all(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        purpose: AccountTokenPurpose,
    ) -> QueryResult<usize> {
        diesel::update(account_tokens::table)
            .filter(account_tokens::user_id.eq(user_id))
            .filter(account_tokens::purpose.eq(purpose))
            .filter(account_tokens::used_at.is_null())
            .set(account_tokens::used_at.eq(diesel::dsl::now))
            .execute(conn)
            .await
    }
}

impl AccountTokenRow {
    /// The unused, unexpired token with this hash and purpose, without using it.
    pub async fn find_usable(
        conn: &mut AsyncPgConnection,
        purpose: AccountTokenPurpose,
        token_hash: &[u8],
    ) -> QueryResult<Option<AccountTokenRow>> {
        account_tokens::table
            .filter(account_tokens::token_hash.eq(token_hash))
            .filter(account_tokens::purpose.eq(purpose))
            .filter(account_tokens::used_at.is_null())
            .filter(account_tokens::expires_at.gt(diesel::dsl::now))
            .select(AccountTokenRow::as_select())
            .first(conn)
            .await
            .optional()
    }
}
