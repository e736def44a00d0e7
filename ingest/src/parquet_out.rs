//! Parquet writer: zstd, statistics with page index, field metadata kept.

use crate::Result;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

/// Rows per row group: large enough for scans.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// Writer settings used for every public file.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by("gongkai".to_string())
        .build()
}

/// Writes batches as one Parquet file in memory.
pub fn to_parquet(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let Some(first) = batches.first() else {
        return Ok(Vec::new());
    };
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, first.schema(), Some(writer_properties()))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.close()?;
    Ok(buf)
}

/// Batches in flight between the ingest and the Parquet encoder.
const SINK_QUEUE: usize = 2;

/// A Parquet file written on its own thread: encoding and compressing one
/// batch overlaps with reading and converting the next. The schema is the
/// first batch's; nothing is written when no batch comes.
pub struct ParquetSink {
    file: Option<std::fs::File>,
    queue: Option<std::sync::mpsc::SyncSender<RecordBatch>>,
    encoder: Option<std::thread::JoinHandle<Result<()>>>,
    rows: usize,
}

impl ParquetSink {
    /// A sink writing to `file` (truncated or new).
    pub fn new(file: std::fs::File) -> Self {
        ParquetSink {
            file: Some(file),
            queue: None,
            encoder: None,
            rows: 0,
        }
    }

    /// Hands one batch to the encoder.
    pub fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if self.queue.is_none() {
            let Some(file) = self.file.take() else {
                return self.failed();
            };
            let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(writer_properties()))?;
            let (tx, rx) = std::sync::mpsc::sync_channel::<RecordBatch>(SINK_QUEUE);
            self.queue = Some(tx);
            self.encoder = Some(std::thread::spawn(move || {
                for batch in rx {
                    writer.write(&batch)?;
                }
                writer.close()?;
                Ok(())
            }));
        }
        self.rows += batch.num_rows();
        let sent = self.queue.as_ref().is_some_and(|q| q.send(batch).is_ok());
        if sent { Ok(()) } else { self.failed() }
    }

    /// Rows handed over so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Writes what is queued and closes the file; returns the rows written.
    pub fn finish(mut self) -> Result<usize> {
        self.queue = None;
        if let Some(encoder) = self.encoder.take() {
            join(encoder)?;
        }
        Ok(self.rows)
    }

    /// The encoder stopped: its error.
    fn failed(&mut self) -> Result<()> {
        self.queue = None;
        match self.encoder.take() {
            Some(encoder) => join(encoder).and(Err(sink_error("the Parquet encoder stopped"))),
            None => Err(sink_error("the Parquet file was closed")),
        }
    }
}

fn join(encoder: std::thread::JoinHandle<Result<()>>) -> Result<()> {
    encoder
        .join()
        .unwrap_or_else(|_| Err(sink_error("the Parquet encoder panicked")))
}

fn sink_error(what: &str) -> crate::Error {
    crate::Error::Parquet(parquet::errors::ParquetError::General(what.to_string()))
}
