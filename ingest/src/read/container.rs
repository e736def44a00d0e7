//! Checks a zipped workbook (XLSX/XLSM/XLSB/ODS) before calamine opens it.
//!
//! calamine trusts the archive: it inflates whatever an entry holds, keeps the
//! whole shared-string table in memory, and (for ODS) expands repeated rows and
//! columns into dense cells. A file of a few megabytes can therefore ask for
//! gigabytes. This module reads the archive once, keeping of what it inflates
//! only the XML of worksheets large enough to be read in pieces
//! ([`super::xlsx_pieces`]), and refuses:
//! - more entries than [`Limits::max_archive_entries`];
//! - a total uncompressed size over [`Limits::max_unzipped_bytes`], first as
//!   declared in the central directory, then as actually inflated (an entry
//!   that lies about its size is caught while it is read);
//! - an entry over 16 MiB that expands more than [`Limits::max_entry_ratio`]
//!   times its compressed size;
//! - XML with entity declarations (`<!ENTITY` before the root element);
//! - ODS content whose repeated rows/columns would expand past
//!   [`Limits::max_cells`].

use crate::{Error, Limits, Result};
use std::io::{Cursor, Read};

/// Entries smaller than this are never judged by their compression ratio.
const RATIO_FLOOR: u64 = 16 << 20;
/// How much of an XML entry's start is searched for a DTD.
const PROLOG_BYTES: usize = 64 << 10;

/// What kind of workbook the archive holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZipKind {
    /// `xl/workbook.xml`.
    Xlsx,
    /// `xl/workbook.bin`.
    Xlsb,
    /// `content.xml` (OpenDocument).
    Ods,
}

/// What the check found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Which workbook the archive holds.
    pub kind: ZipKind,
    /// Memory calamine will hold for the shared-string table while the
    /// workbook is open (each string's text plus its `String`), in bytes.
    pub shared_strings_bytes: u64,
    /// Some worksheet of an XLSX archive mentions `mergeCell`; when none
    /// does, no sheet has merged cells and they need not be looked up.
    pub merges: bool,
    /// The inflated XML of the worksheets worth reading in pieces, by entry
    /// name ([`super::xlsx_pieces::worth_cutting`]).
    pub worksheets: Vec<(String, Vec<u8>)>,
}

/// What a worksheet with merged cells holds (`<mergeCells>`, `<x:mergeCell`).
const MERGE_WORD: &[u8] = b"mergeCell";

/// Bytes calamine holds per shared string besides its text (the `String`
/// in a `Vec` and the allocation's overhead).
const SHARED_STRING_BYTES: u64 = 56;

