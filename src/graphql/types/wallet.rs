//! `Deposit`, `DepositEvent`, `DepositMethod` and `LedgerEntry`: the wallet as
//! customers and admins see it.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use crate::{
    db::{
        deposit_methods::DepositMethodRow,
        deposits::{DepositEventRow, DepositRow},
        enums::{
            DepositEventSource, DepositMethodKind, DepositStatus, Language, LedgerKind,
            PaymentGateway,
        },
        ledger::LedgerEntryRow,
    },
    graphql::{
        error::GraphqlResult,
        flat::Flat,
        guards::RoleGuard,
        load,
        loaders::{DepositEventsOf, DepositId, DepositMethodId, UserId},
        scalars::Rupiah,
        types::account::User,
    },
};

pub struct Deposit(pub DepositRow);

#[Object]
impl Deposit {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn amount(&self) -> Rupiah {
        Rupiah(self.0.amount)
    }

    async fn gateway(&self) -> PaymentGateway {
        self.0.gateway
    }

    async fn status(&self) -> DepositStatus {
        self.0.status
    }

    /// Our reference at the gateway (Midtrans `order_id`, Xendit `external_id`).
    async fn merchant_reference(&self) -> &str {
        &self.0.merchant_ref
    }

    /// Where the customer pays (Snap redirect URL or Xendit invoice URL).
    async fn payment_url(&self) -> Option<&str> {
        self.0.payment_url.as_deref()
    }

    /// The Snap token, for the Snap.js popup (Midtrans only).
    async fn snap_token(&self) -> Option<&str> {
        self.0.snap_token.as_deref()
    }

    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }

    /// What to transfer: the amount plus `uniqueCode` (transfer and QRIS
    /// methods); the amount itself for a gateway.
    async fn payable_amount(&self) -> Rupiah {
        Rupiah(self.0.payable_amount)
    }

    /// Rupiah added so this transfer can be recognised (0 for a gateway).
    async fn unique_code(&self) -> i32 {
        self.0.unique_code
    }

    /// QRIS methods: the QR payload for exactly `payableAmount`, to render as a QR code.
    async fn qris_payload(&self) -> Option<&str> {
        self.0.qris_payload.as_deref()
    }

    /// The method the deposit was made with.
    async fn method(&self, ctx: &Context<'_>) -> GraphqlResult<Option<DepositMethod>> {
        match self.0.method_id {
            Some(id) => Ok(Some(DepositMethod(
                load(ctx, DepositMethodId(id), "deposit method").await?,
            ))),
            None => Ok(None),
        }
    }

    /// The customer's note for the admin checking the transfer.
    async fn note(&self) -> Option<&str> {
        self.0.customer_note.as_deref()
    }

    /// The bonus paid with the credit (bonus rule and voucher), as its own BONUS entry.
    async fn bonus_amount(&self) -> Rupiah {
        Rupiah(self.0.bonus_amount)
    }

    /// Where its owner and staff fetch the proof of transfer, with their bearer
    /// token: `GET /deposits/{id}/proof` (404 while there is none).
    async fn proof_url(&self) -> Option<String> {
        (self.0.gateway == PaymentGateway::Manual).then(|| format!("/deposits/{}/proof", self.0.id))
    }

    async fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.0.paid_at
    }

    /// Why the deposit failed or expired, when it did.
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure_reason.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn user(&self, ctx: &Context<'_>) -> GraphqlResult<User> {
        Ok(User(load(ctx, UserId(self.0.user_id), "user").await?))
    }

    /// Whether an admin must look at it (amount mismatch, reversal after payment).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn flagged(&self) -> bool {
        self.0.flagged
    }

    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn flag_reason(&self) -> Option<&str> {
        self.0.flag_reason.as_deref()
    }

    /// How an admin resolved the flag: CREDITED or REJECTED (null while unresolved).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn resolution(&self) -> Option<&str> {
        self.0.resolution.as_deref()
    }

    /// The admin who resolved the flag.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn resolved_by(&self, ctx: &Context<'_>) -> GraphqlResult<Option<User>> {
        match self.0.resolved_by {
            Some(id) => Ok(Some(User(load(ctx, UserId(id), "user").await?))),
            None => Ok(None),
        }
    }

    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }

    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn resolution_note(&self) -> Option<&str> {
        self.0.resolution_note.as_deref()
    }

    /// The gateway's own id (Midtrans transaction id, Xendit invoice id).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn gateway_reference(&self) -> Option<&str> {
        self.0.gateway_ref.as_deref()
    }

    /// The last status the gateway reported, verbatim.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn gateway_status(&self) -> Option<&str> {
        self.0.gateway_status.as_deref()
    }

    /// Every distinct report the gateway made, oldest first.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Deposits)")]
    async fn events(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<DepositEvent>> {
        Ok(load(ctx, DepositEventsOf(self.0.id), "deposit events")
            .await?
            .into_iter()
            .map(DepositEvent)
            .collect())
    }
}

