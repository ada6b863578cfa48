//! The admin audit log: every admin mutation writes who did what, when, to which
//! subject, and the subject before and after, in the same transaction as the change
//! (so a change without its entry, or an entry without its change, cannot exist).
//!
//! Every admin write has one shape, an [`AdminWrite`] naming who acts and the
//! log's action, run over the domain call in one transaction:
//!
//! ```ignore
//! AdminWrite::new(admin_id, "service.update")
//!     .change(conn, Subject::Service, id, move |conn| {
//!         async move { catalog::update_service(conn, id, update).await }.boxed()
//!     })
//!     .await
//! ```
//!
//! `change` snapshots an existing subject before and after, `create` one the
//! write made, `bulk` records the summary the write returns.
//!
//! Snapshots are the subject's row as PostgreSQL's `to_jsonb` sees it, minus the
//! columns that hold secrets (a provider's encrypted key, stock contents). Bulk
//! actions (reorders, imports, uploads) [`record`] a summary instead.

use diesel::{prelude::*, sql_types::BigInt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::{
    db::{
        admin_audit_log::{AuditLogFilter, AuditLogRow, NewAuditLogEntry},
        pagination::{KeysetPage, Paginated},
        schema::admin_audit_log,
    },
    error::{AppError, AppResult},
};

/// One entry to write.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry<'a> {
    /// `<subject>.<verb>`, e.g. `service.update`, `order.refund`.
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: Option<i64>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub reason: Option<&'a str>,
}

/// The longest reason kept in the log; a longer one is cut (the change itself
/// validates its own reason).
const MAX_REASON_CHARS: usize = 1000;

/// Writes one entry in the caller's transaction.
pub async fn record(
    conn: &mut AsyncPgConnection,
    admin_id: i64,
    entry: AuditEntry<'_>,
) -> AppResult<()> {
    let reason: Option<String> = entry
        .reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| r.chars().take(MAX_REASON_CHARS).collect());
    diesel::insert_into(admin_audit_log::table)
        .values(NewAuditLogEntry {
            admin_id,
            action: entry.action,
            subject_type: entry.subject_type,
            subject_id: entry.subject_id,
            before: entry.before,
            after: entry.after,
            reason: reason.as_deref(),
        })
        .execute(conn)
        .await?;
    Ok(())
}

/// What an audited change can be about: each a table with an `id` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    User,
    Service,
    Category,
    Provider,
    Order,
    Deposit,
    Ticket,
    FaqEntry,
    ContactMessage,
    /// A page or blog post.
    Content,
    Announcement,
    SeoKeyword,
    StaffRole,
    DepositMethod,
    BonusRule,
    Voucher,
    BankMutation,
    CustomerLevel,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::User => "user",
            Subject::Service => "service",
            Subject::Category => "category",
            Subject::Provider => "provider",
            Subject::Order => "order",
            Subject::Deposit => "deposit",
            Subject::Ticket => "ticket",
            Subject::FaqEntry => "faq_entry",
            Subject::ContactMessage => "contact_message",
            Subject::Content => "content",
            Subject::Announcement => "announcement",
            Subject::SeoKeyword => "seo_keyword",
            Subject::StaffRole => "staff_role",
            Subject::DepositMethod => "deposit_method",
            Subject::BonusRule => "bonus_rule",
            Subject::Voucher => "voucher",
            Subject::BankMutation => "bank_mutation",
            Subject::CustomerLevel => "customer_level",
        }
    }

    /// The row as JSON without secret columns. Table and column names are
    /// constants here, never input.
    fn snapshot_sql(self) -> &'static str {
        match self {
            // Password hashes and TOTP secrets never reach the audit log.
            Subject::User => {
                "SELECT to_jsonb(t) - 'password_hash' - 'totp_secret_encrypted' - 'totp_last_step' \
                 AS doc FROM users t WHERE id = $1"
            }
            Subject::StaffRole => "SELECT to_jsonb(t) AS doc FROM staff_roles t WHERE id = $1",
            Subject::Service => "SELECT to_jsonb(t) AS doc FROM services t WHERE id = $1",
            Subject::Category => {
                "SELECT to_jsonb(t) AS doc FROM service_categories t WHERE id = $1"
            }
            Subject::Provider => {
                "SELECT to_jsonb(t) - 'api_key_encrypted' AS doc FROM providers t WHERE id = $1"
            }
            Subject::Order => "SELECT to_jsonb(t) AS doc FROM orders t WHERE id = $1",
            Subject::Deposit => {
                "SELECT to_jsonb(t) - 'snap_token' AS doc FROM deposits t WHERE id = $1"
            }
            Subject::Ticket => "SELECT to_jsonb(t) AS doc FROM tickets t WHERE id = $1",
            Subject::FaqEntry => "SELECT to_jsonb(t) AS doc FROM faq_entries t WHERE id = $1",
            Subject::ContactMessage => {
                "SELECT to_jsonb(t) AS doc FROM contact_messages t WHERE id = $1"
            }
            // The rendered HTML is derived from the Markdown kept in the entry.
            Subject::Content => {
                "SELECT to_jsonb(t) - 'body_html' AS doc FROM content_items t WHERE id = $1"
            }
            Subject::Announcement => {
                "SELECT to_jsonb(t) - 'body_html' AS doc FROM announcements t WHERE id = $1"
            }
            Subject::SeoKeyword => "SELECT to_jsonb(t) AS doc FROM seo_keywords t WHERE id = $1",
            Subject::DepositMethod => {
                "SELECT to_jsonb(t) AS doc FROM deposit_methods t WHERE id = $1"
            }
            Subject::BonusRule => {
                "SELECT to_jsonb(t) AS doc FROM deposit_bonus_rules t WHERE id = $1"
            }
            Subject::Voucher => "SELECT to_jsonb(t) AS doc FROM vouchers t WHERE id = $1",
            Subject::CustomerLevel => {
                "SELECT to_jsonb(t) AS doc FROM customer_levels t WHERE id = $1"
            }
            // The raw push stays out of the log: it is kept on the row.
            Subject::BankMutation => {
                "SELECT to_jsonb(t) - 'payload' AS doc FROM bank_mutations t WHERE id = $1"
            }
        }
    }
}

