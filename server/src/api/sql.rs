//! `POST /api/v1/sql` and `GET /api/v1/sql?q=`: SQL over published datasets.
//!
//! Results stream in the format asked for (`?format=` or `Accept`). Before the
//! response starts, the first few megabytes of the result are read: errors
//! found there still become an HTTP status, and when the whole result fits,
//! the `Gongkai-Truncated` and `Gongkai-Row-Count` headers say whether a limit
//! cut it (otherwise a `Gongkai-Truncated` trailer does; JSON always carries
//! `truncated` in the body and Parquet in its key-value metadata).
//!
//! Deterministic queries get an ETag made of the SQL, the format, the row
//! limit and the stored files of every table they name; results for pinned
//! versions (`"slug@v3"`) may be cached for an hour, others must revalidate.
//! Small complete results are kept in memory and served again by ETag.

use super::TRUNCATED_HEADER;
use super::results::CachedResult;
use crate::error::Code;
use crate::{ApiError, AppState};
use arrow::record_batch::RecordBatch;
use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongkai_catalog::PublishedTable;
use gongkai_query::{Format, Prepared, ResultEncoder};
use serde::Deserialize;
use sha2::{Digest, Sha256};

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

/// Result bytes (as Arrow memory) read before the response starts.
const PREFETCH_BYTES: usize = 4 << 20;

pub async fn get(
    State(state): State<AppState>,
    params: Result<Query<SqlParams>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
    let sql = params
        .q
        .clone()
        .ok_or_else(|| ApiError::new(Code::MissingSql, "give the query as ?q=SELECT …"))?;
    run(
        &state,
        Method::GET,
        &sql,
        params.format.as_deref(),
        &headers,
    )
    .await
}

pub async fn post(
    State(state): State<AppState>,
    params: Result<Query<SqlParams>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Result<Json<SqlBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
    let Json(body) = body?;
    run(
        &state,
        Method::POST,
        &body.sql,
        params.format.as_deref(),
        &headers,
    )
    .await
}

/// The output format from `?format=` or else `Accept` (JSON by default).
pub(crate) fn choose_format(param: Option<&str>, headers: &HeaderMap) -> Result<Format, ApiError> {
    if let Some(f) = param {
        return Format::parse(f).ok_or_else(|| {
            ApiError::new(
                Code::UnsupportedFormat,
                format!("unknown format {f:?}; use {}", Format::NAMES),
            )
        });
    }
    Ok(headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .and_then(Format::from_accept)
        .unwrap_or(Format::Json))
}

/// The result's ETag, when the result depends only on the tables it names.
fn etag_for(
    sql: &str,
    format: Format,
    max_rows: usize,
    prepared: &Prepared,
    tables: &[PublishedTable],
) -> Option<String> {
    if !prepared.is_deterministic() {
        return None;
    }
    let mut h = Sha256::new();
    h.update(sql.as_bytes());
    h.update([0]);
    h.update(format.extension().as_bytes());
    h.update(max_rows.to_le_bytes());
    if prepared.reads_catalog_views() {
        // The catalogue views list every table: any publication changes them.
        for t in tables {
            h.update(format!("{}@v{}={}|{}\n", t.slug, t.version, t.key, t.is_latest).as_bytes());
        }
    }
    for name in prepared.tables() {
        let key = tables
            .iter()
            .find(|t| {
                *name == format!("{}@v{}", t.slug, t.version) || (t.is_latest && *name == t.slug)
            })
            .map_or("-", |t| t.key.as_str());
        h.update(format!("{name}={key}\n").as_bytes());
    }
    Some(format!("\"q-{}\"", &hex::encode(h.finalize())[..32]))
}

/// Whether every table the query names is a pinned version that exists.
fn only_pinned(prepared: &Prepared, tables: &[PublishedTable]) -> bool {
    !prepared.reads_catalog_views()
        && !prepared.tables().is_empty()
        && prepared.tables().iter().all(|name| {
            tables
                .iter()
                .any(|t| *name == format!("{}@v{}", t.slug, t.version))
        })
}

pub(crate) fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn value(s: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(s).map_err(ApiError::internal)
}

