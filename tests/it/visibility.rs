//! A draft is invisible to SQL, downloads and listings until it is published.

use crate::support::{Server, error_code};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn drafts_are_invisible_until_published() {
    let server = Server::start().await;
    server.create_dataset("draft-only", "未发布数据").await;
    let r = server
        .upload(
            "draft-only",
            "d.csv",
            "名称,数量\n甲,1\n".as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // Public surfaces do not know it.
    let list: Value = server.get("/api/v1/datasets").await.json().await.unwrap();
    assert_eq!(list["total"], 0);
    assert!(list["datasets"].as_array().unwrap().is_empty());
    for path in [
        "/api/v1/datasets/draft-only",
        "/api/v1/datasets/draft-only/versions/1",
        "/api/v1/datasets/draft-only/data.parquet",
        "/api/v1/datasets/draft-only/data.csv",
        "/api/v1/datasets/draft-only/versions/1/data.csv",
    ] {
        let (code, _) = error_code(server.get(path).await, StatusCode::NOT_FOUND).await;
        assert_eq!(code, "not_found", "{path}");
    }
    let r = server
        .client
        .post(server.url("/api/v1/sql"))
        .json(&serde_json::json!({"sql": "SELECT * FROM \"draft-only\""}))
        .send()
        .await
        .unwrap();
    let (code, message) = error_code(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(code, "sql_error");
    assert!(message.contains("draft-only"), "{message}");

    // The agency (here: the admin) sees its draft and its report.
    let d: Value = server
        .get_as_admin("/api/v1/datasets/draft-only")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["status"], "draft");
    assert_eq!(d["versions"][0]["status"], "draft");
    let v: Value = server
        .get_as_admin("/api/v1/datasets/draft-only/versions/1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["rows"], 1);
    assert_eq!(v["report"]["sheets"][0]["data_rows"], 1);

    // Raw uploads live under the private prefix only, never under datasets/.
    let store = server.data_dir.path().join("store");
    assert!(store.join("raw").exists());
    assert!(!store.join("datasets").exists());

    // Published: visible everywhere, and the raw upload is gone (default retention).
    let r = server.review_and_publish("draft-only", 1).await;
    assert_eq!(r.status(), StatusCode::OK);
    let list: Value = server.get("/api/v1/datasets").await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(
        server
            .get("/api/v1/datasets/draft-only/data.csv")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        server.sql("SELECT * FROM \"draft-only\"").await["row_count"],
        1
    );
    let raw_files = walk(&store.join("raw"));
    assert!(
        raw_files.is_empty(),
        "raw upload kept after publication: {raw_files:?}"
    );
    assert_eq!(walk(&store.join("datasets")).len(), 1);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn publishing_twice_is_refused() {
    let server = Server::start().await;
    server.create_dataset("once", "一次").await;
    let n = server
        .publish_file("once", "a.csv", b"a,b\n1,2\n".to_vec())
        .await;
    let r = server
        .post_json(
            &format!("/api/v1/datasets/once/versions/{n}/publish"),
            Value::Null,
        )
        .await;
    let (code, _) = error_code(r, StatusCode::CONFLICT).await;
    assert_eq!(code, "invalid_state");
}
