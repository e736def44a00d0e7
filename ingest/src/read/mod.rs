//! Readers: bytes → sheets of raw cells.

mod container;
pub(crate) mod delimited;
mod ole;
mod workbook;
mod xlsx_pieces;
mod xlsx_scan;

use crate::{Error, IngestOptions, Limits, Result};
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

/// What `normalize` would leave empty: white space and zero-width
/// characters only (NFKC maps nothing else to white space or to nothing).
/// Stops at the first other character.
#[cold]
fn only_space(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_whitespace()
            || matches!(
                c,
                '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}' | '\u{00AD}'
            )
    })
}

/// Empty text, or text that is only white space (and zero-width characters).
#[inline]
pub(crate) fn text_is_blank(s: &str) -> bool {
    match s.as_bytes().first() {
        None => true,
        Some(&b) if crate::text::cannot_start_space(b) => false,
        Some(_) => only_space(s),
    }
}

impl Cell {
    /// Empty, or text that is only white space.
    #[inline]
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => text_is_blank(s),
            _ => false,
        }
    }

    /// The cell as a person would read it.
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => crate::text::trim(s).to_string(),
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
///
/// Zipped workbooks and XLS files are checked for decompression bombs,
/// entity declarations, corrupt containers and cell extents before the
/// workbook reader opens them; every reader lays cells out under
/// [`Limits`].
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
        let zipped = if zip {
            Some(container::check(file_name, bytes, &options.limits)?)
        } else {
            ole::check(file_name, bytes, &options.limits)?;
            None
        };
        let mut wb = workbook::read(file_name, bytes, options, zipped)?;
        wb.notes.extend(notes);
        return Ok(wb);
    }
    let (text_notes, tab_hint) = text_checks(file_name, bytes)?;
    notes.extend(text_notes);
    let mut wb = delimited::read(file_name, bytes, tab_hint, options)?;
    wb.notes.extend(notes);
    Ok(wb)
}

/// Checks that a file not recognised as a workbook may be read as delimited
/// text, from its first bytes (and, for Parquet, its last): refuses known
/// binary formats and HTML named as a workbook; returns notes about an odd
/// extension and whether the name asks for tabs.
pub(crate) fn text_checks(file_name: &str, bytes: &[u8]) -> Result<(Vec<String>, bool)> {
    let lower = file_name.to_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let claimed_workbook = matches!(ext, "xlsx" | "xlsm" | "xls" | "ods" | "xlsb");
    let mut notes = Vec::new();
    if let Some(kind) = binary_kind(bytes) {
        return Err(Error::UnsupportedFormat {
            file: file_name.to_string(),
            detail: format!("the content is {kind}, not a spreadsheet or delimited text"),
        });
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
    } else if !matches!(ext, "csv" | "tsv" | "tab" | "txt" | "") {
        notes.push(format!(
            "the file is named .{ext} but holds delimited text; read as CSV/TSV"
        ));
    }
    Ok((notes, ext == "tsv" || ext == "tab"))
}

/// Well-known binary formats people upload by mistake, by their magic bytes.
pub(crate) fn binary_kind(bytes: &[u8]) -> Option<&'static str> {
    const KINDS: &[(&[u8], &str)] = &[
        (b"%PDF-", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"\x1F\x8B", "a gzip archive (unpack it first)"),
        (b"7z\xBC\xAF", "a 7-Zip archive (unpack it first)"),
        (b"Rar!\x1A\x07", "a RAR archive (unpack it first)"),
        (b"PK\x05\x06", "an empty ZIP archive"),
        (b"\x7FELF", "a program (ELF executable)"),
        (b"SQLite format 3", "an SQLite database"),
        (b"ARROW1", "an Arrow IPC file"),
    ];
    if bytes.len() >= 8 && bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1") {
        return Some("a Parquet file (upload the spreadsheet it came from, or CSV)");
    }
    KINDS
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, kind)| *kind)
}

/// Bytes a table is expected to take in memory through the whole pipeline
/// (the raw cells, the per-row statistics of shape detection, the parsed
/// values of typing, the Arrow columns, redaction): per row, per laid-out
/// cell, and per byte of cell text. Fitted to peak RSS measured on a debug
/// build (`gongkai inspect`) over 1 M and 3 M rows × 1 column, 200 k rows × 10
/// numeric columns and 100 k rows × 3 columns of 35-character Chinese text,
/// rounded up: the estimate is 5–10% above what was measured.
pub const ROW_BYTES: usize = 240;
/// See [`ROW_BYTES`].
pub const CELL_BYTES: usize = 80;
/// See [`ROW_BYTES`].
pub const TEXT_FACTOR: usize = 4;

