//! The panel's own stock (Twitter accounts and the like): uploads, counts, removal,
//! and the atomic take that sells each item exactly once. Items are encrypted at
//! rest and only readable by their buyer and admins.

use diesel_async::AsyncPgConnection;
use sha2::{Digest, Sha256};

use crate::{
    crypto::SecretBox,
    db::{
        enums::Fulfillment,
        services::ServiceRow,
        stock_items::{self, SealedItem},
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
    let items: Vec<_> = lines
        .iter()
        .map(|line| SealedItem {
            content_encrypted: secrets.encrypt(line),
            content_hash: Sha256::digest(line.as_bytes()).to_vec(),
        })
        .collect();
    let added = stock_items::insert_new(conn, service_id, &items).await?;
    Ok(UploadResult {
        added,
        duplicates: lines.len() as i64 - added,
    })
}

/// `(unsold, sold)` counts.
pub async fn counts(conn: &mut AsyncPgConnection, service_id: i64) -> AppResult<(i64, i64)> {
    let (unsold, sold) = stock_items::count_unsold_and_sold(conn, service_id).await?;
    Ok((unsold, sold))
}

/// Removes unsold items; sold ones are kept (their buyer can still read them).
pub async fn remove_unsold(
    conn: &mut AsyncPgConnection,
    service_id: i64,
    item_ids: &[i64],
) -> AppResult<i64> {
    stock_service(conn, service_id).await?;
    Ok(stock_items::delete_unsold(conn, service_id, item_ids).await? as i64)
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
    let taken = stock_items::take_unsold(conn, service_id, order_id, quantity).await?;
    if (taken.len() as i64) < quantity {
        let name = ServiceRow::find(conn, service_id)
            .await?
            .map(|service| service.spec.name)
            .unwrap_or_default();
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
    let sealed = stock_items::sealed_of_order(conn, order_id).await?;
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
    let rows = stock_items::unsold_sealed(conn, service_id, limit).await?;
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
