//! Drip-feed run by the panel. A drip-feed order (`runs` deliveries of
//! `quantity`, `interval` minutes apart) on a service with `dripfeed_by_panel` is
//! not sent upstream as one order: booster places each run as an order of its own
//! (a *run*, in `drip_feed_runs`), through the normal dispatch path, so a provider
//! without drip-feed (MedanPedia-style APIs) or a manual service can sell it.
//!
//! Money: the customer pays the whole feed when placing it (one ORDER_CHARGE row).
//! Each run takes its share of the order's `charge` with it (the order keeps what
//! is left for the runs not placed; `drip_feeds.total_charge` keeps the whole), so
//! every rupiah is in exactly one order's `charge`, reports add up without knowing
//! about runs, and each refund has its own order: a failed or partial run is
//! refunded on the run (once, by the ledger's index), and a cancel refunds the
//! runs not placed on the drip-feed order (once, likewise).
//!
//! Crash safety: a run is placed in one transaction with the feed's progress, on
//! rows claimed `FOR UPDATE SKIP LOCKED`, and `drip_feed_runs` allows one order
//! per run number, so no run is ever placed twice.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};

use super::{Refund, StatusChange, write_changes};
use crate::{
    db::{
        drip_feeds::{DripFeedRow, DripFeedRunRow},
        enums::{Fulfillment, LedgerKind, OrderStatus},
        orders::{NewOrder, OrderRow},
        schema::orders,
        services::ServiceRow,
    },
    error::{AppError, AppResult},
};

/// The fields of `extra` that describe the drip-feed itself.
const PLAN_FIELDS: [&str; 3] = ["runs", "interval", "quantity_per_run"];

/// The runs of a drip-feed order as the customer asked for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DripPlan {
    pub runs: i32,
    pub interval_minutes: i32,
    pub quantity_per_run: i64,
}

impl DripPlan {
    /// The plan an order's `extra` holds (`runs`, `interval`, `quantity_per_run`),
    /// if it is a drip-feed order.
    pub fn of_extra(extra: &Value) -> Option<DripPlan> {
        let field = |name| extra.get(name).and_then(Value::as_i64);
        Some(DripPlan {
            runs: i32::try_from(field("runs")?).ok()?,
            interval_minutes: i32::try_from(field("interval")?).ok()?,
            quantity_per_run: field("quantity_per_run")?,
        })
    }
}

/// Whether customers may ask `service` for drip-feed: its provider runs it, or
/// the panel does. Stock products are delivered at once and never drip-fed.
pub fn offers_dripfeed(service: &ServiceRow) -> bool {
    service.fulfillment != Fulfillment::Stock && (service.dripfeed || service.dripfeed_by_panel)
}

/// The plan the panel runs for an order on `service` with `extra`: `None` when
/// the order is no drip-feed or its provider runs the drip-feed.
pub fn panel_plan(service: &ServiceRow, extra: &Value) -> Option<DripPlan> {
    service
        .dripfeed_by_panel
        .then(|| DripPlan::of_extra(extra))
        .flatten()
}

/// The share of the next run: what is left for the runs not placed, split
/// evenly and rounded down; the last run takes the rest, so the runs add up to
/// what was paid exactly.
pub fn run_share(left: i64, runs_left: i32) -> i64 {
    if runs_left <= 1 {
        left.max(0)
    } else {
        left.max(0) / i64::from(runs_left)
    }
}

/// The fields a run is sent with: the order's, without the drip-feed's own.
pub fn run_extra(extra: &Value) -> Value {
    let mut extra = extra.clone();
    if let Some(fields) = extra.as_object_mut() {
        for name in PLAN_FIELDS {
            fields.remove(name);
        }
    }
    extra
}

