//! Email and password accounts from outside: sign-up to a first order through the
//! mail the SMTP sink received, the reset link (expired, reused, forged), the
//! slow-down under a burst of wrong passwords, sessions and the sign-in history.

mod common;

use std::time::Duration;

use booster::{
    config::Secret,
    db::{enums::Fulfillment, schema::account_tokens},
    jobs::mail_outbox,
};
use common::{
    PLACE_ORDER, TEST_KEY, TestApp, error_code, error_field, fund, google_claims, google_token,
    order_input, service, smtp_sink::SmtpSink,
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

const SIGN_UP: &str = "mutation($email: String!, $password: String!) { signUp(email: $email, password: $password, name: \"Sari\") }";
const SIGN_IN: &str = "mutation($email: String!, $password: String!) { signIn(email: $email, password: $password) { token user { id emailVerified hasPassword } } }";
const VERIFY: &str = "mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }";
const REQUEST_RESET: &str = "mutation($email: String!) { requestPasswordReset(email: $email) }";
const RESET: &str = "mutation($t: String!, $p: String!) { resetPassword(token: $t, password: $p) }";
const PASSWORD: &str = "Tumbuh-Pesat-Akun-2026!";

async fn app_with_sink(adjust: impl FnOnce(&mut booster::config::Config)) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::spawn_with(|config| {
        config.mail.smtp_url = Some(Secret(url));
        config.mail.from = "Panel <no-reply@panel.test>".into();
        adjust(config);
    })
    .await;
    (app, sink)
}

/// Sends what the outbox holds and answers the mails the sink has received.
async fn deliver(app: &TestApp, sink: &SmtpSink, expected: usize) -> Vec<String> {
    mail_outbox::run(&app.state).await.unwrap();
    sink.wait_for(expected, Duration::from_secs(10))
        .await
        .into_iter()
        .map(|mail| decode_quoted_printable(&mail.data))
        .collect()
}

