//! Orders: validation per service type, placing (single and mass), own-stock
//! delivery, status changes with their history and events, customer cancel and
//! refill requests, and the exactly-once refund.

use std::collections::HashMap;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Map, Value, json};

use crate::{
    db::{
        enums::{
            Fulfillment, LedgerKind, OrderRequestKind, OrderRequestStatus, OrderStatus, Platform,
            ServiceType,
        },
        orders::{MassOrderRow, NewOrder, NewOrderEvent, OrderEventRow, OrderRequestRow, OrderRow},
        schema::{mass_orders, order_events, order_requests, orders},
        services::ServiceRow,
    },
    domain::{
        pricing, stock,
        wallet::{self, LedgerRef},
    },
    error::{AppError, AppResult, is_unique_violation},
    events::{self, OrderEvent},
};

pub const MAX_MASS_ORDER_LINES: usize = 20_000;
const MAX_LINK: usize = 2048;
const MAX_LIST_LINES: usize = 10_000;

/// The type-specific fields of an order (API v2 names in `extra`).
#[derive(Debug, Default, Clone)]
pub struct OrderExtras {
    pub comments: Option<String>,
    pub usernames: Option<String>,
    pub hashtags: Option<String>,
    pub hashtag: Option<String>,
    pub username: Option<String>,
    pub media: Option<String>,
    pub answer_number: Option<i64>,
    pub groups: Option<String>,
    pub runs: Option<i64>,
    pub interval: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct OrderInput {
    pub service_id: i64,
    pub link: String,
    pub quantity: Option<i64>,
    pub extras: OrderExtras,
    pub idempotency_key: Option<String>,
}

/// An order that passed validation, with its price fixed.
#[derive(Debug, Clone)]
pub struct PreparedOrder {
    pub service_id: i64,
    pub link: String,
    pub quantity: i64,
    pub price_per_1000: i64,
    pub charge: i64,
    pub extra: Value,
    pub fulfillment: Fulfillment,
    pub provider_id: Option<i64>,
    pub provider_service_id: Option<String>,
}

fn non_empty_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

fn required_text(field: &str, value: &Option<String>) -> AppResult<String> {
    let value = value.as_deref().map(str::trim).unwrap_or("");
    if value.is_empty() {
        return Err(AppError::validation(
            field,
            format!("{field} is required for this service"),
        ));
    }
    if value.len() > 100_000 {
        return Err(AppError::validation(field, format!("{field} is too long")));
    }
    Ok(value.to_string())
}

fn required_lines(field: &str, value: &Option<String>) -> AppResult<Vec<String>> {
    let text = required_text(field, value)?;
    let lines: Vec<String> = non_empty_lines(&text)
        .into_iter()
        .map(str::to_string)
        .collect();
    if lines.len() > MAX_LIST_LINES {
        return Err(AppError::validation(
            field,
            format!("at most {MAX_LIST_LINES} lines"),
        ));
    }
    Ok(lines)
}

/// Hosts each platform's links live on (after dropping `www.`, `m.`, `mobile.`).
fn platform_hosts(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Twitter => &["twitter.com", "x.com"],
        Platform::Instagram => &["instagram.com", "instagr.am"],
        Platform::Tiktok => &["tiktok.com", "vm.tiktok.com", "vt.tiktok.com"],
        Platform::Youtube => &["youtube.com", "youtu.be", "music.youtube.com"],
        Platform::Facebook => &["facebook.com", "fb.com", "fb.watch"],
        Platform::Telegram => &["t.me", "telegram.me", "telegram.dog"],
        Platform::Spotify => &["open.spotify.com", "spotify.com", "spotify.link"],
        Platform::Other => &[],
    }
}

