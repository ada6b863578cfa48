//! Dispatch: sends PENDING orders to their providers. Orders are claimed with
//! `SKIP LOCKED` and moved to SUBMITTING in their own committed transaction
//! before the call; the answer decides the next state (`domain::upstream`):
//! accepted, retried later with backoff, a fallback service, failed and refunded,
//! or NEEDS_REVIEW when the provider may have acted on it.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use futures_util::{FutureExt, StreamExt, future::BoxFuture, stream};
use tokio::sync::mpsc;

use super::provider_clients::{Clients, record_health, timed};
use crate::{
    app::AppState,
    db::{orders::OrderRow, services::ServiceRow},
    domain::{
        provider_health::CallRecord,
        upstream::{self, RefusalOutcome},
    },
    error::{AppError, AppResult},
    providers::{self, ProviderError, RemoteOrderRequest},
};

super::job!(Dispatch, "dispatch", upstream.dispatch_interval);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DispatchReport {
    pub claimed: usize,
    pub accepted: usize,
    pub retried: usize,
    pub fallback: usize,
    pub failed: usize,
    pub needs_review: usize,
    pub recovered_stuck: usize,
}

/// Sends pending orders to their providers until none is left to claim.
pub async fn run(state: &AppState) -> AppResult<DispatchReport> {
    let report = dispatch_all(state).await?;
    for (outcome, count) in [
        ("accepted", report.accepted),
        ("retried", report.retried),
        ("fallback", report.fallback),
        ("failed", report.failed),
        ("needs_review", report.needs_review),
    ] {
        if count > 0 {
            metrics::counter!(crate::metrics::ORDERS_DISPATCHED, "outcome" => outcome)
                .increment(count as u64);
        }
    }
    Ok(report)
}

async fn dispatch_all(state: &AppState) -> AppResult<DispatchReport> {
    let config = &state.config.upstream;
    let mut report = DispatchReport::default();
    {
        let mut conn = state.pool.get().await?;
        report.recovered_stuck =
            upstream::recover_stuck_submissions(&mut conn, config.submit_stuck_after)
                .await?
                .len();
    }
    let in_flight = config.dispatch_concurrency.max(1);
    // Acceptances wait here for the writer; bounded, so a writer that falls behind
    // slows the calls down instead of piling up answers.
    let (answers, inbox) = mpsc::channel::<Answer>(4 * in_flight);
    let failed = AtomicBool::new(false);
    let claimed = AtomicUsize::new(0);
    let calls = async {
        // The stream owns the sender: once it ends, the writer sees the inbox close.
        let mut outcomes = std::pin::pin!(
            claims(state, &failed, &claimed)
                .flat_map(stream::iter)
                .map(
                    move |claimed: AppResult<Claimed>| -> BoxFuture<'_, AppResult<Outcome>> {
                        // Boxed: an unboxed future over borrowed state trips the
                        // compiler's Send inference inside tokio::spawn.
                        let answers = answers.clone();
                        async move {
                            let claimed = claimed?;
                            submit(state, &claimed.round, &claimed.order, &answers).await
                        }
                        .boxed()
                    }
                )
                .buffer_unordered(in_flight)
        );
        let mut report = DispatchReport::default();
        let mut first_error = None;
        // Every call under way runs to its end, even after an error: an order left
        // SUBMITTING without its answer would need a person.
        while let Some(outcome) = outcomes.next().await {
            match outcome {
                Ok(Outcome::Accepted) => report.accepted += 1,
                Ok(Outcome::Retry) => report.retried += 1,
                Ok(Outcome::Fallback) => report.fallback += 1,
                Ok(Outcome::Failed) => report.failed += 1,
                Ok(Outcome::Unclear) => report.needs_review += 1,
                Err(error) => {
                    failed.store(true, Ordering::Relaxed);
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(report), Err)
    };
    let (calls, written) = tokio::join!(calls, write_answers(state, inbox));
    let calls = calls?;
    written?;
    report.claimed += claimed.load(Ordering::Relaxed);
    report.accepted += calls.accepted;
    report.retried += calls.retried;
    report.fallback += calls.fallback;
    report.failed += calls.failed;
    report.needs_review += calls.needs_review;
    Ok(report)
}

/// What one claim shares with its orders' calls.
struct Round {
    clients: Clients,
    services: HashMap<i64, ServiceRow>,
}

/// One claimed order and its claim's clients and services.
struct Claimed {
    round: Arc<Round>,
    order: OrderRow,
}

/// Claims of `dispatch_batch` orders, each made when the previous claim's orders
/// are all under way, so the calls never wait for a whole batch to end (no barrier
/// between batches). Stops after a claim that was not full, or an error.
fn claims<'a>(
    state: &'a AppState,
    failed: &'a AtomicBool,
    count: &'a AtomicUsize,
) -> impl futures_util::Stream<Item = Vec<AppResult<Claimed>>> + Send + 'a {
    stream::unfold(false, move |done| {
        claim_next(state, failed, count, done).boxed()
    })
}

async fn claim_next(
    state: &AppState,
    failed: &AtomicBool,
    count: &AtomicUsize,
    done: bool,
) -> Option<(Vec<AppResult<Claimed>>, bool)> {
    // At shutdown the calls in flight finish and nothing new is claimed.
    if done || state.is_stopping() || failed.load(Ordering::Relaxed) {
        return None;
    }
    let batch = state.config.upstream.dispatch_batch;
    match claim_round(state, batch).await {
        Ok((round, claimed)) if claimed.is_empty() => {
            drop(round);
            None
        }
        Ok((round, claimed)) => {
            let full = claimed.len() as i64 == batch;
            count.fetch_add(claimed.len(), Ordering::Relaxed);
            let round = Arc::new(round);
            let claimed = claimed
                .into_iter()
                .map(|order| {
                    Ok(Claimed {
                        round: round.clone(),
                        order,
                    })
                })
                .collect();
            Some((claimed, !full))
        }
        Err(error) => Some((vec![Err(error)], true)),
    }
}