/// Checks the archive and tells which workbook it is.
pub fn check(file: &str, bytes: &[u8], limits: &Limits) -> Result<Checked> {
    let unreadable = |e: zip::result::ZipError| Error::Workbook {
        file: file.to_string(),
        detail: format!("the ZIP container is damaged or truncated ({e})"),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable)?;
    if archive.len() > limits.max_archive_entries {
        return Err(Error::WorkbookTooLarge {
            file: file.to_string(),
            sheet: None,
            detail: format!(
                "the archive holds {} entries, more than the limit of {}",
                archive.len(),
                limits.max_archive_entries
            ),
        });
    }
    // Declared sizes first: refuse an honest giant without inflating anything.
    let mut declared: u64 = 0;
    let mut names = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(unreadable)?;
        declared = declared.saturating_add(entry.size());
        names.push(entry.name().map(|n| n.into_owned()).unwrap_or_default());
    }
    if declared > limits.max_unzipped_bytes {
        return Err(Error::WorkbookTooLarge {
            file: file.to_string(),
            sheet: None,
            detail: format!(
                "its entries declare {} uncompressed, more than the limit of {}",
                mib(declared),
                mib(limits.max_unzipped_bytes)
            ),
        });
    }
    let kind = if names
        .iter()
        .any(|n| n.eq_ignore_ascii_case("xl/workbook.xml"))
    {
        ZipKind::Xlsx
    } else if names
        .iter()
        .any(|n| n.eq_ignore_ascii_case("xl/workbook.bin"))
    {
        ZipKind::Xlsb
    } else if names.iter().any(|n| n == "content.xml") {
        ZipKind::Ods
    } else {
        let mut shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
        if names.len() > 5 {
            shown.push("…");
        }
        return Err(Error::UnsupportedFormat {
            file: file.to_string(),
            detail: format!(
                "a ZIP archive that is not a workbook (no xl/workbook.xml or content.xml; entries: {})",
                shown.join(", ")
            ),
        });
    };

    // Then inflate every entry for real, counting, keeping only large
    // worksheets' XML.
    let mut total: u64 = 0;
    let mut worksheets = Vec::new();
    let mut kept: u64 = 0;
    let mut shared_strings_bytes: u64 = 0;
    let mut merges = false;
    let mut buf = vec![0u8; 64 << 10];
    for (i, name) in names.iter().enumerate() {
        let mut entry = archive.by_index(i).map_err(unreadable)?;
        if entry.is_dir() {
            continue;
        }
        let compressed = entry.compressed_size().max(1);
        let declared_size = entry.size();
        let xml = is_xml(name);
        let mut prolog: Vec<u8> = Vec::new();
        let mut ods = (kind == ZipKind::Ods && name == "content.xml").then(OdsCells::default);
        let sst = name.to_ascii_lowercase().ends_with("sharedstrings.xml");
        let mut strings = SiCounter::default();
        let worksheet =
            kind == ZipKind::Xlsx && xml && name.to_ascii_lowercase().starts_with("xl/worksheets/");
        let mut keep = (worksheet && super::xlsx_pieces::worth_cutting(declared_size, kept))
            .then(|| Vec::with_capacity(declared_size as usize));
        // The end of the previous chunk, for a word split between chunks.
        let mut tail: Vec<u8> = Vec::new();
        let mut size: u64 = 0;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if size >= declared_size || e.to_string().contains("declared") => {
                    // The reader stops at the declared size: the entry lies.
                    return Err(Error::ZipBomb {
                        file: file.to_string(),
                        entry: Some(name.clone()),
                        detail: format!(
                            "entry {name} declares {declared_size} bytes uncompressed but inflates to more"
                        ),
                    });
                }
                Err(e) => {
                    return Err(Error::Workbook {
                        file: file.to_string(),
                        detail: format!("entry {name} cannot be inflated ({e})"),
                    });
                }
            };
            let chunk = &buf[..n];
            size += n as u64;
            total += n as u64;
            if total > limits.max_unzipped_bytes {
                return Err(Error::ZipBomb {
                    file: file.to_string(),
                    entry: Some(name.clone()),
                    detail: format!(
                        "it inflates to more than {} (the archive declares {}): the limit is {}",
                        mib(total),
                        mib(declared),
                        mib(limits.max_unzipped_bytes)
                    ),
                });
            }
            if size > RATIO_FLOOR && size / compressed > limits.max_entry_ratio {
                return Err(Error::ZipBomb {
                    file: file.to_string(),
                    entry: Some(name.clone()),
                    detail: format!(
                        "entry {name} expands more than {}:1 ({} from {} bytes); real workbooks stay far below",
                        limits.max_entry_ratio,
                        mib(size),
                        compressed
                    ),
                });
            }
            if xml && prolog.len() < PROLOG_BYTES {
                let take = chunk.len().min(PROLOG_BYTES - prolog.len());
                prolog.extend_from_slice(&chunk[..take]);
            }
            if sst {
                strings.feed(chunk);
            }
            if let Some(xml) = keep.as_mut() {
                xml.extend_from_slice(chunk);
            }
            if worksheet && !merges {
                tail.extend_from_slice(&chunk[..chunk.len().min(MERGE_WORD.len())]);
                merges = memchr::memmem::find(&tail, MERGE_WORD).is_some()
                    || memchr::memmem::find(chunk, MERGE_WORD).is_some();
                tail.clear();
                tail.extend_from_slice(&chunk[chunk.len().saturating_sub(MERGE_WORD.len())..]);
            }
            if let Some(o) = ods.as_mut() {
                o.feed(chunk);
                if o.cells() > limits.dense_cells() as u64 {
                    return Err(Error::WorkbookTooLarge {
                        file: file.to_string(),
                        sheet: o.sheet.clone(),
                        detail: format!(
                            "{}its repeated rows and columns expand to more than {} cells (the limit)",
                            o.sheet
                                .as_ref()
                                .map(|s| format!("sheet {s:?}: "))
                                .unwrap_or_default(),
                            limits.dense_cells()
                        ),
                    });
                }
            }
        }
        if let Some(xml) = keep {
            kept += xml.len() as u64;
            worksheets.push((name.clone(), xml));
        }
        if xml && declares_entities(&prolog) {
            return Err(Error::XmlEntities {
                file: file.to_string(),
                entry: name.clone(),
            });
        }
        if sst {
            // calamine reserves room for the count the table claims.
            let claimed = prolog
                .windows(4)
                .position(|w| w == b"<sst")
                .and_then(|at| {
                    let end = prolog[at..].iter().position(|&b| b == b'>')?;
                    Some(number(attr(&prolog[at..at + end], b"uniqueCount")))
                })
                .unwrap_or(0);
            // `<si/>` is the shortest a string can be written.
            if claimed > size / 5 + 1 {
                return Err(Error::Workbook {
                    file: file.to_string(),
                    detail: format!(
                        "{name} claims {claimed} unique strings, more than its {size} bytes can hold"
                    ),
                });
            }
            let held = strings
                .count
                .max(claimed)
                .saturating_mul(SHARED_STRING_BYTES)
                .saturating_add(size);
            shared_strings_bytes = shared_strings_bytes.saturating_add(held);
            if shared_strings_bytes > limits.max_table_bytes as u64 {
                return Err(Error::WorkbookTooLarge {
                    file: file.to_string(),
                    sheet: None,
                    detail: format!(
                        "its shared-string table holds {} strings ({}), which would take about {} of memory, over the limit of {}",
                        strings.count,
                        mib(size),
                        mib(shared_strings_bytes),
                        mib(limits.max_table_bytes as u64)
                    ),
                });
            }
        }
    }
    Ok(Checked {
        kind,
        shared_strings_bytes,
        merges,
        worksheets,
    })
}

