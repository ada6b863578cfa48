//! Order-status events across processes. A status change publishes its event with
//! `pg_notify` inside the writing transaction (so it is sent only if the change
//! commits); every process holds one LISTEN connection and fans notifications out to
//! a `tokio::sync::broadcast` channel that the GraphQL subscriptions read.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::db::{enums::OrderStatus, orders::OrderEventRow};

pub const CHANNEL: &str = "booster_order_events";
/// Carries the id of a user whose credentials changed (a session or API key
/// revoked, banned, role changed): open WebSockets of that user re-check theirs.
pub const CREDENTIALS_CHANNEL: &str = "booster_credentials";

/// Announces, in the caller's transaction, that `user_id`'s credentials changed.
pub async fn credentials_changed(
    conn: &mut AsyncPgConnection,
    user_id: i64,
) -> diesel::QueryResult<()> {
    diesel::sql_query(format!(
        "SELECT pg_notify('{CREDENTIALS_CHANNEL}', $1::text)"
    ))
    .bind::<diesel::sql_types::BigInt, _>(user_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// One status change of one order, as subscribers receive it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderEvent {
    pub event_id: i64,
    pub order_id: i64,
    pub user_id: i64,
    pub status: OrderStatus,
    pub start_count: Option<i64>,
    pub remains: Option<i64>,
    pub note: String,
    pub at: DateTime<Utc>,
}

impl OrderEvent {
    /// The history row this event announces.
    pub fn to_row(&self) -> OrderEventRow {
        OrderEventRow {
            id: self.event_id,
            order_id: self.order_id,
            status: self.status,
            start_count: self.start_count,
            remains: self.remains,
            note: self.note.clone(),
            created_at: self.at,
        }
    }
}

impl Serialize for OrderStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OrderStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Publishes events in the caller's transaction: one statement however many.
pub async fn publish(
    conn: &mut AsyncPgConnection,
    events: &[OrderEvent],
) -> diesel::QueryResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let payloads: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).expect("events serialize"))
        .collect();
    diesel::sql_query(format!(
        "SELECT pg_notify('{CHANNEL}', p) FROM unnest($1::text[]) AS p"
    ))
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&payloads)
    .execute(conn)
    .await?;
    Ok(())
}

/// The in-process side: a broadcast channel fed by this process's LISTEN connection.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<OrderEvent>,
    credentials: broadcast::Sender<i64>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(4096).0,
            credentials: broadcast::channel(1024).0,
        }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<OrderEvent> {
        self.sender.subscribe()
    }

    /// Ids of users whose credentials changed, from every process.
    pub fn subscribe_credentials(&self) -> broadcast::Receiver<i64> {
        self.credentials.subscribe()
    }

    /// Starts the LISTEN loop; it reconnects after errors for as long as the process runs.
    pub fn start_listener(&self, database_url: String) {
        let bus = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = listen(&database_url, &bus).await {
                    tracing::warn!(%error, "order event listener lost its connection; reconnecting");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

async fn listen(url: &str, bus: &EventBus) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    for channel in [CHANNEL, CREDENTIALS_CHANNEL] {
        diesel::sql_query(format!("LISTEN {channel}"))
            .execute(&mut conn)
            .await?;
    }
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    while let Some(notification) = notifications.next().await {
        let notification = notification?;
        // No receivers is fine: nobody is listening in this process right now.
        if notification.channel == CREDENTIALS_CHANNEL {
            match notification.payload.parse::<i64>() {
                Ok(user_id) => {
                    let _ = bus.credentials.send(user_id);
                }
                Err(error) => tracing::warn!(%error, "ignoring malformed credential notice"),
            }
            continue;
        }
        match serde_json::from_str::<OrderEvent>(&notification.payload) {
            Ok(event) => {
                let _ = bus.sender.send(event);
            }
            Err(error) => tracing::warn!(%error, "ignoring malformed order event"),
        }
    }
    anyhow::bail!("notification stream ended")
}
