//! Table shape detection: where the table sits inside a sheet.
//!
//! Agency sheets put a title and a unit line (`单位：万元`) above the table, one
//! or more header rows (merged cells for groups such as `基本支出` over
//! `人员经费`/`公用经费`), a totals row (`合计`) first or last, blank rows and
//! footnotes (`注：…`, `制表人：…`) below. This module finds each part.

use crate::chunk::CellRef;
use crate::read::{Cell, Merge, Sheet};
use crate::text::{
    compacted, nfkc_stable, normalize, normalized, parse_date, parse_number, unit_line,
};
use serde::Serialize;
use std::borrow::Cow;

/// Where the parts of a table are, as 0-based row indices in the sheet as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Shape {
    /// Title rows' text, joined.
    pub title: Option<String>,
    /// Unit from a unit line, applying to numeric columns without their own unit.
    pub unit: Option<String>,
    /// First and last header row; `None` when the table has no header.
    pub header_rows: Option<(usize, usize)>,
    /// Columns with their source index and header path.
    pub columns: Vec<ShapeColumn>,
    /// Rows holding data.
    pub data_rows: Vec<usize>,
    /// Totals rows (合计/总计/小计), excluded from the data.
    pub totals_rows: Vec<usize>,
    /// Footnotes (row, text), excluded from the data.
    pub footnotes: Vec<(usize, String)>,
    /// Preamble rows above the header that are not title or unit (e.g. 编制单位).
    pub preamble: Vec<(usize, String)>,
    /// Blank rows skipped inside the table.
    pub blank_rows: usize,
    /// First row below the header (the first data row of a headerless table).
    #[serde(skip)]
    pub first_data: usize,
}

/// A column as found in the sheet.
#[derive(Debug, Clone, Serialize)]
pub struct ShapeColumn {
    /// 0-based column index in the sheet.
    pub index: usize,
    /// Header path, one element per header level, merged groups expanded.
    pub path: Vec<String>,
}

const FOOTNOTE_PREFIXES: &[&str] = &[
    "注",
    "说明",
    "备注:",
    "备注：",
    "资料来源",
    "数据来源",
    "来源:",
    "来源：",
    "制表",
    "填表",
    "填报人",
    "审核",
    "负责人",
    "单位负责人",
    "统计负责人",
    "联系人",
    "联系电话",
    "报出日期",
    "填报日期",
    "打印",
];

fn is_footnote_text(t: &str) -> bool {
    // Text NFKC leaves alone starts, once compacted, with its first
    // character that is not white space: most cells are told apart by it.
    if crate::text::all_nfkc_stable(t)
        && let Some(first) = crate::text::trim(t).chars().next()
        && first != '*'
        && !FOOTNOTE_PREFIXES.iter().any(|p| p.starts_with(first))
    {
        return false;
    }
    let c = compacted(t);
    FOOTNOTE_PREFIXES.iter().any(|p| c.starts_with(p)) || c.starts_with('*') || c.starts_with('※')
}

/// `合计`, `总计`, `小计`, `全市合计`, `合 计` …
pub fn is_totals_text(t: &str) -> bool {
    // Every totals word holds 计, 数 or a t; text NFKC leaves alone needs no more.
    if !might_be(t, &['计', '数', 't', 'T'], false) {
        return false;
    }
    let c = compacted(t);
    let c = c.trim_end_matches([':', '：']);
    matches!(
        c,
        "合计" | "总计" | "小计" | "共计" | "累计" | "总合计" | "全部合计" | "总数" | "合计数"
    ) || (c.chars().count() <= 8 && (c.ends_with("合计") || c.ends_with("总计")))
        || c.eq_ignore_ascii_case("total")
        || c.eq_ignore_ascii_case("grandtotal")
        || c.eq_ignore_ascii_case("subtotal")
}

fn cell_at(rows: &[Vec<Cell>], r: usize, c: usize) -> &Cell {
    rows.get(r)
        .and_then(|row| row.get(c))
        .unwrap_or(&Cell::Empty)
}

fn is_numeric(cell: &Cell) -> bool {
    match cell {
        Cell::Number(_) | Cell::Int(_) | Cell::DateTime(_) => true,
        Cell::Text(t) => parse_number(t).is_some() || parse_date(t, false).is_some(),
        _ => false,
    }
}

/// Counts of one row, for the few rows shape detection looks at above the
/// data (preamble and header); their texts are [`row_texts`].
#[derive(Clone, Copy)]
struct RowStats {
    distinct: u32,
    numeric: u32,
    filled: u32,
}

fn stats(row: &[Cell]) -> RowStats {
    let mut numeric = 0;
    let mut filled = 0;
    for cell in row {
        if cell.is_blank() {
            continue;
        }
        filled += 1;
        if is_numeric(cell) {
            numeric += 1;
        }
    }
    let distinct = if filled == 0 { 0 } else { distinct_texts(row) };
    RowStats {
        distinct: distinct as u32,
        numeric,
        filled,
    }
}

