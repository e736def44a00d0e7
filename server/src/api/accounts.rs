//! Login, agencies, users, tokens, the audit log and disclosure deadlines
//! over HTTP: each handler asks the application
//! (`gongkai_publish::accounts`) and serialises its answer.

use crate::auth::{ClientAddr, Signed, presented_token};
use crate::error::Code;
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongkai_catalog::{NewAgency, UserPatch};
use gongkai_publish::accounts::{NewTokenRequest, NewUserRequest};
use gongkai_publish::views::{AgencyDetail, DeadlineReport};
use serde::Deserialize;
use serde_json::{Value, json};

/// `{"user", "password"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    user: String,
    password: String,
}

/// `POST /api/v1/login`: password login; returns a session token (also set as
/// an HttpOnly cookie for the web pages). Failed logins are throttled per
/// address and user name before the password is checked.
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(l) = body?;
    // Counted before the password is checked; only failures stay counted.
    let attempt = state.limiter.login_attempt(&client, &l.user)?;
    let session = state.publisher.login(&l.user, &l.password, &client).await?;
    attempt.succeeded();
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        crate::auth::SESSION_COOKIE,
        session.token,
        session.max_age_secs
    );
    let mut response = Json(&session).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `POST /api/v1/logout`: revokes the presented token.
pub async fn logout(
    State(state): State<AppState>,
    Signed(p): Signed,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = presented_token(&headers) {
        state.publisher.logout(&token, &p).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("gongkai_session=; Path=/; HttpOnly; Secure; Max-Age=0"),
    );
    Ok(response)
}

/// `GET /api/v1/me`: who the token belongs to and what it may do.
pub async fn me(Signed(p): Signed) -> Json<Value> {
    Json(json!({
        "user": p.user,
        "role": p.role,
        "agency": p.agency,
        "within": p.within,
        "scope": p.scope,
    }))
}

// -------------------------------------------------------------------- agencies

/// `GET /api/v1/agencies`: the public agency hierarchy.
pub async fn agencies(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"agencies": state.publisher.agencies().await?})))
}

/// `GET /api/v1/agencies/{slug}`.
pub async fn agency(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<AgencyDetail>, ApiError> {
    Ok(Json(state.publisher.agency_detail(&slug).await?))
}

/// `POST /api/v1/agencies`: platform admins anywhere; agency admins below their agency.
pub async fn add_agency(
    State(state): State<AppState>,
    Signed(p): Signed,
    body: Result<Json<NewAgency>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(new) = body?;
    let a = state.publisher.add_agency(&new, &p).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// `GET /api/v1/agencies/{slug}/deadlines`: publication deadlines of the agency
/// (and agencies below it), overdue first. Staff of the agency only.
pub async fn agency_deadlines(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path(slug): Path<String>,
) -> Result<Json<DeadlineReport>, ApiError> {
    Ok(Json(state.publisher.agency_deadlines(&slug, &p).await?))
}

/// `GET /api/v1/admin/deadlines`: the platform-wide overdue report (admins).
pub async fn admin_deadlines(
    State(state): State<AppState>,
    Signed(p): Signed,
) -> Result<Json<DeadlineReport>, ApiError> {
    Ok(Json(state.publisher.all_deadlines(&p).await?))
}

// -------------------------------------------------------------------- users

/// `GET /api/v1/users`: platform admins see everyone; agency admins their agencies.
pub async fn users(
    State(state): State<AppState>,
    Signed(p): Signed,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"users": state.publisher.users(&p).await?})))
}

