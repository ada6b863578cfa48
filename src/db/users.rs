//! `users`: accounts, their role, ban state, balance and settings.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    contains_pattern,
    enums::{Language, Role},
    pagination::{KeysetPage, Paginated, paginate_keyset},
    schema::users,
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, QueryableByName)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub google_subject: Option<String>,
    pub role: Role,
    pub banned_at: Option<DateTime<Utc>>,
    pub ban_reason: Option<String>,
    pub balance: i64,
    pub language: Language,
    pub timezone: String,
    pub notify_order_updates: bool,
    pub notify_deposits: bool,
    pub notify_tickets: bool,
    pub notify_newsletter: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The reseller discount on list prices, basis points (see `domain::pricing`).
    pub discount_bps: i32,
    /// An admin's private note; customers never see it.
    pub admin_note: String,
    /// argon2id, as a PHC string; `None` for an account that signs in with Google only.
    pub password_hash: Option<String>,
    pub email_verified_at: Option<DateTime<Utc>>,
    /// Wrong passwords in a row (reset by a successful sign-in).
    pub failed_sign_ins: i32,
    /// No password is checked before this time (see `domain::accounts::sign_in`).
    pub sign_in_delayed_until: Option<DateTime<Utc>>,
    /// The TOTP secret, sealed with `SecretBox`; set from `enableTotp` on.
    pub totp_secret_encrypted: Option<Vec<u8>>,
    /// When the secret was confirmed: from then on sign-ins ask for a code.
    pub totp_enabled_at: Option<DateTime<Utc>>,
    /// The last TOTP time step accepted (a code is accepted once).
    pub totp_last_step: Option<i64>,
    /// A STAFF user's role (what they may do); `None` for owners and customers.
    pub staff_role_id: Option<i64>,
    /// The customer level (see `domain::levels`).
    pub level_id: Option<i64>,
    /// The level's discount, kept here so prices come from the row at hand.
    pub level_discount_bps: i32,
    /// An admin chose the level: money moving may raise it, never lower it.
    pub level_set_by_admin: bool,
}

super::reads_by_id!(UserRow, users);

impl UserRow {
    pub fn is_banned(&self) -> bool {
        self.banned_at.is_some()
    }

    /// The discount this buyer gets: the better of their own and their level's.
    pub fn effective_discount_bps(&self) -> i32 {
        self.discount_bps.max(self.level_discount_bps)
    }
}

