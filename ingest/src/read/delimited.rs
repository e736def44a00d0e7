//! CSV/TSV: encoding detection, delimiter sniffing, parsing.

use super::{Cell, Format, Sheet, Workbook};
use crate::{Error, IngestOptions, Result};
use encoding_rs::Encoding;

/// Decodes text in UTF-8 (with or without BOM), UTF-16 (BOM or detected),
/// or — detected by chardetng over the whole file — GB18030/GBK, Big5,
/// Shift_JIS, EUC-KR or windows-1252.
pub fn decode(file: &str, bytes: &[u8]) -> Result<(String, &'static str, Vec<String>)> {
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
    let control = text
        .chars()
        .take(1 << 20)
        .filter(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n' | '\u{1a}'))
        .count();
    let sample = text.chars().take(1 << 20).count().max(1);
    if control * 100 > sample || text.contains('\0') {
        return Err(Error::UnsupportedFormat {
            file: file.to_string(),
            detail: "binary content, not a spreadsheet or delimited text".into(),
        });
    }
    Ok((text.into_owned(), encoding.name(), notes))
}

/// UTF-16 without a BOM: many NUL bytes on one side of each pair.
fn sniff_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
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
    let lines: Vec<&str> = text
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

/// Reads a delimited text file into one sheet.
pub fn read(file: &str, bytes: &[u8], tab_hint: bool, options: &IngestOptions) -> Result<Workbook> {
    let (text, encoding, notes) = decode(file, bytes)?;
    let delimiter = sniff_delimiter(&text, tab_hint);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut cells = 0usize;
    for record in reader.records() {
        let record = record.map_err(|e| Error::Csv {
            file: file.to_string(),
            line: e.position().map_or(0, |p| p.line()),
            detail: e.to_string(),
        })?;
        cells += record.len();
        if cells > options.max_cells {
            return Err(Error::TooLarge {
                file: file.to_string(),
                detail: format!("more than {} cells", options.max_cells),
            });
        }
        rows.push(
            record
                .iter()
                .map(|s| {
                    if s.trim().is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(s.to_string())
                    }
                })
                .collect(),
        );
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
            name: "Sheet1".into(),
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

    #[test]
    fn delimiters() {
        assert_eq!(sniff_delimiter("a;b;c\n1;2;3\n", false), b';');
        assert_eq!(sniff_delimiter("a\tb\tc\n1\t2,5\t3\n", false), b'\t');
        assert_eq!(sniff_delimiter("a,b,c\n\"1,5\",2,3\n", false), b',');
    }
}
