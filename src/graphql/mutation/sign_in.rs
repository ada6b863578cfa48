//! Email and password accounts: sign-up, sign-in, the mailed verification and
//! reset links, changing the password, and ending sessions. Sign-in, sign-up
//! and the reset mutations are limited per client address
//! (`SIGN_IN_ATTEMPTS_PER_IP_PER_MINUTE`).

use async_graphql::{Context, ID, Object};

use crate::{
    auth::Credential,
    db::enums::{Language, SignInMethod},
    domain::accounts::{
        email_links::{self, Links, SignUp},
        sign_in, two_factor,
    },
    error::AppError,
    graphql::{
        ClientAddress, conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        parse_id, sign_in_client, state,
        types::account::{SignInPayload, TotpSetup, User},
    },
    rate_limit::IpRateLimiter,
};

/// Password sign-ins, sign-ups and reset requests per client address.
pub struct AccountAttemptLimiter(pub IpRateLimiter);

fn check_attempt_limit(ctx: &Context<'_>) -> GraphqlResult<()> {
    if let Some(ClientAddress(Some(ip))) = ctx.data_opt::<ClientAddress>()
        && let Some(limiter) = ctx.data_opt::<AccountAttemptLimiter>()
        && limiter.0.check(*ip).is_err()
    {
        return Err(AppError::RateLimited.into());
    }
    Ok(())
}

fn links<'a>(ctx: &Context<'a>) -> Links<'a> {
    let config = &state(ctx).config;
    Links {
        base_url: &config.content.public_base_url,
        config: &config.accounts,
    }
}

/// The caller's row as the database has it now: the credential cache's copy may
/// predate a secret stored a moment ago.
async fn fresh_user(ctx: &Context<'_>) -> GraphqlResult<crate::db::users::UserRow> {
    let id = current_user(ctx)?.id();
    let user = crate::db::users::UserRow::find(&mut *conn(ctx).await?, id).await?;
    Ok(user.ok_or_else(AppError::unauthenticated)?)
}

/// The session the request runs in (`None` for an API key).
fn current_session(ctx: &Context<'_>) -> GraphqlResult<Option<i64>> {
    Ok(match current_user(ctx)?.credential {
        Credential::Session(id) => Some(id),
        Credential::ApiKey(_) => None,
    })
}

/// Ends a sign-in whose first factor was right (see `sign_in::start_session`).
pub(super) async fn open_session(
    ctx: &Context<'_>,
    conn: &mut diesel_async::AsyncPgConnection,
    user: crate::db::users::UserRow,
    method: SignInMethod,
    totp_code: Option<&str>,
) -> GraphqlResult<SignInPayload> {
    let state = state(ctx);
    let client = sign_in_client(ctx);
    let (config, secrets) = (&state.config, &state.secrets);
    let (token, expires_at) =
        sign_in::start_session(conn, config, secrets, &user, method, &client, totp_code).await?;
    Ok(SignInPayload {
        token,
        expires_at,
        user: User(user),
    })
}

#[derive(Default)]
pub struct SignInMutation;

