//! Catalogue feeds as harvesters read them: DCAT-AP 3 (Turtle and JSON-LD,
//! validated with pyshacl against the vendored DCAT-AP 3 shapes), DCAT-US
//! `data.json`, `sitemap.xml`, the 政务信息公开目录 as CSV and XLSX, and the
//! schema.org object of the dataset API — and never a draft or an internal
//! dataset in any of them.

use crate::support::{Server, required};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

async fn fetch(server: &Server, path: &str, content_type: &str) -> Vec<u8> {
    let r = server.get(path).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    let ct = r.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(ct.starts_with(content_type), "{path}: content type {ct}");
    r.bytes().await.unwrap().to_vec()
}

/// The vendored DCAT-AP 3 shapes.
fn shapes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("shapes/dcat-ap-3.ttl")
}

/// Whether `python3` can import all of `modules`; when it cannot, CI fails
/// and a local run skips with a note.
fn python_has(modules: &str, what: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !required(),
            "{what}: python3 cannot import {modules} (CI installs it: see .ci/run)"
        );
        eprintln!("skipping {what}: python3 cannot import {modules}");
    }
    ok
}

/// Runs pyshacl on one file; returns (conforms, report).
fn pyshacl(data: &Path, format: &str) -> (bool, String) {
    let out = Command::new("python3")
        .args(["-m", "pyshacl", "-s"])
        .arg(shapes())
        .args(["-sf", "turtle", "-df", format])
        .arg(data)
        .output()
        .expect("running pyshacl");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // pyshacl exits 0 when the data conforms, 1 when it does not, 2+ on errors.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "pyshacl failed on {}: {report}",
        data.display()
    );
    (out.status.code() == Some(0), report)
}

/// Parses both serialisations with rdflib, checks that they are the same
/// graph, and returns facts about it as JSON.
const RDFLIB_SCRIPT: &str = r#"
import json, sys
from rdflib import Graph, URIRef, Literal
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, DCAT, RDF
ttl = Graph().parse(sys.argv[1], format="turtle")
jl = Graph().parse(sys.argv[2], format="json-ld")
datasets = sorted(str(s) for s in ttl.subjects(RDF.type, DCAT.Dataset))
out = {
    "isomorphic": isomorphic(ttl, jl),
    "triples": [len(ttl), len(jl)],
    "datasets": datasets,
    "identifiers": sorted(str(o) for o in ttl.objects(None, DCTERMS.identifier)),
    "descriptions": sorted(str(o) for o in ttl.objects(None, DCTERMS.description)),
    "titles": sorted(f"{o}@{o.language}" for s in datasets for o in ttl.objects(URIRef(s), DCTERMS.title)),
    "distributions": {s: len(list(ttl.objects(URIRef(s), DCAT.distribution))) for s in datasets},
    "download_urls": sorted(str(o) for o in ttl.objects(None, DCAT.downloadURL)),
    "themes": sorted(str(o) for o in ttl.objects(None, DCAT.theme)),
}
print(json.dumps(out, ensure_ascii=False))
"#;

/// Parses the sitemap with the standard library's XML parser and lists its URLs.
const SITEMAP_SCRIPT: &str = r#"
import json, sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
assert root.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}urlset", root.tag
urls = [{"loc": u.find("s:loc", ns).text, "lastmod": (u.find("s:lastmod", ns).text if u.find("s:lastmod", ns) is not None else None)} for u in root.findall("s:url", ns)]
print(json.dumps(urls, ensure_ascii=False))
"#;

