//! Result encoders: JSON (with column types), NDJSON, CSV, Arrow IPC stream
//! and Parquet, batch by batch, so a large result never sits in memory whole.

use crate::{Error, Result};
use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

/// A Parquet row group is written out once its buffered size passes this.
const PARQUET_FLUSH_BYTES: usize = 8 << 20;

/// Output formats of query results and downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"columns": [...], "rows": [{...}], "row_count": N, "truncated": bool}`.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// RFC 4180 CSV with a header line, UTF-8.
    Csv,
    /// Arrow IPC streaming format.
    Arrow,
    /// A Parquet file; `gongkai:truncated` in its key-value metadata.
    Parquet,
}

impl Format {
    /// From `?format=` or a file extension.
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
            "arrow" | "arrows" | "ipc" => Some(Format::Arrow),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// From an `Accept` header.
    pub fn from_accept(accept: &str) -> Option<Format> {
        accept
            .split(',')
            .find_map(|part| match part.split(';').next().unwrap_or("").trim() {
                "application/json" => Some(Format::Json),
                "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
                    Some(Format::Ndjson)
                }
                "text/csv" => Some(Format::Csv),
                "application/vnd.apache.arrow.stream" => Some(Format::Arrow),
                "application/vnd.apache.parquet" | "application/x-parquet" => Some(Format::Parquet),
                _ => None,
            })
    }

    /// Content-Type of the encoded output.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Arrow => "application/vnd.apache.arrow.stream",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }

    /// File extension for downloads.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Arrow => "arrows",
            Format::Parquet => "parquet",
        }
    }

    /// Every format, for error messages and documentation.
    pub const NAMES: &'static str = "json, ndjson, csv, arrow, parquet";
}

/// Binary writers that keep state between batches.
enum Binary {
    None,
    Arrow(StreamWriter<Vec<u8>>),
    Parquet(ArrowWriter<Vec<u8>>),
}

/// Encodes a stream of batches into chunks of bytes.
pub struct ResultEncoder {
    format: Format,
    schema: SchemaRef,
    rows: usize,
    binary: Binary,
    extra: serde_json::Map<String, serde_json::Value>,
}

fn arrow_err(e: arrow::error::ArrowError) -> Error {
    Error::Internal(format!("encoding results: {e}"))
}

impl ResultEncoder {
    /// An encoder for results of `schema`.
    pub fn new(format: Format, schema: SchemaRef) -> Self {
        ResultEncoder {
            format,
            schema,
            rows: 0,
            binary: Binary::None,
            extra: serde_json::Map::new(),
        }
    }

    /// Adds a member to the JSON result's closing object (e.g. `next`, `total`).
    pub fn set_trailer(&mut self, key: &str, value: serde_json::Value) {
        self.extra.insert(key.to_string(), value);
    }

