//! Accounts: sign-in (create or find the user), settings, roles and bans.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    auth,
    auth::google::GoogleIdentity,
    db::allow_empty_changeset,
    db::{
        enums::Role,
        schema::users,
        users::{NewUser, UserRow, UserSettingsChangeset},
    },
    domain::text::check_reason,
    error::{AppError, AppResult, is_unique_violation},
};

pub const LANGUAGES: &[&str] = &["id", "en"];

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

pub async fn find_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> AppResult<Option<UserRow>> {
    Ok(users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Finds the user a verified Google identity belongs to, linking an account created
/// beforehand for the same email (e.g. an admin made with `booster user create`),
/// or creates a customer.
pub async fn sign_in_with_google(
    conn: &mut AsyncPgConnection,
    identity: &GoogleIdentity,
) -> AppResult<UserRow> {
    conn.transaction(async |conn| {
        let by_subject = users::table
            .filter(users::google_subject.eq(&identity.subject))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()?;
        if let Some(user) = by_subject {
            return Ok(user);
        }
        if let Some(user) = find_by_email(conn, &identity.email).await? {
            if user.google_subject.is_some() {
                // The email moved to another Google account; keep the first link.
                return Err(AppError::conflict(
                    "this email is linked to another Google account",
                ));
            }
            let name = if user.name.is_empty() {
                identity.name.as_str()
            } else {
                user.name.as_str()
            };
            return Ok(diesel::update(users::table.find(user.id))
                .set((
                    users::google_subject.eq(&identity.subject),
                    users::name.eq(name),
                ))
                .returning(UserRow::as_returning())
                .get_result(conn)
                .await?);
        }
        Ok(diesel::insert_into(users::table)
            .values(NewUser {
                email: &identity.email,
                name: &identity.name,
                google_subject: Some(&identity.subject),
                role: Role::Customer,
            })
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await?)
    })
    .await
}

/// Creates a user by email (the CLI's `user create`).
pub async fn create_user(
    conn: &mut AsyncPgConnection,
    email: &str,
    name: &str,
    role: Role,
) -> AppResult<UserRow> {
    let email = validate_email(email)?;
    diesel::insert_into(users::table)
        .values(NewUser {
            email: &email,
            name,
            google_subject: None,
            role,
        })
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e, "users_email_key") {
                AppError::conflict(format!("a user with email {email} exists"))
            } else {
                e.into()
            }
        })
}

fn validate_email(email: &str) -> AppResult<String> {
    let email = email.trim();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if !valid {
        return Err(AppError::validation("email", "not a valid email address"));
    }
    Ok(email.to_string())
}

/// What `updateSettings` may change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct SettingsUpdate {
    pub name: Option<String>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub notify_order_updates: Option<bool>,
    pub notify_deposits: Option<bool>,
    pub notify_tickets: Option<bool>,
    pub notify_newsletter: Option<bool>,
}

pub async fn update_settings(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    update: SettingsUpdate,
) -> AppResult<UserRow> {
    let name = update.name.map(|n| n.trim().to_string());
    if let Some(name) = &name
        && (name.chars().count() > 100 || name.chars().any(char::is_control))
    {
        return Err(AppError::validation(
            "name",
            "name must be at most 100 printable characters",
        ));
    }
    if let Some(language) = &update.language
        && !LANGUAGES.contains(&language.as_str())
    {
        return Err(AppError::validation(
            "language",
            format!("language must be one of {}", LANGUAGES.join(", ")),
        ));
    }
    if let Some(timezone) = &update.timezone
        && timezone.parse::<chrono_tz::Tz>().is_err()
    {
        return Err(AppError::validation(
            "timezone",
            "timezone must be an IANA name such as Asia/Jakarta",
        ));
    }
    let changes = UserSettingsChangeset {
        name,
        language: update.language,
        timezone: update.timezone,
        notify_order_updates: update.notify_order_updates,
        notify_deposits: update.notify_deposits,
        notify_tickets: update.notify_tickets,
        notify_newsletter: update.notify_newsletter,
    };
    conn.transaction(async |conn| {
        allow_empty_changeset(
            diesel::update(users::table.find(user_id))
                .set(&changes)
                .execute(conn)
                .await,
        )?;
        let user = UserRow::find(conn, user_id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        // The newsletter list follows the setting (and the setting the list).
        if let Some(on) = update.notify_newsletter {
            crate::domain::content::newsletter::follow_setting(conn, user_id, &user.email, on)
                .await?;
        }
        Ok(user)
    })
    .await
}

pub async fn set_role(
    conn: &mut AsyncPgConnection,
    actor_id: i64,
    user_id: i64,
    role: Role,
) -> AppResult<UserRow> {
    if actor_id == user_id && role != Role::Admin {
        return Err(AppError::validation(
            "role",
            "admins cannot demote themselves",
        ));
    }
    conn.transaction(async |conn| {
        let user = diesel::update(users::table.find(user_id))
            .set(users::role.eq(role))
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await
            .optional()?
            .ok_or(AppError::NotFound("user"))?;
        // The database announces the change (`notify_credentials_changed`): a
        // demoted admin's cached credential and open WebSockets lose the role at once.
        Ok(user)
    })
    .await
}

/// Sets a reseller's discount on list prices (basis points; see `domain::pricing`).
pub async fn set_discount(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    discount_bps: i32,
) -> AppResult<UserRow> {
    crate::domain::pricing::validate_discount(discount_bps)?;
    diesel::update(users::table.find(user_id))
        .set(users::discount_bps.eq(discount_bps))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("user"))
}

/// The longest private note on a user.
pub const MAX_ADMIN_NOTE_CHARS: usize = 4000;

/// Sets an admin's private note on a user (empty clears it).
pub async fn set_admin_note(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    note: &str,
) -> AppResult<UserRow> {
    let note = note.trim();
    if note.chars().count() > MAX_ADMIN_NOTE_CHARS {
        return Err(AppError::validation(
            "note",
            format!("a note is at most {MAX_ADMIN_NOTE_CHARS} characters"),
        ));
    }
    diesel::update(users::table.find(user_id))
        .set(users::admin_note.eq(note))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("user"))
}

/// Bans (with a reason) or unbans a user. A banned user's requests are refused.
pub async fn set_banned(
    conn: &mut AsyncPgConnection,
    actor_id: i64,
    user_id: i64,
    ban_reason: Option<&str>,
) -> AppResult<UserRow> {
    if actor_id == user_id {
        return Err(AppError::validation(
            "userId",
            "admins cannot ban themselves",
        ));
    }
    let reason = ban_reason.map(check_reason).transpose()?;
    let reason = reason.as_deref();
    conn.transaction(async |conn| {
        let user = diesel::update(users::table.find(user_id))
            .set((
                users::banned_at.eq(reason.map(|_| chrono::Utc::now())),
                users::ban_reason.eq(reason),
            ))
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await
            .optional()?
            .ok_or(AppError::NotFound("user"))?;
        if reason.is_some() {
            // A ban ends every session; API keys stay but are refused while banned.
            auth::revoke_all_sessions(conn, user_id).await?;
        }
        Ok(user)
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn email_validation() {
        assert!(super::validate_email("a@b.co").is_ok());
        assert!(super::validate_email(" admin@example.com ").is_ok());
        for bad in ["", "a", "a@b", "@b.co", "a b@c.co", "a@.co", "a@b."] {
            assert!(super::validate_email(bad).is_err(), "{bad}");
        }
    }
}
