//! SQL behaviour of the query service as sqllogictest files (`tests/slt/*.slt`).
//!
//! Each file runs against a fresh engine over a small published catalogue:
//! `procurement` (versions 1 and 2) and `subsidy`, stored as Parquet in a
//! local object store exactly as the server publishes them. Errors are
//! reported as `[code] message`, so files can match the API's error codes.
//!
//! Regenerate the expected results after a deliberate change with
//! `GONGKAI_SLT_COMPLETE=1 cargo test -p gongkai-query --test slt`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arrow::array::{ArrayRef, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use gongkai_catalog::PublishedTable;
use gongkai_query::{Limits, QueryEngine};
use object_store::local::LocalFileSystem;
use object_store::{ObjectStore, ObjectStoreExt};
use sqllogictest::{DBOutput, DefaultColumnType};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// An engine plus the published tables it may read.
struct Db {
    engine: Arc<QueryEngine>,
    tables: Vec<PublishedTable>,
}

#[derive(Debug)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DbError {}

fn column_type(dt: &DataType) -> DefaultColumnType {
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DefaultColumnType::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => DefaultColumnType::FloatingPoint,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let fail = |e: gongkai_query::Error| DbError(format!("[{}] {e}", e.code()));
        let stream = self
            .engine
            .execute_sql(sql, self.tables.clone())
            .await
            .map_err(fail)?;
        let schema = stream.schema.clone();
        let (batches, truncated) = stream.collect().await.map_err(fail)?;
        let types = schema
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for b in &batches {
            let formatters: Vec<ArrayFormatter> = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
                .collect();
            for i in 0..b.num_rows() {
                // Multi-line cells (plans) become one row per line; the other
                // columns of continuation rows read "...".
                let cells: Vec<Vec<String>> = formatters
                    .iter()
                    .map(|f| {
                        let v = f.value(i).to_string();
                        if v.is_empty() {
                            return vec!["(empty)".to_string()];
                        }
                        v.lines()
                            .map(|l| l.trim_end().to_string())
                            .filter(|l| !l.is_empty())
                            .collect()
                    })
                    .collect();
                let height = cells.iter().map(Vec::len).max().unwrap_or(1);
                for line in 0..height {
                    rows.push(
                        cells
                            .iter()
                            .map(|c| c.get(line).cloned().unwrap_or_else(|| "...".into()))
                            .collect(),
                    );
                }
            }
        }
        if truncated {
            rows.push(vec!["-- truncated --".to_string()]);
        }
        Ok(DBOutput::Rows { types, rows })
    }

    fn engine_name(&self) -> &str {
        "gongkai"
    }

    async fn shutdown(&mut self) {}
}

fn batch(columns: Vec<(&str, ArrayRef)>, paths: &HashMap<&str, &str>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, a)| {
            let mut f = Field::new(*name, a.data_type().clone(), true);
            if let Some(p) = paths.get(name) {
                f = f.with_metadata(HashMap::from([(
                    "gongkai:path".to_string(),
                    serde_json::json!([p]).to_string(),
                )]));
            }
            f
        })
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

fn procurement(rows: usize) -> RecordBatch {
    let agencies = ["县交通运输局", "县教育和体育局", "县卫生健康局"];
    let paths = HashMap::from([("agency", "采购人"), ("amount", "中标金额(万元)")]);
    batch(
        vec![
            (
                "project_code",
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| format!("ZB2024-{:04}", i + 1)),
                )),
            ),
            (
                "agency",
                Arc::new(StringArray::from_iter_values(
                    (0..rows).map(|i| agencies[i % 3]),
                )),
            ),
            (
                "amount",
                Arc::new(
                    Decimal128Array::from_iter_values((0..rows).map(|i| (i as i128 + 1) * 12_345))
                        .with_precision_and_scale(18, 2)
                        .unwrap(),
                ),
            ),
            (
                "award_date",
                Arc::new(Date32Array::from_iter_values(
                    (0..rows).map(|i| 19_723 + 30 * i as i32),
                )),
            ),
        ],
        &paths,
    )
}

fn subsidy() -> RecordBatch {
    let townships = [
        "城关镇",
        "东关镇",
        "西关镇",
        "城关镇",
        "东关镇",
        "城关镇",
        "南关镇",
        "西关镇",
    ];
    batch(
        vec![
            (
                "township",
                Arc::new(StringArray::from_iter_values(townships)),
            ),
            (
                "households",
                Arc::new(Int64Array::from(vec![
                    Some(3),
                    Some(5),
                    None,
                    Some(2),
                    Some(4),
                    Some(1),
                    Some(6),
                    Some(2),
                ])),
            ),
            (
                "amount",
                Arc::new(
                    Decimal128Array::from_iter_values([
                        120_000, 98_050, 45_000, 60_000, 150_000, 30_000, 210_000, 45_000,
                    ])
                    .with_precision_and_scale(18, 2)
                    .unwrap(),
                ),
            ),
        ],
        &HashMap::from([("township", "乡镇")]),
    )
}

async fn put(store: &dyn ObjectStore, key: &str, b: &RecordBatch) {
    let mut w = parquet::arrow::ArrowWriter::try_new(Vec::new(), b.schema(), None).unwrap();
    w.write(b).unwrap();
    let bytes = w.into_inner().unwrap();
    store
        .put(&object_store::path::Path::from(key), bytes.into())
        .await
        .unwrap();
}

async fn db(dir: &Path) -> Db {
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap());
    put(
        store.as_ref(),
        "datasets/1/v1/part-0.parquet",
        &procurement(5),
    )
    .await;
    put(
        store.as_ref(),
        "datasets/1/v2/part-0.parquet",
        &procurement(6),
    )
    .await;
    put(store.as_ref(), "datasets/2/v1/part-0.parquet", &subsidy()).await;
    let table = |slug: &str, id, version, is_latest| PublishedTable {
        slug: slug.into(),
        dataset_id: id,
        version,
        is_latest,
        key: format!("datasets/{id}/v{version}/part-0.parquet"),
    };
    let limits = Limits {
        max_rows: 20,
        timeout: Duration::from_secs(5),
        memory_per_query: 64 << 20,
        memory_total: 128 << 20,
        max_concurrent: 4,
        queue_timeout: Duration::from_secs(1),
        threads: 2,
    };
    Db {
        engine: Arc::new(QueryEngine::new(store, limits).unwrap()),
        tables: vec![
            table("procurement", 1, 1, false),
            table("procurement", 1, 2, true),
            table("subsidy", 2, 1, true),
        ],
    }
}

fn files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_behaviour() {
    let complete = std::env::var("GONGKAI_SLT_COMPLETE").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for file in files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let made = db(&path).await;
        let cell = std::sync::Mutex::new(Some(made));
        let mut runner = sqllogictest::Runner::new(|| {
            let db = cell.lock().unwrap().take();
            let path = path.clone();
            async move {
                match db {
                    Some(db) => Ok(db),
                    None => Ok(self::db(&path).await),
                }
            }
        });
        if complete {
            runner
                .update_test_file(
                    &file,
                    " ",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::strict_column_validator,
                )
                .await
                .unwrap();
        } else if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}:\n{}", file.display(), e.display(true)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
