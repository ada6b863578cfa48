//! The mutation root, merged from one object per area.

mod account;
mod admin_catalog;
mod admin_catalog_import;
mod admin_users;
mod back_office;
mod callbacks;
mod chats;
mod content;
mod levels;
mod money_in;
mod notifications;
mod order_review;
mod orders;
mod sign_in;
mod support;
mod wallet;

pub use content::NewsletterSignupLimiter;
pub use sign_in::AccountAttemptLimiter;

#[derive(async_graphql::MergedObject, Default)]
pub struct MutationRoot(
    account::AccountMutation,
    admin_catalog::AdminCatalogMutation,
    admin_catalog_import::AdminCatalogImportMutation,
    admin_users::AdminUserMutation,
    back_office::BackOfficeMutation,
    content::ContentMutation,
    orders::OrderMutation,
    order_review::OrderReviewMutation,
    sign_in::SignInMutation,
    notifications::NotificationMutation,
    support::SupportMutation,
    wallet::WalletMutation,
    money_in::MoneyInMutation,
    levels::LevelMutation,
    callbacks::CallbackMutation,
    chats::ChatMutation,
);
