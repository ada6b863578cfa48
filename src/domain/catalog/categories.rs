//! Categories: create, rename, (de)activate and the display order of categories
//! and of the services inside each.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::{
    db::{
        categories::{CategoryChangeset, CategoryRow, NewCategory},
        services::ServiceRow,
        set_positions,
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
    Ok(CategoryRow::list(conn, include_inactive).await?)
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
        None => CategoryRow::next_sort_order(conn).await?,
    };
    let category = NewCategory {
        name,
        description,
        sort_order,
        active: input.active.unwrap_or(true),
    };
    CategoryRow::insert(conn, &category)
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
    CategoryRow::update(conn, id, &changes)
        .await
        .map_err(category_conflict)?
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

pub async fn reorder_categories(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> AppResult<Vec<CategoryRow>> {
    conn.transaction(async |conn| {
        let existing = CategoryRow::all_ids_for_update(conn).await?;
        check_order("ids", ids, &existing)?;
        set_positions(conn, "service_categories", ids).await?;
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
        let existing = ServiceRow::ids_in_category_for_update(conn, category_id).await?;
        if existing.is_empty() {
            require_category(conn, category_id).await?;
        }
        check_order("ids", ids, &existing)?;
        set_positions(conn, "services", ids).await?;
        Ok(ServiceRow::in_category(conn, category_id).await?)
    })
    .await
}

pub(super) async fn require_category(conn: &mut AsyncPgConnection, id: i64) -> AppResult<()> {
    CategoryRow::find(conn, id)
        .await?
        .map(|_| ())
        .ok_or(AppError::NotFound("category"))
}
