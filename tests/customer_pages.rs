//! A customer's own pages: what they read (the page and its relations, the total
//! only when asked) and how PostgreSQL plans them (the page pool's one generic
//! plan per statement, which reads only the owner's rows).

mod common;

use booster::db::enums::Fulfillment;
use common::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

/// A customer's own pages read the page and its relations; the total is counted
/// only when the document asks for `totalCount` (an alias or a fragment too).
#[tokio::test]
async fn a_customers_pages_count_their_total_only_when_asked() {
    let app = TestApp::spawn().await;
    let service = service(&app, Fulfillment::Manual, 10_000, 10, 1000).await;
    let (_, key) = app.funded_customer("pages@example.com", 1_000_000).await;
    for n in 0..3 {
        app.place(
            &key,
            order_input(service, &format!("https://x.com/p/status/{n}"), 100),
        )
        .await;
    }
    // Warm the credential and service caches so that only the page's own
    // statements count.
    app.caches_live().await;
    app.ok(Some(&key), "{ me { id } }", json!({})).await;
    let orders_page = "{ myOrders(first: 20) { nodes { id service { name } } } }";
    app.ok(Some(&key), orders_page, json!({})).await;
    for (list, nodes) in [
        ("myOrders", "id service { name }"),
        ("myTransactions", "id amount"),
        ("myTickets", "id subject"),
    ] {
        let page = format!("{{ {list}(first: 20) {{ nodes {{ {nodes} }} }} }}");
        let counted =
            format!("{{ {list}(first: 20) {{ total: totalCount nodes {{ {nodes} }} }} }}");
        let fragment = format!(
            "{{ {list}(first: 20) {{ ...T nodes {{ {nodes} }} }} }} fragment T on {} {{ totalCount }}",
            match list {
                "myOrders" => "OrderConnection",
                "myTransactions" => "LedgerEntryConnection",
                _ => "TicketConnection",
            }
        );
        let (plain, without) = app
            .statements_of(app.ok(Some(&key), &page, json!({})))
            .await;
        let (with, answer) = app
            .statements_of(app.ok(Some(&key), &counted, json!({})))
            .await;
        let (by_fragment, fragment_answer) = app
            .statements_of(app.ok(Some(&key), &fragment, json!({})))
            .await;
        assert_eq!(with, plain + 1, "{list}: one statement more for the total");
        assert_eq!(by_fragment, with, "{list}");
        assert_eq!(without[list]["nodes"], answer[list]["nodes"]);
        let expected = answer[list]["nodes"].as_array().unwrap().len();
        assert_eq!(answer[list]["total"], expected, "{list}");
        assert_eq!(fragment_answer[list]["totalCount"], expected, "{list}");
        if list == "myOrders" {
            // The page, its services from the process's cache.
            assert_eq!(plain, 1, "{list}");
            assert_eq!(expected, 3);
            // Without them cached, the services are one statement more, and
            // cached again for the next page.
            app.state.caches.clear();
            app.ok(Some(&key), "{ me { id } }", json!({})).await;
            let (cold, _) = app
                .statements_of(app.ok(Some(&key), &page, json!({})))
                .await;
            assert_eq!(cold, 2, "{list}: the page and its services");
            let (warm, _) = app
                .statements_of(app.ok(Some(&key), &page, json!({})))
                .await;
            assert_eq!(warm, 1, "{list}: its services cached again");
        }
    }
    // A full page of 100 is one statement as well.
    {
        use diesel_async::RunQueryDsl;
        diesel::sql_query(
            "INSERT INTO orders (user_id, service_id, link, quantity, price_per_1000, charge, status) \
             SELECT user_id, service_id, link || g, quantity, price_per_1000, charge, status \
             FROM orders, generate_series(1, 40) AS g",
        )
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
    }
    let page = "{ myOrders(first: 100) { nodes { id link quantity charge status createdAt service { name } } } }";
    let (statements, answer) = app.statements_of(app.ok(Some(&key), page, json!({}))).await;
    assert_eq!(answer["myOrders"]["nodes"].as_array().unwrap().len(), 100);
    assert_eq!(statements, 1);
}

/// A row of `pg_prepared_statements`.
#[derive(diesel::QueryableByName, Debug)]
struct Prepared {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    statement: String,
    #[diesel(sql_type = BigInt)]
    generic_plans: i64,
    #[diesel(sql_type = BigInt)]
    custom_plans: i64,
}

#[derive(diesel::QueryableByName)]
struct Explained {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    plan: String,
}

/// The values of `key` in a plan's nodes (as `EXPLAIN (FORMAT JSON)` writes it),
/// top down: "Node Type", "Index Name".
fn plan_values(plan: &Value, key: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![plan];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(node) => {
                if let Some(Value::String(v)) = node.get(key) {
                    found.push(v.clone());
                }
                stack.extend(node.values().rev());
            }
            Value::Array(items) => stack.extend(items.iter().rev()),
            _ => {}
        }
    }
    found
}

/// Blocks a plan's top node read, from the cache or not.
fn blocks_read(plan: &Value) -> i64 {
    let top = &plan[0]["Plan"];
    top["Shared Hit Blocks"].as_i64().unwrap() + top["Shared Read Blocks"].as_i64().unwrap()
}

