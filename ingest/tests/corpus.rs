//! Scores ingest against the synthetic agency corpus (`../shared/corpus/synthetic/truth.json`):
//! header rows, column paths, types, data row counts and sample cells, per file.
//! Prints every miss and the pass rate; at least 95% of files must be fully right.
//! Also ingests every real-world file of `../shared/corpus/real/` (must not fail).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arrow::util::display::{ArrayFormatter, FormatOptions};
use gongkai_ingest::{IngestOptions, ingest};
use serde_json::Value;
use std::path::PathBuf;

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var("GONGKAI_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    dir.join("synthetic/truth.json").exists().then_some(dir)
}

fn arrow_type_for(truth: &str) -> &'static str {
    match truth {
        "integer" => "Int64",
        "decimal" => "Decimal128",
        "date" => "Date32",
        _ => "Utf8",
    }
}

fn same_value(expected: &Value, actual: &str) -> bool {
    match expected {
        // The truth holds the generator's unrounded value; the file carries as
        // many decimals as the agency printed, so compare at that precision.
        Value::Number(n) => {
            let decimals = actual.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
            let tolerance = 0.5 * 10f64.powi(-decimals) + 1e-9;
            actual
                .parse::<f64>()
                .is_ok_and(|a| (a - n.as_f64().unwrap_or(f64::NAN)).abs() <= tolerance)
        }
        Value::String(s) => s == actual,
        Value::Null => actual.is_empty(),
        other => *other == actual,
    }
}

#[test]
fn synthetic_corpus_scores_at_least_95_percent() {
    let Some(dir) = corpus_dir() else {
        assert!(
            std::env::var("CI").is_err(),
            "the corpus must be present in CI (../shared/corpus)"
        );
        eprintln!("skipped: no corpus at ../shared/corpus (set GONGKAI_CORPUS)");
        return;
    };
    let truth: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("synthetic/truth.json")).unwrap())
            .unwrap();
    let mut passed = 0;
    let mut present = 0;
    for record in &truth {
        let file = record["file"].as_str().unwrap();
        let path = dir.join("synthetic").join(file);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        present += 1;
        let mut misses: Vec<String> = Vec::new();
        match ingest(file, &bytes, &IngestOptions::default()) {
            Err(e) => misses.push(format!("ingest failed: {e}")),
            Ok(ingested) => {
                let report = &ingested.report;
                for (si, sheet) in record["sheets"].as_array().unwrap().iter().enumerate() {
                    let Some(got) = report
                        .sheets
                        .iter()
                        .find(|s| s.name == sheet["sheet"].as_str().unwrap())
                        .or(report.sheets.get(si))
                    else {
                        misses.push(format!("sheet {} not found", sheet["sheet"]));
                        continue;
                    };
                    let want_header: Vec<usize> =
                        serde_json::from_value(sheet["header_rows"].clone()).unwrap();
                    if got.header_rows.map(|h| h.to_vec()) != Some(want_header.clone()) {
                        misses.push(format!(
                            "header_rows {:?} != {:?}",
                            got.header_rows, want_header
                        ));
                    }
                    if got.data_rows != sheet["data_rows"].as_u64().unwrap() as usize {
                        misses.push(format!(
                            "data_rows {} != {}",
                            got.data_rows, sheet["data_rows"]
                        ));
                    }
                    let want_cols = sheet["columns"].as_array().unwrap();
                    if got.columns.len() != want_cols.len() {
                        misses.push(format!(
                            "{} columns != {}",
                            got.columns.len(),
                            want_cols.len()
                        ));
                    }
                    for (c, want) in got.columns.iter().zip(want_cols) {
                        let want_path: Vec<String> =
                            serde_json::from_value(want["path"].clone()).unwrap();
                        if c.path != want_path {
                            misses.push(format!("path {:?} != {:?}", c.path, want_path));
                        }
                        let want_type = want["type"].as_str().unwrap();
                        if !c.data_type.starts_with(arrow_type_for(want_type)) {
                            misses.push(format!(
                                "{}: type {} != {want_type}",
                                want_path.join("/"),
                                c.data_type
                            ));
                        }
                    }
                    // Sample cells, read from the published table when this sheet is in it.
                    if report.table_sheets.len() == 1 && report.table_sheets[0] == got.name {
                        let batch = &ingested.batch;
                        for s in sheet["samples"].as_array().unwrap() {
                            let (row, col) = (
                                s["row"].as_u64().unwrap() as usize,
                                s["col"].as_u64().unwrap() as usize,
                            );
                            if row >= batch.num_rows() || col >= batch.num_columns() {
                                misses.push(format!("sample ({row},{col}) out of range"));
                                continue;
                            }
                            let array = batch.column(col);
                            let f =
                                ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
                                    .unwrap();
                            let actual = if array.is_null(row) {
                                String::new()
                            } else {
                                f.value(row).to_string()
                            };
                            if !same_value(&s["value"], &actual) {
                                misses.push(format!(
                                    "sample ({row},{col}) {actual:?} != {}",
                                    s["value"]
                                ));
                            }
                        }
                    }
                }
            }
        }
        if misses.is_empty() {
            passed += 1;
            println!("PASS {file}");
        } else {
            println!("FAIL {file}: {}", misses.join("; "));
        }
    }
    assert!(present > 0, "no corpus files found");
    let rate = passed as f64 * 100.0 / present as f64;
    println!("corpus score: {passed}/{present} files fully right ({rate:.1}%)");
    assert!(rate >= 95.0, "corpus score {rate:.1}% is below 95%");
}

