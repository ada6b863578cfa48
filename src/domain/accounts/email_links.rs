//! Sign-up with an email and a password, and the two single-use links mailed to
//! a user: verify the email, reset the password.
//!
//! No answer tells whether an address has an account: `sign_up` of a taken
//! address mails its owner and answers as for a new one; a reset request answers
//! the same whether or not a mail went out. Link tokens are 256 random bits; only
//! their SHA-256 is stored (`account_tokens`), and using one is one UPDATE, so a
//! link works once however many requests race with it.

use std::time::Duration;

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::{
    auth::passwords::{Passwords, check_strength},
    auth::{self, tokens},
    config::AccountsConfig,
    db::{
        account_tokens::{AccountTokenRow, NewAccountToken},
        enums::{AccountTokenPurpose, Language, Role},
        users::{NewUser, UserRow, UserUpdate},
    },
    error::{AppError, AppResult, is_unique_violation},
    mail::{self, NewMail, account_templates},
};

/// What `signUp` asks for.
pub struct SignUp {
    pub email: String,
    pub password: String,
    pub name: String,
    pub language: Language,
}

/// Where links point: the front end's pages at `PUBLIC_BASE_URL`.
pub struct Links<'a> {
    pub base_url: &'a str,
    pub config: &'a AccountsConfig,
}

impl Links<'_> {
    fn url(&self, page: &str, token: &str) -> String {
        format!("{}/{page}?token={token}", self.base_url)
    }
}

/// Creates an unverified account and mails its verification link, or, when the
/// address has an account, mails its owner instead. The same answer either way.
pub async fn sign_up(
    conn: &mut AsyncPgConnection,
    passwords: &Passwords,
    links: &Links<'_>,
    input: SignUp,
) -> AppResult<()> {
    let email = super::validate_email(&input.email)?;
    let name = super::check_name(&input.name)?;
    check_strength("password", &input.password, &[&email, &name])?;
    // Hashed before looking the address up, so both answers take as long.
    let password_hash = passwords.hash(&input.password).await?;
    conn.transaction(async |conn| {
        let new = NewUser {
            email: &email,
            name: &name,
            google_subject: None,
            role: Role::Customer,
            password_hash: Some(&password_hash),
            language: input.language,
            email_verified_at: None,
        };
        let existing = match UserRow::find_by_email(conn, &email).await? {
            Some(user) => Some(user),
            None => match UserRow::insert(conn, &new).await {
                Ok(user) => {
                    mail_verification(conn, links, &user).await?;
                    None
                }
                Err(e) if is_unique_violation(&e, "users_email_key") => {
                    UserRow::find_by_email(conn, &email).await?
                }
                Err(e) => return Err(e.into()),
            },
        };
        if let Some(owner) = existing {
            let rendered = account_templates::sign_up_taken(
                owner.language,
                &format!("{}/forgot-password", links.base_url),
            );
            // One such mail per address per hour, however often someone tries.
            let hour = Utc::now().timestamp() / 3600;
            queue(conn, &owner, rendered, "sign_up_taken", Some(hour)).await?;
        }
        Ok(())
    })
    .await
}

/// Mails a fresh verification link to an account that has not proven its email
/// (at most one mail per account per ten minutes).
pub async fn resend_verification(
    conn: &mut AsyncPgConnection,
    links: &Links<'_>,
    user: &UserRow,
) -> AppResult<()> {
    if user.email_verified_at.is_some() {
        return Err(AppError::conflict("this email is verified already"));
    }
    conn.transaction(async |conn| mail_verification(conn, links, user).await)
        .await
}

async fn mail_verification(
    conn: &mut AsyncPgConnection,
    links: &Links<'_>,
    user: &UserRow,
) -> AppResult<()> {
    let ttl = links.config.verify_link_ttl;
    let token = issue(conn, user.id, AccountTokenPurpose::VerifyEmail, ttl).await?;
    let link = links.url("verify-email", &token);
    let rendered =
        account_templates::verify_email(user.language, &user.name, &link, ttl.as_secs() / 3600);
    let slot = Utc::now().timestamp() / 600;
    if !queue(conn, user, rendered, "verify_email", Some(slot)).await? {
        AccountTokenRow::delete_by_hash(conn, &tokens::hash(&token)).await?;
    }
    Ok(())
}

