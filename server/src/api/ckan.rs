//! CKAN-compatible action API at `/api/3/action/{name}`, so `ckanapi`,
//! ckanext-harvest and other CKAN clients can list, search and read the
//! catalogue and its data.
//!
//! Envelopes are CKAN's: `{"help", "success": true, "result"}`, or
//! `{"help", "success": false, "error": {"__type", "message"}}` with CKAN's
//! statuses (404 `Not Found Error`, 409 `Validation Error` and
//! `Search Query Error`, 400 for an unknown action). Parameters come from the
//! query string (GET) or a JSON or form body (POST), as CKAN accepts them.
//!
//! Mapping: package = dataset (`id` is a stable zero-padded id, `name` the
//! slug), organization = agency, group = theme, tag = keyword, resources = the
//! Parquet file (resource id = the slug, the DataStore table) and the CSV
//! (`{slug}.csv`). Withdrawn datasets are `state: "deleted"` (harvesters then
//! remove their copy) and are left out of lists and searches; drafts and
//! 不予公开 datasets do not exist here.

use super::datasets::dataset_summary;
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongkai_catalog::search::SearchQuery;
use gongkai_catalog::{Agency, DatasetStatus, Disclosure, metadata};
use gongkai_publish::views::DatasetSummary;
use gongkai_query::{Filter, Op, RowQuery};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// A CKAN error: `__type`, HTTP status and message (plus field errors).
struct CkanError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    fields: Option<Value>,
}

impl CkanError {
    fn not_found(what: impl std::fmt::Display) -> Self {
        CkanError {
            status: StatusCode::NOT_FOUND,
            kind: "Not Found Error",
            message: format!("Not found: {what}"),
            fields: None,
        }
    }

    fn validation(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        CkanError {
            status: StatusCode::CONFLICT,
            kind: "Validation Error",
            fields: Some(json!({ field: [message.clone()] })),
            message,
        }
    }

    fn search(message: impl Into<String>) -> Self {
        CkanError {
            status: StatusCode::CONFLICT,
            kind: "Search Query Error",
            message: message.into(),
            fields: None,
        }
    }
}

impl From<ApiError> for CkanError {
    fn from(e: ApiError) -> Self {
        let kind = match e.status() {
            StatusCode::NOT_FOUND => "Not Found Error",
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => "Authorization Error",
            s if s.is_client_error() => "Validation Error",
            _ => "Internal Server Error",
        };
        let status = if e.status().is_client_error()
            && e.status() != StatusCode::NOT_FOUND
            && e.status() != StatusCode::FORBIDDEN
            && e.status() != StatusCode::TOO_MANY_REQUESTS
        {
            StatusCode::CONFLICT
        } else {
            e.status()
        };
        CkanError {
            status,
            kind,
            message: e.message,
            fields: None,
        }
    }
}

impl From<gongkai_catalog::Error> for CkanError {
    fn from(e: gongkai_catalog::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl From<gongkai_query::Error> for CkanError {
    fn from(e: gongkai_query::Error) -> Self {
        ApiError::from(e).into()
    }
}

fn help(base: &str, action: &str) -> String {
    format!("{base}/api/3/action/help_show?name={action}")
}

/// Parameters from the query string and the body, as one map of JSON values.
fn params(query: Vec<(String, String)>, headers: &HeaderMap, body: &Bytes) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in query {
        out.insert(k, Value::String(v));
    }
    let body = body.trim_ascii();
    if body.is_empty() {
        return out;
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        for (k, v) in url::form_urlencoded::parse(body) {
            out.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    } else if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) {
        out.extend(m);
    }
    out
}

fn text_param(p: &Map<String, Value>, key: &str) -> Option<String> {
    match p.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn int_param(p: &Map<String, Value>, key: &str, default: usize) -> Result<usize, CkanError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| CkanError::validation(key, "Must be a natural number")),
        Some(Value::String(s)) if s.is_empty() => Ok(default),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| CkanError::validation(key, "Must be a natural number")),
        Some(_) => Err(CkanError::validation(key, "Must be a natural number")),
    }
}

