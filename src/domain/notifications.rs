//! Notifications: messages for a customer (their order failed) or for the admins
//! (a provider's balance is low, its services vanished, an order needs review).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{db::schema::notifications, error::AppResult};

/// Who a notification is for.
#[derive(Debug, Clone, Copy)]
pub enum Audience {
    User(i64),
    Admins,
}

impl Audience {
    /// The `notifications.user_id` of this audience (null for the admins' feed).
    pub fn user_id(self) -> Option<i64> {
        match self {
            Audience::User(id) => Some(id),
            Audience::Admins => None,
        }
    }
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
    let user_id = audience.user_id();
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
