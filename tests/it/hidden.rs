//! A hidden dataset (a draft, or 不予公开) answers exactly like one that never
//! existed, on every surface and for every caller who may not see it: same
//! status, same headers (apart from `date`) and the same body once the slug's
//! text is swapped, so nobody can probe which hidden slugs exist.

use crate::support::{Options, Server};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// One request, with `{s}` standing for the slug.
struct Probe {
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
    /// Sent with the outsider's bearer token (else anonymous).
    outsider: bool,
    /// Sent with the outsider's token as the web session cookie.
    session: bool,
}

const fn get(path: &'static str) -> Probe {
    Probe {
        method: Method::GET,
        path,
        body: None,
        outsider: false,
        session: false,
    }
}

const fn outsider(method: Method, path: &'static str, body: Option<&'static str>) -> Probe {
    Probe {
        method,
        path,
        body,
        outsider: true,
        session: false,
    }
}

const fn page(path: &'static str) -> Probe {
    Probe {
        method: Method::GET,
        path,
        body: None,
        outsider: false,
        session: true,
    }
}

fn probes() -> Vec<Probe> {
    vec![
        // JSON API, anonymous.
        get("/api/v1/datasets/{s}"),
        get("/api/v1/datasets/{s}/versions"),
        get("/api/v1/datasets/{s}/versions/1"),
        get("/api/v1/datasets/{s}/versions/7"),
        get("/api/v1/datasets/{s}/versions/1/data.csv"),
        get("/api/v1/datasets/{s}/versions/1/data.parquet"),
        get("/api/v1/datasets/{s}/versions/1/rows"),
        get("/api/v1/datasets/{s}/data.parquet"),
        get("/api/v1/datasets/{s}/data.csv"),
        get("/api/v1/datasets/{s}/data.json"),
        get("/api/v1/datasets/{s}/data.ndjson"),
        get("/api/v1/datasets/{s}/data.xlsx"),
        get("/api/v1/datasets/{s}/data.txt"),
        get("/api/v1/datasets/{s}/rows"),
        get("/api/v1/datasets/{s}/rows?_size=1&_count=1"),
        // The same with another agency's token.
        outsider(Method::GET, "/api/v1/datasets/{s}", None),
        outsider(Method::GET, "/api/v1/datasets/{s}/versions/1", None),
        outsider(Method::GET, "/api/v1/datasets/{s}/data.csv", None),
        outsider(Method::GET, "/api/v1/datasets/{s}/rows", None),
        outsider(
            Method::POST,
            "/api/v1/datasets/{s}/uploads?filename=a.csv",
            Some("名称,数量\n甲,1\n"),
        ),
        outsider(
            Method::PATCH,
            "/api/v1/datasets/{s}",
            Some(r#"{"description": "x"}"#),
        ),
        outsider(
            Method::POST,
            "/api/v1/datasets/{s}/withdraw",
            Some(r#"{"reason": "x"}"#),
        ),
        outsider(
            Method::POST,
            "/api/v1/datasets/{s}/versions/1/submit",
            Some("{}"),
        ),
        outsider(
            Method::POST,
            "/api/v1/datasets/{s}/versions/1/approve",
            Some(r#"{"confidentiality_reviewed": true, "redaction_confirmed": true}"#),
        ),
        outsider(
            Method::POST,
            "/api/v1/datasets/{s}/versions/1/reject",
            Some(r#"{"comment": "x"}"#),
        ),
        outsider(
            Method::POST,
            "/api/v1/datasets/{s}/versions/1/publish",
            None,
        ),
        outsider(
            Method::PUT,
            "/api/v1/datasets/{s}/versions/1/redaction",
            Some(r#"{"columns": {}}"#),
        ),
        outsider(
            Method::PATCH,
            "/api/v1/datasets/{s}/versions/1/columns",
            Some(r#"{"columns": {}}"#),
        ),
        // CKAN.
        get("/api/3/action/package_show?id={s}"),
        get("/api/action/package_show?id={s}"),
        get("/api/3/action/datastore_search?resource_id={s}"),
        get("/api/3/action/datastore_search?resource_id={s}.csv"),
        get("/api/3/action/resource_show?id={s}"),
        // SQL: table names are slugs.
        get("/api/v1/sql?q=SELECT%20*%20FROM%20%22{s}%22"),
        get("/api/3/action/datastore_search_sql?sql=SELECT%20*%20FROM%20%22{s}%22"),
        // HTML pages.
        get("/datasets/{s}"),
        get("/datasets/{s}?lang=en"),
        page("/agency/datasets/{s}"),
        page("/agency/datasets/{s}/versions/1"),
    ]
}

/// Status, headers but `date`, and the body with `slug` replaced by `{s}`.
async fn answer(server: &Server, token: &str, probe: &Probe, slug: &str) -> String {
    let path = probe.path.replace("{s}", slug);
    let mut r = server
        .client
        .request(probe.method.clone(), server.url(&path));
    if probe.outsider {
        r = r.bearer_auth(token);
    }
    if probe.session {
        r = r.header("cookie", format!("gongkai_session={token}"));
    }
    if let Some(b) = probe.body {
        r = r.header("content-type", "application/json").body(b);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let mut headers: Vec<String> = r
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?").replace(slug, "{s}")))
        .collect();
    headers.sort();
    let body = r.text().await.unwrap().replace(slug, "{s}");
    format!("{status}\n{}\n\n{body}", headers.join("\n"))
}

/// A never-existing slug of the same length as `slug`.
fn missing(slug: &str) -> String {
    format!("zz{}", &slug[2..])
}

#[tokio::test]
async fn hidden_datasets_answer_exactly_like_missing_ones() {
    let server = Server::start_with(Options {
        // The quota headers count down request by request.
        config: Some("[rate_limit]\nenabled = false\n".into()),
        ..Options::default()
    })
    .await;
    server.agency("hq", None).await;
    server.agency("elsewhere", None).await;
    let editor = server.user_token("hq-editor", "editor", Some("hq")).await;
    let reviewer = server
        .user_token("hq-reviewer", "reviewer", Some("hq"))
        .await;
    let outsider_token = server.user_token("nosy", "editor", Some("elsewhere")).await;
    let csv = "名称,数量\n甲,1\n乙,2\n";

    // A draft with an uploaded version.
    let r = server
        .post_as(
            &editor,
            "/api/v1/datasets",
            json!({"slug": "draft-list", "title": "草稿", "agency": "hq"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let upload = |slug: &'static str| {
        server
            .client
            .post(server.url(&format!("/api/v1/datasets/{slug}/uploads?filename=a.csv")))
            .bearer_auth(&editor)
            .body(csv)
            .send()
    };
    assert_eq!(
        upload("draft-list").await.unwrap().status(),
        StatusCode::CREATED
    );

    // A published dataset later classified 不予公开.
    let r = server
        .post_as(
            &editor,
            "/api/v1/datasets",
            json!({"slug": "closed-list", "title": "内部", "agency": "hq"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        upload("closed-list").await.unwrap().status(),
        StatusCode::CREATED
    );
    let v = "/api/v1/datasets/closed-list/versions/1";
    for (token, action, body) in [
        (&editor, "submit", json!({})),
        (
            &reviewer,
            "approve",
            json!({"confidentiality_reviewed": true, "redaction_confirmed": true}),
        ),
        (&reviewer, "publish", Value::Null),
    ] {
        let r = server.post_as(token, &format!("{v}/{action}"), body).await;
        assert_eq!(r.status(), StatusCode::OK, "{action}");
    }
    let r = server
        .client
        .patch(server.url("/api/v1/datasets/closed-list"))
        .bearer_auth(&reviewer)
        .json(&json!({"disclosure": "not_public", "disclosure_reason": "属于内部事务信息"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let mut differ = Vec::new();
    for hidden in ["draft-list", "closed-list"] {
        let absent = missing(hidden);
        for probe in probes() {
            let a = answer(&server, &outsider_token, &probe, hidden).await;
            let b = answer(&server, &outsider_token, &probe, &absent).await;
            if a != b {
                differ.push(format!(
                    "{} {} ({hidden}):\n--- hidden\n{a}\n--- missing\n{b}",
                    probe.method, probe.path
                ));
            }
            assert!(
                !a.starts_with("200") && !a.starts_with("201"),
                "{} {} serves the hidden {hidden}: {a}",
                probe.method,
                probe.path
            );
        }
    }
    assert!(
        differ.is_empty(),
        "{} answer(s) tell hidden from missing:\n{}",
        differ.len(),
        differ.join("\n\n")
    );

    // The agency's own staff still see both.
    for slug in ["draft-list", "closed-list"] {
        let r = server
            .client
            .get(server.url(&format!("/api/v1/datasets/{slug}")))
            .bearer_auth(&editor)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{slug}");
    }
}
