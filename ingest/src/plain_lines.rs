//! The plain lines of a delimited file split straight off the text.
//!
//! Most lines of an agency's CSV hold no quote: their fields are what lies
//! between the delimiters. The csv crate reads them through its byte-by-byte
//! state machine and copies every record; here such lines are cut where
//! they lie in the read buffer (delimiters and line ends found eight bytes
//! at a time), exactly as the csv crate would
//! cut them (tested against it): LF and CRLF line ends, empty lines skipped,
//! and the same line numbers (the csv crate's record position). At the first
//! line holding a quote or a carriage return that does not end the line, the
//! rest of the text is handed back for the csv crate to read.

use std::io::Read;

/// Bytes read at a time (grown for a longer line).
const BLOCK: usize = 1 << 20;

/// Where reading plain lines ended.
#[derive(Debug)]
pub(crate) enum PlainEnd {
    /// The text ended, or `each` asked to stop.
    Done,
    /// A line only the csv crate can read, and the rest of the text after
    /// it in the buffer (`reader` continues it). Read it with
    /// [`Rest::lines`] to get the same line numbers as a csv reader of the
    /// whole text.
    Rest(Rest),
}

/// The text from the first line that is not plain.
#[derive(Debug)]
pub(crate) struct Rest {
    /// The text from that line on, read so far (starting with a line break
    /// that the csv crate skips, so that it does not strip a byte-order mark
    /// from the line as if it started the file).
    pub(crate) text: Vec<u8>,
    /// The csv crate's position line of its first record.
    first_line: u64,
    /// Line breaks before `text`'s first byte.
    breaks_before: u64,
}

impl Rest {
    /// The position line a csv reader of the whole text would give the
    /// `index`-th record (0-based) of a csv reader of [`Rest::text`] whose
    /// position line is `line`.
    pub(crate) fn line(&self, index: usize, line: u64) -> u64 {
        if index == 0 {
            self.first_line
        } else {
            self.line_after_first(line)
        }
    }

    /// [`Rest::line`] of any record but the first (and of an error's
    /// position, which the csv crate counts the same way).
    pub(crate) fn line_after_first(&self, line: u64) -> u64 {
        // `line` counts the line break put in front of the text.
        (self.breaks_before + line).saturating_sub(1)
    }
}

/// Reads `reader` to the end or to the first line that is not plain,
/// calling `each(reader, line, content, text, ends)` for every record:
/// `line` is the csv crate's position line (1-based), `content` the
/// record's bytes without its line end, `text` the same when it is UTF-8,
/// `ends` where each field ends in it (the delimiters' offsets, then its
/// length). `each` returns `false` to stop;
/// `io` tells what a read error means.
pub(crate) fn read_plain_lines<R: Read, E>(
    reader: &mut R,
    delimiter: u8,
    io: impl Fn(std::io::Error) -> E,
    mut each: impl FnMut(&mut R, u64, &[u8], Option<&str>, &[usize]) -> Result<bool, E>,
) -> Result<PlainEnd, E> {
    let mut buf = vec![0u8; BLOCK];
    let mut filled = 0usize;
    let mut eof = false;
    // The csv crate's position line of the next record: one more than the
    // line breaks it consumed with the records before (the line breaks of
    // empty lines are consumed with the record after them, and the LF of a
    // CRLF with the record after it).
    let mut next_line: u64 = 1;
    // Line breaks before `buf[0]`.
    let mut breaks: u64 = 0;
    let mut ends: Vec<usize> = Vec::new();
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        while !eof && filled < buf.len() {
            let n = reader.read(&mut buf[filled..]).map_err(&io)?;
            eof = n == 0;
            filled += n;
        }
        // Whole lines only, unless the text has ended.
        let end = if eof {
            filled
        } else {
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(i) => i + 1,
                None => continue, // a line longer than the buffer: grow it
            }
        };
        let region = &buf[..end];
        // UTF-8 checked for the whole region at once (lines are cut at
        // ASCII bytes); when it is not, line by line.
        let region_text = simdutf8::basic::from_utf8(region).ok();
        let next_quote = memchr::memchr(b'"', region).unwrap_or(usize::MAX);
        let mut next_cr = memchr::memchr(b'\r', region).unwrap_or(usize::MAX);
        let mut p = 0usize;
        let mut nl = breaks;
        loop {
            // Line ends before a record are skipped (empty lines).
            while p < end && matches!(region[p], b'\n' | b'\r') {
                nl += u64::from(region[p] == b'\n');
                p += 1;
            }
            if p >= end {
                break;
            }
            if next_cr < p {
                // A CR of the line ends just skipped.
                next_cr = memchr::memchr(b'\r', &region[p..]).map_or(usize::MAX, |i| p + i);
            }
            // The line's delimiters (offsets in the line) and its end.
            ends.clear();
            let newline = split_line(&region[p..], delimiter, &mut ends).map(|i| p + i);
            let line_end = newline.unwrap_or(end);
            let mut content_end = line_end;
            if next_cr < line_end {
                if next_cr + 1 != line_end {
                    return Ok(rest(&buf[p..filled], next_line, nl));
                }
                content_end = next_cr; // CRLF (or CR at the end of the text)
                next_cr =
                    memchr::memchr(b'\r', &region[line_end..]).map_or(usize::MAX, |i| line_end + i);
            }
            if next_quote < content_end {
                return Ok(rest(&buf[p..filled], next_line, nl));
            }
            let content = &region[p..content_end];
            ends.push(content.len());
            let text = match region_text {
                Some(t) => t.get(p..content_end),
                None => simdutf8::basic::from_utf8(content).ok(),
            };
            if !each(reader, next_line, content, text, &ends)? {
                return Ok(PlainEnd::Done);
            }
            if content_end < line_end {
                // The record took its CR; the LF goes with the next.
                p = content_end + 1;
                next_line = nl + 1;
            } else if newline.is_some() {
                nl += 1;
                p = line_end + 1;
                next_line = nl + 1;
            } else {
                p = line_end;
            }
        }
        if eof {
            return Ok(PlainEnd::Done);
        }
        // Keep the bytes after the region (part of a line).
        buf.copy_within(end..filled, 0);
        filled -= end;
        breaks = nl;
    }
}

