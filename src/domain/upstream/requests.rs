//! Cancel and refill requests, provider side: leased claims (never forwarded
//! twice), what a provider's answer makes of a request (pure, below), and
//! recording it.

use std::time::Duration;

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::{
    db::{enums::OrderRequestStatus, order_requests::OrderRequestRow, orders::OrderRow},
    error::AppResult,
    providers::{ProviderError, RefillProgress},
};

/// Cancel and refill requests due for forwarding (PENDING) or for a refill status
/// check (SUBMITTED refills), leased like sync claims.
pub async fn claim_requests(
    conn: &mut AsyncPgConnection,
    limit: i64,
    lease: Duration,
) -> AppResult<Vec<(OrderRequestRow, OrderRow)>> {
    let lease_until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
    conn.transaction(async |conn| {
        // Every claim takes a lease, PENDING ones included: a request claimed by one
        // worker is not claimed by the next until its lease runs out (the forward
        // failed before reaching the provider), so it is never sent twice.
        let requests = OrderRequestRow::lease_due(conn, limit, lease_until).await?;
        let order_ids: Vec<i64> = requests.iter().map(|r| r.order_id).collect();
        let orders = OrderRow::load_many(conn, &order_ids).await?;
        Ok(requests
            .into_iter()
            .filter_map(|r| {
                orders
                    .iter()
                    .find(|o| o.id == r.order_id)
                    .cloned()
                    .map(|o| (r, o))
            })
            .collect())
    })
    .await
}

/// Records a request's answer (see [`OrderRequestRow::record_answer`]).
pub async fn update_request(
    conn: &mut AsyncPgConnection,
    request: &OrderRequestRow,
    answer: &RequestAnswer,
) -> AppResult<()> {
    let provider_ref = answer.provider_ref.as_deref();
    OrderRequestRow::record_answer(conn, request, answer.status, provider_ref, answer.note).await?;
    Ok(())
}

/// What became of a request at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAnswer {
    pub status: OrderRequestStatus,
    /// The provider's refill id, once it gave one.
    pub provider_ref: Option<String>,
    /// Shown to the customer: never the provider's own words.
    pub note: &'static str,
}

impl RequestAnswer {
    fn new(status: OrderRequestStatus, note: &'static str) -> RequestAnswer {
        RequestAnswer {
            status,
            provider_ref: None,
            note,
        }
    }
}

/// The answer to a forwarded cancel: the provider's verdict on this order (`None`
/// when its reply left the order out). `None` back: the call failed before an
/// answer, so the request is tried again when its lease ends.
pub fn decide_cancel(
    request_id: i64,
    outcome: Result<Option<Result<(), String>>, ProviderError>,
) -> Option<RequestAnswer> {
    match outcome {
        Ok(Some(Ok(()))) => Some(RequestAnswer::new(
            OrderRequestStatus::Accepted,
            "cancellation accepted",
        )),
        Ok(Some(Err(why))) | Err(ProviderError::Refused(why)) => {
            tracing::info!(request = request_id, %why, "cancellation refused upstream");
            Some(RequestAnswer::new(
                OrderRequestStatus::Rejected,
                "cancellation refused",
            ))
        }
        Ok(None) => Some(RequestAnswer::new(
            OrderRequestStatus::Rejected,
            "cancellation refused",
        )),
        Err(error) => {
            tracing::warn!(request = request_id, %error, "forwarding a cancel failed; retried later");
            None
        }
    }
}

/// The answer to a forwarded refill (the provider's refill id when it took it).
pub fn decide_refill(
    request_id: i64,
    outcome: Result<String, ProviderError>,
) -> Option<RequestAnswer> {
    match outcome {
        Ok(refill_id) => Some(RequestAnswer {
            provider_ref: Some(refill_id),
            ..RequestAnswer::new(OrderRequestStatus::Submitted, "refill requested")
        }),
        Err(ProviderError::Refused(why)) => {
            tracing::info!(request = request_id, %why, "refill refused upstream");
            Some(RequestAnswer::new(
                OrderRequestStatus::Rejected,
                "refill refused",
            ))
        }
        Err(error) => {
            tracing::warn!(request = request_id, %error, "forwarding a refill failed; retried later");
            None
        }
    }
}

/// The answer to a refill status check (`None`: still running, or the check failed).
pub fn decide_refill_progress(
    request_id: i64,
    outcome: Result<RefillProgress, ProviderError>,
) -> Option<RequestAnswer> {
    match outcome {
        Ok(RefillProgress::Completed) => Some(RequestAnswer::new(
            OrderRequestStatus::Completed,
            "refill completed",
        )),
        Ok(RefillProgress::Refused) => Some(RequestAnswer::new(
            OrderRequestStatus::Rejected,
            "refill refused",
        )),
        Ok(RefillProgress::Running) => None,
        Err(error) => {
            tracing::warn!(request = request_id, %error, "refill status check failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_answer_follows_the_providers_verdict() {
        let accepted = decide_cancel(1, Ok(Some(Ok(())))).unwrap();
        assert_eq!(accepted.status, OrderRequestStatus::Accepted);
        for refused in [
            Ok(Some(Err("too late".to_string()))),
            Ok(None),
            Err(ProviderError::Refused("no".into())),
        ] {
            let answer = decide_cancel(1, refused).unwrap();
            assert_eq!(answer.status, OrderRequestStatus::Rejected);
            assert_eq!(answer.note, "cancellation refused");
        }
        assert_eq!(
            decide_cancel(1, Err(ProviderError::Transient("timeout".into()))),
            None
        );
    }

    #[test]
    fn a_refill_keeps_the_providers_id_and_ends_on_its_status() {
        let submitted = decide_refill(1, Ok("R-9".into())).unwrap();
        assert_eq!(submitted.status, OrderRequestStatus::Submitted);
        assert_eq!(submitted.provider_ref.as_deref(), Some("R-9"));
        let refused = decide_refill(1, Err(ProviderError::Refused("x".into()))).unwrap();
        assert_eq!(refused.status, OrderRequestStatus::Rejected);
        assert_eq!(
            decide_refill(1, Err(ProviderError::Transient("timeout".into()))),
            None
        );
        assert_eq!(
            decide_refill_progress(1, Ok(RefillProgress::Completed)).map(|a| a.status),
            Some(OrderRequestStatus::Completed)
        );
        assert_eq!(
            decide_refill_progress(1, Ok(RefillProgress::Refused)).map(|a| a.status),
            Some(OrderRequestStatus::Rejected)
        );
        assert_eq!(decide_refill_progress(1, Ok(RefillProgress::Running)), None);
        assert_eq!(
            crate::providers::map_refill_status(" Success "),
            RefillProgress::Completed
        );
        assert_eq!(
            crate::providers::map_refill_status("Cancelled"),
            RefillProgress::Refused
        );
        assert_eq!(
            crate::providers::map_refill_status("Pending"),
            RefillProgress::Running
        );
    }
}
