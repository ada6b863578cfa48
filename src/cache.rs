//! Process-local caches of what most requests read and few writes change: the
//! credential behind a bearer token, services by id and the public catalogue's
//! pages. They spare the order path and the storefront a lookup per request.
//!
//! Coherence comes from PostgreSQL, not from a time-to-live: triggers
//! (`notify_credentials_changed`, `notify_catalog_changed`) announce every change
//! a cache depends on, whoever writes it (the API, a job, another process,
//! psql), in the writing transaction; this process's LISTEN connection
//! (`events`) empties the affected entries as the notice arrives. A ban, a
//! revoked key or a new price therefore applies to the next request everywhere.
//! Two rules close the gaps around that:
//! - while the LISTEN connection is down nothing is cached or served from a
//!   cache (a notice missed then would leave a stale entry), and each reconnect
//!   starts empty;
//! - a fill records the cache's generation before it reads the database and
//!   is dropped if an invalidation happened meanwhile, so a read that raced a
//!   change never outlives it.
//!
//! Writes made through this process's own API also invalidate synchronously
//! once they commit (`graphql::coherence`), so a client that changes something
//! and reads it back never waits for its notice.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use crate::{
    db::{categories::CategoryRow, pagination::Paginated, services::ServiceRow},
    identity::AuthUser,
};

/// A map whose fills are guarded by a generation counter (see the module docs).
/// Small on purpose: when it reaches its capacity it starts over rather than
/// tracking recency, which suits entries that are all cheap to reload.
pub struct Cache<K, V> {
    entries: RwLock<HashMap<K, V>>,
    generation: AtomicU64,
    capacity: usize,
    live: Arc<AtomicBool>,
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    fn new(capacity: usize, live: Arc<AtomicBool>) -> Self {
        Cache {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            capacity,
            live,
        }
    }

    /// The cached value; always `None` while changes cannot be heard.
    pub fn get(&self, key: &K) -> Option<V> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        self.read().get(key).cloned()
    }

    /// Taken before reading the database for [`Cache::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Stores what was read after [`Cache::generation`] returned `generation`,
    /// unless the cache was invalidated since.
    pub fn insert(&self, generation: u64, key: K, value: V)
    where
        K: Clone,
    {
        if !self.live.load(Ordering::Acquire) || self.generation() != generation {
            return;
        }
        {
            let mut entries = self.write();
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(key.clone(), value);
        }
        // An invalidation between the check above and the insert bumped the
        // generation before clearing: take the entry back out.
        if self.generation() != generation {
            self.write().remove(&key);
        }
    }

    /// Drops every entry.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.write().clear();
    }

    /// Drops the entries `stale` picks.
    pub fn invalidate_where(&self, stale: impl Fn(&V) -> bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.write().retain(|_, value| !stale(value));
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A panic while holding the lock cannot leave a half-written map (every
    // critical section is one map call), so a poisoned lock is still usable.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<K, V>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<K, V>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A resolved bearer token: who it is, and what decides whether it still works
/// without a lookup (a session's expiry) or needs one (`last_used_at` is
/// refreshed once a minute).
#[derive(Debug, Clone)]
pub struct CachedCredential {
    pub auth: AuthUser,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Which page of the public catalogue (active services in active categories).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CatalogPageKey {
    pub category_id: Option<i64>,
    pub platform: Option<crate::db::enums::Platform>,
    pub search: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// A cached catalogue page with the categories its services belong to.
#[derive(Debug)]
pub struct CatalogPage {
    pub services: Paginated<ServiceRow>,
    pub categories: Vec<CategoryRow>,
}

/// Credentials by token hash (`auth::tokens::hash`).
pub const CREDENTIALS_CAPACITY: usize = 20_000;
/// Services by id.
pub const SERVICES_CAPACITY: usize = 20_000;
/// Catalogue pages (every filter, search text and page is its own entry).
pub const CATALOG_PAGES_CAPACITY: usize = 2_000;

struct Inner {
    live: Arc<AtomicBool>,
    credentials: Cache<Vec<u8>, CachedCredential>,
    services: Cache<i64, ServiceRow>,
    catalog_pages: Cache<CatalogPageKey, Arc<CatalogPage>>,
}

/// Every cache of the process; cheap to clone.
#[derive(Clone)]
pub struct Caches(Arc<Inner>);

impl Default for Caches {
    fn default() -> Self {
        let live = Arc::new(AtomicBool::new(false));
        Caches(Arc::new(Inner {
            credentials: Cache::new(CREDENTIALS_CAPACITY, live.clone()),
            services: Cache::new(SERVICES_CAPACITY, live.clone()),
            catalog_pages: Cache::new(CATALOG_PAGES_CAPACITY, live.clone()),
            live,
        }))
    }
}

impl Caches {
    pub fn credentials(&self) -> &Cache<Vec<u8>, CachedCredential> {
        &self.0.credentials
    }

    pub fn services(&self) -> &Cache<i64, ServiceRow> {
        &self.0.services
    }

    pub fn catalog_pages(&self) -> &Cache<CatalogPageKey, Arc<CatalogPage>> {
        &self.0.catalog_pages
    }

    /// The LISTEN connection is up (its LISTENs ran): start caching afresh.
    pub fn resume(&self) {
        self.clear();
        self.0.live.store(true, Ordering::Release);
    }

    /// The LISTEN connection is down: stop caching until it is back.
    pub fn suspend(&self) {
        self.0.live.store(false, Ordering::Release);
        self.clear();
    }

    /// Whether the caches are in use (the LISTEN connection is up).
    pub fn is_live(&self) -> bool {
        self.0.live.load(Ordering::Acquire)
    }

    /// A user's credentials or account changed.
    pub fn user_changed(&self, user_id: i64) {
        self.0
            .credentials
            .invalidate_where(|entry| entry.auth.user.id == user_id);
    }

    /// Services, categories or a provider's rate changed.
    pub fn catalog_changed(&self) {
        self.0.services.invalidate_all();
        self.0.catalog_pages.invalidate_all();
    }

    /// Empties every cache.
    pub fn clear(&self) {
        self.0.credentials.invalidate_all();
        self.catalog_changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_cache() -> Cache<i64, &'static str> {
        Cache::new(2, Arc::new(AtomicBool::new(true)))
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_is_dropped() {
        let cache = live_cache();
        let generation = cache.generation();
        cache.invalidate_all();
        cache.insert(generation, 1, "stale");
        assert_eq!(cache.get(&1), None);
        let generation = cache.generation();
        cache.insert(generation, 1, "fresh");
        assert_eq!(cache.get(&1), Some("fresh"));
    }

    #[test]
    fn nothing_is_cached_while_changes_cannot_be_heard() {
        let cache: Cache<i64, &str> = Cache::new(2, Arc::new(AtomicBool::new(false)));
        cache.insert(cache.generation(), 1, "value");
        assert_eq!(cache.get(&1), None);
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = live_cache();
        for key in 0..3 {
            cache.insert(cache.generation(), key, "value");
        }
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&2), Some("value"));
    }

    #[test]
    fn invalidate_where_keeps_the_rest() {
        let cache = live_cache();
        cache.insert(cache.generation(), 1, "a");
        cache.insert(cache.generation(), 2, "b");
        cache.invalidate_where(|v| *v == "a");
        assert_eq!((cache.get(&1), cache.get(&2)), (None, Some("b")));
    }
}
