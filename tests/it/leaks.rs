//! The hostile leak suite: identifiers planted the way clerks and exports
//! really write them (tests/leaks/hostile_forms.py: separators of every
//! kind, full-width digits, glued labels and prefixes, split cells, numeric
//! columns, headers, sheet and file names, hidden sheets, rows, columns and
//! comments, names under every header that means a person) are uploaded in
//! CSV, TSV, XLSX, XLS and Parquet files and published with default
//! settings; then every public surface is fetched and scanned by the
//! script's own scanner, which normalises independently of the product. It
//! must find nothing, while it finds every planted value in the raw files
//! (so the scanner is live).

use crate::support::{ADMIN_TOKEN, Options, Server, required};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("leaks/hostile_forms.py")
}

/// Whether python3 has the libraries the script writes and reads files with.
fn python_ready() -> bool {
    Command::new("python3")
        .args(["-c", "import pyarrow, openpyxl, xlwt, xlrd"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new("python3")
        .arg(script())
        .args(args)
        .output()
        .expect("running hostile_forms.py");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Every public surface of one published dataset (path, saved file name).
fn dataset_surfaces(slug: &str) -> Vec<(String, String)> {
    let sql = |q: &str| q.replace(' ', "%20").replace('"', "%22");
    let all = sql(&format!("SELECT * FROM \"{slug}\""));
    let mut out = Vec::new();
    for ext in ["parquet", "csv", "json", "ndjson", "xlsx"] {
        out.push((
            format!("/api/v1/datasets/{slug}/data.{ext}"),
            format!("{slug}-data.{ext}"),
        ));
        out.push((
            format!("/api/v1/datasets/{slug}/versions/1/data.{ext}"),
            format!("{slug}-v1-data.{ext}"),
        ));
    }
    for format in ["csv", "json", "ndjson", "parquet"] {
        out.push((
            format!("/api/v1/sql?format={format}&q={all}"),
            format!("{slug}-sql.{format}"),
        ));
    }
    out.extend([
        (format!("/api/v1/datasets/{slug}"), format!("{slug}.json")),
        (
            format!("/api/v1/datasets/{slug}/versions/1"),
            format!("{slug}-version.json"),
        ),
        (
            format!("/api/v1/datasets/{slug}/rows?_size=10000&_count=1"),
            format!("{slug}-rows.json"),
        ),
        (
            format!("/api/v1/datasets/{slug}/rows?_size=10000&format=csv"),
            format!("{slug}-rows.csv"),
        ),
        (
            format!("/api/3/action/datastore_search?resource_id={slug}&limit=10000"),
            format!("{slug}-datastore.json"),
        ),
        (
            format!(
                "/api/3/action/datastore_search_sql?sql={}",
                sql(&format!("SELECT * FROM \"{slug}\""))
            ),
            format!("{slug}-datastore-sql.json"),
        ),
        (
            format!("/api/3/action/package_show?id={slug}"),
            format!("{slug}-package.json"),
        ),
        (format!("/datasets/{slug}"), format!("{slug}-page.html")),
        (
            format!("/datasets/{slug}?page=2"),
            format!("{slug}-page2.html"),
        ),
        (
            format!("/datasets/{slug}?lang=en"),
            format!("{slug}-page-en.html"),
        ),
        (format!("/sql?q={all}"), format!("{slug}-console.html")),
    ]);
    out
}

/// Surfaces of the whole catalogue.
fn catalogue_surfaces() -> Vec<(String, String)> {
    [
        ("/api/v1/datasets?per_page=1000", "datasets.json"),
        ("/api/v1/tables", "tables.json"),
        ("/api/v1/catalogue.csv", "catalogue.csv"),
        ("/api/v1/catalogue.xlsx", "catalogue.xlsx"),
        ("/catalog.jsonld", "catalog.jsonld"),
        ("/catalog.ttl", "catalog.ttl"),
        ("/data.json", "data-us.json"),
        ("/sitemap.xml", "sitemap.xml"),
        (
            "/api/3/action/package_search?rows=1000",
            "package_search.json",
        ),
        ("/api/3/action/package_list", "package_list.json"),
        ("/api/3/action/tag_list", "tag_list.json"),
        ("/", "home.html"),
        ("/datasets", "datasets.html"),
        ("/agencies", "agencies.html"),
    ]
    .into_iter()
    .map(|(p, f)| (p.to_string(), f.to_string()))
    .collect()
}

async fn save(server: &Server, out: &Path, path: &str, name: &str) {
    let r = server.get(path).await;
    let status = r.status();
    let bytes = r.bytes().await.expect("body");
    assert_eq!(
        status,
        StatusCode::OK,
        "GET {path}: {}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
    );
    std::fs::write(out.join(name), &bytes).expect("saving a surface");
}

#[tokio::test]
async fn identifiers_in_every_form_reach_no_public_surface() {
    if !python_ready() {
        assert!(
            !required(),
            "CI must have python3 with pyarrow, openpyxl, xlwt and xlrd (.ci/run installs them)"
        );
        eprintln!("skipped: python3 lacks pyarrow/openpyxl/xlwt/xlrd");
        return;
    }
    let raw = tempfile::tempdir().expect("temp dir");
    let (ok, text) = run(&["generate".as_ref(), raw.path().as_os_str()]);
    assert!(ok, "generate failed:\n{text}");
    let manifest_path = raw.path().join("manifest.json");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("manifest")).expect("JSON");
    let files = manifest["files"].as_array().expect("files").clone();
    assert!(files.len() >= 20, "{} files", files.len());

    // The scanner is live: it finds every planted value in the raw files.
    let (ok, text) = run(&[
        "scan".as_ref(),
        "--manifest".as_ref(),
        manifest_path.as_os_str(),
        "--expect-all".as_ref(),
        raw.path().as_os_str(),
    ]);
    assert!(
        ok,
        "the scanner misses planted values in the raw files:\n{text}"
    );

    let server = Server::start_with(Options {
        config: Some(
            "[rate_limit]\nanonymous_per_minute = 1000000\nburst = 1000000\n\
             token_per_minute = 1000000\ntoken_burst = 1000000\n"
                .into(),
        ),
        ..Default::default()
    })
    .await;
    let out = tempfile::tempdir().expect("temp dir");
    for (i, f) in files.iter().enumerate() {
        let slug = format!("leak-{i:02}");
        let file = f["file"].as_str().expect("file");
        let upload_name = f["upload_name"].as_str().expect("upload_name");
        server
            .create_dataset_with(serde_json::json!({
                "slug": slug,
                "title": f["title"],
                "category": f["category"],
            }))
            .await;
        let r = server
            .client
            .post(server.url(&format!("/api/v1/datasets/{slug}/uploads")))
            .query(&[("filename", upload_name)])
            .bearer_auth(ADMIN_TOKEN)
            .body(std::fs::read(raw.path().join(file)).expect("reading a generated file"))
            .send()
            .await
            .expect("upload");
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::CREATED, "{file}: {body}");
        std::fs::write(out.path().join(format!("{slug}-upload.json")), &body).expect("save");
        let r = server.review_and_publish(&slug, 1).await;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::OK, "{file}: publish answered {body}");
        for (path, name) in dataset_surfaces(&slug) {
            save(&server, out.path(), &path, &name).await;
        }
    }
    for (path, name) in catalogue_surfaces() {
        save(&server, out.path(), &path, &name).await;
    }
    // Search finds no dataset by a planted value (the index holds none).
    let planted: Vec<String> = files
        .iter()
        .flat_map(|f| f["planted"].as_array().cloned().unwrap_or_default())
        .filter(|p| matches!(p["kind"].as_str(), Some("name" | "mobile" | "id18")))
        .filter_map(|p| p["value"].as_str().map(str::to_string))
        .step_by(7)
        .collect();
    assert!(planted.len() > 20);
    for value in &planted {
        let r = server
            .client
            .get(server.url("/api/v1/datasets"))
            .query(&[("q", value.as_str())])
            .send()
            .await
            .expect("search");
        let body: Value = r.json().await.expect("search JSON");
        assert_eq!(body["total"], 0, "search for a planted value found: {body}");
    }
    // The server's own log is a surface too.
    std::fs::copy(
        server.data_dir.path().join("server.log"),
        out.path().join("server.log"),
    )
    .expect("copying the server log");

    let (clean, report) = run(&[
        "scan".as_ref(),
        "--manifest".as_ref(),
        manifest_path.as_os_str(),
        out.path().as_os_str(),
    ]);
    let surfaces = std::fs::read_dir(out.path()).expect("listing").count();
    // Kept for whoever reads a failure (tests/artifacts is not committed).
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    let _ = std::fs::create_dir_all(&artifacts);
    let _ = std::fs::write(artifacts.join("leaks-report.txt"), &report);
    assert!(
        clean,
        "identifiers reached public surfaces ({surfaces} surfaces scanned):\n{report}"
    );
    assert!(report.trim_end().ends_with("hits: 0"), "{report}");
    eprintln!(
        "{} files, {} planted values, {surfaces} public surfaces: no identifier found",
        files.len(),
        files
            .iter()
            .map(|f| f["planted"].as_array().map_or(0, Vec::len))
            .sum::<usize>()
    );
}

