//! XLSX/XLS/ODS through calamine.
//!
//! XLSX and XLSB are read cell by cell (calamine's cell readers), so a sheet
//! whose few cells sit far apart (A1 and XFD1048576) costs what its cells
//! cost, not its bounding box. XLS and ODS come from calamine as dense ranges;
//! [`super::ole`] and [`super::container`] have bounded those before calamine
//! runs. Every cell goes through the [`Budget`] (columns, cell length, cells,
//! memory), and a panic inside calamine on malformed input becomes an error.

use super::container::{Checked, ZipKind};
use super::{Budget, Cell, DENSE_CELL_BYTES, Format, Merge, Sheet, Workbook};
use crate::{Error, IngestOptions, Result};
use calamine::{Data, DataRef, DataType, Ods, Reader, SheetVisible, Sheets, Xls, Xlsb, Xlsx};
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Reads every sheet (hidden ones too, flagged) of a workbook.
///
/// `zipped` is what [`super::container::check`] found in a zipped workbook
/// (which reader to open, and the memory its shared strings take, counted
/// against the limit); `None` for an XLS file.
pub fn read(
    file: &str,
    bytes: &[u8],
    options: &IngestOptions,
    zipped: Option<Checked>,
) -> Result<Workbook> {
    match catch_unwind(AssertUnwindSafe(|| {
        read_checked(file, bytes, options, zipped)
    })) {
        Ok(result) => result,
        Err(_) => Err(Error::Workbook {
            file: file.to_string(),
            detail: "the workbook is malformed (its structure is inconsistent and the reader gave up on it)".into(),
        }),
    }
}

