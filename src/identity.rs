//! Who a request runs as: the credential it proved itself with, the user behind
//! it and the [`Viewer`] every transport hands to the domain. A leaf below both
//! `auth` (which builds these from a bearer token) and `cache` (which keeps them
//! between requests), so neither has to import the other's concern.

use crate::{
    db::{enums::Role, users::UserRow},
    error::{AppError, AppResult},
};

/// How the current request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Session(i64),
    ApiKey(i64),
}

/// The signed-in user behind a request, as loaded when the request began.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: UserRow,
    pub credential: Credential,
}

impl AuthUser {
    pub fn id(&self) -> i64 {
        self.user.id
    }

    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// Whether this user may see what `owner_id` owns (an order, a deposit):
    /// its owner and admins may. The one rule for every transport.
    pub fn may_see(&self, owner_id: i64) -> bool {
        self.id() == owner_id || self.is_admin()
    }
}

/// Who is asking: nobody, or a user. Banned users are still identified here so the
/// guards can refuse them with a clear reason.
#[derive(Debug, Clone, Default)]
pub struct Viewer(pub Option<AuthUser>);

impl Viewer {
    /// The signed-in, non-banned user, or the matching error.
    pub fn require_user(&self) -> AppResult<&AuthUser> {
        let auth = self.0.as_ref().ok_or_else(AppError::unauthenticated)?;
        if auth.user.is_banned() {
            return Err(AppError::forbidden("this account is suspended"));
        }
        Ok(auth)
    }

    pub fn require_admin(&self) -> AppResult<&AuthUser> {
        let auth = self.require_user()?;
        if !auth.is_admin() {
            return Err(AppError::forbidden("admin role required"));
        }
        Ok(auth)
    }

    pub fn is_admin(&self) -> bool {
        self.require_admin().is_ok()
    }
}