/// How a drip-feed order ends once no run is left open: what its runs delivered
/// (a completed run all of it, a partial run all but its remains, others
/// nothing; runs never placed nothing) decides COMPLETED, PARTIAL or CANCELED,
/// and the order's remains.
pub fn outcome(total_quantity: i64, runs: &[&OrderRow]) -> (OrderStatus, i64) {
    let delivered: i64 = runs
        .iter()
        .map(|run| match run.status {
            OrderStatus::Completed => run.quantity,
            OrderStatus::Partial => run.quantity - run.remains.unwrap_or(0).clamp(0, run.quantity),
            _ => 0,
        })
        .sum();
    let remains = (total_quantity - delivered).max(0);
    let status = if remains == 0 {
        OrderStatus::Completed
    } else if delivered == 0 {
        OrderStatus::Canceled
    } else {
        OrderStatus::Partial
    };
    (status, remains)
}

/// Starts a drip-feed order the panel runs, in its placing transaction: the
/// feed's plan, the first run due at `first_run_at`, and the order IN_PROGRESS
/// (dispatch sends only PENDING orders, so the order itself never goes upstream).
pub async fn start(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    plan: DripPlan,
    first_run_at: DateTime<Utc>,
) -> AppResult<OrderRow> {
    DripFeedRow::insert(
        conn,
        &DripFeedRow {
            order_id: order.id,
            runs: plan.runs,
            interval_minutes: plan.interval_minutes,
            quantity_per_run: plan.quantity_per_run,
            total_charge: order.charge,
            runs_placed: 0,
            next_run_at: Some(first_run_at),
            stopped_at: None,
            created_at: Utc::now(),
        },
    )
    .await?;
    let note = format!(
        "drip-feed: {} runs of {}, every {} minutes",
        plan.runs, plan.quantity_per_run, plan.interval_minutes
    );
    let change = StatusChange::to(order, OrderStatus::InProgress, note);
    let (order, _) = write_changes(conn, vec![change])
        .await?
        .pop()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("drip-feed start not written")))?;
    Ok(order)
}

/// What one round of the drip-feed job did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DripRound {
    /// Runs placed (each now PENDING for dispatch).
    pub runs_placed: usize,
    /// Drip-feed orders that took their final status.
    pub finished: usize,
}

/// Places the runs that are due, up to `limit`, in one transaction: each run's
/// order (PENDING, so the next dispatch round sends it), its share of the charge
/// moved from the drip-feed order, the feed's progress, and a history row on
/// both orders.
pub async fn place_due_runs(conn: &mut AsyncPgConnection, limit: i64) -> AppResult<usize> {
    conn.transaction(async |conn| {
        let due = DripFeedRow::claim_due(conn, limit).await?;
        let mut changes = Vec::with_capacity(due.len() * 2);
        for (feed, order) in &due {
            if order.status != OrderStatus::InProgress {
                // Ended by an admin in the meantime: nothing more to run.
                DripFeedRow::stop(conn, feed.order_id).await?;
                continue;
            }
            let (run, order) = place_run(conn, feed, order).await?;
            let number = feed.runs_placed + 1;
            changes.push(StatusChange::to(
                &run,
                OrderStatus::Pending,
                format!("run {number} of {} of order {}", feed.runs, order.id),
            ));
            changes.push(StatusChange::to(
                &order,
                OrderStatus::InProgress,
                format!("run {number} of {} placed: order {}", feed.runs, run.id),
            ));
        }
        let placed = changes.len() / 2;
        write_changes(conn, changes).await?;
        Ok(placed)
    })
    .await
}

