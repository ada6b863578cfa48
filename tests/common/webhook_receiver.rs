//! A reseller's webhook receiver on 127.0.0.1, as a reseller would write one from
//! the Standard Webhooks documentation: it records every call (headers and raw
//! body) and answers 200, except that it can fail the first attempt of every n-th
//! delivery (by the number in its `webhook-id`) or every call.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};

#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    failed_once: HashSet<String>,
    fail_every: Option<u64>,
    fail_all: bool,
}

#[derive(Clone)]
pub struct WebhookReceiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl WebhookReceiver {
    pub async fn start() -> WebhookReceiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/hooks/booster", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/booster", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        WebhookReceiver { url, inner }
    }

    /// Answer 500 to the first attempt of each delivery whose number is a
    /// multiple of `n`.
    pub fn fail_first_attempt_of_every(&self, n: u64) {
        self.inner.lock().unwrap().fail_every = Some(n);
    }

    pub fn fail_all(&self, fail: bool) {
        self.inner.lock().unwrap().fail_all = fail;
    }

    /// Every call that was answered 2xx or not, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let call = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let mut inner = inner.lock().unwrap();
    let number: u64 = call
        .id
        .trim_start_matches("dlv_")
        .parse()
        .unwrap_or_default();
    let fail = inner.fail_all
        || (inner.fail_every.is_some_and(|n| number.is_multiple_of(n))
            && inner.failed_once.insert(call.id.clone()));
    inner.received.push(call);
    if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}
