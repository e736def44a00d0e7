//! `gongkai serve` on an empty data directory shows the example datasets.

use crate::support::{Options, Server};
use serde_json::Value;

#[tokio::test]
async fn a_fresh_server_publishes_the_examples() {
    let server = Server::start_with(Options {
        examples: true,
        ..Options::default()
    })
    .await;
    let list: Value = server.get("/api/v1/datasets").await.json().await.unwrap();
    let slugs: Vec<&str> = list["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["slug"].as_str().unwrap())
        .collect();
    for expected in [
        "budget-2024",
        "air-quality-2024-05",
        "procurement-results-2024",
    ] {
        assert!(
            slugs.contains(&expected),
            "{expected} missing from {slugs:?}"
        );
    }
    // The budget example's two-level header and totals row were understood.
    let budget: Value = server
        .get("/api/v1/datasets/budget-2024")
        .await
        .json()
        .await
        .unwrap();
    let paths: Vec<String> = budget["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    assert!(
        paths.contains(&"基本支出/人员经费".to_string()),
        "{paths:?}"
    );
    let rows = server
        .sql("SELECT COUNT(*) AS n FROM \"budget-2024\" WHERE ke_mu_ming_cheng = '合计'")
        .await;
    assert_eq!(rows["rows"][0]["n"], 0, "the totals row is not data");
    let aq = server
        .sql("SELECT MAX(you_liang_tian_shu_bi_li) AS m FROM \"air-quality-2024-05\"")
        .await;
    assert!(
        aq["rows"][0]["m"].as_f64().unwrap() <= 1.0,
        "percentages are fractions"
    );
    // A restart does not load them twice.
    drop(server);
}
