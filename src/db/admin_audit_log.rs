//! `admin_audit_log`: who among the admins did what, when, to which subject, with
//! the subject before and after. Append-only (a trigger refuses updates and deletes).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::AsyncPgConnection;

use super::{
    pagination::{KeysetPage, Paginated, paginate_keyset},
    schema::admin_audit_log,
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = admin_audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditLogRow {
    pub id: i64,
    pub admin_id: i64,
    pub action: String,
    pub subject_type: String,
    pub subject_id: Option<i64>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// `OWNER`, or `STAFF:` and the staff role's name, when the entry was written.
    pub actor_role: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = admin_audit_log)]
pub struct NewAuditLogEntry<'a> {
    pub admin_id: i64,
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: Option<i64>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: Option<&'a str>,
}

/// Which entries a list shows; `from` inclusive, `to` exclusive.
#[derive(Debug, Default, Clone)]
pub struct AuditLogFilter {
    pub admin_id: Option<i64>,
    /// An exact action (`service.update`) or a prefix ending in a dot (`service.`).
    pub action: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<i64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl AuditLogRow {
    /// Entries matching `filter`, newest first.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        filter: &AuditLogFilter,
        page: KeysetPage,
    ) -> QueryResult<Paginated<AuditLogRow>> {
        let build = || {
            let mut q = admin_audit_log::table
                .select(AuditLogRow::as_select())
                .into_boxed();
            if let Some(admin_id) = filter.admin_id {
                q = q.filter(admin_audit_log::admin_id.eq(admin_id));
            }
            match filter.action.as_deref() {
                Some(prefix) if prefix.ends_with('.') => {
                    q = q.filter(admin_audit_log::action.like(format!("{prefix}%")));
                }
                Some(action) => q = q.filter(admin_audit_log::action.eq(action.to_string())),
                None => {}
            }
            if let Some(subject_type) = &filter.subject_type {
                q = q.filter(admin_audit_log::subject_type.eq(subject_type.clone()));
            }
            if let Some(subject_id) = filter.subject_id {
                q = q.filter(admin_audit_log::subject_id.eq(subject_id));
            }
            if let Some(from) = filter.from {
                q = q.filter(admin_audit_log::created_at.ge(from));
            }
            if let Some(to) = filter.to {
                q = q.filter(admin_audit_log::created_at.lt(to));
            }
            q
        };
        paginate_keyset(conn, build, admin_audit_log::id, page).await
    }
}
