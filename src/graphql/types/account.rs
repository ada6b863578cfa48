//! `User`, `UserSettings`, `ApiKey` and the sign-in payloads.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    db::customer_levels::LevelRow,
    db::{
        api_keys::ApiKeyRow,
        enums::Role,
        users::{UserRow, UserStats},
    },
    domain::levels,
    graphql::{
        conn,
        error::GraphqlResult,
        guards::RoleGuard,
        load,
        loaders::{ApiKeysOf, LevelId, StatsOfUser},
        scalars::Rupiah,
        types::levels::{CustomerLevel, LevelProgress},
        viewer,
    },
};

impl User {
    async fn stats(&self, ctx: &Context<'_>) -> GraphqlResult<UserStats> {
        load(ctx, StatsOfUser(self.0.id), "user stats").await
    }
}

pub struct User(pub UserRow);

#[Object]
impl User {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn role(&self) -> Role {
        self.0.role
    }

    /// The reseller discount on list prices, basis points (1000 = 10.00%).
    async fn discount_bps(&self) -> i32 {
        self.0.discount_bps
    }

    /// The customer level (see `customerLevels`).
    async fn level(&self, ctx: &Context<'_>) -> GraphqlResult<Option<CustomerLevel>> {
        match self.0.level_id {
            Some(id) => Ok(Some(CustomerLevel(
                load(ctx, LevelId(id), "customer level").await?,
            ))),
            None => Ok(None),
        }
    }

    /// The user's own way to the next level; null when asked about someone else.
    async fn level_progress(&self, ctx: &Context<'_>) -> GraphqlResult<Option<LevelProgress>> {
        let own = viewer(ctx)
            .0
            .as_ref()
            .is_some_and(|me| me.id() == self.0.id);
        if !own {
            return Ok(None);
        }
        let mut conn = conn(ctx).await?;
        let totals = LevelRow::totals_of(&mut conn, self.0.id).await?;
        let all = LevelRow::list(&mut conn).await?;
        let next = levels::next_level(&all, totals, self.0.effective_discount_bps());
        Ok(Some(LevelProgress {
            effective_discount_bps: self.0.effective_discount_bps(),
            total_deposits: Rupiah(totals.deposits),
            total_spent: Rupiah(totals.spent),
            next_level_remaining: next.as_ref().map(|n| Rupiah(n.remaining)),
            next_level: next.map(|n| CustomerLevel(n.level)),
            set_by_admin: self.0.level_set_by_admin,
        }))
    }

    /// Current balance in rupiah.
    async fn balance(&self) -> Rupiah {
        Rupiah(self.0.balance)
    }

    /// Whether the email was proven (a verification link, a reset link, Google or
    /// an admin); deposits and orders wait for it.
    async fn email_verified(&self) -> bool {
        self.0.email_verified_at.is_some()
    }

    /// Whether the account has a password (else it signs in with Google only).
    async fn has_password(&self) -> bool {
        self.0.password_hash.is_some()
    }

    /// A STAFF member's staff role (see `adminStaffRoles`).
    async fn staff_role_id(&self) -> Option<ID> {
        self.0.staff_role_id.map(ID::from)
    }

    async fn banned(&self) -> bool {
        self.0.is_banned()
    }

    /// Why the account is suspended (visible to the user and admins).
    async fn ban_reason(&self) -> Option<&str> {
        self.0.ban_reason.as_deref()
    }

    async fn settings(&self) -> UserSettings {
        UserSettings {
            language: self.0.language.to_string(),
            timezone: self.0.timezone.clone(),
            notify_order_updates: self.0.notify_order_updates,
            notify_deposits: self.0.notify_deposits,
            notify_tickets: self.0.notify_tickets,
            notify_newsletter: self.0.notify_newsletter,
        }
    }

