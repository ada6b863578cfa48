//! Telegram and WhatsApp: each channel is on when its credentials are set. Base
//! URLs are settings so tests and staging point them at stand-ins.

use std::time::Duration;

use super::parse_var;

#[derive(Clone, Debug)]
pub struct TelegramConfig {
    /// The bot token from @BotFather; the channel is off without it.
    pub bot_token: Option<String>,
    /// What Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (set with
    /// `setWebhook`); an update without it is refused.
    pub webhook_secret: Option<String>,
    /// `https://api.telegram.org`.
    pub api_url: String,
    /// The bot's username, for the link instructions (`@booster_bot`).
    pub bot_username: String,
}

#[derive(Clone, Debug)]
pub struct WhatsAppConfig {
    /// The Cloud API access token; the channel is off without it.
    pub token: Option<String>,
    pub phone_number_id: String,
    /// The app secret: inbound webhooks are signed with it (`X-Hub-Signature-256`).
    pub app_secret: Option<String>,
    /// What the webhook verification request must carry (`hub.verify_token`).
    pub verify_token: Option<String>,
    /// `https://graph.facebook.com/v21.0`.
    pub api_url: String,
    /// The approved template notifications use outside the 24-hour window (one
    /// body parameter: the text), and its language code.
    pub notification_template: String,
    pub template_language: String,
}

#[derive(Clone, Debug)]
pub struct ChannelsConfig {
    pub telegram: TelegramConfig,
    pub whatsapp: WhatsAppConfig,
    /// How often the chat outbox runs (zero: never).
    pub outbox_interval: Duration,
    /// How long a link code stays valid.
    pub link_code_ttl: Duration,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        ChannelsConfig {
            telegram: TelegramConfig {
                bot_token: None,
                webhook_secret: None,
                api_url: "https://api.telegram.org".into(),
                bot_username: "booster_bot".into(),
            },
            whatsapp: WhatsAppConfig {
                token: None,
                phone_number_id: String::new(),
                app_secret: None,
                verify_token: None,
                api_url: "https://graph.facebook.com/v21.0".into(),
                notification_template: "booster_notification".into(),
                template_language: "id".into(),
            },
            outbox_interval: Duration::from_secs(2),
            link_code_ttl: Duration::from_secs(15 * 60),
        }
    }
}

fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl ChannelsConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        let d = ChannelsConfig::default();
        Ok(ChannelsConfig {
            telegram: TelegramConfig {
                bot_token: optional("TELEGRAM_BOT_TOKEN"),
                webhook_secret: optional("TELEGRAM_WEBHOOK_SECRET"),
                api_url: parse_var("TELEGRAM_API_URL", d.telegram.api_url)?,
                bot_username: parse_var("TELEGRAM_BOT_USERNAME", d.telegram.bot_username)?,
            },
            whatsapp: WhatsAppConfig {
                token: optional("WHATSAPP_TOKEN"),
                phone_number_id: parse_var("WHATSAPP_PHONE_NUMBER_ID", d.whatsapp.phone_number_id)?,
                app_secret: optional("WHATSAPP_APP_SECRET"),
                verify_token: optional("WHATSAPP_VERIFY_TOKEN"),
                api_url: parse_var("WHATSAPP_API_URL", d.whatsapp.api_url)?,
                notification_template: parse_var(
                    "WHATSAPP_NOTIFICATION_TEMPLATE",
                    d.whatsapp.notification_template,
                )?,
                template_language: parse_var(
                    "WHATSAPP_TEMPLATE_LANGUAGE",
                    d.whatsapp.template_language,
                )?,
            },
            outbox_interval: Duration::from_millis(parse_var(
                "CHAT_OUTBOX_INTERVAL_MS",
                d.outbox_interval.as_millis() as u64,
            )?),
            link_code_ttl: d.link_code_ttl,
        })
    }
}