/// Counts `<si>` elements (shared strings) across chunks.
#[derive(Debug, Default)]
struct SiCounter {
    carry: Vec<u8>,
    count: u64,
}

impl SiCounter {
    fn feed(&mut self, chunk: &[u8]) {
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(chunk);
        self.count += data
            .windows(4)
            .filter(|w| {
                &w[..3] == b"<si" && matches!(w[3], b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n')
            })
            .count() as u64;
        let keep = data.len().min(3);
        self.carry = data[data.len() - keep..].to_vec();
    }
}

fn is_xml(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".xml") || lower.ends_with(".rels") || lower.ends_with(".vml")
}

/// Sizes for people: `1.5 GiB`, `200 MiB`, `12 KiB`.
pub(crate) fn mib(bytes: u64) -> String {
    const GIB: u64 = 1 << 30;
    if bytes >= GIB {
        format!("{:.1} GiB", bytes as f64 / GIB as f64)
    } else if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// Whether the prolog (everything before the root element) holds a DTD
/// that can declare entities: a DOCTYPE with an internal subset (`[ … ]`),
/// or any `<!ENTITY`. Processing instructions and comments are skipped; the
/// search stops at the root element. A DOCTYPE that only names an external
/// DTD is harmless (the XML reader never fetches it) and passes.
pub(crate) fn declares_entities(xml: &[u8]) -> bool {
    let mut i = 0;
    while let Some(off) = xml[i..].iter().position(|&b| b == b'<') {
        let at = i + off;
        let rest = &xml[at..];
        let skip_to = |end: &[u8]| find(rest, end).map(|p| at + p + end.len());
        let next = if rest.starts_with(b"<?") {
            skip_to(b"?>")
        } else if rest.starts_with(b"<!--") {
            skip_to(b"-->")
        } else if rest.starts_with(b"<!") {
            if contains_ignore_case(rest, b"<!ENTITY") {
                return true;
            }
            // The first '[' or '>' outside quoted literals.
            let mut quote: Option<u8> = None;
            let mut end = None;
            for (k, &b) in rest.iter().enumerate() {
                match (quote, b) {
                    (Some(q), _) if b == q => quote = None,
                    (Some(_), _) => {}
                    (None, b'"' | b'\'') => quote = Some(b),
                    (None, b'[') => return true,
                    (None, b'>') => {
                        end = Some(at + k + 1);
                        break;
                    }
                    _ => {}
                }
            }
            end
        } else {
            return false; // the root element: the prolog is over
        };
        match next {
            Some(n) if n < xml.len() => i = n,
            _ => return false,
        }
    }
    false
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Estimates how many cells calamine materialises for an ODS `content.xml`:
/// per table, the rows from the first to the last non-empty one (repeats
/// counted) times the widest row (repeats counted, up to its last non-empty
/// cell). Fed in chunks; tags may straddle chunk boundaries.
#[derive(Debug, Default)]
pub(crate) struct OdsCells {
    pending: Vec<u8>,
    /// Finished tables.
    done: u64,
    /// Current table: rows so far, first/last non-empty row, widest row.
    rows: u64,
    first: Option<u64>,
    last_end: u64,
    width: u64,
    /// Current row: repeat count, columns so far, last non-empty column end.
    row_repeat: u64,
    row_cols: u64,
    row_extent: u64,
    /// Name of the current table, for messages.
    pub sheet: Option<String>,
}

/// calamine's caps on ODS expansion.
const ODS_MAX_ROWS: u64 = 1_048_576;
const ODS_MAX_COLUMNS: u64 = 16_384;

impl OdsCells {
    /// Cells so far (finished tables plus the current one).
    pub(crate) fn cells(&self) -> u64 {
        self.done.saturating_add(self.current())
    }

    fn current(&self) -> u64 {
        match self.first {
            Some(f) => self.last_end.saturating_sub(f).saturating_mul(self.width),
            None => 0,
        }
    }

    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        self.pending.extend_from_slice(chunk);
        let data = std::mem::take(&mut self.pending);
        let mut i = 0;
        let mut keep_from = data.len();
        while let Some(off) = data[i..].iter().position(|&b| b == b'<') {
            let start = i + off;
            // The end of the tag: the first '>' outside quotes.
            let mut quote: Option<u8> = None;
            let mut end = None;
            for (k, &b) in data[start..].iter().enumerate() {
                match (quote, b) {
                    (Some(q), _) if b == q => quote = None,
                    (Some(_), _) => {}
                    (None, b'"' | b'\'') => quote = Some(b),
                    (None, b'>') => {
                        end = Some(start + k);
                        break;
                    }
                    _ => {}
                }
            }
            let Some(end) = end else {
                keep_from = start;
                break;
            };
            self.tag(&data[start + 1..end]);
            i = end + 1;
        }
        if keep_from < data.len() {
            // An unfinished tag: keep it for the next chunk (bounded: a tag
            // longer than 1 MiB is not a table tag we need to read).
            let tail = &data[keep_from..];
            if tail.len() <= 1 << 20 {
                self.pending.extend_from_slice(tail);
            }
        }
    }

    fn tag(&mut self, tag: &[u8]) {
        let self_closing = tag.ends_with(b"/");
        let name_len = tag
            .iter()
            .position(|b| b.is_ascii_whitespace() || *b == b'/' && !tag.starts_with(b"/"))
            .unwrap_or(tag.len());
        match &tag[..name_len] {
            b"table:table" => {
                self.done = self.cells();
                *self = OdsCells {
                    done: self.done,
                    sheet: attr(tag, b"table:name")
                        .map(|v| String::from_utf8_lossy(v).into_owned()),
                    ..OdsCells::default()
                };
            }
            b"table:table-row" => {
                let repeat = number(attr(tag, b"table:number-rows-repeated")).max(1);
                self.row_repeat = repeat.min(ODS_MAX_ROWS.saturating_sub(self.rows));
                self.row_cols = 0;
                self.row_extent = 0;
                if self_closing {
                    self.end_row();
                }
            }
            b"/table:table-row" => self.end_row(),
            b"table:table-cell" | b"table:covered-table-cell" => {
                let repeat = number(attr(tag, b"table:number-columns-repeated")).max(1);
                let repeat = repeat.min(ODS_MAX_COLUMNS.saturating_sub(self.row_cols));
                let filled = !self_closing
                    || attr(tag, b"office:value-type").is_some()
                    || attr(tag, b"table:formula").is_some();
                self.row_cols = self.row_cols.saturating_add(repeat);
                if filled {
                    self.row_extent = self.row_cols;
                }
            }
            _ => {}
        }
    }

    fn end_row(&mut self) {
        let start = self.rows;
        self.rows = self.rows.saturating_add(self.row_repeat);
        if self.row_extent > 0 {
            if self.first.is_none() {
                self.first = Some(start);
            }
            self.last_end = self.rows;
            self.width = self.width.max(self.row_extent);
        }
        self.row_repeat = 0;
        self.row_cols = 0;
        self.row_extent = 0;
    }
}

/// The value of attribute `name` in a start tag (no entity decoding).
pub(super) fn attr<'a>(tag: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(p) = find(&tag[from..], name) {
        let at = from + p;
        let before_ok = at > 0 && tag[at - 1].is_ascii_whitespace();
        let rest = &tag[at + name.len()..];
        let rest = trim_start(rest);
        if before_ok && let Some(rest) = rest.strip_prefix(b"=") {
            let rest = trim_start(rest);
            let q = *rest.first()?;
            if q == b'"' || q == b'\'' {
                let end = rest[1..].iter().position(|&b| b == q)?;
                return Some(&rest[1..1 + end]);
            }
            return None;
        }
        from = at + name.len();
    }
    None
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

