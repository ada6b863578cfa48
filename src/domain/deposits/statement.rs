//! An internet-banking statement uploaded by an admin, for owners without a
//! mutation service: its credit lines go through the same matching as pushed
//! mutations ([`super::matching::record`]), each stored once by a fingerprint of
//! the line, so the same statement uploaded twice credits nothing the second
//! time. A dry run does everything in a transaction that is then rolled back:
//! the figures are exactly what applying would do.

use chrono::{NaiveTime, TimeZone, Utc};
use chrono_tz::Asia::Jakarta;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::matching::{Recorded, record};
use crate::{
    db::{
        bank_mutations::NewBankMutation,
        deposit_methods::DepositMethodRow,
        enums::{BankMutationSource, BankMutationStatus},
    },
    error::{AppError, AppResult},
    payments::statements::{ColumnMapping, StatementLine, parse_statement},
};

/// The layouts a statement may come in.
#[derive(Debug, Clone)]
pub enum StatementFormat {
    /// KlikBCA Bisnis CSV.
    BcaBisnis,
    /// KlikBCA Individual CSV.
    BcaIndividual,
    /// An admin's own mapping (JSON, see `payments::statements::ColumnMapping`).
    Custom(String),
}

/// What an upload did, or on a dry run would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementReport {
    pub dry_run: bool,
    pub credits: usize,
    pub repeats: usize,
    pub matched: usize,
    pub review: usize,
    pub deposit_ids: Vec<i64>,
}

impl StatementReport {
    /// What the audit log keeps of an applied upload.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "credits": self.credits,
            "repeats": self.repeats,
            "matched": self.matched,
            "review": self.review,
            "depositIds": self.deposit_ids,
        })
    }
}

/// Reads `bytes` as a statement of `method`'s account and matches its credits.
pub async fn import(
    conn: &mut AsyncPgConnection,
    method_id: i64,
    bytes: &[u8],
    format: StatementFormat,
    dry_run: bool,
) -> AppResult<StatementReport> {
    let method = DepositMethodRow::find(conn, method_id)
        .await?
        .ok_or_else(|| AppError::validation("methodId", "no such deposit method"))?;
    if method.account_number.is_empty() {
        return Err(AppError::validation(
            "methodId",
            "this method has no account number to match a statement against",
        ));
    }
    let mapping = match format {
        StatementFormat::BcaBisnis => ColumnMapping::bca_bisnis(),
        StatementFormat::BcaIndividual => ColumnMapping::bca_individual(),
        StatementFormat::Custom(json) => serde_json::from_str(&json)
            .map_err(|e| AppError::validation("mapping", format!("not a column mapping: {e}")))?,
    };
    let year = Utc::now().with_timezone(&Jakarta).format("%Y").to_string();
    let year_hint: i32 = year.parse().map_err(AppError::internal)?;
    let parsed = parse_statement(bytes, &mapping, &method.account_number, year_hint)
        .map_err(|e| AppError::validation("file", e.to_string()))?;
    let mutations: Vec<NewBankMutation> = parsed
        .credits
        .iter()
        .map(|line| incoming(&method, line))
        .collect();
    let outcome = conn
        .transaction(async |conn| {
            let mut report = StatementReport {
                dry_run,
                credits: mutations.len(),
                ..Default::default()
            };
            for mutation in &mutations {
                match record(conn, mutation).await? {
                    Recorded::Repeat => report.repeats += 1,
                    Recorded::Matched { deposit_id, .. } => {
                        report.matched += 1;
                        report.deposit_ids.push(deposit_id);
                    }
                    Recorded::Review { .. } => report.review += 1,
                }
            }
            if dry_run {
                return Err(Outcome::DryRun(report));
            }
            Ok(report)
        })
        .await;
    match outcome {
        Ok(report) | Err(Outcome::DryRun(report)) => Ok(report),
        Err(Outcome::Failed(error)) => Err(error),
    }
}

/// A statement line as a mutation of the method's account, dated at the start of
/// its day in Jakarta (statements carry no time).
fn incoming(method: &DepositMethodRow, line: &StatementLine) -> NewBankMutation {
    let start_of_day = line.date.and_time(NaiveTime::MIN);
    let occurred_at = Jakarta
        .from_local_datetime(&start_of_day)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&start_of_day));
    NewBankMutation {
        source: BankMutationSource::Statement,
        external_id: line.external_id.clone(),
        bank: method.bank_code.clone(),
        account_number: method.account_number.clone(),
        amount: line.amount,
        description: line.description.clone(),
        occurred_at,
        status: BankMutationStatus::Unmatched,
        payload: serde_json::json!({ "row": line.row, "date": line.date.to_string() }),
    }
}

/// Why the import's transaction ended without committing.
enum Outcome {
    /// A dry run: everything rolls back, the report stays.
    DryRun(StatementReport),
    Failed(AppError),
}

impl From<diesel::result::Error> for Outcome {
    fn from(error: diesel::result::Error) -> Self {
        Outcome::Failed(error.into())
    }
}

impl From<AppError> for Outcome {
    fn from(error: AppError) -> Self {
        Outcome::Failed(error)
    }
}
