//! Mass orders: many orders from one text (pipe lines or CSV), every line
//! validated and reported by line number, placed all-or-nothing or valid lines
//! only, and debited once under one `mass_orders` row. Parsing and preparing the
//! lines are pure (tested without a database); only the write touches it.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::{guard, *};
use crate::{
    config::{OrdersConfig, SameLinkScope},
    db::users::UserRow,
    db::{
        ROWS_PER_INSERT,
        enums::{Fulfillment, LedgerKind, OrderStatus, ServiceType},
        mass_orders::MassOrderRow,
        order_events::{NewOrderEvent, OrderEventRow},
        orders::{NewOrder, OrderRow},
        schema::{mass_orders, order_events, orders},
        services::ServiceRow,
    },
    domain::pricing,
    domain::wallet::{self, LedgerRef},
    error::{AppError, AppResult},
    events,
};
use std::collections::{HashMap, HashSet};

pub use super::mass_text::{LineError, MAX_MASS_ORDER_LINES};
use super::mass_text::{RawLine, read_lines};

#[derive(Debug)]
pub struct MassOrderOutcome {
    pub mass_order: Option<MassOrderRow>,
    pub placed: usize,
    pub total_charge: i64,
    pub errors: Vec<LineError>,
}

/// Places many orders from one text. Every line is validated first and reported by
/// line number; `all_or_nothing` places nothing when any line is bad, otherwise the
/// valid lines are placed. The total is debited once, under one MassOrder row.
/// Three steps: read the lines ([`read_lines`]), prepare each against its service
/// at the buyer's prices ([`prepare_lines`], pure), and write the batch with one
/// debit ([`write_mass_order`]).
pub async fn place_mass_order(
    conn: &mut AsyncPgConnection,
    buyer: &UserRow,
    text: &str,
    all_or_nothing: bool,
    own_max_discount_bps: i32,
    rules: &OrdersConfig,
) -> AppResult<MassOrderOutcome> {
    let (lines, errors) = read_lines(text)?;
    let ids: Vec<i64> = lines
        .iter()
        .filter_map(|l| l.service.parse().ok())
        .collect();
    let mut services = ServiceRow::load_many(conn, &ids).await?;
    let discount = buyer.effective_discount_bps();
    pricing::buyer_prices(conn, &mut services, discount, own_max_discount_bps).await?;
    let services: HashMap<i64, ServiceRow> = services.into_iter().map(|s| (s.id, s)).collect();
    let guard = LinkGuard {
        scope: rules.same_link_scope,
        active: OrderRow::active_link_guards(conn, buyer.id).await?,
    };
    let batch = prepare_lines(&lines, &services, errors, &guard)?;
    if batch.orders.is_empty() || (all_or_nothing && !batch.errors.is_empty()) {
        return Ok(MassOrderOutcome {
            mass_order: None,
            placed: 0,
            total_charge: 0,
            errors: batch.errors,
        });
    }
    let mass_order = write_mass_order(conn, buyer.id, &batch, all_or_nothing).await?;
    metrics::counter!(crate::metrics::ORDERS_PLACED).increment(mass_order.order_count as u64);
    Ok(MassOrderOutcome {
        placed: mass_order.order_count as usize,
        mass_order: Some(mass_order),
        total_charge: batch.total_charge,
        errors: batch.errors,
    })
}

/// A mass order's lines once prepared: the orders to place, the lines refused
/// (by line number) and what the orders cost together.
#[derive(Debug)]
struct PreparedBatch {
    orders: Vec<PreparedOrder>,
    errors: Vec<LineError>,
    total_charge: i64,
}

