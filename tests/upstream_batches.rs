//! The batch paths of orders at their provider (`domain::upstream`): a status call's answers applied as one batch
//! (`upstream::apply_remote_statuses`) and acceptances written in groups
//! (`upstream::mark_accepted_many`): the same rules as one at a time, refunds
//! exactly once, a history row and an event per change, a repeat changes nothing,
//! and a constant number of statements whatever the batch size.

mod common;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use booster::{
    db::{
        enums::{LedgerKind, OrderStatus},
        orders::OrderRow,
        schema::{ledger_entries, mail_outbox, notifications, order_events, orders, services},
        users::UserRow,
    },
    domain::{
        orders as order_rules, upstream,
        wallet::{self, Credit, LedgerRef},
    },
    error::AppError,
    providers::RemoteStatus,
};
use common::*;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// `count` orders of `quantity` by `user_id` for `service`, moved straight to
/// `status` with provider ids (as if dispatched).
async fn open_orders(
    app: &TestApp,
    user_id: i64,
    service: i64,
    count: usize,
    quantity: i64,
    status: OrderStatus,
) -> Vec<OrderRow> {
    let mut conn = app.conn().await;
    let buyer = UserRow::find(&mut conn, user_id).await.unwrap().unwrap();
    let text: String = (0..count)
        .map(|i| format!("{service}|https://x.com/batch/status/{i}|{quantity}\n"))
        .collect();
    let placed =
        order_rules::place_mass_order(&mut conn, &buyer, &text, true, 5_000, &Default::default())
            .await
            .unwrap();
    assert_eq!(placed.placed, count);
    diesel::sql_query(
        "UPDATE orders SET status = $1, provider_order_id = CASE WHEN $1 = 'SUBMITTING' \
         THEN NULL ELSE 'up-' || id END WHERE status = 'PENDING' AND user_id = $2",
    )
    .bind::<diesel::sql_types::Text, _>(status.as_str())
    .bind::<diesel::sql_types::BigInt, _>(user_id)
    .execute(&mut conn)
    .await
    .unwrap();
    orders::table
        .filter(orders::user_id.eq(user_id))
        .filter(orders::status.eq(status))
        .order(orders::id)
        .select(OrderRow::as_select())
        .load(&mut conn)
        .await
        .unwrap()
}

fn remote(
    status: OrderStatus,
    label: &str,
    start: Option<i64>,
    remains: Option<i64>,
) -> RemoteStatus {
    RemoteStatus {
        status,
        label: label.into(),
        start_count: start,
        remains,
        charge: None,
        posts: None,
    }
}

fn from_sync(event: &booster::events::OrderUpdate) -> bool {
    event.note.starts_with("provider reports")
}

/// Rows of a table about `ids`, for before/after comparisons.
async fn counts(app: &TestApp, ids: &[i64]) -> (i64, i64, i64, i64) {
    let history = count_of(
        app,
        order_events::table
            .filter(order_events::order_id.eq_any(ids))
            .count(),
    );
    let ledger = count_of(
        app,
        ledger_entries::table
            .filter(ledger_entries::order_id.eq_any(ids))
            .count(),
    );
    let notices = count_of(
        app,
        notifications::table
            .filter(notifications::order_id.eq_any(ids))
            .count(),
    );
    let mails = count_of(
        app,
        mail_outbox::table
            .filter(mail_outbox::kind.eq("order_ended"))
            .count(),
    );
    (history.await, ledger.await, notices.await, mails.await)
}

