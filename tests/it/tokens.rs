//! Token lifetimes: a token's expiry is a positive number of days (the API
//! and the CLI refuse anything else, instead of making a token that never
//! expires), and a token whose expiry has passed is refused, however the
//! time is written in the catalogue.

use crate::support::{Server, binary, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::Command;

async fn me(server: &Server, token: &str) -> StatusCode {
    server
        .client
        .get(server.url("/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn token_lifetimes_are_positive_and_expired_tokens_are_refused() {
    let server = Server::start().await;
    server.agency("tok", None).await;
    let r = server
        .post_json(
            "/api/v1/users",
            json!({"name": "tok-user", "role": "editor", "agency": "tok"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // Zero or negative days are refused with a clear message, nothing is created.
    for days in [-5, 0, -3650] {
        let r = server
            .post_json(
                "/api/v1/tokens",
                json!({"user": "tok-user", "expires_in_days": days}),
            )
            .await;
        let (code, message) = error_code(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(code, "invalid_input");
        assert!(message.contains("expires_in_days"), "{message}");
        assert!(message.contains("有效期"), "bilingual: {message}");
    }
    let listed: Value = server
        .get_as_admin("/api/v1/tokens?user=tok-user")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 0, "{listed}");

    // A positive lifetime works and expires in the future.
    let r = server
        .post_json(
            "/api/v1/tokens",
            json!({"user": "tok-user", "expires_in_days": 1}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let left = expires - chrono::Utc::now();
    assert!(
        left > chrono::Duration::hours(23) && left <= chrono::Duration::days(1),
        "{created}"
    );
    let token = created["token"].as_str().unwrap().to_string();
    assert_eq!(me(&server, &token).await, StatusCode::OK);

    // The CLI refuses the same values.
    let data_dir = server.data_dir.path();
    for days in ["-5", "0"] {
        let out = Command::new(binary())
            .args(["token", "create", "--user", "tok-user"])
            .arg(format!("--expires-days={days}"))
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("GONGKAI_CATALOG")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "--expires-days={days} created a token: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(stderr.contains("有效期"), "{stderr}");
    }
    let listed: Value = server
        .get_as_admin("/api/v1/tokens?user=tok-user")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 1, "{listed}");

    // An expiry that has passed is refused whatever its written form: here
    // an hour ago in Beijing time, which as text sorts after "now" in UTC.
    let db = format!("sqlite://{}", data_dir.join("catalog.db").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let id = created["id"].as_i64().unwrap();
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let set = |at: String| {
        let pool = pool.clone();
        async move {
            sqlx::query("UPDATE tokens SET expires_at = ? WHERE id = ?")
                .bind(at)
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    set(hour_ago.with_timezone(&beijing).to_rfc3339()).await;
    assert_eq!(me(&server, &token).await, StatusCode::UNAUTHORIZED);
    set(hour_ago.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).await;
    assert_eq!(me(&server, &token).await, StatusCode::UNAUTHORIZED);
    // Unreadable expiry: refused rather than trusted.
    set("someday".into()).await;
    assert_eq!(me(&server, &token).await, StatusCode::UNAUTHORIZED);
    // In the future, in any offset: accepted.
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    set(in_an_hour.with_timezone(&beijing).to_rfc3339()).await;
    assert_eq!(me(&server, &token).await, StatusCode::OK);
    pool.close().await;
}
