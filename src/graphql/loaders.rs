//! DataLoaders: one batched query per relation per request, however many list items
//! resolve it. Created per request (they cache), see `graphql::request_data`.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::{
    cache::Caches,
    db::{
        PgPool, PooledConn,
        api_keys::ApiKeyRow,
        categories::CategoryRow,
        customer_levels::LevelRow,
        deposit_methods::DepositMethodRow,
        deposits::{DepositEventRow, DepositRow},
        drip_feeds::{DripFeedRow, DripFeedRunRow},
        order_events::OrderEventRow,
        order_requests::OrderRequestRow,
        orders::OrderRow,
        provider_calls::CallStats,
        providers::ProviderRow,
        service_figures::ServiceFiguresRow,
        services::ServiceRow,
        tickets::{TicketMessageRow, TicketOrderRow},
        users::{UserRow, UserStats},
    },
    domain::catalog::listing,
};

type LoadError = Arc<anyhow::Error>;

fn load_error(error: impl Into<anyhow::Error>) -> LoadError {
    Arc::new(error.into())
}

#[derive(Clone)]
pub struct DbLoader {
    pool: PgPool,
    /// Services come from the process's cache when they are there.
    caches: Caches,
}

pub type Loaders = DataLoader<DbLoader, HashMapCache>;

pub fn new_loaders(pool: PgPool, caches: Caches) -> Loaders {
    DataLoader::with_cache(
        DbLoader { pool, caches },
        tokio::spawn,
        HashMapCache::default(),
    )
}

impl DbLoader {
    async fn conn(&self) -> Result<PooledConn, LoadError> {
        self.pool
            .get()
            .await
            .map_err(|e| load_error(anyhow::anyhow!("pool: {e}")))
    }
}

macro_rules! id_loader {
    ($key:ident, $row:ty) => {
        /// Key type for batched lookups by id.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i64);

        impl Loader<$key> for DbLoader {
            type Value = $row;
            type Error = LoadError;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $row>, Self::Error> {
                let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
                let rows = <$row>::load_many(&mut *self.conn().await?, &ids)
                    .await
                    .map_err(load_error)?;
                Ok(rows.into_iter().map(|row| ($key(row.id), row)).collect())
            }
        }
    };
}

/// One-to-many relations: every key gets its list, possibly empty, from one query
/// (`$query` loads the children of many parents, ordered within each parent).
macro_rules! children_loader {
    ($(#[$meta:meta])* $key:ident, $row:ty, $query:path, $parent:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i64);

        impl Loader<$key> for DbLoader {
            type Value = Vec<$row>;
            type Error = LoadError;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Vec<$row>>, Self::Error> {
                let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
                let rows = $query(&mut *self.conn().await?, &ids).await.map_err(load_error)?;
                let mut grouped: HashMap<$key, Vec<$row>> = keys.iter().map(|k| (*k, Vec::new())).collect();
                for row in rows {
                    grouped.entry($key(row.$parent)).or_default().push(row);
                }
                Ok(grouped)
            }
        }
    };
}

id_loader!(CategoryId, CategoryRow);
id_loader!(DepositId, DepositRow);
id_loader!(DepositMethodId, DepositMethodRow);
id_loader!(LevelId, LevelRow);
id_loader!(OrderId, OrderRow);
id_loader!(ProviderId, ProviderRow);

/// Key type for batched lookups of services by id, through the process's cache
/// (`domain::catalog::listing::services`); shared, since a page of orders shows
/// a few services many times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServiceId(pub i64);

impl Loader<ServiceId> for DbLoader {
    type Value = Arc<ServiceRow>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ServiceId],
    ) -> Result<HashMap<ServiceId, Arc<ServiceRow>>, LoadError> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = listing::services(&self.caches, &self.pool, &ids)
            .await
            .map_err(load_error)?;
        Ok(rows
            .into_iter()
            .map(|row| (ServiceId(row.id), Arc::new(row)))
            .collect())
    }
}
id_loader!(UserId, UserRow);

