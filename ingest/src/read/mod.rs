//! Readers: bytes → sheets of raw cells.

mod delimited;
mod workbook;

use crate::{Error, IngestOptions, Result};
use chrono::NaiveDateTime;
use serde::Serialize;

/// One raw cell as the reader found it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Nothing.
    Empty,
    /// Text (CSV cells are always text).
    Text(String),
    /// A floating-point number cell of a workbook.
    Number(f64),
    /// An integer cell of a workbook.
    Int(i64),
    /// A boolean cell.
    Bool(bool),
    /// A date/time cell of a workbook.
    DateTime(NaiveDateTime),
    /// A formula error (`#DIV/0!` …).
    Error(String),
}

impl Cell {
    /// Empty, or text that is only white space.
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => crate::text::normalize(s).is_empty(),
            _ => false,
        }
    }

    /// The cell as a person would read it.
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.trim().to_string(),
            Cell::Number(f) => crate::text::format_excel_number(*f),
            Cell::Int(i) => i.to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::DateTime(d) => {
                if d.time() == chrono::NaiveTime::MIN {
                    d.date().to_string()
                } else {
                    d.to_string()
                }
            }
            Cell::Error(e) => e.clone(),
        }
    }
}

/// Merged cell region, inclusive, 0-based (row, column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    /// Top-left cell.
    pub start: (usize, usize),
    /// Bottom-right cell.
    pub end: (usize, usize),
}

/// One sheet: rows of cells, indexed as stored (row 0 is the sheet's first row).
#[derive(Debug, Clone)]
pub struct Sheet {
    /// Sheet name (`Sheet1` for CSV).
    pub name: String,
    /// Hidden or very hidden in the workbook.
    pub hidden: bool,
    /// Cells.
    pub rows: Vec<Vec<Cell>>,
    /// Merged regions.
    pub merges: Vec<Merge>,
}

/// Which reader read the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma/semicolon/pipe separated text.
    Csv,
    /// Tab separated text.
    Tsv,
    /// Office Open XML workbook.
    Xlsx,
    /// Legacy Excel (BIFF) workbook.
    Xls,
    /// OpenDocument spreadsheet.
    Ods,
}

/// A whole file as read.
#[derive(Debug, Clone)]
pub struct Workbook {
    /// Format, from the content (not only the name).
    pub format: Format,
    /// Text encoding (delimited files).
    pub encoding: Option<String>,
    /// Field delimiter (delimited files).
    pub delimiter: Option<char>,
    /// Sheets in workbook order.
    pub sheets: Vec<Sheet>,
    /// Notes about reading (decoding problems, extension mismatch…).
    pub notes: Vec<String>,
}

/// Reads a file, choosing the reader from its content and name.
pub fn read(file_name: &str, bytes: &[u8], options: &IngestOptions) -> Result<Workbook> {
    let lower = file_name.to_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let zip = bytes.starts_with(b"PK\x03\x04");
    let ole = bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    let mut notes = Vec::new();
    let claimed_workbook = matches!(ext, "xlsx" | "xlsm" | "xls" | "ods" | "xlsb");
    if zip || ole {
        if !claimed_workbook {
            notes.push(format!(
                "the file is named .{ext} but its content is a {} workbook; read as a workbook",
                if zip {
                    "zipped (XLSX/ODS)"
                } else {
                    "legacy Excel (XLS)"
                }
            ));
        }
        let mut wb = workbook::read(file_name, bytes, options)?;
        wb.notes.extend(notes);
        return Ok(wb);
    }
    if claimed_workbook {
        // Agencies often save CSV or HTML under an .xls name; try text.
        if bytes.starts_with(b"<")
            || bytes
                .windows(5)
                .take(2048)
                .any(|w| w.eq_ignore_ascii_case(b"<html"))
        {
            return Err(Error::UnsupportedFormat {
                file: file_name.to_string(),
                detail: "named as a workbook but contains HTML; save it as XLSX or CSV".into(),
            });
        }
        notes.push(format!(
            "the file is named .{ext} but is not a workbook; read as delimited text"
        ));
    }
    let tab_hint = ext == "tsv" || ext == "tab";
    let mut wb = delimited::read(file_name, bytes, tab_hint, options)?;
    wb.notes.extend(notes);
    Ok(wb)
}
