//! Database, HTTP server and sign-in settings.

use std::{env, net::SocketAddr, time::Duration};

use anyhow::Context;

use super::{Secret, list_var, parse_var, var_or};

#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    pub url: String,
    pub pool_size: usize,
    /// Connections of the page pool (`db::PlanCache::Generic`): one owner's pages
    /// only, so fewer than the main pool; opened as pages are read.
    pub page_pool_size: usize,
}

impl DatabaseConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        Ok(DatabaseConfig {
            url: var_or("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/booster"),
            pool_size: parse_var("DATABASE_POOL_SIZE", 16)?,
            page_pool_size: parse_var("DATABASE_PAGE_POOL_SIZE", 8)?,
        })
    }
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub cors_allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub graphql_max_depth: usize,
    pub graphql_max_complexity: usize,
    /// How long a query (not a mutation) may run before its work is cancelled.
    pub graphql_query_timeout: Duration,
    /// Whether anonymous callers may use introspection (`__schema`, `__type`).
    pub graphql_anonymous_introspection: bool,
    /// Values (fields and list items) one query or mutation may resolve.
    pub graphql_max_answer_values: usize,
    /// File parts one multipart GraphQL request may carry (signed-in callers only).
    pub upload_max_files: usize,
    /// Bytes one uploaded file may hold.
    pub upload_max_bytes: usize,
    pub graphiql_assets_dir: std::path::PathBuf,
    /// The reference web client's files, served at `/client/` (none when the
    /// folder is missing).
    pub web_client_dir: std::path::PathBuf,
    /// GraphQL requests one signed-in user may make per minute (bursts up to the
    /// same number); 0 disables the limit.
    pub rate_limit_per_minute: u32,
    /// Anonymous requests (and refused tokens) one client IP address may make per
    /// minute; 0 disables the limit.
    pub anonymous_rate_limit_per_minute: u32,
    /// `/api/v2` requests one API key may make per minute (a `status` of 100 ids
    /// counts once); 0 disables the limit.
    pub api_v2_rate_limit_per_minute: u32,
    /// `/api/v2` requests one user may make per minute over all their keys; 0
    /// disables the limit.
    pub api_v2_user_rate_limit_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` names the client; from anyone else the
    /// header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How long a stopping process lets requests and job runs in flight finish
    /// (make it longer than `PROVIDER_TIMEOUT_SECONDS`).
    pub shutdown_grace: Duration,
    /// Connections open at once, WebSockets included (lowered to what the file
    /// descriptor limit allows).
    pub max_connections: usize,
    /// Connections open at once from one client address (trusted proxies are
    /// exempt); 0 disables this limit.
    pub max_connections_per_ip: usize,
    /// How long a connection may take to send a request's headers, which is also
    /// how long an idle keep-alive connection stays open.
    pub header_read_timeout: Duration,
    /// How long a request body may take to arrive (answered 408 past it).
    pub body_read_timeout: Duration,
    /// The bearer token a scraper presents at `/metrics`; unset, there is no
    /// `/metrics`.
    pub metrics_token: Option<Secret>,
    /// `/readyz`: a job is stale past three intervals, and never sooner than this.
    pub ready_job_grace: Duration,
    /// `/readyz`: the oldest PENDING order may be this old.
    pub ready_max_pending_age: Duration,
    /// `/readyz`: this many orders may wait in NEEDS_REVIEW.
    pub ready_max_needs_review: i64,
    /// `/readyz`: this many active providers may be unhealthy.
    pub ready_max_unhealthy_providers: i64,
}

impl ServerConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        Ok(ServerConfig {
            bind: parse_var("BIND", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            cors_allowed_origins: list_var("CORS_ALLOWED_ORIGINS", "*"),
            max_body_bytes: parse_var("MAX_BODY_BYTES", 4 * 1024 * 1024)?,
            graphql_max_depth: parse_var("GRAPHQL_MAX_DEPTH", 15)?,
            graphql_max_complexity: parse_var("GRAPHQL_MAX_COMPLEXITY", 20_000)?,
            graphql_query_timeout: Duration::from_millis(parse_var(
                "GRAPHQL_QUERY_TIMEOUT_MS",
                10_000,
            )?),
            graphql_anonymous_introspection: parse_var("GRAPHQL_ANONYMOUS_INTROSPECTION", false)?,
            graphql_max_answer_values: parse_var("GRAPHQL_MAX_ANSWER_VALUES", 200_000)?,
            upload_max_files: parse_var("UPLOAD_MAX_FILES", 1)?,
            upload_max_bytes: parse_var("UPLOAD_MAX_BYTES", 4 * 1024 * 1024)?,
            graphiql_assets_dir: var_or("GRAPHIQL_ASSETS_DIR", "assets/vendor/graphiql").into(),
            web_client_dir: var_or("WEB_CLIENT_DIR", "examples/web").into(),
            rate_limit_per_minute: parse_var("RATE_LIMIT_PER_MINUTE", 1200)?,
            anonymous_rate_limit_per_minute: parse_var("ANONYMOUS_RATE_LIMIT_PER_MINUTE", 600)?,
            api_v2_rate_limit_per_minute: parse_var("API_V2_RATE_LIMIT_PER_MINUTE", 600)?,
            api_v2_user_rate_limit_per_minute: parse_var(
                "API_V2_USER_RATE_LIMIT_PER_MINUTE",
                1200,
            )?,
            trusted_proxies: list_var("TRUSTED_PROXIES", "")
                .iter()
                .map(|ip| {
                    ip.parse()
                        .with_context(|| format!("TRUSTED_PROXIES: {ip} is not an IP address"))
                })
                .collect::<anyhow::Result<_>>()?,
            shutdown_grace: Duration::from_secs(parse_var("SHUTDOWN_GRACE_SECONDS", 30)?),
            max_connections: parse_var("MAX_CONNECTIONS", 10_000)?,
            max_connections_per_ip: parse_var("MAX_CONNECTIONS_PER_IP", 200)?,
            header_read_timeout: Duration::from_secs(parse_var("HEADER_READ_TIMEOUT_SECONDS", 10)?),
            body_read_timeout: Duration::from_secs(parse_var("BODY_READ_TIMEOUT_SECONDS", 30)?),
            metrics_token: env::var("METRICS_TOKEN")
                .ok()
                .filter(|v| !v.is_empty())
                .map(Secret),
            ready_job_grace: Duration::from_secs(parse_var("READY_JOB_GRACE_SECONDS", 300)?),
            ready_max_pending_age: Duration::from_secs(parse_var(
                "READY_MAX_PENDING_AGE_SECONDS",
                900,
            )?),
            ready_max_needs_review: parse_var("READY_MAX_NEEDS_REVIEW", 20)?,
            ready_max_unhealthy_providers: parse_var("READY_MAX_UNHEALTHY_PROVIDERS", 0)?,
        })
    }
}

#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub session_ttl: Duration,
    pub google_client_id: Option<String>,
    pub google_jwks_url: String,
    pub google_issuers: Vec<String>,
}

impl AuthConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        let hours: u64 = parse_var("SESSION_TTL_HOURS", 720)?;
        Ok(AuthConfig {
            session_ttl: Duration::from_secs(hours * 3600),
            google_client_id: env::var("GOOGLE_CLIENT_ID").ok().filter(|v| !v.is_empty()),
            google_jwks_url: var_or(
                "GOOGLE_JWKS_URL",
                "https://www.googleapis.com/oauth2/v3/certs",
            ),
            google_issuers: list_var(
                "GOOGLE_ISSUERS",
                "accounts.google.com,https://accounts.google.com",
            ),
        })
    }
}