/// An app with one provider service: 1000 units for 10,000 rupiah.
async fn app_with_service() -> (TestApp, i64) {
    let app = TestApp::spawn().await;
    let service = service(
        &app,
        booster::db::enums::Fulfillment::Provider,
        10_000,
        10,
        100_000,
    )
    .await;
    (app, service)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_mixed_answers_applies_each_rule_once_and_a_repeat_changes_nothing() {
    let (app, service) = app_with_service().await;
    let (alice, _) = app.funded_customer("alice@example.com", 1_000_000).await;
    let (bob, _) = app.funded_customer("bob@example.com", 1_000_000).await;
    // Each order: 1000 units for 10,000 rupiah.
    let a = open_orders(&app, alice, service, 4, 1000, OrderStatus::Processing).await;
    let b = open_orders(&app, bob, service, 4, 1000, OrderStatus::Processing).await;
    let mut events = app.state.events.subscribe();
    let in_progress = remote(OrderStatus::InProgress, "In progress", Some(10), Some(600));
    let completed = remote(OrderStatus::Completed, "Completed", Some(10), Some(0));
    let partial = remote(OrderStatus::Partial, "Partial", Some(10), Some(157));
    let canceled = remote(OrderStatus::Canceled, "Canceled", None, Some(1000));
    let all_remaining = remote(OrderStatus::Partial, "Partial", None, Some(1000));
    let unchanged = remote(OrderStatus::Processing, "Pending", None, None);
    let no_remains = remote(OrderStatus::Partial, "Partial", None, None);
    let answers: Vec<(i64, &RemoteStatus)> = vec![
        (a[0].id, &partial),
        (a[1].id, &canceled),
        (a[2].id, &all_remaining),
        (a[3].id, &unchanged),
        (b[0].id, &in_progress),
        (b[1].id, &completed),
        (b[2].id, &no_remains),
        (b[3].id, &partial),
    ];
    let ids: Vec<i64> = answers.iter().map(|(id, _)| *id).collect();
    let before = counts(&app, &ids).await;
    let (alice_before, bob_before) = (app.balance(alice).await, app.balance(bob).await);

    let applied = upstream::apply_remote_statuses(&mut *app.conn().await, &answers)
        .await
        .unwrap();
    assert_eq!(applied.len(), 8, "every open order comes back");
    let now: HashMap<i64, OrderRow> = applied.into_iter().map(|o| (o.id, o)).collect();
    let state = |id: i64| {
        let o = &now[&id];
        (o.status, o.start_count, o.remains, o.refunded)
    };
    assert_eq!(
        state(a[0].id),
        (OrderStatus::Partial, Some(10), Some(157), 1570)
    );
    assert_eq!(
        state(a[1].id),
        (OrderStatus::Canceled, None, Some(1000), 10_000)
    );
    assert_eq!(
        state(a[2].id),
        (OrderStatus::Canceled, None, Some(1000), 10_000)
    );
    // Unchanged: still as placed (remains start at the quantity).
    assert_eq!(
        state(a[3].id),
        (OrderStatus::Processing, None, Some(1000), 0)
    );
    assert_eq!(
        state(b[0].id),
        (OrderStatus::InProgress, Some(10), Some(600), 0)
    );
    assert_eq!(
        state(b[1].id),
        (OrderStatus::Completed, Some(10), Some(0), 0)
    );
    assert_eq!(
        state(b[2].id),
        (OrderStatus::Processing, None, Some(1000), 0)
    );
    assert_eq!(
        state(b[3].id),
        (OrderStatus::Partial, Some(10), Some(157), 1570)
    );
    assert_eq!(
        app.balance(alice).await,
        alice_before + 1570 + 10_000 + 10_000
    );
    assert_eq!(app.balance(bob).await, bob_before + 1570);
    app.assert_books_balanced().await;

    // Six changed: six history rows saying what the order row says, six events.
    let changed = [a[0].id, a[1].id, a[2].id, b[0].id, b[1].id, b[3].id];
    let after = counts(&app, &ids).await;
    assert_eq!(after.0 - before.0, 6, "one history row per change");
    assert_eq!(after.1 - before.1, 4, "four refunds");
    assert_eq!(after.2 - before.2, 5, "a notice per ended order");
    assert_eq!(after.3 - before.3, 5, "a mail per ended order");
    let mut conn = app.conn().await;
    for id in changed {
        let last: (OrderStatus, Option<i64>, Option<i64>, String) = order_events::table
            .filter(order_events::order_id.eq(id))
            .order(order_events::id.desc())
            .select((
                order_events::status,
                order_events::start_count,
                order_events::remains,
                order_events::note,
            ))
            .first(&mut conn)
            .await
            .unwrap();
        let o = &now[&id];
        assert_eq!(
            (last.0, last.1, last.2),
            (o.status, o.start_count, o.remains)
        );
        assert!(last.3.starts_with("provider reports"), "{}", last.3);
    }
    let note: String = order_events::table
        .filter(order_events::order_id.eq(a[0].id))
        .order(order_events::id.desc())
        .select(order_events::note)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(note, "provider reports Partial (refunded 1570 rupiah)");
    let mut seen = Vec::new();
    while seen.len() < changed.len() {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Ok(event)) if from_sync(&event) => seen.push(event.order_id),
            // The placements' own events may still be on their way.
            Ok(Ok(_)) => {}
            other => panic!("missing events after {seen:?}: {other:?}"),
        }
    }
    seen.sort_unstable();
    let mut expected = changed.to_vec();
    expected.sort_unstable();
    assert_eq!(seen, expected, "one event per change");

    // Alice's three refunds in one statement: each balance_after follows the last.
    let refunds: Vec<(i64, i64)> = ledger_entries::table
        .filter(ledger_entries::user_id.eq(alice))
        .filter(ledger_entries::kind.eq("REFUND"))
        .order(ledger_entries::id)
        .select((ledger_entries::amount, ledger_entries::balance_after))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(refunds.len(), 3);
    let mut balance = alice_before;
    for (amount, balance_after) in &refunds {
        balance += amount;
        assert_eq!(*balance_after, balance);
    }
    let average: Option<i64> = services::table
        .find(service)
        .select(services::average_completion_seconds)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(
        average.is_some(),
        "the completion counts in the service's average"
    );
    drop(conn);

    // The same answers again: nothing changes, nothing is refunded, nobody is told.
    let again = upstream::apply_remote_statuses(&mut *app.conn().await, &answers)
        .await
        .unwrap();
    let open: Vec<i64> = again.iter().map(|o| o.id).collect();
    assert_eq!(open, vec![a[3].id, b[0].id, b[2].id], "only the open ones");
    assert_eq!(counts(&app, &ids).await, after);
    assert_eq!(app.balance(alice).await, alice_before + 21_570);
    assert_eq!(app.balance(bob).await, bob_before + 1570);
    while let Ok(Ok(event)) = tokio::time::timeout(Duration::from_millis(500), events.recv()).await
    {
        assert!(!from_sync(&event), "an event for a repeat: {event:?}");
    }

    // The ledger's index is the backstop: a second refund of a refunded order is
    // refused whole, and writes nothing.
    let credit = Credit {
        user_id: alice,
        amount: 1,
        kind: LedgerKind::Refund,
        reference: LedgerRef {
            order_id: Some(a[0].id),
            note: "again".into(),
            ..Default::default()
        },
    };
    let refused = wallet::credit_many(&mut *app.conn().await, &[credit]).await;
    assert!(matches!(refused, Err(AppError::Conflict(_))), "{refused:?}");
    assert_eq!(app.balance(alice).await, alice_before + 21_570);
    app.assert_books_balanced().await;
}

