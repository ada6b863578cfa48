//! `service_updates`: the public catalogue updates feed, written by the trigger
//! `services_record_updates` on every change customers would notice (never by
//! this code), read newest first.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::ServiceUpdateKind,
    pagination::{KeysetPage, Paginated, paginate_keyset},
    schema::{service_updates, services},
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = service_updates, check_for_backend(diesel::pg::Pg))]
pub struct ServiceUpdateRow {
    pub id: i64,
    pub service_id: i64,
    pub kind: ServiceUpdateKind,
    pub old_price_per_1000: Option<i64>,
    pub new_price_per_1000: Option<i64>,
    pub old_min_quantity: Option<i64>,
    pub new_min_quantity: Option<i64>,
    pub old_max_quantity: Option<i64>,
    pub new_max_quantity: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl ServiceUpdateRow {
    /// The feed, newest first.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        page: KeysetPage,
    ) -> QueryResult<Paginated<ServiceUpdateRow>> {
        let build = || {
            service_updates::table
                .select(ServiceUpdateRow::as_select())
                .into_boxed()
        };
        paginate_keyset(conn, build, service_updates::id, page).await
    }

    /// The newest `limit` updates with their service's name and slug (the Atom feed).
    pub async fn newest_named(
        conn: &mut AsyncPgConnection,
        limit: i64,
    ) -> QueryResult<Vec<(ServiceUpdateRow, String, String)>> {
        service_updates::table
            .inner_join(services::table)
            .order(service_updates::id.desc())
            .limit(limit)
            .select((
                ServiceUpdateRow::as_select(),
                services::name,
                services::slug,
            ))
            .load(conn)
            .await
    }
}
