//! Configuration, one struct per concern, each read from environment variables.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/booster` | PostgreSQL; the database is created if missing |
//! | `DATABASE_POOL_SIZE` | `16` | connections per process |
//! | `DATABASE_PAGE_POOL_SIZE` | `8` | read-only connections per process for one owner's pages, each keeping one generic plan per statement (`db::PlanCache`) |
//! | `BIND` | `127.0.0.1:8080` | HTTP listen address |
//! | `BOOSTER_SECRET_KEY` | required | 32 bytes, hex (64 characters): encrypts provider API keys at rest |
//! | `SESSION_TTL_HOURS` | `720` | lifetime of a sign-in session |
//! | `GOOGLE_CLIENT_ID` | unset | OAuth client id; Google sign-in is refused while unset |
//! | `GOOGLE_JWKS_URL` | `https://www.googleapis.com/oauth2/v3/certs` | where Google's signing keys are fetched |
//! | `GOOGLE_ISSUERS` | `accounts.google.com,https://accounts.google.com` | accepted `iss` values |
//! | `CORS_ALLOWED_ORIGINS` | `*` | comma-separated origins allowed to call the API from a browser |
//! | `MAX_BODY_BYTES` | `4194304` | largest accepted request body, and WebSocket message |
//! | `GRAPHQL_MAX_DEPTH` | `15` | deepest accepted query |
//! | `GRAPHQL_MAX_COMPLEXITY` | `20000` | most expensive accepted query (lists count `first` times their children) |
//! | `GRAPHQL_QUERY_TIMEOUT_MS` | `10000` | a query running longer is stopped (QUERY_TOO_COMPLEX); mutations always run to their end |
//! | `GRAPHQL_ANONYMOUS_INTROSPECTION` | `false` | whether anonymous callers may use introspection (`__schema`, `__type`); signed-in callers always may, once per document |
//! | `GRAPHQL_MAX_ANSWER_VALUES` | `200000` | values (fields and list items) one query or mutation may resolve; past it QUERY_TOO_COMPLEX (0: unlimited) |
//! | `MAX_CONNECTIONS` / `MAX_CONNECTIONS_PER_IP` | `10000` / `200` | open connections (WebSockets included) in all / from one client address; past either a new connection is closed at once (trusted proxies are exempt from the per-address cap; 0 disables it) |
//! | `HEADER_READ_TIMEOUT_SECONDS` | `10` | a connection that sends no complete request headers in this time (an idle keep-alive one too) is closed |
//! | `BODY_READ_TIMEOUT_SECONDS` | `30` | a request body that has not arrived in this time is answered 408 |
//! | `API_V2_RATE_LIMIT_PER_MINUTE` | `600` | `/api/v2` calls per API key per minute (0 disables) |
//! | `METRICS_TOKEN` | unset | bearer token for `/metrics`; unset, there is no `/metrics` |
//! | `READY_JOB_GRACE_SECONDS` | `300` | `/readyz`: a job is stale after three intervals without success, never sooner than this |
//! | `READY_MAX_PENDING_AGE_SECONDS` / `READY_MAX_NEEDS_REVIEW` / `READY_MAX_UNHEALTHY_PROVIDERS` | `900` / `20` / `0` | `/readyz` thresholds |
//! | `GRAPHQL_APQ_MAX_ENTRIES` | `2000` | automatic persisted queries one process remembers (least recently used go first) |
//! | `GRAPHQL_APQ_MAX_BYTES` | `8388608` | bytes of query text the automatic persisted query store holds at most |
//! | `GRAPHQL_APQ_MAX_QUERY_BYTES` | `32768` | a longer query is executed but not remembered |
//! | `GRAPHQL_PERSISTED_MANIFEST` | unset | an Apollo persisted query manifest: trusted operations every process knows by hash |
//! | `GRAPHQL_ANONYMOUS_ALLOW_LIST` | `false` | anonymous callers may run only the manifest's operations (PERSISTED_QUERY_NOT_IN_LIST otherwise) |
//! | `UPLOAD_MAX_FILES` | `1` | file parts one multipart GraphQL request may carry; uploads are refused before any is read from anonymous callers and for operations that take none |
//! | `UPLOAD_MAX_BYTES` | `4194304` | bytes one uploaded file may hold |
//! | `API_V2_USER_RATE_LIMIT_PER_MINUTE` | `1200` | `/api/v2` calls per user per minute over all their keys (0: unlimited) |
//! | `GRAPHIQL_ASSETS_DIR` | `assets/vendor/graphiql` | GraphiQL's browser files (installed by `scripts/fetch-graphiql.sh`) |
//! | `WEB_CLIENT_DIR` | `examples/web` | the reference web client, served at `/client/` |
//! | `MIDTRANS_SERVER_KEY` | unset | Midtrans server key; Midtrans deposits are refused while unset |
//! | `MIDTRANS_SNAP_URL` | `https://app.sandbox.midtrans.com` | Snap base URL (`https://app.midtrans.com` in production) |
//! | `MIDTRANS_API_URL` | `https://api.sandbox.midtrans.com` | Core API base URL for status checks (`https://api.midtrans.com` in production) |
//! | `XENDIT_SECRET_KEY` | unset | Xendit secret API key; Xendit deposits are refused while unset |
//! | `XENDIT_CALLBACK_TOKEN` | unset | the callback verification token from the Xendit dashboard; Xendit callbacks are refused while unset |
//! | `XENDIT_API_URL` | `https://api.xendit.co` | Xendit base URL |
//! | `DEPOSIT_MIN` | `10000` | smallest deposit, rupiah |
//! | `DEPOSIT_MAX` | `100000000` | largest deposit, rupiah |
//! | `DEPOSIT_EXPIRY_MINUTES` | `60` | how long a customer has to pay a deposit |
//! | `DEPOSIT_RETURN_URL` | unset | where the gateway's payment page sends the customer back to |
//! | `GATEWAY_TIMEOUT_SECONDS` | `15` | timeout of one call to a payment gateway |
//! | `RECONCILE_AFTER_SECONDS` | `900` | a deposit pending this long is polled at its gateway (a webhook may have been lost) |
//! | `RECONCILE_INTERVAL_SECONDS` | `60` | how often the reconciliation job runs in `booster serve` (0 disables it) |
//! | `MANUAL_DEPOSIT_CREDIT_UNIQUE_CODE` | `true` | manual transfers: credit the unique code (1 to 999 rupiah) added to the amount, or keep it |
//! | `MOOTA_WEBHOOK_SECRET` | unset | the secret token of the Moota webhook; pushes to `/webhooks/bank-mutations/moota` are refused while unset |
//! | `UNMATCHED_MUTATION_ALERT_MINUTES` | `60` | a bank mutation waiting for an admin longer than this is a problem on `/readyz` |
//! | `LEVELS_RECOMPUTE_SECONDS` | `300` | how often customer levels catch up with what orders spent (deposits raise a level at once; 0 disables the job) |
//! | `DEPOSIT_PROOF_MAX_BYTES` | `2097152` | largest proof-of-transfer image (PNG, JPEG or WebP) |
//! | `RUN_JOBS` | `true` | whether `booster serve` also runs the background jobs (`booster worker` always does) |
//! | `DISPATCH_INTERVAL_MS` | `1000` | how often pending orders are sent to providers |
//! | `DISPATCH_BATCH` | `100` | orders claimed per dispatch round |
//! | `DISPATCH_CONCURRENCY` | `16` | provider calls in flight per worker |
//! | `DISPATCH_RETRY_SECONDS` | `30` | first wait after a provider was unreachable (doubles, at most 30 min) |
//! | `SUBMIT_STUCK_AFTER_SECONDS` | `300` | an order SUBMITTING this long (its worker died) goes to NEEDS_REVIEW |
//! | `STATUS_SYNC_INTERVAL_SECONDS` | `60` | how often open orders are checked at their provider |
//! | `STATUS_SYNC_LEASE_SECONDS` | `120` | an order checked this recently is not checked again |
//! | `PROVIDER_HEALTH_INTERVAL_SECONDS` | `300` | how often provider balances are fetched |
//! | `PROVIDER_TIMEOUT_SECONDS` | `20` | timeout of one provider call |
//! | `PROVIDER_RETRY_BACKOFF_MS` | `200` | first pause before retrying a call that never reached the provider |
//! | `CATALOG_SYNC_INTERVAL_SECONDS` | `3600` | how often `booster serve` syncs every active provider's catalogue (0 disables it) |
//! | `REFILL_PERIOD_DAYS` | `30` | days after completion a refill may be asked for, on refillable services that set no period of their own |
//! | `REFILL_COOLDOWN_HOURS` | `24` | hours between two refills of one order, on services that set none |
//! | `SAME_LINK_SCOPE` | `service` | the same-link guard refuses an order while the caller has another active order on the link of the same service (`service`) or of any service of the same platform and order type (`platform`) |
//! | `ORDER_SCHEDULE_MAX_DAYS` | `30` | how far ahead `placeOrder(startAt)` may schedule an order (0: scheduling off) |
//! | `SERVICE_FIGURES_INTERVAL_SECONDS` | `900` | how often each service's measured figures (start time, speed, outcomes, refills) are recomputed (0 disables the job) |
//! | `SERVICE_FIGURES_WINDOW_DAYS` | `30` | the figures are measured over the orders placed in this many days |
//! | `CALLBACK_OUTBOX_INTERVAL_MS` | `1000` | how often status changes are pushed to resellers' callback URLs (0 disables the job) |
//! | `CALLBACK_TIMEOUT_SECONDS` | `5` | one callback call, connect to answer (1 to 30) |
//! | `CALLBACK_RETRY_SECONDS` | `30` | first wait after a failed callback; doubled per attempt, at most an hour |
//! | `CALLBACK_GIVE_UP_HOURS` | `24` | a callback failing this long is given up and the receiver paused (its owner is told) |
//! | `CALLBACK_ALLOW_PRIVATE_ADDRESSES` | `false` | allow callback URLs on loopback, private and link-local networks (development only) |
//! | `TELEGRAM_BOT_TOKEN` | - | the Telegram bot's token; the Telegram channel is off without it |
//! | `TELEGRAM_WEBHOOK_SECRET` | - | the secret token given to `setWebhook`; updates to `/webhooks/telegram` without it are refused (403) |
//! | `TELEGRAM_API_URL` | `https://api.telegram.org` | the Bot API base URL |
//! | `TELEGRAM_BOT_USERNAME` | `booster_bot` | the bot's username, shown in the link instructions |
//! | `WHATSAPP_TOKEN` | - | the WhatsApp Cloud API access token; the WhatsApp channel is off without it |
//! | `WHATSAPP_PHONE_NUMBER_ID` | - | the sending phone number's id |
//! | `WHATSAPP_APP_SECRET` | - | the app secret that signs inbound webhooks (`X-Hub-Signature-256`); unsigned ones are refused (403) |
//! | `WHATSAPP_VERIFY_TOKEN` | - | the token the webhook verification request must carry |
//! | `WHATSAPP_API_URL` | `https://graph.facebook.com/v21.0` | the Cloud API base URL |
//! | `WHATSAPP_NOTIFICATION_TEMPLATE` | `booster_notification` | the approved template (one body parameter) for notifications outside the 24-hour window |
//! | `WHATSAPP_TEMPLATE_LANGUAGE` | `id` | that template's language code |
//! | `CHAT_OUTBOX_INTERVAL_MS` | `2000` | how often messages to Telegram and WhatsApp chats are sent (0 disables the job) |
//! | `DRIP_FEED_INTERVAL_SECONDS` | `30` | how often the runs of drip-feed orders the panel runs are placed when due, and ended drip-feeds take their final status (0 disables the job) |
//! | `ORDER_GROUP_MAX` | `64` | the most orders of one account placed in one transaction when they arrive while one of its placements is in flight (1: every order alone; see `domain::orders::group_commit`) |
//! | `OWN_PRODUCT_MAX_DISCOUNT_BPS` | `5000` | largest reseller discount (basis points, 0 to 9999) on a service whose cost is not known (own stock, manual services); imported services stop at their provider cost instead |
//! | `SHUTDOWN_GRACE_SECONDS` | `30` | after SIGTERM/SIGINT, how long requests and job runs in flight may finish (make it longer than `PROVIDER_TIMEOUT_SECONDS`) |
//! | `ANONYMOUS_RATE_LIMIT_PER_MINUTE` | `600` | anonymous requests and refused tokens per client IP per minute (0: unlimited) |
//! | `TRUSTED_PROXIES` | unset | comma-separated proxy IPs whose `X-Forwarded-For` names the client |
//! | `RATE_LIMIT_PER_MINUTE` | `1200` | GraphQL requests per signed-in user per minute (0: unlimited); over it, HTTP 429 and `RATE_LIMITED` |
//! | `PUBLIC_BASE_URL` | `http://localhost:3000` | the public site's address (the front end): links in the sitemap, feed, robots.txt, canonical URLs and mails |
//! | `SCHEDULED_POSTS_INTERVAL_SECONDS` | `60` | how often scheduled pages and posts whose time has come are marked published (0 disables the job; visitors see them at their time regardless) |
//! | `SITEMAP_URLS_PER_FILE` | `50000` | URLs per sitemap file (the protocol's maximum); past it `/sitemap.xml` is a sitemap index |
//! | `NEWSLETTER_SIGNUPS_PER_IP_PER_HOUR` | `5` | newsletter signups one client IP may make per hour (0: unlimited) |
//! | `SMTP_URL` | unset | the SMTP server mail is sent through: `smtp://user:password@host:587?tls=required` (STARTTLS), `smtps://user:password@host:465` (TLS) or `smtp://host:25` (plain, local relays only); unset, mail stays queued in `mail_outbox` and nothing is sent. A secret: never logged |
//! | `MAIL_FROM` | `booster <no-reply@localhost>` | the sender of every mail |
//! | `MAIL_OUTBOX_INTERVAL_SECONDS` | `10` | how often the mail outbox is drained (0 disables the job) |
//! | `MAIL_RETRY_SECONDS` | `60` | wait after the first failed send (doubles per attempt, at most 6 hours) |
//! | `MAIL_MAX_ATTEMPTS` | `8` | sends tried before a mail is marked FAILED |
//! | `MAIL_LEASE_SECONDS` | `300` | how long a claimed mail is left to its worker before another may retry it (longer than a batch of sends) |
//! | `SMTP_TIMEOUT_SECONDS` | `20` | timeout of one SMTP conversation |
//! | `CONTACT_LIMIT_PER_HOUR` | `5` | contact form messages accepted from one client IP address per hour (0: unlimited) |
//! | `ADMIN_ALERT_DIGEST_SECONDS` | `600` | admin alert mails are gathered into one digest per admin, sent at the end of each such interval (alerts are in the app at once) |
//! | `TICKETS_PER_USER_PER_HOUR` | `10` | support tickets one user may open per hour (0: unlimited); past it RATE_LIMITED |
//! | `PASSWORD_HASH_MEMORY_KIB` | `19456` | argon2id memory cost of a password hash; a hash made with other parameters is redone at its owner's next sign-in |
//! | `PASSWORD_HASH_ITERATIONS` | `2` | argon2id passes (time cost) |
//! | `VERIFY_EMAIL_LINK_HOURS` | `48` | how long an email verification link works |
//! | `PASSWORD_RESET_LINK_MINUTES` | `60` | how long a password reset link works |
//! | `REQUIRE_VERIFIED_EMAIL` | `true` | whether an account must verify its email before it deposits or orders |
//! | `SIGN_IN_FAILURES_BEFORE_DELAY` | `5` | wrong passwords in a row before the account is slowed down (each further failure doubles the wait) |
//! | `SIGN_IN_MAX_DELAY_SECONDS` | `900` | the longest such wait; the owner can always sign in after it |
//! | `SIGN_IN_ATTEMPTS_PER_IP_PER_MINUTE` | `20` | password sign-ins, sign-ups and reset requests per client IP per minute (0: unlimited) |
//! | `SIGN_IN_HISTORY_DAYS` | `90` | how long sign-in attempts are kept |
//! | `SIGN_IN_HISTORY_CLEANUP_SECONDS` | `3600` | how often older sign-in attempts are deleted (0 disables the job) |
//! | `MAIL_NEW_SIGN_IN_ADDRESS` | `true` | whether a sign-in from an address the account never used is mailed to its owner |
//! | `REQUIRE_STAFF_TOTP` | `false` | whether staff must use two-factor sign-in: a staff session without it may only set it up (API keys keep working) |
//! | `TOTP_ISSUER` | `booster` | the name an authenticator app shows beside the account |
//! | `RUST_LOG` | `info` | log filter; `LOG_FORMAT=json` switches to JSON lines |

