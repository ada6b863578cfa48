//! One signed POST to a callback URL. The client follows no redirect, resolves
//! through the address guard, gives up after the configured timeout and reads at
//! most [`MAX_ANSWER_BYTES`] of the answer, so a receiver cannot redirect a call
//! inwards, hold a worker, or flood it.

use std::{sync::Arc, time::Duration};

use super::{
    address::{GuardedResolver, is_public},
    signature::sign,
};

/// How much of a receiver's answer is read (and then dropped).
pub const MAX_ANSWER_BYTES: usize = 4096;

/// How one call went: the HTTP status when there was an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    pub status: Option<u16>,
    /// Why it failed, without the URL (it may hold the receiver's own token).
    pub error: Option<String>,
}

impl SendOutcome {
    pub fn delivered(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn failed(why: impl Into<String>) -> SendOutcome {
        SendOutcome {
            status: None,
            error: Some(why.into()),
        }
    }
}

#[derive(Clone)]
pub struct CallbackSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl CallbackSender {
    pub fn new(timeout: Duration, allow_private: bool) -> reqwest::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .user_agent("booster-webhooks/1")
            .build()?;
        Ok(CallbackSender {
            client,
            allow_private,
        })
    }

    /// POSTs `body` (JSON) to `url` as delivery `id`, signed with `secret` at
    /// `timestamp`.
    pub async fn send(
        &self,
        url: &str,
        secret: &str,
        id: &str,
        timestamp: i64,
        body: String,
    ) -> SendOutcome {
        let Ok(parsed) = url::Url::parse(url) else {
            return SendOutcome::failed("the callback URL is not valid");
        };
        // Address literals never reach the resolver: check them here.
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(|ip| !self.allow_private && !is_public(ip)) {
            return SendOutcome::failed("the callback URL must reach a public address");
        }
        let Some(signature) = sign(secret, id, timestamp, body.as_bytes()) else {
            return SendOutcome::failed("the signing secret is not valid");
        };
        let sent = self
            .client
            .post(parsed)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return SendOutcome::failed(error.without_url().to_string()),
        };
        let status = response.status().as_u16();
        // Read a little of the answer (receivers may expect it read), never more.
        let mut response = response;
        let mut read = 0;
        while let Ok(Some(chunk)) = response.chunk().await {
            read += chunk.len();
            if read >= MAX_ANSWER_BYTES {
                break;
            }
        }
        SendOutcome {
            status: Some(status),
            error: (!(200..300).contains(&status)).then(|| format!("answered HTTP {status}")),
        }
    }
}
