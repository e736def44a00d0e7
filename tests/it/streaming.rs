//! A large delimited upload is ingested in two streaming passes: the whole
//! pipeline (GBK decoding, title and unit line, totals and notes, typing over
//! every value, redaction, Parquet) gives the table a citizen expects, and
//! nothing personal reaches the public.

use crate::support::{Options, Server};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_csv_uploads_are_streamed_with_the_same_checks() {
    // Stream everything above 4 kB so that a test-sized file takes that path.
    let server = Server::start_with(Options {
        config: Some("[uploads]\nstream_above_bytes = 4096\n".into()),
        ..Options::default()
    })
    .await;
    server
        .create_dataset_with(json!({"slug": "relief", "title": "2024年低保金发放名册", "category": "social_assistance"}))
        .await;

    let rows = 20_000usize;
    let mut text = String::from(
        "2024年城乡低保金发放名册\n单位：元\n序号,姓名,身份证号,联系电话,乡镇,发放金额\n",
    );
    let mut cents: i64 = 0;
    let mut ids = Vec::new();
    for i in 0..rows {
        // Valid resident IDs (checksum) and mobiles, as agencies leak them.
        let body = format!(
            "3301061985{:02}{:02}{:03}",
            i % 12 + 1,
            i % 28 + 1,
            i % 1000
        );
        let id = format!("{body}{}", id_check(&body));
        let amount = 300 + (i * 37 % 900) as i64;
        let fraction = (i % 100) as i64;
        cents += amount * 100 + fraction;
        text.push_str(&format!(
            "{},{}{},{id},139{:08},{},{amount}.{fraction:02}\n",
            i + 1,
            ["张", "李", "王", "赵"][i % 4],
            ["伟", "芳", "娜", "敏", "静"][i % 5],
            i,
            ["城关镇", "石墙镇", "大束镇"][i % 3]
        ));
        if i < 5 {
            ids.push(id);
        }
    }
    text.push_str(&format!("合计,,,,,{}.{:02}\n", cents / 100, cents % 100));
    text.push_str("注：本表由民政局提供。\n");
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    assert!(gbk.len() > 1 << 20);

    let r = server.upload("relief", "relief.csv", gbk.to_vec()).await;
    let status = r.status();
    let up: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let report = &up["report"];
    assert_eq!(up["rows"], rows, "{report}");
    assert_eq!(report["encoding"], "gb18030");
    let sheet = &report["sheets"][0];
    assert_eq!(sheet["title"], "2024年城乡低保金发放名册");
    assert_eq!(sheet["unit"], "元");
    assert_eq!(sheet["header_rows"], json!([2, 2]));
    assert_eq!(sheet["data_rows"], rows);
    assert_eq!(
        sheet["footnotes"].as_array().map(Vec::len),
        Some(1),
        "{sheet}"
    );
    // The stated total is checked against the sum of all 20 000 amounts.
    let total = &sheet["totals"][0]["columns"];
    let amount = total
        .as_array()
        .and_then(|c| c.iter().find(|c| c["column"] == "fa_fang_jin_e"))
        .unwrap_or_else(|| panic!("no totals check: {sheet}"));
    assert_eq!(amount["matches"], true, "{amount}");
    let kinds: Vec<(&str, &str)> = report["privacy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["action"].as_str().unwrap()))
        .collect();
    for expected in [
        ("cn_resident_id", "drop"),
        ("cn_mobile", "drop"),
        ("person_name", "mask"),
    ] {
        assert!(kinds.contains(&expected), "{expected:?} not in {kinds:?}");
    }
    let amount_col = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "fa_fang_jin_e")
        .unwrap();
    assert_eq!(amount_col["type"], "Decimal128(18, 2)");
    assert_eq!(amount_col["unit"], "元");

    let v = up["version"].as_i64().unwrap();
    let r = server.review_and_publish("relief", v).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = server
        .sql("SELECT count(*) AS n, sum(fa_fang_jin_e) AS total, count(DISTINCT xiang_zhen) AS towns FROM relief")
        .await;
    let row = &body["rows"][0];
    assert_eq!(row["n"], rows);
    assert_eq!(row["towns"], 3);
    let total: f64 = row["total"]
        .as_str()
        .map(|s| s.parse().unwrap())
        .or_else(|| row["total"].as_f64())
        .unwrap();
    assert!(
        (total * 100.0 - cents as f64).abs() < 0.5,
        "{total} vs {cents}"
    );

    let csv = server
        .get("/api/v1/datasets/relief/data.csv")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), rows + 1);
    for id in &ids {
        assert!(!csv.contains(id.as_str()), "a resident ID was published");
    }
    assert!(!csv.contains("13900000001"), "a mobile was published");
    assert!(csv.contains("张*"), "names are not masked: {}", &csv[..200]);
}

