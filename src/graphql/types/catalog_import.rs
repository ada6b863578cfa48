//! What the catalogue import shows an admin: the preview of a provider's catalogue,
//! the outcome of an import and of a sync, and the log of catalogue changes.

use async_graphql::{Context, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    db::{
        catalog_changes::CatalogChangeRow,
        enums::{CatalogChangeKind, Platform, ServiceType},
    },
    domain::catalog_import::{
        CatalogPreview as PreviewData, ChangedEntry, ImportReport, NewEntry, RemovedEntry,
        ServiceSnapshot, SyncReport,
    },
    graphql::{
        error::GraphqlResult,
        scalars::{Decimal, Rupiah},
        types::catalog::{Service, ServiceCategory},
    },
};

/// A provider's catalogue compared with what was imported from it.
pub struct CatalogPreview(pub PreviewData);

#[Object]
impl CatalogPreview {
    /// Offered by the provider, not imported yet.
    async fn new(&self) -> Vec<CatalogNewEntry<'_>> {
        self.0.new.iter().map(CatalogNewEntry).collect()
    }

    /// Imported, and the provider's rate, limits, name or flags changed since.
    async fn changed(&self) -> Vec<CatalogChangedEntry<'_>> {
        self.0.changed.iter().map(CatalogChangedEntry).collect()
    }

    /// Imported, but the provider no longer lists it.
    async fn removed(&self) -> Vec<CatalogRemovedEntry<'_>> {
        self.0.removed.iter().map(CatalogRemovedEntry).collect()
    }
}

pub struct CatalogNewEntry<'a>(&'a NewEntry);

#[Object]
impl CatalogNewEntry<'_> {
    async fn provider_service_id(&self) -> &str {
        &self.0.remote.id
    }

    async fn name(&self) -> &str {
        &self.0.remote.name
    }

    /// The provider's category name.
    async fn category(&self) -> &str {
        &self.0.remote.category
    }

    /// The provider's type label, as it sends it.
    async fn type_label(&self) -> &str {
        &self.0.remote.type_label
    }

    /// Our type for the label; null when unknown (the service cannot be imported).
    #[graphql(name = "type")]
    async fn service_type(&self) -> Option<ServiceType> {
        self.0.service_type
    }

    /// The network guessed from the name and category.
    async fn platform(&self) -> Platform {
        self.0.platform
    }

    /// The provider's price per 1000 in its own currency.
    async fn provider_rate(&self) -> Decimal {
        Decimal(self.0.remote.rate.clone())
    }

    /// The price it would be imported at (rate x exchange rate x (1 + markup)).
    async fn price_per_1000(&self) -> Option<Rupiah> {
        self.0.price_per_1000.map(Rupiah)
    }

    async fn min_quantity(&self) -> i64 {
        self.0.remote.min
    }

    async fn max_quantity(&self) -> i64 {
        self.0.remote.max
    }

    async fn refill(&self) -> bool {
        self.0.remote.refill
    }

    async fn cancel(&self) -> bool {
        self.0.remote.cancel
    }

    async fn dripfeed(&self) -> bool {
        self.0.remote.dripfeed
    }
}

/// The provider-decided fields of a service, with the price they give.
pub struct CatalogServiceSnapshot<'a>(&'a ServiceSnapshot);

#[Object]
impl CatalogServiceSnapshot<'_> {
    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn provider_rate(&self) -> Decimal {
        Decimal(self.0.provider_rate.clone())
    }

    async fn price_per_1000(&self) -> Rupiah {
        Rupiah(self.0.price_per_1000)
    }

    async fn min_quantity(&self) -> i64 {
        self.0.min_quantity
    }

    async fn max_quantity(&self) -> i64 {
        self.0.max_quantity
    }

    async fn refill(&self) -> bool {
        self.0.refill
    }

    async fn cancel(&self) -> bool {
        self.0.cancel
    }

    async fn dripfeed(&self) -> bool {
        self.0.dripfeed
    }
}

pub struct CatalogChangedEntry<'a>(&'a ChangedEntry);

