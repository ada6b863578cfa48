//! Tickets: a customer opens one (subject, topic, message, optionally their own
//! orders), then the customer, staff and the reply bot write in its thread; staff
//! add internal notes the customer never sees, assign it, set its priority and
//! status. Each change is one transaction with its event (`events::publish_ticket`),
//! its notifications and mail.
//!
//! Statuses: OPEN (waits for staff), ANSWERED (staff or the bot replied),
//! CUSTOMER_REPLY (the customer wrote after an answer), CLOSED. The bot runs on
//! every customer message; when it answered everything the ticket is ANSWERED,
//! otherwise it waits for staff and the admins are alerted.

use std::collections::BTreeSet;

use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::bot;
use crate::domain::text::{check_line, check_search, check_text};
use crate::{
    config::OrdersConfig,
    db::{
        enums::{Role, TicketAuthor, TicketPriority, TicketStatus, TicketTopic},
        orders::OrderRow,
        pagination::{OffsetPage, Paginated},
        tickets::{
            self, NewTicket, NewTicketMessage, TicketChangeset, TicketFilter, TicketMessageRow,
            TicketRow,
        },
        users::UserRow,
    },
    domain::{
        audit::{self, Subject},
        notifications::{self, About, Audience},
    },
    error::{AppError, AppResult},
    events,
};

pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_MESSAGE_CHARS: usize = 5000;
/// Orders one ticket may be about.
pub const MAX_ORDERS: usize = 20;

#[derive(Debug, Clone)]
pub struct OpenTicket {
    pub subject: String,
    pub topic: TicketTopic,
    pub message: String,
    pub order_ids: Vec<i64>,
}

/// A ticket after a write, with whether the bot answered alone.
#[derive(Debug, Clone)]
pub struct TicketChange {
    pub ticket: TicketRow,
    /// Whether the bot answered everything (nothing left for staff).
    pub bot_answered: bool,
}

/// Opens a ticket for `user`. Orders must be the customer's own (someone else's
/// is NOT_FOUND, as if it did not exist).
/// Tickets for staff as `TicketRow::list_for_staff` orders them, the search
/// bounded by the one rule for searches.
pub async fn list_for_staff(
    conn: &mut AsyncPgConnection,
    mut filter: TicketFilter,
    unanswered_first: bool,
    page: OffsetPage,
) -> AppResult<Paginated<TicketRow>> {
    filter.text = check_search(filter.text.as_deref())?;
    Ok(TicketRow::list_for_staff(conn, &filter, unanswered_first, page).await?)
}

pub async fn open(
    conn: &mut AsyncPgConnection,
    rules: &OrdersConfig,
    user: &UserRow,
    input: OpenTicket,
) -> AppResult<TicketChange> {
    let subject = check_line("subject", &input.subject, MAX_SUBJECT_CHARS, true)?;
    let message = check_text("message", &input.message, MAX_MESSAGE_CHARS, true)?;
    let order_ids: Vec<i64> = input
        .order_ids
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if order_ids.len() > MAX_ORDERS {
        return Err(AppError::validation(
            "orderIds",
            format!("a ticket may name at most {MAX_ORDERS} orders"),
        ));
    }
    conn.transaction(async |conn| {
        let owned =
            OrderRow::owned_matching(conn, user.id, &order_ids, &[], MAX_ORDERS as i64).await?;
        if owned.len() != order_ids.len() {
            return Err(AppError::NotFound("order"));
        }
        let ticket = TicketRow::insert(
            conn,
            NewTicket {
                user_id: user.id,
                subject: &subject,
                topic: input.topic,
                status: TicketStatus::Open,
                priority: TicketPriority::Medium,
            },
        )
        .await?;
        tickets::attach_orders(conn, ticket.id, &order_ids).await?;
        let first = TicketMessageRow::insert(
            conn,
            NewTicketMessage {
                ticket_id: ticket.id,
                author: TicketAuthor::Customer,
                author_id: Some(user.id),
                body: &message,
                internal: false,
            },
        )
        .await?;
        events::publish_ticket(conn, ticket.id, Some(first.id)).await?;
        let text = format!("{subject}\n{message}");
        run_bot(conn, rules, user, ticket, &text, &order_ids).await
    })
    .await
}

