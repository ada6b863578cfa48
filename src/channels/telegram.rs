//! The Telegram Bot API: `sendMessage` out, updates in through the webhook, which
//! must carry the secret token given to `setWebhook`
//! (`X-Telegram-Bot-Api-Secret-Token`).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Channel, ChannelError, Inbound, Outgoing, transport_error};
use crate::db::enums::ChatChannel;

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub struct Telegram {
    http: reqwest::Client,
    api_url: String,
    token: String,
}

impl Telegram {
    pub fn new(http: reqwest::Client, api_url: &str, token: &str) -> Self {
        Telegram {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
        }
    }
}

#[async_trait]
impl Channel for Telegram {
    fn kind(&self) -> ChatChannel {
        ChatChannel::Telegram
    }

    async fn send(&self, message: &Outgoing<'_>) -> Result<(), ChannelError> {
        let url = format!("{}/bot{}/sendMessage", self.api_url, self.token);
        let response = self
            .http
            .post(url)
            .timeout(Duration::from_secs(10))
            .json(&json!({ "chat_id": message.chat_id, "text": message.text }))
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if body["ok"].as_bool() == Some(true) {
            return Ok(());
        }
        let why = body["description"]
            .as_str()
            .unwrap_or("Telegram refused the message")
            .chars()
            .take(200)
            .collect();
        Err(ChannelError::from_status(status, why))
    }
}

/// Whether an update carries the configured secret token (compared in constant
/// time); no secret configured refuses everything.
pub fn authentic(expected: Option<&str>, presented: Option<&str>) -> bool {
    match (expected, presented) {
        (Some(expected), Some(presented)) => {
            use subtle::ConstantTimeEq;
            expected.as_bytes().ct_eq(presented.as_bytes()).into()
        }
        _ => false,
    }
}

/// The text message of an update, if it is one (`message` or `edited_message`
/// from a chat, with text).
pub fn read_update(update: &Value) -> Option<Inbound> {
    let message = update
        .get("message")
        .or_else(|| update.get("edited_message"))?;
    let chat_id = message.get("chat")?.get("id")?;
    let chat_id = chat_id
        .as_i64()
        .map(|id| id.to_string())
        .or_else(|| chat_id.as_str().map(str::to_string))?;
    let text = message.get("text")?.as_str()?;
    Some(Inbound {
        chat_id,
        text: super::bounded(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_read_and_secrets_compared() {
        let update = json!({"update_id": 1, "message": {"message_id": 5, "chat": {"id": 4242, "type": "private"}, "text": "status 12"}});
        assert_eq!(
            read_update(&update),
            Some(Inbound {
                chat_id: "4242".into(),
                text: "status 12".into()
            })
        );
        assert_eq!(
            read_update(&json!({"update_id": 2, "callback_query": {}})),
            None
        );
        assert!(authentic(Some("s3cret"), Some("s3cret")));
        assert!(!authentic(Some("s3cret"), Some("s3cret!")));
        assert!(!authentic(None, Some("anything")));
        assert!(!authentic(Some("s3cret"), None));
    }
}
