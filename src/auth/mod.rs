//! Authentication and access: Google ID-token verification, password hashing
//! (`passwords`), sign-in sessions, API keys, and the [`Viewer`] every request runs as. Roles are enforced by the GraphQL
//! guards (`graphql::guards`) from the viewer built here.

pub mod google;
pub mod passwords;
pub mod tokens;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{
    cache::{CachedCredential, Caches},
    db::{
        PgPool,
        api_keys::{ApiKeyRow, NewApiKey},
        schema::{api_keys, sessions, users},
        sessions::NewSession,
        users::UserRow,
    },
    error::{AppError, AppResult},
};

pub use crate::identity::{AuthUser, Credential, Viewer};

/// Extracts the token from an `Authorization: Bearer ...` header value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Resolves a bearer token (session token or API key) to its user. Unknown, expired
/// and revoked tokens are an error rather than anonymous access, so a client with a
/// stale token learns it at once.
///
/// A token resolved before is answered from the credential cache (see `cache`):
/// every change that could take access away (a revocation, a ban, a role or
/// any other account change) empties the user's entries as PostgreSQL announces
/// it, and a session's expiry is checked here. Once a minute per credential the
/// lookup runs anyway, to refresh `last_used_at`.
pub async fn authenticate(caches: &Caches, pool: &PgPool, token: &str) -> AppResult<AuthUser> {
    // A token that cannot be one of ours is refused without a database lookup.
    if !tokens::well_formed(token) {
        return Err(rejected());
    }
    let token_hash = tokens::hash(token);
    let cache = caches.credentials();
    if let Some(entry) = cache.get(&token_hash)
        && entry.expires_at.is_none_or(|at| at > Utc::now())
        && entry.last_used_at.is_some_and(|at| !stale(at))
    {
        return Ok(entry.auth);
    }
    let generation = cache.generation();
    let mut conn = pool.get().await?;
    let entry = look_up(&mut conn, token, &token_hash).await?;
    let auth = entry.auth.clone();
    cache.insert(generation, token_hash, entry);
    Ok(auth)
}

/// Whether `authenticate` would answer `token` from the cache, with no lookup.
pub fn is_cached(caches: &Caches, token: &str) -> bool {
    tokens::well_formed(token)
        && caches
            .credentials()
            .get(&tokens::hash(token))
            .is_some_and(|entry| {
                entry.expires_at.is_none_or(|at| at > Utc::now())
                    && entry.last_used_at.is_some_and(|at| !stale(at))
            })
}

fn rejected() -> AppError {
    AppError::Unauthenticated("invalid, expired or revoked token".into())
}

/// The credential as the database has it, with `last_used_at` refreshed when
/// it is more than a minute old.
async fn look_up(
    conn: &mut AsyncPgConnection,
    token: &str,
    token_hash: &[u8],
) -> AppResult<CachedCredential> {
    if token.starts_with(tokens::API_KEY_PREFIX) {
        let found: Option<(ApiKeyRow, UserRow)> = api_keys::table
            .inner_join(users::table)
            .filter(api_keys::key_hash.eq(token_hash))
            .filter(api_keys::revoked_at.is_null())
            .select((ApiKeyRow::as_select(), UserRow::as_select()))
            .first(conn)
            .await
            .optional()?;
        let (key, user) = found.ok_or_else(rejected)?;
        let mut last_used_at = key.last_used_at;
        if last_used_at.is_none_or(stale) {
            last_used_at = Some(
                diesel::update(api_keys::table.find(key.id))
                    .set(api_keys::last_used_at.eq(diesel::dsl::now))
                    .returning(api_keys::last_used_at.assume_not_null())
                    .get_result(conn)
                    .await?,
            );
        }
        let permissions = permissions_of(conn, &user).await?;
        Ok(CachedCredential {
            auth: AuthUser {
                user,
                credential: Credential::ApiKey(key.id),
                permissions,
            },
            expires_at: None,
            last_used_at,
        })
    } else {
        let found: Option<(crate::db::sessions::SessionRow, UserRow)> = sessions::table
            .inner_join(users::table)
            .filter(sessions::token_hash.eq(token_hash))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(diesel::dsl::now))
            .select((
                crate::db::sessions::SessionRow::as_select(),
                UserRow::as_select(),
            ))
            .first(conn)
            .await
            .optional()?;
        let (session, user) = found.ok_or_else(rejected)?;
        let mut last_used_at = session.last_used_at;
        if stale(last_used_at) {
            last_used_at = diesel::update(sessions::table.find(session.id))
                .set(sessions::last_used_at.eq(diesel::dsl::now))
                .returning(sessions::last_used_at)
                .get_result(conn)
                .await?;
        }
        let permissions = permissions_of(conn, &user).await?;
        Ok(CachedCredential {
            auth: AuthUser {
                user,
                credential: Credential::Session(session.id),
                permissions,
            },
            expires_at: Some(session.expires_at),
            last_used_at: Some(last_used_at),
        })
    }
}