fn bool_param(p: &Map<String, Value>, key: &str) -> bool {
    match p.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        _ => false,
    }
}

/// A JSON list given as a JSON array or as a JSON-encoded string.
fn list_param(p: &Map<String, Value>, key: &str) -> Result<Vec<String>, CkanError> {
    let items = match p.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) if s.trim_start().starts_with('[') => serde_json::from_str(s)
            .map_err(|_| CkanError::validation(key, "Must be a JSON list"))?,
        Some(Value::String(s)) => s
            .split(',')
            .map(|x| Value::String(x.trim().into()))
            .collect(),
        Some(_) => return Err(CkanError::validation(key, "Must be a JSON list")),
    };
    Ok(items
        .into_iter()
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .filter(|s| !s.is_empty())
        .collect())
}

/// `POST|GET /api/3/action/{name}`.
pub async fn action(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = match crate::links::base_url(&state, &headers) {
        Ok(base) => base,
        Err(e) => return e.into_response(),
    };
    let p = params(query, &headers, &body);
    let result = match name.as_str() {
        "package_list" => package_list(&state, &p).await,
        "current_package_list_with_resources" => package_list_full(&state, &base, &p).await,
        "package_search" => package_search(&state, &base, &p).await,
        "package_show" => package_show(&state, &base, &p).await,
        "organization_list" => organization_list(&state, &p).await,
        "organization_show" => organization_show(&state, &base, &p).await,
        "group_list" => group_list(&state, &p).await,
        "group_show" => group_show(&state, &base, &p).await,
        "tag_list" => tag_list(&state).await,
        "license_list" => Ok(license_list()),
        "datastore_search" => datastore_search(&state, &p).await,
        "datastore_search_sql" => datastore_search_sql(&state, &p).await,
        "status_show" => Ok(json!({
            "site_title": "公开 Gongkai",
            "site_url": base,
            "ckan_version": "2.10.0",
            "api_version": 3,
            "extensions": ["datastore"],
        })),
        _ => {
            let body = json!({
                "help": help(&base, &name),
                "success": false,
                "error": {"__type": "Bad request", "message": format!("Bad request - Action name not known: {name}")},
            });
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    match result {
        Ok(result) => Json(json!({"help": help(&base, &name), "success": true, "result": result}))
            .into_response(),
        Err(e) => {
            let mut error = json!({"__type": e.kind, "message": e.message});
            if let Some(Value::Object(fields)) = e.fields {
                for (k, v) in fields {
                    error[k] = v;
                }
            }
            let body = json!({"help": help(&base, &name), "success": false, "error": error});
            (e.status, Json(body)).into_response()
        }
    }
}

/// Stable CKAN id of a dataset.
fn package_id(summary: &DatasetSummary) -> String {
    format!("00000000-0000-0000-0000-{:012}", summary.id)
}

fn organization(a: &Agency, base: &str, count: Option<usize>) -> Value {
    let mut o = json!({
        "id": a.slug,
        "name": a.slug,
        "title": a.name,
        "display_name": a.name,
        "description": a.name_en.clone().unwrap_or_default(),
        "type": "organization",
        "is_organization": true,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
        "created": "",
        "url": format!("{base}/api/v1/agencies/{}", a.slug),
    });
    if let Some(n) = count {
        o["package_count"] = json!(n);
    }
    o
}

fn group(t: &metadata::Theme, count: Option<usize>) -> Value {
    let mut g = json!({
        "id": t.code,
        "name": t.code,
        "title": t.zh,
        "display_name": t.zh,
        "description": t.en,
        "type": "group",
        "is_organization": false,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
        "created": "",
    });
    if let Some(n) = count {
        g["package_count"] = json!(n);
    }
    g
}

/// A CKAN package dict from a dataset summary: resources only where the
/// dataset serves data, `deleted` when it was withdrawn (harvesters drop it).
fn package(s: &DatasetSummary, agencies: &HashMap<String, Agency>, base: &str) -> Value {
    let slug = s.slug.as_str();
    let id = package_id(s);
    let withdrawn = s.status == DatasetStatus::Withdrawn;
    let modified = s.updated_at.clone();
    let mut resources = Vec::new();
    if s.serves_data() {
        for (position, (rid, format, mime, file)) in [
            (
                slug.to_string(),
                "Parquet",
                "application/vnd.apache.parquet",
                "data.parquet",
            ),
            (format!("{slug}.csv"), "CSV", "text/csv", "data.csv"),
        ]
        .into_iter()
        .enumerate()
        {
            resources.push(json!({
                "id": rid,
                "package_id": id,
                "name": format!("{} ({format})", s.title),
                "description": "",
                "format": format,
                "mimetype": mime,
                "url": format!("{base}/api/v1/datasets/{slug}/{file}"),
                "url_type": "",
                "state": "active",
                "position": position,
                "created": s.published_at,
                "last_modified": modified,
                "datastore_active": position == 0,
            }));
        }
    }
    let tags: Vec<Value> = s
        .keywords
        .iter()
        .map(|k| json!({"name": k, "display_name": k, "state": "active", "vocabulary_id": null}))
        .collect();
    let groups: Vec<Value> = s
        .themes
        .iter()
        .filter_map(|t| metadata::theme(&t.code))
        .map(|t| group(t, None))
        .collect();
    let org = s
        .agency
        .as_deref()
        .and_then(|a| agencies.get(a))
        .map(|a| organization(a, base, None));
    let mut extras = Vec::new();
    let mut extra = |key: &str, value: Option<&str>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            extras.push(json!({"key": key, "value": v}));
        }
    };
    extra("disclosure", Some(s.disclosure.as_str()));
    extra("disclosure_label", Some(&s.disclosure_label));
    extra("index_number", s.index_number.as_deref());
    extra("title_en", s.title_en.as_deref());
    extra("update_frequency", s.update_frequency.as_deref());
    extra("temporal_start", s.temporal.start.as_deref());
    extra("temporal_end", s.temporal.end.as_deref());
    extra("spatial_text", s.spatial.as_deref());
    extra("decision_date", s.decision_date.as_deref());
    extra("produced_date", s.produced_date.as_deref());
    extra("withdrawn_reason", s.withdrawn_reason.as_deref());
    let licence = s.licence.as_deref().unwrap_or(metadata::DEFAULT_LICENCE);
    json!({
        "id": id,
        "name": slug,
        "title": s.title,
        "notes": s.description,
        "type": "dataset",
        "state": if withdrawn { "deleted" } else { "active" },
        "private": false,
        "isopen": true,
        "license_id": licence,
        "license_title": licence,
        "license_url": metadata::licence_url(licence),
        "metadata_created": s.created_at,
        "metadata_modified": modified,
        "author": org.as_ref().map(|o| o["title"].clone()),
        "maintainer": org.as_ref().map(|o| o["title"].clone()),
        "url": format!("{base}/datasets/{slug}"),
        "version": s.latest_version,
        "organization": org,
        "owner_org": s.agency,
        "groups": groups,
        "tags": tags,
        "num_tags": tags.len(),
        "resources": resources,
        "num_resources": resources.len(),
        "extras": extras,
    })
}

