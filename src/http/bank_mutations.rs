//! `POST /webhooks/bank-mutations/{provider}`: bank mutations pushed by a
//! mutation service (Moota today), and `GET /deposits/{id}/proof`, a proof of
//! transfer for its owner and staff.
//!
//! A push is verified on its raw bytes before anything parses it (a forged or
//! unsigned push is 403 and changes nothing), then each credit mutation goes
//! through `domain::deposits::matching::record`: stored once by the service's
//! mutation id, so a repeated or concurrent delivery credits nothing twice.
//! Debits are skipped. Another service is one more [`MutationSource`] here.

use axum::{
    Json,
    body::{Body, Bytes},
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use http::{HeaderMap, header};
use serde_json::json;

use super::HttpState;
use crate::{
    app::AppState,
    db::{
        bank_mutations::NewBankMutation,
        enums::{BankMutationSource, BankMutationStatus},
    },
    domain::deposits::{
        matching::{self, Recorded},
        proof,
    },
    error::{AppError, AppResult},
    payments::mutations::{BankMutation, Moota, MutationError, MutationSource},
};

/// What a push did, counted.
#[derive(Debug, Default)]
struct PushReport {
    credits: usize,
    matched: usize,
    review: usize,
    repeats: usize,
}

pub async fn receive(
    State(state): State<HttpState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&state.app, &provider, &headers, &body).await {
        Ok(report) => Json(json!({
            "ok": true,
            "credits": report.credits,
            "matched": report.matched,
            "review": report.review,
            "repeats": report.repeats,
        }))
        .into_response(),
        Err(error) => {
            let public = error.public();
            tracing::info!(code = public.code, provider = %provider.chars().take(32).collect::<String>(), "bank mutation push refused");
            (
                public.status,
                Json(json!({ "ok": false, "code": public.code, "message": public.message })),
            )
                .into_response()
        }
    }
}

/// The service behind `{provider}`, with its secret from the settings.
fn source(
    app: &AppState,
    provider: &str,
) -> AppResult<(BankMutationSource, Box<dyn MutationSource>)> {
    match provider {
        "moota" => {
            let secret = app
                .config
                .payments
                .moota_secret
                .as_ref()
                .ok_or_else(|| AppError::forbidden("Moota is not configured"))?;
            Ok((
                BankMutationSource::Moota,
                Box::new(Moota::new(secret.expose())),
            ))
        }
        _ => Err(AppError::NotFound("mutation service")),
    }
}

async fn handle(
    app: &AppState,
    provider: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> AppResult<PushReport> {
    let (kind, source) = source(app, provider)?;
    source.verify(headers, body).map_err(|e| match e {
        MutationError::TooLarge { .. } => AppError::validation("body", e.to_string()),
        other => AppError::forbidden(other.to_string()),
    })?;
    let mutations = source
        .parse(body)
        .map_err(|e| AppError::validation("body", e.to_string()))?;
    let raw: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let mut report = PushReport::default();
    let mut conn = app.pool.get().await?;
    for (index, mutation) in mutations.iter().enumerate().filter(|(_, m)| m.credit) {
        report.credits += 1;
        let payload = raw.get(index).cloned().unwrap_or_default();
        match matching::record(&mut conn, &incoming(kind, mutation, payload)).await? {
            Recorded::Repeat => report.repeats += 1,
            Recorded::Matched { .. } => report.matched += 1,
            Recorded::Review { .. } => report.review += 1,
        }
    }
    Ok(report)
}

fn incoming(
    source: BankMutationSource,
    mutation: &BankMutation,
    payload: serde_json::Value,
) -> NewBankMutation {
    NewBankMutation {
        source,
        external_id: mutation.external_id.clone(),
        bank: mutation.bank.chars().take(40).collect(),
        account_number: mutation
            .account_number
            .chars()
            .filter(char::is_ascii_digit)
            .take(32)
            .collect(),
        amount: mutation.amount,
        description: mutation.description.clone(),
        occurred_at: mutation.occurred_at,
        status: BankMutationStatus::Unmatched,
        payload,
    }
}

/// A proof of transfer, for the deposit's owner or staff who may see deposits
/// (bearer token); 404 for anyone else, exactly like a deposit without one.
pub async fn deposit_proof(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match find_proof(&state.app, &id, &headers).await {
        Ok((content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "private, no-store".to_string()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                (header::CONTENT_DISPOSITION, "inline".to_string()),
            ],
            Body::from(bytes),
        )
            .into_response(),
        Err(error) => {
            let public = error.public();
            let body = json!({ "code": public.code, "message": public.message });
            (public.status, Json(body)).into_response()
        }
    }
}

async fn find_proof(app: &AppState, id: &str, headers: &HeaderMap) -> AppResult<(String, Vec<u8>)> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::bearer_token)
        .ok_or_else(AppError::unauthenticated)?;
    let viewer = crate::auth::authenticate(&app.caches, &app.pool, token).await?;
    if viewer.user.is_banned() {
        return Err(AppError::Forbidden("this account is banned".into()));
    }
    let deposit_id: i64 = id
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound("proof"))?;
    let mut conn = app.pool.get().await?;
    let found = proof::find_visible(&mut conn, &viewer, deposit_id)
        .await?
        .ok_or(AppError::NotFound("proof"))?;
    Ok((found.content_type, found.bytes))
}
