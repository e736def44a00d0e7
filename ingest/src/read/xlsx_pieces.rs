//! Large XLSX worksheets read in pieces, side by side.
//!
//! calamine reads a worksheet's XML from start to end on one thread. A large
//! worksheet's rows are cut into as many pieces as there are cores, at row
//! boundaries (`<row r="…">`), and each piece is read on its own thread:
//! by the quick reader of [`super::xlsx_scan`] when the piece holds only the
//! common cell forms (calamine then reads just the shared strings and number
//! styles the piece uses, from a small probe sheet), otherwise by calamine,
//! the piece wrapped as a small workbook of its own (the same workbook,
//! styles and shared strings, the worksheet holding only those rows, stored
//! uncompressed). Cells keep their positions, since every piece starts at a
//! row that names its number. Whenever anything is unexpected — the sheet
//! cannot be found or cut, a piece fails, a cell lands outside its piece's
//! rows — the caller reads the sheet whole the usual way, so errors and
//! results never depend on the cutting.

use super::Cell;
use super::xlsx_scan::{Raw, RawCell};
use calamine::{DataRef, ExcelDateTime, ExcelDateTimeType, Reader, Xlsx};
use std::io::{Cursor, Read};
use zip::ZipArchive;
use zip::write::{SimpleFileOptions, ZipWriter};

/// Worksheets smaller than this (inflated XML) are read whole.
const MIN_PIECES_BYTES: u64 = 2 << 20;
/// Worksheets larger than this are read whole, bounded cell by cell (the
/// pieces hold their cells before the limits are applied to them).
const MAX_PIECES_BYTES: u64 = 64 << 20;
/// The XML of all worksheets a workbook keeps for reading in pieces.
const MAX_KEPT_BYTES: u64 = 128 << 20;

/// Whether a worksheet whose XML inflates to `size` bytes is read in pieces
/// (so the archive check keeps its XML), `kept` bytes being kept already.
pub(super) fn worth_cutting(size: u64, kept: u64) -> bool {
    crate::parallel::threads() >= 2
        && (MIN_PIECES_BYTES..=MAX_PIECES_BYTES).contains(&size)
        && kept + size <= MAX_KEPT_BYTES
}

/// Workbooks whose shared strings take more memory than this are read whole:
/// every piece holds a copy of them.
pub(super) const MAX_SHARED_STRINGS_BYTES: usize = 32 << 20;

/// A row read from a piece: its 0-based number and its cells up to its
/// last non-blank one (the blank ones before it `Empty`).
pub(super) type PlacedRow = (u32, Vec<Cell>);

/// Where a workbook's worksheets are stored, in workbook order, and the XML
/// of those worth reading in pieces.
pub(super) struct Pieces<'a> {
    bytes: &'a [u8],
    /// Each sheet's part in the archive, in the order calamine lists sheets.
    paths: Vec<Option<String>>,
    /// Inflated worksheets by part name, as the archive check kept them.
    worksheets: Vec<(String, Vec<u8>)>,
}

impl<'a> Pieces<'a> {
    /// Finds the worksheets' parts of an XLSX archive the way calamine does
    /// (package relationships → workbook → its relationships); `None` when
    /// no worksheet was kept or the archive is laid out unexpectedly.
    pub(super) fn new(bytes: &'a [u8], worksheets: Vec<(String, Vec<u8>)>) -> Option<Self> {
        if worksheets.is_empty() {
            return None;
        }
        let mut zip = ZipArchive::new(Cursor::new(bytes)).ok()?;
        let package = part(&mut zip, "_rels/.rels", 1 << 20)?;
        let workbook = relationships(&package)
            .into_iter()
            .find(|r| r.kind.ends_with("/officeDocument"))?
            .target;
        let workbook = workbook.strip_prefix('/').unwrap_or(&workbook).to_string();
        let (dir, name) = match workbook.rfind('/') {
            Some(i) => workbook.split_at(i + 1),
            None => ("", workbook.as_str()),
        };
        let rels = relationships(&part(
            &mut zip,
            &format!("{dir}_rels/{name}.rels"),
            4 << 20,
        )?);
        let xml = part(&mut zip, &workbook, 16 << 20)?;
        let paths = tags(&xml, b"<sheet")
            .map(|tag| {
                let id = attribute(tag, b"r:id")?;
                let rel = rels.iter().find(|r| r.id == id)?;
                if !rel.kind.ends_with("/worksheet") {
                    return None;
                }
                Some(match rel.target.strip_prefix('/') {
                    Some(absolute) => absolute.to_string(),
                    None => format!("{dir}{}", rel.target),
                })
            })
            .collect();
        Some(Pieces {
            bytes,
            paths,
            worksheets,
        })
    }

