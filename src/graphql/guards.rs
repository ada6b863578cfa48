//! Role guards, attached to every field that needs a signed-in user or staff.
//! Every staff field names the permission it needs (`Staff(Permission::...)`);
//! `tests/structure.rs` fails on an `admin*` field without one.
//!
//! With `REQUIRE_STAFF_TOTP`, a staff member's session without two-factor
//! sign-in passes only `Myself` (enough to set it up); their API keys are for
//! programs and keep working.

use async_graphql::{Context, Guard};

use super::{error::GraphqlError, state, viewer};
use crate::{
    auth::{AuthUser, Credential},
    db::enums::Permission,
    error::{AppError, AppResult},
};

pub enum RoleGuard {
    /// Any signed-in user who is not banned, for their own account's security
    /// (a staff session that must still set up two-factor sign-in passes).
    Myself,
    /// Any signed-in user who is not banned.
    User,
    /// An owner, or a staff member whose role has the permission.
    Staff(Permission),
    /// Any owner or staff member (what every staff member needs, such as the
    /// staff notification feed).
    AnyStaff,
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let viewer = viewer(ctx);
        let result = match self {
            RoleGuard::Myself => viewer.require_user().map(|_| ()),
            RoleGuard::User => viewer
                .require_user()
                .and_then(|user| second_factor_in_place(ctx, user)),
            RoleGuard::Staff(permission) => viewer
                .require_permission(*permission)
                .and_then(|user| second_factor_in_place(ctx, user)),
            RoleGuard::AnyStaff => viewer
                .require_staff()
                .and_then(|user| second_factor_in_place(ctx, user)),
        };
        result.map_err(|e| GraphqlError::from(e).into())
    }
}

/// Refuses a staff session without two-factor sign-in when the panel requires it.
fn second_factor_in_place(ctx: &Context<'_>, user: &AuthUser) -> AppResult<()> {
    let required = state(ctx).config.accounts.require_staff_totp;
    let session = matches!(user.credential, Credential::Session(_));
    if required && session && user.is_staff() && user.user.totp_enabled_at.is_none() {
        return Err(AppError::forbidden(
            "staff must set up two-factor sign-in first (enableTotp, then confirmTotp)",
        ));
    }
    Ok(())
}
