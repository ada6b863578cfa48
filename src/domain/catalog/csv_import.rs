//! Own services (STOCK and MANUAL products) created and updated from CSV, in the
//! format of the catalogue export (`GET /admin/exports/catalog.csv`), so an admin
//! can export, edit in a spreadsheet and import back. Imported services are left
//! alone: they follow their provider.
//!
//! A file is applied all or nothing: every line goes through the same rules as
//! `adminCreateService`/`adminUpdateService` inside one transaction, each in a
//! savepoint; any line with an error rolls the whole file back, and a dry run
//! always does. The report names each bad line, its column and why.

use std::str::FromStr;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;

use super::*;
use crate::{
    db::{
        enums::{Fulfillment, Platform, ServiceType},
        schema::service_categories,
        services::{ServiceChangeset, ServiceRow},
    },
    error::{AppError, AppResult},
};

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Most lines one file may have.
pub const MAX_CSV_LINES: usize = 5_000;

/// The columns a file must have (the export's others, like `provider_rate`, are
/// ignored).
const REQUIRED_COLUMNS: &[&str] = &[
    "category",
    "name",
    "platform",
    "service_type",
    "fulfillment",
    "price_per_1000",
    "min_quantity",
    "max_quantity",
];

/// One bad line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLineError {
    /// The line in the file (the header is line 1).
    pub line: u64,
    /// The CSV column at fault (empty when the line as a whole is unreadable).
    pub column: String,
    pub message: String,
}

/// What an import did (or, in a dry run or with errors, would have done).
#[derive(Debug, Clone, Default)]
pub struct CsvImportReport {
    pub created: Vec<i64>,
    pub updated: Vec<i64>,
    pub categories_created: Vec<String>,
    pub errors: Vec<CsvLineError>,
    /// Whether the changes were kept: false for a dry run or when any line failed.
    pub applied: bool,
}

/// A line as written; every cell is text so that each can be checked on its own.
#[derive(Debug, Deserialize)]
struct Line {
    #[serde(default)]
    id: String,
    category: String,
    name: String,
    #[serde(default)]
    description: String,
    platform: String,
    service_type: String,
    fulfillment: String,
    price_per_1000: String,
    min_quantity: String,
    max_quantity: String,
    #[serde(default)]
    refill: String,
    #[serde(default)]
    cancel: String,
    #[serde(default)]
    active: String,
}

/// A line's cells, checked.
struct Parsed {
    id: Option<i64>,
    category: String,
    name: String,
    description: String,
    platform: Platform,
    service_type: ServiceType,
    fulfillment: Fulfillment,
    price_per_1000: i64,
    min_quantity: i64,
    max_quantity: i64,
    refill: bool,
    cancel: bool,
    active: bool,
}

enum Abort {
    /// Roll back, and report what would have happened.
    Rollback(CsvImportReport),
    Failed(AppError),
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Abort {
        Abort::Failed(e.into())
    }
}

impl From<AppError> for Abort {
    fn from(e: AppError) -> Abort {
        Abort::Failed(e)
    }
}

pub async fn import_csv(
    conn: &mut AsyncPgConnection,
    text: &str,
    dry_run: bool,
) -> AppResult<CsvImportReport> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| AppError::validation("csv", format!("unreadable CSV header: {e}")))?;
    let missing: Vec<&str> = REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|column| !headers.iter().any(|h| h == *column))
        .collect();
    if !missing.is_empty() {
        return Err(AppError::validation(
            "csv",
            format!("the header lacks the columns {}", missing.join(", ")),
        ));
    }
    let mut lines: Vec<(u64, Result<Parsed, CsvLineError>)> = Vec::new();
    let headers = headers.clone();
    for record in reader.records() {
        if lines.len() == MAX_CSV_LINES {
            return Err(AppError::validation(
                "csv",
                format!("a file has at most {MAX_CSV_LINES} lines"),
            ));
        }
        let unreadable = |number: u64, error: csv::Error| CsvLineError {
            line: number,
            column: String::new(),
            message: format!("unreadable line: {error}"),
        };
        match record {
            Ok(record) => {
                let number = record.position().map_or(0, |p| p.line());
                let parsed = match record.deserialize::<Line>(Some(&headers)) {
                    Ok(line) => parse(number, line),
                    Err(error) => Err(unreadable(number, error)),
                };
                lines.push((number, parsed));
            }
            Err(error) => {
                let number = error.position().map_or(0, |p| p.line());
                lines.push((number, Err(unreadable(number, error))));
            }
        }
    }
    if lines.is_empty() {
        return Err(AppError::validation(
            "csv",
            "the file has no lines after its header",
        ));
    }
    let outcome = conn
        .transaction(async |conn| {
            let mut report = CsvImportReport::default();
            for (number, line) in lines {
                match line {
                    Err(error) => report.errors.push(error),
                    Ok(parsed) => apply(conn, number, parsed, &mut report).await?,
                }
            }
            if dry_run || !report.errors.is_empty() {
                return Err(Abort::Rollback(report));
            }
            report.applied = true;
            Ok(report)
        })
        .await;
    match outcome {
        Ok(report) => Ok(report),
        Err(Abort::Rollback(report)) => Ok(report),
        Err(Abort::Failed(error)) => Err(error),
    }
}