use std::{env, net::SocketAddr, str::FromStr, time::Duration};

use anyhow::{Context, anyhow};

mod accounts;
mod callbacks;
mod channels;
mod content;
mod graphql;
mod orders;
mod payments;
mod server;
mod upstream;

pub use accounts::*;
pub use callbacks::*;
pub use channels::*;
pub use content::*;
pub use graphql::*;
pub use orders::*;
pub use payments::*;
pub use server::*;
pub use upstream::*;

#[derive(Clone, Debug)]
pub struct Config {
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub accounts: AccountsConfig,
    pub secret_key: SecretKey,
    pub payments: PaymentsConfig,
    pub upstream: UpstreamConfig,
    pub catalog: CatalogConfig,
    pub orders: OrdersConfig,
    pub content: ContentConfig,
    pub mail: MailConfig,
    pub support: SupportConfig,
    pub callbacks: CallbacksConfig,
    pub channels: ChannelsConfig,
    pub persisted_queries: PersistedQueriesConfig,
}

impl Config {
    pub fn from_environment() -> anyhow::Result<Self> {
        Ok(Config {
            database: DatabaseConfig::from_environment()?,
            server: ServerConfig::from_environment()?,
            auth: AuthConfig::from_environment()?,
            accounts: AccountsConfig::from_environment()?,
            secret_key: SecretKey::from_environment()?,
            payments: PaymentsConfig::from_environment()?,
            upstream: UpstreamConfig::from_environment()?,
            catalog: CatalogConfig::from_environment()?,
            orders: OrdersConfig::from_environment()?,
            content: ContentConfig::from_environment()?,
            mail: MailConfig::from_environment()?,
            support: SupportConfig::from_environment()?,
            callbacks: CallbacksConfig::from_environment()?,
            channels: ChannelsConfig::from_environment()?,
            persisted_queries: PersistedQueriesConfig::from_environment()?,
        })
    }
}

