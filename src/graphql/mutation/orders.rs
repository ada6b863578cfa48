//! Order mutations: a customer's order, mass order, cancel and refill requests;
//! an admin's status change and own stock.

use std::io::Read;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Upload};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::{
    db::enums::OrderStatus,
    domain::{
        audit::{Subject, Summary},
        orders::{self, MassOrderOutcome, OrderExtras, OrderInput},
        stock,
    },
    error::AppError,
    graphql::{
        admin_write, conn, current_user,
        error::{GraphqlError, GraphqlResult},
        guards::RoleGuard,
        parse_id, parse_ids,
        scalars::Rupiah,
        state,
        types::orders::{MassOrder, Order, OrderRequest},
    },
};

#[derive(Default)]
pub struct OrderMutation;

/// A new order. Which extra fields are needed depends on the service's `type`.
#[derive(InputObject)]
pub struct PlaceOrderInput {
    pub service_id: ID,
    /// The target: post, profile or video URL on the service's platform.
    pub link: String,
    /// Units to deliver; derived from the lines for comment and custom-list types.
    pub quantity: Option<i64>,
    /// CUSTOM_COMMENTS, COMMENT_REPLIES: one comment per line.
    pub comments: Option<String>,
    /// MENTIONS*, one username per line.
    pub usernames: Option<String>,
    /// MENTIONS_WITH_HASHTAGS, one per line.
    pub hashtags: Option<String>,
    /// MENTIONS_HASHTAG.
    pub hashtag: Option<String>,
    /// MENTIONS_USER_FOLLOWERS, COMMENT_LIKES, COMMENT_REPLIES.
    pub username: Option<String>,
    /// MENTIONS_MEDIA_LIKERS.
    pub media: Option<String>,
    /// POLL.
    pub answer_number: Option<i64>,
    /// INVITES_FROM_GROUPS, one per line.
    pub groups: Option<String>,
    /// Drip-feed: number of runs (the charge covers quantity x runs).
    pub runs: Option<i64>,
    /// Drip-feed: minutes between runs.
    pub interval: Option<i64>,
    /// SUBSCRIPTIONS: the fewest units per new post.
    pub min: Option<i64>,
    /// SUBSCRIPTIONS: the most units per new post (each post is charged at this).
    pub max: Option<i64>,
    /// SUBSCRIPTIONS: how many new posts.
    pub posts: Option<i64>,
    /// SUBSCRIPTIONS: how many existing posts.
    pub old_posts: Option<i64>,
    /// SUBSCRIPTIONS: minutes after a post before delivery (0, 5, 10 ... 600).
    pub delay: Option<i64>,
    /// SUBSCRIPTIONS: the last day, `d/m/Y`.
    pub expiry: Option<String>,
    /// A key of the client's choosing: retrying with the same key returns the first
    /// order instead of charging again.
    pub idempotency_key: Option<String>,
    /// Schedules the order: charged now, sent at this time (at most
    /// `ORDER_SCHEDULE_MAX_DAYS` ahead), cancelable with a full refund until then.
    pub start_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct PlaceMassOrderInput {
    /// One order per line: `service_id|link|quantity`, or CSV with a
    /// `service,link,quantity` header.
    pub text: Option<String>,
    /// The same, as an uploaded file (GraphQL multipart request).
    pub file: Option<Upload>,
    /// true: place nothing when any line is invalid. false: place the valid lines.
    #[graphql(default = true)]
    pub all_or_nothing: bool,
}

#[derive(SimpleObject)]
pub struct MassOrderLineError {
    pub line: i32,
    pub field: String,
    pub message: String,
}

#[derive(SimpleObject)]
pub struct PlaceMassOrderPayload {
    /// Null when nothing was placed.
    pub mass_order: Option<MassOrder>,
    pub placed_count: i32,
    pub total_charge: Rupiah,
    /// Every rejected line, with its number; rejected lines are never charged.
    pub errors: Vec<MassOrderLineError>,
}

#[derive(SimpleObject)]
pub struct CancelOrderPayload {
    pub order: Order,
    /// The request forwarded to the provider, when the order was already running.
    pub request: Option<OrderRequest>,
}

#[derive(InputObject)]
pub struct AdminUpdateOrderStatusInput {
    pub order_id: ID,
    /// CANCELED, FAILED and PARTIAL refund the customer (PARTIAL needs `remains`).
    pub status: OrderStatus,
    pub start_count: Option<i64>,
    pub remains: Option<i64>,
    #[graphql(default)]
    pub note: String,
}

#[derive(SimpleObject)]
pub struct StockUploadPayload {
    pub added: i64,
    /// Lines already in stock, skipped.
    pub duplicates: i64,
    pub unsold: i64,
}

const MAX_MASS_ORDER_BYTES: u64 = 4 * 1024 * 1024;

impl TryFrom<PlaceOrderInput> for OrderInput {
    type Error = GraphqlError;

