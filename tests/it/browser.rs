//! The web UI in a real browser (issue #8): `tests/e2e/walkthrough.mjs` drives
//! Chromium through playwright-core as a clerk (sign in, create a dataset,
//! upload a subsidy roll with resident IDs and mobiles, submit), a reviewer
//! (approve, publish), a citizen (search, filter the preview, download CSV)
//! and a researcher (SQL console), then checks accessibility with axe-core,
//! the keyboard path, security headers, the session cookie and CSRF, and saves
//! screenshots into `tests/artifacts/e2e`.
//!
//! Needs `node`, Chromium (`/usr/bin/chromium` or `GONGKAI_CHROMIUM`) and
//! `npm ci` in tests/e2e; skipped without them unless CI=true (.ci/run
//! installs them).

use crate::support::{Options, Server, required};
use reqwest::StatusCode;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

const AGENCY: &str = "e2e-county";
const EDITOR: &str = "e2e-clerk";
const REVIEWER: &str = "e2e-reviewer";
/// The walkthrough gives up by itself after `E2E_TIMEOUT_MS`; this is the backstop.
const TIMEOUT: Duration = Duration::from_secs(300);
const SCREENSHOTS: [&str; 9] = [
    "home.png",
    "search.png",
    "dataset.png",
    "sql.png",
    "login.png",
    "dashboard.png",
    "report.png",
    "review.png",
    "home-en.png",
];

/// The workspace root (this crate lives in `<root>/tests`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn chromium() -> PathBuf {
    std::env::var_os("GONGKAI_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What the walkthrough needs but this machine lacks.
fn missing(root: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        missing.push("node on PATH".to_string());
    }
    let chromium = chromium();
    if !chromium.exists() {
        missing.push(format!(
            "Chromium at {} (apt-get install chromium, or set GONGKAI_CHROMIUM)",
            chromium.display()
        ));
    }
    for package in ["playwright-core", "axe-core"] {
        if !root.join("tests/e2e/node_modules").join(package).is_dir() {
            missing.push(format!(
                "tests/e2e/node_modules/{package} (run `npm ci` in tests/e2e)"
            ));
        }
    }
    missing
}

/// An 18-character resident identity number with its ISO 7064 MOD 11-2 check character.
fn resident_id(area: &str, (year, month, day): (u32, u32, u32), sequence: u32) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let body = format!("{area}{year:04}{month:02}{day:02}{sequence:03}");
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    format!("{body}{}", char::from(CHECK[(sum % 11) as usize]))
}

/// A synthetic 低保 (minimum living allowance) roll: names, resident IDs,
/// mobiles, villages, household sizes and monthly amounts. Returns the CSV.
fn subsidy_roll(rows: u32) -> String {
    const SURNAMES: [&str; 12] = [
        "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
    ];
    const GIVEN: [&str; 10] = [
        "秀英", "桂兰", "建国", "玉梅", "志强", "海燕", "德福", "春花", "永明", "淑珍",
    ];
    const AREAS: [&str; 4] = ["370102", "370103", "370112", "370124"];
    const PREFIXES: [&str; 9] = [
        "130", "133", "137", "150", "153", "158", "180", "186", "189",
    ];
    const VILLAGES: [&str; 4] = ["东关村", "西营村", "南街社区", "北坡村"];
    let mut csv = String::from("姓名,身份证号,联系电话,村(社区),保障人数,月发放金额(元)\n");
    for i in 0..rows {
        let name = format!(
            "{}{}",
            SURNAMES[(i as usize * 7) % SURNAMES.len()],
            GIVEN[(i as usize * 3) % GIVEN.len()]
        );
        let birth = (1950 + (i * 7) % 41, 1 + (i * 5) % 12, 1 + (i * 11) % 28);
        let id = resident_id(AREAS[i as usize % AREAS.len()], birth, 100 + (i * 37) % 900);
        let mobile = format!(
            "{}{:08}",
            PREFIXES[(i as usize * 5) % PREFIXES.len()],
            (20_240_617 + u64::from(i) * 7_368_787) % 100_000_000
        );
        let village = VILLAGES[i as usize % VILLAGES.len()];
        let people = 1 + i % 4;
        let amount = 385 * people + (i % 3) * 20;
        csv.push_str(&format!(
            "{name},{id},{mobile},{village},{people},{amount}\n"
        ));
    }
    csv
}