/// Prepares each line against its service (`services`, at the buyer's prices),
/// adding each refused line to `errors`. Pure: reads nothing. Only a total beyond
/// `i64` (or an error that is not the line's fault) fails the whole batch.
fn prepare_lines(
    lines: &[RawLine],
    services: &HashMap<i64, ServiceRow>,
    mut errors: Vec<LineError>,
    guard: &LinkGuard,
) -> AppResult<PreparedBatch> {
    let mut orders = Vec::with_capacity(lines.len());
    let mut guarded = HashSet::new();
    for raw in lines {
        match prepare_line(raw, services, guard) {
            // A second line on a link the batch already orders is refused like
            // an order on a link with an active order.
            Ok(order)
                if order
                    .link_guard
                    .as_ref()
                    .is_some_and(|k| !guarded.insert(k.clone())) =>
            {
                errors.push(active_link_line(raw.line));
            }
            Ok(order) => orders.push(order),
            Err(LineFault::Line(error)) => errors.push(error),
            Err(LineFault::Batch(error)) => return Err(error),
        }
    }
    errors.sort_by_key(|e| e.line);
    let total_charge = orders
        .iter()
        .try_fold(0i64, |sum, p| sum.checked_add(p.charge))
        .ok_or_else(|| AppError::validation("text", "mass order total is too large"))?;
    Ok(PreparedBatch {
        orders,
        errors,
        total_charge,
    })
}

/// Why a line was not prepared: its own fault, or one that stops the batch.
enum LineFault {
    Line(LineError),
    Batch(AppError),
}

/// One line: a known service sold by mass order (no extra fields, not stock), a
/// whole quantity, and everything [`prepare`] checks.
fn prepare_line(
    raw: &RawLine,
    services: &HashMap<i64, ServiceRow>,
    guard: &LinkGuard,
) -> Result<PreparedOrder, LineFault> {
    let fail = |field: &str, message: String| {
        LineFault::Line(LineError {
            line: raw.line,
            field: field.into(),
            message,
        })
    };
    let Some(service) = raw
        .service
        .parse::<i64>()
        .ok()
        .and_then(|id| services.get(&id))
    else {
        return Err(fail("serviceId", format!("no service {:?}", raw.service)));
    };
    let Ok(quantity) = raw.quantity.parse::<i64>() else {
        return Err(fail(
            "quantity",
            format!("quantity {:?} is not a whole number", raw.quantity),
        ));
    };
    if !matches!(
        service.service_type,
        ServiceType::Default | ServiceType::Package
    ) {
        return Err(fail(
            "serviceId",
            "this service needs extra fields (comments, usernames, ...): order it with placeOrder"
                .into(),
        ));
    }
    if service.fulfillment == Fulfillment::Stock {
        return Err(fail(
            "serviceId",
            "stock products are bought with placeOrder".into(),
        ));
    }
    let input = OrderInput {
        service_id: service.id,
        link: raw.link.clone(),
        quantity: Some(quantity),
        extras: OrderExtras::default(),
        idempotency_key: None,
        start_at: None,
    };
    let mut order = prepare(service, &input).map_err(|error| match error {
        AppError::Validation { field, message } => fail(&field, message),
        other => LineFault::Batch(other),
    })?;
    order.link_guard = guard::link_guard(service, &order.link, guard.scope);
    if order
        .link_guard
        .as_ref()
        .is_some_and(|k| guard.active.contains(k))
    {
        return Err(LineFault::Line(active_link_line(raw.line)));
    }
    Ok(order)
}

/// The same-link guard as a batch sees it: the scope, and the caller's keys
/// already held by active orders (read once before the lines are prepared).
struct LinkGuard {
    scope: SameLinkScope,
    active: HashSet<String>,
}

fn active_link_line(line: usize) -> LineError {
    LineError {
        line,
        field: "link".into(),
        message: guard::ACTIVE_LINK_MESSAGE.into(),
    }
}