/// Normalises and checks a link for the service's platform.
pub fn check_link(platform: Platform, link: &str) -> AppResult<String> {
    let link = link.trim();
    if link.is_empty() {
        return Err(AppError::validation("link", "link is required"));
    }
    if link.len() > MAX_LINK || link.chars().any(char::is_whitespace) {
        return Err(AppError::validation("link", "link must be a single URL"));
    }
    let with_scheme = if link.contains("://") {
        link.to_string()
    } else {
        format!("https://{link}")
    };
    let url = url::Url::parse(&with_scheme)
        .map_err(|_| AppError::validation("link", "link is not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AppError::validation("link", "link must be http(s)"));
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let host = ["www.", "m.", "mobile."]
        .iter()
        .fold(host.as_str(), |h, p| h.strip_prefix(p).unwrap_or(h))
        .to_string();
    let hosts = platform_hosts(platform);
    if !hosts.is_empty() && !hosts.contains(&host.as_str()) {
        return Err(AppError::validation(
            "link",
            format!(
                "a {platform} service needs a link on {}",
                hosts.join(" or ")
            ),
        ));
    }
    if host.is_empty() || !host.contains('.') {
        return Err(AppError::validation("link", "link needs a host name"));
    }
    Ok(with_scheme)
}

/// Validates an order against its service and fixes its price. Pure: reads nothing.
pub fn prepare(service: &ServiceRow, input: &OrderInput) -> AppResult<PreparedOrder> {
    if !service.active {
        return Err(AppError::validation(
            "serviceId",
            "this service is not available",
        ));
    }
    let link = check_link(service.platform, &input.link)?;
    let extras = &input.extras;
    let mut extra = Map::new();
    let quantity_needed = || {
        input
            .quantity
            .ok_or_else(|| AppError::validation("quantity", "quantity is required"))
    };
    use ServiceType as T;
    let mut quantity = match service.service_type {
        T::Default => quantity_needed()?,
        T::Package => input.quantity.unwrap_or(1),
        T::CustomComments | T::CustomCommentsPackage => {
            let comments = required_lines("comments", &extras.comments)?;
            let count = comments.len() as i64;
            if input.quantity.is_some_and(|q| q != count) {
                return Err(AppError::validation(
                    "quantity",
                    "quantity must equal the number of comments (one per line)",
                ));
            }
            extra.insert("comments".into(), json!(comments.join("\n")));
            if service.service_type == T::CustomCommentsPackage {
                1
            } else {
                count
            }
        }
        T::Mentions | T::MentionsWithHashtags => {
            extra.insert(
                "usernames".into(),
                json!(required_lines("usernames", &extras.usernames)?.join("\n")),
            );
            if service.service_type == T::MentionsWithHashtags {
                extra.insert(
                    "hashtags".into(),
                    json!(required_lines("hashtags", &extras.hashtags)?.join("\n")),
                );
            }
            quantity_needed()?
        }
        T::MentionsCustomList => {
            let usernames = required_lines("usernames", &extras.usernames)?;
            let count = usernames.len() as i64;
            extra.insert("usernames".into(), json!(usernames.join("\n")));
            count
        }
        T::MentionsHashtag => {
            extra.insert(
                "hashtag".into(),
                json!(required_text("hashtag", &extras.hashtag)?),
            );
            quantity_needed()?
        }
        T::MentionsUserFollowers | T::CommentLikes => {
            extra.insert(
                "username".into(),
                json!(required_text("username", &extras.username)?),
            );
            quantity_needed()?
        }
        T::MentionsMediaLikers => {
            extra.insert(
                "media".into(),
                json!(required_text("media", &extras.media)?),
            );
            quantity_needed()?
        }
        T::CommentReplies => {
            extra.insert(
                "username".into(),
                json!(required_text("username", &extras.username)?),
            );
            let comments = required_lines("comments", &extras.comments)?;
            let count = comments.len() as i64;
            extra.insert("comments".into(), json!(comments.join("\n")));
            count
        }
        T::Poll => {
            let answer = extras.answer_number.ok_or_else(|| {
                AppError::validation("answerNumber", "answerNumber is required for a poll")
            })?;
            if answer < 1 {
                return Err(AppError::validation(
                    "answerNumber",
                    "answerNumber starts at 1",
                ));
            }
            extra.insert("answer_number".into(), json!(answer));
            quantity_needed()?
        }
        T::InvitesFromGroups => {
            extra.insert(
                "groups".into(),
                json!(required_lines("groups", &extras.groups)?.join("\n")),
            );
            quantity_needed()?
        }
        T::Subscriptions => {
            return Err(AppError::validation(
                "serviceId",
                "subscription services are ordered per post through the provider panel and are not sold here",
            ));
        }
    };
    if quantity < service.min_quantity || quantity > service.max_quantity {
        return Err(AppError::validation(
            "quantity",
            format!(
                "quantity must be between {} and {}",
                service.min_quantity, service.max_quantity
            ),
        ));
    }
    if quantity % service.quantity_step != 0 {
        return Err(AppError::validation(
            "quantity",
            format!("quantity must be a multiple of {}", service.quantity_step),
        ));
    }
    match (extras.runs, extras.interval) {
        (None, None) => {}
        (Some(runs), Some(interval)) => {
            if !service.dripfeed {
                return Err(AppError::validation(
                    "runs",
                    "this service does not offer drip-feed",
                ));
            }
            if !(2..=1000).contains(&runs) {
                return Err(AppError::validation(
                    "runs",
                    "runs must be between 2 and 1000",
                ));
            }
            if !(1..=10_080).contains(&interval) {
                return Err(AppError::validation(
                    "interval",
                    "interval must be 1 to 10080 minutes",
                ));
            }
            extra.insert("runs".into(), json!(runs));
            extra.insert("interval".into(), json!(interval));
            extra.insert("quantity_per_run".into(), json!(quantity));
            quantity = quantity
                .checked_mul(runs)
                .ok_or_else(|| AppError::validation("runs", "order is too large"))?;
        }
        (Some(_), None) => {
            return Err(AppError::validation(
                "interval",
                "drip-feed needs both runs and interval",
            ));
        }
        (None, Some(_)) => {
            return Err(AppError::validation(
                "runs",
                "drip-feed needs both runs and interval",
            ));
        }
    }
    let charge = pricing::order_charge(service.price_per_1000, quantity)?;
    Ok(PreparedOrder {
        service_id: service.id,
        link,
        quantity,
        price_per_1000: service.price_per_1000,
        charge,
        extra: Value::Object(extra),
        fulfillment: service.fulfillment,
        provider_id: service.provider_id,
        provider_service_id: service.provider_service_id.clone(),
    })
}

fn check_idempotency_key(key: &Option<String>) -> AppResult<Option<String>> {
    match key.as_deref().map(str::trim) {
        None => Ok(None),
        Some(k) if k.is_empty() || k.len() > 100 => Err(AppError::validation(
            "idempotencyKey",
            "idempotencyKey must be 1 to 100 characters",
        )),
        Some(k) => Ok(Some(k.to_string())),
    }
}

async fn find_by_idempotency_key(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    key: &str,
) -> AppResult<Option<OrderRow>> {
    Ok(orders::table
        .filter(orders::user_id.eq(user_id))
        .filter(orders::idempotency_key.eq(key))
        .select(OrderRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// A retried request with the same key must be the same order.
fn same_request(order: &OrderRow, prepared: &PreparedOrder) -> AppResult<OrderRow> {
    if order.service_id != prepared.service_id
        || order.link != prepared.link
        || order.quantity != prepared.quantity
    {
        return Err(AppError::conflict(
            "this idempotencyKey was used for a different order",
        ));
    }
    Ok(order.clone())
}

fn event_of(order: &OrderRow, row: &OrderEventRow) -> OrderEvent {
    OrderEvent {
        event_id: row.id,
        order_id: order.id,
        user_id: order.user_id,
        status: row.status,
        start_count: row.start_count,
        remains: row.remains,
        note: row.note.clone(),
        at: row.created_at,
    }
}

/// The order, locked `FOR UPDATE` until the caller's transaction ends.
pub async fn lock_order(conn: &mut AsyncPgConnection, order_id: i64) -> AppResult<OrderRow> {
    OrderRow::find_for_update(conn, order_id)
        .await?
        .ok_or(AppError::NotFound("order"))
}

/// Writes a status change: the order row, its history row and the event, in the
/// caller's transaction.
pub async fn record_status(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    status: OrderStatus,
    start_count: Option<i64>,
    remains: Option<i64>,
    note: &str,
) -> AppResult<(OrderRow, OrderEvent)> {
    let unchanged = status == order.status
        && start_count.is_none_or(|c| Some(c) == order.start_count)
        && remains.is_none_or(|r| Some(r) == order.remains);
    // A history note without a change (e.g. the first PENDING row) skips the UPDATE.
    let updated: OrderRow = if unchanged {
        order.clone()
    } else {
        diesel::update(orders::table.find(order.id))
            .set((
                orders::status.eq(status),
                orders::start_count.eq(start_count.or(order.start_count)),
                orders::remains.eq(remains.or(order.remains)),
            ))
            .returning(OrderRow::as_returning())
            .get_result(conn)
            .await?
    };
    let row: OrderEventRow = diesel::insert_into(order_events::table)
        .values(NewOrderEvent {
            order_id: order.id,
            status,
            start_count: updated.start_count,
            remains: updated.remains,
            note: note.to_string(),
        })
        .returning(OrderEventRow::as_returning())
        .get_result(conn)
        .await?;
    let event = event_of(&updated, &row);
    events::publish(conn, std::slice::from_ref(&event)).await?;
    if status == OrderStatus::Completed && order.status != OrderStatus::Completed {
        record_completion_time(conn, &updated, row.created_at).await?;
    }
    Ok((updated, event))
}

/// Folds one completion into the service's "average completion time" shown in the
/// catalogue: an exponential moving average (weight 1/10), so it follows a
/// provider that speeds up or slows down without keeping every sample.
async fn record_completion_time(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    completed_at: chrono::DateTime<Utc>,
) -> AppResult<()> {
    let seconds = (completed_at - order.created_at).num_seconds().max(0);
    diesel::sql_query(
        "UPDATE services SET average_completion_seconds = \
         CASE WHEN average_completion_seconds IS NULL THEN $1 \
         ELSE (average_completion_seconds * 9 + $1) / 10 END WHERE id = $2",
    )
    .bind::<diesel::sql_types::BigInt, _>(seconds)
    .bind::<diesel::sql_types::BigInt, _>(order.service_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Places one order: validates everything first, then in one transaction inserts
/// the order, debits the charge, writes the first history row and publishes the
/// event. Stock services take their items and complete at once.
pub async fn place_order(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    input: OrderInput,
) -> AppResult<OrderRow> {
    let idempotency_key = check_idempotency_key(&input.idempotency_key)?;
    let service = ServiceRow::find(conn, input.service_id)
        .await?
        .ok_or_else(|| AppError::validation("serviceId", "no such service"))?;
    let prepared = prepare(&service, &input)?;
    if let Some(key) = &idempotency_key
        && let Some(existing) = find_by_idempotency_key(conn, user_id, key).await?
    {
        return same_request(&existing, &prepared);
    }
    let result = conn
        .transaction(async |conn| {
            insert_paid_order(conn, user_id, &prepared, idempotency_key.clone()).await
        })
        .await;
    match result {
        // A concurrent retry with the same key won the race: answer with its order.
        Err(AppError::Conflict(_)) if idempotency_key.is_some() => {
            let key = idempotency_key.as_deref().unwrap_or_default();
            let existing = find_by_idempotency_key(conn, user_id, key)
                .await?
                .ok_or_else(|| AppError::conflict("duplicate order"))?;
            same_request(&existing, &prepared)
        }
        other => other,
    }
}

async fn insert_paid_order(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    prepared: &PreparedOrder,
    idempotency_key: Option<String>,
) -> AppResult<OrderRow> {
    let order: OrderRow = diesel::insert_into(orders::table)
        .values(NewOrder {
            user_id,
            service_id: prepared.service_id,
            mass_order_id: None,
            link: prepared.link.clone(),
            quantity: prepared.quantity,
            price_per_1000: prepared.price_per_1000,
            charge: prepared.charge,
            status: OrderStatus::Pending,
            extra: prepared.extra.clone(),
            remains: Some(prepared.quantity),
            provider_id: prepared.provider_id,
            provider_service_id: prepared.provider_service_id.clone(),
            idempotency_key,
        })
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e, "orders_user_id_idempotency_key_key") {
                AppError::conflict("an order with this idempotencyKey exists")
            } else {
                e.into()
            }
        })?;
    if order.charge > 0 {
        let reference = LedgerRef {
            order_id: Some(order.id),
            ..Default::default()
        };
        wallet::debit(
            conn,
            user_id,
            order.charge,
            LedgerKind::OrderCharge,
            &reference,
        )
        .await?;
    }
    if prepared.fulfillment == Fulfillment::Stock {
        stock::take(conn, prepared.service_id, order.id, order.quantity).await?;
        let (order, _) = record_status(
            conn,
            &order,
            OrderStatus::Completed,
            None,
            Some(0),
            "delivered from stock",
        )
        .await?;
        return Ok(order);
    }
    let (order, _) = record_status(
        conn,
        &order,
        OrderStatus::Pending,
        None,
        None,
        "order placed",
    )
    .await?;
    Ok(order)
}

// ---------------------------------------------------------------- mass orders

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug)]
pub struct MassOrderOutcome {
    pub mass_order: Option<MassOrderRow>,
    pub placed: usize,
    pub total_charge: i64,
    pub errors: Vec<LineError>,
}

#[derive(Debug)]
struct RawLine {
    line: usize,
    service: String,
    link: String,
    quantity: String,
}

/// Parses `service_id|link|quantity` lines, or CSV with a header naming `service`,
/// `link` and `quantity` columns.
fn parse_mass_text(text: &str) -> Result<Vec<RawLine>, Vec<LineError>> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let lower = first.to_ascii_lowercase();
    if !first.contains('|') && lower.contains("service") && lower.contains(',') {
        return parse_csv(text);
    }
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        let parts: Vec<&str> = trimmed.split('|').map(str::trim).collect();
        if parts.len() != 3 {
            errors.push(LineError {
                line: index + 1,
                field: "line".into(),
                message: "expected service_id|link|quantity".into(),
            });
            continue;
        }
        lines.push(RawLine {
            line: index + 1,
            service: parts[0].into(),
            link: parts[1].into(),
            quantity: parts[2].into(),
        });
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(errors)
    }
}

