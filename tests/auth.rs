//! Sign-in with Google ID tokens, sessions, API keys, guards and bans.

mod common;

use booster::db::enums::Role;
use common::*;
use serde_json::json;

const SIGN_IN: &str = "mutation($t: String!) { signInWithGoogle(idToken: $t) { token expiresAt user { id email role } } }";

#[tokio::test(flavor = "multi_thread")]
async fn google_sign_in_creates_user_and_session_then_signs_out() {
    let app = TestApp::spawn().await;
    let token = google_token(
        google_claims("google-sub-1", "budi@example.com"),
        TEST_KEY,
        "test-key-1",
    );
    let data = app.ok(None, SIGN_IN, json!({ "t": token })).await;
    let session = data["signInWithGoogle"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        data["signInWithGoogle"]["user"]["email"],
        "budi@example.com"
    );
    assert_eq!(data["signInWithGoogle"]["user"]["role"], "CUSTOMER");

    // The same Google account signs in to the same user.
    let again = app.ok(None, SIGN_IN, json!({ "t": token })).await;
    assert_eq!(
        again["signInWithGoogle"]["user"]["id"],
        data["signInWithGoogle"]["user"]["id"]
    );

    let me = app.read(&session, "{ me { email name } }").await;
    assert_eq!(me["me"]["email"], "budi@example.com");
    assert_eq!(me["me"]["name"], "Test User");

    // The session token is stored hashed, never in clear.
    let mut conn = app.conn().await;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let hashes: Vec<Vec<u8>> = booster::db::schema::sessions::table
        .select(booster::db::schema::sessions::token_hash)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(hashes.len(), 2);
    assert!(
        hashes
            .iter()
            .all(|h| h.len() == 32 && h.as_slice() != session.as_bytes())
    );

    app.read(&session, "mutation { signOut }").await;
    let after = app.gql(Some(&session), "{ me { email } }", json!({})).await;
    assert_eq!(error_code(&after), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_google_tokens_create_nothing() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    let mut wrong_audience = google_claims("s1", "a@example.com");
    wrong_audience["aud"] = json!("someone-else.apps.googleusercontent.com");
    let mut expired = google_claims("s2", "b@example.com");
    expired["iat"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    let mut unverified = google_claims("s3", "c@example.com");
    unverified["email_verified"] = json!(false);
    let mut wrong_issuer = google_claims("s4", "d@example.com");
    wrong_issuer["iss"] = json!("https://evil.example.com");
    let cases = [
        (
            "bad signature",
            google_token(
                google_claims("s0", "x@example.com"),
                OTHER_KEY,
                "test-key-1",
            ),
            "bad signature",
        ),
        (
            "unknown key",
            google_token(
                google_claims("s0", "x@example.com"),
                TEST_KEY,
                "no-such-kid",
            ),
            "unknown signing key",
        ),
    ];
    // Signed with the right key, but with claims Google would never send.
    let signed = [
        (wrong_audience, "wrong audience", "wrong audience"),
        (expired, "expired", "expired"),
        (unverified, "unverified email", "email not verified"),
        (wrong_issuer, "wrong issuer", "wrong issuer"),
    ]
    .map(|(claims, name, reason)| (name, google_token(claims, TEST_KEY, "test-key-1"), reason));
    let cases =
        cases
            .into_iter()
            .chain(signed)
            .chain([("garbage", "not-a-jwt".to_string(), "malformed")]);
    for (name, token, reason) in cases {
        let answer = app.gql(None, SIGN_IN, json!({ "t": token })).await;
        assert_eq!(error_code(&answer), "UNAUTHENTICATED", "{name}: {answer}");
        let message = answer["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(reason), "{name}: {message}");
    }
    let mut conn = app.conn().await;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let users: i64 = booster::db::schema::users::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    let sessions: i64 = booster::db::schema::sessions::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!((users, sessions), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn google_sign_in_links_an_account_created_by_email() {
    let app = TestApp::spawn().await;
    let (admin_id, _) = app.user("owner@example.com", Role::Owner).await;
    let token = google_token(
        google_claims("g-owner", "Owner@Example.com"),
        TEST_KEY,
        "test-key-1",
    );
    let data = app.ok(None, SIGN_IN, json!({ "t": token })).await;
    assert_eq!(data["signInWithGoogle"]["user"]["id"], admin_id.to_string());
    assert_eq!(data["signInWithGoogle"]["user"]["role"], "OWNER");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_lifecycle() {
    let app = TestApp::spawn().await;
    let (_, key) = app.customer("agency@example.com").await;
    let created = app
        .ok(Some(&key), r#"mutation { createApiKey(name: "reseller bot") { key apiKey { id name prefix active } } }"#, json!({}))
        .await;
    let new_key = created["createApiKey"]["key"].as_str().unwrap().to_string();
    let id = created["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        new_key.starts_with(
            created["createApiKey"]["apiKey"]["prefix"]
                .as_str()
                .unwrap()
        )
    );

    // The new key works, and listing shows prefixes only.
    let listed = app
        .read(&new_key, "{ myApiKeys { id name prefix active } }")
        .await;
    let text = listed.to_string();
    assert_eq!(listed["myApiKeys"].as_array().unwrap().len(), 2);
    assert!(
        !text.contains(&new_key) && !text.contains(&key),
        "full keys never listed"
    );

    // Another customer cannot revoke it (and cannot tell it exists).
    let (_, other) = app.customer("other@example.com").await;
    let answer = app
        .gql(
            Some(&other),
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&answer), "NOT_FOUND");

    let revoked = app
        .ok(
            Some(&key),
            "mutation($id: ID!) { revokeApiKey(id: $id) { active revokedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(revoked["revokeApiKey"]["active"], false);
    let answer = app.gql(Some(&new_key), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&answer), "UNAUTHENTICATED");

    // Bad input: an empty name is a VALIDATION error naming the field; nothing written.
    let answer = app
        .gql(
            Some(&key),
            r#"mutation { createApiKey(name: "  ") { key } }"#,
            json!({}),
        )
        .await;
    assert_invalid(&answer, "name");
    let listed = app.read(&key, "{ myApiKeys { id } }").await;
    assert_eq!(listed["myApiKeys"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn guards_for_anonymous_customer_admin_and_banned() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (customer_id, customer) = app.customer("c@example.com").await;
    let admin_query = "{ adminUsers(first: 10) { totalCount edges { node { email } } } }";

    assert_eq!(
        error_code(&app.gql(None, admin_query, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        error_code(&app.gql(Some(&customer), admin_query, json!({})).await),
        "FORBIDDEN"
    );
    let data = app.ok(Some(&admin), admin_query, json!({})).await;
    assert_eq!(data["adminUsers"]["totalCount"], 2);
    assert_eq!(
        error_code(&app.gql(None, "{ myApiKeys { id } }", json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.ok(None, "{ me { id } }", json!({})).await["me"],
        serde_json::Value::Null
    );

    // Ban: every authenticated field refuses the user, with the reason code FORBIDDEN.
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminBanUser(userId: $id, reason: \"chargeback fraud\") { banned banReason } }",
        json!({ "id": customer_id.to_string() }),
    )
    .await;
    assert_eq!(
        error_code(&app.gql(Some(&customer), "{ me { id } }", json!({})).await),
        "FORBIDDEN"
    );
    assert_eq!(
        error_code(
            &app.gql(Some(&customer), "{ myApiKeys { id } }", json!({}))
                .await
        ),
        "FORBIDDEN"
    );
    app.ok(
        Some(&admin),
        "mutation($id: ID!) { adminUnbanUser(userId: $id) { banned } }",
        json!({ "id": customer_id.to_string() }),
    )
    .await;
    app.read(&customer, "{ me { id } }").await;

    // Admin-only fields on shared types are guarded too.
    let answer = app
        .gql(Some(&customer), "{ me { googleLinked } }", json!({}))
        .await;
    assert_eq!(error_code(&answer), "FORBIDDEN");

    // A customer can never promote themselves.
    let answer = app
        .gql(
            Some(&customer),
            "mutation($id: ID!) { adminSetUserRole(userId: $id, role: OWNER) { role } }",
            json!({ "id": customer_id.to_string() }),
        )
        .await;
    assert_eq!(error_code(&answer), "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn update_settings_validates_every_field() {
    let app = TestApp::spawn().await;
    let (_, key) = app.customer("s@example.com").await;
    let mutation = "mutation($input: UpdateSettingsInput!) { updateSettings(input: $input) { name settings { language timezone notifyNewsletter } } }";
    let data = app
        .ok(Some(&key), mutation, json!({ "input": { "name": "Sari", "language": "en", "timezone": "Asia/Makassar", "notifyNewsletter": true } }))
        .await;
    assert_eq!(
        data["updateSettings"]["settings"]["timezone"],
        "Asia/Makassar"
    );
    for (input, field) in [
        (json!({ "language": "fr" }), "language"),
        (json!({ "timezone": "Mars/Olympus" }), "timezone"),
        (json!({ "name": "x".repeat(101) }), "name"),
    ] {
        let answer = app
            .gql(Some(&key), mutation, json!({ "input": input }))
            .await;
        assert_invalid(&answer, field);
    }
    let me = app
        .read(&key, "{ me { name settings { language timezone } } }")
        .await;
    assert_eq!(
        me["me"],
        json!({ "name": "Sari", "settings": { "language": "en", "timezone": "Asia/Makassar" } })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn query_limits_and_engine_errors_carry_codes() {
    let app = TestApp::spawn_with(|config| config.server.graphql_max_complexity = 2_000).await;
    let answer = app
        .gql(
            None,
            "{ services(first: 100) { edges { node { id ",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&answer), "BAD_REQUEST");
    let deep = format!(
        "{{ services {{ edges {{ node {{ category {{ id }} }} }} }} {} }}",
        ""
    );
    app.ok(None, &deep, json!({})).await;
    let answer = app
        .gql(None, "{ services(first: 101) { totalCount } }", json!({}))
        .await;
    assert_invalid(&answer, "first");
    // Lists count `first` times their children: 3 x 100 x (node fields) exceeds 2,000.
    let heavy = "{ a: services(first: 100) { edges { node { id name description category { id name description } } } } b: services(first: 100) { edges { node { id name description category { id name description } } } } c: services(first: 100) { edges { node { id name description category { id name description } } } } }";
    let answer = app.gql(None, heavy, json!({})).await;
    assert_eq!(error_code(&answer), "QUERY_TOO_COMPLEX", "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fragment_fan_out_is_refused_before_it_is_expanded() {
    let app = TestApp::spawn().await;
    // 1.2 KB that the engine's validation would expand to 2^26 fields (15 s of CPU,
    // anonymously; deeper nesting is refused by the parser); it is refused at once.
    let mut document = String::from("query { services(first: 1) { edges { node { ...F0 } } } }\n");
    for i in 0..26 {
        document += &format!(
            "fragment F{i} on Service {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        );
    }
    document += "fragment F26 on Service { id }\n";
    let answer = app.gql(None, &document, json!({})).await;
    assert_eq!(error_code(&answer), "QUERY_TOO_COMPLEX", "{answer}");
    // The server is still answering right away.
    app.ok(None, "{ services(first: 1) { totalCount } }", json!({}))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_past_its_time_budget_is_stopped_but_mutations_run_to_their_end() {
    let app =
        TestApp::spawn_with(|c| c.server.graphql_query_timeout = std::time::Duration::ZERO).await;
    let (_, key) = app.customer("budget@example.com").await;
    let answer = app
        .gql(Some(&key), "{ services { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&answer), "QUERY_TOO_COMPLEX", "{answer}");
    let created = app
        .read(
            &key,
            "mutation { createApiKey(name: \"after budget\") { key } }",
        )
        .await;
    assert!(created["createApiKey"]["key"].as_str().is_some());
}
