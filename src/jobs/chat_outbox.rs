//! Chat outbox: sends queued Telegram and WhatsApp messages through their
//! channel, on the one outbox runtime (`outbox.rs`): claimed with a lease, sent
//! with no transaction open, recorded while the lease holds. A transient failure
//! is tried again (30 seconds, doubling to an hour, for a day); a channel's "no"
//! (blocked bot, unknown chat) or a channel that is not configured fails it.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use super::outbox::{self, Outbox, OutboxReport, Pace, Recorded};
use crate::{
    app::AppState,
    channels::{Channel, ChannelError, Outgoing, telegram::Telegram, whatsapp::WhatsApp},
    db::{chats::ChatMessageRow, claim::Claim, enums::ChatChannel},
    error::AppResult,
};

super::job!(ChatOutbox, "chat outbox", channels.outbox_interval);

const BATCH: i64 = 20;
const FIRST_RETRY: chrono::Duration = chrono::Duration::seconds(30);
const MAX_RETRY_WAIT: chrono::Duration = chrono::Duration::hours(1);
const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(24);

struct Chats {
    telegram: Option<Telegram>,
    whatsapp: Option<WhatsApp>,
}

impl Chats {
    fn channel(&self, kind: ChatChannel) -> Option<&dyn Channel> {
        match kind {
            ChatChannel::Telegram => self.telegram.as_ref().map(|c| c as &dyn Channel),
            ChatChannel::Whatsapp => self.whatsapp.as_ref().map(|c| c as &dyn Channel),
        }
    }
}

#[async_trait::async_trait]
impl Outbox for Chats {
    type Item = ChatMessageRow;
    type Receipt = ();
    type Failure = ChannelError;

    fn pace(&self) -> Pace {
        Pace {
            batch: BATCH,
            lease: chrono::Duration::minutes(2),
            call_timeout: chrono::Duration::seconds(10),
        }
    }

    async fn claim(
        &self,
        conn: &mut AsyncPgConnection,
        claim: Claim,
    ) -> AppResult<Vec<ChatMessageRow>> {
        Ok(ChatMessageRow::claim_due(conn, claim).await?)
    }

    fn lease_of(&self, message: &ChatMessageRow) -> Option<DateTime<Utc>> {
        message.lease_until
    }

    async fn deliver(&self, message: &ChatMessageRow) -> Result<(), ChannelError> {
        let Some(channel) = self.channel(message.channel) else {
            return Err(ChannelError::Permanent(
                "the channel is not configured".into(),
            ));
        };
        channel
            .send(&Outgoing {
                chat_id: &message.chat_id,
                text: &message.body,
                template: message.template,
            })
            .await
    }

    async fn record(
        &self,
        conn: &mut AsyncPgConnection,
        message: &ChatMessageRow,
        lease_until: DateTime<Utc>,
        outcome: Result<(), ChannelError>,
    ) -> AppResult<Recorded> {
        let (written, recorded) = match outcome {
            Ok(()) => (
                ChatMessageRow::record(conn, message.id, lease_until, Ok(())).await?,
                Recorded::Delivered,
            ),
            Err(error) => {
                let now = Utc::now();
                let retry_at = match error {
                    ChannelError::Transient(_) if now - message.created_at < GIVE_UP_AFTER => {
                        let wait = crate::domain::retry::backoff(
                            FIRST_RETRY,
                            message.attempts,
                            MAX_RETRY_WAIT,
                        );
                        Some(now + wait)
                    }
                    _ => None,
                };
                tracing::warn!(
                    message_id = message.id,
                    channel = ?message.channel,
                    retrying = retry_at.is_some(),
                    error = error.message(),
                    "a chat message was not sent"
                );
                let written = ChatMessageRow::record(
                    conn,
                    message.id,
                    lease_until,
                    Err((error.message(), retry_at)),
                )
                .await?;
                let recorded = if retry_at.is_some() {
                    Recorded::Retrying
                } else {
                    Recorded::GaveUp
                };
                (written, recorded)
            }
        };
        Ok(if written {
            recorded
        } else {
            Recorded::LeaseLost
        })
    }
}

/// Sends the due chat messages, batch by batch.
pub async fn run(state: &AppState) -> AppResult<OutboxReport> {
    let config = &state.config.channels;
    let chats = Chats {
        telegram: config
            .telegram
            .bot_token
            .as_deref()
            .map(|token| Telegram::new(state.http.clone(), &config.telegram.api_url, token)),
        whatsapp: config
            .whatsapp
            .token
            .as_deref()
            .map(|token| WhatsApp::new(state.http.clone(), &config.whatsapp, token)),
    };
    outbox::drain(state, &chats).await
}