fn parse_csv(text: &str) -> Result<Vec<RawLine>, Vec<LineError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            vec![LineError {
                line: 1,
                field: "line".into(),
                message: format!("unreadable CSV header: {e}"),
            }]
        })?
        .clone();
    let column = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&h.to_ascii_lowercase().as_str()))
    };
    let (Some(s), Some(l), Some(q)) = (
        column(&["service", "service_id", "serviceid"]),
        column(&["link", "target", "url"]),
        column(&["quantity", "qty", "amount"]),
    ) else {
        return Err(vec![LineError {
            line: 1,
            field: "line".into(),
            message: "the CSV header needs service, link and quantity columns".into(),
        }]);
    };
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                if record.iter().all(|f| f.is_empty()) {
                    continue;
                }
                let get = |i: usize| record.get(i).unwrap_or("").to_string();
                lines.push(RawLine {
                    line,
                    service: get(s),
                    link: get(l),
                    quantity: get(q),
                });
            }
            Err(e) => errors.push(LineError {
                line: e.position().map_or(0, |p| p.line() as usize),
                field: "line".into(),
                message: format!("unreadable CSV row: {e}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(errors)
    }
}

/// Places many orders from one text. Every line is validated first and reported by
/// line number; `all_or_nothing` places nothing when any line is bad, otherwise the
/// valid lines are placed. The total is debited once, under one MassOrder row.
pub async fn place_mass_order(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    text: &str,
    all_or_nothing: bool,
) -> AppResult<MassOrderOutcome> {
    let (lines, mut errors) = match parse_mass_text(text) {
        Ok(lines) => (lines, Vec::new()),
        Err(errors) => {
            // Structural errors: still validate what parsed, so the report is complete.
            let lines = parse_mass_text_lenient(text);
            (lines, errors)
        }
    };
    if lines.is_empty() && errors.is_empty() {
        return Err(AppError::validation(
            "text",
            "no orders: one order per line, service_id|link|quantity",
        ));
    }
    if lines.len() + errors.len() > MAX_MASS_ORDER_LINES {
        return Err(AppError::validation(
            "text",
            format!("at most {MAX_MASS_ORDER_LINES} lines per mass order"),
        ));
    }
    let ids: Vec<i64> = lines
        .iter()
        .filter_map(|l| l.service.parse().ok())
        .collect();
    let services: HashMap<i64, ServiceRow> = ServiceRow::load_many(conn, &ids)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let mut prepared = Vec::with_capacity(lines.len());
    for raw in &lines {
        let fail = |field: &str, message: String| LineError {
            line: raw.line,
            field: field.into(),
            message,
        };
        let Some(service) = raw
            .service
            .parse::<i64>()
            .ok()
            .and_then(|id| services.get(&id))
        else {
            errors.push(fail("serviceId", format!("no service {:?}", raw.service)));
            continue;
        };
        let Ok(quantity) = raw.quantity.parse::<i64>() else {
            errors.push(fail(
                "quantity",
                format!("quantity {:?} is not a whole number", raw.quantity),
            ));
            continue;
        };
        if !matches!(
            service.service_type,
            ServiceType::Default | ServiceType::Package
        ) {
            errors.push(fail("serviceId", "this service needs extra fields (comments, usernames, ...): order it with placeOrder".into()));
            continue;
        }
        if service.fulfillment == Fulfillment::Stock {
            errors.push(fail(
                "serviceId",
                "stock products are bought with placeOrder".into(),
            ));
            continue;
        }
        let input = OrderInput {
            service_id: service.id,
            link: raw.link.clone(),
            quantity: Some(quantity),
            extras: OrderExtras::default(),
            idempotency_key: None,
        };
        match prepare(service, &input) {
            Ok(p) => prepared.push(p),
            Err(AppError::Validation { field, message }) => errors.push(fail(&field, message)),
            Err(other) => return Err(other),
        }
    }
    errors.sort_by_key(|e| e.line);
    let total_charge = prepared
        .iter()
        .try_fold(0i64, |sum, p| sum.checked_add(p.charge));
    let total_charge = total_charge
        .ok_or_else(|| AppError::validation("text", "mass order total is too large"))?;
    if prepared.is_empty() || (all_or_nothing && !errors.is_empty()) {
        return Ok(MassOrderOutcome {
            mass_order: None,
            placed: 0,
            total_charge: 0,
            errors,
        });
    }
    let rejected = errors.len() as i32;
    let mass_order = conn
        .transaction(async |conn| {
            let mass_order: MassOrderRow = diesel::insert_into(mass_orders::table)
                .values((
                    mass_orders::user_id.eq(user_id),
                    mass_orders::order_count.eq(prepared.len() as i32),
                    mass_orders::rejected_count.eq(rejected),
                    mass_orders::total_charge.eq(total_charge),
                    mass_orders::all_or_nothing.eq(all_or_nothing),
                ))
                .returning(MassOrderRow::as_returning())
                .get_result(conn)
                .await?;
            if total_charge > 0 {
                let reference = LedgerRef {
                    mass_order_id: Some(mass_order.id),
                    ..Default::default()
                };
                wallet::debit(
                    conn,
                    user_id,
                    total_charge,
                    LedgerKind::OrderCharge,
                    &reference,
                )
                .await?;
            }
            let rows: Vec<NewOrder> = prepared
                .iter()
                .map(|p| NewOrder {
                    user_id,
                    service_id: p.service_id,
                    mass_order_id: Some(mass_order.id),
                    link: p.link.clone(),
                    quantity: p.quantity,
                    price_per_1000: p.price_per_1000,
                    charge: p.charge,
                    status: OrderStatus::Pending,
                    extra: p.extra.clone(),
                    remains: Some(p.quantity),
                    provider_id: p.provider_id,
                    provider_service_id: p.provider_service_id.clone(),
                    idempotency_key: None,
                })
                .collect();
            let mut placed: Vec<OrderRow> = Vec::with_capacity(rows.len());
            // Bind parameters are limited to 65,535 per statement.
            for chunk in rows.chunks(4000) {
                placed.extend(
                    diesel::insert_into(orders::table)
                        .values(chunk)
                        .returning(OrderRow::as_returning())
                        .get_results::<OrderRow>(conn)
                        .await?,
                );
            }
            let history: Vec<NewOrderEvent> = placed
                .iter()
                .map(|o| NewOrderEvent {
                    order_id: o.id,
                    status: OrderStatus::Pending,
                    start_count: None,
                    remains: o.remains,
                    note: format!("placed in mass order {}", mass_order.id),
                })
                .collect();
            let mut event_rows: Vec<OrderEventRow> = Vec::with_capacity(history.len());
            for chunk in history.chunks(10_000) {
                event_rows.extend(
                    diesel::insert_into(order_events::table)
                        .values(chunk)
                        .returning(OrderEventRow::as_returning())
                        .get_results::<OrderEventRow>(conn)
                        .await?,
                );
            }
            let events: Vec<OrderEvent> = placed
                .iter()
                .zip(&event_rows)
                .map(|(o, r)| event_of(o, r))
                .collect();
            events::publish(conn, &events).await?;
            AppResult::Ok(mass_order)
        })
        .await?;
    Ok(MassOrderOutcome {
        placed: mass_order.order_count as usize,
        mass_order: Some(mass_order),
        total_charge,
        errors,
    })
}

fn parse_mass_text_lenient(text: &str) -> Vec<RawLine> {
    text.lines()
        .enumerate()
        .filter_map(|(index, raw)| {
            let parts: Vec<&str> = raw.trim().split('|').map(str::trim).collect();
            (parts.len() == 3).then(|| RawLine {
                line: index + 1,
                service: parts[0].into(),
                link: parts[1].into(),
                quantity: parts[2].into(),
            })
        })
        .collect()
}

// ---------------------------------------------------------------- refunds and status

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Nothing delivered: full refund.
    Canceled,
    /// Refused or unrecoverable: full refund.
    Failed,
    /// `remains` units were not delivered: refund `charge * remains / quantity`, rounded down.
    Partial { remains: i64 },
}