    /// Whether the account signs in with Google (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn google_linked(&self) -> bool {
        self.0.google_subject.is_some()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// An admin's private note on the user (admins only; never shown to the user).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn admin_note(&self) -> &str {
        &self.0.admin_note
    }

    /// Credited deposits, all time (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn lifetime_deposits(&self, ctx: &Context<'_>) -> GraphqlResult<Rupiah> {
        Ok(Rupiah(self.stats(ctx).await?.lifetime_deposits))
    }

    /// Order charges less refunds, all time (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn spend(&self, ctx: &Context<'_>) -> GraphqlResult<Rupiah> {
        Ok(Rupiah(self.stats(ctx).await?.spend))
    }

    /// Orders placed, all time (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn order_count(&self, ctx: &Context<'_>) -> GraphqlResult<i64> {
        Ok(self.stats(ctx).await?.order_count)
    }

    /// The last time one of their API keys or sessions was used (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn last_seen_at(&self, ctx: &Context<'_>) -> GraphqlResult<Option<DateTime<Utc>>> {
        Ok(self.stats(ctx).await?.last_seen_at)
    }

    /// Their API keys: prefix, last use, revoked or not; never the key (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn api_keys(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<ApiKey>> {
        Ok(load(ctx, ApiKeysOf(self.0.id), "api keys")
            .await?
            .into_iter()
            .map(ApiKey)
            .collect())
    }
}

/// Preferences a user sets for themselves.
#[derive(SimpleObject)]
pub struct UserSettings {
    /// Interface language: `id` (Bahasa Indonesia) or `en`.
    pub language: String,
    /// IANA time zone, e.g. `Asia/Jakarta`.
    pub timezone: String,
    pub notify_order_updates: bool,
    pub notify_deposits: bool,
    pub notify_tickets: bool,
    pub notify_newsletter: bool,
}

/// An API key as its owner sees it later: the prefix only, never the key.
pub struct ApiKey(pub ApiKeyRow);

#[Object]
impl ApiKey {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The first characters of the key, to recognise it.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }

    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }

    async fn active(&self) -> bool {
        self.0.revoked_at.is_none()
    }
}

/// Returned once by `createApiKey`: `key` is never shown again.
#[derive(SimpleObject)]
pub struct CreatedApiKey {
    /// The full key. Store it now: only its hash is kept.
    pub key: String,
    pub api_key: ApiKey,
}

#[derive(SimpleObject)]
pub struct SignInPayload {
    /// Session token for `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// One sign-in attempt: how, whether it worked, from where.
pub struct SignInAttempt(pub crate::db::sign_ins::SignInRow);

#[Object]
impl SignInAttempt {
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    async fn method(&self) -> crate::db::enums::SignInMethod {
        self.0.method
    }
    async fn succeeded(&self) -> bool {
        self.0.succeeded
    }
    /// Why it failed: `WRONG_PASSWORD`, `SLOWED_DOWN`, `SUSPENDED` (null when it worked).
    async fn failure(&self) -> Option<&str> {
        self.0.failure.as_deref()
    }
    async fn ip_address(&self) -> Option<&str> {
        self.0.ip_address.as_deref()
    }
    async fn user_agent(&self) -> &str {
        &self.0.user_agent
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A sign-in session that still works.
pub struct Session {
    pub row: crate::db::sessions::SessionRow,
    /// Whether the listing request itself runs in this session.
    pub current: bool,
}

#[Object]
impl Session {
    async fn id(&self) -> ID {
        self.row.id.into()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn last_used_at(&self) -> DateTime<Utc> {
        self.row.last_used_at
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.row.expires_at
    }
    async fn current(&self) -> bool {
        self.current
    }
}

/// A new two-factor secret: enter `secret` in an authenticator app, or scan `uri`
/// as a QR code; then `confirmTotp` with the code the app shows.
#[derive(SimpleObject)]
pub struct TotpSetup {
    /// Base32, as apps take it typed in.
    pub secret: String,
    /// `otpauth://totp/...`
    pub uri: String,
}

/// A named set of permissions an owner gives staff members.
pub struct StaffRole(pub crate::db::staff_roles::StaffRoleRow);

#[Object]
impl StaffRole {
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn permissions(&self) -> Vec<crate::db::enums::Permission> {
        self.0.permission_set()
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
