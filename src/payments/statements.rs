//! Internet-banking statement import: when the shop owner has no push service, they
//! download their account's statement as CSV and upload it, and the transfers in it
//! are matched to deposits. This module owns reading such a file into credit lines
//! with exact whole-rupiah amounts and a deterministic id per line, so that uploading
//! the same statement twice (or two overlapping statements) yields the same ids and a
//! unique index can make the second upload credit nothing. Pure: bytes in, lines out.
//!
//! Every bank's export differs, so the layout is a [`ColumnMapping`] (an admin may
//! supply one as JSON); two are built in for BCA's KlikBCA exports (see
//! [`mapping`] for where their layout comes from). Amounts are parsed without
//! floating point with the mapping's separators and digit grouping checked (a
//! misconfigured mapping fails loudly instead of reading `150.000,00` as 150); real
//! fractions of a rupiah are refused. Errors name the file's row and column.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, format::Parsed, format::StrftimeItems};
use sha2::{Digest, Sha256};

pub mod mapping;

pub use mapping::{AmountColumns, ColumnMapping, MarkedAmount};

/// Largest file read, in bytes.
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
/// Most CSV records read from one file.
pub const MAX_ROWS: usize = 20_000;
/// Longest cell accepted, in characters.
pub const MAX_CELL_CHARS: usize = 1_000;
/// Descriptions are cut to this many characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Largest amount accepted: one trillion rupiah.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("the file is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("the file has more than {max} rows")]
    TooManyRows { max: usize },
    #[error("the column mapping is unusable: {0}")]
    BadMapping(String),
    #[error("the account number must be 1 to 100 characters")]
    BadAccount,
    #[error("the file is not readable CSV at row {row}: {message}")]
    Csv { row: u64, message: String },
    #[error("no header row starting with {0:?} was found")]
    HeaderNotFound(String),
    #[error("row {row} has no column {column}")]
    MissingColumn { row: u64, column: usize },
    #[error("row {row}, column {column}: the cell is longer than {max} characters")]
    FieldTooLong { row: u64, column: usize, max: usize },
    #[error("row {row}, column {column}: {value:?} {reason}")]
    BadAmount {
        row: u64,
        column: usize,
        value: String,
        reason: &'static str,
    },
    #[error("row {row}, column {column}: {value:?} is not a date in the format {format:?}")]
    BadDate {
        row: u64,
        column: usize,
        value: String,
        format: String,
    },
}

/// One money-in line of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// Hex SHA-256 of the account number, date, description, amount and the line's
    /// occurrence among identical credit lines of the file (see [`line_id`]).
    pub external_id: String,
    pub date: NaiveDate,
    /// Blanks collapsed, at most [`MAX_DESCRIPTION_CHARS`] characters.
    pub description: String,
    /// Whole rupiah, positive.
    pub amount: i64,
    /// The line of the file it came from.
    pub row: u64,
}

/// What a statement file held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedStatement {
    /// Money in, in file order.
    pub credits: Vec<StatementLine>,
    /// Money-out lines: read and checked, then left out.
    pub debits: usize,
    /// Records skipped after the header: footers, pending and zero-amount lines.
    pub ignored: usize,
}

