//! `services`: what customers can buy, imported from a provider or sold from the
//! panel's own stock.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::{Fulfillment, Platform, ServiceType},
    schema::services,
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = services, check_for_backend(diesel::pg::Pg))]
pub struct ServiceRow {
    pub id: i64,
    pub category_id: i64,
    pub name: String,
    pub description: String,
    pub platform: Platform,
    pub service_type: ServiceType,
    pub provider_id: Option<i64>,
    pub provider_service_id: Option<String>,
    pub provider_rate: Option<BigDecimal>,
    pub markup_bps: Option<i32>,
    pub fulfillment: Fulfillment,
    pub price_per_1000: i64,
    pub min_quantity: i64,
    pub max_quantity: i64,
    pub quantity_step: i64,
    pub refill: bool,
    pub cancel: bool,
    pub dripfeed: bool,
    pub active: bool,
    pub sort_order: i32,
    pub average_completion_seconds: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub fallback_service_id: Option<i64>,
}

impl ServiceRow {
    pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<ServiceRow>> {
        services::table
            .find(id)
            .select(ServiceRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn load_many(
        conn: &mut AsyncPgConnection,
        ids: &[i64],
    ) -> QueryResult<Vec<ServiceRow>> {
        services::table
            .filter(services::id.eq_any(ids))
            .select(ServiceRow::as_select())
            .load(conn)
            .await
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = services)]
pub struct NewService {
    pub category_id: i64,
    pub name: String,
    pub description: String,
    pub platform: Platform,
    pub service_type: ServiceType,
    pub provider_id: Option<i64>,
    pub provider_service_id: Option<String>,
    pub provider_rate: Option<BigDecimal>,
    pub markup_bps: Option<i32>,
    pub fulfillment: Fulfillment,
    pub price_per_1000: i64,
    pub min_quantity: i64,
    pub max_quantity: i64,
    pub quantity_step: i64,
    pub refill: bool,
    pub cancel: bool,
    pub dripfeed: bool,
    pub active: bool,
    pub sort_order: i32,
}

#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = services)]
pub struct ServiceChangeset {
    pub category_id: Option<i64>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub platform: Option<Platform>,
    pub service_type: Option<ServiceType>,
    pub provider_rate: Option<Option<BigDecimal>>,
    pub markup_bps: Option<Option<i32>>,
    pub price_per_1000: Option<i64>,
    pub min_quantity: Option<i64>,
    pub max_quantity: Option<i64>,
    pub quantity_step: Option<i64>,
    pub refill: Option<bool>,
    pub cancel: Option<bool>,
    pub dripfeed: Option<bool>,
    pub active: Option<bool>,
    pub sort_order: Option<i32>,
    pub fallback_service_id: Option<Option<i64>>,
    /// Cleared when an admin sets `active`: the catalogue sync then no longer
    /// reactivates the service on its own (see `domain::catalog_import`).
    pub sync_deactivated: Option<bool>,
}
