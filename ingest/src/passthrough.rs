//! Parquet uploads: already typed tables, passed through with the same checks
//! as a spreadsheet — column names made SQL-safe (original names kept as the
//! header path), types narrowed to what Gongkai publishes, 15–18 digit
//! identifiers destroyed by floats flagged, personal data found and redacted
//! — read row group by row group, so memory does not grow with the file.

use crate::naming::unique_names;
use crate::privacy::RedactionPolicy;
use crate::report::{ColumnReport, Report, SheetReport, Warning, column_letter};
use crate::stream::{Redactor, empty_report};
use crate::table::{add_examples, meta};
use crate::text::{is_destroyed_identifier, split_header_unit};
use crate::{Error, IngestOptions, Result};
use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Float64Type, Schema, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;
use std::collections::HashMap;
use std::sync::Arc;

/// Rows per batch read from the file.
const BATCH_ROWS: usize = 65_536;

/// Whether `bytes` (a file's first and last bytes) are a Parquet file.
pub fn is_parquet(head: &[u8], tail: &[u8]) -> bool {
    head.starts_with(b"PAR1") && tail.ends_with(b"PAR1")
}

/// How one column is published.
struct Column {
    name: String,
    path: Vec<String>,
    unit: Option<String>,
    kind: &'static str,
    target: DataType,
    /// Values are rendered as text (types Gongkai does not publish).
    as_text: bool,
    /// Floating-point column: values that are destroyed identifiers are nulled.
    float: bool,
    nulls: usize,
    examples: Vec<String>,
    destroyed: usize,
    first_destroyed: Vec<(usize, f64)>,
}

/// The published type of an input type, its kind, and whether it is rendered as text.
fn target_of(dt: &DataType) -> (DataType, &'static str, bool) {
    use DataType as D;
    match dt {
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 => {
            (D::Int64, "integer", false)
        }
        D::UInt64 => (D::Decimal128(20, 0), "integer", false),
        D::Float16 | D::Float32 | D::Float64 => (D::Float64, "decimal", false),
        D::Decimal128(p, s) => (D::Decimal128(*p, *s), "decimal", false),
        D::Decimal256(p, s) if *p <= 38 => (D::Decimal128(*p, *s), "decimal", false),
        D::Boolean => (D::Boolean, "boolean", false),
        D::Date32 | D::Date64 => (D::Date32, "date", false),
        D::Timestamp(_, tz) => (
            D::Timestamp(TimeUnit::Millisecond, tz.clone()),
            "date",
            false,
        ),
        D::Utf8 | D::LargeUtf8 | D::Utf8View => (D::Utf8, "string", false),
        D::Dictionary(_, v) if matches!(v.as_ref(), D::Utf8 | D::LargeUtf8) => {
            (D::Utf8, "string", false)
        }
        _ => (D::Utf8, "string", true),
    }
}

