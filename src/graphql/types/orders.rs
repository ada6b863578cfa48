//! `Order`, its history, requests, `MassOrder`, the order-status event, and a
//! drip-feed the panel runs (`DripFeed`, `DripFeedRun`).

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::{
    db::{
        drip_feeds::{DripFeedRow, DripFeedRunRow},
        enums::{OrderRequestKind, OrderRequestStatus, OrderStatus},
        mass_orders::MassOrderRow,
        order_events::OrderEventRow,
        order_requests::OrderRequestRow,
        orders::OrderRow,
    },
    domain::{
        orders::refill::{RefillFacts, RefillRefusal, RefillWindow, refill_window},
        stock,
    },
    graphql::{
        conn,
        error::GraphqlResult,
        flat::Flat,
        guards::RoleGuard,
        load, load_optional,
        loaders::{DripFeedOf, HistoryOf, NewerActiveOnLink, RequestsOf, RunOf, RunsOf, UserId},
        scalars::Rupiah,
        state,
        types::{account::User, catalog::Service, subscription::SubscriptionProgress},
        viewer,
    },
};

pub struct Order(pub OrderRow);

#[Object]
impl Order {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn service(&self, ctx: &Context<'_>) -> GraphqlResult<Flat<Service>> {
        // Flat (`flat.rs`), as the order's other objects: they are repeated on
        // every row of a page, and keep `Order`'s fields small.
        Service::load(ctx, self.0.service_id).await.map(Flat)
    }

    async fn link(&self) -> &str {
        &self.0.link
    }

    async fn quantity(&self) -> i64 {
        self.0.quantity
    }

    /// The price per 1000 the order was sold at.
    async fn price_per_1000(&self) -> Rupiah {
        Rupiah(self.0.price_per_1000)
    }

    /// What was debited for the order.
    async fn charge(&self) -> Rupiah {
        Rupiah(self.0.charge)
    }

    /// What was refunded (canceled, failed or partial orders).
    async fn refunded(&self) -> Rupiah {
        Rupiah(self.0.refunded)
    }

    async fn status(&self) -> OrderStatus {
        self.0.status
    }

    /// The count on the target when delivery started, as the provider reports it.
    async fn start_count(&self) -> Option<i64> {
        self.0.start_count
    }

    /// Units not yet delivered.
    async fn remains(&self) -> Option<i64> {
        self.0.remains
    }

    /// The type-specific fields (comments, usernames, runs, interval, ...).
    async fn extra(&self) -> &serde_json::Value {
        &self.0.extra
    }

    async fn mass_order_id(&self) -> Option<ID> {
        self.0.mass_order_id.map(Into::into)
    }

