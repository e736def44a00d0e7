//! Streaming ingest of large delimited files: one pass over the file on
//! disk (two when the first rows mislead), with memory bounded by the batch
//! size rather than the file size.
//!
//! 1. Encoding: a byte-order mark, UTF-16 without one, valid UTF-8 (checked
//!    over the whole file), else chardetng fed the whole file in pieces.
//! 2. Pass one reads the first [`Limits::stream_head_rows`] rows, detects the
//!    shape there ([`crate::shape::detect`]: title, unit line, header rows),
//!    then classifies every row below the header on its own, exactly as a
//!    file read whole is classified, and gathers each column's typing
//!    [`Evidence`] over all of its values. Only one bit per row (data or
//!    not) and a few totals and note rows are kept.
//! 3. In the same pass, once the first [`Limits::stream_head_rows`] data rows
//!    are in the evidence, the columns' types are guessed from it and every
//!    data row is converted to Arrow as it is found (each value parsed once
//!    for the evidence and the conversion), in batches of
//!    [`Limits::stream_batch_rows`]; redaction is planned from the first rows
//!    ([`Redaction::plan`], the same sample as a whole file) and applied
//!    batch by batch; each redacted batch goes to the caller.
//! 4. At the end the whole file's evidence decides the types. When it decides
//!    what was guessed, the table is complete: typing still saw every value.
//!    Otherwise the caller is told to forget the batches ([`Output::Restart`])
//!    and pass two reads the file again, converting with the decided types.
//!
//! In both passes a reader thread decodes and parses the file a few chunks
//! of rows ahead (`read_records`), each chunk's text held once with where
//! each column's fields lie in it ([`ChunkColumns`]); the rows of a chunk
//! are classified side by side and taken in order, and the columns are
//! typed and converted side by side on every core (`parallel.rs`), each
//! reading its column's fields in order.
//!
//! The result is the same table and report as [`crate::ingest_with_policy`]
//! on the file read whole (tested on the corpus), except that the shape is
//! detected in the first rows and at most [`MAX_KEPT_ROWS`] totals rows and
//! notes are listed.
//!
//! [`Limits::stream_head_rows`]: crate::Limits::stream_head_rows
//! [`Limits::stream_batch_rows`]: crate::Limits::stream_batch_rows

use crate::chunk::{ChunkColumns, Rows};
use crate::naming::unique_names;
use crate::plain_lines::{PlainEnd, read_plain_lines};
use crate::privacy::{Redaction, RedactionPolicy, SAMPLE_VALUES};
use crate::read::delimited::{refuse_binary, sniff_delimiter, sniff_utf16};
use crate::read::{Budget, Cell, Sheet};
use crate::report::{Report, SheetReport, TotalsCheck, Warning};
use crate::shape::{
    RowClass, Shape, classify_row_fully, detect, plainly_data, plainly_data_in_record,
    trailing_note_of, width_of,
};
use crate::table::{
    Problems, add_examples, column_unit, locate, read_notes, sum_of, sum_value, to_arrow,
    totals_column,
};
use crate::text::split_header_unit;
use crate::typing::{Converter, Decision, Evidence, Kind};
use crate::{Error, IngestOptions, Result};
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use encoding_rs::{Decoder, Encoding};
use std::borrow::Cow;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// Totals rows and notes listed in a streamed file's report (the rest are counted).
pub const MAX_KEPT_ROWS: usize = 1_000;

/// One-cell text rows held back as possible trailing notes; a longer run of
/// them is data.
const MAX_PENDING_NOTES: usize = 10_000;

/// Rows buffered at most before redaction is planned from what is there.
const MAX_PLAN_ROWS: usize = 262_144;

const SHEET: &str = "Sheet1";

/// Progress of a long ingest: `(pass, bytes read, file size)`. Pass 1 reads,
/// types and converts (it starts again from 0 when a file taken as UTF-8 is
/// not); pass 2 converts again when the first rows' types did not hold.
pub type Progress<'a> = &'a (dyn Fn(u8, u64, u64) + Sync);

/// Ingests the file at `path` as an upload does (read, shape, types,
/// default or chosen redaction) and hands the redacted table to `on_batch`
/// in one or more batches of the same schema; returns the report. A
/// streamed file may void what it handed over ([`Output::Restart`]).
///
/// Delimited files above [`crate::Limits::stream_above_bytes`] are streamed
/// ([`ingest_delimited`]), Parquet files are read row group by row group
/// ([`crate::passthrough`]); other files are read whole under the limits.
pub fn ingest_path<E: From<Error>>(
    file_name: &str,
    path: &Path,
    options: &IngestOptions,
    policy: &RedactionPolicy,
    progress: Option<Progress>,
    mut on_batch: impl FnMut(Output) -> std::result::Result<(), E>,
) -> std::result::Result<Report, E> {
    let io = |e| io_error(file_name, e);
    let size = std::fs::metadata(path).map_err(io)?.len();
    let mut head = Vec::new();
    let mut f = std::fs::File::open(path).map_err(io)?;
    (&mut f).take(8).read_to_end(&mut head).map_err(io)?;
    let mut tail = [0u8; 4];
    if size >= 8 {
        f.seek(SeekFrom::End(-4)).map_err(io)?;
        f.read_exact(&mut tail).map_err(io)?;
    }
    if crate::passthrough::is_parquet(&head, &tail) {
        return crate::passthrough::ingest_parquet(file_name, f, options, policy, |batch| {
            on_batch(Output::Batch(batch))
        });
    }
    let workbook = head.starts_with(b"PK\x03\x04")
        || head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    if workbook || size <= options.limits.stream_above_bytes {
        let bytes = read_all(path, size, progress).map_err(io)?;
        let ingested = crate::ingest_with_policy(file_name, &bytes, options, policy)?;
        drop(bytes);
        on_batch(Output::Batch(ingested.batch))?;
        return Ok(ingested.report);
    }
    ingest_delimited(file_name, path, options, policy, progress, on_batch)
}

fn read_all(path: &Path, size: u64, progress: Option<Progress>) -> std::io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(size as usize);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
        if let Some(p) = progress {
            p(1, bytes.len() as u64, size);
        }
    }
    Ok(bytes)
}

/// How the text of a delimited file is read.
struct TextFormat {
    encoding: &'static Encoding,
    /// Bytes of the byte-order mark to skip.
    skip: u64,
    delimiter: u8,
    notes: Vec<String>,
    /// UTF-8 from the first megabytes only: a bad byte further on means
    /// the file must be read again with its encoding detected.
    assumed_utf8: bool,
}

/// What a streamed ingest hands to its caller, in order.
#[derive(Debug)]
pub enum Output {
    /// The next redacted batch of the table.
    Batch(RecordBatch),
    /// The batches handed over so far are void: the whole file decided other
    /// columns, types or units than its first rows did, and the table is
    /// handed over again from its first row (its schema may differ).
    Restart,
}

