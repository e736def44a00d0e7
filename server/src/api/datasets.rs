//! Datasets, versions, uploads and the publishing workflow over HTTP: each
//! handler reads the request, asks the application
//! (`gongkai_publish::datasets`) and serialises its typed answer.

use crate::auth::{Caller, Signed};
use crate::error::Code;
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use futures::StreamExt;
use gongkai_catalog::search::{SearchQuery, Sort};
use gongkai_catalog::{Approval, Dataset, DatasetPatch, NewDataset, Submission};
use gongkai_publish::datasets::ColumnEdit;
use gongkai_publish::drafts::ColumnChoice;
use gongkai_publish::views::{
    DatasetDetail, ReviewItem, SearchPage, VersionDetail, VersionSummary,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub(crate) use gongkai_publish::views::DatasetSummary;

fn one() -> i64 {
    1
}
fn fifty() -> i64 {
    50
}

/// The summary of a dataset as every listing shows it.
pub(crate) fn dataset_summary(d: &Dataset) -> DatasetSummary {
    DatasetSummary::of(d)
}

/// A body that may be empty (or `null`): the default then.
pub(crate) fn optional_body<T: serde::de::DeserializeOwned + Default>(
    body: &axum::body::Bytes,
) -> Result<T, ApiError> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == b"null" {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(Code::InvalidJson, format!("request body: {e}")))
}

/// `GET /api/v1/datasets?q=&agency=&theme=&year=&format=&disclosure=&status=&sort=&page=&per_page=`.
#[derive(Debug, Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
    agency: Option<String>,
    theme: Option<String>,
    year: Option<i32>,
    format: Option<String>,
    disclosure: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    #[serde(default = "one")]
    page: i64,
    #[serde(default = "fifty")]
    per_page: i64,
}

impl Search {
    /// The search query these parameters ask for, and the page number.
    pub fn query(self) -> Result<(SearchQuery, usize), ApiError> {
        let per_page = self.per_page.clamp(1, 1000) as usize;
        let page = self.page.max(1) as usize;
        let sort = match self.sort.as_deref() {
            None | Some("") => Sort::Relevance,
            Some(s) => Sort::parse(s).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidSort,
                    format!("unknown sort {s:?}; use relevance, date or name"),
                )
            })?,
        };
        let empty = |s: Option<String>| s.filter(|v| !v.is_empty());
        Ok((
            SearchQuery {
                q: self.q,
                // One agency; the application widens it to the agencies below.
                agencies: empty(self.agency).map(|a| vec![a]),
                theme: empty(self.theme),
                year: self.year,
                format: empty(self.format),
                disclosure: empty(self.disclosure),
                status: empty(self.status),
                sort,
                offset: (page - 1).saturating_mul(per_page),
                limit: per_page,
            },
            page,
        ))
    }
}

