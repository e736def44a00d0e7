//! CSV/TSV: encoding detection, delimiter sniffing, parsing.

use super::{Budget, Cell, Format, Sheet, Workbook};
use crate::{Error, IngestOptions, Result};
use encoding_rs::Encoding;
use std::borrow::Cow;

/// Decodes text in UTF-8 (with or without BOM), UTF-16 (BOM or detected),
/// or — detected by chardetng over the whole file — GB18030/GBK, Big5,
/// Shift_JIS, EUC-KR or windows-1252. Valid UTF-8 is borrowed, not copied.
///
/// Binary content is refused: any NUL character, or more than 1% control
/// characters in the first million characters.
pub fn decode<'a>(
    file: &str,
    bytes: &'a [u8],
) -> Result<(Cow<'a, str>, &'static str, Vec<String>)> {
    let mut notes = Vec::new();
    let (encoding, body): (&'static Encoding, &[u8]) = if let Some((enc, bom_len)) =
        Encoding::for_bom(bytes)
    {
        (enc, &bytes[bom_len..])
    } else if let Some(enc) = sniff_utf16(bytes) {
        (enc, bytes)
    } else if std::str::from_utf8(bytes).is_ok() {
        (encoding_rs::UTF_8, bytes)
    } else {
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        detector.feed(bytes, true);
        let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
        // GBK text is also valid GB18030; decoding with the superset loses nothing.
        let guess = if guess == encoding_rs::GBK {
            encoding_rs::GB18030
        } else {
            guess
        };
        (guess, bytes)
    };
    let (text, had_errors) = encoding.decode_without_bom_handling(body);
    if had_errors {
        let bad = text.chars().filter(|&c| c == '\u{FFFD}').count();
        let line = text
            .split('\n')
            .position(|l| l.contains('\u{FFFD}'))
            .map_or(0, |i| i + 1);
        notes.push(format!(
            "{bad} byte sequence(s) are not valid {} and were replaced with U+FFFD (first on line {line})",
            encoding.name()
        ));
    }
    refuse_binary(file, &text, encoding)?;
    Ok((text, encoding.name(), notes))
}

/// Refuses decoded text that is binary content: any NUL character, or more
/// than 1% control characters in the first million characters.
pub(crate) fn refuse_binary(file: &str, text: &str, encoding: &'static Encoding) -> Result<()> {
    let binary = |what: String| Error::UnsupportedFormat {
        file: file.to_string(),
        detail: format!("binary content, not a spreadsheet or delimited text ({what})"),
    };
    if let Some(at) = text.find('\0') {
        let line = text[..at].bytes().filter(|&b| b == b'\n').count() + 1;
        return Err(binary(format!(
            "a NUL character on line {line}, decoded as {}",
            encoding.name()
        )));
    }
    let (control, sample) = control_characters(text, 1 << 20);
    let sample = sample.max(1);
    if control * 100 > sample {
        return Err(binary(format!(
            "{control} control characters in the first {sample} characters, decoded as {}",
            encoding.name()
        )));
    }
    Ok(())
}

/// Control characters (Unicode `Cc` but tab, CR, LF and the DOS end-of-file
/// mark) among the first `limit` characters of `text`, and the characters
/// looked at. One pass over the bytes: a character starts at each byte that
/// is not a continuation byte, and the C1 controls (U+0080–U+009F) are the
/// two-byte sequences `C2 80`–`C2 9F`.
fn control_characters(text: &str, limit: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let (mut control, mut chars) = (0usize, 0usize);
    for (i, &b) in bytes.iter().enumerate() {
        if chars == limit {
            break;
        }
        if b & 0xC0 == 0x80 {
            continue;
        }
        chars += 1;
        let c0 = b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n' | 0x1A);
        let c1 = b == 0xC2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9F).contains(n));
        control += usize::from(c0 || b == 0x7F || c1);
    }
    (control, chars)
}