/// Streams a delimited file (see the module documentation): one pass when
/// the types the first rows suggest hold for the whole file, else two.
pub fn ingest_delimited<E: From<Error>>(
    file_name: &str,
    path: &Path,
    options: &IngestOptions,
    policy: &RedactionPolicy,
    progress: Option<Progress>,
    mut on_batch: impl FnMut(Output) -> std::result::Result<(), E>,
) -> std::result::Result<Report, E> {
    let file = file_name;
    let size = std::fs::metadata(path)
        .map_err(|e| io_error(file, e))?
        .len();
    let caller = |e| match e {
        Stop::Ingest(e) => E::from(e),
        Stop::Caller(e) => e,
    };

    // Pass one: shape, row classes, evidence; data rows converted as guessed.
    let mut whole_check = false;
    let (mut format, scan, mut guess, replaced, first_bad_line) = loop {
        let format = text_format(file, path, whole_check)?;
        let mut scan = Scan::new(file, options);
        let mut guess = Guess::new(options, policy);
        let (replaced, first_bad_line) = read_records(
            file,
            path,
            &format,
            options,
            size,
            1,
            progress,
            |first, rows, plain| {
                scan.feed_chunk(first, rows, plain, &mut |state, data| {
                    guess.take(state, data, &mut on_batch)
                })
            },
        )
        .map_err(caller)?;
        if replaced > 0 && format.assumed_utf8 {
            // Not UTF-8 past its first megabytes: detect the encoding over
            // the whole file and read it again.
            if guess.handed {
                on_batch(Output::Restart)?;
            }
            whole_check = true;
            continue;
        }
        break (format, scan, guess, replaced, first_bad_line);
    };
    if replaced > 0 {
        format.notes.insert(
            0,
            format!(
                "{replaced} byte sequence(s) are not valid {} and were replaced with U+FFFD (first on line {})",
                format.encoding.name(),
                first_bad_line.unwrap_or(0)
            ),
        );
    }
    let plan = scan
        .finish(&mut |state, data| guess.take(state, data, &mut on_batch))
        .map_err(caller)?;
    let columns = plan.column_plans();
    let convert = match guess
        .confirmed(&plan, &columns, &mut on_batch)
        .map_err(caller)?
    {
        Some(convert) => convert,
        None => {
            // Pass two: convert again with the whole file's types.
            let reserve = plan.data_rows.min(options.limits.stream_batch_rows.max(1));
            let mut convert = Convert::new(columns, &plan, reserve, policy);
            read_records(
                file,
                path,
                &format,
                options,
                size,
                2,
                progress,
                |first, chunk, _| {
                    let picks: Vec<(usize, usize)> = (0..chunk.len())
                        .map(|i| (first + i, i))
                        .filter(|(ordinal, _)| plan.is_data(*ordinal))
                        .collect();
                    convert
                        .take(Rows::Picked(chunk, &picks), options, None, &mut on_batch)
                        .map(|_| ())
                },
            )
            .map_err(caller)?;
            convert
        }
    };
    let mut convert = convert;
    for batch in convert.flush(true)? {
        on_batch(Output::Batch(batch))?;
    }
    Ok(convert.report(file, &format, plan)?)
}

/// Pass one's conversion: data rows are converted as they are found, with
/// the types the evidence of the first [`crate::Limits::stream_head_rows`]
/// data rows decides. It is kept when the whole file's evidence decides the
/// same columns, types and units (the table is then exactly what a second
/// pass would give); otherwise its batches are void and pass two converts.
struct Guess<'p> {
    options: &'p IngestOptions,
    policy: &'p RedactionPolicy,
    /// Data rows found before the guess is made.
    waiting: Vec<(usize, Vec<Cell>)>,
    convert: Option<Convert<'p>>,
    /// Batches handed over.
    handed: bool,
}

impl<'p> Guess<'p> {
    fn new(options: &'p IngestOptions, policy: &'p RedactionPolicy) -> Self {
        Guess {
            options,
            policy,
            waiting: Vec::new(),
            convert: None,
            handed: false,
        }
    }

    /// Adds data rows to the evidence and converts them (once guessed: the
    /// guess is made as soon as the first rows it waits for are in).
    fn take<E>(
        &mut self,
        state: &mut Classified,
        rows: Rows,
        on_batch: &mut impl FnMut(Output) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), Stop<E>> {
        let mut rows = rows;
        if self.convert.is_none() {
            let wanted = self.options.limits.stream_head_rows.max(1);
            let (now, later) = rows.split_at(wanted.saturating_sub(state.observed));
            state.observe(now, None);
            self.waiting.extend(now.to_owned());
            if state.observed < wanted {
                return Ok(());
            }
            self.start(state, on_batch)?;
            rows = later;
        }
        if let Some(convert) = &mut self.convert {
            self.handed |= convert.take(rows, self.options, Some(state), on_batch)?;
        }
        Ok(())
    }

    /// Guesses the columns from the evidence so far and converts the rows
    /// that waited.
    fn start<E>(
        &mut self,
        state: &Classified,
        on_batch: &mut impl FnMut(Output) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), Stop<E>> {
        let reserve = self.options.limits.stream_batch_rows.max(1);
        let mut convert = Convert::new(state.column_plans(), state, reserve, self.policy);
        let waiting = std::mem::take(&mut self.waiting);
        let rows: Vec<(usize, &[Cell])> = waiting
            .iter()
            .map(|(o, cells)| (*o, cells.as_slice()))
            .collect();
        self.handed |= convert.take(Rows::Cells(&rows), self.options, None, on_batch)?;
        self.convert = Some(convert);
        Ok(())
    }

    /// The conversion when the whole file's `columns` are those guessed
    /// (a file with fewer data rows than the guess waits for is converted
    /// now); `None`, after voiding what was handed over, when they differ.
    fn confirmed<E>(
        mut self,
        plan: &Classified,
        columns: &[ColumnPlan],
        on_batch: &mut impl FnMut(Output) -> std::result::Result<(), E>,
    ) -> std::result::Result<Option<Convert<'p>>, Stop<E>> {
        if self.convert.is_none() {
            self.start(plan, on_batch)?;
        }
        match self.convert {
            Some(convert) if convert.follows(columns) => Ok(Some(convert)),
            _ => {
                if self.handed {
                    on_batch(Output::Restart).map_err(Stop::Caller)?;
                }
                Ok(None)
            }
        }
    }
}

/// Why reading stopped: the file, or the caller's batch handler.
enum Stop<E> {
    Ingest(Error),
    Caller(E),
}

impl<E> From<Error> for Stop<E> {
    fn from(e: Error) -> Self {
        Stop::Ingest(e)
    }
}

fn io_error(file: &str, e: std::io::Error) -> Error {
    Error::Io {
        file: file.to_string(),
        detail: e.to_string(),
    }
}

/// The first bytes of a file, read to tell its encoding and delimiter.
const PREFIX_BYTES: u64 = 4 << 20;

/// Decides encoding and delimiter, refusing binary content. A file whose
/// first megabytes are UTF-8 is taken as UTF-8 (checked as it is decoded)
/// unless `whole_check` asks for the whole file to be checked first.
fn text_format(file: &str, path: &Path, whole_check: bool) -> Result<TextFormat> {
    let io = |e| io_error(file, e);
    let mut f = std::fs::File::open(path).map_err(io)?;
    let size = f.metadata().map_err(io)?.len();
    // Room for the whole prefix at once: read in a few large reads, not
    // in reads doubling from 32 bytes.
    let mut prefix = Vec::with_capacity(size.min(PREFIX_BYTES) as usize + 1);
    (&mut f)
        .take(PREFIX_BYTES)
        .read_to_end(&mut prefix)
        .map_err(io)?;
    // Known binary formats (Parquet is named by its first and last bytes).
    let mut tail = [0u8; 4];
    if size >= 8 {
        f.seek(SeekFrom::End(-4)).map_err(io)?;
        f.read_exact(&mut tail).map_err(io)?;
    }
    let mut probe = prefix[..prefix.len().min(4096)].to_vec();
    if size >= 8 {
        probe.extend_from_slice(&tail);
    }
    let (notes, tab_hint) = crate::read::text_checks(file, &probe)?;
    let mut assumed_utf8 = false;

    let (encoding, skip) = if let Some((enc, bom)) = Encoding::for_bom(&prefix) {
        (enc, bom as u64)
    } else if let Some(enc) = sniff_utf16(&prefix) {
        (enc, 0)
    } else if let Some(assumed) = utf8(path, &prefix, size, whole_check).map_err(io)? {
        assumed_utf8 = assumed;
        (encoding_rs::UTF_8, 0)
    } else {
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        let mut f = std::fs::File::open(path).map_err(io)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            detector.feed(&buf[..n], false);
        }
        detector.feed(&[], true);
        let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
        // GBK text is also valid GB18030; decoding with the superset loses nothing.
        let guess = if guess == encoding_rs::GBK {
            encoding_rs::GB18030
        } else {
            guess
        };
        (guess, 0)
    };
    // The first characters, for the delimiter and the control-character
    // check: valid UTF-8 as it is, other text decoded.
    let body = &prefix[(skip as usize).min(prefix.len())..];
    let utf8 = (encoding == encoding_rs::UTF_8).then(|| utf8_text(body));
    let text = match utf8.flatten() {
        Some(text) => Cow::Borrowed(text),
        None => {
            let mut decoder = encoding.new_decoder_without_bom_handling();
            let mut text = String::with_capacity(
                decoder
                    .max_utf8_buffer_length(body.len())
                    .unwrap_or(body.len() * 3),
            );
            let _ = decoder.decode_to_string(body, &mut text, size <= prefix.len() as u64);
            Cow::Owned(text)
        }
    };
    refuse_binary(file, &text, encoding)?;
    let delimiter = sniff_delimiter(&text, tab_hint);
    Ok(TextFormat {
        encoding,
        skip,
        delimiter,
        notes,
        assumed_utf8,
    })
}

