//! Parquet writer: zstd, statistics with page index, bloom filters on text
//! columns ([`crate::bloom`]), field metadata kept.

use crate::Result;
use crate::bloom::FilterBuilder;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use std::io::{Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Rows per row group: large enough for scans.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// zstd at level 1: on the benchmark's procurement table the file is 2 %
/// larger than at level 3 and written 8 % faster.
fn builder() -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by("gongkai".to_string())
}

/// How a file whose first batch is `first` is written: the writer's
/// settings, and the distinct values each column's bloom filter is made
/// for (`None`: no filter).
///
/// Text columns of mostly distinct values (codes, names) get a bloom
/// filter, so a lookup such as `project_code = 'ZB2023-00000001'` skips the
/// row groups without the value (min/max statistics cannot unless the
/// column is sorted). Each filter is sized for a whole row group and folded
/// down to the values it holds when the row group is written; a column
/// whose first values repeat (suppliers) gets a filter sized for the values
/// it is likely to hold ([`Sample::likely_distinct`]), small enough to stay
/// in the cache while it is filled. Columns of a few repeated values
/// (towns, procurement methods) get none: every row group holds them all,
/// so a filter would cost a hash per value and skip nothing. The filters
/// are built here ([`crate::bloom`]), not by arrow-rs.
///
/// Columns whose values are (nearly) all different (project codes,
/// amounts) are written plain, without a dictionary: one would hold every
/// value again, and be dropped in every row group when it outgrows its page
/// (each value up to then hashed and interned for nothing).
pub fn writer_plan(first: &RecordBatch) -> (WriterProperties, Vec<Option<u64>>) {
    let mut b = builder();
    let mut filters = Vec::with_capacity(first.num_columns());
    for (field, column) in first.schema().fields().iter().zip(first.columns()) {
        let text = matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        );
        let sample = Sample::of(column);
        filters.push((text && !sample.repeats_few_values()).then(|| sample.filter_values()));
        if sample.all_different() {
            b = b.set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
        }
    }
    (b.build(), filters)
}

/// Values of a column looked at to tell how often its values repeat.
const CARDINALITY_SAMPLE: usize = 4096;

/// Distinct values among the first values of a text column.
struct Sample {
    values: usize,
    distinct: usize,
    /// Values seen once, and twice.
    once: usize,
    twice: usize,
}

/// The smallest bloom filter made for a row group: sized for this many
/// distinct values (64 KiB).
const MIN_FILTER_VALUES: u64 = 1 << 16;

impl Sample {
    /// The first values of a text column or of a column of the numbers,
    /// dates and times ingest writes; of other columns, none.
    fn of(column: &arrow::array::ArrayRef) -> Self {
        use arrow::array::AsArray;
        use arrow::datatypes::{
            Date32Type, Decimal128Type, Float64Type, Int64Type, TimeUnit, TimestampMillisecondType,
        };
        match column.data_type() {
            DataType::Utf8 => Self::counted(column.as_string::<i32>().iter().flatten()),
            DataType::Int64 => Self::counted(column.as_primitive::<Int64Type>().iter().flatten()),
            DataType::Decimal128(..) => {
                Self::counted(column.as_primitive::<Decimal128Type>().iter().flatten())
            }
            DataType::Float64 => Self::counted(
                column
                    .as_primitive::<Float64Type>()
                    .iter()
                    .flatten()
                    .map(f64::to_bits),
            ),
            DataType::Date32 => Self::counted(column.as_primitive::<Date32Type>().iter().flatten()),
            DataType::Timestamp(TimeUnit::Millisecond, _) => Self::counted(
                column
                    .as_primitive::<TimestampMillisecondType>()
                    .iter()
                    .flatten(),
            ),
            _ => Self::counted(std::iter::empty::<u8>()),
        }
    }

