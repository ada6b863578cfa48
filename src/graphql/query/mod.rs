//! The query root, merged from one object per area.

mod account;
mod admin;
mod admin_catalog_import;
mod back_office;
mod callbacks;
mod catalog;
mod content;
mod money_in;
mod notifications;
mod orders;
mod support;
mod wallet;

#[derive(async_graphql::MergedObject, Default)]
pub struct QueryRoot(
    account::AccountQuery,
    catalog::CatalogQuery,
    content::ContentQuery,
    admin::AdminQuery,
    admin_catalog_import::AdminCatalogImportQuery,
    back_office::BackOfficeQuery,
    orders::OrderQuery,
    notifications::NotificationQuery,
    orders::StockQuery,
    support::SupportQuery,
    wallet::WalletQuery,
    money_in::MoneyInQuery,
    callbacks::CallbackQuery,
);
