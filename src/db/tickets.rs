//! `tickets`, `ticket_messages` and `ticket_orders`: support tickets, their
//! threads (internal notes included: callers showing a thread to a customer ask
//! for [`Visibility::Customer`]) and the orders they are about.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::{TicketAuthor, TicketPriority, TicketStatus, TicketTopic},
    pagination::{
        KeysetPage, OffsetPage, Paginated, paginate_keyset, paginate_offset, paginate_owned,
    },
    schema::{ticket_messages, ticket_orders, tickets},
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tickets, check_for_backend(diesel::pg::Pg))]
pub struct TicketRow {
    pub id: i64,
    pub user_id: i64,
    pub subject: String,
    pub topic: TicketTopic,
    pub status: TicketStatus,
    pub priority: TicketPriority,
    pub assignee_id: Option<i64>,
    pub last_message_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

super::reads_by_id!(TicketRow, tickets);

#[derive(Debug, Insertable)]
#[diesel(table_name = tickets)]
pub struct NewTicket<'a> {
    pub user_id: i64,
    pub subject: &'a str,
    pub topic: TicketTopic,
    pub status: TicketStatus,
    pub priority: TicketPriority,
}

/// A partial update; `None` leaves a column alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = tickets)]
pub struct TicketChangeset {
    pub status: Option<TicketStatus>,
    pub priority: Option<TicketPriority>,
    pub assignee_id: Option<Option<i64>>,
    pub last_message_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = ticket_messages, check_for_backend(diesel::pg::Pg))]
pub struct TicketMessageRow {
    pub id: i64,
    pub ticket_id: i64,
    pub author: TicketAuthor,
    pub author_id: Option<i64>,
    pub body: String,
    pub internal: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = ticket_messages)]
pub struct NewTicketMessage<'a> {
    pub ticket_id: i64,
    pub author: TicketAuthor,
    pub author_id: Option<i64>,
    pub body: &'a str,
    pub internal: bool,
}

/// Which messages of a thread a reader may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Everything but internal notes.
    Customer,
    /// Everything.
    Staff,
}

/// Which tickets a list shows.
#[derive(Debug, Default, Clone)]
pub struct TicketFilter {
    pub user_id: Option<i64>,
    pub status: Option<TicketStatus>,
    pub topic: Option<TicketTopic>,
    pub assignee_id: Option<i64>,
    /// Matched (case-insensitively, as a substring) against the subject and every
    /// message of the thread.
    pub text: Option<String>,
}

impl TicketFilter {
    /// One owner's tickets, nothing else: a page the page pool may read.
    pub fn owner_only(&self) -> bool {
        let TicketFilter {
            user_id,
            status,
            topic,
            assignee_id,
            text,
        } = self;
        user_id.is_some()
            && status.is_none()
            && topic.is_none()
            && assignee_id.is_none()
            && text.is_none()
    }
}

impl TicketRow {
    pub async fn find_owned(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        id: i64,
    ) -> QueryResult<Option<TicketRow>> {
        tickets::table
            .find(id)
            .filter(tickets::user_id.eq(user_id))
            .select(TicketRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: NewTicket<'_>,
    ) -> QueryResult<TicketRow> {
        diesel::insert_into(tickets::table)
            .values(new)
            .returning(TicketRow::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        change: TicketChangeset,
    ) -> QueryResult<TicketRow> {
        diesel::update(tickets::table.find(id))
            .set(change)
            .returning(TicketRow::as_returning())
            .get_result(conn)
            .await
    }

    fn filtered(filter: &TicketFilter) -> tickets::BoxedQuery<'static, diesel::pg::Pg> {
        let mut q = tickets::table.into_boxed();
        if let Some(user_id) = filter.user_id {
            q = q.filter(tickets::user_id.eq(user_id));
        }
        if let Some(status) = filter.status {
            q = q.filter(tickets::status.eq(status));
        }
        if let Some(topic) = filter.topic {
            q = q.filter(tickets::topic.eq(topic));
        }
        if let Some(assignee_id) = filter.assignee_id {
            q = q.filter(tickets::assignee_id.eq(assignee_id));
        }
        if let Some(pattern) = super::contains_pattern(filter.text.as_deref()) {
            q = q.filter(
                tickets::subject
                    .ilike(pattern.clone())
                    .or(tickets::id.eq_any(
                        ticket_messages::table
                            .filter(ticket_messages::body.ilike(pattern))
                            .select(ticket_messages::ticket_id),
                    )),
            );
        }
        q
    }

    /// A customer's tickets, newest first.
    pub async fn list_newest(
        conn: &mut AsyncPgConnection,
        filter: &TicketFilter,
        page: KeysetPage,
    ) -> QueryResult<Paginated<TicketRow>> {
        let Some(owner) = filter.user_id else {
            let build = || Self::filtered(filter).select(TicketRow::as_select());
            return paginate_keyset(conn, build, tickets::id, page).await;
        };
        // The owner is `paginate_owned`'s.
        let others = TicketFilter {
            user_id: None,
            ..filter.clone()
        };
        let build = move || Self::filtered(&others).select(TicketRow::as_select());
        paginate_owned(conn, tickets::user_id, owner, build, tickets::id, page).await
    }

    /// Tickets for staff: those waiting for staff (OPEN, CUSTOMER_REPLY) first,
    /// longest waiting first, when `unanswered_first`; otherwise newest first.
    pub async fn list_for_staff(
        conn: &mut AsyncPgConnection,
        filter: &TicketFilter,
        unanswered_first: bool,
        page: OffsetPage,
    ) -> QueryResult<Paginated<TicketRow>> {
        let build = || Self::filtered(filter).select(TicketRow::as_select());
        let order = move |q: TicketSelection| {
            if unanswered_first {
                q.order((
                    diesel::dsl::sql::<diesel::sql_types::Bool>(
                        "tickets.status IN ('OPEN', 'CUSTOMER_REPLY')",
                    )
                    .desc(),
                    tickets::last_message_at.asc(),
                    tickets::id.asc(),
                ))
            } else {
                q.order(tickets::id.desc())
            }
        };
        paginate_offset(conn, build, order, page).await
    }

    /// How many tickets are in each status.
    pub async fn counts_by_status(
        conn: &mut AsyncPgConnection,
    ) -> QueryResult<Vec<(TicketStatus, i64)>> {
        tickets::table
            .group_by(tickets::status)
            .select((tickets::status, diesel::dsl::count_star()))
            .load(conn)
            .await
    }
}

impl TicketMessageRow {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: NewTicketMessage<'_>,
    ) -> QueryResult<TicketMessageRow> {
        diesel::insert_into(ticket_messages::table)
            .values(new)
            .returning(TicketMessageRow::as_returning())
            .get_result(conn)
            .await
    }

