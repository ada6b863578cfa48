//! `Notification`.

use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};

use crate::db::notifications::NotificationRow;

pub struct Notification(pub NotificationRow);

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// ORDER_FAILED, ORDER_NEEDS_REVIEW, PROVIDER_UNHEALTHY, PROVIDER_LOW_BALANCE, ...
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn message(&self) -> &str {
        &self.0.message
    }
    async fn order_id(&self) -> Option<ID> {
        self.0.order_id.map(Into::into)
    }
    async fn provider_id(&self) -> Option<ID> {
        self.0.provider_id.map(Into::into)
    }
    async fn read(&self) -> bool {
        self.0.read_at.is_some()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