/// The refund an outcome is owed.
pub fn refund_amount(order: &OrderRow, settlement: Settlement) -> i64 {
    match settlement {
        Settlement::Canceled | Settlement::Failed => order.charge,
        Settlement::Partial { remains } => {
            let remains = remains.clamp(0, order.quantity);
            (i128::from(order.charge) * i128::from(remains) / i128::from(order.quantity)) as i64
        }
    }
}

/// Moves an order to CANCELED, FAILED or PARTIAL and refunds what it is owed, exactly
/// once whoever calls it and however often: an order already settled is returned
/// unchanged. The order row is locked, and the ledger's unique index backs it up.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    order_id: i64,
    settlement: Settlement,
    note: &str,
    actor_id: Option<i64>,
) -> AppResult<OrderRow> {
    conn.transaction(async |conn| {
        let order = lock_order(conn, order_id).await?;
        if order.status.is_final() {
            return Ok(order);
        }
        if let Settlement::Partial { remains } = settlement
            && (remains <= 0 || remains >= order.quantity)
        {
            return Err(AppError::validation(
                "remains",
                "a partial order has remains between 1 and quantity - 1",
            ));
        }
        let amount = refund_amount(&order, settlement);
        if amount > 0 {
            let reference = LedgerRef {
                order_id: Some(order.id),
                actor_id,
                note: note.to_string(),
                ..Default::default()
            };
            wallet::credit(conn, order.user_id, amount, LedgerKind::Refund, &reference).await?;
            diesel::update(orders::table.find(order.id))
                .set(orders::refunded.eq(amount))
                .execute(conn)
                .await?;
        }
        let (status, remains) = match settlement {
            Settlement::Canceled => (OrderStatus::Canceled, order.quantity),
            Settlement::Failed => (OrderStatus::Failed, order.quantity),
            Settlement::Partial { remains } => (OrderStatus::Partial, remains),
        };
        let note = if amount > 0 {
            format!("{note} (refunded {amount} rupiah)")
        } else {
            note.to_string()
        };
        let (order, _) = record_status(conn, &order, status, None, Some(remains), &note).await?;
        Ok(order)
    })
    .await
}

