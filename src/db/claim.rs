//! One claim of due rows by a worker: what "due" is measured against, how long
//! the claim leases the rows, and how many it takes. The outboxes' claims are
//! single `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`
//! statements that commit on their own, so two workers never hold one row and
//! no lock outlives the statement; [`leased`] runs one with this claim bound.

use chrono::{DateTime, Utc};
use diesel::{QueryResult, QueryableByName, pg::Pg};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// The claim statement of an outbox table (`status`, `next_attempt_at`,
/// `lease_until`, `attempts`): its due PENDING rows in `$order`, leased with one
/// more attempt counted.
macro_rules! outbox_claim {
    ($table:literal, $order:literal) => {
        concat!(
            "UPDATE ",
            $table,
            " SET lease_until = $2, attempts = attempts + 1 ",
            "WHERE id IN (SELECT id FROM ",
            $table,
            " ",
            "WHERE status = 'PENDING' AND next_attempt_at <= $1 ",
            "AND (lease_until IS NULL OR lease_until <= $1) ",
            "ORDER BY ",
            $order,
            " LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING *"
        )
    };
}
pub(crate) use outbox_claim;

#[derive(Debug, Clone, Copy)]
pub struct Claim {
    /// Rows due at or before this instant, with no live lease at it.
    pub now: DateTime<Utc>,
    /// The lease the claimed rows get.
    pub lease_until: DateTime<Utc>,
    pub limit: i64,
}

/// Runs a claim statement written with `$1` (now), `$2` (lease until) and `$3`
/// (limit); outside a transaction it commits on its own.
pub async fn leased<R>(
    conn: &mut AsyncPgConnection,
    statement: &'static str,
    claim: Claim,
) -> QueryResult<Vec<R>>
where
    R: QueryableByName<Pg> + Send + 'static,
{
    use diesel::sql_types::{BigInt, Timestamptz};
    diesel::sql_query(statement)
        .bind::<Timestamptz, _>(claim.now)
        .bind::<Timestamptz, _>(claim.lease_until)
        .bind::<BigInt, _>(claim.limit)
        .load(conn)
        .await
}
