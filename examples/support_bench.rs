//! Support and mail under load, each next to its reference in the same run:
//! - opening a ticket the reply bot answers (`openTicket` over HTTP/GraphQL, the
//!   message names one of the customer's orders, so the bot answers with its live
//!   status in the same request), 16 customers at once: tickets per second, p50
//!   and p99, and the SQL statements per ticket; the reference is pgbench running
//!   the same writes by hand (the ticket, both messages, the bot's status update,
//!   both notifies, the in-app notification and the queued mail) with the same 16
//!   clients;
//! - the mail outbox: the queued mails delivered to a local SMTP sink by the `mail
//!   outbox` job, against a trivial sender that writes the same number of
//!   messages to the same sink over one connection (the sink's own rate);
//! - the resident memory of this process (server, clients and the sink) at rest
//!   and after each part.
//!
//! Run: `cargo run --release --example support_bench` (PostgreSQL on
//! 127.0.0.1:5432, pgbench for the reference).

mod common;
#[allow(dead_code)]
#[path = "../tests/common/smtp_sink.rs"]
mod smtp_sink;

use std::time::{Duration, Instant};

use booster::{app::AppState, config::Secret};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const CUSTOMERS: usize = 16;
const ORDERS_PER_CUSTOMER: i64 = 10;
const SECONDS: u64 = 10;
/// Mails the outbox part sends.
const MAILS: usize = 2_000;

/// The same writes as opening a ticket the bot answers, by hand: the rate limit's
/// count, the order the message names, the ticket, the customer's message and its
/// notify, the bot's answer, the ticket's status, the second notify, the in-app
/// notification and the queued mail.
const TICKET_SHAPED_SCRIPT: &str = "\
\\set uid :first_user + :client_id
\\set oid :first_order + :client_id * :orders_per_customer + random(0, :orders_per_customer - 1)
SELECT count(*) FROM tickets WHERE user_id = :uid AND created_at >= now() - interval '1 hour';
BEGIN;
SELECT id, status, remains, start_count, service_id FROM orders WHERE user_id = :uid AND id = :oid;
SELECT id, name FROM services WHERE id = :service;
INSERT INTO tickets (user_id, subject, topic) VALUES (:uid, 'Where is my order?', 'ORDER') RETURNING id AS ticket_id \\gset
INSERT INTO ticket_messages (ticket_id, author, author_id, body, internal) VALUES (:ticket_id, 'CUSTOMER', :uid, 'Where is my order? It started yesterday.', false) RETURNING id AS first_id \\gset
SELECT pg_notify('booster_ticket_events', :ticket_id || ':' || :first_id);
INSERT INTO ticket_messages (ticket_id, author, body, internal) VALUES (:ticket_id, 'BOT', 'Hello, here is an automatic answer from your orders as they stand now: in progress, 400 of 1000 to go.', false) RETURNING id AS bot_id \\gset
UPDATE tickets SET status = 'ANSWERED', last_message_at = now(), updated_at = now() WHERE id = :ticket_id;
SELECT pg_notify('booster_ticket_events', :ticket_id || ':' || :bot_id);
SELECT id, email, language FROM users WHERE id = :uid;
INSERT INTO notifications (user_id, kind, message) VALUES (:uid, 'TICKET_REPLY', 'Ticket ' || :ticket_id || ' has a new reply.');
INSERT INTO mail_outbox (to_address, subject, text_body, kind, user_id, dedupe_key) VALUES ('customer@bench.example', 'Ticket ' || :ticket_id || ' has a reply', 'Hello, here is an automatic answer from your orders as they stand now: in progress, 400 of 1000 to go.', 'ticket_reply', :uid, 'pgbench:' || :bot_id);
END;
";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::with_bench_database(|url| async move { run(&url).await }).await
}

async fn run(url: &str) -> anyhow::Result<()> {
    let sink = smtp_sink::SmtpSink::start().await;
    let mut config = common::throughput_config(url, 16);
    // The per-customer ticket limit still runs its count; it is only set high
    // enough for 16 customers opening tickets back to back.
    config.support.tickets_per_user_per_hour = 1_000_000;
    config.mail.smtp_url = Some(Secret(sink.url()));
    config.mail.from = "Panel <no-reply@panel.example>".into();
    let state = AppState::new(config)?;
    let base = common::serve(&state).await?;
    let seeded = seed(&state).await?;
    common::print_resident("at rest, after seeding");

    tickets(&state, &base, url, &seeded).await?;
    common::print_resident("after the tickets");
    mails(&state, &sink).await?;
    common::print_resident("after the mails");
    Ok(())
}