/// The most distinct texts in one row of a sheet (the table's width).
///
/// A row holds at most as many distinct texts as filled cells, so only the
/// rows with more filled cells than the widest row so far are compared
/// cell by cell: below a header of six columns, records of six cells cost a
/// count of their filled cells each.
pub(crate) fn width_of(rows: &[Vec<Cell>]) -> u32 {
    let mut width = 0;
    for row in rows {
        // Trailing blanks are left out of workbook rows: a row no longer
        // than the width so far cannot be wider.
        if row.len() <= width as usize {
            continue;
        }
        let filled = row.iter().filter(|c| !c.is_blank()).count();
        if filled > width as usize {
            width = width.max(distinct_texts(row) as u32);
        }
    }
    width
}

/// A filled cell's text as [`row_texts`] compares it, copied only when
/// normalising changes more than the surrounding space.
fn cell_text(cell: &Cell) -> Cow<'_, str> {
    match cell {
        Cell::Text(s) => normalized(s),
        Cell::Error(_) => Cow::Owned(normalize(&cell.display())),
        // Numbers, dates and booleans display in ASCII without space.
        other => Cow::Owned(other.display()),
    }
}

/// How many distinct normalised texts a row's filled cells hold.
fn distinct_texts(row: &[Cell]) -> usize {
    let mut seen: Vec<Cow<'_, str>> = Vec::new();
    let mut set: std::collections::HashSet<Cow<'_, str>> = std::collections::HashSet::new();
    for cell in row.iter().filter(|c| !c.is_blank()) {
        let t = cell_text(cell);
        if set.is_empty() && seen.len() < 32 {
            if !seen.contains(&t) {
                seen.push(t);
            }
        } else {
            if set.is_empty() {
                set.extend(seen.drain(..));
            }
            set.insert(t);
        }
    }
    seen.len() + set.len()
}

/// The distinct normalised texts of a row's filled cells, in order.
fn row_texts(row: &[Cell]) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for cell in row {
        if cell.is_blank() {
            continue;
        }
        let t = cell_text(cell).into_owned();
        if seen.insert(t.clone()) {
            texts.push(t);
        }
    }
    texts
}

/// Merged regions larger than this are ignored: real header and category
/// merges are far smaller, and expanding a sheet-sized merge would copy one
/// value into every cell of the sheet.
const MAX_MERGE_CELLS: usize = 1_000_000;

/// Bytes all expanded merges of a sheet may add (cells and copies of their
/// value's text); merges beyond are ignored. A merge copies its value into
/// every cell, so a long value over a large region would otherwise cost
/// region × value length.
const MAX_MERGE_EXPANSION_BYTES: usize = 256 << 20;

/// Copies each merged region's value into all its cells; returns the grid and
/// for each row whether it holds a horizontal merge. Without merges the
/// sheet's rows are borrowed, not copied.
fn expand_merges(sheet: &Sheet) -> (Cow<'_, [Vec<Cell>]>, Vec<bool>) {
    let mut horizontal = vec![false; sheet.rows.len()];
    let mut spent = 0usize;
    let usable: Vec<&Merge> = sheet
        .merges
        .iter()
        .filter(|m| {
            // Guard against absurd regions from corrupt or hostile files.
            if m.end.0 >= sheet.rows.len()
                || m.end.1 > m.start.1 + 10_000
                || m.end.0 < m.start.0
                || m.end.1 < m.start.1
            {
                return false;
            }
            let area = (m.end.0 - m.start.0 + 1).saturating_mul(m.end.1 - m.start.1 + 1);
            let text = match cell_at(&sheet.rows, m.start.0, m.start.1) {
                Cell::Text(t) | Cell::Error(t) => t.len(),
                _ => 0,
            };
            let cost = area.saturating_mul(std::mem::size_of::<Cell>() + text);
            if area > MAX_MERGE_CELLS || spent.saturating_add(cost) > MAX_MERGE_EXPANSION_BYTES {
                return false;
            }
            spent += cost;
            true
        })
        .collect();
    if usable.is_empty() {
        return (Cow::Borrowed(&sheet.rows), horizontal);
    }
    let mut rows = sheet.rows.clone();
    for m in usable {
        let value = cell_at(&rows, m.start.0, m.start.1).clone();
        for r in m.start.0..=m.end.0 {
            if m.end.1 > m.start.1 {
                horizontal[r] = true;
            }
            let row = &mut rows[r];
            if row.len() <= m.end.1 {
                row.resize(m.end.1 + 1, Cell::Empty);
            }
            for cell in &mut row[m.start.1..=m.end.1] {
                *cell = value.clone();
            }
        }
    }
    (Cow::Owned(rows), horizontal)
}

