//! HTTP routes.

pub(crate) mod accounts;
pub(crate) mod ckan;
pub(crate) mod datasets;
pub(crate) mod downloads;
pub(crate) mod feeds;
pub(crate) mod rows;
pub(crate) mod sql;

pub(crate) use datasets::dataset_summary;

use crate::error::Code;
use crate::{ApiError, AppState};
use arrow::record_batch::RecordBatch;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use gongkai_query::{Format, ResultEncoder};
use serde_json::json;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

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

/// The whole application router.
pub fn router(state: AppState) -> Router {
    use axum::routing::{delete, patch};
    let uploads = Router::new()
        .route("/api/v1/datasets/{slug}/uploads", post(datasets::upload))
        // Uploads are streamed and limited by `max_upload_bytes` in the handler.
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route("/catalog.jsonld", get(feeds::dcat_jsonld))
        .route("/catalog.ttl", get(feeds::dcat_turtle))
        .route("/data.json", get(feeds::data_json))
        .route("/sitemap.xml", get(feeds::sitemap))
        .route("/api/v1/catalogue.csv", get(feeds::catalogue_csv))
        .route("/api/v1/catalogue.xlsx", get(feeds::catalogue_xlsx))
        .route("/api/v1/login", post(accounts::login))
        .route("/api/v1/logout", post(accounts::logout))
        .route("/api/v1/me", get(accounts::me))
        .route(
            "/api/v1/agencies",
            get(accounts::agencies).post(accounts::add_agency),
        )
        .route("/api/v1/agencies/{slug}", get(accounts::agency))
        .route(
            "/api/v1/agencies/{slug}/deadlines",
            get(accounts::agency_deadlines),
        )
        .route("/api/v1/admin/deadlines", get(accounts::admin_deadlines))
        .route(
            "/api/v1/users",
            get(accounts::users).post(accounts::add_user),
        )
        .route("/api/v1/users/{name}", patch(accounts::patch_user))
        .route(
            "/api/v1/tokens",
            get(accounts::tokens).post(accounts::add_token),
        )
        .route("/api/v1/tokens/{id}", delete(accounts::revoke_token))
        .route("/api/v1/audit", get(accounts::audit))
        .route("/api/v1/review-queue", get(datasets::review_queue))
        .route(
            "/api/v1/datasets",
            get(datasets::list).post(datasets::create),
        )
        .route(
            "/api/v1/datasets/{slug}",
            get(datasets::show).patch(datasets::patch),
        )
        .route("/api/v1/datasets/{slug}/withdraw", post(datasets::withdraw))
        .route("/api/v1/datasets/{slug}/versions", get(datasets::versions))
        .route(
            "/api/v1/datasets/{slug}/versions/{number}",
            get(datasets::version),
        )
        .route(
            "/api/v1/datasets/{slug}/versions/{number}/columns",
            patch(datasets::describe_columns),
        )
        .route(
            "/api/v1/datasets/{slug}/versions/{number}/redaction",
            axum::routing::put(datasets::redaction),
        )
        .route(
            "/api/v1/datasets/{slug}/versions/{number}/submit",
            post(datasets::submit),
        )
        .route(
            "/api/v1/datasets/{slug}/versions/{number}/approve",
            post(datasets::approve),
        )
        .route(
            "/api/v1/datasets/{slug}/versions/{number}/reject",
            post(datasets::reject),
        )
        .route(
            "/api/v1/datasets/{slug}/versions/{number}/publish",
            post(datasets::publish),
        )
        .route(
            "/api/v1/datasets/{slug}/versions/{number}/rows",
            get(rows::version),
        )
        .route(
            "/api/v1/datasets/{slug}/versions/{number}/{file}",
            get(downloads::version_file),
        )
        .route("/api/v1/datasets/{slug}/rows", get(rows::latest))
        .route(
            "/api/v1/datasets/{slug}/{file}",
            get(downloads::latest_file),
        )
        .route("/api/v1/sql", get(sql::get).post(sql::post))
        .route("/api/v1/tables", get(rows::tables))
        .route("/api/3/action/{name}", get(ckan::action).post(ckan::action))
        .route("/api/action/{name}", get(ckan::action).post(ckan::action))
        .merge(uploads)
        .merge(crate::web::router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(1 << 20))
        // A body that stalls (slow or stuck client) is abandoned.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            std::time::Duration::from_secs(state.settings.body_idle_timeout_secs.max(1)),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::ratelimit::limit,
        ))
        .layer(CorsLayer::permissive())
        .layer(axum::middleware::from_fn(crate::web::security_headers))
        .layer(TraceLayer::new_for_http().make_span_with(crate::logging::request_span))
        .with_state(state)
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
    state.catalog.ping().await?;
    let s = &state.settings.uploads;
    Ok(Json(json!({
        "status": "ok",
        "ingests": {"running": state.uploads.ingests_running(), "slots": s.max_concurrent_ingests.max(1)},
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

async fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no such endpoint")
}