/// A staff member's permissions, from their staff role (none for anyone else).
async fn permissions_of(
    conn: &mut AsyncPgConnection,
    user: &UserRow,
) -> AppResult<Vec<crate::db::enums::Permission>> {
    let Some(role_id) = user.staff_role_id else {
        return Ok(Vec::new());
    };
    let role = crate::db::staff_roles::StaffRoleRow::find(conn, role_id).await?;
    Ok(role.map(|r| r.permission_set()).unwrap_or_default())
}

/// `last_used_at` is refreshed at most once a minute: a write per request would
/// serialize a busy API key's requests on one row.
fn stale(last_used: DateTime<Utc>) -> bool {
    Utc::now() - last_used > chrono::Duration::minutes(1)
}

/// A new session for `user_id`; returns the token, which is not stored anywhere.
pub async fn create_session(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    ttl: std::time::Duration,
) -> AppResult<(String, DateTime<Utc>)> {
    let token = tokens::generate(tokens::SESSION_PREFIX);
    let expires_at = Utc::now() + chrono::Duration::from_std(ttl).map_err(AppError::internal)?;
    diesel::insert_into(sessions::table)
        .values(NewSession {
            user_id,
            token_hash: &tokens::hash(&token),
            expires_at,
        })
        .execute(conn)
        .await?;
    Ok((token, expires_at))
}

/// Revokes one session. The database announces it (`notify_credentials_changed`):
/// caches forget it and the user's open WebSockets re-check their credential.
pub async fn revoke_session(conn: &mut AsyncPgConnection, session_id: i64) -> AppResult<()> {
    diesel::update(sessions::table.find(session_id))
        .filter(sessions::revoked_at.is_null())
        .set(sessions::revoked_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes every session of a user (an admin banned them), in the caller's
/// transaction; announced like [`revoke_session`].
pub async fn revoke_all_sessions(conn: &mut AsyncPgConnection, user_id: i64) -> AppResult<()> {
    diesel::update(sessions::table)
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .set(sessions::revoked_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}

pub const MAX_API_KEYS_PER_USER: i64 = 20;

/// Creates an API key; the full key is returned once and only its hash is kept.
pub async fn create_api_key(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    name: &str,
) -> AppResult<(ApiKeyRow, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::validation(
            "name",
            "name must be 1 to 64 characters",
        ));
    }
    let active: i64 = api_keys::table
        .filter(api_keys::user_id.eq(user_id))
        .filter(api_keys::revoked_at.is_null())
        .count()
        .get_result(conn)
        .await?;
    if active >= MAX_API_KEYS_PER_USER {
        return Err(AppError::conflict(format!(
            "at most {MAX_API_KEYS_PER_USER} active API keys; revoke one first"
        )));
    }
    let key = tokens::generate(tokens::API_KEY_PREFIX);
    let prefix: String = key.chars().take(tokens::API_KEY_SHOWN_CHARS).collect();
    let row = diesel::insert_into(api_keys::table)
        .values(NewApiKey {
            user_id,
            name,
            prefix: &prefix,
            key_hash: &tokens::hash(&key),
        })
        .returning(ApiKeyRow::as_returning())
        .get_result(conn)
        .await?;
    Ok((row, key))
}

pub async fn list_api_keys(
    conn: &mut AsyncPgConnection,
    user_id: i64,
) -> AppResult<Vec<ApiKeyRow>> {
    Ok(api_keys::table
        .filter(api_keys::user_id.eq(user_id))
        .order(api_keys::id.desc())
        .select(ApiKeyRow::as_select())
        .load(conn)
        .await?)
}

/// Revokes one of the owner's keys. Another user's key is NOT_FOUND, never FORBIDDEN,
/// so key ids cannot be probed.
pub async fn revoke_api_key(
    conn: &mut AsyncPgConnection,
    owner_id: i64,
    key_id: i64,
) -> AppResult<ApiKeyRow> {
    let key: ApiKeyRow = api_keys::table
        .filter(api_keys::id.eq(key_id))
        .filter(api_keys::user_id.eq(owner_id))
        .select(ApiKeyRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("API key"))?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    Ok(diesel::update(api_keys::table.find(key_id))
        .set(api_keys::revoked_at.eq(diesel::dsl::now))
        .returning(ApiKeyRow::as_returning())
        .get_result(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_bearer_header() {
        assert_eq!(super::bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(super::bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(super::bearer_token("Basic abc"), None);
        assert_eq!(super::bearer_token("Bearer "), None);
    }
}