/// Bytes calamine takes per cell of an XLS or ODS sheet, which it lays out as
/// a dense range, empty cells included (a 32-byte value, the formula layer,
/// and the copy XLS hands out).
pub const DENSE_CELL_BYTES: usize = 64;

/// The working set [`ROW_BYTES`], [`CELL_BYTES`] and [`TEXT_FACTOR`] predict.
pub fn estimate_bytes(rows: usize, cells: usize, text: usize) -> usize {
    rows.saturating_mul(ROW_BYTES)
        .saturating_add(cells.saturating_mul(CELL_BYTES))
        .saturating_add(text.saturating_mul(TEXT_FACTOR))
}

/// What a workbook has laid out so far, against the limits.
pub(crate) struct Budget<'a> {
    file: &'a str,
    limits: &'a Limits,
    rows: usize,
    cells: usize,
    text: usize,
    /// Bytes held besides the table's own estimate (the workbook reader's
    /// shared strings, copies of merged sheets).
    held: usize,
}

impl<'a> Budget<'a> {
    pub(crate) fn new(file: &'a str, limits: &'a Limits) -> Self {
        Budget {
            file,
            limits,
            rows: 0,
            cells: 0,
            text: 0,
            held: 0,
        }
    }

    /// Counts bytes held outside the table's estimate; refuses once the
    /// total is over the limit. `row` (0-based) is where reading stands.
    pub(crate) fn hold(&mut self, sheet: &str, row: usize, bytes: usize) -> Result<()> {
        self.held = self.held.saturating_add(bytes);
        self.add(sheet, row, 0, 0, 0)
    }

    /// Refuses a cell beyond the column limit or longer than the cell limit.
    /// `row` and `col` are 0-based.
    pub(crate) fn check_cell(&self, sheet: &str, row: usize, col: usize, len: usize) -> Result<()> {
        if col >= self.limits.max_columns {
            return Err(Error::TooManyColumns {
                file: self.file.to_string(),
                sheet: sheet.to_string(),
                row: row as u64 + 1,
                columns: col + 1,
                limit: self.limits.max_columns,
            });
        }
        if len > self.limits.max_cell_bytes {
            return Err(Error::CellTooLong {
                file: self.file.to_string(),
                sheet: sheet.to_string(),
                row: row as u64 + 1,
                column: crate::report::column_letter(col),
                bytes: len,
                limit: self.limits.max_cell_bytes,
            });
        }
        Ok(())
    }

    /// Counts laid-out rows, cells and text; refuses once over a limit.
    /// `row` (0-based) is where reading stands, for the message.
    pub(crate) fn add(
        &mut self,
        sheet: &str,
        row: usize,
        rows: usize,
        cells: usize,
        text: usize,
    ) -> Result<()> {
        self.rows = self.rows.saturating_add(rows);
        self.cells = self.cells.saturating_add(cells);
        self.text = self.text.saturating_add(text);
        let limits = self.limits;
        let estimate = estimate_bytes(self.rows, self.cells, self.text).saturating_add(self.held);
        let detail = if self.cells > limits.max_cells {
            format!(
                "more than {} cells (the limit), reached in sheet {sheet:?} at row {}",
                limits.max_cells,
                row + 1
            )
        } else if estimate > limits.max_table_bytes {
            format!(
                "at sheet {sheet:?} row {} the table already holds {} rows and {} cells ({} of text); ingesting it would take more than the {} of memory one upload may use; split it into smaller files",
                row + 1,
                self.rows,
                self.cells,
                container::mib(self.text as u64),
                container::mib(limits.max_table_bytes as u64)
            )
        } else {
            return Ok(());
        };
        Err(Error::TooLarge {
            file: self.file.to_string(),
            detail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_formats_are_named_and_odd_extensions_noted() {
        let opts = IngestOptions::default();
        let mut parquet = b"PAR1".to_vec();
        parquet.extend([0u8; 64]);
        parquet.extend(b"PAR1");
        let e = read("data.parquet", &parquet, &opts).unwrap_err();
        assert!(e.to_string().contains("a Parquet file"), "{e}");
        let e = read("scan.csv", b"%PDF-1.7\n...", &opts).unwrap_err();
        assert!(e.to_string().contains("PDF"), "{e}");
        // Text that merely starts like a magic number is still text.
        let wb = read("par.csv", b"PAR1,PAR2\n1,2\n", &opts).unwrap();
        assert_eq!(wb.sheets[0].rows.len(), 2);
        let wb = read("table.parquet", b"a,b\n1,2\n", &opts).unwrap();
        assert!(
            wb.notes.iter().any(|n| n.contains(".parquet")),
            "{:?}",
            wb.notes
        );
    }
}
