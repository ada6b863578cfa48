//! booster: the GraphQL backend of an SMM reseller panel. `docs/ARCHITECTURE.md`
//! describes how the modules fit together, the money rules and the order state
//! machine.

pub mod allocator;
pub mod app;
pub mod auth;
pub mod cache;
pub mod callbacks;
pub mod channels;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod identity;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod payments;
pub mod providers;
pub mod rate_limit;

/// Logging to stderr; `RUST_LOG` filters, `LOG_FORMAT=json` switches to JSON lines.
/// tokio-postgres logs every statement's parameters at debug level (token hashes,
/// webhook payloads, keys): it is held at info whatever `RUST_LOG` says.
pub fn init_tracing() {
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive("tokio_postgres=info".parse().expect("a valid directive"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    let _ = result;
}