/// UTF-16 without a BOM: many NUL bytes on one side of each pair.
pub(crate) fn sniff_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    if sample.len() < 4 {
        return None;
    }
    let pairs = sample.len() / 2;
    let even_nul = sample.iter().step_by(2).filter(|&&b| b == 0).count();
    let odd_nul = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|&&b| b == 0)
        .count();
    if odd_nul * 10 > pairs * 3 && even_nul * 10 < pairs {
        Some(encoding_rs::UTF_16LE)
    } else if even_nul * 10 > pairs * 3 && odd_nul * 10 < pairs {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// Picks the delimiter that splits the first lines most consistently.
pub fn sniff_delimiter(text: &str, tab_hint: bool) -> u8 {
    // The first lines, within the first 1 MiB (a single huge line is not
    // searched end to end).
    let mut end = text.len().min(1 << 20);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let lines: Vec<&str> = text[..end]
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(100)
        .collect();
    let mut best = (if tab_hint { b'\t' } else { b',' }, 0usize);
    for delim in [b',', b'\t', b';', b'|'] {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| count_outside_quotes(l, delim))
            .collect();
        let max = counts.iter().copied().max().unwrap_or(0);
        if max == 0 {
            continue;
        }
        // Score: lines that share the most common non-zero field count.
        let mut freq = std::collections::HashMap::new();
        for &c in counts.iter().filter(|&&c| c > 0) {
            *freq.entry(c).or_insert(0usize) += 1;
        }
        let (mode, mode_n) = freq
            .into_iter()
            .max_by_key(|&(c, n)| (n, c))
            .unwrap_or((0, 0));
        let score = mode_n * 1000 + mode;
        let score = if tab_hint && delim == b'\t' {
            score * 2
        } else {
            score
        };
        if score > best.1 {
            best = (delim, score);
        }
    }
    best.0
}

fn count_outside_quotes(line: &str, delim: u8) -> usize {
    let mut in_quotes = false;
    let mut n = 0;
    for b in line.bytes() {
        if b == b'"' {
            in_quotes = !in_quotes;
        } else if b == delim && !in_quotes {
            n += 1;
        }
    }
    n
}