#[Object]
impl CatalogChangedEntry<'_> {
    async fn service(&self, ctx: &Context<'_>) -> GraphqlResult<Service> {
        Service::load(ctx, self.0.service_id).await
    }

    async fn provider_service_id(&self) -> &str {
        &self.0.provider_service_id
    }

    /// The names of the fields that differ (`providerRate`, `minQuantity`, ...).
    async fn changed_fields(&self) -> Vec<&str> {
        self.0.changed_fields.clone()
    }

    /// As imported (the current price).
    async fn old(&self) -> CatalogServiceSnapshot<'_> {
        CatalogServiceSnapshot(&self.0.old)
    }

    /// As the provider lists it now, with the price a sync would set.
    async fn new(&self) -> CatalogServiceSnapshot<'_> {
        CatalogServiceSnapshot(&self.0.new)
    }
}

pub struct CatalogRemovedEntry<'a>(&'a RemovedEntry);

#[Object]
impl CatalogRemovedEntry<'_> {
    async fn service(&self, ctx: &Context<'_>) -> GraphqlResult<Service> {
        Service::load(ctx, self.0.service_id).await
    }

    async fn provider_service_id(&self) -> &str {
        &self.0.provider_service_id
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn active(&self) -> bool {
        self.0.active
    }
}

#[derive(SimpleObject)]
pub struct SkippedImport {
    pub provider_service_id: String,
    pub reason: String,
}

/// What an import did.
pub struct ImportProviderServicesPayload(pub ImportReport);

#[Object]
impl ImportProviderServicesPayload {
    /// How many services were created.
    async fn imported(&self) -> i32 {
        self.0.imported.len() as i32
    }

    /// The ids of the services created.
    async fn imported_service_ids(&self) -> Vec<ID> {
        self.0.imported.iter().map(ID::from).collect()
    }

    /// Selected services that were not imported, with why.
    async fn skipped(&self) -> Vec<SkippedImport> {
        self.0
            .skipped
            .iter()
            .map(|s| SkippedImport {
                provider_service_id: s.provider_service_id.clone(),
                reason: s.reason.clone(),
            })
            .collect()
    }

    /// How many categories were created for the provider's category names.
    async fn categories_created(&self) -> i32 {
        self.0.categories_created.len() as i32
    }

    /// The categories created.
    async fn created_categories(&self) -> Vec<ServiceCategory> {
        self.0
            .categories_created
            .iter()
            .cloned()
            .map(ServiceCategory)
            .collect()
    }
}

/// What a catalogue sync changed.
#[derive(SimpleObject)]
pub struct CatalogSyncSummary {
    /// Services the provider offers that were not seen before (not imported).
    pub new: i32,
    pub rate_changed: i32,
    /// Limits or flags changed.
    pub details_changed: i32,
    /// Deactivated because the provider dropped them.
    pub removed: i32,
    /// Listed again after a drop.
    pub reappeared: i32,
    /// Reactivated on reappearing (only those the sync itself had deactivated).
    pub reactivated: i32,
    /// Services whose price changed.
    pub repriced: i32,
}

impl From<SyncReport> for CatalogSyncSummary {
    fn from(r: SyncReport) -> Self {
        let n = |v: usize| i32::try_from(v).unwrap_or(i32::MAX);
        CatalogSyncSummary {
            new: n(r.new),
            rate_changed: n(r.rate_changed),
            details_changed: n(r.details_changed),
            removed: n(r.removed),
            reappeared: n(r.reappeared),
            reactivated: n(r.reactivated),
            repriced: i32::try_from(r.repriced).unwrap_or(i32::MAX),
        }
    }
}

/// One change seen at a provider's catalogue.
pub struct CatalogChange(pub CatalogChangeRow);

#[Object]
impl CatalogChange {
    async fn id(&self) -> ID {
        ID::from(self.0.id)
    }

    async fn kind(&self) -> CatalogChangeKind {
        self.0.change.kind
    }

    /// The local service; null for a service the provider offers that is not imported.
    async fn service(&self, ctx: &Context<'_>) -> GraphqlResult<Option<Service>> {
        Service::load_opt(ctx, self.0.change.service_id).await
    }

    async fn provider_service_id(&self) -> &str {
        &self.0.change.provider_service_id
    }

    /// The changed fields before (`providerRate`, `pricePer1000`, `minQuantity`, ...).
    async fn old_values(&self) -> Option<Json<serde_json::Value>> {
        self.0.change.old_values.clone().map(Json)
    }

    /// The changed fields after.
    async fn new_values(&self) -> Option<Json<serde_json::Value>> {
        self.0.change.new_values.clone().map(Json)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