/// One run of `feed` (locked with its `order`): the run's order, its record in
/// `drip_feed_runs`, its share taken from the drip-feed order, and the feed's
/// progress. Returns the run and the drip-feed order as they now stand.
async fn place_run(
    conn: &mut AsyncPgConnection,
    feed: &DripFeedRow,
    order: &OrderRow,
) -> AppResult<(OrderRow, OrderRow)> {
    let number = feed.runs_placed + 1;
    let share = run_share(order.charge - order.refunded, feed.runs - feed.runs_placed);
    let run: OrderRow = diesel::insert_into(orders::table)
        .values(NewOrder {
            user_id: order.user_id,
            service_id: order.service_id,
            mass_order_id: None,
            link: order.link.clone(),
            quantity: feed.quantity_per_run,
            price_per_1000: order.price_per_1000,
            charge: share,
            status: OrderStatus::Pending,
            extra: run_extra(&order.extra),
            remains: Some(feed.quantity_per_run),
            provider_id: order.provider_id,
            provider_service_id: order.provider_service_id.clone(),
            idempotency_key: None,
            // The drip-feed order holds the same-link guard for all its runs.
            link_guard: None,
            scheduled_at: None,
            next_attempt_at: None,
        })
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await?;
    DripFeedRunRow::insert(
        conn,
        &DripFeedRunRow {
            order_id: run.id,
            parent_order_id: order.id,
            run_number: number,
        },
    )
    .await?;
    let order: OrderRow = diesel::update(orders::table.find(order.id))
        .set(orders::charge.eq(orders::charge - share))
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await?;
    let next_run_at = (number < feed.runs)
        .then(|| Utc::now() + Duration::minutes(i64::from(feed.interval_minutes)));
    DripFeedRow::record_run(conn, feed.order_id, number, next_run_at).await?;
    Ok((run, order))
}

/// Gives each drip-feed order that will place no more runs and whose runs have
/// all ended its final status (see [`outcome`]), up to `limit`, in one
/// transaction. No money moves here: runs were refunded on their own, and the
/// runs not placed when the customer canceled.
pub async fn finish_ended(conn: &mut AsyncPgConnection, limit: i64) -> AppResult<usize> {
    conn.transaction(async |conn| {
        let ended = DripFeedRow::claim_ended(conn, limit).await?;
        if ended.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = ended.iter().map(|(feed, _)| feed.order_id).collect();
        let runs = DripFeedRunRow::with_orders_of(conn, &ids).await?;
        let changes: Vec<StatusChange> = ended
            .iter()
            .map(|(feed, order)| {
                let own: Vec<&OrderRow> = runs
                    .iter()
                    .filter(|(run, _)| run.parent_order_id == order.id)
                    .map(|(_, run)| run)
                    .collect();
                let (status, remains) = outcome(order.quantity, &own);
                StatusChange {
                    remains: Some(remains),
                    ..StatusChange::to(
                        order,
                        status,
                        format!(
                            "drip-feed ended: {} of {} runs placed",
                            feed.runs_placed, feed.runs
                        ),
                    )
                }
            })
            .collect();
        let finished = changes.len();
        write_changes(conn, changes).await?;
        Ok(finished)
    })
    .await
}

/// Stops the runs of `order` (locked by the caller) not placed yet and refunds
/// their share: what the order's `charge` still holds. Nothing placed yet: the
/// order is CANCELED at once; otherwise it stays IN_PROGRESS until its runs end.
/// `None` when `order` is no drip-feed run by the panel. A feed already stopped
/// or fully placed is a CONFLICT (its runs are canceled one by one).
pub async fn stop(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    actor_id: Option<i64>,
) -> AppResult<Option<OrderRow>> {
    let Some(feed) = DripFeedRow::find_for_update(conn, order.id).await? else {
        return Ok(None);
    };
    if feed.stopped_at.is_some() {
        return Err(AppError::conflict(
            "this drip-feed order was canceled already",
        ));
    }
    if feed.next_run_at.is_none() {
        return Err(AppError::conflict(
            "every run of this drip-feed order has been placed; cancel its runs instead",
        ));
    }
    DripFeedRow::stop(conn, order.id).await?;
    let amount = order.charge - order.refunded;
    let not_placed = feed.runs - feed.runs_placed;
    let note = format!("canceled: {not_placed} runs not placed (refunded {amount} rupiah)");
    let refund = (amount > 0).then(|| Refund {
        amount,
        kind: LedgerKind::Refund,
        actor_id,
        note: format!("{not_placed} drip-feed runs not placed"),
    });
    let change = if feed.runs_placed == 0 {
        StatusChange {
            remains: Some(order.quantity),
            refund,
            ..StatusChange::to(order, OrderStatus::Canceled, note)
        }
    } else {
        StatusChange {
            refund,
            ..StatusChange::to(order, order.status, note)
        }
    };
    let (order, _) = write_changes(conn, vec![change])
        .await?
        .pop()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("drip-feed stop not written")))?;
    Ok(Some(order))
}

