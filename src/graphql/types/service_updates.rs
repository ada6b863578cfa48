//! `ServiceUpdate`: one entry of the public catalogue updates feed.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::{
    db::{enums::ServiceUpdateKind, service_updates::ServiceUpdateRow},
    graphql::{error::GraphqlResult, scalars::Rupiah, types::catalog::Service},
};

/// What customers saw change about a service: list prices (before any personal
/// or level discount) and limits, never a provider or a cost.
pub struct ServiceUpdate(pub ServiceUpdateRow);

#[Object]
impl ServiceUpdate {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn kind(&self) -> ServiceUpdateKind {
        self.0.kind
    }

    async fn service(&self, ctx: &Context<'_>) -> GraphqlResult<Service> {
        Service::load(ctx, self.0.service_id).await
    }

    /// PRICE_UP and PRICE_DOWN: the list price per 1000 before.
    async fn old_price_per_1000(&self) -> Option<Rupiah> {
        self.0.old_price_per_1000.map(Rupiah)
    }

    /// The list price per 1000 after (also on NEW, ENABLED and DISABLED).
    async fn new_price_per_1000(&self) -> Option<Rupiah> {
        self.0.new_price_per_1000.map(Rupiah)
    }

    /// LIMITS_CHANGED: the minimum before.
    async fn old_min_quantity(&self) -> Option<i64> {
        self.0.old_min_quantity
    }

    async fn new_min_quantity(&self) -> Option<i64> {
        self.0.new_min_quantity
    }

    /// LIMITS_CHANGED: the maximum before.
    async fn old_max_quantity(&self) -> Option<i64> {
        self.0.old_max_quantity
    }

    async fn new_max_quantity(&self) -> Option<i64> {
        self.0.new_max_quantity
    }

    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