    fn try_from(input: PlaceOrderInput) -> GraphqlResult<Self> {
        Ok(OrderInput {
            service_id: parse_id("serviceId", &input.service_id)?,
            link: input.link,
            quantity: input.quantity,
            extras: OrderExtras {
                comments: input.comments,
                usernames: input.usernames,
                hashtags: input.hashtags,
                hashtag: input.hashtag,
                username: input.username,
                media: input.media,
                answer_number: input.answer_number,
                groups: input.groups,
                runs: input.runs,
                interval: input.interval,
                min: input.min,
                max: input.max,
                posts: input.posts,
                old_posts: input.old_posts,
                delay: input.delay,
                expiry: input.expiry,
            },
            idempotency_key: input.idempotency_key,
            start_at: input.start_at,
        })
    }
}

impl PlaceMassOrderInput {
    /// The order lines: the text, or the uploaded file read as UTF-8 up to
    /// `MAX_MASS_ORDER_BYTES` (a larger file is refused, never cut short).
    fn lines(&mut self, ctx: &Context<'_>) -> GraphqlResult<String> {
        match (self.text.take(), &self.file) {
            (Some(text), None) => Ok(text),
            (None, Some(file)) => {
                let upload = file
                    .value(ctx)
                    .map_err(|_| AppError::validation("file", "the upload is missing"))?;
                let mut text = String::new();
                // One byte past the limit tells a file that is too large from one
                // that fits exactly.
                upload
                    .into_read()
                    .take(MAX_MASS_ORDER_BYTES + 1)
                    .read_to_string(&mut text)
                    .map_err(|_| AppError::validation("file", "the file must be UTF-8 text"))?;
                if text.len() > MAX_MASS_ORDER_BYTES as usize {
                    return Err(AppError::validation(
                        "file",
                        format!("the file is larger than {MAX_MASS_ORDER_BYTES} bytes"),
                    )
                    .into());
                }
                Ok(text)
            }
            _ => Err(AppError::validation("text", "give either text or file").into()),
        }
    }
}

impl From<MassOrderOutcome> for PlaceMassOrderPayload {
    fn from(outcome: MassOrderOutcome) -> Self {
        PlaceMassOrderPayload {
            placed_count: outcome.placed as i32,
            total_charge: Rupiah(outcome.total_charge),
            mass_order: outcome.mass_order.map(MassOrder),
            errors: outcome
                .errors
                .into_iter()
                .map(|e| MassOrderLineError {
                    line: e.line as i32,
                    field: e.field,
                    message: e.message,
                })
                .collect(),
        }
    }
}

#[Object]
impl OrderMutation {
    /// Places an order and debits its charge, all or nothing.
    #[graphql(guard = "RoleGuard::User")]
    async fn place_order(&self, ctx: &Context<'_>, input: PlaceOrderInput) -> GraphqlResult<Order> {
        let user = current_user(ctx)?;
        let order = OrderInput::try_from(input)?;
        let app = state(ctx);
        crate::domain::accounts::check_may_spend(&user.user, &app.config.accounts)?;
        let mut conn = conn(ctx).await?;
        let own_max_discount = app.config.catalog.own_product_max_discount_bps;
        Ok(Order(
            orders::place_order(
                &mut conn,
                &app.caches,
                &app.placements,
                &user.user,
                order,
                own_max_discount,
                &app.config.orders,
            )
            .await?,
        ))
    }

