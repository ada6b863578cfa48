//! `providers`: upstream panels, with their API key encrypted at rest.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::{Currency, ProviderKind},
    schema::providers,
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = providers, check_for_backend(diesel::pg::Pg))]
pub struct ProviderRow {
    pub id: i64,
    /// What an admin set up; the row reads as it (`Deref`).
    #[diesel(embed)]
    pub setup: NewProvider,
    pub settings: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub unhealthy_until: Option<DateTime<Utc>>,
    pub consecutive_failures: i32,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i32>,
    pub balance: Option<BigDecimal>,
    pub balance_checked_at: Option<DateTime<Utc>>,
    pub low_balance_threshold: Option<BigDecimal>,
}

super::reads_by_id!(ProviderRow, providers);

impl std::ops::Deref for ProviderRow {
    type Target = NewProvider;

    fn deref(&self) -> &NewProvider {
        &self.setup
    }
}

impl ProviderRow {
    /// After a batch of calls that ended in a success: the failures since it (the
    /// new streak), the pause they earn (if any), the latency, and the last error
    /// kept when the batch brought none.
    pub async fn record_success(
        conn: &mut AsyncPgConnection,
        id: i64,
        failures_since: i32,
        unhealthy_until: Option<DateTime<Utc>>,
        latency_ms: i32,
        last_error: Option<&str>,
    ) -> QueryResult<usize> {
        use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz};
        diesel::sql_query(
            "UPDATE providers SET consecutive_failures = $2, unhealthy_until = $3, \
             last_success_at = now(), last_latency_ms = $4, \
             last_error = COALESCE($5, last_error) WHERE id = $1",
        )
        .bind::<BigInt, _>(id)
        .bind::<Integer, _>(failures_since)
        .bind::<Nullable<Timestamptz>, _>(unhealthy_until)
        .bind::<Integer, _>(latency_ms)
        .bind::<Nullable<Text>, _>(last_error)
        .execute(conn)
        .await
    }

    /// Adds `failures` to the streak (one UPDATE, so concurrent batches add up);
    /// answers the streak now.
    pub async fn add_failures(
        conn: &mut AsyncPgConnection,
        id: i64,
        failures: i32,
        last_error: Option<&str>,
        latency_ms: i32,
    ) -> QueryResult<i32> {
        diesel::update(providers::table.find(id))
            .set((
                providers::consecutive_failures.eq(providers::consecutive_failures + failures),
                providers::last_error.eq(last_error),
                providers::last_latency_ms.eq(latency_ms),
            ))
            .returning(providers::consecutive_failures)
            .get_result(conn)
            .await
    }

    /// Pauses the provider until `until`.
    pub async fn pause_until(
        conn: &mut AsyncPgConnection,
        id: i64,
        until: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::update(providers::table.find(id))
            .set(providers::unhealthy_until.eq(until))
            .execute(conn)
            .await
    }

    /// Records a balance just fetched from the provider.
    pub async fn record_balance(
        conn: &mut AsyncPgConnection,
        id: i64,
        balance: &BigDecimal,
    ) -> QueryResult<usize> {
        diesel::update(providers::table.find(id))
            .set((
                providers::balance.eq(balance),
                providers::balance_checked_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
    }

    /// Active providers still inside an unhealthy period at `now`.
    pub async fn count_unhealthy(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
    ) -> QueryResult<i64> {
        providers::table
            .filter(providers::active.eq(true))
            .filter(providers::unhealthy_until.gt(now))
            .count()
            .get_result(conn)
            .await
    }

    /// Active providers, oldest first.
    pub async fn list_active(conn: &mut AsyncPgConnection) -> QueryResult<Vec<ProviderRow>> {
        providers::table
            .filter(providers::active.eq(true))
            .order(providers::id)
            .select(ProviderRow::as_select())
            .load(conn)
            .await
    }
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = providers, check_for_backend(diesel::pg::Pg))]
pub struct NewProvider {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub api_key_encrypted: Vec<u8>,
    pub api_key_hint: String,
    pub api_id: Option<String>,
    pub currency: Currency,
    pub exchange_rate: BigDecimal,
    pub markup_bps: Option<i32>,
    pub active: bool,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = providers)]
pub struct ProviderChangeset {
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub api_key_encrypted: Option<Vec<u8>>,
    pub api_key_hint: Option<String>,
    pub api_id: Option<Option<String>>,
    pub currency: Option<Currency>,
    pub exchange_rate: Option<BigDecimal>,
    pub markup_bps: Option<Option<i32>>,
    pub active: Option<bool>,
    pub low_balance_threshold: Option<Option<BigDecimal>>,
}