    /// The rows of the `index`-th sheet (named `name`) that hold a
    /// non-blank cell, in order; `None` when it is better or necessary to
    /// read the sheet whole. The sheet's kept XML is let go.
    pub(super) fn rows(&mut self, index: usize, name: &str) -> Option<Vec<PlacedRow>> {
        let path = self.paths.get(index)?.as_deref()?;
        let at = self.worksheets.iter().position(|(part, _)| part == path)?;
        let (_, xml) = self.worksheets.swap_remove(at);
        let cuts = cut(&xml, crate::parallel::threads())?;
        let pieces: Vec<_> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        let dir = path.rfind('/').map_or("", |i| &path[..=i]);
        let (head, tail) = (&xml[..cuts[0].0], &xml[cuts[cuts.len() - 1].0..]);
        let read = crate::parallel::map(pieces, |((from, first_row), (to, next_row))| {
            let rows = match super::xlsx_scan::scan(&xml[from..to], first_row) {
                Some(cells) => {
                    let probe =
                        |rows: &[u8]| workbook_with(self.bytes, path, dir, &[head, rows, tail]);
                    resolve(cells, probe, name)?
                }
                None => {
                    let archive =
                        workbook_with(self.bytes, path, dir, &[head, &xml[from..to], tail])?;
                    read_rows(archive, name)?
                }
            };
            // Every cell must lie in its piece's rows.
            rows.iter()
                .all(|(r, _)| *r >= first_row && *r < next_row)
                .then_some(rows)
        });
        let mut all = Vec::new();
        for piece in read {
            all.extend(piece?);
        }
        Some(all)
    }
}

/// Where the rows of a worksheet's `<sheetData>` are cut: the start of the
/// rows, the row tags the pieces start at, the end of the rows — each with
/// the 0-based row number there (the end's is `u32::MAX`).
fn cut(xml: &[u8], pieces: usize) -> Option<Vec<(usize, u32)>> {
    let open = memchr::memmem::find(xml, b"<sheetData>")? + b"<sheetData>".len();
    let close = memchr::memmem::rfind(xml, b"</sheetData>")?;
    if close <= open {
        return None;
    }
    let mut cuts = vec![(open, 0)];
    for i in 1..pieces {
        let target = open + (close - open) / pieces * i;
        let at = target.max(cuts[cuts.len() - 1].0 + 1);
        let Some(found) = memchr::memmem::find(xml.get(at..close)?, b"<row ") else {
            break;
        };
        let start = at + found;
        let end = start + memchr::memchr(b'>', &xml[start..close])?;
        let number: u32 = attribute(&xml[start..end], b"r")?.parse().ok()?;
        cuts.push((start, number.checked_sub(1)?));
    }
    if cuts.len() < 2 {
        return None;
    }
    // The first piece starts at row 0 (its rows may not name their numbers).
    cuts.push((close, u32::MAX));
    Some(cuts)
}

/// The archive again, the worksheet at `path` holding only `body` (stored)
/// and the other worksheets left out.
fn workbook_with(bytes: &[u8], path: &str, dir: &str, body: &[&[u8]]) -> Option<Vec<u8>> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).ok()?;
    // Room for it all at once: growing a large buffer step by step costs
    // more than copying into it.
    let size = body.iter().map(|b| b.len()).sum::<usize>() + bytes.len() + 4096;
    let mut out = ZipWriter::new(Cursor::new(Vec::with_capacity(size)));
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).ok()?;
        let name = entry.name().ok()?.to_string();
        if name == path {
            drop(entry);
            let options =
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
            out.start_file(name, options).ok()?;
            for b in body {
                std::io::Write::write_all(&mut out, b).ok()?;
            }
        } else if !(name.starts_with(dir) && name.ends_with(".xml")) {
            out.raw_copy_file(entry).ok()?;
        }
    }
    Some(out.finish().ok()?.into_inner())
}