    async fn idempotency_key(&self) -> Option<&str> {
        self.0.idempotency_key.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Every status change, oldest first (batched across a list of orders).
    #[graphql(complexity = 20)]
    async fn history(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<OrderEvent>> {
        let rows = load(ctx, HistoryOf(self.0.id), "order history").await?;
        Ok(rows.into_iter().map(OrderEvent).collect())
    }

    /// When it reached COMPLETED or PARTIAL: the refill period counts from here.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }

    /// When a scheduled order is sent for processing; until then it is PENDING and
    /// can be canceled with a full refund.
    async fn scheduled_at(&self) -> Option<DateTime<Utc>> {
        self.0.scheduled_at
    }

    /// Whether a refill can be asked for now, until when, or why not: what a front
    /// end needs to show or hide the refill button (batched across a list).
    #[graphql(complexity = 10)]
    async fn refill(&self, ctx: &Context<'_>) -> GraphqlResult<RefillAvailability> {
        let order = &self.0;
        let service = Service::load(ctx, order.service_id).await?.0;
        let requests = load(ctx, RequestsOf(order.id), "order requests").await?;
        let rules = &state(ctx).config.orders;
        let mut facts = RefillFacts {
            runs_by_panel: load_optional(ctx, DripFeedOf(order.id), "drip-feed")
                .await?
                .is_some(),
            ..RefillFacts::from_requests(&requests, false)
        };
        let mut window = refill_window(order, &service, rules, &facts, Utc::now());
        // Only an order that passes every other rule needs the newer-order read.
        if window.refusal.is_none() {
            facts.newer_active_order =
                load(ctx, NewerActiveOnLink(order.id), "newer orders").await?;
            window = refill_window(order, &service, rules, &facts, Utc::now());
        }
        Ok(RefillAvailability(window))
    }

    /// The runs of a drip-feed order the panel runs itself (one order per run);
    /// null for other orders.
    async fn drip_feed(&self, ctx: &Context<'_>) -> GraphqlResult<Option<Flat<DripFeed>>> {
        Ok(load_optional(ctx, DripFeedOf(self.0.id), "drip-feed")
            .await?
            .map(|row| Flat(DripFeed(row))))
    }

    /// A subscription's terms and the posts reached so far; null for other orders.
    async fn subscription(&self) -> Option<Flat<SubscriptionProgress>> {
        SubscriptionProgress::of(&self.0).map(Flat)
    }

    /// For a run of a drip-feed order: which order and which run; null otherwise.
    async fn drip_feed_run(&self, ctx: &Context<'_>) -> GraphqlResult<Option<Flat<DripFeedRun>>> {
        Ok(load_optional(ctx, RunOf(self.0.id), "drip-feed run")
            .await?
            .map(|row| Flat(DripFeedRun(row))))
    }

    /// Cancel and refill requests and their outcome (batched across a list).
    #[graphql(complexity = 10)]
    async fn requests(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<OrderRequest>> {
        let rows = load(ctx, RequestsOf(self.0.id), "order requests").await?;
        Ok(rows.into_iter().map(OrderRequest).collect())
    }

    /// What a stock product delivered (e.g. account credentials), one item per entry.
    /// Only the buyer and admins can read it.
    #[graphql(complexity = 10)]
    async fn delivered_items(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<String>> {
        let viewer = viewer(ctx);
        let allowed = viewer
            .require_user()
            .is_ok_and(|u| u.may_see(self.0.user_id, crate::db::enums::Permission::OrdersRead));
        if !allowed {
            return Err(crate::error::AppError::forbidden(
                "only the buyer can read delivered items",
            )
            .into());
        }
        // Boxed: an object's `resolve_field` future is as large as its largest
        // field's, and a statement's future would make all of `Order`'s fields
        // (copied on every row of a page) a kilobyte larger.
        Box::pin(async move {
            let mut conn = conn(ctx).await?;
            Ok(stock::delivered_items(&mut conn, &state(ctx).secrets, self.0.id).await?)
        })
        .await
    }

    /// The customer (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::OrdersRead)")]
    async fn user(&self, ctx: &Context<'_>) -> GraphqlResult<Flat<User>> {
        load(ctx, UserId(self.0.user_id), "user")
            .await
            .map(|row| Flat(User(row)))
    }

    /// The last error a provider reported for this order (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::OrdersRead)")]
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// The provider's service id the order is sent to (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::OrdersRead)")]
    async fn provider_service_id(&self) -> Option<&str> {
        self.0.provider_service_id.as_deref()
    }

    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::OrdersRead)")]
    async fn submit_attempts(&self) -> i32 {
        self.0.submit_attempts
    }

    /// The provider's order id (admins only).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::OrdersRead)")]
    async fn provider_order_id(&self) -> Option<&str> {
        self.0.provider_order_id.as_deref()
    }

    /// What the provider charges for the whole order, in rupiah, as recorded when
    /// it accepted it (admins only; null until then, and for own products).
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::OrdersRead)")]
    async fn provider_cost(&self) -> Option<Rupiah> {
        self.0.provider_cost.map(Rupiah)
    }
}

pub struct OrderEvent(pub OrderEventRow);

/// One status change of an order (or a note without one, such as a request
/// opened): a row of its history, and what the subscriptions push.
#[Object]
impl OrderEvent {
    async fn order_id(&self) -> ID {
        self.0.order_id.into()
    }
    async fn status(&self) -> OrderStatus {
        self.0.status
    }
    async fn start_count(&self) -> Option<i64> {
        self.0.start_count
    }
    async fn remains(&self) -> Option<i64> {
        self.0.remains
    }
    async fn note(&self) -> &str {
        &self.0.note
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The order as it is now (read when the event is delivered).
    async fn order(&self, ctx: &Context<'_>) -> GraphqlResult<Option<Order>> {
        // Boxed, as `Order::delivered_items` is.
        Box::pin(async move {
            let mut conn = conn(ctx).await?;
            Ok(OrderRow::find(&mut conn, self.0.order_id).await?.map(Order))
        })
        .await
    }
}

pub struct OrderRequest(pub OrderRequestRow);

#[Object]
impl OrderRequest {
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    async fn kind(&self) -> OrderRequestKind {
        self.0.kind
    }
    async fn status(&self) -> OrderRequestStatus {
        self.0.status
    }
    async fn note(&self) -> &str {
        &self.0.note
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct MassOrder(pub MassOrderRow);

#[Object]
impl MassOrder {
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Orders placed.
    async fn order_count(&self) -> i32 {
        self.0.order_count
    }
    /// Lines rejected (and not charged).
    async fn rejected_count(&self) -> i32 {
        self.0.rejected_count
    }
    async fn total_charge(&self) -> Rupiah {
        Rupiah(self.0.total_charge)
    }
    async fn all_or_nothing(&self) -> bool {
        self.0.all_or_nothing
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Whether an order can be refilled now (`Order.refill`).
pub struct RefillAvailability(RefillWindow);

#[Object]
impl RefillAvailability {
    /// True when `requestOrderRefill` would be accepted now.
    async fn available(&self) -> bool {
        self.0.refusal.is_none()
    }

    /// The end of the refill period; null when the service has no refill or the
    /// order has not completed.
    async fn available_until(&self) -> Option<DateTime<Utc>> {
        self.0.available_until
    }

    /// During the cooldown after a refill, when the next may be asked for (null
    /// when the period ends first).
    async fn next_available_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_available_at
    }

    /// Why a refill cannot be asked for now; null when it can.
    async fn reason(&self) -> Option<RefillRefusalReason> {
        self.0.refusal.map(Into::into)
    }

    /// The same, in the words `requestOrderRefill` would answer with.
    async fn message(&self) -> Option<String> {
        let refusal = self.0.refusal?;
        Some(refusal.error(&self.0).public().message)
    }
}

// The GraphQL face of `domain::orders::refill::RefillRefusal`.
/// Why a refill cannot be asked for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "RefillRefusal", remote = "RefillRefusal")]
pub enum RefillRefusalReason {
    /// The service has no refill.
    NoRefill,
    /// The order has not completed.
    NotCompleted,
    /// The refill period is over.
    Expired,
    /// A refill of this order is still being worked on.
    AlreadyRequested,
    /// The cooldown after the last refill has not passed.
    Cooldown,
    /// A newer order on the same link is running.
    NewerOrderOnLink,
    /// A drip-feed order the panel runs: each of its runs is refilled on its own.
    RunByRun,
}

pub struct DripFeed(pub DripFeedRow);

/// The runs of a drip-feed order: `runs` orders of `quantityPerRun`, placed
/// `intervalMinutes` apart, each an order of its own.
#[Object]
impl DripFeed {
    async fn runs(&self) -> i32 {
        self.0.runs
    }

    async fn runs_placed(&self) -> i32 {
        self.0.runs_placed
    }

    /// Runs still to be placed (0 once canceled).
    async fn runs_remaining(&self) -> i32 {
        if self.0.stopped_at.is_some() {
            0
        } else {
            self.0.runs - self.0.runs_placed
        }
    }

    async fn quantity_per_run(&self) -> i64 {
        self.0.quantity_per_run
    }

    async fn interval_minutes(&self) -> i32 {
        self.0.interval_minutes
    }

    /// When the next run is placed; null when none is left.
    async fn next_run_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_run_at
    }

    /// When the runs not placed were canceled (and refunded).
    async fn canceled_at(&self) -> Option<DateTime<Utc>> {
        self.0.stopped_at
    }

    /// What the whole drip-feed cost; the order's `charge` is what is left for the
    /// runs not placed, each run carrying its own share.
    async fn total_charge(&self) -> Rupiah {
        Rupiah(self.0.total_charge)
    }

    /// The runs placed so far, in order (batched across a list).
    #[graphql(complexity = 10)]
    async fn orders(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<Order>> {
        let runs = load(ctx, RunsOf(self.0.order_id), "drip-feed runs").await?;
        Ok(runs.into_iter().map(Order).collect())
    }
}

pub struct DripFeedRun(pub DripFeedRunRow);

/// Which drip-feed order a run belongs to.
#[Object]
impl DripFeedRun {
    /// The drip-feed order.
    async fn order_id(&self) -> ID {
        self.0.parent_order_id.into()
    }

    /// 1 for the first run.
    async fn run_number(&self) -> i32 {
        self.0.run_number
    }
}
