//! GraphQL object types, one file per entity, each wrapping its database row.

pub mod account;
pub mod back_office;
pub mod callbacks;
pub mod catalog;
pub mod catalog_import;
pub mod content;
pub mod levels;
pub mod money_in;
pub mod notifications;
pub mod orders;
pub mod service_updates;
pub mod subscription;
pub mod support;
pub mod wallet;