/// Marks the link's account verified; the link then stops working.
pub async fn verify_email(conn: &mut AsyncPgConnection, token: &str) -> AppResult<UserRow> {
    conn.transaction(async |conn| {
        let used =
            AccountTokenRow::consume(conn, AccountTokenPurpose::VerifyEmail, &tokens::hash(token))
                .await?
                .ok_or_else(invalid_link)?;
        let user = UserRow::find(conn, used.user_id)
            .await?
            .ok_or_else(invalid_link)?;
        if user.email_verified_at.is_some() {
            return Ok(user);
        }
        let verified = UserUpdate {
            email_verified_at: Some(Some(Utc::now())),
            ..Default::default()
        };
        UserRow::update(conn, user.id, &verified)
            .await?
            .ok_or_else(invalid_link)
    })
    .await
}

/// Mails a reset link when the address has an account (one mail per account per
/// ten minutes); says nothing either way.
pub async fn request_password_reset(
    conn: &mut AsyncPgConnection,
    links: &Links<'_>,
    email: &str,
) -> AppResult<()> {
    let Ok(email) = super::validate_email(email) else {
        return Ok(());
    };
    let Some(user) = UserRow::find_by_email(conn, &email).await? else {
        return Ok(());
    };
    let ttl = links.config.reset_link_ttl;
    conn.transaction(async |conn| {
        let token = issue(conn, user.id, AccountTokenPurpose::ResetPassword, ttl).await?;
        let link = links.url("reset-password", &token);
        let rendered = account_templates::password_reset(user.language, &link, ttl.as_secs() / 60);
        let slot = Utc::now().timestamp() / 600;
        // The mail of a link already sent in these ten minutes is not sent again;
        // nor is a link kept that nobody receives.
        if !queue(conn, &user, rendered, "password_reset", Some(slot)).await? {
            AccountTokenRow::delete_by_hash(conn, &tokens::hash(&token)).await?;
        }
        Ok(())
    })
    .await
}

/// Sets a new password through a reset link. The link proves the email, so the
/// account becomes verified; every session ends and older reset links stop working.
pub async fn reset_password(
    conn: &mut AsyncPgConnection,
    passwords: &Passwords,
    token: &str,
    password: &str,
) -> AppResult<UserRow> {
    let token_hash = tokens::hash(token);
    // Looked at first without using it: a password refused as too weak leaves the
    // link usable for a better one.
    let found = AccountTokenRow::find_usable(conn, AccountTokenPurpose::ResetPassword, &token_hash)
        .await?
        .ok_or_else(invalid_link)?;
    let user = UserRow::find(conn, found.user_id)
        .await?
        .ok_or_else(invalid_link)?;
    check_strength("password", password, &[&user.email, &user.name])?;
    let password_hash = passwords.hash(password).await?;
    conn.transaction(async |conn| {
        AccountTokenRow::consume(conn, AccountTokenPurpose::ResetPassword, &token_hash)
            .await?
            .ok_or_else(invalid_link)?;
        AccountTokenRow::use_up_all(conn, user.id, AccountTokenPurpose::ResetPassword).await?;
        let reset = UserUpdate {
            password_hash: Some(Some(password_hash.clone())),
            email_verified_at: user.email_verified_at.is_none().then(|| Some(Utc::now())),
            ..Default::default()
        };
        let user = UserRow::update(conn, user.id, &reset)
            .await?
            .ok_or_else(invalid_link)?;
        UserRow::clear_failed_sign_ins(conn, user.id).await?;
        auth::revoke_all_sessions(conn, user.id).await?;
        Ok(user)
    })
    .await
}

fn invalid_link() -> AppError {
    AppError::validation("token", "this link is invalid, used or expired")
}

/// A new link token of `purpose` for the user; answers the token (only its hash is kept).
async fn issue(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    purpose: AccountTokenPurpose,
    ttl: Duration,
) -> AppResult<String> {
    let token = tokens::generate("");
    let expires_at = Utc::now() + chrono::Duration::from_std(ttl).map_err(AppError::internal)?;
    let new = NewAccountToken {
        user_id,
        purpose,
        token_hash: &tokens::hash(&token),
        expires_at,
    };
    AccountTokenRow::insert(conn, &new).await?;
    Ok(token)
}

/// Queues an account mail to the user; `slot` makes one mail per kind and slot
/// (any text: a time slot, an address). False when that mail was queued before.
pub(super) async fn queue(
    conn: &mut AsyncPgConnection,
    user: &UserRow,
    rendered: mail::templates::Rendered,
    kind: &str,
    slot: Option<impl std::fmt::Display>,
) -> AppResult<bool> {
    let queued = mail::enqueue(
        conn,
        NewMail {
            to: user.email.clone(),
            subject: rendered.subject,
            text_body: rendered.text,
            html_body: None,
            kind: kind.into(),
            user_id: Some(user.id),
            dedupe_key: slot.map(|slot| format!("{kind}:{}:{slot}", user.id)),
        },
    )
    .await?;
    Ok(queued.is_some())
}