/// Finds the table in a sheet; `None` when the sheet holds no table.
pub fn detect(sheet: &Sheet) -> Option<Shape> {
    let (rows, horizontal_merge) = expand_merges(sheet);
    let rows: &[Vec<Cell>] = &rows;
    let width = width_of(rows);
    if width == 0 {
        return None;
    }
    let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);

    // 1. Preamble: title rows, unit line, notes above the header.
    let mut title: Vec<String> = Vec::new();
    let mut unit: Option<String> = None;
    let mut preamble = Vec::new();
    let mut r = 0;
    let wide = |s: &RowStats| s.distinct >= 2.max(width.div_ceil(2)) || s.distinct == width;
    while r < rows.len() {
        let s = &stats(&rows[r]);
        if s.filled == 0 {
            r += 1;
            continue;
        }
        let texts = row_texts(&rows[r]);
        let unit_here = texts.iter().find_map(|t| unit_line(t));
        if let Some(u) = unit_here.filter(|_| !wide(s) || s.distinct <= 3) {
            unit = Some(u);
            for t in &texts {
                if unit_line(t).is_none() {
                    preamble.push((r, t.clone()));
                }
            }
            r += 1;
            continue;
        }
        if wide(s) && width >= 2 {
            break;
        }
        if width == 1 {
            break;
        }
        if title.is_empty() && s.distinct == 1 && preamble.is_empty() {
            title.push(texts[0].clone());
        } else {
            preamble.push((r, texts.join(" ")));
        }
        r += 1;
    }
    if r >= rows.len() {
        return None;
    }

    // 2. Header rows: the first wide row, plus continuation rows below it.
    let h0 = r;
    let head = stats(&rows[h0]);
    let headerless = head.numeric * 2 > head.filled
        && rows
            .get(h0 + 1)
            .map(|r| stats(r))
            .is_some_and(|n| n.numeric * 2 > n.filled);
    // Header rows are edited (group headers filled rightwards) in a copy of
    // the few rows they can span, not of the whole sheet.
    let mut grid: Vec<Vec<Cell>> = rows[h0..(h0 + 6).min(rows.len())].to_vec();
    let mut h1 = h0;
    if !headerless {
        while h1 + 1 < rows.len() && h1 - h0 < 4 {
            let next = h1 + 1;
            let ns = &stats(&rows[next]);
            // A header row holds no numbers (a `合计` column header is still a header).
            if ns.filled == 0 || ns.numeric > 0 {
                break;
            }
            let (gh, gn) = (h1 - h0, next - h0);
            let first_filled = (0..ncols)
                .find(|&l| !cell_at(&grid, gh, l).is_blank())
                .unwrap_or(ncols);
            let spans = (0..ncols).any(|c| {
                let here = cell_at(&grid, gh, c);
                let right = cell_at(&grid, gh, c + 1);
                let below = cell_at(&grid, gn, c);
                (!here.is_blank() && here == right && !cell_at(&grid, gn, c + 1).is_blank())
                    || (here.is_blank() && !below.is_blank() && first_filled < c)
            }) || horizontal_merge.get(h1).copied().unwrap_or(false);
            let has_gaps = ns.filled < stats(&rows[h1]).filled
                || (0..ncols)
                    .any(|c| !cell_at(&grid, gh, c).is_blank() && cell_at(&grid, gn, c).is_blank());
            // Merged cells make the continuation row look complete once expanded.
            let merged_down = sheet
                .merges
                .iter()
                .any(|m| m.start.0 <= h1 && m.end.0 >= next);
            if !((spans && has_gaps) || merged_down) {
                break;
            }
            // Fill group headers rightwards over their sub-columns (CSV has no merges).
            for c in 1..ncols {
                if cell_at(&grid, gh, c).is_blank()
                    && !cell_at(&grid, gh, c - 1).is_blank()
                    && !cell_at(&grid, gn, c).is_blank()
                    && !cell_at(&grid, gn, c - 1).is_blank()
                {
                    let v = cell_at(&grid, gh, c - 1).clone();
                    if let Some(row) = grid.get_mut(gh) {
                        if row.len() <= c {
                            row.resize(c + 1, Cell::Empty);
                        }
                        row[c] = v;
                    }
                }
            }
            h1 = next;
        }
    }

    // 3. Data, totals, footnotes.
    let first_data = if headerless { h0 } else { h1 + 1 };
    let mut data_rows = Vec::new();
    let mut totals_rows = Vec::new();
    let mut footnotes = Vec::new();
    let mut blank_rows = 0;
    for (r, row) in rows.iter().enumerate().skip(first_data) {
        match classify_row(row) {
            RowClass::Blank => blank_rows += 1,
            RowClass::Footnote(text) => footnotes.push((r, text)),
            RowClass::UnitNote(text, u) => {
                if unit.is_none() {
                    unit = u;
                }
                footnotes.push((r, text));
            }
            RowClass::Totals => totals_rows.push(r),
            RowClass::Data => data_rows.push(r),
        }
    }
    // Trailing one-cell text rows below the data are notes, not records.
    while let Some(&last) = data_rows.last() {
        if let Some(text) = trailing_note_of(&rows[last], width) {
            footnotes.push((last, text));
            data_rows.pop();
        } else {
            break;
        }
    }
    footnotes.sort_by_key(|f| f.0);
    blank_rows -= trailing_blank(rows, data_rows.last().copied());

    // 4. Columns: a header path or at least one data value (one pass over
    // the data, not one per column: wide sparse sheets stay linear).
    let mut has_data = vec![false; ncols];
    for &r in &data_rows {
        for (c, cell) in rows[r].iter().enumerate() {
            if !has_data[c] && !cell.is_blank() {
                has_data[c] = true;
            }
        }
    }
    let mut columns = Vec::new();
    for (c, &has_data) in has_data.iter().enumerate() {
        let mut path: Vec<String> = Vec::new();
        if !headerless {
            for h in h0..=h1 {
                // Keep the header as written (μg/m³ stays ³); only white space is tidied.
                let t = tidy_header(&cell_at(&grid, h - h0, c).display());
                if !t.is_empty() && path.last() != Some(&t) {
                    path.push(t);
                }
            }
        }
        if !path.is_empty() || has_data {
            columns.push(ShapeColumn { index: c, path });
        }
    }
    if columns.is_empty() {
        return None;
    }
    Some(Shape {
        title: (!title.is_empty()).then(|| title.join(" ")),
        unit,
        header_rows: (!headerless).then_some((h0, h1)),
        columns,
        data_rows,
        totals_rows,
        footnotes,
        preamble,
        blank_rows,
        first_data,
    })
}

