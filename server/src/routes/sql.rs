//! `POST /api/v1/sql` and `GET /api/v1/sql?q=`: SQL over published datasets.

use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongkai_query::Format;
use serde::Deserialize;

/// Query-string parameters.
#[derive(Debug, Deserialize)]
pub struct SqlParams {
    q: Option<String>,
    format: Option<String>,
}

/// JSON body.
#[derive(Debug, Deserialize)]
pub struct SqlBody {
    sql: String,
}

/// Longest accepted SQL text.
const MAX_SQL_BYTES: usize = 100_000;

pub async fn get(
    State(state): State<AppState>,
    params: Result<Query<SqlParams>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
    let sql = params
        .q
        .clone()
        .ok_or_else(|| ApiError::bad_request("missing_sql", "give the query as ?q=SELECT …"))?;
    run(&state, &sql, params.format.as_deref(), &headers).await
}

pub async fn post(
    State(state): State<AppState>,
    params: Result<Query<SqlParams>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Result<Json<SqlBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
    let Json(body) = body?;
    run(&state, &body.sql, params.format.as_deref(), &headers).await
}

fn choose_format(param: Option<&str>, headers: &HeaderMap) -> Result<Format, ApiError> {
    if let Some(f) = param {
        return Format::parse(f).ok_or_else(|| {
            ApiError::bad_request(
                "unsupported_format",
                format!("unknown format {f:?}; use json, ndjson or csv"),
            )
        });
    }
    Ok(headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .and_then(Format::from_accept)
        .unwrap_or(Format::Json))
}

async fn run(
    state: &AppState,
    sql: &str,
    format: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let format = choose_format(format, headers)?;
    if sql.trim().is_empty() {
        return Err(ApiError::bad_request(
            "missing_sql",
            "the SQL text is empty",
        ));
    }
    if sql.len() > MAX_SQL_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "sql_too_long",
            format!("the SQL text is longer than {MAX_SQL_BYTES} bytes"),
        ));
    }
    let tables = state.catalog.published_tables().await?;
    let mut stream = state.engine.execute(sql, tables).await?;
    let encoder = gongkai_query::ResultEncoder::new(format, stream.schema.clone());
    let truncated = stream.truncated_flag();
    let batches = Box::pin(futures::stream::poll_fn(move |cx| stream.poll_next(cx)));
    let body = super::encoded_body(encoder, batches, move || {
        truncated.load(std::sync::atomic::Ordering::Acquire)
    })?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Ok((StatusCode::OK, headers, body).into_response())
}
