//! The CKAN action API as CKAN's own Python client (`ckanapi`) and a
//! ckanext-harvest style harvester use it.

use crate::support::{Server, required};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::Command;

const SCRIPT: &str = r#"
import json, sys
import ckanapi

ck = ckanapi.RemoteCKAN(sys.argv[1], user_agent="gongkai-test")
out = {}
out["package_list"] = ck.action.package_list()
out["search"] = ck.action.package_search(q="预算", rows=10)
out["facets"] = ck.action.package_search(
    q="", rows=0, **{"facet.field": json.dumps(["organization", "groups", "tags", "res_format"])}
)
out["org_filter"] = ck.action.package_search(fq="organization:county-finance", rows=100)
out["since"] = ck.action.package_search(fq="metadata_modified:[2099-01-01T00:00:00Z TO *]")
# ckanext-harvest pages through everything with rows=100, start=N, sort=id asc;
# here with rows=2 so that paging really happens.
ids, start = [], 0
while True:
    page = ck.action.package_search(
        fq="metadata_modified:[2000-01-01T00:00:00Z TO *]", rows=2, start=start, sort="id asc"
    )
    ids += [p["id"] for p in page["results"]]
    start += 2
    if start >= page["count"]:
        break
out["harvested_ids"] = ids
out["show"] = ck.action.package_show(id="budget-2024")
out["show_by_id"] = ck.action.package_show(id=out["show"]["id"])["name"]
out["organizations"] = ck.action.organization_list()
out["organization"] = ck.action.organization_show(id="county-finance")
out["groups"] = ck.action.group_list(all_fields=True)
out["group"] = ck.action.group_show(id="budget")
out["datastore"] = ck.action.datastore_search(
    resource_id="budget-2024", filters={"ke_mu_bian_ma": "201"}, limit=5
)
out["datastore_all"] = ck.action.datastore_search(resource_id="budget-2024", limit=1, offset=1)
out["datastore_sql"] = ck.action.datastore_search_sql(
    sql='SELECT ke_mu_ming_cheng, he_ji FROM "budget-2024" ORDER BY he_ji DESC LIMIT 2'
)
for name, call in {
    "missing_package": lambda: ck.action.package_show(id="no-such-dataset"),
    "draft_package": lambda: ck.action.package_show(id="secret-draft"),
    "missing_resource": lambda: ck.action.datastore_search(resource_id="secret-draft"),
    "bad_sql": lambda: ck.action.datastore_search_sql(sql="DROP TABLE x"),
    "too_many_rows": lambda: ck.action.package_search(rows=5000),
}.items():
    try:
        call()
        out[name] = "no error"
    except ckanapi.NotFound:
        out[name] = "NotFound"
    except ckanapi.ValidationError:
        out[name] = "ValidationError"
    except ckanapi.SearchQueryError:
        out[name] = "SearchQueryError"
    except Exception as e:  # anything else is a failure the test reports
        out[name] = type(e).__name__ + ": " + str(e)
print(json.dumps(out, ensure_ascii=False))
"#;