    /// Counts the first [`CARDINALITY_SAMPLE`] of `values_in`.
    fn counted<K: std::hash::Hash + Eq>(values_in: impl Iterator<Item = K>) -> Self {
        let mut counts: std::collections::HashMap<K, usize> = std::collections::HashMap::new();
        let mut values = 0;
        for value in values_in.take(CARDINALITY_SAMPLE) {
            *counts.entry(value).or_insert(0) += 1;
            values += 1;
        }
        Sample {
            values,
            distinct: counts.len(),
            once: counts.values().filter(|&&n| n == 1).count(),
            twice: counts.values().filter(|&&n| n == 2).count(),
        }
    }

    /// How many distinct values the whole column likely holds, from how
    /// often the sampled values repeat (Chao's estimate: values seen once
    /// stand for the values not seen). `None` when the sample is too small
    /// or nearly all different: then nothing bounds it.
    fn likely_distinct(&self) -> Option<u64> {
        if self.values < 256 || self.all_different() {
            return None;
        }
        let (once, twice) = (self.once as u64, self.twice as u64);
        Some(self.distinct as u64 + once * once.saturating_sub(1) / (2 * (twice + 1)))
    }

    /// The distinct values a row group's bloom filter is made for: four
    /// times the likely count (the first rows may repeat more than the
    /// rest), at least [`MIN_FILTER_VALUES`], at most a row group's rows.
    fn filter_values(&self) -> u64 {
        let most = ROW_GROUP_ROWS as u64;
        self.likely_distinct()
            .map_or(most, |n| n.saturating_mul(4).clamp(MIN_FILTER_VALUES, most))
    }

    /// A few values repeated: fewer distinct values than a sixteenth of
    /// those looked at (too few values to tell: no).
    fn repeats_few_values(&self) -> bool {
        self.values >= 256 && self.distinct * 16 < self.values
    }

    /// At least nine values in ten different (too few values to tell: no).
    fn all_different(&self) -> bool {
        self.values >= 256 && self.distinct * 10 >= self.values * 9
    }
}

/// Writes batches as one Parquet file in memory, encoded as [`ParquetSink`]
/// encodes them.
pub fn to_parquet(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let Some(first) = batches.first() else {
        return Ok(Vec::new());
    };
    let mut buf = Vec::new();
    let (properties, filters) = writer_plan(first);
    let writer = ArrowWriter::try_new(&mut buf, first.schema(), Some(properties))?;
    let mut encoder = ColumnsEncoder::new(writer, filters)?;
    for batch in batches {
        encoder.write(batch)?;
    }
    encoder.close()?;
    Ok(buf)
}

/// Batches in flight between the ingest and the Parquet encoder.
const SINK_QUEUE: usize = 2;

/// Encodes row groups with their columns side by side (as [`ArrowWriter`]
/// would one after the other): a table read whole is handed over as one
/// batch, and its columns are then encoded on every core.
struct ColumnsEncoder<W: std::io::Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    /// The distinct values each column's bloom filter is made for.
    filter_values: Vec<Option<u64>>,
    /// The open row group: its column writers, their bloom filters, and its
    /// rows so far.
    open: Option<OpenGroup>,
    /// Row groups written.
    groups: usize,
}

/// A row group being written.
struct OpenGroup {
    writers: Vec<ArrowColumnWriter>,
    filters: Vec<Option<FilterBuilder>>,
    rows: usize,
}

impl<W: std::io::Write + Send> ColumnsEncoder<W> {
    /// Takes over a writer that has written nothing yet, with the bloom
    /// filters of [`writer_plan`] (one per column of a flat schema).
    fn new(writer: ArrowWriter<W>, filter_values: Vec<Option<u64>>) -> Result<Self> {
        let (file, factory) = writer.into_serialized_writer()?;
        // A nested column has several leaves: filters follow columns only
        // when each column is one leaf (every table ingest writes).
        let flat = file.schema_descr().num_columns() == filter_values.len();
        Ok(ColumnsEncoder {
            file,
            factory,
            filter_values: if flat { filter_values } else { Vec::new() },
            open: None,
            groups: 0,
        })
    }

