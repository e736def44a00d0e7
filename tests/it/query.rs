//! The query service as a researcher uses it: SQL in every output format,
//! truncation, ETags and the result cache, EXPLAIN and error positions, the
//! table listing, the row API with keyset pagination, and a suite of hostile
//! queries that must each be refused or bounded while the server keeps serving.

use crate::support::{Options, Server, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const TOWNSHIPS: [&str; 5] = ["城关镇", "东关镇", "西关镇", "南关镇", "北关镇"];

/// One generated row: seq, township, amount (None = empty), day, note.
type Row = (i64, &'static str, Option<String>, String, Option<String>);

/// 300 rows; the last five repeat the first row exactly (duplicates must
/// survive pagination), every 11th amount and most notes are empty.
fn sales_rows(salt: i64) -> Vec<Row> {
    let mut rows: Vec<Row> = (1..=295)
        .map(|i| {
            let amount =
                (i % 11 != 0).then(|| format!("{}.{:02}", (i * 37 + salt) % 1000, i % 100));
            let note = (i % 7 == 0).then(|| format!("备注{i}"));
            (
                i,
                TOWNSHIPS[(i % 5) as usize],
                amount,
                format!("2024-01-{:02}", 1 + i % 28),
                note,
            )
        })
        .collect();
    let first = rows[0].clone();
    rows.extend(std::iter::repeat_n(first, 5));
    rows
}

fn sales_csv(rows: &[Row]) -> Vec<u8> {
    let mut s = String::from("seq,township,amount,day,note\n");
    for (seq, town, amount, day, note) in rows {
        s.push_str(&format!(
            "{seq},{town},{},{day},{}\n",
            amount.as_deref().unwrap_or(""),
            note.as_deref().unwrap_or("")
        ));
    }
    s.into_bytes()
}

/// A row as a comparable text tuple, from a JSON row object.
fn key_of(row: &Value) -> String {
    ["seq", "township", "amount", "day", "note"]
        .iter()
        .map(|c| match &row[c] {
            Value::Null => "∅".to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

fn multiset(rows: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(key_of(r)).or_insert(0) += 1;
    }
    m
}

async fn start(config: &str) -> Server {
    let server = Server::start_with(Options {
        config: Some(config.to_string()),
        ..Options::default()
    })
    .await;
    server.create_dataset("sales", "销售测试").await;
    server
        .publish_file("sales", "sales.csv", sales_csv(&sales_rows(0)))
        .await;
    server
}

async fn sql_as(server: &Server, sql: &str, accept: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/v1/sql"))
        .header("accept", accept)
        .json(&json!({ "sql": sql }))
        .send()
        .await
        .expect("SQL request")
}

/// Reads a whole HTTP/1.1 response over a raw socket, asking for trailers.
async fn raw_get_with_trailers(server: &Server, path_and_query: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = server.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let req = format!(
        "GET {path_and_query} HTTP/1.1\r\nHost: {host}\r\nTE: trailers\r\nAccept: text/csv\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn sql_in_every_format_with_truncation_caching_and_positions() {
    let server = start("[query]\nmax_rows = 50000\n").await;
    let expected = sales_rows(0);

    // JSON with column types.
    let body = server.sql("SELECT * FROM sales ORDER BY seq").await;
    assert_eq!(body["row_count"], expected.len());
    assert_eq!(body["truncated"], false);
    let types: BTreeMap<&str, &str> = body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    assert_eq!(types["seq"], "Int64");
    assert!(types["amount"].starts_with("Decimal128"), "{types:?}");
    assert_eq!(types["day"], "Date32");

    // NDJSON and CSV by Accept; Arrow IPC and Parquet by ?format=.
    let r = sql_as(
        &server,
        "SELECT seq, township FROM sales",
        "application/x-ndjson",
    )
    .await;
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    assert_eq!(r.headers()["gongkai-truncated"], "false");
    assert_eq!(r.text().await.unwrap().lines().count(), expected.len());
    let r = sql_as(&server, "SELECT seq, township FROM sales", "text/csv").await;
    let text = r.text().await.unwrap();
    assert_eq!(text.lines().next(), Some("seq,township"));
    assert_eq!(text.lines().count(), expected.len() + 1);

    let r = server
        .get("/api/v1/sql?format=arrow&q=SELECT%20seq%2C%20amount%20FROM%20sales")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.apache.arrow.stream"
    );
    let bytes = r.bytes().await.unwrap();
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
        .expect("an Arrow IPC stream");
    let schema = reader.schema();
    let rows: usize = reader.map(|b| b.expect("batch").num_rows()).sum();
    assert_eq!(rows, expected.len());
    assert_eq!(schema.field(0).name(), "seq");

    let r = server
        .get("/api/v1/sql?format=parquet&q=SELECT%20*%20FROM%20sales%20WHERE%20amount%20IS%20NULL")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    let kv: BTreeMap<String, Option<String>> = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .map(|k| (k.key.clone(), k.value.clone()))
        .collect();
    assert_eq!(kv["gongkai:truncated"].as_deref(), Some("false"));
    let nulls = expected.iter().filter(|r| r.2.is_none()).count();
    let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, nulls);

    // A result the row limit cuts: flagged in JSON, in the header, in Parquet.
    let cross = "SELECT a.seq, b.seq AS seq2 FROM sales a CROSS JOIN sales b";
    let body = server.sql(cross).await;
    assert_eq!(body["truncated"], true);
    assert_eq!(body["row_count"], 50_000);
    let r = server
        .get(&format!(
            "/api/v1/sql?format=parquet&q={}",
            urlencode(cross)
        ))
        .await;
    let bytes = r.bytes().await.unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    let truncated = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .find(|k| k.key == "gongkai:truncated")
        .and_then(|k| k.value.clone());
    assert_eq!(truncated.as_deref(), Some("true"));
    assert_eq!(reader.metadata().file_metadata().num_rows(), 50_000);
    // Too big to read ahead: streamed, with the flag in an HTTP trailer.
    let wide = "SELECT a.*, b.* FROM sales a CROSS JOIN sales b";
    let raw = raw_get_with_trailers(&server, &format!("/api/v1/sql?q={}", urlencode(wide))).await;
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    assert!(head.contains("gongkai-row-limit: 50000"), "{head}");
    assert!(
        rest.to_ascii_lowercase()
            .contains("gongkai-truncated: true"),
        "no truncation trailer at the end of the stream: {}",
        &rest[rest.len().saturating_sub(300)..]
    );

    // ETags: a repeat is 304, a cached result is served again, a new version changes both.
    let q = "/api/v1/sql?q=SELECT%20count(*)%20AS%20n%2C%20sum(amount)%20AS%20s%20FROM%20sales";
    let r = server.get(q).await;
    assert_eq!(r.headers()["cache-control"], "public, no-cache");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let first: Value = r.json().await.unwrap();
    let r = server
        .client
        .get(server.url(q))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = server.get(q).await;
    assert_eq!(r.headers()["gongkai-cache"], "hit");
    assert_eq!(r.json::<Value>().await.unwrap(), first);
    let pinned = "/api/v1/sql?q=SELECT%20count(*)%20AS%20n%20FROM%20%22sales%40v1%22";
    let r = server.get(pinned).await;
    assert_eq!(r.headers()["cache-control"], "public, max-age=3600");
    let pinned_etag = r.headers()["etag"].to_str().unwrap().to_string();

    let v2 = sales_rows(500);
    server
        .publish_file("sales", "sales.csv", sales_csv(&v2[..100]))
        .await;
    let r = server
        .client
        .get(server.url(q))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "a new version must not be 304");
    assert_ne!(r.headers()["etag"].to_str().unwrap(), etag);
    let now: Value = r.json().await.unwrap();
    assert_eq!(now["rows"][0]["n"], 100, "served a stale cached result");
    let r = server.get(pinned).await;
    assert_eq!(r.headers()["etag"].to_str().unwrap(), pinned_etag);
    assert_eq!(r.json::<Value>().await.unwrap()["rows"][0]["n"], 300);
    let r = server.get("/api/v1/sql?q=SELECT%20random()%20AS%20r").await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers().get("etag").is_none());

    // EXPLAIN, and errors that say where.
    let body = server
        .sql("EXPLAIN SELECT township, count(*) FROM sales GROUP BY township")
        .await;
    let plan = body["rows"].to_string();
    assert!(plan.contains("Aggregate"), "{plan}");
    let r = sql_as(
        &server,
        "SELECT seq\n  FROM sales GROUP seq",
        "application/json",
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "sql_syntax_error");
    assert_eq!(e["error"]["details"]["line"], 2, "{e}");
    let r = sql_as(&server, "SELECT seq, nosuch FROM sales", "application/json").await;
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "sql_error");
    assert_eq!(
        e["error"]["details"],
        json!({"line": 1, "column": 13}),
        "{e}"
    );

    // The table listing and information_schema describe what exists; drafts do not.
    server.create_dataset("hidden-draft", "草稿").await;
    let r = server
        .upload("hidden-draft", "d.csv", b"a,b\n1,2\n".to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let tables: Value = server.get("/api/v1/tables").await.json().await.unwrap();
    let names: Vec<&str> = tables["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["sales"]);
    let sales = &tables["tables"][0];
    assert_eq!(sales["version"], 2);
    assert_eq!(sales["versions"][0]["name"], "sales@v1");
    assert_eq!(sales["columns"][1]["name"], "township");
    assert_eq!(sales["columns"][1]["path"], json!(["township"]));
    let body = server
        .sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")
        .await;
    let names: Vec<&str> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["table_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["sales", "sales@v1", "sales@v2"]);
    let r = sql_as(
        &server,
        "SELECT * FROM \"hidden-draft\"",
        "application/json",
    )
    .await;
    let (code, _) = error_code(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(code, "sql_error");
}

fn urlencode(s: &str) -> String {
    url_escape(s)
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn rows(server: &Server, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let r = server.get(path).await;
    let status = r.status();
    let headers = r.headers().clone();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// Follows `next_url` from `first` to the end; returns every row and the page count.
async fn page_through(server: &Server, first: &str) -> (Vec<Value>, usize) {
    let mut all = Vec::new();
    let mut pages = 0;
    let mut next = Some(first.to_string());
    while let Some(path) = next {
        let (status, headers, body) = rows(server, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        all.extend(body["rows"].as_array().unwrap().iter().cloned());
        pages += 1;
        next = body["next_url"].as_str().map(String::from);
        assert_eq!(
            headers.get("link").is_some(),
            next.is_some(),
            "Link header and next_url disagree"
        );
        assert!(pages < 1000, "pagination does not end");
    }
    (all, pages)
}

#[tokio::test]
async fn row_api_filters_sorts_and_pages_without_losing_rows() {
    // Pages of one row each: hundreds of requests, above the default quota.
    let server = start("[rate_limit]\nanonymous_per_minute = 100000\nburst = 100000\n").await;
    let expected = sales_rows(0);
    let all = server.sql("SELECT * FROM sales").await["rows"]
        .as_array()
        .unwrap()
        .clone();

    // Keyset pages over duplicates and nulls return every row exactly once, in order.
    let (paged, pages) =
        page_through(&server, "/api/v1/datasets/sales/rows?_size=7&_sort=-amount").await;
    assert_eq!(pages, expected.len().div_ceil(7));
    assert_eq!(multiset(&paged), multiset(&all));
    let amounts: Vec<Option<f64>> = paged
        .iter()
        .map(|r| {
            r["amount"]
                .as_str()
                .map(|s| s.parse().unwrap())
                .or(r["amount"].as_f64())
        })
        .collect();
    let nulls = expected.iter().filter(|r| r.2.is_none()).count();
    assert!(
        amounts[..nulls].iter().all(Option::is_none),
        "nulls first when descending"
    );
    assert!(
        amounts[nulls..].windows(2).all(|w| w[0] >= w[1]),
        "not sorted by amount descending"
    );
    let (paged, _) = page_through(&server, "/api/v1/datasets/sales/rows?_size=1").await;
    assert_eq!(
        multiset(&paged),
        multiset(&all),
        "page size 1 over duplicates"
    );

    // Filters, selection and the total count agree with SQL.
    let (status, headers, body) = rows(
        &server,
        "/api/v1/datasets/sales/rows?township=%E5%9F%8E%E5%85%B3%E9%95%87&amount__gte=100&_select=seq,amount&_count=1&_size=1000",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let want = server
        .sql("SELECT count(*) AS n FROM sales WHERE township = '城关镇' AND amount >= 100")
        .await["rows"][0]["n"]
        .clone();
    assert_eq!(body["total"], want);
    assert_eq!(
        headers["gongkai-total-count"].to_str().unwrap(),
        want.to_string()
    );
    assert_eq!(body["row_count"], want);
    let cols: Vec<&str> = body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, vec!["seq", "amount"]);
    let cases = [
        ("seq__in=1,2,3", "seq IN (1, 2, 3)"),
        ("note__isnull=1", "note IS NULL"),
        ("note__notnull=1", "note IS NOT NULL"),
        ("note__like=%E5%A4%87%E6%B3%A81%25", "note LIKE '备注1%'"),
        ("note__contains=4", "note LIKE '%4%'"),
        ("day__lt=2024-01-05", "day < DATE '2024-01-05'"),
        (
            "seq__not=1&township__notin=%E4%B8%9C%E5%85%B3%E9%95%87",
            "seq <> 1 AND township NOT IN ('东关镇')",
        ),
    ];
    for (filter, predicate) in cases {
        let (status, _, body) = rows(
            &server,
            &format!("/api/v1/datasets/sales/rows?{filter}&_count=1&_size=0"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{filter}: {body}");
        let want = server
            .sql(&format!(
                "SELECT count(*) AS n FROM sales WHERE {predicate}"
            ))
            .await["rows"][0]["n"]
            .clone();
        assert_eq!(body["total"], want, "{filter}");
    }

    // Clear errors for what cannot be answered.
    for (query, needle) in [
        ("nosuch=1", "nosuch"),
        ("seq__gt=abc", "abc"),
        ("_sort=nosuch", "nosuch"),
        ("_size=100000", "_size"),
        ("_next=garbage", "_next"),
    ] {
        let (status, _, body) =
            rows(&server, &format!("/api/v1/datasets/sales/rows?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_row_query", "{query}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(needle),
            "{body}"
        );
    }

    // CSV pages carry the next link in a Link header.
    let r = server
        .get("/api/v1/datasets/sales/rows?_size=10&format=csv")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let link = r.headers()["link"].to_str().unwrap().to_string();
    assert!(
        link.contains("rel=\"next\"") && link.contains("/versions/1/rows"),
        "{link}"
    );
    assert_eq!(r.text().await.unwrap().lines().count(), 11);

    // A cursor stays on the version it started on, even after a new version.
    let (_, _, first) = rows(&server, "/api/v1/datasets/sales/rows?_size=150&_sort=seq").await;
    let next = first["next_url"].as_str().unwrap().to_string();
    server
        .publish_file("sales", "sales.csv", sales_csv(&sales_rows(1)[..10]))
        .await;
    let (status, _, second) = rows(&server, &next).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["version"], 1);
    assert_eq!(second["row_count"], 150);
    let (_, _, latest) = rows(&server, "/api/v1/datasets/sales/rows?_count=1").await;
    assert_eq!(latest["version"], 2);
    assert_eq!(latest["total"], 10);

    // Withdrawn data serves no rows.
    let reviewer = server.reviewer_token().await;
    let r = server
        .post_as(
            &reviewer,
            "/api/v1/datasets/sales/withdraw",
            json!({"reason": "测试撤回"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _, _) = rows(&server, "/api/v1/datasets/sales/rows").await;
    assert_eq!(status, StatusCode::GONE);
}

/// What a hostile query must come to.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// 403 `statement_not_allowed`.
    NotAllowed,
    /// A 4xx naming the SQL as the problem.
    Refused,
    /// Either a bounded answer (rows ≤ the cap, flagged if cut) or a limit error.
    Bounded,
}

#[tokio::test]
async fn hostile_queries_are_refused_or_bounded_and_the_server_keeps_serving() {
    let server = Server::start_with(Options {
        config: Some(
            "[query]\nmax_rows = 10000\ntimeout_secs = 3\nmemory_mb = 64\nmax_concurrent = 4\nqueue_secs = 1\n"
                .into(),
        ),
        ..Options::default()
    })
    .await;
    server.create_dataset("t", "测试").await;
    let mut csv = String::from("n,s\n");
    for i in 0..2000 {
        csv.push_str(&format!("{i},文本{}\n", i % 97));
    }
    server.publish_file("t", "t.csv", csv.into_bytes()).await;
    let marker = std::env::temp_dir().join(format!("gongkai-copy-{}", std::process::id()));
    let marker = marker.display().to_string();

    let deep_parens = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
    let deep_subqueries = format!(
        "SELECT * FROM {}SELECT 1 AS x{}",
        "(SELECT * FROM ".repeat(300),
        ") AS q".repeat(300)
    );
    let long_sum = format!("SELECT 1{} AS x", "+1".repeat(20_000));
    let huge_in = format!(
        "SELECT count(*) FROM t WHERE n IN ({})",
        (0..15_000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let many_unions = vec!["SELECT n FROM t"; 300].join(" UNION ALL ");
    let cases: Vec<(String, Expect)> = vec![
        ("CREATE TABLE x AS SELECT 1".into(), Expect::NotAllowed),
        ("CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'".into(), Expect::NotAllowed),
        ("CREATE VIEW v AS SELECT * FROM t".into(), Expect::NotAllowed),
        ("INSERT INTO t VALUES (1, 'x')".into(), Expect::NotAllowed),
        ("DELETE FROM t".into(), Expect::Refused),
        ("UPDATE t SET n = 0".into(), Expect::Refused),
        ("DROP TABLE t".into(), Expect::NotAllowed),
        (format!("COPY (SELECT * FROM t) TO '{marker}.csv'"), Expect::NotAllowed),
        (format!("COPY t TO '{marker}.parquet' STORED AS PARQUET"), Expect::NotAllowed),
        ("SET datafusion.execution.batch_size = 1".into(), Expect::NotAllowed),
        ("CREATE FUNCTION f(INT) RETURNS INT RETURN 1".into(), Expect::Refused),
        ("PREPARE p AS SELECT 1".into(), Expect::Refused),
        ("SELECT 1; DROP TABLE t".into(), Expect::Refused),
        ("SELECT * FROM '/etc/passwd'".into(), Expect::Refused),
        ("SELECT * FROM 'file:///etc/passwd'".into(), Expect::Refused),
        ("SELECT * FROM 'https://example.com/data.parquet'".into(), Expect::Refused),
        ("SELECT * FROM read_parquet('/etc/passwd')".into(), Expect::Refused),
        ("SELECT * FROM read_csv('/etc/passwd')".into(), Expect::Refused),
        ("SELECT * FROM generate_series(1, 1000000000000)".into(), Expect::Refused),
        ("SELECT * FROM range(1000000000000)".into(), Expect::Refused),
        ("SELECT range(1, 1000000000000)".into(), Expect::Refused),
        ("SELECT generate_series(1, 1000000000000)".into(), Expect::Refused),
        ("SELECT count(*) FROM t a, t b, t c, t d".into(), Expect::Bounded),
        ("SELECT count(*) FROM t a, t b, t c WHERE a.n + b.n + c.n < 0".into(), Expect::Bounded),
        ("SELECT a.n, b.n, c.n FROM t a, t b, t c".into(), Expect::Bounded),
        ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r".into(), Expect::Bounded),
        ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT * FROM r".into(), Expect::Bounded),
        ("SELECT count(*) FROM t a, t b WHERE regexp_like(a.s || repeat('a', 500), '(a+)+$')".into(), Expect::Bounded),
        ("SELECT regexp_like('a', 'a{1000}{1000}{1000}')".into(), Expect::Bounded),
        ("SELECT repeat('x', 2000000000)".into(), Expect::Bounded),
        ("SELECT length(repeat(repeat('x', 100000), 100000))".into(), Expect::Bounded),
        ("SELECT lpad('x', 2000000000)".into(), Expect::Bounded),
        ("SELECT array_repeat(1, 1000000000)".into(), Expect::Bounded),
        ("SELECT string_agg(a.s || b.s, ',') FROM t a, t b".into(), Expect::Bounded),
        ("SELECT a.n FROM t a, t b ORDER BY random()".into(), Expect::Bounded),
        ("SELECT a.n, count(*) FROM t a, t b GROUP BY a.n, b.n".into(), Expect::Bounded),
        ("EXPLAIN ANALYZE SELECT count(*) FROM t a, t b, t c WHERE a.n - b.n > c.n + 5000".into(), Expect::Bounded),
        (deep_parens, Expect::Refused),
        (deep_subqueries, Expect::Refused),
        (long_sum, Expect::Bounded),
        (huge_in, Expect::Bounded),
        (many_unions, Expect::Bounded),
        ("x".repeat(200_000), Expect::Refused),
        ("SELECT * FROM \"t@v99\"".into(), Expect::Refused),
    ];
    assert!(cases.len() >= 30);
    let mut report = Vec::new();
    for (sql, expect) in &cases {
        let started = Instant::now();
        let r = server
            .client
            .post(server.url("/api/v1/sql"))
            .json(&json!({ "sql": sql }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("server stopped answering on {}: {e}", short(sql)));
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let took = started.elapsed();
        let code = body["error"]["code"].as_str().unwrap_or("").to_string();
        report.push(format!(
            "{:>6} ms {status} {code:<22} {}",
            took.as_millis(),
            short(sql)
        ));
        assert!(
            took < Duration::from_secs(15),
            "{} took {took:?}: limits must bound it",
            short(sql)
        );
        match expect {
            Expect::NotAllowed => {
                assert_eq!(status, StatusCode::FORBIDDEN, "{}: {body}", short(sql));
                assert_eq!(code, "statement_not_allowed", "{}", short(sql));
            }
            Expect::Refused => {
                assert!(
                    status.is_client_error(),
                    "{} answered {status}: {body}",
                    short(sql)
                );
                assert!(
                    [
                        "statement_not_allowed",
                        "sql_error",
                        "sql_syntax_error",
                        "sql_too_long",
                        "query_execution_error"
                    ]
                    .contains(&code.as_str()),
                    "{} answered {code}",
                    short(sql)
                );
            }
            Expect::Bounded => {
                if status == StatusCode::OK {
                    let n = body["row_count"].as_u64().unwrap();
                    assert!(n <= 10_000, "{} returned {n} rows", short(sql));
                    if n == 10_000 {
                        assert_eq!(body["truncated"], true, "{}", short(sql));
                    }
                } else {
                    assert!(
                        status.is_client_error(),
                        "{} answered {status}: {body}",
                        short(sql)
                    );
                    assert!(
                        [
                            "query_timeout",
                            "query_memory_limit",
                            "query_execution_error",
                            "sql_error",
                            "sql_syntax_error"
                        ]
                        .contains(&code.as_str()),
                        "{} answered {code}: {body}",
                        short(sql)
                    );
                }
            }
        }
        // The server still answers an ordinary query after every hostile one.
        assert_eq!(
            server.sql("SELECT count(*) AS n FROM t").await["rows"][0]["n"],
            2000
        );
    }
    println!("hostile queries:\n{}", report.join("\n"));
    assert!(
        !std::path::Path::new(&format!("{marker}.csv")).exists()
            && !std::path::Path::new(&format!("{marker}.parquet")).exists(),
        "COPY wrote a file"
    );

    // Bombs running at once: the concurrency cap answers 429, others still get served.
    let bomb = "SELECT count(*) FROM t a, t b, t c WHERE a.n + b.n + c.n < 0";
    let mut running = Vec::new();
    for _ in 0..6 {
        let client = server.client.clone();
        let url = server.url("/api/v1/sql");
        running.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({ "sql": bomb }))
                .send()
                .await
                .map(|r| r.status())
        }));
    }
    let mut statuses = Vec::new();
    for r in running {
        statuses.push(r.await.unwrap().unwrap());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "six bombs at once with four slots and a 1 s queue: {statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS || *s == StatusCode::UNPROCESSABLE_ENTITY),
        "each bomb is cancelled by the timeout or refused: {statuses:?}"
    );
    let started = Instant::now();
    let health = server.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        server.sql("SELECT count(*) AS n FROM t").await["rows"][0]["n"],
        2000
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let peak = server.peak_rss_mib();
    println!("server peak RSS after the hostile suite: {peak} MiB");
    assert!(peak < 2048, "peak RSS {peak} MiB: memory is not bounded");
}

fn short(sql: &str) -> String {
    let one_line = sql.replace('\n', " ");
    if one_line.chars().count() > 70 {
        format!(
            "{}… ({} bytes)",
            one_line.chars().take(70).collect::<String>(),
            sql.len()
        )
    } else {
        one_line
    }
}

#[tokio::test]
async fn downloads_in_json_ndjson_and_xlsx() {
    use calamine::{Data, Reader};
    let server = start("").await;
    let expected = sales_rows(0);

    let body: Value = server
        .get("/api/v1/datasets/sales/data.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["row_count"], expected.len());
    assert_eq!(body["rows"].as_array().unwrap().len(), expected.len());
    let r = server.get("/api/v1/datasets/sales/data.ndjson").await;
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    assert_eq!(r.text().await.unwrap().lines().count(), expected.len());

    let r = server
        .get("/api/v1/datasets/sales/versions/1/data.xlsx")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let xlsx_etag = r.headers()["etag"].to_str().unwrap().to_string();
    let bytes = r.bytes().await.unwrap();
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = book.worksheet_range("Sheet1").unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    assert_eq!(rows.len(), expected.len() + 1, "header + every row");
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    assert_eq!(header, vec!["seq", "township", "amount", "day", "note"]);
    // Numbers stay numbers and dates dates, so a spreadsheet can sum and sort them.
    let (seq, town, amount, day, _) = &expected[1];
    assert_eq!(rows[2][0], Data::Float(*seq as f64));
    assert_eq!(rows[2][1], Data::String(town.to_string()));
    let want: f64 = amount.as_deref().unwrap().parse().unwrap();
    assert_eq!(rows[2][2], Data::Float(want));
    match &rows[2][3] {
        Data::DateTime(d) => assert_eq!(d.as_datetime().unwrap().date().to_string(), *day),
        other => panic!("day is not a date cell: {other:?}"),
    }
    let parquet = server
        .get("/api/v1/datasets/sales/versions/1/data.parquet")
        .await;
    assert_ne!(parquet.headers()["etag"].to_str().unwrap(), xlsx_etag);
    let r = server.get("/api/v1/datasets/sales/data.txt").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
