//! Configuration, one struct per concern, each read from environment variables.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/booster` | PostgreSQL; the database is created if missing |
//! | `DATABASE_POOL_SIZE` | `16` | connections per process |
//! | `BIND` | `127.0.0.1:8080` | HTTP listen address |
//! | `BOOSTER_SECRET_KEY` | required | 32 bytes, hex (64 characters): encrypts provider API keys at rest |
//! | `SESSION_TTL_HOURS` | `720` | lifetime of a sign-in session |
//! | `GOOGLE_CLIENT_ID` | unset | OAuth client id; Google sign-in is refused while unset |
//! | `GOOGLE_JWKS_URL` | `https://www.googleapis.com/oauth2/v3/certs` | where Google's signing keys are fetched |
//! | `GOOGLE_ISSUERS` | `accounts.google.com,https://accounts.google.com` | accepted `iss` values |
//! | `CORS_ALLOWED_ORIGINS` | `*` | comma-separated origins allowed to call the API from a browser |
//! | `MAX_BODY_BYTES` | `4194304` | largest accepted request body |
//! | `GRAPHQL_MAX_DEPTH` | `15` | deepest accepted query |
//! | `GRAPHQL_MAX_COMPLEXITY` | `20000` | most expensive accepted query (lists count `first` times their children) |
//! | `GRAPHIQL_ASSETS_DIR` | `assets/vendor/graphiql` | GraphiQL's browser files (installed by `scripts/fetch-graphiql.sh`) |
//! | `RUST_LOG` | `info` | log filter; `LOG_FORMAT=json` switches to JSON lines |

use std::{env, net::SocketAddr, str::FromStr, time::Duration};

use anyhow::{Context, anyhow};

#[derive(Clone, Debug)]
pub struct Config {
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub secret_key: SecretKey,
}

impl Config {
    pub fn from_environment() -> anyhow::Result<Self> {
        Ok(Config {
            database: DatabaseConfig::from_environment()?,
            server: ServerConfig::from_environment()?,
            auth: AuthConfig::from_environment()?,
            secret_key: SecretKey::from_environment()?,
        })
    }
}

#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    pub url: String,
    pub pool_size: usize,
}

impl DatabaseConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        Ok(DatabaseConfig {
            url: var_or("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/booster"),
            pool_size: parse_var("DATABASE_POOL_SIZE", 16)?,
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
    pub graphiql_assets_dir: std::path::PathBuf,
}

impl ServerConfig {
    pub fn from_environment() -> anyhow::Result<Self> {
        Ok(ServerConfig {
            bind: parse_var("BIND", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            cors_allowed_origins: list_var("CORS_ALLOWED_ORIGINS", "*"),
            max_body_bytes: parse_var("MAX_BODY_BYTES", 4 * 1024 * 1024)?,
            graphql_max_depth: parse_var("GRAPHQL_MAX_DEPTH", 15)?,
            graphql_max_complexity: parse_var("GRAPHQL_MAX_COMPLEXITY", 20_000)?,
            graphiql_assets_dir: var_or("GRAPHIQL_ASSETS_DIR", "assets/vendor/graphiql").into(),
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
