//! Status sync, order side: leased claims of open orders and applying a
//! provider's reports, one or a batch: the rule (`decide`) is pure, the writing is
//! set-based (`orders::write_changes`: history, events, exactly-once refunds).

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    db::{enums::OrderStatus, orders::OrderRow, schema::orders},
    domain::orders::{Settlement, StatusChange, settlement_change, write_changes},
    error::{AppError, AppResult},
    providers::RemoteStatus,
};

/// Claims up to `limit` open orders of a provider for a status check, oldest check
/// first. The claim is a lease (`last_synced_at`), so concurrent workers split the
/// work and a crashed worker's share is picked up after `lease`.
pub async fn claim_for_sync(
    conn: &mut AsyncPgConnection,
    provider_id: i64,
    limit: i64,
    lease: Duration,
) -> AppResult<Vec<OrderRow>> {
    let before = Utc::now() - chrono::Duration::from_std(lease).unwrap_or_default();
    conn.transaction(async |conn| {
        Ok(OrderRow::lease_for_sync(conn, provider_id, limit, before).await?)
    })
    .await
}

/// A subscription's report read as an order's: its charge reserved every post at
/// `max`, so the units not delivered are the posts not reached times `max`. An
/// ended subscription that reached every post is COMPLETED; one that reached
/// fewer is PARTIAL with those units remaining (all of them: canceled, refunded in
/// full), so `decide` refunds exactly the posts not delivered. Any other order,
/// or a report without `posts`, is read as it is.
pub fn subscription_view(order: &OrderRow, remote: &RemoteStatus) -> RemoteStatus {
    let number = |key: &str| order.extra.get(key).and_then(serde_json::Value::as_i64);
    let (Some(max), Some(done)) = (number("max"), remote.posts) else {
        return remote.clone();
    };
    let reserved = number("posts").unwrap_or(0) + number("old_posts").unwrap_or(0);
    let remains = (reserved - done).max(0) * max;
    let status = match remote.status {
        OrderStatus::Completed
        | OrderStatus::Partial
        | OrderStatus::Canceled
        | OrderStatus::Failed
            if remains == 0 =>
        {
            OrderStatus::Completed
        }
        OrderStatus::Completed
        | OrderStatus::Partial
        | OrderStatus::Canceled
        | OrderStatus::Failed => OrderStatus::Partial,
        running => running,
    };
    RemoteStatus {
        status,
        remains: Some(remains),
        ..remote.clone()
    }
}

/// The posts a subscription has reached so far, read back from its remains (the
/// inverse of [`subscription_view`]); `None` for other orders.
pub fn subscription_posts(order: &OrderRow) -> Option<i64> {
    let number = |key: &str| order.extra.get(key).and_then(serde_json::Value::as_i64);
    let max = number("max").filter(|max| *max > 0)?;
    let reserved = number("posts").unwrap_or(0) + number("old_posts").unwrap_or(0);
    let not_reached = order.remains.unwrap_or(order.quantity).max(0) / max;
    Some((reserved - not_reached).clamp(0, reserved))
}