#[test]
fn real_files_ingest_without_error() {
    let Some(dir) = corpus_dir() else {
        eprintln!("skipped: no corpus");
        return;
    };
    let real = dir.join("real");
    let Ok(entries) = std::fs::read_dir(&real) else {
        return;
    };
    let mut failures = Vec::new();
    let mut count = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name == "MANIFEST.tsv" {
            continue;
        }
        count += 1;
        let bytes = std::fs::read(e.path()).unwrap();
        match ingest(&name, &bytes, &IngestOptions::default()) {
            Ok(i) => println!(
                "OK   {name}: {} rows × {} columns, {} warnings",
                i.batch.num_rows(),
                i.batch.num_columns(),
                i.report.warnings.len()
            ),
            Err(err) => {
                println!("FAIL {name}: {err}");
                failures.push(name);
            }
        }
    }
    println!("real files: {}/{count} ingested", count - failures.len());
    assert!(
        failures.is_empty(),
        "real files failed to ingest: {failures:?}"
    );
}

/// Non-empty values of each column of a table, by column name.
fn filled(batch: &arrow::record_batch::RecordBatch) -> std::collections::HashMap<String, usize> {
    let schema = batch.schema();
    schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, a)| {
            let format = ArrayFormatter::try_new(a.as_ref(), &FormatOptions::default()).unwrap();
            let n = (0..a.len())
                .filter(|&r| a.is_valid(r) && !format.value(r).to_string().trim().is_empty())
                .count();
            (f.name().clone(), n)
        })
        .collect()
}

/// Redaction never empties a value silently: on every corpus file (real and
/// synthetic), each column published keeps as many non-empty values as the
/// unredacted table has, except the values a finding reports withheld (an
/// address that names a dwelling but no level to cut at, a child's age, an
/// identifier in a numeric column). A column of districts under `地址`
/// (余杭, 市本级 …) keeps all of them.
#[test]
fn redaction_keeps_every_value_it_does_not_report() {
    use arrow::array::Array;
    let Some(dir) = corpus_dir() else {
        eprintln!("skipped: no corpus");
        return;
    };
    let mut checked = 0;
    let mut problems = Vec::new();
    for sub in ["real", "synthetic"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with(".json") || name.ends_with(".tsv") || name.ends_with(".md") {
                continue;
            }
            let bytes = std::fs::read(e.path()).unwrap();
            let Ok(plain) = ingest(&name, &bytes, &IngestOptions::default()) else {
                continue;
            };
            let published =
                gongkai_ingest::ingest_for_publication(&name, &bytes, &IngestOptions::default())
                    .unwrap();
            let before = filled(&plain.batch);
            let after = filled(&published.batch);
            for (column, n_after) in &after {
                let n_before = before[column];
                let finding = published
                    .report
                    .privacy
                    .iter()
                    .find(|f| &f.column == column);
                let reported = match finding {
                    None => 0,
                    Some(f) => match f.action {
                        // Masking inside text keeps every value.
                        gongkai_ingest::privacy::Action::MaskCells if f.rules.is_empty() => {
                            // Numbers withheld cell by cell are counted as cells.
                            let text = published.batch.column_by_name(column).unwrap();
                            if text.data_type().is_numeric() {
                                f.cells
                            } else {
                                0
                            }
                        }
                        _ => f
                            .rules
                            .iter()
                            .filter(|r| r.rule == "withheld_unplaced")
                            .map(|r| r.values)
                            .sum(),
                    },
                };
                let age = finding.is_some_and(|f| f.kind.name() == "age");
                if !age && n_before != n_after + reported {
                    problems.push(format!(
                        "{name} {column}: {n_before} values before, {n_after} after, {reported} reported withheld"
                    ));
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "{checked} columns checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
