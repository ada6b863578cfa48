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
