//! Result encoders: JSON (with column types), NDJSON and CSV, batch by batch.

use crate::{Error, Result};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;

/// Output formats of query results and downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"columns": [...], "rows": [{...}], "row_count": N, "truncated": bool}`.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// RFC 4180 CSV with a header line, UTF-8.
    Csv,
}

impl Format {
    /// From `?format=` or a file extension.
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
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
                _ => None,
            })
    }

    /// Content-Type of the encoded output.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// Encodes a stream of batches into chunks of bytes.
pub struct ResultEncoder {
    format: Format,
    schema: SchemaRef,
    rows: usize,
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
        }
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
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(false)
                    .build(&mut buf);
                w.write(batch).map_err(arrow_err)?;
            }
        }
        self.rows += batch.num_rows();
        Ok(Bytes::from(buf))
    }

    /// What goes after the last batch. `error` ends a JSON result that failed midway.
    pub fn finish(&mut self, truncated: bool, error: Option<&Error>) -> Bytes {
        match self.format {
            Format::Json => {
                let mut tail = serde_json::json!({"row_count": self.rows, "truncated": truncated});
                if let Some(e) = error {
                    tail["error"] = serde_json::json!({"code": e.code(), "message": e.to_string()});
                }
                let tail = tail.to_string();
                // Splice the tail object's members after the rows array.
                Bytes::from(format!("],{}", &tail[1..]))
            }
            Format::Ndjson | Format::Csv => Bytes::new(),
        }
    }
}

fn csv_writer(buf: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(buf)
}
