//! Notifications: messages for a customer (their order failed) or for the admins
//! (a provider's balance is low, its services vanished, an order needs review).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{db::schema::notifications, error::AppResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
pub struct Notification {
    pub id: i64,
    pub user_id: Option<i64>,
    pub kind: String,
    pub message: String,
    pub order_id: Option<i64>,
    pub provider_id: Option<i64>,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Who a notification is for.
#[derive(Debug, Clone, Copy)]
pub enum Audience {
    User(i64),
    Admins,
}

#[derive(Debug, Clone, Default)]
pub struct About {
    pub order_id: Option<i64>,
    pub provider_id: Option<i64>,
}

pub async fn notify(
    conn: &mut AsyncPgConnection,
    audience: Audience,
    kind: &str,
    message: &str,
    about: About,
) -> AppResult<()> {
    let user_id = match audience {
        Audience::User(id) => Some(id),
        Audience::Admins => None,
    };
    diesel::insert_into(notifications::table)
        .values((
            notifications::user_id.eq(user_id),
            notifications::kind.eq(kind),
            notifications::message.eq(message),
            notifications::order_id.eq(about.order_id),
            notifications::provider_id.eq(about.provider_id),
        ))
        .execute(conn)
        .await?;
    tracing::info!(kind, ?audience, "notification");
    Ok(())
}

/// Newest first; `Audience::Admins` lists the admin feed.
pub async fn list(
    conn: &mut AsyncPgConnection,
    audience: Audience,
    limit: i64,
) -> AppResult<Vec<Notification>> {
    let mut q = notifications::table.into_boxed();
    q = match audience {
        Audience::User(id) => q.filter(notifications::user_id.eq(id)),
        Audience::Admins => q.filter(notifications::user_id.is_null()),
    };
    Ok(q.order(notifications::id.desc())
        .limit(limit)
        .select(Notification::as_select())
        .load(conn)
        .await?)
}

/// Marks notifications read; only the audience's own ones are touched.
pub async fn mark_read(
    conn: &mut AsyncPgConnection,
    audience: Audience,
    ids: &[i64],
) -> AppResult<usize> {
    let target = notifications::table
        .filter(notifications::id.eq_any(ids))
        .filter(notifications::read_at.is_null());
    let updated = match audience {
        Audience::User(id) => {
            diesel::update(target.filter(notifications::user_id.eq(id)))
                .set(notifications::read_at.eq(diesel::dsl::now))
                .execute(conn)
                .await?
        }
        Audience::Admins => {
            diesel::update(target.filter(notifications::user_id.is_null()))
                .set(notifications::read_at.eq(diesel::dsl::now))
                .execute(conn)
                .await?
        }
    };
    Ok(updated)
}
