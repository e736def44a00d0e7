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

/// (dataset slug, version) → raw key, for versions that still have one.
async fn raw_keys(catalog: &str) -> std::collections::BTreeMap<(String, i64), String> {
    let pool = any_pool(catalog).await;
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT d.slug, v.number, v.raw_key FROM versions v JOIN datasets d ON d.id = v.dataset_id \
         WHERE v.raw_key IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows.into_iter().map(|(s, n, k)| ((s, n), k)).collect()
}

/// A connection to the catalogue (SQLite or PostgreSQL) behind a server.
async fn any_pool(catalog: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(catalog).await.unwrap()
}

#[tokio::test]
async fn raw_uploads_of_versions_that_cannot_be_published_expire() {
    let server = crate::support::Server::start().await;
    let catalog = format!(
        "sqlite://{}",
        server.data_dir.path().join("catalog.db").display()
    );
    raw_expiry_scenario(&server, &catalog).await;
}

/// The retention rule on a server whose catalogue is at `catalog`.
pub async fn raw_expiry_scenario(server: &crate::support::Server, catalog: &str) {
    let dir = server.data_dir.path().to_path_buf();
    let store = dir.join("store");
    let catalog_args = ["--catalog", catalog];
    let gc = |extra: &[&str]| {
        let mut args = catalog_args.to_vec();
        args.extend_from_slice(extra);
        gc(&dir, &args)
    };
    let reviewer = server.reviewer_token().await;
    let csv = |n: usize| format!("乡镇,金额\n城关镇,{n}\n").into_bytes();
    let upload = |slug: &'static str, n: usize| async move {
        let r = server.upload(slug, "list.csv", csv(n)).await;
        assert_eq!(r.status(), StatusCode::CREATED, "upload {slug}");
    };
    let act = |token: String, path: String, body: Value| async move {
        let r = server.post_as(&token, &path, body).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{path}: {text}");
    };
    let reject = |slug: &'static str, n: i64| {
        let reviewer = reviewer.clone();
        async move {
            let v = format!("/api/v1/datasets/{slug}/versions/{n}");
            act(ADMIN_TOKEN.into(), format!("{v}/submit"), json!({})).await;
            act(
                reviewer,
                format!("{v}/reject"),
                json!({"comment": "请核对金额"}),
            )
            .await;
        }
    };

    // Rejected, then replaced by a newer upload: v1 can no longer be published.
    server.create_dataset("replaced", "被替换").await;
    upload("replaced", 1).await;
    reject("replaced", 1).await;
    upload("replaced", 2).await;
    // Rejected and not replaced: the agency may still fix and resubmit it.
    server.create_dataset("rejected", "退回").await;
    upload("rejected", 1).await;
    reject("rejected", 1).await;
    // A draft pending when its dataset was withdrawn expires; a correction
    // uploaded after the withdrawal does not.
    server.create_dataset("withdrawn", "已撤回").await;
    server.publish_file("withdrawn", "list.csv", csv(1)).await;
    upload("withdrawn", 2).await;
    act(
        reviewer.clone(),
        "/api/v1/datasets/withdrawn/withdraw".into(),
        json!({"reason": "数据有误"}),
    )
    .await;
    upload("withdrawn", 3).await;
    // A draft left for longer than draft_raw_days (90) expires; a fresh one not.
    server.create_dataset("stale", "久未处理").await;
    upload("stale", 1).await;
    server.create_dataset("fresh", "新草稿").await;
    upload("fresh", 1).await;
    let pool = any_pool(catalog).await;
    let long_ago = (chrono::Utc::now() - chrono::Duration::days(91))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query(
        "UPDATE versions SET created_at = $1 WHERE dataset_id = (SELECT id FROM datasets WHERE slug = 'stale')",
    )
    .bind(long_ago)
    .execute(&pool)
    .await
    .unwrap();
    // A published version whose raw upload outlived its publication (say,
    // its deletion failed then).
    std::fs::create_dir_all(store.join("raw/_/leftover")).unwrap();
    std::fs::write(store.join("raw/_/leftover/list.csv"), csv(1)).unwrap();
    sqlx::query(
        "UPDATE versions SET raw_key = 'raw/_/leftover/list.csv' WHERE number = 1 \
         AND dataset_id = (SELECT id FROM datasets WHERE slug = 'withdrawn')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let before = raw_keys(catalog).await;
    let key = |slug: &str, n: i64| before[&(slug.to_string(), n)].clone();
    let expiring = [
        ("replaced", 1),
        ("stale", 1),
        ("withdrawn", 1),
        ("withdrawn", 2),
    ];
    let staying = [
        ("fresh", 1),
        ("rejected", 1),
        ("replaced", 2),
        ("withdrawn", 3),
    ];
    assert_eq!(before.len(), expiring.len() + staying.len(), "{before:?}");
    for (slug, n) in expiring.iter().chain(&staying) {
        assert!(store.join(key(slug, *n)).exists(), "{slug}@v{n}");
    }

    // raw_retention = "keep" keeps everything.
    let keep = dir.join("keep.toml");
    std::fs::write(&keep, "raw_retention = \"keep\"\n").unwrap();
    let report = gc(&["--grace-minutes", "0", "--config", keep.to_str().unwrap()]);
    assert_eq!(report["raw_expired"], json!([]), "{report}");
    assert_eq!(raw_keys(catalog).await, before);

    // The default ("until_published"): a dry run names them and changes nothing …
    let dry = gc(&["--dry-run"]);
    let named = |r: &Value| {
        let mut v: Vec<(String, i64, String)> = r["raw_expired"]
            .as_array()
            .unwrap_or_else(|| panic!("no raw_expired in {r}"))
            .iter()
            .map(|e| {
                (
                    e["dataset"].as_str().unwrap().to_string(),
                    e["version"].as_i64().unwrap(),
                    e["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let expected = vec![
        ("replaced".to_string(), 1, "rejected_superseded".to_string()),
        ("stale".to_string(), 1, "stale_draft".to_string()),
        ("withdrawn".to_string(), 1, "published".to_string()),
        ("withdrawn".to_string(), 2, "dataset_withdrawn".to_string()),
    ];
    assert_eq!(named(&dry), expected, "{dry}");
    assert_eq!(raw_keys(catalog).await, before);

    // … the sweep deletes the objects and clears their keys, audited.
    let report = gc(&[]);
    assert_eq!(named(&report), expected, "{report}");
    let after = raw_keys(catalog).await;
    for (slug, n) in expiring {
        assert!(!store.join(key(slug, n)).exists(), "{slug}@v{n} kept");
        assert!(!after.contains_key(&(slug.to_string(), n)), "{slug}@v{n}");
    }
    for (slug, n) in staying {
        assert!(store.join(key(slug, n)).exists(), "{slug}@v{n} deleted");
        assert_eq!(after[&(slug.to_string(), n)], key(slug, n));
    }
    let audit: Value = server
        .get_as_admin("/api/v1/audit?limit=5000")
        .await
        .json()
        .await
        .unwrap();
    let mut audited: Vec<(String, String)> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "version.raw_expired")
        .map(|e| {
            (
                e["subject"].as_str().unwrap().to_string(),
                e["details"]["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    audited.sort();
    assert_eq!(
        audited,
        [
            (
                "dataset:replaced@v1".to_string(),
                "rejected_superseded".to_string()
            ),
            ("dataset:stale@v1".to_string(), "stale_draft".to_string()),
            ("dataset:withdrawn@v1".to_string(), "published".to_string()),
            (
                "dataset:withdrawn@v2".to_string(),
                "dataset_withdrawn".to_string()
            ),
        ]
    );
    // Its draft stays; only deriving it again from the raw upload is gone.
    let r = server
        .client
        .put(server.url("/api/v1/datasets/stale/versions/1/redaction"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"columns": {"xiang_zhen": {"action": "drop"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        server
            .get_as_admin("/api/v1/datasets/stale/versions/1/rows")
            .await
            .status(),
        StatusCode::OK
    );
    // Nothing more on a second pass.
    let again = gc(&[]);
    assert_eq!(again["raw_expired"], json!([]), "{again}");
}