/// Whether the file is UTF-8: `Some(false)` when checked over the whole
/// file (asked for, or the `prefix` is all of it), `Some(true)` when only
/// its first bytes (`prefix`, but for a sequence cut off at its end) were.
fn utf8(path: &Path, prefix: &[u8], size: u64, whole_check: bool) -> std::io::Result<Option<bool>> {
    if whole_check || size <= prefix.len() as u64 {
        return Ok(is_utf8(path)?.then_some(false));
    }
    let valid = match simdutf8::compat::from_utf8(prefix) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    Ok(valid.then_some(true))
}

/// `bytes` as UTF-8 text, but for a sequence cut off at the end; `None`
/// when they hold bytes that are not UTF-8.
fn utf8_text(bytes: &[u8]) -> Option<&str> {
    match simdutf8::compat::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(e) if e.error_len().is_none() => {
            simdutf8::compat::from_utf8(bytes.get(..e.valid_up_to())?).ok()
        }
        Err(_) => None,
    }
}

/// Whether the whole file is valid UTF-8, read in pieces.
fn is_utf8(path: &Path) -> std::io::Result<bool> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut carry = 0usize;
    loop {
        let n = f.read(&mut buf[carry..])?;
        if n == 0 {
            return Ok(carry == 0);
        }
        let end = carry + n;
        match simdutf8::compat::from_utf8(&buf[..end]) {
            Ok(_) => carry = 0,
            Err(e) if e.error_len().is_none() => {
                // An incomplete sequence at the end: keep it for the next piece.
                let valid = e.valid_up_to();
                buf.copy_within(valid..end, 0);
                carry = end - valid;
            }
            Err(_) => return Ok(false),
        }
    }
}

/// The text of a file as the CSV parser reads it, with what went wrong on
/// the way. UTF-8 is passed through as it is on disk (each record is
/// checked when it is parsed, see `parse_records`); other encodings are
/// decoded to UTF-8 here.
struct Decoding {
    inner: std::io::BufReader<std::fs::File>,
    /// `None` for UTF-8, passed through.
    decoder: Option<Decoder>,
    raw: Vec<u8>,
    out: String,
    pos: usize,
    done: bool,
    /// Bytes of the file consumed (after the byte-order mark).
    consumed: u64,
    /// Line breaks decoded so far (decoded text only).
    lines: usize,
    /// Characters that were not valid in the encoding, and the first line with one.
    replaced: usize,
    first_bad_line: Option<usize>,
    /// Where the first NUL character is, which stops reading.
    nul: Option<Nul>,
}

/// Where a NUL character was found.
enum Nul {
    /// On this line of decoded text.
    Line(usize),
    /// At this byte offset of text passed through.
    Offset(u64),
}

impl Decoding {
    fn new(file: std::fs::File, encoding: &'static Encoding) -> Self {
        let decoder =
            (encoding != encoding_rs::UTF_8).then(|| encoding.new_decoder_without_bom_handling());
        Decoding {
            inner: std::io::BufReader::with_capacity(1 << 16, file),
            decoder,
            raw: vec![0u8; 1 << 16],
            out: String::new(),
            pos: 0,
            done: false,
            consumed: 0,
            lines: 0,
            replaced: 0,
            first_bad_line: None,
            nul: None,
        }
    }

    fn refill(&mut self) -> std::io::Result<()> {
        let Some(decoder) = self.decoder.as_mut() else {
            self.done = true;
            return Ok(());
        };
        let n = self.inner.read(&mut self.raw)?;
        self.consumed += n as u64;
        let last = n == 0;
        self.out.clear();
        self.pos = 0;
        let need = decoder.max_utf8_buffer_length(n).unwrap_or(n * 3 + 16);
        self.out.reserve(need);
        let (_, _, had_errors) = decoder.decode_to_string(&self.raw[..n], &mut self.out, last);
        if had_errors {
            let bad = self.out.chars().filter(|&c| c == '\u{FFFD}').count();
            if self.first_bad_line.is_none()
                && let Some(at) = self.out.find('\u{FFFD}')
            {
                self.first_bad_line = Some(self.lines + count_lines(&self.out[..at]) + 1);
            }
            self.replaced += bad;
        }
        if let Some(at) = self.out.find('\0') {
            self.nul = Some(Nul::Line(self.lines + count_lines(&self.out[..at]) + 1));
            self.out.truncate(at);
            self.done = true;
        }
        self.lines += count_lines(&self.out);
        if last {
            self.done = true;
        }
        Ok(())
    }

    /// Reads UTF-8 as it is, up to the first NUL.
    fn pass_through(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let mut n = self.inner.read(buf)?;
        if let Some(at) = memchr::memchr(0, &buf[..n]) {
            self.nul = Some(Nul::Offset(self.consumed + at as u64));
            n = at;
            self.done = true;
        }
        self.consumed += n as u64;
        if n == 0 {
            self.done = true;
        }
        Ok(n)
    }

    /// Notes invalid UTF-8 passed through: `replaced` characters on `line`.
    fn replaced_on(&mut self, line: usize, replaced: usize) {
        self.replaced += replaced;
        self.first_bad_line.get_or_insert(line);
    }
}

fn count_lines(s: &str) -> usize {
    s.bytes().filter(|&b| b == b'\n').count()
}

/// The 1-based line of the file at byte `offset` of its text (which starts
/// `skip` bytes in).
fn line_at(path: &Path, skip: u64, offset: u64) -> std::io::Result<usize> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(skip))?;
    let mut rest = f.take(offset);
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 1;
    loop {
        let n = rest.read(&mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count();
    }
}

impl Read for Decoding {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.decoder.is_none() {
            return self.pass_through(buf);
        }
        while self.pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let bytes = &self.out.as_bytes()[self.pos..];
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// Rows parsed ahead by the reader thread and handed over at once.
const CHUNK_ROWS: usize = 4096;

/// Chunks in flight between the reader thread and the row handler.
const CHUNKS_AHEAD: usize = 4;

/// Fields of a record gathered on the stack (a wider record's in a `Vec`).
const STACK_FIELDS: usize = 32;

/// Text held by a chunk above which it is handed over before it is full.
const CHUNK_BYTES: usize = 8 << 20;

/// Rows parsed by the reader thread (the buffers are reused chunk to chunk).
struct Chunk {
    /// Ordinal of the first row.
    first: usize,
    rows: ChunkColumns,
    /// Whether each row is a plain record ([`plainly_data`]), told by the
    /// reader thread while the row is fresh in its cache.
    plain: Vec<bool>,
    /// Bytes of the file consumed after the last row.
    consumed: u64,
}

/// What the reader thread sends: rows, then how reading ended.
enum Reading {
    Rows(Chunk),
    /// Characters replaced and the first line with one.
    End(Result<(usize, Option<usize>)>),
}

/// Reads every record of the file as cells and hands them to `each` a chunk
/// at a time, with the 0-based ordinal of the chunk's first row (the row
/// index a file read whole would give it) and which rows are plain records.
///
/// Decoding and CSV parsing run on their own thread, a few chunks of rows
/// ahead of `each`.
#[allow(clippy::too_many_arguments)] // one read of one file: each is part of it
fn read_records<E: From<Error>>(
    file: &str,
    path: &Path,
    format: &TextFormat,
    options: &IngestOptions,
    size: u64,
    pass: u8,
    progress: Option<Progress>,
    mut each: impl FnMut(usize, &ChunkColumns, &[bool]) -> std::result::Result<(), E>,
) -> std::result::Result<(usize, Option<usize>), E> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Reading>(CHUNKS_AHEAD);
    let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Chunk>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let end = parse_records(file, path, format, options, &tx, &spare_rx);
            let _ = tx.send(Reading::End(end));
        });
        let mut reported = 0u64;
        for message in rx {
            match message {
                Reading::Rows(chunk) => {
                    each(chunk.first, &chunk.rows, &chunk.plain)?;
                    if let Some(p) = progress
                        && chunk.consumed >= reported + (4 << 20)
                    {
                        reported = chunk.consumed;
                        p(pass, chunk.consumed, size);
                    }
                    // The reader may have stopped: then the chunk is dropped.
                    let _ = spare_tx.send(chunk);
                }
                Reading::End(end) => {
                    let end = end?;
                    if let Some(p) = progress {
                        p(pass, size, size);
                    }
                    return Ok(end);
                }
            }
        }
        Err(Error::Io {
            file: file.to_string(),
            detail: "the reader thread stopped".to_string(),
        }
        .into())
    })
}

