//! `notifications`: messages for one customer (`user_id` set) or for the admins
//! (`user_id` null), with their read state.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::notifications;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
pub struct NotificationRow {
    pub id: i64,
    pub user_id: Option<i64>,
    pub kind: String,
    pub message: String,
    pub order_id: Option<i64>,
    pub provider_id: Option<i64>,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl NotificationRow {
    /// The newest `limit` notifications of a user, or of the admins' feed for `None`.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        user_id: Option<i64>,
        limit: i64,
    ) -> QueryResult<Vec<NotificationRow>> {
        let mut q = notifications::table.into_boxed();
        q = match user_id {
            Some(id) => q.filter(notifications::user_id.eq(id)),
            None => q.filter(notifications::user_id.is_null()),
        };
        q.order(notifications::id.desc())
            .limit(limit)
            .select(NotificationRow::as_select())
            .load(conn)
            .await
    }
}
