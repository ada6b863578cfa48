//! The one way a list is read a page at a time. A `db/<table>.rs` read builds the
//! filtered, boxed query (`build` may be called twice: once to count, once for the
//! page); [`paginate_keyset`] and [`paginate_offset`] add the total (a keyset
//! page only when asked), the cursor
//! condition, the ordering and the limit. Transports turn their own page arguments
//! into a [`KeysetPage`] or an [`OffsetPage`] (GraphQL: `graphql::pagination`).
//!
//! Two kinds exist: keyset pages on `id`, newest first, for append-heavy lists
//! (orders, ledger, users, deposits), and offset pages for small lists in an order
//! admins set (the catalogue).
//!
//! A keyset page's limit is written into the statement's text
//! ([`LiteralLimit`]), rounded up to one of a few sizes: with the limit a bound
//! parameter PostgreSQL plans the statement again on every run, because its
//! generic plan, costed for a tenth of the table, never beats a custom one.

use diesel::{
    dsl,
    pg::Pg,
    prelude::*,
    query_builder::{AstPass, BoxedSelectStatement, Query, QueryFragment, QueryId},
    query_dsl::methods::{FilterDsl, LimitDsl, OffsetDsl, OrderDsl, SelectDsl},
    sql_types::BigInt,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl, methods::LoadQuery};
use futures_util::{FutureExt, future::BoxFuture};

/// A page of a keyset-paginated list: rows with an id below `before_id` (all when
/// `None`), newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeysetPage {
    pub before_id: Option<i64>,
    pub limit: i64,
    /// Whether the total is wanted: counting a customer's whole history costs more
    /// than reading the page, so it is done only when a client asks for it.
    pub count_total: bool,
}

/// A page of an offset-paginated list: `limit` rows from position `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetPage {
    pub offset: i64,
    pub limit: i64,
}

/// One page of rows and what a client needs to ask for the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paginated<T> {
    pub rows: Vec<T>,
    /// Rows matching the filter across all pages (keyset pages: `None` unless
    /// `count_total` asked for it).
    pub total: Option<i64>,
    pub has_previous: bool,
    pub has_next: bool,
    /// Position of the first row in the whole list (offset pages; 0 for keyset).
    pub offset: i64,
}

impl<T> Paginated<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paginated<U> {
        Paginated {
            rows: self.rows.into_iter().map(f).collect(),
            total: self.total,
            has_previous: self.has_previous,
            has_next: self.has_next,
            offset: self.offset,
        }
    }
}

type Boxed<'a, ST, QS> = BoxedSelectStatement<'a, ST, QS, Pg>;

/// Counts what `build` selects (when `page.count_total`), then reads one keyset
/// page of it ordered by `id` descending. `build` returns the filtered query with its selection, unordered.
///
/// The future is boxed so that callers' futures do not carry the query's types
/// (an async-graphql resolver's `Send` check cannot see through them).
pub fn paginate_keyset<'c, ST, QS, Id, Row>(
    conn: &'c mut AsyncPgConnection,
    build: impl Fn() -> Boxed<'static, ST, QS> + Send + 'c,
    id: Id,
    page: KeysetPage,
) -> BoxFuture<'c, QueryResult<Paginated<Row>>>
where
    QS: Send + 'static,
    ST: Send + 'static,
    Id: Column<SqlType = BigInt> + ExpressionMethods + Copy + Send + 'c,
    Boxed<'static, ST, QS>: FilterDsl<dsl::Lt<Id, i64>, Output = Boxed<'static, ST, QS>>
        + OrderDsl<dsl::Desc<Id>, Output = Boxed<'static, ST, QS>>,
    Boxed<'static, ST, QS>: SelectDsl<dsl::CountStar, Output = Boxed<'static, BigInt, QS>>,
    Boxed<'static, BigInt, QS>: LoadQuery<'static, AsyncPgConnection, i64>,
    LiteralLimit<Boxed<'static, ST, QS>>: LoadQuery<'static, AsyncPgConnection, Row>,
    Row: Send + 'c,
{
    async move {
        let total = match page.count_total {
            true => Some(
                SelectDsl::select(build(), dsl::count_star())
                    .get_result(conn)
                    .await?,
            ),
            false => None,
        };
        let mut query = build();
        if let Some(before) = page.before_id {
            query = FilterDsl::filter(query, id.lt(before));
        }
        let query = LiteralLimit {
            query: OrderDsl::order(query, id.desc()),
            limit: rows_to_read(page.limit),
        };
        let mut rows: Vec<Row> = query.load(conn).await?;
        let has_next = rows.len() as i64 > page.limit;
        rows.truncate(page.limit as usize);
        Ok(Paginated {
            rows,
            total,
            has_previous: page.before_id.is_some(),
            has_next,
            offset: 0,
        })
    }
    .boxed()
}

