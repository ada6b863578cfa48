//! `service_categories`: how the catalogue is grouped and ordered.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::service_categories;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = service_categories, check_for_backend(diesel::pg::Pg))]
pub struct CategoryRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub sort_order: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The URL name (`/<slug>`); see `domain::content::slugs`.
    pub slug: String,
}

super::reads_by_id!(CategoryRow, service_categories);

#[derive(Debug, Insertable)]
#[diesel(table_name = service_categories)]
pub struct NewCategory {
    pub name: String,
    pub description: String,
    pub sort_order: i32,
    pub active: bool,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = service_categories)]
pub struct CategoryChangeset {
    pub name: Option<String>,
    pub description: Option<String>,
    pub sort_order: Option<i32>,
    pub active: Option<bool>,
}

impl CategoryRow {
    /// The active category whose current slug is `slug`.
    pub async fn find_active_by_slug(
        conn: &mut AsyncPgConnection,
        slug: &str,
    ) -> QueryResult<Option<CategoryRow>> {
        service_categories::table
            .filter(service_categories::slug.eq(slug))
            .filter(service_categories::active.eq(true))
            .select(CategoryRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Active categories by id, for the sitemap.
    pub async fn active(conn: &mut AsyncPgConnection) -> QueryResult<Vec<CategoryRow>> {
        service_categories::table
            .filter(service_categories::active.eq(true))
            .order(service_categories::id)
            .select(CategoryRow::as_select())
            .load(conn)
            .await
    }
}
