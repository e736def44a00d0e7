//! Proof of privacy by construction: every synthetic corpus file is published
//! with default actions, every public surface is fetched, and the independent
//! scanner (shared/tools/pii_scan.py) finds nothing — while it does find the
//! personal data in the raw files (so the scanner is live).

use crate::support::{Server, required};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn shared() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    dir.join("tools/pii_scan.py").exists().then_some(dir)
}

fn scan(shared: &std::path::Path, paths: &[PathBuf]) -> (bool, String) {
    let out = Command::new("python3")
        .arg(shared.join("tools/pii_scan.py"))
        .arg("--truth")
        .arg(shared.join("corpus/synthetic/truth.json"))
        .args(paths)
        .output()
        .expect("running pii_scan.py");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test]
async fn published_corpus_scans_clean_and_raw_files_do_not() {
    let Some(shared) = shared() else {
        assert!(!required(), "CI must have ../shared beside the checkout");
        eprintln!("skipped: ../shared/tools/pii_scan.py not found");
        return;
    };
    let corpus = shared.join("corpus/synthetic");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("public_"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty());

    // The scanner is live: the raw uploads leak.
    let (clean, report) = scan(&shared, &files);
    assert!(
        !clean,
        "pii_scan.py found nothing in the raw corpus:\n{report}"
    );

    // Every artifact of every file, fetched at once: above the default quota.
    let server = Server::start_with(crate::support::Options {
        config: Some("[rate_limit]\nanonymous_per_minute = 100000\nburst = 100000\n".into()),
        ..Default::default()
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let mut artifacts = Vec::new();
    let mut save = |name: String, bytes: &[u8]| {
        let p = out.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        artifacts.push(p);
    };
    for (i, file) in files.iter().enumerate() {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let slug = format!("corpus-{i:02}");
        server.create_dataset(&slug, &name).await;
        let r = server
            .upload(&slug, &name, std::fs::read(file).unwrap())
            .await;
        let status = r.status();
        let upload: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{name}: {upload}");
        save(format!("{slug}-upload.json"), upload.to_string().as_bytes());
        let r = server.review_and_publish(&slug, 1).await;
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{name}: publish answered {body}");
        for (path, ext) in [
            (format!("/api/v1/datasets/{slug}/data.parquet"), "parquet"),
            (format!("/api/v1/datasets/{slug}/data.csv"), "csv"),
            (format!("/api/v1/datasets/{slug}"), "json"),
            (
                format!("/api/v1/datasets/{slug}/versions/1"),
                "version.json",
            ),
            (
                format!("/api/v1/datasets/{slug}/rows?_size=10000&_count=1"),
                "rows.json",
            ),
            (
                format!("/api/v1/datasets/{slug}/rows?_size=10000&format=csv"),
                "rows.csv",
            ),
            (
                format!("/api/v1/sql?format=csv&q=SELECT%20*%20FROM%20%22{slug}%22"),
                "sql.csv",
            ),
            (
                format!("/api/3/action/datastore_search?resource_id={slug}&limit=10000"),
                "datastore.json",
            ),
            (
                format!("/api/3/action/package_show?id={slug}"),
                "package.json",
            ),
            // The web pages: dataset page (preview, chart, dictionary), a
            // later preview page and the SQL console showing every row.
            (format!("/datasets/{slug}"), "page.html"),
            (format!("/datasets/{slug}?page=2"), "page2.html"),
            (
                format!("/sql?q=SELECT%20*%20FROM%20%22{slug}%22"),
                "console.html",
            ),
        ] {
            let bytes = server.get(&path).await.bytes().await.unwrap();
            save(format!("{slug}.{ext}"), &bytes);
        }
        let rows = server
            .client
            .post(server.url("/api/v1/sql"))
            .json(&serde_json::json!({"sql": format!("SELECT * FROM \"{slug}\"")}))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        save(format!("{slug}-sql.json"), &rows);
    }
    let list = server
        .get("/api/v1/datasets?per_page=1000")
        .await
        .bytes()
        .await
        .unwrap();
    save("list.json".into(), &list);
    let tables = server.get("/api/v1/tables").await.bytes().await.unwrap();
    save("tables.json".into(), &tables);
    // Search, feeds and the CKAN catalogue: metadata only, never personal data.
    for (path, name) in [
        (
            "/api/v1/datasets?q=%E5%90%8D%E5%86%8C&per_page=1000",
            "search.json",
        ),
        ("/catalog.ttl", "catalog.ttl"),
        ("/catalog.jsonld", "catalog.jsonld"),
        ("/data.json", "data.json"),
        ("/sitemap.xml", "sitemap.xml"),
        ("/api/v1/catalogue.csv", "catalogue.csv"),
        (
            "/api/3/action/package_search?rows=1000",
            "package_search.json",
        ),
        ("/", "home.html"),
        ("/datasets?q=%E5%90%8D%E5%86%8C", "search.html"),
    ] {
        let bytes = server.get(path).await.bytes().await.unwrap();
        save(name.into(), &bytes);
    }
    // The server's own log, after all of this: no personal data, no secrets.
    let log = std::fs::read_to_string(server.data_dir.path().join("server.log")).unwrap();
    assert!(
        !log.is_empty(),
        "the server logged nothing: the check would be empty"
    );
    let reviewer = server.reviewer_token().await;
    for secret in [crate::support::ADMIN_TOKEN, reviewer.as_str()] {
        assert!(
            !log.contains(secret),
            "a bearer token appears in the server log"
        );
    }
    save("server.log".into(), log.as_bytes());
    let (clean, report) = scan(&shared, &artifacts);
    assert!(
        clean,
        "personal data leaked into public artifacts or logs:\n{report}"
    );
}

/// `gongkai audit` re-scans what is already public with today's detectors:
/// a published file that holds an identifier (as if published before a
/// detector existed) is reported, and `--withdraw` takes the dataset down.
#[tokio::test]
async fn audit_finds_and_withdraws_identifiers_already_published() {
    use arrow::array::{ArrayRef, StringArray};
    use arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    let server = Server::start().await;
    server.create_dataset("clean", "干净的数据").await;
    server
        .publish_file(
            "clean",
            "c.csv",
            "乡镇,金额\n城关镇,10\n".as_bytes().to_vec(),
        )
        .await;
    let audit = |withdraw: bool| {
        let mut cmd = Command::new(crate::support::binary());
        cmd.arg("audit")
            .arg("--data-dir")
            .arg(server.data_dir.path())
            .env_remove("GONGKAI_CATALOG")
            .env_remove("GONGKAI_STORE");
        if withdraw {
            cmd.arg("--withdraw");
        }
        let out = cmd.output().expect("gongkai audit");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, text) = audit(false);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("1 published version(s) scanned, 0"), "{text}");

    // Replace the public object with one holding a resident ID in free text.
    let store = server.data_dir.path().join("store/datasets");
    let file = std::fs::read_dir(&store)
        .unwrap()
        .flatten()
        .map(|d| d.path().join("v1/part-0.parquet"))
        .find(|p| p.exists())
        .expect("published parquet");
    let notes: ArrayRef = Arc::new(StringArray::from(vec!["申请人 11010519491231002X 已核实"]));
    let batch = RecordBatch::try_from_iter([("bei_zhu", notes)]).unwrap();
    let mut bytes = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    std::fs::write(&file, bytes).unwrap();

    let (code, text) = audit(false);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("clean@v1: 1 identifier(s)"), "{text}");
    assert!(
        !text.contains("11010519491231002X"),
        "the report repeats the identifier: {text}"
    );
    let d: Value = server
        .get("/api/v1/datasets/clean")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["status"], "published", "reporting alone changes nothing");

    let (code, text) = audit(true);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("WITHDRAWN"), "{text}");
    let d: Value = server
        .get("/api/v1/datasets/clean")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["status"], "withdrawn");
    assert!(
        d["withdrawn_reason"]
            .as_str()
            .unwrap()
            .contains("gongkai audit")
    );
    assert_eq!(
        server.get("/api/v1/datasets/clean/data.csv").await.status(),
        StatusCode::GONE
    );
    let (code, text) = audit(false);
    assert_eq!(code, Some(0), "withdrawn data is no longer served: {text}");
}

