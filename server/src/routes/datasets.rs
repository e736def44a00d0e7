//! Dataset metadata, uploads and publication.

use crate::auth::{Caller, Signed, forbidden};
use crate::error::Code;
use crate::{ApiError, AppState, publishing};
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use futures::StreamExt;
use gongkai_catalog::{
    Approval, Dataset, DatasetPatch, DatasetStatus, Disclosure, NewDataset, Principal, Submission,
    Version,
};
use serde::Deserialize;
use serde_json::{Value, json};

fn one() -> i64 {
    1
}
fn fifty() -> i64 {
    50
}

/// A version as listed. Review details are shown only to the agency's staff.
pub(crate) fn version_summary(v: &Version, privileged: bool) -> Value {
    let mut out = json!({
        "version": v.number,
        "status": v.status,
        "rows": v.rows,
        "bytes": v.bytes,
        "sha256": v.sha256,
        "file": v.original_name,
        "created_at": v.created_at,
        "published_at": v.published_at,
        "change_note": v.change_note,
        "correction_notice": v.correction_notice,
    });
    if privileged {
        out["created_by"] = json!(v.created_by);
        out["submitted_by"] = json!(v.submitted_by);
        out["submitted_at"] = json!(v.submitted_at);
        out["reviewed_by"] = json!(v.reviewed_by);
        out["reviewed_at"] = json!(v.reviewed_at);
        out["review_comment"] = json!(v.review_comment);
        out["scheduled_at"] = json!(v.scheduled_at);
        out["published_by"] = json!(v.published_by);
    }
    out
}

pub(crate) fn dataset_summary(d: &Dataset) -> Value {
    let serves_data = d.status == DatasetStatus::Published && d.disclosure == Disclosure::Public;
    let mut links = json!({"self": format!("/api/v1/datasets/{}", d.slug)});
    if serves_data {
        links["parquet"] = json!(format!("/api/v1/datasets/{}/data.parquet", d.slug));
        links["csv"] = json!(format!("/api/v1/datasets/{}/data.csv", d.slug));
    }
    json!({
        "id": d.id,
        "slug": d.slug,
        "title": d.title,
        "description": d.description,
        "agency": d.agency,
        "status": d.status,
        "withdrawn_reason": d.withdrawn_reason,
        "withdrawn_at": d.withdrawn_at,
        "disclosure": d.disclosure,
        "disclosure_label": d.disclosure.label_zh(),
        "disclosure_reason": d.disclosure_reason,
        "decision_date": d.decision_date,
        "category": d.category,
        "title_en": d.meta.title_en,
        "description_en": d.meta.description_en,
        "themes": d.meta.themes.iter().map(|t| {
            let theme = gongkai_catalog::metadata::theme(t);
            json!({"code": t, "zh": theme.map(|x| x.zh), "en": theme.map(|x| x.en)})
        }).collect::<Vec<_>>(),
        "keywords": d.meta.keywords,
        "licence": d.meta.licence,
        "licence_url": d.meta.licence.as_deref().and_then(gongkai_catalog::metadata::licence_url),
        "update_frequency": d.meta.update_frequency,
        "temporal": {"start": d.meta.temporal_start, "end": d.meta.temporal_end},
        "spatial": d.meta.spatial,
        "index_number": d.meta.index_number,
        "produced_date": d.meta.produced_date,
        "latest_version": d.latest_version,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "published_at": d.published_at,
        "links": links,
    })
}

/// The one answer for a dataset the caller cannot see, whether it is missing
/// or hidden (a draft, or 不予公开): the two must be indistinguishable, so
/// nobody can probe which hidden slugs exist.
pub(crate) fn dataset_not_found(slug: &str) -> ApiError {
    ApiError::new(
        Code::NotFound,
        format!("dataset {slug:?} not found / 未找到数据集"),
    )
}

