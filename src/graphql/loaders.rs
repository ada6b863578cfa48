//! DataLoaders: one batched query per relation per request, however many list items
//! resolve it. Created per request (they cache), see `graphql::request_data`.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::db::{
    PgPool,
    categories::Category,
    deposits::{Deposit, DepositEvent},
    providers::Provider,
    services::Service,
    users::User,
};

#[derive(Clone)]
pub struct DbLoader {
    pool: PgPool,
}

pub type Loaders = DataLoader<DbLoader, HashMapCache>;

pub fn new_loaders(pool: PgPool) -> Loaders {
    DataLoader::with_cache(DbLoader { pool }, tokio::spawn, HashMapCache::default())
}

macro_rules! id_loader {
    ($key:ident, $row:ty) => {
        /// Key type for batched lookups by id.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i64);

        impl Loader<$key> for DbLoader {
            type Value = $row;
            type Error = Arc<anyhow::Error>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $row>, Self::Error> {
                let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
                let mut conn = self
                    .pool
                    .get()
                    .await
                    .map_err(|e| Arc::new(anyhow::anyhow!("pool: {e}")))?;
                let rows = <$row>::load_many(&mut conn, &ids)
                    .await
                    .map_err(|e| Arc::new(anyhow::Error::from(e)))?;
                Ok(rows.into_iter().map(|row| ($key(row.id), row)).collect())
            }
        }
    };
}

id_loader!(CategoryId, Category);
id_loader!(DepositId, Deposit);
id_loader!(ProviderId, Provider);
id_loader!(ServiceId, Service);
id_loader!(UserId, User);

/// Key for a deposit's gateway events (one-to-many): every key gets a list, maybe empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DepositEventsOf(pub i64);

impl Loader<DepositEventsOf> for DbLoader {
    type Value = Vec<DepositEvent>;
    type Error = Arc<anyhow::Error>;

    async fn load(
        &self,
        keys: &[DepositEventsOf],
    ) -> Result<HashMap<DepositEventsOf, Vec<DepositEvent>>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| Arc::new(anyhow::anyhow!("pool: {e}")))?;
        let rows = DepositEvent::for_deposits(&mut conn, &ids)
            .await
            .map_err(|e| Arc::new(anyhow::Error::from(e)))?;
        let mut map: HashMap<DepositEventsOf, Vec<DepositEvent>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            map.entry(DepositEventsOf(row.deposit_id))
                .or_default()
                .push(row);
        }
        Ok(map)
    }
}

/// A provider's calls in the last hour: `(calls, failures, mean latency ms)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProviderStatsOf(pub i64);

impl Loader<ProviderStatsOf> for DbLoader {
    type Value = (i64, i64, Option<i64>);
    type Error = Arc<anyhow::Error>;

    async fn load(
        &self,
        keys: &[ProviderStatsOf],
    ) -> Result<HashMap<ProviderStatsOf, Self::Value>, Self::Error> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            provider_id: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            calls: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            failures: i64,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
            mean_latency: Option<i64>,
        }
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| Arc::new(anyhow::anyhow!("pool: {e}")))?;
        let rows: Vec<Row> = diesel::sql_query(
            "SELECT provider_id, count(*)::bigint AS calls, count(*) FILTER (WHERE NOT ok)::bigint AS failures, \
             avg(latency_ms)::bigint AS mean_latency FROM provider_calls \
             WHERE provider_id = ANY($1) AND created_at >= now() - interval '1 hour' GROUP BY provider_id",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(&ids)
        .load(&mut conn)
        .await
        .map_err(|e| Arc::new(anyhow::Error::from(e)))?;
        let mut found: HashMap<ProviderStatsOf, Self::Value> = rows
            .into_iter()
            .map(|r| {
                (
                    ProviderStatsOf(r.provider_id),
                    (r.calls, r.failures, r.mean_latency),
                )
            })
            .collect();
        for key in keys {
            found.entry(*key).or_insert((0, 0, None));
        }
        Ok(found)
    }
}

/// The status history of an order, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HistoryOf(pub i64);

impl Loader<HistoryOf> for DbLoader {
    type Value = Vec<crate::db::orders::OrderEventRow>;
    type Error = Arc<anyhow::Error>;

    async fn load(
        &self,
        keys: &[HistoryOf],
    ) -> Result<HashMap<HistoryOf, Self::Value>, Self::Error> {
        use crate::db::{orders::OrderEventRow, schema::order_events};
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| Arc::new(anyhow::anyhow!("pool: {e}")))?;
        let rows: Vec<OrderEventRow> = order_events::table
            .filter(order_events::order_id.eq_any(&ids))
            .order((order_events::order_id, order_events::id))
            .select(OrderEventRow::as_select())
            .load(&mut conn)
            .await
            .map_err(|e| Arc::new(anyhow::Error::from(e)))?;
        let mut grouped: HashMap<HistoryOf, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            grouped
                .entry(HistoryOf(row.order_id))
                .or_default()
                .push(row);
        }
        Ok(grouped)
    }
}

/// The cancel and refill requests of an order, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestsOf(pub i64);

impl Loader<RequestsOf> for DbLoader {
    type Value = Vec<crate::db::orders::OrderRequest>;
    type Error = Arc<anyhow::Error>;

    async fn load(
        &self,
        keys: &[RequestsOf],
    ) -> Result<HashMap<RequestsOf, Self::Value>, Self::Error> {
        use crate::db::{orders::OrderRequest, schema::order_requests};
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| Arc::new(anyhow::anyhow!("pool: {e}")))?;
        let rows: Vec<OrderRequest> = order_requests::table
            .filter(order_requests::order_id.eq_any(&ids))
            .order((order_requests::order_id, order_requests::id))
            .select(OrderRequest::as_select())
            .load(&mut conn)
            .await
            .map_err(|e| Arc::new(anyhow::Error::from(e)))?;
        let mut grouped: HashMap<RequestsOf, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            grouped
                .entry(RequestsOf(row.order_id))
                .or_default()
                .push(row);
        }
        Ok(grouped)
    }
}