/// The reader thread: decodes and parses the file, sending chunks of rows
/// until the end, an error or a closed channel. Lines without quotes are
/// split straight off the text ([`read_plain_lines`]); from the first line
/// that is not plain on, the csv crate reads the rest.
fn parse_records(
    file: &str,
    path: &Path,
    format: &TextFormat,
    options: &IngestOptions,
    tx: &std::sync::mpsc::SyncSender<Reading>,
    spare: &std::sync::mpsc::Receiver<Chunk>,
) -> Result<(usize, Option<usize>)> {
    let io = |e| io_error(file, e);
    let mut f = std::fs::File::open(path).map_err(io)?;
    f.seek(SeekFrom::Start(format.skip)).map_err(io)?;
    let mut decoding = Decoding::new(f, format.encoding);
    let mut rows = ChunkFiller {
        file,
        options,
        budget: Budget::new(file, &options.limits),
        tx,
        spare,
        chunk: None,
        ordinal: 0,
        lossy: String::new(),
        stopped: false,
    };
    let plain = read_plain_lines(
        &mut decoding,
        format.delimiter,
        io,
        |decoding, line, content, text, ends| {
            let line0 = line.saturating_sub(1) as usize;
            let consumed = decoding.consumed;
            // Fields are cut at ASCII delimiters: valid text's fields are text.
            match text {
                Some(text) => rows.take(line0, text, ends.len(), consumed, |i| {
                    let start = match i.checked_sub(1) {
                        Some(before) => ends.get(before).map_or(0, |e| e + 1),
                        None => 0,
                    };
                    start..ends.get(i).copied().unwrap_or(start)
                }),
                None => {
                    let mut start = 0;
                    let fields = ends.iter().map(|&end| {
                        let f = content.get(start..end).unwrap_or_default();
                        start = end + 1;
                        f
                    });
                    rows.take_lossy(line0, fields, consumed, decoding)
                }
            }
        },
    )?;
    let decoding = match plain {
        PlainEnd::Done => decoding,
        PlainEnd::Rest(mut rest) if !rows.stopped => {
            let text = std::mem::take(&mut rest.text);
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(format.delimiter)
                .buffer_capacity(1 << 16)
                .from_reader(std::io::Cursor::new(text).chain(decoding));
            let mut record = csv::ByteRecord::new();
            let mut index = 0usize;
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        return Err(Error::Csv {
                            file: file.to_string(),
                            line: e.position().map_or(0, |p| rest.line_after_first(p.line())),
                            detail: e.to_string(),
                        });
                    }
                }
                let line = record.position().map_or(0, |p| rest.line(index, p.line()));
                index += 1;
                let line0 = line.saturating_sub(1) as usize;
                let consumed = reader.get_ref().get_ref().1.consumed;
                // The record's text: checked at once (the fields of valid
                // text are slices of it, cut at ASCII delimiters), else each
                // field with what is not UTF-8 replaced by U+FFFD.
                let kept = match simdutf8::basic::from_utf8(record.as_slice()) {
                    Ok(text) => rows.take(line0, text, record.len(), consumed, |i| {
                        record.range(i).unwrap_or(0..0)
                    }),
                    Err(_) => rows.take_lossy(
                        line0,
                        record.iter(),
                        consumed,
                        reader.get_mut().get_mut().1,
                    ),
                };
                if !kept? {
                    break;
                }
            }
            reader.into_inner().into_inner().1
        }
        PlainEnd::Rest(_) => decoding,
    };
    if !rows.finish(decoding.consumed) {
        return Ok((0, None));
    }
    let nul_line = match decoding.nul {
        Some(Nul::Line(line)) => Some(line),
        Some(Nul::Offset(offset)) => Some(line_at(path, format.skip, offset).map_err(io)?),
        None => None,
    };
    if let Some(line) = nul_line {
        return Err(Error::UnsupportedFormat {
            file: file.to_string(),
            detail: format!(
                "binary content, not a spreadsheet or delimited text (a NUL character on line {line}, decoded as {})",
                format.encoding.name()
            ),
        });
    }
    Ok((decoding.replaced, decoding.first_bad_line))
}

/// The reader thread's rows gathered into chunks, each chunk handed over
/// when full.
struct ChunkFiller<'a> {
    file: &'a str,
    options: &'a IngestOptions,
    budget: Budget<'a>,
    tx: &'a std::sync::mpsc::SyncSender<Reading>,
    spare: &'a std::sync::mpsc::Receiver<Chunk>,
    chunk: Option<Chunk>,
    /// Rows taken so far.
    ordinal: usize,
    /// A record that was not UTF-8, made text.
    lossy: String,
    /// The row handler stopped (its error is what counts).
    stopped: bool,
}

impl ChunkFiller<'_> {
    /// Takes the record on 0-based line `line0` with `n` fields, field `i`
    /// being `record[span(i)]`; `consumed` bytes of the file are read.
    /// Returns `false` once the row handler stopped.
    fn take(
        &mut self,
        line0: usize,
        record: &str,
        n: usize,
        consumed: u64,
        span: impl Fn(usize) -> std::ops::Range<usize>,
    ) -> Result<bool> {
        // Blank fields are held as empty text (most fields are told filled
        // by their first byte, which white space cannot start).
        let kept = |i: usize| {
            let at = span(i);
            let f = record.get(at.clone()).unwrap_or_default();
            let filled = f
                .as_bytes()
                .first()
                .is_some_and(|&b| crate::text::cannot_start_space(b));
            if !filled && crate::text::trim(f).is_empty() {
                at.start..at.start
            } else {
                at
            }
        };
        if n <= STACK_FIELDS {
            let mut spans = [const { 0..0 }; STACK_FIELDS];
            for (i, s) in spans.iter_mut().enumerate().take(n) {
                *s = kept(i);
            }
            self.take_kept(line0, record, &spans[..n], consumed)
        } else {
            let spans: Vec<std::ops::Range<usize>> = (0..n).map(kept).collect();
            self.take_kept(line0, record, &spans, consumed)
        }
    }

    /// [`ChunkFiller::take`] of the fields' spans with blank ones made empty.
    fn take_kept(
        &mut self,
        line0: usize,
        record: &str,
        spans: &[std::ops::Range<usize>],
        consumed: u64,
    ) -> Result<bool> {
        let width = spans
            .iter()
            .rposition(|s| !s.is_empty())
            .map_or(0, |i| i + 1);
        let spans = &spans[..width];
        if width > 0 {
            self.budget.check_cell(SHEET, line0, width - 1, 0)?;
        }
        if record.len() > self.options.limits.max_cell_bytes {
            for (c, s) in spans.iter().enumerate() {
                self.budget.check_cell(SHEET, line0, c, s.len())?;
            }
        }
        let spare = self.spare;
        let ordinal = self.ordinal;
        let chunk = self.chunk.get_or_insert_with(|| new_chunk(spare, ordinal));
        chunk.plain.push(plainly_data_in_record(record, spans));
        chunk
            .rows
            .push_record(record, width, |c| spans.get(c).cloned().unwrap_or(0..0))
            .map_err(|too_long| Error::CellTooLong {
                file: self.file.to_string(),
                sheet: SHEET.to_string(),
                row: line0 as u64 + 1,
                column: crate::report::column_letter(too_long.column),
                bytes: too_long.bytes,
                limit: u32::MAX as usize,
            })?;
        self.ordinal += 1;
        if chunk.rows.len() == CHUNK_ROWS || chunk.rows.bytes() >= CHUNK_BYTES {
            chunk.consumed = consumed;
            if let Some(full) = self.chunk.take()
                && self.tx.send(Reading::Rows(full)).is_err()
            {
                self.stopped = true;
            }
        }
        Ok(!self.stopped)
    }

    /// [`ChunkFiller::take`] of a record that is not UTF-8: what is not is
    /// replaced by U+FFFD, and counted.
    fn take_lossy<'f>(
        &mut self,
        line0: usize,
        fields: impl Iterator<Item = &'f [u8]>,
        consumed: u64,
        decoding: &mut Decoding,
    ) -> Result<bool> {
        let mut lossy = std::mem::take(&mut self.lossy);
        lossy.clear();
        let mut ends = Vec::new();
        let mut replaced = 0;
        for f in fields {
            let text = String::from_utf8_lossy(f);
            replaced += text.chars().filter(|&c| c == '\u{FFFD}').count();
            lossy.push_str(&text);
            ends.push(lossy.len());
        }
        decoding.replaced_on(line0 + 1, replaced);
        let kept = self.take(line0, &lossy, ends.len(), consumed, |i| {
            let start = i
                .checked_sub(1)
                .and_then(|b| ends.get(b))
                .copied()
                .unwrap_or(0);
            start..ends.get(i).copied().unwrap_or(start)
        });
        self.lossy = lossy;
        kept
    }

    /// Hands over the last rows; `false` when the row handler stopped.
    fn finish(&mut self, consumed: u64) -> bool {
        if self.stopped {
            return false;
        }
        match self.chunk.take() {
            Some(mut chunk) if chunk.rows.len() > 0 => {
                chunk.consumed = consumed;
                self.tx.send(Reading::Rows(chunk)).is_ok()
            }
            _ => true,
        }
    }
}