/// An admin's manual status update (for MANUAL services, or to correct a provider
/// order). Terminal failures go through `settle` so the refund happens.
pub async fn admin_set_status(
    conn: &mut AsyncPgConnection,
    actor_id: i64,
    order_id: i64,
    status: OrderStatus,
    start_count: Option<i64>,
    remains: Option<i64>,
    note: &str,
) -> AppResult<OrderRow> {
    match status {
        OrderStatus::Canceled => {
            return settle(conn, order_id, Settlement::Canceled, note, Some(actor_id)).await;
        }
        OrderStatus::Failed => {
            return settle(conn, order_id, Settlement::Failed, note, Some(actor_id)).await;
        }
        OrderStatus::Partial => {
            let remains =
                remains.ok_or_else(|| AppError::validation("remains", "PARTIAL needs remains"))?;
            return settle(
                conn,
                order_id,
                Settlement::Partial { remains },
                note,
                Some(actor_id),
            )
            .await;
        }
        OrderStatus::Submitting | OrderStatus::Pending => {
            return Err(AppError::validation(
                "status",
                "PENDING and SUBMITTING are set by the system only",
            ));
        }
        _ => {}
    }
    if start_count.is_some_and(|c| c < 0) {
        return Err(AppError::validation(
            "startCount",
            "startCount must not be negative",
        ));
    }
    conn.transaction(async |conn| {
        let order = lock_order(conn, order_id).await?;
        if order.status.is_final() {
            return Err(AppError::conflict(format!(
                "order is already {}",
                order.status
            )));
        }
        let remains = if status == OrderStatus::Completed {
            Some(0)
        } else {
            remains
        };
        let (order, _) = record_status(conn, &order, status, start_count, remains, note).await?;
        Ok(order)
    })
    .await
}