    /// Encodes a batch, closing each row group once it holds
    /// [`ROW_GROUP_ROWS`] rows.
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut at = 0;
        while at < batch.num_rows() {
            let group = match &mut self.open {
                Some(open) => open,
                open => {
                    let writers = self.factory.create_column_writers(self.groups)?;
                    let mut filters = Vec::with_capacity(writers.len());
                    for i in 0..writers.len() {
                        let values = self.filter_values.get(i).copied().flatten();
                        filters.push(
                            values
                                .map(|n| FilterBuilder::new(n, ROW_GROUP_ROWS))
                                .transpose()?,
                        );
                    }
                    open.insert(OpenGroup {
                        writers,
                        filters,
                        rows: 0,
                    })
                }
            };
            let n = (ROW_GROUP_ROWS - group.rows).min(batch.num_rows() - at);
            let piece = batch.slice(at, n);
            let mut leaves = Vec::with_capacity(group.writers.len());
            for (field, column) in piece.schema().fields().iter().zip(piece.columns()) {
                leaves.extend(compute_leaves(field, column)?);
            }
            let columns = piece.columns();
            let jobs: Vec<_> = group
                .writers
                .iter_mut()
                .zip(leaves)
                .zip(group.filters.iter_mut().enumerate())
                .collect();
            let written = crate::parallel::map(jobs, |((writer, leaf), (i, filter))| {
                if let (Some(filter), Some(column)) = (filter, columns.get(i)) {
                    filter.add(column.as_ref());
                }
                writer.write(&leaf)
            });
            for written in written {
                written?;
            }
            group.rows += n;
            at += n;
            if group.rows >= ROW_GROUP_ROWS {
                self.close_group()?;
            }
        }
        Ok(())
    }

    /// Closes the open row group's columns (side by side) and writes them.
    fn close_group(&mut self) -> Result<()> {
        if let Some(open) = self.open.take() {
            let jobs: Vec<_> = open.writers.into_iter().zip(open.filters).collect();
            let chunks = crate::parallel::map(jobs, |(writer, filter)| {
                let mut chunk = writer.close()?;
                if let Some(filter) = filter {
                    chunk.close_mut().bloom_filter = Some(filter.finish());
                }
                Ok::<_, parquet::errors::ParquetError>(chunk)
            });
            let mut group = self.file.next_row_group()?;
            for chunk in chunks {
                chunk?.append_to_row_group(&mut group)?;
            }
            group.close()?;
            self.groups += 1;
        }
        Ok(())
    }

    /// Writes the last row group and the footer.
    fn close(mut self) -> Result<()> {
        self.close_group()?;
        self.file.close()?;
        Ok(())
    }
}

/// A Parquet file written on its own thread: encoding and compressing one
/// batch overlaps with reading and converting the next. The schema is the
/// first batch's; nothing is written when no batch comes.
pub struct ParquetSink {
    state: SinkState,
    rows: usize,
}

enum SinkState {
    /// No batch yet: the file to write to.
    Waiting(std::fs::File),
    /// Batches go to the encoder thread.
    Writing {
        queue: std::sync::mpsc::SyncSender<RecordBatch>,
        encoder: std::thread::JoinHandle<Result<()>>,
        /// The file again, to start over in ([`ParquetSink::restart`]).
        file: std::fs::File,
        /// Tells the encoder to stop without finishing the file.
        abandon: Arc<AtomicBool>,
    },
    /// Finished or failed.
    Stopped,
}

impl ParquetSink {
    /// A sink writing to `file` (truncated or new).
    pub fn new(file: std::fs::File) -> Self {
        ParquetSink {
            state: SinkState::Waiting(file),
            rows: 0,
        }
    }