/// What a provider's report does to an order (locked in the caller's
/// transaction): None when nothing changes. The one rule for both the single and
/// the batch path:
/// - only PROCESSING and IN_PROGRESS orders follow the provider;
/// - PROCESSING or IN_PROGRESS: the status and whatever counts the provider gives,
///   when one of them differs (negative remains count as zero);
/// - COMPLETED, or PARTIAL with nothing remaining: COMPLETED with no remains;
/// - PARTIAL with remains between 1 and quantity - 1: settled as partial, with the
///   provider's start count;
/// - PARTIAL with everything remaining, CANCELED, FAILED: settled as canceled;
/// - PARTIAL without remains: wait for a complete report.
pub fn decide(order: &OrderRow, remote: &RemoteStatus) -> Option<StatusChange> {
    let remote = &subscription_view(order, remote);
    if !matches!(
        order.status,
        OrderStatus::Processing | OrderStatus::InProgress
    ) {
        return None;
    }
    let note = format!("provider reports {}", remote.label);
    let completed = || StatusChange {
        start_count: remote.start_count,
        remains: Some(0),
        ..StatusChange::to(order, OrderStatus::Completed, note.clone())
    };
    match remote.status {
        OrderStatus::Processing | OrderStatus::InProgress => {
            let remains = remote.remains.map(|r| r.max(0));
            let changed = remote.status != order.status
                || (remote.start_count.is_some() && remote.start_count != order.start_count)
                || (remains.is_some() && remains != order.remains);
            changed.then(|| StatusChange {
                start_count: remote.start_count,
                remains,
                ..StatusChange::to(order, remote.status, note.clone())
            })
        }
        OrderStatus::Completed => Some(completed()),
        OrderStatus::Partial => match remote.remains {
            Some(remains) if remains > 0 && remains < order.quantity => Some(StatusChange {
                start_count: remote.start_count,
                ..settlement_change(order, Settlement::Partial { remains }, &note, None)
            }),
            Some(remains) if remains >= order.quantity => {
                Some(settlement_change(order, Settlement::Canceled, &note, None))
            }
            // Partial with nothing remaining is a completion.
            Some(_) => Some(completed()),
            None => {
                tracing::warn!(
                    order_id = order.id,
                    "provider reported Partial without remains; waiting for a complete report"
                );
                None
            }
        },
        OrderStatus::Canceled | OrderStatus::Failed => {
            Some(settlement_change(order, Settlement::Canceled, &note, None))
        }
        OrderStatus::Pending | OrderStatus::Submitting | OrderStatus::NeedsReview => None,
    }
}

/// Applies a provider's report to an order: [`apply_remote_statuses`] with one.
pub async fn apply_remote_status(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    remote: &RemoteStatus,
) -> AppResult<OrderRow> {
    if let Some(order) = apply_remote_statuses(conn, &[(order_id, remote)])
        .await?
        .pop()
    {
        return Ok(order);
    }
    // Not open (any more): nothing to apply, the order as it stands.
    OrderRow::find(conn, order_id)
        .await?
        .ok_or(AppError::NotFound("order"))
}

/// Applies a batch of provider reports `(order id, report)` in one transaction and
/// a constant number of statements: the still-open orders among them are locked in
/// one statement (in id order, so concurrent batches never deadlock), each report
/// is decided by [`decide`], and the changes are written set-based
/// (`orders::write_changes`: history rows, events, exactly-once refunds, notices).
/// Returns the open orders as they now stand, in id order. Idempotent: the same
/// reports again, or two workers applying them at once, change each order and
/// refund it at most once (the lock, the final status, the ledger's unique index).
pub async fn apply_remote_statuses(
    conn: &mut AsyncPgConnection,
    reports: &[(i64, &RemoteStatus)],
) -> AppResult<Vec<OrderRow>> {
    if reports.is_empty() {
        return Ok(Vec::new());
    }
    let by_id: HashMap<i64, &RemoteStatus> = reports.iter().copied().collect();
    let ids: Vec<i64> = by_id.keys().copied().collect();
    conn.transaction(async |conn| {
        let open: Vec<OrderRow> = orders::table
            .filter(orders::id.eq_any(&ids))
            .filter(orders::status.eq_any([OrderStatus::Processing, OrderStatus::InProgress]))
            .order(orders::id)
            .select(OrderRow::as_select())
            .for_update()
            .load(conn)
            .await?;
        let changes: Vec<StatusChange> = open
            .iter()
            .filter_map(|order| decide(order, by_id[&order.id]))
            .collect();
        let mut written: HashMap<i64, OrderRow> = write_changes(conn, changes)
            .await?
            .into_iter()
            .map(|(order, _)| (order.id, order))
            .collect();
        Ok(open
            .into_iter()
            .map(|order| written.remove(&order.id).unwrap_or(order))
            .collect())
    })
    .await
}