/// The rows a keyset page reads: its size and one more (which tells whether a
/// next page exists), rounded up to the next of a few limits, so that each
/// connection prepares a page's statement once per limit rather than once per
/// page size a client may ask for. The common sizes (10, 20, 25, 50, 100) read
/// exactly one row more.
pub fn rows_to_read(page_size: i64) -> i64 {
    const LIMITS: [i64; 6] = [6, 11, 21, 26, 51, 101];
    LIMITS
        .into_iter()
        .find(|&limit| limit > page_size)
        .unwrap_or(page_size + 1)
}

/// `query LIMIT n` with `n` in the statement's text, not bound: a statement
/// whose limit is a parameter is planned on every run (see the module's
/// documentation). `n` is an integer the server chose ([`rows_to_read`]), so
/// the text stays safe and the distinct statements few.
#[derive(Debug, Clone)]
pub struct LiteralLimit<Q> {
    pub query: Q,
    pub limit: i64,
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for LiteralLimit<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        out.push_sql(&self.limit.to_string());
        Ok(())
    }
}

impl<Q: Query> Query for LiteralLimit<Q> {
    type SqlType = Q::SqlType;
}

/// No static id: the statement cache keys it by its text, limit included.
impl<Q> QueryId for LiteralLimit<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// Counts what `build` selects, then reads one offset page of it in the order
/// `order` gives. `build` returns the filtered query with its selection, unordered
/// (PostgreSQL refuses to count an ordered selection).
pub fn paginate_offset<'c, ST, QS, Row>(
    conn: &'c mut AsyncPgConnection,
    build: impl Fn() -> Boxed<'static, ST, QS> + Send + 'c,
    order: impl FnOnce(Boxed<'static, ST, QS>) -> Boxed<'static, ST, QS> + Send + 'c,
    page: OffsetPage,
) -> BoxFuture<'c, QueryResult<Paginated<Row>>>
where
    QS: Send + 'static,
    ST: Send + 'static,
    Boxed<'static, ST, QS>: SelectDsl<dsl::CountStar, Output = Boxed<'static, BigInt, QS>>
        + OffsetDsl<Output = Boxed<'static, ST, QS>>
        + LimitDsl<Output = Boxed<'static, ST, QS>>,
    Boxed<'static, BigInt, QS>: LoadQuery<'static, AsyncPgConnection, i64>,
    Boxed<'static, ST, QS>: LoadQuery<'static, AsyncPgConnection, Row>,
    Row: Send + 'c,
{
    async move {
        let total = SelectDsl::select(build(), dsl::count_star())
            .get_result(conn)
            .await?;
        let query = LimitDsl::limit(OffsetDsl::offset(order(build()), page.offset), page.limit);
        let rows: Vec<Row> = query.load(conn).await?;
        let has_next = page.offset + (rows.len() as i64) < total;
        Ok(Paginated {
            rows,
            total: Some(total),
            has_previous: page.offset > 0,
            has_next,
            offset: page.offset,
        })
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    use diesel::{pg::Pg, prelude::*};

    use super::{LiteralLimit, rows_to_read};
    use crate::db::schema::orders;

    #[test]
    fn a_page_reads_one_row_more_than_it_shows_from_a_few_limits() {
        for (size, read) in [(0, 6), (5, 6), (10, 11), (19, 21), (20, 21), (25, 26)] {
            assert_eq!(rows_to_read(size), read, "page of {size}");
        }
        assert_eq!(rows_to_read(50), 51);
        assert_eq!(rows_to_read(100), 101);
        assert_eq!(rows_to_read(150), 151, "past the sizes: exactly one more");
        let distinct: std::collections::BTreeSet<i64> = (0..=100).map(rows_to_read).collect();
        assert_eq!(distinct.len(), 6);
        assert!((0..=150).all(|size| rows_to_read(size) > size));
    }

    #[test]
    fn the_limit_is_written_into_the_statement() {
        let query = LiteralLimit {
            query: orders::table
                .select(orders::id)
                .filter(orders::user_id.eq(7))
                .order(orders::id.desc())
                .into_boxed::<Pg>(),
            limit: rows_to_read(20),
        };
        let sql = diesel::debug_query::<Pg, _>(&query).to_string();
        assert!(
            sql.contains(r#"ORDER BY "orders"."id" DESC LIMIT 21 -- binds: [7]"#),
            "{sql}"
        );
    }
}
