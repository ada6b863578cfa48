//! Order-status events across processes. A status change publishes its event's id
//! with `pg_notify` inside the writing transaction (so it is sent only if the change
//! commits); every process holds one LISTEN connection, loads the events named by
//! each burst of notifications in one query, and fans them out to a
//! `tokio::sync::broadcast` channel that the GraphQL subscriptions read.
//!
//! Payloads are ids only: `pg_notify` refuses payloads over 8,000 bytes, and a
//! refused notify fails the writing transaction, so nothing of unbounded size
//! (a note, a provider's text) may ride in one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::{
    cache::Caches,
    db::{
        PgPool,
        enums::OrderStatus,
        order_events::OrderEventRow,
        tickets::{TicketMessageRow, TicketRow},
    },
};

/// Carries the id of an `order_events` row: an order changed.
pub const ORDER_CHANNEL: &str = "booster_order_events";
/// Carries `ticket_id:message_id` (or `ticket_id:` for a change without a
/// message): a support ticket changed.
pub const TICKET_CHANNEL: &str = "booster_ticket_events";
/// Carries the id of a user whose credentials or account changed (a session or
/// API key revoked, banned, role changed; not a balance): the credential cache
/// forgets the user and open WebSockets of that user re-check theirs. Sent by the
/// database's triggers (`notify_credentials_changed`), whoever made the change.
pub const CREDENTIALS_CHANNEL: &str = "booster_credentials";
/// On [`CREDENTIALS_CHANNEL`] and the bus: every user's credentials may have
/// changed (a `TRUNCATE`, or the LISTEN connection was down and notices were
/// lost): every cached credential is forgotten and every open socket re-checks.
pub const EVERY_USER: i64 = 0;
/// Services, categories or a provider's rate changed: the catalogue caches
/// empty (trigger `notify_catalog_changed`; no payload).
pub const CATALOG_CHANNEL: &str = "booster_catalog";

/// One status change of one order, as subscribers receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderUpdate {
    pub event_id: i64,
    pub order_id: i64,
    pub user_id: i64,
    pub status: OrderStatus,
    pub start_count: Option<i64>,
    pub remains: Option<i64>,
    pub note: String,
    pub at: DateTime<Utc>,
}