async fn agency_map(state: &AppState) -> Result<HashMap<String, Agency>, CkanError> {
    Ok(state
        .publisher
        .catalog()
        .agencies()
        .await?
        .into_iter()
        .map(|a| (a.slug.clone(), a))
        .collect())
}

/// Summaries of every active (published) public dataset matching `q`, by relevance.
fn active(state: &AppState, q: &str) -> Result<Vec<(DatasetSummary, usize)>, CkanError> {
    let ix = state
        .publisher
        .search_index()
        .read()
        .map_err(|_| CkanError::from(ApiError::internal("search index lock poisoned")))?;
    let r = ix.search(&SearchQuery {
        q: q.to_string(),
        status: Some("published".into()),
        limit: usize::MAX,
        ..SearchQuery::default()
    });
    r.hits
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            serde_json::from_value(h)
                .map(|s| (s, i))
                .map_err(|e| CkanError::from(ApiError::internal(e)))
        })
        .collect()
}

async fn package_list(state: &AppState, p: &Map<String, Value>) -> Result<Value, CkanError> {
    let mut names: Vec<String> = active(state, "")?
        .into_iter()
        .map(|(s, _)| s.slug)
        .collect();
    names.sort();
    let offset = int_param(p, "offset", 0)?;
    let limit = int_param(p, "limit", usize::MAX)?;
    Ok(json!(
        names
            .into_iter()
            .skip(offset)
            .take(limit)
            .collect::<Vec<_>>()
    ))
}