/// Reads a delimited text file into one sheet, under the limits: columns per
/// row, bytes per cell, and the cells and memory the whole table would take.
pub fn read(file: &str, bytes: &[u8], tab_hint: bool, options: &IngestOptions) -> Result<Workbook> {
    let (text, encoding, notes) = decode(file, bytes)?;
    if text
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}')
        .is_empty()
    {
        return Err(Error::NoTable {
            file: file.to_string(),
            detail: "the file holds no text (nothing but a byte-order mark or white space)".into(),
        });
    }
    let delimiter = sniff_delimiter(&text, tab_hint);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut budget = Budget::new(file, &options.limits);
    const SHEET: &str = "Sheet1";
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(Error::Csv {
                    file: file.to_string(),
                    line: e.position().map_or(0, |p| p.line()),
                    detail: e.to_string(),
                });
            }
        }
        // Lines, not records: a quoted cell may span lines.
        let line = record.position().map_or(rows.len() as u64, |p| p.line()) as usize;
        let line0 = line.saturating_sub(1);
        // The last non-blank field: trailing empty fields lay nothing out.
        let width = (0..record.len())
            .rev()
            .find(|&i| record.get(i).is_some_and(|f| !f.trim().is_empty()))
            .map_or(0, |i| i + 1);
        if width > 0 {
            budget.check_cell(SHEET, line0, width - 1, 0)?;
        }
        let mut text_bytes = 0;
        for (c, f) in record.iter().enumerate().take(width) {
            budget.check_cell(SHEET, line0, c, f.len())?;
            if !f.trim().is_empty() {
                text_bytes += f.len();
            }
        }
        budget.add(SHEET, line0, 1, width, text_bytes)?;
        // Exactly `width` cells: collecting from `take` would reserve more.
        let mut cells = Vec::with_capacity(width);
        cells.extend(record.iter().take(width).map(|s| {
            if s.trim().is_empty() {
                Cell::Empty
            } else {
                Cell::Text(s.to_string())
            }
        }));
        rows.push(cells);
    }
    Ok(Workbook {
        format: if delimiter == b'\t' {
            Format::Tsv
        } else {
            Format::Csv
        },
        encoding: Some(encoding.to_string()),
        delimiter: Some(char::from(delimiter)),
        sheets: vec![Sheet {
            name: SHEET.into(),
            hidden: false,
            rows,
            merges: Vec::new(),
        }],
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_counted_as_unicode_counts_them() {
        let text = "a\tb\r\n\u{1a}\u{0}\u{7}\u{7f}\u{80}\u{9f}\u{a0}é科目\u{85}x\u{1b}";
        let by_chars = |limit: usize| {
            let chars = text.chars().take(limit);
            let control = chars
                .clone()
                .filter(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n' | '\u{1a}'))
                .count();
            (control, chars.count())
        };
        for limit in [0, 1, 5, 9, 12, 15, 100] {
            assert_eq!(control_characters(text, limit), by_chars(limit), "{limit}");
        }
        assert_eq!(control_characters(text, 100), (7, 18));
    }

    #[test]
    fn encodings_are_detected() {
        let text = "科目编码,科目名称,合计\n201,一般公共服务支出,123.45\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let (decoded, enc, _) = decode("x.csv", &gbk).unwrap();
        assert_eq!(decoded, text);
        assert_eq!(enc, "gb18030");

        let mut utf16 = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        let (decoded, enc, _) = decode("x.csv", &utf16).unwrap();
        assert_eq!(decoded, text);
        assert_eq!(enc, "UTF-16LE");

        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(decode("x.csv", &bom).unwrap().0, text);
    }

    #[test]
    fn big5_is_not_read_as_gbk() {
        let text = "機關名稱,預算數\n行政院主計總處,1234\n國家發展委員會,5678\n中央銀行,910\n";
        let (big5, _, _) = encoding_rs::BIG5.encode(text);
        let (decoded, enc, _) = decode("x.csv", &big5).unwrap();
        assert_eq!(enc, "Big5");
        assert_eq!(decoded, text);
    }

    #[test]
    fn binary_is_rejected() {
        let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(matches!(
            decode("x.csv", &garbage),
            Err(Error::UnsupportedFormat { .. })
        ));
    }

    fn limits(f: impl FnOnce(&mut crate::Limits)) -> IngestOptions {
        let mut o = IngestOptions::default();
        f(&mut o.limits);
        o
    }

    #[test]
    fn limits_name_the_row_and_column() {
        let wide = format!("a,b\n1,2\n{}\n", vec!["x"; 20].join(","));
        let e = read(
            "w.csv",
            wide.as_bytes(),
            false,
            &limits(|l| l.max_columns = 10),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::TooManyColumns {
                    row: 3,
                    columns: 20,
                    limit: 10,
                    ..
                }
            ),
            "{e}"
        );
        // Trailing empty fields lay nothing out and do not count.
        let padded = format!("a,b{}\n1,2\n", ",".repeat(50));
        assert!(
            read(
                "p.csv",
                padded.as_bytes(),
                false,
                &limits(|l| l.max_columns = 10)
            )
            .is_ok()
        );

        let long = format!("a,b\n1,{}\n", "y".repeat(2000));
        let e = read(
            "l.csv",
            long.as_bytes(),
            false,
            &limits(|l| l.max_cell_bytes = 1000),
        )
        .unwrap_err();
        assert!(e.to_string().contains("row 2, column B"), "{e}");
        assert!(matches!(e, Error::CellTooLong { bytes: 2000, .. }), "{e}");

        let tall = format!("n\n{}", "1\n".repeat(10_000));
        let e = read(
            "t.csv",
            tall.as_bytes(),
            false,
            &limits(|l| l.max_table_bytes = 1 << 20),
        )
        .unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("1 MiB of memory"), "{e}");
        let e = read(
            "c.csv",
            tall.as_bytes(),
            false,
            &limits(|l| l.max_cells = 5000),
        )
        .unwrap_err();
        assert!(e.to_string().contains("5000 cells"), "{e}");
    }

    #[test]
    fn empty_and_binary_text_says_why() {
        let e = read(
            "bom.csv",
            b"\xEF\xBB\xBF \r\n",
            false,
            &IngestOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::NoTable { .. }), "{e}");
        let e = decode("nul.csv", b"a,b\n1,2\n3,\0\n").unwrap_err();
        assert!(e.to_string().contains("NUL character on line 3"), "{e}");
    }

    #[test]
    fn delimiters() {
        assert_eq!(sniff_delimiter("a;b;c\n1;2;3\n", false), b';');
        assert_eq!(sniff_delimiter("a\tb\tc\n1\t2,5\t3\n", false), b'\t');
        assert_eq!(sniff_delimiter("a,b,c\n\"1,5\",2,3\n", false), b',');
    }
}
