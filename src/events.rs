//! Order-status events across processes. A status change publishes its event's id
//! with `pg_notify` inside the writing transaction (so it is sent only if the change
//! commits); every process holds one LISTEN connection, loads the events named by
//! each burst of notifications in one query (on a second connection of its own), and fans them out to
//! `tokio::sync::broadcast` channels that the GraphQL subscriptions read: one for
//! every event, and one per order and per user that someone follows, so an event
//! wakes only the subscribers it is for (with one shared channel, 1,000 open
//! subscriptions were 1,000 wake-ups per change, and the tail of the delivery
//! latency grew with them).
//!
//! Payloads are ids only: `pg_notify` refuses payloads over 8,000 bytes, and a
//! refused notify fails the writing transaction, so nothing of unbounded size
//! (a note, a provider's text) may ride in one.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::{
    cache::Caches,
    db::{
        QueryCounter,
        enums::OrderStatus,
        order_events::{EventScope, OrderEventRow},
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

/// Events the channel of one followed order holds for a slow subscriber (an
/// order has few changes at once; one that falls behind replays from history).
const ORDER_BUS_CAPACITY: usize = 32;
/// Events the channel of one followed user holds (a mass order's burst may pass
/// it; the subscriber then replays from history).
const USER_BUS_CAPACITY: usize = 256;

/// The in-process side: broadcast channels fed by this process's LISTEN connection.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<OrderUpdate>,
    followed: Arc<Mutex<Followed>>,
    credentials: broadcast::Sender<i64>,
    tickets: broadcast::Sender<TicketUpdate>,
}

/// The channels of the orders and users someone follows in this process.
struct Followed {
    orders: Channels,
    users: Channels,
}

/// Channels by key; those nobody listens to any more are dropped when an event
/// finds them so, or by a sweep when the map has doubled since the last one.
struct Channels {
    capacity: usize,
    by_key: HashMap<i64, broadcast::Sender<OrderUpdate>>,
    sweep_at: usize,
}

impl Channels {
    fn new(capacity: usize) -> Self {
        Channels {
            capacity,
            by_key: HashMap::new(),
            sweep_at: 1024,
        }
    }

    fn subscribe(&mut self, key: i64) -> broadcast::Receiver<OrderUpdate> {
        if self.by_key.len() >= self.sweep_at {
            self.by_key.retain(|_, sender| sender.receiver_count() > 0);
            self.sweep_at = (2 * self.by_key.len()).max(1024);
        }
        let capacity = self.capacity;
        self.by_key
            .entry(key)
            .or_insert_with(|| broadcast::channel(capacity).0)
            .subscribe()
    }

    fn send(&mut self, key: i64, update: &OrderUpdate) {
        if let Some(sender) = self.by_key.get(&key)
            && sender.send(update.clone()).is_err()
        {
            self.by_key.remove(&key);
        }
    }
}

impl Default for Followed {
    fn default() -> Self {
        Followed {
            orders: Channels::new(ORDER_BUS_CAPACITY),
            users: Channels::new(USER_BUS_CAPACITY),
        }
    }
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(BUS_CAPACITY).0,
            followed: Arc::default(),
            credentials: broadcast::channel(1024).0,
            tickets: broadcast::channel(1024).0,
        }
    }
}

impl EventBus {
    /// Every event.
    pub fn subscribe(&self) -> broadcast::Receiver<OrderUpdate> {
        self.sender.subscribe()
    }

    /// The events of `scope` (an order's or a user's on a channel of their own).
    pub fn subscribe_to(&self, scope: EventScope) -> broadcast::Receiver<OrderUpdate> {
        let mut followed = self.followed.lock().unwrap_or_else(|e| e.into_inner());
        match scope {
            EventScope::All => self.sender.subscribe(),
            EventScope::Order(id) => followed.orders.subscribe(id),
            EventScope::User(id) => followed.users.subscribe(id),
        }
    }

    /// Hands a burst of events to their channels.
    fn deliver(&self, updates: Vec<OrderUpdate>) {
        {
            let mut followed = self.followed.lock().unwrap_or_else(|e| e.into_inner());
            for update in &updates {
                followed.orders.send(update.order_id, update);
                followed.users.send(update.user_id, update);
            }
        }
        for update in updates {
            // No receivers is fine: nobody follows every event here right now.
            let _ = self.sender.send(update);
        }
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
    /// runs, loading the events on a second connection of its own; `caches` are in
    /// use only while the loop is connected (see `cache`).
    pub fn start_listener(&self, database_url: String, caches: Caches, counter: QueryCounter) {
        let bus = self.clone();
        tokio::spawn(async move {
            loop {
                let result = listen(&database_url, &bus, &caches, &counter).await;
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

async fn listen(
    url: &str,
    bus: &EventBus,
    caches: &Caches,
    counter: &QueryCounter,
) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    // Events are loaded on a connection of their own, not the pool's: a loaded
    // pool never delays an event, and its plans are made for each burst
    // (`force_custom_plan`). A generic plan cached by a pooled session while the
    // tables were small kept one connection in 32 scanning every order for a
    // one-event burst (11 to 20 ms instead of 0.3).
    let mut loader = AsyncPgConnection::establish(url).await?;
    diesel::sql_query("SET plan_cache_mode = force_custom_plan")
        .execute(&mut loader)
        .await?;
    counter.instrument(&mut loader);
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
            for event in load_ticket_events(&mut loader, &ticket_changes).await? {
                let _ = bus.tickets.send(event);
            }
        }
        if event_ids.is_empty() {
            continue;
        }
        let loaded = OrderEventRow::with_owners(&mut loader, &event_ids).await?;
        bus.deliver(
            loaded
                .into_iter()
                .map(|(row, user_id)| OrderUpdate::from_row(row, user_id))
                .collect(),
        );
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
