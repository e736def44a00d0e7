//! What the sweeper (`gongkai gc`) removes besides unreferenced objects:
//! the staging files of uploads a crash interrupted (which the local store's
//! listing hides), and, with `raw_retention = "until_published"`, the raw
//! uploads of versions that can no longer be published.

use crate::support::{ADMIN_TOKEN, Restartable, files_under, gc};
use bytes::Bytes;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The raw keys the catalogue references.
async fn referenced_raw(dir: &std::path::Path) -> Vec<String> {
    let db = format!("sqlite://{}", dir.join("catalog.db").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT raw_key FROM versions WHERE raw_key IS NOT NULL ORDER BY raw_key")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    rows.into_iter().map(|r| r.0).collect()
}

async fn create(client: &Client, base: &str, slug: &str) {
    let r = client
        .post(format!("{base}/api/v1/datasets"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"slug": slug, "title": "清理测试"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_removes_staging_files_of_uploads_killed_mid_body() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let client = Client::new();
    let mut server = Restartable::start(dir.path(), "", &[]);

    // A finished draft: its raw upload is referenced and must stay.
    create(&client, &server.base, "kept").await;
    let r = client
        .post(format!(
            "{}/api/v1/datasets/kept/uploads?filename=kept.csv",
            server.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .body("乡镇,金额\n城关镇,1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    create(&client, &server.base, "killed").await;

    // Three uploads, each killed with SIGKILL in the middle of its body.
    const KILLS: usize = 3;
    let mut staged_bytes = 0u64;
    for round in 0..KILLS {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let body = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let upload = client
            .post(format!(
                "{}/api/v1/datasets/killed/uploads?filename=big.csv",
                server.base
            ))
            .bearer_auth(ADMIN_TOKEN)
            .body(reqwest::Body::wrap_stream(body))
            .send();
        let upload = tokio::spawn(upload);
        let mut line = String::new();
        for i in 0..20_000 {
            line.push_str(&format!("镇{},{}\n", i % 9, i));
        }
        let chunk = Bytes::from(format!("乡镇,金额\n{line}"));
        // Send about 24 MiB, then hold the body open.
        let mut sent = 0usize;
        while sent < 24 << 20 {
            tx.send(Ok(chunk.clone())).await.unwrap();
            sent += chunk.len();
        }
        // Wait until the store has written part of it to a staging file.
        let started = Instant::now();
        let staging = loop {
            let staging: Vec<String> = files_under(&store, "raw")
                .into_iter()
                .filter(|f| f.contains('#'))
                .collect();
            let written: u64 = staging
                .iter()
                .map(|f| std::fs::metadata(store.join(f)).map_or(0, |m| m.len()))
                .sum();
            if written > staged_bytes + (10 << 20) {
                staged_bytes = written;
                break staging;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no staging file appeared: {:?}",
                files_under(&store, "raw")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(staging.len(), round + 1, "{staging:?}");
        server.kill();
        drop(tx);
        let _ = upload.await;
        server = Restartable::start(dir.path(), "", &[]);
    }
    let before = files_under(&store, "raw");
    let hidden: Vec<&String> = before.iter().filter(|f| f.contains('#')).collect();
    assert_eq!(hidden.len(), KILLS, "{before:?}");
    eprintln!(
        "staging: {KILLS} killed uploads left {} MiB in {hidden:?}",
        staged_bytes >> 20
    );
    server.kill();

    // A dry run deletes nothing; the sweep deletes every staging file and
    // leaves exactly the referenced raw uploads.
    let dry = gc(dir.path(), &["--grace-minutes", "0", "--dry-run"]);
    assert_eq!(
        files_under(&store, "raw"),
        before,
        "a dry run deleted files"
    );
    let report = gc(dir.path(), &["--grace-minutes", "0"]);
    let referenced = referenced_raw(dir.path()).await;
    assert_eq!(referenced.len(), 1, "{referenced:?}");
    assert_eq!(
        files_under(&store, "raw"),
        referenced,
        "raw files left that no catalogue row references"
    );
    // Both report them.
    for r in [&dry, &report] {
        assert_eq!(r["staging_checked"], true, "{r}");
        assert_eq!(
            r["staging_deleted"].as_array().map(Vec::len),
            Some(KILLS),
            "{r}"
        );
        assert!(r["staging_bytes"].as_u64().unwrap() >= staged_bytes, "{r}");
    }
    let again = gc(dir.path(), &["--grace-minutes", "0"]);
    assert_eq!(again["staging_deleted"], json!([]), "{again}");
    assert_eq!(again["deleted"], json!([]), "{again}");

    // A grace period keeps fresh staging files (an upload may be running).
    std::fs::create_dir_all(store.join("raw/_/fresh")).unwrap();
    std::fs::write(store.join("raw/_/fresh/f.csv#1"), b"partial").unwrap();
    let kept = gc(dir.path(), &[]);
    assert_eq!(kept["staging_young"], 1, "{kept}");
    assert!(store.join("raw/_/fresh/f.csv#1").exists());

    // The finished draft is whole after all this.
    let server = Restartable::start(dir.path(), "", &[]);
    let v: Value = client
        .get(format!("{}/api/v1/datasets/kept/versions/1", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["rows"], 1, "{v}");
}
