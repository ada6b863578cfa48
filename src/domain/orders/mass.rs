//! Mass orders: many orders from one text (pipe lines or CSV), every line
//! validated and reported by line number, placed all-or-nothing or valid lines
//! only, and debited once under one `mass_orders` row.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::*;
use crate::{
    db::users::UserRow,
    db::{
        enums::{Fulfillment, LedgerKind, OrderStatus, ServiceType},
        orders::{MassOrderRow, NewOrder, NewOrderEvent, OrderEventRow, OrderRow},
        schema::{mass_orders, order_events, orders},
        services::ServiceRow,
    },
    domain::pricing,
    domain::wallet::{self, LedgerRef},
    error::{AppError, AppResult},
    events,
};
use std::collections::HashMap;

/// The most lines one mass order may hold; a longer text is refused whole.
pub const MAX_MASS_ORDER_LINES: usize = 20_000;

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
    buyer: &UserRow,
    text: &str,
    all_or_nothing: bool,
    own_max_discount_bps: i32,
) -> AppResult<MassOrderOutcome> {
    let user_id = buyer.id;
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
    let mut services = ServiceRow::load_many(conn, &ids).await?;
    pricing::buyer_prices(
        conn,
        &mut services,
        buyer.discount_bps,
        own_max_discount_bps,
    )
    .await?;
    let services: HashMap<i64, ServiceRow> = services.into_iter().map(|s| (s.id, s)).collect();
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
            let event_ids: Vec<i64> = event_rows.iter().map(|r| r.id).collect();
            events::publish(conn, &event_ids).await?;
            AppResult::Ok(mass_order)
        })
        .await?;
    metrics::counter!(crate::metrics::ORDERS_PLACED).increment(mass_order.order_count as u64);
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

#[cfg(test)]
mod tests {
    use super::*;

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
