//! The mail outbox against a real SMTP conversation (`common::smtp_sink`): every
//! queued mail is sent once however many workers drain the outbox, a run's mails
//! share one connection, a refusal is
//! retried after its backoff, a dead worker's claim is retried only after its
//! lease, and the SMTP password never reaches the stored error.

mod common;

use std::time::Duration;

use booster::{
    config::Secret,
    db::{claim::Claim, enums::MailStatus, mail_outbox::MailRow, schema::mail_outbox as outbox},
    jobs::mail_outbox::{self, MailReport},
    mail::{self, NewMail},
};
use common::{TestApp, smtp_sink::SmtpSink};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

async fn app_with_sink() -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::spawn_with(|config| {
        config.mail.smtp_url = Some(Secret(url));
        config.mail.from = "Panel <no-reply@panel.test>".into();
        config.mail.smtp_timeout = Duration::from_secs(5);
    })
    .await;
    (app, sink)
}

fn mail_to(to: &str, subject: &str, dedupe_key: Option<&str>) -> NewMail {
    NewMail {
        to: to.into(),
        subject: subject.into(),
        text_body: format!("Body of {subject}\n.\nA line that starts with a dot."),
        html_body: None,
        kind: "test".into(),
        user_id: None,
        dedupe_key: dedupe_key.map(Into::into),
    }
}

async fn statuses(app: &TestApp) -> Vec<(i64, MailStatus, i32)> {
    outbox::table
        .order(outbox::id.asc())
        .select((outbox::id, outbox::status, outbox::attempts))
        .load(&mut *app.conn().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn two_workers_send_every_mail_exactly_once() {
    let (app, sink) = app_with_sink().await;
    queue_numbered(&app, "customer", "Mail", 25).await;

    let (first, second) = tokio::join!(mail_outbox::run(&app.state), mail_outbox::run(&app.state));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.sent + second.sent, 25, "{first:?} {second:?}");
    // Both drained: a third run finds nothing due.
    assert_eq!(
        mail_outbox::run(&app.state).await.unwrap(),
        MailReport::default()
    );

    let received = sink.received();
    assert_eq!(received.len(), 25);
    let mut recipients: Vec<String> = received.iter().flat_map(|m| m.to.clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 25, "one mail per recipient, none twice");
    assert!(received.iter().all(|m| m.from == "no-reply@panel.test"));
    let one = &received[0];
    assert!(one.header("Message-ID").unwrap().contains("@panel.test>"));
    assert!(one.data.contains("\r\n.\r\nA line that starts with a dot."));
    assert!(
        statuses(&app)
            .await
            .iter()
            .all(|(_, status, attempts)| *status == MailStatus::Sent && *attempts == 1)
    );
}

#[tokio::test]
async fn a_run_sends_its_mails_over_one_connection_and_a_refusal_opens_a_new_one() {
    let (app, sink) = app_with_sink().await;
    queue_numbered(&app, "customer", "Mail", 12).await;

    let report = mail_outbox::run(&app.state).await.unwrap();
    assert_eq!(report.sent, 12, "{report:?}");
    assert_eq!(sink.received().len(), 12);
    assert_eq!(sink.connections(), 1, "one connection for the whole run");

    // A refused mail ends its connection (lettre quits after a failure); the next
    // mail of the run opens a new one, and the run's last mail closes it politely.
    queue_numbered(&app, "later", "Later", 3).await;
    sink.refuse_next(1);
    let report = mail_outbox::run(&app.state).await.unwrap();
    assert_eq!((report.sent, report.retrying), (2, 1), "{report:?}");
    assert_eq!(sink.received().len(), 14);
    assert_eq!(
        sink.connections(),
        3,
        "the run's first and the one after the refusal"
    );
}

/// Queues `count` mails, the i-th to `<prefix>i@example.com` with the subject
/// `<subject> i`.
async fn queue_numbered(app: &TestApp, prefix: &str, subject: &str, count: usize) {
    let mut conn = app.conn().await;
    for i in 0..count {
        let to = format!("{prefix}{i}@example.com");
        mail::enqueue(&mut conn, mail_to(&to, &format!("{subject} {i}"), None))
            .await
            .unwrap()
            .expect("queued");
    }
}

/// Queues a "Hello" mail to a@example.com; returns its id.
async fn enqueue_hello(app: &TestApp) -> i64 {
    let hello = mail_to("a@example.com", "Hello", None);
    mail::enqueue(&mut *app.conn().await, hello)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_refused_mail_is_retried_after_its_backoff_and_sent_once() {
    let (app, sink) = app_with_sink().await;
    let id = enqueue_hello(&app).await;
    sink.refuse_next(1);

    let report = mail_outbox::run(&app.state).await.unwrap();
    assert_eq!(report.retrying, 1, "{report:?}");
    assert_eq!(sink.refused(), 1);
    assert!(sink.received().is_empty());
    let row: MailRow = outbox::table
        .find(id)
        .select(MailRow::as_select())
        .first(&mut *app.conn().await)
        .await
        .unwrap();
    assert_eq!(row.status, MailStatus::Pending);
    assert_eq!(row.attempts, 1);
    assert!(row.last_error.as_deref().unwrap().contains("451"));
    assert!(row.next_attempt_at > chrono::Utc::now() + chrono::Duration::seconds(30));
    assert!(row.lease_until.is_none());

    // Not due yet: nothing is tried.
    assert_eq!(
        mail_outbox::run(&app.state).await.unwrap(),
        MailReport::default()
    );
    assert!(sink.received().is_empty());

    // The backoff has passed.
    diesel::update(outbox::table.find(id))
        .set(outbox::next_attempt_at.eq(diesel::dsl::now))
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
    assert_eq!(mail_outbox::run(&app.state).await.unwrap().sent, 1);
    assert_eq!(
        mail_outbox::run(&app.state).await.unwrap(),
        MailReport::default()
    );
    assert_eq!(sink.received().len(), 1);
    assert_eq!(statuses(&app).await, vec![(id, MailStatus::Sent, 2)]);
}

#[tokio::test]
async fn a_mail_out_of_attempts_is_marked_failed() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::spawn_with(|config| {
        config.mail.smtp_url = Some(Secret(url));
        config.mail.max_attempts = 1;
    })
    .await;
    let id = enqueue_hello(&app).await;
    sink.refuse_next(1);
    assert_eq!(mail_outbox::run(&app.state).await.unwrap().failed, 1);
    assert_eq!(statuses(&app).await, vec![(id, MailStatus::Failed, 1)]);
    assert_eq!(
        mail_outbox::run(&app.state).await.unwrap(),
        MailReport::default()
    );
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_crashed_workers_claim_is_retried_only_after_its_lease() {
    let (app, sink) = app_with_sink().await;
    let id = enqueue_hello(&app).await;
    // A worker claims the mail and dies before sending or recording anything.
    let now = chrono::Utc::now();
    let claim = Claim {
        now,
        lease_until: now + chrono::Duration::minutes(5),
        limit: 10,
    };
    let claimed = MailRow::claim_due(&mut *app.conn().await, claim)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);

    assert_eq!(
        mail_outbox::run(&app.state).await.unwrap(),
        MailReport::default()
    );
    assert!(sink.received().is_empty(), "the lease is still held");

    diesel::update(outbox::table.find(id))
        .set(outbox::lease_until.eq(diesel::dsl::now))
        .execute(&mut *app.conn().await)
        .await
        .unwrap();
    assert_eq!(mail_outbox::run(&app.state).await.unwrap().sent, 1);
    assert_eq!(sink.received().len(), 1);
    assert_eq!(statuses(&app).await, vec![(id, MailStatus::Sent, 2)]);
}

#[tokio::test]
async fn a_dedupe_key_queues_one_mail() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn().await;
    let first = mail::enqueue(&mut conn, mail_to("a@example.com", "One", Some("k-1")))
        .await
        .unwrap();
    let again = mail::enqueue(&mut conn, mail_to("a@example.com", "Two", Some("k-1")))
        .await
        .unwrap();
    let other = mail::enqueue(&mut conn, mail_to("a@example.com", "Three", Some("k-2")))
        .await
        .unwrap();
    assert!(first.is_some() && other.is_some());
    assert_eq!(again, None);
    assert_eq!(statuses(&app).await.len(), 2);
}