/// Texts an agency types for publication are refused when they hold an
/// identifier: they would be public as soon as they are stored.
#[tokio::test]
async fn metadata_with_identifiers_is_refused_where_it_is_typed() {
    let server = Server::start().await;
    let r = server
        .post_json(
            "/api/v1/datasets",
            serde_json::json!({"slug": "relief", "title": "低保名单 联系 139 1234 5678"}),
        )
        .await;
    let (code, message) = crate::support::error_code(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(code, "leak_detected");
    assert!(message.contains("title"), "{message}");
    server.create_dataset("relief", "低保名单").await;
    for body in [
        serde_json::json!({"description": "户主严瀚骁已故，由家属代领"}),
        serde_json::json!({"keywords": ["低保", "110105 19491231 002X"]}),
        serde_json::json!({"description_en": "contact +86 (139) 1234-5678"}),
    ] {
        let r = server
            .client
            .patch(server.url("/api/v1/datasets/relief"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("PATCH");
        let (code, _) = crate::support::error_code(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(code, "leak_detected", "{body}");
    }
    // Nothing was stored.
    let shown: Value = server
        .get_as_admin("/api/v1/datasets/relief")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(shown["description"], Value::Null);
    assert_eq!(shown["keywords"], serde_json::json!([]));
    // Ordinary text with numbers passes.
    let r = server
        .client
        .patch(server.url("/api/v1/datasets/relief"))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &serde_json::json!({"description": "2024年6月发放 650.00 元，咨询电话 0571-87654321"}),
        )
        .send()
        .await
        .expect("PATCH");
    assert_eq!(r.status(), StatusCode::OK);
}
