//! Dataset metadata, uploads and publication.

use crate::auth::{Caller, Signed, can_edit, can_publish, forbidden};
use crate::{ApiError, AppState, publishing};
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use futures::StreamExt;
use gongkai_catalog::{Dataset, DatasetStatus, NewDataset, Principal, Version};
use serde::Deserialize;
use serde_json::{Value, json};

/// `?page=&per_page=`.
#[derive(Debug, Deserialize)]
pub struct Paging {
    #[serde(default = "one")]
    page: i64,
    #[serde(default = "fifty")]
    per_page: i64,
}

fn one() -> i64 {
    1
}
fn fifty() -> i64 {
    50
}

fn version_summary(v: &Version) -> Value {
    json!({
        "version": v.number,
        "status": v.status,
        "rows": v.rows,
        "bytes": v.bytes,
        "sha256": v.sha256,
        "file": v.original_name,
        "created_at": v.created_at,
        "published_at": v.published_at,
        "change_note": v.change_note,
    })
}

fn dataset_summary(d: &Dataset) -> Value {
    json!({
        "slug": d.slug,
        "title": d.title,
        "description": d.description,
        "agency": d.agency,
        "status": d.status,
        "latest_version": d.latest_version,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "published_at": d.published_at,
        "links": {
            "self": format!("/api/v1/datasets/{}", d.slug),
            "parquet": format!("/api/v1/datasets/{}/data.parquet", d.slug),
            "csv": format!("/api/v1/datasets/{}/data.csv", d.slug),
        },
    })
}

/// Loads a dataset the caller may see: drafts only for its editors.
pub async fn visible_dataset(
    state: &AppState,
    slug: &str,
    caller: Option<&Principal>,
) -> Result<Dataset, ApiError> {
    let d = state.catalog.dataset(slug).await?;
    let privileged = caller.is_some_and(|p| can_edit(p, d.agency.as_deref()));
    if d.status == DatasetStatus::Draft && !privileged {
        return Err(ApiError::not_found(format!("dataset {slug:?}")));
    }
    Ok(d)
}

/// `GET /api/v1/datasets`: published (and withdrawn) datasets.
pub async fn list(
    State(state): State<AppState>,
    paging: Result<Query<Paging>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = paging?;
    let per_page = p.per_page.clamp(1, 1000);
    let page = p.page.max(1);
    let (datasets, total) = state
        .catalog
        .list_datasets(true, per_page, (page - 1) * per_page)
        .await?;
    Ok(Json(json!({
        "datasets": datasets.iter().map(dataset_summary).collect::<Vec<_>>(),
        "total": total,
        "page": page,
        "per_page": per_page,
    })))
}

/// `POST /api/v1/datasets` `{"slug", "title", "description"?, "agency"?}`.
pub async fn create(
    State(state): State<AppState>,
    Signed(p): Signed,
    body: Result<Json<NewDataset>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(new) = body?;
    let agency = new.agency.clone().or_else(|| p.agency.clone());
    if !can_edit(&p, agency.as_deref()) {
        return Err(forbidden(
            "you may only create datasets for your own agency",
        ));
    }
    let d = state
        .catalog
        .create_dataset(&NewDataset { agency, ..new }, &p.user)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(detail(&state, &d, Some(&p)).await?),
    ))
}

async fn detail(
    state: &AppState,
    d: &Dataset,
    caller: Option<&Principal>,
) -> Result<Value, ApiError> {
    let privileged = caller.is_some_and(|p| can_edit(p, d.agency.as_deref()));
    let versions: Vec<Version> = state
        .catalog
        .versions(d.id)
        .await?
        .into_iter()
        .filter(|v| privileged || v.status.is_public())
        .collect();
    let current = d
        .latest_version
        .and_then(|n| versions.iter().find(|v| v.number == n))
        .or_else(|| if privileged { versions.last() } else { None });
    let mut out = dataset_summary(d);
    out["columns"] = json!(current.map(|v| v.columns.clone()).unwrap_or_default());
    out["rows"] = json!(current.map(|v| v.rows));
    out["versions"] = json!(versions.iter().map(version_summary).collect::<Vec<_>>());
    Ok(out)
}

