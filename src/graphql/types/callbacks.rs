//! `OrderCallback` (a reseller's callback URL; the secret is never shown again)
//! and `CallbackDelivery` (one push of an order status change, as the log shows it).

use async_graphql::{ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    db::{
        callbacks::{CallbackRow, DeliveryRow},
        enums::CallbackDeliveryStatus,
    },
    domain::callbacks::delivery_id,
};

pub struct OrderCallback(pub CallbackRow);

/// Where booster pushes the caller's order status changes, signed with the
/// Standard Webhooks scheme (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
#[Object]
impl OrderCallback {
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// Set when deliveries kept failing: nothing is sent until the URL is set again.
    async fn paused_at(&self) -> Option<DateTime<Utc>> {
        self.0.paused_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The callback and, only when it was just made, its signing secret.
#[derive(SimpleObject)]
pub struct OrderCallbackPayload {
    pub callback: OrderCallback,
    /// `whsec_...`: shown once, when made (the first time, or by
    /// `rotateCallbackSecret`); keep it to verify signatures.
    pub secret: Option<String>,
}

pub struct CallbackDelivery(pub DeliveryRow);

/// One push of an order status change to the caller's callback URL.
#[Object]
impl CallbackDelivery {
    /// The delivery id receivers dedupe on (`webhook-id`).
    async fn id(&self) -> ID {
        delivery_id(self.0.id).into()
    }

    async fn order_id(&self) -> ID {
        self.0.order_id.into()
    }

    async fn status(&self) -> CallbackDeliveryStatus {
        self.0.status
    }

    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// The receiver's last HTTP status, if it answered.
    async fn last_status_code(&self) -> Option<i32> {
        self.0.last_status_code
    }

    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == CallbackDeliveryStatus::Pending).then_some(self.0.next_attempt_at)
    }

    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
