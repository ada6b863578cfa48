//! Admin mutations of the catalogue import: importing a provider's services and
//! syncing its catalogue now.

use async_graphql::{Context, ID, InputObject, Object};
use diesel_async::AsyncConnection;
use serde_json::json;

use crate::{
    domain::{
        audit::{self, AuditEntry, Subject},
        catalog_import::{self, Selection, Target},
    },
    error::AppError,
    graphql::{
        conn, current_user,
        error::ApiResult,
        guards::RoleGuard,
        parse_id, state,
        types::catalog_import::{CatalogSyncSummary, ImportProviderServicesPayload},
    },
};

#[derive(Default)]
pub struct AdminCatalogImportMutation;

#[derive(InputObject)]
pub struct ImportProviderServicesInput {
    pub provider_id: ID,
    /// The provider's service ids to import; null imports every service not imported yet.
    pub service_ids: Option<Vec<String>>,
    /// The category to put them all in; null files them under the provider's category
    /// names, creating the categories that do not exist.
    pub category_id: Option<ID>,
}

/// Most service ids one import names (a whole catalogue is imported with null).
const MAX_SELECTED: usize = 10_000;

#[Object]
impl AdminCatalogImportMutation {
    /// Imports services from a provider's catalogue, priced at the provider's rate x
    /// exchange rate x (1 + markup), rounded up. Services already imported are skipped.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_import_provider_services(
        &self,
        ctx: &Context<'_>,
        input: ImportProviderServicesInput,
    ) -> ApiResult<ImportProviderServicesPayload> {
        let provider_id = parse_id("providerId", &input.provider_id)?;
        let target = match &input.category_id {
            Some(id) => Target::Category(parse_id("categoryId", id)?),
            None => Target::ProviderCategories,
        };
        let selection = match input.service_ids {
            None => Selection::AllNew,
            Some(ids) if ids.len() > MAX_SELECTED => {
                return Err(AppError::validation(
                    "serviceIds",
                    format!("at most {MAX_SELECTED} service ids per import"),
                )
                .into());
            }
            Some(ids) => Selection::Ids(ids),
        };
        let state = state(ctx);
        let provider = catalog_import::find_provider(&mut *conn(ctx).await?, provider_id).await?;
        // No database connection is held while the provider answers.
        let client = state.provider_client(&provider)?;
        let remote = catalog_import::fetch_catalog(client.as_ref()).await?;
        let admin = current_user(ctx)?.id();
        let mut conn = conn(ctx).await?;
        let report = conn
            .transaction(async |conn| {
                let report =
                    catalog_import::import(conn, &provider, &remote, &selection, target).await?;
                let entry = AuditEntry {
                    action: "provider.import_services",
                    subject_type: Subject::Provider.as_str(),
                    subject_id: Some(provider.id),
                    after: Some(json!({
                        "importedServiceIds": report.imported,
                        "skipped": report.skipped.len(),
                        "categoriesCreated": report.categories_created.iter().map(|c| c.id).collect::<Vec<_>>(),
                    })),
                    ..Default::default()
                };
                audit::record(conn, admin, entry).await?;
                Ok::<_, AppError>(report)
            })
            .await?;
        Ok(ImportProviderServicesPayload(report))
    }

    /// Syncs a provider's catalogue now, as the scheduled job does: rates, limits and
    /// flags follow the provider, prices follow the rate and markup, services the
    /// provider dropped are deactivated. CONFLICT while another sync of it runs.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn admin_sync_provider_catalog(
        &self,
        ctx: &Context<'_>,
        provider_id: ID,
    ) -> ApiResult<CatalogSyncSummary> {
        let provider_id = parse_id("providerId", &provider_id)?;
        let state = state(ctx);
        let mut conn = conn(ctx).await?;
        let provider = catalog_import::find_provider(&mut conn, provider_id).await?;
        let client = state.provider_client(&provider)?;
        match catalog_import::sync_provider(&mut conn, client.as_ref(), &provider).await? {
            Some(report) => {
                // The sync commits its own work (as the scheduled job does); the
                // entry records that an admin asked for it and what it changed.
                let entry = AuditEntry {
                    action: "provider.sync_catalog",
                    subject_type: Subject::Provider.as_str(),
                    subject_id: Some(provider.id),
                    after: Some(json!({
                        "new": report.new,
                        "rateChanged": report.rate_changed,
                        "detailsChanged": report.details_changed,
                        "removed": report.removed,
                        "reappeared": report.reappeared,
                        "reactivated": report.reactivated,
                        "repriced": report.repriced,
                    })),
                    ..Default::default()
                };
                audit::record(&mut conn, current_user(ctx)?.id(), entry).await?;
                Ok(report.into())
            }
            None => Err(AppError::conflict("this provider's catalogue is being synced").into()),
        }
    }
}
