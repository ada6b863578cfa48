//! Back-office types: audit log entries, the dashboard and reports.

use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    db::{admin_audit_log::AuditLogRow, enums::OrderStatus, reports::ReportRow},
    domain::reports::{self, Money},
    graphql::{
        conn, error::GraphqlResult, load, loaders::UserId, scalars::Rupiah, types::account::User,
    },
};

// The GraphQL face of `domain::reports::ReportGrouping`.
/// How a report groups orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "ReportGrouping", remote = "reports::ReportGrouping")]
pub enum ReportGroupingInput {
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

// The GraphQL face of `domain::deposits::DepositResolution`.
/// What an admin decides about a flagged deposit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(
    name = "DepositResolution",
    remote = "crate::domain::deposits::DepositResolution"
)]
pub enum DepositResolutionInput {
    /// The money arrived: credit the deposit's amount (once, through the wallet).
    Credit,
    /// Nothing to credit: clear the flag; a pending deposit becomes FAILED.
    Reject,
}

/// One admin action: who, what, when, and the subject before and after.
pub struct AuditLogEntry(pub AuditLogRow);

#[Object]
impl AuditLogEntry {
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// The admin who acted.
    async fn admin(&self, ctx: &Context<'_>) -> GraphqlResult<User> {
        Ok(User(load(ctx, UserId(self.0.admin_id), "user").await?))
    }
    /// `<subject>.<verb>`: `service.update`, `order.refund`, `deposit.resolve`, ...
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// user, service, category, provider, order, deposit, setting, ...
    async fn subject_type(&self) -> &str {
        &self.0.subject_type
    }
    async fn subject_id(&self) -> Option<ID> {
        self.0.subject_id.map(Into::into)
    }
    /// The subject before the change (null for creations and bulk actions); secrets
    /// are never recorded.
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        self.0.before.clone().map(Json)
    }
    /// The subject after the change, or a summary of a bulk action.
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        self.0.after.clone().map(Json)
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// The actor's role when they did it: `OWNER`, or `STAFF:` and the staff role's name.
    async fn actor_role(&self) -> Option<&str> {
        self.0.actor_role.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A period's money: orders, revenue, provider cost, profit.
pub struct MoneyFigures(pub Money);

#[Object]
impl MoneyFigures {
    /// Orders placed in the period.
    async fn orders(&self) -> i64 {
        self.0.orders
    }
    /// Charges less refunds.
    async fn revenue(&self) -> Rupiah {
        Rupiah(self.0.revenue)
    }
    /// What the providers charge for what was delivered (recorded at dispatch).
    async fn provider_cost(&self) -> Rupiah {
        Rupiah(self.0.provider_cost)
    }
    /// Revenue less provider cost.
    async fn gross_profit(&self) -> Rupiah {
        Rupiah(self.0.gross_profit())
    }
    /// Gross profit over revenue, basis points (2500 = 25.00%); null without revenue.
    async fn margin_bps(&self) -> Option<i64> {
        self.0.margin_bps()
    }
    /// Revenue per order, rounded down; null without orders.
    async fn average_order_value(&self) -> Option<Rupiah> {
        self.0.average_order_value().map(Rupiah)
    }
}

/// Orders of one status placed in the period.
#[derive(SimpleObject)]
pub struct StatusCount {
    pub status: OrderStatus,
    pub orders: i64,
    pub revenue: Rupiah,
}

/// Deposits credited through one gateway in the period.
#[derive(SimpleObject)]
pub struct GatewayDeposits {
    pub gateway: String,
    pub count: i64,
    /// Money received.
    pub amount: Rupiah,
    /// Bonuses paid on these deposits (bonus rules, vouchers): not money received.
    pub bonus: Rupiah,
}

/// Deposits credited in the period.
#[derive(SimpleObject)]
pub struct DepositFigures {
    pub count: i64,
    /// Money received.
    pub amount: Rupiah,
    /// Bonuses paid on top, apart from money received.
    pub bonus: Rupiah,
    pub by_gateway: Vec<GatewayDeposits>,
}

/// What needs an admin now (not limited to the period).
#[derive(SimpleObject)]
pub struct Attention {
    pub orders_needing_review: i64,
    /// Orders that failed today, in the dashboard's time zone.
    pub orders_failed_today: i64,
    /// Deposits flagged and not resolved yet.
    pub flagged_deposits: i64,
    pub unhealthy_providers: i64,
    /// Active providers whose balance is under their threshold.
    pub low_balance_providers: i64,
    /// Active own-stock services with nothing left to sell.
    pub services_out_of_stock: i64,
    /// Support tickets waiting for staff (open, or the customer replied).
    pub open_tickets: i64,
}

/// How the business did in a period, and what needs attention. Each part is read
/// when it is asked for (its fields resolve at once, each on its own pooled
/// connection); the orders' money, statuses and buyers come from one scan, shared.
pub struct Dashboard {
    period: reports::LocalPeriod,
    orders: tokio::sync::OnceCell<reports::OrderSummary>,
}

impl Dashboard {
    pub fn new(period: reports::LocalPeriod) -> Dashboard {
        Dashboard {
            period,
            orders: tokio::sync::OnceCell::new(),
        }
    }

    async fn orders(&self, ctx: &Context<'_>) -> GraphqlResult<&reports::OrderSummary> {
        self.orders
            .get_or_try_init(|| async {
                Ok(reports::order_summary(&mut *conn(ctx).await?, self.period).await?)
            })
            .await
    }
}

#[Object]
impl Dashboard {
    /// The first local day of the period.
    async fn from(&self) -> NaiveDate {
        self.period.from
    }
    /// The last local day of the period (inclusive).
    async fn to(&self) -> NaiveDate {
        self.period.to
    }
    async fn timezone(&self) -> &str {
        self.period.timezone.name()
    }
    async fn money(&self, ctx: &Context<'_>) -> GraphqlResult<MoneyFigures> {
        Ok(MoneyFigures(self.orders(ctx).await?.money))
    }
    /// Orders placed in the period by their status now.
    async fn orders_by_status(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<StatusCount>> {
        Ok(self
            .orders(ctx)
            .await?
            .by_status
            .iter()
            .filter_map(|s| {
                Some(StatusCount {
                    status: s.status.parse().ok()?,
                    orders: s.money.orders,
                    revenue: Rupiah(s.money.revenue),
                })
            })
            .collect())
    }
    async fn deposits(&self, ctx: &Context<'_>) -> GraphqlResult<DepositFigures> {
        let rows = reports::deposits(&mut *conn(ctx).await?, self.period).await?;
        Ok(DepositFigures {
            count: rows.iter().map(|g| g.count).sum(),
            amount: Rupiah(rows.iter().map(|g| g.amount).sum()),
            bonus: Rupiah(rows.iter().map(|g| g.bonus).sum()),
            by_gateway: rows
                .into_iter()
                .map(|g| GatewayDeposits {
                    gateway: g.gateway,
                    count: g.count,
                    amount: Rupiah(g.amount),
                    bonus: Rupiah(g.bonus),
                })
                .collect(),
        })
    }
    /// Users who signed up in the period.
    async fn new_users(&self, ctx: &Context<'_>) -> GraphqlResult<i64> {
        Ok(reports::new_users(&mut *conn(ctx).await?, self.period).await?)
    }
    /// Users who placed an order in the period.
    async fn active_buyers(&self, ctx: &Context<'_>) -> GraphqlResult<i64> {
        Ok(self.orders(ctx).await?.active_buyers)
    }
    async fn attention(&self, ctx: &Context<'_>) -> GraphqlResult<Attention> {
        let a = reports::attention(&mut *conn(ctx).await?, self.period.timezone).await?;
        Ok(Attention {
            orders_needing_review: a.orders_needing_review,
            orders_failed_today: a.orders_failed_today,
            flagged_deposits: a.flagged_deposits,
            unhealthy_providers: a.unhealthy_providers,
            low_balance_providers: a.low_balance_providers,
            services_out_of_stock: a.services_out_of_stock,
            open_tickets: a.open_tickets,
        })
    }
}

/// One line of a report: a time bucket, or a service, category, provider or user.
pub struct ReportLine(pub ReportRow);

#[Object]
impl ReportLine {
    /// The bucket's first local day (`YYYY-MM-DD`), or the id of the service,
    /// category, provider (empty for own products) or user.
    async fn key(&self) -> &str {
        &self.0.key
    }
    /// The name of the service, category or provider, or the user's email.
    async fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }
    async fn money(&self) -> MoneyFigures {
        MoneyFigures(Money::from(self.0.money))
    }
}