/// The subject's row as JSON (secrets removed), `None` when it does not exist.
pub async fn snapshot(
    conn: &mut AsyncPgConnection,
    subject: Subject,
    id: i64,
) -> AppResult<Option<Value>> {
    #[derive(QueryableByName)]
    struct Doc {
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        doc: Value,
    }
    let doc: Option<Doc> = diesel::sql_query(subject.snapshot_sql())
        .bind::<BigInt, _>(id)
        .get_result(conn)
        .await
        .optional()?;
    Ok(doc.map(|d| without_noise(d.doc)))
}

/// Drops columns that change on every write and say nothing about the change.
fn without_noise(mut doc: Value) -> Value {
    if let Value::Object(map) = &mut doc {
        map.remove("updated_at");
    }
    doc
}

/// A change in progress: the subject as it was, taken inside the transaction
/// before the change.
#[must_use = "finish the change to write its audit entry"]
pub struct Change {
    subject: Subject,
    id: i64,
    before: Option<Value>,
}

impl Change {
    pub async fn begin(conn: &mut AsyncPgConnection, subject: Subject, id: i64) -> AppResult<Self> {
        let before = snapshot(conn, subject, id).await?;
        Ok(Change {
            subject,
            id,
            before,
        })
    }

    /// Reads the subject as it is now and writes the entry (still inside the
    /// caller's transaction).
    pub async fn finish(
        self,
        conn: &mut AsyncPgConnection,
        admin_id: i64,
        action: &str,
        reason: Option<&str>,
    ) -> AppResult<()> {
        let after = snapshot(conn, self.subject, self.id).await?;
        record(
            conn,
            admin_id,
            AuditEntry {
                action,
                subject_type: self.subject.as_str(),
                subject_id: Some(self.id),
                before: self.before,
                after,
                reason,
            },
        )
        .await
    }
}

/// Writes the entry for a subject an admin just created (no "before").
pub async fn record_created(
    conn: &mut AsyncPgConnection,
    admin_id: i64,
    action: &str,
    subject: Subject,
    id: i64,
) -> AppResult<()> {
    let after = snapshot(conn, subject, id).await?;
    record(
        conn,
        admin_id,
        AuditEntry {
            action,
            subject_type: subject.as_str(),
            subject_id: Some(id),
            before: None,
            after,
            reason: None,
        },
    )
    .await
}

