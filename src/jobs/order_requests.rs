//! Order requests: forwards customers' cancel and refill requests to the provider
//! and follows refills to their end.

use super::provider_clients::{Clients, tracked};
use crate::{
    app::AppState,
    db::enums::{OrderRequestKind, OrderRequestStatus},
    domain::upstream::{self},
    error::AppResult,
    providers::map_refill_status,
};

super::job!(
    OrderRequests,
    "order requests",
    upstream.status_sync_interval
);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequestsReport {
    pub forwarded: usize,
    pub completed: usize,
    pub rejected: usize,
}

/// Forwards customers' cancel and refill requests and follows refills to their end.
pub async fn run(state: &AppState) -> AppResult<RequestsReport> {
    let lease = state.config.upstream.status_sync_lease;
    let claimed = {
        let mut conn = state.pool.get().await?;
        upstream::claim_requests(&mut conn, 500, lease).await?
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
        // The calls happen here; what their answers mean is the domain's.
        let answer = match (request.kind, request.status) {
            (OrderRequestKind::Cancel, OrderRequestStatus::Pending) => {
                let ids = std::slice::from_ref(&remote_id);
                let outcome = tracked(state, provider, "cancel", client.cancel(ids)).await;
                upstream::decide_cancel(
                    request.id,
                    outcome.map(|mut answers| answers.remove(&remote_id)),
                )
            }
            (OrderRequestKind::Refill, OrderRequestStatus::Pending) => {
                let refill = client.refill(&remote_id);
                upstream::decide_refill(
                    request.id,
                    tracked(state, provider, "refill", refill).await,
                )
            }
            (OrderRequestKind::Refill, OrderRequestStatus::Submitted) => {
                let Some(refill_id) = request.provider_ref.as_deref() else {
                    continue;
                };
                let label = client.refill_status(refill_id);
                let label = tracked(state, provider, "refill_status", label).await;
                upstream::decide_refill_progress(request.id, label.map(|l| map_refill_status(&l)))
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
        upstream::update_request(&mut conn, &request, &answer).await?;
    }
    Ok(report)
}
