//! The API v2 actions, each a thin shape over the domain: `add` places through
//! `domain::orders::place_order` (the same validation, charge and ledger row as
//! GraphQL), `cancel` and `refill` open the same requests, `status` reads up to 100
//! orders in one statement (two more when drip-feeds the panel runs are among
//! them: their plans and runs).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::wire::{
    ApiV2Error, IdList, Params, id_list, order_label, refill_label, rupiah, type_label,
};
use crate::{
    app::AppState,
    auth::AuthUser,
    db::{
        PooledConn,
        drip_feeds::{DripFeedRow, DripFeedRunRow},
        order_requests::OrderRequestRow,
        orders::OrderRow,
        service_figures::ServiceFiguresRow,
        services::ServiceRow,
        users::UserRow,
    },
    domain::{
        catalog,
        orders::{self, OrderExtras, OrderInput, refill},
        pricing, upstream,
    },
    error::AppError,
};

/// Runs the request's `action` for `caller` on `conn`.
pub async fn run(
    app: &AppState,
    conn: &mut PooledConn,
    caller: &AuthUser,
    params: &Params,
) -> Result<Value, ApiV2Error> {
    let user_id = caller.id();
    match params.text("action").unwrap_or_default() {
        "services" => services(app, conn, &caller.user).await,
        "add" => add(app, conn, &caller.user, params).await,
        "status" => status(conn, user_id, params).await,
        "refill" => refill(conn, &app.config.orders, user_id, params).await,
        "refill_status" => refill_status(conn, user_id, params).await,
        "cancel" => cancel(conn, user_id, params).await,
        "balance" => balance(conn, user_id).await,
        _ => Err(ApiV2Error::IncorrectRequest),
    }
}

async fn services(
    app: &AppState,
    conn: &mut PooledConn,
    buyer: &UserRow,
) -> Result<Value, ApiV2Error> {
    let (mut rows, categories): (Vec<ServiceRow>, Vec<String>) =
        ServiceRow::active_with_categories(conn)
            .await
            .map_err(AppError::from)?
            .into_iter()
            .unzip();
    // The caller's own prices, after their reseller discount.
    let own_max = app.config.catalog.own_product_max_discount_bps;
    pricing::buyer_prices(conn, &mut rows, buyer.effective_discount_bps(), own_max).await?;
    let ids: Vec<i64> = rows.iter().map(|s| s.id).collect();
    let figures: HashMap<i64, ServiceFiguresRow> = ServiceFiguresRow::for_services(conn, &ids)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|f| (f.service_id, f))
        .collect();
    let rules = &app.config.orders;
    Ok(Value::Array(
        rows.into_iter()
            .zip(categories)
            .map(|(service, category)| {
                // Beyond the common fields: the warranty and what this panel
                // measured (clients ignore fields they do not know).
                let measured = figures.get(&service.id);
                json!({
                    "service": service.id,
                    "name": service.name,
                    "type": type_label(service.service_type),
                    "category": category,
                    "rate": rupiah(service.price_per_1000),
                    "min": service.min_quantity.to_string(),
                    "max": service.max_quantity.to_string(),
                    "refill": service.refill,
                    "cancel": service.cancel,
                    "dripfeed": orders::drip::offers_dripfeed(&service),
                    "desc": service.description,
                    "refill_days": refill::refill_period_days(&service, rules),
                    "start_time_p50": measured.and_then(|f| f.start_p50_seconds),
                    "start_time_p90": measured.and_then(|f| f.start_p90_seconds),
                    "average_time_per_1000": measured.and_then(|f| f.seconds_per_1000),
                    "partial_or_canceled_bps": measured.and_then(|f| f.partial_or_canceled_bps),
                    "refill_requests_bps": measured.and_then(|f| f.refill_requests_bps),
                })
            })
            .collect(),
    ))
}

async fn add(
    app: &AppState,
    conn: &mut PooledConn,
    buyer: &UserRow,
    params: &Params,
) -> Result<Value, ApiV2Error> {
    let service_id = params
        .number("service")
        .map_err(|_| ApiV2Error::IncorrectService)?
        .ok_or(ApiV2Error::IncorrectService)?;
    let service = catalog::listing::service(&app.caches, conn, service_id)
        .await?
        .filter(|s| s.active)
        .ok_or(ApiV2Error::IncorrectService)?;
    let quantity = params.number("quantity")?;
    // The same bounds `place_order` enforces, in the words clients match on.
    if let Some(quantity) = quantity {
        if quantity < service.min_quantity {
            return Err(ApiV2Error::QuantityBelow(service.min_quantity));
        }
        if quantity > service.max_quantity {
            return Err(ApiV2Error::QuantityAbove(service.max_quantity));
        }
    }
    let input = OrderInput {
        service_id,
        link: params.text("link").unwrap_or_default().to_string(),
        quantity,
        extras: OrderExtras {
            comments: params.raw("comments"),
            usernames: params.raw("usernames"),
            hashtags: params.raw("hashtags"),
            hashtag: params.text("hashtag").map(str::to_string),
            username: params.text("username").map(str::to_string),
            media: params.text("media").map(str::to_string),
            answer_number: params.number("answer_number")?,
            groups: params.raw("groups"),
            runs: params.number("runs")?,
            interval: params.number("interval")?,
            min: params.number("min")?,
            max: params.number("max")?,
            posts: params.number("posts")?,
            old_posts: params.number("old_posts")?,
            delay: params.number("delay")?,
            expiry: params.text("expiry").map(str::to_string),
        },
        // The reseller's own retry key: the same `request_id` answers the first order.
        idempotency_key: params.text("request_id").map(str::to_string),
        start_at: start_at(params)?,
    };
    crate::domain::accounts::check_may_spend(buyer, &app.config.accounts)?;
    let order = orders::place_order(
        conn,
        &app.caches,
        &app.placements,
        buyer,
        input,
        app.config.catalog.own_product_max_discount_bps,
        &app.config.orders,
    )
    .await?;
    Ok(json!({ "order": order.id }))
}