/// The work an audited write runs inside its transaction: an async closure over
/// the connection whose future is `Send`. `AsyncFnOnce` alone cannot say so; the
/// `FnOnce` half names the future (the same device diesel-async's `transaction`
/// uses), so a closure may borrow what it likes from its caller.
pub trait Work<'c, T>:
    AsyncFnOnce(&'c mut AsyncPgConnection) -> AppResult<T>
    + FnOnce(&'c mut AsyncPgConnection) -> <Self as Work<'c, T>>::Fut
{
    type Fut: Future<Output = AppResult<T>>;
}

impl<'c, T, F, Fut> Work<'c, T> for F
where
    F: AsyncFnOnce(&'c mut AsyncPgConnection) -> AppResult<T>
        + FnOnce(&'c mut AsyncPgConnection) -> Fut,
    Fut: Future<Output = AppResult<T>>,
{
    type Fut = Fut;
}

/// An admin's write: who makes it, what the log calls it, and why (when the
/// write takes a reason). Each method runs the write and its entry in one
/// transaction, so neither exists without the other.
#[derive(Debug, Clone, Copy)]
pub struct AdminWrite<'a> {
    pub admin_id: i64,
    /// `<subject>.<verb>`, e.g. `service.update`.
    pub action: &'a str,
    pub reason: Option<&'a str>,
}

impl<'a> AdminWrite<'a> {
    pub fn new(admin_id: i64, action: &'a str) -> Self {
        AdminWrite {
            admin_id,
            action,
            reason: None,
        }
    }

    /// The same write, logged with `reason`.
    pub fn because(self, reason: &'a str) -> Self {
        AdminWrite {
            reason: Some(reason),
            ..self
        }
    }

    /// Changes one existing subject; the entry holds it before and after.
    pub async fn change<T: Send>(
        self,
        conn: &mut AsyncPgConnection,
        subject: Subject,
        id: i64,
        work: impl for<'c> Work<'c, T, Fut: Send> + Send,
    ) -> AppResult<T> {
        conn.transaction(async move |conn| {
            let change = Change::begin(conn, subject, id).await?;
            let result = work(conn).await?;
            change
                .finish(conn, self.admin_id, self.action, self.reason)
                .await?;
            Ok(result)
        })
        .await
    }

    /// Creates a subject (a row); the entry holds it as made.
    pub async fn create<T>(
        self,
        conn: &mut AsyncPgConnection,
        subject: Subject,
        work: impl for<'c> Work<'c, T, Fut: Send> + Send,
    ) -> AppResult<T>
    where
        T: Send,
        for<'r> &'r T: Identifiable<Id = &'r i64>,
    {
        conn.transaction(async move |conn| {
            let result = work(conn).await?;
            let id = *result.id();
            record_created(conn, self.admin_id, self.action, subject, id).await?;
            Ok(result)
        })
        .await
    }

    /// A write over many rows or a setting (a reorder, an import, an upload,
    /// the default markup): the work answers its result and the [`Summary`]
    /// the entry keeps, under `subject_type` (or `None` when it wrote nothing
    /// worth an entry, as a dry run).
    pub async fn bulk<T: Send, S: Into<Option<Summary>> + Send>(
        self,
        conn: &mut AsyncPgConnection,
        subject_type: &'static str,
        work: impl for<'c> Work<'c, (T, S), Fut: Send> + Send,
    ) -> AppResult<T> {
        conn.transaction(async move |conn| {
            let (result, summary) = work(conn).await?;
            if let Some(summary) = summary.into() {
                self.record(conn, subject_type, summary).await?;
            }
            Ok(result)
        })
        .await
    }

    /// Records a write that committed on its own (a catalogue sync runs in
    /// transactions of its own, as the scheduled job does).
    pub async fn record(
        self,
        conn: &mut AsyncPgConnection,
        subject_type: &str,
        summary: Summary,
    ) -> AppResult<()> {
        let entry = AuditEntry {
            action: self.action,
            subject_type,
            subject_id: summary.subject_id,
            before: summary.before,
            after: summary.after,
            reason: self.reason,
        };
        record(conn, self.admin_id, entry).await
    }
}

/// What a bulk write tells the log: the subject it is about (if one) and the
/// state before and after, in the words the write chooses.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub subject_id: Option<i64>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Summary {
    /// A summary of what the write left behind.
    pub fn after(after: Value) -> Self {
        Summary {
            after: Some(after),
            ..Default::default()
        }
    }

    /// What the write left behind, about one subject.
    pub fn of(subject_id: i64, after: Value) -> Self {
        Summary {
            subject_id: Some(subject_id),
            ..Summary::after(after)
        }
    }
}

/// The log, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &AuditLogFilter,
    page: KeysetPage,
) -> AppResult<Paginated<AuditLogRow>> {
    if let Some(action) = &filter.action
        && (action.is_empty() || action.len() > 64)
    {
        return Err(AppError::validation(
            "action",
            "an action is 1 to 64 characters",
        ));
    }
    Ok(AuditLogRow::list(conn, filter, page).await?)
}
