//! Order requests: forwards customers' cancel and refill requests to the provider
//! and follows refills to their end.

use async_trait::async_trait;

use super::{
    Job,
    provider_calls::{Clients, tracked},
    summary,
};
use crate::{
    app::AppState,
    config::Config,
    db::enums::{OrderRequestKind, OrderRequestStatus},
    domain::fulfillment::{self},
    error::AppResult,
    providers::ProviderError,
};

pub struct OrderRequests;

#[async_trait]
impl Job for OrderRequests {
    fn name(&self) -> &'static str {
        "order requests"
    }
    fn interval(&self, config: &Config) -> std::time::Duration {
        config.fulfillment.status_sync_interval
    }
    async fn run_once(&self, state: &AppState) -> AppResult<Option<String>> {
        run(state).await.map(summary)
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequestsReport {
    pub forwarded: usize,
    pub completed: usize,
    pub rejected: usize,
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
        match (request.kind, request.status) {
            (OrderRequestKind::Cancel, OrderRequestStatus::Pending) => {
                match tracked(
                    state,
                    provider,
                    "cancel",
                    client.cancel(std::slice::from_ref(&remote_id)),
                )
                .await
                {
                    Ok(outcomes) => {
                        let (status, note) = match outcomes.get(&remote_id) {
                            Some(Ok(())) => (
                                OrderRequestStatus::Accepted,
                                "the provider accepted the cancellation".to_string(),
                            ),
                            Some(Err(e)) => (
                                OrderRequestStatus::Rejected,
                                format!("the provider refused: {e}"),
                            ),
                            None => (
                                OrderRequestStatus::Rejected,
                                "the provider did not answer for this order".to_string(),
                            ),
                        };
                        if status == OrderRequestStatus::Rejected {
                            report.rejected += 1;
                        } else {
                            report.forwarded += 1;
                        }
                        fulfillment::update_request(&mut conn, &request, status, None, &note)
                            .await?;
                    }
                    Err(ProviderError::Refused(e)) => {
                        report.rejected += 1;
                        fulfillment::update_request(
                            &mut conn,
                            &request,
                            OrderRequestStatus::Rejected,
                            None,
                            &format!("the provider refused: {e}"),
                        )
                        .await?;
                    }
                    Err(e) => {
                        tracing::warn!(request = request.id, error = %e, "forwarding a cancel failed; retried later")
                    }
                }
            }
            (OrderRequestKind::Refill, OrderRequestStatus::Pending) => {
                match tracked(state, provider, "refill", client.refill(&remote_id)).await {
                    Ok(refill_id) => {
                        report.forwarded += 1;
                        fulfillment::update_request(
                            &mut conn,
                            &request,
                            OrderRequestStatus::Submitted,
                            Some(&refill_id),
                            "refill requested at the provider",
                        )
                        .await?;
                    }
                    Err(ProviderError::Refused(e)) => {
                        report.rejected += 1;
                        fulfillment::update_request(
                            &mut conn,
                            &request,
                            OrderRequestStatus::Rejected,
                            None,
                            &format!("the provider refused: {e}"),
                        )
                        .await?;
                    }
                    Err(e) => {
                        tracing::warn!(request = request.id, error = %e, "forwarding a refill failed; retried later")
                    }
                }
            }
            (OrderRequestKind::Refill, OrderRequestStatus::Submitted) => {
                let Some(refill_id) = request.provider_ref.clone() else {
                    continue;
                };
                match tracked(
                    state,
                    provider,
                    "refill_status",
                    client.refill_status(&refill_id),
                )
                .await
                {
                    Ok(label) => match label.to_ascii_lowercase().as_str() {
                        "completed" | "success" => {
                            report.completed += 1;
                            fulfillment::update_request(
                                &mut conn,
                                &request,
                                OrderRequestStatus::Completed,
                                None,
                                "refill completed",
                            )
                            .await?;
                        }
                        "rejected" | "canceled" | "cancelled" | "error" => {
                            report.rejected += 1;
                            fulfillment::update_request(
                                &mut conn,
                                &request,
                                OrderRequestStatus::Rejected,
                                None,
                                &format!("refill {label}"),
                            )
                            .await?;
                        }
                        _ => {}
                    },
                    Err(e) => {
                        tracing::warn!(request = request.id, error = %e, "refill status check failed")
                    }
                }
            }
            _ => {}
        }
    }
    Ok(report)
}
