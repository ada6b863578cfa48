//! Subscriptions: live order-status events and support ticket changes. Events
//! reach every server process through PostgreSQL LISTEN/NOTIFY (see `events`), so
//! a subscriber connected to one process sees changes made by any other.

use async_graphql::{Context, ID, Subscription};
use std::collections::{HashSet, VecDeque};

use futures_util::{StreamExt, stream, stream::BoxStream};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::{
    app::AppState,
    db::{
        PgPool,
        enums::{Permission, Role},
        order_events::{EventScope, OrderEventRow},
        users::UserRow,
    },
    events::OrderUpdate,
    graphql::{
        conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        parse_id,
        socket::SocketSession,
        state,
        types::{
            orders::OrderEvent,
            support::{Ticket, TicketMessage, TicketUpdate},
        },
    },
};

#[derive(Default)]
pub struct SubscriptionRoot;

/// Events replayed at once after falling behind; more follow page by page.
const REPLAY_PAGE: i64 = 1_000;

/// One subscriber's place in the event bus. A receiver that falls behind loses
/// events (broadcast drops the oldest); it then reads what it missed in its scope
/// from the history table, after the last event it delivered, so the client still
/// sees every change, in order.
struct Follower {
    receiver: broadcast::Receiver<OrderUpdate>,
    pool: PgPool,
    scope: EventScope,
    /// The newest event delivered (or, at the start, the newest that existed).
    last_seen: i64,
    /// The newest event that existed when the subscription began: the bus may
    /// still bring it or older ones (it lags behind the commits while it loads a
    /// burst), and they are not changes from now on.
    started_after: i64,
    /// Replayed events the bus may still deliver: skipped when they come (kept
    /// across lags, pruned once too old to be in the bus).
    replayed: HashSet<i64>,
    pending: VecDeque<OrderUpdate>,
    /// Whether the last replay page was full (more missed events to read).
    more_missed: bool,
}

impl Follower {
    fn in_scope(&self, event: &OrderUpdate) -> bool {
        match self.scope {
            EventScope::Order(id) => event.order_id == id,
            EventScope::User(id) => event.user_id == id,
            EventScope::All => true,
        }
    }

    async fn next(&mut self) -> Option<OrderUpdate> {
        loop {
            if self.pending.is_empty() && self.more_missed {
                Box::pin(self.replay()).await;
            }
            if let Some(event) = self.pending.pop_front() {
                self.last_seen = self.last_seen.max(event.event_id);
                return Some(event);
            }
            match self.receiver.recv().await {
                Ok(event) => {
                    if event.event_id <= self.started_after
                        || !self.in_scope(&event)
                        || self.replayed.remove(&event.event_id)
                    {
                        continue;
                    }
                    self.last_seen = self.last_seen.max(event.event_id);
                    return Some(event);
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "order event subscriber lagged; replaying from history"
                    );
                    // What the bus still holds is among the newest events (ids are
                    // global and nearly sequential), so replayed ids far older than
                    // the last delivered can no longer come again.
                    let floor = self.last_seen - 4 * crate::events::BUS_CAPACITY as i64;
                    self.replayed.retain(|id| *id > floor);
                    Box::pin(self.replay()).await;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Queues the next page of events in scope after `last_seen`.
    async fn replay(&mut self) {
        let after = self
            .pending
            .back()
            .map_or(self.last_seen, |event| event.event_id);
        let missed = match self.pool.get().await {
            Ok(mut conn) => OrderEventRow::since(&mut conn, after, self.scope, REPLAY_PAGE).await,
            Err(error) => {
                tracing::warn!(%error, "no connection to replay missed order events");
                self.more_missed = false;
                return;
            }
        };
        match missed {
            Ok(rows) => {
                self.more_missed = rows.len() as i64 == REPLAY_PAGE;
                for (row, user_id) in rows {
                    self.replayed.insert(row.id);
                    self.pending.push_back(OrderUpdate::from_row(row, user_id));
                }
            }
            Err(error) => {
                tracing::warn!(%error, "replaying missed order events failed");
                self.more_missed = false;
            }
        }
    }
}

/// The bus as a stream of the events in `scope`, from now on. Before each event
/// the credential is checked as it stands now, like the ticket streams do (over a
/// socket through the credential cache); `reader` says what it must still allow.
async fn event_stream(
    ctx: &Context<'_>,
    scope: EventScope,
    reader: TicketReader,
) -> GraphqlResult<EventStream> {
    let user_id = current_user(ctx)?.id();
    let app = state(ctx).clone();
    let session = ctx.data_opt::<SocketSession>().cloned();
    // Subscribe before reading the newest id, so nothing falls between the two.
    let receiver = app.events.subscribe();
    let last_seen = OrderEventRow::latest_id(&mut *conn(ctx).await?).await?;
    let follower = Follower {
        receiver,
        pool: app.pool.clone(),
        scope,
        last_seen,
        started_after: last_seen,
        replayed: HashSet::new(),
        pending: VecDeque::new(),
        more_missed: false,
    };
    // The stream lives as long as the subscription, with room for its largest
    // pending future: the rare ones (a replay, a credential check reaching the
    // database) are boxed when they run, so a subscription waiting for its next
    // event holds a few hundred bytes, not kilobytes.
    Ok(stream::unfold(follower, move |mut follower| {
        let (app, session) = (app.clone(), session.clone());
        async move {
            let event = follower.next().await?;
            if !Box::pin(still_allowed(&app, session.as_ref(), user_id, reader)).await {
                return None;
            }
            Some((OrderEvent(event.to_row()), follower))
        }
    })
    .boxed())
}

type EventStream = BoxStream<'static, OrderEvent>;

async fn follow_order(ctx: &Context<'_>, order_id: ID) -> GraphqlResult<EventStream> {
    let user = current_user(ctx)?;
    let order_id = parse_id("orderId", &order_id)?;
    // Someone else's order is NOT_FOUND, like a missing one: ids are not probeable.
    let order = crate::domain::orders::find_visible(&mut *conn(ctx).await?, user, order_id).await?;
    // An admin following someone else's order must stay an admin.
    let reader = if order.user_id == user.id() {
        TicketReader::Customer(user.id())
    } else {
        TicketReader::Staff
    };
    event_stream(ctx, EventScope::Order(order_id), reader).await
}

/// Who follows ticket (or order) changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TicketReader {
    /// The customer: their own tickets, never an internal note.
    Customer(i64),
    /// Staff: every ticket and every note.
    Staff,
}

/// Ticket changes for `reader`. Before each event the credential is checked as it
/// stands now (over a socket: the token itself, so a revoked key or session ends
/// the stream; a ban or a withdrawn admin role ends it too).
fn ticket_stream(
    ctx: &Context<'_>,
    reader: TicketReader,
) -> GraphqlResult<BoxStream<'static, TicketUpdate>> {
    let user_id = current_user(ctx)?.id();
    let app = state(ctx).clone();
    let session = ctx.data_opt::<SocketSession>().cloned();
    let receiver = app.events.subscribe_tickets();
    Ok(stream::unfold(receiver, move |mut receiver| {
        let app = app.clone();
        let session = session.clone();
        async move {
            loop {
                let event = match receiver.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "ticket subscriber lagged; events skipped");
                        continue;
                    }
                    Err(RecvError::Closed) => return None,
                };
                if let TicketReader::Customer(owner) = reader
                    && (event.ticket.user_id != owner
                        || event.message.as_ref().is_some_and(|m| m.internal))
                {
                    continue;
                }
                if !Box::pin(still_allowed(&app, session.as_ref(), user_id, reader)).await {
                    return None;
                }
                let ticket = match reader {
                    TicketReader::Customer(_) => Ticket::for_customer(event.ticket),
                    TicketReader::Staff => Ticket::for_staff(event.ticket),
                }
                .live();
                let update = TicketUpdate {
                    ticket,
                    message: event.message.map(TicketMessage),
                };
                return Some((update, receiver));
            }
        }
    })
    .boxed())
}

