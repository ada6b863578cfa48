//! The back office's reads (admins): the audit log, the dashboard and reports.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    db::admin_audit_log::AuditLogFilter,
    domain::{
        audit,
        reports::{self, LocalPeriod},
    },
    graphql::{
        check_date, conn,
        error::GraphqlResult,
        guards::RoleGuard,
        loaders::UserId,
        pagination::{Page, keyset_args, keyset_connection, list_complexity, node_selects},
        parse_opt_id, prefetch,
        types::back_office::{AuditLogEntry, Dashboard, ReportGroupingInput, ReportLine},
    },
};

/// The time zone reports use unless told otherwise: the panel's home market.
const DEFAULT_TIMEZONE: &str = "Asia/Jakarta";

#[derive(Default)]
pub struct BackOfficeQuery;

#[Object]
impl BackOfficeQuery {
    /// What admins did, newest first. `action` is exact (`service.update`) or a
    /// prefix ending in a dot (`order.`); `from` inclusive, `to` exclusive.
    #[graphql(
        guard = "RoleGuard::Staff(crate::db::enums::Permission::AuditLog)",
        complexity = "list_complexity(first, child_complexity)"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn admin_audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        admin_id: Option<ID>,
        action: Option<String>,
        subject_type: Option<String>,
        subject_id: Option<ID>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> GraphqlResult<Page<AuditLogEntry>> {
        let page = keyset_args(ctx, first, after.as_deref())?;
        let filter = AuditLogFilter {
            admin_id: parse_opt_id("adminId", admin_id.as_ref())?,
            action,
            subject_type,
            subject_id: parse_opt_id("subjectId", subject_id.as_ref())?,
            from: check_date("from", from)?,
            to: check_date("to", to)?,
        };
        // The connection goes back to the pool before the admins are loaded.
        let rows = audit::list(&mut *conn(ctx).await?, &filter, page).await?;
        if node_selects(ctx, "admin") {
            prefetch(ctx, rows.rows.iter().map(|r| UserId(r.admin_id))).await?;
        }
        Ok(keyset_connection(rows, |r| r.id, AuditLogEntry))
    }

    /// How the business did from `from` to `to` (whole local days, inclusive, in
    /// `timezone`): orders and their status, revenue, provider cost, gross profit
    /// and margin, deposits by gateway, new users and active buyers, and what needs
    /// attention now. An SQL aggregate per part asked for (orders, deposits, new
    /// users, attention), run at once.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Reports)")]
    async fn admin_dashboard(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        #[graphql(default_with = "DEFAULT_TIMEZONE.to_string()")] timezone: String,
    ) -> GraphqlResult<Dashboard> {
        Ok(Dashboard::new(LocalPeriod::new(from, to, &timezone)?))
    }

    /// Revenue, provider cost and profit from `from` to `to` (whole local days in
    /// `timezone`): per DAY, WEEK or MONTH (every bucket, oldest first), or the
    /// `top` services, categories, providers or users by revenue. One SQL aggregate.
    #[graphql(guard = "RoleGuard::Staff(crate::db::enums::Permission::Reports)")]
    async fn admin_report(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
        #[graphql(default_with = "DEFAULT_TIMEZONE.to_string()")] timezone: String,
        group_by: ReportGroupingInput,
        #[graphql(default = 20)] top: i32,
    ) -> GraphqlResult<Vec<ReportLine>> {
        let period = LocalPeriod::new(from, to, &timezone)?;
        let mut conn = conn(ctx).await?;
        let rows = reports::report(&mut conn, period, group_by.into(), top.into()).await?;
        Ok(rows.into_iter().map(ReportLine).collect())
    }
}