/// Ingests a Parquet file from `reader` and hands the redacted table to
/// `on_batch` in batches; returns the report.
pub fn ingest_parquet<R: ChunkReader + 'static, E: From<Error>>(
    file: &str,
    reader: R,
    options: &IngestOptions,
    policy: &RedactionPolicy,
    mut on_batch: impl FnMut(RecordBatch) -> std::result::Result<(), E>,
) -> std::result::Result<Report, E> {
    let unreadable = |e: &dyn std::fmt::Display| Error::Workbook {
        file: file.to_string(),
        detail: format!("not a readable Parquet file: {e}"),
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(reader).map_err(|e| unreadable(&e))?;
    let input = builder.schema().clone();
    if input.fields().len() > options.limits.max_columns {
        return Err(Error::TooManyColumns {
            file: file.to_string(),
            sheet: "parquet".into(),
            row: 0,
            columns: input.fields().len(),
            limit: options.limits.max_columns,
        }
        .into());
    }
    if input.fields().is_empty() {
        return Err(Error::NoTable {
            file: file.to_string(),
            detail: "the Parquet file has no columns".into(),
        }
        .into());
    }
    let paths: Vec<Vec<String>> = input
        .fields()
        .iter()
        .map(|f| {
            f.metadata()
                .get(meta::PATH)
                .and_then(|p| serde_json::from_str::<Vec<String>>(p).ok())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| vec![f.name().clone()])
                .iter()
                // An identifier in a field name or path is masked like a header's.
                .map(|h| crate::privacy::clean_text(h))
                .collect()
        })
        .collect();
    let names = unique_names(&paths);
    let mut columns: Vec<Column> = input
        .fields()
        .iter()
        .zip(paths)
        .zip(names)
        .map(|((f, path), name)| {
            let (target, kind, as_text) = target_of(f.data_type());
            let unit = f.metadata().get(meta::UNIT).cloned().or_else(|| {
                path.last()
                    .and_then(|h| split_header_unit(h).1)
                    .filter(|_| kind == "decimal" || kind == "integer")
            });
            Column {
                name,
                path,
                unit,
                kind,
                float: target == DataType::Float64,
                target,
                as_text,
                nulls: 0,
                examples: Vec::new(),
                destroyed: 0,
                first_destroyed: Vec::new(),
            }
        })
        .collect();
    let batches = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| unreadable(&e))?;
    let mut redactor = Redactor::new(policy);
    let mut rows = 0usize;
    let mut schema: Option<Arc<Schema>> = None;
    for batch in batches {
        let batch = batch.map_err(|e| unreadable(&e))?;
        let converted = convert(&batch, &mut columns, rows)?;
        schema = Some(converted.schema());
        rows += batch.num_rows();
        redactor.add(converted);
        let reports = (!redactor.planned()).then(|| empty_report(column_reports(&columns)));
        for b in redactor.ready(false, reports)? {
            on_batch(b)?;
        }
    }
    if schema.is_none() {
        // No rows: one empty batch, so the table still has its columns.
        let empty = RecordBatch::new_empty(Arc::new(input.as_ref().clone()));
        let converted = convert(&empty, &mut columns, 0)?;
        redactor.add(converted);
    }
    let reports = (!redactor.planned()).then(|| empty_report(column_reports(&columns)));
    for b in redactor.ready(true, reports)? {
        on_batch(b)?;
    }

    let mut warnings = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        if c.as_text {
            warnings.push(Warning {
                code: "stored_as_text".into(),
                sheet: None,
                row: None,
                column: Some(column_letter(i)),
                header: Some(c.path.join("/")),
                message: format!(
                    "{}: its Parquet type is not one Gongkai publishes; stored as text",
                    c.name
                ),
            });
        }
        for (row, v) in &c.first_destroyed {
            warnings.push(Warning {
                code: "precision_lost".into(),
                sheet: None,
                row: Some(row + 1),
                column: Some(column_letter(i)),
                header: Some(c.path.join("/")),
                message: format!(
                    "{}: {v:E} a 15–18 digit number stored as a float: only 15 significant digits survive, so the value is destroyed; stored as null",
                    c.name
                ),
            });
        }
        if c.destroyed > c.first_destroyed.len() {
            warnings.push(Warning {
                code: "more_problems".into(),
                sheet: None,
                row: None,
                column: Some(column_letter(i)),
                header: Some(c.path.join("/")),
                message: format!(
                    "{}: {} more values with problems",
                    c.name,
                    c.destroyed - c.first_destroyed.len()
                ),
            });
        }
    }
    let column_reports = column_reports(&columns);
    let mut report = Report {
        file: file.to_string(),
        format: "parquet".into(),
        encoding: None,
        delimiter: None,
        sheets: vec![SheetReport {
            name: "parquet".into(),
            title: None,
            unit: None,
            header_rows: None,
            data_rows: rows,
            totals: Vec::new(),
            footnotes: Vec::new(),
            blank_rows: 0,
            columns: column_reports.clone(),
        }],
        table_sheets: vec!["parquet".into()],
        rows,
        columns: column_reports,
        hidden_sheets: Vec::new(),
        warnings,
        privacy: Vec::new(),
    };
    redactor.finish(&mut report);
    Ok(report)
}

