//! The panel's own stock (Twitter accounts and the like): uploads, counts, removal,
//! and the atomic take that sells each item exactly once. Items are encrypted at
//! rest and only readable by their buyer and admins.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};

use crate::{
    crypto::SecretBox,
    db::stock_items as stock_items_db,
    db::{
        enums::Fulfillment,
        schema::{services, stock_items},
        services::ServiceRow,
    },
    error::{AppError, AppResult},
};

pub const MAX_ITEM_LEN: usize = 2000;
pub const MAX_ITEMS_PER_UPLOAD: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadResult {
    pub added: i64,
    pub duplicates: i64,
}

async fn stock_service(conn: &mut AsyncPgConnection, service_id: i64) -> AppResult<ServiceRow> {
    let service = ServiceRow::find(conn, service_id)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    if service.fulfillment != Fulfillment::Stock {
        return Err(AppError::validation(
            "serviceId",
            "this service is not sold from stock",
        ));
    }
    Ok(service)
}

/// Adds one item per non-empty line (e.g. `username:password:email:email_password`).
/// Lines already in stock for the service are counted as duplicates, not added twice.
pub async fn upload(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    service_id: i64,
    text: &str,
) -> AppResult<UploadResult> {
    stock_service(conn, service_id).await?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return Err(AppError::validation(
            "items",
            "no items: put one item per line",
        ));
    }
    if lines.len() > MAX_ITEMS_PER_UPLOAD {
        return Err(AppError::validation(
            "items",
            format!("at most {MAX_ITEMS_PER_UPLOAD} items per upload"),
        ));
    }
    if let Some((index, _)) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.len() > MAX_ITEM_LEN)
    {
        return Err(AppError::validation(
            "items",
            format!("line {} is longer than {MAX_ITEM_LEN} bytes", index + 1),
        ));
    }
    let rows: Vec<_> = lines
        .iter()
        .map(|line| {
            (
                stock_items::service_id.eq(service_id),
                stock_items::content_encrypted.eq(secrets.encrypt(line)),
                stock_items::content_hash.eq(Sha256::digest(line.as_bytes()).to_vec()),
            )
        })
        .collect();
    let mut added = 0;
    for chunk in rows.chunks(10_000) {
        added += diesel::insert_into(stock_items::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(conn)
            .await? as i64;
    }
    Ok(UploadResult {
        added,
        duplicates: lines.len() as i64 - added,
    })
}

/// `(unsold, sold)` counts.
pub async fn counts(conn: &mut AsyncPgConnection, service_id: i64) -> AppResult<(i64, i64)> {
    let unsold = stock_items::table
        .filter(stock_items::service_id.eq(service_id))
        .filter(stock_items::order_id.is_null())
        .count()
        .get_result(conn)
        .await?;
    let sold = stock_items::table
        .filter(stock_items::service_id.eq(service_id))
        .filter(stock_items::order_id.is_not_null())
        .count()
        .get_result(conn)
        .await?;
    Ok((unsold, sold))
}

/// Removes unsold items; sold ones are kept (their buyer can still read them).
pub async fn remove_unsold(
    conn: &mut AsyncPgConnection,
    service_id: i64,
    item_ids: &[i64],
) -> AppResult<i64> {
    stock_service(conn, service_id).await?;
    Ok(diesel::delete(
        stock_items::table
            .filter(stock_items::service_id.eq(service_id))
            .filter(stock_items::id.eq_any(item_ids))
            .filter(stock_items::order_id.is_null()),
    )
    .execute(conn)
    .await? as i64)
}

/// Marks `quantity` unsold items as sold to `order_id`, in the caller's transaction.
/// Rows another buyer is taking at this moment are skipped, never double-sold; when
/// fewer than `quantity` remain the caller's transaction must roll back.
pub async fn take(
    conn: &mut AsyncPgConnection,
    service_id: i64,
    order_id: i64,
    quantity: i64,
) -> AppResult<Vec<i64>> {
    let taken = stock_items_db::take_unsold(conn, service_id, order_id, quantity).await?;
    if (taken.len() as i64) < quantity {
        let name: String = services::table
            .find(service_id)
            .select(services::name)
            .first(conn)
            .await?;
        return Err(AppError::OutOfStock(format!(
            "only {} of {quantity} items of \"{name}\" are in stock",
            taken.len()
        )));
    }
    Ok(taken)
}

/// The decrypted items delivered with an order.
pub async fn delivered_items(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    order_id: i64,
) -> AppResult<Vec<String>> {
    let sealed: Vec<Vec<u8>> = stock_items::table
        .filter(stock_items::order_id.eq(order_id))
        .order(stock_items::id)
        .select(stock_items::content_encrypted)
        .load(conn)
        .await?;
    sealed
        .iter()
        .map(|s| secrets.decrypt(s).map_err(AppError::internal))
        .collect()
}

/// Unsold items, oldest first, decrypted for the admin screen: `(id, content, added)`.
pub async fn unsold_items(
    conn: &mut AsyncPgConnection,
    secrets: &SecretBox,
    service_id: i64,
    limit: i64,
) -> AppResult<Vec<(i64, String, chrono::DateTime<chrono::Utc>)>> {
    let rows: Vec<(i64, Vec<u8>, chrono::DateTime<chrono::Utc>)> = stock_items::table
        .filter(stock_items::service_id.eq(service_id))
        .filter(stock_items::order_id.is_null())
        .order(stock_items::id)
        .limit(limit)
        .select((
            stock_items::id,
            stock_items::content_encrypted,
            stock_items::created_at,
        ))
        .load(conn)
        .await?;
    rows.into_iter()
        .map(|(id, sealed, at)| {
            Ok((
                id,
                secrets.decrypt(&sealed).map_err(AppError::internal)?,
                at,
            ))
        })
        .collect()
}