    /// Places many orders from one text: `service_id|link|quantity` lines or CSV with a header (or an uploaded file). Every line is checked and reported by line number; the total is debited once.
    #[graphql(guard = "RoleGuard::User")]
    async fn place_mass_order(
        &self,
        ctx: &Context<'_>,
        mut input: PlaceMassOrderInput,
    ) -> GraphqlResult<PlaceMassOrderPayload> {
        let user = current_user(ctx)?;
        let text = input.lines(ctx)?;
        let config = &state(ctx).config;
        crate::domain::accounts::check_may_spend(&user.user, &config.accounts)?;
        let own_max = config.catalog.own_product_max_discount_bps;
        let mut conn = conn(ctx).await?;
        let outcome = orders::place_mass_order(
            &mut conn,
            &user.user,
            &text,
            input.all_or_nothing,
            own_max,
            &config.orders,
        )
        .await?;
        Ok(outcome.into())
    }

    /// Cancels a pending order at once (full refund), or asks the provider to cancel
    /// a running one.
    #[graphql(guard = "RoleGuard::User")]
    async fn request_order_cancel(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> GraphqlResult<CancelOrderPayload> {
        let user = current_user(ctx)?;
        let order_id = parse_id("orderId", &order_id)?;
        let mut conn = conn(ctx).await?;
        let (order, request) = orders::request_cancel(&mut conn, user.id(), order_id).await?;
        Ok(CancelOrderPayload {
            order: Order(order),
            request: request.map(OrderRequest),
        })
    }

    /// Asks for a refill of a completed or partial order of a refillable service; the request is forwarded to the provider.
    #[graphql(guard = "RoleGuard::User")]
    async fn request_order_refill(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> GraphqlResult<OrderRequest> {
        let user = current_user(ctx)?;
        let order_id = parse_id("orderId", &order_id)?;
        let mut conn = conn(ctx).await?;
        Ok(OrderRequest(
            orders::request_refill(&mut conn, &state(ctx).config.orders, user.id(), order_id)
                .await?,
        ))
    }

    /// Sets an order's status by hand (admins), for MANUAL services or to correct a provider order. CANCELED, FAILED and PARTIAL refund through the same exactly-once path as the system.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Orders)")]
    async fn admin_update_order_status(
        &self,
        ctx: &Context<'_>,
        input: AdminUpdateOrderStatusInput,
    ) -> GraphqlResult<Order> {
        let order_id = parse_id("orderId", &input.order_id)?;
        let write = admin_write(ctx, "order.set_status")?.because(&input.note);
        let (status, start_count, remains) = (input.status, input.start_count, input.remains);
        let order = write
            .change(
                &mut *conn(ctx).await?,
                Subject::Order,
                order_id,
                async |conn| {
                    let (admin, note) = (write.admin_id, &input.note);
                    orders::admin_set_status(
                        conn,
                        admin,
                        order_id,
                        status,
                        start_count,
                        remains,
                        note,
                    )
                    .await
                },
            )
            .await?;
        Ok(Order(order))
    }

    /// Adds stock to an own product, one item per line.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn admin_upload_stock(
        &self,
        ctx: &Context<'_>,
        service_id: ID,
        items: String,
    ) -> GraphqlResult<StockUploadPayload> {
        let service_id = parse_id("serviceId", &service_id)?;
        let secrets = &state(ctx).secrets;
        let mut conn = conn(ctx).await?;
        let result = admin_write(ctx, "stock.upload")?
            .bulk(&mut conn, Subject::Service.as_str(), async |conn| {
                let result = stock::upload(conn, secrets, service_id, &items).await?;
                // Counts only: stock items are secrets (account credentials).
                let counts = json!({ "added": result.added, "duplicates": result.duplicates });
                Ok((result, Summary::of(service_id, counts)))
            })
            .await?;
        let (unsold, _) = stock::counts(&mut conn, service_id).await?;
        Ok(StockUploadPayload {
            added: result.added,
            duplicates: result.duplicates,
            unsold,
        })
    }

    /// Removes unsold items; returns how many were removed.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Catalog)")]
    async fn admin_remove_stock(
        &self,
        ctx: &Context<'_>,
        service_id: ID,
        item_ids: Vec<ID>,
    ) -> GraphqlResult<i64> {
        let service_id = parse_id("serviceId", &service_id)?;
        let ids = parse_ids("itemIds", &item_ids)?;
        Ok(admin_write(ctx, "stock.remove")?
            .bulk(
                &mut *conn(ctx).await?,
                Subject::Service.as_str(),
                async |conn| {
                    let removed = stock::remove_unsold(conn, service_id, &ids).await?;
                    let summary = json!({ "itemIds": ids, "removed": removed });
                    Ok((removed, Summary::of(service_id, summary)))
                },
            )
            .await?)
    }
}
