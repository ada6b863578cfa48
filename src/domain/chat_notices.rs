//! Notifications to the Telegram and WhatsApp chats a customer linked, queued in
//! the notifying transaction beside the mail (the chat outbox job sends them).
//! WhatsApp allows free text only within 24 hours of the customer's last message;
//! outside that window the approved notification template carries the text.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{
    channels::bounded,
    db::{
        chats::{ChatLinkRow, ChatMessageRow, NewChatMessage},
        enums::ChatChannel,
        schema::chat_links,
    },
    error::AppResult,
};

/// WhatsApp's customer-service window.
pub const WHATSAPP_WINDOW: Duration = Duration::hours(24);

/// Queues each `(user_id, text)` to every chat of that user: two statements for
/// the batch.
pub async fn queue(conn: &mut AsyncPgConnection, notices: &[(i64, String)]) -> AppResult<()> {
    if notices.is_empty() {
        return Ok(());
    }
    let user_ids: Vec<i64> = notices.iter().map(|(id, _)| *id).collect();
    let links: Vec<ChatLinkRow> = chat_links::table
        .filter(chat_links::user_id.eq_any(&user_ids))
        .select(ChatLinkRow::as_select())
        .load(conn)
        .await?;
    if links.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let messages: Vec<NewChatMessage> = notices
        .iter()
        .flat_map(|(user_id, text)| {
            links
                .iter()
                .filter(move |link| link.user_id == *user_id)
                .map(move |link| NewChatMessage {
                    channel: link.channel,
                    chat_id: link.chat_id.clone(),
                    body: bounded(text),
                    template: link.channel == ChatChannel::Whatsapp
                        && link
                            .last_inbound_at
                            .is_none_or(|at| now - at >= WHATSAPP_WINDOW),
                })
        })
        .collect();
    ChatMessageRow::enqueue(conn, &messages).await?;
    Ok(())
}
