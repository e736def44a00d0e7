//! XLSX/XLS/ODS through calamine.

use super::{Cell, Format, Merge, Sheet, Workbook};
use crate::{Error, IngestOptions, Result};
use calamine::{Data, DataType, Reader, SheetVisible, Sheets};
use std::io::Cursor;

/// Reads every sheet (hidden ones too, flagged) of a workbook.
pub fn read(file: &str, bytes: &[u8], options: &IngestOptions) -> Result<Workbook> {
    let err = |detail: String| Error::Workbook {
        file: file.to_string(),
        detail,
    };
    let mut wb =
        calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| err(e.to_string()))?;
    let format = match &wb {
        Sheets::Xlsx(_) | Sheets::Xlsb(_) => Format::Xlsx,
        Sheets::Xls(_) => Format::Xls,
        Sheets::Ods(_) => Format::Ods,
    };
    let metadata: Vec<(String, bool)> = wb
        .sheets_metadata()
        .iter()
        .map(|s| (s.name.clone(), s.visible != SheetVisible::Visible))
        .collect();
    let mut sheets = Vec::new();
    let mut notes = Vec::new();
    let mut cells_total = 0usize;
    for (name, hidden) in metadata {
        let range = match wb.worksheet_range(&name) {
            Ok(r) => r,
            Err(e) => {
                // Chart sheets and the like have no cells; say so and go on.
                notes.push(format!("sheet {name:?} could not be read: {e}"));
                continue;
            }
        };
        let (height, width) = range.get_size();
        cells_total = cells_total.saturating_add(height.saturating_mul(width));
        if cells_total > options.max_cells {
            return Err(Error::TooLarge {
                file: file.to_string(),
                detail: format!(
                    "sheet {name:?} takes the workbook over {} cells",
                    options.max_cells
                ),
            });
        }
        let (row0, col0) = range
            .start()
            .map_or((0, 0), |(r, c)| (r as usize, c as usize));
        let mut rows: Vec<Vec<Cell>> = vec![Vec::new(); row0];
        for row in range.rows() {
            let mut out = vec![Cell::Empty; col0];
            out.extend(row.iter().map(convert));
            while out.last().is_some_and(Cell::is_blank) {
                out.pop();
            }
            rows.push(out);
        }
        let merges = match &mut wb {
            Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(&name).unwrap_or_default(),
            Sheets::Xls(x) => x.merge_cells_by_sheet_name(&name).unwrap_or_default(),
            _ => Vec::new(),
        };
        sheets.push(Sheet {
            name,
            hidden,
            rows,
            merges: merges
                .into_iter()
                .map(|d| Merge {
                    start: (d.start.0 as usize, d.start.1 as usize),
                    end: (d.end.0 as usize, d.end.1 as usize),
                })
                .collect(),
        });
    }
    Ok(Workbook {
        format,
        encoding: None,
        delimiter: None,
        sheets,
        notes,
    })
}

fn convert(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::String(s) if s.trim().is_empty() => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Number(*f),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => {
            if dt.is_datetime() {
                d.as_datetime()
                    .map_or(Cell::Number(dt.as_f64()), Cell::DateTime)
            } else {
                Cell::Number(dt.as_f64())
            }
        }
        Data::DateTimeIso(s) => {
            crate::text::parse_date(s, false).map_or_else(|| Cell::Text(s.clone()), Cell::DateTime)
        }
        Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Error(format!("#{e:?}")),
    }
}