/// A customer's cancel request. A PENDING order (not yet sent upstream) is canceled
/// and refunded at once; a running one gets a request forwarded to the provider.
pub async fn request_cancel(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    order_id: i64,
) -> AppResult<(OrderRow, Option<OrderRequestRow>)> {
    let order = owned_order(conn, user_id, order_id).await?;
    let service = ServiceRow::find(conn, order.service_id)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    if !service.cancel {
        return Err(AppError::validation(
            "orderId",
            "this service does not allow cancellation",
        ));
    }
    conn.transaction(async |conn| {
        let order = lock_order(conn, order.id).await?;
        match order.status {
            OrderStatus::Pending => {
                let order = settle(
                    conn,
                    order.id,
                    Settlement::Canceled,
                    "canceled by the customer before dispatch",
                    None,
                )
                .await?;
                Ok((order, None))
            }
            OrderStatus::Processing | OrderStatus::InProgress | OrderStatus::Submitting => {
                let request = open_request(conn, &order, OrderRequestKind::Cancel).await?;
                record_status(
                    conn,
                    &order,
                    order.status,
                    None,
                    None,
                    "cancel requested by the customer",
                )
                .await?;
                Ok((order, Some(request)))
            }
            other => Err(AppError::conflict(format!(
                "a {other} order cannot be canceled"
            ))),
        }
    })
    .await
}