fn ckanapi_available() -> bool {
    Command::new("python3")
        .args(["-c", "import ckanapi"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn ckanapi_lists_searches_pages_and_reads() {
    ckan_scenario(&Server::start().await).await;
}

/// The whole ckanapi scenario against a running server without examples
/// (also run on PostgreSQL in `postgres.rs`).
pub async fn ckan_scenario(server: &Server) {
    if !ckanapi_available() {
        assert!(!required(), "CI must install ckanapi (.ci/run)");
        eprintln!("skipped: python3 cannot import ckanapi");
        return;
    }
    server.agency("county", None).await;
    server.agency("county-finance", Some("county")).await;
    server.agency("county-civil", Some("county")).await;
    let budget =
        "科目编码,科目名称,合计\n201,一般公共服务支出,100.5\n20101,人大事务,20\n205,教育支出,300\n"
            .as_bytes()
            .to_vec();
    server
        .create_dataset_with(
            json!({"slug": "budget-2024", "title": "2024年部门预算", "agency": "county-finance",
                           "themes": ["budget"], "keywords": ["预算"]}),
        )
        .await;
    server
        .publish_file("budget-2024", "预算.csv", budget.clone())
        .await;
    server
        .create_dataset_with(
            json!({"slug": "budget-2023", "title": "2023年部门预算", "agency": "county-finance",
                           "themes": ["budget"]}),
        )
        .await;
    server.publish_file("budget-2023", "预算.csv", budget).await;
    server
        .create_dataset_with(
            json!({"slug": "roads", "title": "道路养护项目", "agency": "county",
                           "themes": ["transport"], "keywords": ["道路"]}),
        )
        .await;
    server
        .publish_file(
            "roads",
            "roads.csv",
            "项目,金额\n东线,12\n西线,30\n".as_bytes().to_vec(),
        )
        .await;
    server
        .create_dataset_with(
            json!({"slug": "relief", "title": "救助名单", "agency": "county-civil"}),
        )
        .await;
    server
        .publish_file(
            "relief",
            "r.csv",
            "乡镇,户数\n城关镇,12\n".as_bytes().to_vec(),
        )
        .await;
    let reviewer = server.reviewer_token().await;
    let r = server
        .post_as(
            &reviewer,
            "/api/v1/datasets/relief/withdraw",
            json!({"reason": "更正"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    server
        .create_dataset_with(json!({"slug": "secret-draft", "title": "草稿", "agency": "county"}))
        .await;
    let r = server
        .upload("secret-draft", "d.csv", "a,b\n1,2\n".as_bytes().to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let base = server.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", SCRIPT, &base])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "ckanapi failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();

    // Only published datasets: no draft, no withdrawn one.
    assert_eq!(
        out["package_list"],
        json!(["budget-2023", "budget-2024", "roads"])
    );
    let found: Vec<&str> = out["search"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(out["search"]["count"], 2);
    assert!(found.contains(&"budget-2024") && found.contains(&"budget-2023"));
    let facets = &out["facets"]["facets"];
    assert_eq!(facets["organization"]["county-finance"], 2);
    assert_eq!(facets["groups"]["budget"], 2);
    assert_eq!(facets["res_format"]["CSV"], 3);
    assert_eq!(
        out["facets"]["search_facets"]["groups"]["items"][0]["display_name"],
        "财政预决算"
    );
    assert_eq!(out["org_filter"]["count"], 2);
    assert_eq!(out["since"]["count"], 0);

    // The harvester saw every package exactly once, in id order.
    let ids: Vec<&str> = out["harvested_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted);

    // package_show has CKAN's shape.
    let show = &out["show"];
    assert_eq!(show["name"], "budget-2024");
    assert_eq!(show["state"], "active");
    assert_eq!(show["organization"]["name"], "county-finance");
    assert_eq!(show["groups"][0]["name"], "budget");
    assert_eq!(show["tags"][0]["name"], "预算");
    assert_eq!(show["num_resources"], 2);
    assert_eq!(show["resources"][0]["format"], "Parquet");
    assert!(
        show["resources"][1]["url"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/datasets/budget-2024/data.csv")
    );
    assert_eq!(out["show_by_id"], "budget-2024");
    let orgs: Vec<&str> = out["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(orgs, vec!["county", "county-civil", "county-finance"]);
    assert_eq!(out["organization"]["package_count"], 2);
    assert_eq!(out["group"]["package_count"], 2);
    let transport = out["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "transport")
        .unwrap();
    assert_eq!(transport["package_count"], 1);

    // DataStore: filters, paging and SQL over the published table.
    let ds = &out["datastore"];
    assert_eq!(ds["total"], 1);
    assert_eq!(ds["records"][0]["ke_mu_ming_cheng"], "一般公共服务支出");
    assert_eq!(ds["fields"][0]["id"], "_id");
    let all = &out["datastore_all"];
    assert_eq!(all["total"], 3);
    assert_eq!(all["records"].as_array().unwrap().len(), 1);
    assert_eq!(all["records"][0]["_id"], 2);
    let sql = &out["datastore_sql"]["records"];
    assert_eq!(sql[0]["ke_mu_ming_cheng"], "教育支出");
    assert_eq!(sql.as_array().unwrap().len(), 2);

    // CKAN's errors, as ckanapi raises them.
    assert_eq!(out["missing_package"], "NotFound");
    assert_eq!(out["draft_package"], "NotFound");
    assert_eq!(out["missing_resource"], "NotFound");
    assert_eq!(out["bad_sql"], "ValidationError");
    assert_eq!(out["too_many_rows"], "ValidationError");

    // The raw envelope.
    let r = server.get("/api/3/action/package_show?id=no-such").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["__type"], "Not Found Error");
    assert!(
        body["help"]
            .as_str()
            .unwrap()
            .contains("help_show?name=package_show")
    );
    let r = server.get("/api/3/action/no_such_action").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = server
        .get("/api/3/action/package_show?id=relief")
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        r["result"]["state"], "deleted",
        "withdrawn datasets read as deleted"
    );
    assert_eq!(r["result"]["num_resources"], 0);
}
