//! `mass_orders`: one row per mass order, the batch its orders point at.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::AsyncPgConnection;

use super::{
    pagination::{KeysetPage, Paginated, paginate_owned},
    schema::mass_orders,
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = mass_orders, check_for_backend(diesel::pg::Pg))]
pub struct MassOrderRow {
    pub id: i64,
    pub user_id: i64,
    pub order_count: i32,
    pub rejected_count: i32,
    pub total_charge: i64,
    pub all_or_nothing: bool,
    pub created_at: DateTime<Utc>,
}

impl MassOrderRow {
    /// A user's mass orders, newest first.
    pub async fn list_for_user(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        page: KeysetPage,
    ) -> QueryResult<Paginated<MassOrderRow>> {
        let build = || {
            mass_orders::table
                .select(MassOrderRow::as_select())
                .into_boxed()
        };
        let owner = mass_orders::user_id;
        paginate_owned(conn, owner, user_id, build, mass_orders::id, page).await
    }
}
