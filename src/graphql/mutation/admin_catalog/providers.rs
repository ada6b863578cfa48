//! Admin writes to upstream providers and the markup that prices their
//! services: connect, update, the panel-wide default markup.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use serde_json::json;

use crate::{
    db::enums::{Currency, ProviderKind},
    domain::{
        audit::{Subject, Summary},
        catalog::{self, ProviderInput},
        pricing,
    },
    graphql::{
        admin_write, conn, error::GraphqlResult, guards::RoleGuard, parse_id, scalars::Decimal,
        state, types::catalog::Provider,
    },
};

#[derive(Default)]
pub struct ProviderMutation;

#[derive(InputObject)]
pub struct CreateProviderInput {
    pub name: String,
    pub kind: ProviderKind,
    /// The API endpoint, e.g. `https://justanotherpanel.com/api/v2`.
    pub base_url: String,
    /// Stored encrypted; never returned.
    pub api_key: String,
    /// MedanPedia's `api_id`.
    pub api_id: Option<String>,
    /// Defaults to USD for API v2 panels, IDR for MedanPedia.
    pub currency: Option<Currency>,
    /// Rupiah per unit of the provider's currency; required for USD.
    pub exchange_rate: Option<Decimal>,
    pub markup_basis_points: Option<i32>,
    #[graphql(default = true)]
    pub active: bool,
}

impl From<CreateProviderInput> for ProviderInput {
    fn from(input: CreateProviderInput) -> Self {
        ProviderInput {
            name: Some(input.name),
            kind: Some(input.kind),
            base_url: Some(input.base_url),
            api_key: Some(input.api_key),
            api_id: Some(input.api_id),
            currency: input.currency,
            exchange_rate: input.exchange_rate.map(|d| d.0),
            markup_bps: Some(input.markup_basis_points),
            active: Some(input.active),
            low_balance_threshold: None,
        }
    }
}

#[derive(InputObject)]
pub struct UpdateProviderInput {
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub api_id: MaybeUndefined<String>,
    pub currency: Option<Currency>,
    pub exchange_rate: Option<Decimal>,
    /// null returns the provider to the panel default.
    pub markup_basis_points: MaybeUndefined<i32>,
    pub active: Option<bool>,
    /// Admins are notified when the provider's balance falls below this; null disables.
    pub low_balance_threshold: MaybeUndefined<Decimal>,
}

impl From<UpdateProviderInput> for ProviderInput {
    fn from(input: UpdateProviderInput) -> Self {
        ProviderInput {
            name: input.name,
            kind: None,
            base_url: input.base_url,
            api_key: input.api_key,
            api_id: input.api_id.into(),
            currency: input.currency,
            exchange_rate: input.exchange_rate.map(|d| d.0),
            markup_bps: input.markup_basis_points.into(),
            active: input.active,
            low_balance_threshold: input.low_balance_threshold.map_value(|d| d.0).into(),
        }
    }
}

#[derive(SimpleObject)]
pub struct SetDefaultMarkupPayload {
    pub default_markup_basis_points: i32,
    /// How many imported services changed price.
    pub repriced_services: u64,
}

#[Object]
impl ProviderMutation {
    /// Connects an upstream provider (admins). The API key is encrypted at rest and never returned; `exchangeRate` converts its prices to rupiah.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Providers)")]
    async fn admin_create_provider(
        &self,
        ctx: &Context<'_>,
        input: CreateProviderInput,
    ) -> GraphqlResult<Provider> {
        let secrets = &state(ctx).secrets;
        let row = admin_write(ctx, "provider.create")?
            .create(&mut *conn(ctx).await?, Subject::Provider, async |conn| {
                catalog::create_provider(conn, secrets, input.into()).await
            })
            .await?;
        Ok(Provider(row))
    }

    /// Changing the exchange rate or markup reprices the provider's services at once.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Providers)")]
    async fn admin_update_provider(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateProviderInput,
    ) -> GraphqlResult<Provider> {
        let id = parse_id("id", &id)?;
        let secrets = &state(ctx).secrets;
        let row = admin_write(ctx, "provider.update")?
            .change(
                &mut *conn(ctx).await?,
                Subject::Provider,
                id,
                async |conn| catalog::update_provider(conn, secrets, id, input.into()).await,
            )
            .await?;
        Ok(Provider(row))
    }

    /// Sets the panel-wide markup (basis points, 1000 = 10%) and reprices the imported
    /// services it applies to.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Providers)")]
    async fn admin_set_default_markup(
        &self,
        ctx: &Context<'_>,
        basis_points: i32,
    ) -> GraphqlResult<SetDefaultMarkupPayload> {
        let repriced = admin_write(ctx, "settings.default_markup")?
            .bulk(&mut *conn(ctx).await?, "setting", async |conn| {
                let before = pricing::default_markup_bps(conn).await?;
                let repriced = pricing::set_default_markup(conn, basis_points).await?;
                let summary = Summary {
                    subject_id: None,
                    before: Some(json!({ "defaultMarkupBasisPoints": before })),
                    after: Some(json!({
                        "defaultMarkupBasisPoints": basis_points,
                        "repricedServices": repriced,
                    })),
                };
                Ok((repriced, summary))
            })
            .await?;
        Ok(SetDefaultMarkupPayload {
            default_markup_basis_points: basis_points,
            repriced_services: repriced,
        })
    }
}