/// A lookup by an id that came from the client, so it may name nothing: the answer
/// for every key is cached, absent ones as `None`. Without this an unknown id would
/// be fetched again in every batch window, and a document aliasing `service(id:)`
/// with unknown ids thousands of times would cost a statement per window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lookup<K>(pub K);

impl<K> Loader<Lookup<K>> for DbLoader
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    DbLoader: Loader<K>,
{
    type Value = Option<<DbLoader as Loader<K>>::Value>;
    type Error = <DbLoader as Loader<K>>::Error;

    async fn load(
        &self,
        keys: &[Lookup<K>],
    ) -> Result<HashMap<Lookup<K>, Self::Value>, Self::Error> {
        let inner: Vec<K> = keys.iter().map(|k| k.0.clone()).collect();
        let mut found = Loader::<K>::load(self, &inner).await?;
        Ok(keys
            .iter()
            .map(|k| (k.clone(), found.remove(&k.0)))
            .collect())
    }
}

children_loader!(
    /// A user's API keys, newest first.
    ApiKeysOf, ApiKeyRow, ApiKeyRow::for_users, user_id
);

/// A user's figures for admins (deposits, spend, orders, last seen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatsOfUser(pub i64);

impl Loader<StatsOfUser> for DbLoader {
    type Value = UserStats;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[StatsOfUser],
    ) -> Result<HashMap<StatsOfUser, UserStats>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = UserStats::for_users(&mut *self.conn().await?, &ids)
            .await
            .map_err(load_error)?;
        Ok(rows
            .into_iter()
            .map(|s| (StatsOfUser(s.user_id), s))
            .collect())
    }
}

children_loader!(
    /// A deposit's gateway events.
    DepositEventsOf, DepositEventRow, DepositEventRow::for_deposits, deposit_id
);
children_loader!(
    /// The status history of an order.
    HistoryOf, OrderEventRow, OrderEventRow::for_orders, order_id
);
children_loader!(
    /// The cancel and refill requests of an order.
    RequestsOf, OrderRequestRow, OrderRequestRow::for_orders, order_id
);

/// A service's measured figures (absent until the job first ran).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FiguresOf(pub i64);

impl Loader<FiguresOf> for DbLoader {
    type Value = ServiceFiguresRow;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[FiguresOf],
    ) -> Result<HashMap<FiguresOf, ServiceFiguresRow>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = ServiceFiguresRow::for_services(&mut *self.conn().await?, &ids)
            .await
            .map_err(load_error)?;
        Ok(rows
            .into_iter()
            .map(|f| (FiguresOf(f.service_id), f))
            .collect())
    }
}

/// The drip-feed plan of an order the panel runs as runs (absent for others).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DripFeedOf(pub i64);

impl Loader<DripFeedOf> for DbLoader {
    type Value = DripFeedRow;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[DripFeedOf],
    ) -> Result<HashMap<DripFeedOf, DripFeedRow>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = DripFeedRow::for_orders(&mut *self.conn().await?, &ids)
            .await
            .map_err(load_error)?;
        Ok(rows
            .into_iter()
            .map(|f| (DripFeedOf(f.order_id), f))
            .collect())
    }
}

/// The runs placed so far of a drip-feed order, in run order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RunsOf(pub i64);

impl Loader<RunsOf> for DbLoader {
    type Value = Vec<OrderRow>;
    type Error = LoadError;

    async fn load(&self, keys: &[RunsOf]) -> Result<HashMap<RunsOf, Vec<OrderRow>>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = DripFeedRunRow::with_orders_of(&mut *self.conn().await?, &ids)
            .await
            .map_err(load_error)?;
        let mut runs: HashMap<RunsOf, Vec<OrderRow>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for (run, order) in rows {
            runs.entry(RunsOf(run.parent_order_id))
                .or_default()
                .push(order);
        }
        Ok(runs)
    }
}

