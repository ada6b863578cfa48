//! Payment notifications: `POST /webhooks/midtrans` and `POST /webhooks/xendit`.
//!
//! Order of checks: a body that cannot be read is 400, a forged signature or token
//! 403, an unknown deposit 404; none of them changes anything. A genuine report is
//! applied through `domain::deposits::apply_report` (exactly once, duplicates and
//! out-of-order deliveries are answered 2xx and change nothing). Midtrans
//! notifications are confirmed with Midtrans' status API before anything is applied,
//! as Midtrans advises; when that API cannot be reached the answer is 502, so
//! Midtrans delivers again later.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    response::{IntoResponse, Response},
};
use http::HeaderMap;
use serde_json::{Value, json};

use super::HttpState;
use crate::{
    db::{
        deposits::DepositRow,
        enums::{DepositEventSource, DepositStatus, PaymentGateway},
    },
    domain::deposits,
    error::{AppError, AppResult},
    payments::{
        self, GatewayError, PaymentStatus,
        midtrans::{self, SignedFields},
        xendit,
    },
};

pub async fn midtrans(State(state): State<HttpState>, body: Bytes) -> Response {
    respond("midtrans", handle_midtrans(&state, &body).await)
}

pub async fn xendit(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    respond("xendit", handle_xendit(&state, &headers, &body).await)
}

fn respond(gateway: &'static str, result: AppResult<(deposits::Outcome, i64)>) -> Response {
    let outcome = match &result {
        Ok((outcome, _)) => outcome.as_str().to_string(),
        Err(error) => error.public().code.to_string(),
    };
    metrics::counter!(crate::metrics::WEBHOOKS, "gateway" => gateway, "outcome" => outcome)
        .increment(1);
    match result {
        Ok((outcome, deposit_id)) => Json(json!({
            "ok": true,
            "depositId": deposit_id.to_string(),
            "outcome": outcome.as_str(),
        }))
        .into_response(),
        Err(error) => {
            let public = error.public();
            tracing::info!(code = public.code, "webhook refused");
            (
                public.status,
                Json(json!({ "ok": false, "code": public.code, "message": public.message })),
            )
                .into_response()
        }
    }
}

fn malformed(what: &str) -> AppError {
    AppError::validation("body", format!("malformed notification: {what}"))
}

async fn find_deposit(
    state: &HttpState,
    merchant_ref: &str,
    gateway: PaymentGateway,
) -> AppResult<DepositRow> {
    let mut conn = state.app.pool.get().await?;
    DepositRow::find_by_merchant_ref(&mut conn, merchant_ref)
        .await?
        .filter(|d| d.gateway == gateway)
        .ok_or(AppError::NotFound("deposit"))
}

async fn handle_midtrans(state: &HttpState, body: &[u8]) -> AppResult<(deposits::Outcome, i64)> {
    let config = &state.app.config.payments;
    let notification: Value = serde_json::from_slice(body).map_err(|_| malformed("not JSON"))?;
    let fields = SignedFields::from_body(&notification).ok_or_else(|| {
        malformed("order_id, status_code, gross_amount and signature_key are required")
    })?;
    let server_key = config
        .midtrans_server_key
        .as_ref()
        .ok_or_else(|| AppError::forbidden("Midtrans is not configured"))?;
    if !midtrans::verify_signature(&fields, server_key) {
        return Err(AppError::forbidden("invalid signature_key"));
    }
    let deposit = find_deposit(state, &fields.order_id, PaymentGateway::Midtrans).await?;
    // A retried "paid" notification for a deposit already paid changes nothing
    // whatever the status API says (a PAID deposit is never un-paid here): answer
    // at once without a round trip to Midtrans.
    if deposit.status == DepositStatus::Paid
        && midtrans::report(notification.clone()).is_some_and(|r| r.status == PaymentStatus::Paid)
    {
        return Ok((deposits::Outcome::Duplicate, deposit.id));
    }
    // Confirm with the status API: the notification only tells us to look.
    let gateway = payments::client(&state.app.http, config, PaymentGateway::Midtrans)?;
    let mut report = gateway
        .fetch_status(&deposit.merchant_ref, deposit.gateway_ref.as_deref())
        .await
        .map_err(|e| match e {
            GatewayError::NotFound => AppError::GatewayUnavailable(
                "Midtrans' status API does not know this order yet; deliver again later".into(),
            ),
            other => {
                AppError::GatewayUnavailable(format!("confirming with Midtrans failed: {other}"))
            }
        })?;
    report.payload = json!({ "notification": notification, "status": report.payload });
    let mut conn = state.app.pool.get().await?;
    let (outcome, deposit) =
        deposits::apply_report(&mut conn, deposit.id, DepositEventSource::Webhook, &report).await?;
    Ok((outcome, deposit.id))
}

async fn handle_xendit(
    state: &HttpState,
    headers: &HeaderMap,
    body: &[u8],
) -> AppResult<(deposits::Outcome, i64)> {
    let config = &state.app.config.payments;
    let expected = config
        .xendit_callback_token
        .as_ref()
        .ok_or_else(|| AppError::forbidden("Xendit callbacks are not configured"))?;
    let given = headers
        .get(xendit::CALLBACK_TOKEN_HEADER)
        .map(|v| v.as_bytes());
    if !xendit::verify_callback_token(given, expected) {
        return Err(AppError::forbidden("invalid x-callback-token"));
    }
    let callback: Value = serde_json::from_slice(body).map_err(|_| malformed("not JSON"))?;
    let external_id = callback
        .get("external_id")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("external_id is required"))?
        .to_string();
    let report = xendit::report(callback).ok_or_else(|| malformed("status is required"))?;
    let deposit = find_deposit(state, &external_id, PaymentGateway::Xendit).await?;
    if let (Some(ours), Some(theirs)) = (&deposit.gateway_ref, &report.gateway_ref)
        && ours != theirs
    {
        return Err(AppError::validation(
            "id",
            "the invoice id does not match this deposit",
        ));
    }
    let mut conn = state.app.pool.get().await?;
    let (outcome, deposit) =
        deposits::apply_report(&mut conn, deposit.id, DepositEventSource::Webhook, &report).await?;
    Ok((outcome, deposit.id))
}
