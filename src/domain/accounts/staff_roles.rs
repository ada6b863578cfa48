//! Staff roles: owners name sets of permissions (from the fixed list in
//! `enums::Permission`) and give them to staff members. A change applies to the
//! members' cached credentials and open WebSockets at once (the table's trigger
//! announces every user).

use diesel_async::AsyncPgConnection;

use crate::{
    db::{enums::Permission, staff_roles::StaffRoleRow},
    domain::text::check_line,
    error::{AppError, AppResult, is_unique_violation},
};

pub async fn list(conn: &mut AsyncPgConnection) -> AppResult<Vec<StaffRoleRow>> {
    Ok(StaffRoleRow::all(conn).await?)
}

/// Creates a role, or (with `id`) renames one and replaces its permissions.
pub async fn save(
    conn: &mut AsyncPgConnection,
    id: Option<i64>,
    name: &str,
    permissions: &[Permission],
) -> AppResult<StaffRoleRow> {
    let name = check_line("name", name, 64, true)?;
    let mut permissions = permissions.to_vec();
    permissions.sort_by_key(|p| p.as_str());
    permissions.dedup();
    let saved = match id {
        None => StaffRoleRow::insert(conn, &name, &permissions)
            .await
            .map(Some),
        Some(id) => StaffRoleRow::update(conn, id, &name, &permissions).await,
    };
    saved
        .map_err(|e| {
            if is_unique_violation(&e, "staff_roles_name_key") {
                AppError::conflict("a staff role with this name exists")
            } else {
                e.into()
            }
        })?
        .ok_or(AppError::NotFound("staff role"))
}
