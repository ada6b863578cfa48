//! In-app notifications: the caller's own, and the admins' shared feed; the chats
//! linked to the caller (Telegram, WhatsApp), where notifications also go.

use async_graphql::{Context, Object};

/// A chat linked to the caller's account (its id is not shown).
#[derive(async_graphql::SimpleObject)]
pub struct ChatLink {
    pub channel: crate::db::enums::ChatChannel,
    pub linked_at: chrono::DateTime<chrono::Utc>,
}

use crate::{
    db::{chats::ChatLinkRow, notifications::NotificationRow},
    graphql::{
        conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        pagination::{list_complexity, page_size},
        types::notifications::Notification,
    },
};

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The caller's notifications, newest first.
    #[graphql(
        guard = "RoleGuard::User",
        complexity = "list_complexity(Some(first), child_complexity)"
    )]
    async fn my_notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
    ) -> GraphqlResult<Vec<Notification>> {
        let user = current_user(ctx)?.id();
        let mut conn = conn(ctx).await?;
        let rows = NotificationRow::list(&mut conn, Some(user), page_size(Some(first))?).await?;
        Ok(rows.into_iter().map(Notification).collect())
    }

    /// The Telegram and WhatsApp chats linked to the caller's account (where
    /// notifications also go).
    #[graphql(guard = "RoleGuard::User")]
    async fn my_chat_links(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<ChatLink>> {
        let user = current_user(ctx)?.id();
        let rows = ChatLinkRow::of_user(&mut *conn(ctx).await?, user).await?;
        Ok(rows
            .into_iter()
            .map(|row| ChatLink {
                channel: row.channel,
                linked_at: row.linked_at,
            })
            .collect())
    }

    /// The admins' feed: provider health, low balances, orders needing review.
    #[graphql(
        guard = "RoleGuard::AnyStaff",
        complexity = "list_complexity(Some(first), child_complexity)"
    )]
    async fn admin_notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
    ) -> GraphqlResult<Vec<Notification>> {
        let mut conn = conn(ctx).await?;
        let rows = NotificationRow::list(&mut conn, None, page_size(Some(first))?).await?;
        Ok(rows.into_iter().map(Notification).collect())
    }
}