/// `GET /api/v1/datasets`: search the public catalogue (published, withdrawn
/// and 依申请公开 datasets) with facets; no parameters lists everything, newest first.
pub async fn list(
    State(state): State<AppState>,
    params: Result<Query<Search>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchPage>, ApiError> {
    let Query(p) = params?;
    let (query, page) = p.query()?;
    Ok(Json(state.publisher.search(query, page).await?))
}

/// `POST /api/v1/datasets` `{"slug", "title", "description"?, "agency"?, …}`.
pub async fn create(
    State(state): State<AppState>,
    Signed(p): Signed,
    body: Result<Json<NewDataset>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(new) = body?;
    let d = state.publisher.create_dataset(new, &p).await?;
    let detail = state.publisher.dataset_detail(&d, Some(&p)).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// A dataset as `GET /api/v1/datasets/{slug}` answers it, sent with the
/// dataset's revision as its `ETag` (the tag a `PATCH` sends back in
/// `If-Match`).
pub struct Detail(pub DatasetDetail);

impl IntoResponse for Detail {
    fn into_response(self) -> axum::response::Response {
        let etag = format!("\"{}\"", self.0.revision);
        ([(header::ETAG, etag)], Json(self.0)).into_response()
    }
}

/// `GET /api/v1/datasets/{slug}`.
pub async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(slug): Path<String>,
) -> Result<Detail, ApiError> {
    let d = state.publisher.dataset_for(&slug, caller.as_ref()).await?;
    Ok(Detail(
        state.publisher.dataset_detail(&d, caller.as_ref()).await?,
    ))
}

/// `GET /api/v1/datasets/{slug}/versions`.
pub async fn versions(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d = state.publisher.dataset_for(&slug, caller.as_ref()).await?;
    let detail = state.publisher.dataset_detail(&d, caller.as_ref()).await?;
    Ok(Json(json!({"versions": detail.versions})))
}

/// `GET /api/v1/datasets/{slug}/versions/{n}`: summary, columns and ingest report.
pub async fn version(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((slug, number)): Path<(String, i64)>,
) -> Result<Json<VersionDetail>, ApiError> {
    let d = state.publisher.dataset_for(&slug, caller.as_ref()).await?;
    let v = state
        .publisher
        .version_for(&d, number, caller.as_ref())
        .await?;
    Ok(Json(state.publisher.version_detail(
        &d,
        &v,
        caller.as_ref(),
    )?))
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
    // Refused before the body is read: a hidden dataset answers like a missing one.
    state.publisher.dataset_for(&slug, Some(&p)).await?;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    let version = if is_multipart {
        let mut multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::new(Code::InvalidMultipart, e.body_text()))?;
        let mut found = None;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::new(Code::InvalidMultipart, e.body_text()))?
        {
            if let Some(name) = field
                .file_name()
                .map(str::to_string)
                .or_else(|| params.filename.clone())
            {
                let stream = field.map(|r| r.map_err(|e| e.body_text()));
                found = Some(
                    state
                        .publisher
                        .upload_as(&slug, &p, &name, params.sheet.clone(), Box::pin(stream))
                        .await?,
                );
                break;
            }
        }
        found.ok_or_else(|| {
            ApiError::new(Code::MissingFile, "the multipart form has no file field")
        })?
    } else {
        let name = params.filename.clone().ok_or_else(|| {
            ApiError::new(
                Code::MissingFilename,
                "give the file name as ?filename=NAME (its extension picks the reader)",
            )
        })?;
        let stream = Body::new(request.into_body()).into_data_stream();
        state
            .publisher
            .upload_as(&slug, &p, &name, params.sheet.clone(), stream)
            .await?
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

/// The revisions an `If-Match` header names: `None` when there is no header
/// or it is `*` (any current revision); otherwise the revisions of its strong
/// tags (weak tags and tags that are no revision never match, so a list of
/// only those refuses the edit).
fn if_match(headers: &axum::http::HeaderMap) -> Option<Vec<i64>> {
    let values: Vec<&str> = headers
        .get_all(header::IF_MATCH)
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    if values.is_empty() {
        return None;
    }
    let tags: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if tags.contains(&"*") {
        return None;
    }
    Some(
        tags.iter()
            .filter_map(|t| t.strip_prefix('"').and_then(|t| t.strip_suffix('"')))
            .filter_map(|t| t.parse().ok())
            .collect(),
    )
}

/// `PATCH /api/v1/datasets/{slug}`: title, description, disclosure, decision
/// date, category and descriptive metadata. Only the fields sent change,
/// applied to the dataset as it is when the change is written; with
/// `If-Match: "<revision>"` (the `ETag` of `GET`) the change is refused with
/// 412 `precondition_failed` when the dataset has changed since.
pub async fn patch(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path(slug): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Detail, ApiError> {
    let fields: serde_json::Map<String, Value> = optional_body(&body)?;
    if let Some(unknown) = fields
        .keys()
        .find(|k| !DatasetPatch::FIELDS.contains(&k.as_str()))
    {
        return Err(ApiError::new(
            Code::InvalidInput,
            format!(
                "unknown field {unknown:?}; a patch may carry {}",
                DatasetPatch::FIELDS.join(", ")
            ),
        ));
    }
    let texts = gongkai_publish::gate::json_texts(&Value::Object(fields.clone()));
    let patch: DatasetPatch = serde_json::from_value(Value::Object(fields))
        .map_err(|e| ApiError::new(Code::InvalidInput, e.to_string()))?;
    let tags = if_match(&headers);
    let d = state
        .publisher
        .update_dataset(&slug, &patch, &texts, tags.as_deref(), &p)
        .await?;
    Ok(Detail(state.publisher.dataset_detail(&d, Some(&p)).await?))
}

/// `POST …/versions/{n}/submit` `{"change_note"?, "correction_notice"?}`.
pub async fn submit(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path((slug, number)): Path<(String, i64)>,
    body: axum::body::Bytes,
) -> Result<Json<VersionSummary>, ApiError> {
    let s: Submission = optional_body(&body)?;
    let v = state.publisher.submit(&slug, number, &s, &p).await?;
    Ok(Json(VersionSummary::of(&v, true)))
}

/// `POST …/versions/{n}/approve` `{"confidentiality_reviewed": true, "redaction_confirmed": true, "comment"?, "publish_at"?}`.
pub async fn approve(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path((slug, number)): Path<(String, i64)>,
    body: axum::body::Bytes,
) -> Result<Json<VersionSummary>, ApiError> {
    let a: Approval = optional_body(&body)?;
    let v = state.publisher.approve(&slug, number, &a, &p).await?;
    Ok(Json(VersionSummary::of(&v, true)))
}

/// `{"comment": …}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comment {
    #[serde(default)]
    comment: Option<String>,
}

/// `POST …/versions/{n}/reject` `{"comment": …}`.
pub async fn reject(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path((slug, number)): Path<(String, i64)>,
    body: axum::body::Bytes,
) -> Result<Json<VersionSummary>, ApiError> {
    let c: Comment = optional_body(&body)?;
    let v = state
        .publisher
        .reject(&slug, number, c.comment.as_deref(), &p)
        .await?;
    Ok(Json(VersionSummary::of(&v, true)))
}

/// `{"at"?: RFC 3339}`: publish now, or schedule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    #[serde(default)]
    at: Option<String>,
}

