//! The layout of a bank's CSV statement export: which column holds what, how numbers
//! and dates are written, which rows to skip. An admin may supply one as JSON; two
//! are built in for BCA, whose exports are the most common.
//!
//! BCA publishes no specification of its CSV exports. The built-in mappings follow
//! the samples in public parsers of KlikBCA exports (e.g. the test fixtures of
//! github.com/kankburhan/go-bankset, `banks/bca/bca_test.go`, and of several
//! Indonesian bookkeeping projects), which agree on:
//!
//! * KlikBCA Bisnis ([`ColumnMapping::bca_bisnis`]): a title line
//!   `"Informasi Rekening - Mutasi Rekening"`, lines `No. rekening : …`, `Nama : …`,
//!   `Periode : dd/mm/yyyy - dd/mm/yyyy`, `Kode Mata Uang : Rp`, then the header
//!   `"Tanggal Transaksi","Keterangan","Cabang","Jumlah","Saldo"`, rows such as
//!   `"13/05/2026","KR OTOMATIS …","0000","3,528,964.00 CR","25,441,156.00"`, and
//!   footer lines `"Saldo Awal : …"`, `"Mutasi Debet : …"`, `"Mutasi Kredit : …"`,
//!   `"Saldo Akhir : …"`.
//! * KlikBCA Individual ([`ColumnMapping::bca_individual`]): the same title and
//!   account lines, the header `Tanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo`
//!   with the CR/DB marker in its own unnamed column, dates without a year written
//!   with Excel's text apostrophe (`'05/12`), `PEND` in the date column for
//!   transactions not yet booked (skipped: they come back dated once booked), and
//!   the same footers.
//!
//! No documented Mandiri or BNI CSV sample was found, so those are left to custom
//! mappings.

use chrono::format::{Item, StrftimeItems};
use serde::Deserialize;

use super::{MAX_ROWS, StatementError};

/// How to read one bank's CSV export. Columns are numbered from 1, as a spreadsheet
/// shows them; rows are the file's line numbers, also from 1.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    pub date_column: usize,
    pub description_column: usize,
    pub amount: AmountColumns,
    /// A chrono format such as `%d/%m/%Y`. Without a year (`%d/%m`) the year comes
    /// from the `year_hint` given to [`super::parse_statement`].
    pub date_format: String,
    #[serde(default = "dot")]
    pub decimal_separator: char,
    #[serde(default)]
    pub thousands_separator: Option<char>,
    /// Records to drop at the top before anything else is looked at.
    #[serde(default)]
    pub skip_rows: usize,
    /// When set, every record up to and including the first whose first cell is this
    /// text (case-insensitive) is dropped: the header, wherever it is.
    #[serde(default)]
    pub header_starts_with: Option<String>,
    /// Records whose date cell starts with one of these (case-insensitive) are
    /// skipped and counted as ignored: totals, balances, pending lines.
    #[serde(default)]
    pub ignore_rows_starting_with: Vec<String>,
    /// An ASCII character, `,` unless said otherwise.
    #[serde(default = "comma")]
    pub delimiter: char,
}

/// Positive amounts in `column`, with a credit/debit marker in `marker_column`
/// or, without one, as the last word of the amount cell.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MarkedAmount {
    pub column: usize,
    #[serde(default)]
    pub marker_column: Option<usize>,
    pub credit_marker: String,
    pub debit_marker: String,
}

/// Where the amount and its direction are.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AmountColumns {
    /// One column, negative for money out (`-50000`), positive for money in.
    Signed { column: usize },
    /// One column of positive amounts with a credit/debit marker: in `marker_column`,
    /// or, without one, as the last word of the amount cell (`150,123.00 CR`).
    Marked(MarkedAmount),
    /// Separate money-in and money-out columns; the unused one is empty, `-` or zero.
    Split {
        credit_column: usize,
        debit_column: usize,
    },
}

fn dot() -> char {
    '.'
}

fn comma() -> char {
    ','
}

impl ColumnMapping {
    /// KlikBCA Bisnis: `"13/05/2026","…","0000","3,528,964.00 CR","25,441,156.00"`.
    pub fn bca_bisnis() -> Self {
        Self::bca(None, "%d/%m/%Y")
    }

    /// KlikBCA Individual: `'05/12,"…",'0000,"150,123.00",CR,"1,150,123.00"`.
    pub fn bca_individual() -> Self {
        Self::bca(Some(5), "%d/%m")
    }

    fn bca(marker_column: Option<usize>, date_format: &str) -> Self {
        ColumnMapping {
            date_column: 1,
            description_column: 2,
            amount: AmountColumns::Marked(MarkedAmount {
                column: 4,
                marker_column,
                credit_marker: "CR".into(),
                debit_marker: "DB".into(),
            }),
            date_format: date_format.into(),
            decimal_separator: '.',
            thousands_separator: Some(','),
            skip_rows: 0,
            header_starts_with: Some("Tanggal Transaksi".into()),
            ignore_rows_starting_with: [
                "Saldo Awal",
                "Mutasi Debet",
                "Mutasi Kredit",
                "Saldo Akhir",
                "PEND",
            ]
            .map(String::from)
            .to_vec(),
            delimiter: ',',
        }
    }

    /// Refuses a mapping that could not read anything sensibly.
    pub fn validate(&self) -> Result<(), StatementError> {
        let bad = |why: &str| Err(StatementError::BadMapping(why.to_string()));
        let amount_columns = match &self.amount {
            AmountColumns::Signed { column } => vec![*column],
            AmountColumns::Marked(marked) => {
                let (c, d) = (marked.credit_marker.trim(), marked.debit_marker.trim());
                if c.is_empty()
                    || d.is_empty()
                    || c.eq_ignore_ascii_case(d)
                    || (c.contains(' ') || d.contains(' '))
                {
                    return bad("credit and debit markers must be different single words");
                }
                [marked.column]
                    .into_iter()
                    .chain(marked.marker_column)
                    .collect()
            }
            AmountColumns::Split {
                credit_column,
                debit_column,
            } => vec![*credit_column, *debit_column],
        };
        let columns = [self.date_column, self.description_column];
        if columns
            .iter()
            .chain(&amount_columns)
            .any(|c| !(1..=64).contains(c))
        {
            return bad("columns are numbered from 1 to 64");
        }
        if !self.delimiter.is_ascii() || self.delimiter.is_ascii_alphanumeric() {
            return bad("the delimiter must be an ASCII punctuation or space character");
        }
        let decimal = self.decimal_separator;
        if decimal.is_ascii_digit() || self.thousands_separator == Some(decimal) {
            return bad("the decimal separator must be a non-digit other than the thousands one");
        }
        if self.thousands_separator.is_some_and(|t| t.is_ascii_digit()) {
            return bad("the thousands separator cannot be a digit");
        }
        let format = &self.date_format;
        if format.is_empty() || format.len() > 40 {
            return bad("the date format must have 1 to 40 characters");
        }
        if StrftimeItems::new(format).any(|i| matches!(i, Item::Error)) {
            return bad("the date format is not a valid chrono format");
        }
        if self.skip_rows > MAX_ROWS {
            return bad("skip_rows is larger than the row limit");
        }
        Ok(())
    }
}