/// `GET /api/v1/datasets/{slug}`.
pub async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d = visible_dataset(&state, &slug, caller.as_ref()).await?;
    Ok(Json(detail(&state, &d, caller.as_ref()).await?))
}

/// `GET /api/v1/datasets/{slug}/versions`.
pub async fn versions(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d = visible_dataset(&state, &slug, caller.as_ref()).await?;
    let detail = detail(&state, &d, caller.as_ref()).await?;
    Ok(Json(json!({"versions": detail["versions"]})))
}

/// Loads a version the caller may see (drafts only for editors).
pub async fn visible_version(
    state: &AppState,
    d: &Dataset,
    number: i64,
    caller: Option<&Principal>,
) -> Result<Version, ApiError> {
    let v = state
        .catalog
        .version(d.id, number)
        .await
        .map_err(|e| match e {
            gongkai_catalog::Error::NotFound { .. } => {
                ApiError::not_found(format!("version {number} of {:?}", d.slug))
            }
            other => other.into(),
        })?;
    let privileged = caller.is_some_and(|p| can_edit(p, d.agency.as_deref()));
    if !v.status.is_public() && !privileged {
        return Err(ApiError::not_found(format!(
            "version {number} of {:?}",
            d.slug
        )));
    }
    Ok(v)
}

/// `GET /api/v1/datasets/{slug}/versions/{n}`: summary, columns and ingest report.
pub async fn version(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((slug, number)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    let d = visible_dataset(&state, &slug, caller.as_ref()).await?;
    let v = visible_version(&state, &d, number, caller.as_ref()).await?;
    let mut out = version_summary(&v);
    out["columns"] = json!(v.columns);
    out["report"] = v.report.clone();
    Ok(Json(out))
}

/// `?filename=&sheet=`.
#[derive(Debug, Deserialize)]
pub struct UploadParams {
    filename: Option<String>,
    sheet: Option<String>,
}

/// `POST /api/v1/datasets/{slug}/uploads?filename=NAME`: raw body or multipart.
pub async fn upload(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path(slug): Path<String>,
    params: Result<Query<UploadParams>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    let Query(params) = params?;
    let d = state.catalog.dataset(&slug).await?;
    if !can_edit(&p, d.agency.as_deref()) {
        return Err(forbidden(
            "you may only upload to datasets of your own agency",
        ));
    }
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    let version = if is_multipart {
        let mut multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?;
        let mut found = None;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?
        {
            if let Some(name) = field
                .file_name()
                .map(str::to_string)
                .or_else(|| params.filename.clone())
            {
                let stream = field.map(|r| r.map_err(|e| e.body_text()));
                found = Some(
                    publishing::upload(
                        &state,
                        &d,
                        &p.user,
                        &name,
                        params.sheet.clone(),
                        Box::pin(stream),
                    )
                    .await?,
                );
                break;
            }
        }
        found.ok_or_else(|| {
            ApiError::bad_request("missing_file", "the multipart form has no file field")
        })?
    } else {
        let name = params.filename.clone().ok_or_else(|| {
            ApiError::bad_request(
                "missing_filename",
                "give the file name as ?filename=NAME (its extension picks the reader)",
            )
        })?;
        let stream = Body::new(request.into_body()).into_data_stream();
        publishing::upload(&state, &d, &p.user, &name, params.sheet.clone(), stream).await?
    };
    let body = json!({
        "version": version.number,
        "status": version.status,
        "rows": version.rows,
        "columns": version.columns,
        "report": version.report,
    });
    Ok((StatusCode::CREATED, Json(body)))
}

/// `POST /api/v1/datasets/{slug}/versions/{n}/publish`.
pub async fn publish(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path((slug, number)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    let d = state.catalog.dataset(&slug).await?;
    if !can_publish(&p, d.agency.as_deref()) {
        return Err(forbidden(
            "publishing needs a reviewer of the dataset's agency or an admin",
        ));
    }
    let v = publishing::publish(&state, &d, number, &p.user).await?;
    Ok(Json(version_summary(&v)))
}