/// A customer's refill request for a completed order of a refillable service.
pub async fn request_refill(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    order_id: i64,
) -> AppResult<OrderRequestRow> {
    let order = owned_order(conn, user_id, order_id).await?;
    let service = ServiceRow::find(conn, order.service_id)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    if !service.refill {
        return Err(AppError::validation(
            "orderId",
            "this service has no refill",
        ));
    }
    if !matches!(order.status, OrderStatus::Completed | OrderStatus::Partial) {
        return Err(AppError::conflict("only completed orders can be refilled"));
    }
    conn.transaction(async |conn| {
        let order = lock_order(conn, order.id).await?;
        let request = open_request(conn, &order, OrderRequestKind::Refill).await?;
        record_status(
            conn,
            &order,
            order.status,
            None,
            None,
            "refill requested by the customer",
        )
        .await?;
        Ok(request)
    })
    .await
}

async fn open_request(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    kind: OrderRequestKind,
) -> AppResult<OrderRequestRow> {
    diesel::insert_into(order_requests::table)
        .values((
            order_requests::order_id.eq(order.id),
            order_requests::kind.eq(kind),
            order_requests::status.eq(OrderRequestStatus::Pending),
        ))
        .returning(OrderRequestRow::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e, "order_requests_open_idx") {
                AppError::conflict(format!(
                    "a {} request for this order is already open",
                    kind.as_str().to_lowercase()
                ))
            } else {
                e.into()
            }
        })
}

/// The order if `user_id` owns it; someone else's order is NOT_FOUND (ids are not probeable).
pub async fn owned_order(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    order_id: i64,
) -> AppResult<OrderRow> {
    orders::table
        .filter(orders::id.eq(order_id))
        .filter(orders::user_id.eq(user_id))
        .select(OrderRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("order"))
}

// ---------------------------------------------------------------- reads

