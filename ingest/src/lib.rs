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
//!
//! [`stream`] runs the same stages over a large delimited file on disk in two
//! passes (evidence, then conversion in batches), with memory bounded by the
//! batch size; [`stream::ingest_path`] picks the way for any file.
#![warn(missing_docs)]

mod bloom;
mod chunk;
mod error;
pub mod naming;
mod parallel;
pub mod parquet_out;
pub mod passthrough;
mod plain_lines;
pub mod privacy;
pub mod read;
pub mod report;
pub mod shape;
pub mod stream;
pub mod table;
pub mod text;
pub mod typing;

pub use error::{Error, Result};
pub use report::{ColumnReport, Report, SheetReport, Warning};
pub use table::Ingested;

/// Options of one ingest run.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Take this sheet instead of the detected main table.
    pub sheet: Option<String>,
    /// Bounds on what one file may make ingest hold or do.
    pub limits: Limits,
}

/// Bounds that keep one ingest within a known amount of memory and time,
/// whatever the file holds. Every limit is refused with an error that names
/// it and, where it applies, the sheet, row and column that broke it.
///
/// The defaults hold for every real agency file we have seen (the corpus, the
/// examples), while a hostile file cannot make ingest take much more than
/// 1 GiB beyond the upload itself: about 3.3 M rows of one short column,
/// 850 k rows × 10 numeric columns, or 250 MB of text fit; 10 M rows do not.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Cells laid out in memory, over all sheets (rows × their width).
    pub max_cells: usize,
    /// Estimated working set of the whole pipeline for the table (cells,
    /// their text, and the typed copies made while detecting and typing),
    /// in bytes. See [`read::estimate_bytes`].
    pub max_table_bytes: usize,
    /// Columns in one row. Excel's own limit, so every file Excel writes fits.
    pub max_columns: usize,
    /// Bytes in one cell (and so in one CSV line without delimiters).
    pub max_cell_bytes: usize,
    /// Sheets in one workbook.
    pub max_sheets: usize,
    /// Entries in a zipped workbook (XLSX/ODS).
    pub max_archive_entries: usize,
    /// Total uncompressed size of a zipped workbook, as declared and as
    /// actually inflated.
    pub max_unzipped_bytes: u64,
    /// Largest compression ratio of one archive entry over 16 MiB.
    pub max_entry_ratio: u64,
    /// Delimited files larger than this are streamed from disk in one or two
    /// passes ([`stream`]): memory then depends on the batch size, not the file
    /// size, and the cell and table limits above do not apply.
    pub stream_above_bytes: u64,
    /// Rows read before the table's shape is detected when streaming.
    pub stream_head_rows: usize,
    /// Data rows per converted batch when streaming.
    pub stream_batch_rows: usize,
}

impl Limits {
    /// Cells XLS and ODS sheets may span as calamine lays them out (dense,
    /// empty cells included, [`read::DENSE_CELL_BYTES`] each), checked
    /// before calamine opens the file: [`Limits::max_cells`], or what
    /// [`Limits::max_table_bytes`] pays for, whichever is smaller. At the
    /// defaults this is 16 777 216 cells, exactly one full XLS sheet
    /// (65 536 rows × 256 columns).
    pub fn dense_cells(&self) -> usize {
        self.max_cells
            .min(self.max_table_bytes / read::DENSE_CELL_BYTES)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_cells: 50_000_000,
            max_table_bytes: 1 << 30,
            max_columns: 16_384,
            max_cell_bytes: 1 << 20,
            max_sheets: 1_000,
            max_archive_entries: 10_000,
            max_unzipped_bytes: 512 << 20,
            max_entry_ratio: 200,
            stream_above_bytes: 32 << 20,
            stream_head_rows: 2_000,
            stream_batch_rows: 65_536,
        }
    }
}

/// The whole pipeline as an upload runs it: ingest, then default redaction.
/// Parquet files are passed through with the same checks ([`passthrough`]).
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
    if passthrough::is_parquet(bytes, bytes) {
        let mut batches = Vec::new();
        let report = passthrough::ingest_parquet(
            file_name,
            bytes::Bytes::copy_from_slice(bytes),
            options,
            policy,
            |b| {
                batches.push(b);
                Ok::<_, Error>(())
            },
        )?;
        let schema = batches
            .first()
            .map(|b| b.schema())
            .unwrap_or_else(|| std::sync::Arc::new(arrow::datatypes::Schema::empty()));
        let batch = arrow::compute::concat_batches(&schema, &batches)?;
        return Ok(Ingested { batch, report });
    }
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

/// One xorshift step on `seed`: the repeatable pseudo-random numbers of the
/// generated-input tests.
#[cfg(test)]
pub(crate) fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// A text of one to `most` pieces drawn from `pieces` with [`xorshift`]
/// (the generated inputs of the parsing tests).
#[cfg(test)]
pub(crate) fn text_of_pieces(seed: &mut u64, pieces: &[&str], most: u64) -> String {
    let mut text = String::new();
    for _ in 0..xorshift(seed) % most + 1 {
        let k = (xorshift(seed) % pieces.len() as u64) as usize;
        text.push_str(pieces[k]);
    }
    text
}
