//! Chat channels beside mail: Telegram (`telegram.rs`) and the WhatsApp Business
//! Cloud API (`whatsapp.rs`), each one file behind the [`Channel`] trait: how a
//! message goes out, and how an inbound webhook is checked and read. What is said
//! and to whom is `domain::chats`; sending is the chat outbox job's, on the one
//! outbox runtime.

use async_trait::async_trait;

use crate::db::enums::ChatChannel;

pub mod telegram;
pub mod whatsapp;

/// Why a message did not go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelError {
    /// Worth trying again later (unreachable, 5xx, rate limited).
    Transient(String),
    /// Never worth trying again (blocked by the user, bad chat, refused).
    Permanent(String),
}

impl ChannelError {
    pub fn message(&self) -> &str {
        match self {
            ChannelError::Transient(m) | ChannelError::Permanent(m) => m,
        }
    }

    /// A 4xx is the channel's "no" (429 aside); anything else may pass later.
    fn from_status(status: u16, what: String) -> ChannelError {
        if (400..500).contains(&status) && status != 429 {
            ChannelError::Permanent(what)
        } else {
            ChannelError::Transient(what)
        }
    }
}

/// One chat message, as the outbox hands it over.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub chat_id: &'a str,
    pub text: &'a str,
    /// Send as the approved notification template (WhatsApp outside its window).
    pub template: bool,
}

/// A message a customer sent to the panel's bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub chat_id: String,
    pub text: String,
}

#[async_trait]
pub trait Channel: Send + Sync {
    fn kind(&self) -> ChatChannel;
    async fn send(&self, message: &Outgoing<'_>) -> Result<(), ChannelError>;
}

/// Reads an error answer without echoing the URL (it holds the bot token).
fn transport_error(error: reqwest::Error) -> ChannelError {
    ChannelError::Transient(error.without_url().to_string())
}

/// The longest text the channels take in one message (Telegram: 4096).
pub const MAX_TEXT: usize = 4096;

/// `text` cut to [`MAX_TEXT`] characters.
pub fn bounded(text: &str) -> String {
    text.chars().take(MAX_TEXT).collect()
}
