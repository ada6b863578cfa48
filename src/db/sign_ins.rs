//! `sign_ins`: every sign-in attempt (method, outcome, client address and agent),
//! kept for `SIGN_IN_HISTORY_DAYS`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::SignInMethod,
    pagination::{KeysetPage, Paginated, paginate_keyset},
    schema::sign_ins,
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sign_ins, check_for_backend(diesel::pg::Pg))]
pub struct SignInRow {
    pub id: i64,
    pub user_id: Option<i64>,
    pub method: SignInMethod,
    pub succeeded: bool,
    /// Why it failed: `WRONG_PASSWORD`, `SLOWED_DOWN`, `SUSPENDED`, `NO_ACCOUNT`.
    pub failure: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sign_ins)]
pub struct NewSignIn<'a> {
    pub user_id: Option<i64>,
    pub method: SignInMethod,
    pub succeeded: bool,
    pub failure: Option<&'a str>,
    pub ip_address: Option<&'a str>,
    pub user_agent: &'a str,
}

impl SignInRow {
    pub async fn insert(conn: &mut AsyncPgConnection, new: &NewSignIn<'_>) -> QueryResult<usize> {
        diesel::insert_into(sign_ins::table)
            .values(new)
            .execute(conn)
            .await
    }

    /// A user's attempts, newest first.
    pub async fn of_user(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        page: KeysetPage,
    ) -> QueryResult<Paginated<SignInRow>> {
        let build = || {
            sign_ins::table
                .filter(sign_ins::user_id.eq(user_id))
                .select(SignInRow::as_select())
                .into_boxed()
        };
        paginate_keyset(conn, build, sign_ins::id, page).await
    }

    /// Whether the user ever signed in successfully from this address.
    pub async fn succeeded_from(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        ip_address: &str,
    ) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            sign_ins::table
                .filter(sign_ins::user_id.eq(user_id))
                .filter(sign_ins::succeeded.eq(true))
                .filter(sign_ins::ip_address.eq(ip_address)),
        ))
        .get_result(conn)
        .await
    }

    /// Whether the user ever signed in successfully at all.
    pub async fn ever_succeeded(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            sign_ins::table
                .filter(sign_ins::user_id.eq(user_id))
                .filter(sign_ins::succeeded.eq(true)),
        ))
        .get_result(conn)
        .await
    }

    /// Drops attempts older than `before`.
    pub async fn delete_before(
        conn: &mut AsyncPgConnection,
        before: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::delete(sign_ins::table.filter(sign_ins::created_at.lt(before)))
            .execute(conn)
            .await
    }
}
