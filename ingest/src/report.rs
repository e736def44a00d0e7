//! The ingest report: what was detected, shown to agencies and reviewers.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole report for one uploaded file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// File name as uploaded.
    pub file: String,
    /// Reader used (`csv`, `tsv`, `xlsx`, `xls`, `ods`).
    pub format: String,
    /// Text encoding (delimited files).
    pub encoding: Option<String>,
    /// Field delimiter (delimited files).
    pub delimiter: Option<String>,
    /// Every sheet that holds a table, in workbook order.
    pub sheets: Vec<SheetReport>,
    /// Names of the sheets combined into the published table.
    pub table_sheets: Vec<String>,
    /// Data rows of the published table.
    pub rows: usize,
    /// Columns of the published table.
    pub columns: Vec<ColumnReport>,
    /// Hidden sheets (not published).
    pub hidden_sheets: Vec<String>,
    /// Problems found, each with its location.
    pub warnings: Vec<Warning>,
    /// Personal information found and what redaction did (empty before redaction).
    #[serde(default)]
    pub privacy: Vec<crate::privacy::Finding>,
}

/// One sheet's detected shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SheetReport {
    /// Sheet name.
    pub name: String,
    /// Title rows' text.
    pub title: Option<String>,
    /// Unit from the unit line.
    pub unit: Option<String>,
    /// 0-based first and last header row in the sheet as stored.
    pub header_rows: Option<[usize; 2]>,
    /// Data rows (totals, footnotes and blank rows excluded).
    pub data_rows: usize,
    /// Totals rows, 1-based as a spreadsheet shows them, with their check.
    pub totals: Vec<TotalsCheck>,
    /// Footnotes, 1-based row and text.
    pub footnotes: Vec<(usize, String)>,
    /// Blank rows inside the table.
    pub blank_rows: usize,
    /// Columns as detected in this sheet.
    pub columns: Vec<ColumnReport>,
}

/// A column as detected.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnReport {
    /// SQL name (ASCII snake_case).
    pub name: String,
    /// Original header path.
    pub path: Vec<String>,
    /// Arrow type as arrow displays it.
    #[serde(rename = "type")]
    pub data_type: String,
    /// integer, decimal, date, boolean, code or string.
    pub kind: String,
    /// Unit of the values.
    pub unit: Option<String>,
    /// Personal-information kind detected, if any.
    pub pii: Option<String>,
    /// Null values.
    pub nulls: usize,
    /// Null markers seen (`—`, `-`, …) and how often.
    pub null_markers: BTreeMap<String, usize>,
    /// A few values as they will be published.
    pub examples: Vec<String>,
}

/// A totals row checked against the column sums.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotalsCheck {
    /// 1-based row number.
    pub row: usize,
    /// Per numeric column: stated total, sum of the data rows, and whether they agree.
    pub columns: Vec<TotalsColumn>,
}

/// One column of a totals check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotalsColumn {
    /// Column name.
    pub column: String,
    /// Value in the totals row.
    pub stated: String,
    /// Sum over the data rows.
    pub computed: String,
    /// Whether they agree.
    pub matches: bool,
}

/// A problem, located.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Warning {
    /// Machine-readable code (`value_not_in_type`, `precision_lost`, …).
    pub code: String,
    /// Sheet name.
    pub sheet: Option<String>,
    /// 1-based row as a spreadsheet shows it.
    pub row: Option<usize>,
    /// Column letter as a spreadsheet shows it (`A`, `B`, … `AA`).
    pub column: Option<String>,
    /// Column header path joined with `/`.
    pub header: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

/// Spreadsheet column letter for a 0-based index.
pub fn column_letter(mut index: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn letters() {
        assert_eq!(super::column_letter(0), "A");
        assert_eq!(super::column_letter(25), "Z");
        assert_eq!(super::column_letter(26), "AA");
        assert_eq!(super::column_letter(701), "ZZ");
        assert_eq!(super::column_letter(702), "AAA");
    }
}