/// Notes a per-order error from a status call (e.g. "Incorrect order ID").
pub async fn note_sync_error(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    error: &str,
) -> AppResult<()> {
    note_sync_errors(conn, &[(order_id, error)]).await
}

/// [`note_sync_error`] for many orders, in one statement.
pub async fn note_sync_errors(
    conn: &mut AsyncPgConnection,
    errors: &[(i64, &str)],
) -> AppResult<()> {
    if errors.is_empty() {
        return Ok(());
    }
    Ok(OrderRow::set_last_errors(conn, errors).await?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_subscriptions_posts_are_read_back_from_its_remains() {
        let mut order = crate::db::orders::tests::order(OrderStatus::InProgress);
        assert_eq!(subscription_posts(&order), None, "not a subscription");
        order.extra = serde_json::json!({"min": 100, "max": 200, "posts": 10, "old_posts": 2});
        order.quantity = 2400;
        order.remains = Some(2400);
        assert_eq!(subscription_posts(&order), Some(0));
        let report = RemoteStatus {
            status: OrderStatus::InProgress,
            label: "Active".into(),
            start_count: None,
            remains: None,
            charge: None,
            posts: Some(5),
        };
        order.remains = subscription_view(&order, &report).remains;
        assert_eq!(subscription_posts(&order), Some(5));
        order.remains = Some(0);
        assert_eq!(subscription_posts(&order), Some(12));
    }
    use crate::db::enums::LedgerKind;

    use crate::db::orders::tests::order;

    fn report(status: OrderStatus, start_count: Option<i64>, remains: Option<i64>) -> RemoteStatus {
        RemoteStatus {
            status,
            label: format!("{status:?}"),
            start_count,
            remains,
            charge: None,
            posts: None,
        }
    }

    #[test]
    fn a_subscription_refunds_the_posts_it_did_not_reach() {
        let mut sub = order(OrderStatus::InProgress);
        sub.extra = json!({ "username": "jack", "min": 100, "max": 150, "posts": 10, "delay": 0 });
        sub.quantity = 1500;
        let at = |status, posts| RemoteStatus {
            posts: Some(posts),
            ..report(status, None, None)
        };
        // Running: what is left shows as remains.
        let running = subscription_view(&sub, &at(OrderStatus::InProgress, 4));
        assert_eq!(
            (running.status, running.remains),
            (OrderStatus::InProgress, Some(900))
        );
        // Expired after 4 of 10 posts: 6 posts × 150 come back.
        assert_eq!(
            decided(&sub, &at(OrderStatus::Completed, 4)),
            Some((
                OrderStatus::Partial,
                None,
                Some(900),
                Some(15_840 * 900 / 1500)
            ))
        );
        // Every post reached: nothing comes back.
        assert_eq!(
            decided(&sub, &at(OrderStatus::Completed, 10)),
            Some((OrderStatus::Completed, None, Some(0), None))
        );
        // Canceled before any post: all of it comes back.
        assert_eq!(
            decided(&sub, &at(OrderStatus::Canceled, 0)),
            Some((OrderStatus::Canceled, None, Some(1500), Some(15_840)))
        );
        // A plain order is read as it is.
        let plain = order(OrderStatus::InProgress);
        assert_eq!(
            subscription_view(&plain, &at(OrderStatus::Completed, 4)).remains,
            None
        );
    }

    /// The status, start count, remains and refund a decision writes.
    type Written = (OrderStatus, Option<i64>, Option<i64>, Option<i64>);

    fn decided(order: &OrderRow, remote: &RemoteStatus) -> Option<Written> {
        decide(order, remote).map(|c| {
            (
                c.status,
                c.start_count,
                c.remains,
                c.refund.map(|r| r.amount),
            )
        })
    }

    use OrderStatus as S;

    #[test]
    fn only_open_orders_follow_the_provider() {
        for status in [
            S::Pending,
            S::Submitting,
            S::NeedsReview,
            S::Completed,
            S::Partial,
            S::Canceled,
            S::Failed,
        ] {
            let completed = report(S::Completed, Some(5), Some(0));
            assert!(decide(&order(status), &completed).is_none(), "{status:?}");
        }
    }

    #[test]
    fn progress_is_written_only_when_something_differs() {
        let processing = order(S::Processing);
        // Same status, no counts, or the counts it has: nothing.
        assert_eq!(
            decided(&processing, &report(S::Processing, None, None)),
            None
        );
        assert_eq!(
            decided(&processing, &report(S::Processing, None, Some(1000))),
            None
        );
        // New counts, or a new status.
        assert_eq!(
            decided(&processing, &report(S::Processing, Some(40), None)),
            Some((S::Processing, Some(40), None, None))
        );
        assert_eq!(
            decided(&processing, &report(S::InProgress, None, None)),
            Some((S::InProgress, None, None, None))
        );
        assert_eq!(
            decided(
                &order(S::InProgress),
                &report(S::InProgress, None, Some(600))
            ),
            Some((S::InProgress, None, Some(600), None))
        );
        // Negative remains count as zero.
        assert_eq!(
            decided(&processing, &report(S::InProgress, None, Some(-3))),
            Some((S::InProgress, None, Some(0), None))
        );
    }

    #[test]
    fn completion_leaves_nothing_remaining() {
        for remote in [
            report(S::Completed, Some(12), Some(400)),
            report(S::Completed, Some(12), None),
            // Partial with nothing remaining is a completion.
            report(S::Partial, Some(12), Some(0)),
            report(S::Partial, Some(12), Some(-1)),
        ] {
            assert_eq!(
                decided(&order(S::InProgress), &remote),
                Some((S::Completed, Some(12), Some(0), None)),
                "{remote:?}"
            );
        }
    }

    #[test]
    fn a_partial_delivery_refunds_what_remains_rounded_down() {
        let change = decide(
            &order(S::InProgress),
            &report(S::Partial, Some(9), Some(157)),
        )
        .unwrap();
        assert_eq!(change.status, S::Partial);
        assert_eq!((change.start_count, change.remains), (Some(9), Some(157)));
        let refund = change.refund.unwrap();
        // 15,840 x 157 / 1000 = 2486.88.
        assert_eq!((refund.amount, refund.kind), (2486, LedgerKind::Refund));
        assert_eq!(
            change.note,
            "provider reports Partial (refunded 2486 rupiah)"
        );
    }

    #[test]
    fn nothing_delivered_is_a_cancellation_with_a_full_refund() {
        for remote in [
            report(S::Partial, None, Some(1000)),
            report(S::Partial, None, Some(5000)),
            report(S::Canceled, None, None),
            report(S::Failed, None, Some(10)),
        ] {
            assert_eq!(
                decided(&order(S::Processing), &remote),
                Some((S::Canceled, None, Some(1000), Some(15_840))),
                "{remote:?}"
            );
        }
        // What an admin refunded by hand is not paid twice.
        let mut advanced = order(S::Processing);
        advanced.refunded = 840;
        assert_eq!(
            decided(&advanced, &report(S::Canceled, None, None)),
            Some((S::Canceled, None, Some(1000), Some(15_000)))
        );
    }

    #[test]
    fn reports_that_say_nothing_change_nothing() {
        let open = order(S::InProgress);
        // Partial without remains: wait for a complete report.
        assert_eq!(decided(&open, &report(S::Partial, Some(3), None)), None);
        for status in [S::Pending, S::Submitting, S::NeedsReview] {
            assert_eq!(
                decided(&open, &report(status, Some(3), Some(5))),
                None,
                "{status:?}"
            );
        }
    }

    #[test]
    fn the_note_names_the_providers_label() {
        let mut remote = report(S::Completed, None, None);
        remote.label = "Completed (fast)".into();
        let change = decide(&order(S::Processing), &remote).unwrap();
        assert_eq!(change.note, "provider reports Completed (fast)");
    }
}
