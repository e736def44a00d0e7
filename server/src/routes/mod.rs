//! HTTP routes.

mod datasets;
mod downloads;
mod sql;

use crate::{ApiError, AppState};
use arrow::record_batch::RecordBatch;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use gongkai_query::{Format, ResultEncoder};
use serde_json::json;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let uploads = Router::new()
        .route("/api/v1/datasets/{slug}/uploads", post(datasets::upload))
        // Uploads are streamed and limited by `max_upload_bytes` in the handler.
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/api/v1/datasets",
            get(datasets::list).post(datasets::create),
        )
        .route("/api/v1/datasets/{slug}", get(datasets::show))
        .route("/api/v1/datasets/{slug}/versions", get(datasets::versions))
        .route(
            "/api/v1/datasets/{slug}/versions/{number}",
            get(datasets::version),
        )
        .route(
            "/api/v1/datasets/{slug}/versions/{number}/publish",
            post(datasets::publish),
        )
        .route(
            "/api/v1/datasets/{slug}/versions/{number}/{file}",
            get(downloads::version_file),
        )
        .route(
            "/api/v1/datasets/{slug}/{file}",
            get(downloads::latest_file),
        )
        .route("/api/v1/sql", get(sql::get).post(sql::post))
        .merge(uploads)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(1 << 20))
        .layer(CorsLayer::permissive())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.catalog.ping().await?;
    Ok(Json(json!({"status": "ok"})))
}

/// Streams encoded batches: the encoder's head, each batch, then its tail.
///
/// An error mid-way ends a JSON body with an `error` member; CSV and NDJSON
/// bodies are aborted instead, so the client sees a broken transfer rather than
/// a silently short file.
pub(crate) fn encoded_body<S, T>(
    mut encoder: ResultEncoder,
    batches: S,
    truncated: T,
) -> Result<Body, ApiError>
where
    S: Stream<Item = Result<RecordBatch, gongkai_query::Error>> + Send + Unpin + 'static,
    T: Fn() -> bool + Send + 'static,
{
    let head = encoder.begin()?;
    struct St<S, T> {
        encoder: ResultEncoder,
        batches: S,
        truncated: T,
    }
    let tail = futures::stream::unfold(
        Some(St {
            encoder,
            batches,
            truncated,
        }),
        |st| async move {
            let mut st = st?;
            match st.batches.next().await {
                Some(Ok(batch)) => match st.encoder.batch(&batch) {
                    Ok(bytes) => Some((Ok(bytes), Some(st))),
                    Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
                },
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "result stream failed mid-way");
                    if st.encoder.format() == Format::Json {
                        let end = st.encoder.finish((st.truncated)(), Some(&e));
                        Some((Ok(end), None))
                    } else {
                        Some((Err(std::io::Error::other(e.to_string())), None))
                    }
                }
                None => {
                    let end = st.encoder.finish((st.truncated)(), None);
                    Some((Ok(end), None))
                }
            }
        },
    );
    let stream =
        futures::stream::once(async move { Ok::<Bytes, std::io::Error>(head) }).chain(tail);
    Ok(Body::from_stream(stream))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}