/// A chunk for rows from `first` on, reusing one the row handler is done with.
fn new_chunk(spare: &std::sync::mpsc::Receiver<Chunk>, first: usize) -> Chunk {
    let mut chunk = spare.try_recv().unwrap_or_else(|_| Chunk {
        first,
        rows: ChunkColumns::default(),
        plain: Vec::with_capacity(CHUNK_ROWS),
        consumed: 0,
    });
    chunk.first = first;
    chunk.rows.clear();
    chunk.plain.clear();
    chunk
}

/// Pass one: the shape from the head, then every row classified.
struct Scan<'a> {
    file: &'a str,
    head_rows: usize,
    head: Vec<Vec<Cell>>,
    state: Option<Classified>,
    /// Rows with anything in them (none: the file holds no text).
    filled_rows: usize,
}

/// One column's share of [`Classified::observe`]: its evidence and, when the
/// rows are converted too, its conversion.
struct ColumnWork<'s, 'c> {
    /// The column's index in the file.
    index: usize,
    evidence: &'s mut Evidence,
    has_data: &'s mut bool,
    /// Time the column took on the last rows (see [`Classified::cost`]).
    cost: &'s mut u64,
    planned: Option<&'c mut PlannedColumn>,
}

/// What pass one learnt: which rows are data, and each column's evidence.
struct Classified {
    shape: Shape,
    width: u32,
    data: Vec<u64>,
    data_rows: usize,
    /// Data rows added to the evidence so far.
    observed: usize,
    pending: Vec<(usize, Vec<Cell>)>,
    evidence: Vec<Evidence>,
    has_data: Vec<bool>,
    /// Nanoseconds each column took to type in the last rows observed: the
    /// costliest are handed out first ([`crate::parallel::for_each_costliest_first`]).
    cost: Vec<u64>,
    headers: Vec<String>,
    blanks: usize,
    blanks_since_data: usize,
    totals: Vec<(usize, Vec<Cell>)>,
    totals_count: usize,
    footnotes: Vec<(usize, String)>,
    footnotes_count: usize,
    unit: Option<String>,
}

/// The data rows classification found in some rows, in file order.
#[derive(Default)]
struct Found {
    /// Rows of earlier chunks held back as possible notes and confirmed
    /// now: they come before every picked row.
    earlier: Vec<(usize, Vec<Cell>)>,
    /// Each data row's ordinal and index among the rows classified.
    picks: Vec<(usize, usize)>,
}

impl Found {
    /// The earlier rows, to hand over before the picked ones.
    fn earlier(&self) -> Vec<(usize, &[Cell])> {
        self.earlier
            .iter()
            .map(|(o, c)| (*o, c.as_slice()))
            .collect()
    }
}

/// Rows as classification reads them: a sheet's rows or a chunk's.
trait ClassifiedRows: Sync {
    /// Number of rows.
    fn count(&self) -> usize;
    /// Row `i`'s cells.
    fn cells(&self, i: usize) -> Cow<'_, [Cell]>;
}

impl ClassifiedRows for [Vec<Cell>] {
    fn count(&self) -> usize {
        self.len()
    }

    fn cells(&self, i: usize) -> Cow<'_, [Cell]> {
        Cow::Borrowed(self.get(i).map_or(&[], Vec::as_slice))
    }
}

impl ClassifiedRows for ChunkColumns {
    fn count(&self) -> usize {
        self.len()
    }

    fn cells(&self, i: usize) -> Cow<'_, [Cell]> {
        Cow::Owned(self.row(i))
    }
}

/// What is done with the data rows as pass one finds them (see [`Guess`]).
type OnData<'f, E> = dyn FnMut(&mut Classified, Rows) -> std::result::Result<(), Stop<E>> + 'f;

impl<'a> Scan<'a> {
    fn new(file: &'a str, options: &IngestOptions) -> Self {
        Scan {
            file,
            head_rows: options.limits.stream_head_rows.max(1),
            head: Vec::new(),
            state: None,
            filled_rows: 0,
        }
    }

    /// Feeds a chunk of rows: row by row until the head is complete, then
    /// the rest of the chunk at once. The data rows found go to `on_data`
    /// in file order.
    fn feed_chunk<E>(
        &mut self,
        first: usize,
        rows: &ChunkColumns,
        plain: &[bool],
        on_data: &mut OnData<'_, E>,
    ) -> std::result::Result<(), Stop<E>> {
        let mut at = 0;
        while self.state.is_none() && at < rows.len() {
            if rows.is_filled(at) {
                self.filled_rows += 1;
            }
            self.head.push(rows.row(at));
            at += 1;
            if self.head.len() >= self.head_rows {
                self.start(on_data)?;
            }
        }
        if let Some(state) = &mut self.state {
            self.filled_rows += (at..rows.len())
                .filter(|&i| plain.get(i).copied().unwrap_or(false) || rows.is_filled(i))
                .count();
            let found = state.feed_chunk(first, rows, at, Some(plain));
            if !found.earlier.is_empty() {
                on_data(state, Rows::Cells(&found.earlier()))?;
            }
            on_data(state, Rows::Picked(rows, &found.picks))?;
        }
        Ok(())
    }

    /// Detects the shape in the head and classifies the head's rows.
    fn start<E>(&mut self, on_data: &mut OnData<'_, E>) -> std::result::Result<(), Stop<E>> {
        let sheet = Sheet {
            name: SHEET.into(),
            hidden: false,
            rows: std::mem::take(&mut self.head),
            merges: Vec::new(),
        };
        let Some(shape) = detect(&sheet) else {
            return Err(self.no_table().into());
        };
        let width = width_of(&sheet.rows);
        let headers = shape
            .columns
            .iter()
            .fold(Vec::new(), |mut h: Vec<String>, c| {
                if h.len() <= c.index {
                    h.resize(c.index + 1, String::new());
                }
                h[c.index] = c.path.last().cloned().unwrap_or_default();
                h
            });
        let mut state = Classified {
            unit: shape.unit.clone(),
            shape,
            width,
            data: Vec::new(),
            data_rows: 0,
            observed: 0,
            pending: Vec::new(),
            evidence: Vec::new(),
            has_data: Vec::new(),
            cost: Vec::new(),
            headers,
            blanks: 0,
            blanks_since_data: 0,
            totals: Vec::new(),
            totals_count: 0,
            footnotes: Vec::new(),
            footnotes_count: 0,
        };
        let found = state.feed_chunk(0, sheet.rows.as_slice(), 0, None);
        let mut data = found.earlier();
        data.extend(
            found
                .picks
                .iter()
                .filter_map(|&(o, i)| Some((o, sheet.rows.get(i)?.as_slice()))),
        );
        on_data(&mut state, Rows::Cells(&data))?;
        self.state = Some(state);
        Ok(())
    }

