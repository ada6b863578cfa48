//! Admin reads of providers, pricing and users.

use async_graphql::{Context, ID, Object, SimpleObject};

use crate::{
    db::{
        enums::Role,
        providers::ProviderRow,
        users::{UserFilter, UserRow},
    },
    domain::{catalog, pricing},
    graphql::{
        conn,
        error::GraphqlResult,
        guards::RoleGuard,
        loaders::UserId,
        lookup,
        pagination::{Page, keyset_args, keyset_connection, list_complexity},
        parse_id,
        types::{account::User, catalog::Provider},
    },
};

#[derive(Default)]
pub struct AdminQuery;

#[derive(SimpleObject)]
pub struct PricingSettings {
    /// Markup applied to imported services when neither the service nor its provider
    /// sets one, in basis points (1000 = 10%).
    pub default_markup_basis_points: i32,
}

#[Object]
impl AdminQuery {
    /// Every provider with its health, balance and settings (admins); API keys are shown masked.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Providers)")]
    async fn admin_providers(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<Provider>> {
        let mut conn = conn(ctx).await?;
        Ok(catalog::list_providers(&mut conn)
            .await?
            .into_iter()
            .map(Provider)
            .collect())
    }

    /// One provider (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Providers)")]
    async fn admin_provider(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<Option<Provider>> {
        let id = parse_id("id", &id)?;
        let mut conn = conn(ctx).await?;
        Ok(ProviderRow::find(&mut conn, id).await?.map(Provider))
    }

    /// The panel-wide pricing settings (admins): the default markup applied when neither the service nor its provider sets one.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn admin_pricing(&self, ctx: &Context<'_>) -> GraphqlResult<PricingSettings> {
        let mut conn = conn(ctx).await?;
        Ok(PricingSettings {
            default_markup_basis_points: pricing::default_markup_bps(&mut conn).await?,
        })
    }

    /// Users, newest first.
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn admin_users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        role: Option<Role>,
        banned: Option<bool>,
    ) -> GraphqlResult<Page<User>> {
        let page = keyset_args(ctx, first, after.as_deref())?;
        let filter = UserFilter {
            search,
            role,
            banned,
        };
        let mut conn = conn(ctx).await?;
        let rows = UserRow::list(&mut conn, &filter, page).await?;
        Ok(keyset_connection(rows, |u| u.id, User))
    }

    /// One user by id (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn admin_user(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<Option<User>> {
        let id = parse_id("id", &id)?;
        Ok(lookup(ctx, UserId(id), "user").await?.map(User))
    }
}
