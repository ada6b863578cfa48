//! Accounts: sign-in with Google (create or find the user), settings, roles and
//! bans here; email and password accounts in `email_links` (sign-up,
//! verification and reset links) and `sign_in` (password sign-in, its slow-down,
//! the sign-in history and sessions). Hashing is `auth::passwords`.

pub mod email_links;
pub mod sign_in;
pub mod staff_roles;
pub mod two_factor;

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::{
    auth,
    auth::google::GoogleIdentity,
    db::{
        enums::{Language, Role},
        users::{NewUser, UserRow, UserUpdate},
    },
    domain::text::check_reason,
    error::{AppError, AppResult, is_unique_violation},
};

pub async fn find_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> AppResult<Option<UserRow>> {
    Ok(UserRow::find_by_email(conn, email).await?)
}

/// Finds the user a verified Google identity belongs to, linking an account created
/// beforehand for the same email (e.g. an admin made with `booster user create`),
/// or creates a customer.
pub async fn sign_in_with_google(
    conn: &mut AsyncPgConnection,
    identity: &GoogleIdentity,
) -> AppResult<UserRow> {
    conn.transaction(async |conn| {
        if let Some(user) = UserRow::find_by_google_subject(conn, &identity.subject).await? {
            return Ok(user);
        }
        if let Some(user) = UserRow::find_by_email(conn, &identity.email).await? {
            if user.google_subject.is_some() {
                // The email moved to another Google account; keep the first link.
                return Err(AppError::conflict(
                    "this email is linked to another Google account",
                ));
            }
            let unproven = user.email_verified_at.is_none();
            let link = UserUpdate {
                google_subject: Some(identity.subject.clone()),
                // A name given by an admin stays; an empty one takes Google's.
                name: user.name.is_empty().then(|| identity.name.clone()),
                email_verified_at: unproven.then(|| Some(chrono::Utc::now())),
                // Whoever set a password on an address they never proved is not
                // its owner: Google just proved who is. Their password and
                // sessions end, so a pre-registered account cannot be taken over.
                password_hash: unproven.then_some(None),
                ..Default::default()
            };
            if unproven {
                auth::revoke_all_sessions(conn, user.id).await?;
            }
            return updated(UserRow::update(conn, user.id, &link).await?);
        }
        let user = NewUser {
            email: &identity.email,
            name: &identity.name,
            google_subject: Some(&identity.subject),
            role: Role::Customer,
            password_hash: None,
            language: Language::Id,
            // Google verified the address.
            email_verified_at: Some(chrono::Utc::now()),
        };
        Ok(UserRow::insert(conn, &user).await?)
    })
    .await
}

/// The row an update returned, or NOT_FOUND when there was no such user.
fn updated(row: Option<UserRow>) -> AppResult<UserRow> {
    row.ok_or(AppError::NotFound("user"))
}

/// Creates a user by email (the CLI's `user create`).
pub async fn create_user(
    conn: &mut AsyncPgConnection,
    email: &str,
    name: &str,
    role: Role,
) -> AppResult<UserRow> {
    let email = validate_email(email)?;
    let user = NewUser {
        email: &email,
        name,
        google_subject: None,
        role,
        password_hash: None,
        language: Language::Id,
        // An admin vouches for an account they create.
        email_verified_at: Some(chrono::Utc::now()),
    };
    UserRow::insert(conn, &user).await.map_err(|e| {
        if is_unique_violation(&e, "users_email_key") {
            AppError::conflict(format!("a user with email {email} exists"))
        } else {
            e.into()
        }
    })
}

pub(crate) fn validate_email(email: &str) -> AppResult<String> {
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

/// A person's name as they give it: trimmed, at most 100 printable characters.
pub(crate) fn check_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::validation(
            "name",
            "name must be at most 100 printable characters",
        ));
    }
    Ok(name.to_string())
}

/// Refuses deposits and orders from an account that has not proven its email,
/// unless `REQUIRE_VERIFIED_EMAIL` is off.
pub fn check_may_spend(user: &UserRow, config: &crate::config::AccountsConfig) -> AppResult<()> {
    if config.require_verified_email && user.email_verified_at.is_none() {
        return Err(AppError::forbidden(
            "verify your email address first (see requestEmailVerification)",
        ));
    }
    Ok(())
}