    fn no_table(&self) -> Error {
        Error::NoTable {
            file: self.file.to_string(),
            detail: if self.filled_rows == 0 {
                "the file holds no text (nothing but a byte-order mark or white space)".into()
            } else {
                "no table with data rows was found in any visible sheet".into()
            },
        }
    }

    fn finish<E>(
        mut self,
        on_data: &mut OnData<'_, E>,
    ) -> std::result::Result<Classified, Stop<E>> {
        if self.state.is_none() {
            if self.filled_rows == 0 {
                return Err(self.no_table().into());
            }
            self.start(on_data)?;
        }
        let Some(mut state) = self.state.take() else {
            return Err(self.no_table().into());
        };
        // Trailing one-cell text rows below the data are notes, not records.
        for (ordinal, cells) in std::mem::take(&mut state.pending) {
            if let Some(text) = trailing_note_of(&cells, state.width) {
                state.note(ordinal, text);
            }
        }
        state.footnotes.sort_by_key(|f| f.0);
        if state.data_rows == 0 {
            return Err(self.no_table().into());
        }
        let columns = state.headers.len();
        state.widen(columns);
        Ok(state)
    }
}

/// Rows below which a chunk is typed on one thread.
const PARALLEL_MIN_ROWS: usize = 256;

/// A row's class below the header, and whether a data row could be a
/// trailing note (for a row that is not [`plainly_data`]).
fn classify(cells: &[Cell], width: u32) -> (RowClass, bool) {
    let class = classify_row_fully(cells);
    let note = matches!(class, RowClass::Data) && trailing_note_of(cells, width).is_some();
    (class, note)
}

impl Classified {
    /// Classifies the rows from `from` on (side by side) and takes them in
    /// order; returns the data rows found, in file order, for
    /// [`Classified::observe`]. `first` is the ordinal of row 0 of `rows`;
    /// `plain` tells which rows are plain records, when the reader told it.
    fn feed_chunk<R: ClassifiedRows + ?Sized>(
        &mut self,
        first: usize,
        rows: &R,
        from: usize,
        plain: Option<&[bool]>,
    ) -> Found {
        let n = rows.count();
        let from = from.max(self.shape.first_data.saturating_sub(first)).min(n);
        // Every row a plain record (most chunks of most files): all data,
        // in order, with nothing held back before them.
        if self.pending.is_empty()
            && let Some(told) = plain.and_then(|p| p.get(from..n))
            && told.iter().all(|&t| t)
        {
            self.mark_all(first + from, first + n);
            return Found {
                earlier: Vec::new(),
                picks: (from..n).map(|i| (first + i, i)).collect(),
            };
        }
        let told = |i: usize| plain.and_then(|p| p.get(i)).copied();
        let width = self.width;
        // A plain record is data and no trailing note: its cells are not
        // even taken out of the chunk.
        let class_of = |i: usize| {
            if told(i) == Some(true) {
                return (RowClass::Data, false);
            }
            let cells = rows.cells(i);
            if told(i).is_none() && plainly_data(&cells) {
                return (RowClass::Data, false);
            }
            classify(&cells, width)
        };
        let others = (from..n).filter(|&i| told(i) != Some(true)).count();
        let classes: Vec<(RowClass, bool)> = if others < PARALLEL_MIN_ROWS {
            (from..n).map(class_of).collect()
        } else {
            let piece = (n - from).div_ceil(crate::parallel::threads() * 4).max(64);
            let starts: Vec<usize> = (from..n).step_by(piece).collect();
            crate::parallel::map(starts, |start| {
                (start..(start + piece).min(n))
                    .map(class_of)
                    .collect::<Vec<_>>()
            })
            .into_iter()
            .flatten()
            .collect()
        };
        let mut found = Found {
            earlier: Vec::new(),
            picks: Vec::with_capacity(n - from),
        };
        for (i, (class, note)) in (from..n).zip(classes) {
            self.apply(first, i, rows, class, note, &mut found);
        }
        found
    }

    /// Takes row `i` of `rows` (row 0 is row `first` of the file),
    /// classified, in order; adds it to `found` when it is data (rows held
    /// back as possible notes and confirmed now go first).
    fn apply<R: ClassifiedRows + ?Sized>(
        &mut self,
        first: usize,
        i: usize,
        rows: &R,
        class: RowClass,
        note: bool,
        found: &mut Found,
    ) {
        let ordinal = first + i;
        match class {
            RowClass::Blank => {
                self.blanks += 1;
                self.blanks_since_data += 1;
            }
            RowClass::Footnote(text) => self.note(ordinal, text),
            RowClass::UnitNote(text, unit) => {
                if self.unit.is_none() {
                    self.unit = unit;
                }
                self.note(ordinal, text);
            }
            RowClass::Totals => {
                self.totals_count += 1;
                if self.totals.len() < MAX_KEPT_ROWS {
                    self.totals.push((ordinal, rows.cells(i).into_owned()));
                }
            }
            RowClass::Data => {
                if self.pending.len() < MAX_PENDING_NOTES && note {
                    self.pending.push((ordinal, rows.cells(i).into_owned()));
                } else {
                    for (o, c) in std::mem::take(&mut self.pending) {
                        self.mark(o);
                        match o.checked_sub(first) {
                            Some(at) => found.picks.push((o, at)),
                            None => found.earlier.push((o, c)),
                        }
                    }
                    self.mark(ordinal);
                    found.picks.push((ordinal, i));
                }
            }
        }
    }

    fn note(&mut self, ordinal: usize, text: String) {
        self.footnotes_count += 1;
        if self.footnotes.len() < MAX_KEPT_ROWS {
            self.footnotes.push((ordinal, text));
        }
    }

    /// Marks the rows `start..end` as data (as [`Classified::mark`] of each).
    fn mark_all(&mut self, start: usize, end: usize) {
        if start < end {
            set_bits(&mut self.data, start, end);
            self.data_rows += end - start;
            self.blanks_since_data = 0;
        }
    }

    /// Marks a row as data.
    fn mark(&mut self, ordinal: usize) {
        let word = ordinal / 64;
        if self.data.len() <= word {
            self.data.resize(word + 1, 0);
        }
        self.data[word] |= 1 << (ordinal % 64);
        self.data_rows += 1;
        self.blanks_since_data = 0;
    }

    /// Adds data rows to every column's evidence and, given a conversion,
    /// converts them too: each value is parsed once for both. The columns
    /// are worked on side by side when there are many rows.
    fn observe(&mut self, rows: Rows, convert: Option<&mut Convert>) {
        let mut width = rows.width();
        width = width.max(self.headers.len());
        let mut slots: Vec<Option<&mut PlannedColumn>> = Vec::new();
        if let Some(convert) = convert {
            convert.buffered += rows.len();
            for col in convert.columns.iter_mut() {
                let index = col.column.index;
                width = width.max(index + 1);
                if slots.len() <= index {
                    slots.resize_with(index + 1, || None);
                }
                slots[index] = Some(col);
            }
        }
        self.widen(width);
        slots.resize_with(self.evidence.len(), || None);
        let columns: Vec<ColumnWork> = self
            .evidence
            .iter_mut()
            .zip(self.has_data.iter_mut())
            .zip(self.cost.iter_mut())
            .zip(slots)
            .enumerate()
            .map(
                |(index, (((evidence, has_data), cost), planned))| ColumnWork {
                    index,
                    evidence,
                    has_data,
                    cost,
                    planned,
                },
            )
            .collect();
        let work = |column: ColumnWork| {
            let ColumnWork {
                index,
                evidence,
                has_data,
                cost,
                mut planned,
            } = column;
            crate::parallel::timed(cost, || {
                for (ordinal, cell) in rows.cells(index) {
                    if !*has_data && !cell.is_blank() {
                        *has_data = true;
                    }
                    let parsed = evidence.parse(cell);
                    evidence.observe(&parsed);
                    if let Some(col) = planned.as_deref_mut() {
                        col.converter.push_parsed(ordinal, &parsed, cell);
                    }
                }
            });
        };
        if rows.len() < PARALLEL_MIN_ROWS {
            columns.into_iter().for_each(work);
        } else {
            crate::parallel::for_each_costliest_first(columns, |column| *column.cost, work);
        }
        self.observed += rows.len();
    }