/// The plan fields of a drip-feed order's `extra`, as `prepare` writes them.
pub fn plan_extra(runs: i64, interval: i64, quantity_per_run: i64) -> [(&'static str, Value); 3] {
    [
        ("runs", json!(runs)),
        ("interval", json!(interval)),
        ("quantity_per_run", json!(quantity_per_run)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::orders::tests::order;

    fn run(status: OrderStatus, quantity: i64, remains: Option<i64>) -> OrderRow {
        OrderRow {
            quantity,
            remains,
            ..order(status)
        }
    }

    #[test]
    fn the_shares_of_the_runs_add_up_to_the_charge_exactly() {
        for (charge, runs) in [(10_000, 3), (7, 5), (0, 4), (1_000_001, 1000), (99, 2)] {
            let mut left = charge;
            let mut shares = Vec::new();
            for placed in 0..runs {
                let share = run_share(left, runs - placed);
                left -= share;
                shares.push(share);
            }
            assert_eq!(shares.iter().sum::<i64>(), charge, "{charge} over {runs}");
            assert_eq!(left, 0);
            let (min, max) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
            // Even to the rupiah but for the last run, which takes the rest.
            assert!(
                shares[..shares.len() - 1]
                    .iter()
                    .all(|s| s == min || s == max)
            );
        }
        assert_eq!(run_share(10_000, 3), 3333);
        assert_eq!(run_share(6667, 1), 6667);
    }

    #[test]
    fn a_run_is_sent_without_the_drip_feed_fields() {
        let extra = json!({"runs": 3, "interval": 30, "quantity_per_run": 100, "comments": "a"});
        assert_eq!(run_extra(&extra), json!({"comments": "a"}));
        assert_eq!(
            DripPlan::of_extra(&extra),
            Some(DripPlan {
                runs: 3,
                interval_minutes: 30,
                quantity_per_run: 100
            })
        );
        assert_eq!(DripPlan::of_extra(&json!({"comments": "a"})), None);
    }

    #[test]
    fn the_end_follows_what_the_runs_delivered() {
        let done = run(OrderStatus::Completed, 100, Some(0));
        let half = run(OrderStatus::Partial, 100, Some(50));
        let failed = run(OrderStatus::Failed, 100, Some(100));
        let canceled = run(OrderStatus::Canceled, 100, Some(100));
        assert_eq!(
            outcome(300, &[&done, &done, &done]),
            (OrderStatus::Completed, 0)
        );
        assert_eq!(
            outcome(300, &[&done, &half, &failed]),
            (OrderStatus::Partial, 150)
        );
        // Stopped after two runs: the third was never placed.
        assert_eq!(outcome(300, &[&done, &done]), (OrderStatus::Partial, 100));
        assert_eq!(
            outcome(300, &[&failed, &canceled]),
            (OrderStatus::Canceled, 300)
        );
        // Over-delivery (negative remains) counts as delivered in full, never more.
        let over = run(OrderStatus::Partial, 100, Some(-20));
        assert_eq!(outcome(100, &[&over]), (OrderStatus::Completed, 0));
    }

    #[test]
    fn only_services_that_offer_it_take_drip_feed() {
        let mut service =
            crate::domain::orders::test_service(crate::db::enums::ServiceType::Default);
        service.dripfeed = false;
        assert!(!offers_dripfeed(&service));
        service.dripfeed_by_panel = true;
        assert!(offers_dripfeed(&service));
        let extra = json!({"runs": 2, "interval": 5, "quantity_per_run": 10});
        assert!(panel_plan(&service, &extra).is_some());
        assert!(panel_plan(&service, &json!({})).is_none());
        service.fulfillment = Fulfillment::Stock;
        assert!(!offers_dripfeed(&service));
    }
}
