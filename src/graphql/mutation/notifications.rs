//! Marking notifications read: a user's own, or the admins' shared feed.

use async_graphql::{Context, ID, Object};

use crate::{
    domain::notifications::{self, Audience},
    graphql::{conn, current_user, error::GraphqlResult, guards::RoleGuard, parse_ids},
};

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks the caller's notifications (or, for admins, admin notifications) read.
    #[graphql(guard = "RoleGuard::User")]
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        #[graphql(default = false)] admin_feed: bool,
    ) -> GraphqlResult<i32> {
        let user = current_user(ctx)?;
        let ids = parse_ids("ids", &ids)?;
        let audience = if admin_feed && user.is_staff() {
            Audience::Admins
        } else {
            Audience::User(user.id())
        };
        let mut conn = conn(ctx).await?;
        Ok(notifications::mark_read(&mut conn, audience, &ids).await? as i32)
    }
}
