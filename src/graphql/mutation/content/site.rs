//! Admin writes to the site settings.

use async_graphql::{Context, Object};

use crate::{
    domain::{audit::Summary, content::site},
    graphql::{
        admin_write, conn,
        error::GraphqlResult,
        guards::RoleGuard,
        types::content::{SiteSettings, SiteSettingsInput},
    },
};

#[derive(Default)]
pub struct SiteMutation;

#[Object]
impl SiteMutation {
    /// Replaces the site settings (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn admin_update_site_settings(
        &self,
        ctx: &Context<'_>,
        input: SiteSettingsInput,
    ) -> GraphqlResult<SiteSettings> {
        let saved = admin_write(ctx, "site_settings.update")?
            .bulk(&mut *conn(ctx).await?, "site_settings", async |conn| {
                let before = site::load(conn).await?;
                let saved = site::save(conn, input.into()).await?;
                let summary = Summary {
                    subject_id: None,
                    before: serde_json::to_value(&before).ok(),
                    after: serde_json::to_value(&saved).ok(),
                };
                Ok((saved, summary))
            })
            .await?;
        Ok(SiteSettings(saved))
    }
}
