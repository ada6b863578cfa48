//! Business rules. Resolvers and HTTP handlers parse and authorize, then call one
//! function here; every rule (prices, validation, money movement) lives in this
//! module and nowhere else.

pub mod accounts;
pub mod alert_digest;
pub mod audit;
pub mod callbacks;
pub mod catalog;
pub mod catalog_import;
pub mod chat_notices;
pub mod chats;
pub mod content;
pub mod deposits;
pub mod levels;
pub mod notifications;
pub mod orders;
pub mod pricing;
pub mod provider_health;
pub mod readiness;
pub mod reports;
pub mod retry;
pub mod stock;
pub mod support;
pub mod text;
pub mod upstream;
pub mod wallet;
