//! Per-client rate limits (429 with `RateLimit-*` headers), anonymous vs token
//! quotas, and login throttling.

use crate::support::{Options, Server};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::time::Instant;

const LOW: &str = "[rate_limit]\nanonymous_per_minute = 30\nburst = 30\ntoken_per_minute = 120\nlogin_per_minute = 5\n";

fn number(h: &HeaderMap, name: &str) -> u64 {
    h.get(name)
        .unwrap_or_else(|| panic!("{name} header missing: {h:?}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number: {h:?}"))
}

async fn start(config: &str) -> Server {
    Server::start_with(Options {
        config: Some(config.into()),
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn anonymous_clients_get_429_with_headers_while_tokens_and_health_checks_go_on() {
    let server = start(LOW).await;

    // (a) The anonymous bucket of 30 counts down, then 429.
    let started = Instant::now();
    let mut remaining = Vec::new();
    let refused = loop {
        let r = server.get("/api/v1/datasets").await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            break r;
        }
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers();
        assert_eq!(number(h, "ratelimit-limit"), 30);
        assert_eq!(h["ratelimit-policy"], "30;w=60;burst=30");
        assert!(number(h, "ratelimit-reset") <= 60);
        remaining.push(number(h, "ratelimit-remaining"));
        assert!(remaining.len() <= 40, "never limited: {remaining:?}");
    };
    let elapsed = started.elapsed().as_secs_f64();
    // Half a request comes back every second: exactly 30 on a quick run.
    assert!(
        remaining.len() >= 30 && remaining.len() as f64 <= 30.0 + elapsed / 2.0,
        "{} allowed in {elapsed:.1} s: {remaining:?}",
        remaining.len()
    );
    assert_eq!(remaining[0], 29);
    assert!(
        remaining.windows(2).all(|w| w[1] < w[0] || elapsed > 1.0),
        "{remaining:?}"
    );
    assert_eq!(*remaining.last().unwrap(), 0);

    let h = refused.headers().clone();
    let retry_after = number(&h, "retry-after");
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(number(&h, "ratelimit-remaining"), 0);
    assert_eq!(number(&h, "ratelimit-limit"), 30);
    assert!(number(&h, "ratelimit-reset") >= retry_after);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(body["error"]["details"]["retry_after_secs"], retry_after);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("请求过于频繁")
    );
    // Other anonymous paths (pages, SQL, unknown URLs) share the same bucket.
    for path in ["/", "/api/v1/sql?q=SELECT%201", "/no/such/page"] {
        assert_eq!(
            server.get(path).await.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{path}"
        );
    }

    // (b) A token client from the same address has its own, larger quota.
    for _ in 0..40 {
        let r = server.get_as_admin("/api/v1/datasets").await;
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers();
        assert!(number(h, "ratelimit-limit") > 30, "{h:?}");
        assert!(
            h["ratelimit-policy"]
                .to_str()
                .unwrap()
                .starts_with("120;w=60")
        );
    }
    let r = server.get_as_admin("/api/v1/me").await;
    assert_eq!(r.status(), StatusCode::OK);
    let left = number(r.headers(), "ratelimit-remaining");
    assert!(
        left <= number(r.headers(), "ratelimit-limit") - 30,
        "{left}"
    );

    // (c) The health check and static assets are never limited.
    for _ in 0..50 {
        let r = server.get("/healthz").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().get("ratelimit-limit").is_none());
    }
    assert_eq!(server.get("/static/app.css").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn failed_logins_are_throttled_by_user_and_address_before_the_password_check() {
    // The request quota is high here: only the login throttle is under test.
    let server =
        start("[rate_limit]\nanonymous_per_minute = 6000\nburst = 1000\nlogin_per_minute = 5\n")
            .await;
    let password = "a long enough password";
    let r = server
        .post_json(
            "/api/v1/users",
            json!({"name": "clerk", "role": "admin", "password": password}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let login = |user: &'static str, password: &'static str| {
        server
            .client
            .post(server.url("/api/v1/login"))
            .json(&json!({"user": user, "password": password}))
            .send()
    };

    // Successful logins do not count.
    for _ in 0..7 {
        assert_eq!(
            login("clerk", password).await.unwrap().status(),
            StatusCode::OK
        );
    }
    // Five failures …
    for _ in 0..5 {
        let r = login("clerk", "not the password").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // … then even the right password is refused, without being checked.
    let r = login("clerk", password).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = number(r.headers(), "retry-after");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(body["error"]["details"]["retry_after_secs"], retry_after);

    // The address is throttled too: another user from it is refused as well
    // (one address guessing across many accounts is the attack it stops).
    let r = login("admin", "anything at all").await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    // The web form answers with the login page again, 429, in both languages.
    let r = server
        .client
        .post(server.url("/agency/login"))
        .form(&[("user", "clerk"), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(number(r.headers(), "retry-after") >= 1);
    assert!(r.headers().get("set-cookie").is_none());
    let page = r.text().await.unwrap();
    assert!(page.contains("login-form"), "{page}");
    assert!(page.contains("登录失败次数过多"), "{page}");
    assert!(page.contains("too many failed sign-ins"), "{page}");

    // Nothing else about the server is throttled.
    assert_eq!(
        server.get("/api/v1/datasets").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn disabled_limits_never_answer_429() {
    let server = start("[rate_limit]\nenabled = false\n").await;
    for chunk in 0..10 {
        let answers =
            futures::future::join_all((0..20).map(|_| server.get("/api/v1/datasets"))).await;
        for r in answers {
            assert_eq!(r.status(), StatusCode::OK, "chunk {chunk}");
            assert!(r.headers().get("ratelimit-limit").is_none());
        }
    }
}
