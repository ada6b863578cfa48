//! Back-office types: audit log entries, the dashboard and reports.

use async_graphql::{Context, ID, Json, Object};
use chrono::{DateTime, Utc};

use crate::{
    db::admin_audit_log::AuditLogRow,
    graphql::{error::ApiResult, load, loaders::UserId, types::account::User},
};

/// One admin action: who, what, when, and the subject before and after.
pub struct AuditLogEntry(pub AuditLogRow);

#[Object]
impl AuditLogEntry {
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// The admin who acted.
    async fn admin(&self, ctx: &Context<'_>) -> ApiResult<User> {
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
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
