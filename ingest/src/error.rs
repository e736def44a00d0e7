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
    /// The table would take more memory (cells) than ingest allows.
    #[error("{file}: table too large: {detail}")]
    TooLarge {
        /// File name.
        file: String,
        /// Which limit.
        detail: String,
    },
    /// A zipped workbook (XLSX/ODS) that expands far more than any real
    /// workbook does, or whose stored sizes lie: a decompression bomb.
    #[error("{file}: refused as a decompression bomb: {detail}")]
    ZipBomb {
        /// File name.
        file: String,
        /// Archive entry, when one is to blame.
        entry: Option<String>,
        /// What was found and which limit it broke.
        detail: String,
    },
    /// A workbook over a structural limit (uncompressed size, entries, sheets,
    /// cells it declares).
    #[error("{file}: workbook too large: {detail}")]
    WorkbookTooLarge {
        /// File name.
        file: String,
        /// Sheet, when one is to blame.
        sheet: Option<String>,
        /// What was found and which limit it broke.
        detail: String,
    },
    /// XML inside the workbook holds a DTD that can declare entities: the
    /// shape of "billion laughs" expansion and external-entity (XXE) attacks.
    #[error(
        "{file}: {entry} holds a DTD that declares XML entities (<!DOCTYPE … [<!ENTITY …>]>); spreadsheet programs never write one, and entities are how XML expansion (\"billion laughs\") and external-entity attacks work, so the file is refused"
    )]
    XmlEntities {
        /// File name.
        file: String,
        /// Archive entry holding the declaration.
        entry: String,
    },
    /// A row with more columns than the limit.
    #[error(
        "{file}: sheet {sheet:?}, row {row}: {columns} columns, more than the limit of {limit}"
    )]
    TooManyColumns {
        /// File name.
        file: String,
        /// Sheet name (`Sheet1` for delimited text).
        sheet: String,
        /// 1-based row (line of a delimited file).
        row: u64,
        /// Columns found (at least).
        columns: usize,
        /// The limit.
        limit: usize,
    },
    /// A cell longer than the limit.
    #[error(
        "{file}: sheet {sheet:?}, row {row}, column {column}: the cell holds {bytes} bytes, more than the limit of {limit} bytes per cell"
    )]
    CellTooLong {
        /// File name.
        file: String,
        /// Sheet name (`Sheet1` for delimited text).
        sheet: String,
        /// 1-based row (line of a delimited file).
        row: u64,
        /// Column letter (A, B, … AA).
        column: String,
        /// Bytes in the cell (at least).
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The file could not be read from disk.
    #[error("{file}: reading the file failed: {detail}")]
    Io {
        /// File name.
        file: String,
        /// What went wrong.
        detail: String,
    },
    /// Building Arrow arrays failed.
    #[error("building the table failed: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Writing Parquet failed.
    #[error("writing Parquet failed: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

impl Error {
    /// The code the error is reported with.
    pub fn code(&self) -> gongkai_codes::Code {
        use gongkai_codes::Code;
        match self {
            Error::UnsupportedFormat { .. } => Code::UnsupportedFile,
            Error::Encoding { .. } => Code::UndecodableFile,
            Error::Csv { .. } => Code::MalformedCsv,
            Error::Workbook { .. } => Code::UnreadableWorkbook,
            Error::NoTable { .. } => Code::NoTableFound,
            Error::NoSuchSheet { .. } => Code::NoSuchSheet,
            Error::TooLarge { .. } => Code::TableTooLarge,
            Error::WorkbookTooLarge { .. } => Code::WorkbookTooLarge,
            Error::TooManyColumns { .. } => Code::TooManyColumns,
            Error::CellTooLong { .. } => Code::CellTooLong,
            Error::ZipBomb { .. } => Code::ZipBomb,
            Error::XmlEntities { .. } => Code::XmlEntities,
            Error::Io { .. } | Error::Arrow(_) | Error::Parquet(_) => Code::InternalError,
        }
    }

    /// Where the problem is and which limit applies, as JSON for API error
    /// details (`file`, `sheet`, `row`, `column`, `entry`, `limit`; only
    /// those that are known).
    pub fn details(&self) -> serde_json::Value {
        let mut d = serde_json::Map::new();
        let mut put = |k: &str, v: serde_json::Value| {
            d.insert(k.to_string(), v);
        };
        match self {
            Error::UnsupportedFormat { file, .. }
            | Error::Encoding { file, .. }
            | Error::Workbook { file, .. }
            | Error::NoTable { file, .. }
            | Error::TooLarge { file, .. } => put("file", file.as_str().into()),
            Error::Csv { file, line, .. } => {
                put("file", file.as_str().into());
                put("row", (*line).into());
            }
            Error::NoSuchSheet { file, sheet, .. } => {
                put("file", file.as_str().into());
                put("sheet", sheet.as_str().into());
            }
            Error::ZipBomb { file, entry, .. } => {
                put("file", file.as_str().into());
                if let Some(e) = entry {
                    put("entry", e.as_str().into());
                }
            }
            Error::WorkbookTooLarge { file, sheet, .. } => {
                put("file", file.as_str().into());
                if let Some(s) = sheet {
                    put("sheet", s.as_str().into());
                }
            }
            Error::XmlEntities { file, entry } => {
                put("file", file.as_str().into());
                put("entry", entry.as_str().into());
            }
            Error::TooManyColumns {
                file,
                sheet,
                row,
                limit,
                ..
            } => {
                put("file", file.as_str().into());
                put("sheet", sheet.as_str().into());
                put("row", (*row).into());
                put("limit", (*limit).into());
            }
            Error::CellTooLong {
                file,
                sheet,
                row,
                column,
                limit,
                ..
            } => {
                put("file", file.as_str().into());
                put("sheet", sheet.as_str().into());
                put("row", (*row).into());
                put("column", column.as_str().into());
                put("limit", (*limit).into());
            }
            Error::Io { file, .. } => put("file", file.as_str().into()),
            Error::Arrow(_) | Error::Parquet(_) => {}
        }
        serde_json::Value::Object(d)
    }
}
