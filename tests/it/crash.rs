//! Crash consistency: the server is killed with SIGKILL at random moments
//! while datasets are created, uploaded, ingested, reviewed and published;
//! after each restart nothing half-written is visible, every acknowledged
//! step survives and the interrupted work can be finished; at the end the
//! sweeper (`gongkai gc`) leaves no unreferenced object behind.

use crate::support::{ADMIN_TOKEN, binary};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Kill/restart cycles (the issue asks for at least 50).
const CYCLES: usize = 50;
/// Rows in each uploaded CSV (enough that ingest takes a moment).
const ROWS: usize = 3000;

struct Running {
    child: Child,
    base: String,
}

fn start(dir: &Path) -> Running {
    // Rate limits are not the subject here (the checks read every dataset quickly).
    let config = dir.join("config.toml");
    std::fs::write(&config, "[rate_limit]\nenabled = false\n").unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    let mut child = Command::new(binary())
        .arg("serve")
        .arg("--data-dir")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0", "--no-examples"])
        .arg("--config")
        .arg(&config)
        .env("GONGKAI_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("GONGKAI_CATALOG")
        .env_remove("GONGKAI_STORE")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("gongkai: listening on ") {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server did not start after a crash");
    Running { child, base }
}

/// A small deterministic generator (the seed is printed to replay a run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn csv(cycle: usize) -> String {
    let mut s = String::from("乡镇,项目,金额(元)\n");
    for r in 0..ROWS {
        s.push_str(&format!("镇{},项目{cycle}-{r},{}\n", r % 7, 100 + r));
    }
    s
}

/// The workflow steps, in order; the log records the last acknowledged one.
const STEPS: [&str; 5] = ["created", "uploaded", "submitted", "approved", "published"];

async fn call(
    client: &Client,
    token: &str,
    method: &str,
    url: String,
    body: Option<Value>,
) -> Option<(StatusCode, Value)> {
    let mut r = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    }
    .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.ok()?;
    let status = resp.status();
    let body = resp.json().await.unwrap_or(Value::Null);
    Some((status, body))
}

/// Runs the workflow of `slug` from `from` (index into STEPS) and records
/// every acknowledged step; stops at the first failure (the server died).
async fn workflow(
    base: String,
    reviewer: String,
    slug: String,
    cycle: usize,
    steps: std::ops::Range<usize>,
    log: Arc<Mutex<Vec<(String, usize)>>>,
) {
    let client = Client::new();
    let api = format!("{base}/api/v1/datasets");
    for step in steps {
        let ok = match STEPS[step] {
            "created" => call(
                &client,
                ADMIN_TOKEN,
                "POST",
                api.clone(),
                Some(json!({"slug": slug, "title": format!("崩溃测试 {cycle}")})),
            )
            .await
            .is_some_and(|(s, _)| s == StatusCode::CREATED),
            "uploaded" => {
                let r = client
                    .post(format!("{api}/{slug}/uploads?filename=c.csv"))
                    .bearer_auth(ADMIN_TOKEN)
                    .body(csv(cycle))
                    .send()
                    .await;
                matches!(r, Ok(r) if r.status() == StatusCode::CREATED)
            }
            "submitted" => call(
                &client,
                ADMIN_TOKEN,
                "POST",
                format!("{api}/{slug}/versions/1/submit"),
                Some(json!({})),
            )
            .await
            .is_some_and(|(s, _)| s == StatusCode::OK),
            "approved" => call(
                &client,
                &reviewer,
                "POST",
                format!("{api}/{slug}/versions/1/approve"),
                Some(json!({"confidentiality_reviewed": true, "redaction_confirmed": true})),
            )
            .await
            .is_some_and(|(s, _)| s == StatusCode::OK),
            _ => call(
                &client,
                &reviewer,
                "POST",
                format!("{api}/{slug}/versions/1/publish"),
                None,
            )
            .await
            .is_some_and(|(s, _)| s == StatusCode::OK),
        };
        if !ok {
            return;
        }
        log.lock().unwrap().push((slug.clone(), step));
    }
}