/// The customer writes in their ticket (a closed one opens again).
pub async fn customer_reply(
    conn: &mut AsyncPgConnection,
    rules: &OrdersConfig,
    user: &UserRow,
    ticket_id: i64,
    body: &str,
) -> AppResult<TicketChange> {
    let body = check_text("body", body, MAX_MESSAGE_CHARS, true)?;
    conn.transaction(async |conn| {
        let ticket = lock_owned(conn, user.id, ticket_id).await?;
        let message = TicketMessageRow::insert(
            conn,
            NewTicketMessage {
                ticket_id: ticket.id,
                author: TicketAuthor::Customer,
                author_id: Some(user.id),
                body: &body,
                internal: false,
            },
        )
        .await?;
        let status = if ticket.status == TicketStatus::Open {
            TicketStatus::Open
        } else {
            TicketStatus::CustomerReply
        };
        let ticket = TicketRow::update(
            conn,
            ticket.id,
            TicketChangeset {
                status: Some(status),
                last_message_at: Some(message.created_at),
                ..Default::default()
            },
        )
        .await?;
        events::publish_ticket(conn, ticket.id, Some(message.id)).await?;
        // Orders named in this reply; the bot does not repeat itself about the
        // ticket's attached orders on every reply.
        run_bot(conn, rules, user, ticket, &body, &[]).await
    })
    .await
}

/// Runs the bot on a customer's text and settles the ticket's status: ANSWERED
/// with its reply when it answered everything, otherwise left for staff (who
/// are alerted).
async fn run_bot(
    conn: &mut AsyncPgConnection,
    rules: &OrdersConfig,
    user: &UserRow,
    ticket: TicketRow,
    text: &str,
    attached: &[i64],
) -> AppResult<TicketChange> {
    let answer = bot::answer(conn, rules, user, ticket.topic, text, attached).await?;
    let mut ticket = ticket;
    if let Some(reply) = &answer.reply {
        let message = TicketMessageRow::insert(
            conn,
            NewTicketMessage {
                ticket_id: ticket.id,
                author: TicketAuthor::Bot,
                author_id: None,
                body: reply,
                internal: false,
            },
        )
        .await?;
        ticket = TicketRow::update(
            conn,
            ticket.id,
            TicketChangeset {
                status: answer.answered.then_some(TicketStatus::Answered),
                last_message_at: Some(message.created_at),
                ..Default::default()
            },
        )
        .await?;
        events::publish_ticket(conn, ticket.id, Some(message.id)).await?;
        notifications::ticket_answered(
            conn,
            user.id,
            ticket.id,
            &ticket.subject,
            message.id,
            reply,
            true,
        )
        .await?;
    }
    if !answer.answered {
        notifications::notify(
            conn,
            Audience::Admins,
            "TICKET_WAITING",
            &format!("Ticket {} waits for staff: {}", ticket.id, ticket.subject),
            About::default(),
        )
        .await?;
    }
    Ok(TicketChange {
        ticket,
        bot_answered: answer.answered,
    })
}

async fn lock_owned(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    ticket_id: i64,
) -> AppResult<TicketRow> {
    TicketRow::find_for_update(conn, ticket_id)
        .await?
        .filter(|ticket| ticket.user_id == user_id)
        .ok_or(AppError::NotFound("ticket"))
}

async fn lock(conn: &mut AsyncPgConnection, ticket_id: i64) -> AppResult<TicketRow> {
    TicketRow::find_for_update(conn, ticket_id)
        .await?
        .ok_or(AppError::NotFound("ticket"))
}

/// The customer closes (`open` false) or reopens their ticket.
pub async fn customer_set_open(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    ticket_id: i64,
    open: bool,
) -> AppResult<TicketRow> {
    conn.transaction(async |conn| {
        let ticket = lock_owned(conn, user_id, ticket_id).await?;
        let status = match (open, ticket.status) {
            (false, _) => TicketStatus::Closed,
            (true, TicketStatus::Closed) => TicketStatus::CustomerReply,
            (true, current) => current,
        };
        change(
            conn,
            &ticket,
            TicketChangeset {
                status: Some(status),
                ..Default::default()
            },
        )
        .await
    })
    .await
}

