//! Who a request runs as: the credential it proved itself with, the user behind
//! it and the [`Viewer`] every transport hands to the domain. A leaf below both
//! `auth` (which builds these from a bearer token) and `cache` (which keeps them
//! between requests), so neither has to import the other's concern.

use crate::{
    db::{
        enums::{Permission, Role},
        users::UserRow,
    },
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
    /// A STAFF user's permissions, from their staff role when the credential was
    /// loaded (a change to the role announces every user: see `cache`).
    pub permissions: Vec<Permission>,
}

impl AuthUser {
    pub fn id(&self) -> i64 {
        self.user.id
    }

    /// An owner or a staff member: someone who works on the panel.
    pub fn is_staff(&self) -> bool {
        matches!(self.user.role, Role::Owner | Role::Staff)
    }

    /// Whether this user may work in `permission`'s area: owners everywhere,
    /// staff where their role says (ORDERS includes ORDERS_READ).
    pub fn can(&self, permission: Permission) -> bool {
        match self.user.role {
            Role::Owner => true,
            Role::Staff => {
                self.permissions.contains(&permission)
                    || (permission == Permission::OrdersRead
                        && self.permissions.contains(&Permission::Orders))
            }
            Role::Customer => false,
        }
    }

    /// Whether this user may see what `owner_id` owns (an order, a deposit):
    /// its owner, and staff who may read that area (`permission`). The one rule
    /// for every transport.
    pub fn may_see(&self, owner_id: i64, permission: Permission) -> bool {
        self.id() == owner_id || self.can(permission)
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

    /// The signed-in owner or staff member.
    pub fn require_staff(&self) -> AppResult<&AuthUser> {
        let auth = self.require_user()?;
        if !auth.is_staff() {
            return Err(AppError::forbidden("staff only"));
        }
        Ok(auth)
    }

    /// The signed-in user who may work in `permission`'s area.
    pub fn require_permission(&self, permission: Permission) -> AppResult<&AuthUser> {
        let auth = self.require_user()?;
        if !auth.can(permission) {
            return Err(AppError::forbidden(format!(
                "the {permission} permission is required"
            )));
        }
        Ok(auth)
    }

    /// Whether the viewer may work in `permission`'s area (anonymous: no).
    pub fn can(&self, permission: Permission) -> bool {
        self.require_permission(permission).is_ok()
    }
}
