//! Relay cursor connections. Cursors are opaque strings; two kinds exist:
//! offset cursors for small, admin-ordered lists (the catalogue) and keyset cursors
//! (the id of the last row) for append-heavy lists (users, orders, ledger).

use async_graphql::{
    OutputType, SimpleObject,
    connection::{Connection, Edge},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::AppError;

pub const DEFAULT_PAGE: i64 = 20;
pub const MAX_PAGE: i64 = 100;

#[derive(SimpleObject)]
pub struct ConnectionTotals {
    /// How many items match the filter, across all pages.
    pub total_count: i64,
}

pub type Page<T> = Connection<String, T, ConnectionTotals>;

pub fn page_size(first: Option<i32>) -> Result<i64, AppError> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (0..=MAX_PAGE as i32).contains(&n) => Ok(n.into()),
        Some(_) => Err(AppError::validation(
            "first",
            format!("first must be between 0 and {MAX_PAGE}"),
        )),
    }
}

fn encode(kind: &str, value: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{value}"))
}

fn decode(kind: &str, cursor: &str) -> Result<i64, AppError> {
    let invalid = || AppError::validation("after", "invalid cursor");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(raw).map_err(|_| invalid())?;
    let (k, v) = text.split_once(':').ok_or_else(invalid)?;
    if k != kind {
        return Err(invalid());
    }
    v.parse().map_err(|_| invalid())
}

pub fn decode_offset(after: Option<&str>) -> Result<i64, AppError> {
    after
        .map(|c| decode("o", c).map(|o| o + 1))
        .transpose()
        .map(|o| o.unwrap_or(0))
}

pub fn decode_keyset(after: Option<&str>) -> Result<Option<i64>, AppError> {
    after.map(|c| decode("k", c)).transpose()
}

/// A page of an offset-paginated list: `offset` is where `items` start.
pub fn offset_page<T: OutputType>(items: Vec<T>, offset: i64, total: i64) -> Page<T> {
    let has_next = offset + (items.len() as i64) < total;
    let mut connection = Connection::with_additional_fields(
        offset > 0,
        has_next,
        ConnectionTotals { total_count: total },
    );
    connection.edges.extend(
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Edge::new(encode("o", offset + i as i64), item)),
    );
    connection
}

/// A page of a keyset-paginated list. `items` holds up to `limit + 1` rows: the extra
/// one only tells that a next page exists.
pub fn keyset_page<T: OutputType>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> i64,
    limit: i64,
    has_previous: bool,
    total: i64,
) -> Page<T> {
    let has_next = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let mut connection = Connection::with_additional_fields(
        has_previous,
        has_next,
        ConnectionTotals { total_count: total },
    );
    connection.edges.extend(
        items
            .into_iter()
            .map(|item| Edge::new(encode("k", key(&item)), item)),
    );
    connection
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_offset(Some(&encode("o", 19))).unwrap(), 20);
        assert_eq!(decode_offset(None).unwrap(), 0);
        assert_eq!(decode_keyset(Some(&encode("k", 42))).unwrap(), Some(42));
        assert!(decode_keyset(Some(&encode("o", 42))).is_err());
        assert!(decode_offset(Some("!!")).is_err());
        assert!(page_size(Some(101)).is_err());
        assert!(page_size(Some(-1)).is_err());
    }
}
