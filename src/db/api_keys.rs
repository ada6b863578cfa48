//! `api_keys`: long-lived keys for programs (agencies, resellers), stored hashed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::api_keys;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub struct ApiKeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub key_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a [u8],
}

impl ApiKeyRow {
    /// The keys of many users, newest first within each user.
    pub async fn for_users(
        conn: &mut diesel_async::AsyncPgConnection,
        user_ids: &[i64],
    ) -> QueryResult<Vec<ApiKeyRow>> {
        let query = api_keys::table
            .filter(api_keys::user_id.eq_any(user_ids))
            .order((api_keys::user_id, api_keys::id.desc()))
            .select(ApiKeyRow::as_select());
        diesel_async::RunQueryDsl::load(query, conn).await
    }
}