fn python_json(script: &str, args: &[&Path]) -> Value {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const DESCRIPTION: &str = "城关镇最低生活保障对象及发放金额，含 \"引号\"、反斜杠 \\ 和\n第二行";

#[tokio::test]
async fn feeds_describe_public_datasets_only_and_validate() {
    feeds_scenario(&Server::start().await).await;
}

/// The whole feeds scenario against a running server without examples
/// (also run on PostgreSQL in `postgres.rs`).
pub async fn feeds_scenario(server: &Server) {
    server.agency("county", None).await;
    server.agency("county-civil", Some("county")).await;
    server.agency("county-finance", Some("county")).await;

    server.create_dataset_with(json!({"slug": "relief-2024", "title": "2024年城关镇低保发放名册", "agency": "county-civil",
               "description": DESCRIPTION,
               "title_en": "Minimum living allowance recipients 2024",
               "themes": ["social_assistance", "subsidy"], "keywords": ["低保", "社会救助"],
               "licence": "CC-BY-4.0", "update_frequency": "monthly",
               "temporal_start": "2024-01-01", "temporal_end": "2024-12-31",
               "spatial": "城关镇", "index_number": "000014349/2024-00031", "produced_date": "2024-06-30"}),
    )
    .await;
    server
        .publish_file(
            "relief-2024",
            "名册.csv",
            "姓名,乡镇,金额\n张三丰,城关镇,500\n李四,城关镇,620\n"
                .as_bytes()
                .to_vec(),
        )
        .await;
    server
        .create_dataset_with(
            json!({"slug": "budget-2024", "title": "2024年部门预算", "agency": "county-finance",
               "themes": ["budget"], "keywords": ["预算"], "licence": "CC0-1.0",
               "update_frequency": "annual", "temporal_start": "2024-01-01"}),
        )
        .await;
    server
        .publish_file(
            "budget-2024",
            "预算.csv",
            "科目编码,科目名称,合计\n201,一般公共服务支出,100.5\n"
                .as_bytes()
                .to_vec(),
        )
        .await;
    server
        .create_dataset_with(
            json!({"slug": "on-request", "title": "征地补偿明细（依申请公开）", "agency": "county",
               "disclosure": "on_request", "disclosure_reason": "涉及第三方权益",
               "themes": ["land"], "keywords": ["征地"]}),
        )
        .await;
    server
        .publish_file(
            "on-request",
            "补偿.csv",
            "村,金额\n东村,10\n".as_bytes().to_vec(),
        )
        .await;
    server
        .create_dataset_with(
            json!({"slug": "withdrawn-list", "title": "已撤回的名单", "agency": "county-civil",
               "themes": ["social_assistance"]}),
        )
        .await;
    server
        .publish_file(
            "withdrawn-list",
            "w.csv",
            "乡镇,户数\n城关镇,12\n".as_bytes().to_vec(),
        )
        .await;
    let reviewer = server.reviewer_token().await;
    let r = server
        .post_as(
            &reviewer,
            "/api/v1/datasets/withdrawn-list/withdraw",
            json!({"reason": "含未脱敏信息"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // A draft with data, and a published dataset later marked 不予公开.
    server
        .create_dataset_with(
            json!({"slug": "secret-draft", "title": "未发布的草稿名单", "agency": "county-civil"}),
        )
        .await;
    let r = server
        .upload(
            "secret-draft",
            "d.csv",
            "姓名,金额\n王五,300\n".as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    server
        .create_dataset_with(
            json!({"slug": "internal-only", "title": "内部不予公开的数据", "agency": "county"}),
        )
        .await;
    server
        .publish_file("internal-only", "i.csv", "a,b\n1,2\n".as_bytes().to_vec())
        .await;
    let r = server
        .client
        .patch(server.url("/api/v1/datasets/internal-only"))
        .bearer_auth(&reviewer)
        .json(&json!({"disclosure": "not_public", "disclosure_reason": "涉及国家秘密"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    let base = server.base.clone();
    let listed = ["relief-2024", "budget-2024", "on-request", "withdrawn-list"];
    let listed_titles = [
        "2024年城关镇低保发放名册",
        "2024年部门预算",
        "征地补偿明细（依申请公开）",
        "已撤回的名单",
    ];
    let hidden = [
        "secret-draft",
        "未发布的草稿名单",
        "internal-only",
        "内部不予公开的数据",
    ];

    let ttl = fetch(server, "/catalog.ttl", "text/turtle").await;
    let jsonld = fetch(server, "/catalog.jsonld", "application/ld+json").await;
    let data_json = fetch(server, "/data.json", "application/json").await;
    let sitemap = fetch(server, "/sitemap.xml", "application/xml").await;
    let csv = fetch(server, "/api/v1/catalogue.csv", "text/csv").await;
    let xlsx = fetch(
        server,
        "/api/v1/catalogue.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    .await;

    // The XLSX as text (every cell), for the leak check below.
    let sheet: Vec<Vec<String>> = {
        use calamine::Reader;
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
        let range = book.worksheet_range("政务信息公开目录").unwrap();
        range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    };
    let sheet_text = sheet
        .iter()
        .map(|r| r.join("\t"))
        .collect::<Vec<_>>()
        .join("\n");

    // Nothing private anywhere.
    for (name, body) in [
        ("catalog.ttl", String::from_utf8(ttl.clone()).unwrap()),
        ("catalog.jsonld", String::from_utf8(jsonld.clone()).unwrap()),
        ("data.json", String::from_utf8(data_json.clone()).unwrap()),
        ("sitemap.xml", String::from_utf8(sitemap.clone()).unwrap()),
        ("catalogue.csv", String::from_utf8(csv.clone()).unwrap()),
        ("catalogue.xlsx", sheet_text.clone()),
    ] {
        for h in hidden {
            assert!(!body.contains(h), "{h} leaked into {name}:\n{body}");
        }
        // The catalogue names datasets by title; the other feeds by URL.
        let expected: &[&str] = if name.starts_with("catalogue.") {
            &listed_titles
        } else {
            &listed
        };
        for l in expected {
            assert!(body.contains(l), "{l} missing from {name}:\n{body}");
        }
    }

    // 政务信息公开目录: headers and rows, CSV and XLSX alike.
    let headers = [
        "索引号",
        "名称",
        "内容概述",
        "生成日期",
        "发布机构",
        "公开方式",
        "公开时限/发布日期",
        "获取方式",
        "状态",
        "主题",
        "关键词",
    ];
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "CSV starts with a BOM");
    let mut reader = csv::Reader::from_reader(&csv[3..]);
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        headers
    );
    let csv_rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(sheet[0], headers);
    let xlsx_rows = &sheet[1..];
    assert_eq!(csv_rows.len(), 4, "{csv_rows:?}");
    assert_eq!(xlsx_rows, &csv_rows[..], "CSV and XLSX carry the same rows");
    let row = |title: &str| {
        csv_rows
            .iter()
            .find(|r| r[1] == title)
            .unwrap_or_else(|| panic!("no row {title}: {csv_rows:?}"))
            .clone()
    };
    let relief = row("2024年城关镇低保发放名册");
    assert_eq!(relief[0], "000014349/2024-00031");
    assert_eq!(relief[2], DESCRIPTION);
    assert_eq!(relief[3], "2024-06-30");
    assert_eq!(relief[4], "county-civil 机构");
    assert_eq!(relief[5], "主动公开");
    assert_eq!(relief[6].len(), 10, "a date: {}", relief[6]);
    assert_eq!(
        relief[7],
        format!("{base}/api/v1/datasets/relief-2024/data.csv")
    );
    assert_eq!(relief[8], "已发布");
    assert_eq!(relief[9], "社会救助、惠民惠农补贴");
    assert_eq!(relief[10], "低保、社会救助");
    let on_request = row("征地补偿明细（依申请公开）");
    assert_eq!(on_request[5], "依申请公开");
    assert_eq!(on_request[7], "依申请公开：向发布机构提出申请");
    assert_eq!(on_request[8], "已发布");
    let withdrawn = row("已撤回的名单");
    assert_eq!(withdrawn[8], "已撤回：含未脱敏信息");
    assert!(!withdrawn[7].starts_with("http"), "{withdrawn:?}");

    // The advertised download URLs work.
    let r = server.get("/api/v1/datasets/relief-2024/data.csv").await;
    assert_eq!(r.status(), StatusCode::OK);

    // DCAT-US 1.1: the fields the schema requires.
    let dj: Value = serde_json::from_slice(&data_json).unwrap();
    assert_eq!(
        dj["conformsTo"],
        "https://project-open-data.cio.gov/v1.1/schema"
    );
    assert_eq!(dj["@type"], "dcat:Catalog");
    let datasets = dj["dataset"].as_array().unwrap();
    assert_eq!(datasets.len(), 4);
    for d in datasets {
        for field in [
            "title",
            "description",
            "keyword",
            "modified",
            "publisher",
            "contactPoint",
            "identifier",
            "accessLevel",
        ] {
            assert!(!d[field].is_null(), "{field} missing in {d}");
        }
        assert!(!d["keyword"].as_array().unwrap().is_empty());
        assert!(d["publisher"]["name"].is_string());
        assert!(d["contactPoint"]["fn"].is_string());
        assert!(
            d["contactPoint"]["hasEmail"]
                .as_str()
                .unwrap()
                .starts_with("mailto:")
        );
        assert!(
            chrono::DateTime::parse_from_rfc3339(d["modified"].as_str().unwrap()).is_ok(),
            "{d}"
        );
        if d["accessLevel"] != "public" {
            assert!(d["rights"].is_string(), "rights required: {d}");
        }
    }
    let by_id = |id: &str| {
        datasets
            .iter()
            .find(|d| d["identifier"] == id)
            .unwrap()
            .clone()
    };
    let relief = by_id("relief-2024");
    assert_eq!(relief["accessLevel"], "public");
    assert_eq!(
        relief["license"],
        "https://creativecommons.org/licenses/by/4.0/"
    );
    assert_eq!(relief["temporal"], "2024-01-01/2024-12-31");
    assert_eq!(relief["spatial"], "城关镇");
    assert_eq!(
        relief["publisher"]["subOrganizationOf"]["name"],
        "county 机构"
    );
    let urls: Vec<&str> = relief["distribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["downloadURL"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            format!("{base}/api/v1/datasets/relief-2024/data.parquet"),
            format!("{base}/api/v1/datasets/relief-2024/data.csv"),
        ]
    );
    assert_eq!(by_id("on-request")["accessLevel"], "restricted public");
    assert!(by_id("on-request")["distribution"].is_null());
    assert_eq!(by_id("withdrawn-list")["accessLevel"], "non-public");
    assert!(by_id("withdrawn-list")["distribution"].is_null());

    // schema.org on the dataset API.
    let d: Value = server
        .get("/api/v1/datasets/relief-2024")
        .await
        .json()
        .await
        .unwrap();
    let s = &d["schema_org"];
    assert_eq!(s["@context"], "https://schema.org");
    assert_eq!(s["@type"], "Dataset");
    assert_eq!(s["name"], "2024年城关镇低保发放名册");
    assert_eq!(s["temporalCoverage"], "2024-01-01/2024-12-31");
    assert_eq!(s["isAccessibleForFree"], true);
    assert_eq!(s["creator"]["@type"], "Organization");
    assert_eq!(s["distribution"][0]["@type"], "DataDownload");
    assert_eq!(
        s["distribution"][0]["encodingFormat"],
        "application/vnd.apache.parquet"
    );
    assert!(
        s["distribution"][1]["contentUrl"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/datasets/relief-2024/data.csv")
    );
    let d: Value = server
        .get("/api/v1/datasets/on-request")
        .await
        .json()
        .await
        .unwrap();
    assert!(d["schema_org"]["distribution"].is_null());

    // The rest needs Python: the XML parser, rdflib and pyshacl.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let sitemap_file = write("sitemap.xml", &sitemap);
    let ttl_file = write("catalog.ttl", &ttl);
    let jsonld_file = write("catalog.jsonld", &jsonld);

    if python_has("xml.etree.ElementTree", "sitemap XML check") {
        let urls = python_json(SITEMAP_SCRIPT, &[&sitemap_file]);
        let locs: Vec<&str> = urls
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["loc"].as_str().unwrap())
            .collect();
        assert_eq!(locs[0], format!("{base}/"));
        for l in listed {
            assert!(
                locs.contains(&format!("{base}/datasets/{l}").as_str()),
                "{locs:?}"
            );
            assert!(
                locs.contains(&format!("{base}/api/v1/datasets/{l}").as_str()),
                "{locs:?}"
            );
        }
        assert_eq!(locs.len(), 1 + 2 * listed.len());
        for u in urls.as_array().unwrap() {
            let m = u["lastmod"].as_str().expect("lastmod");
            assert!(chrono::DateTime::parse_from_rfc3339(m).is_ok(), "{m}");
        }
    }

    if !python_has("rdflib, pyshacl", "DCAT-AP SHACL validation") {
        return;
    }
    // rdflib reads both serialisations as the same graph, Chinese and escapes intact.
    let facts = python_json(RDFLIB_SCRIPT, &[&ttl_file, &jsonld_file]);
    assert_eq!(
        facts["isomorphic"], true,
        "Turtle and JSON-LD differ: {facts}"
    );
    let mut ids: Vec<&str> = facts["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = listed.to_vec();
    want.sort();
    assert_eq!(ids, want);
    assert!(
        facts["descriptions"]
            .as_array()
            .unwrap()
            .contains(&json!(DESCRIPTION)),
        "{facts}"
    );
    assert!(
        facts["titles"]
            .as_array()
            .unwrap()
            .contains(&json!("2024年城关镇低保发放名册@zh")),
        "{facts}"
    );
    assert!(
        facts["titles"]
            .as_array()
            .unwrap()
            .contains(&json!("Minimum living allowance recipients 2024@en")),
        "{facts}"
    );
    let dists = &facts["distributions"];
    assert_eq!(dists[format!("{base}/api/v1/datasets/relief-2024")], 2);
    assert_eq!(dists[format!("{base}/api/v1/datasets/budget-2024")], 2);
    assert_eq!(dists[format!("{base}/api/v1/datasets/on-request")], 0);
    assert_eq!(dists[format!("{base}/api/v1/datasets/withdrawn-list")], 0);
    assert!(facts["themes"].as_array().unwrap().contains(&json!(
        "http://publications.europa.eu/resource/authority/data-theme/SOCI"
    )));

    // DCAT-AP 3 shapes: both serialisations conform …
    for (file, format) in [(&ttl_file, "turtle"), (&jsonld_file, "json-ld")] {
        let (conforms, report) = pyshacl(file, format);
        assert!(
            conforms,
            "{format} does not conform to DCAT-AP 3:\n{report}"
        );
        eprintln!(
            "pyshacl {format}: {}",
            report.lines().take(2).collect::<Vec<_>>().join(" ")
        );
    }
    // … and the shapes do bite: a dataset without title and description, a
    // distribution without access URL and a publisher of the wrong class fail.
    let broken = write(
        "broken.ttl",
        br#"@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
<http://example.org/c> a dcat:Catalog ; dct:title "c" ; dct:description "d" ;
    dct:publisher <http://example.org/nobody> ; dcat:dataset <http://example.org/d> .
<http://example.org/d> a dcat:Dataset ; dcat:distribution <http://example.org/x> .
<http://example.org/x> a dcat:Distribution ; dcat:downloadURL "not an IRI" .
"#,
    );
    let (conforms, report) = pyshacl(&broken, "turtle");
    assert!(!conforms, "the shapes accept a broken catalogue:\n{report}");
    for expected in [
        "dct:title",
        "dct:description",
        "dcat:accessURL",
        "foaf:Agent",
    ] {
        let short = expected.split(':').nth(1).unwrap();
        assert!(report.contains(short), "{expected} not reported:\n{report}");
    }
}