async fn package_list_full(
    state: &AppState,
    base: &str,
    p: &Map<String, Value>,
) -> Result<Value, CkanError> {
    let agencies = agency_map(state).await?;
    let offset = int_param(p, "offset", 0)?;
    let limit = int_param(p, "limit", usize::MAX)?;
    Ok(json!(
        active(state, "")?
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(s, _)| package(s, &agencies, base))
            .collect::<Vec<_>>()
    ))
}

/// One `fq` clause.
#[derive(Debug)]
enum Clause {
    Is {
        field: String,
        value: String,
        negate: bool,
    },
    Range {
        field: String,
        from: Option<String>,
        to: Option<String>,
    },
}

/// Parses the Solr `fq` subset harvesters use: `field:value`, `field:"a b"`,
/// `field:[X TO *]`, `-field:value`, joined by spaces or `AND`.
fn parse_fq(fq: &str) -> Result<Vec<Clause>, CkanError> {
    let mut out = Vec::new();
    let mut rest = fq.trim();
    while !rest.is_empty() {
        if let Some(r) = rest
            .strip_prefix("AND ")
            .or_else(|| rest.strip_prefix("&& "))
        {
            rest = r.trim_start();
            continue;
        }
        let (negate, r) = match rest.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, rest.strip_prefix('+').unwrap_or(rest)),
        };
        let Some((field, r)) = r.split_once(':') else {
            return Err(CkanError::search(format!(
                "cannot parse fq {fq:?}: expected field:value"
            )));
        };
        let field = field.trim().to_string();
        if let Some(r) = r.strip_prefix('[').or_else(|| r.strip_prefix('{')) {
            let end = r
                .find([']', '}'])
                .ok_or_else(|| CkanError::search(format!("unclosed range in fq {fq:?}")))?;
            let (from, to) = r[..end]
                .split_once(" TO ")
                .ok_or_else(|| CkanError::search(format!("range without TO in fq {fq:?}")))?;
            let bound = |s: &str| {
                let s = s.trim().trim_matches('"');
                (s != "*").then(|| s.to_string())
            };
            out.push(Clause::Range {
                field,
                from: bound(from),
                to: bound(to),
            });
            rest = r[end + 1..].trim_start();
        } else if let Some(r) = r.strip_prefix('"') {
            let end = r
                .find('"')
                .ok_or_else(|| CkanError::search(format!("unclosed quote in fq {fq:?}")))?;
            out.push(Clause::Is {
                field,
                value: r[..end].to_string(),
                negate,
            });
            rest = r[end + 1..].trim_start();
        } else {
            let end = r.find(' ').unwrap_or(r.len());
            out.push(Clause::Is {
                field,
                value: r[..end].to_string(),
                negate,
            });
            rest = r[end..].trim_start();
        }
    }
    Ok(out)
}