#[Object]
impl SignInMutation {
    /// Creates an account with an email and a password and mails a verification
    /// link (`verifyEmail`). Always true: when the address has an account, its
    /// owner gets a mail instead, so the answer never tells whether it has one.
    /// Sign in with `signIn` afterwards; deposits and orders wait for the
    /// verification. Weak or common passwords are VALIDATION on `password`.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        #[graphql(default)] name: String,
        #[graphql(default_with = "Language::Id")] language: Language,
    ) -> GraphqlResult<bool> {
        check_attempt_limit(ctx)?;
        let input = SignUp {
            email,
            password,
            name,
            language,
        };
        let mut conn = conn(ctx).await?;
        email_links::sign_up(&mut conn, &state(ctx).passwords, &links(ctx), input).await?;
        Ok(true)
    }

    /// Signs in with an email and a password and answers a session token. A wrong
    /// email or password is UNAUTHENTICATED (the same for both); after repeated
    /// failures the account is slowed down (RATE_LIMITED until the wait is over).
    async fn sign_in(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        #[graphql(
            desc = "The authenticator app's code (or a recovery code) when the account has two-factor sign-in."
        )]
        totp_code: Option<String>,
    ) -> GraphqlResult<SignInPayload> {
        check_attempt_limit(ctx)?;
        let state = state(ctx);
        let client = sign_in_client(ctx);
        let mut conn = conn(ctx).await?;
        let accounts = &state.config.accounts;
        let user = sign_in::with_password(
            &mut conn,
            &state.passwords,
            accounts,
            &email,
            &password,
            &client,
        )
        .await?;
        let code = totp_code.as_deref();
        open_session(ctx, &mut conn, user, SignInMethod::Password, code).await
    }

    /// Proves the account's email with the token of the mailed link (once).
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> GraphqlResult<User> {
        let mut conn = conn(ctx).await?;
        Ok(User(email_links::verify_email(&mut conn, &token).await?))
    }

    /// Mails the caller a new verification link (CONFLICT when verified already).
    #[graphql(guard = "RoleGuard::User")]
    async fn request_email_verification(&self, ctx: &Context<'_>) -> GraphqlResult<bool> {
        let user = current_user(ctx)?;
        let mut conn = conn(ctx).await?;
        email_links::resend_verification(&mut conn, &links(ctx), &user.user).await?;
        Ok(true)
    }

    /// Mails a password reset link when the address has an account. Always true.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> GraphqlResult<bool> {
        check_attempt_limit(ctx)?;
        let mut conn = conn(ctx).await?;
        email_links::request_password_reset(&mut conn, &links(ctx), &email).await?;
        Ok(true)
    }

    /// Sets a new password with the token of a reset link (once). Every session of
    /// the account ends; sign in again with the new password.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        password: String,
    ) -> GraphqlResult<bool> {
        check_attempt_limit(ctx)?;
        let mut conn = conn(ctx).await?;
        email_links::reset_password(&mut conn, &state(ctx).passwords, &token, &password).await?;
        Ok(true)
    }

    /// Changes the caller's password (`currentPassword` is required once the
    /// account has one; a Google-only account adds its first). Every other session
    /// ends.
    #[graphql(guard = "RoleGuard::User")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: Option<String>,
        new_password: String,
    ) -> GraphqlResult<User> {
        let user = current_user(ctx)?;
        let session = current_session(ctx)?;
        let mut conn = conn(ctx).await?;
        let current = current_password.as_deref();
        let passwords = &state(ctx).passwords;
        let changed = sign_in::change_password(
            &mut conn,
            passwords,
            &user.user,
            session,
            current,
            &new_password,
        )
        .await?;
        Ok(User(changed))
    }

    /// Starts setting up two-factor sign-in: answers a new secret and its
    /// `otpauth://` URI (show it as a QR code). Nothing changes for sign-in until
    /// `confirmTotp`.
    #[graphql(guard = "RoleGuard::Myself")]
    async fn enable_totp(&self, ctx: &Context<'_>) -> GraphqlResult<TotpSetup> {
        let user = current_user(ctx)?;
        let state = state(ctx);
        let issuer = &state.config.accounts.totp_issuer;
        let mut conn = conn(ctx).await?;
        let setup = two_factor::enable(&mut conn, &state.secrets, issuer, &user.user).await?;
        Ok(TotpSetup {
            secret: setup.secret,
            uri: setup.uri,
        })
    }

    /// Switches two-factor sign-in on with a first code from the app; answers ten
    /// one-time recovery codes, shown this once.
    #[graphql(guard = "RoleGuard::Myself")]
    async fn confirm_totp(&self, ctx: &Context<'_>, code: String) -> GraphqlResult<Vec<String>> {
        let user = fresh_user(ctx).await?;
        let mut conn = conn(ctx).await?;
        Ok(two_factor::confirm(&mut conn, &state(ctx).secrets, &user, &code).await?)
    }

    /// Switches two-factor sign-in off, given a current code or a recovery code.
    #[graphql(guard = "RoleGuard::Myself")]
    async fn disable_totp(&self, ctx: &Context<'_>, code: String) -> GraphqlResult<bool> {
        let user = fresh_user(ctx).await?;
        let mut conn = conn(ctx).await?;
        two_factor::disable(&mut conn, &state(ctx).secrets, &user, &code).await?;
        Ok(true)
    }

    /// Ends one of the caller's sessions (see `mySessions`).
    #[graphql(guard = "RoleGuard::User")]
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<bool> {
        let user = current_user(ctx)?;
        let id = parse_id("id", &id)?;
        let mut conn = conn(ctx).await?;
        sign_in::revoke_session(&mut conn, user.id(), id).await?;
        Ok(true)
    }

    /// Ends every session of the caller but the one making this request; answers
    /// how many ended.
    #[graphql(guard = "RoleGuard::User")]
    async fn revoke_other_sessions(&self, ctx: &Context<'_>) -> GraphqlResult<i32> {
        let user = current_user(ctx)?;
        let keep = current_session(ctx)?;
        let mut conn = conn(ctx).await?;
        let ended = sign_in::revoke_other_sessions(&mut conn, user.id(), keep).await?;
        Ok(ended as i32)
    }
}
