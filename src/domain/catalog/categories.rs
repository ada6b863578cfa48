//! Categories: create, rename, (de)activate and the display order of categories
//! and of the services inside each.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    db::allow_empty_changeset,
    db::{
        categories::{CategoryChangeset, CategoryRow, NewCategory},
        schema::{service_categories, services},
        services::ServiceRow,
    },
    error::{AppError, AppResult, is_unique_violation},
};

use super::*;

pub struct CategoryInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub sort_order: Option<i32>,
    pub active: Option<bool>,
}

pub async fn list_categories(
    conn: &mut AsyncPgConnection,
    include_inactive: bool,
) -> AppResult<Vec<CategoryRow>> {
    let mut q = service_categories::table.into_boxed();
    if !include_inactive {
        q = q.filter(service_categories::active.eq(true));
    }
    Ok(
        q.order((service_categories::sort_order, service_categories::id))
            .select(CategoryRow::as_select())
            .load(conn)
            .await?,
    )
}

fn category_conflict(e: diesel::result::Error) -> AppError {
    if is_unique_violation(&e, "service_categories_name_key") {
        AppError::conflict("a category with this name exists")
    } else {
        e.into()
    }
}

pub async fn create_category(
    conn: &mut AsyncPgConnection,
    input: CategoryInput,
) -> AppResult<CategoryRow> {
    let name = check_text("name", input.name.as_deref().unwrap_or(""), MAX_NAME, true)?;
    let description = check_text(
        "description",
        input.description.as_deref().unwrap_or(""),
        MAX_DESCRIPTION,
        false,
    )?;
    let sort_order = match input.sort_order {
        Some(order) => order,
        None => service_categories::table
            .select(diesel::dsl::max(service_categories::sort_order))
            .first::<Option<i32>>(conn)
            .await?
            .map_or(0, |max| max.saturating_add(1)),
    };
    diesel::insert_into(service_categories::table)
        .values(NewCategory {
            name,
            description,
            sort_order,
            active: input.active.unwrap_or(true),
        })
        .returning(CategoryRow::as_returning())
        .get_result(conn)
        .await
        .map_err(category_conflict)
}

pub async fn update_category(
    conn: &mut AsyncPgConnection,
    id: i64,
    input: CategoryInput,
) -> AppResult<CategoryRow> {
    let changes = CategoryChangeset {
        name: input
            .name
            .as_deref()
            .map(|n| check_text("name", n, MAX_NAME, true))
            .transpose()?,
        description: input
            .description
            .as_deref()
            .map(|d| check_text("description", d, MAX_DESCRIPTION, false))
            .transpose()?,
        sort_order: input.sort_order,
        active: input.active,
    };
    allow_empty_changeset(
        diesel::update(service_categories::table.find(id))
            .set(&changes)
            .execute(conn)
            .await,
    )
    .map_err(category_conflict)?;
    service_categories::table
        .find(id)
        .select(CategoryRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("category"))
}

/// Puts rows in the given order (position = index). The list must name every row of
/// the set exactly once, so a stale admin screen cannot silently scramble the order.
fn check_order(field: &str, given: &[i64], existing: &[i64]) -> AppResult<()> {
    let mut a = given.to_vec();
    let mut b = existing.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    let mut dedup = a.clone();
    dedup.dedup();
    if dedup.len() != a.len() {
        return Err(AppError::validation(field, "ids must not repeat"));
    }
    if a != b {
        return Err(AppError::validation(
            field,
            "ids must list every item of the set exactly once",
        ));
    }
    Ok(())
}

async fn apply_positions(conn: &mut AsyncPgConnection, table: &str, ids: &[i64]) -> AppResult<()> {
    let positions: Vec<i32> = (0..ids.len() as i32).collect();
    diesel::sql_query(format!(
        "UPDATE {table} SET sort_order = v.pos FROM unnest($1::bigint[], $2::int[]) AS v(id, pos) WHERE {table}.id = v.id"
    ))
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(&positions)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn reorder_categories(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> AppResult<Vec<CategoryRow>> {
    conn.transaction(async |conn| {
        let existing: Vec<i64> = service_categories::table
            .select(service_categories::id)
            .for_update()
            .load(conn)
            .await?;
        check_order("ids", ids, &existing)?;
        apply_positions(conn, "service_categories", ids).await?;
        list_categories(conn, true).await
    })
    .await
}

pub async fn reorder_services(
    conn: &mut AsyncPgConnection,
    category_id: i64,
    ids: &[i64],
) -> AppResult<Vec<ServiceRow>> {
    conn.transaction(async |conn| {
        let existing: Vec<i64> = services::table
            .filter(services::category_id.eq(category_id))
            .select(services::id)
            .for_update()
            .load(conn)
            .await?;
        if existing.is_empty() {
            require_category(conn, category_id).await?;
        }
        check_order("ids", ids, &existing)?;
        apply_positions(conn, "services", ids).await?;
        Ok(services::table
            .filter(services::category_id.eq(category_id))
            .order((services::sort_order, services::id))
            .select(ServiceRow::as_select())
            .load(conn)
            .await?)
    })
    .await
}

pub(super) async fn require_category(conn: &mut AsyncPgConnection, id: i64) -> AppResult<()> {
    let found: Option<i64> = service_categories::table
        .find(id)
        .select(service_categories::id)
        .first(conn)
        .await
        .optional()?;
    found.map(|_| ()).ok_or(AppError::NotFound("category"))
}