/// Applies one line in a savepoint; a rule it breaks becomes a line error.
async fn apply(
    conn: &mut AsyncPgConnection,
    number: u64,
    line: Parsed,
    report: &mut CsvImportReport,
) -> Result<(), Abort> {
    let outcome: AppResult<(bool, i64)> = conn
        .transaction(async |conn| {
            let category_id = category_for(conn, &line.category, report).await?;
            match line.id {
                None => {
                    let row = create_service(
                        conn,
                        NewServiceInput {
                            category_id,
                            name: line.name.clone(),
                            description: line.description.clone(),
                            platform: line.platform,
                            service_type: line.service_type,
                            pricing: ServicePricing::Own {
                                price_per_1000: line.price_per_1000,
                                fulfillment: line.fulfillment,
                            },
                            min_quantity: line.min_quantity,
                            max_quantity: line.max_quantity,
                            quantity_step: 1,
                            refill: line.refill,
                            cancel: line.cancel,
                            dripfeed: false,
                            active: line.active,
                        },
                    )
                    .await?;
                    Ok((true, row.id))
                }
                Some(id) => {
                    let current = ServiceRow::find(conn, id)
                        .await?
                        .ok_or_else(|| AppError::validation("id", "no service has this id"))?;
                    if current.fulfillment == Fulfillment::Provider {
                        return Err(AppError::validation(
                            "id",
                            "an imported service follows its provider; edit it in the admin",
                        ));
                    }
                    if current.fulfillment != line.fulfillment {
                        return Err(AppError::validation(
                            "fulfillment",
                            "a service's fulfillment cannot change",
                        ));
                    }
                    let row = update_service(
                        conn,
                        id,
                        ServiceChangeset {
                            category_id: Some(category_id),
                            name: Some(line.name.clone()),
                            description: Some(line.description.clone()),
                            platform: Some(line.platform),
                            service_type: Some(line.service_type),
                            price_per_1000: Some(line.price_per_1000),
                            min_quantity: Some(line.min_quantity),
                            max_quantity: Some(line.max_quantity),
                            refill: Some(line.refill),
                            cancel: Some(line.cancel),
                            active: Some(line.active),
                            ..Default::default()
                        },
                    )
                    .await?;
                    Ok((false, row.id))
                }
            }
        })
        .await;
    match outcome {
        Ok((true, id)) => report.created.push(id),
        Ok((false, id)) => report.updated.push(id),
        Err(AppError::Validation { field, message }) => report.errors.push(CsvLineError {
            line: number,
            column: column_of(&field).to_string(),
            message,
        }),
        Err(AppError::Conflict(message)) => report.errors.push(CsvLineError {
            line: number,
            column: String::new(),
            message,
        }),
        Err(other) => return Err(Abort::Failed(other)),
    }
    Ok(())
}

/// The category named `name` (case-insensitive), created when missing.
async fn category_for(
    conn: &mut AsyncPgConnection,
    name: &str,
    report: &mut CsvImportReport,
) -> AppResult<i64> {
    let found: Option<i64> = service_categories::table
        .filter(lower(service_categories::name).eq(name.to_lowercase()))
        .select(service_categories::id)
        .first(conn)
        .await
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    let row = create_category(
        conn,
        CategoryInput {
            name: Some(name.to_string()),
            description: None,
            sort_order: None,
            active: Some(true),
        },
    )
    .await
    .map_err(|e| match e {
        AppError::Validation { message, .. } => AppError::validation("category", message),
        other => other,
    })?;
    report.categories_created.push(row.name);
    Ok(row.id)
}

/// The CSV column of a rule's field (the rules name GraphQL input fields).
fn column_of(field: &str) -> &str {
    match field {
        "categoryId" => "category",
        "pricePer1000" => "price_per_1000",
        "minQuantity" | "quantityStep" => "min_quantity",
        "maxQuantity" => "max_quantity",
        "serviceType" => "service_type",
        other => other,
    }
}

fn parse(number: u64, line: Line) -> Result<Parsed, CsvLineError> {
    let error = |column: &str, message: String| CsvLineError {
        line: number,
        column: column.to_string(),
        message,
    };
    let integer = |column: &str, value: &str| {
        value
            .parse::<i64>()
            .map_err(|_| error(column, format!("{column} must be a whole number")))
    };
    let flag = |column: &str, value: &str, default: bool| match value.to_ascii_lowercase().as_str()
    {
        "" => Ok(default),
        "true" | "1" | "yes" | "y" => Ok(true),
        "false" | "0" | "no" | "n" => Ok(false),
        _ => Err(error(column, format!("{column} must be true or false"))),
    };
    let id = match line.id.as_str() {
        "" => None,
        id => Some(integer("id", id)?),
    };
    if line.category.is_empty() {
        return Err(error("category", "category must not be empty".into()));
    }
    let platform = Platform::from_str(&line.platform.to_ascii_uppercase())
        .map_err(|_| error("platform", format!("unknown platform {:?}", line.platform)))?;
    let service_type =
        ServiceType::from_str(&line.service_type.to_ascii_uppercase()).map_err(|_| {
            error(
                "service_type",
                format!("unknown service type {:?}", line.service_type),
            )
        })?;
    let fulfillment = match Fulfillment::from_str(&line.fulfillment.to_ascii_uppercase()) {
        Ok(f @ (Fulfillment::Stock | Fulfillment::Manual)) => f,
        Ok(Fulfillment::Provider) => {
            return Err(error(
                "fulfillment",
                "provider services are imported from their provider, not from CSV".into(),
            ));
        }
        Err(_) => {
            return Err(error(
                "fulfillment",
                "fulfillment must be STOCK or MANUAL".into(),
            ));
        }
    };
    Ok(Parsed {
        id,
        category: line.category,
        name: line.name,
        description: line.description,
        platform,
        service_type,
        fulfillment,
        price_per_1000: integer("price_per_1000", &line.price_per_1000)?,
        min_quantity: integer("min_quantity", &line.min_quantity)?,
        max_quantity: integer("max_quantity", &line.max_quantity)?,
        refill: flag("refill", &line.refill, false)?,
        cancel: flag("cancel", &line.cancel, false)?,
        active: flag("active", &line.active, true)?,
    })
}