#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    pub user_id: Option<i64>,
    pub status: Option<OrderStatus>,
    pub service_id: Option<i64>,
    pub mass_order_id: Option<i64>,
    pub from: Option<chrono::DateTime<Utc>>,
    pub to: Option<chrono::DateTime<Utc>>,
    pub link_search: Option<String>,
}

/// Orders newest first, keyset-paginated on id; returns up to `limit` rows and the total.
pub async fn list_orders(
    conn: &mut AsyncPgConnection,
    filter: &OrderFilter,
    before_id: Option<i64>,
    limit: i64,
) -> AppResult<(Vec<OrderRow>, i64)> {
    let build = || {
        let mut q = orders::table.into_boxed();
        if let Some(user) = filter.user_id {
            q = q.filter(orders::user_id.eq(user));
        }
        if let Some(status) = filter.status {
            q = q.filter(orders::status.eq(status));
        }
        if let Some(service) = filter.service_id {
            q = q.filter(orders::service_id.eq(service));
        }
        if let Some(mass) = filter.mass_order_id {
            q = q.filter(orders::mass_order_id.eq(mass));
        }
        if let Some(from) = filter.from {
            q = q.filter(orders::created_at.ge(from));
        }
        if let Some(to) = filter.to {
            q = q.filter(orders::created_at.lt(to));
        }
        if let Some(search) = filter
            .link_search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            q = q.filter(orders::link.ilike(format!(
                "%{}%",
                crate::domain::accounts::escape_like(search)
            )));
        }
        q
    };
    let total = build().count().get_result(conn).await?;
    let mut page = build();
    if let Some(before) = before_id {
        page = page.filter(orders::id.lt(before));
    }
    let rows = page
        .order(orders::id.desc())
        .limit(limit)
        .select(OrderRow::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

pub async fn list_mass_orders(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    before_id: Option<i64>,
    limit: i64,
) -> AppResult<(Vec<MassOrderRow>, i64)> {
    let total = mass_orders::table
        .filter(mass_orders::user_id.eq(user_id))
        .count()
        .get_result(conn)
        .await?;
    let mut q = mass_orders::table
        .filter(mass_orders::user_id.eq(user_id))
        .into_boxed();
    if let Some(before) = before_id {
        q = q.filter(mass_orders::id.lt(before));
    }
    let rows = q
        .order(mass_orders::id.desc())
        .limit(limit)
        .select(MassOrderRow::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_checked_per_platform() {
        assert!(check_link(Platform::Twitter, "https://x.com/jack/status/20").is_ok());
        assert!(check_link(Platform::Twitter, "twitter.com/jack").is_ok());
        assert!(check_link(Platform::Twitter, "https://mobile.twitter.com/jack").is_ok());
        assert_eq!(
            check_link(Platform::Twitter, "https://instagram.com/jack")
                .unwrap_err()
                .code(),
            "VALIDATION"
        );
        assert!(check_link(Platform::Instagram, "https://www.instagram.com/p/abc/").is_ok());
        assert!(check_link(Platform::Other, "https://example.com/x").is_ok());
        for bad in [
            "",
            "not a link",
            "ftp://x.com/a",
            "https://",
            "javascript:alert(1)",
        ] {
            assert!(check_link(Platform::Twitter, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn partial_refund_rounds_down() {
        let order = OrderRow {
            id: 1,
            user_id: 1,
            service_id: 1,
            mass_order_id: None,
            link: String::new(),
            quantity: 1000,
            price_per_1000: 15840,
            charge: 15840,
            status: OrderStatus::InProgress,
            extra: json!({}),
            start_count: None,
            remains: None,
            provider_id: None,
            provider_order_id: None,
            refunded: 0,
            idempotency_key: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            provider_service_id: None,
            submit_attempts: 0,
            next_attempt_at: None,
            submitted_at: None,
            last_synced_at: None,
            last_error: None,
            fallback_used: false,
        };
        assert_eq!(
            refund_amount(&order, Settlement::Partial { remains: 157 }),
            2486
        ); // 2486.88
        assert_eq!(refund_amount(&order, Settlement::Canceled), 15840);
        assert_eq!(
            refund_amount(&order, Settlement::Partial { remains: -5 }),
            0
        );
    }

    #[test]
    fn mass_text_formats() {
        let lines = parse_mass_text("1|https://x.com/a|100\n\n2|https://x.com/b|200\n").unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].line, 3);
        let csv = parse_mass_text(
            "service,link,quantity\n1,https://x.com/a,100\n2,\"https://x.com/b\",200\n",
        )
        .unwrap();
        assert_eq!(
            (csv.len(), csv[1].line, csv[1].quantity.as_str()),
            (2, 3, "200")
        );
        let errors = parse_mass_text("1|https://x.com/a\n").unwrap_err();
        assert_eq!(errors[0].line, 1);
    }
}
