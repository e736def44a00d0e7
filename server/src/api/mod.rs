//! The JSON API: one module per resource, each handler a thin HTTP wrapper
//! over a use case of the application (`gongkai_publish::Publisher`) or the
//! query engine. [`OPERATIONS`] is the one table of the API: the router is
//! built from it and `/openapi.json` describes it.

pub(crate) mod accounts;
pub(crate) mod ckan;
pub(crate) mod datasets;
pub(crate) mod downloads;
pub(crate) mod feeds;
pub(crate) mod results;
pub(crate) mod rows;
pub(crate) mod sql;

use crate::error::Code;
use crate::{ApiError, AppState};
use arrow::record_batch::RecordBatch;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{MethodFilter, MethodRouter};
use axum::{Json, Router};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use gongkai_query::{Format, ResultEncoder};
use serde_json::json;

/// One API operation, as documented in `/openapi.json`.
pub struct Operation {
    /// HTTP method.
    pub method: &'static str,
    /// Path template (axum syntax).
    pub path: &'static str,
    /// Stable operation id.
    pub id: &'static str,
    /// Who may call it: public, signed, editor, reviewer, admin.
    pub access: &'static str,
    /// One line.
    pub summary: &'static str,
}

macro_rules! ops {
    ($($method:literal $path:literal $id:literal $access:literal $summary:literal;)+) => {
        &[$(Operation { method: $method, path: $path, id: $id, access: $access, summary: $summary }),+]
    };
}