/// What a row below the header is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RowClass {
    /// Nothing in it.
    Blank,
    /// A note (`注：…`, `制表人：…`), with its text.
    Footnote(String),
    /// A unit line below the header, with its text and unit.
    UnitNote(String, Option<String>),
    /// 合计/总计/小计.
    Totals,
    /// A record.
    Data,
}

/// Classifies one row below the header, computing only what the decision
/// needs (most rows are plain records). Every row is judged on its own, so
/// a streamed file is classified exactly as a file read whole (except the
/// trailing notes, see [`trailing_note_of`]).
pub(crate) fn classify_row(row: &[Cell]) -> RowClass {
    if plainly_data(row) {
        return RowClass::Data;
    }
    classify_row_fully(row)
}

/// A row that is surely a record, told in one pass over the bytes of its
/// first three filled cells: three different texts NFKC leaves alone, none
/// holding what a totals word needs (计, 数, t), the first not starting as a
/// footnote does. [`classify_row`] would find it data, and it is no trailing
/// note (its texts differ).
pub(crate) fn plainly_data(row: &[Cell]) -> bool {
    plainly_data_of(row.iter().map(CellRef::Cell))
}

/// [`plainly_data`] of a row given cell by cell.
pub(crate) fn plainly_data_of<'a>(row: impl IntoIterator<Item = CellRef<'a>>) -> bool {
    let mut texts: [&str; 3] = [""; 3];
    let mut n = 0;
    for cell in row {
        if n == texts.len() {
            break;
        }
        if cell.is_blank() {
            continue;
        }
        let Some(s) = cell.text() else { return false };
        let Some(t) = plain_text(s) else { return false };
        texts[n] = t;
        n += 1;
    }
    n == texts.len() && three_plain_texts_say_data(texts)
}

/// The last test of [`plainly_data_of`], on the first three filled cells'
/// trimmed texts (each one NFKC leaves alone, holding no 计, 数 or `t`):
/// they differ, and the first does not start as a footnote does.
fn three_plain_texts_say_data(texts: [&str; 3]) -> bool {
    texts[0] != texts[1]
        && texts[0] != texts[2]
        && texts[1] != texts[2]
        && texts[0]
            .chars()
            .next()
            .is_some_and(|c| c != '*' && !FOOTNOTE_PREFIXES.iter().any(|p| p.starts_with(c)))
}

/// [`plainly_data_of`] of a delimited record: field `i` of `record` lies at
/// `spans[i]`, empty when the field is blank. The bytes from the first
/// filled field to the third are read in one pass ([`plain_bytes`]); the
/// delimiters between them are ASCII other than `t`, so they change nothing.
pub(crate) fn plainly_data_in_record(record: &str, spans: &[std::ops::Range<usize>]) -> bool {
    let mut filled = spans.iter().filter(|s| !s.is_empty());
    let (Some(a), Some(b), Some(c)) = (filled.next(), filled.next(), filled.next()) else {
        return false;
    };
    // The record's bytes from the first field on: those past the third
    // field are read only to skip a copy (see `plain_prefix`).
    let Some(bytes) = record.as_bytes().get(a.start..) else {
        return false;
    };
    let Some(len) = c.end.checked_sub(a.start) else {
        return false;
    };
    if !plain_prefix(bytes, len) {
        return false;
    }
    let text =
        |s: &std::ops::Range<usize>| crate::text::trim(record.get(s.clone()).unwrap_or_default());
    let texts = [text(a), text(b), text(c)];
    texts.iter().all(|t| !t.is_empty()) && three_plain_texts_say_data(texts)
}

/// Whether UTF-8 `b` is all characters [`plain_text`] accepts: ASCII other
/// than `t` and `T`, and U+4E00–U+9FFF (lead bytes E4 from B8 on, E5–E9)
/// other than 计 (E8 AE A1) and 数 (E6 95 B0).
#[cfg(test)]
fn plain_bytes(b: &[u8]) -> bool {
    plain_prefix(b, b.len())
}

