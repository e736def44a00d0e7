use thiserror::Error;

/// Result alias for ingest.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a file could not be ingested. Every variant says which file and,
/// where it applies, which sheet, row and column.
#[derive(Debug, Error)]
pub enum Error {
    /// The file is none of the formats we read.
    #[error("{file}: unsupported file type ({detail}); upload XLSX, XLS, ODS, CSV or TSV")]
    UnsupportedFormat {
        /// File name.
        file: String,
        /// What was found instead.
        detail: String,
    },
    /// The bytes could not be decoded as text.
    #[error("{file}: cannot decode the text ({detail})")]
    Encoding {
        /// File name.
        file: String,
        /// What went wrong.
        detail: String,
    },
    /// A CSV/TSV parse error.
    #[error("{file}: line {line}: {detail}")]
    Csv {
        /// File name.
        file: String,
        /// 1-based line number.
        line: u64,
        /// What went wrong.
        detail: String,
    },
    /// The workbook is corrupt or unreadable.
    #[error("{file}: cannot read the workbook: {detail}")]
    Workbook {
        /// File name.
        file: String,
        /// What went wrong.
        detail: String,
    },
    /// No table could be found.
    #[error("{file}: {detail}")]
    NoTable {
        /// File name.
        file: String,
        /// Why.
        detail: String,
    },
    /// The requested sheet does not exist.
    #[error("{file}: no sheet named {sheet:?} (sheets: {available})")]
    NoSuchSheet {
        /// File name.
        file: String,
        /// Requested sheet.
        sheet: String,
        /// Names that exist.
        available: String,
    },
    /// The file is larger than the configured limits.
    #[error("{file}: too large: {detail}")]
    TooLarge {
        /// File name.
        file: String,
        /// Which limit.
        detail: String,
    },
    /// Building Arrow arrays failed.
    #[error("building the table failed: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Writing Parquet failed.
    #[error("writing Parquet failed: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}
