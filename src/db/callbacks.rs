//! `order_callbacks` (a customer's callback URL and its encrypted signing secret)
//! and `callback_deliveries` (the outbox of order status changes to push there):
//! the rows, the queueing that rides on the status writer's NOTIFY statement, and
//! the outbox's claim (`FOR UPDATE SKIP LOCKED` with a lease, the earliest pending
//! delivery of each order only, so an order's changes arrive in order) and
//! outcomes. The rules are `domain::callbacks`'.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    claim::{Claim, leased},
    enums::CallbackDeliveryStatus,
    pagination::{KeysetPage, Paginated, paginate_keyset},
    schema::{callback_deliveries, order_callbacks},
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_callbacks, check_for_backend(diesel::pg::Pg))]
pub struct CallbackRow {
    pub user_id: i64,
    pub url: String,
    /// Never shown: the secret is handed out once, when it is made.
    pub secret_encrypted: Vec<u8>,
    pub paused_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CallbackRow {
    pub async fn find(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<Option<Self>> {
        order_callbacks::table
            .find(user_id)
            .select(CallbackRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The callbacks of `user_ids` (the outbox reads them for a batch).
    pub async fn for_users(
        conn: &mut AsyncPgConnection,
        user_ids: &[i64],
    ) -> QueryResult<Vec<Self>> {
        order_callbacks::table
            .filter(order_callbacks::user_id.eq_any(user_ids))
            .select(CallbackRow::as_select())
            .load(conn)
            .await
    }

    /// Sets the URL (and un-pauses it); a new secret replaces the old when given,
    /// and is required the first time.
    pub async fn upsert(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        url: &str,
        secret_encrypted: &[u8],
        replace_secret: bool,
    ) -> QueryResult<Self> {
        let insert = diesel::insert_into(order_callbacks::table).values((
            order_callbacks::user_id.eq(user_id),
            order_callbacks::url.eq(url),
            order_callbacks::secret_encrypted.eq(secret_encrypted),
        ));
        let now = diesel::dsl::now;
        if replace_secret {
            insert
                .on_conflict(order_callbacks::user_id)
                .do_update()
                .set((
                    order_callbacks::url.eq(url),
                    order_callbacks::secret_encrypted.eq(secret_encrypted),
                    order_callbacks::paused_at.eq(None::<DateTime<Utc>>),
                    order_callbacks::updated_at.eq(now),
                ))
                .returning(CallbackRow::as_returning())
                .get_result(conn)
                .await
        } else {
            insert
                .on_conflict(order_callbacks::user_id)
                .do_update()
                .set((
                    order_callbacks::url.eq(url),
                    order_callbacks::paused_at.eq(None::<DateTime<Utc>>),
                    order_callbacks::updated_at.eq(now),
                ))
                .returning(CallbackRow::as_returning())
                .get_result(conn)
                .await
        }
    }

    /// Replaces the secret of an existing callback; `None` when there is none.
    pub async fn set_secret(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        secret_encrypted: &[u8],
    ) -> QueryResult<Option<Self>> {
        diesel::update(order_callbacks::table.find(user_id))
            .set((
                order_callbacks::secret_encrypted.eq(secret_encrypted),
                order_callbacks::updated_at.eq(diesel::dsl::now),
            ))
            .returning(CallbackRow::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Removes the callback; its pending deliveries are dropped with it.
    pub async fn delete(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<bool> {
        diesel::delete(
            callback_deliveries::table
                .filter(callback_deliveries::user_id.eq(user_id))
                .filter(callback_deliveries::status.eq(CallbackDeliveryStatus::Pending)),
        )
        .execute(conn)
        .await?;
        let removed = diesel::delete(order_callbacks::table.find(user_id))
            .execute(conn)
            .await?;
        Ok(removed > 0)
    }

    /// Pauses the callback; `false` when it was paused already (or is gone).
    pub async fn pause(conn: &mut AsyncPgConnection, user_id: i64) -> QueryResult<bool> {
        let paused = diesel::update(
            order_callbacks::table
                .find(user_id)
                .filter(order_callbacks::paused_at.is_null()),
        )
        .set(order_callbacks::paused_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
        Ok(paused > 0)
    }
}

/// Queues a delivery for each status change among `changed_event_ids` whose
/// order's owner has an active callback, and announces all of `event_ids` on
/// the order channel: one statement, in the status writer's transaction, so a
/// delivery exists exactly when its change commits.
const QUEUE_AND_NOTIFY: &str = "\
WITH queued AS ( \
    INSERT INTO callback_deliveries (user_id, order_id, event_id) \
    SELECT o.user_id, o.id, e.id FROM order_events e \
    JOIN orders o ON o.id = e.order_id \
    JOIN order_callbacks c ON c.user_id = o.user_id AND c.paused_at IS NULL \
    WHERE e.id = ANY($2) \
    ORDER BY e.id \
    ON CONFLICT (event_id) DO NOTHING \
) \
SELECT pg_notify($1, id::text) FROM unnest($3::bigint[]) AS id";

/// See [`QUEUE_AND_NOTIFY`]; `channel` is `events::ORDER_CHANNEL`.
pub async fn queue_and_notify(
    conn: &mut AsyncPgConnection,
    channel: &str,
    changed_event_ids: &[i64],
    event_ids: &[i64],
) -> QueryResult<()> {
    use diesel::sql_types::{Array, BigInt, Text};
    diesel::sql_query(QUEUE_AND_NOTIFY)
        .bind::<Text, _>(channel)
        .bind::<Array<BigInt>, _>(changed_event_ids)
        .bind::<Array<BigInt>, _>(event_ids)
        .execute(conn)
        .await
        .map(drop)
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = callback_deliveries, check_for_backend(diesel::pg::Pg))]
pub struct DeliveryRow {
    pub id: i64,
    pub user_id: i64,
    pub order_id: i64,
    pub event_id: i64,
    pub status: CallbackDeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The claim: due pending deliveries of active callbacks, each the earliest
/// pending one of its order, leased until `$2` with one more attempt counted.
const CLAIM_DUE: &str = "\
UPDATE callback_deliveries d SET lease_until = $2, attempts = d.attempts + 1 \
WHERE d.id IN ( \
    SELECT d.id FROM callback_deliveries d \
    JOIN order_callbacks c ON c.user_id = d.user_id AND c.paused_at IS NULL \
    WHERE d.status = 'PENDING' AND d.next_attempt_at <= $1 \
      AND (d.lease_until IS NULL OR d.lease_until <= $1) \
      AND NOT EXISTS (SELECT 1 FROM callback_deliveries p \
                      WHERE p.order_id = d.order_id AND p.status = 'PENDING' AND p.id < d.id) \
    ORDER BY d.id LIMIT $3 \
    FOR UPDATE OF d SKIP LOCKED \
) RETURNING d.*";

impl DeliveryRow {
    /// Claims due deliveries (see [`CLAIM_DUE`]); run outside any transaction,
    /// the statement commits on its own.
    pub async fn claim_due(conn: &mut AsyncPgConnection, claim: Claim) -> QueryResult<Vec<Self>> {
        let mut rows: Vec<DeliveryRow> = leased(conn, CLAIM_DUE, claim).await?;
        rows.sort_by_key(|d| d.id);
        Ok(rows)
    }

    /// Records a 2xx answer; only the lease holder writes (`false` otherwise).
    pub async fn mark_delivered(
        conn: &mut AsyncPgConnection,
        id: i64,
        lease_until: DateTime<Utc>,
        status_code: i32,
    ) -> QueryResult<bool> {
        let updated = diesel::update(
            callback_deliveries::table
                .find(id)
                .filter(callback_deliveries::lease_until.eq(lease_until)),
        )
        .set((
            callback_deliveries::status.eq(CallbackDeliveryStatus::Delivered),
            callback_deliveries::delivered_at.eq(diesel::dsl::now),
            callback_deliveries::last_status_code.eq(status_code),
            callback_deliveries::last_error.eq(None::<String>),
            callback_deliveries::lease_until.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .await?;
        Ok(updated > 0)
    }

    /// Records a failed attempt: tried again at `retry_at`, or given up (`None`).
    pub async fn mark_failed_attempt(
        conn: &mut AsyncPgConnection,
        id: i64,
        lease_until: DateTime<Utc>,
        status_code: Option<i32>,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> QueryResult<bool> {
        let status = if retry_at.is_some() {
            CallbackDeliveryStatus::Pending
        } else {
            CallbackDeliveryStatus::Failed
        };
        let error: String = error.chars().take(500).collect();
        let updated = diesel::update(
            callback_deliveries::table
                .find(id)
                .filter(callback_deliveries::lease_until.eq(lease_until)),
        )
        .set((
            callback_deliveries::status.eq(status),
            callback_deliveries::last_status_code.eq(status_code),
            callback_deliveries::last_error.eq(error),
            callback_deliveries::next_attempt_at.eq(retry_at.unwrap_or_else(Utc::now)),
            callback_deliveries::lease_until.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .await?;
        Ok(updated > 0)
    }

    /// A customer's deliveries, newest first.
    pub async fn of_user(
        conn: &mut AsyncPgConnection,
        user_id: i64,
        page: KeysetPage,
    ) -> QueryResult<Paginated<Self>> {
        let build = move || {
            callback_deliveries::table
                .filter(callback_deliveries::user_id.eq(user_id))
                .select(DeliveryRow::as_select())
                .into_boxed()
        };
        paginate_keyset(conn, build, callback_deliveries::id, page).await
    }
}
