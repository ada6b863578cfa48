//! `AppState`: what every request handler and background job shares.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::{
    auth::{google::GoogleVerifier, passwords::Passwords},
    cache::Caches,
    config::Config,
    crypto::{SecretBox, TokenSigner},
    db::{PgPool, PlanCache, QueryCounter},
    domain::orders::group_commit::GroupCommit,
    events::EventBus,
};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub pool: PgPool,
    /// Read-only sessions keeping one generic plan per statement, for one
    /// owner's pages (`db::PlanCache::Generic`).
    pub page_pool: PgPool,
    pub query_counter: QueryCounter,
    /// One HTTP client (connection pools, TLS sessions) for every outbound call.
    pub http: reqwest::Client,
    pub google: GoogleVerifier,
    /// Hashes and checks passwords (argon2id), a bounded number at a time.
    pub passwords: Passwords,
    pub secrets: SecretBox,
    /// Signs and checks the tokens of links the panel mails (newsletter).
    pub tokens: TokenSigner,
    /// Order-status events from every process sharing the database.
    pub events: EventBus,
    /// Credentials and catalogue, kept coherent by the event listener.
    pub caches: Caches,
    /// The per-account queues of orders placed together (`ORDER_GROUP_MAX`).
    pub placements: GroupCommit,
    /// Cancelled when the process is asked to stop (SIGTERM/SIGINT): jobs claim
    /// nothing new, the HTTP server drains.
    pub shutdown: CancellationToken,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state and starts this process's event listener; must run inside
    /// the tokio runtime.
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let query_counter = QueryCounter::default();
        let pool = crate::db::build_pool(
            &config.database.url,
            config.database.pool_size,
            PlanCache::Auto,
            query_counter.clone(),
        )?;
        let page_pool = crate::db::build_pool(
            &config.database.url,
            config.database.page_pool_size,
            PlanCache::Generic,
            query_counter.clone(),
        )?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("booster/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        crate::metrics::handle();
        let events = EventBus::default();
        let caches = Caches::default();
        events.start_listener(
            config.database.url.clone(),
            caches.clone(),
            query_counter.clone(),
        );
        Ok(AppState(Arc::new(Inner {
            events,
            caches,
            placements: GroupCommit::new(config.orders.group_max),
            google: GoogleVerifier::new(http.clone(), config.auth.clone()),
            passwords: Passwords::new(&config.accounts)?,
            secrets: SecretBox::new(&config.secret_key),
            tokens: TokenSigner::new(&config.secret_key),
            config,
            pool,
            page_pool,
            query_counter,
            http,
            shutdown: CancellationToken::new(),
        })))
    }
}

impl AppState {
    /// True once the process has been asked to stop.
    pub fn is_stopping(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// A client for a stored provider, with its key decrypted and the configured
    /// timeout and retry policy.
    pub fn provider_client(
        &self,
        provider: &crate::db::providers::ProviderRow,
    ) -> Result<Box<dyn crate::providers::ProviderClient>, crate::error::AppError> {
        let config = &self.config.upstream;
        let retry = crate::providers::api_v2::RetryPolicy {
            first_backoff: config.provider_retry_backoff,
            timeout: config.provider_timeout,
            ..Default::default()
        };
        crate::providers::client_for(provider, &self.secrets, self.http.clone(), retry)
    }
}
