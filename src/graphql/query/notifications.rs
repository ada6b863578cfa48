//! In-app notifications: the caller's own, and the admins' shared feed.

use async_graphql::{Context, Object};

use crate::{
    db::notifications::NotificationRow,
    graphql::{
        conn, current_user, error::GraphqlResult, guards::RoleGuard, pagination::page_size,
        types::notifications::Notification,
    },
};

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The caller's notifications, newest first.
    #[graphql(guard = "RoleGuard::User")]
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

    /// The admins' feed: provider health, low balances, orders needing review.
    #[graphql(guard = "RoleGuard::AnyStaff")]
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
