//! Support mutations: customers open, reply to, close and reopen tickets;
//! staff reply, write internal notes, assign and triage; admins keep the FAQ and
//! answer contact messages; visitors send the contact form.

use async_graphql::{Context, ID, InputObject, Object};

use crate::{
    db::enums::{TicketPriority, TicketStatus, TicketTopic},
    domain::support::{
        contact::{self, ContactInput},
        faq::{self, FaqInput},
        ticket_limit,
        tickets::{self, OpenTicket, StaffUpdate},
    },
    error::AppError,
    graphql::{
        ClientAddress, conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        parse_id, parse_ids, parse_opt_id, state,
        types::support::{ContactMessage, FaqEntry, Ticket, TicketPayload},
    },
};

#[derive(Default)]
pub struct SupportMutation;

#[derive(InputObject)]
pub struct OpenTicketInput {
    /// At most 200 characters.
    pub subject: String,
    pub topic: TicketTopic,
    /// Plain text, at most 5000 characters.
    pub message: String,
    /// The caller's own orders the ticket is about (at most 20).
    #[graphql(default)]
    pub order_ids: Vec<ID>,
}

#[derive(InputObject)]
pub struct FaqEntryInput {
    pub question: Option<String>,
    pub answer: Option<String>,
    pub category: Option<String>,
    /// `id` (default) or `en`.
    pub language: Option<String>,
    pub published: Option<bool>,
}

impl From<FaqEntryInput> for FaqInput {
    fn from(input: FaqEntryInput) -> FaqInput {
        // Taken apart, so a field added to the input and not carried over does not compile.
        let FaqEntryInput {
            question,
            answer,
            category,
            language,
            published,
        } = input;
        FaqInput {
            question,
            answer,
            category,
            language,
            published,
        }
    }
}

#[derive(InputObject)]
pub struct ContactMessageInput {
    pub name: String,
    pub email: String,
    pub subject: String,
    pub message: String,
    /// Leave empty: the form hides this field from people.
    pub website: Option<String>,
    /// The language of the answer: `id` (default) or `en`.
    pub language: Option<String>,
}

#[Object]
impl SupportMutation {
    /// Opens a ticket; the reply bot answers in the same request when it can.
    #[graphql(guard = "RoleGuard::User")]
    async fn open_ticket(
        &self,
        ctx: &Context<'_>,
        input: OpenTicketInput,
    ) -> GraphqlResult<TicketPayload> {
        let user = current_user(ctx)?;
        let ticket = OpenTicket {
            order_ids: parse_ids("orderIds", &input.order_ids)?,
            subject: input.subject,
            topic: input.topic,
            message: input.message,
        };
        let mut conn = conn(ctx).await?;
        let per_hour = state(ctx).config.support.tickets_per_user_per_hour;
        ticket_limit::check(&mut conn, user.id(), per_hour).await?;
        let change =
            tickets::open(&mut conn, &state(ctx).config.orders, &user.user, ticket).await?;
        Ok(TicketPayload {
            ticket: Ticket::for_customer(change.ticket),
            bot_answered: change.bot_answered,
        })
    }

    /// Writes in one of the caller's tickets (a closed one opens again); the
    /// reply bot answers when it can.
    #[graphql(guard = "RoleGuard::User")]
    async fn reply_to_ticket(
        &self,
        ctx: &Context<'_>,
        ticket_id: ID,
        body: String,
    ) -> GraphqlResult<TicketPayload> {
        let user = current_user(ctx)?;
        let ticket_id = parse_id("ticketId", &ticket_id)?;
        let change = tickets::customer_reply(
            &mut *conn(ctx).await?,
            &state(ctx).config.orders,
            &user.user,
            ticket_id,
            &body,
        )
        .await?;
        Ok(TicketPayload {
            ticket: Ticket::for_customer(change.ticket),
            bot_answered: change.bot_answered,
        })
    }

    /// Closes one of the caller's tickets.
    #[graphql(guard = "RoleGuard::User")]
    async fn close_ticket(&self, ctx: &Context<'_>, ticket_id: ID) -> GraphqlResult<Ticket> {
        let user = current_user(ctx)?;
        let ticket_id = parse_id("ticketId", &ticket_id)?;
        let row =
            tickets::customer_set_open(&mut *conn(ctx).await?, user.id(), ticket_id, false).await?;
        Ok(Ticket::for_customer(row))
    }

    /// Opens one of the caller's closed tickets again.
    #[graphql(guard = "RoleGuard::User")]
    async fn reopen_ticket(&self, ctx: &Context<'_>, ticket_id: ID) -> GraphqlResult<Ticket> {
        let user = current_user(ctx)?;
        let ticket_id = parse_id("ticketId", &ticket_id)?;
        let row =
            tickets::customer_set_open(&mut *conn(ctx).await?, user.id(), ticket_id, true).await?;
        Ok(Ticket::for_customer(row))
    }

