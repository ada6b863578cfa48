//! Admin mutations of the catalogue import: importing a provider's services and
//! syncing its catalogue now.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use serde_json::json;

use crate::{
    domain::{
        audit::{Subject, Summary},
        catalog::{self, CsvImportReport},
        catalog_import::{self, ImportReport, Selection, SyncReport, Target},
    },
    error::AppError,
    graphql::{
        admin_write, conn,
        error::GraphqlResult,
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

/// One bad line of a CSV import.
#[derive(SimpleObject)]
pub struct CsvLineProblem {
    /// The line in the file (the header is line 1).
    pub line: i64,
    /// The CSV column at fault; empty when the line as a whole is unreadable.
    pub column: String,
    pub message: String,
}

/// What a CSV import did, or would do.
#[derive(SimpleObject)]
pub struct CatalogCsvImport {
    /// Whether the changes were kept (false for a dry run or when any line failed).
    pub applied: bool,
    pub created_service_ids: Vec<ID>,
    pub updated_service_ids: Vec<ID>,
    pub categories_created: Vec<String>,
    pub errors: Vec<CsvLineProblem>,
}

impl From<CsvImportReport> for CatalogCsvImport {
    fn from(report: CsvImportReport) -> Self {
        CatalogCsvImport {
            applied: report.applied,
            created_service_ids: report.created.into_iter().map(ID::from).collect(),
            updated_service_ids: report.updated.into_iter().map(ID::from).collect(),
            categories_created: report.categories_created,
            errors: report
                .errors
                .into_iter()
                .map(|e| CsvLineProblem {
                    line: e.line as i64,
                    column: e.column,
                    message: e.message,
                })
                .collect(),
        }
    }
}

/// Most service ids one import names (a whole catalogue is imported with null).
const MAX_SELECTED: usize = 10_000;

impl ImportProviderServicesInput {
    /// Which services to import, and where to: at most `MAX_SELECTED` ids.
    fn plan(self) -> GraphqlResult<(Selection, Target)> {
        let target = match &self.category_id {
            Some(id) => Target::Category(parse_id("categoryId", id)?),
            None => Target::ProviderCategories,
        };
        let selection = match self.service_ids {
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
        Ok((selection, target))
    }
}

/// The audit log's account of an import.
fn import_summary(provider_id: i64, report: &ImportReport) -> Summary {
    let categories: Vec<i64> = report.categories_created.iter().map(|c| c.id).collect();
    Summary::of(
        provider_id,
        json!({
            "importedServiceIds": report.imported,
            "skipped": report.skipped.len(),
            "categoriesCreated": categories,
        }),
    )
}

/// The audit log's account of a sync an admin asked for.
fn sync_summary(provider_id: i64, report: &SyncReport) -> Summary {
    Summary::of(
        provider_id,
        json!({
            "new": report.new,
            "rateChanged": report.rate_changed,
            "detailsChanged": report.details_changed,
            "removed": report.removed,
            "reappeared": report.reappeared,
            "reactivated": report.reactivated,
            "repriced": report.repriced,
        }),
    )
}

#[Object]
impl AdminCatalogImportMutation {
    /// Imports services from a provider's catalogue, priced at the provider's rate x
    /// exchange rate x (1 + markup), rounded up. Services already imported are skipped.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Providers)")]
    async fn admin_import_provider_services(
        &self,
        ctx: &Context<'_>,
        input: ImportProviderServicesInput,
    ) -> GraphqlResult<ImportProviderServicesPayload> {
        let provider_id = parse_id("providerId", &input.provider_id)?;
        let (selection, target) = input.plan()?;
        let provider = catalog_import::find_provider(&mut *conn(ctx).await?, provider_id).await?;
        // No database connection is held while the provider answers.
        let client = state(ctx).provider_client(&provider)?;
        let remote = catalog_import::fetch_catalog(client.as_ref()).await?;
        let report = admin_write(ctx, "provider.import_services")?
            .bulk(
                &mut *conn(ctx).await?,
                Subject::Provider.as_str(),
                async |conn| {
                    let report =
                        catalog_import::import(conn, &provider, &remote, &selection, target)
                            .await?;
                    let summary = import_summary(provider.id, &report);
                    Ok((report, summary))
                },
            )
            .await?;
        Ok(ImportProviderServicesPayload(report))
    }

    /// Syncs a provider's catalogue now, as the scheduled job does: rates, limits and
    /// flags follow the provider, prices follow the rate and markup, services the
    /// provider dropped are deactivated. CONFLICT while another sync of it runs.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Providers)")]
    async fn admin_sync_provider_catalog(
        &self,
        ctx: &Context<'_>,
        provider_id: ID,
    ) -> GraphqlResult<CatalogSyncSummary> {
        let provider_id = parse_id("providerId", &provider_id)?;
        let write = admin_write(ctx, "provider.sync_catalog")?;
        let mut conn = conn(ctx).await?;
        let provider = catalog_import::find_provider(&mut conn, provider_id).await?;
        let client = state(ctx).provider_client(&provider)?;
        let Some(report) =
            catalog_import::sync_provider(&mut conn, client.as_ref(), &provider).await?
        else {
            return Err(AppError::conflict("this provider's catalogue is being synced").into());
        };
        // The sync commits its own work (as the scheduled job does); the entry
        // records that an admin asked for it and what it changed.
        let summary = sync_summary(provider.id, &report);
        write
            .record(&mut conn, Subject::Provider.as_str(), summary)
            .await?;
        Ok(report.into())
    }

    /// Creates and updates own services (STOCK, MANUAL) from CSV in the format of
    /// `GET /admin/exports/catalog.csv` (a line without `id` creates; categories are
    /// found by name or created). All or nothing: any bad line keeps the file from
    /// applying, and every bad line is reported with its column. `dryRun` (the
    /// default) checks everything and writes nothing.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn admin_import_catalog_csv(
        &self,
        ctx: &Context<'_>,
        csv: String,
        #[graphql(default = true)] dry_run: bool,
    ) -> GraphqlResult<CatalogCsvImport> {
        let report = admin_write(ctx, "catalog.import_csv")?
            .bulk(
                &mut *conn(ctx).await?,
                Subject::Service.as_str(),
                async |conn| {
                    let report = catalog::import_csv(conn, &csv, dry_run).await?;
                    // A dry run, or a file with a bad line, changed nothing: no entry.
                    let summary = report.applied.then(|| {
                        Summary::after(json!({
                            "createdServiceIds": report.created,
                            "updatedServiceIds": report.updated,
                            "categoriesCreated": report.categories_created,
                        }))
                    });
                    Ok((report, summary))
                },
            )
            .await?;
        Ok(report.into())
    }
}
