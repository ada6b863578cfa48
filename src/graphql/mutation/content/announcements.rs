//! Announcements: admins post and delete them; signed-in users mark them read.

use async_graphql::{Context, ID, InputObject, Object};

use crate::{
    db::enums::Platform,
    domain::{
        audit::Subject,
        content::announcements::{self, AnnouncementInput},
    },
    graphql::{
        admin_write, conn, current_user, error::GraphqlResult, guards::RoleGuard, parse_id,
        parse_ids, types::content::Announcement,
    },
};

#[derive(Default)]
pub struct AnnouncementMutation;

#[derive(InputObject)]
pub struct CreateAnnouncementInput {
    pub title: String,
    /// Markdown.
    pub body: String,
    /// Only customers with an order on this platform see it; absent: every signed-in user.
    pub platform: Option<Platform>,
}

impl From<CreateAnnouncementInput> for AnnouncementInput {
    fn from(input: CreateAnnouncementInput) -> Self {
        // Taken apart, so a field added to the input and not carried over does not compile.
        let CreateAnnouncementInput {
            title,
            body,
            platform,
        } = input;
        AnnouncementInput {
            title,
            body_markdown: body,
            platform,
        }
    }
}

#[Object]
impl AnnouncementMutation {
    /// Posts an announcement to signed-in users (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_create_announcement(
        &self,
        ctx: &Context<'_>,
        input: CreateAnnouncementInput,
    ) -> GraphqlResult<Announcement> {
        let write = admin_write(ctx, "announcement.create")?;
        let row = write
            .create(
                &mut *conn(ctx).await?,
                Subject::Announcement,
                async |conn| announcements::create(conn, write.admin_id, input.into()).await,
            )
            .await?;
        Ok(Announcement { row, read_at: None })
    }

    /// Deletes an announcement (admins); returns its id.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Content)")]
    async fn admin_delete_announcement(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<ID> {
        let id = parse_id("id", &id)?;
        let row = admin_write(ctx, "announcement.delete")?
            .change(
                &mut *conn(ctx).await?,
                Subject::Announcement,
                id,
                async |conn| announcements::delete(conn, id).await,
            )
            .await?;
        Ok(row.id.into())
    }

    /// Marks announcements read for the caller (at most 100 ids).
    #[graphql(guard = "RoleGuard::User")]
    async fn mark_announcements_read(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> GraphqlResult<bool> {
        let user = current_user(ctx)?;
        let ids = parse_ids("ids", &ids)?;
        announcements::mark_read(&mut *conn(ctx).await?, user.id(), &ids).await?;
        Ok(true)
    }

    /// Marks everything the caller is shown as read; returns how many were unread.
    #[graphql(guard = "RoleGuard::User")]
    async fn mark_all_announcements_read(&self, ctx: &Context<'_>) -> GraphqlResult<i32> {
        let user = current_user(ctx)?;
        let count = announcements::mark_all_read(&mut *conn(ctx).await?, user.id()).await?;
        Ok(count as i32)
    }
}