/// A piece's rows as calamine reads their cells, laid out on the piece's
/// thread; `None` on any error, or when a row comes after a later one.
fn read_rows(archive: Vec<u8>, name: &str) -> Option<Vec<PlacedRow>> {
    let mut wb = Xlsx::new(Cursor::new(archive)).ok()?;
    let mut reader = wb.worksheet_cells_reader(name).ok()?;
    let mut rows = Rows::default();
    while let Some(c) = reader.next_cell().ok()? {
        let (r, col) = c.get_position();
        rows.put(r, col, super::workbook::convert_ref(c.get_value()))?;
    }
    Some(rows.0)
}

/// Cells read quickly ([`super::xlsx_scan`]) as calamine would give them:
/// calamine reads a small worksheet made by `probe` (the workbook with the
/// sheet's rows replaced) holding one cell per shared string and per
/// style of a number the piece uses, and tells how it reads each.
fn resolve(
    cells: Vec<RawCell>,
    probe: impl Fn(&[u8]) -> Option<Vec<u8>>,
    name: &str,
) -> Option<Vec<PlacedRow>> {
    use std::collections::HashMap;
    // What to ask: each number style and shared string once, in the order
    // the piece first uses them (probe row k + 1 asks question k).
    let mut styles: HashMap<u32, usize> = HashMap::new();
    let mut strings: HashMap<u32, usize> = HashMap::new();
    let mut asked = String::new();
    for (_, _, raw) in &cells {
        let next = styles.len() + strings.len();
        let cell = match raw {
            Raw::Number(_, Some(s)) if !styles.contains_key(s) => {
                styles.insert(*s, next);
                format!(r#"s="{s}"><v>1</v>"#)
            }
            Raw::Shared(i) if !strings.contains_key(i) => {
                strings.insert(*i, next);
                format!(r#"t="s"><v>{i}</v>"#)
            }
            _ => continue,
        };
        let row = next + 1;
        asked.push_str(&format!(r#"<row r="{row}"><c r="A{row}" {cell}</c></row>"#));
    }
    let mut answers: Vec<Option<Answer>> = Vec::new();
    answers.resize_with(styles.len() + strings.len(), || None);
    let mut is_1904 = false;
    if !answers.is_empty() {
        let mut wb = Xlsx::new(Cursor::new(probe(asked.as_bytes())?)).ok()?;
        is_1904 = wb.has_1904_epoch();
        let mut reader = wb.worksheet_cells_reader(name).ok()?;
        while let Some(c) = reader.next_cell().ok()? {
            let answer = match c.get_value() {
                text @ DataRef::SharedString(_) => Answer::Text(super::workbook::convert_ref(text)),
                DataRef::Float(_) => Answer::Plain,
                DataRef::DateTime(d) if d.is_datetime() => {
                    Answer::Dated(ExcelDateTimeType::DateTime)
                }
                DataRef::DateTime(_) => Answer::Dated(ExcelDateTimeType::TimeDelta),
                _ => return None,
            };
            *answers.get_mut(c.get_position().0 as usize)? = Some(answer);
        }
    }
    let answer = |at: Option<&usize>| answers.get(*at?)?.as_ref();
    let mut rows = Rows::default();
    for (r, col, raw) in cells {
        let cell = match raw {
            Raw::Empty => Cell::Empty,
            Raw::Text(s) => Cell::Text(s), // laid out only when not blank
            Raw::Bool(b) => Cell::Bool(b),
            Raw::Number(n, None) => Cell::Number(n),
            Raw::Number(n, Some(s)) => match answer(styles.get(&s))? {
                Answer::Plain => Cell::Number(n),
                Answer::Dated(kind) => {
                    let value = DataRef::DateTime(ExcelDateTime::new(n, *kind, is_1904));
                    super::workbook::convert_ref(&value)
                }
                Answer::Text(_) => return None,
            },
            Raw::Shared(i) => match answer(strings.get(&i))? {
                Answer::Text(cell) => cell.clone(),
                _ => return None,
            },
        };
        rows.put(r, col, cell)?;
    }
    Some(rows.0)
}

/// How calamine read a probe cell: a number in a style, or a shared string.
enum Answer {
    /// The style shows numbers as numbers.
    Plain,
    /// The style shows numbers as dates or times of this kind.
    Dated(ExcelDateTimeType),
    /// The shared string, as a cell.
    Text(Cell),
}

/// Rows laid out as cells arrive in reading order.
#[derive(Default)]
struct Rows(Vec<PlacedRow>);

impl Rows {
    /// Places a cell; `None` when its row comes after a later one.
    fn put(&mut self, r: u32, col: u32, cell: Cell) -> Option<()> {
        if cell.is_blank() {
            return Some(()); // styled empty cells lay nothing out
        }
        let cells = match self.0.last_mut() {
            Some((last, cells)) if *last == r => cells,
            Some((last, _)) if *last > r => return None,
            _ => {
                // Rows are mostly as wide as the one before.
                let width = self.0.last().map_or(0, |(_, cells)| cells.len());
                self.0.push((r, Vec::with_capacity(width)));
                &mut self.0.last_mut()?.1
            }
        };
        let col = col as usize;
        if cells.len() <= col {
            cells.resize(col + 1, Cell::Empty);
        }
        cells[col] = cell;
        Some(())
    }
}

/// One relationship of a `.rels` part.
struct Relationship {
    id: String,
    kind: String,
    target: String,
}

fn relationships(xml: &[u8]) -> Vec<Relationship> {
    tags(xml, b"<Relationship")
        .filter_map(|tag| {
            Some(Relationship {
                id: attribute(tag, b"Id")?,
                kind: attribute(tag, b"Type")?,
                target: attribute(tag, b"Target")?,
            })
        })
        .collect()
}

/// A part of the archive, inflated, if it is there and not above `limit`.
fn part(zip: &mut ZipArchive<Cursor<&[u8]>>, name: &str, limit: u64) -> Option<Vec<u8>> {
    let file = zip.by_name(name).ok()?;
    if file.size() > limit {
        return None;
    }
    let mut out = Vec::with_capacity(file.size() as usize);
    file.take(limit).read_to_end(&mut out).ok()?;
    Some(out)
}

/// The start tags of elements named `start` (`<sheet`), up to their `>`.
fn tags<'x>(xml: &'x [u8], start: &'x [u8]) -> impl Iterator<Item = &'x [u8]> + 'x {
    memchr::memmem::find_iter(xml, start).filter_map(move |i| {
        // `<sheet name=…`, not `<sheets>`.
        let next = *xml.get(i + start.len())?;
        if !next.is_ascii_whitespace() {
            return None;
        }
        let end = memchr::memchr(b'>', &xml[i..])?;
        Some(&xml[i..i + end])
    })
}

/// An attribute's value in a start tag, entities resolved; `None` when it
/// is missing or holds anything but the five named entities.
fn attribute(tag: &[u8], name: &[u8]) -> Option<String> {
    unescape(std::str::from_utf8(super::container::attr(tag, name)?).ok()?)
}

fn unescape(raw: &str) -> Option<String> {
    if !raw.contains('&') {
        return Some(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';')? + i;
        out.push(match &rest[i + 1..end] {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => return None,
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::container::tests::zip_of;

    /// A workbook of three sheets (a small one, a hidden one and a large
    /// one, in that order). `quick`: the large one holds only cell forms
    /// [`super::super::xlsx_scan`] reads (shared strings, dates, formulas
    /// and booleans among them), otherwise also rich and phonetic text,
    /// entities, escapes and errors.
    fn workbook(quick: bool) -> Vec<u8> {
        let mut rows = String::new();
        rows.push_str(r#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="inlineStr"><is><t>日期</t></is></c><c r="D1" t="inlineStr"><is><t>备注</t></is></c><c r="E1" t="inlineStr"><is><t>标志</t></is></c></row>"#);
        for r in 2..=14_000u32 {
            let text = match r % 5 {
                0 if quick => format!(r#"<c t="inlineStr"><is><t xml:space="preserve"> 文本 {r} R&amp;D&#x4E2D;&#25991;&lt;&gt;&quot;&apos; </t></is></c>"#),
                1 if quick => format!("<c t=\"str\">\n  <f>A{r}</f><v>公式 {r}</v>\n</c>"),
                2 if quick => r#"<c t="inlineStr"><is><t> 	</t></is></c>"#.to_string(),
                0 => r#"<c t="inlineStr"><is><r><t>富</t></r><r><t xml:space="preserve"> 文本 </t></r><rPh><t>フ</t></rPh></is></c>"#.to_string(),
                1 => format!(r#"<c t="str"><f>A{r}&amp;""</f><v>A&amp;B_x000D_{r}</v></c>"#),
                2 => r#"<c t="e"><v>#DIV/0!</v></c>"#.to_string(),
                3 => format!(r#"<c t="s"><v>{}</v></c>"#, 2 + r % 3),
                _ => r#"<c s="0"/>"#.to_string(),
            };
            // Every seventh row does not name its number, nor do its cells.
            let (open, a) = if r % 7 == 0 {
                ("<row>".to_string(), "<c t=\"s\"><v>4</v></c>".to_string())
            } else {
                (
                    format!(r#"<row r="{r}" spans="1:5">"#),
                    format!(r#"<c r="A{r}" t="s"><v>{}</v></c>"#, 2 + r % 3),
                )
            };
            rows.push_str(&format!(
                r#"{open}{a}<c r="B{r}"><v>{}.25</v></c><c r="C{r}" s="1"><v>{}</v></c>{text}<c r="E{r}" t="b"><v>{}</v></c></row>"#,
                r * 3,
                44_000 + r % 900,
                r % 2
            ));
        }
        let sheet = |data: &str| {
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:E14000"/><sheetData>{data}</sheetData><mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells></worksheet>"#
            )
        };
        let big = sheet(&rows);
        assert!(big.len() as u64 > MIN_PIECES_BYTES);
        let small = sheet(r#"<row r="1"><c r="A1" t="inlineStr"><is><t>小</t></is></c></row>"#);
        let parts: Vec<(&str, Vec<u8>)> = vec![
            ("[Content_Types].xml", br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>"#.to_vec()),
            ("_rels/.rels", br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_vec()),
            ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="小表" sheetId="1" r:id="rId1"/><sheet name="隐藏" sheetId="2" state="hidden" r:id="rId2"/><sheet name="R&amp;D 大表" sheetId="3" r:id="rId3"/></sheets></workbook>"#.as_bytes().to_vec()),
            ("xl/_rels/workbook.xml.rels", br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="/xl/worksheets/sheet3.xml"/><Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#.to_vec()),
            ("xl/styles.xml", br#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>"#.to_vec()),
            ("xl/sharedStrings.xml", r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="5" uniqueCount="5"><si><t>乡镇</t></si><si><t>金额</t></si><si><t>城关镇</t></si><si><r><t>石墙</t></r><r><t>镇</t></r></si><si><t xml:space="preserve"> 大束镇 </t></si></sst>"#.as_bytes().to_vec()),
            ("xl/worksheets/sheet1.xml", small.clone().into_bytes()),
            ("xl/worksheets/sheet2.xml", small.into_bytes()),
            ("xl/worksheets/sheet3.xml", big.into_bytes()),
        ];
        let refs: Vec<(&str, &[u8])> = parts.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        zip_of(&refs)
    }

    #[test]
    fn a_sheet_read_in_pieces_equals_the_sheet_read_whole() {
        for quick in [true, false] {
            a_sheet_is_read_in_pieces_as_whole(quick);
        }
    }

    fn a_sheet_is_read_in_pieces_as_whole(quick: bool) {
        let bytes = workbook(quick);
        let options = crate::IngestOptions::default();
        let check = || crate::read::container::check("p.xlsx", &bytes, &options.limits).unwrap();
        // The archive check keeps the large worksheet's XML, only that.
        let kept = check().worksheets;
        let names: Vec<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["xl/worksheets/sheet3.xml"]);
        let mut pieces = Pieces::new(&bytes, kept).expect("the sheets are found");
        assert_eq!(pieces.paths.len(), 3);
        assert_eq!(pieces.paths[2].as_deref(), Some("xl/worksheets/sheet3.xml"));
        // Small sheets are read whole.
        assert!(pieces.rows(0, "小表").is_none());
        let cut = pieces.rows(2, "R&D 大表").expect("read in pieces");
        let whole = read_rows(bytes.clone(), "R&D 大表").unwrap();
        assert_eq!(cut.len(), whole.len());
        assert!(cut == whole, "the pieces differ from the whole sheet");
        let cells = |rows: &[PlacedRow]| -> usize {
            rows.iter()
                .map(|(_, r)| r.iter().filter(|c| !c.is_blank()).count())
                .sum()
        };
        assert!(cells(&whole) > 50_000);
        // The quick reader reads every piece of the first workbook and
        // leaves the second's to calamine.
        let xml = &check().worksheets[0].1;
        let bounds = super::cut(xml, 2).unwrap();
        let rows = &xml[bounds[0].0..bounds[bounds.len() - 1].0];
        assert_eq!(super::super::xlsx_scan::scan(rows, 0).is_some(), quick);
        // Dates (a style's number format), shared rich text, formulas' text.
        let has = |want: &dyn Fn(&Cell) -> bool| whole.iter().any(|(_, r)| r.iter().any(want));
        assert!(has(&|c| matches!(c, Cell::DateTime(_))));
        assert!(has(&|c| *c == Cell::Text("石墙镇".into())));
        assert!(!quick || has(&|c| *c == Cell::Text("公式 11".into())));
        assert!(!quick || has(&|c| *c == Cell::Text(" 文本 10 R&D中文<>\"' ".into())));
        // A sheet asked for under another name is not read from the pieces.
        let mut again = Pieces::new(&bytes, check().worksheets).unwrap();
        assert!(again.rows(2, "小表").is_none());
        // Through the workbook reader: the same sheets as calamine alone.
        let wb = super::super::workbook::read("p.xlsx", &bytes, &options, Some(check())).unwrap();
        assert_eq!(wb.sheets.len(), 3);
        assert!(wb.sheets[1].hidden);
        let big = &wb.sheets[2];
        assert_eq!(big.merges.len(), 1);
        let n: usize = big
            .rows
            .iter()
            .map(|r| r.iter().filter(|c| !c.is_blank()).count())
            .sum();
        assert_eq!(n, cells(&whole));
        for (r, row) in &whole {
            assert_eq!(&big.rows[*r as usize], row);
        }
    }

    #[test]
    fn rows_are_cut_at_numbered_row_tags() {
        let rows: String = (1..=40)
            .map(|r| format!(r#"<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>"#))
            .collect();
        let xml = format!("<worksheet><sheetData>{rows}</sheetData></worksheet>");
        let cuts = cut(xml.as_bytes(), 4).unwrap();
        assert_eq!(cuts.len(), 5);
        assert_eq!(cuts[0].1, 0);
        assert_eq!(cuts[4].1, u32::MAX);
        for w in cuts.windows(2) {
            assert!(w[0].0 < w[1].0 && w[0].1 < w[1].1);
        }
        for &(at, row) in &cuts[1..4] {
            assert!(xml[at..].starts_with(&format!(r#"<row r="{}">"#, row + 1)));
        }
        // Rows that do not name their numbers are not cut.
        let plain = "<worksheet><sheetData><row ><c><v>1</v></c></row><row ><c><v>2</v></c></row></sheetData></worksheet>";
        assert!(cut(plain.as_bytes(), 2).is_none());
        assert_eq!(
            attribute(br#"<sheet name="A&amp;B" r:id="rId3""#, b"name").as_deref(),
            Some("A&B")
        );
        let wb = b"<sheets><sheet\n name=\"a\" r:id=\"rId1\"/><sheet name=\"b\" r:id=\"rId2\"/></sheets>";
        assert_eq!(tags(wb, b"<sheet").count(), 2);
        assert_eq!(
            attribute(br#"<sheet xr:id="x" r:id="rId3""#, b"r:id").as_deref(),
            Some("rId3")
        );
    }
}
