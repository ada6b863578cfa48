//! `sessions`: sign-in sessions, looked up by the SHA-256 of their bearer token.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::sessions;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub user_id: i64,
    pub token_hash: &'a [u8],
    pub expires_at: DateTime<Utc>,
}

impl SessionRow {
    /// A user's sessions that still work, most recently used first.
    pub async fn active_of_user(
        conn: &mut AsyncPgConnection,
        user_id: i64,
    ) -> QueryResult<Vec<SessionRow>> {
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(diesel::dsl::now))
            .order(sessions::last_used_at.desc())
            .limit(200)
            .select(SessionRow::as_select())
            .load(conn)
            .await
    }

    /// Revokes a user's sessions that still work, but `keep` (when given); answers
    /// how many. The database announces each (`notify_credentials_changed`).
    pub async fn revoke_of_user(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        only: Option<i64>,
        keep: Option<i64>,
    ) -> QueryResult<usize> {
        let mut query = diesel::update(sessions::table)
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .into_boxed();
        if let Some(id) = only {
            query = query.filter(sessions::id.eq(id));
        }
        if let Some(id) = keep {
            query = query.filter(sessions::id.ne(id));
        }
        query
            .set(sessions::revoked_at.eq(diesel::dsl::now))
            .execute(conn)
            .await
    }
}