/// A report from a gateway about a deposit (admins only).
pub struct DepositEvent(pub DepositEventRow);

#[Object]
impl DepositEvent {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn source(&self) -> DepositEventSource {
        self.0.source
    }

    async fn gateway_status(&self) -> &str {
        &self.0.gateway_status
    }

    /// What it did: CREDITED, DUPLICATE, FLAGGED, FAILED, EXPIRED, WAITING, ...
    async fn outcome(&self) -> &str {
        &self.0.outcome
    }

    /// The body as received, JSON text.
    async fn payload(&self) -> String {
        self.0.payload.to_string()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// One balance change.
pub struct LedgerEntry(pub LedgerEntryRow);

#[Object]
impl LedgerEntry {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    /// Signed: positive adds to the balance, negative takes from it.
    async fn amount(&self) -> Rupiah {
        Rupiah(self.0.amount)
    }

    async fn balance_after(&self) -> Rupiah {
        Rupiah(self.0.balance_after)
    }

    async fn kind(&self) -> LedgerKind {
        self.0.kind
    }

    async fn note(&self) -> &str {
        &self.0.note
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn order_id(&self) -> Option<ID> {
        self.0.order_id.map(Into::into)
    }

    async fn deposit(&self, ctx: &Context<'_>) -> GraphqlResult<Option<Flat<Deposit>>> {
        // Flat (`flat.rs`), as the entry's users: repeated on every row of a
        // page, and keeping `LedgerEntry`'s fields small.
        match self.0.deposit_id {
            Some(id) => Ok(Some(Flat(Deposit(
                load(ctx, DepositId(id), "deposit").await?,
            )))),
            None => Ok(None),
        }
    }

    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Balances)")]
    async fn user(&self, ctx: &Context<'_>) -> GraphqlResult<Flat<User>> {
        Ok(Flat(User(load(ctx, UserId(self.0.user_id), "user").await?)))
    }

    /// The admin who made an adjustment.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Balances)")]
    async fn actor(&self, ctx: &Context<'_>) -> GraphqlResult<Option<Flat<User>>> {
        match self.0.actor_id {
            Some(id) => Ok(Some(Flat(User(load(ctx, UserId(id), "user").await?)))),
            None => Ok(None),
        }
    }
}

#[derive(InputObject)]
pub struct AdjustBalanceInput {
    pub user_id: ID,
    /// Signed whole rupiah, not zero: positive credits, negative debits.
    pub amount: Rupiah,
    /// Why; kept in the ledger entry's note.
    pub reason: String,
}

/// A way to pay in: a bank account, an e-wallet, a static QRIS or a gateway.
pub struct DepositMethod(pub DepositMethodRow);

#[Object]
impl DepositMethod {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn kind(&self) -> DepositMethodKind {
        self.0.kind
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// BCA, BNI, BRI, MANDIRI, DANA, OVO...
    async fn bank_code(&self) -> &str {
        &self.0.bank_code
    }

    async fn account_holder(&self) -> &str {
        &self.0.account_holder
    }

    /// Digits only.
    async fn account_number(&self) -> &str {
        &self.0.account_number
    }

    /// How to pay, in `language` (default Indonesian).
    async fn instructions(&self, language: Option<Language>) -> &str {
        match language.unwrap_or(Language::Id) {
            Language::Id => &self.0.instructions_id,
            Language::En => &self.0.instructions_en,
        }
    }

    async fn min_amount(&self) -> Rupiah {
        Rupiah(self.0.min_amount)
    }

    async fn max_amount(&self) -> Rupiah {
        Rupiah(self.0.max_amount)
    }

    /// Credited per rupiah paid, in basis points (10000: what is paid is credited).
    async fn credit_rate_bps(&self) -> i32 {
        self.0.credit_rate_bps
    }

    async fn active(&self) -> bool {
        self.0.active
    }

    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }

    /// The owner's static QRIS as saved (each deposit gets its own dynamic one).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Settings)")]
    async fn static_qris_payload(&self) -> Option<&str> {
        self.0.qris_payload.as_deref()
    }
}
