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
    /// Categories in display order; inactive ones too when asked.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        include_inactive: bool,
    ) -> QueryResult<Vec<CategoryRow>> {
        let mut q = service_categories::table.into_boxed();
        if !include_inactive {
            q = q.filter(service_categories::active.eq(true));
        }
        q.order((service_categories::sort_order, service_categories::id))
            .select(CategoryRow::as_select())
            .load(conn)
            .await
    }

    /// The position after the last category (0 for the first).
    pub async fn next_sort_order(conn: &mut AsyncPgConnection) -> QueryResult<i32> {
        let last: Option<i32> = service_categories::table
            .select(diesel::dsl::max(service_categories::sort_order))
            .first(conn)
            .await?;
        Ok(last.map_or(0, |max| max.saturating_add(1)))
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: &NewCategory,
    ) -> QueryResult<CategoryRow> {
        diesel::insert_into(service_categories::table)
            .values(new)
            .returning(CategoryRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Applies `changes` and returns the row as it now is (`None`: no such
    /// category); a changeset naming no column still returns the row.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        changes: &CategoryChangeset,
    ) -> QueryResult<Option<CategoryRow>> {
        let updated = diesel::update(service_categories::table.find(id))
            .set(changes)
            .returning(CategoryRow::as_returning())
            .get_result(conn)
            .await
            .optional();
        match updated {
            Err(error) if super::is_empty_changeset(&error) => CategoryRow::find(conn, id).await,
            other => other,
        }
    }

    /// Every category's id, locked until the transaction ends (a reorder).
    pub async fn all_ids_for_update(conn: &mut AsyncPgConnection) -> QueryResult<Vec<i64>> {
        service_categories::table
            .select(service_categories::id)
            .for_update()
            .load(conn)
            .await
    }

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
