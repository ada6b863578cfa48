//! Reports for the panel's owner: the dashboard (a period's orders, revenue,
//! provider cost, profit, deposits, people, and what needs attention now) and the
//! same money as a time series or broken down by service, category, provider or
//! user. Periods are whole local days in the admin's time zone; the figures are
//! exact integer rupiah from SQL aggregates (`db::reports` says what counts).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel_async::AsyncPgConnection;

use crate::{
    db::reports::{
        self, AttentionFigures, Bucket, Dimension, GatewayFigures, OrderFigures, Period, ReportRow,
        StatusFigures,
    },
    error::{AppError, AppResult},
};

/// The longest period a report covers.
pub const MAX_PERIOD_DAYS: i64 = 3660;
/// The most rows a breakdown returns.
pub const MAX_TOP: i64 = 100;

/// Local days `from..=to` in `timezone`, and the instants they span.
#[derive(Debug, Clone, Copy)]
pub struct LocalPeriod {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub timezone: Tz,
    pub span: Period,
}

impl LocalPeriod {
    pub fn new(from: NaiveDate, to: NaiveDate, timezone: &str) -> AppResult<LocalPeriod> {
        let timezone: Tz = timezone.parse().map_err(|_| {
            AppError::validation(
                "timezone",
                "timezone must be an IANA name such as Asia/Jakarta",
            )
        })?;
        if to < from {
            return Err(AppError::validation("to", "to must not be before from"));
        }
        if (to - from).num_days() >= MAX_PERIOD_DAYS {
            return Err(AppError::validation(
                "to",
                format!("a period is at most {MAX_PERIOD_DAYS} days"),
            ));
        }
        let end_day = to
            .succ_opt()
            .ok_or_else(|| AppError::validation("to", "to is out of range"))?;
        let span = Period {
            start: local_midnight(timezone, from),
            end: local_midnight(timezone, end_day),
        };
        Ok(LocalPeriod {
            from,
            to,
            timezone,
            span,
        })
    }
}

