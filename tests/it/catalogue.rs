//! The catalogue as a researcher searches it: metadata, Chinese and English
//! full text, facets, filters, sorting and paging — and nothing private in
//! the results. Runs on SQLite here and on PostgreSQL in `postgres.rs`.

use crate::support::{Server, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn search(server: &Server, query: &str) -> Value {
    let r = server.get(&format!("/api/v1/datasets?{query}")).await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

fn slugs(body: &Value) -> Vec<String> {
    body["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["slug"].as_str().unwrap().to_string())
        .collect()
}

fn facet(body: &Value, name: &str) -> Vec<(String, u64)> {
    body["facets"][name]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|f| {
                    (
                        f["value"].as_str().unwrap().to_string(),
                        f["count"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The whole scenario against a running server (no examples loaded).
pub async fn catalogue_scenario(server: &Server) {
    server.agency("county", None).await;
    server.agency("county-civil", Some("county")).await;
    server.agency("county-finance", Some("county")).await;
    server.agency("other-county", None).await;

    server.create_dataset_with(json!({"slug": "relief-2024", "title": "2024年城关镇低保发放名册", "agency": "county-civil",
               "description": "城关镇最低生活保障对象及发放金额",
               "title_en": "Minimum living allowance recipients 2024",
               "themes": ["social_assistance"], "keywords": ["低保", "社会救助"],
               "update_frequency": "monthly", "temporal_start": "2024-01-01", "temporal_end": "2024-12-31",
               "spatial": "城关镇", "index_number": "000014349/2024-00031", "produced_date": "2024-06-30"}),
    )
    .await;
    server
        .create_dataset_with(
            json!({"slug": "budget-2024", "title": "2024年部门预算", "agency": "county-finance",
               "title_en": "County department budget 2024", "themes": ["budget"],
               "temporal_start": "2024-01-01", "licence": "CC0-1.0"}),
        )
        .await;
    server
        .create_dataset_with(
            json!({"slug": "budget-2023", "title": "2023年部门决算", "agency": "county-finance",
               "themes": ["budget"], "temporal_start": "2023-01-01"}),
        )
        .await;
    server
        .create_dataset_with(
            json!({"slug": "elsewhere", "title": "外县环境监测", "agency": "other-county",
               "themes": ["environment"], "keywords": ["空气质量"]}),
        )
        .await;
    server
        .create_dataset_with(
            json!({"slug": "secret-draft", "title": "未发布的低保草稿", "agency": "county-civil"}),
        )
        .await;
    let relief = "姓名,乡镇,金额\n张三丰,城关镇,500\n李四,城关镇,620\n"
        .as_bytes()
        .to_vec();
    server.publish_file("relief-2024", "名册.csv", relief).await;
    let budget = "科目编码,科目名称,合计\n201,一般公共服务支出,100.5\n20101,人大事务,20\n"
        .as_bytes()
        .to_vec();
    server
        .publish_file("budget-2024", "预算.csv", budget.clone())
        .await;
    server.publish_file("budget-2023", "决算.csv", budget).await;
    server
        .publish_file(
            "elsewhere",
            "air.csv",
            b"pm25,day\n35,2024-05-01\n".to_vec(),
        )
        .await;
    // A draft with data, never published.
    let r = server
        .upload(
            "secret-draft",
            "d.csv",
            "姓名,金额\n王五,300\n".as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // The agency describes columns of a draft; the descriptions reach the
    // published data dictionary and survive nothing else changing them.
    let r = server
        .upload(
            "budget-2024",
            "预算.csv",
            "科目编码,科目名称,合计\n201,一般公共服务支出,100.5\n"
                .as_bytes()
                .to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let columns = |body: Value| {
        server
            .client
            .patch(server.url("/api/v1/datasets/budget-2024/versions/2/columns"))
            .bearer_auth(crate::support::ADMIN_TOKEN)
            .json(&body)
            .send()
    };
    let r = columns(json!({"columns": {"he_ji": {"description": "预算合计（万元）"}}}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = columns(json!({"columns": {"nosuch": {"description": "x"}}}))
        .await
        .unwrap();
    let (code, message) = error_code(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(code, "invalid_input");
    assert!(
        message.contains("he_ji"),
        "lists the real columns: {message}"
    );
    let r = server.review_and_publish("budget-2024", 2).await;
    assert_eq!(r.status(), StatusCode::OK);
    let d: Value = server
        .get("/api/v1/datasets/budget-2024")
        .await
        .json()
        .await
        .unwrap();
    let he_ji = d["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "he_ji")
        .unwrap()
        .clone();
    assert_eq!(he_ji["description"], "预算合计（万元）");
    let r = columns(json!({"columns": {"he_ji": {"description": "改"}}}))
        .await
        .unwrap();
    let (code, _) = error_code(r, StatusCode::CONFLICT).await;
    assert_eq!(
        code, "invalid_state",
        "published dictionaries are immutable"
    );

    // Bad metadata is refused with the field named.
    for (patch, field) in [
        (json!({"themes": ["astrology"]}), "themes"),
        (json!({"licence": "WTFPL"}), "licence"),
        (json!({"update_frequency": "hourly"}), "update_frequency"),
        (json!({"temporal_start": "2024-02-30"}), "temporal_start"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let r = server
            .client
            .patch(server.url("/api/v1/datasets/budget-2023"))
            .bearer_auth(crate::support::ADMIN_TOKEN)
            .json(&patch)
            .send()
            .await
            .unwrap();
        let (code, message) = error_code(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(code, "invalid_input");
        assert!(message.contains(field), "{message}");
    }

    // Metadata comes back as given, with defaults and labels.
    let d: Value = server
        .get("/api/v1/datasets/relief-2024")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["themes"][0]["code"], "social_assistance");
    assert_eq!(d["themes"][0]["zh"], "社会救助");
    assert_eq!(d["keywords"], json!(["低保", "社会救助"]));
    assert_eq!(d["licence"], "CC-BY-4.0");
    assert_eq!(
        d["temporal"],
        json!({"start": "2024-01-01", "end": "2024-12-31"})
    );
    assert_eq!(d["index_number"], "000014349/2024-00031");
    assert_eq!(d["update_frequency"], "monthly");

    // Chinese words, English words, column names and agency names all find data.
    assert_eq!(
        slugs(&search(server, "q=低保名册").await),
        vec!["relief-2024"]
    );
    assert_eq!(
        slugs(&search(server, "q=allowance").await),
        vec!["relief-2024"]
    );
    assert_eq!(
        slugs(&search(server, "q=Department").await),
        vec!["budget-2024"]
    );
    // "budget" is in both slugs; the one with it in its English title ranks first.
    assert_eq!(
        slugs(&search(server, "q=budget").await),
        vec!["budget-2024", "budget-2023"]
    );
    let by_column = slugs(&search(server, "q=科目编码").await);
    assert_eq!(by_column.len(), 2, "{by_column:?}");
    assert!(by_column.contains(&"budget-2023".to_string()));
    let by_agency = slugs(&search(server, "q=county-finance%20机构").await);
    assert_eq!(by_agency.len(), 2, "{by_agency:?}");

    // Drafts never appear, not even by their exact title or their data.
    assert!(slugs(&search(server, "q=未发布的低保草稿").await).is_empty());
    assert!(slugs(&search(server, "q=王五").await).is_empty());
    let all = search(server, "per_page=100").await;
    assert_eq!(all["total"], 4);
    assert!(!slugs(&all).contains(&"secret-draft".to_string()));

    // Facets count the matching set; an agency includes its sub-agencies.
    assert_eq!(
        facet(&all, "agency"),
        vec![
            ("county-finance".into(), 2),
            ("county-civil".into(), 1),
            ("other-county".into(), 1)
        ]
    );
    assert_eq!(facet(&all, "theme")[0], ("budget".into(), 2));
    // Year: temporal coverage, else decision date, else publication (today).
    let this_year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(
        facet(&all, "year"),
        vec![("2024".into(), 2), ("2023".into(), 1), (this_year, 1)]
    );
    let county = search(server, "agency=county").await;
    assert_eq!(county["total"], 3);
    let theme = search(server, "theme=budget&sort=name").await;
    assert_eq!(slugs(&theme), vec!["budget-2023", "budget-2024"]);
    assert_eq!(theme["facets"]["theme"][0]["label"], "财政预决算");
    assert_eq!(
        slugs(&search(server, "year=2023").await),
        vec!["budget-2023"]
    );
    assert_eq!(search(server, "format=CSV").await["total"], 4);

    // Paging and sorting.
    let p1 = search(server, "sort=name&per_page=1&page=1").await;
    let p2 = search(server, "sort=name&per_page=1&page=2").await;
    assert_eq!(p1["total"], 4);
    assert_eq!(slugs(&p1), vec!["budget-2023"]);
    assert_eq!(
        slugs(&p2),
        vec!["relief-2024"],
        "titles in code-point order"
    );
    let r = server.get("/api/v1/datasets?sort=popularity").await;
    let (code, _) = error_code(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(code, "invalid_sort");

    // Edits show up at once; withdrawn datasets stay listed with their status
    // but lose their data dictionary from the index; 不予公开 disappears.
    let r = server
        .client
        .patch(server.url("/api/v1/datasets/elsewhere"))
        .bearer_auth(crate::support::ADMIN_TOKEN)
        .json(&json!({"keywords": ["PM2.5", "空气质量"], "title_en": "Air monitoring"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        slugs(&search(server, "q=monitoring").await),
        vec!["elsewhere"]
    );
    assert_eq!(slugs(&search(server, "q=jin_e").await), vec!["relief-2024"]);
    let reviewer = server.reviewer_token().await;
    let r = server
        .post_as(
            &reviewer,
            "/api/v1/datasets/relief-2024/withdraw",
            json!({"reason": "含未脱敏信息"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let withdrawn = search(server, "q=低保").await;
    assert_eq!(slugs(&withdrawn), vec!["relief-2024"]);
    assert_eq!(withdrawn["datasets"][0]["status"], "withdrawn");
    assert!(
        slugs(&search(server, "q=jin_e").await).is_empty(),
        "withdrawn columns stay out"
    );
    assert!(slugs(&search(server, "status=published&q=低保").await).is_empty());
    let r = server
        .client
        .patch(server.url("/api/v1/datasets/budget-2023"))
        .bearer_auth(&reviewer)
        .json(&json!({"disclosure": "not_public", "disclosure_reason": "涉及国家秘密"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    assert!(!slugs(&search(server, "per_page=100").await).contains(&"budget-2023".to_string()));
    assert!(slugs(&search(server, "q=决算").await).is_empty());
}

#[tokio::test]
async fn catalogue_metadata_and_search() {
    let server = Server::start().await;
    catalogue_scenario(&server).await;
}
