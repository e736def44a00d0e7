//! The row API (`…/rows`) and the table listing (`/api/v1/tables`).

use super::downloads::check_serves_data;
use super::sql::choose_format;
use crate::auth::Caller;
use crate::error::Code;
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongkai_catalog::{Dataset, PublishedTable, Version};
use gongkai_query::{ResultEncoder, RowQuery};
use serde_json::{Value, json};

type Pairs = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// `GET /api/v1/datasets/{slug}/rows`: rows of the latest version (or of the
/// version a `_next` cursor started on).
pub async fn latest(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(slug): Path<String>,
    params: Pairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(pairs) = params?;
    let query = RowQuery::parse(&pairs)?;
    let d = state.publisher.dataset_for(&slug, caller.as_ref()).await?;
    check_serves_data(&d, caller.as_ref())?;
    let number = match &query.after {
        Some(c) => c.version,
        None => d
            .latest_version
            .ok_or_else(|| ApiError::not_found(format!("a published version of {slug:?}")))?,
    };
    let v = state
        .publisher
        .version_for(&d, number, caller.as_ref())
        .await?;
    page(&state, &d, &v, query, &pairs, &headers).await
}

/// `GET /api/v1/datasets/{slug}/versions/{n}/rows`: rows of one version.
pub async fn version(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((slug, number)): Path<(String, i64)>,
    params: Pairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(pairs) = params?;
    let query = RowQuery::parse(&pairs)?;
    if query.after.as_ref().is_some_and(|c| c.version != number) {
        return Err(ApiError::new(
            Code::InvalidRowQuery,
            "_next was issued for another version of this dataset",
        ));
    }
    let d = state.publisher.dataset_for(&slug, caller.as_ref()).await?;
    check_serves_data(&d, caller.as_ref())?;
    let v = state
        .publisher
        .version_for(&d, number, caller.as_ref())
        .await?;
    page(&state, &d, &v, query, &pairs, &headers).await
}

fn query_string(pairs: &[(String, String)], next: &str) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(k, _)| k != "_next" && k != "after") {
        s.append_pair(k, v);
    }
    s.append_pair("_next", next);
    s.finish()
}

async fn page(
    state: &AppState,
    d: &Dataset,
    v: &Version,
    query: RowQuery,
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let format_param = pairs
        .iter()
        .find(|(k, _)| k == "format" || k == "_format")
        .map(|(_, v)| v.as_str());
    let format = choose_format(format_param, headers)?;
    // Drafts are readable only by their agency's staff (checked by visible_version).
    let key = v
        .public_key
        .clone()
        .or_else(|| v.draft_key.clone())
        .ok_or_else(|| ApiError::not_found(format!("data of version {}", v.number)))?;
    let table = PublishedTable {
        slug: d.slug.clone(),
        dataset_id: d.id,
        version: v.number,
        is_latest: true,
        key,
    };
    let page = state.engine.rows(table, query).await?;
    let mut encoder = ResultEncoder::new(format, page.batch.schema());
    let mut out = HeaderMap::new();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if v.status.is_public() {
            "public, max-age=60"
        } else {
            "private, no-store"
        }),
    );
    let next_url = page.next.as_ref().map(|c| {
        format!(
            "/api/v1/datasets/{}/versions/{}/rows?{}",
            d.slug,
            v.number,
            query_string(pairs, &c.encode())
        )
    });
    encoder.set_trailer("version", json!(v.number));
    encoder.set_trailer("next", json!(page.next.as_ref().map(|c| c.encode())));
    encoder.set_trailer("next_url", json!(next_url));
    if let Some(total) = page.total {
        encoder.set_trailer("total", json!(total));
        out.insert("gongkai-total-count", HeaderValue::from(total));
    }
    if let Some(url) = &next_url {
        out.insert(
            header::LINK,
            HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")).map_err(ApiError::internal)?,
        );
    }
    let body = super::encode_all(encoder, std::slice::from_ref(&page.batch), false)?;
    Ok((StatusCode::OK, out, Body::from(body)).into_response())
}

/// `GET /api/v1/tables`: every table SQL can read, with its columns.
pub async fn tables(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let published = state.publisher.catalog().published_tables().await?;
    let tables = state.engine.tables(&published).await?;
    Ok(Json(json!({ "tables": tables })))
}
