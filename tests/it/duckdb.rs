//! DuckDB, a real client, reads the published Parquet over HTTP (httpfs, Range).

use crate::roundtrip::{AWARDS, award_csv_gbk, canonical, names_by_header};
use crate::support::{Server, required};
use serde_json::Value;
use std::process::Command;

const SCRIPT: &str = r#"
import sys, json
import duckdb
try:
    from duckdb_extensions import import_extension
    import_extension("httpfs")
except ImportError:
    pass
con = duckdb.connect()
con.execute("LOAD httpfs")
url, cols = sys.argv[1], sys.argv[2].split(",")
select = ", ".join(f"CAST({c} AS VARCHAR)" for c in cols)
rows = con.execute(f"SELECT {select} FROM read_parquet('{url}') ORDER BY 1").fetchall()
print(json.dumps([list(r) for r in rows], ensure_ascii=False))
"#;

fn duckdb_available() -> bool {
    Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn duckdb_reads_published_parquet_over_http() {
    if !duckdb_available() {
        assert!(
            !required(),
            "CI must install duckdb (pip install duckdb duckdb-extension-httpfs)"
        );
        eprintln!(
            "skipped: python3 -c 'import duckdb' failed; pip install duckdb duckdb-extension-httpfs"
        );
        return;
    }
    let server = Server::start().await;
    server.create_dataset("awards", "采购结果").await;
    server
        .publish_file("awards", "a.csv", award_csv_gbk())
        .await;
    let dataset: Value = server
        .get("/api/v1/datasets/awards")
        .await
        .json()
        .await
        .unwrap();
    let names = names_by_header(&dataset);
    let url = server.url("/api/v1/datasets/awards/versions/1/data.parquet");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", SCRIPT, &url, &names.join(",")])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "duckdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), AWARDS.len());
    assert_eq!(rows, canonical());
}
