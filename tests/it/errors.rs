//! Bad input gets a clear JSON error with the right status, and the server keeps serving.

use crate::support::{ADMIN_TOKEN, Options, Server, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn bad_files_are_4xx_naming_the_file() {
    let server = Server::start().await;
    server.create_dataset("bad", "坏文件").await;

    let garbage: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (code, message) = error_code(
        server.upload("bad", "名单.csv", garbage).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_eq!(code, "unsupported_file");
    assert!(message.contains("名单.csv"), "{message}");

    let mut broken_xlsx = b"PK\x03\x04".to_vec();
    broken_xlsx.extend(std::iter::repeat_n(7u8, 500));
    let (code, message) = error_code(
        server.upload("bad", "预算.xlsx", broken_xlsx).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "unreadable_workbook");
    assert!(message.contains("预算.xlsx"), "{message}");

    let (code, _) = error_code(
        server.upload("bad", "empty.csv", Vec::new()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "empty_file");

    let (code, message) = error_code(
        server
            .upload("bad", "blank.csv", b",,,\n,,,\n".to_vec())
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "no_table_found");
    assert!(message.contains("blank.csv"));

    // Nothing was recorded, and the server still serves.
    let d: Value = server
        .get_as_admin("/api/v1/datasets/bad")
        .await
        .json()
        .await
        .unwrap();
    assert!(d["versions"].as_array().unwrap().is_empty());
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn uploads_over_the_limit_are_413() {
    let server = Server::start_with(Options {
        max_upload_bytes: Some(1000),
        ..Options::default()
    })
    .await;
    server.create_dataset("big", "大文件").await;
    let mut body = b"a,b\n".to_vec();
    while body.len() < 5000 {
        body.extend_from_slice(b"1,2\n");
    }
    let (code, _) = error_code(
        server.upload("big", "big.csv", body).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(code, "file_too_large");
    let ok = server
        .upload("big", "small.csv", b"a,b\n1,2\n".to_vec())
        .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn bad_sql_is_400_with_the_reason() {
    let server = Server::start().await;
    server.create_dataset("t", "表").await;
    server
        .publish_file("t", "t.csv", b"a,b\n1,2\n".to_vec())
        .await;
    let cases: &[(&str, StatusCode, &str)] = &[
        ("SELEC 1", StatusCode::BAD_REQUEST, "sql_syntax_error"),
        (
            "SELECT * FROM no_such_table",
            StatusCode::BAD_REQUEST,
            "sql_error",
        ),
        (
            "SELECT no_such_column FROM t",
            StatusCode::BAD_REQUEST,
            "sql_error",
        ),
        (
            "DROP TABLE t",
            StatusCode::FORBIDDEN,
            "statement_not_allowed",
        ),
        (
            "CREATE TABLE x AS SELECT 1",
            StatusCode::FORBIDDEN,
            "statement_not_allowed",
        ),
        (
            "INSERT INTO t VALUES (1, 2)",
            StatusCode::FORBIDDEN,
            "statement_not_allowed",
        ),
        (
            "COPY (SELECT 1) TO '/tmp/gongkai-copy-test.csv'",
            StatusCode::FORBIDDEN,
            "statement_not_allowed",
        ),
        (
            "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
            StatusCode::FORBIDDEN,
            "statement_not_allowed",
        ),
        (
            "SET datafusion.execution.batch_size = 1",
            StatusCode::FORBIDDEN,
            "statement_not_allowed",
        ),
        (
            "SELECT * FROM '/etc/passwd'",
            StatusCode::BAD_REQUEST,
            "sql_error",
        ),
        (
            "SELECT * FROM generate_series(1, 1000000000000)",
            StatusCode::BAD_REQUEST,
            "sql_error",
        ),
        ("", StatusCode::BAD_REQUEST, "missing_sql"),
    ];
    for (sql, status, expected) in cases {
        let r = server
            .client
            .post(server.url("/api/v1/sql"))
            .json(&json!({"sql": sql}))
            .send()
            .await
            .unwrap();
        let (code, message) = error_code(r, *status).await;
        assert_eq!(&code, expected, "{sql}: {message}");
    }
    assert!(!std::path::Path::new("/tmp/gongkai-copy-test.csv").exists());
    let r = server
        .client
        .post(server.url("/api/v1/sql"))
        .body("not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(code, "invalid_json");
    // Still serving.
    assert_eq!(server.sql("SELECT a FROM t").await["rows"][0]["a"], 1);
}

#[tokio::test]
async fn agency_api_needs_a_valid_token() {
    let server = Server::start().await;
    let anonymous = server
        .client
        .post(server.url("/api/v1/datasets"))
        .json(&json!({"slug": "x", "title": "X"}))
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(anonymous, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "unauthorized");
    let wrong = server
        .client
        .post(server.url("/api/v1/datasets"))
        .bearer_auth("gk_not_a_real_token")
        .json(&json!({"slug": "x", "title": "X"}))
        .send()
        .await
        .unwrap();
    error_code(wrong, StatusCode::UNAUTHORIZED).await;
    server.create_dataset("x", "X").await;
    let upload = server
        .client
        .post(server.url("/api/v1/datasets/x/uploads?filename=a.csv"))
        .body("a\n1\n")
        .send()
        .await
        .unwrap();
    error_code(upload, StatusCode::UNAUTHORIZED).await;
    let publish = server
        .client
        .post(server.url("/api/v1/datasets/x/versions/1/publish"))
        .send()
        .await
        .unwrap();
    error_code(publish, StatusCode::UNAUTHORIZED).await;
    let _ = ADMIN_TOKEN;
}

#[tokio::test]
async fn dataset_input_is_validated() {
    let server = Server::start().await;
    server.create_dataset("dup", "重复").await;
    let (code, _) = error_code(
        server
            .post_json("/api/v1/datasets", json!({"slug": "dup", "title": "again"}))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(code, "already_exists");
    let (code, message) = error_code(
        server
            .post_json(
                "/api/v1/datasets",
                json!({"slug": "Bad Slug!", "title": "x"}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "invalid_input");
    assert!(message.contains("slug"));
    let (code, _) = error_code(
        server
            .post_json("/api/v1/datasets", json!({"title": "no slug"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "invalid_input");
    let (code, _) = error_code(
        server.get("/api/v1/datasets/nope").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(code, "not_found");
    let (code, _) = error_code(server.get("/no/such/endpoint").await, StatusCode::NOT_FOUND).await;
    assert_eq!(code, "not_found");
    let (code, _) = error_code(
        server.upload("nope", "a.csv", b"a\n1\n".to_vec()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(code, "not_found");
}
