//! Enumerations stored as TEXT (checked by the schema) and exposed as GraphQL enums
//! under the same SCREAMING_CASE names.

use diesel::{
    deserialize::{self, FromSql},
    pg::{Pg, PgValue},
    serialize::{self, IsNull, Output, ToSql},
    sql_types::Text,
};
use std::io::Write;

macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {:?}", stringify!($name), other)),
                }
            }
        }

        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
                text.parse().map_err(Into::into)
            }
        }
    };
}

text_enum! {
    /// What a user may do.
    pub enum Role {
        /// Can do everything, staff roles included.
        Owner = "OWNER",
        /// Can do what their staff role's permissions name.
        Staff = "STAFF",
        Customer = "CUSTOMER",
    }
}

text_enum! {
    /// What a staff role may do: one admin area each. ORDERS includes ORDERS_READ.
    pub enum Permission {
        Catalog = "CATALOG",
        Providers = "PROVIDERS",
        /// Change orders (status, review); reading them is ORDERS_READ.
        Orders = "ORDERS",
        OrdersRead = "ORDERS_READ",
        Refunds = "REFUNDS",
        Balances = "BALANCES",
        Deposits = "DEPOSITS",
        Users = "USERS",
        Support = "SUPPORT",
        Content = "CONTENT",
        Reports = "REPORTS",
        Settings = "SETTINGS",
        AuditLog = "AUDIT_LOG",
        Staff = "STAFF",
    }
}

text_enum! {
    /// How someone signed in (or tried to).
    pub enum SignInMethod {
        Password = "PASSWORD",
        Google = "GOOGLE",
    }
}

text_enum! {
    /// What a single-use link mailed to a user is for.
    pub enum AccountTokenPurpose {
        VerifyEmail = "VERIFY_EMAIL",
        ResetPassword = "RESET_PASSWORD",
    }
}

text_enum! {
    /// The social network a service works on; decides which links are accepted.
    pub enum Platform {
        Twitter = "TWITTER",
        Instagram = "INSTAGRAM",
        Tiktok = "TIKTOK",
        Youtube = "YOUTUBE",
        Facebook = "FACEBOOK",
        Telegram = "TELEGRAM",
        Spotify = "SPOTIFY",
        Other = "OTHER",
    }
}

text_enum! {
    /// The order type of a service, as the API v2 names them; decides which extra
    /// fields an order needs.
    pub enum ServiceType {
        Default = "DEFAULT",
        Package = "PACKAGE",
        CustomComments = "CUSTOM_COMMENTS",
        CustomCommentsPackage = "CUSTOM_COMMENTS_PACKAGE",
        Mentions = "MENTIONS",
        MentionsWithHashtags = "MENTIONS_WITH_HASHTAGS",
        MentionsCustomList = "MENTIONS_CUSTOM_LIST",
        MentionsHashtag = "MENTIONS_HASHTAG",
        MentionsUserFollowers = "MENTIONS_USER_FOLLOWERS",
        MentionsMediaLikers = "MENTIONS_MEDIA_LIKERS",
        CommentLikes = "COMMENT_LIKES",
        CommentReplies = "COMMENT_REPLIES",
        Poll = "POLL",
        InvitesFromGroups = "INVITES_FROM_GROUPS",
        Subscriptions = "SUBSCRIPTIONS",
    }
}

impl ServiceType {
    /// Maps a provider's type label ("Custom Comments", "Default", ...).
    pub fn from_provider_label(label: &str) -> Option<Self> {
        let normalized = label.trim().to_ascii_uppercase().replace([' ', '-'], "_");
        normalized.parse().ok()
    }
}

text_enum! {
    /// Who delivers an order of the service.
    pub enum Fulfillment {
        /// Sent to an upstream provider.
        Provider = "PROVIDER",
        /// Delivered at once from the panel's own stock (e.g. Twitter accounts).
        Stock = "STOCK",
        /// Fulfilled by hand by an admin.
        Manual = "MANUAL",
    }
}

