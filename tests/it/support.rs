//! Starting the real server and talking to it.

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "gk_test_admin_token_0123456789";

/// Path of the `gongkai` binary: `GONGKAI_BIN`, or the one next to this test
/// executable's profile directory, which `scripts/test` builds before running
/// the tests. (Tests cannot build it themselves: `cargo test` holds the build
/// directory lock while tests run.)
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("GONGKAI_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/it-<hash> → target/<profile>/gongkai
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target/<profile>")
        .join("gongkai");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/test, or `cargo build --bin gongkai` before `cargo test`",
        bin.display()
    );
    bin
}

/// How to start a server.
#[derive(Default, Clone)]
pub struct Options {
    pub catalog: Option<String>,
    pub store: Option<String>,
    pub examples: bool,
    pub max_upload_bytes: Option<u64>,
    pub scheduler_interval_secs: Option<u64>,
    /// TOML settings file content (e.g. `[query]` limits).
    pub config: Option<String>,
}

/// A running server process; killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    pub client: Client,
    pub data_dir: tempfile::TempDir,
    /// A second platform admin who approves what the bootstrap admin uploads
    /// (four-eyes rule), created on first use.
    reviewer: tokio::sync::OnceCell<String>,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(Options::default()).await
    }

    pub async fn start_with(o: Options) -> Server {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["--listen", "127.0.0.1:0"])
            .env("GONGKAI_ADMIN_TOKEN", ADMIN_TOKEN)
            .env_remove("GONGKAI_CATALOG")
            .env_remove("GONGKAI_STORE")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(data_dir.path().join("server.log")).expect("log file"));
        if let Some(c) = &o.catalog {
            cmd.args(["--catalog", c]);
        }
        if let Some(s) = &o.store {
            cmd.args(["--store", s]);
        }
        if !o.examples {
            cmd.arg("--no-examples");
        }
        if let Some(m) = o.max_upload_bytes {
            cmd.args(["--max-upload-bytes", &m.to_string()]);
        }
        if let Some(c) = &o.config {
            let path = data_dir.path().join("config.toml");
            std::fs::write(&path, c).expect("writing config.toml");
            cmd.arg("--config").arg(path);
        }
        if let Some(s) = o.scheduler_interval_secs {
            cmd.args(["--scheduler-interval-secs", &s.to_string()]);
        }
        let mut child = cmd.spawn().expect("starting gongkai serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("gongkai: listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let started = Instant::now();
        let base = loop {
            if let Ok(addr) = rx.recv_timeout(Duration::from_millis(200)) {
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log =
                    std::fs::read_to_string(data_dir.path().join("server.log")).unwrap_or_default();
                panic!("gongkai serve exited with {status} before listening:\n{log}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "server did not start in time"
            );
        };
        let server = Server {
            child,
            base,
            client: Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("client"),
            data_dir,
            reviewer: tokio::sync::OnceCell::new(),
        };
        let health = server.get("/healthz").await;
        assert_eq!(health.status(), StatusCode::OK);
        server
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (what a service manager does to stop it).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `timeout` for the process to exit; its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Peak resident memory of the server so far, in MiB (Linux `VmHWM`).
    pub fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("reading /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM")
            / 1024
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_as_admin(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("GET")
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn create_dataset(&self, slug: &str, title: &str) -> Value {
        let r = self
            .post_json(
                "/api/v1/datasets",
                serde_json::json!({"slug": slug, "title": title}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "create dataset");
        r.json().await.expect("dataset JSON")
    }

    /// Creates a dataset from a full JSON body (metadata included), asserting 201.
    pub async fn create_dataset_with(&self, body: Value) {
        let r = self.post_json("/api/v1/datasets", body.clone()).await;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::CREATED, "{body}: {text}");
    }

    pub async fn upload(&self, slug: &str, file_name: &str, bytes: Vec<u8>) -> Response {
        self.client
            .post(self.url(&format!(
                "/api/v1/datasets/{slug}/uploads?filename={file_name}"
            )))
            .bearer_auth(ADMIN_TOKEN)
            .body(bytes)
            .send()
            .await
            .expect("upload")
    }

    /// Uploads and publishes; returns the version number.
    pub async fn publish_file(&self, slug: &str, file_name: &str, bytes: Vec<u8>) -> i64 {
        let r = self.upload(slug, file_name, bytes).await;
        let status = r.status();
        let body: Value = r.json().await.expect("upload JSON");
        assert_eq!(status, StatusCode::CREATED, "upload answered {body}");
        let n = body["version"].as_i64().expect("version number");
        let r = self.review_and_publish(slug, n).await;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::OK, "publish answered {body}");
        n
    }

    /// POST with a bearer token and a JSON body.
    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    /// The second admin's token (created on first use).
    pub async fn reviewer_token(&self) -> String {
        self.reviewer
            .get_or_init(|| async { self.user_token("second-admin", "admin", None).await })
            .await
            .clone()
    }

    /// Creates a user (as the bootstrap admin) and returns a fresh API token for it.
    pub async fn user_token(&self, name: &str, role: &str, agency: Option<&str>) -> String {
        let r = self
            .post_json(
                "/api/v1/users",
                serde_json::json!({"name": name, "role": role, "agency": agency}),
            )
            .await;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::CREATED, "create user {name}: {body}");
        let r = self
            .post_json("/api/v1/tokens", serde_json::json!({"user": name}))
            .await;
        let status = r.status();
        let body: Value = r.json().await.expect("token JSON");
        assert_eq!(status, StatusCode::CREATED, "token for {name}: {body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// Registers an agency (as the bootstrap admin).
    pub async fn agency(&self, slug: &str, parent: Option<&str>) {
        let r = self
            .post_json(
                "/api/v1/agencies",
                serde_json::json!({"slug": slug, "name": format!("{slug} 机构"), "parent": parent}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "create agency {slug}");
    }

    /// Submits (as the bootstrap admin), approves (as the second admin) and publishes a version.
    pub async fn review_and_publish(&self, slug: &str, n: i64) -> Response {
        let base = format!("/api/v1/datasets/{slug}/versions/{n}");
        let r = self
            .post_json(&format!("{base}/submit"), serde_json::json!({}))
            .await;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::OK, "submit answered {body}");
        let reviewer = self.reviewer_token().await;
        let r = self
            .post_as(
                &reviewer,
                &format!("{base}/approve"),
                serde_json::json!({"confidentiality_reviewed": true, "redaction_confirmed": true}),
            )
            .await;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::OK, "approve answered {body}");
        self.post_as(&reviewer, &format!("{base}/publish"), Value::Null)
            .await
    }

    /// Runs SQL and returns the JSON answer (asserting 200).
    pub async fn sql(&self, sql: &str) -> Value {
        let r = self
            .client
            .post(self.url("/api/v1/sql"))
            .json(&serde_json::json!({"sql": sql}))
            .send()
            .await
            .expect("SQL");
        let status = r.status();
        let body: Value = r.json().await.expect("SQL JSON");
        assert_eq!(status, StatusCode::OK, "SQL {sql} answered {body}");
        body
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts the standard error shape and returns the code.
pub async fn error_code(r: Response, status: StatusCode) -> (String, String) {
    assert_eq!(r.status(), status);
    let body: Value = r.json().await.expect("error JSON");
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_string();
    let message = body["error"]["message"]
        .as_str()
        .expect("error.message")
        .to_string();
    assert!(!message.is_empty());
    (code, message)
}

/// Whether this run must exercise optional external clients (CI sets CI=true).
pub fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A server on a data directory the caller keeps, so it can be killed
/// (SIGKILL) and started again on the same data.
pub struct Restartable {
    pub child: Child,
    pub base: String,
}

impl Restartable {
    /// Starts `gongkai serve` on `dir` (examples off, rate limits off, plus
    /// `config`, TOML, and `args`).
    pub fn start(dir: &std::path::Path, config: &str, args: &[&str]) -> Restartable {
        let path = dir.join("config.toml");
        std::fs::write(&path, format!("[rate_limit]\nenabled = false\n{config}"))
            .expect("writing config.toml");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .expect("log file");
        let mut child = Command::new(binary())
            .arg("serve")
            .arg("--data-dir")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0", "--no-examples"])
            .arg("--config")
            .arg(&path)
            .args(args)
            .env("GONGKAI_ADMIN_TOKEN", ADMIN_TOKEN)
            .env_remove("GONGKAI_CATALOG")
            .env_remove("GONGKAI_STORE")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("starting gongkai serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("gongkai: listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the server did not start");
        Restartable { child, base }
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Restartable {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `gongkai gc --json` (with `args`) on a data directory; its JSON report.
pub fn gc(dir: &std::path::Path, args: &[&str]) -> Value {
    let out = Command::new(binary())
        .arg("gc")
        .arg("--data-dir")
        .arg(dir)
        .arg("--json")
        .args(args)
        .env_remove("GONGKAI_CATALOG")
        .env_remove("GONGKAI_STORE")
        .output()
        .expect("running gongkai gc");
    assert!(
        out.status.success(),
        "gc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("gc JSON")
}

/// Every file under `dir` (recursively), as paths relative to `root`.
pub fn files_under(root: &std::path::Path, dir: &str) -> Vec<String> {
    fn walk(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(&root.join(dir), &mut found);
    let mut out: Vec<String> = found
        .iter()
        .filter_map(|p| p.strip_prefix(root).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}