/// Whether the subscriber's credential still allows `reader`'s events: its own
/// user, not banned, and for staff streams still holding the SUPPORT permission.
async fn still_allowed(
    app: &AppState,
    session: Option<&SocketSession>,
    user_id: i64,
    reader: TicketReader,
) -> bool {
    let Some(session) = session else {
        // Without a socket session (a transport that keeps no credential), the
        // user row as it is now.
        return match app.pool.get().await {
            Ok(mut conn) => UserRow::find(&mut conn, user_id)
                .await
                .ok()
                .flatten()
                .is_some_and(|user| {
                    !user.is_banned()
                        && (reader != TicketReader::Staff
                            || matches!(user.role, Role::Owner | Role::Staff))
                }),
            Err(_) => false,
        };
    };
    let Ok(viewer) = session.current_viewer(app).await else {
        return false;
    };
    viewer.0.is_some_and(|auth| {
        auth.id() == user_id
            && !auth.user.is_banned()
            && (reader != TicketReader::Staff || auth.can(Permission::Support))
    })
}

#[Subscription]
impl SubscriptionRoot {
    /// Changes of the caller's tickets: new messages from staff, the bot or
    /// themselves, and status changes. Internal notes never arrive here.
    #[graphql(guard = "RoleGuard::User")]
    async fn my_ticket_updates(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<BoxStream<'static, TicketUpdate>> {
        let user_id = current_user(ctx).map_err(async_graphql::Error::from)?.id();
        Ok(ticket_stream(ctx, TicketReader::Customer(user_id))?)
    }

    /// Changes of every ticket, internal notes included (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_ticket_updates(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<BoxStream<'static, TicketUpdate>> {
        Ok(ticket_stream(ctx, TicketReader::Staff)?)
    }

    /// Every status change of one order. Only its owner and admins may subscribe.
    #[graphql(guard = "RoleGuard::User")]
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> async_graphql::Result<EventStream> {
        Ok(follow_order(ctx, order_id).await?)
    }

    /// Every status change of the caller's orders.
    #[graphql(guard = "RoleGuard::User")]
    async fn my_order_updates(&self, ctx: &Context<'_>) -> async_graphql::Result<EventStream> {
        let user_id = current_user(ctx).map_err(async_graphql::Error::from)?.id();
        Ok(event_stream(
            ctx,
            EventScope::User(user_id),
            TicketReader::Customer(user_id),
        )
        .await?)
    }

    /// Every status change of every order (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::OrdersRead)")]
    async fn admin_order_updates(&self, ctx: &Context<'_>) -> async_graphql::Result<EventStream> {
        Ok(event_stream(ctx, EventScope::All, TicketReader::Staff).await?)
    }
}
