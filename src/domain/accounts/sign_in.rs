//! Password sign-in and what every sign-in shares: the per-account slow-down,
//! the sign-in history, the mail about a new address, and a user's sessions.
//!
//! The slow-down, not a lockout: after `SIGN_IN_FAILURES_BEFORE_DELAY` wrong
//! passwords in a row, each further one doubles a wait (at most
//! `SIGN_IN_MAX_DELAY_SECONDS`) during which no password is even checked for the
//! account. An attacker guessing slows to a crawl; the owner can always sign in
//! once the wait is over, and the per-address limit (in the resolver) keeps one
//! client from making the wait longer for everyone cheaply.

use std::net::IpAddr;

use chrono::Utc;
use diesel_async::AsyncPgConnection;

use crate::{
    auth::passwords::{Passwords, check_strength},
    config::AccountsConfig,
    db::{
        enums::SignInMethod,
        pagination::{KeysetPage, Paginated},
        sessions::SessionRow,
        sign_ins::{NewSignIn, SignInRow},
        users::{UserRow, UserUpdate},
    },
    error::{AppError, AppResult},
    mail::account_templates,
};

/// The longest user agent kept.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// Who is signing in, as the HTTP layer saw them.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub address: Option<IpAddr>,
    pub user_agent: String,
}

impl Client {
    pub fn new(address: Option<IpAddr>, user_agent: &str) -> Client {
        let user_agent = user_agent
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_USER_AGENT_CHARS)
            .collect();
        Client {
            address,
            user_agent,
        }
    }
}

fn wrong_credentials() -> AppError {
    AppError::Unauthenticated("wrong email or password".into())
}

/// Checks an email and a password; answers the user (then [`start_session`]).
pub async fn with_password(
    conn: &mut AsyncPgConnection,
    passwords: &Passwords,
    config: &AccountsConfig,
    email: &str,
    password: &str,
    client: &Client,
) -> AppResult<UserRow> {
    let user = match super::validate_email(email) {
        Ok(email) => UserRow::find_by_email(conn, &email).await?,
        Err(_) => None,
    };
    let Some(user) = user else {
        // As long as a wrong password, so the answer does not tell.
        passwords.check(password, None).await?;
        record(
            conn,
            None,
            SignInMethod::Password,
            Some("NO_ACCOUNT"),
            client,
        )
        .await?;
        return Err(wrong_credentials());
    };
    if user
        .sign_in_delayed_until
        .is_some_and(|until| until > Utc::now())
    {
        record(
            conn,
            Some(user.id),
            SignInMethod::Password,
            Some("SLOWED_DOWN"),
            client,
        )
        .await?;
        return Err(AppError::RateLimited);
    }
    let checked = passwords
        .check(password, user.password_hash.as_deref())
        .await?;
    if !checked.matches {
        let (free, max) = (config.failures_before_delay, config.max_sign_in_delay);
        UserRow::count_failed_sign_in(conn, user.id, free, max).await?;
        record(
            conn,
            Some(user.id),
            SignInMethod::Password,
            Some("WRONG_PASSWORD"),
            client,
        )
        .await?;
        return Err(wrong_credentials());
    }
    if user.is_banned() {
        record(
            conn,
            Some(user.id),
            SignInMethod::Password,
            Some("SUSPENDED"),
            client,
        )
        .await?;
        return Err(AppError::forbidden("this account is suspended"));
    }
    UserRow::clear_failed_sign_ins(conn, user.id).await?;
    if let Some(rehashed) = checked.rehashed {
        let update = UserUpdate {
            password_hash: Some(Some(rehashed)),
            ..Default::default()
        };
        UserRow::update(conn, user.id, &update).await?;
    }
    Ok(user)
}

/// Records a successful sign-in, and mails the user when it came from an address
/// their account never signed in from before (not for their very first sign-in).
async fn succeeded(
    conn: &mut AsyncPgConnection,
    config: &AccountsConfig,
    user: &UserRow,
    method: SignInMethod,
    client: &Client,
) -> AppResult<()> {
    let address = client.address.map(|a| a.to_string());
    if config.mail_new_sign_in_address
        && let Some(address) = &address
        && SignInRow::ever_succeeded(conn, user.id).await?
        && !SignInRow::succeeded_from(conn, user.id, address).await?
    {
        let at = Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
        let agent = if client.user_agent.is_empty() {
            "-"
        } else {
            &client.user_agent
        };
        let rendered = account_templates::new_sign_in(user.language, address, agent, &at);
        super::email_links::queue(conn, user, rendered, "new_sign_in", Some(address)).await?;
    }
    record(conn, Some(user.id), method, None, client).await
}