/// The values a package has for a search field.
fn field_values(pkg: &Value, field: &str) -> Result<Vec<String>, CkanError> {
    let strings = |v: &Value| -> Vec<String> {
        match v {
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            Value::String(s) => vec![s.clone()],
            Value::Null => vec![],
            other => vec![other.to_string()],
        }
    };
    let names = |key: &str| -> Vec<String> {
        pkg[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["name"].as_str().map(String::from))
            .collect()
    };
    Ok(match field {
        "organization" | "owner_org" => strings(&pkg["owner_org"]),
        "groups" => names("groups"),
        "tags" => names("tags"),
        "res_format" => pkg["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["format"].as_str().map(String::from))
            .collect(),
        "license_id" => strings(&pkg["license_id"]),
        "name" => strings(&pkg["name"]),
        "id" => strings(&pkg["id"]),
        "title" => strings(&pkg["title"]),
        "state" => strings(&pkg["state"]),
        "type" | "dataset_type" => vec!["dataset".into()],
        "metadata_modified" => strings(&pkg["metadata_modified"]),
        "metadata_created" => strings(&pkg["metadata_created"]),
        "capacity" => vec!["public".into()],
        other => {
            return Err(CkanError::search(format!(
                "unknown field {other:?} in fq; use organization, groups, tags, res_format, license_id, name, id, metadata_modified or metadata_created"
            )));
        }
    })
}

fn matches(pkg: &Value, clauses: &[Clause]) -> Result<bool, CkanError> {
    for c in clauses {
        let ok = match c {
            Clause::Is {
                field,
                value,
                negate,
            } => {
                let has = value == "*"
                    || field_values(pkg, field)?
                        .iter()
                        .any(|v| v.eq_ignore_ascii_case(value));
                has != *negate
            }
            Clause::Range { field, from, to } => field_values(pkg, field)?.iter().any(|v| {
                from.as_ref().is_none_or(|f| v.as_str() >= f.as_str())
                    && to.as_ref().is_none_or(|t| v.as_str() <= t.as_str())
            }),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn package_search(
    state: &AppState,
    base: &str,
    p: &Map<String, Value>,
) -> Result<Value, CkanError> {
    let rows = int_param(p, "rows", 10)?;
    if rows > 1000 {
        return Err(CkanError::validation(
            "rows",
            "Must be less than or equal to 1000",
        ));
    }
    let start = int_param(p, "start", 0)?;
    let mut q = text_param(p, "q").unwrap_or_default();
    let mut clauses = parse_fq(&text_param(p, "fq").unwrap_or_default())?;
    // `q` may itself be field clauses (`name:foo`) or `*:*`.
    if q.trim() == "*:*" {
        q.clear();
    } else if q.contains(':') && !q.contains(' ') {
        clauses.extend(parse_fq(&q)?);
        q.clear();
    }
    let agencies = agency_map(state).await?;
    let mut hits: Vec<(Value, usize)> = Vec::new();
    for (s, rank) in active(state, &q)? {
        let pkg = package(&s, &agencies, base);
        if matches(&pkg, &clauses)? {
            hits.push((pkg, rank));
        }
    }
    // Sort: "field dir, field dir"; default relevance then newest.
    let sort = text_param(p, "sort").unwrap_or_else(|| "score desc, metadata_modified desc".into());
    let mut keys: Vec<(String, bool)> = Vec::new();
    for part in sort.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut it = part.split_whitespace();
        let field = it.next().unwrap_or("").to_string();
        let desc = match it.next().unwrap_or("asc") {
            "asc" => false,
            "desc" => true,
            other => return Err(CkanError::search(format!("bad sort direction {other:?}"))),
        };
        if !matches!(
            field.as_str(),
            "score"
                | "id"
                | "name"
                | "title"
                | "title_string"
                | "metadata_modified"
                | "metadata_created"
        ) {
            return Err(CkanError::search(format!(
                "cannot sort by {field:?}; use score, id, name, title_string, metadata_modified or metadata_created"
            )));
        }
        keys.push((field, desc));
    }
    hits.sort_by(|(a, ra), (b, rb)| {
        for (field, desc) in &keys {
            let o = match field.as_str() {
                "score" => rb.cmp(ra), // lower rank = better; "desc" is best first
                "title_string" | "title" => a["title"].as_str().cmp(&b["title"].as_str()),
                f => a[f].as_str().cmp(&b[f].as_str()),
            };
            let o = if *desc { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        a["id"].as_str().cmp(&b["id"].as_str())
    });
    // Facets over the whole matching set.
    let fields = list_param(p, "facet.field")?;
    let limit = match p.get("facet.limit") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(50),
        Some(Value::String(s)) => s.parse().unwrap_or(50),
        _ => 50,
    };
    let mut facets = Map::new();
    let mut search_facets = Map::new();
    for field in &fields {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (pkg, _) in &hits {
            for v in field_values(pkg, field)? {
                *counts.entry(v).or_insert(0) += 1;
            }
        }
        let mut items: Vec<(String, usize)> = counts.into_iter().collect();
        items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if limit >= 0 {
            items.truncate(limit as usize);
        }
        let display = |v: &str| -> String {
            match field.as_str() {
                "organization" => agencies.get(v).map_or(v.to_string(), |a| a.name.clone()),
                "groups" => metadata::theme(v).map_or(v.to_string(), |t| t.zh.to_string()),
                _ => v.to_string(),
            }
        };
        facets.insert(
            field.clone(),
            Value::Object(items.iter().map(|(v, n)| (v.clone(), json!(n))).collect()),
        );
        search_facets.insert(
            field.clone(),
            json!({
                "title": field,
                "items": items.iter().map(|(v, n)| json!({"name": v, "display_name": display(v), "count": n})).collect::<Vec<_>>(),
            }),
        );
    }
    let count = hits.len();
    let results: Vec<Value> = hits
        .into_iter()
        .skip(start)
        .take(rows)
        .map(|(pkg, _)| pkg)
        .collect();
    Ok(json!({
        "count": count,
        "results": results,
        "sort": sort,
        "facets": facets,
        "search_facets": search_facets,
    }))
}

/// A visible dataset by CKAN id or name.
async fn find_dataset(
    state: &AppState,
    p: &Map<String, Value>,
    key: &str,
) -> Result<gongkai_catalog::Dataset, CkanError> {
    let id = text_param(p, key)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CkanError::validation(key, "Missing value"))?;
    let slug = match id.strip_prefix("00000000-0000-0000-0000-") {
        Some(n) => {
            let n: i64 = n.parse().map_err(|_| CkanError::not_found(&id))?;
            state
                .publisher
                .catalog()
                .dataset_by_id(n)
                .await
                .map_err(|_| CkanError::not_found(&id))?
                .slug
        }
        None => id.clone(),
    };
    let d = state
        .publisher
        .catalog()
        .dataset(&slug)
        .await
        .map_err(|_| CkanError::not_found(&id))?;
    if d.status == DatasetStatus::Draft || d.disclosure == Disclosure::NotPublic {
        return Err(CkanError::not_found(&id));
    }
    Ok(d)
}

async fn package_show(
    state: &AppState,
    base: &str,
    p: &Map<String, Value>,
) -> Result<Value, CkanError> {
    let d = find_dataset(state, p, "id").await?;
    let agencies = agency_map(state).await?;
    Ok(package(&dataset_summary(&d), &agencies, base))
}

fn package_counts(
    hits: &[(DatasetSummary, usize)],
    key: impl Fn(&DatasetSummary) -> Vec<String>,
) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (s, _) in hits {
        for k in key(s) {
            *out.entry(k).or_insert(0) += 1;
        }
    }
    out
}

fn agency_of(s: &DatasetSummary) -> Vec<String> {
    s.agency.clone().into_iter().collect()
}

fn themes_of(s: &DatasetSummary) -> Vec<String> {
    s.themes.iter().map(|t| t.code.clone()).collect()
}

async fn organization_list(state: &AppState, p: &Map<String, Value>) -> Result<Value, CkanError> {
    let agencies = state.publisher.catalog().agencies().await?;
    if bool_param(p, "all_fields") {
        let counts = package_counts(&active(state, "")?, agency_of);
        return Ok(json!(
            agencies
                .iter()
                .map(|a| organization(a, "", Some(counts.get(&a.slug).copied().unwrap_or(0))))
                .collect::<Vec<_>>()
        ));
    }
    Ok(json!(
        agencies.iter().map(|a| a.slug.clone()).collect::<Vec<_>>()
    ))
}

async fn organization_show(
    state: &AppState,
    base: &str,
    p: &Map<String, Value>,
) -> Result<Value, CkanError> {
    let id = text_param(p, "id").ok_or_else(|| CkanError::validation("id", "Missing value"))?;
    let a = state
        .publisher
        .catalog()
        .agency(&id)
        .await
        .map_err(|_| CkanError::not_found(&id))?;
    let hits = active(state, "")?;
    let mine: Vec<&DatasetSummary> = hits
        .iter()
        .map(|(s, _)| s)
        .filter(|s| s.agency.as_deref() == Some(a.slug.as_str()))
        .collect();
    let mut o = organization(&a, base, Some(mine.len()));
    if bool_param(p, "include_datasets") {
        let agencies = agency_map(state).await?;
        o["packages"] = json!(
            mine.iter()
                .map(|s| package(s, &agencies, base))
                .collect::<Vec<_>>()
        );
    }
    Ok(o)
}

async fn group_list(state: &AppState, p: &Map<String, Value>) -> Result<Value, CkanError> {
    if bool_param(p, "all_fields") {
        let counts = package_counts(&active(state, "")?, themes_of);
        return Ok(json!(
            metadata::THEMES
                .iter()
                .map(|t| group(t, Some(counts.get(t.code).copied().unwrap_or(0))))
                .collect::<Vec<_>>()
        ));
    }
    Ok(json!(
        metadata::THEMES.iter().map(|t| t.code).collect::<Vec<_>>()
    ))
}

async fn group_show(
    state: &AppState,
    base: &str,
    p: &Map<String, Value>,
) -> Result<Value, CkanError> {
    let id = text_param(p, "id").ok_or_else(|| CkanError::validation("id", "Missing value"))?;
    let t = metadata::theme(&id).ok_or_else(|| CkanError::not_found(&id))?;
    let hits = active(state, "")?;
    let mine: Vec<&DatasetSummary> = hits
        .iter()
        .map(|(s, _)| s)
        .filter(|s| themes_of(s).iter().any(|c| c == t.code))
        .collect();
    let mut g = group(t, Some(mine.len()));
    if bool_param(p, "include_datasets") {
        let agencies = agency_map(state).await?;
        g["packages"] = json!(
            mine.iter()
                .map(|s| package(s, &agencies, base))
                .collect::<Vec<_>>()
        );
    }
    Ok(g)
}

async fn tag_list(state: &AppState) -> Result<Value, CkanError> {
    let mut tags: Vec<String> = active(state, "")?
        .iter()
        .flat_map(|(s, _)| s.keywords.clone())
        .collect();
    tags.sort();
    tags.dedup();
    Ok(json!(tags))
}

fn license_list() -> Value {
    json!(
        metadata::LICENCES
            .iter()
            .map(|(id, url)| json!({"id": id, "title": id, "url": url, "status": "active", "od_conformance": "approved"}))
            .collect::<Vec<_>>()
    )
}

/// The published table behind a DataStore resource id (`slug` or `slug.csv`).
async fn datastore_table(
    state: &AppState,
    resource: &str,
) -> Result<gongkai_catalog::PublishedTable, CkanError> {
    let slug = resource.strip_suffix(".csv").unwrap_or(resource);
    state
        .publisher
        .catalog()
        .published_tables()
        .await?
        .into_iter()
        .find(|t| t.slug == slug && t.is_latest)
        .ok_or_else(|| CkanError::not_found(format!("Resource \"{resource}\" was not found.")))
}

fn ckan_type(arrow: &str) -> &'static str {
    if arrow.starts_with("Int") || arrow.starts_with("UInt") {
        "int"
    } else if arrow.starts_with("Float") || arrow.starts_with("Decimal") {
        "numeric"
    } else if arrow.starts_with("Date32") {
        "date"
    } else if arrow.starts_with("Timestamp") || arrow.starts_with("Date64") {
        "timestamp"
    } else if arrow == "Boolean" {
        "bool"
    } else {
        "text"
    }
}

/// Encodes batches as CKAN records (JSON objects).
fn records(batches: &[arrow::record_batch::RecordBatch]) -> Result<Vec<Value>, CkanError> {
    let mut buf = Vec::new();
    {
        let mut w = arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow::json::writer::JsonArray>(&mut buf);
        for b in batches {
            w.write(b)
                .map_err(|e| CkanError::from(ApiError::internal(e)))?;
        }
        w.finish()
            .map_err(|e| CkanError::from(ApiError::internal(e)))?;
    }
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&buf).map_err(|e| CkanError::from(ApiError::internal(e)))
}