/// The customers (with API keys) and their orders, in id order.
struct Seeded {
    service: i64,
    customers: Vec<(i64, String)>,
    /// Each customer's orders.
    orders: Vec<Vec<i64>>,
}

async fn seed(state: &AppState) -> anyhow::Result<Seeded> {
    let mut conn = state.pool.get().await?;
    let service = common::bench_service(&mut conn, None).await?;
    let customers = common::funded_users(&mut conn, "customer", CUSTOMERS).await?;
    let ids: Vec<i64> = customers.iter().map(|(id, _)| *id).collect();
    anyhow::ensure!(
        ids.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "the benchmark customers' ids are not consecutive"
    );
    diesel::sql_query(format!(
        "INSERT INTO orders (user_id, service_id, link, quantity, price_per_1000, charge, status, start_count, remains) \
         SELECT u, {service}, 'https://x.com/bench/status/' || u || '/' || g, 1000, 10000, 10000, 'IN_PROGRESS', 120, 400 \
         FROM unnest($1::bigint[]) AS u, generate_series(1, {ORDERS_PER_CUSTOMER}) AS g ORDER BY u, g"
    ))
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(&ids)
    .execute(&mut conn)
    .await?;
    let mut orders = Vec::with_capacity(CUSTOMERS);
    for id in &ids {
        use booster::db::schema::orders::dsl;
        use diesel::{ExpressionMethods, QueryDsl};
        let of_customer: Vec<i64> = dsl::orders
            .filter(dsl::user_id.eq(id))
            .select(dsl::id)
            .order(dsl::id)
            .load(&mut conn)
            .await?;
        orders.push(of_customer);
    }
    diesel::sql_query("ANALYZE").execute(&mut conn).await?;
    Ok(Seeded {
        service,
        customers,
        orders,
    })
}

/// `openTicket` naming one of the customer's orders; the bot's answer must come
/// with it.
async fn open_ticket(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    order: i64,
) -> anyhow::Result<()> {
    let answer: Value = http
        .post(format!("{base}/graphql"))
        .bearer_auth(key)
        .json(&json!({
            "query": "mutation($input: OpenTicketInput!) { openTicket(input: $input) { botAnswered ticket { id status } } }",
            "variables": { "input": {
                "subject": "Where is my order?",
                "topic": "ORDER",
                "message": format!("Where is my order #{order}? It started yesterday."),
            } }
        }))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(
        answer["data"]["openTicket"]["botAnswered"] == true,
        "the bot did not answer: {answer}"
    );
    Ok(())
}