/// Agencies tighten redaction freely; loosening it needs a reviewer and a
/// recorded legal basis; IDs, bank numbers and mobiles never go out raw.
#[tokio::test]
async fn redaction_overrides_tighten_freely_and_loosen_only_with_a_legal_basis() {
    use serde_json::json;
    let server = Server::start().await;
    server.agency("civil", None).await;
    let editor = server.user_token("clerk", "editor", Some("civil")).await;
    let reviewer = server.user_token("chief", "reviewer", Some("civil")).await;
    let r = server
        .post_as(
            &editor,
            "/api/v1/datasets",
            json!({"slug": "relief", "title": "临时救助名单", "agency": "civil", "category": "social_assistance"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let csv = "姓名,身份证号,手机号码,家庭住址,救助金额(元)\n\
               张三丰,11010519491231002X,13812345678,浙江省杭州市西湖区转塘街道桐坞村5组12号,1200\n\
               李四,11010519491231002X,13912345678,浙江省杭州市西湖区转塘街道桐坞村6组3号,800\n\
               张三丰,11010519491231002X,13812345678,浙江省杭州市西湖区转塘街道桐坞村5组12号,300\n";
    let r = server
        .client
        .post(server.url("/api/v1/datasets/relief/uploads?filename=relief.csv"))
        .bearer_auth(&editor)
        .body(csv.as_bytes().to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let up: Value = r.json().await.unwrap();
    let column_of = |kind: &str| {
        up["report"]["privacy"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} finding in {}", up["report"]["privacy"]))["column"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Defaults for a social-assistance list: names masked, addresses to the village.
    let finding_of = |kind: &str| {
        up["report"]["privacy"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == kind)
            .unwrap()
            .clone()
    };
    assert_eq!(finding_of("person_name")["action"], "mask");
    assert_eq!(finding_of("person_name")["preview"][0], "张*丰");
    assert_eq!(
        finding_of("address")["preview"][0],
        "浙江省杭州市西湖区转塘街道桐坞村"
    );
    let (name, id, mobile, address) = (
        column_of("person_name"),
        column_of("cn_resident_id"),
        column_of("cn_mobile"),
        column_of("address"),
    );
    let put = |token: String, body: Value| {
        let server = &server;
        async move {
            let r = server
                .client
                .put(server.url("/api/v1/datasets/relief/versions/1/redaction"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };

    // Tightening: names → keyed pseudonyms, address dropped.
    let (status, v) = put(
        editor.clone(),
        json!({"columns": {&name: {"action": "pseudonym"}, &address: {"action": "drop"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let finding = v["report"]["privacy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["column"] == name.as_str())
        .unwrap()
        .clone();
    assert_eq!(finding["action"], "pseudonym");
    let preview: Vec<&str> = finding["preview"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(preview.len(), 3);
    assert!(preview.iter().all(|p| p.len() == 20), "{preview:?}");
    assert_eq!(
        preview[0], preview[2],
        "the same person gets the same pseudonym"
    );
    assert_ne!(preview[0], preview[1]);
    assert!(!v["columns"].to_string().contains(&format!("\"{address}\"")));

    // Loosening: never by an editor; never for IDs or mobiles; reviewers need a legal basis.
    let (status, v) = put(
        editor.clone(),
        json!({"columns": {&name: {"action": "keep", "legal_basis": "x"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    for col in [&id, &mobile] {
        let (status, v) = put(
            reviewer.clone(),
            json!({"columns": {col: {"action": "keep", "legal_basis": "公示要求"}}}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"]["code"], "never_public");
    }
    let (status, v) = put(
        reviewer.clone(),
        json!({"columns": {&name: {"action": "keep"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "legal_basis_required");
    let (status, v) = put(
        reviewer.clone(),
        json!({"columns": {&name: {"action": "mask_cells"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (status, v) = put(
        reviewer.clone(),
        json!({"columns": {"no_such_column": {"action": "drop"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let basis = "《社会救助暂行办法》第六十条：救助对象姓名须公示";
    let (status, v) = put(
        reviewer.clone(),
        json!({"columns": {&name: {"action": "keep", "legal_basis": basis}}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");

    // Publish: full names (with their legal basis), no IDs, mobiles or addresses.
    let base = "/api/v1/datasets/relief/versions/1";
    // Whoever loosened the redaction cannot approve it alone.
    let r = server
        .post_as(&editor, &format!("{base}/submit"), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let approve = json!({"confidentiality_reviewed": true, "redaction_confirmed": true});
    let r = server
        .post_as(&reviewer, &format!("{base}/approve"), approve.clone())
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "self-approved loosening");
    let deputy = server.user_token("deputy", "reviewer", Some("civil")).await;
    for (token, step, body) in [
        (&deputy, "approve", approve),
        (&deputy, "publish", json!({})),
    ] {
        let r = server.post_as(token, &format!("{base}/{step}"), body).await;
        let status = r.status();
        assert!(status.is_success(), "{step}: {}", r.text().await.unwrap());
    }
    let public = server
        .get("/api/v1/datasets/relief/data.csv")
        .await
        .text()
        .await
        .unwrap();
    assert!(public.contains("张三丰"), "{public}");
    for secret in ["11010519491231002X", "13812345678", "桐坞村5组"] {
        assert!(!public.contains(secret), "{secret} published: {public}");
    }
    let (status, _) = put(
        editor.clone(),
        json!({"columns": {&name: {"action": "drop"}}}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "published versions do not change"
    );

    // In a list without a publicity basis the same names are dropped by default.
    let r = server
        .post_as(
            &editor,
            "/api/v1/datasets",
            json!({"slug": "staff-list", "title": "名单", "agency": "civil"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = server
        .client
        .post(server.url("/api/v1/datasets/staff-list/uploads?filename=l.csv"))
        .bearer_auth(&editor)
        .body(csv.as_bytes().to_vec())
        .send()
        .await
        .unwrap();
    let other: Value = r.json().await.unwrap();
    let names = other["report"]["privacy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "person_name")
        .unwrap()
        .clone();
    assert_eq!(names["action"], "drop");
    assert!(
        !other["columns"]
            .to_string()
            .contains(&format!("\"{name}\""))
    );

    // The loosening is audited with who and the legal basis.
    let audit: Value = server
        .get_as_admin("/api/v1/audit?limit=5000")
        .await
        .json()
        .await
        .unwrap();
    let keep = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "version.redaction")
        .find(|e| e["details"]["after"][&name]["action"] == "keep")
        .expect("audited keep");
    assert_eq!(keep["actor"], "chief");
    assert_eq!(keep["details"]["after"][&name]["legal_basis"], basis);
    assert_eq!(keep["details"]["before"][&name]["action"], "pseudonym");
}