async fn datastore_search(state: &AppState, p: &Map<String, Value>) -> Result<Value, CkanError> {
    let resource = text_param(p, "resource_id")
        .or_else(|| text_param(p, "id"))
        .ok_or_else(|| CkanError::validation("resource_id", "Missing value"))?;
    let table = datastore_table(state, &resource).await?;
    let limit = int_param(p, "limit", 100)?.min(gongkai_query::MAX_PAGE_SIZE);
    let offset = int_param(p, "offset", 0)?;
    let mut query = RowQuery {
        size: limit,
        offset,
        count: !p
            .get("include_total")
            .is_some_and(|v| v == &json!(false) || v == "false"),
        select: list_param(p, "fields")?,
        text: text_param(p, "q").filter(|q| !q.is_empty()),
        ..RowQuery::default()
    };
    let filters = match p.get("filters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) => match serde_json::from_str(s) {
            Ok(Value::Object(m)) => m,
            _ => return Err(CkanError::validation("filters", "Must be a JSON object")),
        },
        Some(_) => return Err(CkanError::validation("filters", "Must be a JSON object")),
    };
    for (column, v) in filters {
        let values: Vec<String> = match v {
            Value::Array(a) => a
                .into_iter()
                .map(|x| match x {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
            Value::String(s) => vec![s],
            other => vec![other.to_string()],
        };
        query.filters.push(Filter {
            column,
            op: if values.len() == 1 { Op::Eq } else { Op::In },
            values,
        });
    }
    if let Some(sort) = text_param(p, "sort") {
        for part in sort.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mut it = part.split_whitespace();
            let column = it.next().unwrap_or("").trim_matches('"').to_string();
            let desc = it.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            query.order.push((column, desc));
        }
    }
    let page = state
        .engine
        .rows(table.clone(), query)
        .await
        .map_err(|e| match e {
            gongkai_query::Error::BadRequest(m) => CkanError::validation("query", m),
            other => other.into(),
        })?;
    let schema = page.batch.schema();
    let mut fields = vec![json!({"id": "_id", "type": "int"})];
    fields.extend(
        schema
            .fields()
            .iter()
            .map(|f| json!({"id": f.name(), "type": ckan_type(&f.data_type().to_string())})),
    );
    let mut recs = records(std::slice::from_ref(&page.batch))?;
    for (i, r) in recs.iter_mut().enumerate() {
        r["_id"] = json!(offset + i + 1);
    }
    let next = offset + recs.len();
    let mut out = json!({
        "resource_id": resource,
        "fields": fields,
        "records": recs,
        "limit": limit,
        "offset": offset,
        "_links": {
            "start": format!("/api/3/action/datastore_search?resource_id={resource}&limit={limit}"),
            "next": format!("/api/3/action/datastore_search?resource_id={resource}&limit={limit}&offset={next}"),
        },
    });
    if let Some(total) = page.total {
        out["total"] = json!(total);
    }
    Ok(out)
}

async fn datastore_search_sql(
    state: &AppState,
    p: &Map<String, Value>,
) -> Result<Value, CkanError> {
    let sql = text_param(p, "sql")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| CkanError::validation("sql", "Missing value"))?;
    let invalid = |e: gongkai_query::Error| match e {
        gongkai_query::Error::Internal(_) => CkanError::from(e),
        gongkai_query::Error::Busy => CkanError::from(e),
        other => CkanError::validation("query", other.to_string()),
    };
    let prepared = state.engine.prepare(&sql).map_err(invalid)?;
    let tables = state.publisher.catalog().published_tables().await?;
    let stream = state
        .engine
        .execute(prepared, tables)
        .await
        .map_err(invalid)?;
    let schema = stream.schema.clone();
    let (batches, truncated) = stream.collect().await.map_err(invalid)?;
    let fields: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| json!({"id": f.name(), "type": ckan_type(&f.data_type().to_string())}))
        .collect();
    Ok(json!({
        "sql": sql,
        "fields": fields,
        "records": records(&batches)?,
        "records_truncated": truncated,
    }))
}