/// Writes a prepared batch in one transaction: the MassOrder row, the one debit
/// of the total (with its ledger row, once per mass order by the ledger's unique
/// index), the orders, their first history rows and their events.
async fn write_mass_order(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    batch: &PreparedBatch,
    all_or_nothing: bool,
) -> AppResult<MassOrderRow> {
    let rejected = batch.errors.len() as i32;
    let total_charge = batch.total_charge;
    conn.transaction(async |conn| {
        let mass_order: MassOrderRow = diesel::insert_into(mass_orders::table)
            .values((
                mass_orders::user_id.eq(user_id),
                mass_orders::order_count.eq(batch.orders.len() as i32),
                mass_orders::rejected_count.eq(rejected),
                mass_orders::total_charge.eq(total_charge),
                mass_orders::all_or_nothing.eq(all_or_nothing),
            ))
            .returning(MassOrderRow::as_returning())
            .get_result(conn)
            .await?;
        if total_charge > 0 {
            let reference = LedgerRef {
                mass_order_id: Some(mass_order.id),
                ..Default::default()
            };
            wallet::debit(
                conn,
                user_id,
                total_charge,
                LedgerKind::OrderCharge,
                &reference,
            )
            .await?;
        }
        let placed = insert_orders(conn, user_id, mass_order.id, &batch.orders).await?;
        insert_first_events(conn, &placed, mass_order.id).await?;
        AppResult::Ok(mass_order)
    })
    .await
}

/// The orders of a mass order, PENDING, in multi-row inserts.
async fn insert_orders(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    mass_order_id: i64,
    orders: &[PreparedOrder],
) -> AppResult<Vec<OrderRow>> {
    let rows: Vec<NewOrder> = orders
        .iter()
        .map(|p| NewOrder {
            user_id,
            service_id: p.service_id,
            mass_order_id: Some(mass_order_id),
            link: p.link.clone(),
            quantity: p.quantity,
            price_per_1000: p.price_per_1000,
            charge: p.charge,
            status: OrderStatus::Pending,
            extra: p.extra.clone(),
            remains: Some(p.quantity),
            provider_id: p.provider_id,
            provider_service_id: p.provider_service_id.clone(),
            idempotency_key: None,
            link_guard: p.link_guard.clone(),
            scheduled_at: None,
            next_attempt_at: None,
        })
        .collect();
    let mut placed: Vec<OrderRow> = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        placed.extend(
            diesel::insert_into(orders::table)
                .values(chunk)
                .returning(OrderRow::as_returning())
                .get_results::<OrderRow>(conn)
                .await
                .map_err(|error| {
                    // Another request took a link between the read and this write.
                    if crate::error::is_unique_violation(&error, guard::ACTIVE_LINK_INDEX) {
                        guard::active_link_error()
                    } else {
                        error.into()
                    }
                })?,
        );
    }
    Ok(placed)
}

