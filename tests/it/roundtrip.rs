//! Upload → publish → SQL, Parquet and CSV give back exactly the source rows.

use crate::support::{ADMIN_TOKEN, Server};
use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use reqwest::StatusCode;
use serde_json::Value;

/// One source record, in canonical form (what the published table must hold).
pub struct Award {
    pub code: &'static str,
    pub buyer: &'static str,
    pub subject: &'static str,
    pub amount: &'static str,
    pub quantity: i64,
    pub date: &'static str,
}

pub const AWARDS: &[Award] = &[
    Award {
        code: "ZB-2024-001",
        buyer: "县教育和体育局",
        subject: "2050201",
        amount: "1234.50",
        quantity: 3,
        date: "2024-03-05",
    },
    Award {
        code: "ZB-2024-002",
        buyer: "县卫生健康局",
        subject: "2100101",
        amount: "87.00",
        quantity: 12,
        date: "2024-04-18",
    },
    Award {
        code: "ZB-2024-003",
        buyer: "县城市管理局",
        subject: "2120501",
        amount: "15000.25",
        quantity: 1,
        date: "2024-11-30",
    },
    Award {
        code: "ZB-2024-004",
        buyer: "县民政局",
        subject: "2080201",
        amount: "0.80",
        quantity: 250,
        date: "2024-01-02",
    },
];

pub const HEADERS: [&str; 6] = [
    "项目编号",
    "采购单位",
    "科目编码",
    "中标金额(万元)",
    "数量",
    "公告日期",
];

/// The agency's version of the table: title, unit line, thousands separators,
/// mixed date spellings, a totals row and a footnote — encoded in GBK.
pub fn award_csv_gbk() -> Vec<u8> {
    let mut text = String::from("2024年政府采购中标结果汇总表,,,,,\r\n单位：万元,,,,,\r\n");
    text.push_str(&HEADERS.join(","));
    text.push_str("\r\n");
    for (i, a) in AWARDS.iter().enumerate() {
        let amount = with_thousands(a.amount);
        let date = match i % 3 {
            0 => a.date.to_string(),
            1 => {
                let p: Vec<&str> = a.date.split('-').collect();
                format!(
                    "{}年{}月{}日",
                    p[0],
                    p[1].trim_start_matches('0'),
                    p[2].trim_start_matches('0')
                )
            }
            _ => a.date.replace('-', "/"),
        };
        text.push_str(&format!(
            "{},{},{},\"{}\",{},{}\r\n",
            a.code, a.buyer, a.subject, amount, a.quantity, date
        ));
    }
    text.push_str(",合计,,16322.55,,\r\n注：本表数据为测试数据。,,,,,\r\n");
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    bytes.into_owned()
}

fn with_thousands(s: &str) -> String {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if frac.is_empty() {
        out
    } else {
        format!("{out}.{frac}")
    }
}

/// Canonical rows as strings, in source column order.
pub fn canonical() -> Vec<Vec<String>> {
    AWARDS
        .iter()
        .map(|a| {
            vec![
                a.code.to_string(),
                a.buyer.to_string(),
                a.subject.to_string(),
                a.amount.to_string(),
                a.quantity.to_string(),
                a.date.to_string(),
            ]
        })
        .collect()
}

pub fn display_rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for b in batches {
        let fmts: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default()).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            rows.push(fmts.iter().map(|f| f.value(r).to_string()).collect());
        }
    }
    rows
}