/// What `updateSettings` may change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct SettingsUpdate {
    pub name: Option<String>,
    /// `id` or `en`.
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
    let name = update.name.as_deref().map(check_name).transpose()?;
    let language = update
        .language
        .as_deref()
        .map(|text| {
            text.parse::<Language>().map_err(|_| {
                let choices: Vec<_> = Language::ALL.iter().map(|l| l.as_str()).collect();
                AppError::validation(
                    "language",
                    format!("language must be one of {}", choices.join(", ")),
                )
            })
        })
        .transpose()?;
    if let Some(timezone) = &update.timezone
        && timezone.parse::<chrono_tz::Tz>().is_err()
    {
        return Err(AppError::validation(
            "timezone",
            "timezone must be an IANA name such as Asia/Jakarta",
        ));
    }
    let changes = UserUpdate {
        name,
        language,
        timezone: update.timezone,
        notify_order_updates: update.notify_order_updates,
        notify_deposits: update.notify_deposits,
        notify_tickets: update.notify_tickets,
        notify_newsletter: update.notify_newsletter,
        ..Default::default()
    };
    conn.transaction(async |conn| {
        let user = updated(UserRow::update(conn, user_id, &changes).await?)?;
        // The newsletter list follows the setting (and the setting the list).
        if let Some(on) = update.notify_newsletter {
            crate::domain::content::newsletter::follow_setting(conn, user_id, &user.email, on)
                .await?;
        }
        Ok(user)
    })
    .await
}

/// Makes a user an OWNER, a STAFF member with `staff_role_id`, or a CUSTOMER.
/// Only an owner grants or takes away OWNER; nobody demotes themselves; the last
/// owner stays one. The database announces the change
/// (`notify_credentials_changed`): cached credentials and open WebSockets follow
/// at once.
pub async fn set_role(
    conn: &mut AsyncPgConnection,
    actor_id: i64,
    user_id: i64,
    role: Role,
    staff_role_id: Option<i64>,
) -> AppResult<UserRow> {
    if actor_id == user_id {
        return Err(AppError::validation(
            "role",
            "nobody changes their own role",
        ));
    }
    match (role, staff_role_id) {
        (Role::Staff, None) => {
            return Err(AppError::validation(
                "staffRoleId",
                "a staff member needs a staff role",
            ));
        }
        (Role::Owner | Role::Customer, Some(_)) => {
            return Err(AppError::validation(
                "staffRoleId",
                "only staff have a staff role",
            ));
        }
        _ => {}
    }
    conn.transaction(async |conn| {
        // Owners are counted one change at a time (the lock), so two demotions
        // cannot both pass the last-owner check.
        let owners = UserRow::active_owner_ids_for_update(conn).await?;
        let actor_is_owner = owners.contains(&actor_id);
        let target = UserRow::find_for_update(conn, user_id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        if (role == Role::Owner || target.role == Role::Owner) && !actor_is_owner {
            return Err(AppError::forbidden(
                "only an owner grants or takes away OWNER",
            ));
        }
        if target.role == Role::Owner && role != Role::Owner && owners == [user_id] {
            return Err(AppError::conflict("the last owner stays an owner"));
        }
        if let Some(id) = staff_role_id {
            crate::db::staff_roles::StaffRoleRow::find(conn, id)
                .await?
                .ok_or_else(|| AppError::validation("staffRoleId", "no such staff role"))?;
        }
        let change = UserUpdate {
            role: Some(role),
            staff_role_id: Some(staff_role_id),
            ..Default::default()
        };
        updated(UserRow::update(conn, user_id, &change).await?)
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
    let discount = UserUpdate {
        discount_bps: Some(discount_bps),
        ..Default::default()
    };
    updated(UserRow::update(conn, user_id, &discount).await?)
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
    let note = UserUpdate {
        admin_note: Some(note.to_string()),
        ..Default::default()
    };
    updated(UserRow::update(conn, user_id, &note).await?)
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
    let banned = reason.is_some();
    let ban = UserUpdate {
        banned_at: Some(reason.as_ref().map(|_| chrono::Utc::now())),
        ban_reason: Some(reason),
        ..Default::default()
    };
    conn.transaction(async |conn| {
        // Only an owner bans or unbans an owner, and never the last one.
        let owners = UserRow::active_owner_ids_for_update(conn).await?;
        let target = UserRow::find_for_update(conn, user_id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        if target.role == Role::Owner && !owners.contains(&actor_id) {
            return Err(AppError::forbidden("only an owner bans or unbans an owner"));
        }
        if banned && owners == [user_id] {
            return Err(AppError::conflict("the last owner cannot be banned"));
        }
        let user = updated(UserRow::update(conn, user_id, &ban).await?)?;
        if banned {
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
