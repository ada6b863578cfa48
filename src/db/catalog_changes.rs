//! `catalog_changes`: what the catalogue import and sync saw change at a provider,
//! never updated or deleted.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::CatalogChangeKind,
    pagination::{KeysetPage, Paginated, paginate_keyset},
    schema::catalog_changes,
};

/// A change as stored: what was written, with its id and time.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = catalog_changes, check_for_backend(diesel::pg::Pg))]
pub struct CatalogChangeRow {
    pub id: i64,
    #[diesel(embed)]
    pub change: NewCatalogChange,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = catalog_changes, check_for_backend(diesel::pg::Pg))]
pub struct NewCatalogChange {
    pub provider_id: i64,
    pub service_id: Option<i64>,
    pub provider_service_id: String,
    pub kind: CatalogChangeKind,
    pub old_values: Option<serde_json::Value>,
    pub new_values: Option<serde_json::Value>,
}

impl NewCatalogChange {
    /// Inserts many changes, [`super::ROWS_PER_INSERT`] rows a statement.
    pub async fn insert_all(
        conn: &mut AsyncPgConnection,
        changes: &[NewCatalogChange],
    ) -> QueryResult<()> {
        for chunk in changes.chunks(super::ROWS_PER_INSERT) {
            diesel::insert_into(catalog_changes::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
        Ok(())
    }
}

impl CatalogChangeRow {
    /// A provider's catalogue changes, newest first.
    pub async fn list_for_provider(
        conn: &mut AsyncPgConnection,
        provider_id: i64,
        page: KeysetPage,
    ) -> QueryResult<Paginated<CatalogChangeRow>> {
        let build = || {
            catalog_changes::table
                .filter(catalog_changes::provider_id.eq(provider_id))
                .select(CatalogChangeRow::as_select())
                .into_boxed()
        };
        paginate_keyset(conn, build, catalog_changes::id, page).await
    }
}