async fn tickets(state: &AppState, base: &str, url: &str, seeded: &Seeded) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    // Once each, outside the timing: every customer's first ticket is answered.
    for ((_, key), orders) in seeded.customers.iter().zip(&seeded.orders) {
        open_ticket(&http, base, key, orders[0]).await?;
    }
    let statements_before = state.query_counter.get();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(SECONDS);
    let workers: Vec<_> = seeded
        .customers
        .iter()
        .zip(&seeded.orders)
        .map(|((_, key), orders)| {
            let (http, base, key, orders) =
                (http.clone(), base.to_string(), key.clone(), orders.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let order = orders[latencies.len() % orders.len()];
                    let sent = Instant::now();
                    open_ticket(&http, &base, &key, order).await?;
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let statements =
        (state.query_counter.get() - statements_before) as f64 / latencies.len().max(1) as f64;
    latencies.sort_by(f64::total_cmp);
    let rate = latencies.len() as f64 / elapsed;

    let first_user = seeded.customers[0].0;
    let reference = common::pgbench_script_run(
        url,
        TICKET_SHAPED_SCRIPT,
        &[
            ("first_user", first_user.to_string()),
            ("first_order", seeded.orders[0][0].to_string()),
            ("orders_per_customer", ORDERS_PER_CUSTOMER.to_string()),
            ("service", seeded.service.to_string()),
        ],
        CUSTOMERS,
        SECONDS,
    );
    let (p50, p99) = (
        common::quantile_of(&latencies, 0.5),
        common::quantile_of(&latencies, 0.99),
    );
    println!(
        "openTicket answered by the bot, {CUSTOMERS} customers at once, {SECONDS} s (HTTP/GraphQL):"
    );
    println!(
        "  booster: {rate:.0} tickets/s, p50 {p50:.2} ms, p99 {p99:.2} ms, {statements:.1} SQL statements per ticket"
    );
    match reference {
        Some(run) => {
            let (their_p50, their_p99) = (run.latency_ms(0.5), run.latency_ms(0.99));
            println!(
                "  the same writes by hand (pgbench, {CUSTOMERS} clients): {:.0} tickets/s, p50 {their_p50:.2} ms, p99 {their_p99:.2} ms",
                run.tps
            );
            println!(
                "  booster / by hand: throughput {:.2}, p50 {:.2}, p99 {:.2}",
                rate / run.tps,
                p50 / their_p50,
                p99 / their_p99
            );
        }
        None => println!("  the same writes by hand: pgbench not available"),
    }
    Ok(())
}

/// A realistic mail (a ticket's answer), one per customer in turn.
fn bench_mail(i: usize) -> booster::mail::NewMail {
    booster::mail::NewMail {
        to: format!("customer{}@bench.example", i % CUSTOMERS),
        subject: format!("Ticket {i} has a reply"),
        text_body: format!(
            "Hello,\n\nHere is an automatic answer from your orders as they stand now:\n\n\
             Order #{i} (Twitter followers): in progress, started at 120, 400 of 1000 to go.\n\
             It is being delivered; the rest arrives over the next hours.\n\n\
             Reply to this ticket if you need our team.\n"
        ),
        html_body: None,
        kind: "ticket_reply".into(),
        user_id: None,
        dedupe_key: Some(format!("bench:{i}")),
    }
}

async fn mails(state: &AppState, sink: &smtp_sink::SmtpSink) -> anyhow::Result<()> {
    let mut conn = state.pool.get().await?;
    // The tickets queued their own mails: those go first, outside the timing.
    booster::jobs::mail_outbox::run(state)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let queued: Vec<_> = (0..MAILS).map(bench_mail).collect();
    booster::mail::enqueue_many(&mut conn, &queued)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    drop(conn);
    let before = sink.received().len();
    let statements_before = state.query_counter.get();
    let started = Instant::now();
    let mut sent = 0;
    while sent < MAILS {
        let report = booster::jobs::mail_outbox::run(state)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(
            report.sent > 0 && report.retrying == 0 && report.failed == 0,
            "the outbox stalled: {report:?}"
        );
        sent += report.sent;
    }
    let ours = started.elapsed().as_secs_f64();
    let statements = (state.query_counter.get() - statements_before) as f64 / MAILS as f64;
    anyhow::ensure!(
        sink.received().len() - before == MAILS,
        "the sink did not receive every mail"
    );

    // The reference: the same number of messages of the same size, written to the
    // same sink over one connection by the least an SMTP client does.
    let message = sink
        .received()
        .last()
        .map(|m| m.data.clone())
        .unwrap_or_default();
    let started = Instant::now();
    trivial_send(sink.addr, &message, MAILS).await?;
    let theirs = started.elapsed().as_secs_f64();
    println!("mail outbox, {MAILS} mails to a local SMTP sink:");
    println!(
        "  booster's mail outbox job: {:.0} mails/s, {statements:.1} SQL statements per mail",
        MAILS as f64 / ours
    );
    println!(
        "  a trivial sender, one connection: {:.0} mails/s",
        MAILS as f64 / theirs
    );
    println!("  booster / trivial sender: {:.2}", theirs / ours);
    Ok(())
}

/// `count` messages over one SMTP connection: EHLO once, then MAIL, RCPT and DATA
/// per message, each answer read before the next command.
async fn trivial_send(
    addr: std::net::SocketAddr,
    message: &str,
    count: usize,
) -> anyhow::Result<()> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    // A reply may span lines (`250-...`); it ends at the line with a space after the code.
    async fn reply(
        lines: &mut tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    ) -> anyhow::Result<String> {
        loop {
            let line = lines
                .next_line()
                .await?
                .ok_or_else(|| anyhow::anyhow!("the sink closed the connection"))?;
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line);
            }
        }
    }
    reply(&mut lines).await?;
    write.write_all(b"EHLO bench.example\r\n").await?;
    reply(&mut lines).await?;
    // Dot-stuffed once, ahead of the loop: the message is the same each time.
    let mut data = String::with_capacity(message.len() + 16);
    for line in message.split("\r\n") {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    for i in 0..count {
        write
            .write_all(b"MAIL FROM:<no-reply@panel.example>\r\n")
            .await?;
        reply(&mut lines).await?;
        write
            .write_all(format!("RCPT TO:<customer{}@bench.example>\r\n", i % CUSTOMERS).as_bytes())
            .await?;
        reply(&mut lines).await?;
        write.write_all(b"DATA\r\n").await?;
        reply(&mut lines).await?;
        write.write_all(data.as_bytes()).await?;
        let accepted = reply(&mut lines).await?;
        anyhow::ensure!(accepted.starts_with("250"), "the sink answered {accepted}");
    }
    write.write_all(b"QUIT\r\n").await?;
    Ok(())
}