/// Reads a statement export with `mapping`, keeping the credits. `year_hint` is the
/// year of the statement's last transaction; it dates formats without a year, and a
/// line whose month is later than the last line's month is taken from the year
/// before (a statement running from December into January).
pub fn parse_statement(
    bytes: &[u8],
    mapping: &ColumnMapping,
    account_number: &str,
    year_hint: i32,
) -> Result<ParsedStatement, StatementError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(StatementError::TooLarge {
            max: MAX_FILE_BYTES,
        });
    }
    mapping.validate()?;
    let account = account_number.trim();
    if account.is_empty() || account.chars().count() > 100 {
        return Err(StatementError::BadAccount);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(mapping.delimiter as u8)
        .from_reader(bytes);

    let mut in_data = mapping.header_starts_with.is_none();
    let (mut debits, mut ignored) = (0, 0);
    let mut credits: Vec<(u64, DateParts, String, i64)> = Vec::new();
    let mut last_month = None;
    // csv's own line numbers miss blank lines: count them from byte offsets instead.
    let mut line_counter = LineCounter::default();
    for (index, record) in reader.byte_records().enumerate() {
        let record = record.map_err(|e| StatementError::Csv {
            row: e
                .position()
                .map_or(0, |p| line_counter.line_at(bytes, p.byte())),
            message: e.to_string(),
        })?;
        if index >= MAX_ROWS {
            return Err(StatementError::TooManyRows { max: MAX_ROWS });
        }
        let row = record
            .position()
            .map_or(0, |p| line_counter.line_at(bytes, p.byte()));
        if index < mapping.skip_rows {
            continue;
        }
        let cells: Vec<String> = record.iter().map(clean_cell).collect();
        if let Some(column) = cells
            .iter()
            .position(|c| c.chars().count() > MAX_CELL_CHARS)
        {
            return Err(StatementError::FieldTooLong {
                row,
                column: column + 1,
                max: MAX_CELL_CHARS,
            });
        }
        if !in_data {
            let header = mapping.header_starts_with.as_deref().unwrap_or_default();
            in_data = cells
                .first()
                .is_some_and(|c| c.eq_ignore_ascii_case(header));
            continue;
        }
        if cells.iter().all(String::is_empty) {
            continue;
        }
        let cell = |column: usize| {
            cells
                .get(column - 1)
                .map(String::as_str)
                .ok_or(StatementError::MissingColumn { row, column })
        };
        let date_text = cell(mapping.date_column)?;
        if mapping
            .ignore_rows_starting_with
            .iter()
            .any(|p| starts_with_ignore_case(date_text, p))
        {
            ignored += 1;
            continue;
        }
        let Some((credit, amount)) = read_amount(mapping, &cell, row)? else {
            ignored += 1;
            continue;
        };
        let date =
            read_date(date_text, &mapping.date_format).ok_or_else(|| StatementError::BadDate {
                row,
                column: mapping.date_column,
                value: clip(date_text, 40),
                format: mapping.date_format.clone(),
            })?;
        last_month = Some(date.month);
        if !credit {
            debits += 1;
            continue;
        }
        let description = clip(
            &cell(mapping.description_column)?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            MAX_DESCRIPTION_CHARS,
        );
        credits.push((row, date, description, amount));
    }
    if !in_data {
        return Err(StatementError::HeaderNotFound(
            mapping.header_starts_with.clone().unwrap_or_default(),
        ));
    }

    let mut seen: HashMap<(NaiveDate, String, i64), u32> = HashMap::new();
    let mut out = Vec::with_capacity(credits.len());
    for (row, parts, description, amount) in credits {
        let year = parts.year.unwrap_or(match last_month {
            Some(last) if parts.month > last => year_hint - 1,
            _ => year_hint,
        });
        let date = NaiveDate::from_ymd_opt(year, parts.month, parts.day).ok_or_else(|| {
            StatementError::BadDate {
                row,
                column: mapping.date_column,
                value: format!("{:02}/{:02}/{year}", parts.day, parts.month),
                format: mapping.date_format.clone(),
            }
        })?;
        let occurrence = seen.entry((date, description.clone(), amount)).or_default();
        let external_id = line_id(account, date, &description, amount, *occurrence);
        *occurrence += 1;
        out.push(StatementLine {
            external_id,
            date,
            description,
            amount,
            row,
        });
    }
    Ok(ParsedStatement {
        credits: out,
        debits,
        ignored,
    })
}

/// The id of a statement line: hex SHA-256 over a version tag, then the account
/// number, the ISO date, the description, the amount and the occurrence index (0 for
/// the first of identical lines in a file), each preceded by its byte length as a
/// big-endian u64 so that no two different lines share an encoding.
pub fn line_id(
    account_number: &str,
    date: NaiveDate,
    description: &str,
    amount: i64,
    occurrence: u32,
) -> String {
    let mut hasher = Sha256::new();
    let date = date.format("%Y-%m-%d").to_string();
    let (amount, occurrence) = (amount.to_string(), occurrence.to_string());
    for part in [
        "booster-statement-line-v1",
        account_number.trim(),
        &date,
        description,
        &amount,
        &occurrence,
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Line numbers of increasing byte offsets, counted once.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    newlines: u64,
}

impl LineCounter {
    fn line_at(&mut self, bytes: &[u8], offset: u64) -> u64 {
        let mut offset = usize::try_from(offset).map_or(bytes.len(), |o| o.min(bytes.len()));
        // csv places a record's start before the line ends that precede it.
        while bytes
            .get(offset)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            offset += 1;
        }
        if offset > self.offset {
            let seen = bytes[self.offset..offset].iter().filter(|&&b| b == b'\n');
            self.newlines += seen.count() as u64;
            self.offset = offset;
        }
        self.newlines + 1
    }
}

/// A date as the file wrote it; `year` is `None` for formats without one.
struct DateParts {
    year: Option<i32>,
    month: u32,
    day: u32,
}

fn read_date(text: &str, format: &str) -> Option<DateParts> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, StrftimeItems::new(format)).ok()?;
    if parsed.year().is_some() || parsed.year_mod_100().is_some() {
        let date = parsed.to_naive_date().ok()?;
        return Some(DateParts {
            year: Some(date.year()),
            month: date.month(),
            day: date.day(),
        });
    }
    let (month, day) = (parsed.month()?, parsed.day()?);
    // Checked against a leap year here; the real year is checked once known.
    NaiveDate::from_ymd_opt(2000, month, day)?;
    Some(DateParts {
        year: None,
        month,
        day,
    })
}