/// Column names by original header, from the dataset JSON.
pub fn names_by_header(dataset: &Value) -> Vec<String> {
    let columns = dataset["columns"].as_array().expect("columns");
    HEADERS
        .iter()
        .map(|h| {
            columns
                .iter()
                .find(|c| c["path"][0] == *h)
                .unwrap_or_else(|| panic!("no column for header {h}: {dataset}"))["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

pub async fn check_roundtrip(server: &Server, slug: &str) {
    server.create_dataset(slug, "2024年政府采购中标结果").await;
    let upload = server.upload(slug, "中标结果.csv", award_csv_gbk()).await;
    assert_eq!(upload.status(), StatusCode::CREATED);
    let upload: Value = upload.json().await.unwrap();
    assert_eq!(upload["version"], 1);
    assert_eq!(upload["status"], "draft");
    assert_eq!(upload["rows"], AWARDS.len());
    let sheet = &upload["report"]["sheets"][0];
    assert_eq!(
        sheet["header_rows"],
        serde_json::json!([2, 2]),
        "title and unit rows come before the header"
    );
    assert_eq!(
        sheet["data_rows"],
        AWARDS.len(),
        "totals and footnote are not data"
    );
    assert_eq!(sheet["unit"], "万元");
    assert_eq!(upload["report"]["encoding"], "gb18030");

    let r = server.review_and_publish(slug, 1).await;
    assert_eq!(r.status(), StatusCode::OK);

    let dataset: Value = server
        .get(&format!("/api/v1/datasets/{slug}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dataset["status"], "published");
    assert_eq!(dataset["versions"][0]["status"], "published");
    assert_eq!(dataset["versions"][0]["rows"], AWARDS.len());
    let names = names_by_header(&dataset);
    for n in &names {
        assert!(
            n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{n}"
        );
    }
    let types: Vec<&str> = HEADERS
        .iter()
        .map(|h| {
            dataset["columns"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["path"][0] == *h)
                .unwrap()["type"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        types,
        [
            "Utf8",
            "Utf8",
            "Utf8",
            "Decimal128(18, 2)",
            "Int64",
            "Date32"
        ]
    );

    // SQL answers the file's content.
    let select = names
        .iter()
        .map(|n| format!("CAST({n} AS VARCHAR) AS {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let answer = server
        .sql(&format!(
            "SELECT {select} FROM \"{slug}\" ORDER BY {}",
            names[0]
        ))
        .await;
    assert_eq!(answer["truncated"], false);
    assert_eq!(answer["row_count"], AWARDS.len());
    let rows: Vec<Vec<String>> = answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            names
                .iter()
                .map(|n| r[n].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .collect();
    assert_eq!(rows, canonical());
    let sum = server
        .sql(&format!(
            "SELECT SUM({}) AS total FROM \"{slug}\"",
            names[3]
        ))
        .await;
    assert_eq!(sum["rows"][0]["total"].to_string(), "16322.55");

    // Parquet download, read back with the parquet crate.
    let r = server
        .get(&format!("/api/v1/datasets/{slug}/data.parquet"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.len() == 66,
        "strong ETag: {etag}"
    );
    let bytes = r.bytes().await.unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).unwrap();
    let schema = reader.schema().clone();
    for (field, header) in schema.fields().iter().zip(HEADERS) {
        assert_eq!(
            field.metadata()["gongkai:path"],
            serde_json::json!([header]).to_string()
        );
    }
    let batches: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
    assert_eq!(display_rows(&batches), canonical());

    // CSV download equals the source rows.
    let r = server
        .get(&format!("/api/v1/datasets/{slug}/data.csv"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = r.text().await.unwrap();
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(csv.headers().unwrap().iter().collect::<Vec<_>>(), names);
    let rows: Vec<Vec<String>> = csv
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows, canonical());

    // Range requests return exactly the requested bytes.
    let r = server
        .client
        .get(server.url(&format!("/api/v1/datasets/{slug}/versions/1/data.parquet")))
        .header("Range", "bytes=4-99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes 4-99/{}", bytes.len())
    );
    assert_eq!(
        r.headers()["cache-control"].to_str().unwrap(),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.bytes().await.unwrap(), bytes.slice(4..100));
    let r = server
        .client
        .get(server.url(&format!("/api/v1/datasets/{slug}/data.parquet")))
        .header("Range", "bytes=-8")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap(), bytes.slice(bytes.len() - 8..));
    let r = server
        .client
        .get(server.url(&format!("/api/v1/datasets/{slug}/data.parquet")))
        .header("Range", format!("bytes={}-", bytes.len() + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let r = server
        .client
        .get(server.url(&format!("/api/v1/datasets/{slug}/data.parquet")))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn gbk_csv_upload_publish_query_and_download() {
    let server = Server::start().await;
    check_roundtrip(&server, "awards-2024").await;
}

fn award_xlsx() -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("中标结果").unwrap();
    let title = rust_xlsxwriter::Format::new().set_bold();
    ws.merge_range(0, 0, 0, 5, "2024年政府采购中标结果汇总表", &title)
        .unwrap();
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string(1, c as u16, *h).unwrap();
    }
    let date_fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (i, a) in AWARDS.iter().enumerate() {
        let r = i as u32 + 2;
        ws.write_string(r, 0, a.code).unwrap();
        ws.write_string(r, 1, a.buyer).unwrap();
        ws.write_string(r, 2, a.subject).unwrap();
        ws.write_number(r, 3, a.amount.parse::<f64>().unwrap())
            .unwrap();
        ws.write_number(r, 4, a.quantity as f64).unwrap();
        let d = rust_xlsxwriter::ExcelDateTime::parse_from_str(a.date).unwrap();
        ws.write_datetime_with_format(r, 5, &d, &date_fmt).unwrap();
    }
    let extra = wb.add_worksheet();
    extra.set_name("说明").unwrap();
    extra.write_string(0, 0, "数据说明：测试用").unwrap();
    wb.save_to_buffer().unwrap()
}

#[tokio::test]
async fn xlsx_multipart_upload_reads_the_first_sheet() {
    let server = Server::start().await;
    server
        .create_dataset("awards-xlsx", "采购结果（XLSX）")
        .await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(award_xlsx()).file_name("中标结果.xlsx"),
    );
    let r = server
        .client
        .post(server.url("/api/v1/datasets/awards-xlsx/uploads"))
        .bearer_auth(ADMIN_TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["rows"], AWARDS.len());
    assert_eq!(body["report"]["format"], "xlsx");
    assert_eq!(
        body["report"]["sheets"][0]["header_rows"],
        serde_json::json!([1, 1])
    );
    let r = server.review_and_publish("awards-xlsx", 1).await;
    assert_eq!(r.status(), StatusCode::OK);
    let dataset: Value = server
        .get("/api/v1/datasets/awards-xlsx")
        .await
        .json()
        .await
        .unwrap();
    let names = names_by_header(&dataset);
    let r = server.get("/api/v1/datasets/awards-xlsx/data.csv").await;
    let text = r.text().await.unwrap();
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(csv.headers().unwrap().iter().collect::<Vec<_>>(), names);
    let rows: Vec<Vec<String>> = csv
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows, canonical());
}

#[tokio::test]
async fn new_versions_supersede_old_ones_which_stay_addressable() {
    let server = Server::start().await;
    server.create_dataset("sites", "监测站点").await;
    server
        .publish_file(
            "sites",
            "v1.csv",
            "站点,数值\n甲,1\n乙,2\n".as_bytes().to_vec(),
        )
        .await;
    server
        .publish_file(
            "sites",
            "v2.csv",
            "站点,数值\n甲,10\n乙,20\n丙,30\n".as_bytes().to_vec(),
        )
        .await;
    let d: Value = server
        .get("/api/v1/datasets/sites")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["latest_version"], 2);
    let statuses: Vec<&str> = d["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["superseded", "published"]);
    let latest = server.sql("SELECT COUNT(*) AS n FROM sites").await;
    assert_eq!(latest["rows"][0]["n"], 3);
    let pinned = server.sql("SELECT COUNT(*) AS n FROM \"sites@v1\"").await;
    assert_eq!(pinned["rows"][0]["n"], 2);
    let v1 = server
        .get("/api/v1/datasets/sites/versions/1/data.csv")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(v1.lines().count(), 3);
    let latest_csv = server
        .get("/api/v1/datasets/sites/data.csv")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(latest_csv.lines().count(), 4);
}

#[tokio::test]
async fn sql_answers_csv_and_ndjson() {
    let server = Server::start().await;
    server.create_dataset("sites", "监测站点").await;
    server
        .publish_file(
            "sites",
            "s.csv",
            "站点,数值\n甲,1\n乙,2\n".as_bytes().to_vec(),
        )
        .await;
    let r = server
        .get("/api/v1/sql?q=SELECT%20*%20FROM%20sites%20ORDER%20BY%202&format=csv")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1], "甲,1");
    let r = server
        .client
        .post(server.url("/api/v1/sql"))
        .header("Accept", "application/x-ndjson")
        .json(&serde_json::json!({"sql": "SELECT * FROM sites ORDER BY 2"}))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["shu_zhi"], 2);
}
