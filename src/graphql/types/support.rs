//! `Ticket`, `TicketMessage`, `TicketUpdate`, `TicketCounts`, `FaqEntry` and
//! `ContactMessage`. A `Ticket` carries who reads it: a customer's never shows
//! internal notes, whichever field or subscription it arrives through.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    db::{
        contact_messages::ContactMessageRow,
        enums::{TicketAuthor, TicketPriority, TicketStatus, TicketTopic},
        faq::FaqRow,
        tickets::{TicketMessageRow, TicketOrderRow, TicketRow, Visibility},
    },
    graphql::{
        conn,
        error::GraphqlResult,
        guards::RoleGuard,
        load,
        loaders::{CustomerThreadOf, OrdersOfTicket, StaffThreadOf},
        pagination::node_selects,
        prefetch,
    },
};

pub struct Ticket {
    pub row: TicketRow,
    pub visibility: Visibility,
    /// Read the thread afresh rather than through the request's DataLoaders: a
    /// subscription is one long operation whose loaders would serve the thread
    /// as it was at the first event.
    pub live: bool,
}

impl Ticket {
    pub fn for_customer(row: TicketRow) -> Ticket {
        Ticket {
            row,
            visibility: Visibility::Customer,
            live: false,
        }
    }

    pub fn for_staff(row: TicketRow) -> Ticket {
        Ticket {
            row,
            visibility: Visibility::Staff,
            live: false,
        }
    }

    /// For a subscription event.
    pub fn live(self) -> Ticket {
        Ticket { live: true, ..self }
    }
}

/// A support ticket: a thread between the customer, staff and the reply bot.
#[Object]
impl Ticket {
    async fn id(&self) -> ID {
        self.row.id.into()
    }
    async fn subject(&self) -> &str {
        &self.row.subject
    }
    async fn topic(&self) -> TicketTopic {
        self.row.topic
    }
    async fn status(&self) -> TicketStatus {
        self.row.status
    }
    async fn priority(&self) -> TicketPriority {
        self.row.priority
    }
    /// The orders the ticket is about (the customer's own).
    async fn order_ids(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<ID>> {
        let rows = if self.live {
            // Boxed, as `Order::delivered_items` is: rows of a page copy the
            // object's largest field future.
            Box::pin(async {
                GraphqlResult::Ok(
                    TicketOrderRow::of_tickets(&mut *conn(ctx).await?, &[self.row.id]).await?,
                )
            })
            .await?
        } else {
            load(ctx, OrdersOfTicket(self.row.id), "ticket orders").await?
        };
        Ok(rows.into_iter().map(|row| row.order_id.into()).collect())
    }
    /// The thread, oldest first. Customers never see staff's internal notes.
    async fn messages(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<TicketMessage>> {
        let id = self.row.id;
        let rows = match (self.live, self.visibility) {
            (true, visibility) => {
                // Boxed, as `order_ids` is.
                Box::pin(async {
                    GraphqlResult::Ok(
                        TicketMessageRow::of_tickets(&mut *conn(ctx).await?, &[id], visibility)
                            .await?,
                    )
                })
                .await?
            }
            (false, Visibility::Customer) => {
                load(ctx, CustomerThreadOf(id), "ticket thread").await?
            }
            (false, Visibility::Staff) => load(ctx, StaffThreadOf(id), "ticket thread").await?,
        };
        Ok(rows.into_iter().map(TicketMessage).collect())
    }
    /// The customer who opened it (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn user_id(&self) -> ID {
        self.row.user_id.into()
    }
    /// The admin it is assigned to (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn assignee_id(&self) -> Option<ID> {
        self.row.assignee_id.map(Into::into)
    }
    async fn last_message_at(&self) -> DateTime<Utc> {
        self.row.last_message_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

pub struct TicketMessage(pub TicketMessageRow);

/// One message of a ticket's thread.
#[Object]
impl TicketMessage {
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// CUSTOMER, STAFF or BOT (the reply bot).
    async fn author(&self) -> TicketAuthor {
        self.0.author
    }
    /// Plain text, as written.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// A staff note that the customer never sees (always false for customers).
    async fn internal(&self) -> bool {
        self.0.internal
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A change of a ticket: the ticket as it stands, and the message added, if any.
pub struct TicketUpdate {
    pub ticket: Ticket,
    pub message: Option<TicketMessage>,
}

#[Object]
impl TicketUpdate {
    async fn ticket(&self) -> &Ticket {
        &self.ticket
    }
    async fn message(&self) -> Option<&TicketMessage> {
        self.message.as_ref()
    }
}

/// What opening a ticket or replying to one came to.
pub struct TicketPayload {
    pub ticket: Ticket,
    pub bot_answered: bool,
}

#[Object]
impl TicketPayload {
    async fn ticket(&self) -> &Ticket {
        &self.ticket
    }
    /// True when the reply bot answered everything; false when staff will.
    async fn bot_answered(&self) -> bool {
        self.bot_answered
    }
}

/// Loads the threads and orders of a page of tickets in one statement each when
/// the query selects them, whatever the page size.
pub async fn prefetch_page(
    ctx: &Context<'_>,
    rows: &[TicketRow],
    visibility: Visibility,
) -> GraphqlResult<()> {
    let ids = || rows.iter().map(|t| t.id);
    if node_selects(ctx, "messages") {
        match visibility {
            Visibility::Customer => prefetch(ctx, ids().map(CustomerThreadOf)).await?,
            Visibility::Staff => prefetch(ctx, ids().map(StaffThreadOf)).await?,
        }
    }
    if node_selects(ctx, "orderIds") {
        prefetch(ctx, ids().map(OrdersOfTicket)).await?;
    }
    Ok(())
}

/// Tickets per status, for the admins' badge.
#[derive(SimpleObject, Default)]
pub struct TicketCounts {
    pub open: i64,
    pub answered: i64,
    pub customer_reply: i64,
    pub closed: i64,
    /// OPEN and CUSTOMER_REPLY: tickets waiting for staff.
    pub waiting_for_staff: i64,
}

impl TicketCounts {
    pub fn from_counts(counts: &[(TicketStatus, i64)]) -> TicketCounts {
        let mut totals = TicketCounts::default();
        for (status, count) in counts {
            match status {
                TicketStatus::Open => totals.open = *count,
                TicketStatus::Answered => totals.answered = *count,
                TicketStatus::CustomerReply => totals.customer_reply = *count,
                TicketStatus::Closed => totals.closed = *count,
            }
        }
        totals.waiting_for_staff = totals.open + totals.customer_reply;
        totals
    }
}

pub struct FaqEntry(pub FaqRow);

/// A question and its answer.
#[Object]
impl FaqEntry {
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    async fn question(&self) -> &str {
        &self.0.question
    }
    async fn answer(&self) -> &str {
        &self.0.answer
    }
    async fn category(&self) -> &str {
        &self.0.category
    }
    /// `id` or `en`.
    async fn language(&self) -> &str {
        &self.0.language
    }
    async fn published(&self) -> bool {
        self.0.published
    }
    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

pub struct ContactMessage(pub ContactMessageRow);

/// A visitor's message from the contact form (admins).
#[Object]
impl ContactMessage {
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    async fn message(&self) -> &str {
        &self.0.message
    }
    async fn language(&self) -> &str {
        self.0.language.as_str()
    }
    async fn ip_address(&self) -> &str {
        &self.0.ip_address
    }
    async fn answer(&self) -> Option<&str> {
        self.0.answer.as_deref()
    }
    async fn answered_at(&self) -> Option<DateTime<Utc>> {
        self.0.answered_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
