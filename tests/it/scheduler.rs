//! A scheduled publication is checked again when it fires: the reviewer who
//! scheduled it must still be allowed to publish in the dataset's agency by
//! the same rule as the publish endpoint (their current role and agency, the
//! agency hierarchy included). Otherwise the schedule is cleared (audited).

use crate::support::{ADMIN_TOKEN, Options, Server};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn ok_json(r: reqwest::Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(
        status.is_success(),
        "expected success, got {status}: {body}"
    );
    body
}

async fn get_as(server: &Server, token: &str, path: &str) -> Value {
    ok_json(
        server
            .client
            .get(server.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Creates `slug` in `finance`, uploads and submits it as the editor, and
/// has `reviewer` approve it for publication at `at`.
async fn scheduled(server: &Server, editor: &str, reviewer: &str, slug: &str, at: &str) {
    ok_json(
        server
            .post_as(
                editor,
                "/api/v1/datasets",
                json!({"slug": slug, "title": "定时发布", "agency": "finance"}),
            )
            .await,
    )
    .await;
    let r = server
        .client
        .post(server.url(&format!("/api/v1/datasets/{slug}/uploads?filename=a.csv")))
        .bearer_auth(editor)
        .body("项目,金额(元)\n道路,100\n")
        .send()
        .await
        .unwrap();
    ok_json(r).await;
    let v = format!("/api/v1/datasets/{slug}/versions/1");
    ok_json(
        server
            .post_as(editor, &format!("{v}/submit"), json!({}))
            .await,
    )
    .await;
    let a = ok_json(
        server
            .post_as(
                reviewer,
                &format!("{v}/approve"),
                json!({"confidentiality_reviewed": true, "redaction_confirmed": true, "publish_at": at}),
            )
            .await,
    )
    .await;
    assert!(a["scheduled_at"].is_string(), "{a}");
}

async fn move_user(server: &Server, name: &str, agency: &str) {
    let r = server
        .client
        .patch(server.url(&format!("/api/v1/users/{name}")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"agency": agency}))
        .send()
        .await
        .unwrap();
    ok_json(r).await;
}

#[tokio::test]
async fn a_reviewer_moved_away_no_longer_publishes_on_schedule() {
    let server = Server::start_with(Options {
        scheduler_interval_secs: Some(1),
        ..Options::default()
    })
    .await;
    server.agency("county", None).await;
    server.agency("finance", Some("county")).await;
    server.agency("other", None).await;
    let editor = server
        .user_token("sched-editor", "editor", Some("finance"))
        .await;
    let leaver = server
        .user_token("leaver", "reviewer", Some("finance"))
        .await;
    let promoted = server
        .user_token("promoted", "reviewer", Some("finance"))
        .await;

    let at = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    scheduled(&server, &editor, &leaver, "moved-away", &at).await;
    scheduled(&server, &editor, &promoted, "moved-up", &at).await;
    // Before the time comes, one reviewer moves to an unrelated agency and
    // the other to the parent agency (whose role still covers finance).
    move_user(&server, "leaver", "other").await;
    move_user(&server, "promoted", "county").await;

    let started = Instant::now();
    loop {
        let up = get_as(&server, &editor, "/api/v1/datasets/moved-up").await;
        if up["status"] == "published" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the reviewer of the parent agency's schedule did not fire: {up}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Give the scheduler a few more rounds on the other one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let away = get_as(&server, &editor, "/api/v1/datasets/moved-away").await;
    assert_eq!(
        away["status"], "draft",
        "published for a reviewer who left the agency: {away}"
    );
    assert_eq!(away["versions"][0]["status"], "approved");
    assert!(
        away["versions"][0]["scheduled_at"].is_null(),
        "the schedule was not cleared: {away}"
    );
    assert_eq!(
        server
            .get("/api/v1/datasets/moved-away/data.csv")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // The unscheduling is in the audit log.
    let audit = get_as(&server, ADMIN_TOKEN, "/api/v1/audit?limit=5000").await;
    let cleared = audit["events"].as_array().unwrap().iter().any(|e| {
        e["action"] == "version.schedule"
            && e["subject"] == "dataset:moved-away@v1"
            && e["actor"] == "scheduler"
            && e["details"]["scheduled_at"].is_null()
    });
    assert!(cleared, "no audited unscheduling: {audit}");
    // The reviewer still in charge can publish by hand.
    let r = server
        .post_as(
            &promoted,
            "/api/v1/datasets/moved-away/versions/1/publish",
            json!({}),
        )
        .await;
    ok_json(r).await;
}