/// Loads a dataset the caller may see: drafts and 不予公开 datasets only for
/// its agency's staff; to everyone else they do not exist (see
/// [`dataset_not_found`]).
pub async fn visible_dataset(
    state: &AppState,
    slug: &str,
    caller: Option<&Principal>,
) -> Result<Dataset, ApiError> {
    let d = match state.catalog.dataset(slug).await {
        Ok(d) => d,
        Err(gongkai_catalog::Error::NotFound { .. }) => return Err(dataset_not_found(slug)),
        Err(e) => return Err(e.into()),
    };
    let privileged = caller.is_some_and(|p| p.can_view(d.agency.as_deref()));
    let hidden = d.status == DatasetStatus::Draft || d.disclosure == Disclosure::NotPublic;
    if hidden && !privileged {
        return Err(dataset_not_found(slug));
    }
    Ok(d)
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

/// `GET /api/v1/datasets`: search the public catalogue (published, withdrawn
/// and 依申请公开 datasets) with facets; no parameters lists everything, newest first.
pub async fn list(
    State(state): State<AppState>,
    params: Result<Query<Search>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = params?;
    let per_page = p.per_page.clamp(1, 1000) as usize;
    let page = p.page.max(1) as usize;
    let sort = match p.sort.as_deref() {
        None | Some("") => gongkai_catalog::search::Sort::Relevance,
        Some(s) => gongkai_catalog::search::Sort::parse(s).ok_or_else(|| {
            ApiError::new(
                Code::InvalidSort,
                format!("unknown sort {s:?}; use relevance, date or name"),
            )
        })?,
    };
    // An agency includes the agencies below it.
    let agencies = match p.agency.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(slug) => {
            let all = state.catalog.agencies().await?;
            let mut keep = vec![slug.to_string()];
            let mut i = 0;
            while i < keep.len() {
                let parent = keep[i].clone();
                keep.extend(
                    all.iter()
                        .filter(|a| a.parent.as_deref() == Some(parent.as_str()))
                        .map(|a| a.slug.clone()),
                );
                i += 1;
            }
            Some(keep)
        }
    };
    let empty = |s: Option<String>| s.filter(|v| !v.is_empty());
    let query = gongkai_catalog::search::SearchQuery {
        q: p.q.clone(),
        agencies,
        theme: empty(p.theme),
        year: p.year,
        format: empty(p.format),
        disclosure: empty(p.disclosure),
        status: empty(p.status),
        sort,
        offset: (page - 1).saturating_mul(per_page),
        limit: per_page,
    };
    let result = state
        .search
        .read()
        .map_err(|_| ApiError::internal("search index lock poisoned"))?
        .search(&query);
    let mut facets = serde_json::Map::new();
    for (name, counts) in &result.facets {
        let values: Vec<Value> = counts
            .iter()
            .map(|c| {
                let label = match *name {
                    "theme" => gongkai_catalog::metadata::theme(&c.value).map(|t| t.zh),
                    "disclosure" => match c.value.as_str() {
                        "public" => Some("主动公开"),
                        "on_request" => Some("依申请公开"),
                        _ => None,
                    },
                    "status" => match c.value.as_str() {
                        "published" => Some("已发布"),
                        "withdrawn" => Some("已撤回"),
                        _ => None,
                    },
                    _ => None,
                };
                json!({"value": c.value, "label": label, "count": c.count})
            })
            .collect();
        facets.insert((*name).to_string(), Value::Array(values));
    }
    Ok(Json(json!({
        "datasets": result.hits,
        "total": result.total,
        "page": page,
        "per_page": per_page,
        "facets": facets,
    })))
}