    /// A staff reply (the customer is notified), or with `internal` a note only
    /// staff ever see.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_reply_to_ticket(
        &self,
        ctx: &Context<'_>,
        ticket_id: ID,
        body: String,
        #[graphql(default = false)] internal: bool,
    ) -> GraphqlResult<Ticket> {
        let admin = current_user(ctx)?;
        let ticket_id = parse_id("ticketId", &ticket_id)?;
        let (row, _) = tickets::staff_write(
            &mut *conn(ctx).await?,
            admin.id(),
            ticket_id,
            &body,
            internal,
        )
        .await?;
        Ok(Ticket::for_staff(row))
    }

    /// Assigns a ticket to an admin, or unassigns it with no `assigneeId`.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_assign_ticket(
        &self,
        ctx: &Context<'_>,
        ticket_id: ID,
        assignee_id: Option<ID>,
    ) -> GraphqlResult<Ticket> {
        let assignee = parse_opt_id("assigneeId", assignee_id.as_ref())?;
        let update = StaffUpdate {
            assignee_id: Some(assignee),
            ..Default::default()
        };
        staff_update(ctx, ticket_id, update, "ticket.assign").await
    }

    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_set_ticket_status(
        &self,
        ctx: &Context<'_>,
        ticket_id: ID,
        status: TicketStatus,
    ) -> GraphqlResult<Ticket> {
        let update = StaffUpdate {
            status: Some(status),
            ..Default::default()
        };
        staff_update(ctx, ticket_id, update, "ticket.status").await
    }

    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_set_ticket_priority(
        &self,
        ctx: &Context<'_>,
        ticket_id: ID,
        priority: TicketPriority,
    ) -> GraphqlResult<Ticket> {
        let update = StaffUpdate {
            priority: Some(priority),
            ..Default::default()
        };
        staff_update(ctx, ticket_id, update, "ticket.priority").await
    }

    /// A new FAQ entry, last in order (unpublished unless `published`).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_create_faq_entry(
        &self,
        ctx: &Context<'_>,
        input: FaqEntryInput,
    ) -> GraphqlResult<FaqEntry> {
        let admin = current_user(ctx)?;
        let row = faq::create(&mut *conn(ctx).await?, admin.id(), input.into()).await?;
        Ok(FaqEntry(row))
    }

    /// Changes the fields given.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_update_faq_entry(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: FaqEntryInput,
    ) -> GraphqlResult<FaqEntry> {
        let admin = current_user(ctx)?;
        let id = parse_id("id", &id)?;
        let row = faq::update(
            &mut *conn(ctx).await?,
            admin.id(),
            id,
            input.into(),
            "faq_entry.update",
        )
        .await?;
        Ok(FaqEntry(row))
    }

    /// Publishes or withdraws an entry.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_publish_faq_entry(
        &self,
        ctx: &Context<'_>,
        id: ID,
        published: bool,
    ) -> GraphqlResult<FaqEntry> {
        let admin = current_user(ctx)?;
        let id = parse_id("id", &id)?;
        let input = FaqInput {
            published: Some(published),
            ..Default::default()
        };
        let row = faq::update(
            &mut *conn(ctx).await?,
            admin.id(),
            id,
            input,
            "faq_entry.publish",
        )
        .await?;
        Ok(FaqEntry(row))
    }

    /// Puts the entries named first, in that order; the others follow.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_reorder_faq_entries(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> GraphqlResult<Vec<FaqEntry>> {
        let admin = current_user(ctx)?;
        if ids.len() > 500 {
            return Err(AppError::validation("ids", "at most 500 entries").into());
        }
        let ids = ids
            .iter()
            .map(|id| parse_id("ids", id))
            .collect::<GraphqlResult<Vec<_>>>()?;
        let rows = faq::reorder(&mut *conn(ctx).await?, admin.id(), &ids).await?;
        Ok(rows.into_iter().map(FaqEntry).collect())
    }

    /// The contact form, for visitors who are not signed in. Limited per client
    /// address (`CONTACT_LIMIT_PER_HOUR`, then RATE_LIMITED). Always true once
    /// accepted.
    async fn submit_contact_message(
        &self,
        ctx: &Context<'_>,
        input: ContactMessageInput,
    ) -> GraphqlResult<bool> {
        let client = ctx
            .data_opt::<ClientAddress>()
            .and_then(|address| address.0)
            .ok_or_else(|| AppError::forbidden("the contact form needs a client address"))?;
        contact::submit(
            &mut *conn(ctx).await?,
            ContactInput {
                name: input.name,
                email: input.email,
                subject: input.subject,
                message: input.message,
                website: input.website,
                language: input.language,
            },
            client,
            state(ctx).config.support.contact_limit_per_hour,
        )
        .await?;
        Ok(true)
    }

    /// Answers a contact message by mail, once.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Support)")]
    async fn admin_answer_contact_message(
        &self,
        ctx: &Context<'_>,
        id: ID,
        answer: String,
    ) -> GraphqlResult<ContactMessage> {
        let admin = current_user(ctx)?;
        let id = parse_id("id", &id)?;
        let row = contact::answer(&mut *conn(ctx).await?, admin.id(), id, &answer).await?;
        Ok(ContactMessage(row))
    }
}

async fn staff_update(
    ctx: &Context<'_>,
    ticket_id: ID,
    update: StaffUpdate,
    action: &str,
) -> GraphqlResult<Ticket> {
    let admin = current_user(ctx)?;
    let ticket_id = parse_id("ticketId", &ticket_id)?;
    let row = tickets::staff_update(
        &mut *conn(ctx).await?,
        admin.id(),
        ticket_id,
        update,
        action,
    )
    .await?;
    Ok(Ticket::for_staff(row))
}