/// [`plain_bytes`] of `b[..len]`, where `b` may go on past `len` (a record
/// past its third field). Read [`PLAIN_WINDOW`] bytes at a time, each
/// byte with the two after it ([`plain_window`]). A window is first read
/// where it lies in `b`, bytes past `len` and all: when none of its bytes
/// is odd, none before `len` is. Otherwise (or near the end of `b`) the
/// bytes before `len` are copied into a window whose other bytes are 0,
/// which is plain, and read again. Reading in place spares most records
/// the copy, and a copy read back at every offset stalls each read on the
/// writes before it.
fn plain_prefix(b: &[u8], len: usize) -> bool {
    let len = len.min(b.len());
    let mut at = 0;
    loop {
        let in_place = b
            .get(at..at + PLAIN_WINDOW + 2)
            .and_then(|w| <&[u8; PLAIN_WINDOW + 2]>::try_from(w).ok());
        let plain = match in_place {
            Some(window) if plain_window(window) => true,
            _ => {
                let end = (at + PLAIN_WINDOW + 2).min(len);
                let mut window = [0u8; PLAIN_WINDOW + 2];
                window[..end - at].copy_from_slice(&b[at..end]);
                plain_window(&window)
            }
        };
        if !plain {
            return false;
        }
        if at + PLAIN_WINDOW >= len {
            return true;
        }
        at += PLAIN_WINDOW;
    }
}

/// Whether no byte of the first [`PLAIN_WINDOW`] of `window` is odd, read
/// with the two after it, without a branch per byte (the compiler reads
/// the window a vector at a time).
#[inline]
fn plain_window(window: &[u8; PLAIN_WINDOW + 2]) -> bool {
    let mut bad = [0u8; PLAIN_WINDOW];
    for (i, flag) in bad.iter_mut().enumerate() {
        let (x, y, z) = (window[i], window[i + 1], window[i + 2]);
        *flag = u8::from(x | 0x20 == b't')
            | u8::from((x >= 0xC0) & (x.wrapping_sub(0xE4) > 5))
            | u8::from((x == 0xE4) & (y < 0xB8))
            | u8::from((x == 0xE8) & (y == 0xAE) & (z == 0xA1))
            | u8::from((x == 0xE6) & (y == 0x95) & (z == 0xB0));
    }
    bad.iter().fold(0, |a, &f| a | f) == 0
}

/// Bytes [`plain_bytes`] reads at a time.
const PLAIN_WINDOW: usize = 64;

/// `s` trimmed, when every character is one NFKC leaves alone (read by lead
/// byte as in [`crate::text::all_nfkc_stable`]) and none is 计, 数, `t` or
/// `T`; else `None`.
fn plain_text(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    if s.is_ascii() {
        // Only `t` and `T` are not plain (read without branching per byte).
        let has_t = b.iter().fold(false, |t, &x| t | (x | 0x20 == b't'));
        return (!has_t).then(|| crate::text::trim(s));
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b't' | b'T' => return None,
            0x00..=0x7F => i += 1,
            lead @ 0xE4..=0xE9 => {
                let (x, y) = (b.get(i + 1).copied()?, b.get(i + 2).copied()?);
                let cjk = lead != 0xE4 || x >= 0xB8;
                // 计 is E8 AE A1, 数 E6 95 B0.
                let totals_mark = matches!((lead, x, y), (0xE8, 0xAE, 0xA1) | (0xE6, 0x95, 0xB0));
                if !cjk || totals_mark {
                    return None;
                }
                i += 3;
            }
            _ => return None,
        }
    }
    Some(crate::text::trim(s))
}

/// [`classify_row`] without the shortcut for plain records.
pub(crate) fn classify_row_fully(row: &[Cell]) -> RowClass {
    let Some(first) = row.iter().find(|c| !c.is_blank()) else {
        return RowClass::Blank;
    };
    let mut distinct: Option<usize> = None;
    let mut distinct = || *distinct.get_or_insert_with(|| distinct_texts(row));
    let footnote = match first {
        Cell::Text(s) => is_footnote_text(s),
        other => is_footnote_text(&cell_text(other)),
    };
    if footnote && distinct() <= 3 {
        return RowClass::Footnote(row_texts(row).join(" "));
    }
    if !three_texts_differ(row) && might_name_a_unit(row) && distinct() <= 2 {
        let texts = row_texts(row);
        if texts.iter().any(|t| unit_line(t).is_some()) {
            let unit = texts.iter().find_map(|t| unit_line(t));
            return RowClass::UnitNote(texts.join(" "), unit);
        }
    }
    if is_totals_row(row) {
        return RowClass::Totals;
    }
    RowClass::Data
}

/// Whether three of the row's first filled text cells surely hold distinct
/// normalised texts (then the row is not a one- or two-text unit line): text
/// NFKC leaves alone normalises to itself trimmed.
fn three_texts_differ(row: &[Cell]) -> bool {
    let mut seen: [&str; 3] = [""; 3];
    let mut n = 0;
    for cell in row.iter().filter(|c| !c.is_blank()).take(3) {
        let Cell::Text(s) = cell else { return false };
        if !crate::text::all_nfkc_stable(s) {
            return false;
        }
        let t = crate::text::trim(s);
        if seen[..n].contains(&t) {
            return false;
        }
        seen[n] = t;
        n += 1;
    }
    n == 3
}

