//! `GET /admin/exports/{orders,ledger,deposits,catalog}.csv`: what an accountant
//! needs, as CSV, for admins (`Authorization: Bearer <admin token>`).
//!
//! The body is streamed: a task reads a batch of rows (one short query on a
//! pooled connection, no transaction held) while another writes the previous one
//! as CSV and hands it to a bounded channel the response body drains. Memory stays at a few batches
//! whatever the export's size, and a client that goes away stops the task at its
//! next batch. Query parameters: `from` and `to` (local days, inclusive) with
//! `timezone` (default Asia/Jakarta), `userId`, and `status` (an order or deposit
//! status, or a ledger kind).

use std::str::FromStr;

use axum::{
    Json,
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::HttpState;
use crate::db::enums::Permission;
use crate::{
    app::AppState,
    db::{
        enums::{DepositStatus, LedgerKind, OrderStatus},
        exports::{self, Export, ExportFilter},
    },
    domain::reports::LocalPeriod,
    error::{AppError, AppResult},
};

/// Rows per batch: large enough that the per-query cost (planning included)
/// vanishes, small enough that a batch is about a megabyte.
const BATCH_ROWS: i64 = 5_000;
/// Batches written ahead of the client.
const BATCHES_AHEAD: usize = 4;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportParams {
    from: Option<String>,
    to: Option<String>,
    timezone: Option<String>,
    user_id: Option<String>,
    status: Option<String>,
}

pub async fn export(
    State(state): State<HttpState>,
    Path(name): Path<String>,
    Query(params): Query<ExportParams>,
    headers: HeaderMap,
) -> Response {
    match start(&state.app, &name, params, &headers).await {
        Ok(response) => response,
        Err(error) => {
            let public = error.public();
            let body =
                json!({ "code": public.code, "message": public.message, "field": public.field });
            (public.status, Json(body)).into_response()
        }
    }
}

async fn start(
    app: &AppState,
    name: &str,
    params: ExportParams,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let export = Export::parse(name).ok_or(AppError::NotFound("export"))?;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::bearer_token)
        .ok_or_else(AppError::unauthenticated)?;
    let filter = parse_filter(export, params)?;
    let caller = crate::auth::authenticate(&app.caches, &app.pool, token).await?;
    // An export is a read of its area: the same permission as the admin list.
    let permission = match export {
        Export::Orders => Permission::OrdersRead,
        Export::Ledger => Permission::Balances,
        Export::Deposits => Permission::Deposits,
        Export::Catalog => Permission::Catalog,
    };
    if caller.user.is_banned() || !caller.can(permission) {
        return Err(AppError::Forbidden(format!(
            "this export needs the {permission} permission"
        )));
    }
    let mut conn = app.pool.get().await?;
    let last = exports::last_id(&mut conn, export).await?;
    record_export(&mut conn, caller.id(), export, &filter, last).await?;
    drop(conn);
    tracing::info!(
        admin = caller.id(),
        export = export.file_name(),
        "export started"
    );

    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(BATCHES_AHEAD);
    let pool = app.pool.clone();
    tokio::spawn(async move {
        if let Err(error) = stream(&pool, export, &filter, last, &sender).await {
            tracing::error!(error = %error, export = export.file_name(), "export failed");
            // The body ends with an error, so the client sees a broken transfer
            // rather than a file that merely looks complete.
            let _ = sender
                .send(Err(std::io::Error::other("export failed")))
                .await;
        }
    });
    let mut receiver = receiver;
    let body = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", export.file_name()),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// The audit entry of an export: who exported what (file, filters, last row), when.
async fn record_export(
    conn: &mut diesel_async::AsyncPgConnection,
    admin_id: i64,
    export: Export,
    filter: &ExportFilter,
    last: i64,
) -> AppResult<()> {
    let entry = crate::domain::audit::AuditEntry {
        action: "export.download",
        subject_type: "export",
        after: Some(json!({
            "export": export.file_name(),
            "from": filter.from,
            "to": filter.to,
            "userId": filter.user_id,
            "status": filter.status,
            "lastId": last,
        })),
        ..Default::default()
    };
    crate::domain::audit::record(conn, admin_id, entry).await
}

fn parse_filter(export: Export, params: ExportParams) -> AppResult<ExportFilter> {
    let day = |field: &str, value: &str| {
        NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
            AppError::validation(field, format!("{field} must be a date (YYYY-MM-DD)"))
        })
    };
    let period = match (&params.from, &params.to) {
        (Some(from), Some(to)) => Some(LocalPeriod::new(
            day("from", from)?,
            day("to", to)?,
            params.timezone.as_deref().unwrap_or("Asia/Jakarta"),
        )?),
        (None, None) => None,
        (Some(_), None) => return Err(AppError::validation("to", "give both from and to")),
        (None, Some(_)) => return Err(AppError::validation("from", "give both from and to")),
    };
    let user_id = params
        .user_id
        .as_deref()
        .map(|id| {
            id.trim()
                .parse::<i64>()
                .map_err(|_| AppError::validation("userId", "userId must be a user id"))
        })
        .transpose()?;
    let status = match params.status.as_deref().map(str::trim) {
        None => None,
        Some(status) => {
            let known = match export {
                Export::Orders => OrderStatus::from_str(status).is_ok(),
                Export::Deposits => DepositStatus::from_str(status).is_ok(),
                Export::Ledger => LedgerKind::from_str(status).is_ok(),
                Export::Catalog => false,
            };
            if !known {
                return Err(AppError::validation(
                    "status",
                    "status is not a status (or ledger kind) of this export",
                ));
            }
            Some(status.to_string())
        }
    };
    Ok(ExportFilter {
        from: period.map(|p| p.span.start),
        to: period.map(|p| p.span.end),
        user_id,
        status,
    })
}