    /// The thread of several tickets, each oldest first.
    pub async fn of_tickets(
        conn: &mut AsyncPgConnection,
        ticket_ids: &[i64],
        visibility: Visibility,
    ) -> QueryResult<Vec<TicketMessageRow>> {
        let mut q = ticket_messages::table
            .filter(ticket_messages::ticket_id.eq_any(ticket_ids))
            .into_boxed();
        if visibility == Visibility::Customer {
            q = q.filter(ticket_messages::internal.eq(false));
        }
        q.order((ticket_messages::ticket_id.asc(), ticket_messages::id.asc()))
            .select(TicketMessageRow::as_select())
            .load(conn)
            .await
    }

    /// Messages by id with their tickets' owners (for the event bus).
    pub async fn with_owners(
        conn: &mut AsyncPgConnection,
        ids: &[i64],
    ) -> QueryResult<Vec<(TicketMessageRow, i64)>> {
        ticket_messages::table
            .inner_join(tickets::table)
            .filter(ticket_messages::id.eq_any(ids))
            .order(ticket_messages::id.asc())
            .select((TicketMessageRow::as_select(), tickets::user_id))
            .load(conn)
            .await
    }
}

type TicketSelection = diesel::query_builder::BoxedSelectStatement<
    'static,
    <diesel::dsl::AsSelect<TicketRow, diesel::pg::Pg> as diesel::Expression>::SqlType,
    diesel::query_builder::FromClause<tickets::table>,
    diesel::pg::Pg,
>;

impl TicketMessageRow {
    /// Threads without internal notes (what customers read).
    pub async fn customer_threads(
        conn: &mut AsyncPgConnection,
        ticket_ids: &[i64],
    ) -> QueryResult<Vec<TicketMessageRow>> {
        Self::of_tickets(conn, ticket_ids, Visibility::Customer).await
    }

    /// Whole threads (what staff read).
    pub async fn staff_threads(
        conn: &mut AsyncPgConnection,
        ticket_ids: &[i64],
    ) -> QueryResult<Vec<TicketMessageRow>> {
        Self::of_tickets(conn, ticket_ids, Visibility::Staff).await
    }
}

/// One order a ticket is about.
#[derive(Debug, Clone, Copy, Queryable, Selectable)]
#[diesel(table_name = ticket_orders, check_for_backend(diesel::pg::Pg))]
pub struct TicketOrderRow {
    pub ticket_id: i64,
    pub order_id: i64,
}

impl TicketOrderRow {
    /// The orders of several tickets, by ticket then order id.
    pub async fn of_tickets(
        conn: &mut AsyncPgConnection,
        ticket_ids: &[i64],
    ) -> QueryResult<Vec<TicketOrderRow>> {
        ticket_orders::table
            .filter(ticket_orders::ticket_id.eq_any(ticket_ids))
            .order((
                ticket_orders::ticket_id.asc(),
                ticket_orders::order_id.asc(),
            ))
            .select(TicketOrderRow::as_select())
            .load(conn)
            .await
    }
}

/// The orders a ticket is about.
pub async fn attach_orders(
    conn: &mut AsyncPgConnection,
    ticket_id: i64,
    order_ids: &[i64],
) -> QueryResult<usize> {
    let rows: Vec<_> = order_ids
        .iter()
        .map(|order_id| {
            (
                ticket_orders::ticket_id.eq(ticket_id),
                ticket_orders::order_id.eq(*order_id),
            )
        })
        .collect();
    diesel::insert_into(ticket_orders::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await
}

/// Tickets `user_id` opened at or after `since`.
pub async fn opened_since(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    super::schema::tickets::table
        .filter(super::schema::tickets::user_id.eq(user_id))
        .filter(super::schema::tickets::created_at.ge(since))
        .count()
        .get_result(conn)
        .await
}