async fn add_user(server: &Server, name: &str, role: &str, password: &str) {
    let r = server
        .post_json(
            "/api/v1/users",
            json!({"name": name, "role": role, "agency": AGENCY, "password": password}),
        )
        .await;
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "create user {name}: {body}");
}

async fn read_all(pipe: Option<impl tokio::io::AsyncRead + Unpin>) -> String {
    let mut bytes = Vec::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_end(&mut bytes).await;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn resident_id_check_character() {
    assert_eq!(
        resident_id("110105", (1949, 12, 31), 2),
        "11010519491231002X"
    );
    let roll = subsidy_roll(12);
    assert_eq!(roll.lines().count(), 13);
    assert!(roll.lines().skip(1).all(|l| l.split(',').count() == 6));
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_walkthrough() {
    let root = workspace();
    let missing = missing(&root);
    if !missing.is_empty() {
        assert!(
            !required(),
            "CI must provide the browser test tools (.ci/run): missing {}",
            missing.join(", ")
        );
        eprintln!("skipping: browser walkthrough needs {}", missing.join(", "));
        return;
    }

    let server = Server::start_with(Options {
        examples: true,
        ..Options::default()
    })
    .await;
    server.agency(AGENCY, None).await;
    let editor_password = format!("e2e-{}", uuid::Uuid::new_v4().simple());
    let reviewer_password = format!("e2e-{}", uuid::Uuid::new_v4().simple());
    add_user(&server, EDITOR, "editor", &editor_password).await;
    add_user(&server, REVIEWER, "reviewer", &reviewer_password).await;

    let upload_dir = tempfile::tempdir().expect("temp dir");
    let upload = upload_dir.path().join("2024年低保发放名册.csv");
    std::fs::write(&upload, subsidy_roll(12)).expect("writing the upload");

    let artifacts = root.join("tests/artifacts/e2e");
    if artifacts.exists() {
        std::fs::remove_dir_all(&artifacts).expect("clearing tests/artifacts/e2e");
    }
    std::fs::create_dir_all(&artifacts).expect("creating tests/artifacts/e2e");

    let mut child = tokio::process::Command::new("node")
        .arg(root.join("tests/e2e/walkthrough.mjs"))
        .current_dir(&root)
        .env("BASE_URL", &server.base)
        .env("EDITOR_USER", EDITOR)
        .env("EDITOR_PASSWORD", &editor_password)
        .env("REVIEWER_USER", REVIEWER)
        .env("REVIEWER_PASSWORD", &reviewer_password)
        .env("AGENCY", AGENCY)
        .env("UPLOAD_FILE", &upload)
        .env("ARTIFACTS", &artifacts)
        .env("CHROMIUM", chromium())
        .env("E2E_TIMEOUT_MS", (TIMEOUT.as_millis() - 30_000).to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting node tests/e2e/walkthrough.mjs");
    let stdout = tokio::spawn(read_all(child.stdout.take()));
    let stderr = tokio::spawn(read_all(child.stderr.take()));
    let waited = tokio::time::timeout(TIMEOUT, child.wait()).await;
    let status = match waited {
        Ok(status) => Some(status.expect("waiting for node")),
        Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            None
        }
    };
    let stdout = stdout.await.unwrap_or_default();
    let stderr = stderr.await.unwrap_or_default();
    let outcome = match status {
        Some(s) if s.success() => None,
        Some(s) => Some(format!("the walkthrough failed ({s})")),
        None => Some(format!(
            "the walkthrough did not finish within {} s and was killed",
            TIMEOUT.as_secs()
        )),
    };
    if let Some(what) = outcome {
        let log =
            std::fs::read_to_string(server.data_dir.path().join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "{what}; artifacts in {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server log (last lines)\n{}",
            artifacts.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        eprintln!("{stderr}");
    }
    for name in SCREENSHOTS {
        let file = artifacts.join(name);
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 0,
            "screenshot {} is missing or empty",
            file.display()
        );
    }
    assert!(
        artifacts.join("axe-results.json").exists(),
        "axe-results.json is missing"
    );
}