/// Finds the first `\n` of `bytes`, pushing the offsets of the delimiters
/// before it onto `ends`: eight bytes at a time, each compared at once.
///
/// Kept out of line: inlined into [`read_plain_lines`], its position and
/// word went through the stack on every word (too few registers were left
/// there), and each word's load waited for the store before it.
#[inline(never)]
fn split_line(bytes: &[u8], delimiter: u8, ends: &mut Vec<usize>) -> Option<usize> {
    let delimiters = u64::from_ne_bytes([delimiter; 8]);
    let newlines = u64::from_ne_bytes([b'\n'; 8]);
    let (words, remainder) = bytes.as_chunks::<8>();
    for (k, word) in words.iter().enumerate() {
        // Little-endian: the first byte is the lowest.
        let w = u64::from_le_bytes(*word);
        let found = zero_bytes(w ^ delimiters);
        let newline = zero_bytes(w ^ newlines);
        let at = k * 8;
        if newline != 0 {
            let nl_byte = newline.trailing_zeros() / 8;
            push_bits(found & ((1u64 << (nl_byte * 8)) - 1), at, ends);
            return Some(at + nl_byte as usize);
        }
        push_bits(found, at, ends);
    }
    let at = words.len() * 8;
    for (k, &b) in remainder.iter().enumerate() {
        if b == b'\n' {
            return Some(at + k);
        }
        if b == delimiter {
            ends.push(at + k);
        }
    }
    None
}

/// The high bit of every byte of `w` that is zero, and no other bit.
#[inline]
fn zero_bytes(w: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    // A byte's low seven bits plus 0x7F reach its high bit unless all are
    // zero, without carrying into the next byte.
    !(((w & LOW7) + LOW7) | w | LOW7)
}

/// Pushes `at` plus the byte offset of every high bit set in `found`.
#[inline]
fn push_bits(mut found: u64, at: usize, ends: &mut Vec<usize>) {
    while found != 0 {
        ends.push(at + (found.trailing_zeros() / 8) as usize);
        found &= found - 1;
    }
}

