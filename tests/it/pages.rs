//! The web pages over plain HTTP (the browser walkthrough is in `browser.rs`):
//! what a reader gets without JavaScript, what the workspace refuses, and the
//! security headers every answer carries.

use crate::support::{ADMIN_TOKEN, Options, Server};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use serde_json::json;

async fn html(server: &Server, path: &str) -> String {
    let r = server.get(path).await;
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    assert!(ct.starts_with("text/html"), "{path}: content-type {ct}");
    body
}

/// Rows of the table with this id, as cell texts (a small, forgiving parser
/// for the markup the pages produce).
fn table_rows(page: &str, id: &str) -> Vec<Vec<String>> {
    let start = page
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table #{id}"));
    let end = start + page[start..].find("</table>").expect("table end");
    let body = &page[start..end];
    let Some(tbody) = body.find("<tbody>") else {
        return vec![];
    };
    body[tbody..]
        .split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let inner = &cell[cell.find('>').unwrap() + 1..];
                    inner[..inner.find("</td>").unwrap()].to_string()
                })
                .collect()
        })
        .collect()
}

/// Position of the column named `name` in the table's header row.
fn header_index(page: &str, id: &str, name: &str) -> usize {
    let start = page.find(&format!("<table id=\"{id}\"")).unwrap();
    let thead = &page[start..start + page[start..].find("</thead>").unwrap()];
    let at = thead
        .find(&format!(">{name}<"))
        .unwrap_or_else(|| panic!("no column {name}"));
    thead[..at].matches("<th scope").count() - 1
}