/// Which drip-feed order an order is a run of (absent for other orders).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RunOf(pub i64);

impl Loader<RunOf> for DbLoader {
    type Value = DripFeedRunRow;
    type Error = LoadError;

    async fn load(&self, keys: &[RunOf]) -> Result<HashMap<RunOf, DripFeedRunRow>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = DripFeedRunRow::for_orders(&mut *self.conn().await?, &ids)
            .await
            .map_err(load_error)?;
        Ok(rows.into_iter().map(|r| (RunOf(r.order_id), r)).collect())
    }
}

/// Whether a newer order on the same link has not ended (the refill rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NewerActiveOnLink(pub i64);

impl Loader<NewerActiveOnLink> for DbLoader {
    type Value = bool;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[NewerActiveOnLink],
    ) -> Result<HashMap<NewerActiveOnLink, bool>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let newer = OrderRow::with_newer_active_on_link(&mut *self.conn().await?, &ids)
            .await
            .map_err(load_error)?;
        Ok(keys.iter().map(|k| (*k, newer.contains(&k.0))).collect())
    }
}

/// A provider's calls in the last hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProviderStatsOf(pub i64);

impl Loader<ProviderStatsOf> for DbLoader {
    type Value = CallStats;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ProviderStatsOf],
    ) -> Result<HashMap<ProviderStatsOf, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.conn().await?;
        let stats = CallStats::last_hour(&mut conn, &ids)
            .await
            .map_err(load_error)?;
        Ok(stats
            .into_iter()
            .map(|(id, s)| (ProviderStatsOf(id), s))
            .collect())
    }
}

children_loader!(
    /// A ticket's thread as its customer sees it (no internal notes).
    CustomerThreadOf, TicketMessageRow, TicketMessageRow::customer_threads, ticket_id
);
children_loader!(
    /// A ticket's whole thread, internal notes included (staff).
    StaffThreadOf, TicketMessageRow, TicketMessageRow::staff_threads, ticket_id
);
children_loader!(
    /// The orders a ticket is about.
    OrdersOfTicket, TicketOrderRow, TicketOrderRow::of_tickets, ticket_id
);

/// The SEO overrides of a page, post, category or service (absent: all defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeoOf(pub crate::db::enums::SeoSubject, pub i64);

impl Loader<SeoOf> for DbLoader {
    type Value = crate::db::seo_meta::SeoMetaRow;
    type Error = LoadError;

    async fn load(&self, keys: &[SeoOf]) -> Result<HashMap<SeoOf, Self::Value>, Self::Error> {
        let mut conn = self.conn().await?;
        let mut found = HashMap::new();
        for subject in crate::db::enums::SeoSubject::ALL {
            let ids: Vec<i64> = keys
                .iter()
                .filter(|k| k.0 == *subject)
                .map(|k| k.1)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let rows = crate::db::seo_meta::SeoMetaRow::for_subjects(&mut conn, *subject, &ids)
                .await
                .map_err(load_error)?;
            found.extend(
                rows.into_iter()
                    .map(|r| (SeoOf(r.subject_type, r.subject_id), r)),
            );
        }
        Ok(found)
    }
}

/// The site settings, read once per request however many SEO fields need them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SiteSettingsKey;

impl Loader<SiteSettingsKey> for DbLoader {
    type Value = crate::domain::content::site::SiteSettings;
    type Error = LoadError;

    async fn load(
        &self,
        _keys: &[SiteSettingsKey],
    ) -> Result<HashMap<SiteSettingsKey, Self::Value>, Self::Error> {
        let mut conn = self.conn().await?;
        let settings = crate::domain::content::site::load(&mut conn)
            .await
            .map_err(load_error)?;
        Ok(HashMap::from([(SiteSettingsKey, settings)]))
    }
}