/// Ends a sign-in whose first factor was right: the second factor when the
/// account has one (a wrong code counts as a failed sign-in), then a suspended
/// account is refused and any other gets a session. Every outcome is recorded.
/// Answers the session's token and expiry.
pub async fn start_session(
    conn: &mut AsyncPgConnection,
    config: &crate::config::Config,
    secrets: &crate::crypto::SecretBox,
    user: &UserRow,
    method: SignInMethod,
    client: &Client,
    totp_code: Option<&str>,
) -> AppResult<(String, chrono::DateTime<Utc>)> {
    if let Err(refused) = super::two_factor::check(conn, secrets, user, totp_code).await {
        if matches!(refused, AppError::Unauthenticated(_)) {
            let (free, max) = (
                config.accounts.failures_before_delay,
                config.accounts.max_sign_in_delay,
            );
            UserRow::count_failed_sign_in(conn, user.id, free, max).await?;
        }
        record(conn, Some(user.id), method, Some("SECOND_FACTOR"), client).await?;
        return Err(refused);
    }
    if user.is_banned() {
        record(conn, Some(user.id), method, Some("SUSPENDED"), client).await?;
        return Err(AppError::forbidden("this account is suspended"));
    }
    succeeded(conn, &config.accounts, user, method, client).await?;
    crate::auth::create_session(conn, user.id, config.auth.session_ttl).await
}

async fn record(
    conn: &mut AsyncPgConnection,
    user_id: Option<i64>,
    method: SignInMethod,
    failure: Option<&str>,
    client: &Client,
) -> AppResult<()> {
    let address = client.address.map(|a| a.to_string());
    let row = NewSignIn {
        user_id,
        method,
        succeeded: failure.is_none(),
        failure,
        ip_address: address.as_deref(),
        user_agent: &client.user_agent,
    };
    SignInRow::insert(conn, &row).await?;
    Ok(())
}

/// A user's sign-in attempts, newest first.
pub async fn history(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    page: KeysetPage,
) -> AppResult<Paginated<SignInRow>> {
    Ok(SignInRow::of_user(conn, user_id, page).await?)
}

/// Drops sign-in attempts older than `SIGN_IN_HISTORY_DAYS`.
pub async fn forget_old(conn: &mut AsyncPgConnection, config: &AccountsConfig) -> AppResult<usize> {
    let keep = chrono::Duration::from_std(config.sign_in_history).map_err(AppError::internal)?;
    Ok(SignInRow::delete_before(conn, Utc::now() - keep).await?)
}

/// Sets a new password. An account with a password must give it; an account that
/// signs in with Google only may add one. Every other session ends.
pub async fn change_password(
    conn: &mut AsyncPgConnection,
    passwords: &Passwords,
    user: &UserRow,
    current_session: Option<i64>,
    current_password: Option<&str>,
    new_password: &str,
) -> AppResult<UserRow> {
    if user.password_hash.is_some() {
        let given = current_password
            .ok_or_else(|| AppError::validation("currentPassword", "give your current password"))?;
        if !passwords
            .check(given, user.password_hash.as_deref())
            .await?
            .matches
        {
            return Err(AppError::validation(
                "currentPassword",
                "the current password is wrong",
            ));
        }
    }
    check_strength("newPassword", new_password, &[&user.email, &user.name])?;
    let hash = passwords.hash(new_password).await?;
    let update = UserUpdate {
        password_hash: Some(Some(hash)),
        ..Default::default()
    };
    let updated = UserRow::update(conn, user.id, &update)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    SessionRow::revoke_of_user(conn, user.id, None, current_session).await?;
    Ok(updated)
}

/// A user's sessions that still work, most recently used first.
pub async fn sessions(conn: &mut AsyncPgConnection, user_id: i64) -> AppResult<Vec<SessionRow>> {
    Ok(SessionRow::active_of_user(conn, user_id).await?)
}

/// Ends one of the user's own sessions (another user's is NOT_FOUND).
pub async fn revoke_session(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    session_id: i64,
) -> AppResult<()> {
    match SessionRow::revoke_of_user(conn, user_id, Some(session_id), None).await? {
        0 => Err(AppError::NotFound("session")),
        _ => Ok(()),
    }
}

/// Ends every session of the user but `keep`; answers how many ended.
pub async fn revoke_other_sessions(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    keep: Option<i64>,
) -> AppResult<usize> {
    Ok(SessionRow::revoke_of_user(conn, user_id, None, keep).await?)
}
