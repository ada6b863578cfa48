//! Callback outbox: pushes each order status change to its owner's callback URL,
//! signed (Standard Webhooks), on the one outbox runtime (`outbox.rs`): claimed
//! with a lease, sent with no transaction open, the earliest pending delivery of
//! each order first (so a receiver sees an order's changes in order), at least
//! once with the delivery id to dedupe on. A failed delivery is tried again after
//! `CALLBACK_RETRY_SECONDS`, doubling to an hour; one failing for
//! `CALLBACK_GIVE_UP_HOURS` is given up and its receiver paused, its owner told.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use super::outbox::{self, Outbox, OutboxReport, Pace, Recorded};
use crate::{
    app::AppState,
    callbacks::sender::{CallbackSender, SendOutcome},
    config::CallbacksConfig,
    crypto::SecretBox,
    db::{
        callbacks::{CallbackRow, DeliveryRow},
        claim::Claim,
        order_events::OrderEventRow,
        orders::OrderRow,
    },
    domain::callbacks::{self, delivery_id},
    error::{AppError, AppResult},
};

super::job!(CallbackOutbox, "callback outbox", callbacks.outbox_interval);

/// Deliveries claimed at once.
const BATCH: i64 = 20;

/// A claimed delivery with what its call needs.
pub struct Call {
    delivery: DeliveryRow,
    url: String,
    secret: String,
    body: String,
}

struct Callbacks<'a> {
    sender: CallbackSender,
    secrets: &'a SecretBox,
    config: &'a CallbacksConfig,
}

impl Callbacks<'_> {
    /// The calls of `claimed`: their receivers, changes and orders read in three
    /// statements for the batch.
    async fn prepare(
        &self,
        conn: &mut AsyncPgConnection,
        claimed: Vec<DeliveryRow>,
    ) -> AppResult<Vec<Call>> {
        let ids = |f: fn(&DeliveryRow) -> i64| claimed.iter().map(f).collect::<Vec<_>>();
        let receivers: HashMap<i64, CallbackRow> =
            CallbackRow::for_users(conn, &ids(|d| d.user_id))
                .await?
                .into_iter()
                .map(|c| (c.user_id, c))
                .collect();
        let events: HashMap<i64, OrderEventRow> =
            OrderEventRow::load_many(conn, &ids(|d| d.event_id))
                .await?
                .into_iter()
                .map(|e| (e.id, e))
                .collect();
        let orders: HashMap<i64, OrderRow> = OrderRow::load_many(conn, &ids(|d| d.order_id))
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
        let mut calls = Vec::with_capacity(claimed.len());
        for delivery in claimed {
            let (Some(receiver), Some(event), Some(order)) = (
                receivers.get(&delivery.user_id),
                events.get(&delivery.event_id),
                orders.get(&delivery.order_id),
            ) else {
                continue;
            };
            let secret = self
                .secrets
                .decrypt(&receiver.secret_encrypted)
                .map_err(AppError::internal)?;
            let body = callbacks::payload(&delivery, event, order).to_string();
            calls.push(Call {
                url: receiver.url.clone(),
                secret,
                body,
                delivery,
            });
        }
        Ok(calls)
    }
}

#[async_trait::async_trait]
impl Outbox for Callbacks<'_> {
    type Item = Call;
    /// The receiver's 2xx status.
    type Receipt = u16;
    type Failure = SendOutcome;

    fn pace(&self) -> Pace {
        Pace::from_settings(BATCH, self.config.lease, self.config.timeout)
    }

    async fn claim(&self, conn: &mut AsyncPgConnection, claim: Claim) -> AppResult<Vec<Call>> {
        let claimed = DeliveryRow::claim_due(conn, claim).await?;
        self.prepare(conn, claimed).await
    }

    fn lease_of(&self, call: &Call) -> Option<DateTime<Utc>> {
        call.delivery.lease_until
    }

    async fn deliver(&self, call: &Call) -> Result<u16, SendOutcome> {
        let id = delivery_id(call.delivery.id);
        let outcome = self
            .sender
            .send(
                &call.url,
                &call.secret,
                &id,
                Utc::now().timestamp(),
                call.body.clone(),
            )
            .await;
        match outcome.status {
            Some(status) if outcome.delivered() => Ok(status),
            _ => Err(outcome),
        }
    }

    async fn record(
        &self,
        conn: &mut AsyncPgConnection,
        call: &Call,
        lease_until: DateTime<Utc>,
        outcome: Result<u16, SendOutcome>,
    ) -> AppResult<Recorded> {
        let delivery = &call.delivery;
        let failure = match outcome {
            Ok(status) => {
                let written =
                    DeliveryRow::mark_delivered(conn, delivery.id, lease_until, i32::from(status))
                        .await?;
                return Ok(if written {
                    Recorded::Delivered
                } else {
                    Recorded::LeaseLost
                });
            }
            Err(failure) => failure,
        };
        let retry_at = callbacks::retry_at(
            self.config,
            delivery.created_at,
            delivery.attempts,
            Utc::now(),
        );
        let why = failure.error.as_deref().unwrap_or("failed");
        tracing::info!(
            delivery_id = delivery.id,
            user_id = delivery.user_id,
            attempts = delivery.attempts,
            retrying = retry_at.is_some(),
            error = why,
            "a callback delivery failed"
        );
        let status = failure.status.map(i32::from);
        if !DeliveryRow::mark_failed_attempt(conn, delivery.id, lease_until, status, why, retry_at)
            .await?
        {
            return Ok(Recorded::LeaseLost);
        }
        if retry_at.is_some() {
            return Ok(Recorded::Retrying);
        }
        callbacks::pause_receiver(conn, delivery.user_id).await?;
        Ok(Recorded::GaveUp)
    }
}

/// Sends the due deliveries, batch by batch.
pub async fn run(state: &AppState) -> AppResult<OutboxReport> {
    let config = &state.config.callbacks;
    let sender = CallbackSender::new(config.timeout, config.allow_private_addresses)
        .map_err(AppError::internal)?;
    let callbacks = Callbacks {
        sender,
        secrets: &state.secrets,
        config,
    };
    outbox::drain(state, &callbacks).await
}
