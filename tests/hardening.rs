//! Issue 21, the second hardening pass: introspection under aliases, multipart
//! uploads, and the other surfaces an outside attack found open.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// `__schema` with `fields { args { type ... } }`, as the attack sent it.
const SCHEMA_SELECTION: &str =
    "__schema { types { name fields { name args { name type { name kind ofType { name } } } } } }";

async fn post_raw(app: &TestApp, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn introspection_is_once_per_document_signed_in_and_bounded() {
    let app = TestApp::spawn_with(|c| c.server.graphql_max_answer_values = 2_000).await;
    let (_, key) = app.customer("curious@example.com").await;

    // Anonymous callers get no introspection (GRAPHQL_ANONYMOUS_INTROSPECTION=false).
    let anonymous = app
        .gql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
    let typename = app.ok(None, "{ __typename }", json!({})).await;
    assert_eq!(typename["__typename"], "QueryRoot");

    // Signed in: one introspection works...
    let once = app.read(&key, "{ __schema { queryType { name } } }").await;
    assert_eq!(once["__schema"]["queryType"]["name"], "QueryRoot");

    // ...but under 950 aliases it is refused before anything runs.
    let aliased: String = (0..950)
        .map(|i| format!("a{i}: {SCHEMA_SELECTION} "))
        .collect();
    let started = Instant::now();
    let answer = app
        .gql(Some(&key), &format!("{{ {aliased} }}"), json!({}))
        .await;
    assert_eq!(error_code(&answer), "QUERY_TOO_COMPLEX", "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let spread = app
        .gql(
            Some(&key),
            "{ ...F ...G } fragment F on QueryRoot { a: __schema { queryType { name } } } fragment G on QueryRoot { b: __type(name: \"Order\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&spread), "QUERY_TOO_COMPLEX", "{spread}");

    // One whole introspection is stopped by the answer budget (here 2,000 values).
    let answer = app
        .gql(Some(&key), &format!("{{ {SCHEMA_SELECTION} }}"), json!({}))
        .await;
    assert_too_complex(&answer, "values");
}

/// A page's rows are resolved flat (`graphql/flat.rs`), not field by field
/// through the extension: their fields still count against the answer budget.
#[tokio::test(flavor = "multi_thread")]
async fn the_fields_of_a_pages_rows_count_against_the_answer_budget() {
    let app = TestApp::spawn_with(|c| c.server.graphql_max_answer_values = 100).await;
    let service = service(
        &app,
        booster::db::enums::Fulfillment::Manual,
        10_000,
        10,
        1000,
    )
    .await;
    let (_, key) = app.funded_customer("rows@example.com", 1_000_000).await;
    for n in 0..30 {
        app.place(
            &key,
            order_input(service, &format!("https://x.com/r/status/{n}"), 100),
        )
        .await;
    }
    // 30 rows of 2 fields: 2 + 30 + 60 values, within 100.
    let small = app
        .read(&key, "{ myOrders(first: 30) { nodes { id status } } }")
        .await;
    assert_eq!(small["myOrders"]["nodes"].as_array().unwrap().len(), 30);
    // 30 rows of 4 fields: 2 + 30 + 120, past it (the rows alone are 32).
    let answer = app
        .gql(
            Some(&key),
            "{ myOrders(first: 30) { nodes { id status link quantity } } }",
            json!({}),
        )
        .await;
    assert_too_complex(&answer, "values");
}

/// QUERY_TOO_COMPLEX, with `why` in the message.
fn assert_too_complex(answer: &Value, why: &str) {
    assert_eq!(error_code(answer), "QUERY_TOO_COMPLEX", "{answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains(why), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_query_timeout_stops_introspection() {
    let app = TestApp::spawn_with(|c| {
        c.server.graphql_max_answer_values = 0;
        c.server.graphql_query_timeout = Duration::from_millis(1);
    })
    .await;
    let (_, key) = app.customer("slow@example.com").await;
    let deep = format!("{{ {SCHEMA_SELECTION} }}");
    let started = Instant::now();
    let answer = app.gql(Some(&key), &deep, json!({})).await;
    assert_too_complex(&answer, "ran longer");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// A multipart body of `files` empty file parts for `query`.
fn multipart_body(files: usize, query: &str) -> Vec<u8> {
    let mut body = String::new();
    let operations = json!({ "query": query, "variables": { "file": null } });
    body += &format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n"
    );
    body += "--XyZ\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{\"0\": [\"variables.file\"]}\r\n";
    for i in 0..files {
        body += &format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{i}\"; filename=\"f{i}\"\r\n\r\n\r\n"
        );
    }
    body += "--XyZ--\r\n";
    body.into_bytes()
}

async fn post_multipart(app: &TestApp, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut request = app
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const MASS_UPLOAD: &str =
    "mutation($file: Upload) { placeMassOrder(input: { file: $file }) { placedCount } }";

#[tokio::test(flavor = "multi_thread")]
async fn uploads_are_limited_signed_in_and_only_for_upload_operations() {
    let app = TestApp::spawn_with(|c| c.server.anonymous_rate_limit_per_minute = 10).await;
    let (_, key) = app.customer("uploader@example.com").await;

    // Anonymous: refused before the body is parsed, and counted against the address.
    let (status, answer) = post_multipart(&app, None, multipart_body(2000, MASS_UPLOAD)).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(error_code(&answer), "UNAUTHENTICATED");

    // Signed in: too many file parts is 413 without opening any.
    let (status, answer) =
        post_multipart(&app, Some(&key), multipart_body(2000, MASS_UPLOAD)).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(error_code(&answer), "BAD_REQUEST");

    // An operation that takes no file may not upload one.
    let (status, answer) =
        post_multipart(&app, Some(&key), multipart_body(1, "{ me { id } }")).await;
    assert_eq!(status, 400, "{answer}");

    // One file for the mass order is read (and its empty text is a VALIDATION).
    let (status, answer) = post_multipart(&app, Some(&key), multipart_body(1, MASS_UPLOAD)).await;
    assert_eq!(status, 200, "{answer}");
    assert_ne!(error_code(&answer), "BAD_REQUEST", "{answer}");

    // The three refusals above counted against the address (10 a minute): at
    // most 7 more anonymous requests pass.
    let mut passed = 0;
    while post_raw(&app, None, json!({ "query": "{ __typename }" }))
        .await
        .0
        == 200
    {
        passed += 1;
        assert!(passed <= 7, "refused uploads were not counted");
    }
}

async fn anonymous_from(app: &TestApp, forwarded: &str) -> u16 {
    status_of(
        app.http
            .post(format!("{}/graphql", app.base_url))
            .header("x-forwarded-for", forwarded)
            .json(&json!({ "query": "{ __typename }" })),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn address_limits_key_ipv6_on_the_64_and_cover_readyz() {
    let app = TestApp::spawn_with(|c| {
        c.server.anonymous_rate_limit_per_minute = 2;
        c.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    assert_eq!(anonymous_from(&app, "2001:db8:5:6::1").await, 200);
    assert_eq!(anonymous_from(&app, "2001:db8:5:6:aaaa::2").await, 200);
    assert_eq!(
        anonymous_from(&app, "2001:db8:5:6:ffff::3").await,
        429,
        "one /64 is one client"
    );
    assert_eq!(anonymous_from(&app, "2001:db8:5:7::1").await, 200);

    // /readyz counts against the same limit.
    let readyz = |ip: &'static str| {
        let request = app
            .http
            .get(format!("{}/readyz", app.base_url))
            .header("x-forwarded-for", ip);
        status_of(request)
    };
    assert_ne!(readyz("192.0.2.9").await, 429);
    assert_ne!(readyz("192.0.2.9").await, 429);
    assert_eq!(readyz("192.0.2.9").await, 429);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_from_a_limited_address_costs_no_lookup() {
    let app = TestApp::spawn_with(|c| c.server.anonymous_rate_limit_per_minute = 2).await;
    // The HTTP status of a request signed with the `i`th guessed token.
    let guess = async |i: usize| {
        status_of(
            app.http
                .post(format!("{}/graphql", app.base_url))
                .bearer_auth(format!("bstk_{i:043}"))
                .json(&json!({ "query": "{ __typename }" })),
        )
        .await
    };
    let mut statuses = Vec::new();
    for i in 0..3 {
        statuses.push(guess(i).await);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // The address is over its limit: further guesses are not looked up.
    let before = app.state.query_counter.get();
    for i in 3..20 {
        assert_eq!(guess(i).await, 429);
    }
    assert_eq!(
        app.state.query_counter.get(),
        before,
        "no lookup while limited"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_v2_has_a_per_user_ceiling_over_all_keys() {
    let app = TestApp::spawn_with(|c| {
        c.server.api_v2_rate_limit_per_minute = 100;
        c.server.api_v2_user_rate_limit_per_minute = 4;
    })
    .await;
    let (user, first) = app.customer("many-keys@example.com").await;
    let mut keys = vec![first];
    for _ in 0..3 {
        let mut conn = app.conn().await;
        keys.push(
            booster::auth::create_api_key(&mut conn, user, "more")
                .await
                .unwrap()
                .1,
        );
    }
    let mut limited = 0;
    for key in keys.iter().cycle().take(8) {
        let response = app
            .http
            .post(format!("{}/api/v2", app.base_url))
            .form(&[("key", key.as_str()), ("action", "balance")])
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        if body["error"]
            .as_str()
            .is_some_and(|e| e == "Too many requests")
        {
            limited += 1;
        }
    }
    assert_eq!(limited, 4, "four calls a minute per user, whichever key");
}

#[tokio::test(flavor = "multi_thread")]
async fn ticket_alerts_are_one_digest_per_admin_and_tickets_are_limited() {
    use booster::db::{enums::Role, mail_outbox::MailRow};
    let app = TestApp::spawn().await;
    let (first_admin, _) = app.user("admin-one@example.com", Role::Owner).await;
    let (second_admin, _) = app.user("admin-two@example.com", Role::Owner).await;
    let (_, noisy) = app.customer("noisy@example.com").await;
    let open = "mutation($input: OpenTicketInput!) { openTicket(input: $input) { botAnswered } }";
    let mut limited = 0;
    for i in 0..12 {
        let input = json!({ "input": { "subject": format!("Question {i}"), "topic": "OTHER", "message": format!("zqx wvut {i}") } });
        let answer = app.gql(Some(&noisy), open, input).await;
        if answer.get("errors").is_some() {
            assert_eq!(error_code(&answer), "RATE_LIMITED", "{answer}");
            limited += 1;
        } else {
            assert_eq!(answer["data"]["openTicket"]["botAnswered"], false);
        }
    }
    assert_eq!(limited, 2, "ten tickets an hour per user");
    for admin in [first_admin, second_admin] {
        let mails = MailRow::of_user(&mut *app.conn().await, admin)
            .await
            .unwrap();
        assert_eq!(
            mails.len(),
            1,
            "one digest, not one mail per alert: {mails:?}"
        );
        let digest = &mails[0];
        assert_eq!(digest.kind, "admin_digest");
        assert_eq!(digest.text_body.matches("waits for staff").count(), 10);
        assert!(
            digest.next_attempt_at > chrono::Utc::now(),
            "sent when the interval ends"
        );
    }
}

/// A header's value with folded continuation lines joined (RFC 5322 unfolding).
fn unfolded_header(data: &str, name: &str) -> Option<String> {
    let head = data.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    unfolded
        .split("\r\n")
        .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
        .map(|line| line[prefix.len()..].trim().to_string())
}

/// Subscribes `email` to the newsletter and confirms it with its signed token.
async fn confirmed_subscriber(app: &TestApp, email: &str) {
    app.ok(
        None,
        "mutation($e: String!) { subscribeNewsletter(email: $e) }",
        json!({ "e": email }),
    )
    .await;
    let token = booster::domain::content::newsletter::confirm_token(&app.state.tokens, email);
    app.ok(
        None,
        "mutation($e: String!, $t: String!) { confirmNewsletter(email: $e, token: $t) }",
        json!({ "e": email, "t": token }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn newsletter_mails_carry_one_click_list_unsubscribe_headers() {
    use booster::domain::content::newsletter;
    use common::smtp_sink::SmtpSink;

    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::spawn_with(|config| {
        config.mail.smtp_url = Some(booster::config::Secret(url));
        config.mail.from = "Panel <no-reply@panel.test>".into();
        config.mail.smtp_timeout = Duration::from_secs(5);
    })
    .await;
    let admin = app.admin().await;
    confirmed_subscriber(&app, "reader@example.com").await;
    let base_url = app.state.config.content.public_base_url.clone();
    let sent = app
        .read(
            &admin,
            "mutation { adminSendNewsletter(subject: \"News\", body: \"Hello\") }",
        )
        .await;
    assert_eq!(sent["adminSendNewsletter"], 1);
    booster::jobs::mail_outbox::run(&app.state).await.unwrap();
    let received = sink.received();
    let issue = received
        .iter()
        .find(|mail| mail.header("Subject").as_deref() == Some("News"))
        .expect("the issue was sent");
    let expected = newsletter::unsubscribe_link(&base_url, &app.state.tokens, "reader@example.com");
    assert_eq!(
        unfolded_header(&issue.data, "List-Unsubscribe").as_deref(),
        Some(format!("<{expected}>").as_str()),
        "{}",
        issue.data
    );
    assert_eq!(
        unfolded_header(&issue.data, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    // Other mails (the confirmation) carry no list headers.
    let confirmation = received
        .iter()
        .find(|mail| mail.header("Subject").as_deref() != Some("News"))
        .expect("the confirmation was sent");
    assert!(unfolded_header(&confirmation.data, "List-Unsubscribe").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_discount_never_makes_own_products_free() {
    use booster::db::enums::Fulfillment;
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // The panel's own service, cost unknown: the discount on it stops at
    // OWN_PRODUCT_MAX_DISCOUNT_BPS (default 5000, 50%).
    let own = service(&app, Fulfillment::Manual, 20_000, 10, 10_000).await;
    let (reseller, key) = app.funded_customer("agency@example.com", 1_000_000).await;
    app.ok(
        Some(&admin),
        "mutation($u: ID!) { adminSetUserDiscount(userId: $u, discountBps: 10000) { discountBps } }",
        json!({ "u": reseller.to_string() }),
    )
    .await;
    let seen = app
        .ok(
            Some(&key),
            "query($a: ID!) { service(id: $a) { pricePer1000 } }",
            json!({ "a": own.to_string() }),
        )
        .await;
    assert_eq!(seen["service"]["pricePer1000"], 10_000);
    let placed = order_input(own, "https://x.com/b", 1000);
    assert_eq!(app.charge_of(&key, placed).await, 10_000);
    let mass = format!("{own}|https://x.com/c|500\n");
    assert_eq!(app.mass_charge(&key, &mass).await, 5_000);
    let listed: Value = json_answer(
        app.http
            .post(format!("{}/api/v2", app.base_url))
            .form(&[("key", key.as_str()), ("action", "services")]),
    )
    .await;
    let rate = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == own)
        .unwrap()["rate"]
        .clone();
    assert_eq!(rate, "10000.00");
    assert_eq!(app.balance(reseller).await, 1_000_000 - 15_000);
    app.assert_books_balanced().await;
}

/// Every cell of `text` as a spreadsheet splitting on `delimiter` sees it.
fn cells_split_on(text: &str, delimiter: u8) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    reader
        .records()
        .flat_map(|record| record.unwrap().iter().map(String::from).collect::<Vec<_>>())
        .collect()
}

/// No cell, in any common locale's separator, would run as a formula.
fn assert_no_formula(text: &str) {
    for delimiter in [b',', b';', b'\t', b'|'] {
        for cell in cells_split_on(text, delimiter) {
            let start = cell.trim_start_matches([' ', '"']);
            assert!(
                !start.starts_with(['=', '+', '-', '@']),
                "a formula cell {cell:?} when split on {:?}:\n{text}",
                delimiter as char
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_exports_neutralise_formulas_in_every_locale_and_are_audited() {
    use booster::db::{enums::Fulfillment, schema::admin_audit_log as log};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (buyer, _) = app.customer("buyer@example.com").await;
    let followers = service(&app, Fulfillment::Manual, 10_000, 1, 100_000).await;
    for link in [
        "https://twitter.com/x;=1+1;",
        "https://x.com/a,@SUM(1)",
        "https://x.com/b\t-2+3",
        "https://x.com/c; \"=1+1\"",
    ] {
        diesel::sql_query(
            "INSERT INTO orders (user_id, service_id, link, quantity, price_per_1000, charge, status, refunded) \
             VALUES ($1, $2, $3, 100, 10000, 1000, 'COMPLETED', 0)",
        )
        .bind::<diesel::sql_types::BigInt, _>(buyer)
        .bind::<diesel::sql_types::BigInt, _>(followers)
        .bind::<diesel::sql_types::Text, _>(link)
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
    }
    let orders = app
        .get_text("/admin/exports/orders.csv", Some(&admin))
        .await;
    assert!(orders.contains("twitter.com/x"), "{orders}");
    assert_no_formula(&orders);
    // Text cells are quoted, numbers are not.
    assert!(
        orders.contains("\"https://twitter.com/x;'=1+1;\""),
        "{orders}"
    );

    // An address a spreadsheet would run, confirmed, then exported.
    confirmed_subscriber(&app, "=1+2@example.com").await;
    let export = app.read(&admin, "{ adminNewsletterExport }").await;
    let export = export["adminNewsletterExport"].as_str().unwrap();
    assert!(export.contains("1+2@example.com"), "{export}");
    assert_no_formula(export);

    // Each export leaves an audit entry: who, what, when.
    let entries: Vec<(String, Option<Value>)> = log::table
        .filter(log::action.eq("export.download"))
        .order(log::id.asc())
        .select((log::action, log::after))
        .load(&mut *app.conn().await)
        .await
        .unwrap();
    let exported: Vec<Value> = entries
        .iter()
        .map(|(_, after)| after.as_ref().unwrap()["export"].clone())
        .collect();
    assert_eq!(exported, vec![json!("orders.csv"), json!("newsletter.csv")]);
}

/// XML 1.0's `Char` production.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Parses `xml` with quick-xml to its end; every character, raw or as a
/// reference, must be one XML can carry.
fn assert_xml_parses(xml: &str) {
    use quick_xml::events::Event;
    if let Some(bad) = xml.chars().find(|c| !xml_char(*c)) {
        panic!("U+{:04X} cannot be in XML:\n{xml}", bad as u32);
    }
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Text(text) => {
                let text = text.decode().expect("decodable text");
                let text = quick_xml::escape::unescape(&text).expect("known references");
                assert!(text.chars().all(xml_char), "{text:?}");
            }
            Event::Start(element) | Event::Empty(element) => {
                for attribute in element.attributes() {
                    let value = attribute.expect("an attribute").unescape_value().unwrap();
                    assert!(value.chars().all(xml_char), "{value:?}");
                }
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_feed_stays_valid_xml_over_hostile_content() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // Character references Markdown decodes to characters XML cannot carry.
    let created = app
        .ok(
            Some(&admin),
            "mutation($input: CreateContentInput!) { adminCreateContent(input: $input) { id } }",
            json!({ "input": {
                "kind": "POST",
                "title": "Hostile",
                "body": "One &#1; two &#xFFFF; three &#xFFFE; four &#x1F; `&#8;`\n\n<b>&#x0B;</b>",
                "tags": ["news"],
            } }),
        )
        .await;
    let id = created["adminCreateContent"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminPublishContent(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    // Where text comes in, characters XML cannot carry are refused.
    for hostile in ["Panel\u{FFFF}", "Panel\u{FFFE}", "Panel\u{1}"] {
        let refused = app
            .gql(
                Some(&admin),
                "mutation($i: SiteSettingsInput!) { adminUpdateSiteSettings(input: $i) { siteName } }",
                json!({ "i": { "siteName": hostile } }),
            )
            .await;
        assert_eq!(error_field(&refused), "siteName", "{hostile:?}: {refused}");
    }
    let refused = app
        .gql(
            Some(&admin),
            "mutation($input: CreateContentInput!) { adminCreateContent(input: $input) { id } }",
            json!({ "input": { "kind": "POST", "title": "A\u{FFFF}", "body": "x" } }),
        )
        .await;
    assert_eq!(error_field(&refused), "title", "{refused}");
    let feed = app.get_text("/feed.xml", None).await;
    assert!(feed.contains("Hostile"));
    assert_xml_parses(&feed);

    // Rows written before the rule (or by hand) still make a valid feed.
    diesel::sql_query(
        "INSERT INTO app_settings (key, value) VALUES ('site', jsonb_build_object('site_name', 'Old' || chr(65535) || chr(1))) \
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
    )
    .execute(&mut *app.conn().await)
    .await
    .unwrap();
    diesel::sql_query(
        "UPDATE content_items SET title = title || chr(2) || chr(65534), excerpt = excerpt || chr(3), \
         body_html = body_html || chr(4)",
    )
    .execute(&mut *app.conn().await)
    .await
    .unwrap();
    let feed = app.get_text("/feed.xml", None).await;
    assert!(feed.contains("Old"), "{feed}");
    assert_xml_parses(&feed);
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_text_comes_from_the_sanitized_document() {
    let app =
        TestApp::spawn_with(|c| c.content.public_base_url = "https://panel.example".into()).await;
    let admin = app.admin().await;
    let body = "Hello <script>stealCookies()</script> reader <style>.x{}</style>\n\n\
                Read [this](javascript:alert(1)) and [that](https://example.com/ok).";
    let created = app
        .ok(
            Some(&admin),
            "mutation($input: CreateContentInput!) { adminCreateContent(input: $input) { id slug excerpt } }",
            json!({ "input": { "kind": "POST", "title": "Plain", "body": body } }),
        )
        .await;
    let item = &created["adminCreateContent"];
    let excerpt = item["excerpt"].as_str().unwrap();
    assert!(excerpt.starts_with("Hello reader"), "{excerpt}");
    assert!(
        !excerpt.contains("steal") && !excerpt.contains(".x{"),
        "{excerpt}"
    );
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminPublishContent(id: $id) { id } }",
        json!({ "id": item["id"] }),
    )
    .await;
    let seo = app
        .ok(
            None,
            "query($slug: String!) { post(slug: $slug) { seo { metaDescription ogDescription } } }",
            json!({ "slug": item["slug"] }),
        )
        .await;
    let seo = seo["post"]["seo"].to_string();
    assert!(seo.contains("Hello reader"), "{seo}");
    assert!(!seo.contains("steal"), "{seo}");
    let feed = app.get_text("/feed.xml", None).await;
    let summary = feed
        .split("<summary>")
        .nth(1)
        .unwrap()
        .split("</summary>")
        .next()
        .unwrap();
    assert!(!summary.contains("steal"), "{summary}");

    // The newsletter's plain-text part: no script text, no javascript: target.
    confirmed_subscriber(&app, "reader@example.com").await;
    app.ok(
        Some(&admin),
        "mutation($b: String!) { adminSendNewsletter(subject: \"News\", body: $b) }",
        json!({ "b": body }),
    )
    .await;
    use booster::db::schema::mail_outbox as outbox;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let text: String = outbox::table
        .filter(outbox::kind.eq("newsletter"))
        .select(outbox::text_body)
        .first(&mut *app.conn().await)
        .await
        .unwrap();
    assert!(text.contains("Hello"), "{text}");
    assert!(!text.contains("steal"), "{text}");
    assert!(!text.to_lowercase().contains("javascript:"), "{text}");
    assert!(text.contains("https://example.com/ok"), "{text}");
}
