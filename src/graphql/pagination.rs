//! Relay cursor connections over `db::pagination`: `first`/`after` become a
//! [`KeysetPage`] or an [`OffsetPage`], a [`Paginated`] becomes a [`Page`]. Cursors
//! are opaque strings; two kinds exist: offset cursors for small, admin-ordered
//! lists (the catalogue) and keyset cursors (the id of the last row) for
//! append-heavy lists (users, orders, ledger). A list field is written as
//!
//! ```ignore
//! #[graphql(complexity = "list_complexity(first, child_complexity)")]
//! async fn things(&self, ctx: &Context<'_>, first: Option<i32>, after: Option<String>)
//!     -> GraphqlResult<Page<Thing>> {
//!     let page = keyset_args(ctx, first, after.as_deref())?;
//!     let rows = ThingRow::list(&mut conn(ctx).await?, &filter, page).await?;
//!     Ok(keyset_connection(rows, |r| r.id, Thing))
//! }
//! ```

use std::borrow::Cow;

use async_graphql::{
    ContainerType, Context, ContextSelectionSet, ObjectType, OutputType, Positioned, ServerResult,
    Value,
    connection::{Connection, CursorType, Edge},
    parser::types::Field,
    registry::Registry,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::flat::{self, Flat};
use crate::{
    db::pagination::{KeysetPage, OffsetPage, Paginated},
    error::AppError,
};

pub const DEFAULT_PAGE: i64 = 20;
pub const MAX_PAGE: i64 = 100;

pub struct ConnectionTotals {
    total: Option<i64>,
}

#[async_graphql::Object]
impl ConnectionTotals {
    /// How many items match the filter, across all pages.
    async fn total_count(&self) -> i64 {
        // Counted whenever the document selects this field (`keyset_args`).
        self.total.unwrap_or_default()
    }
}

/// A page of rows: async-graphql's connection (`edges`, `nodes`, `pageInfo`,
/// `totalCount`, the same schema types), itself resolved flat (`flat.rs`), and
/// its `nodes` resolved in one loop over flat rows (`flat::resolve_rows`)
/// instead of the engine's list, which runs each item through the extension.
pub struct Page<T: ObjectType>(Rows<T>);

/// What a [`Page`] wraps.
type Rows<T> = Connection<PageCursor, Flat<T>, ConnectionTotals>;

impl<T: ObjectType> Page<T> {
    /// The page's rows, in order.
    pub fn rows(&self) -> impl Iterator<Item = &T> {
        self.0.edges.iter().map(|edge| &edge.node.0)
    }
}

impl<T: ObjectType> OutputType for Page<T> {
    fn type_name() -> Cow<'static, str> {
        Rows::<T>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Rows::<T>::create_type_info(registry)
    }

    fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> impl Future<Output = ServerResult<Value>> + Send {
        // Boxed, as a flat object's resolution is.
        Box::pin(flat::resolve_flat(self, ctx))
    }
}

impl<T: ObjectType> ContainerType for Page<T> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        if ctx.item.node.name.node == "nodes" {
            return flat::resolve_rows(ctx, self.rows()).await.map(Some);
        }
        self.0.resolve_field(ctx).await
    }
}

impl<T: ObjectType> ObjectType for Page<T> {}

/// An edge's position, written out as its opaque cursor only when a client
/// selects it (a page of 100 rows read through `nodes` encodes none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageCursor {
    /// The row's id (keyset lists).
    Keyset(i64),
    /// The row's position (offset lists).
    Offset(i64),
}

impl CursorType for PageCursor {
    type Error = AppError;

    fn decode_cursor(cursor: &str) -> Result<Self, AppError> {
        decode("k", cursor)
            .map(PageCursor::Keyset)
            .or_else(|_| decode("o", cursor).map(PageCursor::Offset))
    }

    fn encode_cursor(&self) -> String {
        match *self {
            PageCursor::Keyset(id) => encode("k", id),
            PageCursor::Offset(position) => encode("o", position),
        }
    }
}

/// The page size a client asked for, within 0 to [`MAX_PAGE`].
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

/// The cost of a list field for the complexity limit: every row may cost as much
/// as its selection. Every list field names this function in its `complexity`.
pub fn list_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.map_or(DEFAULT_PAGE, |n| i64::from(n).clamp(0, MAX_PAGE)) as usize;
    rows.saturating_mul(child_complexity).saturating_add(1)
}

