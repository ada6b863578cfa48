//! `provider_calls`: every call to a provider with its outcome and latency, kept a
//! day, for the provider's health and the admin's statistics.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::provider_calls;

/// One call as recorded.
#[derive(Debug, Insertable)]
#[diesel(table_name = provider_calls)]
pub struct NewProviderCall<'a> {
    pub provider_id: i64,
    pub action: &'a str,
    pub ok: bool,
    pub latency_ms: i32,
    pub error: Option<&'a str>,
}

/// Records many calls in one statement.
pub async fn insert_many(
    conn: &mut AsyncPgConnection,
    calls: &[NewProviderCall<'_>],
) -> QueryResult<usize> {
    diesel::insert_into(provider_calls::table)
        .values(calls)
        .execute(conn)
        .await
}

/// Drops calls older than `before`.
pub async fn delete_before(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(provider_calls::table.filter(provider_calls::created_at.lt(before)))
        .execute(conn)
        .await
}

/// A provider's calls in the last hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct CallStats {
    #[diesel(sql_type = sql_types::BigInt)]
    pub provider_id: i64,
    #[diesel(sql_type = sql_types::BigInt)]
    pub calls: i64,
    #[diesel(sql_type = sql_types::BigInt)]
    pub failures: i64,
    #[diesel(sql_type = sql_types::Nullable<sql_types::BigInt>)]
    pub mean_latency_ms: Option<i64>,
}

impl CallStats {
    /// The last hour's figures of each provider, in one statement; a provider with
    /// no call has zeros.
    pub async fn last_hour(
        conn: &mut AsyncPgConnection,
        provider_ids: &[i64],
    ) -> QueryResult<HashMap<i64, CallStats>> {
        let rows: Vec<CallStats> = diesel::sql_query(
            "SELECT provider_id, count(*)::bigint AS calls, \
             count(*) FILTER (WHERE NOT ok)::bigint AS failures, \
             avg(latency_ms)::bigint AS mean_latency_ms FROM provider_calls \
             WHERE provider_id = ANY($1) AND created_at >= now() - interval '1 hour' \
             GROUP BY provider_id",
        )
        .bind::<sql_types::Array<sql_types::BigInt>, _>(provider_ids)
        .load(conn)
        .await?;
        let mut stats: HashMap<i64, CallStats> =
            rows.into_iter().map(|r| (r.provider_id, r)).collect();
        for &provider_id in provider_ids {
            stats.entry(provider_id).or_insert(CallStats {
                provider_id,
                ..Default::default()
            });
        }
        Ok(stats)
    }
}