/// `start_at`: when to start the order (booster's own field), as Unix seconds or
/// an RFC 3339 time; absent, at once.
fn start_at(params: &Params) -> Result<Option<DateTime<Utc>>, ApiV2Error> {
    let Some(text) = params.text("start_at") else {
        return Ok(None);
    };
    let parsed = match text.parse::<i64>() {
        Ok(seconds) => DateTime::from_timestamp(seconds, 0),
        Err(_) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
    };
    parsed.map(Some).ok_or_else(|| {
        AppError::validation(
            "start_at",
            "start_at must be Unix seconds or an RFC 3339 time",
        )
        .into()
    })
}

/// A drip-feed order the panel runs: its plan and the runs placed so far.
type PanelDripFeed = (DripFeedRow, Vec<OrderRow>);

fn status_of(order: &OrderRow, drip: Option<&PanelDripFeed>) -> Value {
    let Some((feed, runs)) = drip else {
        let mut answer = json!({
            "charge": rupiah(order.charge - order.refunded),
            "start_count": order.start_count.unwrap_or(0).to_string(),
            "status": order_label(order.status),
            "remains": order.remains.unwrap_or(order.quantity).to_string(),
            "currency": "IDR",
        });
        // A subscription also answers its posts and expiry, as panels do (the
        // provider's own child orders are not shown: they would name it).
        if let Some(posts) = upstream::subscription_posts(order) {
            answer["posts"] = json!(posts.to_string());
            answer["expiry"] = order.extra.get("expiry").cloned().unwrap_or(Value::Null);
        }
        return answer;
    };
    // The whole feed: what is left on the order and what each run kept; its
    // remains are the runs' and those of the runs still to be placed.
    let charge =
        order.charge - order.refunded + runs.iter().map(|r| r.charge - r.refunded).sum::<i64>();
    let remains = if order.status.is_final() {
        order.remains.unwrap_or(0)
    } else {
        let to_place = if feed.stopped_at.is_some() {
            0
        } else {
            feed.runs - feed.runs_placed
        };
        runs.iter()
            .map(|r| r.remains.unwrap_or(r.quantity).max(0))
            .sum::<i64>()
            + i64::from(to_place) * feed.quantity_per_run
    };
    json!({
        "charge": rupiah(charge),
        "start_count": runs.first().and_then(|r| r.start_count).unwrap_or(0).to_string(),
        "status": order_label(order.status),
        "remains": remains.to_string(),
        "runs": feed.runs_placed.to_string(),
        "orders": runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        "currency": "IDR",
    })
}

/// The drip-feeds the panel runs among `found`, with their runs: read (two
/// statements) only when a drip-feed order is among them.
async fn panel_drip_feeds(
    conn: &mut PooledConn,
    found: &[&OrderRow],
) -> Result<HashMap<i64, PanelDripFeed>, AppError> {
    let ids: Vec<i64> = found
        .iter()
        .filter(|o| orders::drip::DripPlan::of_extra(&o.extra).is_some())
        .map(|o| o.id)
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut feeds: HashMap<i64, PanelDripFeed> = DripFeedRow::for_orders(conn, &ids)
        .await?
        .into_iter()
        .map(|f| (f.order_id, (f, Vec::new())))
        .collect();
    let ids: Vec<i64> = feeds.keys().copied().collect();
    for (run, order) in DripFeedRunRow::with_orders_of(conn, &ids).await? {
        if let Some((_, runs)) = feeds.get_mut(&run.parent_order_id) {
            runs.push(order);
        }
    }
    Ok(feeds)
}

