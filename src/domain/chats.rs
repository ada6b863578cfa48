//! Telegram and WhatsApp chats for customers: linking a chat to an account with a
//! one-time code (made in the account, sent to the bot, stored hashed, valid for a
//! few minutes, once), and what the bot answers a linked customer: the same
//! order-aware bot as tickets (`support::bot`) for "status 123", "refill 123",
//! "cancel 123", links, several ids or a question the FAQ answers; what it cannot
//! answer becomes a ticket for staff, whose reply comes back to the chat (through
//! the ticket notification, `chat_notices`). A Telegram group linked to a staff
//! account (`/start@bot CODE` in the group) gets that account's admin alerts. A
//! chat that is not linked learns
//! nothing about any account. Replies are queued in the same transaction and sent
//! by the chat outbox job.

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::{
    channels::{Inbound, bounded},
    config::{ChannelsConfig, OrdersConfig},
    db::{
        chats::{self, ChatLinkRow, ChatMessageRow, NewChatMessage},
        enums::{ChatChannel, Language, TicketTopic},
        users::UserRow,
    },
    domain::support::{
        bot,
        tickets::{self, OpenTicket},
    },
    error::{AppError, AppResult},
};

/// Letters and digits that cannot be misread (no 0/O, 1/I).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_LENGTH: usize = 8;

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_ascii_uppercase().as_bytes()))
}

/// Eight characters from [`CODE_ALPHABET`] (about 40 bits), from the thread's
/// generator (dropped before any await).
fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LENGTH)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// A new one-time code that links a chat on `channel` to `user_id`; the
/// account's earlier codes for the channel stop working.
pub async fn link_code(
    conn: &mut AsyncPgConnection,
    config: &ChannelsConfig,
    user_id: i64,
    channel: ChatChannel,
) -> AppResult<String> {
    let code = new_code();
    let ttl = chrono::Duration::from_std(config.link_code_ttl).map_err(AppError::internal)?;
    chats::insert_link_code(conn, user_id, channel, &code_hash(&code), Utc::now() + ttl).await?;
    Ok(code)
}

/// What a chat message asks, read from its first word: `status`/`cek`,
/// `refill`, `cancel`/`batal`, `/start CODE` or `link CODE`, or anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    Link(&'a str),
    Ask(TicketTopic, &'a str),
}

pub fn command(text: &str) -> Command<'_> {
    let text = text.trim();
    let (first, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let rest = rest.trim();
    // In a group, Telegram addresses commands to the bot: `/start@booster_bot`.
    let first = first.split('@').next().unwrap_or(first);
    match first.to_ascii_lowercase().as_str() {
        "/start" | "link" | "/link" if !rest.is_empty() => Command::Link(rest),
        "status" | "/status" | "cek" => Command::Ask(TicketTopic::Order, text),
        "refill" | "/refill" => Command::Ask(TicketTopic::Refill, text),
        "cancel" | "/cancel" | "batal" => Command::Ask(TicketTopic::Cancel, text),
        _ => Command::Ask(TicketTopic::Other, text),
    }
}

fn pick(lang: Language, id: &str, en: &str) -> String {
    lang.pick(id, en).to_string()
}

/// Answers one inbound chat message, in one transaction: links the chat, or runs
/// the bot for its linked customer (opening a ticket for what it cannot answer),
/// and queues the reply.
pub async fn handle_inbound(
    conn: &mut AsyncPgConnection,
    rules: &OrdersConfig,
    channel: ChatChannel,
    inbound: &Inbound,
) -> AppResult<()> {
    conn.transaction(async |conn| {
        let reply = reply_to(conn, rules, channel, inbound).await?;
        ChatMessageRow::enqueue(
            conn,
            &[NewChatMessage {
                channel,
                chat_id: inbound.chat_id.clone(),
                body: bounded(&reply),
                template: false,
            }],
        )
        .await?;
        Ok(())
    })
    .await
}

async fn reply_to(
    conn: &mut AsyncPgConnection,
    rules: &OrdersConfig,
    channel: ChatChannel,
    inbound: &Inbound,
) -> AppResult<String> {
    let link = ChatLinkRow::find_chat(conn, channel, &inbound.chat_id).await?;
    let command = command(&inbound.text);
    if let Command::Link(code) = command {
        return Ok(match chats::use_link_code(conn, channel, &code_hash(code)).await? {
            Some(user_id) => {
                ChatLinkRow::link(conn, user_id, channel, &inbound.chat_id).await?;
                let lang = UserRow::find(conn, user_id)
                    .await?
                    .map_or(Language::Id, |u| u.language);
                pick(
                    lang,
                    "Chat ini sudah terhubung ke akun Anda. Kirim: status 123, refill 123, cancel 123, atau tulis pertanyaan Anda.",
                    "This chat is now linked to your account. Send: status 123, refill 123, cancel 123, or write your question.",
                )
            }
            None => "Kode tidak berlaku atau sudah kedaluwarsa. Buat kode baru di akun Anda. / This code is not valid or has expired; create a new one in your account.".to_string(),
        });
    }
    // Not linked: say how to link, and nothing about any account.
    let user = match &link {
        Some(link) => UserRow::find(conn, link.user_id).await?,
        None => None,
    };
    let (Some(link), Some(user)) = (link, user.filter(|u| !u.is_banned())) else {
        return Ok("Hubungkan chat ini ke akun Anda: buat kode di pengaturan akun, lalu kirim \"link KODE\". / Link this chat to your account: create a code in your account settings, then send \"link CODE\".".to_string());
    };
    ChatLinkRow::touch_inbound(conn, link.id).await?;
    let Command::Ask(topic, text) = command else {
        unreachable!("links answered above")
    };
    let answer = bot::answer(conn, rules, &user, topic, text, &[]).await?;
    if answer.answered {
        return Ok(answer.reply.unwrap_or_default());
    }
    // Left for staff: a ticket, whose reply comes back here.
    let subject: String = text.chars().take(60).collect();
    let change = tickets::open(
        conn,
        rules,
        &user,
        OpenTicket {
            subject: format!("Chat: {subject}"),
            topic,
            message: text.to_string(),
            order_ids: Vec::new(),
        },
    )
    .await?;
    let handed_over = match user.language {
        Language::Id => format!(
            "Tim kami akan menjawab di sini (tiket #{}).",
            change.ticket.id
        ),
        Language::En => format!("Our team will answer here (ticket #{}).", change.ticket.id),
    };
    Ok(match answer.reply {
        Some(reply) => format!("{reply}\n\n{handed_over}"),
        None => handed_over,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_from_the_first_word() {
        use TicketTopic::*;
        let asks = [
            ("status 12", Order),
            ("Refill #7", Refill),
            ("batal 9", Cancel),
            ("/start", Other),
            ("how do I pay", Other),
        ];
        for (text, topic) in asks {
            assert_eq!(command(text), Command::Ask(topic, text), "{text}");
        }
        for text in [
            "/start AB12CD34",
            "/start@booster_bot AB12CD34",
            "link  AB12CD34 ",
        ] {
            assert_eq!(command(text), Command::Link("AB12CD34"), "{text}");
        }
        assert_eq!(code_hash(" ab12cd34"), code_hash("AB12CD34"));
    }
}
