//! Authorization matrix: every operation the server describes in
//! `/openapi.json` × {anonymous, editor of the agency, editor of another
//! agency, reviewer of the agency, platform admin}, each cell against fresh
//! state. The policy below is written independently of the server; an
//! operation the policy does not know fails the test, so new endpoints must
//! be classified here.
//!
//! A cell the policy forbids must not succeed (no 2xx); a cell it allows must.

use crate::support::Server;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Caller {
    Anonymous,
    EditorOwn,
    EditorOther,
    Reviewer,
    Admin,
}

const CALLERS: [Caller; 5] = [
    Caller::Anonymous,
    Caller::EditorOwn,
    Caller::EditorOther,
    Caller::Reviewer,
    Caller::Admin,
];

/// What state an operation needs to be tried on.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A dataset `m<N>` of agency `dept` with v1 published and v2 in the given state.
    Version(&'static str),
    /// A never-published (draft) dataset of `dept`.
    DraftDataset,
    /// Nothing in particular.
    None,
}

struct Rule {
    /// Callers who may succeed.
    allowed: &'static [Caller],
    target: Target,
    /// Request body.
    body: fn(&str) -> Value,
    /// Concrete path, from the template.
    path: fn(&str, &Fixture) -> String,
}

const ALL: &[Caller] = &CALLERS;
const SIGNED: &[Caller] = &[
    Caller::EditorOwn,
    Caller::EditorOther,
    Caller::Reviewer,
    Caller::Admin,
];
const STAFF: &[Caller] = &[Caller::EditorOwn, Caller::Reviewer, Caller::Admin];
const REVIEWERS: &[Caller] = &[Caller::Reviewer, Caller::Admin];
const ADMINS: &[Caller] = &[Caller::Admin];
const NOBODY: &[Caller] = &[];

struct Fixture {
    slug: String,
    victim_token_id: i64,
    victim_user: String,
}

fn no_body(_: &str) -> Value {
    Value::Null
}

fn template(tpl: &str, f: &Fixture) -> String {
    tpl.replace("{slug}", &f.slug)
        .replace("{number}", "2")
        .replace("{file}", "data.csv")
        .replace("{name}", &f.victim_user)
        .replace("{id}", &f.victim_token_id.to_string())
}