/// Every operation of the API (the router below serves exactly these).
pub const OPERATIONS: &[Operation] = ops! {
    "GET" "/healthz" "health" "public" "Liveness and catalogue check";
    "GET" "/openapi.json" "openapi" "public" "This API description";
    "GET" "/catalog.jsonld" "feed.dcat_jsonld" "public" "DCAT-AP 3 catalogue (JSON-LD)";
    "GET" "/catalog.ttl" "feed.dcat_turtle" "public" "DCAT-AP 3 catalogue (Turtle)";
    "GET" "/data.json" "feed.data_json" "public" "DCAT-US 1.1 (Project Open Data) catalogue";
    "GET" "/sitemap.xml" "feed.sitemap" "public" "Sitemap of the home page and public datasets";
    "GET" "/api/v1/catalogue.csv" "catalogue.csv" "public" "政务信息公开目录 as CSV (UTF-8 with BOM)";
    "GET" "/api/v1/catalogue.xlsx" "catalogue.xlsx" "public" "政务信息公开目录 as XLSX";
    "POST" "/api/v1/login" "login" "public" "Password login; returns a session token";
    "POST" "/api/v1/logout" "logout" "signed" "Revoke the presented token";
    "GET" "/api/v1/me" "me" "signed" "Who the token belongs to";
    "GET" "/api/v1/agencies" "agency.list" "public" "Agency hierarchy";
    "POST" "/api/v1/agencies" "agency.create" "admin" "Register an agency";
    "GET" "/api/v1/agencies/{slug}" "agency.show" "public" "One agency and its sub-agencies";
    "GET" "/api/v1/agencies/{slug}/deadlines" "agency.deadlines" "editor" "Publication deadlines and overdue items of an agency";
    "GET" "/api/v1/admin/deadlines" "admin.deadlines" "admin" "Platform-wide overdue report";
    "GET" "/api/v1/users" "user.list" "admin" "Users";
    "POST" "/api/v1/users" "user.create" "admin" "Create a user";
    "PATCH" "/api/v1/users/{name}" "user.update" "admin" "Change role, agency or disable a user";
    "GET" "/api/v1/tokens" "token.list" "signed" "The caller's API tokens";
    "POST" "/api/v1/tokens" "token.create" "signed" "Create an API token (shown once)";
    "DELETE" "/api/v1/tokens/{id}" "token.revoke" "signed" "Revoke a token";
    "GET" "/api/v1/audit" "audit.list" "admin" "Audit log (json, ndjson or csv export)";
    "GET" "/api/v1/review-queue" "review.queue" "reviewer" "Versions waiting for review";
    "GET" "/api/v1/datasets" "dataset.list" "public" "Published datasets";
    "POST" "/api/v1/datasets" "dataset.create" "editor" "Create a dataset";
    "GET" "/api/v1/datasets/{slug}" "dataset.show" "public" "A dataset with its versions and data dictionary";
    "PATCH" "/api/v1/datasets/{slug}" "dataset.update" "editor" "Edit metadata (disclosure attribute: reviewers)";
    "POST" "/api/v1/datasets/{slug}/withdraw" "dataset.withdraw" "reviewer" "Withdraw a published dataset with a reason";
    "POST" "/api/v1/datasets/{slug}/uploads" "version.upload" "editor" "Upload a file as a new draft version";
    "GET" "/api/v1/datasets/{slug}/versions" "version.list" "public" "Versions";
    "GET" "/api/v1/datasets/{slug}/versions/{number}" "version.show" "public" "A version with its ingest report";
    "PUT" "/api/v1/datasets/{slug}/versions/{number}/redaction" "version.redaction" "editor" "Change column redaction (loosening: reviewers, with legal basis)";
    "PATCH" "/api/v1/datasets/{slug}/versions/{number}/columns" "version.columns" "editor" "Describe columns in a draft's data dictionary";
    "POST" "/api/v1/datasets/{slug}/versions/{number}/submit" "version.submit" "editor" "Submit a draft for review";
    "POST" "/api/v1/datasets/{slug}/versions/{number}/approve" "version.approve" "reviewer" "Approve (confidentiality review and redaction confirmed)";
    "POST" "/api/v1/datasets/{slug}/versions/{number}/reject" "version.reject" "reviewer" "Send back with a comment";
    "POST" "/api/v1/datasets/{slug}/versions/{number}/publish" "version.publish" "reviewer" "Publish now or at a scheduled time";
    "GET" "/api/v1/datasets/{slug}/versions/{number}/rows" "version.rows" "public" "Rows of one version: filters, sort, keyset pages";
    "GET" "/api/v1/datasets/{slug}/versions/{number}/{file}" "version.download" "public" "Download one version (data.parquet, data.csv)";
    "GET" "/api/v1/datasets/{slug}/rows" "dataset.rows" "public" "Rows of the latest version: filters, sort, keyset pages";
    "GET" "/api/v1/datasets/{slug}/{file}" "dataset.download" "public" "Download the latest version";
    "GET" "/api/v1/sql" "sql.get" "public" "SQL over published datasets (?q=)";
    "POST" "/api/v1/sql" "sql.post" "public" "SQL over published datasets (JSON body)";
    "GET" "/api/v1/tables" "table.list" "public" "Tables SQL can read, with columns and versions";
    "GET" "/api/3/action/{name}" "ckan.action.get" "public" "CKAN action API (package_search, package_show, datastore_search …)";
    "POST" "/api/3/action/{name}" "ckan.action.post" "public" "CKAN action API, parameters as JSON or form body";
    "GET" "/api/action/{name}" "ckan.action_unversioned.get" "public" "CKAN action API (the address ckanapi uses)";
    "POST" "/api/action/{name}" "ckan.action_unversioned.post" "public" "CKAN action API (the address ckanapi uses)";
};

