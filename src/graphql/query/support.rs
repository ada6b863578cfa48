//! Support queries: a customer's tickets, one ticket, the staff's ticket list
//! and status counts, the FAQ, and the contact form's messages.

use async_graphql::{Context, ID, Object};

use crate::{
    db::{
        contact_messages::ContactMessageRow,
        enums::{TicketStatus, TicketTopic},
        faq::FaqRow,
        tickets::{TicketFilter, TicketRow, Visibility},
    },
    domain::support::{faq, tickets},
    error::AppError,
    graphql::{
        conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        page_conn,
        pagination::{
            Page, keyset_args, keyset_connection, list_complexity, offset_args, offset_connection,
        },
        parse_id, parse_opt_id,
        types::support::{ContactMessage, FaqEntry, Ticket, TicketCounts, prefetch_page},
    },
};

#[derive(Default)]
pub struct SupportQuery;

#[Object]
impl SupportQuery {
    /// The caller's tickets, newest first.
    #[graphql(
        guard = "RoleGuard::User",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn my_tickets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<TicketStatus>,
    ) -> GraphqlResult<Page<Ticket>> {
        let user = current_user(ctx)?;
        let filter = TicketFilter {
            user_id: Some(user.id()),
            status,
            ..Default::default()
        };
        let page = keyset_args(ctx, first, after.as_deref())?;
        let mut conn = page_conn(ctx, filter.owner_only()).await?;
        let rows = TicketRow::list_newest(&mut conn, &filter, page).await?;
        drop(conn);
        prefetch_page(ctx, &rows.rows, Visibility::Customer).await?;
        Ok(keyset_connection(rows, |t| t.id, Ticket::for_customer))
    }

    /// One of the caller's tickets (someone else's is NOT_FOUND).
    #[graphql(guard = "RoleGuard::User")]
    async fn ticket(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<Ticket> {
        let user = current_user(ctx)?;
        let id = parse_id("id", &id)?;
        let row = tickets::owned(&mut *conn(ctx).await?, user.id(), id).await?;
        Ok(Ticket::for_customer(row))
    }

    /// Any ticket, internal notes included (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_ticket(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<Ticket> {
        let id = parse_id("id", &id)?;
        let row = TicketRow::find(&mut *conn(ctx).await?, id)
            .await?
            .ok_or(AppError::NotFound("ticket"))?;
        Ok(Ticket::for_staff(row))
    }

    /// Tickets for staff, filtered; those waiting for staff first (longest
    /// waiting first) unless `unansweredFirst` is false (then newest first).
    /// `search` matches the subject and every message, internal notes included.
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn admin_tickets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<TicketStatus>,
        topic: Option<TicketTopic>,
        assignee_id: Option<ID>,
        user_id: Option<ID>,
        search: Option<String>,
        #[graphql(default = true)] unanswered_first: bool,
    ) -> GraphqlResult<Page<Ticket>> {
        let filter = TicketFilter {
            user_id: parse_opt_id("userId", user_id.as_ref())?,
            status,
            topic,
            assignee_id: parse_opt_id("assigneeId", assignee_id.as_ref())?,
            text: search,
        };
        let page = offset_args(first, after.as_deref())?;
        let mut conn = conn(ctx).await?;
        let rows = tickets::list_for_staff(&mut conn, filter, unanswered_first, page).await?;
        prefetch_page(ctx, &rows.rows, Visibility::Staff).await?;
        Ok(offset_connection(rows, Ticket::for_staff))
    }

    /// How many tickets are in each status (admins' badge).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_ticket_counts(&self, ctx: &Context<'_>) -> GraphqlResult<TicketCounts> {
        let counts = TicketRow::counts_by_status(&mut *conn(ctx).await?).await?;
        Ok(TicketCounts::from_counts(&counts))
    }

    /// Published FAQ entries in display order, or those matching `search` best
    /// first (full-text: words, "phrases", or, -not). Anyone may read them.
    #[graphql(cache_control(max_age = 60))]
    async fn faq_entries(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        language: Option<String>,
        category: Option<String>,
    ) -> GraphqlResult<Vec<FaqEntry>> {
        let rows = faq::published(
            &mut *conn(ctx).await?,
            search.as_deref(),
            language.as_deref(),
            category.as_deref(),
        )
        .await?;
        Ok(rows.into_iter().map(FaqEntry).collect())
    }

    /// Every FAQ entry, unpublished ones included, in display order (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_faq_entries(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<FaqEntry>> {
        let rows = FaqRow::list(&mut *conn(ctx).await?, false, None, None).await?;
        Ok(rows.into_iter().map(FaqEntry).collect())
    }

    /// Contact form messages, newest first (admins).
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn admin_contact_messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default = false)] unanswered_only: bool,
    ) -> GraphqlResult<Page<ContactMessage>> {
        let page = keyset_args(ctx, first, after.as_deref())?;
        let rows = ContactMessageRow::list(&mut *conn(ctx).await?, unanswered_only, page).await?;
        Ok(keyset_connection(rows, |m| m.id, ContactMessage))
    }
}