#[tokio::test]
async fn public_pages_read_without_javascript() {
    let server = Server::start_with(Options {
        examples: true,
        ..Default::default()
    })
    .await;

    // Home: search box, themes, agencies, recent datasets, Chinese by default.
    let home = html(&server, "/").await;
    assert!(home.contains("<html lang=\"zh-CN\">"));
    assert!(home.contains("role=\"search\""));
    for section in ["id=\"themes\"", "id=\"agencies\"", "id=\"recent\""] {
        assert!(home.contains(section), "home lacks {section}");
    }
    assert!(home.contains("href=\"/datasets/budget-2024\""));
    let english = html(&server, "/?lang=en").await;
    assert!(english.contains("<html lang=\"en\">"));
    assert!(english.contains("Recently updated"));

    // The language switch remembers the choice in a cookie.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect
        .get(server.url("/lang?to=en&back=/datasets%3Fq%3Dx%26lang%3Dzh"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/datasets?q=x");
    assert!(
        r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("gongkai_lang=en")
    );
    let r = no_redirect
        .get(server.url("/lang?to=en&back=//evil.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/", "open redirect");

    // Search with facets.
    let search = html(&server, "/datasets?q=%E9%A2%84%E7%AE%97").await;
    assert!(
        search.contains("href=\"/datasets/budget-2024\""),
        "{search}"
    );
    assert!(search.contains("id=\"facets\""));
    assert!(!search.contains("href=\"/datasets/procurement-results-2024\""));

    // Dataset page: metadata, dictionary with header paths, preview, chart,
    // downloads, snippets, versions, redaction statement, JSON-LD.
    let page = html(&server, "/datasets/budget-2024").await;
    for needle in [
        "id=\"metadata\"",
        "id=\"dictionary\"",
        "基本支出/人员经费",
        "<table id=\"preview-table\"",
        "<figure class=\"chart\" id=\"chart\"",
        "<svg",
        "data.parquet",
        "data.csv",
        "data.xlsx",
        "pd.read_parquet",
        "arrow::read_parquet",
        "id=\"versions\"",
        "id=\"redaction\"",
        "application/ld+json",
    ] {
        assert!(page.contains(needle), "dataset page lacks {needle}");
    }
    let ld_start = page.find("application/ld+json\">").unwrap() + "application/ld+json\">".len();
    let ld_end = ld_start + page[ld_start..].find("</script>").unwrap();
    let ld: serde_json::Value = serde_json::from_str(&page[ld_start..ld_end]).unwrap();
    assert_eq!(ld["@type"], "Dataset");

    // The preview filters and sorts through the row API.
    let all = table_rows(&page, "preview-table");
    let n = server
        .sql("SELECT count(*) AS n FROM \"budget-2024\"")
        .await["rows"][0]["n"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(all.len(), n.min(20), "a preview page holds up to 20 rows");
    assert!(page.contains(&format!(">{n}</")), "the row count is shown");
    let filtered = html(
        &server,
        "/datasets/procurement-results-2024?column=cai_gou_fang_shi&op=eq&value=%E8%AF%A2%E4%BB%B7",
    )
    .await;
    let rows = table_rows(&filtered, "preview-table");
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r.iter().any(|c| c == "询价")),
        "every filtered row is 询价: {rows:?}"
    );
    let sorted = html(
        &server,
        "/datasets/procurement-results-2024?sort=-zhong_biao_jin_e",
    )
    .await;
    let column = header_index(&sorted, "preview-table", "zhong_biao_jin_e");
    let amounts: Vec<f64> = table_rows(&sorted, "preview-table")
        .iter()
        .map(|r| r[column].replace(',', "").parse::<f64>().unwrap())
        .collect();
    let top = server
        .sql("SELECT max(zhong_biao_jin_e) AS m FROM \"procurement-results-2024\"")
        .await;
    assert_eq!(
        amounts[0],
        top["rows"][0]["m"]
            .as_str()
            .map(|s| s.parse::<f64>().unwrap())
            .or(top["rows"][0]["m"].as_f64())
            .unwrap()
    );
    assert!(
        amounts.windows(2).all(|w| w[0] >= w[1]),
        "sorted descending: {amounts:?}"
    );
    let bad = server
        .get("/datasets/budget-2024?column=nope&op=eq&value=1")
        .await;
    assert_eq!(bad.status(), StatusCode::OK);
    assert!(bad.text().await.unwrap().contains("role=\"alert\""));

    // SQL console: result grid, downloads, errors with a position, no DDL.
    let console = html(
        &server,
        "/sql?q=SELECT%20count(*)%20AS%20n%20FROM%20%22procurement-results-2024%22",
    )
    .await;
    let rows = table_rows(&console, "result");
    let api = server
        .sql("SELECT count(*) AS n FROM \"procurement-results-2024\"")
        .await;
    assert_eq!(rows[0][0], api["rows"][0]["n"].to_string());
    assert!(console.contains("id=\"result-downloads\""));
    let broken = html(&server, "/sql?q=SELEC%201").await;
    assert!(broken.contains("role=\"alert\""));
    let ddl = html(&server, "/sql?q=DROP%20TABLE%20x").await;
    assert!(ddl.contains("role=\"alert\""));

    // Agency pages.
    let agencies = html(&server, "/agencies").await;
    assert!(agencies.contains("href=\"/agencies/"));

    // Unknown dataset: a 404 page in HTML.
    let missing = server.get("/datasets/no-such-thing").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("<html"));
}

#[tokio::test]
async fn security_headers_on_pages_and_api() {
    let server = Server::start_with(Options {
        examples: true,
        ..Default::default()
    })
    .await;
    for path in ["/", "/datasets/budget-2024", "/sql", "/agency/login"] {
        let r = server.get(path).await;
        let csp = r.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        let body = r.text().await.unwrap();
        assert!(
            !body.contains(" style=\""),
            "{path}: inline style breaks the CSP"
        );
        assert!(
            !body.contains("<script>") && !body.contains("onclick="),
            "{path}: inline script breaks the CSP"
        );
    }
    let api = server.get("/api/v1/datasets").await;
    let csp = api.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn workspace_needs_a_session_and_refuses_forged_forms() {
    let server = Server::start().await;
    server.agency("ws-county", None).await;
    let r = server
        .post_json(
            "/api/v1/users",
            json!({"name": "clerk", "role": "editor", "agency": "ws-county", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Signed out: the workspace sends you to the login page.
    let r = client.get(server.url("/agency")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/agency/login")
    );

    // Wrong password: 401 with the form again; right one: an HttpOnly, SameSite cookie.
    let r = client
        .post(server.url("/agency/login"))
        .form(&[("user", "clerk"), ("password", "wrong password!!")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("id=\"login-form\""));
    let r = client
        .post(server.url("/agency/login"))
        .form(&[("user", "clerk"), ("password", "a long enough password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let session = set.split(';').next().unwrap().to_string();

    let dashboard = client
        .get(server.url("/agency"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);
    let page = dashboard.text().await.unwrap();
    assert!(page.contains("id=\"my-datasets\""));
    let csrf = {
        let i = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
        page[i..i + 64].to_string()
    };

    let form = [
        ("slug", "ws-subsidy"),
        ("title", "补贴名册"),
        ("agency", "ws-county"),
    ];
    // No token, a wrong token, or a cross-site origin: refused, nothing created.
    let r = client
        .post(server.url("/agency/datasets/new"))
        .header("cookie", &session)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut forged = form.to_vec();
    forged.push((
        "csrf",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ));
    let r = client
        .post(server.url("/agency/datasets/new"))
        .header("cookie", &session)
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut good = form.to_vec();
    good.push(("csrf", csrf.as_str()));
    let r = client
        .post(server.url("/agency/datasets/new"))
        .header("cookie", &session)
        .header("origin", "https://evil.example")
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = server
        .client
        .get(server.url("/api/v1/datasets/ws-subsidy"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "a refused form created nothing"
    );

    // With the token, from this site: created; the draft is not public.
    let r = client
        .post(server.url("/agency/datasets/new"))
        .header("cookie", &session)
        .header("origin", server.base.trim_end_matches('/'))
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let r = client
        .get(server.url("/agency/datasets/ws-subsidy"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("id=\"upload-form\""));
    assert_eq!(
        server.get("/datasets/ws-subsidy").await.status(),
        StatusCode::NOT_FOUND,
        "drafts have no public page"
    );
    // Even for the signed-in clerk the public page stays public-only.
    let r = client
        .get(server.url("/datasets/ws-subsidy"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The report page's column form renames, retypes and describes a column.
    let r = server
        .upload(
            "ws-subsidy",
            "s.csv",
            "村(社区),户数\n东关村,3\n北坡村,5\n".as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let report = client
        .get(server.url("/agency/datasets/ws-subsidy/versions/1"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(report.contains("name=\"name.hu_shu\"") && report.contains("name=\"type.hu_shu\""));
    let r = client
        .post(server.url("/agency/datasets/ws-subsidy/versions/1/columns"))
        .header("cookie", &session)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name.hu_shu", "households"),
            ("type.hu_shu", "Float64"),
            ("description.hu_shu", "登记户数"),
            ("name.cun_she_qu", "cun_she_qu"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let v: serde_json::Value = server
        .get_as_admin("/api/v1/datasets/ws-subsidy/versions/1")
        .await
        .json()
        .await
        .unwrap();
    let c = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"][0] == "户数")
        .unwrap();
    assert_eq!(c["name"], "households");
    assert_eq!(c["type"], "Float64");
    assert_eq!(c["description"], "登记户数");

    // Logging out revokes the session.
    let r = client
        .post(server.url("/agency/logout"))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = client
        .get(server.url("/agency"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the old cookie no longer signs in"
    );
}