/// Writes batches until the export is done or the client is gone. One task reads
/// the batches and this one writes them, so PostgreSQL reads the next batch while
/// this one is encoded (on two cores, the two overlap).
async fn stream(
    pool: &crate::db::PgPool,
    export: Export,
    filter: &ExportFilter,
    last: i64,
    sender: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
) -> anyhow::Result<()> {
    let (batches, mut read) = tokio::sync::mpsc::channel::<Batch>(1);
    let reader = {
        let (pool, filter) = (pool.clone(), filter.clone());
        tokio::spawn(async move {
            let mut after = 0;
            loop {
                let batch = Batch::read(&pool, export, after, last, &filter).await?;
                let next = batch.last_id();
                // Gone: the writer stopped (the client went away).
                if batches.send(batch).await.is_err() {
                    return anyhow::Ok(());
                }
                match next {
                    Some(next) => after = next,
                    None => return Ok(()),
                }
            }
        })
    };
    let mut first = true;
    while let Some(batch) = read.recv().await {
        if batch.last_id().is_none() {
            break;
        }
        let chunk = batch.encode(first)?;
        if sender.send(Ok(chunk)).await.is_err() {
            tracing::info!(
                export = export.file_name(),
                "export abandoned by the client"
            );
            reader.abort();
            return Ok(());
        }
        first = false;
    }
    reader.await?
}

/// One batch of an export's rows.
enum Batch {
    Orders(Vec<exports::OrderRecord>),
    Ledger(Vec<exports::LedgerRecord>),
    Deposits(Vec<exports::DepositRecord>),
    Catalog(Vec<exports::CatalogRecord>),
}

impl Batch {
    /// The rows after `after`, up to `last`, on a pooled connection of its own.
    async fn read(
        pool: &crate::db::PgPool,
        export: Export,
        after: i64,
        last: i64,
        filter: &ExportFilter,
    ) -> anyhow::Result<Batch> {
        let mut conn = pool.get().await?;
        let conn = &mut *conn;
        Ok(match export {
            Export::Orders => {
                Batch::Orders(exports::orders(conn, after, last, BATCH_ROWS, filter).await?)
            }
            Export::Ledger => {
                Batch::Ledger(exports::ledger(conn, after, last, BATCH_ROWS, filter).await?)
            }
            Export::Deposits => {
                Batch::Deposits(exports::deposits(conn, after, last, BATCH_ROWS, filter).await?)
            }
            Export::Catalog => {
                Batch::Catalog(exports::catalog(conn, after, last, BATCH_ROWS).await?)
            }
        })
    }

    /// The cursor after this batch; `None` when it is empty (the export is done).
    fn last_id(&self) -> Option<i64> {
        match self {
            Batch::Orders(rows) => rows.last().map(|r| r.id),
            Batch::Ledger(rows) => rows.last().map(|r| r.id),
            Batch::Deposits(rows) => rows.last().map(|r| r.id),
            Batch::Catalog(rows) => rows.last().map(|r| r.id),
        }
    }

    /// The batch as CSV, with the header line before the first.
    fn encode(&self, header: bool) -> anyhow::Result<Bytes> {
        match self {
            Batch::Orders(rows) => encode(rows, header),
            Batch::Ledger(rows) => encode(rows, header),
            Batch::Deposits(rows) => encode(rows, header),
            Batch::Catalog(rows) => encode(rows, header),
        }
    }
}

/// Rows as CSV (with the header line when asked). The records quote their own
/// text cells (`db::exports`), so the writer quotes nothing: numbers stay
/// numbers in a spreadsheet.
fn encode<T: Serialize>(rows: &[T], header: bool) -> anyhow::Result<Bytes> {
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Never)
        .has_headers(header)
        .from_writer(Vec::with_capacity(rows.len() * 160));
    for row in rows {
        writer.serialize(row)?;
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Bytes::from(bytes))
}
