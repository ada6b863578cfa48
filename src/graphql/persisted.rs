//! Persisted queries: the automatic persisted query protocol Apollo Client and
//! urql speak (`extensions.persistedQuery { version: 1, sha256Hash }`), and a
//! manifest of trusted operations.
//!
//! - A client first sends only the hash; an unknown hash answers
//!   PERSISTED_QUERY_NOT_FOUND (message `PersistedQueryNotFound`, which both
//!   clients look for), and the client sends the query with its hash once. The
//!   hash is checked against the query before anything is remembered, so nobody
//!   can file a different query under someone else's hash.
//! - The automatic store is per process and bounded (entries and bytes, least
//!   recently used first): a process that does not know a hash costs its client
//!   one round trip, never a wrong answer. Operations that every process must know
//!   from the start (a CDN may send a GET to any of them) go in the manifest
//!   (`GRAPHQL_PERSISTED_MANIFEST`, Apollo's persisted query manifest format),
//!   which is loaded at start, checked hash by hash, and never evicted.
//! - With `GRAPHQL_ANONYMOUS_ALLOW_LIST`, anonymous callers may run only the
//!   manifest's operations (PERSISTED_QUERY_NOT_IN_LIST otherwise); signed-in
//!   callers are held by their credential and the query limits instead.

use std::{collections::HashMap, num::NonZeroUsize, sync::Arc, sync::Mutex};

use anyhow::Context as _;
use lru::LruCache;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{config::PersistedQueriesConfig, error::AppError};

/// What a request says about its document.
#[derive(Debug, Default)]
pub struct Document {
    pub query: Option<String>,
    /// `extensions.persistedQuery.sha256Hash`, when the request uses the protocol.
    pub sha256_hash: Option<String>,
}

impl Document {
    /// Reads `extensions.persistedQuery` (absent: a plain request).
    pub fn from_request(
        query: Option<String>,
        extensions: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<Document, AppError> {
        let persisted = extensions.and_then(|e| e.get("persistedQuery"));
        let Some(persisted) = persisted else {
            return Ok(Document {
                query,
                sha256_hash: None,
            });
        };
        let refused = |why: &str| AppError::BadRequest(format!("extensions.persistedQuery: {why}"));
        if persisted.get("version").and_then(|v| v.as_i64()) != Some(1) {
            return Err(refused("only version 1 is supported"));
        }
        let hash = persisted
            .get("sha256Hash")
            .and_then(|h| h.as_str())
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| refused("sha256Hash must be 64 hexadecimal digits"))?;
        Ok(Document {
            query,
            sha256_hash: Some(hash.to_ascii_lowercase()),
        })
    }
}

pub struct PersistedQueries {
    trusted: HashMap<String, Arc<str>>,
    automatic: Mutex<Automatic>,
    max_bytes: usize,
    max_query_bytes: usize,
    anonymous_allow_list: bool,
}

struct Automatic {
    queries: LruCache<String, Arc<str>>,
    bytes: usize,
}

/// Apollo's persisted query manifest (`generate-persisted-query-manifest`).
#[derive(Deserialize)]
struct Manifest {
    format: String,
    operations: Vec<ManifestOperation>,
}

#[derive(Deserialize)]
struct ManifestOperation {
    id: String,
    body: String,
}

/// The SHA-256 of a query, in lowercase hexadecimal.
pub fn sha256_hex(query: &str) -> String {
    hex::encode(Sha256::digest(query.as_bytes()))
}