fn read_checked(
    file: &str,
    bytes: &[u8],
    options: &IngestOptions,
    zipped: Option<Checked>,
) -> Result<Workbook> {
    let err = |detail: String| Error::Workbook {
        file: file.to_string(),
        detail,
    };
    let limits = &options.limits;
    let open = |e: &dyn std::fmt::Display| err(e.to_string());
    let cursor = Cursor::new(bytes);
    let mut wb = match zipped.as_ref().map(|z| z.kind) {
        Some(ZipKind::Xlsx) => Sheets::Xlsx(Xlsx::new(cursor).map_err(|e| open(&e))?),
        Some(ZipKind::Xlsb) => Sheets::Xlsb(Xlsb::new(cursor).map_err(|e| open(&e))?),
        Some(ZipKind::Ods) => Sheets::Ods(Ods::new(cursor).map_err(|e| open(&e))?),
        None => Sheets::Xls(Xls::new(cursor).map_err(|e| open(&e))?),
    };
    let held = zipped.as_ref().map_or(0, |z| z.shared_strings_bytes) as usize;
    let no_merges = zipped.as_ref().is_some_and(|z| !z.merges);
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
    if metadata.len() > limits.max_sheets {
        return Err(Error::WorkbookTooLarge {
            file: file.to_string(),
            sheet: None,
            detail: format!(
                "{} sheets, more than the limit of {}",
                metadata.len(),
                limits.max_sheets
            ),
        });
    }
    let mut budget = Budget::new(file, limits);
    budget.hold("", 0, held)?;
    let mut sheets = Vec::new();
    let mut notes = Vec::new();
    let mut first_failure: Option<Error> = None;
    // Large worksheets are read in pieces side by side where they can be
    // (each piece holds its own copy of the shared strings: not when they
    // are large).
    let kept = zipped.map(|z| z.worksheets).unwrap_or_default();
    let mut pieces = match &wb {
        Sheets::Xlsx(_) if held <= super::xlsx_pieces::MAX_SHARED_STRINGS_BYTES => {
            super::xlsx_pieces::Pieces::new(bytes, kept)
        }
        _ => None,
    };
    for (index, (name, hidden)) in metadata.into_iter().enumerate() {
        let mut grid = Grid::new(&name);
        let in_pieces = pieces.as_mut().and_then(|p| p.rows(index, &name));
        let read = match &mut wb {
            Sheets::Xlsx(_) if in_pieces.is_some() => {
                for (r, cells) in in_pieces.into_iter().flatten() {
                    grid.put_row(&mut budget, r as usize, cells)?;
                }
                Ok(())
            }
            Sheets::Xlsx(x) => match x.worksheet_cells_reader(&name) {
                Ok(mut cells) => loop {
                    match cells.next_cell() {
                        Ok(Some(c)) => {
                            let (r, col) = c.get_position();
                            grid.put(
                                &mut budget,
                                r as usize,
                                col as usize,
                                convert_ref(c.get_value()),
                            )?;
                        }
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(err(format!("sheet {name:?}: {e}"))),
                    }
                },
                Err(e) => Err(err(e.to_string())),
            },
            Sheets::Xlsb(x) => match x.worksheet_cells_reader(&name) {
                Ok(mut cells) => loop {
                    match cells.next_cell() {
                        Ok(Some(c)) => {
                            let (r, col) = c.get_position();
                            grid.put(
                                &mut budget,
                                r as usize,
                                col as usize,
                                convert_ref(c.get_value()),
                            )?;
                        }
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(err(format!("sheet {name:?}: {e}"))),
                    }
                },
                Err(e) => Err(err(e.to_string())),
            },
            other => match other.worksheet_range(&name) {
                Ok(range) => {
                    // calamine holds this sheet as a dense range (and XLS
                    // sheets twice, its own and the copy it hands out).
                    let (h, w) = range.get_size();
                    let dense = h.saturating_mul(w).saturating_mul(DENSE_CELL_BYTES);
                    budget.hold(&name, 0, dense)?;
                    let (row0, col0) = range
                        .start()
                        .map_or((0, 0), |(r, c)| (r as usize, c as usize));
                    let mut result = Ok(());
                    for (r, row) in range.rows().enumerate() {
                        for (c, d) in row.iter().enumerate() {
                            if let Err(e) = grid.put(&mut budget, row0 + r, col0 + c, convert(d)) {
                                result = Err(e);
                                break;
                            }
                        }
                        if result.is_err() {
                            break;
                        }
                    }
                    result?;
                    Ok(())
                }
                Err(e) => Err(err(e.to_string())),
            },
        };
        if let Err(e) = read {
            // Chart sheets and the like have no cells; say so and go on.
            notes.push(format!("sheet {name:?} could not be read: {e}"));
            first_failure.get_or_insert(e);
            continue;
        }
        let merges = match &mut wb {
            // The archive check saw no `mergeCell` in any sheet: nothing to read.
            Sheets::Xlsx(_) if no_merges => Vec::new(),
            Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(&name).unwrap_or_default(),
            Sheets::Xls(x) => x.merge_cells_by_sheet_name(&name).unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut rows = grid.rows;
        for row in &mut rows {
            row.shrink_to_fit(); // grown cell by cell: give back the slack
        }
        if !merges.is_empty() {
            // Shape detection expands merges in a copy of the sheet.
            let cells: usize = rows.iter().map(Vec::len).sum();
            let copy = rows.len() * 40 + cells * std::mem::size_of::<Cell>() + grid.text;
            budget.hold(&name, rows.len().saturating_sub(1), copy)?;
        }
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
    if sheets.is_empty()
        && let Some(e) = first_failure
    {
        return Err(e); // nothing readable: the reason is the answer
    }
    Ok(Workbook {
        format,
        encoding: None,
        delimiter: None,
        sheets,
        notes,
    })
}

/// One sheet's rows as cells arrive (in any order), trailing blanks left out.
struct Grid<'a> {
    name: &'a str,
    rows: Vec<Vec<Cell>>,
    /// Bytes of text in the cells.
    text: usize,
}

impl<'a> Grid<'a> {
    fn new(name: &'a str) -> Self {
        Grid {
            name,
            rows: Vec::new(),
            text: 0,
        }
    }

    fn put(&mut self, budget: &mut Budget, row: usize, col: usize, cell: Cell) -> Result<()> {
        if cell.is_blank() {
            return Ok(()); // styled empty cells lay nothing out
        }
        let text = match &cell {
            Cell::Text(s) | Cell::Error(s) => s.len(),
            _ => 0,
        };
        budget.check_cell(self.name, row, col, text)?;
        let new_rows = (row + 1).saturating_sub(self.rows.len());
        let width = self.rows.get(row).map_or(0, Vec::len);
        let new_cells = (col + 1).saturating_sub(width);
        budget.add(self.name, row, new_rows, new_cells, text)?;
        self.text += text;
        if new_rows > 0 {
            self.rows.resize_with(row + 1, Vec::new);
        }
        let cells = &mut self.rows[row];
        if cells.len() <= col {
            cells.resize(col + 1, Cell::Empty);
        }
        cells[col] = cell;
        Ok(())
    }

    /// Lays out a row laid out already (a piece's, [`super::xlsx_pieces`]):
    /// as its non-blank cells put one by one, counted once for the row.
    fn put_row(&mut self, budget: &mut Budget, row: usize, cells: Vec<Cell>) -> Result<()> {
        if row < self.rows.len() {
            // A row below which others lie already: cell by cell.
            for (col, cell) in cells.into_iter().enumerate() {
                self.put(budget, row, col, cell)?;
            }
            return Ok(());
        }
        let mut text = 0;
        for (col, cell) in cells.iter().enumerate() {
            if let Cell::Text(s) | Cell::Error(s) = cell {
                budget.check_cell(self.name, row, col, s.len())?;
                text += s.len();
            } else if !matches!(cell, Cell::Empty) {
                budget.check_cell(self.name, row, col, 0)?;
            }
        }
        budget.add(self.name, row, row + 1 - self.rows.len(), cells.len(), text)?;
        self.text += text;
        self.rows.resize_with(row, Vec::new);
        self.rows.push(cells);
        Ok(())
    }
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

pub(super) fn convert_ref(d: &DataRef) -> Cell {
    match d {
        DataRef::Empty => Cell::Empty,
        DataRef::String(s) if s.trim().is_empty() => Cell::Empty,
        DataRef::SharedString(s) if s.trim().is_empty() => Cell::Empty,
        DataRef::String(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text((*s).to_string()),
        DataRef::Int(i) => Cell::Int(*i),
        DataRef::Float(f) => Cell::Number(*f),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(dt) => {
            if dt.is_datetime() {
                d.as_datetime()
                    .map_or(Cell::Number(dt.as_f64()), Cell::DateTime)
            } else {
                Cell::Number(dt.as_f64())
            }
        }
        DataRef::DateTimeIso(s) => {
            crate::text::parse_date(s, false).map_or_else(|| Cell::Text(s.clone()), Cell::DateTime)
        }
        DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::Error(e) => Cell::Error(format!("#{e:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::container::tests::zip_of;
    use crate::read::ole::tests::{biff, cfb};

    /// A minimal XLSX around one worksheet's `<sheetData>` content and
    /// whatever follows it (merges).
    fn xlsx(sheet_data: &str, after: &str) -> Vec<u8> {
        let sheet = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{sheet_data}</sheetData>{after}</worksheet>"#
        );
        let parts: [(&str, &[u8]); 5] = [
            (
                "[Content_Types].xml",
                br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
            ),
            (
                "_rels/.rels",
                br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
            ),
            (
                "xl/workbook.xml",
                br#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            ),
            (
                "xl/_rels/workbook.xml.rels",
                br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
            ),
            ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ];
        zip_of(&parts)
    }

    fn read_zip(file: &str, bytes: &[u8], options: &IngestOptions) -> Result<Workbook> {
        let checked = crate::read::container::check(file, bytes, &options.limits)?;
        read(file, bytes, options, Some(checked))
    }

    fn text(r: &str, t: &str) -> String {
        format!(r#"<c r="{r}" t="inlineStr"><is><t>{t}</t></is></c>"#)
    }

    #[test]
    fn far_apart_cells_cost_what_they_hold() {
        // A1 and XFD1048576: 17 G cells as calamine's dense range.
        let data = format!(
            r#"<row r="1">{}</row><row r="1048576">{}</row>"#,
            text("A1", "名称"),
            text("XFD1048576", "远")
        );
        let wb = read_zip("corners.xlsx", &xlsx(&data, ""), &IngestOptions::default()).unwrap();
        let rows = &wb.sheets[0].rows;
        assert_eq!(rows.len(), 1_048_576);
        assert_eq!(rows[0], vec![Cell::Text("名称".into())]);
        assert_eq!(rows[1_048_575].len(), 16_384);
        assert!(rows[1..1_048_575].iter().all(Vec::is_empty));
    }

    #[test]
    fn workbook_cells_are_held_to_the_limits() {
        let data = format!(
            r#"<row r="1">{}</row><row r="7">{}</row>"#,
            text("A1", "a"),
            text("K7", "x")
        );
        let mut options = IngestOptions::default();
        options.limits.max_columns = 10;
        let e = read_zip("w.xlsx", &xlsx(&data, ""), &options).unwrap_err();
        assert!(
            matches!(&e, Error::TooManyColumns { sheet, row: 7, columns: 11, .. } if sheet == "Sheet1"),
            "{e}"
        );
        let long = format!(r#"<row r="3">{}</row>"#, text("B3", &"长".repeat(400)));
        let mut options = IngestOptions::default();
        options.limits.max_cell_bytes = 1000;
        let e = read_zip("l.xlsx", &xlsx(&long, ""), &options).unwrap_err();
        assert!(e.to_string().contains("row 3, column B"), "{e}");
    }

    #[test]
    fn a_sheet_sized_merge_is_not_expanded() {
        let data = format!(
            r#"<row r="1">{}{}</row><row r="2">{}<c r="B2"><v>1</v></c></row><row r="1048576">{}<c r="B1048576"><v>2</v></c></row>"#,
            text("A1", "名称"),
            text("B1", "数量"),
            text("A2", "甲"),
            text("A1048576", "乙")
        );
        let merge = r#"<mergeCells count="1"><mergeCell ref="A1:NTP1048576"/></mergeCells>"#;
        let ingested =
            crate::ingest("m.xlsx", &xlsx(&data, merge), &IngestOptions::default()).unwrap();
        assert_eq!(ingested.batch.num_rows(), 2);
    }

    #[test]
    fn a_reader_panic_on_malformed_input_is_an_error() {
        // The sheet's BOF offset points past the end of the stream: calamine
        // slices out of bounds.
        let mut stream = biff(&[(0, 0, 1.0)], None);
        stream[30..34].copy_from_slice(&0x00FF_FF00u32.to_le_bytes());
        let bytes = cfb(stream, false);
        crate::read::ole::check("p.xls", &bytes, &crate::Limits::default()).unwrap();
        let e = read("p.xls", &bytes, &IngestOptions::default(), None).unwrap_err();
        assert!(matches!(e, Error::Workbook { .. }), "{e}");
        assert!(e.to_string().contains("malformed"), "{e}");
    }
}
