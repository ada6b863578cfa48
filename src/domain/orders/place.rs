//! Placing one order: one transaction inserts it, debits the charge (with its
//! ledger row), writes the first history row and publishes the event; stock
//! services take their items and complete at once. Also the one way an order's
//! status changes (`lock_order` + `record_status`), used by every other module.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::{
    drip,
    group_commit::{GroupCommit, duplicate_key},
    guard,
    prepare::check_idempotency_key,
    *,
};
use crate::{
    cache::Caches,
    config::OrdersConfig,
    db::users::UserRow,
    db::{
        enums::{Fulfillment, LedgerKind, OrderStatus},
        order_events::OrderEventRow,
        orders::{NewOrder, OrderRow},
        schema::orders,
    },
    domain::{catalog, pricing},
    domain::{
        stock,
        wallet::{self, LedgerRef},
    },
    error::{AppError, AppResult},
};

/// A retried request with the same key must be the same order.
fn same_request(order: &OrderRow, prepared: &PreparedOrder) -> AppResult<OrderRow> {
    if order.service_id != prepared.service_id
        || order.link != prepared.link
        || order.quantity != prepared.quantity
    {
        return Err(AppError::conflict(
            "this idempotencyKey was used for a different order",
        ));
    }
    Ok(order.clone())
}

/// The order, locked `FOR UPDATE` until the caller's transaction ends.
pub async fn lock_order(conn: &mut AsyncPgConnection, order_id: i64) -> AppResult<OrderRow> {
    OrderRow::find_for_update(conn, order_id)
        .await?
        .ok_or(AppError::NotFound("order"))
}

/// Writes a status change: the order row, its history row and the event, in the
/// caller's transaction (`changes::write_changes` with one change).
pub async fn record_status(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    status: OrderStatus,
    start_count: Option<i64>,
    remains: Option<i64>,
    note: &str,
) -> AppResult<(OrderRow, OrderEventRow)> {
    let change = StatusChange {
        start_count,
        remains,
        ..StatusChange::to(order, status, note)
    };
    write_changes(conn, vec![change])
        .await?
        .pop()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("status change not written")))
}

/// Places one order: validates everything first, then in one transaction inserts
/// the order, debits the charge, writes the first history row and publishes the
/// event (for a paid order from a provider or by hand, one statement:
/// `NewOrder::insert_paid`, or with other orders of the account arriving with it
/// in one group: `group_commit`). Stock services take their items and complete at
/// once (`own_max_discount_bps`: `OWN_PRODUCT_MAX_DISCOUNT_BPS`). The service comes from the catalogue cache (`catalog::listing`), which
/// forgets it on any change, so the price charged is the current one. The
/// same-link guard and a scheduled start follow `rules` (see `guard`); the
/// guard's unique index refuses a concurrent order on the link.
pub async fn place_order(
    conn: &mut AsyncPgConnection,
    caches: &Caches,
    group: &GroupCommit,
    buyer: &UserRow,
    input: OrderInput,
    own_max_discount_bps: i32,
    rules: &OrdersConfig,
) -> AppResult<OrderRow> {
    let user_id = buyer.id;
    let idempotency_key = check_idempotency_key(&input.idempotency_key)?;
    let mut service = catalog::listing::service(caches, conn, input.service_id)
        .await?
        .ok_or_else(|| AppError::validation("serviceId", "no such service"))?;
    pricing::buyer_prices(
        conn,
        std::slice::from_mut(&mut service),
        buyer.effective_discount_bps(),
        own_max_discount_bps,
    )
    .await?;
    let mut prepared = prepare(&service, &input)?;
    prepared.link_guard = guard::link_guard(&service, &prepared.link, rules.same_link_scope);
    prepared.scheduled_at = guard::scheduled_start(
        input.start_at,
        service.fulfillment,
        rules,
        chrono::Utc::now(),
    )?;
    if let Some(key) = &idempotency_key
        && let Some(existing) = OrderRow::find_by_idempotency_key(conn, user_id, key).await?
    {
        return same_request(&existing, &prepared);
    }
    let drip = drip::panel_plan(&service, &prepared.extra);
    let result =
        if prepared.fulfillment != Fulfillment::Stock && prepared.charge > 0 && drip.is_none() {
            let order = new_order(user_id, &prepared, idempotency_key.clone());
            group.place(conn, order).await
        } else {
            conn.transaction(async |conn| {
                insert_paid_order(conn, user_id, &prepared, idempotency_key.clone(), drip).await
            })
            .await
        };
    if result.is_ok() {
        metrics::counter!(crate::metrics::ORDERS_PLACED).increment(1);
    }
    match result {
        // A concurrent retry with the same key won the race: answer with its order.
        Err(AppError::Conflict(_)) if idempotency_key.is_some() => {
            let key = idempotency_key.as_deref().unwrap_or_default();
            let existing = OrderRow::find_by_idempotency_key(conn, user_id, key)
                .await?
                .ok_or_else(|| AppError::conflict("duplicate order"))?;
            same_request(&existing, &prepared)
        }
        other => other,
    }
}

fn new_order(user_id: i64, prepared: &PreparedOrder, idempotency_key: Option<String>) -> NewOrder {
    NewOrder {
        user_id,
        service_id: prepared.service_id,
        mass_order_id: None,
        link: prepared.link.clone(),
        quantity: prepared.quantity,
        price_per_1000: prepared.price_per_1000,
        charge: prepared.charge,
        status: OrderStatus::Pending,
        extra: prepared.extra.clone(),
        remains: Some(prepared.quantity),
        provider_id: prepared.provider_id,
        provider_service_id: prepared.provider_service_id.clone(),
        idempotency_key,
        link_guard: prepared.link_guard.clone(),
        scheduled_at: prepared.scheduled_at,
        next_attempt_at: prepared.scheduled_at,
    }
}

/// A paid order in the caller's transaction, step by step: stock products,
/// free orders and drip-feeds the panel runs (`drip`: its plan, started here).
async fn insert_paid_order(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    prepared: &PreparedOrder,
    idempotency_key: Option<String>,
    drip: Option<drip::DripPlan>,
) -> AppResult<OrderRow> {
    let order: OrderRow = diesel::insert_into(orders::table)
        .values(new_order(user_id, prepared, idempotency_key))
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await
        .map_err(duplicate_key)?;
    if order.charge > 0 {
        let reference = LedgerRef {
            order_id: Some(order.id),
            ..Default::default()
        };
        wallet::debit(
            conn,
            user_id,
            order.charge,
            LedgerKind::OrderCharge,
            &reference,
        )
        .await?;
    }
    if prepared.fulfillment == Fulfillment::Stock {
        stock::take(conn, prepared.service_id, order.id, order.quantity).await?;
        let (order, _) = record_status(
            conn,
            &order,
            OrderStatus::Completed,
            None,
            Some(0),
            "delivered from stock",
        )
        .await?;
        return Ok(order);
    }
    if let Some(plan) = drip {
        let first_run_at = prepared.scheduled_at.unwrap_or_else(chrono::Utc::now);
        return drip::start(conn, &order, plan, first_run_at).await;
    }
    let (order, _) = record_status(
        conn,
        &order,
        OrderStatus::Pending,
        None,
        None,
        "order placed",
    )
    .await?;
    Ok(order)
}