text_enum! {
    /// The wire protocol an upstream provider speaks.
    pub enum ProviderKind {
        /// The common "API v2" of JustAnotherPanel, Peakerr and Perfect Panel sites.
        ApiV2 = "API_V2",
        /// MedanPedia's own API.
        Medanpedia = "MEDANPEDIA",
    }
}

text_enum! {
    /// The currency a provider prices in.
    pub enum Currency {
        Idr = "IDR",
        Usd = "USD",
    }
}

text_enum! {
    /// Why a balance changed.
    pub enum LedgerKind {
        /// A paid deposit (credit).
        Deposit = "DEPOSIT",
        /// An order or mass order paid from the balance (debit).
        OrderCharge = "ORDER_CHARGE",
        /// Money back for a canceled or partial order (credit).
        Refund = "REFUND",
        /// A manual correction by an admin (either sign).
        Adjustment = "ADJUSTMENT",
        /// Money back for an order, given by an admin (at most once per order).
        ManualRefund = "MANUAL_REFUND",
        /// A deposit bonus (a bonus rule, a voucher): not money received, so
        /// reports count it apart (at most once per deposit).
        Bonus = "BONUS",
    }
}

text_enum! {
    /// Where an order is in its life; `docs/ARCHITECTURE.md` has the transitions.
    pub enum OrderStatus {
        /// Paid, not yet sent to the provider.
        Pending = "PENDING",
        /// Claimed by a dispatch worker; the provider call is in flight.
        Submitting = "SUBMITTING",
        /// Accepted by the provider, not started yet.
        Processing = "PROCESSING",
        InProgress = "IN_PROGRESS",
        Completed = "COMPLETED",
        /// Delivered in part; the undelivered remainder was refunded.
        Partial = "PARTIAL",
        /// Not delivered; refunded in full.
        Canceled = "CANCELED",
        /// Refused or unrecoverable; refunded in full.
        Failed = "FAILED",
        /// An admin must look (e.g. unclear whether the provider got it).
        NeedsReview = "NEEDS_REVIEW",
    }
}

impl OrderStatus {
    /// The statuses of an order that has not ended (`!is_final`): the same-link
    /// guard's index (`orders_active_link_once`) lists the same ones.
    pub const ACTIVE: [OrderStatus; 5] = [
        Self::Pending,
        Self::Submitting,
        Self::Processing,
        Self::InProgress,
        Self::NeedsReview,
    ];

    /// No further status change is expected.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Partial | Self::Canceled | Self::Failed
        )
    }
}

text_enum! {
    pub enum OrderRequestKind {
        Cancel = "CANCEL",
        Refill = "REFILL",
    }
}

text_enum! {
    pub enum OrderRequestStatus {
        /// Recorded, not yet forwarded to the provider.
        Pending = "PENDING",
        Submitted = "SUBMITTED",
        Accepted = "ACCEPTED",
        Rejected = "REJECTED",
        Completed = "COMPLETED",
    }
}

impl OrderRequestStatus {
    /// Still being worked on: the unique index `order_requests_open_idx` allows one
    /// such request of each kind per order.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Submitted | Self::Accepted)
    }
}

text_enum! {
    /// A payment gateway deposits are paid through.
    pub enum PaymentGateway {
        /// Midtrans Snap (virtual accounts, e-wallets, QRIS, cards, stores).
        Midtrans = "MIDTRANS",
        /// Xendit invoices.
        Xendit = "XENDIT",
        /// No gateway: a transfer to the owner's bank account, e-wallet or static
        /// QRIS, recognised by its unique amount (the deposit's method says which).
        Manual = "MANUAL",
    }
}

text_enum! {
    /// How a deposit method is paid.
    pub enum DepositMethodKind {
        /// A transfer to the owner's bank account (BCA, BNI, BRI, Mandiri...).
        BankTransfer = "BANK_TRANSFER",
        /// A transfer to the owner's e-wallet (DANA, OVO, GoPay, ShopeePay...).
        Ewallet = "EWALLET",
        /// A scan of the owner's static QRIS, turned into a QR for the exact amount.
        QrisStatic = "QRIS_STATIC",
        /// Midtrans Snap.
        Midtrans = "MIDTRANS",
        /// Xendit invoices.
        Xendit = "XENDIT",
    }
}