/// The handler of the operation `id`, serving `method` (`None` for an id
/// without one: a test proves every operation has one).
fn handler(id: &str, method: MethodFilter) -> Option<MethodRouter<AppState>> {
    macro_rules! route {
        ($($id:literal => $handler:expr,)+) => {
            match id {
                $($id => Some(axum::routing::on(method, $handler)),)+
                _ => None,
            }
        };
    }
    route! {
        "health" => healthz,
        "openapi" => openapi,
        "feed.dcat_jsonld" => feeds::dcat_jsonld,
        "feed.dcat_turtle" => feeds::dcat_turtle,
        "feed.data_json" => feeds::data_json,
        "feed.sitemap" => feeds::sitemap,
        "catalogue.csv" => feeds::catalogue_csv,
        "catalogue.xlsx" => feeds::catalogue_xlsx,
        "login" => accounts::login,
        "logout" => accounts::logout,
        "me" => accounts::me,
        "agency.list" => accounts::agencies,
        "agency.create" => accounts::add_agency,
        "agency.show" => accounts::agency,
        "agency.deadlines" => accounts::agency_deadlines,
        "admin.deadlines" => accounts::admin_deadlines,
        "user.list" => accounts::users,
        "user.create" => accounts::add_user,
        "user.update" => accounts::patch_user,
        "token.list" => accounts::tokens,
        "token.create" => accounts::add_token,
        "token.revoke" => accounts::revoke_token,
        "audit.list" => accounts::audit,
        "review.queue" => datasets::review_queue,
        "dataset.list" => datasets::list,
        "dataset.create" => datasets::create,
        "dataset.show" => datasets::show,
        "dataset.update" => datasets::patch,
        "dataset.withdraw" => datasets::withdraw,
        "version.upload" => datasets::upload,
        "version.list" => datasets::versions,
        "version.show" => datasets::version,
        "version.redaction" => datasets::redaction,
        "version.columns" => datasets::describe_columns,
        "version.submit" => datasets::submit,
        "version.approve" => datasets::approve,
        "version.reject" => datasets::reject,
        "version.publish" => datasets::publish,
        "version.rows" => rows::version,
        "version.download" => downloads::version_file,
        "dataset.rows" => rows::latest,
        "dataset.download" => downloads::latest_file,
        "sql.get" => sql::get,
        "sql.post" => sql::post,
        "table.list" => rows::tables,
        "ckan.action.get" => ckan::action,
        "ckan.action.post" => ckan::action,
        "ckan.action_unversioned.get" => ckan::action,
        "ckan.action_unversioned.post" => ckan::action,
    }
}

/// The method filter of a method name in [`OPERATIONS`].
fn method_filter(method: &str) -> Option<MethodFilter> {
    Some(match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        "DELETE" => MethodFilter::DELETE,
        _ => return None,
    })
}

/// The API's routes, built from [`OPERATIONS`]: every operation the table
/// lists is served, and nothing else. Uploads are streamed and limited per
/// role by the application, so their route lifts the body limit every other
/// request has (see [`crate::router`]).
pub fn router() -> Router<AppState> {
    let mut paths: Vec<(&str, MethodRouter<AppState>)> = Vec::new();
    for op in OPERATIONS {
        let Some(h) = method_filter(op.method).and_then(|m| handler(op.id, m)) else {
            tracing::error!(operation = op.id, "an API operation has no handler");
            continue;
        };
        let h = if op.id == "version.upload" {
            h.layer(DefaultBodyLimit::disable())
        } else {
            h
        };
        match paths.iter_mut().find(|(p, _)| *p == op.path) {
            Some((_, existing)) => {
                let merged = std::mem::take(existing).merge(h);
                *existing = merged;
            }
            None => paths.push((op.path, h)),
        }
    }
    paths
        .into_iter()
        .fold(Router::new(), |r, (path, h)| r.route(path, h))
}

/// The answer to a path no route serves.
pub async fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no such endpoint")
}

/// `GET /openapi.json`: OpenAPI 3.1 description generated from [`OPERATIONS`].
async fn openapi() -> Json<serde_json::Value> {
    let mut paths = serde_json::Map::new();
    for op in OPERATIONS {
        let params: Vec<serde_json::Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        entry[op.method.to_ascii_lowercase()] = json!({
            "operationId": op.id,
            "summary": op.summary,
            "parameters": params,
            "x-gongkai-access": op.access,
            "security": if op.access == "public" { json!([]) } else { json!([{"bearer": []}]) },
            "responses": {"default": {
                "description": "JSON; errors as {\"error\": {\"code\", \"message\", \"details\"}}",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }},
        });
    }
    // Every error code, with its status and meaning (the registry in gongkai-codes).
    let codes: Vec<serde_json::Value> = crate::error::Code::ALL
        .iter()
        .map(|c| json!({"code": c.name(), "status": c.status(), "meaning": c.meaning()}))
        .collect();
    let names: Vec<&str> = crate::error::Code::ALL.iter().map(|c| c.name()).collect();
    Json(json!({
        "openapi": "3.1.0",
        "info": {"title": "Gongkai 公开 API", "version": env!("CARGO_PKG_VERSION")},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "enum": names},
                        "message": {"type": "string"},
                        "details": {"type": "object"},
                    },
                }},
            }},
        },
        "x-error-codes": codes,
        "paths": paths,
    }))
}