    /// Hands one batch to the encoder.
    pub fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if matches!(self.state, SinkState::Waiting(_))
            && let SinkState::Waiting(file) = std::mem::replace(&mut self.state, SinkState::Stopped)
        {
            let again = file.try_clone().map_err(io_error)?;
            let (properties, filters) = writer_plan(&batch);
            let writer = ArrowWriter::try_new(file, batch.schema(), Some(properties))?;
            let mut writer = ColumnsEncoder::new(writer, filters)?;
            let (queue, batches) = std::sync::mpsc::sync_channel::<RecordBatch>(SINK_QUEUE);
            let abandon = Arc::new(AtomicBool::new(false));
            let abandoned = abandon.clone();
            let encoder = std::thread::spawn(move || {
                for batch in batches {
                    if abandoned.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    writer.write(&batch)?;
                }
                if !abandoned.load(Ordering::Relaxed) {
                    writer.close()?;
                }
                Ok(())
            });
            self.state = SinkState::Writing {
                queue,
                encoder,
                file: again,
                abandon,
            };
        }
        self.rows += batch.num_rows();
        if let SinkState::Writing { queue, .. } = &self.state
            && queue.send(batch).is_ok()
        {
            return Ok(());
        }
        // The encoder stopped (its error), or the sink had.
        self.stop()?;
        Err(sink_error("the Parquet encoder stopped"))
    }

    /// Rows handed over so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Forgets every batch written: the file is emptied and the next batch
    /// (whose schema may differ) starts it again.
    pub fn restart(&mut self) -> Result<()> {
        if let SinkState::Writing {
            queue,
            encoder,
            file,
            abandon,
        } = std::mem::replace(&mut self.state, SinkState::Stopped)
        {
            abandon.store(true, Ordering::Relaxed);
            drop(queue);
            // What the encoder failed at no longer matters: it is all undone.
            let _ = join(encoder);
            let mut file = file;
            file.set_len(0).map_err(io_error)?;
            file.seek(SeekFrom::Start(0)).map_err(io_error)?;
            self.state = SinkState::Waiting(file);
        }
        self.rows = 0;
        Ok(())
    }

    /// Writes what is queued and closes the file; returns the rows written.
    pub fn finish(mut self) -> Result<usize> {
        self.stop()?;
        Ok(self.rows)
    }

    /// Closes the queue and waits for the encoder; its error, if any.
    fn stop(&mut self) -> Result<()> {
        match std::mem::replace(&mut self.state, SinkState::Stopped) {
            SinkState::Writing { queue, encoder, .. } => {
                drop(queue);
                join(encoder)
            }
            SinkState::Waiting(_) | SinkState::Stopped => Ok(()),
        }
    }
}

fn join(encoder: std::thread::JoinHandle<Result<()>>) -> Result<()> {
    encoder
        .join()
        .unwrap_or_else(|_| Err(sink_error("the Parquet encoder panicked")))
}

fn io_error(e: std::io::Error) -> crate::Error {
    sink_error(&format!("the Parquet file: {e}"))
}