/// The statements each batch takes, `apply` running them one after another on a
/// connection of its own that counts its statements (the pool's counter also
/// counts what the event listener loads meanwhile).
async fn statements_per_batch<T: ?Sized>(
    app: &TestApp,
    batches: &[&T],
    mut apply: impl AsyncFnMut(&mut AsyncPgConnection, &T),
) -> Vec<u64> {
    use diesel::connection::InstrumentationEvent;
    use diesel_async::AsyncConnection;
    let mut conn = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { .. } = event {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    let count: &AtomicU64 = &count;
    let mut counts = Vec::new();
    for batch in batches {
        let before = count.load(Ordering::Relaxed);
        apply(&mut conn, batch).await;
        counts.push(count.load(Ordering::Relaxed) - before);
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_a_hundred_answers_costs_what_a_batch_of_four_does() {
    let (app, service) = app_with_service().await;
    let (user, _) = app.funded_customer("many@example.com", 10_000_000).await;
    let open = open_orders(&app, user, service, 104, 1000, OrderStatus::Processing).await;
    let kinds = [
        remote(OrderStatus::InProgress, "In progress", Some(1), Some(500)),
        remote(OrderStatus::Completed, "Completed", Some(1), Some(0)),
        remote(OrderStatus::Partial, "Partial", Some(1), Some(100)),
        remote(OrderStatus::Canceled, "Canceled", None, None),
    ];
    // Every kind of change in both: progress, completion, partial and full refunds.
    let answers: Vec<(i64, &RemoteStatus)> = open
        .iter()
        .enumerate()
        .map(|(i, o)| (o.id, &kinds[i % 4]))
        .collect();
    let (four, hundred) = answers.split_at(4);
    // Four, a hundred, then the same hundred again.
    let counts = statements_per_batch(&app, &[four, hundred, hundred], async |conn, batch| {
        upstream::apply_remote_statuses(conn, batch).await.unwrap();
    })
    .await;
    let [small, large, repeat] = counts[..] else {
        unreachable!()
    };
    assert_eq!(small, large, "statements do not grow with the batch");
    assert!(large <= 20, "{large} statements for 100 answers");
    assert!(repeat <= large, "a repeat costs no more: {repeat}");
    app.assert_books_balanced().await;

    // Acceptances from dispatch, likewise.
    let (other, _) = app
        .funded_customer("dispatch@example.com", 10_000_000)
        .await;
    let submitting = open_orders(&app, other, service, 104, 100, OrderStatus::Submitting).await;
    let accepted: Vec<(i64, String)> = submitting
        .iter()
        .map(|o| (o.id, format!("up-{}", o.id)))
        .collect();
    let (four, hundred) = accepted.split_at(4);
    let counts = statements_per_batch(&app, &[four, hundred], async |conn, batch| {
        upstream::mark_accepted_many(conn, batch).await.unwrap();
    })
    .await;
    let [small, large] = counts[..] else {
        unreachable!()
    };
    assert_eq!(small, large, "statements do not grow with the group");
    assert!(large <= 12, "{large} statements for 100 acceptances");
    let processing: Vec<(Option<String>, Option<i64>)> = orders::table
        .filter(orders::user_id.eq(other))
        .filter(orders::status.eq(OrderStatus::Processing))
        .select((orders::provider_order_id, orders::provider_cost))
        .load(&mut *app.conn().await)
        .await
        .unwrap();
    assert_eq!(processing.len(), 104);
    assert!(
        processing
            .iter()
            .all(|(remote, cost)| remote.is_some() && cost.is_some()),
        "each keeps its provider id and cost"
    );
}