/// Whether some cell could hold a unit line once normalised: it has a `单`
/// and a `位` (what `单位` needs) or characters normalising may change.
fn might_name_a_unit(row: &[Cell]) -> bool {
    row.iter().any(|c| match c {
        Cell::Text(s) => might_be(s, &['单', '位'], true),
        Cell::Error(_) => true,
        _ => false,
    })
}

/// Whether `s` holds (`all`: every one; else: any) of the `marks`, or a
/// character NFKC might change into one. One pass over the bytes; ASCII and
/// CJK ideographs are read by lead byte (see [`crate::text::all_nfkc_stable`]).
fn might_be(s: &str, marks: &[char], all: bool) -> bool {
    let b = s.as_bytes();
    let byte = |i: usize| u32::from(b.get(i).copied().unwrap_or(0) & 0x3F);
    let mut found = 0u32;
    let mut i = 0;
    while i < b.len() {
        let (width, code) = match b[i] {
            x @ 0x00..=0x7F => (1, u32::from(x)),
            x @ 0xE5..=0xE9 => (
                3,
                (u32::from(x & 0x0F) << 12) | (byte(i + 1) << 6) | byte(i + 2),
            ),
            0xE4 if b.get(i + 1).is_some_and(|&y| y >= 0xB8) => {
                (3, (0x4 << 12) | (byte(i + 1) << 6) | byte(i + 2))
            }
            _ => match s.get(i..).and_then(|rest| rest.chars().next()) {
                Some(c) if nfkc_stable(c) => (c.len_utf8(), u32::from(c)),
                _ => return true,
            },
        };
        for (k, m) in marks.iter().enumerate() {
            if u32::from(*m) == code {
                found |= 1 << k;
                if !all || found.count_ones() as usize == marks.len() {
                    return true;
                }
            }
        }
        i += width;
    }
    false
}

/// A one-cell text row that, when only such rows follow it to the end of
/// the table, is a note rather than a record; its text. All filled cells
/// hold the same text, which is neither a number nor a date.
pub(crate) fn trailing_note_of(row: &[Cell], width: u32) -> Option<String> {
    if width < 3 {
        return None;
    }
    let mut filled = row.iter().filter(|c| !c.is_blank());
    let first = cell_text(filled.next()?);
    if filled.any(|c| cell_text(c) != first) || row.iter().any(is_numeric) {
        return None;
    }
    Some(first.into_owned()).filter(|t| t.chars().count() > 4)
}