    /// Evidence for the first `n` columns; a new column had nothing in the
    /// rows observed before.
    fn widen(&mut self, n: usize) {
        while self.evidence.len() < n {
            let c = self.evidence.len();
            let mut e = Evidence::new(self.headers.get(c).map_or("", String::as_str));
            e.add_empty(self.observed);
            self.evidence.push(e);
            self.has_data.push(false);
            self.cost.push(0);
        }
    }

    fn is_data(&self, ordinal: usize) -> bool {
        self.data
            .get(ordinal / 64)
            .is_some_and(|w| w & (1 << (ordinal % 64)) != 0)
    }

    /// The published columns as the evidence so far decides them.
    fn column_plans(&self) -> Vec<ColumnPlan> {
        let mut paths = Vec::new();
        let mut indices = Vec::new();
        let ncols = self.evidence.len().max(self.headers.len());
        for c in 0..ncols {
            let path = self
                .shape
                .columns
                .iter()
                .find(|s| s.index == c)
                .map(|s| s.path.clone())
                .unwrap_or_default();
            if !path.is_empty() || self.has_data.get(c).copied().unwrap_or(false) {
                paths.push(path);
                indices.push(c);
            }
        }
        let names = unique_names(&paths);
        indices
            .into_iter()
            .zip(paths)
            .zip(names)
            .map(|((index, path), name)| {
                let header = path.last().cloned().unwrap_or_default();
                let decision = match self.evidence.get(index) {
                    Some(e) => e.decide(),
                    None => Evidence::new(&header).decide(),
                };
                let unit = column_unit(
                    decision.kind,
                    decision.percent(),
                    path.last().and_then(|h| split_header_unit(h).1),
                    self.unit.clone(),
                );
                ColumnPlan {
                    index,
                    name,
                    path,
                    unit,
                    decision,
                }
            })
            .collect()
    }

    /// Nulls by marker in column `index` (for the report).
    fn null_markers(&self, index: usize) -> std::collections::BTreeMap<String, usize> {
        self.evidence
            .get(index)
            .map(|e| e.null_markers().clone())
            .unwrap_or_default()
    }
}

/// Sets bits `start..end` of the bit set `words` (bit `i` is bit `i % 64`
/// of word `i / 64`), growing it as needed; a word at a time.
fn set_bits(words: &mut Vec<u64>, start: usize, end: usize) {
    if start >= end {
        return;
    }
    let last = (end - 1) / 64;
    if words.len() <= last {
        words.resize(last + 1, 0);
    }
    for (i, w) in words.iter_mut().enumerate().take(last + 1).skip(start / 64) {
        let low = start.max(i * 64) - i * 64;
        let high = end.min((i + 1) * 64) - i * 64;
        *w |= if high - low == 64 {
            u64::MAX
        } else {
            ((1u64 << (high - low)) - 1) << low
        };
    }
}

/// A published column: where it is in the file, its name, header path,
/// unit and type.
#[derive(Debug, Clone, PartialEq)]
struct ColumnPlan {
    index: usize,
    name: String,
    path: Vec<String>,
    unit: Option<String>,
    decision: Decision,
}

/// One published column of a streamed table.
struct PlannedColumn {
    column: ColumnPlan,
    converter: Converter,
    null_markers: std::collections::BTreeMap<String, usize>,
    nulls: usize,
    examples: Vec<String>,
    /// Exact unscaled sum of a numeric column (for totals checks).
    sum: i128,
    /// Nanoseconds the column took to convert the last rows (pass two hands
    /// out the costliest first, as [`Classified::cost`] in pass one).
    cost: u64,
}

/// Pass two: data rows converted to batches, redacted once planned.
struct Convert<'p> {
    columns: Vec<PlannedColumn>,
    redactor: Redactor<'p>,
    buffered: usize,
    rows: usize,
    schema: Option<Arc<Schema>>,
}

impl<'p> Convert<'p> {
    /// A conversion to `columns`, with room for `reserve` rows per batch.
    fn new(
        columns: Vec<ColumnPlan>,
        plan: &Classified,
        reserve: usize,
        policy: &'p RedactionPolicy,
    ) -> Self {
        let columns = columns
            .into_iter()
            .map(|c| {
                let converter = Converter::new(c.decision, reserve);
                PlannedColumn {
                    null_markers: plan.null_markers(c.index),
                    column: c,
                    converter,
                    nulls: 0,
                    examples: Vec::new(),
                    sum: 0,
                    cost: 0,
                }
            })
            .collect();
        Convert {
            columns,
            redactor: Redactor::new(policy),
            buffered: 0,
            rows: 0,
            schema: None,
        }
    }

    /// Whether the columns are converted as `plans` say.
    fn follows(&self, plans: &[ColumnPlan]) -> bool {
        self.columns.len() == plans.len()
            && self.columns.iter().zip(plans).all(|(c, p)| c.column == *p)
    }

    /// Converts data rows in batches of exactly [`crate::Limits::stream_batch_rows`]
    /// rows, as a file read whole, handing over each batch that is ready;
    /// given the pass-one state, the rows are added to its evidence too.
    /// Returns whether any batch was handed over.
    fn take<E>(
        &mut self,
        rows: Rows,
        options: &IngestOptions,
        mut state: Option<&mut Classified>,
        on_batch: &mut impl FnMut(Output) -> std::result::Result<(), E>,
    ) -> std::result::Result<bool, Stop<E>> {
        let batch_rows = options.limits.stream_batch_rows.max(1);
        let mut handed = false;
        let mut rest = rows;
        while !rest.is_empty() {
            let room = batch_rows.saturating_sub(self.buffered).max(1);
            let (now, later) = rest.split_at(room);
            match state.as_deref_mut() {
                Some(state) => state.observe(now, Some(&mut *self)),
                None => self.push_rows(now),
            }
            if self.buffered >= batch_rows {
                for batch in self.flush(false)? {
                    handed = true;
                    on_batch(Output::Batch(batch)).map_err(Stop::Caller)?;
                }
            }
            rest = later;
        }
        Ok(handed)
    }

    /// Converts data rows (with their ordinals), the columns side by side
    /// when there are many rows.
    fn push_rows(&mut self, rows: Rows) {
        let work = |col: &mut PlannedColumn| {
            let (converter, index) = (&mut col.converter, col.column.index);
            crate::parallel::timed(&mut col.cost, || {
                rows.for_each_cell(index, |ordinal, cell| converter.push_cell(ordinal, cell))
            });
        };
        if rows.len() < PARALLEL_MIN_ROWS {
            self.columns.iter_mut().for_each(work);
        } else {
            crate::parallel::for_each_costliest_first(
                self.columns.iter_mut().collect(),
                |col| col.cost,
                work,
            );
        }
        self.buffered += rows.len();
    }

