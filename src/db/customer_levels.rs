//! `customer_levels` and the level columns of `users`: the levels, a user's
//! totals, and the one set-based statement that gives users the best level they
//! have reached (raising, never lowering, a level an admin chose).

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{Array, BigInt},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    enums::{LedgerKind, LevelBasis},
    schema::{customer_levels, users},
};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = customer_levels, check_for_backend(diesel::pg::Pg))]
pub struct LevelRow {
    pub id: i64,
    pub name: String,
    pub discount_bps: i32,
    pub basis: LevelBasis,
    pub threshold: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

super::reads_by_id!(LevelRow, customer_levels);

/// A level as an admin writes it.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = customer_levels)]
pub struct LevelForm {
    pub name: String,
    pub discount_bps: i32,
    pub basis: LevelBasis,
    pub threshold: i64,
}

/// What a user has deposited and spent, whole rupiah.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct Totals {
    #[diesel(sql_type = BigInt)]
    pub deposits: i64,
    #[diesel(sql_type = BigInt)]
    pub spent: i64,
}

/// The totals as the ledger says: DEPOSIT entries, and charges less refunds.
const TOTALS: &str = "SELECT COALESCE(sum(amount) FILTER (WHERE kind = 'DEPOSIT'), 0)::bigint AS deposits, \
     COALESCE(-sum(amount) FILTER (WHERE kind IN ('ORDER_CHARGE', 'REFUND', 'MANUAL_REFUND')), 0)::bigint AS spent \
     FROM ledger_entries WHERE user_id = $1";

impl LevelRow {
    pub async fn insert(conn: &mut AsyncPgConnection, form: &LevelForm) -> QueryResult<Self> {
        diesel::insert_into(customer_levels::table)
            .values(form)
            .returning(LevelRow::as_returning())
            .get_result(conn)
            .await
    }

    /// Rewrites a level and the discount its users carry.
    pub async fn update(
        conn: &mut AsyncPgConnection,
        id: i64,
        form: &LevelForm,
    ) -> QueryResult<Self> {
        let row = diesel::update(customer_levels::table.find(id))
            .set(form)
            .returning(LevelRow::as_returning())
            .get_result(conn)
            .await?;
        diesel::update(users::table.filter(users::level_id.eq(id)))
            .set(users::level_discount_bps.eq(row.discount_bps))
            .execute(conn)
            .await?;
        Ok(row)
    }

    /// Every level, smallest discount first.
    pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Self>> {
        customer_levels::table
            .order((
                customer_levels::discount_bps,
                customer_levels::threshold,
                customer_levels::id,
            ))
            .select(LevelRow::as_select())
            .load(conn)
            .await
    }

    pub async fn totals_of(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<Totals> {
        diesel::sql_query(TOTALS)
            .bind::<BigInt, _>(user_id)
            .get_result(conn)
            .await
    }

    /// Sets a user's level by hand (`None`: back to what money earns, from the
    /// next recompute on).
    pub async fn set_for_user(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        level: Option<&LevelRow>,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(user_id))
            .set((
                users::level_id.eq(level.map(|l| l.id)),
                users::level_discount_bps.eq(level.map_or(0, |l| l.discount_bps)),
                users::level_set_by_admin.eq(level.is_some()),
            ))
            .execute(conn)
            .await
    }

    /// Users whose spending changed since `since` (a charge or a refund), when any
    /// level is earned by spending.
    pub async fn spenders_since(
        conn: &mut AsyncPgConnection,
        since: DateTime<Utc>,
    ) -> QueryResult<Vec<i64>> {
        use super::schema::ledger_entries;
        let by_spending: bool = diesel::select(diesel::dsl::exists(
            customer_levels::table.filter(customer_levels::basis.eq(LevelBasis::TotalSpent)),
        ))
        .get_result(conn)
        .await?;
        if !by_spending {
            return Ok(Vec::new());
        }
        ledger_entries::table
            .filter(ledger_entries::created_at.ge(since))
            .filter(ledger_entries::kind.eq_any([
                LedgerKind::OrderCharge,
                LedgerKind::Refund,
                LedgerKind::ManualRefund,
            ]))
            .select(ledger_entries::user_id)
            .distinct()
            .load(conn)
            .await
    }

    /// Gives each of `user_ids` the best level their totals reach (largest
    /// discount), in one statement: a level an admin chose is only ever raised
    /// (and is then the earned one); no user row is written when nothing changes.
    pub async fn recompute(conn: &mut AsyncPgConnection, user_ids: &[i64]) -> QueryResult<usize> {
        diesel::sql_query(
            "WITH totals AS ( \
               SELECT u.id, \
                 COALESCE(sum(l.amount) FILTER (WHERE l.kind = 'DEPOSIT'), 0) AS deposits, \
                 COALESCE(-sum(l.amount) FILTER (WHERE l.kind IN ('ORDER_CHARGE', 'REFUND', 'MANUAL_REFUND')), 0) AS spent \
               FROM users u LEFT JOIN ledger_entries l ON l.user_id = u.id \
               WHERE u.id = ANY($1) GROUP BY u.id), \
             best AS ( \
               SELECT DISTINCT ON (t.id) t.id AS user_id, c.id AS level_id, c.discount_bps \
               FROM totals t JOIN customer_levels c \
                 ON (c.basis = 'TOTAL_DEPOSITS' AND t.deposits >= c.threshold) \
                 OR (c.basis = 'TOTAL_SPENT' AND t.spent >= c.threshold) \
               ORDER BY t.id, c.discount_bps DESC, c.threshold DESC, c.id) \
             UPDATE users u SET level_id = b.level_id, level_discount_bps = b.discount_bps, \
               level_set_by_admin = false \
             FROM best b \
             WHERE u.id = b.user_id AND u.level_id IS DISTINCT FROM b.level_id \
               AND (NOT u.level_set_by_admin OR b.discount_bps > u.level_discount_bps)",
        )
        .bind::<Array<BigInt>, _>(user_ids)
        .execute(conn)
        .await
    }
}