/// `POST /api/v1/users` `{"name", "role", "agency"?, "password"?}`.
pub async fn add_user(
    State(state): State<AppState>,
    Signed(p): Signed,
    body: Result<Json<NewUserRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(b) = body?;
    let user = state.publisher.add_user(b, &p).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `PATCH /api/v1/users/{name}` `{"role"?, "agency"?, "disabled"?}`.
pub async fn patch_user(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path(name): Path<String>,
    body: Result<Json<UserPatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<gongkai_catalog::User>, ApiError> {
    let Json(patch) = body?;
    Ok(Json(state.publisher.update_user(&name, &patch, &p).await?))
}

// -------------------------------------------------------------------- tokens

/// `GET /api/v1/tokens?user=`: the caller's tokens (admins: any user's).
pub async fn tokens(
    State(state): State<AppState>,
    Signed(p): Signed,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let tokens = state
        .publisher
        .tokens(q.get("user").map(String::as_str), &p)
        .await?;
    Ok(Json(json!({"tokens": tokens})))
}

/// `POST /api/v1/tokens` `{"user"?, "label"?, "scope"?, "expires_in_days"?}`:
/// a new API token, shown once.
pub async fn add_token(
    State(state): State<AppState>,
    Signed(p): Signed,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: NewTokenRequest = super::datasets::optional_body(&body)?;
    let token = state.publisher.add_token(b, &p).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// `DELETE /api/v1/tokens/{id}`: revoke (own tokens, or as an admin).
pub async fn revoke_token(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path(id): Path<i64>,
) -> Result<Json<gongkai_catalog::TokenInfo>, ApiError> {
    Ok(Json(state.publisher.revoke_token(id, &p).await?))
}

// -------------------------------------------------------------------- audit

/// `?after=&limit=&format=json|ndjson|csv`.
#[derive(Deserialize)]
pub struct AuditParams {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/v1/audit`: the append-only audit log (platform admins), as JSON
/// pages or exported whole as CSV / NDJSON.
pub async fn audit(
    State(state): State<AppState>,
    Signed(p): Signed,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = params?;
    // The application refuses anyone but a platform admin.
    state.publisher.audit_events(1, i64::MAX, &p).await?;
    let format = q.format.as_deref().unwrap_or("json");
    match format {
        "json" => {
            let limit = q.limit.unwrap_or(500).clamp(1, 5000);
            let events = state.publisher.audit_events(limit, q.after, &p).await?;
            let next = (events.len() as i64 == limit)
                .then(|| {
                    events
                        .last()
                        .map(|e| format!("/api/v1/audit?after={}&limit={limit}", e.id))
                })
                .flatten();
            Ok(Json(json!({"events": events, "next": next})).into_response())
        }
        "csv" | "ndjson" => {
            let mut out = Vec::new();
            let mut w = csv::Writer::from_writer(&mut out);
            if format == "csv" {
                w.write_record(["id", "at", "actor", "action", "subject", "details"])
                    .map_err(ApiError::internal)?;
            }
            let mut after = q.after;
            let mut lines = String::new();
            loop {
                let page = state.publisher.audit_events(5000, after, &p).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for e in &page {
                    if format == "csv" {
                        w.write_record([
                            e.id.to_string(),
                            e.at.clone(),
                            e.actor.clone(),
                            e.action.clone(),
                            e.subject.clone(),
                            e.details.to_string(),
                        ])
                        .map_err(ApiError::internal)?;
                    } else {
                        lines.push_str(&json!(e).to_string());
                        lines.push('\n');
                    }
                }
            }
            w.flush().map_err(ApiError::internal)?;
            drop(w);
            let (body, ctype) = if format == "csv" {
                let mut bytes = "\u{feff}".as_bytes().to_vec();
                bytes.extend_from_slice(&out);
                (bytes, "text/csv; charset=utf-8")
            } else {
                (lines.into_bytes(), "application/x-ndjson")
            };
            Ok((
                [
                    (header::CONTENT_TYPE, ctype.to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"gongkai-audit.{format}\""),
                    ),
                ],
                Body::from(body),
            )
                .into_response())
        }
        other => Err(ApiError::new(
            Code::UnsupportedFormat,
            format!("unknown format {other:?}; use json, ndjson or csv"),
        )),
    }
}