async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.publisher.catalog().ping().await?;
    let s = &state.settings.uploads;
    Ok(Json(json!({
        "status": "ok",
        "ingests": {"running": state.publisher.uploads().ingests_running(), "slots": s.max_concurrent_ingests.max(1)},
    })))
}

/// Trailer (and header) saying whether a limit cut a result.
pub(crate) const TRUNCATED_HEADER: &str = "gongkai-truncated";

/// Streams encoded batches: the encoder's head, each batch, then its tail.
///
/// An error mid-way ends a JSON body with an `error` member; the other formats
/// are aborted instead, so the client sees a broken transfer rather than a
/// silently short file. With `trailer`, a `Gongkai-Truncated` HTTP trailer
/// follows the body (for clients that asked with `TE: trailers`).
pub(crate) fn encoded_body<S, T>(
    mut encoder: ResultEncoder,
    batches: S,
    truncated: T,
    trailer: bool,
) -> Result<Body, ApiError>
where
    S: Stream<Item = Result<RecordBatch, gongkai_query::Error>> + Send + Unpin + 'static,
    T: Fn() -> bool + Send + 'static,
{
    use http_body::Frame;
    type Item = Result<Frame<Bytes>, std::io::Error>;
    let head = encoder.begin()?;
    enum Step<S, T> {
        Batches(Box<ResultEncoder>, S, T),
        Trailer(bool),
        Done,
    }
    let tail = futures::stream::unfold(
        Step::Batches(Box::new(encoder), batches, truncated),
        move |step| async move {
            match step {
                Step::Done => None,
                Step::Trailer(cut) => {
                    let mut t = axum::http::HeaderMap::new();
                    t.insert(
                        TRUNCATED_HEADER,
                        axum::http::HeaderValue::from_static(if cut { "true" } else { "false" }),
                    );
                    Some((Ok(Frame::trailers(t)), Step::Done))
                }
                Step::Batches(mut encoder, mut batches, truncated) => {
                    let next = match batches.next().await {
                        Some(Ok(batch)) => match encoder.batch(&batch) {
                            Ok(bytes) => {
                                let item: Item = Ok(Frame::data(bytes));
                                return Some((item, Step::Batches(encoder, batches, truncated)));
                            }
                            Err(e) => Err(e),
                        },
                        Some(Err(e)) => Err(e),
                        None => Ok(()),
                    };
                    let cut = truncated();
                    let after = if trailer {
                        Step::Trailer(cut)
                    } else {
                        Step::Done
                    };
                    match next {
                        Ok(()) => match encoder.finish(cut, None) {
                            Ok(end) => Some((Ok(Frame::data(end)), after)),
                            Err(e) => Some((Err(std::io::Error::other(e.to_string())), Step::Done)),
                        },
                        Err(e) => {
                            tracing::warn!(error = %e, "result stream failed mid-way");
                            if encoder.format() == Format::Json {
                                match encoder.finish(cut, Some(&e)) {
                                    Ok(end) => Some((Ok(Frame::data(end)), Step::Done)),
                                    Err(e) => Some((
                                        Err(std::io::Error::other(e.to_string())),
                                        Step::Done,
                                    )),
                                }
                            } else {
                                Some((Err(std::io::Error::other(e.to_string())), Step::Done))
                            }
                        }
                    }
                }
            }
        },
    );
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(Frame::data(head)) })
        .chain(tail);
    Ok(Body::new(http_body_util::StreamBody::new(stream)))
}

/// Encodes batches that are all in hand into one body.
pub(crate) fn encode_all(
    mut encoder: ResultEncoder,
    batches: &[RecordBatch],
    truncated: bool,
) -> Result<Bytes, ApiError> {
    let mut out = Vec::from(encoder.begin()?);
    for b in batches {
        out.extend_from_slice(&encoder.batch(b)?);
    }
    out.extend_from_slice(&encoder.finish(truncated, None)?);
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_handler_and_a_method() {
        for op in OPERATIONS {
            let method = method_filter(op.method);
            assert!(method.is_some(), "{} {}", op.method, op.path);
            assert!(
                method.and_then(|m| handler(op.id, m)).is_some(),
                "{} has no handler",
                op.id
            );
        }
        let mut ids: Vec<&str> = OPERATIONS.iter().map(|o| o.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), OPERATIONS.len(), "an operation id appears twice");
    }
}