/// `(credit, amount)`, or `None` for a line that moves no money.
fn read_amount<'c>(
    mapping: &ColumnMapping,
    cell: &impl Fn(usize) -> Result<&'c str, StatementError>,
    row: u64,
) -> Result<Option<(bool, i64)>, StatementError> {
    let (decimal, thousands) = (mapping.decimal_separator, mapping.thousands_separator);
    let amount_in = |column: usize, text: &str| {
        parse_amount(text, decimal, thousands).map_err(|reason| StatementError::BadAmount {
            row,
            column,
            value: clip(text, 40),
            reason,
        })
    };
    let (credit, amount) = match &mapping.amount {
        AmountColumns::Signed { column } => {
            let text = cell(*column)?;
            match text.strip_prefix('-') {
                Some(rest) => (false, amount_in(*column, rest)?),
                None => (
                    true,
                    amount_in(*column, text.strip_prefix('+').unwrap_or(text))?,
                ),
            }
        }
        AmountColumns::Marked(marked) => {
            let MarkedAmount {
                column,
                marker_column,
                credit_marker,
                debit_marker,
            } = marked;
            let text = cell(*column)?;
            let is_marker = |m: &str| {
                m.eq_ignore_ascii_case(credit_marker.trim())
                    || m.eq_ignore_ascii_case(debit_marker.trim())
            };
            // A marker written after the amount in its own cell ("150,123.00 CR").
            let (number, inline) = match text.rsplit_once(' ') {
                Some((n, m)) if is_marker(m) => (n.trim_end(), Some(m)),
                _ => (text, None),
            };
            let outside = match marker_column {
                Some(c) => Some(cell(*c)?).filter(|m| !m.is_empty()),
                None => None,
            };
            let marker = match (outside, inline) {
                (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => None,
                (a, b) => a.or(b),
            };
            let amount = amount_in(*column, number)?;
            let bad_marker = StatementError::BadAmount {
                row,
                column: marker_column.unwrap_or(*column),
                value: clip(marker.unwrap_or(text), 40),
                reason: "has no clear credit or debit marker",
            };
            match marker {
                Some(m) if m.eq_ignore_ascii_case(credit_marker.trim()) => (true, amount),
                Some(m) if m.eq_ignore_ascii_case(debit_marker.trim()) => (false, amount),
                _ if amount == 0 => (true, 0),
                _ => return Err(bad_marker),
            }
        }
        AmountColumns::Split {
            credit_column,
            debit_column,
        } => {
            let read = |column: usize| -> Result<i64, StatementError> {
                match cell(column)? {
                    "" | "-" => Ok(0),
                    text => amount_in(column, text),
                }
            };
            match (read(*credit_column)?, read(*debit_column)?) {
                (0, debit) => (false, debit),
                (credit, 0) => (true, credit),
                _ => {
                    return Err(StatementError::BadAmount {
                        row,
                        column: *credit_column,
                        value: clip(cell(*credit_column)?, 40),
                        reason: "is a credit on a line that also has a debit",
                    });
                }
            }
        }
    };
    Ok((amount > 0).then_some((credit, amount)))
}

/// A non-negative amount in whole rupiah written with the given separators, its
/// digit grouping checked. A fraction must be one or two zeros.
fn parse_amount(text: &str, decimal: char, thousands: Option<char>) -> Result<i64, &'static str> {
    let (whole, fraction) = match text.split_once(decimal) {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if let Some(f) = fraction {
        if f.is_empty() || f.len() > 2 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err("is not an amount in the mapping's number format");
        }
        if f.bytes().any(|b| b != b'0') {
            return Err("is not a whole number of rupiah");
        }
    }
    let groups: Vec<&str> = match thousands {
        Some(t) => whole.split(t).collect(),
        None => vec![whole],
    };
    let grouped_ok = groups.len() == 1
        || ((1..=3).contains(&groups[0].len()) && groups[1..].iter().all(|g| g.len() == 3));
    let digits: String = groups.concat();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || !grouped_ok {
        return Err("is not an amount in the mapping's number format");
    }
    match digits.parse::<i64>() {
        Ok(amount) if digits.len() <= 13 && amount <= MAX_AMOUNT => Ok(amount),
        _ => Err("is larger than the largest amount accepted"),
    }
}

/// Trimmed cell text without Excel's leading text apostrophe (`'0000`, `'05/12`).
fn clean_cell(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let text = text.trim();
    text.strip_prefix('\'').unwrap_or(text).trim().to_string()
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    let prefix = prefix.trim();
    !prefix.is_empty()
        && text
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// At most `max` characters of `text`, cut on a character boundary.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests;
