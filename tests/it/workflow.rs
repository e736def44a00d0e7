//! Agencies, roles and the publishing workflow, end to end over HTTP and the CLI:
//! draft → submitted → rejected → resubmitted → approved → published (now or
//! scheduled) → superseded; withdrawal and correction; disclosure attributes;
//! deadlines; login, tokens and the audit log.

use crate::support::{ADMIN_TOKEN, Options, Server, binary, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CSV_V1: &[u8] = "项目,金额(元)\n道路硬化,1200\n路灯安装,300\n".as_bytes();
const CSV_V2: &[u8] = "项目,金额(元)\n道路硬化,1250\n路灯安装,300\n水渠修缮,80\n".as_bytes();
const CSV_V3: &[u8] = "项目,金额(元)\n道路硬化,1250\n路灯安装,310\n水渠修缮,80\n".as_bytes();

async fn get_as(server: &Server, token: Option<&str>, path: &str) -> reqwest::Response {
    let mut r = server.client.get(server.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

async fn upload_as(server: &Server, token: &str, slug: &str, bytes: &[u8]) -> Value {
    let r = server
        .client
        .post(server.url(&format!(
            "/api/v1/datasets/{slug}/uploads?filename=projects.csv"
        )))
        .bearer_auth(token)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "upload: {body}");
    body
}

async fn ok_json(r: reqwest::Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(
        status.is_success(),
        "expected success, got {status}: {body}"
    );
    body
}

/// Nothing of an unpublished dataset reaches an anonymous client.
async fn assert_invisible(server: &Server, slug: &str, version: i64) {
    for path in [
        format!("/api/v1/datasets/{slug}"),
        format!("/api/v1/datasets/{slug}/versions/{version}"),
        format!("/api/v1/datasets/{slug}/versions/{version}/data.csv"),
        format!("/api/v1/datasets/{slug}/data.csv"),
    ] {
        let s = server.get(&path).await.status();
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::GONE,
            "{path} answered {s} to the public"
        );
    }
    let r = server
        .client
        .post(server.url("/api/v1/sql"))
        .json(&json!({"sql": format!("SELECT * FROM \"{slug}\"")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "SQL sees {slug}");
    let list: Value = server.get("/api/v1/datasets").await.json().await.unwrap();
    assert!(
        !list.to_string().contains(&format!("\"{slug}\"")),
        "{slug} listed"
    );
}

#[tokio::test]
async fn draft_to_published_with_review_rejection_schedule_withdrawal_and_correction() {
    let server = Server::start_with(Options {
        scheduler_interval_secs: Some(1),
        ..Options::default()
    })
    .await;
    full_workflow(&server).await;
}

/// The whole review workflow on a server started with a 1-second scheduler.
pub async fn full_workflow(server: &Server) {
    server.agency("county", None).await;
    server.agency("finance", Some("county")).await;
    server.agency("other", None).await;
    let editor = server.user_token("wang", "editor", Some("finance")).await;
    let reviewer = server.user_token("li", "reviewer", Some("finance")).await;
    let county_reviewer = server.user_token("zhao", "reviewer", Some("county")).await;
    let outsider = server.user_token("chen", "editor", Some("other")).await;

    // An editor creates the dataset for their agency; others cannot.
    let r = server
        .post_as(
            &outsider,
            "/api/v1/datasets",
            json!({"slug": "projects", "title": "村级项目资金", "agency": "finance"}),
        )
        .await;
    error_code(r, StatusCode::FORBIDDEN).await;
    let d = ok_json(
        server
            .post_as(
                &editor,
                "/api/v1/datasets",
                json!({"slug": "projects", "title": "村级项目资金", "agency": "finance",
                       "decision_date": "2026-11-02"}),
            )
            .await,
    )
    .await;
    assert_eq!(d["status"], "draft");
    assert_eq!(d["disclosure"], "public");
    assert_eq!(d["disclosure_label"], "主动公开");

    let up = upload_as(server, &editor, "projects", CSV_V1).await;
    assert_eq!(up["status"], "draft");
    let v1 = "/api/v1/datasets/projects/versions/1";

    // The editor cannot approve or publish; nothing is public yet.
    for action in ["approve", "publish"] {
        let r = server
            .post_as(&editor, &format!("{v1}/{action}"), json!({}))
            .await;
        error_code(r, StatusCode::FORBIDDEN).await;
    }
    // A reviewer cannot publish a draft that was never reviewed.
    let r = server
        .post_as(&reviewer, &format!("{v1}/publish"), json!({}))
        .await;
    let (code, message) = error_code(r, StatusCode::CONFLICT).await;
    assert_eq!(code, "invalid_state");
    assert!(message.contains("approved"), "{message}");
    assert_invisible(server, "projects", 1).await;
    // The outsider does not even see the draft.
    assert_eq!(
        get_as(server, Some(&outsider), v1).await.status(),
        StatusCode::NOT_FOUND
    );

    // Submit → reject (comment required) → resubmit → approve (confirmations required).
    let s = ok_json(
        server
            .post_as(
                &editor,
                &format!("{v1}/submit"),
                json!({"change_note": "2026年第三季度"}),
            )
            .await,
    )
    .await;
    assert_eq!(s["status"], "submitted");
    assert_eq!(s["submitted_by"], "wang");
    let queue = ok_json(get_as(server, Some(&reviewer), "/api/v1/review-queue").await).await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 1);
    assert_eq!(queue["items"][0]["dataset"], "projects");
    error_code(
        get_as(server, Some(&editor), "/api/v1/review-queue").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_invisible(server, "projects", 1).await;

    let r = server
        .post_as(&reviewer, &format!("{v1}/reject"), json!({}))
        .await;
    error_code(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let rej = ok_json(
        server
            .post_as(
                &reviewer,
                &format!("{v1}/reject"),
                json!({"comment": "金额单位请核对"}),
            )
            .await,
    )
    .await;
    assert_eq!(rej["status"], "rejected");
    assert_eq!(rej["review_comment"], "金额单位请核对");
    assert_invisible(server, "projects", 1).await;
    ok_json(
        server
            .post_as(
                &editor,
                &format!("{v1}/submit"),
                json!({"change_note": "已核对单位"}),
            )
            .await,
    )
    .await;
    let r = server
        .post_as(&reviewer, &format!("{v1}/approve"), json!({}))
        .await;
    let (_, message) = error_code(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(message.contains("confidentiality_reviewed"), "{message}");
    let a = ok_json(
        server
            .post_as(
                &reviewer,
                &format!("{v1}/approve"),
                json!({"confidentiality_reviewed": true, "redaction_confirmed": true, "comment": "同意"}),
            )
            .await,
    )
    .await;
    assert_eq!(a["status"], "approved");
    assert_invisible(server, "projects", 1).await;
    // Approved is still not published by an editor.
    let r = server
        .post_as(&editor, &format!("{v1}/publish"), json!({}))
        .await;
    error_code(r, StatusCode::FORBIDDEN).await;
    let p = ok_json(
        server
            .post_as(&reviewer, &format!("{v1}/publish"), json!({}))
            .await,
    )
    .await;
    assert_eq!(p["status"], "published");
    assert_eq!(p["published_by"], "li");
    assert_eq!(
        server.sql("SELECT COUNT(*) AS n FROM projects").await["rows"][0]["n"],
        2
    );
    // The public sees the change note but not the reviewers' internals.
    let public: Value = server
        .get("/api/v1/datasets/projects")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["versions"][0]["change_note"], "已核对单位");
    assert!(public["versions"][0].get("review_comment").is_none());

    // Four-eyes: a reviewer's own upload needs someone else's approval; the
    // county reviewer (parent agency) may give it, and schedules publication.
    let up = upload_as(server, &reviewer, "projects", CSV_V2).await;
    assert_eq!(up["version"], 2);
    let v2 = "/api/v1/datasets/projects/versions/2";
    ok_json(
        server
            .post_as(&reviewer, &format!("{v2}/submit"), json!({}))
            .await,
    )
    .await;
    let r = server
        .post_as(
            &reviewer,
            &format!("{v2}/approve"),
            json!({"confidentiality_reviewed": true, "redaction_confirmed": true}),
        )
        .await;
    let (code, message) = error_code(r, StatusCode::CONFLICT).await;
    assert_eq!(code, "invalid_state");
    assert!(message.contains("another reviewer"), "{message}");
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let a = ok_json(
        server
            .post_as(
                &county_reviewer,
                &format!("{v2}/approve"),
                json!({"confidentiality_reviewed": true, "redaction_confirmed": true, "publish_at": at}),
            )
            .await,
    )
    .await;
    assert_eq!(a["status"], "approved");
    assert!(a["scheduled_at"].is_string());
    // Not yet public; the scheduler publishes it on time.
    let before: Value = server
        .get("/api/v1/datasets/projects")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["latest_version"], 1);
    let started = Instant::now();
    loop {
        let d: Value = server
            .get("/api/v1/datasets/projects")
            .await
            .json()
            .await
            .unwrap();
        if d["latest_version"] == 2 {
            let statuses: Vec<&str> = d["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["status"].as_str().unwrap())
                .collect();
            assert_eq!(statuses, ["superseded", "published"]);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "scheduled publication did not happen: {d}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        server.sql("SELECT COUNT(*) AS n FROM projects").await["rows"][0]["n"],
        3
    );
    assert_eq!(
        server
            .sql("SELECT COUNT(*) AS n FROM \"projects@v1\"")
            .await["rows"][0]["n"],
        2,
        "superseded versions stay queryable"
    );

    // Withdrawal: reviewers only, reason required; listed with its reason, no data anywhere.
    let r = server
        .post_as(
            &editor,
            "/api/v1/datasets/projects/withdraw",
            json!({"reason": "x"}),
        )
        .await;
    error_code(r, StatusCode::FORBIDDEN).await;
    let r = server
        .post_as(&reviewer, "/api/v1/datasets/projects/withdraw", json!({}))
        .await;
    error_code(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let w = ok_json(
        server
            .post_as(
                &reviewer,
                "/api/v1/datasets/projects/withdraw",
                json!({"reason": "数据有误，待更正"}),
            )
            .await,
    )
    .await;
    assert_eq!(w["status"], "withdrawn");
    let public: Value = server
        .get("/api/v1/datasets/projects")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["status"], "withdrawn");
    assert_eq!(public["withdrawn_reason"], "数据有误，待更正");
    let list: Value = server.get("/api/v1/datasets").await.json().await.unwrap();
    assert!(
        list.to_string().contains("\"projects\""),
        "withdrawn stays listed"
    );
    for path in [
        "/api/v1/datasets/projects/data.csv",
        "/api/v1/datasets/projects/data.parquet",
        "/api/v1/datasets/projects/versions/1/data.csv",
    ] {
        assert_eq!(server.get(path).await.status(), StatusCode::GONE, "{path}");
    }
    let r = server
        .client
        .post(server.url("/api/v1/sql"))
        .json(&json!({"sql": "SELECT * FROM \"projects@v1\""}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "withdrawn data queryable"
    );

    // Correction: only a version with a correction notice reinstates the dataset.
    upload_as(server, &editor, "projects", CSV_V3).await;
    let v3 = "/api/v1/datasets/projects/versions/3";
    ok_json(
        server
            .post_as(&editor, &format!("{v3}/submit"), json!({}))
            .await,
    )
    .await;
    ok_json(
        server
            .post_as(
                &reviewer,
                &format!("{v3}/approve"),
                json!({"confidentiality_reviewed": true, "redaction_confirmed": true}),
            )
            .await,
    )
    .await;
    let r = server
        .post_as(&reviewer, &format!("{v3}/publish"), json!({}))
        .await;
    let (_, message) = error_code(r, StatusCode::CONFLICT).await;
    assert!(message.contains("correction"), "{message}");
    ok_json(
        server
            .post_as(
                &reviewer,
                &format!("{v3}/reject"),
                json!({"comment": "请附更正说明"}),
            )
            .await,
    )
    .await;
    ok_json(
        server
            .post_as(
                &editor,
                &format!("{v3}/submit"),
                json!({"correction_notice": "更正路灯安装金额：300 → 310 元"}),
            )
            .await,
    )
    .await;
    ok_json(
        server
            .post_as(
                &reviewer,
                &format!("{v3}/approve"),
                json!({"confidentiality_reviewed": true, "redaction_confirmed": true}),
            )
            .await,
    )
    .await;
    ok_json(
        server
            .post_as(&reviewer, &format!("{v3}/publish"), json!({}))
            .await,
    )
    .await;
    let public: Value = server
        .get("/api/v1/datasets/projects")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["status"], "published");
    assert_eq!(public["latest_version"], 3);
    // Only the correction is served; what was withdrawn stays withdrawn.
    let served: Vec<i64> = public["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(served, [3]);
    assert_eq!(
        public["versions"][0]["correction_notice"],
        "更正路灯安装金额：300 → 310 元"
    );
    for path in [
        "/api/v1/datasets/projects/versions/2/data.csv",
        "/api/v1/datasets/projects/versions/1/data.parquet",
    ] {
        assert_eq!(
            server.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let r = server
        .client
        .post(server.url("/api/v1/sql"))
        .json(&json!({"sql": "SELECT * FROM \"projects@v2\""}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "withdrawn version queryable again"
    );
    let staff: Value = get_as(server, Some(&editor), "/api/v1/datasets/projects")
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = staff["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["withdrawn", "withdrawn", "published"]);
    let csv = server
        .get("/api/v1/datasets/projects/data.csv")
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("310"), "{csv}");

    // Every step is in the audit log, with who and before/after.
    let audit = ok_json(get_as(server, Some(ADMIN_TOKEN), "/api/v1/audit?limit=5000").await).await;
    let events = audit["events"].as_array().unwrap();
    let find = |action: &str, actor: &str| {
        events.iter().any(|e| {
            e["action"] == action
                && e["actor"] == actor
                && e["subject"]
                    .as_str()
                    .unwrap()
                    .starts_with("dataset:projects")
        })
    };
    assert!(find("version.submit", "wang"));
    assert!(find("version.reject", "li"));
    assert!(find("version.approve", "zhao"));
    assert!(
        find("version.publish", "li"),
        "scheduled publication acts for the reviewer"
    );
    assert!(find("dataset.withdraw", "li"));
    let reject = events
        .iter()
        .find(|e| e["action"] == "version.reject")
        .unwrap();
    assert_eq!(reject["details"]["before"]["status"], "submitted");
    assert_eq!(reject["details"]["after"]["status"], "rejected");
    error_code(
        get_as(server, Some(&reviewer), "/api/v1/audit").await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

#[tokio::test]
async fn disclosure_attributes_and_deadlines() {
    let server = Server::start().await;
    disclosure_and_deadlines(&server).await;
}

/// Disclosure attributes and deadline reports.
pub async fn disclosure_and_deadlines(server: &Server) {
    server.agency("town", None).await;
    server.agency("elsewhere", None).await;
    let editor = server.user_token("clerk", "editor", Some("town")).await;
    let reviewer = server.user_token("head", "reviewer", Some("town")).await;
    let outsider = server
        .user_token("stranger", "editor", Some("elsewhere"))
        .await;

    // 依申请公开: listed with its metadata, data not served to the public.
    ok_json(
        server
            .post_as(
                &editor,
                "/api/v1/datasets",
                json!({"slug": "on-request", "title": "依申请公开的数据", "agency": "town",
                       "disclosure": "on_request", "disclosure_reason": "涉及第三方权益"}),
            )
            .await,
    )
    .await;
    upload_as(server, &editor, "on-request", CSV_V1).await;
    let v = "/api/v1/datasets/on-request/versions/1";
    ok_json(
        server
            .post_as(&editor, &format!("{v}/submit"), json!({}))
            .await,
    )
    .await;
    ok_json(
        server
            .post_as(
                &reviewer,
                &format!("{v}/approve"),
                json!({"confidentiality_reviewed": true, "redaction_confirmed": true}),
            )
            .await,
    )
    .await;
    ok_json(
        server
            .post_as(&reviewer, &format!("{v}/publish"), json!({}))
            .await,
    )
    .await;
    let d: Value = server
        .get("/api/v1/datasets/on-request")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["disclosure_label"], "依申请公开");
    assert!(d["links"].get("csv").is_none());
    let (code, _) = error_code(
        server.get("/api/v1/datasets/on-request/data.csv").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(code, "data_on_request");
    let r = server
        .client
        .post(server.url("/api/v1/sql"))
        .json(&json!({"sql": "SELECT * FROM \"on-request\""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The agency's own staff still download it.
    assert_eq!(
        get_as(
            server,
            Some(&editor),
            "/api/v1/datasets/on-request/data.csv"
        )
        .await
        .status(),
        StatusCode::OK
    );

    // 不予公开: only reviewers set it, with a reason; then it is internal only.
    let r = server
        .client
        .patch(server.url("/api/v1/datasets/on-request"))
        .bearer_auth(&editor)
        .json(&json!({"disclosure": "not_public", "disclosure_reason": "国家秘密"}))
        .send()
        .await
        .unwrap();
    error_code(r, StatusCode::FORBIDDEN).await;
    let r = server
        .client
        .patch(server.url("/api/v1/datasets/on-request"))
        .bearer_auth(&reviewer)
        .json(&json!({"disclosure": "not_public"}))
        .send()
        .await
        .unwrap();
    error_code(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = server
        .client
        .patch(server.url("/api/v1/datasets/on-request"))
        .bearer_auth(&reviewer)
        .json(&json!({"disclosure": "not_public", "disclosure_reason": "属于内部事务信息"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(r).await["disclosure"], "not_public");
    assert_invisible(server, "on-request", 1).await;
    assert_eq!(
        get_as(server, Some(&outsider), "/api/v1/datasets/on-request")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_as(server, Some(&editor), "/api/v1/datasets/on-request")
            .await
            .status(),
        StatusCode::OK
    );

    // Deadlines: 7 working days from the decision date, overdue shown to the
    // agency and in the admin report; a fresh decision is still due.
    for (slug, date) in [("late", "2020-01-02"), ("fresh", "2099-12-01")] {
        ok_json(
            server
                .post_as(
                    &editor,
                    "/api/v1/datasets",
                    json!({"slug": slug, "title": slug, "agency": "town", "decision_date": date}),
                )
                .await,
        )
        .await;
    }
    let r = server
        .post_as(
            &editor,
            "/api/v1/datasets",
            json!({"slug": "bad-date", "title": "x", "agency": "town", "decision_date": "2020-13-45"}),
        )
        .await;
    error_code(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    for date in ["+262142-12-31", "1200-01-01"] {
        let r = server
            .post_as(
                &editor,
                "/api/v1/datasets",
                json!({"slug": "odd-date", "title": "x", "agency": "town", "decision_date": date}),
            )
            .await;
        error_code(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // The category sets redaction defaults: editors cannot change it.
    let r = server
        .client
        .patch(server.url("/api/v1/datasets/late"))
        .bearer_auth(&editor)
        .json(&json!({"category": "social_assistance"}))
        .send()
        .await
        .unwrap();
    error_code(r, StatusCode::FORBIDDEN).await;
    let report =
        ok_json(get_as(server, Some(&editor), "/api/v1/agencies/town/deadlines").await).await;
    assert_eq!(report["overdue"], 1, "{report}");
    let late = &report["items"][0];
    assert_eq!(late["slug"], "late");
    assert_eq!(late["state"], "overdue");
    // 2020-01-02 (Thursday) + 7 working days = 2020-01-13 (weekends skipped).
    assert_eq!(late["deadline"], "2020-01-13");
    assert!(late["working_days_left"].as_i64().unwrap() < 0);
    let fresh = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["slug"] == "fresh")
        .unwrap();
    assert_eq!(fresh["state"], "due");
    error_code(
        get_as(server, Some(&outsider), "/api/v1/agencies/town/deadlines").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    error_code(
        get_as(server, None, "/api/v1/agencies/town/deadlines").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let admin = ok_json(get_as(server, Some(ADMIN_TOKEN), "/api/v1/admin/deadlines").await).await;
    assert_eq!(admin["overdue"], 1);
    error_code(
        get_as(server, Some(&reviewer), "/api/v1/admin/deadlines").await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

#[tokio::test]
async fn logins_tokens_and_the_cli() {
    let server = Server::start().await;
    let data_dir = server.data_dir.path().to_path_buf();
    let cli = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(binary())
            .args(args)
            .arg("--data-dir")
            .arg(&data_dir)
            .env_remove("GONGKAI_CATALOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };

    // The CLI works against the same data directory while the server runs.
    let (ok, _, err) = cli(
        &["agency", "add", "county-gov", "--name", "某县人民政府"],
        None,
    );
    assert!(ok, "{err}");
    let (ok, _, err) = cli(
        &[
            "agency",
            "add",
            "county-edu",
            "--name",
            "某县教育局",
            "--parent",
            "county-gov",
        ],
        None,
    );
    assert!(ok, "{err}");
    let (ok, _, err) = cli(&["agency", "add", "county-edu", "--name", "重复"], None);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = cli(
        &[
            "user",
            "add",
            "zhang",
            "--agency",
            "county-edu",
            "--role",
            "editor",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = cli(&["user", "add", "nobody", "--role", "editor"], None);
    assert!(!ok && err.contains("agency"), "{err}");
    let (ok, token, err) = cli(&["token", "create", "--user", "zhang"], None);
    assert!(ok, "{err}");
    let token = token.trim().to_string();
    assert!(token.starts_with("gk_"));
    let me = ok_json(get_as(&server, Some(&token), "/api/v1/me").await).await;
    assert_eq!(me["user"], "zhang");
    assert_eq!(me["role"], "editor");
    assert_eq!(me["agency"], "county-edu");
    let agencies: Value = server
        .get("/api/v1/agencies/county-gov")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(agencies["children"], json!(["county-edu"]));

    // Password login: failures are refused and audited, success gives a session token.
    let login = |user: &str, password: &str| {
        server
            .client
            .post(server.url("/api/v1/login"))
            .json(&json!({"user": user, "password": password}))
            .send()
    };
    let (code, _) = error_code(
        login("zhang", "wrong password!!").await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(code, "login_failed");
    error_code(
        login("ghost", "whatever at all").await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let r = login("zhang", "a long enough password").await.unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure"),
        "{cookie}"
    );
    let session = ok_json(r).await;
    let session_token = session["token"].as_str().unwrap().to_string();
    assert_eq!(
        ok_json(get_as(&server, Some(&session_token), "/api/v1/me").await).await["user"],
        "zhang"
    );
    let r = server
        .post_as(&session_token, "/api/v1/logout", Value::Null)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    error_code(
        get_as(&server, Some(&session_token), "/api/v1/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Read-only tokens see drafts but change nothing; revoked tokens stop working.
    let ro = ok_json(
        server
            .post_as(
                &token,
                "/api/v1/tokens",
                json!({"scope": "read", "label": "dashboard"}),
            )
            .await,
    )
    .await;
    let ro_token = ro["token"].as_str().unwrap().to_string();
    ok_json(
        server
            .post_as(
                &token,
                "/api/v1/datasets",
                json!({"slug": "schools", "title": "学校名录", "agency": "county-edu"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        get_as(&server, Some(&ro_token), "/api/v1/datasets/schools")
            .await
            .status(),
        StatusCode::OK
    );
    error_code(
        server
            .post_as(
                &ro_token,
                "/api/v1/datasets",
                json!({"slug": "x", "title": "x", "agency": "county-edu"}),
            )
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let listed = ok_json(get_as(&server, Some(&token), "/api/v1/tokens").await).await;
    assert!(listed.to_string().contains("dashboard"));
    assert!(
        !listed.to_string().contains(&ro_token),
        "secrets are never listed"
    );
    let r = server
        .client
        .delete(server.url(&format!("/api/v1/tokens/{}", ro["id"])))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    ok_json(r).await;
    error_code(
        get_as(&server, Some(&ro_token), "/api/v1/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Disabling a user revokes their tokens at once.
    let r = server
        .client
        .patch(server.url("/api/v1/users/zhang"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert!(ok_json(r).await["disabled_at"].is_string());
    error_code(
        get_as(&server, Some(&token), "/api/v1/me").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    error_code(
        login("zhang", "a long enough password").await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // The audit log holds permission changes and login failures, and exports as CSV.
    let r = get_as(&server, Some(ADMIN_TOKEN), "/api/v1/audit?format=csv").await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let has =
        |action: &str, subject: &str| rows.iter().any(|r| &r[3] == action && &r[4] == subject);
    assert!(has("agency.create", "agency:county-edu"));
    assert!(has("user.create", "user:zhang"));
    assert!(has("token.create", "user:zhang"));
    assert!(has("token.revoke", "user:zhang"));
    assert!(has("user.update", "user:zhang"));
    assert!(has("login.failure", "user:zhang"));
    assert!(has("login.failure", "user:ghost"));
    assert!(has("login.success", "user:zhang"));
    assert!(
        !text.contains("a long enough password"),
        "a password reached the audit log"
    );
    // There is no way to change it through the API.
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
        reqwest::Method::POST,
    ] {
        let r = server
            .client
            .request(method.clone(), server.url("/api/v1/audit"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} /api/v1/audit"
        );
    }
}