impl DepositMethodKind {
    /// The gateway a deposit of this method goes through (`Manual`: none).
    pub fn gateway(self) -> PaymentGateway {
        match self {
            Self::Midtrans => PaymentGateway::Midtrans,
            Self::Xendit => PaymentGateway::Xendit,
            Self::BankTransfer | Self::Ewallet | Self::QrisStatic => PaymentGateway::Manual,
        }
    }
}

text_enum! {
    /// What a customer level is earned by.
    pub enum LevelBasis {
        /// Everything deposited (DEPOSIT entries; bonuses do not count).
        TotalDeposits = "TOTAL_DEPOSITS",
        /// Everything spent on orders, less refunds.
        TotalSpent = "TOTAL_SPENT",
    }
}

text_enum! {
    /// What a voucher adds to a deposit.
    pub enum VoucherKind {
        /// A fixed number of rupiah.
        Fixed = "FIXED",
        /// Basis points of the credited amount, up to the voucher's cap.
        Percent = "PERCENT",
    }
}

text_enum! {
    /// Where a bank mutation came from.
    pub enum BankMutationSource {
        /// Pushed by Moota's webhook.
        Moota = "MOOTA",
        /// Read from an internet-banking statement an admin uploaded.
        Statement = "STATEMENT",
    }
}

text_enum! {
    /// What became of a credit mutation of the owner's account.
    pub enum BankMutationStatus {
        /// Matched one open deposit by account and exact amount: credited.
        Matched = "MATCHED",
        /// Attached to a deposit by an admin: credited.
        Attached = "ATTACHED",
        /// No open deposit has this amount.
        Unmatched = "UNMATCHED",
        /// Several open deposits could be this payment.
        Ambiguous = "AMBIGUOUS",
        /// Only a deposit that already expired has this amount.
        ExpiredMatch = "EXPIRED_MATCH",
        /// An admin decided it is not a deposit.
        Dismissed = "DISMISSED",
    }
}

impl BankMutationStatus {
    /// Waiting for an admin.
    pub fn needs_review(self) -> bool {
        matches!(self, Self::Unmatched | Self::Ambiguous | Self::ExpiredMatch)
    }
}

text_enum! {
    /// Where a deposit stands. A deposit needing an admin's attention is `flagged`
    /// besides its status.
    pub enum DepositStatus {
        /// Waiting for the customer to pay.
        Pending = "PENDING",
        /// Paid and credited to the balance (exactly once).
        Paid = "PAID",
        /// Refused, canceled, or the gateway could not be reached.
        Failed = "FAILED",
        /// Not paid in time.
        Expired = "EXPIRED",
    }
}

text_enum! {
    /// How a gateway report reached us.
    pub enum DepositEventSource {
        /// A notification (webhook) sent by the gateway.
        Webhook = "WEBHOOK",
        /// The reconciliation job asked the gateway.
        Reconcile = "RECONCILE",
    }
}

text_enum! {
    /// What the catalogue sync saw change at a provider.
    pub enum CatalogChangeKind {
        /// The provider offers a service that is not imported.
        New = "NEW",
        /// An admin imported the service.
        Imported = "IMPORTED",
        /// The provider's rate changed (and with it the price).
        RateChanged = "RATE_CHANGED",
        /// Minimum, maximum or the refill/cancel/drip-feed flags changed.
        DetailsChanged = "DETAILS_CHANGED",
        /// The provider dropped the service; it was deactivated.
        Removed = "REMOVED",
        /// A dropped service is listed again.
        Reappeared = "REAPPEARED",
    }
}

text_enum! {
    /// What customers see change about a service (the public updates feed).
    pub enum ServiceUpdateKind {
        /// A new service is on sale.
        New = "NEW",
        /// The service is on sale again.
        Enabled = "ENABLED",
        /// The service is no longer on sale.
        Disabled = "DISABLED",
        /// The list price per 1000 went up.
        PriceUp = "PRICE_UP",
        /// The list price per 1000 went down.
        PriceDown = "PRICE_DOWN",
        /// The minimum or maximum quantity changed.
        LimitsChanged = "LIMITS_CHANGED",
    }
}

