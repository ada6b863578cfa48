//! Admin writes to the catalogue, one file per sub-concern as in
//! `domain/catalog/`: categories, services, providers (with the markup that
//! prices their services). Each resolver converts its input, then runs one
//! audited domain call (`domain::audit::AdminWrite`).

mod categories;
mod providers;
mod services;

/// Merged in this order so the schema lists the fields as it always has.
#[derive(async_graphql::MergedObject, Default)]
pub struct AdminCatalogMutation(
    categories::CategoryMutation,
    services::ServiceMutation,
    providers::ProviderMutation,
);