/// The body as written: soft line breaks joined and `=XX` escapes decoded (the
/// sender encodes long lines quoted-printable).
fn decode_quoted_printable(data: &str) -> String {
    let joined = data.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The token of the first link to `page` in a mail.
fn link_token(mail: &str, page: &str) -> String {
    let start = mail
        .find(&format!("/{page}?token="))
        .unwrap_or_else(|| panic!("no {page} link in {mail}"));
    let rest = &mail[start + page.len() + 8..];
    rest.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Value {
    app.gql(
        None,
        SIGN_IN,
        json!({ "email": email, "password": password }),
    )
    .await
}

fn session_of(answer: &Value) -> String {
    answer["data"]["signIn"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no session in {answer:#}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_verify_from_the_mail_and_place_a_first_order() {
    let (app, sink) = app_with_sink(|_| {}).await;
    let email = "sari@example.com";
    let signed_up = app
        .ok(
            None,
            SIGN_UP,
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(signed_up["signUp"], true);

    // Unverified: signs in and browses, but cannot spend.
    let answer = sign_in(&app, email, PASSWORD).await;
    let session = session_of(&answer);
    assert_eq!(answer["data"]["signIn"]["user"]["emailVerified"], false);
    assert_eq!(answer["data"]["signIn"]["user"]["hasPassword"], true);
    let user_id: i64 = answer["data"]["signIn"]["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    fund(&app, user_id, 100_000).await;
    let service = service(&app, Fulfillment::Manual, 10_000, 10, 1000).await;
    let refused = app
        .gql(
            Some(&session),
            PLACE_ORDER,
            order_input(service, "https://x.com/sari", 100),
        )
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN");

    // The link in the mail verifies the account, once.
    let mails = deliver(&app, &sink, 1).await;
    assert!(
        mails[0].contains("Subject: Verifikasi alamat email Anda"),
        "{}",
        mails[0]
    );
    let token = link_token(&mails[0], "verify-email");
    let verified = app.ok(None, VERIFY, json!({ "t": token })).await;
    assert_eq!(verified["verifyEmail"]["emailVerified"], true);
    let again = app.gql(None, VERIFY, json!({ "t": token })).await;
    assert_eq!(error_code(&again), "VALIDATION");
    assert_eq!(error_field(&again), "token");

    let order = app
        .ok(
            Some(&session),
            PLACE_ORDER,
            order_input(service, "https://x.com/sari", 100),
        )
        .await;
    assert!(order["placeOrder"]["id"].is_string());

    // Signing up again with the address answers the same and mails its owner.
    let repeated = app
        .ok(
            None,
            SIGN_UP,
            json!({ "email": "SARI@example.com", "password": "Another-Long-Secret-77" }),
        )
        .await;
    assert_eq!(repeated["signUp"], true);
    let mails = deliver(&app, &sink, 2).await;
    assert!(
        mails[1].contains("Subject: Alamat ini sudah punya akun"),
        "{}",
        mails[1]
    );
    // The first password still signs in; the second does not.
    assert!(sign_in(&app, email, PASSWORD).await["errors"].is_null());
    let wrong = sign_in(&app, email, "Another-Long-Secret-77").await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn weak_passwords_and_unknown_addresses_are_refused_without_telling() {
    let app = TestApp::spawn().await;
    for weak in ["password123", "short", "qwertyuiop12"] {
        let answer = app
            .gql(
                None,
                SIGN_UP,
                json!({ "email": "a@example.com", "password": weak }),
            )
            .await;
        assert_eq!(error_code(&answer), "VALIDATION", "{weak}");
        assert_eq!(error_field(&answer), "password");
    }
    app.ok(
        None,
        SIGN_UP,
        json!({ "email": "a@example.com", "password": PASSWORD }),
    )
    .await;
    let unknown = sign_in(&app, "nobody@example.com", PASSWORD).await;
    let wrong = sign_in(&app, "a@example.com", "Wrong-Password-Here-1").await;
    assert_eq!(error_code(&unknown), "UNAUTHENTICATED");
    assert_eq!(
        unknown["errors"][0]["message"],
        wrong["errors"][0]["message"]
    );
    // A reset request answers the same for both.
    for email in ["nobody@example.com", "a@example.com"] {
        let answer = app.ok(None, REQUEST_RESET, json!({ "email": email })).await;
        assert_eq!(answer["requestPasswordReset"], true);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_link_works_once_before_it_expires_and_ends_every_session() {
    let (app, sink) = app_with_sink(|_| {}).await;
    let email = "reset@example.com";
    app.ok(
        None,
        SIGN_UP,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    let old_session = session_of(&sign_in(&app, email, PASSWORD).await);

    app.ok(None, REQUEST_RESET, json!({ "email": email })).await;
    let mails = deliver(&app, &sink, 2).await;
    let reset_mail = mails
        .iter()
        .find(|m| m.contains("reset-password?token="))
        .expect("a reset mail");
    let token = link_token(reset_mail, "reset-password");

    // A forged token, and a weak password on the real one, change nothing.
    let forged = app
        .gql(
            None,
            RESET,
            json!({ "t": "A".repeat(43), "p": "New-Strong-Password-9" }),
        )
        .await;
    assert_eq!(error_field(&forged), "token");
    let weak = app
        .gql(None, RESET, json!({ "t": token, "p": "password1" }))
        .await;
    assert_eq!(error_field(&weak), "password");

    let done = app
        .ok(
            None,
            RESET,
            json!({ "t": token, "p": "New-Strong-Password-9" }),
        )
        .await;
    assert_eq!(done["resetPassword"], true);
    let reused = app
        .gql(
            None,
            RESET,
            json!({ "t": token, "p": "Third-Strong-Password-9" }),
        )
        .await;
    assert_eq!(error_field(&reused), "token");
    // Every session ended; the new password signs in, the old one does not.
    let me = app
        .gql(Some(&old_session), "{ me { id } }", json!({}))
        .await;
    assert_eq!(error_code(&me), "UNAUTHENTICATED");
    assert_eq!(
        error_code(&sign_in(&app, email, PASSWORD).await),
        "UNAUTHENTICATED"
    );
    let fresh = sign_in(&app, email, "New-Strong-Password-9").await;
    // The reset link proved the address.
    assert_eq!(fresh["data"]["signIn"]["user"]["emailVerified"], true);

    // An expired link is refused (another account: one reset mail per ten minutes).
    let late = "late@example.com";
    app.ok(
        None,
        SIGN_UP,
        json!({ "email": late, "password": PASSWORD }),
    )
    .await;
    app.ok(None, REQUEST_RESET, json!({ "email": late })).await;
    let mails = deliver(&app, &sink, 4).await;
    let expired = link_token(
        mails
            .iter()
            .rev()
            .find(|m| m.contains("reset-password?token="))
            .unwrap(),
        "reset-password",
    );
    diesel::update(account_tokens::table.filter(account_tokens::used_at.is_null()))
        .set(account_tokens::expires_at.eq(chrono::Utc::now() - chrono::Duration::minutes(1)))
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
    let answer = app
        .gql(
            None,
            RESET,
            json!({ "t": expired, "p": "Fourth-Strong-Password-9" }),
        )
        .await;
    assert_eq!(error_field(&answer), "token");
    assert_eq!(
        error_code(&sign_in(&app, late, "Fourth-Strong-Password-9").await),
        "UNAUTHENTICATED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_wrong_passwords_slow_the_account_down_and_its_owner_still_gets_in() {
    let app = TestApp::spawn_with(|config| {
        config.accounts.failures_before_delay = 5;
        config.accounts.max_sign_in_delay = Duration::from_secs(2);
        config.accounts.attempts_per_address_per_minute = 0;
    })
    .await;
    let email = "target@example.com";
    app.ok(
        None,
        SIGN_UP,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    let attempts = (0..50).map(|i| {
        let app = &app;
        async move { sign_in(app, email, &format!("Guess-Number-{i}-xyz")).await }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let codes: Vec<String> = answers.iter().map(error_code).collect();
    assert!(
        codes
            .iter()
            .all(|c| c == "UNAUTHENTICATED" || c == "RATE_LIMITED"),
        "{codes:?}"
    );
    // While the wait runs even the right password is not checked.
    let slowed = sign_in(&app, email, PASSWORD).await;
    assert_eq!(error_code(&slowed), "RATE_LIMITED");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let owner = sign_in(&app, email, PASSWORD).await;
    assert!(owner["errors"].is_null(), "{owner:#}");

    // The history has every attempt; an admin sees it too.
    let session = session_of(&owner);
    let history = app
        .read(
            &session,
            "{ mySignIns(first: 100) { totalCount edges { node { succeeded failure method } } } }",
        )
        .await;
    assert_eq!(history["mySignIns"]["totalCount"], 52);
    assert_eq!(history["mySignIns"]["edges"][0]["node"]["succeeded"], true);
    let admin = app.admin().await;
    let user_id = owner["data"]["signIn"]["user"]["id"].clone();
    let seen = app
        .ok(
            Some(&admin),
            "query($u: ID!) { adminUserSignIns(userId: $u) { totalCount } }",
            json!({ "u": user_id }),
        )
        .await;
    assert_eq!(seen["adminUserSignIns"]["totalCount"], 52);
    let refused = app
        .gql(
            Some(&session),
            "query($u: ID!) { adminUserSignIns(userId: $u) { totalCount } }",
            json!({ "u": user_id }),
        )
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_address_meets_the_attempt_limit() {
    let app =
        TestApp::spawn_with(|config| config.accounts.attempts_per_address_per_minute = 3).await;
    for _ in 0..3 {
        let answer = sign_in(&app, "x@example.com", PASSWORD).await;
        assert_eq!(error_code(&answer), "UNAUTHENTICATED");
    }
    assert_eq!(
        error_code(&sign_in(&app, "x@example.com", PASSWORD).await),
        "RATE_LIMITED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_are_listed_and_ended_and_a_password_change_ends_the_others() {
    let app = TestApp::spawn().await;
    let email = "multi@example.com";
    app.ok(
        None,
        SIGN_UP,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    let first = session_of(&sign_in(&app, email, PASSWORD).await);
    let second = session_of(&sign_in(&app, email, PASSWORD).await);
    let third = session_of(&sign_in(&app, email, PASSWORD).await);
    let listed = app.read(&first, "{ mySessions { id current } }").await;
    let sessions = listed["mySessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);

    let ended = app.read(&first, "mutation { revokeOtherSessions }").await;
    assert_eq!(ended["revokeOtherSessions"], 2);
    for gone in [&second, &third] {
        let me = app.gql(Some(gone), "{ me { id } }", json!({})).await;
        assert_eq!(error_code(&me), "UNAUTHENTICATED");
    }

    let fourth = session_of(&sign_in(&app, email, PASSWORD).await);
    let change = "mutation($c: String, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { hasPassword } }";
    let wrong = app
        .gql(
            Some(&first),
            change,
            json!({ "c": "not-it", "n": "Brand-New-Secret-42" }),
        )
        .await;
    assert_eq!(error_field(&wrong), "currentPassword");
    app.ok(
        Some(&first),
        change,
        json!({ "c": PASSWORD, "n": "Brand-New-Secret-42" }),
    )
    .await;
    let me = app.gql(Some(&fourth), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&me), "UNAUTHENTICATED");
    assert!(app.gql(Some(&first), "{ me { id } }", json!({})).await["errors"].is_null());
    assert!(sign_in(&app, email, "Brand-New-Secret-42").await["errors"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn google_takes_over_an_address_someone_registered_without_proving_it() {
    let app = TestApp::spawn().await;
    let email = "owner@example.com";
    // Someone else signs up with the owner's address and never verifies it.
    app.ok(
        None,
        SIGN_UP,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    let squatter = session_of(&sign_in(&app, email, PASSWORD).await);
    // The real owner signs in with Google: same account, now verified, and the
    // squatter's password and session are gone.
    let google = google_token(google_claims("google-owner", email), TEST_KEY, "test-key-1");
    let data = app
        .ok(None, "mutation($t: String!) { signInWithGoogle(idToken: $t) { user { emailVerified hasPassword } } }", json!({ "t": google }))
        .await;
    assert_eq!(data["signInWithGoogle"]["user"]["emailVerified"], true);
    assert_eq!(data["signInWithGoogle"]["user"]["hasPassword"], false);
    let me = app.gql(Some(&squatter), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&me), "UNAUTHENTICATED");
    assert_eq!(
        error_code(&sign_in(&app, email, PASSWORD).await),
        "UNAUTHENTICATED"
    );
}

/// RFC 4648 base32 (no padding), written here so the codes below come from an
/// implementation independent of the server's.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u64, 0u32, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let value = ALPHABET.iter().position(|&a| a == c).expect("base32") as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

/// RFC 6238 with HMAC-SHA1, 6 digits, 30-second steps, for time step `step`.
fn totp_code(secret: &[u8], step: u64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let number = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", number % 1_000_000)
}

fn current_step() -> u64 {
    chrono::Utc::now().timestamp() as u64 / 30
}

const SIGN_IN_WITH_CODE: &str = "mutation($email: String!, $password: String!, $code: String) { signIn(email: $email, password: $password, totpCode: $code) { token } }";

#[tokio::test(flavor = "multi_thread")]
async fn two_factor_codes_from_an_independent_implementation_each_work_once() {
    let app = TestApp::spawn().await;
    let email = "totp@example.com";
    app.ok(
        None,
        SIGN_UP,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    let session = session_of(&sign_in(&app, email, PASSWORD).await);
    let setup = app
        .read(&session, "mutation { enableTotp { secret uri } }")
        .await;
    let secret_text = setup["enableTotp"]["secret"].as_str().unwrap();
    assert!(
        setup["enableTotp"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/booster:totp%40example.com?secret=")
    );
    let secret = base32_decode(secret_text);
    let step = current_step();
    let confirmed = app
        .ok(
            Some(&session),
            "mutation($c: String!) { confirmTotp(code: $c) }",
            json!({ "c": totp_code(&secret, step) }),
        )
        .await;
    let recovery: Vec<String> = confirmed["confirmTotp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);

    let vars = |code: Option<String>| json!({ "email": email, "password": PASSWORD, "code": code });
    let without = app.gql(None, SIGN_IN_WITH_CODE, vars(None)).await;
    assert_eq!(error_field(&without), "totpCode");
    // The code confirmTotp took is not accepted again; the next step's is, once.
    let replayed = app
        .gql(
            None,
            SIGN_IN_WITH_CODE,
            vars(Some(totp_code(&secret, step))),
        )
        .await;
    assert_eq!(error_code(&replayed), "UNAUTHENTICATED");
    let next = totp_code(&secret, step + 1);
    let signed_in = app
        .gql(None, SIGN_IN_WITH_CODE, vars(Some(next.clone())))
        .await;
    assert!(signed_in["errors"].is_null(), "{signed_in:#}");
    let again = app.gql(None, SIGN_IN_WITH_CODE, vars(Some(next))).await;
    assert_eq!(error_code(&again), "UNAUTHENTICATED");
    // A recovery code stands in for the app once.
    let with_recovery = app
        .gql(None, SIGN_IN_WITH_CODE, vars(Some(recovery[0].clone())))
        .await;
    assert!(with_recovery["errors"].is_null(), "{with_recovery:#}");
    let reused = app
        .gql(None, SIGN_IN_WITH_CODE, vars(Some(recovery[0].clone())))
        .await;
    assert_eq!(error_code(&reused), "UNAUTHENTICATED");

    let off = app
        .ok(
            Some(&session),
            "mutation($c: String!) { disableTotp(code: $c) }",
            json!({ "c": recovery[1] }),
        )
        .await;
    assert_eq!(off["disableTotp"], true);
    assert!(app.gql(None, SIGN_IN_WITH_CODE, vars(None)).await["errors"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_without_two_factor_may_only_set_it_up_when_the_panel_requires_it() {
    let app = TestApp::spawn_with(|config| config.accounts.require_staff_totp = true).await;
    let (admin_id, admin_key) = app
        .user("staff@example.com", booster::db::enums::Role::Owner)
        .await;
    // The admin's API key keeps working (programs have no second factor)...
    let change = "mutation($n: String!) { changePassword(newPassword: $n) { hasPassword } }";
    app.ok(Some(&admin_key), change, json!({ "n": PASSWORD }))
        .await;
    let signins = "query($u: ID!) { adminUserSignIns(userId: $u) { totalCount } }";
    let vars = json!({ "u": admin_id.to_string() });
    app.ok(Some(&admin_key), signins, vars.clone()).await;
    // ...but a session may only set two-factor sign-in up.
    let session = session_of(&sign_in(&app, "staff@example.com", PASSWORD).await);
    let refused = app.gql(Some(&session), signins, vars.clone()).await;
    assert_eq!(error_code(&refused), "FORBIDDEN");
    let setup = app
        .read(&session, "mutation { enableTotp { secret } }")
        .await;
    let secret = base32_decode(setup["enableTotp"]["secret"].as_str().unwrap());
    let step = current_step();
    app.ok(
        Some(&session),
        "mutation($c: String!) { confirmTotp(code: $c) }",
        json!({ "c": totp_code(&secret, step) }),
    )
    .await;
    app.ok(Some(&session), signins, vars).await;
    // Minting a staff key takes a fresh code.
    let mint = "mutation($c: String) { createApiKey(name: \"ci\", totpCode: $c) { key } }";
    let without = app.gql(Some(&session), mint, json!({ "c": null })).await;
    assert_eq!(error_field(&without), "totpCode");
    let minted = app
        .ok(
            Some(&session),
            mint,
            json!({ "c": totp_code(&secret, step + 1) }),
        )
        .await;
    assert!(minted["createApiKey"]["key"].is_string());
}
