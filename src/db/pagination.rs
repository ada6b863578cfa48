//! The one way a list is read a page at a time. A `db/<table>.rs` read builds the
//! filtered, boxed query (`build` may be called twice: once to count, once for the
//! page); [`paginate_keyset`], [`paginate_owned`] and [`paginate_offset`] add the total (a keyset
//! page only when asked), the cursor
//! condition, the ordering and the limit. Transports turn their own page arguments
//! into a [`KeysetPage`] or an [`OffsetPage`] (GraphQL: `graphql::pagination`).
//!
//! Two kinds exist: keyset pages on `id`, newest first, for append-heavy lists
//! (orders, ledger, users, deposits), and offset pages for small lists in an order
//! admins set (the catalogue).
//!
//! One owner's list (a customer's orders, ledger, tickets, deposits, mass orders)
//! is read with [`paginate_owned`], written so that any plan PostgreSQL may pick
//! for it is the owner's index, newest first: the owner is matched as a range
//! (`owner >= $1 AND owner <= $1`, the same rows as `owner = $1`) and the rows
//! are ordered by `owner, id DESC`, the order of every owner's index
//! (`(user_id, id DESC)`). With `owner = $1`, PostgreSQL knows the owner is
//! one value and orders by `id` alone, which the primary key also gives: a
//! generic plan, costed for the average owner, then walks the primary key
//! backwards filtering by owner, and on a panel with few customers reads the
//! whole table for a customer with few rows. Ordered by `owner, id DESC`, only the
//! owner's index gives the order without sorting, so every plan is the short
//! index scan, and the page pool (`db::build_pool`, `PlanCache::Generic`) can
//! keep one generic plan per statement instead of planning each page (a third
//! of PostgreSQL's work on a customer's page).
//!
//! A page's limit stays a bound parameter (the statement's text is the same for
//! every page size, so one cached statement serves them all).

use diesel::{
    dsl,
    pg::Pg,
    prelude::*,
    query_builder::BoxedSelectStatement,
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
        + OrderDsl<dsl::Desc<Id>, Output = Boxed<'static, ST, QS>>
        + LimitDsl<Output = Boxed<'static, ST, QS>>,
    Boxed<'static, ST, QS>: SelectDsl<dsl::CountStar, Output = Boxed<'static, BigInt, QS>>,
    Boxed<'static, BigInt, QS>: LoadQuery<'static, AsyncPgConnection, i64>,
    Boxed<'static, ST, QS>: LoadQuery<'static, AsyncPgConnection, Row>,
    Row: Send + 'c,
{
    keyset_page(
        conn,
        build,
        id,
        move |q| OrderDsl::order(q, id.desc()),
        page,
    )
}

/// [`paginate_keyset`] over one owner's rows: `build` returns the query without
/// the owner, which is added as a range and leads the order (the module's doc
/// says why), so the page is a walk of the `(owner, id)` index whatever the plan.
pub fn paginate_owned<'c, ST, QS, Owner, Id, Row>(
    conn: &'c mut AsyncPgConnection,
    owner: Owner,
    owner_id: i64,
    build: impl Fn() -> Boxed<'static, ST, QS> + Send + 'c,
    id: Id,
    page: KeysetPage,
) -> BoxFuture<'c, QueryResult<Paginated<Row>>>
where
    QS: Send + 'static,
    ST: Send + 'static,
    Owner: Column<SqlType = BigInt> + ExpressionMethods + Copy + Send + 'c,
    Id: Column<SqlType = BigInt> + ExpressionMethods + Copy + Send + 'c,
    Boxed<'static, ST, QS>: FilterDsl<dsl::GtEq<Owner, i64>, Output = Boxed<'static, ST, QS>>
        + FilterDsl<dsl::LtEq<Owner, i64>, Output = Boxed<'static, ST, QS>>
        + FilterDsl<dsl::Lt<Id, i64>, Output = Boxed<'static, ST, QS>>
        + OrderDsl<(dsl::Asc<Owner>, dsl::Desc<Id>), Output = Boxed<'static, ST, QS>>
        + LimitDsl<Output = Boxed<'static, ST, QS>>,
    Boxed<'static, ST, QS>: SelectDsl<dsl::CountStar, Output = Boxed<'static, BigInt, QS>>,
    Boxed<'static, BigInt, QS>: LoadQuery<'static, AsyncPgConnection, i64>,
    Boxed<'static, ST, QS>: LoadQuery<'static, AsyncPgConnection, Row>,
    Row: Send + 'c,
{
    let owned = move || {
        let query = FilterDsl::filter(build(), owner.ge(owner_id));
        FilterDsl::filter(query, owner.le(owner_id))
    };
    let order = move |q| OrderDsl::order(q, (owner.asc(), id.desc()));
    keyset_page(conn, owned, id, order, page)
}

/// The total when asked, then the page: rows below the cursor in `order`, one
/// more than the limit to learn whether a next page exists.
fn keyset_page<'c, ST, QS, Id, Row>(
    conn: &'c mut AsyncPgConnection,
    build: impl Fn() -> Boxed<'static, ST, QS> + Send + 'c,
    id: Id,
    order: impl FnOnce(Boxed<'static, ST, QS>) -> Boxed<'static, ST, QS> + Send + 'c,
    page: KeysetPage,
) -> BoxFuture<'c, QueryResult<Paginated<Row>>>
where
    QS: Send + 'static,
    ST: Send + 'static,
    Id: Column<SqlType = BigInt> + ExpressionMethods + Copy + Send + 'c,
    Boxed<'static, ST, QS>: FilterDsl<dsl::Lt<Id, i64>, Output = Boxed<'static, ST, QS>>
        + LimitDsl<Output = Boxed<'static, ST, QS>>,
    Boxed<'static, ST, QS>: SelectDsl<dsl::CountStar, Output = Boxed<'static, BigInt, QS>>,
    Boxed<'static, BigInt, QS>: LoadQuery<'static, AsyncPgConnection, i64>,
    Boxed<'static, ST, QS>: LoadQuery<'static, AsyncPgConnection, Row>,
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
        let query = LimitDsl::limit(order(query), page.limit + 1);
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