/// A credential from the environment. Its `Debug` never shows the value, so it
/// cannot reach a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn from_var(name: &str) -> Option<Secret> {
        env::var(name)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(Secret)
    }
}

/// The 256-bit key that encrypts secrets stored in the database.
#[derive(Clone)]
pub struct SecretKey(pub [u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    pub const VARIABLE: &'static str = "BOOSTER_SECRET_KEY";

    pub fn from_environment() -> anyhow::Result<Self> {
        let value = env::var(Self::VARIABLE).map_err(|_| {
            anyhow!(
                "{} is not set: it must be 64 hex characters (32 random bytes), e.g. from `openssl rand -hex 32`",
                Self::VARIABLE
            )
        })?;
        Self::from_hex(&value)
    }

    pub fn from_hex(value: &str) -> anyhow::Result<Self> {
        let bytes =
            hex::decode(value.trim()).with_context(|| format!("{} must be hex", Self::VARIABLE))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow!("{} must be 32 bytes (64 hex characters)", Self::VARIABLE))?;
        Ok(SecretKey(key))
    }
}

fn var_or(name: &str, default: &str) -> String {
    env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn list_var(name: &str, default: &str) -> Vec<String> {
    var_or(name, default)
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

pub(crate) fn parse_var<T: FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match env::var(name) {
        Ok(value) if !value.is_empty() => value
            .parse()
            .map_err(|e| anyhow!("{name}={value:?} is invalid: {e}")),
        _ => Ok(default),
    }
}

impl Config {
    /// A configuration for local runs (tests, examples, benchmarks) against
    /// `database_url`, read from nothing: the defaults documented above for limits and
    /// pacing, except that
    /// - the server binds 127.0.0.1:0 (an ephemeral port);
    /// - the secret key is a fixed, publicly known value: fit only for throwaway
    ///   local databases, never for real provider keys;
    /// - Google sign-in and both payment gateways are unconfigured, and every
    ///   outside URL points at 127.0.0.1:9 (the discard port, where nothing listens),
    ///   so nothing leaves the machine unless a caller points it somewhere;
    /// - `serve` runs no background job (fulfillment, reconciliation, catalogue sync,
    ///   scheduled posts).
    /// - no SMTP server is configured, so mail stays queued;
    /// - `serve` runs no background job (fulfillment, reconciliation, catalogue sync,
    ///   mail).
    ///
    /// Callers override what differs: `Config { .., ..Config::local(url) }` or field
    /// assignment.
    pub fn local(database_url: &str) -> Config {
        const UNREACHABLE: &str = "http://127.0.0.1:9";
        Config {
            database: DatabaseConfig {
                url: database_url.to_string(),
                pool_size: 16,
                page_pool_size: 8,
            },
            server: ServerConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                cors_allowed_origins: vec!["*".into()],
                max_body_bytes: 4 * 1024 * 1024,
                graphql_max_depth: 15,
                graphql_max_complexity: 20_000,
                graphql_query_timeout: Duration::from_secs(10),
                graphql_anonymous_introspection: false,
                graphql_max_answer_values: 200_000,
                upload_max_files: 1,
                upload_max_bytes: 4 * 1024 * 1024,
                graphiql_assets_dir: "assets/vendor/graphiql".into(),
                web_client_dir: "examples/web".into(),
                rate_limit_per_minute: 1200,
                anonymous_rate_limit_per_minute: 600,
                api_v2_rate_limit_per_minute: 600,
                api_v2_user_rate_limit_per_minute: 1200,
                trusted_proxies: Vec::new(),
                shutdown_grace: Duration::from_secs(30),
                max_connections: 10_000,
                // Tests and benchmarks open many connections from one address.
                max_connections_per_ip: 0,
                header_read_timeout: Duration::from_secs(10),
                body_read_timeout: Duration::from_secs(30),
                metrics_token: None,
                ready_job_grace: Duration::from_secs(300),
                ready_max_pending_age: Duration::from_secs(900),
                ready_max_needs_review: 20,
                ready_max_unhealthy_providers: 0,
            },
            auth: AuthConfig {
                session_ttl: Duration::from_secs(720 * 3600),
                google_client_id: None,
                google_jwks_url: format!("{UNREACHABLE}/oauth2/v3/certs"),
                google_issuers: vec![
                    "accounts.google.com".into(),
                    "https://accounts.google.com".into(),
                ],
            },
            accounts: AccountsConfig::defaults(),
            secret_key: SecretKey([7; 32]),
            payments: PaymentsConfig {
                midtrans_server_key: None,
                midtrans_snap_url: UNREACHABLE.into(),
                midtrans_api_url: UNREACHABLE.into(),
                xendit_secret_key: None,
                xendit_callback_token: None,
                xendit_api_url: UNREACHABLE.into(),
                deposit_min: 10_000,
                deposit_max: 100_000_000,
                deposit_expiry: Duration::from_secs(60 * 60),
                return_url: None,
                gateway_timeout: Duration::from_secs(15),
                reconcile_after: Duration::from_secs(900),
                reconcile_interval: Duration::ZERO,
                credit_unique_code: true,
                moota_secret: None,
                unmatched_mutation_alert_after: Duration::from_secs(60 * 60),
                proof_max_bytes: 2 * 1024 * 1024,
                levels_interval: Duration::ZERO,
            },
            upstream: UpstreamConfig {
                run_jobs_in_serve: false,
                dispatch_interval: Duration::from_millis(1000),
                dispatch_batch: 100,
                dispatch_concurrency: 16,
                dispatch_retry: Duration::from_secs(30),
                submit_stuck_after: Duration::from_secs(300),
                status_sync_interval: Duration::from_secs(60),
                status_sync_lease: Duration::from_secs(120),
                health_interval: Duration::from_secs(300),
                provider_timeout: Duration::from_secs(20),
                provider_retry_backoff: Duration::from_millis(200),
            },
            catalog: CatalogConfig {
                sync_interval: Duration::ZERO,
                own_product_max_discount_bps: DEFAULT_OWN_PRODUCT_MAX_DISCOUNT_BPS,
            },
            orders: OrdersConfig {
                figures_interval: Duration::ZERO,
                drip_interval: Duration::ZERO,
                ..OrdersConfig::default()
            },
            content: ContentConfig {
                public_base_url: "http://localhost:3000".into(),
                scheduled_posts_interval: Duration::ZERO,
                sitemap_urls_per_file: SITEMAP_MAX_URLS,
                newsletter_signups_per_ip_per_hour: 5,
            },
            // No SMTP server: mail stays in the outbox.
            mail: MailConfig {
                smtp_url: None,
                from: "booster <no-reply@localhost>".into(),
                outbox_interval: Duration::ZERO,
                retry_after: Duration::from_secs(60),
                max_attempts: 8,
                lease: Duration::from_secs(300),
                smtp_timeout: Duration::from_secs(20),
            },
            support: SupportConfig {
                contact_limit_per_hour: 5,
                admin_alert_digest: Duration::from_secs(600),
                tickets_per_user_per_hour: 10,
            },
            callbacks: CallbacksConfig {
                outbox_interval: Duration::ZERO,
                ..CallbacksConfig::default()
            },
            channels: ChannelsConfig {
                outbox_interval: Duration::ZERO,
                ..ChannelsConfig::default()
            },
            persisted_queries: PersistedQueriesConfig::default(),
        }
    }
}