#[tokio::test]
async fn without_smtp_the_outbox_keeps_the_mail() {
    let app = TestApp::spawn().await;
    assert!(app.state.config.mail.smtp_url.is_none());
    mail::enqueue(
        &mut *app.conn().await,
        mail_to("a@example.com", "Kept", None),
    )
    .await
    .unwrap();
    assert_eq!(
        mail_outbox::run(&app.state).await.unwrap(),
        MailReport::default()
    );
    let rows = statuses(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, MailStatus::Pending);
    assert_eq!(rows[0].2, 0, "never tried");
}

#[tokio::test]
async fn bad_mail_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn().await;
    for (mail, field) in [
        (mail_to("not an address", "Hi", None), "to"),
        (mail_to("a@example.com", "", None), "subject"),
        (mail_to("a@example.com", "two\r\nlines", None), "subject"),
        (mail_to("a@example.com", &"s".repeat(301), None), "subject"),
    ] {
        match mail::enqueue(&mut conn, mail).await {
            Err(booster::error::AppError::Validation { field: got, .. }) => assert_eq!(got, field),
            other => panic!("expected VALIDATION on {field}, got {other:?}"),
        }
    }
    drop(conn);
    assert!(statuses(&app).await.is_empty());
}

#[tokio::test]
async fn the_smtp_password_never_reaches_the_stored_error() {
    // A server that is not there, reached with credentials in the URL.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let app = TestApp::spawn_with(|config| {
        config.mail.smtp_url = Some(Secret(format!(
            "smtp://mailer:hunter2-secret@127.0.0.1:{port}"
        )));
    })
    .await;
    let id = mail::enqueue(&mut *app.conn().await, mail_to("a@example.com", "Hi", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mail_outbox::run(&app.state).await.unwrap().retrying, 1);
    let error: Option<String> = outbox::table
        .find(id)
        .select(outbox::last_error)
        .first(&mut *app.conn().await)
        .await
        .unwrap();
    let error = error.expect("the failure is recorded");
    assert!(!error.contains("hunter2"), "{error}");
    assert!(format!("{:?}", app.state.config.mail).contains("Secret(..)"));
}