text_enum! {
    /// A static page (about, terms, a landing page) or a blog post.
    pub enum ContentKind {
        Page = "PAGE",
        Post = "POST",
    }
}

text_enum! {
    /// Where a page or post is in its life: visitors see PUBLISHED ones, and
    /// SCHEDULED ones once their time has come.
    pub enum ContentStatus {
        Draft = "DRAFT",
        Published = "PUBLISHED",
        Scheduled = "SCHEDULED",
    }
}

text_enum! {
    /// The language of a page or post.
    pub enum Language {
        Id = "id",
        En = "en",
    }
}

impl Language {
    /// This language's text of the two.
    pub fn pick<'a>(self, id: &'a str, en: &'a str) -> &'a str {
        match self {
            Language::Id => id,
            Language::En => en,
        }
    }
}

text_enum! {
    /// What carries a slug and SEO meta: pages, posts, categories and services.
    pub enum SeoSubject {
        Page = "PAGE",
        Post = "POST",
        Category = "CATEGORY",
        Service = "SERVICE",
    }
}

text_enum! {
    /// A newsletter address: PENDING until its confirmation link is followed.
    pub enum NewsletterStatus {
        Pending = "PENDING",
        Confirmed = "CONFIRMED",
        Unsubscribed = "UNSUBSCRIBED",
    }
}

impl From<ContentKind> for SeoSubject {
    fn from(kind: ContentKind) -> Self {
        match kind {
            ContentKind::Page => SeoSubject::Page,
            ContentKind::Post => SeoSubject::Post,
        }
    }
}

text_enum! {
    /// Where a queued mail stands.
    pub enum MailStatus {
        /// Waiting to be sent (again, after a failed attempt).
        Pending = "PENDING",
        /// The SMTP server accepted it.
        Sent = "SENT",
        /// Refused for good, or every attempt failed.
        Failed = "FAILED",
    }
}

text_enum! {
    /// What a support ticket is about.
    pub enum TicketTopic {
        Order = "ORDER",
        Payment = "PAYMENT",
        /// The reply bot files refill requests for the orders named.
        Refill = "REFILL",
        /// The reply bot files cancel requests for the orders named.
        Cancel = "CANCEL",
        Api = "API",
        Other = "OTHER",
    }
}

text_enum! {
    /// Where a ticket stands.
    pub enum TicketStatus {
        /// Waiting for staff.
        Open = "OPEN",
        /// Staff or the reply bot answered.
        Answered = "ANSWERED",
        /// The customer wrote again after an answer.
        CustomerReply = "CUSTOMER_REPLY",
        Closed = "CLOSED",
    }
}

text_enum! {
    pub enum TicketPriority {
        Low = "LOW",
        Medium = "MEDIUM",
        High = "HIGH",
    }
}

text_enum! {
    /// Who wrote a ticket message.
    pub enum TicketAuthor {
        Customer = "CUSTOMER",
        Staff = "STAFF",
        /// The reply bot, answering from live order data and the FAQ.
        Bot = "BOT",
    }
}

text_enum! {
    /// Where a webhook delivery to a reseller's callback URL stands.
    pub enum CallbackDeliveryStatus {
        /// Waiting for its first or next attempt.
        Pending = "PENDING",
        /// The receiver answered 2xx.
        Delivered = "DELIVERED",
        /// Given up after `CALLBACK_GIVE_UP_HOURS` of failures.
        Failed = "FAILED",
    }
}

text_enum! {
    /// A chat app customers are reached on.
    pub enum ChatChannel {
        Telegram = "TELEGRAM",
        Whatsapp = "WHATSAPP",
    }
}

text_enum! {
    /// Where a message to a chat stands.
    pub enum ChatMessageStatus {
        Pending = "PENDING",
        Sent = "SENT",
        Failed = "FAILED",
    }
}