impl UserRow {
    /// The user's balance, its row locked until the transaction ends with the
    /// strength an UPDATE takes (`FOR NO KEY UPDATE`: rows that only reference
    /// the user, such as new orders, are not held up). `None`: no such user.
    pub async fn lock_balance(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<i64>> {
        users::table
            .find(id)
            .select(users::balance)
            .for_no_key_update()
            .first(conn)
            .await
            .optional()
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub google_subject: Option<&'a str>,
    pub role: Role,
    pub password_hash: Option<&'a str>,
    pub language: Language,
    pub email_verified_at: Option<DateTime<Utc>>,
}

/// The update form: each `Some` sets its column, `None` leaves it alone. Settings
/// the user changes about themselves and what an admin changes share it.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub google_subject: Option<String>,
    pub language: Option<Language>,
    pub timezone: Option<String>,
    pub notify_order_updates: Option<bool>,
    pub notify_deposits: Option<bool>,
    pub notify_tickets: Option<bool>,
    pub notify_newsletter: Option<bool>,
    pub role: Option<Role>,
    pub discount_bps: Option<i32>,
    pub admin_note: Option<String>,
    /// `Some(None)` lifts a ban.
    pub banned_at: Option<Option<DateTime<Utc>>>,
    pub ban_reason: Option<Option<String>>,
    pub password_hash: Option<Option<String>>,
    pub email_verified_at: Option<Option<DateTime<Utc>>>,
    pub totp_secret_encrypted: Option<Option<Vec<u8>>>,
    pub totp_enabled_at: Option<Option<DateTime<Utc>>>,
    pub totp_last_step: Option<Option<i64>>,
    pub staff_role_id: Option<Option<i64>>,
}

impl UserRow {
    /// The user with this email, compared without case.
    pub async fn find_by_email(
        conn: &mut AsyncPgConnection,
        email: &str,
    ) -> QueryResult<Option<UserRow>> {
        users::table
            .filter(lower(users::email).eq(email.to_lowercase()))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The user a Google account (its stable `sub`) is linked to.
    pub async fn find_by_google_subject(
        conn: &mut AsyncPgConnection,
        subject: &str,
    ) -> QueryResult<Option<UserRow>> {
        users::table
            .filter(users::google_subject.eq(subject))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn insert(conn: &mut AsyncPgConnection, user: &NewUser<'_>) -> QueryResult<UserRow> {
        diesel::insert_into(users::table)
            .values(user)
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Applies `changes` and returns the row as it now is (`None`: no such user).
    /// A form naming no column is a no-op that still returns the row.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        changes: &UserUpdate,
    ) -> QueryResult<Option<UserRow>> {
        let updated = diesel::update(users::table.find(id))
            .set(changes)
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await
            .optional();
        match updated {
            Err(error) if super::is_empty_changeset(&error) => UserRow::find(conn, id).await,
            other => other,
        }
    }
}

impl UserRow {
    /// Counts a wrong password, atomically: past `free_failures` in a row the
    /// account waits `2^(failures - free_failures)` seconds (at most `max_delay`)
    /// before its next password is even checked.
    pub async fn count_failed_sign_in(
        conn: &mut AsyncPgConnection,
        id: i64,
        free_failures: i32,
        max_delay: std::time::Duration,
    ) -> QueryResult<usize> {
        diesel::sql_query(
            "UPDATE users SET failed_sign_ins = failed_sign_ins + 1, \
               sign_in_delayed_until = CASE WHEN failed_sign_ins + 1 >= $2 \
                 THEN now() + make_interval(secs => LEAST(power(2, LEAST(failed_sign_ins + 1 - $2, 30)), $3)) \
                 ELSE sign_in_delayed_until END \
             WHERE id = $1",
        )
        .bind::<diesel::sql_types::BigInt, _>(id)
        .bind::<diesel::sql_types::Integer, _>(free_failures)
        .bind::<diesel::sql_types::Double, _>(max_delay.as_secs_f64())
        .execute(conn)
        .await
    }

    /// Accepts TOTP time step `step` once: true only for the first caller with a
    /// step later than any accepted before (a replayed code finds none).
    pub async fn accept_totp_step(
        conn: &mut AsyncPgConnection,
        id: i64,
        step: i64,
    ) -> QueryResult<bool> {
        let updated = diesel::update(users::table.find(id))
            .filter(
                users::totp_last_step
                    .is_null()
                    .or(users::totp_last_step.lt(step)),
            )
            .set(users::totp_last_step.eq(step))
            .execute(conn)
            .await?;
        Ok(updated == 1)
    }

    /// The ids of owners who are not banned, locked until the transaction ends.
    pub async fn active_owner_ids_for_update(
        conn: &mut AsyncPgConnection,
    ) -> QueryResult<Vec<i64>> {
        users::table
            .filter(users::role.eq(Role::Owner))
            .filter(users::banned_at.is_null())
            .select(users::id)
            .order(users::id)
            .for_update()
            .load(conn)
            .await
    }

    /// Forgets past failures after a successful sign-in.
    pub async fn clear_failed_sign_ins(
        conn: &mut AsyncPgConnection,
        id: i64,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .filter(
                users::failed_sign_ins
                    .gt(0)
                    .or(users::sign_in_delayed_until.is_not_null()),
            )
            .set((
                users::failed_sign_ins.eq(0),
                users::sign_in_delayed_until.eq(None::<DateTime<Utc>>),
            ))
            .execute(conn)
            .await
    }
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Which users an admin list shows.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    /// Text the email or name contains, or the user's id.
    pub search: Option<String>,
    pub role: Option<Role>,
    pub banned: Option<bool>,
}

impl UserRow {
    /// Users matching `filter`, newest first.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        filter: &UserFilter,
        page: KeysetPage,
    ) -> QueryResult<Paginated<UserRow>> {
        let pattern = contains_pattern(filter.search.as_deref());
        // A search that is a number (or `#123`) also finds the user with that id.
        let id: i64 = filter
            .search
            .as_deref()
            .map(|s| s.trim().trim_start_matches('#'))
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1);
        let build = || {
            let mut q = users::table.select(UserRow::as_select()).into_boxed();
            if let Some(pattern) = &pattern {
                q = q.filter(
                    users::email
                        .ilike(pattern.clone())
                        .or(users::name.ilike(pattern.clone()))
                        .or(users::id.eq(id)),
                );
            }
            if let Some(role) = filter.role {
                q = q.filter(users::role.eq(role));
            }
            match filter.banned {
                Some(true) => q = q.filter(users::banned_at.is_not_null()),
                Some(false) => q = q.filter(users::banned_at.is_null()),
                None => {}
            }
            q
        };
        paginate_keyset(conn, build, users::id, page).await
    }
}

/// What an admin sees about a customer at a glance, from the ledger, orders,
/// keys and sessions.
#[derive(Debug, Clone, QueryableByName)]
pub struct UserStats {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub user_id: i64,
    /// Credited deposits, all time.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub lifetime_deposits: i64,
    /// Order charges less refunds, all time.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub spend: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub order_count: i64,
    /// The last use of any of their API keys or sessions.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl UserStats {
    /// The figures of many users in one statement.
    pub async fn for_users(
        conn: &mut AsyncPgConnection,
        user_ids: &[i64],
    ) -> QueryResult<Vec<UserStats>> {
        let query = diesel::sql_query(
            "SELECT u.id AS user_id, \
               COALESCE((SELECT sum(amount) FROM ledger_entries l \
                 WHERE l.user_id = u.id AND l.kind = 'DEPOSIT'), 0)::bigint AS lifetime_deposits, \
               COALESCE((SELECT -sum(amount) FROM ledger_entries l \
                 WHERE l.user_id = u.id AND l.kind IN ('ORDER_CHARGE', 'REFUND', 'MANUAL_REFUND')), 0)::bigint AS spend, \
               (SELECT count(*) FROM orders o WHERE o.user_id = u.id) AS order_count, \
               GREATEST((SELECT max(last_used_at) FROM api_keys k WHERE k.user_id = u.id), \
                        (SELECT max(last_used_at) FROM sessions s WHERE s.user_id = u.id)) AS last_seen_at \
             FROM users u WHERE u.id = ANY($1)",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(user_ids);
        diesel_async::RunQueryDsl::load(query, conn).await
    }
}
