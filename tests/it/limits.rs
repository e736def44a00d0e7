//! Per-client rate limits (429 with `RateLimit-*` headers), anonymous vs token
//! quotas, and login throttling.

use crate::support::{Options, Server};
use bytes::Bytes;
use futures::StreamExt;
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

/// An upload as `token`; returns status, body and `Retry-After`.
async fn upload_as(
    server: &Server,
    token: &str,
    slug: &str,
    body: reqwest::Body,
) -> (StatusCode, Value, Option<u64>) {
    let r = server
        .client
        .post(server.url(&format!(
            "/api/v1/datasets/{slug}/uploads?filename=roll.csv"
        )))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = r.status();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, r.json().await.unwrap_or(Value::Null), retry)
}

fn roll(rows: usize) -> String {
    let mut csv = String::from("乡镇,户数,金额（元）\n");
    for i in 0..rows {
        csv.push_str(&format!("第{}镇,{},{}.50\n", i % 7, i % 40, 1000 + i));
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_are_bounded_by_role_size_per_user_and_by_ingest_slots() {
    let server = start(
        "[rate_limit]\nenabled = false\n\n[uploads]\neditor_max_bytes = 20000\nper_user_concurrent = 1\nmax_concurrent_ingests = 1\nqueue_secs = 1\n",
    )
    .await;
    server.agency("town", None).await;
    let editor = server.user_token("clerk", "editor", Some("town")).await;
    let reviewer = server.user_token("checker", "reviewer", Some("town")).await;
    server
        .create_dataset_with(json!({"slug": "roll", "title": "补贴名册", "agency": "town"}))
        .await;
    let versions = || async {
        let v: Value = server
            .get_as_admin("/api/v1/datasets/roll/versions")
            .await
            .json()
            .await
            .unwrap();
        v["versions"].as_array().map_or(0, Vec::len)
    };

    // (a) Size by role: 40 kB is over the editor's 20 000 bytes, not the reviewer's.
    let big = roll(1500);
    assert!(big.len() > 20_000);
    let (status, body, _) = upload_as(&server, &editor, "roll", big.clone().into()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "file_too_large", "{body}");
    assert_eq!(body["error"]["details"]["limit_bytes"], 20000, "{body}");
    assert_eq!(body["error"]["details"]["role"], "editor", "{body}");
    assert_eq!(versions().await, 0, "a refused upload left a version");
    let (status, body, _) = upload_as(&server, &reviewer, "roll", big.clone().into()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["rows"], 1500, "{body}");

    // (b) One upload at a time per user: while the editor's first upload
    // trickles in, a second one is refused with 429; others go on.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let small = roll(50);
    let (head, tail) = small.split_at(small.len() / 2);
    let (head, tail) = (Bytes::from(head.to_string()), Bytes::from(tail.to_string()));
    let trickle = futures::stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(
        futures::stream::once(async move {
            let _ = rx.await;
            Ok::<_, std::io::Error>(tail)
        }),
    );
    let first = {
        let (client, url, token) = (
            server.client.clone(),
            server.url("/api/v1/datasets/roll/uploads?filename=slow.csv"),
            editor.clone(),
        );
        tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .body(reqwest::Body::wrap_stream(trickle))
                .send()
                .await
                .expect("slow upload");
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        })
    };
    let mut refused = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (status, body, retry) = upload_as(&server, &editor, "roll", roll(10).into()).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((body, retry));
            break;
        }
        // Only possible before the slow upload reached the server.
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (body, retry) = refused.expect("a second upload of the same user was never refused");
    assert_eq!(body["error"]["code"], "too_many_uploads", "{body}");
    assert!(retry.is_some_and(|s| s >= 1), "no Retry-After");
    let (status, body, _) = upload_as(&server, &reviewer, "roll", roll(10).into()).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "another user was held up: {body}"
    );
    tx.send(()).unwrap();
    let (status, body) = first.await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["rows"], 50, "{body}");
    // The slot is free again.
    let (status, body, _) = upload_as(&server, &editor, "roll", roll(10).into()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // (c) One ingest at a time on this server: while a large ingest runs, an
    // upload waits its 1 s in the queue and gets 503 with Retry-After, storing
    // nothing; the health check shows the running ingest.
    let before = versions().await;
    let huge: Vec<u8> = "n\n"
        .bytes()
        .chain("1\n".repeat(6_000_000).into_bytes())
        .collect();
    let long = {
        let (client, url) = (
            server.client.clone(),
            server.url("/api/v1/datasets/roll/uploads?filename=tall.csv"),
        );
        let admin = crate::support::ADMIN_TOKEN;
        tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(admin)
                .body(huge)
                .send()
                .await
                .unwrap();
            r.status()
        })
    };
    let mut running = false;
    for _ in 0..200 {
        let h: Value = server.get("/healthz").await.json().await.unwrap();
        if h["ingests"]["running"] == 1 {
            running = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(running, "the large ingest was never seen running");
    let (status, body, retry) = upload_as(&server, &editor, "roll", roll(10).into()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "ingest_busy", "{body}");
    assert_eq!(retry, Some(30));
    let long = long.await.unwrap();
    assert!(
        long == StatusCode::CREATED || long == StatusCode::PAYLOAD_TOO_LARGE,
        "{long}"
    );
    let after_long = versions().await;
    assert_eq!(
        after_long,
        before + usize::from(long == StatusCode::CREATED),
        "the refused upload left a version"
    );
    let h: Value = server.get("/healthz").await.json().await.unwrap();
    assert_eq!(h["ingests"]["running"], 0, "{h}");
    let (status, body, _) = upload_as(&server, &editor, "roll", roll(10).into()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