fn sink_error(what: &str) -> crate::Error {
    crate::Error::Parquet(parquet::errors::ParquetError::General(what.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int64Array, StringArray};
    use arrow::datatypes::Schema;
    use parquet::file::properties::ReaderProperties;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::serialized_reader::ReadOptionsBuilder;
    use std::sync::Arc;

    #[test]
    fn the_sink_writes_every_batch_it_is_given() {
        let schema = Arc::new(Schema::new(vec![arrow::datatypes::Field::new(
            "n",
            DataType::Int64,
            false,
        )]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.parquet");
        let mut sink = ParquetSink::new(std::fs::File::create(&path).unwrap());
        for start in [0i64, 100, 200] {
            let values = Int64Array::from_iter_values(start..start + 100);
            sink.write(RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap())
                .unwrap();
        }
        assert_eq!(sink.finish().unwrap(), 300);
        let file = std::fs::File::open(&path).unwrap();
        let reader = SerializedFileReader::new(file).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 300);
    }

    #[test]
    fn row_groups_are_cut_where_batches_straddle_them() {
        let schema = Arc::new(Schema::new(vec![
            arrow::datatypes::Field::new("n", DataType::Int64, false),
            arrow::datatypes::Field::new("s", DataType::Utf8, true),
        ]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.parquet");
        let mut sink = ParquetSink::new(std::fs::File::create(&path).unwrap());
        let total = ROW_GROUP_ROWS as i64 + 1000;
        let mut start = 0i64;
        while start < total {
            let end = (start + 300_000).min(total);
            let n = Int64Array::from_iter_values(start..end);
            let s =
                StringArray::from_iter((start..end).map(|i| (i % 7 != 0).then(|| i.to_string())));
            sink.write(
                RecordBatch::try_new(schema.clone(), vec![Arc::new(n), Arc::new(s)]).unwrap(),
            )
            .unwrap();
            start = end;
        }
        assert_eq!(sink.finish().unwrap(), total as usize);
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let groups: Vec<i64> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, [ROW_GROUP_ROWS as i64, 1000]);
        let batches: Vec<RecordBatch> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
                std::fs::File::open(&path).unwrap(),
                1 << 16,
            )
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        let mut next = 0i64;
        for batch in &batches {
            let n = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            let s = batch
                .column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            for i in 0..batch.num_rows() {
                assert_eq!(n.value(i), next);
                assert_eq!(s.is_null(i), next % 7 == 0, "row {next}");
                if !s.is_null(i) {
                    assert_eq!(s.value(i), next.to_string());
                }
                next += 1;
            }
        }
        assert_eq!(next, total);
    }

    #[test]
    fn a_restarted_sink_holds_only_what_came_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.parquet");
        let mut sink = ParquetSink::new(std::fs::File::create(&path).unwrap());
        let ints = Arc::new(Schema::new(vec![arrow::datatypes::Field::new(
            "n",
            DataType::Int64,
            false,
        )]));
        for _ in 0..3 {
            let values = Int64Array::from_iter_values(0..1000);
            sink.write(RecordBatch::try_new(ints.clone(), vec![Arc::new(values)]).unwrap())
                .unwrap();
        }
        sink.restart().unwrap();
        assert_eq!(sink.rows(), 0);
        // Another schema after the restart.
        let text = Arc::new(Schema::new(vec![arrow::datatypes::Field::new(
            "s",
            DataType::Utf8,
            false,
        )]));
        let values = StringArray::from(vec!["a", "b"]);
        sink.write(RecordBatch::try_new(text, vec![Arc::new(values)]).unwrap())
            .unwrap();
        assert_eq!(sink.finish().unwrap(), 2);
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let meta = reader.metadata().file_metadata();
        assert_eq!(meta.num_rows(), 2);
        assert_eq!(meta.schema_descr().column(0).name(), "s");
    }

    /// A text column of `n` values drawn from `kinds` different ones.
    fn drawn(n: usize, kinds: u64) -> arrow::array::ArrayRef {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let values = (0..n).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("供应商{}有限公司", x % kinds)
        });
        Arc::new(StringArray::from_iter_values(values))
    }

    #[test]
    fn filters_are_sized_for_the_values_a_column_likely_holds() {
        for (kinds, low, high) in [(5_000, 4_000, 6_500), (12_000, 9_000, 16_000)] {
            let sample = Sample::of(&drawn(10_000, kinds));
            let likely = sample.likely_distinct().unwrap();
            assert!((low..high).contains(&likely), "{kinds}: {likely}");
        }
        // Suppliers repeat: a 64 KiB filter instead of one for a row group.
        assert_eq!(Sample::of(&drawn(10_000, 5_000)).filter_values(), 1 << 16);
        let sample = Sample {
            values: 4096,
            distinct: 3600,
            once: 3200,
            twice: 300,
        };
        assert_eq!(sample.likely_distinct(), Some(3600 + 3200 * 3199 / 602));
        assert_eq!(sample.filter_values(), (3600 + 3200 * 3199 / 602) * 4);
        // All different, or too few to tell: sized for a whole row group.
        let codes: arrow::array::ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..10_000).map(|i| format!("ZB2023-{i:08}")),
        ));
        assert_eq!(Sample::of(&codes).filter_values(), ROW_GROUP_ROWS as u64);
        assert_eq!(
            Sample::of(&drawn(100, 5)).filter_values(),
            ROW_GROUP_ROWS as u64
        );
    }

    #[test]
    fn text_columns_carry_bloom_filters() {
        let codes: Vec<String> = (0..1000).map(|i| format!("ZB2023-{i:08}")).collect();
        let towns: Vec<&str> = (0..1000)
            .map(|i| ["城关镇", "石墙镇", "大束镇"][i % 3])
            .collect();
        let schema = Arc::new(Schema::new(vec![
            arrow::datatypes::Field::new("code", DataType::Utf8, false),
            arrow::datatypes::Field::new("n", DataType::Int64, false),
            arrow::datatypes::Field::new("town", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(codes.clone())),
                Arc::new(Int64Array::from_iter_values(0..1000)),
                Arc::new(StringArray::from(towns)),
            ],
        )
        .unwrap();
        let bytes = to_parquet(&[batch]).unwrap();
        let options = ReadOptionsBuilder::new()
            .with_reader_properties(
                ReaderProperties::builder()
                    .set_read_bloom_filter(true)
                    .build(),
            )
            .build();
        let reader =
            SerializedFileReader::new_with_options(bytes::Bytes::from(bytes), options).unwrap();
        let group = reader.get_row_group(0).unwrap();
        let filter = group
            .get_column_bloom_filter(0)
            .expect("a filter on the text column");
        assert!(codes.iter().all(|c| filter.check(&c.as_str())));
        let absent = (1000..2000)
            .filter(|i| filter.check(&format!("ZB2023-{i:08}").as_str()))
            .count();
        assert!(
            absent < 100,
            "{absent} of 1000 absent codes pass the filter"
        );
        assert!(
            group.get_column_bloom_filter(1).is_none(),
            "numbers have none"
        );
        assert!(
            group.get_column_bloom_filter(2).is_none(),
            "three towns repeated need none"
        );
        // Folded down to the 1 000 values it holds, not sized for a row group.
        let file_size = reader
            .metadata()
            .row_group(0)
            .column(0)
            .bloom_filter_length();
        assert!(file_size.is_some_and(|n| n < 16 << 10), "{file_size:?}");
        // Codes, all different, are written plain; towns with a dictionary.
        let meta = reader.metadata().row_group(0);
        assert!(meta.column(0).dictionary_page_offset().is_none());
        assert!(meta.column(2).dictionary_page_offset().is_some());
    }

    #[test]
    fn columns_of_different_values_are_written_without_a_dictionary() {
        use arrow::array::{Date32Array, Decimal128Array};
        let n = 5000;
        let schema = Arc::new(Schema::new(vec![
            arrow::datatypes::Field::new("amount", DataType::Decimal128(18, 2), true),
            arrow::datatypes::Field::new("date", DataType::Date32, true),
            arrow::datatypes::Field::new("count", DataType::Int64, true),
        ]));
        let amounts = Decimal128Array::from_iter_values((0..n).map(|i| i128::from(i) * 7919))
            .with_precision_and_scale(18, 2)
            .unwrap();
        let dates = Date32Array::from_iter_values((0..n).map(|i| 19_000 + i % 300));
        let counts = Int64Array::from_iter_values((0..i64::from(n)).map(|i| i % 7));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(amounts), Arc::new(dates), Arc::new(counts)],
        )
        .unwrap();
        let bytes = bytes::Bytes::from(to_parquet(std::slice::from_ref(&batch)).unwrap());
        let reader = SerializedFileReader::new(bytes.clone()).unwrap();
        let meta = reader.metadata().row_group(0);
        assert!(
            meta.column(0).dictionary_page_offset().is_none(),
            "amounts, all different, are plain"
        );
        assert!(
            meta.column(1).dictionary_page_offset().is_some(),
            "dates repeat"
        );
        assert!(
            meta.column(2).dictionary_page_offset().is_some(),
            "counts repeat"
        );
        // The values read back are those written.
        let read: Vec<RecordBatch> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(bytes, 8192)
                .unwrap()
                .collect::<std::result::Result<_, _>>()
                .unwrap();
        assert_eq!(
            arrow::compute::concat_batches(&batch.schema(), &read).unwrap(),
            batch
        );
    }
}
