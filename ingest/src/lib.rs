//! Gongkai's ingest pipeline: an agency spreadsheet in, a clean typed table out.
//!
//! The stages, one module each:
//! 1. [`read`]: bytes → sheets of raw cells (CSV/TSV in any common Chinese
//!    encoding, XLSX/XLS/ODS through calamine).
//! 2. [`shape`]: find the table inside a sheet: title rows, unit line, one or more
//!    header rows, data rows, totals and footnotes.
//! 3. [`typing`]: infer each column's type over all its values, with units,
//!    null markers and values that do not fit reported by location.
//! 4. [`naming`]: stable ASCII snake_case column names from Chinese header paths.
//! 5. [`table`]: build the Arrow record batch with field metadata.
//! 6. [`privacy`]: detect personal information and apply default redaction;
//!    [`parquet_out`] then writes the redacted table as Parquet.
#![warn(missing_docs)]

mod error;
pub mod naming;
pub mod parquet_out;
pub mod privacy;
pub mod read;
pub mod report;
pub mod shape;
pub mod table;
pub mod text;
pub mod typing;

pub use error::{Error, Result};
pub use report::{ColumnReport, Report, SheetReport, Warning};
pub use table::Ingested;

/// Options of one ingest run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Take this sheet instead of the detected main table.
    pub sheet: Option<String>,
    /// Refuse sheets with more cells than this (guards memory).
    pub max_cells: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            sheet: None,
            max_cells: 200_000_000,
        }
    }
}

/// The whole pipeline as an upload runs it: ingest, then default redaction.
/// The returned table is what may be published; the report lists the findings.
pub fn ingest_for_publication(
    file_name: &str,
    bytes: &[u8],
    options: &IngestOptions,
) -> Result<Ingested> {
    ingest_with_policy(
        file_name,
        bytes,
        options,
        &privacy::RedactionPolicy::default(),
    )
}

/// [`ingest_for_publication`] with the agency's per-column redaction choices.
pub fn ingest_with_policy(
    file_name: &str,
    bytes: &[u8],
    options: &IngestOptions,
    policy: &privacy::RedactionPolicy,
) -> Result<Ingested> {
    let mut ingested = ingest(file_name, bytes, options)?;
    let (batch, _) = privacy::redact_with(&ingested.batch, &mut ingested.report, policy)?;
    ingested.batch = batch;
    Ok(ingested)
}

/// Runs detection and typing over an in-memory file (no redaction: the table
/// still holds personal data and must never be published as is).
///
/// `file_name` is used to pick the reader (by extension, checked against the
/// content) and in error messages.
pub fn ingest(file_name: &str, bytes: &[u8], options: &IngestOptions) -> Result<Ingested> {
    let workbook = read::read(file_name, bytes, options)?;
    table::build(file_name, workbook, options)
}