/// `order` (one) or `orders` (up to 100, answered keyed by each id as sent, in
/// the order sent): one statement either way.
async fn status(conn: &mut PooledConn, user_id: i64, params: &Params) -> Result<Value, ApiV2Error> {
    if let Some(one) = params.text("order") {
        let id = one.parse::<i64>().map_err(|_| ApiV2Error::IncorrectOrder)?;
        let found = OrderRow::find_many_owned(conn, user_id, &[id])
            .await
            .map_err(AppError::from)?;
        let order = found.first().ok_or(ApiV2Error::IncorrectOrder)?;
        let drip = panel_drip_feeds(conn, &[order]).await?;
        return Ok(status_of(order, drip.get(&order.id)));
    }
    let ids = id_list(params.text("orders").ok_or(ApiV2Error::IncorrectRequest)?)?;
    let wanted: Vec<i64> = ids.iter().filter_map(|(_, id)| *id).collect();
    let found: HashMap<i64, OrderRow> = OrderRow::find_many_owned(conn, user_id, &wanted)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|order| (order.id, order))
        .collect();
    let drip = panel_drip_feeds(conn, &found.values().collect::<Vec<_>>()).await?;
    let mut answer = Map::new();
    for (text, id) in ids {
        let value = id.and_then(|id| found.get(&id)).map_or_else(
            || ApiV2Error::IncorrectOrder.as_value(),
            |order| status_of(order, drip.get(&order.id)),
        );
        answer.insert(text, value);
    }
    Ok(Value::Object(answer))
}

/// The order ids of `order` (one, answered flat) or `orders` (many, answered as a
/// list), with which of the two it was.
fn order_ids(params: &Params) -> Result<(IdList, bool), ApiV2Error> {
    if let Some(many) = params.text("orders") {
        return Ok((id_list(many)?, true));
    }
    let one = params.text("order").ok_or(ApiV2Error::IncorrectRequest)?;
    Ok((id_list(one)?.into_iter().take(1).collect(), false))
}

async fn refill(
    conn: &mut PooledConn,
    rules: &crate::config::OrdersConfig,
    user_id: i64,
    params: &Params,
) -> Result<Value, ApiV2Error> {
    let (ids, many) = order_ids(params)?;
    let mut answers = Vec::with_capacity(ids.len());
    for (text, id) in ids {
        let outcome = match id {
            Some(id) => orders::request_refill(conn, rules, user_id, id)
                .await
                .map_err(ApiV2Error::from),
            None => Err(ApiV2Error::IncorrectOrder),
        };
        if !many {
            return outcome.map(|request| json!({ "refill": request.id.to_string() }));
        }
        let order = id.map_or_else(|| json!(text), |id| json!(id));
        answers.push(match outcome {
            Ok(request) => json!({ "order": order, "refill": request.id }),
            Err(error) => json!({ "order": order, "refill": error.as_value() }),
        });
    }
    Ok(Value::Array(answers))
}

async fn refill_status(
    conn: &mut PooledConn,
    user_id: i64,
    params: &Params,
) -> Result<Value, ApiV2Error> {
    let (ids, many) = match (params.text("refills"), params.text("refill")) {
        (Some(many), _) => (id_list(many)?, true),
        (None, Some(one)) => (id_list(one)?.into_iter().take(1).collect(), false),
        (None, None) => return Err(ApiV2Error::IncorrectRequest),
    };
    let wanted: Vec<i64> = ids.iter().filter_map(|(_, id)| *id).collect();
    let found: HashMap<i64, OrderRequestRow> =
        OrderRequestRow::find_refills_owned(conn, user_id, &wanted)
            .await
            .map_err(AppError::from)?
            .into_iter()
            .map(|request| (request.id, request))
            .collect();
    if !many {
        let request = ids
            .first()
            .and_then(|(_, id)| id.and_then(|id| found.get(&id)))
            .ok_or(ApiV2Error::RefillNotFound)?;
        return Ok(json!({ "status": refill_label(request.status) }));
    }
    Ok(Value::Array(
        ids.into_iter()
            .map(|(text, id)| {
                let refill = id.map_or_else(|| json!(text), |id| json!(id));
                match id.and_then(|id| found.get(&id)) {
                    Some(request) => {
                        json!({ "refill": refill, "status": refill_label(request.status) })
                    }
                    None => {
                        json!({ "refill": refill, "status": ApiV2Error::RefillNotFound.as_value() })
                    }
                }
            })
            .collect(),
    ))
}

/// `orders` (also `order`), answered as a list either way, as panels do.
async fn cancel(conn: &mut PooledConn, user_id: i64, params: &Params) -> Result<Value, ApiV2Error> {
    let (ids, _) = order_ids(params)?;
    let mut answers = Vec::with_capacity(ids.len());
    for (text, id) in ids {
        let outcome = match id {
            Some(id) => orders::request_cancel(conn, user_id, id)
                .await
                .map_err(ApiV2Error::from),
            None => Err(ApiV2Error::IncorrectOrder),
        };
        let order = id.map_or_else(|| json!(text), |id| json!(id));
        answers.push(match outcome {
            Ok(_) => json!({ "order": order, "cancel": 1 }),
            Err(error) => json!({ "order": order, "cancel": error.as_value() }),
        });
    }
    Ok(Value::Array(answers))
}

async fn balance(conn: &mut PooledConn, user_id: i64) -> Result<Value, ApiV2Error> {
    let user = UserRow::find(conn, user_id)
        .await
        .map_err(AppError::from)?
        .ok_or(ApiV2Error::InvalidKey)?;
    Ok(json!({ "balance": rupiah(user.balance), "currency": "IDR" }))
}