impl OrderUpdate {
    /// The event of a history row, for the user who owns its order.
    pub fn from_row(row: OrderEventRow, user_id: i64) -> OrderUpdate {
        OrderUpdate {
            event_id: row.id,
            order_id: row.order_id,
            user_id,
            status: row.status,
            start_count: row.start_count,
            remains: row.remains,
            note: row.note,
            at: row.created_at,
        }
    }

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

/// Publishes events (by their history rows' ids) in the caller's transaction: one
/// statement however many.
pub async fn publish(conn: &mut AsyncPgConnection, event_ids: &[i64]) -> diesel::QueryResult<()> {
    if event_ids.is_empty() {
        return Ok(());
    }
    diesel::sql_query(format!(
        "SELECT pg_notify('{ORDER_CHANNEL}', id::text) FROM unnest($1::bigint[]) AS id"
    ))
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(event_ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// One change of a support ticket, as subscribers receive it: the ticket as it
/// stands once loaded, and the message that was added, if any. Internal notes
/// ride here too: each subscription decides what its reader may see.
#[derive(Debug, Clone)]
pub struct TicketUpdate {
    pub ticket: TicketRow,
    pub message: Option<TicketMessageRow>,
}

/// Announces a ticket change in the caller's transaction (delivered only if it
/// commits).
pub async fn publish_ticket(
    conn: &mut AsyncPgConnection,
    ticket_id: i64,
    message_id: Option<i64>,
) -> diesel::QueryResult<()> {
    let payload = format!(
        "{ticket_id}:{}",
        message_id.map(|id| id.to_string()).unwrap_or_default()
    );
    diesel::sql_query(format!("SELECT pg_notify('{TICKET_CHANNEL}', $1)"))
        .bind::<diesel::sql_types::Text, _>(payload)
        .execute(conn)
        .await?;
    Ok(())
}

/// Events one process's bus holds for a slow subscriber before it falls behind.
pub const BUS_CAPACITY: usize = 4096;

/// The in-process side: a broadcast channel fed by this process's LISTEN connection.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<OrderUpdate>,
    credentials: broadcast::Sender<i64>,
    tickets: broadcast::Sender<TicketUpdate>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(BUS_CAPACITY).0,
            credentials: broadcast::channel(1024).0,
            tickets: broadcast::channel(1024).0,
        }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<OrderUpdate> {
        self.sender.subscribe()
    }

    /// Support ticket changes, from every process.
    pub fn subscribe_tickets(&self) -> broadcast::Receiver<TicketUpdate> {
        self.tickets.subscribe()
    }

    /// Ids of users whose credentials changed, from every process.
    pub fn subscribe_credentials(&self) -> broadcast::Receiver<i64> {
        self.credentials.subscribe()
    }

    /// Starts the LISTEN loop; it reconnects after errors for as long as the process
    /// runs. Events are loaded through `pool`; `caches` are in use only while the
    /// loop is connected (see `cache`).
    pub fn start_listener(&self, database_url: String, pool: PgPool, caches: Caches) {
        let bus = self.clone();
        tokio::spawn(async move {
            loop {
                let result = listen(&database_url, &pool, &bus, &caches).await;
                caches.suspend();
                if let Err(error) = result {
                    tracing::warn!(%error, "order event listener lost its connection; reconnecting");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

/// Notifications taken in one burst before their events are loaded together.
const BURST: usize = 1_000;

async fn listen(url: &str, pool: &PgPool, bus: &EventBus, caches: &Caches) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    for channel in [
        ORDER_CHANNEL,
        CREDENTIALS_CHANNEL,
        TICKET_CHANNEL,
        CATALOG_CHANNEL,
    ] {
        diesel::sql_query(format!("LISTEN {channel}"))
            .execute(&mut conn)
            .await?;
    }
    // Every change from now on is heard: the caches may fill. What changed while
    // no connection listened was not heard: every open socket re-checks.
    caches.resume();
    let _ = bus.credentials.send(EVERY_USER);
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    while let Some(first) = notifications.next().await {
        // Everything already received joins this burst, so a mass order's thousands
        // of events cost one query here, not one each.
        let mut burst = vec![first?];
        while burst.len() < BURST {
            match notifications.next().now_or_never() {
                Some(Some(next)) => burst.push(next?),
                _ => break,
            }
        }
        let mut event_ids = Vec::with_capacity(burst.len());
        let mut ticket_changes = Vec::new();
        for notification in burst {
            if notification.channel == CATALOG_CHANNEL {
                caches.catalog_changed();
                continue;
            }
            if notification.channel == TICKET_CHANNEL {
                match parse_ticket_payload(&notification.payload) {
                    Some(change) => ticket_changes.push(change),
                    None => tracing::warn!("ignoring a malformed ticket notification"),
                }
                continue;
            }
            let Ok(id) = notification.payload.parse::<i64>() else {
                tracing::warn!(channel = %notification.channel, "ignoring a malformed notification");
                continue;
            };
            // No receivers is fine: nobody is listening in this process right now.
            if notification.channel == CREDENTIALS_CHANNEL {
                // Forgotten before the sockets hear of it, so their re-check reads
                // the database.
                if id == EVERY_USER {
                    caches.credentials().invalidate_all();
                } else {
                    caches.user_changed(id);
                }
                let _ = bus.credentials.send(id);
            } else {
                event_ids.push(id);
            }
        }
        if !ticket_changes.is_empty() {
            let mut conn = pool.get().await?;
            for event in load_ticket_events(&mut conn, &ticket_changes).await? {
                let _ = bus.tickets.send(event);
            }
        }
        if event_ids.is_empty() {
            continue;
        }
        let loaded = OrderEventRow::with_owners(&mut *pool.get().await?, &event_ids).await?;
        for (row, user_id) in loaded {
            let _ = bus.sender.send(OrderUpdate::from_row(row, user_id));
        }
    }
    anyhow::bail!("notification stream ended")
}

/// `ticket_id:message_id` or `ticket_id:`.
fn parse_ticket_payload(payload: &str) -> Option<(i64, Option<i64>)> {
    let (ticket, message) = payload.split_once(':')?;
    let ticket = ticket.parse().ok()?;
    let message = match message {
        "" => None,
        id => Some(id.parse().ok()?),
    };
    Some((ticket, message))
}

/// The events of a burst of ticket notifications, in their order, in two queries.
async fn load_ticket_events(
    conn: &mut AsyncPgConnection,
    changes: &[(i64, Option<i64>)],
) -> diesel::QueryResult<Vec<TicketUpdate>> {
    let ticket_ids: Vec<i64> = changes.iter().map(|(ticket, _)| *ticket).collect();
    let message_ids: Vec<i64> = changes.iter().filter_map(|(_, message)| *message).collect();
    let tickets = TicketRow::load_many(conn, &ticket_ids).await?;
    let messages = TicketMessageRow::with_owners(conn, &message_ids).await?;
    Ok(changes
        .iter()
        .filter_map(|(ticket_id, message_id)| {
            let ticket = tickets.iter().find(|t| t.id == *ticket_id)?.clone();
            let message = match message_id {
                Some(id) => Some(messages.iter().find(|(m, _)| m.id == *id)?.0.clone()),
                None => None,
            };
            Some(TicketUpdate { ticket, message })
        })
        .collect())
}
