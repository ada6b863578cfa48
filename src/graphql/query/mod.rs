//! The query root, merged from one object per area.

mod account;
mod admin;
mod catalog;
mod notifications;
mod orders;
mod wallet;

#[derive(async_graphql::MergedObject, Default)]
pub struct QueryRoot(
    account::AccountQuery,
    catalog::CatalogQuery,
    admin::AdminQuery,
    orders::OrderQuery,
    notifications::NotificationQuery,
    orders::StockQuery,
    wallet::WalletQuery,
);
