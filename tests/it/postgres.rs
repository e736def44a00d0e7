//! The same round trip with the catalogue on PostgreSQL (when GONGKAI_TEST_POSTGRES_URL is set).

use crate::roundtrip::check_roundtrip;
use crate::support::{Options, Server, required};
use sqlx::{Connection, Executor};

/// Creates a fresh database for this test and drops it afterwards.
struct TempDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl TempDatabase {
    async fn create(admin_url: &str) -> TempDatabase {
        let name = format!("gongkai_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("connect to PostgreSQL");
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create database");
        conn.close().await.ok();
        let mut url = url_without_db(admin_url);
        url.push('/');
        url.push_str(&name);
        TempDatabase {
            admin_url: admin_url.to_string(),
            name,
            url,
        }
    }

    async fn drop_now(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin_url).await {
            let _ = conn
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .await;
        }
    }
}

fn url_without_db(url: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    let _ = query;
    base.to_string()
}

#[tokio::test]
async fn roundtrip_with_a_postgres_catalogue() {
    let Ok(admin_url) = std::env::var("GONGKAI_TEST_POSTGRES_URL") else {
        assert!(!required(), "CI must set GONGKAI_TEST_POSTGRES_URL");
        eprintln!("skipped: GONGKAI_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = TempDatabase::create(&admin_url).await;
    {
        let server = Server::start_with(Options {
            catalog: Some(db.url.clone()),
            ..Options::default()
        })
        .await;
        check_roundtrip(&server, "awards-pg").await;
        // The catalogue really is in PostgreSQL: the dataset row is there.
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let row: (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM datasets WHERE slug = 'awards-pg' AND status = 'published'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(row.0, 1);
        // The audit log refuses edits.
        assert!(
            sqlx::query("DELETE FROM audit_events")
                .execute(&mut conn)
                .await
                .is_err()
        );
        conn.close().await.ok();
    }
    db.drop_now().await;
}

#[tokio::test]
async fn workflow_with_a_postgres_catalogue() {
    let Ok(admin_url) = std::env::var("GONGKAI_TEST_POSTGRES_URL") else {
        assert!(!required(), "CI must set GONGKAI_TEST_POSTGRES_URL");
        eprintln!("skipped: GONGKAI_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = TempDatabase::create(&admin_url).await;
    {
        let server = Server::start_with(Options {
            catalog: Some(db.url.clone()),
            scheduler_interval_secs: Some(1),
            ..Options::default()
        })
        .await;
        crate::workflow::full_workflow(&server).await;
        crate::workflow::disclosure_and_deadlines(&server).await;
    }
    db.drop_now().await;
}

#[tokio::test]
async fn catalogue_with_a_postgres_catalogue() {
    let Ok(admin_url) = std::env::var("GONGKAI_TEST_POSTGRES_URL") else {
        assert!(!required(), "CI must set GONGKAI_TEST_POSTGRES_URL");
        eprintln!("skipped: GONGKAI_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = TempDatabase::create(&admin_url).await;
    {
        let server = Server::start_with(Options {
            catalog: Some(db.url.clone()),
            ..Options::default()
        })
        .await;
        crate::catalogue::catalogue_scenario(&server).await;
    }
    db.drop_now().await;
}

#[tokio::test]
async fn feeds_and_ckan_with_a_postgres_catalogue() {
    let Ok(admin_url) = std::env::var("GONGKAI_TEST_POSTGRES_URL") else {
        assert!(!required(), "CI must set GONGKAI_TEST_POSTGRES_URL");
        eprintln!("skipped: GONGKAI_TEST_POSTGRES_URL is not set");
        return;
    };
    for scenario in ["feeds", "ckan"] {
        let db = TempDatabase::create(&admin_url).await;
        {
            let server = Server::start_with(Options {
                catalog: Some(db.url.clone()),
                ..Options::default()
            })
            .await;
            match scenario {
                "feeds" => crate::feeds::feeds_scenario(&server).await,
                _ => crate::ckan::ckan_scenario(&server).await,
            }
        }
        db.drop_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_edits_with_a_postgres_catalogue() {
    let Ok(admin_url) = std::env::var("GONGKAI_TEST_POSTGRES_URL") else {
        assert!(!required(), "CI must set GONGKAI_TEST_POSTGRES_URL");
        eprintln!("skipped: GONGKAI_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = TempDatabase::create(&admin_url).await;
    {
        let server = Server::start_with(Options {
            catalog: Some(db.url.clone()),
            config: Some("[rate_limit]\nenabled = false\n".into()),
            ..Options::default()
        })
        .await;
        crate::concurrency::concurrent_patches(&server).await;
        crate::concurrency::if_match_scenario(&server).await;
    }
    db.drop_now().await;
}

#[tokio::test]
async fn raw_retention_with_a_postgres_catalogue() {
    let Ok(admin_url) = std::env::var("GONGKAI_TEST_POSTGRES_URL") else {
        assert!(!required(), "CI must set GONGKAI_TEST_POSTGRES_URL");
        eprintln!("skipped: GONGKAI_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = TempDatabase::create(&admin_url).await;
    {
        let server = Server::start_with(Options {
            catalog: Some(db.url.clone()),
            ..Options::default()
        })
        .await;
        crate::sweep::raw_expiry_scenario(&server, &db.url).await;
    }
    db.drop_now().await;
}
