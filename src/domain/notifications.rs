//! Notifications: messages for a customer (a deposit was credited, an order
//! ended, a ticket was answered) or for the admins (a provider's balance is low,
//! an order needs review, a ticket waits for staff). Each is an in-app
//! notification (`myNotifications`, `adminNotifications`) and, when the
//! recipient's `notify*` setting allows it, a mail queued in the same transaction
//! (`mail::enqueue`), written in the recipient's language.
//!
//! In-app messages stay in English, like the rest of the feed; mails follow
//! `users.language`. A recipient whose address the mail module refuses gets the
//! in-app notification only: a bad address never undoes the change that caused
//! the notification.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{
    db::{
        enums::{Language, OrderStatus, Role},
        orders::OrderRow,
        schema::{notifications, services, users},
        users::UserRow,
    },
    error::{AppError, AppResult},
    mail::{self, NewMail, templates},
};

/// Who a notification is for.
#[derive(Debug, Clone, Copy)]
pub enum Audience {
    User(i64),
    Admins,
}

impl Audience {
    /// The `notifications.user_id` of this audience (null for the admins' feed).
    pub fn user_id(self) -> Option<i64> {
        match self {
            Audience::User(id) => Some(id),
            Audience::Admins => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct About {
    pub order_id: Option<i64>,
    pub provider_id: Option<i64>,
}

/// The user setting that lets a kind of mail through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    OrderUpdates,
    Deposits,
    Tickets,
}

impl Preference {
    pub fn allows(self, user: &UserRow) -> bool {
        match self {
            Preference::OrderUpdates => user.notify_order_updates,
            Preference::Deposits => user.notify_deposits,
            Preference::Tickets => user.notify_tickets,
        }
    }

    /// Which admin setting an admin alert of `kind` answers to: ticket alerts to
    /// `notifyTickets`, everything else (orders, providers, catalogue) to
    /// `notifyOrderUpdates`.
    fn for_admin_alert(kind: &str) -> Preference {
        if kind.starts_with("TICKET") {
            Preference::Tickets
        } else {
            Preference::OrderUpdates
        }
    }
}

/// An in-app notification; for the admins also a line in the alert digest mail
/// of every admin whose setting allows it.
pub async fn notify(
    conn: &mut AsyncPgConnection,
    audience: Audience,
    kind: &str,
    message: &str,
    about: About,
) -> AppResult<()> {
    insert_in_app(conn, audience, kind, message, &about).await?;
    if let Audience::Admins = audience {
        let preference = Preference::for_admin_alert(kind);
        let admins: Vec<UserRow> = users::table
            .filter(users::role.eq_any([Role::Owner, Role::Staff]))
            .filter(users::banned_at.is_null())
            .select(UserRow::as_select())
            .load(conn)
            .await?;
        // One digest mail per admin per interval (`alert_digest`), never a
        // mail per alert; in chats (a staff member's, or a Telegram group linked
        // to their account) each alert as it comes.
        let mut chats = Vec::new();
        for admin in admins.iter().filter(|admin| preference.allows(admin)) {
            super::alert_digest::add(conn, admin, message).await?;
            chats.push((admin.id, message.to_string()));
        }
        super::chat_notices::queue(conn, &chats).await?;
    }
    Ok(())
}

async fn insert_in_app(
    conn: &mut AsyncPgConnection,
    audience: Audience,
    kind: &str,
    message: &str,
    about: &About,
) -> AppResult<()> {
    diesel::insert_into(notifications::table)
        .values((
            notifications::user_id.eq(audience.user_id()),
            notifications::kind.eq(kind),
            notifications::message.eq(message),
            notifications::order_id.eq(about.order_id),
            notifications::provider_id.eq(about.provider_id),
        ))
        .execute(conn)
        .await?;
    tracing::info!(kind, ?audience, "notification");
    Ok(())
}

/// A customer event: the in-app notification, and the mail rendered in the
/// user's language when `preference` allows it. `dedupe_key` makes the mail
/// once-only for its event.
async fn notify_user(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    event: UserEvent<'_>,
    render: impl FnOnce(Language, &UserRow) -> templates::Rendered,
) -> AppResult<()> {
    let user = UserRow::find(conn, user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    insert_in_app(
        conn,
        Audience::User(user_id),
        event.kind,
        event.message,
        &event.about,
    )
    .await?;
    if event.preference.allows(&user) && !user.is_banned() {
        let rendered = render(user.language, &user);
        let chat = match event.chat_detail {
            Some(detail) => format!("{}\n\n{detail}", rendered.subject),
            None => rendered.subject.clone(),
        };
        super::chat_notices::queue(conn, &[(user.id, chat)]).await?;
        queue_mail(
            conn,
            &user,
            event.mail_kind,
            rendered,
            Some(event.dedupe_key),
        )
        .await?;
    }
    Ok(())
}

struct UserEvent<'a> {
    /// The in-app kind (SCREAMING_CASE).
    kind: &'a str,
    message: &'a str,
    about: About,
    preference: Preference,
    /// The outbox kind (snake_case).
    mail_kind: &'a str,
    dedupe_key: String,
    /// Said in chats after the mail's subject (a staff reply's text).
    chat_detail: Option<&'a str>,
}

fn user_mail(
    user: &UserRow,
    kind: &str,
    rendered: templates::Rendered,
    dedupe_key: Option<String>,
) -> NewMail {
    NewMail {
        to: user.email.clone(),
        subject: rendered.subject,
        text_body: rendered.text,
        html_body: None,
        kind: kind.to_lowercase(),
        user_id: Some(user.id),
        dedupe_key,
    }
}

async fn queue_mail(
    conn: &mut AsyncPgConnection,
    user: &UserRow,
    kind: &str,
    rendered: templates::Rendered,
    dedupe_key: Option<String>,
) -> AppResult<()> {
    let queued = mail::enqueue(conn, user_mail(user, kind, rendered, dedupe_key)).await;
    match queued {
        Ok(_) => Ok(()),
        Err(AppError::Validation { field, .. }) => {
            tracing::warn!(
                user_id = user.id,
                field,
                "mail not queued: refused by the outbox"
            );
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// A deposit was credited; `balance` is the balance after the credit.
pub async fn deposit_credited(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    deposit_id: i64,
    amount: i64,
    balance: i64,
) -> AppResult<()> {
    let message = format!("Deposit {deposit_id} of {amount} rupiah was credited to your balance.");
    notify_user(
        conn,
        user_id,
        UserEvent {
            kind: "DEPOSIT_CREDITED",
            message: &message,
            about: About::default(),
            preference: Preference::Deposits,
            mail_kind: "deposit_credited",
            dedupe_key: format!("deposit_credited:{deposit_id}"),
            chat_detail: None,
        },
        |lang, user| templates::deposit_credited(lang, &user.name, deposit_id, amount, balance),
    )
    .await
}

/// An admin rejected a deposit (a transfer that did not arrive, a proof that
/// does not match); `reason` is the admin's.
pub async fn deposit_rejected(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    deposit_id: i64,
    reason: &str,
) -> AppResult<()> {
    let message = format!("Deposit {deposit_id} was rejected: {reason}");
    notify_user(
        conn,
        user_id,
        UserEvent {
            kind: "DEPOSIT_REJECTED",
            message: &message,
            about: About::default(),
            preference: Preference::Deposits,
            mail_kind: "deposit_rejected",
            dedupe_key: format!("deposit_rejected:{deposit_id}"),
            chat_detail: None,
        },
        |lang, user| templates::deposit_rejected(lang, &user.name, deposit_id, reason),
    )
    .await
}

/// An order reached a final status (COMPLETED, PARTIAL, CANCELED, FAILED); `order`
/// is the row as it now stands (its `refunded` included).
pub async fn order_ended(conn: &mut AsyncPgConnection, order: &OrderRow) -> AppResult<()> {
    orders_ended(conn, std::slice::from_ref(order)).await
}

/// [`order_ended`] for many orders in a constant number of statements (the
/// owners, the service names, the in-app notifications, the mails): the same
/// messages, the same settings and the same once-per-order mail. Orders not in a
/// final status are skipped.
pub async fn orders_ended(conn: &mut AsyncPgConnection, orders: &[OrderRow]) -> AppResult<()> {
    let ended: Vec<(&OrderRow, &str, String)> = orders
        .iter()
        .filter_map(|order| ended_message(order).map(|(kind, message)| (order, kind, message)))
        .collect();
    if ended.is_empty() {
        return Ok(());
    }
    let user_ids: Vec<i64> = ended.iter().map(|(o, ..)| o.user_id).collect();
    let service_ids: Vec<i64> = ended.iter().map(|(o, ..)| o.service_id).collect();
    let owners: HashMap<i64, UserRow> = users::table
        .filter(users::id.eq_any(&user_ids))
        .select(UserRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let service_names: HashMap<i64, String> = services::table
        .filter(services::id.eq_any(&service_ids))
        .select((services::id, services::name))
        .load::<(i64, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let mut in_app = Vec::with_capacity(ended.len());
    let mut mails = Vec::new();
    let mut chats = Vec::new();
    for (order, kind, message) in &ended {
        let user = owners
            .get(&order.user_id)
            .ok_or(AppError::NotFound("user"))?;
        let service_name = service_names
            .get(&order.service_id)
            .ok_or(AppError::NotFound("service"))?;
        tracing::info!(kind, user_id = user.id, "notification");
        in_app.push((
            notifications::user_id.eq(Some(user.id)),
            notifications::kind.eq(*kind),
            notifications::message.eq(message.as_str()),
            notifications::order_id.eq(Some(order.id)),
            notifications::provider_id.eq(None::<i64>),
        ));
        if Preference::OrderUpdates.allows(user) && !user.is_banned() {
            let rendered = templates::order_ended(
                user.language,
                &user.name,
                order.id,
                service_name,
                order.status,
                order.refunded,
            );
            chats.push((user.id, rendered.subject.clone()));
            let mail = user_mail(
                user,
                "order_ended",
                rendered,
                Some(format!("order_ended:{}", order.id)),
            );
            // As for one mail: an address the outbox refuses loses the mail, not
            // the change.
            match mail::check(&mail) {
                Ok(()) => mails.push(mail),
                Err(AppError::Validation { field, .. }) => tracing::warn!(
                    user_id = user.id,
                    field,
                    "mail not queued: refused by the outbox"
                ),
                Err(error) => return Err(error),
            }
        }
    }
    diesel::insert_into(notifications::table)
        .values(&in_app)
        .execute(conn)
        .await?;
    mail::enqueue_many(conn, &mails).await?;
    super::chat_notices::queue(conn, &chats).await?;
    Ok(())
}

/// The in-app kind and message of an order that ended; None for other statuses.
fn ended_message(order: &OrderRow) -> Option<(&'static str, String)> {
    Some(match order.status {
        OrderStatus::Completed => (
            "ORDER_COMPLETED",
            format!("Order {} is completed.", order.id),
        ),
        OrderStatus::Partial => (
            "ORDER_PARTIAL",
            format!(
                "Order {} was delivered in part; {} rupiah was refunded.",
                order.id, order.refunded
            ),
        ),
        OrderStatus::Canceled => (
            "ORDER_CANCELED",
            format!("Order {} was canceled and refunded in full.", order.id),
        ),
        OrderStatus::Failed => (
            "ORDER_FAILED",
            format!(
                "Order {} could not be placed and was refunded in full.",
                order.id
            ),
        ),
        _ => return None,
    })
}

/// Staff or the bot answered a ticket (never called for internal notes).
pub async fn ticket_answered(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    ticket_id: i64,
    ticket_subject: &str,
    message_id: i64,
    reply: &str,
    from_bot: bool,
) -> AppResult<()> {
    let message = format!("Ticket {ticket_id} has a new reply.");
    notify_user(
        conn,
        user_id,
        UserEvent {
            kind: "TICKET_REPLY",
            message: &message,
            about: About::default(),
            preference: Preference::Tickets,
            mail_kind: "ticket_reply",
            dedupe_key: format!("ticket_reply:{message_id}"),
            chat_detail: Some(reply),
        },
        |lang, user| {
            templates::ticket_reply(lang, &user.name, ticket_id, ticket_subject, reply, from_bot)
        },
    )
    .await
}

/// Marks notifications read; only the audience's own ones are touched.
pub async fn mark_read(
    conn: &mut AsyncPgConnection,
    audience: Audience,
    ids: &[i64],
) -> AppResult<usize> {
    let target = notifications::table
        .filter(notifications::id.eq_any(ids))
        .filter(notifications::read_at.is_null());
    let updated = match audience {
        Audience::User(id) => {
            diesel::update(target.filter(notifications::user_id.eq(id)))
                .set(notifications::read_at.eq(diesel::dsl::now))
                .execute(conn)
                .await?
        }
        Audience::Admins => {
            diesel::update(target.filter(notifications::user_id.is_null()))
                .set(notifications::read_at.eq(diesel::dsl::now))
                .execute(conn)
                .await?
        }
    };
    Ok(updated)
}
