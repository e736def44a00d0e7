//! Rows of a delimited file held while they are streamed: the records'
//! texts end to end in one buffer (each line copied once), and for each
//! column where its fields lie in it, so a column is checked, typed and
//! converted reading one small buffer front to back, instead of one heap
//! string per cell scattered over the heap.

use crate::read::Cell;

/// A cell as the checks and typing read it: a reader's cell, or the text of
/// a delimited file's field in a chunk (`""` is a blank field).
#[derive(Debug, Clone, Copy)]
pub(crate) enum CellRef<'a> {
    /// A cell of a sheet read whole (or of a row taken out of a chunk).
    Cell(&'a Cell),
    /// A field's text in a chunk.
    Text(&'a str),
}

impl<'a> CellRef<'a> {
    /// Empty, or text that is only white space (as [`Cell::is_blank`]).
    #[inline]
    pub(crate) fn is_blank(self) -> bool {
        match self {
            CellRef::Cell(c) => c.is_blank(),
            CellRef::Text(s) => crate::read::text_is_blank(s),
        }
    }

    /// The cell's text, when it is text.
    #[inline]
    pub(crate) fn text(self) -> Option<&'a str> {
        match self {
            CellRef::Cell(Cell::Text(s)) => Some(s),
            CellRef::Text(s) => Some(s),
            CellRef::Cell(_) => None,
        }
    }

    /// The cell as the report shows it (as [`Cell::display`]).
    pub(crate) fn display(self) -> String {
        match self {
            CellRef::Cell(c) => c.display(),
            CellRef::Text(s) => crate::text::trim(s).to_string(),
        }
    }
}

/// One column of a chunk: where each row's field lies in the chunk's text.
#[derive(Debug, Default)]
struct Column {
    /// Start and end of each row's field (equal when blank).
    spans: Vec<[u32; 2]>,
}

impl Column {
    #[inline]
    fn get<'t>(&self, text: &'t str, row: usize) -> &'t str {
        match self.spans.get(row) {
            Some(&[start, end]) => text.get(start as usize..end as usize).unwrap_or_default(),
            None => "",
        }
    }
}

/// Rows of a delimited file, column by column: each record's text copied
/// once, end to end with the others, and where each field lies in it.
/// Blank fields are held as empty text; the fields after a row's last
/// non-blank one are not kept.
#[derive(Debug, Default)]
pub(crate) struct ChunkColumns {
    /// The records' texts, one after another.
    text: String,
    columns: Vec<Column>,
    /// Each row's width: its fields up to the last non-blank one.
    widths: Vec<u32>,
    /// Bytes of the fields held.
    bytes: usize,
}

/// A field too long to be held in a chunk (over 4 GiB).
#[derive(Debug)]
pub(crate) struct FieldTooLong {
    /// 0-based column of the field.
    pub(crate) column: usize,
    /// Its length in bytes.
    pub(crate) bytes: usize,
}