/// Converts one input batch to the published types and names.
fn convert(batch: &RecordBatch, columns: &mut [Column], first_row: usize) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays = Vec::with_capacity(columns.len());
    for (c, array) in columns.iter_mut().zip(batch.columns()) {
        let mut out: ArrayRef = if c.as_text {
            let f =
                arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &Default::default())?;
            Arc::new(StringArray::from(
                (0..array.len())
                    .map(|i| array.is_valid(i).then(|| f.value(i).to_string()))
                    .collect::<Vec<_>>(),
            ))
        } else if array.data_type() == &c.target {
            array.clone()
        } else {
            cast(array, &c.target)?
        };
        if c.float {
            let values = out.as_primitive::<Float64Type>();
            let mut nulled = false;
            let kept: arrow::array::Float64Array = values
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Some(v) if is_destroyed_identifier(v) => {
                        c.destroyed += 1;
                        if c.first_destroyed.len() < crate::typing::MAX_KEPT_PROBLEMS {
                            c.first_destroyed.push((first_row + i, v));
                        }
                        nulled = true;
                        None
                    }
                    other => other,
                })
                .collect();
            if nulled {
                out = Arc::new(kept);
            }
        }
        c.nulls += out.null_count();
        add_examples(&mut c.examples, &out);
        let mut metadata = HashMap::new();
        metadata.insert(
            meta::PATH.to_string(),
            serde_json::to_string(&c.path).unwrap_or_default(),
        );
        metadata.insert(meta::KIND.to_string(), c.kind.to_string());
        if let Some(u) = &c.unit {
            metadata.insert(meta::UNIT.to_string(), u.clone());
        }
        fields.push(Field::new(&c.name, out.data_type().clone(), true).with_metadata(metadata));
        arrays.push(out);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        arrays,
        &options,
    )?)
}

fn column_reports(columns: &[Column]) -> Vec<ColumnReport> {
    columns
        .iter()
        .map(|c| ColumnReport {
            name: c.name.clone(),
            path: c.path.clone(),
            data_type: c.target.to_string(),
            kind: c.kind.to_string(),
            unit: c.unit.clone(),
            pii: None,
            nulls: c.nulls,
            null_markers: Default::default(),
            examples: c.examples.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array, ListArray};
    use arrow::datatypes::Int32Type;

    fn parquet(batch: &RecordBatch) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        out
    }

    #[test]
    fn parquet_is_passed_through_with_the_same_checks() {
        let names: ArrayRef = Arc::new(StringArray::from(vec!["张三丰", "李四", "王五"]));
        let ids: ArrayRef = Arc::new(StringArray::from(vec![
            "11010519491231002X",
            "110105194912310021",
            "11010519491231002X",
        ]));
        let phones: ArrayRef = Arc::new(Int64Array::from(vec![13812345678, 13912345678, 0]));
        let amounts: ArrayRef = Arc::new(Float64Array::from(vec![1200.5, 800.0, 4.10102e17]));
        let tags: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            None,
            Some(vec![]),
        ]));
        let batch = RecordBatch::try_from_iter([
            ("姓名", names),
            ("身份证号", ids),
            ("联系电话", phones),
            ("金额(元)", amounts),
            ("Tags", tags),
        ])
        .unwrap();
        let bytes = parquet(&batch);
        let policy = RedactionPolicy {
            category: crate::privacy::Category::SocialAssistance,
            ..Default::default()
        };
        let out =
            crate::ingest_with_policy("roll.parquet", &bytes, &IngestOptions::default(), &policy)
                .unwrap();
        let r = &out.report;
        assert_eq!(r.format, "parquet");
        assert_eq!(r.rows, 3);
        let schema = out.batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        // IDs and phones dropped, names masked, amount in yuan, list as text.
        assert_eq!(names, ["xing_ming", "jin_e", "tags"], "{r:?}");
        let masked = out.batch.column(0).as_string::<i32>();
        assert_eq!(masked.value(0), "张*丰");
        let kinds: Vec<&str> = r.privacy.iter().map(|f| f.kind.name()).collect();
        assert!(
            kinds.contains(&"cn_resident_id") && kinds.contains(&"cn_mobile"),
            "{kinds:?}"
        );
        let amount = r.columns.iter().find(|c| c.name == "jin_e").unwrap();
        assert_eq!(amount.unit.as_deref(), Some("元"));
        assert_eq!(amount.path, ["金额(元)"]);
        // A float that destroyed an 18-digit identifier is flagged and nulled.
        assert!(out.batch.column(1).is_null(2));
        assert!(
            r.warnings
                .iter()
                .any(|w| w.code == "precision_lost" && w.row == Some(3))
        );
        assert!(r.warnings.iter().any(|w| w.code == "stored_as_text"));
        assert_eq!(out.batch.column(2).as_string::<i32>().value(0), "[1, 2]");

        // Corrupt Parquet says so.
        let mut broken = bytes.clone();
        let mid = broken.len() / 2;
        broken.drain(8..mid);
        let e = crate::ingest_with_policy("x.parquet", &broken, &IngestOptions::default(), &policy)
            .unwrap_err();
        assert!(e.to_string().contains("Parquet"), "{e}");
    }
}
