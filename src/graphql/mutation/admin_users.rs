//! Admin writes to user accounts (role, discount, ban and unban) and to staff
//! roles, each audited.

use async_graphql::{Context, ID, Object};

use crate::{
    db::{
        enums::{Permission, Role},
        users::UserRow,
    },
    domain::{
        accounts,
        audit::{AdminWrite, Subject, Work},
    },
    graphql::{
        admin_write, conn,
        error::GraphqlResult,
        guards::RoleGuard,
        parse_id, parse_opt_id,
        types::account::{StaffRole, User},
    },
};

#[derive(Default)]
pub struct AdminUserMutation;

#[Object]
impl AdminUserMutation {
    /// Creates a staff role, or (with `id`) renames one and replaces its
    /// permissions; its members' access changes at once.
    #[graphql(guard = "RoleGuard::Staff(Permission::Staff)")]
    async fn admin_save_staff_role(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        name: String,
        permissions: Vec<Permission>,
    ) -> GraphqlResult<StaffRole> {
        let id = parse_opt_id("id", id.as_ref())?;
        let row = admin_write(ctx, "staff_role.save")?
            .create(&mut *conn(ctx).await?, Subject::StaffRole, async |conn| {
                accounts::staff_roles::save(conn, id, &name, &permissions).await
            })
            .await?;
        Ok(StaffRole(row))
    }

    /// Makes a user an OWNER, a STAFF member with a staff role, or a CUSTOMER.
    /// Only an owner grants or takes away OWNER; the last owner stays one.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Staff)")]
    async fn admin_set_user_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: Role,
        #[graphql(
            desc = "The staff role (see adminStaffRoles); required for STAFF, absent otherwise."
        )]
        staff_role_id: Option<ID>,
    ) -> GraphqlResult<User> {
        let user_id = parse_id("userId", &user_id)?;
        let staff_role_id = parse_opt_id("staffRoleId", staff_role_id.as_ref())?;
        let write = admin_write(ctx, "user.set_role")?;
        change_user(ctx, write, user_id, async |conn| {
            accounts::set_role(conn, write.admin_id, user_id, role, staff_role_id).await
        })
        .await
    }

    /// Gives a reseller a discount on every list price, in basis points (1000 =
    /// 10.00%), in GraphQL and API v2 alike; a price never goes below the provider's
    /// cost (admins).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn admin_set_user_discount(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        discount_bps: i32,
    ) -> GraphqlResult<User> {
        let user_id = parse_id("userId", &user_id)?;
        let write = admin_write(ctx, "user.set_discount")?;
        change_user(ctx, write, user_id, async |conn| {
            accounts::set_discount(conn, user_id, discount_bps).await
        })
        .await
    }

    /// Suspends a user: every request they make is refused until unbanned.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn admin_ban_user(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        reason: String,
    ) -> GraphqlResult<User> {
        let user_id = parse_id("userId", &user_id)?;
        let write = admin_write(ctx, "user.ban")?.because(&reason);
        change_user(ctx, write, user_id, async |conn| {
            accounts::set_banned(conn, write.admin_id, user_id, Some(&reason)).await
        })
        .await
    }

    /// Lifts a ban (admins); the user can sign in and order again.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Users)")]
    async fn admin_unban_user(&self, ctx: &Context<'_>, user_id: ID) -> GraphqlResult<User> {
        let user_id = parse_id("userId", &user_id)?;
        let write = admin_write(ctx, "user.unban")?;
        change_user(ctx, write, user_id, async |conn| {
            accounts::set_banned(conn, write.admin_id, user_id, None).await
        })
        .await
    }
}

/// Runs `work` on the user `user_id` as the audited admin write `write` and answers
/// the user as it is now.
async fn change_user(
    ctx: &Context<'_>,
    write: AdminWrite<'_>,
    user_id: i64,
    work: impl for<'c> Work<'c, UserRow, Fut: Send> + Send,
) -> GraphqlResult<User> {
    let row = write
        .change(&mut *conn(ctx).await?, Subject::User, user_id, work)
        .await?;
    Ok(User(row))
}
