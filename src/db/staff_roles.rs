//! `staff_roles`: named sets of permissions an owner gives staff members.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{enums::Permission, schema::staff_roles};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = staff_roles, check_for_backend(diesel::pg::Pg))]
pub struct StaffRoleRow {
    pub id: i64,
    pub name: String,
    /// `Permission` names; the table's CHECK allows only those.
    pub permissions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

super::reads_by_id!(StaffRoleRow, staff_roles);

impl StaffRoleRow {
    /// The permissions, as the enum (names it does not know are skipped).
    pub fn permission_set(&self) -> Vec<Permission> {
        self.permissions
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<StaffRoleRow>> {
        staff_roles::table
            .order(staff_roles::name)
            .select(StaffRoleRow::as_select())
            .load(conn)
            .await
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        name: &str,
        permissions: &[Permission],
    ) -> QueryResult<StaffRoleRow> {
        let names: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
        diesel::insert_into(staff_roles::table)
            .values((
                staff_roles::name.eq(name),
                staff_roles::permissions.eq(names),
            ))
            .returning(StaffRoleRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Renames a role and sets its permissions; `None` when there is no such role.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        name: &str,
        permissions: &[Permission],
    ) -> QueryResult<Option<StaffRoleRow>> {
        let names: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
        diesel::update(staff_roles::table.find(id))
            .set((
                staff_roles::name.eq(name),
                staff_roles::permissions.eq(names),
            ))
            .returning(StaffRoleRow::as_returning())
            .get_result(conn)
            .await
            .optional()
    }
}