fn number(v: Option<&[u8]>) -> u64 {
    v.and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn entity_declarations_in_the_prolog_are_found() {
        let laughs = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><sst><si><t>&lol2;</t></si></sst>"#;
        assert!(declares_entities(laughs));
        let xxe = br#"<?xml version="1.0"?>
<!-- a comment with <tags> -->
<!DOCTYPE x [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]><x>&xxe;</x>"#;
        assert!(declares_entities(xxe));
        let lower = br#"<!doctype x [<!entity a "b">]><x/>"#;
        assert!(declares_entities(lower));
        // An internal subset is refused even when the entities come later.
        let mut long = b"<!DOCTYPE x [".to_vec();
        long.extend(std::iter::repeat_n(b' ', PROLOG_BYTES));
        assert!(declares_entities(&long));
        // A plain workbook part, and an external DTD reference without entities.
        assert!(!declares_entities(
            br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst count="1"><si><t>&lt;!ENTITY</t></si></sst>"#
        ));
        assert!(!declares_entities(
            br#"<?xml version="1.0"?><!DOCTYPE manifest:manifest PUBLIC "-//OpenOffice.org//DTD Manifest 1.0//EN" "Manifest.dtd"><manifest:manifest/>"#
        ));
        // After the root element, text that looks like a declaration is data.
        assert!(!declares_entities(b"<x><!-- <!ENTITY --></x>"));
    }

    #[test]
    fn ods_repeats_are_counted_like_calamine_expands_them() {
        let mut o = OdsCells::default();
        // 3 rows × 2 cells, then a trailing empty block LibreOffice writes.
        let xml = br#"<table:table table:name="S"><table:table-row><table:table-cell office:value-type="string"><text:p>a</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="1"/><table:table-cell table:number-columns-repeated="1022"/></table:table-row><table:table-row table:number-rows-repeated="2"><table:table-cell office:value-type="float" office:value="2"/><table:table-cell office:value-type="float" office:value="3"/></table:table-row><table:table-row table:number-rows-repeated="1048573"><table:table-cell table:number-columns-repeated="1024"/></table:table-row></table:table>"#;
        // Fed in small pieces so tags straddle chunks.
        for piece in xml.chunks(7) {
            o.feed(piece);
        }
        assert_eq!(o.cells(), 6);

        let mut bomb = OdsCells::default();
        bomb.feed(br#"<table:table table:name="B"><table:table-row table:number-rows-repeated="1000000"><table:table-cell table:number-columns-repeated="16384" office:value-type="float" office:value="1"/></table:table-row></table:table>"#);
        assert_eq!(bomb.cells(), 1_000_000 * 16_384);
        assert_eq!(bomb.sheet.as_deref(), Some("B"));
    }

    use std::io::Write;

    /// An archive of (name, content) entries, deflated.
    pub(crate) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(9));
        for (name, data) in entries {
            w.start_file(*name, options).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn small() -> Limits {
        Limits {
            max_unzipped_bytes: 40 << 20,
            max_archive_entries: 10,
            ..Limits::default()
        }
    }

    const WB: &str = "xl/workbook.xml";

    #[test]
    fn honest_giants_and_lying_entries_are_refused() {
        let big = vec![b'<'; 41 << 20];
        let honest = zip_of(&[(WB, b"<workbook/>"), ("xl/worksheets/sheet1.xml", &big)]);
        let e = check("big.xlsx", &honest, &small()).unwrap_err();
        assert!(matches!(e, Error::WorkbookTooLarge { .. }), "{e}");
        assert!(e.to_string().contains("40 MiB"), "{e}");

        // The same archive claiming 1 KiB for its sheet: caught while inflating.
        let mut lying = honest.clone();
        let name = b"xl/worksheets/sheet1.xml";
        let mut at = 0;
        while let Some(p) = lying[at..].windows(name.len()).position(|w| w == name) {
            let start = at + p;
            // Central entries have the name at +46, local headers at +30.
            for (sig, off) in [(b"PK\x01\x02", 46usize), (b"PK\x03\x04", 30)] {
                if start >= off && &lying[start - off..start - off + 4] == sig {
                    let size_at = start - off + if off == 46 { 24 } else { 22 };
                    lying[size_at..size_at + 4].copy_from_slice(&1024u32.to_le_bytes());
                }
            }
            at = start + 1;
        }
        let e = check("lie.xlsx", &lying, &Limits::default()).unwrap_err();
        assert!(matches!(e, Error::ZipBomb { .. }), "{e}");
        assert!(e.to_string().contains("declares 1024 bytes"), "{e}");
    }

    #[test]
    fn extreme_ratios_and_entry_counts_are_refused() {
        // 17 MiB of one byte deflates about 1000:1.
        let spaces = vec![b' '; 17 << 20];
        let bomb = zip_of(&[(WB, b"<workbook/>"), ("xl/worksheets/sheet1.xml", &spaces)]);
        let e = check("ratio.xlsx", &bomb, &Limits::default()).unwrap_err();
        assert!(matches!(e, Error::ZipBomb { .. }), "{e}");
        assert!(e.to_string().contains("200:1"), "{e}");

        let names: Vec<String> = (0..11).map(|i| format!("xl/media/{i}.bin")).collect();
        let mut entries: Vec<(&str, &[u8])> = vec![(WB, b"<workbook/>")];
        entries.extend(names.iter().map(|n| (n.as_str(), &b"x"[..])));
        let e = check("many.xlsx", &zip_of(&entries), &small()).unwrap_err();
        assert!(e.to_string().contains("12 entries"), "{e}");
    }

    #[test]
    fn kinds_and_entities() {
        let ok = zip_of(&[(WB, b"<workbook/>")]);
        assert_eq!(check("a.xlsx", &ok, &small()).unwrap().kind, ZipKind::Xlsx);
        let ods = zip_of(&[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            ),
            ("content.xml", b"<x/>"),
        ]);
        assert_eq!(check("a.ods", &ods, &small()).unwrap().kind, ZipKind::Ods);
        let other = zip_of(&[("word/document.xml", b"<w/>")]);
        let e = check("a.xlsx", &other, &small()).unwrap_err();
        assert!(matches!(e, Error::UnsupportedFormat { .. }), "{e}");
        assert!(e.to_string().contains("word/document.xml"), "{e}");

        let xxe = zip_of(&[
            (WB, b"<workbook/>"),
            (
                "xl/sharedStrings.xml",
                br#"<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY x SYSTEM "file:///etc/passwd">]><sst><si><t>&x;</t></si></sst>"#,
            ),
        ]);
        let e = check("xxe.xlsx", &xxe, &small()).unwrap_err();
        assert!(
            matches!(&e, Error::XmlEntities { entry, .. } if entry == "xl/sharedStrings.xml"),
            "{e}"
        );
        let mut cut = ok.clone();
        cut.truncate(ok.len() / 2);
        let e = check("cut.xlsx", &cut, &small()).unwrap_err();
        assert!(matches!(e, Error::Workbook { .. }), "{e}");
    }

    #[test]
    fn ods_repeat_bombs_are_refused_before_calamine() {
        let content = br#"<office:document-content><office:body><office:spreadsheet><table:table table:name="T"><table:table-row table:number-rows-repeated="100000"><table:table-cell table:number-columns-repeated="1000" office:value-type="float" office:value="1"/></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#;
        let ods = zip_of(&[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            ),
            ("content.xml", content),
        ]);
        let e = check(
            "r.ods",
            &ods,
            &Limits {
                max_cells: 1_000_000,
                ..small()
            },
        )
        .unwrap_err();
        assert!(matches!(e, Error::WorkbookTooLarge { .. }), "{e}");
        assert!(e.to_string().contains("\"T\""), "{e}");
    }

    #[test]
    fn shared_string_tables_are_charged_and_their_counts_checked() {
        let sst = |head: &str, n: usize| {
            let mut x = format!(r#"<?xml version="1.0"?><sst {head}>"#);
            for i in 0..n {
                x.push_str(&format!("<si><t>{i}</t></si>"));
            }
            x.push_str("</sst>");
            x
        };
        let ok = sst(r#"count="1000" uniqueCount="1000""#, 1000);
        let wb = zip_of(&[
            (WB, b"<workbook/>"),
            ("xl/sharedStrings.xml", ok.as_bytes()),
        ]);
        let checked = check("s.xlsx", &wb, &small()).unwrap();
        assert_eq!(
            checked.shared_strings_bytes,
            1000 * SHARED_STRING_BYTES + ok.len() as u64
        );
        // A claim calamine would reserve memory for, and the bytes cannot hold.
        let lie = sst(r#"count="1" uniqueCount="999999999999""#, 1);
        let wb = zip_of(&[
            (WB, b"<workbook/>"),
            ("xl/sharedStrings.xml", lie.as_bytes()),
        ]);
        let e = check("claim.xlsx", &wb, &small()).unwrap_err();
        assert!(e.to_string().contains("999999999999 unique strings"), "{e}");
        // Many tiny strings: the table alone is over the memory limit.
        let many = sst("", 100_000);
        let wb = zip_of(&[
            (WB, b"<workbook/>"),
            ("xl/sharedStrings.xml", many.as_bytes()),
        ]);
        let limits = Limits {
            max_table_bytes: 4 << 20,
            ..small()
        };
        let e = check("many.xlsx", &wb, &limits).unwrap_err();
        assert!(matches!(e, Error::WorkbookTooLarge { .. }), "{e}");
        assert!(e.to_string().contains("100000 strings"), "{e}");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(mib(512 << 20), "512 MiB");
        assert_eq!(mib(3 << 30), "3.0 GiB");
        assert_eq!(mib(1000), "1 KiB");
    }
}