/// Where a dataset's workflow stands, as the catalogue (seen by an admin) says.
async fn stage(client: &Client, base: &str, slug: &str) -> usize {
    let Some((s, d)) = call(
        client,
        ADMIN_TOKEN,
        "GET",
        format!("{base}/api/v1/datasets/{slug}"),
        None,
    )
    .await
    else {
        panic!("server not answering");
    };
    if s == StatusCode::NOT_FOUND {
        return 0;
    }
    assert_eq!(s, StatusCode::OK, "{slug}: {d}");
    let versions = d["versions"].as_array().cloned().unwrap_or_default();
    match versions
        .first()
        .map(|v| v["status"].as_str().unwrap_or("").to_string())
    {
        None => 1,
        Some(st) => match st.as_str() {
            "draft" => 2,
            "submitted" => 3,
            "approved" => 4,
            "published" => 5,
            other => panic!("{slug}: unexpected status {other}"),
        },
    }
}

/// Checks everything the public and the agency can see of `slug` is whole.
async fn check_whole(client: &Client, base: &str, slug: &str, stage: usize) {
    if stage >= 2 {
        // The draft (or published version) has all its rows, as staff see them.
        let (s, page) = call(
            client,
            ADMIN_TOKEN,
            "GET",
            format!("{base}/api/v1/datasets/{slug}/versions/1/rows?_size=1&_count=1"),
            None,
        )
        .await
        .unwrap();
        assert_eq!(s, StatusCode::OK, "{slug}: rows of v1: {page}");
        assert_eq!(
            page["total"], ROWS as u64,
            "{slug}: a half-ingested version is visible"
        );
    }
    let anon = client
        .get(format!("{base}/api/v1/datasets/{slug}"))
        .send()
        .await
        .unwrap()
        .status();
    if stage == 5 {
        assert_eq!(
            anon,
            StatusCode::OK,
            "{slug}: an acknowledged publication is gone"
        );
        let csv = client
            .get(format!("{base}/api/v1/datasets/{slug}/data.csv"))
            .send()
            .await
            .unwrap();
        assert_eq!(csv.status(), StatusCode::OK);
        let text = csv.text().await.unwrap();
        assert_eq!(
            text.lines().count(),
            ROWS + 1,
            "{slug}: the public file is incomplete"
        );
        let sql = client
            .get(format!("{base}/api/v1/sql"))
            .query(&[("q", format!("SELECT count(*) AS n FROM \"{slug}\""))])
            .send()
            .await
            .unwrap();
        let body: Value = sql.json().await.unwrap();
        assert_eq!(
            body["rows"][0]["n"], ROWS as u64,
            "{slug}: SQL sees a partial table"
        );
    } else {
        assert_eq!(
            anon,
            StatusCode::NOT_FOUND,
            "{slug}: unpublished work is public (stage {stage})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_upload_ingest_and_publish_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = Lcg(seed);
    let client = Client::new();
    let mut server = start(dir.path());
    // A second admin approves (nobody approves their own work).
    let (s, _) = call(
        &client,
        ADMIN_TOKEN,
        "POST",
        format!("{}/api/v1/users", server.base),
        Some(json!({"name": "reviewer", "role": "admin"})),
    )
    .await
    .unwrap();
    assert_eq!(s, StatusCode::CREATED);
    let (s, t) = call(
        &client,
        ADMIN_TOKEN,
        "POST",
        format!("{}/api/v1/tokens", server.base),
        Some(json!({"user": "reviewer"})),
    )
    .await
    .unwrap();
    assert_eq!(s, StatusCode::CREATED);
    let reviewer = t["token"].as_str().unwrap().to_string();

    // One full workflow, step by step and timed, tells how long each window is.
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut took = [0u64; 5];
    for (i, t) in took.iter_mut().enumerate() {
        let started = Instant::now();
        workflow(
            server.base.clone(),
            reviewer.clone(),
            "warm-up".into(),
            0,
            i..i + 1,
            log.clone(),
        )
        .await;
        *t = started.elapsed().as_micros().max(1) as u64;
    }
    assert_eq!(stage(&client, &server.base, "warm-up").await, 5);

    let mut acknowledged: Vec<(String, usize)> = Vec::new();
    let mut kills_by_stage = [0usize; 6];
    for cycle in 1..=CYCLES {
        let slug = format!("crash-{cycle}");
        let log = Arc::new(Mutex::new(Vec::new()));
        // Aim the kill: anywhere in the whole workflow, during upload and
        // ingest, or during the review and publication steps.
        let from = [0, 1, 2, 4][cycle % 4];
        workflow(
            server.base.clone(),
            reviewer.clone(),
            slug.clone(),
            cycle,
            0..from,
            log.clone(),
        )
        .await;
        assert_eq!(
            log.lock().unwrap().len(),
            from,
            "{slug}: preparation failed"
        );
        let window: u64 = took[from..].iter().sum();
        let task = tokio::spawn(workflow(
            server.base.clone(),
            reviewer.clone(),
            slug.clone(),
            cycle,
            from..STEPS.len(),
            log.clone(),
        ));
        let delay = rng.next() % (window + window / 4 + 1);
        tokio::time::sleep(Duration::from_micros(delay)).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        let _ = task.await;
        let acked = log.lock().unwrap().last().map(|(_, s)| *s + 1).unwrap_or(0);
        server = start(dir.path());

        // After the restart: at least what was acknowledged, never half of anything.
        let now = stage(&client, &server.base, &slug).await;
        kills_by_stage[now] += 1;
        assert!(
            now >= acked,
            "{slug}: acknowledged stage {acked} but found {now} after the crash"
        );
        assert!(
            now <= acked + 1,
            "{slug}: stage {now} is beyond what was attempted"
        );
        check_whole(&client, &server.base, &slug, now).await;
        acknowledged.push((slug.clone(), now));

        // What was interrupted can be finished.
        if now < 5 {
            let finish = Arc::new(Mutex::new(Vec::new()));
            workflow(
                server.base.clone(),
                reviewer.clone(),
                slug.clone(),
                cycle,
                now..STEPS.len(),
                finish,
            )
            .await;
            assert_eq!(
                stage(&client, &server.base, &slug).await,
                5,
                "{slug}: could not finish after the crash"
            );
            check_whole(&client, &server.base, &slug, 5).await;
        }
    }
    // Every earlier publication is still whole after all the crashes.
    for (slug, _) in &acknowledged {
        check_whole(&client, &server.base, slug, 5).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // The sweeper removes what the crashes left behind; a second pass finds nothing.
    let gc = |dry: bool| {
        let mut cmd = Command::new(binary());
        cmd.arg("gc")
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--grace-minutes", "0", "--json"]);
        if dry {
            cmd.arg("--dry-run");
        }
        let out = cmd
            .env_remove("GONGKAI_CATALOG")
            .env_remove("GONGKAI_STORE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gc failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let first = gc(false);
    let second = gc(true);
    eprintln!(
        "crash test: {CYCLES} kills (datasets found after restart at stage 0 none … 5 published: {kills_by_stage:?}; step times µs {took:?}); gc deleted {} orphan(s), {} referenced object(s) kept",
        first["deleted"].as_array().unwrap().len(),
        first["referenced"]
    );
    assert_eq!(
        second["deleted"].as_array().unwrap().len(),
        0,
        "orphans left: {second}"
    );
    let mut server = start(dir.path());
    for (slug, _) in &acknowledged {
        check_whole(&client, &server.base, slug, 5).await;
    }
    server.child.kill().unwrap();
    let _ = server.child.wait();
}