    /// Converts what is buffered; returns the batches ready to hand over
    /// (none while redaction still waits for its sample, unless `last`).
    fn flush(&mut self, last: bool) -> Result<Vec<RecordBatch>> {
        if self.buffered > 0 || (last && self.schema.is_none()) {
            // Each column's values to Arrow, the columns side by side.
            let built = crate::parallel::map(self.columns.iter_mut().collect(), |col| {
                let values = col.converter.take();
                let kind = col.converter.decision().kind;
                if matches!(kind, Kind::Integer | Kind::Decimal { .. }) {
                    col.sum = col.sum.saturating_add(sum_of(&values, kind));
                }
                let result = to_arrow(
                    &col.column.name,
                    &col.column.path,
                    col.column.unit.as_deref(),
                    kind,
                    values,
                );
                if let Ok((_, array)) = &result {
                    col.nulls += array.null_count();
                    add_examples(&mut col.examples, array);
                }
                result
            });
            let mut fields = Vec::new();
            let mut arrays = Vec::new();
            for result in built {
                let (field, array) = result?;
                fields.push(field);
                arrays.push(array);
            }
            let schema = Arc::new(Schema::new(fields));
            self.schema = Some(schema.clone());
            let options =
                arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(self.buffered));
            let batch = RecordBatch::try_new_with_options(schema, arrays, &options)?;
            self.redactor.add(batch);
            self.rows += self.buffered;
            self.buffered = 0;
        }
        let columns = (!self.redactor.planned()).then(|| self.column_reports_only());
        self.redactor.ready(last, columns)
    }

    fn column_reports(&self) -> Vec<crate::ColumnReport> {
        self.columns
            .iter()
            .map(|col| {
                let kind = col.converter.decision().kind;
                let data_type = self
                    .schema
                    .as_ref()
                    .and_then(|s| s.field_with_name(&col.column.name).ok())
                    .map(|f| f.data_type().to_string())
                    .unwrap_or_default();
                crate::ColumnReport {
                    name: col.column.name.clone(),
                    path: col.column.path.clone(),
                    data_type,
                    kind: kind.name().to_string(),
                    unit: col.column.unit.clone(),
                    pii: None,
                    nulls: col.nulls,
                    null_markers: col.null_markers.clone(),
                    examples: col.examples.clone(),
                }
            })
            .collect()
    }

    /// A report holding only the columns (what redaction planning reads).
    fn column_reports_only(&self) -> Report {
        empty_report(self.column_reports())
    }

    /// The whole report, redaction findings included.
    fn report(mut self, file: &str, format: &TextFormat, plan: Classified) -> Result<Report> {
        for col in &mut self.columns {
            col.null_markers = plan.null_markers(col.column.index);
        }
        let mut warnings = read_notes(&format.notes);
        let at = |index: usize| (SHEET.to_string(), index);
        for col in &self.columns {
            let c = &col.converter;
            locate(
                &Problems {
                    misfits: &c.misfits,
                    misfit_total: c.misfit_total,
                    destroyed: &c.destroyed,
                    destroyed_total: c.destroyed_total,
                },
                &col.column.name,
                &col.column.path,
                Some(col.column.index),
                &at,
                &mut warnings,
            );
        }
        let columns = self.column_reports();
        let totals: Vec<TotalsCheck> = plan
            .totals
            .iter()
            .map(|(row, cells)| TotalsCheck {
                row: row + 1,
                columns: self
                    .columns
                    .iter()
                    .filter(|c| {
                        matches!(
                            c.converter.decision().kind,
                            Kind::Integer | Kind::Decimal { .. }
                        )
                    })
                    .filter_map(|c| {
                        totals_column(
                            &c.column.name,
                            cells.get(c.column.index).unwrap_or(&Cell::Empty),
                            sum_value(c.sum, c.converter.decision().kind),
                        )
                    })
                    .collect(),
            })
            .collect();
        if plan.totals_count > plan.totals.len() || plan.footnotes_count > plan.footnotes.len() {
            warnings.push(Warning {
                code: "rows_not_listed".into(),
                sheet: Some(SHEET.into()),
                row: None,
                column: None,
                header: None,
                message: format!(
                    "{} totals rows and {} notes; the report lists the first {MAX_KEPT_ROWS} of each",
                    plan.totals_count, plan.footnotes_count
                ),
            });
        }
        let shape = &plan.shape;
        let sheet = SheetReport {
            name: SHEET.into(),
            title: shape.title.clone(),
            unit: plan.unit.clone(),
            header_rows: shape.header_rows.map(|(a, b)| [a, b]),
            data_rows: plan.data_rows,
            totals,
            footnotes: plan
                .footnotes
                .iter()
                .map(|(r, t)| (r + 1, t.clone()))
                .collect(),
            blank_rows: plan.blanks - plan.blanks_since_data,
            columns: columns.clone(),
        };
        let mut report = Report {
            file: file.to_string(),
            format: if format.delimiter == b'\t' {
                "tsv"
            } else {
                "csv"
            }
            .to_string(),
            encoding: Some(format.encoding.name().to_string()),
            delimiter: Some(char::from(format.delimiter).to_string()),
            sheets: vec![sheet],
            table_sheets: vec![SHEET.into()],
            rows: self.rows,
            columns,
            hidden_sheets: Vec::new(),
            warnings,
            privacy: Vec::new(),
        };
        self.redactor.finish(&mut report);
        Ok(report)
    }
}

/// Redaction of a table that arrives in batches: batches wait until they
/// hold the sample redaction is planned from (see [`Redaction::plan`]),
/// then every batch is redacted as it comes.
pub(crate) struct Redactor<'p> {
    policy: &'p RedactionPolicy,
    waiting: Vec<RecordBatch>,
    redaction: Option<Redaction>,
}

impl<'p> Redactor<'p> {
    pub(crate) fn new(policy: &'p RedactionPolicy) -> Self {
        Redactor {
            policy,
            waiting: Vec::new(),
            redaction: None,
        }
    }

    /// Adds a converted (not yet redacted) batch.
    pub(crate) fn add(&mut self, batch: RecordBatch) {
        self.waiting.push(batch);
    }

    /// Whether redaction is planned (then [`Redactor::ready`] needs no report).
    pub(crate) fn planned(&self) -> bool {
        self.redaction.is_some()
    }

    /// The redacted batches ready to hand over: none while the plan waits
    /// for its sample, unless `last`. `columns` is the report whose column
    /// paths the plan reads (needed until planned).
    pub(crate) fn ready(
        &mut self,
        last: bool,
        columns: Option<Report>,
    ) -> Result<Vec<RecordBatch>> {
        if self.redaction.is_none() {
            if !last && !self.sample_complete() {
                return Ok(Vec::new());
            }
            let Some(schema) = self.waiting.first().map(RecordBatch::schema) else {
                return Ok(Vec::new());
            };
            let sample = arrow::compute::concat_batches(&schema, &self.waiting)?;
            let report = columns.unwrap_or_else(|| empty_report(Vec::new()));
            self.redaction = Some(Redaction::plan(&sample, &report, self.policy));
        }
        let mut out = Vec::new();
        if let Some(redaction) = self.redaction.as_mut() {
            for batch in std::mem::take(&mut self.waiting) {
                out.push(redaction.apply(&batch)?);
            }
        }
        Ok(out)
    }

    /// Whether the waiting rows hold the values redaction samples: enough
    /// non-empty values of every text column, or as many rows as may wait.
    fn sample_complete(&self) -> bool {
        let rows: usize = self.waiting.iter().map(RecordBatch::num_rows).sum();
        if rows >= MAX_PLAN_ROWS {
            return true;
        }
        let Some(schema) = self.waiting.first().map(RecordBatch::schema) else {
            return false;
        };
        schema.fields().iter().enumerate().all(|(i, f)| {
            f.data_type() != &DataType::Utf8
                || self
                    .waiting
                    .iter()
                    .map(|b| {
                        b.column(i)
                            .as_string::<i32>()
                            .iter()
                            .flatten()
                            .filter(|s| !s.is_empty())
                            .count()
                    })
                    .sum::<usize>()
                    >= SAMPLE_VALUES
        })
    }

    /// Records the findings in the report (see [`Redaction::finish`]).
    pub(crate) fn finish(self, report: &mut Report) {
        if let Some(redaction) = self.redaction {
            redaction.finish(report);
        }
    }
}

/// A report with only `columns` filled in.
pub(crate) fn empty_report(columns: Vec<crate::ColumnReport>) -> Report {
    Report {
        file: String::new(),
        format: String::new(),
        encoding: None,
        delimiter: None,
        sheets: Vec::new(),
        table_sheets: Vec::new(),
        rows: 0,
        columns,
        hidden_sheets: Vec::new(),
        warnings: Vec::new(),
        privacy: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_set_by_range_are_the_bits_set_one_by_one() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..2_000 {
            let (mut by_range, mut one_by_one) = (Vec::new(), Vec::new());
            for _ in 0..3 {
                let start = (crate::xorshift(&mut seed) % 300) as usize;
                let end = start + (crate::xorshift(&mut seed) % 200) as usize;
                set_bits(&mut by_range, start, end);
                for i in start..end {
                    if one_by_one.len() <= i / 64 {
                        one_by_one.resize(i / 64 + 1, 0u64);
                    }
                    one_by_one[i / 64] |= 1 << (i % 64);
                }
            }
            assert_eq!(by_range, one_by_one);
        }
    }
}