/// The instant a local day starts. Where a day starts inside a daylight-saving gap
/// (no local midnight), it starts at the first local time that exists.
fn local_midnight(timezone: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight: NaiveDateTime = day.and_time(chrono::NaiveTime::MIN);
    (0..=3)
        .find_map(|hours| {
            timezone
                .from_local_datetime(&(midnight + Duration::hours(hours)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

/// The money of a set of orders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Money {
    pub orders: i64,
    /// Charges less refunds.
    pub revenue: i64,
    /// What the providers charge for what was delivered.
    pub provider_cost: i64,
}

impl Money {
    pub fn gross_profit(&self) -> i64 {
        self.revenue - self.provider_cost
    }

    /// Gross profit over revenue in basis points (2500 = 25.00%); none without revenue.
    pub fn margin_bps(&self) -> Option<i64> {
        (self.revenue > 0)
            .then(|| (i128::from(self.gross_profit()) * 10_000 / i128::from(self.revenue)) as i64)
    }

    /// Revenue per order, rounded down; none without orders.
    pub fn average_order_value(&self) -> Option<i64> {
        (self.orders > 0).then(|| self.revenue / self.orders)
    }
}

impl From<OrderFigures> for Money {
    fn from(figures: OrderFigures) -> Money {
        Money {
            orders: figures.orders,
            revenue: figures.revenue,
            provider_cost: figures.provider_cost,
        }
    }
}

/// The period's orders on the dashboard: their money, per status now, and how
/// many customers placed them.
#[derive(Debug, Clone)]
pub struct OrderSummary {
    pub money: Money,
    pub by_status: Vec<StatusFigures>,
    pub active_buyers: i64,
}

// The dashboard's parts are read each on its own pooled connection, and only
// when asked for: the GraphQL dashboard resolves its fields at once, so a full
// dashboard takes as long as its slowest aggregate, not their sum, and a
// dashboard of a period's money alone is one statement.

/// The period's orders: one scan (`db::reports::orders_by_status`).
pub async fn order_summary(
    conn: &mut AsyncPgConnection,
    period: LocalPeriod,
) -> AppResult<OrderSummary> {
    let orders = reports::orders_by_status(conn, period.span).await?;
    let money = orders
        .by_status
        .iter()
        .fold(Money::default(), |sum, s| Money {
            orders: sum.orders + s.money.orders,
            revenue: sum.revenue + s.money.revenue,
            provider_cost: sum.provider_cost + s.money.provider_cost,
        });
    Ok(OrderSummary {
        money,
        by_status: orders.by_status,
        active_buyers: orders.active_buyers,
    })
}

/// Deposits credited in the period, per gateway.
pub async fn deposits(
    conn: &mut AsyncPgConnection,
    period: LocalPeriod,
) -> AppResult<Vec<GatewayFigures>> {
    Ok(reports::deposits_by_gateway(conn, period.span).await?)
}

/// Customers who signed up in the period.
pub async fn new_users(conn: &mut AsyncPgConnection, period: LocalPeriod) -> AppResult<i64> {
    Ok(reports::new_users(conn, period.span).await?)
}

/// What needs an admin now; "today" is the admin's, in the period's time zone.
pub async fn attention(conn: &mut AsyncPgConnection, timezone: Tz) -> AppResult<AttentionFigures> {
    let today = Utc::now().with_timezone(&timezone).date_naive();
    Ok(reports::attention(conn, local_midnight(timezone, today)).await?)
}

/// How a report groups orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportGrouping {
    Day,
    /// Weeks start on Monday.
    Week,
    Month,
    Service,
    Category,
    /// Own products (no provider) are one row with an empty key.
    Provider,
    User,
}

/// A report: per time bucket (every bucket of the period, oldest first) or the top
/// `top` by revenue of a dimension. One statement.
pub async fn report(
    conn: &mut AsyncPgConnection,
    period: LocalPeriod,
    grouping: ReportGrouping,
    top: i64,
) -> AppResult<Vec<ReportRow>> {
    if !(1..=MAX_TOP).contains(&top) {
        return Err(AppError::validation(
            "top",
            format!("top must be between 1 and {MAX_TOP}"),
        ));
    }
    let bucket = match grouping {
        ReportGrouping::Day => Some(Bucket::Day),
        ReportGrouping::Week => Some(Bucket::Week),
        ReportGrouping::Month => Some(Bucket::Month),
        _ => None,
    };
    if let Some(bucket) = bucket {
        let midnight = chrono::NaiveTime::MIN;
        return Ok(reports::time_series(
            conn,
            period.span,
            period.timezone.name(),
            period.from.and_time(midnight),
            period.to.and_time(midnight),
            bucket,
        )
        .await?);
    }
    let dimension = match grouping {
        ReportGrouping::Service => Dimension::Service,
        ReportGrouping::Category => Dimension::Category,
        ReportGrouping::Provider => Dimension::Provider,
        _ => Dimension::User,
    };
    Ok(reports::breakdown(conn, period.span, dimension, top).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jakarta_day_starts_at_17_utc_the_day_before() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let period = LocalPeriod::new(day, day, "Asia/Jakarta").unwrap();
        assert_eq!(period.span.start.to_rfc3339(), "2026-11-25T17:00:00+00:00");
        assert_eq!(period.span.end.to_rfc3339(), "2026-11-26T17:00:00+00:00");
    }

    #[test]
    fn bad_periods_name_their_field() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let field = |r: AppResult<LocalPeriod>| match r {
            Err(AppError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(LocalPeriod::new(day, day, "Mars/Olympus")),
            "timezone"
        );
        assert_eq!(
            field(LocalPeriod::new(day, day.pred_opt().unwrap(), "UTC")),
            "to"
        );
        let far = day + Duration::days(MAX_PERIOD_DAYS);
        assert_eq!(field(LocalPeriod::new(day, far, "UTC")), "to");
    }

    #[test]
    fn margin_is_in_basis_points_and_absent_without_revenue() {
        let money = Money {
            orders: 3,
            revenue: 30_000,
            provider_cost: 22_500,
        };
        assert_eq!(money.gross_profit(), 7_500);
        assert_eq!(money.margin_bps(), Some(2_500));
        assert_eq!(money.average_order_value(), Some(10_000));
        assert_eq!(Money::default().margin_bps(), None);
    }
}
