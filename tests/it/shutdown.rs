//! Graceful shutdown: on SIGTERM the server stops accepting connections,
//! lets requests in flight finish (a slow upload completes and is stored
//! whole) and exits cleanly; the catalogue is consistent on the next start.

use crate::support::{ADMIN_TOKEN, Server};
use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_requests_in_flight_finish() {
    let mut server = Server::start().await;
    server.create_dataset("slow", "慢速上传").await;

    // An upload that trickles in over about two seconds.
    let rows = 4000;
    let mut csv = String::from("乡镇,金额\n");
    for i in 0..rows {
        csv.push_str(&format!("镇{},{}\n", i % 9, i));
    }
    let chunks: Vec<Bytes> = csv
        .as_bytes()
        .chunks(csv.len() / 20 + 1)
        .map(Bytes::copy_from_slice)
        .collect();
    let body = futures::stream::unfold(chunks.into_iter(), |mut it| async move {
        let next = it.next()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>(next), it))
    });
    let upload = server
        .client
        .post(server.url("/api/v1/datasets/slow/uploads?filename=slow.csv"))
        .bearer_auth(ADMIN_TOKEN)
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let upload = tokio::spawn(upload);

    tokio::time::sleep(Duration::from_millis(600)).await;
    let signalled = Instant::now();
    server.terminate();

    // New connections are refused soon after the signal …
    let refused = {
        let mut refused = false;
        for _ in 0..100 {
            let fresh = reqwest::Client::new();
            if fresh.get(server.url("/healthz")).send().await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        refused
    };
    assert!(
        refused,
        "the server kept accepting connections after SIGTERM"
    );

    // … while the upload in flight completes and is stored whole.
    let r = upload
        .await
        .unwrap()
        .expect("the upload in flight was cut off");
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["rows"], rows);
    let exit = server
        .wait_exit(Duration::from_secs(30))
        .expect("the server did not exit after SIGTERM");
    assert!(exit.success(), "exit status {exit}");
    eprintln!(
        "graceful shutdown: exited {:?} after SIGTERM, upload of {rows} rows finished",
        signalled.elapsed()
    );
}

/// Slow clients cannot hold the server: a request head that never completes
/// is cut off, and an upload whose body stalls is abandoned with nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start_with(crate::support::Options {
        config: Some("header_timeout_secs = 1\nbody_idle_timeout_secs = 1\n".into()),
        ..Default::default()
    })
    .await;
    server.create_dataset("stalled", "停顿的上传").await;

    // Half a request head, then silence.
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "a slow request head held the connection for 10 s"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cut off after {:?}",
        started.elapsed()
    );
    let answer = String::from_utf8_lossy(&buf);
    assert!(
        buf.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "unexpected answer {answer:?}"
    );

    // An upload that sends one piece and then stalls.
    let body = futures::stream::unfold(0, |i| async move {
        match i {
            0 => Some((
                Ok::<_, std::io::Error>(Bytes::from_static("乡镇,金额\n城关镇,1\n".as_bytes())),
                1,
            )),
            _ => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                None
            }
        }
    });
    let r = tokio::time::timeout(
        Duration::from_secs(15),
        server
            .client
            .post(server.url("/api/v1/datasets/stalled/uploads?filename=s.csv"))
            .bearer_auth(ADMIN_TOKEN)
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    )
    .await
    .expect("a stalled upload held its request for 15 s");
    if let Ok(r) = r {
        assert!(
            r.status().is_client_error(),
            "stalled upload answered {}",
            r.status()
        );
    }
    let versions: Value = server
        .get_as_admin("/api/v1/datasets/stalled/versions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        versions["versions"].as_array().map(Vec::len),
        Some(0),
        "{versions}"
    );
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
}
