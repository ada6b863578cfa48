//! Linking Telegram and WhatsApp chats to the caller's account.

use async_graphql::{Context, Object, SimpleObject};

use crate::{
    db::{chats::ChatLinkRow, enums::ChatChannel},
    domain::chats,
    graphql::{conn, current_user, error::GraphqlResult, guards::RoleGuard, state},
};

/// A one-time code that links a chat, and what to do with it.
#[derive(SimpleObject)]
pub struct ChatLinkCode {
    /// Send `link <code>` to the bot (on Telegram, `/start <code>` works too).
    pub code: String,
    /// Where to send it: `https://t.me/<bot>?start=<code>` on Telegram.
    pub link: Option<String>,
    pub expires_in_minutes: i64,
}

#[derive(Default)]
pub struct ChatMutation;

#[Object]
impl ChatMutation {
    /// A one-time code (valid for a few minutes) that links a Telegram or
    /// WhatsApp chat to the caller's account; an earlier unused code stops working.
    #[graphql(guard = "RoleGuard::User")]
    async fn chat_link_code(
        &self,
        ctx: &Context<'_>,
        channel: ChatChannel,
    ) -> GraphqlResult<ChatLinkCode> {
        let user = current_user(ctx)?.id();
        let config = &state(ctx).config.channels;
        let mut conn = conn(ctx).await?;
        let code = chats::link_code(&mut conn, config, user, channel).await?;
        let link = (channel == ChatChannel::Telegram)
            .then(|| format!("https://t.me/{}?start={code}", config.telegram.bot_username));
        Ok(ChatLinkCode {
            code,
            link,
            expires_in_minutes: (config.link_code_ttl.as_secs() / 60) as i64,
        })
    }

    /// Unlinks the caller's chat on `channel`; notifications stop going there.
    #[graphql(guard = "RoleGuard::User")]
    async fn unlink_chat(&self, ctx: &Context<'_>, channel: ChatChannel) -> GraphqlResult<bool> {
        let user = current_user(ctx)?.id();
        let mut conn = conn(ctx).await?;
        Ok(ChatLinkRow::unlink(&mut conn, user, channel).await?)
    }
}