impl ChunkColumns {
    /// No rows (the buffers keep their room for the next rows).
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        for column in &mut self.columns {
            column.spans.clear();
        }
        self.widths.clear();
        self.bytes = 0;
    }

    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.widths.len()
    }

    /// Bytes of the fields held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a row of `width` fields, field `c` being `record[span(c)]`
    /// (an empty span for a blank field): the record's text is copied once,
    /// up to the end of its last field.
    pub(crate) fn push_record(
        &mut self,
        record: &str,
        width: usize,
        span: impl Fn(usize) -> std::ops::Range<usize>,
    ) -> Result<(), FieldTooLong> {
        let rows = self.widths.len();
        while self.columns.len() < width {
            // A column no row before this one reached: blank in those rows.
            self.columns.push(Column {
                spans: vec![[0, 0]; rows],
            });
        }
        let base = self.text.len();
        let end = width
            .checked_sub(1)
            .map_or(0, |last| span(last).end)
            .min(record.len());
        // Spans lie in order: when the last ends below 4 GiB, all do.
        if u32::try_from(base + end).is_err() {
            let column = (0..width)
                .find(|&c| u32::try_from(base + span(c).end).is_err())
                .unwrap_or(width.saturating_sub(1));
            return Err(FieldTooLong {
                column,
                bytes: span(column).len(),
            });
        }
        self.text.push_str(record.get(..end).unwrap_or_default());
        for (c, column) in self.columns.iter_mut().enumerate() {
            let at = if c < width { span(c) } else { 0..0 };
            let (start, stop) = ((base + at.start) as u32, (base + at.end) as u32);
            column.spans.push([start, stop]);
            self.bytes += at.len();
        }
        self.widths.push(width as u32);
        Ok(())
    }

    /// Adds a row of `width` fields, `field(c)` the text of field `c`
    /// (blank fields should be given as `""`).
    #[cfg(test)]
    pub(crate) fn push_row<'f>(
        &mut self,
        width: usize,
        field: impl Fn(usize) -> &'f str,
    ) -> Result<(), FieldTooLong> {
        let mut record = String::new();
        let mut spans = Vec::with_capacity(width);
        for c in 0..width {
            let start = record.len();
            record.push_str(field(c));
            spans.push(start..record.len());
        }
        self.push_record(&record, width, |c| spans[c].clone())
    }

    /// Width of row `row` (see [`ChunkColumns::push_record`]).
    pub(crate) fn width(&self, row: usize) -> usize {
        self.widths.get(row).copied().unwrap_or(0) as usize
    }

    /// Text of field `column` of row `row` (`""` when blank or beyond the row).
    #[inline]
    pub(crate) fn text(&self, row: usize, column: usize) -> &str {
        self.columns
            .get(column)
            .map_or("", |c| c.get(&self.text, row))
    }

    /// Row `row` as cells (blank fields as [`Cell::Empty`]).
    pub(crate) fn row(&self, row: usize) -> Vec<Cell> {
        (0..self.width(row))
            .map(|c| match self.text(row, c) {
                "" => Cell::Empty,
                s => Cell::Text(s.to_string()),
            })
            .collect()
    }

    /// Whether row `row` has anything in it.
    pub(crate) fn is_filled(&self, row: usize) -> bool {
        (0..self.width(row)).any(|c| !crate::read::text_is_blank(self.text(row, c)))
    }
}

/// Data rows in file order, with their 0-based ordinals in the file, as
/// typing and conversion take them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rows<'r> {
    /// Rows of cells.
    Cells(&'r [(usize, &'r [Cell])]),
    /// Rows of a chunk: each row's ordinal and its index in the chunk.
    Picked(&'r ChunkColumns, &'r [(usize, usize)]),
}

impl<'r> Rows<'r> {
    /// Number of rows.
    pub(crate) fn len(self) -> usize {
        match self {
            Rows::Cells(rows) => rows.len(),
            Rows::Picked(_, picks) => picks.len(),
        }
    }

    /// No rows.
    pub(crate) fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The first `n` rows and the rest.
    pub(crate) fn split_at(self, n: usize) -> (Self, Self) {
        match self {
            Rows::Cells(rows) => {
                let (a, b) = rows.split_at(n.min(rows.len()));
                (Rows::Cells(a), Rows::Cells(b))
            }
            Rows::Picked(chunk, picks) => {
                let (a, b) = picks.split_at(n.min(picks.len()));
                (Rows::Picked(chunk, a), Rows::Picked(chunk, b))
            }
        }
    }

    /// Width of the widest row.
    pub(crate) fn width(self) -> usize {
        match self {
            Rows::Cells(rows) => rows.iter().map(|(_, r)| r.len()).max().unwrap_or(0),
            Rows::Picked(chunk, picks) => picks
                .iter()
                .map(|&(_, i)| chunk.width(i))
                .max()
                .unwrap_or(0),
        }
    }

    /// Calls `f` with each row's ordinal and its cell in column `column`,
    /// in order.
    #[inline]
    pub(crate) fn for_each_cell(self, column: usize, mut f: impl FnMut(usize, CellRef<'r>)) {
        for (ordinal, cell) in self.cells(column) {
            f(ordinal, cell);
        }
    }

    /// Each row's ordinal and its cell in column `column`, in order: a loop
    /// over them keeps its body where it is written (a callback per cell
    /// was called, not inlined, and paid a call for every cell).
    #[inline]
    pub(crate) fn cells(self, column: usize) -> Cells<'r> {
        Cells(match self {
            Rows::Cells(rows) => CellsOf::Cells {
                rows: rows.iter(),
                column,
            },
            Rows::Picked(chunk, picks) => CellsOf::Picked {
                text: chunk.text.as_str(),
                column: chunk.columns.get(column),
                picks: picks.iter(),
            },
        })
    }