fn encode(kind: &str, value: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{value}"))
}

/// A cursor's position; garbage, another kind of cursor or a negative number is
/// a VALIDATION error on `after`.
fn decode(kind: &str, cursor: &str) -> Result<i64, AppError> {
    let invalid = || AppError::validation("after", "invalid cursor");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(raw).map_err(|_| invalid())?;
    let (k, v) = text.split_once(':').ok_or_else(invalid)?;
    if k != kind {
        return Err(invalid());
    }
    v.parse().ok().filter(|v: &i64| *v >= 0).ok_or_else(invalid)
}

/// Whether a connection's nodes select `field`, read through `edges { node }` or
/// through `nodes`: a page's relations are prefetched in one statement however a
/// client reads the page (left to the DataLoader alone, a page of 100 can straddle
/// two of its batch windows).
pub fn node_selects(ctx: &Context<'_>, field: &str) -> bool {
    let page = ctx.look_ahead();
    page.field("edges").field("node").field(field).exists()
        || page.field("nodes").field(field).exists()
}

/// `first`/`after` of a keyset-paginated list field; the total is counted only
/// when the document selects `totalCount` on the field.
pub fn keyset_args(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<KeysetPage, AppError> {
    let count_total = ctx.look_ahead().field("totalCount").exists();
    keyset_page(first, after, count_total)
}

fn keyset_page(
    first: Option<i32>,
    after: Option<&str>,
    count_total: bool,
) -> Result<KeysetPage, AppError> {
    Ok(KeysetPage {
        before_id: after.map(|c| decode("k", c)).transpose()?,
        limit: page_size(first)?,
        count_total,
    })
}

/// `first`/`after` of an offset-paginated list field.
pub fn offset_args(first: Option<i32>, after: Option<&str>) -> Result<OffsetPage, AppError> {
    let offset = match after {
        None => 0,
        Some(cursor) => decode("o", cursor)?
            .checked_add(1)
            .ok_or_else(|| AppError::validation("after", "invalid cursor"))?,
    };
    Ok(OffsetPage {
        offset,
        limit: page_size(first)?,
    })
}

/// A keyset page as a connection; each edge's cursor is its row's id.
pub fn keyset_connection<R, T: ObjectType>(
    page: Paginated<R>,
    id: impl Fn(&R) -> i64,
    wrap: impl Fn(R) -> T,
) -> Page<T> {
    let mut connection = Connection::with_additional_fields(
        page.has_previous,
        page.has_next,
        ConnectionTotals { total: page.total },
    );
    connection.edges.extend(
        page.rows
            .into_iter()
            .map(|row| Edge::new(PageCursor::Keyset(id(&row)), Flat(wrap(row)))),
    );
    Page(connection)
}

/// An offset page as a connection; each edge's cursor is its position.
pub fn offset_connection<R, T: ObjectType>(page: Paginated<R>, wrap: impl Fn(R) -> T) -> Page<T> {
    let mut connection = Connection::with_additional_fields(
        page.has_previous,
        page.has_next,
        ConnectionTotals { total: page.total },
    );
    let offset = page.offset;
    connection.edges.extend(
        page.rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| Edge::new(PageCursor::Offset(offset + i as i64), Flat(wrap(row)))),
    );
    Page(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let offset = |after: Option<&str>| offset_args(None, after).map(|p| p.offset);
        let before = |after: Option<&str>| keyset_page(None, after, false).map(|p| p.before_id);
        assert_eq!(offset(Some(&encode("o", 19))).unwrap(), 20);
        assert_eq!(offset(None).unwrap(), 0);
        assert_eq!(before(Some(&encode("k", 42))).unwrap(), Some(42));
        assert!(before(Some(&encode("o", 42))).is_err());
        assert!(offset(Some("!!")).is_err());
        // A negative or overflowing position is the caller's mistake, not ours.
        assert!(offset(Some(&encode("o", -5))).is_err());
        assert!(offset(Some(&encode("o", i64::MAX))).is_err());
        assert!(before(Some(&encode("k", -1))).is_err());
        assert_eq!(list_complexity(None, 3), 61);
        assert_eq!(list_complexity(Some(-4), 3), 1);
        assert!(page_size(Some(101)).is_err());
        assert!(page_size(Some(-1)).is_err());
    }
}
