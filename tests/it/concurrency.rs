//! Concurrent edits of one dataset: a PATCH changes only the fields it sends,
//! two PATCHes of different fields both take effect, a disclosure change is
//! never undone by a concurrent metadata edit, the audit log's "before" is
//! what the row held when the change was written, and `If-Match` with a
//! revision that is no longer current is refused with 412.

use crate::support::{Options, Server, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Rounds of racing PATCHes (on the code before the fix about 6 in 10 lost one).
const ROUNDS: usize = 20;

async fn ok_json(r: reqwest::Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(
        status.is_success(),
        "expected success, got {status}: {body}"
    );
    body
}

async fn patch_as(server: &Server, token: &str, slug: &str, body: Value) -> reqwest::Response {
    server
        .client
        .patch(server.url(&format!("/api/v1/datasets/{slug}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get_as(server: &Server, token: &str, path: &str) -> reqwest::Response {
    server
        .client
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// An agency with an editor and a reviewer, and a published dataset of it.
/// Returns (editor token, reviewer token).
async fn published_dataset(server: &Server, agency: &str, slug: &str) -> (String, String) {
    server.agency(agency, None).await;
    let editor = server
        .user_token(&format!("{agency}-editor"), "editor", Some(agency))
        .await;
    let reviewer = server
        .user_token(&format!("{agency}-reviewer"), "reviewer", Some(agency))
        .await;
    ok_json(
        server
            .post_as(
                &editor,
                "/api/v1/datasets",
                json!({"slug": slug, "title": "并发编辑测试", "agency": agency}),
            )
            .await,
    )
    .await;
    let r = server
        .client
        .post(server.url(&format!("/api/v1/datasets/{slug}/uploads?filename=a.csv")))
        .bearer_auth(&editor)
        .body("项目,金额(元)\n道路,100\n路灯,30\n")
        .send()
        .await
        .unwrap();
    ok_json(r).await;
    let v = format!("/api/v1/datasets/{slug}/versions/1");
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
    (editor, reviewer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_disclosure_and_description_patches_both_hold() {
    let server = Server::start_with(Options {
        config: Some("[rate_limit]\nenabled = false\n".into()),
        ..Options::default()
    })
    .await;
    concurrent_patches(&server).await;
}

/// Many rounds of a reviewer's `{"disclosure": "not_public"}` racing an
/// editor's `{"description": …}` on the same dataset.
pub async fn concurrent_patches(server: &Server) {
    let slug = "race";
    let (editor, reviewer) = published_dataset(server, "race-office", slug).await;
    let mut lost = Vec::new();
    for round in 0..ROUNDS {
        // Start each round public, with data served to everyone.
        ok_json(patch_as(server, &reviewer, slug, json!({"disclosure": "public"})).await).await;
        assert_eq!(
            server
                .get(&format!("/api/v1/datasets/{slug}/data.csv"))
                .await
                .status(),
            StatusCode::OK
        );
        let description = format!("第 {round} 轮说明");
        let (a, b) = tokio::join!(
            patch_as(
                server,
                &reviewer,
                slug,
                json!({"disclosure": "not_public", "disclosure_reason": "属于内部事务信息"}),
            ),
            patch_as(server, &editor, slug, json!({"description": description})),
        );
        ok_json(a).await;
        ok_json(b).await;
        let d = ok_json(get_as(server, &reviewer, &format!("/api/v1/datasets/{slug}")).await).await;
        let data = server
            .get(&format!("/api/v1/datasets/{slug}/data.csv"))
            .await
            .status();
        let held = d["disclosure"] == "not_public"
            && d["description"] == description.as_str()
            && data == StatusCode::NOT_FOUND;
        if !held {
            lost.push(format!(
                "round {round}: disclosure {}, description {}, anonymous data.csv {data}",
                d["disclosure"], d["description"]
            ));
        }
    }
    // The audit log chains: each edit's "before" is the previous edit's "after".
    let audit = ok_json(
        get_as(
            server,
            crate::support::ADMIN_TOKEN,
            "/api/v1/audit?limit=5000",
        )
        .await,
    )
    .await;
    let events: Vec<&Value> = audit["events"]
        .as_array()
        .expect("audit events")
        .iter()
        .filter(|e| e["action"] == "dataset.update" && e["subject"] == format!("dataset:{slug}"))
        .collect();
    assert_eq!(events.len(), ROUNDS * 3, "one audit event per PATCH");
    let mut false_before = 0;
    for pair in events.windows(2) {
        let (prev, next) = (&pair[0]["details"], &pair[1]["details"]);
        for field in ["disclosure", "description"] {
            if prev["after"][field] != next["before"][field] {
                false_before += 1;
            }
        }
    }
    eprintln!(
        "concurrent PATCH: {} of {ROUNDS} rounds lost an update, {false_before} false audit \"before\" value(s)",
        lost.len()
    );
    assert!(lost.is_empty(), "lost updates:\n{}", lost.join("\n"));
    assert_eq!(false_before, 0, "the audit log recorded a stale \"before\"");

    // A withdrawal racing a metadata edit: both hold.
    let withdraw = format!("/api/v1/datasets/{slug}/withdraw");
    let (a, b) = tokio::join!(
        server.post_as(&reviewer, &withdraw, json!({"reason": "数据有误"})),
        patch_as(server, &editor, slug, json!({"title": "新标题"})),
    );
    ok_json(a).await;
    ok_json(b).await;
    let d = ok_json(get_as(server, &reviewer, &format!("/api/v1/datasets/{slug}")).await).await;
    assert_eq!(d["status"], "withdrawn", "{d}");
    assert_eq!(d["title"], "新标题", "{d}");
    assert_eq!(d["disclosure"], "not_public", "{d}");
}

#[tokio::test]
async fn a_stale_if_match_is_refused_with_412() {
    let server = Server::start().await;
    if_match_scenario(&server).await;
}

/// ETags and If-Match on one dataset (revision moved by edits and withdrawal).
pub async fn if_match_scenario(server: &Server) {
    let slug = "etag";
    let (editor, reviewer) = published_dataset(server, "etag-office", slug).await;
    let path = format!("/api/v1/datasets/{slug}");

    // GET carries the revision as an ETag and in the JSON.
    let r = get_as(server, &editor, &path).await;
    let etag = r
        .headers()
        .get("etag")
        .expect("ETag on GET /api/v1/datasets/{slug}")
        .to_str()
        .unwrap()
        .to_string();
    let d = ok_json(r).await;
    let revision = d["revision"].as_i64().expect("revision in the JSON");
    assert_eq!(etag, format!("\"{revision}\""));
    // The anonymous public sees the same revision.
    let public = server.get(&path).await;
    assert_eq!(public.headers()["etag"].to_str().unwrap(), etag);

    // A matching If-Match applies and moves the revision on.
    let r = server
        .client
        .patch(server.url(&path))
        .bearer_auth(&editor)
        .header("if-match", &etag)
        .json(&json!({"description": "第一次修改"}))
        .send()
        .await
        .unwrap();
    let new_etag = r.headers()["etag"].to_str().unwrap().to_string();
    let d = ok_json(r).await;
    assert_eq!(d["description"], "第一次修改");
    assert_eq!(d["revision"], revision + 1);
    assert_eq!(new_etag, format!("\"{}\"", revision + 1));

    // The old ETag no longer matches: 412, nothing changes.
    let r = server
        .client
        .patch(server.url(&path))
        .bearer_auth(&editor)
        .header("if-match", &etag)
        .json(&json!({"description": "基于旧版本的修改"}))
        .send()
        .await
        .unwrap();
    let (code, message) = error_code(r, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(code, "precondition_failed");
    assert!(message.contains(slug), "{message}");
    let d = ok_json(get_as(server, &editor, &path).await).await;
    assert_eq!(d["description"], "第一次修改");
    assert_eq!(d["revision"], revision + 1);

    // One of several tags matching is enough; `*` matches any revision.
    let r = server
        .client
        .patch(server.url(&path))
        .bearer_auth(&editor)
        .header("if-match", format!("{etag}, {new_etag}"))
        .json(&json!({"keywords": ["预算"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(r).await["revision"], revision + 2);
    let r = server
        .client
        .patch(server.url(&path))
        .bearer_auth(&editor)
        .header("if-match", "*")
        .json(&json!({"spatial": "示例县"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(r).await["revision"], revision + 3);

    // Every change of the dataset row moves the revision: withdrawal too, so
    // an edit prepared before it is refused.
    let before_withdrawal = format!("\"{}\"", revision + 3);
    ok_json(
        server
            .post_as(
                &reviewer,
                &format!("{path}/withdraw"),
                json!({"reason": "数据有误"}),
            )
            .await,
    )
    .await;
    let d = ok_json(get_as(server, &editor, &path).await).await;
    assert_eq!(d["revision"], revision + 4);
    assert_eq!(d["status"], "withdrawn");
    let r = server
        .client
        .patch(server.url(&path))
        .bearer_auth(&editor)
        .header("if-match", &before_withdrawal)
        .json(&json!({"title": "新标题"}))
        .send()
        .await
        .unwrap();
    error_code(r, StatusCode::PRECONDITION_FAILED).await;

    // A caller who may not see a hidden dataset learns nothing from If-Match.
    ok_json(
        patch_as(
            server,
            &reviewer,
            slug,
            json!({"disclosure": "not_public", "disclosure_reason": "属于内部事务信息"}),
        )
        .await,
    )
    .await;
    server.agency("etag-other", None).await;
    let outsider = server
        .user_token("etag-outsider", "editor", Some("etag-other"))
        .await;
    let r = server
        .client
        .patch(server.url(&path))
        .bearer_auth(&outsider)
        .header("if-match", "\"1\"")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    error_code(r, StatusCode::NOT_FOUND).await;
}