/// Each placed order's first history row and its event.
async fn insert_first_events(
    conn: &mut AsyncPgConnection,
    placed: &[OrderRow],
    mass_order_id: i64,
) -> AppResult<()> {
    let history: Vec<NewOrderEvent> = placed
        .iter()
        .map(|o| NewOrderEvent {
            order_id: o.id,
            status: OrderStatus::Pending,
            start_count: None,
            remains: o.remains,
            note: format!("placed in mass order {mass_order_id}"),
        })
        .collect();
    let mut event_rows: Vec<OrderEventRow> = Vec::with_capacity(history.len());
    for chunk in history.chunks(ROWS_PER_INSERT) {
        event_rows.extend(
            diesel::insert_into(order_events::table)
                .values(chunk)
                .returning(OrderEventRow::as_returning())
                .get_results::<OrderEventRow>(conn)
                .await?,
        );
    }
    let event_ids: Vec<i64> = event_rows.iter().map(|r| r.id).collect();
    events::publish(conn, &event_ids).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::prepare::tests::service;
    use super::*;

    /// Service 1: Twitter, DEFAULT, 15,840 per 1000, 10 to 10,000 in tens;
    /// 2: comments; 3: stock; 4: a package.
    fn catalogue() -> HashMap<i64, ServiceRow> {
        let with = |id, service_type, fulfillment| {
            let mut row = ServiceRow {
                id,
                ..service(service_type)
            };
            row.spec.fulfillment = fulfillment;
            row
        };
        [
            with(1, ServiceType::Default, Fulfillment::Provider),
            with(2, ServiceType::CustomComments, Fulfillment::Provider),
            with(3, ServiceType::Default, Fulfillment::Stock),
            with(4, ServiceType::Package, Fulfillment::Manual),
        ]
        .into_iter()
        .map(|s| (s.id, s))
        .collect()
    }

    /// The guard as a buyer with no active order sees it.
    fn no_guard() -> LinkGuard {
        LinkGuard {
            scope: SameLinkScope::Service,
            active: HashSet::new(),
        }
    }

    fn prepared(text: &str) -> AppResult<PreparedBatch> {
        let (lines, errors) = read_lines(text)?;
        prepare_lines(&lines, &catalogue(), errors, &no_guard())
    }

    fn faults(batch: &PreparedBatch) -> Vec<(usize, &str)> {
        batch
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_str()))
            .collect()
    }

    #[test]
    fn good_lines_are_prepared_and_totalled() {
        let batch =
            prepared("1|x.com/a|1000\n4|https://x.com/b|10\n1|https://x.com/c|10\n").unwrap();
        assert!(batch.errors.is_empty());
        let charges: Vec<i64> = batch.orders.iter().map(|o| o.charge).collect();
        assert_eq!(charges, [15_840, 159, 159]);
        assert_eq!(batch.total_charge, 15_840 + 159 + 159);
        assert_eq!(batch.orders[0].link, "https://x.com/a");
    }

    #[test]
    fn bad_lines_are_reported_by_line_and_field() {
        let text = "\
9|https://x.com/a|100
1|https://x.com/a|ten
2|https://x.com/a|100
3|https://x.com/a|100
1|https://instagram.com/a|100
1|https://x.com/a|15
1|https://x.com/ok|100
";
        let batch = prepared(text).unwrap();
        assert_eq!(
            faults(&batch),
            [
                (1, "serviceId"),
                (2, "quantity"),
                (3, "serviceId"),
                (4, "serviceId"),
                (5, "link"),
                (6, "quantity")
            ]
        );
        assert_eq!(batch.errors[0].message, "no service \"9\"");
        assert_eq!(batch.orders.len(), 1);
        assert_eq!(batch.total_charge, 1584);
    }

    #[test]
    fn unreadable_lines_are_reported_with_the_rest_validated() {
        let batch =
            prepared("1|https://x.com/a\n1|https://x.com/b|15\n1|https://x.com/c|20\n").unwrap();
        // The structural error and the line errors, in line order.
        assert_eq!(faults(&batch), [(1, "line"), (2, "quantity")]);
        assert_eq!(batch.orders.len(), 1);
    }

    #[test]
    fn empty_and_oversized_texts_are_refused_whole() {
        for text in ["", " \n\n "] {
            assert!(
                matches!(read_lines(text), Err(AppError::Validation { field, .. }) if field == "text")
            );
        }
        let long = "1|https://x.com/a|100\n".repeat(MAX_MASS_ORDER_LINES + 1);
        assert!(
            matches!(read_lines(&long), Err(AppError::Validation { field, .. }) if field == "text")
        );
        assert_eq!(
            read_lines(&long[..long.len() - 22]).unwrap().0.len(),
            MAX_MASS_ORDER_LINES
        );
    }

    #[test]
    fn a_total_beyond_rupiah_fails_the_batch() {
        let mut services = catalogue();
        let dear = services.get_mut(&1).unwrap();
        dear.price_per_1000 = i64::MAX / 2;
        dear.max_quantity = 1000;
        let (lines, errors) =
            read_lines("1|https://x.com/a|1000\n1|https://x.com/b|1000\n1|https://x.com/c|1000\n")
                .unwrap();
        let refused = prepare_lines(&lines, &services, errors, &no_guard()).unwrap_err();
        assert!(matches!(refused, AppError::Validation { field, .. } if field == "text"));
    }
}