async fn run(
    state: &AppState,
    method: Method,
    sql: &str,
    format: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let format = choose_format(format, headers)?;
    if sql.trim().is_empty() {
        return Err(ApiError::new(Code::MissingSql, "the SQL text is empty"));
    }
    if sql.len() > MAX_SQL_BYTES {
        return Err(ApiError::new(
            Code::SqlTooLong,
            format!("the SQL text is longer than {MAX_SQL_BYTES} bytes"),
        ));
    }
    let prepared = state.engine.prepare(sql)?;
    let tables = state.publisher.catalog().published_tables().await?;
    let max_rows = state.engine.limits().max_rows;
    let etag = etag_for(sql, format, max_rows, &prepared, &tables);
    let mut out = HeaderMap::new();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    out.insert("gongkai-row-limit", HeaderValue::from(max_rows));
    if matches!(format, Format::Arrow | Format::Parquet) {
        out.insert(
            header::CONTENT_DISPOSITION,
            value(&format!(
                "inline; filename=\"result.{}\"",
                format.extension()
            ))?,
        );
    }
    let cache_control = match &etag {
        None => "no-store",
        Some(_) if only_pinned(&prepared, &tables) => "public, max-age=3600",
        Some(_) => "public, no-cache",
    };
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    out.insert(header::VARY, HeaderValue::from_static("accept"));
    if let Some(tag) = &etag {
        out.insert(header::ETAG, value(tag)?);
        if method == Method::GET && matches_etag(headers, tag) {
            out.remove(header::CONTENT_TYPE);
            return Ok((StatusCode::NOT_MODIFIED, out).into_response());
        }
        if let Some(hit) = state.results.get(tag) {
            out.insert(
                TRUNCATED_HEADER,
                HeaderValue::from_static(if hit.truncated { "true" } else { "false" }),
            );
            out.insert("gongkai-row-count", HeaderValue::from(hit.rows));
            out.insert("gongkai-cache", HeaderValue::from_static("hit"));
            return Ok((StatusCode::OK, out, Body::from(hit.body.clone())).into_response());
        }
    }

    let mut stream = state.engine.execute(prepared, tables).await?;
    let encoder = ResultEncoder::new(format, stream.schema.clone());
    // Read ahead: early errors become a status, small results a complete body.
    let mut first: Vec<RecordBatch> = Vec::new();
    let mut held = 0usize;
    let mut ended = false;
    while held < PREFETCH_BYTES {
        match stream.next().await {
            None => {
                ended = true;
                break;
            }
            Some(Ok(b)) => {
                held += b.get_array_memory_size();
                first.push(b);
            }
            Some(Err(e)) => return Err(e.into()),
        }
    }
    if ended {
        let truncated = stream.truncated();
        let rows: usize = first.iter().map(RecordBatch::num_rows).sum();
        let body = super::encode_all(encoder, &first, truncated)?;
        out.insert(
            TRUNCATED_HEADER,
            HeaderValue::from_static(if truncated { "true" } else { "false" }),
        );
        out.insert("gongkai-row-count", HeaderValue::from(rows));
        if let Some(tag) = &etag {
            out.insert("gongkai-cache", HeaderValue::from_static("miss"));
            state.results.put(
                tag,
                CachedResult {
                    body: body.clone(),
                    content_type: format.content_type(),
                    truncated,
                    rows,
                },
            );
        }
        return Ok((StatusCode::OK, out, Body::from(body)).into_response());
    }
    let truncated = stream.truncated_flag();
    let rest = futures::stream::poll_fn(move |cx| stream.poll_next(cx));
    let batches = Box::pin(futures::StreamExt::chain(
        futures::stream::iter(first.into_iter().map(Ok)),
        rest,
    ));
    let body = super::encoded_body(
        encoder,
        batches,
        move || truncated.load(std::sync::atomic::Ordering::Acquire),
        true,
    )?;
    out.insert(
        header::TRAILER,
        HeaderValue::from_static("Gongkai-Truncated"),
    );
    Ok((StatusCode::OK, out, body).into_response())
}
