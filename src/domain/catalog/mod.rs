//! The service catalogue: categories, services and the providers they come from.
//! Every admin write is validated here before anything is written. One file per
//! concern: `categories` (and the display order), `services` (pricing, limits,
//! fallbacks), `providers` (connection details and keys), `csv_import` (own
//! services from the catalogue export's CSV), `listing` (what buyers read, through
//! the process's caches), `updates` (the public updates feed in words). Reads of the tables live
//! in `db::{categories, services, providers}`.

mod categories;
mod csv_import;
pub mod listing;
mod providers;
mod services;
pub mod updates;

pub use categories::*;
pub use csv_import::{CsvImportReport, CsvLineError, MAX_CSV_LINES, import_csv};
pub use providers::*;
pub use services::*;

use crate::domain::text::check_text;

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 5000;