/// `POST /api/v1/datasets/{slug}/versions/{n}/publish` `{"at"?}`: reviewers
/// (or, where the agency requires no review, editors) publish an approved
/// version now, or schedule it with `at`.
pub async fn publish(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path((slug, number)): Path<(String, i64)>,
    body: axum::body::Bytes,
) -> Result<Json<VersionSummary>, ApiError> {
    let req: PublishRequest = optional_body(&body)?;
    let v = state
        .publisher
        .publish_as(&slug, number, req.at.as_deref(), &p)
        .await?;
    Ok(Json(VersionSummary::of(&v, true)))
}

/// `{"reason": …}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/datasets/{slug}/withdraw` `{"reason": …}`.
pub async fn withdraw(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path(slug): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<DatasetDetail>, ApiError> {
    let r: Reason = optional_body(&body)?;
    let d = state
        .publisher
        .withdraw(&slug, r.reason.as_deref(), &p)
        .await?;
    Ok(Json(state.publisher.dataset_detail(&d, Some(&p)).await?))
}

/// `GET /api/v1/review-queue`: submitted versions the caller may review.
pub async fn review_queue(
    State(state): State<AppState>,
    Signed(p): Signed,
) -> Result<Json<Value>, ApiError> {
    let items: Vec<ReviewItem> = state.publisher.review_queue(&p).await?;
    Ok(Json(json!({"items": items})))
}

/// `{"columns": {"column_name": {"action": …, "legal_basis"?: …}}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionRequest {
    columns: BTreeMap<String, ColumnChoice>,
}

/// `PUT /api/v1/datasets/{slug}/versions/{n}/redaction`: change how columns
/// are redacted; the draft is derived again from the raw upload and its
/// report shows the new preview.
pub async fn redaction(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path((slug, number)): Path<(String, i64)>,
    body: Result<Json<RedactionRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<VersionDetail>, ApiError> {
    let Json(req) = body?;
    let v = state
        .publisher
        .change_redaction_as(&slug, number, &req.columns, &p)
        .await?;
    let d = state.publisher.dataset_for(&slug, Some(&p)).await?;
    Ok(Json(state.publisher.version_detail(&d, &v, Some(&p))?))
}

/// Body of `PATCH …/columns`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnsRequest {
    columns: BTreeMap<String, ColumnEdit>,
}

/// `PATCH …/versions/{n}/columns`
/// `{"columns": {"name": {"description"?: "…", "name"?: "new_name", "type"?: "text"}}}`:
/// describes, renames and retypes columns of a draft (editors). Renaming or
/// retyping derives the draft again from the raw upload; a type that some
/// value cannot take is refused with the rows that do not fit.
pub async fn describe_columns(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path((slug, number)): Path<(String, i64)>,
    body: Result<Json<ColumnsRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<VersionDetail>, ApiError> {
    let Json(req) = body?;
    let v = state
        .publisher
        .edit_columns_as(&slug, number, req.columns, &p)
        .await?;
    let d = state.publisher.dataset_for(&slug, Some(&p)).await?;
    Ok(Json(state.publisher.version_detail(&d, &v, Some(&p))?))
}
