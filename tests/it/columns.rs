//! Agencies rename and retype columns of a draft before publishing: the draft
//! is derived again from the raw upload, redaction and descriptions follow the
//! column, a type that some value cannot take is refused with the row, and the
//! published table (SQL, Parquet metadata, data dictionary) uses the new names.

use crate::support::{ADMIN_TOKEN, Server};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CSV: &str = "村(社区),姓名,户数,备注编号\n东关村,张建国,3,7\n北坡村,李秀英,5,x9\n";

async fn patch(server: &Server, slug: &str, body: Value) -> (StatusCode, Value) {
    let r = server
        .client
        .patch(server.url(&format!("/api/v1/datasets/{slug}/versions/1/columns")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

fn column<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name} in {}", v["columns"]))
}

#[tokio::test]
async fn rename_and_retype_columns_before_publishing() {
    let server = Server::start().await;
    server
        .create_dataset_with(json!({"slug": "households", "title": "户数", "category": "subsidy"}))
        .await;
    let r = server
        .upload("households", "households.csv", CSV.as_bytes().to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    let names: Vec<&str> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"hu_shu"), "{names:?}");
    let id = column(&v, "xing_ming");
    assert!(id["action"].is_string(), "the name column is masked: {id}");

    // Describe, then rename the personal column and the count; retype the count.
    let (s, _) = patch(
        &server,
        "households",
        json!({"columns": {"hu_shu": {"description": "登记户数"}}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = patch(
        &server,
        "households",
        json!({"columns": {
            "hu_shu": {"name": "households", "type": "Float64"},
            "xing_ming": {"name": "person_name"},
            "cun_she_qu": {"name": "village"}
        }}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let h = column(&v, "households");
    assert_eq!(h["type"], "Float64");
    assert_eq!(
        h["description"], "登记户数",
        "the description follows the rename"
    );
    assert_eq!(h["path"][0], "户数", "the original header stays");
    let id = column(&v, "person_name");
    assert!(
        id["action"].is_string(),
        "redaction follows the rename: {id}"
    );
    assert!(
        v["report"]["privacy"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["column"] == "person_name"),
        "the report names the renamed column"
    );

    // A type some value cannot take is refused with the data row; nothing changes.
    let remark = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"][0] == "备注编号")
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, e) = patch(
        &server,
        "households",
        json!({"columns": {remark.clone(): {"type": "integer"}}}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["code"], "cannot_retype");
    assert_eq!(e["error"]["details"]["examples"][0]["data_row"], 2);
    assert_eq!(e["error"]["details"]["examples"][0]["value"], "x9");
    // Bad names and clashes are refused too.
    for (body, code) in [
        (
            json!({"columns": {"village": {"name": "Village Name"}}}),
            "invalid_name",
        ),
        (
            json!({"columns": {"village": {"name": "households"}}}),
            "duplicate_name",
        ),
        (
            json!({"columns": {"nope": {"name": "x"}}}),
            "unknown_column",
        ),
        (
            json!({"columns": {"village": {"type": "Binary"}}}),
            "invalid_type",
        ),
    ] {
        let (s, e) = patch(&server, "households", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["error"]["code"], code, "{body}: {e}");
    }

    // Changing the redaction of the renamed column still works, by its new name.
    let r = server
        .client
        .put(server.url("/api/v1/datasets/households/versions/1/redaction"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"columns": {"person_name": {"action": "drop"}}}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"person_name"), "dropped: {names:?}");
    assert!(
        names.contains(&"village") && names.contains(&"households"),
        "renames kept: {names:?}"
    );

    // Published: SQL uses the new names and types; Parquet keeps the Chinese header.
    let r = server.review_and_publish("households", 1).await;
    assert_eq!(r.status(), StatusCode::OK);
    let rows = server
        .sql("SELECT village, households FROM households ORDER BY village")
        .await;
    assert_eq!(rows["rows"][0]["village"], "东关村");
    assert_eq!(rows["rows"][0]["households"], 3.0);
    let tables: Value = server.get("/api/v1/tables").await.json().await.unwrap();
    let t = tables["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "households")
        .unwrap();
    let hh = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "households")
        .unwrap();
    assert_eq!(hh["type"], "Float64");
    assert_eq!(hh["path"][0], "户数");

    // Published versions cannot change columns.
    let (s, e) = patch(
        &server,
        "households",
        json!({"columns": {"village": {"name": "cun"}}}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
}