/// One owner's pages go through the page pool, whose read-only sessions keep one
/// generic plan per statement: planned once, for no owner in particular. On a
/// panel with one busy reseller (20,000 orders, ledger entries and tickets) and
/// a new customer with none, the generic plan of `user_id = $1 ORDER BY id DESC`
/// walks the primary key backwards through the reseller's rows looking for the
/// newcomer's; the pages as `paginate_owned` writes them stay on the owner's
/// index and read a few blocks.
#[tokio::test]
async fn an_owners_page_keeps_one_plan_that_reads_only_the_owners_rows() {
    // One page connection, so the session examined is the one that served.
    let app = TestApp::spawn_with(|config| config.database.page_pool_size = 1).await;
    let service = service(&app, Fulfillment::Manual, 10_000, 10, 1000).await;
    let (reseller, _) = app.customer("reseller@example.com").await;
    let (newcomer, key) = app.customer("newcomer@example.com").await;
    let mut conn = app.conn().await;
    for insert in [
        format!(
            "INSERT INTO orders (user_id, service_id, link, quantity, price_per_1000, charge, status) \
             SELECT {reseller}, {service}, 'https://x.com/r/status/' || g, 100, 10000, 1000, 'COMPLETED' \
             FROM generate_series(1, 20000) AS g"
        ),
        format!(
            "INSERT INTO ledger_entries (user_id, amount, balance_after, kind) \
             SELECT {reseller}, -1000, g, 'ORDER_CHARGE' FROM generate_series(1, 20000) AS g"
        ),
        format!(
            "INSERT INTO tickets (user_id, subject, topic) \
             SELECT {reseller}, 'Where is order ' || g, 'ORDER' FROM generate_series(1, 20000) AS g"
        ),
        "ANALYZE orders, ledger_entries, tickets".to_string(),
    ] {
        diesel::sql_query(insert).execute(&mut conn).await.unwrap();
    }
    drop(conn);

    for (list, table, index) in [
        ("myOrders", "orders", "orders_user_idx"),
        (
            "myTransactions",
            "ledger_entries",
            "ledger_entries_user_idx",
        ),
        ("myTickets", "tickets", "tickets_user_idx"),
    ] {
        // Past PostgreSQL's five custom plans, had the session been left to choose.
        for _ in 0..7 {
            let data = app
                .read(
                    &key,
                    &format!("{{ {list}(first: 20) {{ nodes {{ id }} }} }}"),
                )
                .await;
            assert_eq!(data[list]["nodes"], json!([]), "{list}");
        }
        let mut session = app.state.page_pool.get().await.unwrap();
        let prepared: Vec<Prepared> = diesel::sql_query(
            "SELECT name, statement, generic_plans, custom_plans FROM pg_prepared_statements \
             WHERE statement LIKE 'SELECT %' AND statement LIKE $1",
        )
        .bind::<Text, _>(format!("%FROM \"{table}\"%"))
        .load(&mut session)
        .await
        .unwrap();
        let [page] = &prepared[..] else {
            panic!("{list}: one statement expected, found {prepared:?}");
        };
        assert_eq!(page.custom_plans, 0, "{list}: {page:?}");
        assert!(page.generic_plans >= 7, "{list}: {page:?}");

        // Each owner's page under that plan (the owner twice, as a range; the
        // limit): a walk down the owner's index, no sort, a few blocks.
        assert_eq!(page.statement.matches('$').count(), 3, "{}", page.statement);
        let explain = |statement: String| {
            diesel::sql_query(format!(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE {statement}"
            ))
        };
        for (owner, most_blocks) in [(newcomer, 8), (reseller, 40)] {
            let explained: Explained = explain(format!("{}({owner}, {owner}, 21)", page.name))
                .get_result(&mut session)
                .await
                .unwrap();
            let plan: Value = serde_json::from_str(&explained.plan).unwrap();
            assert_eq!(
                plan_values(&plan, "Index Name"),
                [index],
                "{list}: {plan:#}"
            );
            assert_eq!(
                plan_values(&plan, "Node Type"),
                ["Limit", "Index Scan"],
                "{list}: {plan:#}"
            );
            let blocks = blocks_read(&plan);
            assert!(blocks <= most_blocks, "{list}: {blocks} blocks: {plan:#}");
        }

        // What the range and the ordering avoid: the same page as `user_id = $1`,
        // planned generically, walks the primary key through all 20,000 rows.
        diesel::sql_query(format!(
            "PREPARE by_equality AS SELECT id FROM {table} WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
        ))
        .execute(&mut session)
        .await
        .unwrap();
        let explained: Explained = explain(format!("by_equality({newcomer}, 21)"))
            .get_result(&mut session)
            .await
            .unwrap();
        diesel::sql_query("DEALLOCATE by_equality")
            .execute(&mut session)
            .await
            .unwrap();
        let plan: Value = serde_json::from_str(&explained.plan).unwrap();
        let pkey = format!("{table}_pkey");
        assert_eq!(plan_values(&plan, "Index Name"), [pkey], "{list}: {plan:#}");
        assert!(blocks_read(&plan) > 100, "{list}: {plan:#}");
    }

    // The page pool reads only.
    let refused = diesel::sql_query("UPDATE users SET balance = balance WHERE false")
        .execute(&mut *app.state.page_pool.get().await.unwrap())
        .await;
    assert!(
        refused.is_err_and(|e| e.to_string().contains("read-only")),
        "a write on the page pool must be refused"
    );
}
