//! The WhatsApp Business Cloud API: text messages inside the 24-hour customer
//! service window, the approved notification template outside it; inbound
//! messages on a webhook signed with the app secret (`X-Hub-Signature-256:
//! sha256=<hex HMAC-SHA256 of the raw body>`) and verified once with
//! `hub.verify_token`.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Channel, ChannelError, Inbound, Outgoing, transport_error};
use crate::db::enums::ChatChannel;

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

pub struct WhatsApp {
    http: reqwest::Client,
    api_url: String,
    phone_number_id: String,
    token: String,
    template: String,
    template_language: String,
}

impl WhatsApp {
    pub fn new(http: reqwest::Client, config: &crate::config::WhatsAppConfig, token: &str) -> Self {
        WhatsApp {
            http,
            api_url: config.api_url.trim_end_matches('/').to_string(),
            phone_number_id: config.phone_number_id.clone(),
            token: token.to_string(),
            template: config.notification_template.clone(),
            template_language: config.template_language.clone(),
        }
    }

    fn body(&self, message: &Outgoing<'_>) -> Value {
        if message.template {
            json!({
                "messaging_product": "whatsapp",
                "to": message.chat_id,
                "type": "template",
                "template": {
                    "name": self.template,
                    "language": { "code": self.template_language },
                    "components": [{
                        "type": "body",
                        "parameters": [{ "type": "text", "text": message.text }]
                    }]
                }
            })
        } else {
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": message.chat_id,
                "type": "text",
                "text": { "body": message.text }
            })
        }
    }
}

#[async_trait]
impl Channel for WhatsApp {
    fn kind(&self) -> ChatChannel {
        ChatChannel::Whatsapp
    }

    async fn send(&self, message: &Outgoing<'_>) -> Result<(), ChannelError> {
        let url = format!("{}/{}/messages", self.api_url, self.phone_number_id);
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(10))
            .json(&self.body(message))
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let why = body["error"]["message"]
            .as_str()
            .unwrap_or("WhatsApp refused the message")
            .chars()
            .take(200)
            .collect();
        Err(ChannelError::from_status(status, why))
    }
}

/// Whether `body` was signed with the app secret (constant time); no secret
/// configured refuses everything.
pub fn authentic(app_secret: Option<&str>, signature: Option<&str>, body: &[u8]) -> bool {
    let (Some(secret), Some(signature)) = (app_secret, signature) else {
        return false;
    };
    let Some(given) = signature
        .strip_prefix("sha256=")
        .and_then(|hex_sig| hex::decode(hex_sig).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The text messages of a webhook payload (other kinds, statuses and reactions
/// are passed over).
pub fn read_messages(payload: &Value) -> Vec<Inbound> {
    let mut found = Vec::new();
    let entries = payload["entry"].as_array().into_iter().flatten();
    for change in entries.flat_map(|e| e["changes"].as_array().into_iter().flatten()) {
        for message in change["value"]["messages"].as_array().into_iter().flatten() {
            if let (Some(from), Some(text)) =
                (message["from"].as_str(), message["text"]["body"].as_str())
                && from.len() <= 32
            {
                found.push(Inbound {
                    chat_id: from.to_string(),
                    text: super::bounded(text),
                });
            }
        }
    }
    found.truncate(50);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_read_and_signatures_checked() {
        let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp", "messages": [{"from": "6281234567890", "id": "wamid.1", "type": "text", "text": {"body": "refill 7"}}, {"from": "6281", "id": "wamid.2", "type": "image"}]}}]}]});
        assert_eq!(
            read_messages(&payload),
            vec![Inbound {
                chat_id: "6281234567890".into(),
                text: "refill 7".into()
            }]
        );
        let body = payload.to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"app-secret").unwrap();
        mac.update(body.as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(authentic(
            Some("app-secret"),
            Some(&signature),
            body.as_bytes()
        ));
        assert!(!authentic(Some("app-secret"), Some(&signature), b"{}"));
        assert!(!authentic(Some("other"), Some(&signature), body.as_bytes()));
        assert!(!authentic(None, Some(&signature), body.as_bytes()));
        assert!(!authentic(
            Some("app-secret"),
            Some("sha256=zz"),
            body.as_bytes()
        ));
    }
}