    /// The output format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Rows encoded so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// What goes before the first batch.
    pub fn begin(&mut self) -> Result<Bytes> {
        match self.format {
            Format::Json => {
                let columns: Vec<serde_json::Value> = self
                    .schema
                    .fields()
                    .iter()
                    .map(|f| {
                        let mut c = serde_json::json!({"name": f.name(), "type": f.data_type().to_string()});
                        if let Some(path) = f.metadata().get("gongkai:path")
                            && let Ok(p) = serde_json::from_str::<serde_json::Value>(path) {
                                c["path"] = p;
                            }
                        if let Some(unit) = f.metadata().get("gongkai:unit") {
                            c["unit"] = serde_json::Value::String(unit.clone());
                        }
                        c
                    })
                    .collect();
                let head =
                    serde_json::to_string(&columns).map_err(|e| Error::Internal(e.to_string()))?;
                Ok(Bytes::from(format!("{{\"columns\":{head},\"rows\":[")))
            }
            Format::Ndjson => Ok(Bytes::new()),
            Format::Csv => {
                let mut buf = Vec::new();
                let mut w = csv_writer(&mut buf);
                let names: Vec<&str> = self
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect();
                w.write_record(&names)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                drop(w);
                Ok(Bytes::from(buf))
            }
            Format::Arrow => {
                let mut w = StreamWriter::try_new(Vec::new(), &self.schema).map_err(arrow_err)?;
                let head = std::mem::take(w.get_mut());
                self.binary = Binary::Arrow(w);
                Ok(Bytes::from(head))
            }
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .build();
                let w = ArrowWriter::try_new(Vec::new(), self.schema.clone(), Some(props))
                    .map_err(parquet_err)?;
                self.binary = Binary::Parquet(w);
                Ok(Bytes::new())
            }
        }
    }

    /// One batch.
    pub fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes> {
        if batch.num_rows() == 0 {
            return Ok(Bytes::new());
        }
        let mut buf = Vec::new();
        match self.format {
            Format::Json | Format::Ndjson => {
                let mut w = arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow::json::writer::LineDelimited>(&mut buf);
                w.write(batch).map_err(arrow_err)?;
                w.finish().map_err(arrow_err)?;
                drop(w);
                if self.format == Format::Json {
                    // Objects never contain a raw newline: turn lines into array items.
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                    }
                    for b in buf.iter_mut() {
                        if *b == b'\n' {
                            *b = b',';
                        }
                    }
                    if self.rows > 0 {
                        buf.insert(0, b',');
                    }
                }
            }
            Format::Csv => {
                let batch = neutralise_formulas(batch)?;
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(false)
                    .build(&mut buf);
                w.write(&batch).map_err(arrow_err)?;
            }
            Format::Arrow | Format::Parquet => match &mut self.binary {
                Binary::Arrow(w) => {
                    w.write(batch).map_err(arrow_err)?;
                    buf = std::mem::take(w.get_mut());
                }
                Binary::Parquet(w) => {
                    w.write(batch).map_err(parquet_err)?;
                    if w.in_progress_size() > PARQUET_FLUSH_BYTES {
                        w.flush().map_err(parquet_err)?;
                    }
                    buf = std::mem::take(w.inner_mut());
                }
                Binary::None => return Err(Error::Internal("encoder not started".into())),
            },
        }
        self.rows += batch.num_rows();
        Ok(Bytes::from(buf))
    }

    /// What goes after the last batch. `error` ends a JSON result that failed midway.
    pub fn finish(&mut self, truncated: bool, error: Option<&Error>) -> Result<Bytes> {
        match self.format {
            Format::Json => {
                let mut tail = serde_json::json!({"row_count": self.rows, "truncated": truncated});
                for (k, v) in &self.extra {
                    tail[k] = v.clone();
                }
                if let Some(e) = error {
                    tail["error"] = serde_json::json!({"code": e.code(), "message": e.to_string()});
                }
                let tail = tail.to_string();
                // Splice the tail object's members after the rows array.
                Ok(Bytes::from(format!("],{}", &tail[1..])))
            }
            Format::Ndjson | Format::Csv => Ok(Bytes::new()),
            Format::Arrow | Format::Parquet => {
                match std::mem::replace(&mut self.binary, Binary::None) {
                    Binary::Arrow(mut w) => {
                        w.finish().map_err(arrow_err)?;
                        Ok(Bytes::from(w.into_inner().map_err(arrow_err)?))
                    }
                    Binary::Parquet(mut w) => {
                        w.append_key_value_metadata(KeyValue::new(
                            "gongkai:truncated".to_string(),
                            truncated.to_string(),
                        ));
                        w.append_key_value_metadata(KeyValue::new(
                            "gongkai:row_count".to_string(),
                            self.rows.to_string(),
                        ));
                        Ok(Bytes::from(w.into_inner().map_err(parquet_err)?))
                    }
                    Binary::None => Err(Error::Internal("encoder not started".into())),
                }
            }
        }
    }
}

fn parquet_err(e: parquet::errors::ParquetError) -> Error {
    Error::Internal(format!("encoding results as Parquet: {e}"))
}

/// Whether a text cell would be read as a formula by a spreadsheet opening
/// the CSV (`=`, `@`, tab, CR, or `+`/`-` not followed by a plain number).
fn looks_like_formula(v: &str) -> bool {
    match v.as_bytes().first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => v[1..].trim().parse::<f64>().is_err(),
        _ => false,
    }
}

/// The values with a `'` before each formula, or None when there is none.
fn neutralised<'a>(
    values: impl Iterator<Item = Option<&'a str>> + Clone,
) -> Option<arrow::array::StringArray> {
    let mut check = values.clone();
    check.any(|v| v.is_some_and(looks_like_formula)).then(|| {
        values
            .map(|v| {
                v.map(|v| {
                    if looks_like_formula(v) {
                        format!("'{v}")
                    } else {
                        v.to_string()
                    }
                })
            })
            .collect()
    })
}

/// Text cells that a spreadsheet would run as formulas get a leading `'`
/// (CSV injection, OWASP); numbers and other text are untouched.
fn neutralise_formulas(batch: &RecordBatch) -> Result<RecordBatch> {
    use arrow::array::{ArrayRef, AsArray};
    use arrow::datatypes::DataType;
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    let mut changed = false;
    for c in batch.columns() {
        let fixed = match c.data_type() {
            DataType::Utf8 => neutralised(c.as_string::<i32>().iter()),
            DataType::Utf8View => neutralised(c.as_string_view().iter()),
            _ => None,
        };
        match fixed {
            Some(f) => {
                changed = true;
                let f: ArrayRef = std::sync::Arc::new(f);
                columns.push(arrow::compute::cast(&f, c.data_type()).map_err(arrow_err)?);
            }
            None => columns.push(c.clone()),
        }
    }
    if !changed {
        return Ok(batch.clone());
    }
    RecordBatch::try_new(batch.schema(), columns).map_err(arrow_err)
}

fn csv_writer(buf: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(buf)
}

#[cfg(test)]
mod formula_tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_in_csv_only_where_needed() {
        for f in [
            "=HYPERLINK(\"x\")",
            "+cmd|' /C calc'!A0",
            "@SUM(A1)",
            "-2+3+cmd|x",
            "\tx",
        ] {
            assert!(looks_like_formula(f), "{f}");
        }
        for ok in ["-12", "+3.5", "城关镇", "a=b", "", "- 5"] {
            assert!(!looks_like_formula(ok), "{ok}");
        }
    }
}
