//! GraphQL over HTTP: the automatic persisted query store's bounds, the
//! manifest of trusted operations, and whether anonymous callers are held to it.

use std::path::PathBuf;

use super::parse_var;

#[derive(Clone, Debug)]
pub struct PersistedQueriesConfig {
    /// Operations the automatic store keeps (least recently used go first).
    pub max_entries: usize,
    /// Bytes of query text the automatic store keeps at most, over all entries.
    pub max_bytes: usize,
    /// A longer query is executed but not remembered.
    pub max_query_bytes: usize,
    /// An Apollo persisted query manifest (`{"format":
    /// "apollo-persisted-query-manifest", "operations": [{"id", "body"}]}`): the
    /// trusted operations, never evicted, known to every process from the start.
    pub manifest: Option<PathBuf>,
    /// Anonymous callers may run only the manifest's operations.
    pub anonymous_allow_list: bool,
}

impl Default for PersistedQueriesConfig {
    fn default() -> Self {
        PersistedQueriesConfig {
            max_entries: 2_000,
            max_bytes: 8 * 1024 * 1024,
            max_query_bytes: 32 * 1024,
            manifest: None,
            anonymous_allow_list: false,
        }
    }
}

impl PersistedQueriesConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        let defaults = PersistedQueriesConfig::default();
        let config = PersistedQueriesConfig {
            max_entries: parse_var("GRAPHQL_APQ_MAX_ENTRIES", defaults.max_entries)?,
            max_bytes: parse_var("GRAPHQL_APQ_MAX_BYTES", defaults.max_bytes)?,
            max_query_bytes: parse_var("GRAPHQL_APQ_MAX_QUERY_BYTES", defaults.max_query_bytes)?,
            manifest: std::env::var("GRAPHQL_PERSISTED_MANIFEST")
                .ok()
                .filter(|path| !path.is_empty())
                .map(PathBuf::from),
            anonymous_allow_list: parse_var("GRAPHQL_ANONYMOUS_ALLOW_LIST", false)?,
        };
        anyhow::ensure!(
            !config.anonymous_allow_list || config.manifest.is_some(),
            "GRAPHQL_ANONYMOUS_ALLOW_LIST needs GRAPHQL_PERSISTED_MANIFEST: the list is the manifest"
        );
        Ok(config)
    }
}