/// The check character of an 18-digit resident ID (GB 11643).
fn id_check(body17: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body17
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_uploads_pass_through_with_the_same_checks() {
    use arrow::array::{ArrayRef, Date32Array, Decimal128Array, StringArray};
    use arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    let server = Server::start().await;
    server
        .create_dataset_with(
            json!({"slug": "grants", "title": "2024年补贴发放", "category": "subsidy"}),
        )
        .await;
    // An agency's own Parquet export: several row groups, personal columns.
    let rows = 150_000usize;
    let town: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..rows).map(|i| ["城关镇", "石墙镇", "大束镇"][i % 3]),
    ));
    let head: ArrayRef =
        Arc::new(StringArray::from_iter_values((0..rows).map(|i| {
            format!("{}{}", ["张", "李", "王"][i % 3], ["伟", "芳"][i % 2])
        })));
    let ids: Vec<String> = (0..rows)
        .map(|i| {
            let body = format!(
                "3301061985{:02}{:02}{:03}",
                i % 12 + 1,
                i % 28 + 1,
                i % 1000
            );
            format!("{body}{}", id_check(&body))
        })
        .collect();
    let id: ArrayRef = Arc::new(StringArray::from_iter_values(ids.iter()));
    let cents: Vec<i128> = (0..rows)
        .map(|i| 10_000 + (i as i128 * 7919) % 90_000)
        .collect();
    let amount: ArrayRef = Arc::new(
        Decimal128Array::from(cents.clone())
            .with_precision_and_scale(12, 2)
            .unwrap(),
    );
    let day: ArrayRef = Arc::new(Date32Array::from_iter_values(
        (0..rows).map(|i| 19_723 + (i % 366) as i32),
    ));
    let batch = RecordBatch::try_from_iter([
        ("乡镇", town),
        ("户主姓名", head),
        ("身份证号", id),
        ("补贴金额(元)", amount),
        ("发放日期", day),
    ])
    .unwrap();
    let mut bytes = Vec::new();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(40_000))
        .build();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();

    let r = server.upload("grants", "grants.parquet", bytes).await;
    let status = r.status();
    let up: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let report = &up["report"];
    assert_eq!(report["format"], "parquet");
    assert_eq!(up["rows"], rows);
    let column = |name: &str| {
        report["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no column {name}: {report}"))
    };
    assert_eq!(column("bu_tie_jin_e")["type"], "Decimal128(12, 2)");
    assert_eq!(column("bu_tie_jin_e")["unit"], "元");
    assert_eq!(column("bu_tie_jin_e")["path"], json!(["补贴金额(元)"]));
    assert_eq!(column("fa_fang_ri_qi")["type"], "Date32");
    let kinds: Vec<&str> = report["privacy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"cn_resident_id"), "{kinds:?}");
    assert!(kinds.contains(&"person_name"), "{kinds:?}");

    let v = up["version"].as_i64().unwrap();
    assert_eq!(
        server.review_and_publish("grants", v).await.status(),
        StatusCode::OK
    );
    let body = server
        .sql("SELECT count(*) AS n, sum(bu_tie_jin_e) AS total, min(fa_fang_ri_qi) AS first FROM grants")
        .await;
    let row = &body["rows"][0];
    assert_eq!(row["n"], rows);
    let total: f64 = row["total"]
        .as_str()
        .map(|s| s.parse().unwrap())
        .or_else(|| row["total"].as_f64())
        .unwrap();
    let expected: i128 = cents.iter().sum();
    assert!(
        (total * 100.0 - expected as f64).abs() < 0.5,
        "{total} vs {expected}"
    );
    assert_eq!(row["first"], "2024-01-01");
    let csv = server
        .get("/api/v1/datasets/grants/data.csv")
        .await
        .text()
        .await
        .unwrap();
    for id in ids.iter().take(50) {
        assert!(!csv.contains(id.as_str()), "a resident ID was published");
    }
}