/// `POST /api/v1/datasets` `{"slug", "title", "description"?, "agency"?}`.
pub async fn create(
    State(state): State<AppState>,
    Signed(p): Signed,
    body: Result<Json<NewDataset>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(new) = body?;
    let mut texts: Vec<(&str, &str)> = vec![("slug", &new.slug), ("title", &new.title)];
    for (field, text) in [
        ("description", &new.description),
        ("disclosure_reason", &new.disclosure_reason),
        ("title_en", &new.meta.title_en),
        ("description_en", &new.meta.description_en),
        ("spatial", &new.meta.spatial),
        ("index_number", &new.meta.index_number),
    ] {
        if let Some(t) = text {
            texts.push((field, t));
        }
    }
    texts.extend(new.meta.keywords.iter().map(|k| ("keywords", k.as_str())));
    publishing::refuse_identifiers(texts)?;
    let agency = new.agency.clone().or_else(|| p.agency.clone());
    if !p.can_edit(agency.as_deref()) {
        return Err(forbidden(
            "you may only create datasets for your own agency",
        ));
    }
    if new.disclosure == Some(Disclosure::NotPublic) && !p.can_review(agency.as_deref()) {
        return Err(forbidden(
            "only a reviewer may classify a dataset as 不予公开 (not_public)",
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
    let privileged = caller.is_some_and(|p| p.can_view(d.agency.as_deref()));
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
    out["revision"] = json!(d.revision);
    out["columns"] = json!(current.map(|v| v.columns.clone()).unwrap_or_default());
    out["rows"] = json!(current.map(|v| v.rows));
    out["schema_org"] = super::feeds::schema_org(state, d).await?;
    out["versions"] = json!(
        versions
            .iter()
            .map(|v| version_summary(v, privileged))
            .collect::<Vec<_>>()
    );
    if privileged {
        out["review_required"] = json!(state.catalog.review_required(d).await?);
    }
    Ok(out)
}

/// A dataset as `GET /api/v1/datasets/{slug}` answers it: the JSON, sent
/// with the dataset's revision as its `ETag`.
pub struct Detail {
    /// The dataset's `ETag` (its revision).
    pub etag: String,
    /// The JSON document.
    pub json: Value,
}

impl IntoResponse for Detail {
    fn into_response(self) -> axum::response::Response {
        ([(header::ETAG, self.etag)], Json(self.json)).into_response()
    }
}

/// `GET /api/v1/datasets/{slug}`, with the dataset's revision as its `ETag`
/// (the tag a `PATCH` sends back in `If-Match`).
pub async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(slug): Path<String>,
) -> Result<Detail, ApiError> {
    let d = visible_dataset(&state, &slug, caller.as_ref()).await?;
    Ok(Detail {
        etag: revision_etag(&d),
        json: detail(&state, &d, caller.as_ref()).await?,
    })
}

/// The `ETag` of a dataset: its revision, quoted (a strong tag).
fn revision_etag(d: &Dataset) -> String {
    format!("\"{}\"", d.revision)
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
            .filter_map(|t| t.strip_prefix('"')?.strip_suffix('"')?.parse().ok())
            .collect(),
    )
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
    let privileged = caller.is_some_and(|p| p.can_view(d.agency.as_deref()));
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
    let privileged = caller
        .as_ref()
        .is_some_and(|p| p.can_view(d.agency.as_deref()));
    let mut out = version_summary(&v, privileged);
    out["columns"] = json!(v.columns);
    out["report"] = if privileged {
        v.report.clone()
    } else if d.disclosure == Disclosure::Public && d.status == DatasetStatus::Published {
        // Examples in a served version's report are values that are public anyway;
        // who chose what stays internal.
        let mut r = v.report.clone();
        if let Some(o) = r.as_object_mut() {
            o.remove("redaction_policy");
        }
        r
    } else {
        // Data given on request, or withdrawn: no sample values at all.
        Value::Null
    };
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
    let d = visible_dataset(&state, &slug, Some(&p)).await?;
    if !p.can_edit(d.agency.as_deref()) {
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
                    publishing::upload(
                        &state,
                        &d,
                        (&p).into(),
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
        publishing::upload(&state, &d, (&p).into(), &name, params.sheet.clone(), stream).await?
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

/// Loads a dataset for a workflow action; 404 for callers who may not see it,
/// 403 for those who see it but may not act.
async fn dataset_for(
    state: &AppState,
    slug: &str,
    p: &Principal,
    allowed: impl Fn(&Principal, Option<&str>) -> bool,
    what: &str,
) -> Result<Dataset, ApiError> {
    let d = visible_dataset(state, slug, Some(p)).await?;
    if !allowed(p, d.agency.as_deref()) {
        return Err(forbidden(format!(
            "{what} needs a role in the dataset's agency that allows it"
        )));
    }
    Ok(d)
}

/// Optional JSON body: absent, empty or `null` means the default value.
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
    let sent = publishing::json_texts(&Value::Object(fields.clone()));
    publishing::refuse_identifiers(sent.iter().map(|(f, t)| (f.as_str(), t.as_str())))?;
    let patch: DatasetPatch = serde_json::from_value(Value::Object(fields))
        .map_err(|e| ApiError::new(Code::InvalidInput, e.to_string()))?;
    let d = dataset_for(&state, &slug, &p, Principal::can_edit, "editing a dataset").await?;
    let tags = if_match(&headers);
    let edit = gongkai_catalog::Edit {
        actor: &p.user,
        reviewer: p.can_review(d.agency.as_deref()),
        if_match: tags.as_deref(),
    };
    let d = state.catalog.update_dataset(&d, &patch, &edit).await?;
    crate::catalogue::reindex(&state, &d.slug).await;
    Ok(Detail {
        etag: revision_etag(&d),
        json: detail(&state, &d, Some(&p)).await?,
    })
}

/// `POST …/versions/{n}/submit` `{"change_note"?, "correction_notice"?}`.
pub async fn submit(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path((slug, number)): Path<(String, i64)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let s: Submission = optional_body(&body)?;
    let notes = [
        ("change_note", s.change_note.as_deref()),
        ("correction_notice", s.correction_notice.as_deref()),
    ];
    publishing::refuse_identifiers(notes.iter().filter_map(|(f, t)| Some((*f, (*t)?))))?;
    let d = dataset_for(&state, &slug, &p, Principal::can_edit, "submitting").await?;
    let v = state
        .catalog
        .submit_version(&d, number, &s, &p.user)
        .await?;
    Ok(Json(version_summary(&v, true)))
}

/// `POST …/versions/{n}/approve` `{"confidentiality_reviewed": true, "redaction_confirmed": true, "comment"?, "publish_at"?}`.
pub async fn approve(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path((slug, number)): Path<(String, i64)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let a: Approval = optional_body(&body)?;
    let d = dataset_for(&state, &slug, &p, Principal::can_review, "approving").await?;
    let v = state
        .catalog
        .approve_version(&d, number, &a, &p.user)
        .await?;
    Ok(Json(version_summary(&v, true)))
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
) -> Result<Json<Value>, ApiError> {
    let c: Comment = optional_body(&body)?;
    let d = dataset_for(&state, &slug, &p, Principal::can_review, "rejecting").await?;
    let v = state
        .catalog
        .reject_version(&d, number, c.comment.as_deref(), &p.user)
        .await?;
    Ok(Json(version_summary(&v, true)))
}

/// `{"at"?: RFC 3339}`: publish now, or schedule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    #[serde(default)]
    at: Option<String>,
}

/// `POST /api/v1/datasets/{slug}/versions/{n}/publish` `{"at"?}`.
///
/// Reviewers (or, where the agency requires no review, editors) publish an
/// approved version now, or schedule it with `at`.
pub async fn publish(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path((slug, number)): Path<(String, i64)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: PublishRequest = optional_body(&body)?;
    let d = visible_dataset(&state, &slug, Some(&p)).await?;
    let review_required = state.catalog.review_required(&d).await?;
    if !p.can_publish(d.agency.as_deref(), review_required) {
        return Err(forbidden(
            "publishing needs a reviewer of the dataset's agency or an admin",
        ));
    }
    if let Some(at) = req.at.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let when = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| {
            ApiError::new(
                Code::InvalidTime,
                format!("{at:?} is not an RFC 3339 time (2026-12-01T09:00:00+08:00)"),
            )
        })?;
        let when = when
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let v = state
            .catalog
            .schedule_version(&d, number, Some(&when), &p.user)
            .await?;
        return Ok(Json(version_summary(&v, true)));
    }
    let v = publishing::publish(&state, &d, number, &p.user).await?;
    Ok(Json(version_summary(&v, true)))
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
) -> Result<Json<Value>, ApiError> {
    let r: Reason = optional_body(&body)?;
    publishing::refuse_identifiers(r.reason.as_deref().map(|t| ("reason", t)))?;
    let d = dataset_for(&state, &slug, &p, Principal::can_review, "withdrawing").await?;
    let d = state
        .catalog
        .withdraw_dataset(&d, r.reason.as_deref(), &p.user)
        .await?;
    crate::catalogue::reindex(&state, &d.slug).await;
    Ok(Json(detail(&state, &d, Some(&p)).await?))
}