fn rest(text: &[u8], first_line: u64, breaks_before: u64) -> PlainEnd {
    let mut t = Vec::with_capacity(text.len() + 1);
    t.push(b'\n');
    t.extend_from_slice(text);
    PlainEnd::Rest(Rest {
        text: t,
        first_line,
        breaks_before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Records as (position line, fields).
    type Records = Vec<(u64, Vec<Vec<u8>>)>;

    /// Records read by the csv crate alone.
    fn by_csv(text: &[u8], delimiter: u8) -> Records {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(text);
        let mut out = Vec::new();
        let mut record = csv::ByteRecord::new();
        while reader.read_byte_record(&mut record).expect("csv") {
            let line = record.position().expect("position").line();
            out.push((line, record.iter().map(<[u8]>::to_vec).collect()));
        }
        out
    }

    /// The same read plain lines first, then the csv crate on the rest.
    fn by_split(text: &[u8], delimiter: u8, chunk: usize) -> (Records, bool) {
        let mut out = Vec::new();
        let mut reader = Trickle(Cursor::new(text), chunk);
        let end = read_plain_lines(
            &mut reader,
            delimiter,
            |e: std::io::Error| e,
            |_, line, content, text, ends| {
                // The text is given exactly when the content is UTF-8.
                assert_eq!(
                    text.map(str::as_bytes),
                    std::str::from_utf8(content).ok().map(str::as_bytes)
                );
                let mut start = 0;
                let fields = ends
                    .iter()
                    .map(|&e| {
                        let f = content[start..e].to_vec();
                        start = e + 1;
                        f
                    })
                    .collect();
                out.push((line, fields));
                Ok(true)
            },
        )
        .expect("read");
        let PlainEnd::Rest(rest) = end else {
            return (out, false);
        };
        let mut more = Vec::new();
        reader.read_to_end(&mut more).expect("rest");
        let mut all = rest.text.clone();
        all.extend_from_slice(&more);
        for (i, (line, fields)) in by_csv(&all, delimiter).into_iter().enumerate() {
            out.push((rest.line(i, line), fields));
        }
        (out, true)
    }

    /// A reader handing over at most `.1` bytes at a time.
    struct Trickle<R>(R, usize);
    impl<R: Read> Read for Trickle<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn plain_lines_read_as_the_csv_crate_reads_them() {
        let cases: &[&[u8]] = &[
            b"a,b,c\n1,2,3\n",
            b"a,b,c\r\n1,2,3\r\n\r\n\r\n4,5\r\n",
            b"a,b\n\n\n1,2\n,,\n  \n3",
            b"a,b\r\n1,2\r",
            b"\n\na,b\n",
            b"a,b\n1,\"quoted\n line\",3\n4,5\n",
            b"a,b\r\n1,2\r\n3\r4\n5,6\n",
            b"a,b\n\n\xEF\xBB\xBFbom,\"q\"\n",
            b"x\r\r\ny\n",
            b"",
            b"\n",
            b"one field",
        ];
        for &case in cases {
            for chunk in [1, 3, 1 << 20] {
                let (split, _) = by_split(case, b',', chunk);
                assert_eq!(
                    split,
                    by_csv(case, b','),
                    "{:?} read {chunk} bytes at a time",
                    String::from_utf8_lossy(case)
                );
            }
        }
    }

    #[test]
    fn generated_texts_read_as_the_csv_crate_reads_them() {
        // Pieces chosen so that every line end, empty line, quote and
        // carriage return meets every other.
        let pieces: [&[u8]; 10] = [
            b"ab",
            b",",
            b"\n",
            b"\r\n",
            b"\r",
            b"\"",
            b" ",
            b"\t",
            b"\xE4\xB8\x80",
            b"\xE4\xB8", // not UTF-8 (the start of 一)
        ];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut switched = 0;
        for _ in 0..3000 {
            let mut text = Vec::new();
            crate::xorshift(&mut seed);
            let len = (seed % 40) as usize;
            for _ in 0..len {
                crate::xorshift(&mut seed);
                // Quotes and lone CRs rarer than the rest.
                let k = (seed % 40) as usize;
                let piece = match k {
                    0 => pieces[5],
                    1 => pieces[4],
                    2 => pieces[9],
                    k => pieces[[0, 1, 2, 3, 6, 7, 8][k % 7]],
                };
                text.extend_from_slice(piece);
            }
            for delimiter in [b',', b'\t'] {
                let (split, went_on) = by_split(&text, delimiter, 1 + (seed % 7) as usize);
                switched += usize::from(went_on);
                assert_eq!(
                    split,
                    by_csv(&text, delimiter),
                    "{:?}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
        assert!(
            switched > 100,
            "the hand-over to the csv crate was tested {switched} times"
        );
    }

    #[test]
    fn lines_are_split_as_a_byte_loop_splits_them() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..5000 {
            crate::xorshift(&mut seed);
            let len = (seed % 41) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    [b'a', b',', b'\n', 0x80, 0xFF, 0x00, b'-', 0x0A ^ 0x80]
                        [(seed >> (i % 60)) as usize % 8]
                })
                .collect();
            let mut ends = Vec::new();
            let newline = split_line(&bytes, b',', &mut ends);
            let expected_newline = bytes.iter().position(|&b| b == b'\n');
            let before = &bytes[..expected_newline.unwrap_or(bytes.len())];
            let expected: Vec<usize> = (0..before.len()).filter(|&i| before[i] == b',').collect();
            assert_eq!((newline, ends), (expected_newline, expected), "{bytes:?}");
        }
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_read_whole() {
        let long = "x".repeat(3 * BLOCK);
        let text = format!("a,b\n{long},{long}\nc\n");
        let (split, went_on) = by_split(text.as_bytes(), b',', usize::MAX);
        assert!(!went_on);
        assert_eq!(split, by_csv(text.as_bytes(), b','));
    }

    #[test]
    fn stopping_stops() {
        let mut seen = 0;
        let end = read_plain_lines(
            &mut Cursor::new(b"a\nb\nc\n"),
            b',',
            |e: std::io::Error| e,
            |_, _, _, _, _| {
                seen += 1;
                Ok(seen < 2)
            },
        )
        .expect("read");
        assert!(matches!(end, PlainEnd::Done));
        assert_eq!(seen, 2);
    }
}