/// The policy: operation id → rule.
fn policy() -> BTreeMap<&'static str, Rule> {
    fn rule(allowed: &'static [Caller], target: Target) -> Rule {
        Rule {
            allowed,
            target,
            body: no_body,
            path: |tpl, f| template(tpl, f),
        }
    }
    let mut p = BTreeMap::new();
    // Public reading (the resource itself decides visibility below).
    p.insert("health", rule(ALL, Target::None));
    p.insert("openapi", rule(ALL, Target::None));
    p.insert("feed.dcat_jsonld", rule(ALL, Target::None));
    p.insert("feed.dcat_turtle", rule(ALL, Target::None));
    p.insert("feed.data_json", rule(ALL, Target::None));
    p.insert("feed.sitemap", rule(ALL, Target::None));
    p.insert("catalogue.csv", rule(ALL, Target::None));
    p.insert("catalogue.xlsx", rule(ALL, Target::None));
    p.insert("agency.list", rule(ALL, Target::None));
    p.insert(
        "agency.show",
        Rule {
            path: |_, _| "/api/v1/agencies/dept".into(),
            ..rule(ALL, Target::None)
        },
    );
    p.insert("dataset.list", rule(ALL, Target::None));
    p.insert(
        "sql.get",
        Rule {
            path: |_, _| "/api/v1/sql?q=SELECT%201".into(),
            ..rule(ALL, Target::None)
        },
    );
    p.insert(
        "sql.post",
        Rule {
            body: |_| json!({"sql": "SELECT 1"}),
            ..rule(ALL, Target::None)
        },
    );
    // Login with wrong credentials never succeeds, whoever asks.
    p.insert(
        "login",
        Rule {
            body: |_| json!({"user": "admin", "password": "not the password"}),
            ..rule(NOBODY, Target::None)
        },
    );
    // Unpublished material: the agency's staff only.
    p.insert("dataset.show", rule(STAFF, Target::DraftDataset));
    p.insert("version.list", rule(STAFF, Target::DraftDataset));
    p.insert("version.show", rule(STAFF, Target::Version("draft")));
    p.insert("version.download", rule(STAFF, Target::Version("draft")));
    // The latest published data of a draft-only dataset does not exist for anyone.
    p.insert("dataset.download", rule(NOBODY, Target::DraftDataset));
    // Rows follow the same rules as downloads.
    p.insert("version.rows", rule(STAFF, Target::Version("draft")));
    p.insert("dataset.rows", rule(NOBODY, Target::DraftDataset));
    p.insert("table.list", rule(ALL, Target::None));
    p.insert(
        "ckan.action.get",
        Rule {
            path: |_, _| "/api/3/action/package_list".into(),
            ..rule(ALL, Target::None)
        },
    );
    p.insert(
        "ckan.action_unversioned.get",
        Rule {
            path: |_, f| format!("/api/action/package_show?id={}", f.slug),
            ..rule(NOBODY, Target::DraftDataset)
        },
    );
    p.insert(
        "ckan.action_unversioned.post",
        Rule {
            path: |_, _| "/api/action/organization_list".into(),
            ..rule(ALL, Target::None)
        },
    );
    p.insert(
        "ckan.action.post",
        Rule {
            path: |_, _| "/api/3/action/package_search".into(),
            ..rule(ALL, Target::None)
        },
    );
    // Signed-in basics.
    p.insert("me", rule(SIGNED, Target::None));
    p.insert("logout", rule(SIGNED, Target::None));
    p.insert("token.list", rule(SIGNED, Target::None));
    p.insert(
        "token.create",
        Rule {
            body: |_| json!({"label": "matrix"}),
            ..rule(SIGNED, Target::None)
        },
    );
    // Another user's token: only admins may revoke it.
    p.insert("token.revoke", rule(ADMINS, Target::None));
    // Agency work.
    p.insert(
        "dataset.create",
        Rule {
            body: |slug| json!({"slug": format!("{slug}-new"), "title": "新数据集", "agency": "dept"}),
            ..rule(STAFF, Target::None)
        },
    );
    p.insert(
        "dataset.update",
        Rule {
            body: |_| json!({"title": "改过的标题"}),
            ..rule(STAFF, Target::Version("draft"))
        },
    );
    p.insert(
        "version.upload",
        Rule {
            path: |_, f| format!("/api/v1/datasets/{}/uploads?filename=u.csv", f.slug),
            body: |_| json!("raw"),
            ..rule(STAFF, Target::Version("draft"))
        },
    );
    p.insert(
        "version.redaction",
        Rule {
            body: |_| json!({"columns": {"jin_e": {"action": "drop"}}}),
            ..rule(STAFF, Target::Version("draft"))
        },
    );
    p.insert(
        "version.columns",
        Rule {
            body: |_| json!({"columns": {"jin_e": {"description": "发放金额（元）"}}}),
            ..rule(STAFF, Target::Version("draft"))
        },
    );
    p.insert("version.submit", rule(STAFF, Target::Version("draft")));
    p.insert(
        "agency.deadlines",
        Rule {
            path: |_, _| "/api/v1/agencies/dept/deadlines".into(),
            ..rule(STAFF, Target::None)
        },
    );
    // Review.
    p.insert("review.queue", rule(REVIEWERS, Target::None));
    p.insert(
        "version.approve",
        Rule {
            body: |_| json!({"confidentiality_reviewed": true, "redaction_confirmed": true}),
            ..rule(REVIEWERS, Target::Version("submitted"))
        },
    );
    p.insert(
        "version.reject",
        Rule {
            body: |_| json!({"comment": "请修改"}),
            ..rule(REVIEWERS, Target::Version("submitted"))
        },
    );
    p.insert(
        "version.publish",
        rule(REVIEWERS, Target::Version("approved")),
    );
    p.insert(
        "dataset.withdraw",
        Rule {
            body: |_| json!({"reason": "矩阵测试"}),
            ..rule(REVIEWERS, Target::Version("draft"))
        },
    );
    // Administration.
    p.insert(
        "agency.create",
        Rule {
            body: |slug| json!({"slug": format!("{slug}-agency"), "name": "新机构"}),
            ..rule(ADMINS, Target::None)
        },
    );
    p.insert("admin.deadlines", rule(ADMINS, Target::None));
    p.insert("user.list", rule(ADMINS, Target::None));
    p.insert(
        "user.create",
        Rule {
            body: |slug| json!({"name": format!("{slug}-user"), "role": "editor", "agency": "dept"}),
            ..rule(ADMINS, Target::None)
        },
    );
    p.insert(
        "user.update",
        Rule {
            body: |_| json!({"role": "reviewer"}),
            ..rule(ADMINS, Target::None)
        },
    );
    p.insert("audit.list", rule(ADMINS, Target::None));
    p
}