/// `GET /api/v1/review-queue`: submitted versions the caller may review.
pub async fn review_queue(
    State(state): State<AppState>,
    Signed(p): Signed,
) -> Result<Json<Value>, ApiError> {
    if !matches!(
        p.role,
        gongkai_catalog::Role::Reviewer | gongkai_catalog::Role::Admin
    ) {
        return Err(forbidden("the review queue is for reviewers"));
    }
    let scope = if p.is_platform_admin() {
        None
    } else {
        Some(p.within.as_slice())
    };
    let items = state.catalog.review_queue(scope).await?;
    let items: Vec<Value> = items
        .iter()
        .filter(|(d, _)| p.can_review(d.agency.as_deref()))
        .map(|(d, v)| {
            let mut item = version_summary(v, true);
            item["dataset"] = json!(d.slug);
            item["title"] = json!(d.title);
            item["agency"] = json!(d.agency);
            item["privacy"] = v.report.get("privacy").cloned().unwrap_or(Value::Null);
            item
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

/// `{"columns": {"column_name": {"action": …, "legal_basis"?: …}}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionRequest {
    columns: std::collections::BTreeMap<String, publishing::ColumnChoice>,
}

/// `PUT /api/v1/datasets/{slug}/versions/{n}/redaction`: change how columns are
/// redacted; the draft is derived again from the raw upload and its report
/// shows the new preview.
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
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body?;
    let d = dataset_for(&state, &slug, &p, Principal::can_edit, "editing columns").await?;
    let edits: crate::columns::Overrides = req
        .columns
        .iter()
        .filter(|(_, c)| c.name.is_some() || c.data_type.is_some())
        .map(|(name, c)| {
            (
                name.clone(),
                crate::columns::ColumnOverride {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                },
            )
        })
        .collect();
    let mut v = None;
    if !edits.is_empty() {
        let current = state.catalog.version(d.id, number).await?;
        if !matches!(
            current.status,
            gongkai_catalog::VersionStatus::Draft | gongkai_catalog::VersionStatus::Rejected
        ) {
            return Err(ApiError::new(
                Code::InvalidState,
                format!(
                    "version {number} is {:?}: only drafts and rejected versions can change columns",
                    current.status
                ),
            ));
        }
        v = Some(publishing::change_columns(&state, &d, number, &edits, &p.user).await?);
    }
    // Descriptions use the columns' names after this request's renames.
    let descriptions: std::collections::BTreeMap<String, Option<String>> = req
        .columns
        .into_iter()
        .filter_map(|(name, c)| {
            let name = c.name.unwrap_or(name);
            c.description.map(|d| (name, d))
        })
        .collect();
    if !descriptions.is_empty() || v.is_none() {
        v = Some(
            state
                .catalog
                .describe_columns(&d, number, &descriptions, &p.user)
                .await?,
        );
    }
    let v = v.ok_or_else(|| ApiError::internal("no version after a column edit"))?;
    let mut out = version_summary(&v, true);
    out["columns"] = json!(v.columns);
    out["report"] = v.report.clone();
    Ok(Json(out))
}

/// Body of `PATCH …/columns`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnsRequest {
    columns: std::collections::BTreeMap<String, ColumnEdit>,
}

/// What can be changed about one column.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnEdit {
    /// Absent: unchanged; null: cleared.
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    /// New ASCII snake_case name.
    #[serde(default)]
    name: Option<String>,
    /// New type.
    #[serde(default, rename = "type")]
    data_type: Option<String>,
}

/// Deserializes a field that is present (possibly null) as `Some(…)`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub async fn redaction(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path((slug, number)): Path<(String, i64)>,
    body: Result<Json<RedactionRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body?;
    let d = dataset_for(
        &state,
        &slug,
        &p,
        Principal::can_edit,
        "changing the redaction",
    )
    .await?;
    let v = publishing::change_redaction(&state, &d, number, &req.columns, &p).await?;
    let mut out = version_summary(&v, true);
    out["columns"] = json!(v.columns);
    out["report"] = v.report.clone();
    Ok(Json(out))
}
