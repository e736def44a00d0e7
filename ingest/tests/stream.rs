//! The streamed ingest of a delimited file gives the same table and report as
//! the same file read whole: every delimited file of the corpus and the
//! examples, and generated files with the awkward parts (notes after the
//! data, totals, late wide rows, misfits, odd encodings), each streamed with
//! a small head and tiny batches so that every batch boundary is crossed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arrow::record_batch::RecordBatch;
use gongkai_ingest::privacy::{Category, RedactionPolicy};
use gongkai_ingest::{IngestOptions, Limits, ingest_with_policy, stream};
use std::path::{Path, PathBuf};

fn delimited_files() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs = vec![root.join("examples")];
    let corpus = std::env::var("GONGKAI_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("../shared/corpus"));
    dirs.push(corpus.join("synthetic"));
    dirs.push(corpus.join("real"));
    let mut files = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let ext = p
                .extension()
                .map(|e| e.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            if matches!(ext.as_str(), "csv" | "tsv" | "txt") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn streamed_options(head: usize, batch: usize) -> IngestOptions {
    IngestOptions {
        sheet: None,
        limits: Limits {
            stream_above_bytes: 0,
            stream_head_rows: head,
            stream_batch_rows: batch,
            ..Limits::default()
        },
    }
}

/// Both ways; panics with the file name when they differ.
/// Streams the file with tiny batches (rows converted one thread) and with
/// batches of 1 000 (columns converted side by side) and compares each with
/// the file read whole. Returns whether the file was read again: the types
/// guessed from the first rows failed (a second pass converted it), or the
/// batches handed over were voided.
fn compare(path: &Path, policy: &RedactionPolicy) -> bool {
    let restarts: Vec<bool> = [7, 1000]
        .into_iter()
        .map(|batch| compare_with(path, policy, batch))
        .collect();
    restarts.iter().any(|&r| r)
}

fn compare_with(path: &Path, policy: &RedactionPolicy, batch: usize) -> bool {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let bytes = std::fs::read(path).unwrap();
    let whole = ingest_with_policy(&name, &bytes, &IngestOptions::default(), policy);
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut restarted = false;
    let second_pass = std::sync::atomic::AtomicBool::new(false);
    let progress = |pass: u8, _: u64, _: u64| {
        if pass == 2 {
            second_pass.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let streamed = stream::ingest_delimited(
        &name,
        path,
        &streamed_options(60, batch),
        policy,
        Some(&progress),
        |output| {
            match output {
                stream::Output::Batch(b) => batches.push(b),
                stream::Output::Restart => {
                    // Twice at most: once for the encoding, once for the types.
                    restarted = true;
                    batches.clear();
                }
            }
            Ok::<_, gongkai_ingest::Error>(())
        },
    );
    match (whole, streamed) {
        (Ok(whole), Ok(report)) => {
            assert!(
                batches
                    .iter()
                    .all(|b| b.num_rows() <= batch || batches.len() == 1),
                "{name}: batches are not bounded"
            );
            let table = arrow::compute::concat_batches(&whole.batch.schema(), &batches)
                .unwrap_or_else(|e| panic!("{name}: streamed batches differ in schema: {e}"));
            assert_eq!(
                table.schema(),
                whole.batch.schema(),
                "{name}: schemas differ"
            );
            for (i, f) in table.schema().fields().iter().enumerate() {
                assert_eq!(
                    table.column(i).to_data(),
                    whole.batch.column(i).to_data(),
                    "{name}: column {} differs",
                    f.name()
                );
            }
            let a = serde_json::to_value(&whole.report).unwrap();
            let b = serde_json::to_value(&report).unwrap();
            assert_eq!(
                a,
                b,
                "{name}: reports differ\nwhole:    {}\nstreamed: {}",
                serde_json::to_string(&whole.report).unwrap(),
                serde_json::to_string(&report).unwrap()
            );
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{name}: errors differ"),
        (a, b) => panic!(
            "{name}: one way failed: whole {:?}, streamed {:?}",
            a.err(),
            b.err()
        ),
    }
    restarted || second_pass.into_inner()
}

#[test]
fn corpus_and_example_files_stream_to_the_same_table_and_report() {
    let files = delimited_files();
    assert!(files.len() >= 3, "no delimited files found");
    // The category sets the default redaction: alternate between two.
    for (i, f) in files.iter().enumerate() {
        let category = if i % 2 == 0 {
            Category::SocialAssistance
        } else {
            Category::Other
        };
        compare(
            f,
            &RedactionPolicy {
                category,
                ..Default::default()
            },
        );
    }
    println!("{} delimited files streamed alike", files.len());
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn awkward_files_stream_to_the_same_table_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<PathBuf> = Vec::new();

    // Title, unit line, two-level header, totals first, notes at the end,
    // blank rows, a misfit, percentages, a late row wider than the header.
    let mut csv = String::from(
        "2024年城乡低保金发放名册,,,,\n单位：元,,,,\n序号,姓名,身份证号,发放金额,占比\n,,,,\n合计,,,\"123,456.00\",100%\n",
    );
    for i in 0..200 {
        csv.push_str(&format!(
            "{i},张{}{},11010519491231002{},{}.5,{}.{}%\n",
            ["三", "四", "五"][i % 3],
            i,
            i % 10,
            1000 + i,
            i % 50,
            i % 10
        ));
        if i % 37 == 0 {
            csv.push_str(",,,,\n");
        }
    }
    csv.push_str("77,李七,110105194912310021,不详,3%\n");
    csv.push_str("78,王八,110105194912310021,12.25,4%,额外备注\n");
    csv.push_str("小计,,,\"500.00\",\n");
    csv.push_str(",,,,\n注：本表金额单位为元。,,,,\n制表人：某某,,,,\n");
    csv.push_str("以上数据仅供公示使用请勿转载,,,,\n");
    cases.push(write(dir.path(), "roll.csv", csv.as_bytes()));

    // One-cell text rows in the middle are data; at the end they are notes.
    let mut csv = String::from("名称,类别,金额\n");
    for i in 0..50 {
        csv.push_str(&format!("单位{i},甲,{i}\n"));
        if i == 20 {
            csv.push_str("一个只有一个单元格的长文本行\n");
        }
    }
    csv.push_str("最后一个只有一个单元格的长文本行\n\n\n");
    cases.push(write(dir.path(), "notes.csv", csv.as_bytes()));

    // Pairs of one-cell text rows after every record through the middle of
    // a file of several of the reader's chunks: rows held back as possible
    // notes cross from one chunk into the next before a record confirms
    // them as data.
    let mut csv = String::from("名称,类别,金额\n");
    for i in 0..8000 {
        csv.push_str(&format!("单位{i},甲,{i}\n"));
        if (3000..7000).contains(&i) {
            csv.push_str("一个只有一个单元格的长文本行\n另一个只有一个单元格的文本行\n");
        }
    }
    cases.push(write(dir.path(), "chunks.csv", csv.as_bytes()));

    // GBK, with codes that must stay text and dates in Chinese spellings.
    let mut text = String::from("科目编码,科目名称,日期,金额（万元）\n");
    for i in 0..120 {
        text.push_str(&format!(
            "{},{}支出,2023年{}月{}日,{}.{}\n",
            if i % 3 == 0 {
                format!("2{:02}", i % 30)
            } else {
                format!("2{:02}{:02}", i % 30, i % 7 + 1)
            },
            ["一般公共服务", "教育", "科学技术"][i % 3],
            i % 12 + 1,
            i % 28 + 1,
            i * 3,
            i % 100
        ));
    }
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    cases.push(write(dir.path(), "gbk.csv", &gbk));

    // UTF-16 with a byte-order mark, tab separated, with a stray bad byte.
    let mut utf16 = vec![0xFF, 0xFE];
    let text = (0..80).fold(
        String::from("站点\tPM2.5（μg/m³）\t日期\n"),
        |mut s, i| {
            s.push_str(&format!(
                "站{:03}\t{}\t2024-01-{:02}\n",
                i,
                i * 2,
                i % 28 + 1
            ));
            s
        },
    );
    for u in text.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    cases.push(write(dir.path(), "air.tsv", &utf16));
    let mut bad = text.clone().into_bytes();
    bad.splice(200..200, [0xFFu8]);
    cases.push(write(dir.path(), "bad-utf8.csv", &bad));

    // Refusals are the same too.
    cases.push(write(dir.path(), "empty.csv", b"\xEF\xBB\xBF \r\n"));
    cases.push(write(dir.path(), "nul.csv", b"a,b\n1,2\n3,\0\n"));
    cases.push(write(dir.path(), "pdf.csv", b"%PDF-1.7\n..."));

    // Whole numbers for the first rows (the guess), then cents, a unit
    // note below the data, and codes that only later show leading zeros:
    // the whole file decides other types and units than the first rows.
    let mut csv = String::from("项目,金额,代号\n");
    for i in 0..400 {
        let amount = if i < 300 {
            format!("{i}")
        } else {
            format!("{i}.25")
        };
        let code = if i < 350 {
            format!("{}", 100 + i)
        } else {
            format!("0{i}")
        };
        csv.push_str(&format!("项目{i},{amount},{code}\n"));
    }
    csv.push_str("单位：万元,,\n");
    let late = write(dir.path(), "late-types.csv", csv.as_bytes());

    let mut restarted = Vec::new();
    for c in &cases {
        if compare(c, &RedactionPolicy::default()) {
            restarted.push(c.file_name().unwrap().to_string_lossy().to_string());
        }
    }
    // The late-wide row of roll.csv adds a column the first rows lacked.
    assert!(
        restarted.contains(&"roll.csv".to_string()),
        "restarted: {restarted:?}"
    );
    assert!(
        !restarted.contains(&"notes.csv".to_string()),
        "restarted: {restarted:?}"
    );
    assert!(
        compare(&late, &RedactionPolicy::default()),
        "late types were not noticed"
    );
}

/// A CSV text (header `code,name,amount`) of rows `row(0)`, `row(1)` … until
/// it is past the first megabytes read to choose the encoding, and how
/// many rows it holds.
fn past_the_encoding_prefix(row: impl Fn(usize) -> String) -> (String, usize) {
    let mut text = String::from("code,name,amount\n");
    let mut rows = 0;
    while text.len() < (4 << 20) + (256 << 10) {
        text.push_str(&row(rows));
        rows += 1;
    }
    (text, rows)
}

#[test]
fn a_file_that_stops_being_utf8_after_its_first_megabytes_is_read_again() {
    // GBK whose first 4 MiB are ASCII (so valid UTF-8): taken as UTF-8 at
    // first, then read again with the encoding detected over the whole file.
    let dir = tempfile::tempdir().unwrap();
    let (mut text, i) = past_the_encoding_prefix(|i| format!("A{i:07},item {i},{i}.50\n"));
    for k in 0..200 {
        text.push_str(&format!("B{k:07},城关镇第{k}项,{k}.25\n"));
    }
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let path = write(dir.path(), "late-gbk.csv", &gbk);
    assert!(
        compare(&path, &RedactionPolicy::default()),
        "the UTF-8 batches were not voided"
    );
    let mut restarts = 0;
    let report = stream::ingest_delimited(
        "late-gbk.csv",
        &path,
        &streamed_options(2000, 65_536),
        &RedactionPolicy::default(),
        None,
        |output| {
            if matches!(output, stream::Output::Restart) {
                restarts += 1;
            }
            Ok::<_, gongkai_ingest::Error>(())
        },
    )
    .unwrap();
    assert_eq!(report.encoding.as_deref(), Some("gb18030"));
    assert!(
        report
            .warnings
            .iter()
            .all(|w| !w.message.contains("U+FFFD"))
    );
    assert_eq!(report.rows, i + 200);
    assert!(restarts <= 1, "{restarts} restarts");
}

#[test]
fn a_nul_deep_in_a_streamed_utf8_file_is_refused_with_its_line() {
    // Past the first megabytes (read to choose the encoding), UTF-8 is
    // passed through as it is: a NUL there still stops the ingest, and the
    // error names its line.
    let dir = tempfile::tempdir().unwrap();
    let (mut text, rows) = past_the_encoding_prefix(|i| format!("A{i:07},城关镇 {i},{i}.50\n"));
    text.push_str("B0000001,bad\0row,1.00\n");
    let path = write(dir.path(), "nul.csv", text.as_bytes());
    let e = stream::ingest_delimited(
        "nul.csv",
        &path,
        &streamed_options(2000, 65_536),
        &RedactionPolicy::default(),
        None,
        |_| Ok::<_, gongkai_ingest::Error>(()),
    )
    .unwrap_err();
    // The header, the rows, then the NUL.
    let expected = format!("NUL character on line {}", rows + 2);
    assert!(e.to_string().contains(&expected), "{e}");
}

#[test]
fn large_files_are_streamed_with_bounded_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("乡镇,户数,金额（元）,联系电话\n");
    for i in 0..30_000 {
        csv.push_str(&format!(
            "第{}镇,{},{}.{:02},1381234{:04}\n",
            i % 13,
            i % 9,
            i,
            i % 100,
            i % 10_000
        ));
    }
    let path = write(dir.path(), "big.csv", csv.as_bytes());
    let options = IngestOptions {
        sheet: None,
        limits: Limits {
            stream_above_bytes: 1 << 10,
            stream_batch_rows: 4096,
            ..Limits::default()
        },
    };
    let mut rows = Vec::new();
    let mut progress = std::sync::Mutex::new(Vec::new());
    let record = |pass: u8, done: u64, total: u64| {
        progress.lock().unwrap().push((pass, done, total));
    };
    let report = stream::ingest_path(
        "big.csv",
        &path,
        &options,
        &RedactionPolicy::default(),
        Some(&record),
        |output| {
            match output {
                stream::Output::Batch(b) => rows.push(b.num_rows()),
                stream::Output::Restart => panic!("the first rows' types hold for the whole file"),
            }
            Ok::<_, gongkai_ingest::Error>(())
        },
    )
    .unwrap();
    assert_eq!(report.rows, 30_000);
    assert_eq!(rows.iter().sum::<usize>(), 30_000);
    assert!(rows.iter().all(|&n| n <= 4096), "{rows:?}");
    // The phone column is dropped by default.
    assert!(
        report
            .columns
            .iter()
            .all(|c| c.pii.as_deref() != Some("cn_mobile"))
    );
    assert!(report.privacy.iter().any(|f| f.kind.name() == "cn_mobile"));
    let progress = progress.get_mut().unwrap();
    // One pass: the types guessed from the first rows held.
    assert!(progress.iter().all(|p| p.0 == 1), "{progress:?}");
    assert_eq!(
        progress.last(),
        Some(&(1, csv.len() as u64, csv.len() as u64))
    );
    // Many rows per chunk: classified, typed and converted side by side,
    // still the same table and report as the file read whole.
    compare(&path, &RedactionPolicy::default());
}
