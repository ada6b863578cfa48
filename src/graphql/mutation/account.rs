//! The caller's own account: signing in with Google and out, API keys, settings.

use async_graphql::{Context, ID, InputObject, Object};

use crate::{
    auth::{self, Credential},
    db::enums::SignInMethod,
    domain::accounts::{self, SettingsUpdate},
    error::AppError,
    graphql::{
        conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        parse_id, state,
        types::account::{ApiKey, CreatedApiKey, SignInPayload, User},
    },
};

#[derive(Default)]
pub struct AccountMutation;

/// Fields left out keep their value.
#[derive(InputObject)]
pub struct UpdateSettingsInput {
    pub name: Option<String>,
    /// `id` or `en`.
    pub language: Option<String>,
    /// IANA time zone such as `Asia/Jakarta`.
    pub timezone: Option<String>,
    pub notify_order_updates: Option<bool>,
    pub notify_deposits: Option<bool>,
    pub notify_tickets: Option<bool>,
    pub notify_newsletter: Option<bool>,
}

#[Object]
impl AccountMutation {
    /// Verifies a Google ID token, creates the account on first sign-in, and returns
    /// a session token.
    async fn sign_in_with_google(
        &self,
        ctx: &Context<'_>,
        id_token: String,
        #[graphql(
            desc = "The authenticator app's code (or a recovery code) when the account has two-factor sign-in."
        )]
        totp_code: Option<String>,
    ) -> GraphqlResult<SignInPayload> {
        let state = state(ctx);
        let identity = state.google.verify(&id_token).await?;
        let mut conn = conn(ctx).await?;
        let user = accounts::sign_in_with_google(&mut conn, &identity).await?;
        let code = totp_code.as_deref();
        super::sign_in::open_session(ctx, &mut conn, user, SignInMethod::Google, code).await
    }

    /// Ends the current session. API keys are revoked with `revokeApiKey` instead.
    #[graphql(guard = "RoleGuard::User")]
    async fn sign_out(&self, ctx: &Context<'_>) -> GraphqlResult<bool> {
        let user = current_user(ctx)?;
        let Credential::Session(session_id) = user.credential else {
            return Err(AppError::validation(
                "authorization",
                "this request uses an API key; revoke it with revokeApiKey",
            )
            .into());
        };
        let mut conn = conn(ctx).await?;
        auth::revoke_session(&mut conn, session_id).await?;
        state(ctx).caches.user_changed(user.id());
        Ok(true)
    }

    /// Creates an API key for programs. The key is in the answer once, never again.
    #[graphql(guard = "RoleGuard::User")]
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        name: String,
        #[graphql(
            desc = "A fresh code from the authenticator app: staff with two-factor sign-in need one to mint a key."
        )]
        totp_code: Option<String>,
    ) -> GraphqlResult<CreatedApiKey> {
        let user = current_user(ctx)?;
        let mut conn = conn(ctx).await?;
        if user.is_staff() {
            let (secrets, code) = (&state(ctx).secrets, totp_code.as_deref());
            accounts::two_factor::check(&mut conn, secrets, &user.user, code).await?;
        }
        let (row, key) = auth::create_api_key(&mut conn, user.id(), &name).await?;
        Ok(CreatedApiKey {
            key,
            api_key: ApiKey(row),
        })
    }

    /// Revokes one of the caller's API keys; it stops working at once.
    #[graphql(guard = "RoleGuard::User")]
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<ApiKey> {
        let user = current_user(ctx)?;
        let id = parse_id("id", &id)?;
        let mut conn = conn(ctx).await?;
        let key = auth::revoke_api_key(&mut conn, user.id(), id).await?;
        state(ctx).caches.user_changed(user.id());
        Ok(ApiKey(key))
    }

    /// Changes the caller's own settings (name, language, notification preferences).
    #[graphql(guard = "RoleGuard::User")]
    async fn update_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateSettingsInput,
    ) -> GraphqlResult<User> {
        let user = current_user(ctx)?;
        let mut conn = conn(ctx).await?;
        let update = SettingsUpdate {
            name: input.name,
            language: input.language,
            timezone: input.timezone,
            notify_order_updates: input.notify_order_updates,
            notify_deposits: input.notify_deposits,
            notify_tickets: input.notify_tickets,
            notify_newsletter: input.notify_newsletter,
        };
        let updated = accounts::update_settings(&mut conn, user.id(), update).await?;
        state(ctx).caches.user_changed(user.id());
        Ok(User(updated))
    }
}