const CSV: &[u8] = "乡镇,金额\n城关镇,10\n".as_bytes();

/// Tokens of the five callers; fresh per cell so a logout or revocation in one
/// cell cannot affect another.
async fn caller_token(server: &Server, caller: Caller) -> Option<String> {
    let user = match caller {
        Caller::Anonymous => return None,
        Caller::EditorOwn => "own-editor",
        Caller::EditorOther => "other-editor",
        Caller::Reviewer => "dept-reviewer",
        Caller::Admin => "matrix-admin",
    };
    let r = server
        .post_json("/api/v1/tokens", json!({"user": user}))
        .await;
    let body: Value = r.json().await.unwrap();
    Some(body["token"].as_str().unwrap().to_string())
}

async fn upload(server: &Server, token: &str, slug: &str) -> i64 {
    let r = server
        .client
        .post(server.url(&format!("/api/v1/datasets/{slug}/uploads?filename=f.csv")))
        .bearer_auth(token)
        .body(CSV.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["version"]
        .as_i64()
        .unwrap()
}

async fn expect_ok(r: reqwest::Response, what: &str) {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "fixture step {what}: {status} {body}");
}

/// Builds the state a cell needs, as the fixture's own editor and reviewer.
async fn fixture(
    server: &Server,
    n: usize,
    target: Target,
    fx_editor: &str,
    fx_reviewer: &str,
) -> Fixture {
    let slug = format!("m{n}");
    expect_ok(
        server
            .post_as(
                fx_editor,
                "/api/v1/datasets",
                json!({"slug": slug, "title": format!("矩阵 {n}"), "agency": "dept"}),
            )
            .await,
        "create",
    )
    .await;
    let approve = json!({"confidentiality_reviewed": true, "redaction_confirmed": true});
    if let Target::Version(state) = target {
        // v1 published.
        let v = upload(server, fx_editor, &slug).await;
        let base = format!("/api/v1/datasets/{slug}/versions/{v}");
        expect_ok(
            server
                .post_as(fx_editor, &format!("{base}/submit"), json!({}))
                .await,
            "submit v1",
        )
        .await;
        expect_ok(
            server
                .post_as(fx_reviewer, &format!("{base}/approve"), approve.clone())
                .await,
            "approve v1",
        )
        .await;
        expect_ok(
            server
                .post_as(fx_reviewer, &format!("{base}/publish"), json!({}))
                .await,
            "publish v1",
        )
        .await;
        // v2 in the requested state.
        let v = upload(server, fx_editor, &slug).await;
        assert_eq!(v, 2);
        let base = format!("/api/v1/datasets/{slug}/versions/2");
        if state == "submitted" || state == "approved" {
            expect_ok(
                server
                    .post_as(fx_editor, &format!("{base}/submit"), json!({}))
                    .await,
                "submit v2",
            )
            .await;
        }
        if state == "approved" {
            expect_ok(
                server
                    .post_as(fx_reviewer, &format!("{base}/approve"), approve)
                    .await,
                "approve v2",
            )
            .await;
        }
    }
    // A victim user with a token, for user.update and token.revoke.
    let victim_user = format!("victim-{n}");
    let r = server
        .post_json(
            "/api/v1/users",
            json!({"name": victim_user, "role": "editor", "agency": "other-dept"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = server
        .post_json("/api/v1/tokens", json!({"user": victim_user}))
        .await;
    let victim_token_id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    Fixture {
        slug,
        victim_token_id,
        victim_user,
    }
}

#[tokio::test]
async fn authorization_matrix_has_no_unauthorised_success() {
    // Hundreds of calls in seconds, mostly with one token: above the default quotas.
    let server = Server::start_with(crate::support::Options {
        config: Some(
            "[rate_limit]\nanonymous_per_minute = 100000\nburst = 100000\n\
             token_per_minute = 100000\ntoken_burst = 100000\n"
                .into(),
        ),
        ..Default::default()
    })
    .await;
    server.agency("dept", None).await;
    server.agency("other-dept", None).await;
    for (name, role, agency) in [
        ("own-editor", "editor", Some("dept")),
        ("other-editor", "editor", Some("other-dept")),
        ("dept-reviewer", "reviewer", Some("dept")),
        ("matrix-admin", "admin", None),
        ("fx-editor", "editor", Some("dept")),
        ("fx-reviewer", "reviewer", Some("dept")),
    ] {
        server.user_token(name, role, agency).await;
    }
    let fx_editor = {
        let r = server
            .post_json("/api/v1/tokens", json!({"user": "fx-editor"}))
            .await;
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let fx_reviewer = {
        let r = server
            .post_json("/api/v1/tokens", json!({"user": "fx-reviewer"}))
            .await;
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let api: Value = server.get("/openapi.json").await.json().await.unwrap();
    let policy = policy();
    let mut unknown = Vec::new();
    let mut failures = Vec::new();
    let mut cells = 0;
    let mut n = 0;
    for (path_tpl, methods) in api["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            let Some(rule) = policy.get(id) else {
                unknown.push(id.to_string());
                continue;
            };
            for caller in CALLERS {
                n += 1;
                cells += 1;
                let f = fixture(&server, n, rule.target, &fx_editor, &fx_reviewer).await;
                let path = (rule.path)(path_tpl, &f);
                let token = caller_token(&server, caller).await;
                let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
                let mut req = server.client.request(m.clone(), server.url(&path));
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let body = (rule.body)(&f.slug);
                req = match (id, &body) {
                    ("version.upload", _) => req.body(CSV.to_vec()),
                    (_, Value::Null) => req,
                    _ => req.json(&body),
                };
                let r = req.send().await.unwrap();
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                let allowed = rule.allowed.contains(&caller);
                if allowed && !status.is_success() {
                    failures.push(format!(
                        "{id} {m} {path} as {caller:?}: expected success, got {status} {text}"
                    ));
                }
                if !allowed && status.is_success() {
                    failures.push(format!(
                        "UNAUTHORISED SUCCESS {id} {m} {path} as {caller:?}: {status} {text}"
                    ));
                }
                if !allowed
                    && !matches!(
                        status,
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
                    )
                    && !rule.allowed.is_empty()
                {
                    failures.push(format!(
                        "{id} {m} {path} as {caller:?}: refused with {status}, expected 401/403/404"
                    ));
                }
                if caller == Caller::Anonymous
                    && !allowed
                    && op["x-gongkai-access"] != "public"
                    && status != StatusCode::UNAUTHORIZED
                {
                    failures.push(format!("{id} as anonymous: expected 401, got {status}"));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "operations missing from the test policy: {unknown:?}"
    );
    assert!(cells >= 150, "only {cells} cells");
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("authorization matrix: {cells} cells, 0 unauthorised successes");
}
