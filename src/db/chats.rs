//! `chat_links` (a Telegram or WhatsApp chat linked to an account),
//! `chat_link_codes` (the one-time codes that link them, stored hashed) and
//! `chat_messages` (the outbox of messages to chats, claimed with a lease like
//! the mail outbox). The rules are `domain::chats`'.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    claim::{Claim, leased, outbox_claim},
    enums::{ChatChannel, ChatMessageStatus},
    schema::{chat_link_codes, chat_links, chat_messages},
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = chat_links, check_for_backend(diesel::pg::Pg))]
pub struct ChatLinkRow {
    pub id: i64,
    pub user_id: i64,
    pub channel: ChatChannel,
    pub chat_id: String,
    pub linked_at: DateTime<Utc>,
    pub last_inbound_at: Option<DateTime<Utc>>,
}

impl ChatLinkRow {
    /// The account a chat is linked to.
    pub async fn find_chat(
        conn: &mut AsyncPgConnection,
        channel: ChatChannel,
        chat_id: &str,
    ) -> QueryResult<Option<Self>> {
        chat_links::table
            .filter(chat_links::channel.eq(channel))
            .filter(chat_links::chat_id.eq(chat_id))
            .select(ChatLinkRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The chats linked to `user_id`.
    pub async fn of_user(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<Vec<Self>> {
        chat_links::table
            .filter(chat_links::user_id.eq(user_id))
            .order(chat_links::id)
            .select(ChatLinkRow::as_select())
            .load(conn)
            .await
    }

    /// Links `chat_id` to `user_id` on `channel`, replacing the account's earlier
    /// chat there and the chat's earlier account.
    pub async fn link(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        channel: ChatChannel,
        chat_id: &str,
    ) -> QueryResult<Self> {
        diesel::delete(
            chat_links::table
                .filter(chat_links::channel.eq(channel))
                .filter(
                    chat_links::user_id
                        .eq(user_id)
                        .or(chat_links::chat_id.eq(chat_id)),
                ),
        )
        .execute(conn)
        .await?;
        diesel::insert_into(chat_links::table)
            .values((
                chat_links::user_id.eq(user_id),
                chat_links::channel.eq(channel),
                chat_links::chat_id.eq(chat_id),
            ))
            .returning(ChatLinkRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Notes the customer's message now (WhatsApp's 24-hour window).
    pub async fn touch_inbound(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
        diesel::update(chat_links::table.find(id))
            .set(chat_links::last_inbound_at.eq(diesel::dsl::now))
            .execute(conn)
            .await
            .map(drop)
    }

    pub async fn unlink(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        channel: ChatChannel,
    ) -> QueryResult<bool> {
        let removed = diesel::delete(
            chat_links::table
                .filter(chat_links::user_id.eq(user_id))
                .filter(chat_links::channel.eq(channel)),
        )
        .execute(conn)
        .await?;
        Ok(removed > 0)
    }
}

/// Stores a link code (by its hash) for `user_id`, valid until `expires_at`;
/// the account's earlier unused codes for the channel stop working.
pub async fn insert_link_code(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    channel: ChatChannel,
    code_hash: &str,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::delete(
        chat_link_codes::table
            .filter(chat_link_codes::user_id.eq(user_id))
            .filter(chat_link_codes::channel.eq(channel)),
    )
    .execute(conn)
    .await?;
    diesel::insert_into(chat_link_codes::table)
        .values((
            chat_link_codes::code_hash.eq(code_hash),
            chat_link_codes::user_id.eq(user_id),
            chat_link_codes::channel.eq(channel),
            chat_link_codes::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Uses a link code: the account it belongs to, once, while it is valid.
pub async fn use_link_code(
    conn: &mut AsyncPgConnection,
    channel: ChatChannel,
    code_hash: &str,
) -> QueryResult<Option<i64>> {
    diesel::update(
        chat_link_codes::table
            .find(code_hash)
            .filter(chat_link_codes::channel.eq(channel))
            .filter(chat_link_codes::used_at.is_null())
            .filter(chat_link_codes::expires_at.gt(diesel::dsl::now)),
    )
    .set(chat_link_codes::used_at.eq(diesel::dsl::now))
    .returning(chat_link_codes::user_id)
    .get_result(conn)
    .await
    .optional()
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewChatMessage {
    pub channel: ChatChannel,
    pub chat_id: String,
    pub body: String,
    pub template: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = chat_messages, check_for_backend(diesel::pg::Pg))]
pub struct ChatMessageRow {
    pub id: i64,
    pub channel: ChatChannel,
    pub chat_id: String,
    pub body: String,
    pub template: bool,
    pub status: ChatMessageStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl ChatMessageRow {
    /// Queues messages in the caller's transaction.
    pub async fn enqueue(
        conn: &mut AsyncPgConnection,
        messages: &[NewChatMessage],
    ) -> QueryResult<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let rows: Vec<_> = messages
            .iter()
            .map(|m| {
                (
                    chat_messages::channel.eq(m.channel),
                    chat_messages::chat_id.eq(&m.chat_id),
                    chat_messages::body.eq(&m.body),
                    chat_messages::template.eq(m.template),
                )
            })
            .collect();
        diesel::insert_into(chat_messages::table)
            .values(rows)
            .execute(conn)
            .await
            .map(drop)
    }

    /// Claims due messages, in one committed statement (rows another worker
    /// holds are skipped).
    pub async fn claim_due(conn: &mut AsyncPgConnection, claim: Claim) -> QueryResult<Vec<Self>> {
        leased(conn, outbox_claim!("chat_messages", "id"), claim).await
    }

    /// Records the outcome of an attempt, only while `lease_until` is the lease:
    /// sent, tried again at `retry_at`, or given up (`retry_at` `None`).
    pub async fn record(
        conn: &mut AsyncPgConnection,
        id: i64,
        lease_until: DateTime<Utc>,
        outcome: Result<(), (&str, Option<DateTime<Utc>>)>,
    ) -> QueryResult<bool> {
        let row = chat_messages::table
            .find(id)
            .filter(chat_messages::lease_until.eq(lease_until));
        let updated = match outcome {
            Ok(()) => {
                diesel::update(row)
                    .set((
                        chat_messages::status.eq(ChatMessageStatus::Sent),
                        chat_messages::sent_at.eq(diesel::dsl::now),
                        chat_messages::lease_until.eq(None::<DateTime<Utc>>),
                    ))
                    .execute(conn)
                    .await?
            }
            Err((error, retry_at)) => {
                let status = match retry_at {
                    Some(_) => ChatMessageStatus::Pending,
                    None => ChatMessageStatus::Failed,
                };
                diesel::update(row)
                    .set((
                        chat_messages::status.eq(status),
                        chat_messages::last_error.eq(error.chars().take(500).collect::<String>()),
                        chat_messages::next_attempt_at.eq(retry_at.unwrap_or_else(Utc::now)),
                        chat_messages::lease_until.eq(None::<DateTime<Utc>>),
                    ))
                    .execute(conn)
                    .await?
            }
        };
        Ok(updated > 0)
    }
}