async fn claim_round(state: &AppState, batch: i64) -> AppResult<(Round, Vec<OrderRow>)> {
    let claimed = {
        let mut conn = state.pool.get().await?;
        upstream::claim_for_dispatch(&mut conn, batch).await?
    };
    if claimed.is_empty() {
        let round = Round {
            clients: Clients {
                providers: HashMap::new(),
            },
            services: HashMap::new(),
        };
        return Ok((round, claimed));
    }
    let clients = Clients::load(state, claimed.iter().filter_map(|o| o.provider_id)).await?;
    let service_ids: Vec<i64> = claimed.iter().map(|o| o.service_id).collect();
    let services: HashMap<i64, ServiceRow> = {
        let mut conn = state.pool.get().await?;
        ServiceRow::load_many(&mut conn, &service_ids)
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect()
    };
    Ok((Round { clients, services }, claimed))
}

/// An accepted order, or only a call to record, on its way to the writer.
struct Answer {
    call: CallRecord,
    accepted: Option<(i64, String)>,
}

/// The most answers written in one transaction.
const WRITE_GROUP: usize = 64;

/// Writes acceptances in groups, whatever has arrived since the last group (at
/// most [`WRITE_GROUP`]): one transaction of a constant number of statements per
/// group (`upstream::mark_accepted_many`), and the group's call records for the
/// providers' health. Runs beside the calls, so they never wait for the database.
async fn write_answers(state: &AppState, mut inbox: mpsc::Receiver<Answer>) -> AppResult<()> {
    let mut group = Vec::with_capacity(WRITE_GROUP);
    let mut result = Ok(());
    while inbox.recv_many(&mut group, WRITE_GROUP).await > 0 {
        let (calls, accepted): (Vec<CallRecord>, Vec<Option<(i64, String)>>) =
            group.drain(..).map(|a| (a.call, a.accepted)).unzip();
        let accepted: Vec<(i64, String)> = accepted.into_iter().flatten().collect();
        record_health(state, &calls).await;
        if result.is_err() || accepted.is_empty() {
            continue;
        }
        // After an error the answers are still drained (the calls must not block),
        // but left unwritten: those orders stay SUBMITTING and go to review, never
        // sent twice.
        result = async {
            let mut conn = state.pool.get().await?;
            upstream::mark_accepted_many(&mut conn, &accepted).await
        }
        .await
        .map(|_| ());
        if let Err(error) = &result {
            tracing::error!(%error, orders = accepted.len(), "recording accepted orders failed");
        }
    }
    result
}

enum Outcome {
    Accepted,
    Retry,
    Fallback,
    Failed,
    Unclear,
}

async fn submit(
    state: &AppState,
    round: &Round,
    order: &OrderRow,
    answers: &mpsc::Sender<Answer>,
) -> AppResult<Outcome> {
    let config = &state.config.upstream;
    let (Some((provider, client)), Some(service), Some(remote_service)) = (
        order
            .provider_id
            .and_then(|id| round.clients.providers.get(&id)),
        round.services.get(&order.service_id),
        order.provider_service_id.as_deref(),
    ) else {
        let mut conn = state.pool.get().await?;
        upstream::mark_unclear(
            &mut conn,
            order.id,
            "the order has no usable provider or provider service",
        )
        .await?;
        return Ok(Outcome::Unclear);
    };
    let request = RemoteOrderRequest {
        service: remote_service,
        link: &order.link,
        quantity: providers::sends_quantity(service.service_type).then_some(order.quantity),
        extra: &order.extra,
    };
    let (result, call) = timed(provider, "add", client.add_order(&request)).await;
    let lost = || AppError::Internal(anyhow::anyhow!("the answer writer stopped"));
    let result = match result {
        // Written in a group with others by `write_answers`, with the call's record.
        Ok(provider_order_id) => {
            let accepted = Some((order.id, provider_order_id));
            answers
                .send(Answer { call, accepted })
                .await
                .map_err(|_| lost())?;
            return Ok(Outcome::Accepted);
        }
        Err(error) => {
            answers
                .send(Answer {
                    call,
                    accepted: None,
                })
                .await
                .map_err(|_| lost())?;
            error
        }
    };
    let mut conn = state.pool.get().await?;
    Ok(match result {
        ProviderError::Transient(error) => {
            let exponent = order.submit_attempts.clamp(1, 16) as u32 - 1;
            let backoff = config
                .dispatch_retry
                .saturating_mul(2u32.saturating_pow(exponent))
                .min(std::time::Duration::from_secs(1800));
            upstream::mark_retry(&mut conn, order.id, &error, backoff).await?;
            Outcome::Retry
        }
        ProviderError::Refused(error) => {
            match upstream::mark_refused(&mut conn, order.id, provider, &error).await? {
                RefusalOutcome::Fallback => Outcome::Fallback,
                RefusalOutcome::Failed => Outcome::Failed,
            }
        }
        ProviderError::Unclear(error) => {
            upstream::mark_unclear(&mut conn, order.id, &error).await?;
            Outcome::Unclear
        }
    })
}