impl PersistedQueries {
    /// The store, with the manifest loaded and checked (an entry whose id is not
    /// its body's hash stops the start).
    pub fn load(config: &PersistedQueriesConfig) -> anyhow::Result<PersistedQueries> {
        let mut trusted = HashMap::new();
        if let Some(path) = &config.manifest {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("GRAPHQL_PERSISTED_MANIFEST: reading {}", path.display())
            })?;
            let manifest: Manifest = serde_json::from_str(&text)
                .context("GRAPHQL_PERSISTED_MANIFEST: not a persisted query manifest")?;
            anyhow::ensure!(
                manifest.format == "apollo-persisted-query-manifest",
                "GRAPHQL_PERSISTED_MANIFEST: format {:?} is not apollo-persisted-query-manifest",
                manifest.format
            );
            for operation in manifest.operations {
                let hash = sha256_hex(&operation.body);
                anyhow::ensure!(
                    hash == operation.id.to_ascii_lowercase(),
                    "GRAPHQL_PERSISTED_MANIFEST: operation {} is not the SHA-256 of its body",
                    operation.id
                );
                trusted.insert(hash, Arc::from(operation.body));
            }
        }
        let entries = NonZeroUsize::new(config.max_entries).unwrap_or(NonZeroUsize::MIN);
        Ok(PersistedQueries {
            trusted,
            automatic: Mutex::new(Automatic {
                queries: LruCache::new(entries),
                bytes: 0,
            }),
            max_bytes: config.max_bytes,
            max_query_bytes: config.max_query_bytes.min(config.max_bytes),
            anonymous_allow_list: config.anonymous_allow_list,
        })
    }

    /// The query a request runs. A hash with a query is checked and remembered; a
    /// hash alone is looked up; an anonymous caller under the allow-list runs only
    /// the manifest's operations.
    pub fn resolve(&self, document: Document, anonymous: bool) -> Result<Arc<str>, AppError> {
        let held_to_list = anonymous && self.anonymous_allow_list;
        let not_in_list = || AppError::PersistedQueryNotInList;
        match (document.query, document.sha256_hash) {
            (None, None) => Err(AppError::BadRequest(
                "the request has no `query` (nor a persisted query hash)".into(),
            )),
            (Some(query), None) => {
                if held_to_list && !self.trusted.contains_key(&sha256_hex(&query)) {
                    return Err(not_in_list());
                }
                Ok(Arc::from(query))
            }
            (None, Some(hash)) => {
                if let Some(query) = self.trusted.get(&hash) {
                    return Ok(query.clone());
                }
                if held_to_list {
                    return Err(not_in_list());
                }
                let mut automatic = self.automatic.lock().unwrap_or_else(|p| p.into_inner());
                automatic
                    .queries
                    .get(&hash)
                    .cloned()
                    .ok_or(AppError::PersistedQueryNotFound)
            }
            (Some(query), Some(hash)) => {
                if sha256_hex(&query) != hash {
                    return Err(AppError::BadRequest(
                        "extensions.persistedQuery: sha256Hash is not the SHA-256 of the query"
                            .into(),
                    ));
                }
                if let Some(trusted) = self.trusted.get(&hash) {
                    return Ok(trusted.clone());
                }
                if held_to_list {
                    return Err(not_in_list());
                }
                let query: Arc<str> = Arc::from(query);
                if query.len() <= self.max_query_bytes {
                    self.remember(hash, query.clone());
                }
                Ok(query)
            }
        }
    }

    fn remember(&self, hash: String, query: Arc<str>) {
        let mut automatic = self.automatic.lock().unwrap_or_else(|p| p.into_inner());
        let added = query.len();
        if let Some((_, replaced)) = automatic.queries.push(hash, query) {
            automatic.bytes -= replaced.len();
        }
        automatic.bytes += added;
        while automatic.bytes > self.max_bytes {
            match automatic.queries.pop_lru() {
                Some((_, evicted)) => automatic.bytes -= evicted.len(),
                None => break,
            }
        }
    }

    /// Operations and bytes the automatic store holds.
    pub fn automatic_size(&self) -> (usize, usize) {
        let automatic = self.automatic.lock().unwrap_or_else(|p| p.into_inner());
        (automatic.queries.len(), automatic.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(max_entries: usize, max_bytes: usize) -> PersistedQueries {
        PersistedQueries::load(&PersistedQueriesConfig {
            max_entries,
            max_bytes,
            max_query_bytes: max_bytes,
            manifest: None,
            anonymous_allow_list: false,
        })
        .unwrap()
    }

    fn persisted(query: Option<&str>, hash: &str) -> Document {
        Document {
            query: query.map(str::to_string),
            sha256_hash: Some(hash.to_string()),
        }
    }

    #[test]
    fn a_hash_is_found_only_after_its_query_was_sent_with_it() {
        let store = store(10, 1 << 20);
        let query = "{ services { nodes { id } } }";
        let hash = sha256_hex(query);
        assert!(matches!(
            store.resolve(persisted(None, &hash), true),
            Err(AppError::PersistedQueryNotFound)
        ));
        assert_eq!(
            &*store.resolve(persisted(Some(query), &hash), true).unwrap(),
            query
        );
        assert_eq!(
            &*store.resolve(persisted(None, &hash), true).unwrap(),
            query
        );
    }

    #[test]
    fn a_query_filed_under_another_hash_is_refused_and_not_remembered() {
        let store = store(10, 1 << 20);
        let hash = sha256_hex("{ services { nodes { id } } }");
        let answer = store.resolve(persisted(Some("{ me { balance } }"), &hash), true);
        assert!(matches!(answer, Err(AppError::BadRequest(_))), "{answer:?}");
        assert_eq!(store.automatic_size(), (0, 0));
    }

    #[test]
    fn the_store_is_bounded_by_entries_and_bytes() {
        let store = store(3, 100);
        let queries: Vec<String> = (0..10).map(|i| format!("{{ q{i}: __typename }}")).collect();
        for query in &queries {
            store
                .resolve(persisted(Some(query), &sha256_hex(query)), false)
                .unwrap();
        }
        let (entries, bytes) = store.automatic_size();
        assert_eq!(entries, 3);
        assert!(bytes <= 100);
        // The least recently used went first.
        let oldest = sha256_hex(&queries[0]);
        assert!(store.resolve(persisted(None, &oldest), false).is_err());
        let newest = sha256_hex(&queries[9]);
        assert!(store.resolve(persisted(None, &newest), false).is_ok());

        let bytes_bound = self::store(100, 60);
        for query in &queries {
            bytes_bound
                .resolve(persisted(Some(query), &sha256_hex(query)), false)
                .unwrap();
        }
        assert!(bytes_bound.automatic_size().1 <= 60);
    }

    #[test]
    fn the_protocol_fields_are_checked() {
        let extensions = |value: serde_json::Value| value.as_object().cloned().unwrap();
        let good = extensions(serde_json::json!({
            "persistedQuery": { "version": 1, "sha256Hash": "AB".repeat(32) }
        }));
        let document = Document::from_request(None, Some(&good)).unwrap();
        assert_eq!(document.sha256_hash.unwrap(), "ab".repeat(32));
        for bad in [
            serde_json::json!({ "persistedQuery": { "version": 2, "sha256Hash": "ab".repeat(32) } }),
            serde_json::json!({ "persistedQuery": { "version": 1, "sha256Hash": "xyz" } }),
            serde_json::json!({ "persistedQuery": { "version": 1 } }),
        ] {
            assert!(Document::from_request(None, Some(&extensions(bad))).is_err());
        }
    }
}