async fn change(
    conn: &mut AsyncPgConnection,
    ticket: &TicketRow,
    changeset: TicketChangeset,
) -> AppResult<TicketRow> {
    let updated = TicketRow::update(conn, ticket.id, changeset).await?;
    events::publish_ticket(conn, updated.id, None).await?;
    Ok(updated)
}

/// A staff reply (the customer is told; the ticket becomes ANSWERED) or an
/// internal note (never shown to the customer, no notification, no status
/// change). Returns the ticket after and the message.
pub async fn staff_write(
    conn: &mut AsyncPgConnection,
    admin_id: i64,
    ticket_id: i64,
    body: &str,
    internal: bool,
) -> AppResult<(TicketRow, TicketMessageRow)> {
    let body = check_text("body", body, MAX_MESSAGE_CHARS, true)?;
    conn.transaction(async |conn| {
        let before = lock(conn, ticket_id).await?;
        let audited = audit::Change::begin(conn, Subject::Ticket, ticket_id).await?;
        let message = TicketMessageRow::insert(
            conn,
            NewTicketMessage {
                ticket_id,
                author: TicketAuthor::Staff,
                author_id: Some(admin_id),
                body: &body,
                internal,
            },
        )
        .await?;
        let after = if internal {
            before.clone()
        } else {
            TicketRow::update(
                conn,
                ticket_id,
                TicketChangeset {
                    status: Some(TicketStatus::Answered),
                    last_message_at: Some(message.created_at),
                    ..Default::default()
                },
            )
            .await?
        };
        events::publish_ticket(conn, ticket_id, Some(message.id)).await?;
        if !internal {
            notifications::ticket_answered(
                conn,
                after.user_id,
                ticket_id,
                &after.subject,
                message.id,
                &body,
                false,
            )
            .await?;
        }
        let action = if internal {
            "ticket.note"
        } else {
            "ticket.reply"
        };
        audited.finish(conn, admin_id, action, None).await?;
        Ok((after, message))
    })
    .await
}

/// What an admin changes about a ticket.
#[derive(Debug, Clone, Default)]
pub struct StaffUpdate {
    pub status: Option<TicketStatus>,
    pub priority: Option<TicketPriority>,
    /// `Some(None)` unassigns.
    pub assignee_id: Option<Option<i64>>,
}

/// Sets status, priority or assignee (an admin who is not banned), recorded in
/// the audit log as `action` (`ticket.assign`, `ticket.status`, `ticket.priority`).
pub async fn staff_update(
    conn: &mut AsyncPgConnection,
    admin_id: i64,
    ticket_id: i64,
    update: StaffUpdate,
    action: &str,
) -> AppResult<TicketRow> {
    if let Some(Some(assignee)) = update.assignee_id {
        let admin = UserRow::find(conn, assignee).await?;
        if !admin.is_some_and(|a| matches!(a.role, Role::Owner | Role::Staff) && !a.is_banned()) {
            return Err(AppError::validation(
                "assigneeId",
                "the assignee must be an admin",
            ));
        }
    }
    conn.transaction(async |conn| {
        let before = lock(conn, ticket_id).await?;
        let audited = audit::Change::begin(conn, Subject::Ticket, ticket_id).await?;
        let after = change(
            conn,
            &before,
            TicketChangeset {
                status: update.status,
                priority: update.priority,
                assignee_id: update.assignee_id,
                last_message_at: None,
            },
        )
        .await?;
        audited.finish(conn, admin_id, action, None).await?;
        Ok(after)
    })
    .await
}

/// The ticket if `user_id` owns it; someone else's is NOT_FOUND.
pub async fn owned(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    ticket_id: i64,
) -> AppResult<TicketRow> {
    TicketRow::find_owned(conn, user_id, ticket_id)
        .await?
        .ok_or(AppError::NotFound("ticket"))
}