/// Trims a header and folds inner line breaks and runs of spaces to one space.
/// A header cell as the column's path holds it: white space tidied, and an
/// identifier written into the header masked (headers are published as
/// the data dictionary and become column names).
fn tidy_header(s: &str) -> String {
    crate::privacy::clean_text(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn trailing_blank(rows: &[Vec<Cell>], last_data: Option<usize>) -> usize {
    let Some(last) = last_data else { return 0 };
    rows[last + 1..]
        .iter()
        .filter(|r| r.iter().all(Cell::is_blank))
        .count()
}

fn is_totals_row(row: &[Cell]) -> bool {
    row.iter()
        .filter(|c| !c.is_blank())
        .take(3)
        .any(|c| matches!(c, Cell::Text(t) if is_totals_text(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_records_are_told_as_the_full_classification_tells_them() {
        let cells = [
            "ZFCG-00000001",
            "大束镇",
            "竞争性磋商",
            "供应商3235有限公司",
            "8102.11",
            "合计",
            "总计",
            "小计:",
            "Total",
            "注:数据来源",
            "注",
            "说明",
            "单位:万元",
            "单位：元",
            "*",
            "※备注",
            " 大束镇 ",
            "大束镇",
            "ｔｏｔａｌ",
            "全市合计",
            "人数",
            "",
            " ",
            "\u{200B}",
            "制表人:张三",
            "3",
            "2024-02-27",
            "城关镇",
            "①",
            "计划",
            "合 计",
        ];
        let mut rows = 0;
        let mut plain = 0;
        let mut x = 7u64;
        for _ in 0..20_000 {
            let width = 2 + (x % 5) as usize;
            let row: Vec<Cell> = (0..width)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    match cells[(x % cells.len() as u64) as usize] {
                        "" => Cell::Empty,
                        "3" if x.is_multiple_of(2) => Cell::Int(3),
                        t => Cell::Text(t.into()),
                    }
                })
                .collect();
            rows += 1;
            if plainly_data(&row) {
                plain += 1;
                assert_eq!(classify_row_fully(&row), RowClass::Data, "{row:?}");
                assert_eq!(trailing_note_of(&row, 6), None, "{row:?}");
            }
        }
        // Enough rows of both kinds for the comparison to mean something.
        assert!(
            plain > 500 && rows - plain > 500,
            "{plain} of {rows} rows taken as plain"
        );
        assert!(plainly_data(&[
            Cell::Text("ZFCG-00000000".into()),
            Cell::Text("大束镇".into()),
            Cell::Text("竞争性磋商".into()),
        ]));
        for not_plain in [
            ["合计", "大束镇", "1"],
            ["注:本表", "大束镇", "1"],
            ["大束镇", "大束镇", "1"],
            ["人数", "大束镇", "1"],
            ["Ｔotal", "大束镇", "1"],
        ] {
            let row: Vec<Cell> = not_plain.iter().map(|t| Cell::Text((*t).into())).collect();
            assert!(!plainly_data(&row), "{not_plain:?}");
        }
    }

    #[test]
    fn a_delimited_record_is_told_plain_as_its_cells_are() {
        let cells = [
            "ZFCG-00000001",
            "大束镇",
            "竞争性磋商",
            "供应商3235有限公司",
            " 8102.11 ",
            "合计",
            "人数",
            "Total",
            "ｔｏｔａｌ",
            "注:数据来源",
            "*",
            "一丁",
            "䷀",
            "㐀",
            "café",
            "①",
            "",
            " ",
            "\u{200B}",
            "城关镇",
            "计划",
            "2024-02-27",
        ];
        let mut x = 11u64;
        let (mut plain, mut rows) = (0, 0);
        for _ in 0..20_000 {
            let width = 2 + (x % 5) as usize;
            let mut record = String::new();
            let mut spans = Vec::new();
            let mut kept = Vec::new();
            for c in 0..width {
                let f = cells[(crate::xorshift(&mut x) % cells.len() as u64) as usize];
                if c > 0 {
                    record.push(',');
                }
                let start = record.len();
                record.push_str(f);
                // As the reader keeps fields: white space only is blank.
                if crate::text::trim(f).is_empty() {
                    spans.push(start..start);
                    kept.push("");
                } else {
                    spans.push(start..record.len());
                    kept.push(f);
                }
            }
            let by_cells = plainly_data_of(kept.iter().map(|f| CellRef::Text(f)));
            let by_record = plainly_data_in_record(&record, &spans);
            rows += 1;
            plain += usize::from(by_record);
            if kept.contains(&"\u{200B}") {
                // Zero-width text is blank to the cells' test; the record's
                // sends the row to the full classification instead.
                assert!(!by_record || by_cells, "{record:?}");
            } else {
                assert_eq!(by_record, by_cells, "{record:?}");
            }
        }
        assert!(plain > 500 && rows - plain > 500, "{plain} of {rows}");
    }

    #[test]
    fn a_sheet_is_as_wide_as_its_row_of_most_distinct_texts() {
        // Rows of repeated, blank, numeric and distinct cells, of varied
        // lengths: the width skips rows that cannot be wider, and must still
        // be the most distinct texts of any one row.
        let pool = [
            Cell::Empty,
            Cell::Text(" ".into()),
            Cell::Text("甲".into()),
            Cell::Text(" 甲 ".into()),
            Cell::Text("乙".into()),
            Cell::Text("ｔｏｔａｌ".into()),
            Cell::Text("total".into()),
            Cell::Number(1.0),
            Cell::Int(1),
            Cell::Text("1".into()),
            Cell::Number(2.5),
        ];
        let mut x = 7u64;
        for _ in 0..300 {
            let rows: Vec<Vec<Cell>> = (0..1 + crate::xorshift(&mut x) % 12)
                .map(|_| {
                    (0..crate::xorshift(&mut x) % 9)
                        .map(|_| {
                            pool[(crate::xorshift(&mut x) % pool.len() as u64) as usize].clone()
                        })
                        .collect()
                })
                .collect();
            let each = rows
                .iter()
                .map(|r| {
                    if r.iter().all(Cell::is_blank) {
                        0
                    } else {
                        distinct_texts(r) as u32
                    }
                })
                .max()
                .unwrap_or(0);
            assert_eq!(width_of(&rows), each, "{rows:?}");
        }
        assert_eq!(width_of(&[]), 0);
    }

    #[test]
    fn bytes_are_read_plain_across_window_edges() {
        for k in 0..3 * PLAIN_WINDOW {
            let pad = "a".repeat(k);
            assert!(plain_bytes(format!("{pad}大束镇").as_bytes()), "{k}");
            for odd in ["计", "数", "t", "T", "䷀", "é", "①"] {
                let text = format!("{pad}{odd}大束镇");
                assert!(!plain_bytes(text.as_bytes()), "{odd} after {k} bytes");
                assert_eq!(plain_text(&text), None, "{odd} after {k} bytes");
                // Only the bytes before the end given are read as
                // characters, with the rest of the record short or long.
                for tail in [1, 70] {
                    let record = format!("{pad}大束镇,{odd},{}", "b".repeat(tail));
                    let end = pad.len() + "大束镇".len();
                    assert!(plain_prefix(record.as_bytes(), end), "{odd} after {k}");
                    let past = end + 1 + odd.len();
                    assert!(!plain_prefix(record.as_bytes(), past), "{odd} after {k}");
                }
            }
        }
    }

    fn sheet(csv: &str) -> Sheet {
        Sheet {
            name: "Sheet1".into(),
            hidden: false,
            rows: csv
                .lines()
                .map(|l| {
                    l.split(',')
                        .map(|c| {
                            if c.is_empty() {
                                Cell::Empty
                            } else {
                                Cell::Text(c.into())
                            }
                        })
                        .collect()
                })
                .collect(),
            merges: vec![],
        }
    }

    #[test]
    fn the_byte_prechecks_agree_with_the_plain_ones() {
        for s in [
            "合计",
            "合 计",
            "总数",
            "Total",
            "城关镇",
            "单位：万元",
            "单",
            "位",
            "（单位）",
            "ｔｏｔａｌ",
            "、合计",
            "abc",
            "",
            "㐀计",
            "供应商12有限公司",
            "位单",
            "é单位",
        ] {
            let unstable = s.chars().any(|c| !nfkc_stable(c));
            let unit = unstable || (s.contains('单') && s.contains('位'));
            assert_eq!(might_be(s, &['单', '位'], true), unit, "{s}");
            let totals = unstable || s.contains(['计', '数', 't', 'T']);
            assert_eq!(might_be(s, &['计', '数', 't', 'T'], false), totals, "{s}");
        }
    }

    #[test]
    fn title_unit_two_level_header_totals_footnote() {
        let s = sheet(
            "2023年部门预算支出表,,,,,\n单位:万元,,,,,\n科目编码,科目名称,合计,基本支出,基本支出,项目支出\n\
             ,,,人员经费,公用经费,\n,合计,300,100,100,100\n201,一般公共服务,150,50,50,50\n\
             20101,人大事务,150,50,50,50\n,,,,,\n注：本表为示例。,,,,,",
        );
        let shape = detect(&s).unwrap();
        assert_eq!(shape.title.as_deref(), Some("2023年部门预算支出表"));
        assert_eq!(shape.unit.as_deref(), Some("万元"));
        assert_eq!(shape.header_rows, Some((2, 3)));
        assert_eq!(shape.data_rows, vec![5, 6]);
        assert_eq!(shape.totals_rows, vec![4]);
        assert_eq!(shape.footnotes.len(), 1);
        let paths: Vec<_> = shape.columns.iter().map(|c| c.path.join("/")).collect();
        assert_eq!(
            paths,
            [
                "科目编码",
                "科目名称",
                "合计",
                "基本支出/人员经费",
                "基本支出/公用经费",
                "项目支出"
            ]
        );
    }

    #[test]
    fn group_header_with_blank_continuation_cell() {
        let s = sheet("地区,基本支出,,备注\n,人员经费,公用经费,\n城关镇,1,2,x\n");
        let shape = detect(&s).unwrap();
        assert_eq!(shape.header_rows, Some((0, 1)));
        let paths: Vec<_> = shape.columns.iter().map(|c| c.path.join("/")).collect();
        assert_eq!(
            paths,
            ["地区", "基本支出/人员经费", "基本支出/公用经费", "备注"]
        );
    }

    #[test]
    fn huge_or_costly_merges_are_not_expanded() {
        let mut s = sheet("名称,数量\n甲,1\n乙,2\n");
        s.rows.resize(2_000, Vec::new());
        s.rows[1_999] = vec![Cell::Text("丙".into()), Cell::Text("3".into())];
        // Sheet-sized: 2 000 rows × 10 001 columns.
        s.merges.push(Merge {
            start: (0, 0),
            end: (1_999, 10_000),
        });
        let shape = detect(&s).unwrap();
        assert_eq!(shape.data_rows, vec![1, 2, 1_999]);

        // A 1 MiB value over 1 000 cells would copy 1 GB.
        let mut s = sheet("名称,数量\n甲,1\n乙,2\n");
        s.rows[1][0] = Cell::Text("长".repeat(350_000));
        s.rows
            .resize(1_000, vec![Cell::Empty, Cell::Text("9".into())]);
        s.merges.push(Merge {
            start: (1, 0),
            end: (999, 0),
        });
        let (rows, _) = expand_merges(&s);
        assert!(matches!(rows, Cow::Borrowed(_)));

        // An ordinary category merge is expanded.
        let mut s = sheet("地区,镇,数量\n东区,甲镇,1\n,乙镇,2\n");
        s.merges.push(Merge {
            start: (1, 0),
            end: (2, 0),
        });
        let (rows, _) = expand_merges(&s);
        assert_eq!(rows[2][0], Cell::Text("东区".into()));
    }

    #[test]
    fn plain_table() {
        let s = sheet("姓名,金额\n张三,1\n李四,2\n");
        let shape = detect(&s).unwrap();
        assert_eq!(shape.header_rows, Some((0, 0)));
        assert_eq!(shape.data_rows, vec![1, 2]);
        assert!(shape.title.is_none());
    }

    #[test]
    fn text_only_rows_below_a_header_are_data() {
        let s = sheet("文号,名称,类别\n罚字1号,某公司,警告\n罚字2号,某厂,罚款\n");
        let shape = detect(&s).unwrap();
        assert_eq!(shape.header_rows, Some((0, 0)));
        assert_eq!(shape.data_rows, vec![1, 2]);
    }
}
