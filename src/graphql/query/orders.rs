//! Order reads: a customer's orders and mass orders, one order for its owner or
//! an admin, and the admins' order list and own stock.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::{
    db::{
        enums::{OrderStatus, ServiceType},
        mass_orders::MassOrderRow,
        orders::{OrderFilter, OrderRow},
    },
    error::AppError,
    graphql::{
        check_date, conn, current_user,
        error::GraphqlResult,
        guards::RoleGuard,
        loaders::{OrderId, ServiceId},
        lookup, page_conn,
        pagination::{
            Page, keyset_args, keyset_connection, list_complexity, node_selects, page_size,
        },
        parse_id, parse_opt_id, prefetch,
        types::orders::{MassOrder, Order},
    },
};

#[derive(Default)]
pub struct OrderQuery;

async fn order_page(
    ctx: &Context<'_>,
    filter: OrderFilter,
    first: Option<i32>,
    after: Option<String>,
) -> GraphqlResult<Page<Order>> {
    let page = keyset_args(ctx, first, after.as_deref())?;
    let mut conn = page_conn(ctx, filter.owner_only()).await?;
    let rows = OrderRow::list(&mut conn, &filter, page).await?;
    drop(conn);
    if node_selects(ctx, "service") {
        prefetch(ctx, rows.rows.iter().map(|o| ServiceId(o.service_id))).await?;
    }
    Ok(keyset_connection(rows, |o| o.id, Order))
}

#[Object]
impl OrderQuery {
    /// The caller's orders, newest first.
    #[graphql(
        guard = "RoleGuard::User",
        complexity = "list_complexity(first, child_complexity)"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn my_orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<OrderStatus>,
        service_id: Option<ID>,
        mass_order_id: Option<ID>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        #[graphql(desc = "Text the link contains")] search: Option<String>,
        #[graphql(
            desc = "Orders of services of this type: SUBSCRIPTIONS lists the caller's subscriptions"
        )]
        service_type: Option<ServiceType>,
    ) -> GraphqlResult<Page<Order>> {
        let filter = OrderFilter {
            user_id: Some(current_user(ctx)?.id()),
            status,
            service_id: parse_opt_id("serviceId", service_id.as_ref())?,
            mass_order_id: parse_opt_id("massOrderId", mass_order_id.as_ref())?,
            from: check_date("from", from)?,
            to: check_date("to", to)?,
            link_search: search,
            service_type,
        };
        order_page(ctx, filter, first, after).await
    }

    /// One order, for its owner or an admin.
    #[graphql(guard = "RoleGuard::User")]
    async fn order(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<Order> {
        let user = current_user(ctx)?;
        let id = parse_id("id", &id)?;
        // Through the DataLoader, so aliases batch; someone else's order is NOT_FOUND
        // exactly like a missing one (ids are not probeable).
        lookup(ctx, OrderId(id), "order")
            .await?
            .filter(|order| user.may_see(order.user_id, crate::db::enums::Permission::OrdersRead))
            .map(Order)
            .ok_or_else(|| AppError::NotFound("order").into())
    }

    /// The caller's mass orders, newest first.
    #[graphql(
        guard = "RoleGuard::User",
        complexity = "list_complexity(first, child_complexity)"
    )]
    async fn my_mass_orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GraphqlResult<Page<MassOrder>> {
        let user = current_user(ctx)?;
        let page = keyset_args(ctx, first, after.as_deref())?;
        let mut conn = page_conn(ctx, true).await?;
        let rows = MassOrderRow::list_for_user(&mut conn, user.id(), page).await?;
        Ok(keyset_connection(rows, |m| m.id, MassOrder))
    }

    /// All orders, newest first (admins).
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::OrdersRead)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn admin_orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        user_id: Option<ID>,
        status: Option<OrderStatus>,
        service_id: Option<ID>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        search: Option<String>,
    ) -> GraphqlResult<Page<Order>> {
        let filter = OrderFilter {
            user_id: parse_opt_id("userId", user_id.as_ref())?,
            status,
            service_id: parse_opt_id("serviceId", service_id.as_ref())?,
            mass_order_id: None,
            from: check_date("from", from)?,
            to: check_date("to", to)?,
            link_search: search,
            service_type: None,
        };
        order_page(ctx, filter, first, after).await
    }
}

#[derive(async_graphql::SimpleObject)]
pub struct StockItem {
    pub id: ID,
    pub content: String,
    pub added_at: DateTime<Utc>,
}

#[derive(async_graphql::SimpleObject)]
pub struct StockSummary {
    pub unsold: i64,
    pub sold: i64,
    /// Up to `first` unsold items, oldest first.
    pub unsold_items: Vec<StockItem>,
}

#[derive(Default)]
pub struct StockQuery;

#[Object]
impl StockQuery {
    /// Stock of an own product (admins).
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)",
        complexity = "list_complexity(Some(first), child_complexity)"
    )]
    async fn admin_stock(
        &self,
        ctx: &Context<'_>,
        service_id: ID,
        #[graphql(default = 100)] first: i32,
    ) -> GraphqlResult<StockSummary> {
        let service_id = parse_id("serviceId", &service_id)?;
        let limit = page_size(Some(first))?;
        let mut conn = conn(ctx).await?;
        let (unsold, sold) = crate::domain::stock::counts(&mut conn, service_id).await?;
        let items = crate::domain::stock::unsold_items(
            &mut conn,
            &crate::graphql::state(ctx).secrets,
            service_id,
            limit,
        )
        .await?;
        Ok(StockSummary {
            unsold,
            sold,
            unsold_items: items
                .into_iter()
                .map(|(id, content, added_at)| StockItem {
                    id: id.into(),
                    content,
                    added_at,
                })
                .collect(),
        })
    }
}
