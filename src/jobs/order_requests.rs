//! Order requests: forwards customers' cancel and refill requests to the provider
//! and follows refills to their end.

use super::provider_clients::{Clients, tracked};
use crate::{
    app::AppState,
    db::enums::{OrderRequestKind, OrderRequestStatus},
    domain::fulfillment::{self},
    error::AppResult,
    providers::ProviderError,
};

super::job!(
    OrderRequests,
    "order requests",
    fulfillment.status_sync_interval
);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequestsReport {
    pub forwarded: usize,
    pub completed: usize,
    pub rejected: usize,
}

/// What became of a request at the provider.
struct Answer {
    status: OrderRequestStatus,
    provider_ref: Option<String>,
    /// Shown to the customer: never the provider's own words.
    note: &'static str,
}

impl Answer {
    fn new(status: OrderRequestStatus, note: &'static str) -> Answer {
        Answer {
            status,
            provider_ref: None,
            note,
        }
    }
}

/// Forwards customers' cancel and refill requests and follows refills to their end.
pub async fn run(state: &AppState) -> AppResult<RequestsReport> {
    let lease = state.config.fulfillment.status_sync_lease;
    let claimed = {
        let mut conn = state.pool.get().await?;
        fulfillment::claim_requests(&mut conn, 500, lease).await?
    };
    let mut report = RequestsReport::default();
    if claimed.is_empty() {
        return Ok(report);
    }
    let clients = Clients::load(state, claimed.iter().filter_map(|(_, o)| o.provider_id)).await?;
    let mut conn = state.pool.get().await?;
    for (request, order) in claimed {
        let (Some((provider, client)), Some(remote_id)) = (
            order.provider_id.and_then(|id| clients.providers.get(&id)),
            order.provider_order_id.clone(),
        ) else {
            // Not at a provider (yet): a cancel waits for the order to be accepted.
            continue;
        };
        let answer = match (request.kind, request.status) {
            (OrderRequestKind::Cancel, OrderRequestStatus::Pending) => {
                let outcome = tracked(
                    state,
                    provider,
                    "cancel",
                    client.cancel(std::slice::from_ref(&remote_id)),
                )
                .await
                .map(|mut answers| answers.remove(&remote_id));
                match outcome {
                    Ok(Some(Ok(()))) => Some(Answer::new(
                        OrderRequestStatus::Accepted,
                        "cancellation accepted",
                    )),
                    Ok(Some(Err(why))) | Err(ProviderError::Refused(why)) => {
                        tracing::info!(request = request.id, %why, "cancellation refused upstream");
                        Some(Answer::new(
                            OrderRequestStatus::Rejected,
                            "cancellation refused",
                        ))
                    }
                    Ok(None) => Some(Answer::new(
                        OrderRequestStatus::Rejected,
                        "cancellation refused",
                    )),
                    Err(error) => {
                        tracing::warn!(request = request.id, %error, "forwarding a cancel failed; retried later");
                        None
                    }
                }
            }
            (OrderRequestKind::Refill, OrderRequestStatus::Pending) => {
                match tracked(state, provider, "refill", client.refill(&remote_id)).await {
                    Ok(refill_id) => Some(Answer {
                        provider_ref: Some(refill_id),
                        ..Answer::new(OrderRequestStatus::Submitted, "refill requested")
                    }),
                    Err(ProviderError::Refused(why)) => {
                        tracing::info!(request = request.id, %why, "refill refused upstream");
                        Some(Answer::new(OrderRequestStatus::Rejected, "refill refused"))
                    }
                    Err(error) => {
                        tracing::warn!(request = request.id, %error, "forwarding a refill failed; retried later");
                        None
                    }
                }
            }
            (OrderRequestKind::Refill, OrderRequestStatus::Submitted) => {
                let Some(refill_id) = request.provider_ref.clone() else {
                    continue;
                };
                let label = tracked(
                    state,
                    provider,
                    "refill_status",
                    client.refill_status(&refill_id),
                )
                .await;
                match label.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    Ok("completed" | "success") => Some(Answer::new(
                        OrderRequestStatus::Completed,
                        "refill completed",
                    )),
                    Ok("rejected" | "canceled" | "cancelled" | "error") => {
                        Some(Answer::new(OrderRequestStatus::Rejected, "refill refused"))
                    }
                    Ok(_) => None,
                    Err(error) => {
                        tracing::warn!(request = request.id, %error, "refill status check failed");
                        None
                    }
                }
            }
            _ => None,
        };
        let Some(answer) = answer else { continue };
        match answer.status {
            OrderRequestStatus::Rejected => report.rejected += 1,
            OrderRequestStatus::Completed => report.completed += 1,
            _ => report.forwarded += 1,
        }
        // Customers read these notes: what the provider said stays in the log.
        fulfillment::update_request(
            &mut conn,
            &request,
            answer.status,
            answer.provider_ref.as_deref(),
            answer.note,
        )
        .await?;
    }
    Ok(report)
}