    /// The rows as owned cells.
    pub(crate) fn to_owned(self) -> Vec<(usize, Vec<Cell>)> {
        match self {
            Rows::Cells(rows) => rows.iter().map(|(o, c)| (*o, c.to_vec())).collect(),
            Rows::Picked(chunk, picks) => picks.iter().map(|&(o, i)| (o, chunk.row(i))).collect(),
        }
    }
}

/// The cells of one column of [`Rows`] ([`Rows::cells`]).
pub(crate) struct Cells<'r>(CellsOf<'r>);

enum CellsOf<'r> {
    Cells {
        rows: std::slice::Iter<'r, (usize, &'r [Cell])>,
        column: usize,
    },
    Picked {
        text: &'r str,
        /// `None`: no row of the chunk reached the column.
        column: Option<&'r Column>,
        picks: std::slice::Iter<'r, (usize, usize)>,
    },
}

impl<'r> Iterator for Cells<'r> {
    type Item = (usize, CellRef<'r>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        const EMPTY: &Cell = &Cell::Empty;
        match &mut self.0 {
            CellsOf::Cells { rows, column } => rows.next().map(|(ordinal, cells)| {
                (*ordinal, CellRef::Cell(cells.get(*column).unwrap_or(EMPTY)))
            }),
            CellsOf::Picked {
                text,
                column,
                picks,
            } => picks.next().map(|&(ordinal, i)| {
                (
                    ordinal,
                    CellRef::Text(column.map_or("", |c| c.get(text, i))),
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(rows: &[&[&str]]) -> ChunkColumns {
        let mut chunk = ChunkColumns::default();
        for row in rows {
            chunk.push_row(row.len(), |c| row[c]).unwrap();
        }
        chunk
    }

    #[test]
    fn rows_of_different_widths_read_back_as_cells() {
        let rows: &[&[&str]] = &[&["a"], &["b", "", " c"], &[], &["", "d"]];
        let chunk = chunk(rows);
        assert_eq!(chunk.len(), 4);
        assert_eq!(chunk.bytes(), 1 + 1 + 2 + 1);
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<Cell> = row
                .iter()
                .map(|s| match *s {
                    "" => Cell::Empty,
                    s => Cell::Text(s.to_string()),
                })
                .collect();
            assert_eq!(chunk.row(i), cells, "row {i}");
        }
        assert_eq!(chunk.text(0, 2), "");
        assert_eq!(chunk.text(1, 2), " c");
        assert_eq!(chunk.text(3, 7), "");
        assert!(chunk.is_filled(0) && !chunk.is_filled(2));
    }

    #[test]
    fn picked_rows_give_their_cells_column_by_column() {
        let chunk = chunk(&[&["1", "x"], &["2"], &["3", "z", "extra"]]);
        let picks = [(10, 0), (12, 2)];
        let rows = Rows::Picked(&chunk, &picks);
        assert_eq!(rows.width(), 3);
        let mut seen = Vec::new();
        rows.for_each_cell(1, |o, cell| seen.push((o, cell.display())));
        assert_eq!(seen, [(10, "x".to_string()), (12, "z".to_string())]);
        let (a, b) = rows.split_at(1);
        assert_eq!(a.len(), 1);
        assert_eq!(b.to_owned()[0].1[2], Cell::Text("extra".into()));
        let mut far = Vec::new();
        rows.for_each_cell(9, |_, cell| far.push(cell.is_blank()));
        assert_eq!(far, [true, true]);
    }

    #[test]
    fn zero_width_text_is_blank_but_kept() {
        let chunk = chunk(&[&["\u{200B}"]]);
        assert!(!chunk.is_filled(0));
        assert_eq!(chunk.row(0), [Cell::Text("\u{200B}".into())]);
    }
}
