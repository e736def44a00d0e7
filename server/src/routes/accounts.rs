//! Login, agencies, users, tokens, the audit log and disclosure deadlines.

use crate::auth::{Signed, forbidden, presented_token, token_expiry};
use crate::error::Code;
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongkai_catalog::{
    NewAgency, NewToken, NewUser, Principal, Role, Scope, UserPatch, hash_password,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Where a request came from (for the audit log of login failures).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // The address the rate limiter counted (honours `trust_forwarded_for`).
        let addr = match parts.extensions.get::<crate::ratelimit::ClientIp>() {
            Some(ip) => ip.0.to_string(),
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        };
        Ok(ClientAddr(addr))
    }
}

/// `{"user", "password"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    user: String,
    password: String,
}

/// `POST /api/v1/login`: password login; returns a session token (also set as
/// an HttpOnly cookie for the web pages).
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(l) = body?;
    // Counted before the password is checked; only failures stay counted.
    let attempt = state.limiter.login_attempt(&client, &l.user)?;
    let Some(user) = state.catalog.login(&l.user, &l.password, &client).await? else {
        return Err(ApiError::new(
            Code::LoginFailed,
            "用户名或密码错误 / wrong user name or password",
        ));
    };
    attempt.succeeded();
    let token = gongkai_catalog::token::generate();
    let expires = chrono::Utc::now() + chrono::Duration::hours(state.settings.session_hours.max(1));
    state
        .catalog
        .create_token(
            &NewToken {
                user: user.name.clone(),
                label: "web session".into(),
                scope: Scope::Write,
                kind: "session",
                expires_at: Some(rfc3339(expires)),
            },
            &token,
            &user.name,
        )
        .await?;
    let cookie = format!(
        "gongkai_session={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        state.settings.session_hours.max(1) * 3600
    );
    let mut response = Json(json!({
        "token": token,
        "expires_at": rfc3339(expires),
        "user": user,
    }))
    .into_response();
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
        state.catalog.revoke_secret(&token, &p.user).await?;
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
    Ok(Json(json!({"agencies": state.catalog.agencies().await?})))
}

/// `GET /api/v1/agencies/{slug}`.
pub async fn agency(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = state.catalog.agency(&slug).await?;
    let all = state.catalog.agencies().await?;
    let children: Vec<&str> = all
        .iter()
        .filter(|c| c.parent.as_deref() == Some(slug.as_str()))
        .map(|c| c.slug.as_str())
        .collect();
    let mut out = json!(a);
    out["children"] = json!(children);
    Ok(Json(out))
}

/// `POST /api/v1/agencies`: platform admins anywhere; agency admins below their agency.
pub async fn add_agency(
    State(state): State<AppState>,
    Signed(p): Signed,
    body: Result<Json<NewAgency>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(new) = body?;
    let allowed = if new.parent.is_some() {
        p.can_administer(new.parent.as_deref())
    } else {
        p.is_platform_admin() && p.scope == Scope::Write
    };
    if !allowed {
        return Err(forbidden(
            "adding an agency needs a platform admin, or an admin of the parent agency",
        ));
    }
    if new.review_required == Some(false) && !p.is_platform_admin() {
        return Err(forbidden(
            "only a platform admin may let an agency publish without review",
        ));
    }
    let a = state.catalog.add_agency(&new, &p.user).await?;
    Ok((StatusCode::CREATED, Json(json!(a))))
}

/// `GET /api/v1/agencies/{slug}/deadlines`: publication deadlines of the agency
/// (and agencies below it), overdue first. Staff of the agency only.
pub async fn agency_deadlines(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.catalog.agency(&slug).await?;
    if !p.can_view(Some(&slug)) {
        return Err(forbidden("deadlines are shown to the agency's own staff"));
    }
    let all = state.catalog.agencies().await?;
    let scope = gongkai_catalog::accounts::subtree(&all, &slug);
    deadlines(&state, Some(&scope)).await
}

/// `GET /api/v1/admin/deadlines`: the platform-wide overdue report (admins).
pub async fn admin_deadlines(
    State(state): State<AppState>,
    Signed(p): Signed,
) -> Result<Json<Value>, ApiError> {
    if !p.is_platform_admin() {
        return Err(forbidden("the deadline report is for platform admins"));
    }
    deadlines(&state, None).await
}

async fn deadlines(state: &AppState, scope: Option<&[String]>) -> Result<Json<Value>, ApiError> {
    let beijing =
        chrono::FixedOffset::east_opt(8 * 3600).ok_or_else(|| ApiError::internal("time zone"))?;
    let today = chrono::Utc::now().with_timezone(&beijing).date_naive();
    let items = state
        .catalog
        .deadlines(scope, &state.calendar, today)
        .await?;
    let overdue = items.iter().filter(|d| d.state == "overdue").count();
    Ok(Json(json!({
        "today": today.format("%Y-%m-%d").to_string(),
        "working_days_allowed": gongkai_catalog::calendar::PUBLICATION_WORKING_DAYS,
        "overdue": overdue,
        "items": items,
    })))
}

// -------------------------------------------------------------------- users

/// `{"name", "role", "agency"?, "password"?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    name: String,
    role: Role,
    #[serde(default)]
    agency: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

fn may_manage_users(p: &Principal, agency: Option<&str>) -> bool {
    match agency {
        Some(a) => p.can_administer(Some(a)),
        None => p.is_platform_admin() && p.scope == Scope::Write,
    }
}

/// `GET /api/v1/users`: platform admins see everyone; agency admins their agencies.
pub async fn users(
    State(state): State<AppState>,
    Signed(p): Signed,
) -> Result<Json<Value>, ApiError> {
    if p.role != Role::Admin {
        return Err(forbidden("listing users needs an admin"));
    }
    let users: Vec<_> = state
        .catalog
        .users()
        .await?
        .into_iter()
        .filter(|u| p.covers(u.agency.as_deref()))
        .collect();
    Ok(Json(json!({"users": users})))
}

/// `POST /api/v1/users`.
pub async fn add_user(
    State(state): State<AppState>,
    Signed(p): Signed,
    body: Result<Json<NewUserBody>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(b) = body?;
    if !may_manage_users(&p, b.agency.as_deref()) {
        return Err(forbidden(
            "adding users needs an admin of the user's agency (or a platform admin)",
        ));
    }
    let password_hash = match &b.password {
        Some(pw) => {
            let pw = pw.clone();
            Some(
                tokio::task::spawn_blocking(move || hash_password(&pw))
                    .await
                    .map_err(ApiError::internal)??,
            )
        }
        None => None,
    };
    let user = state
        .catalog
        .add_user(
            &NewUser {
                name: b.name,
                role: b.role,
                agency: b.agency,
                password_hash,
            },
            &p.user,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!(user))))
}

/// `PATCH /api/v1/users/{name}` `{"role"?, "agency"?, "disabled"?}`.
pub async fn patch_user(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path(name): Path<String>,
    body: Result<Json<UserPatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(patch) = body?;
    let before = state.catalog.user(&name).await?;
    let target_agency = patch.agency.clone().or(before.agency.clone());
    if !may_manage_users(&p, before.agency.as_deref())
        || !may_manage_users(&p, target_agency.as_deref())
    {
        return Err(forbidden(
            "changing a user needs an admin of the user's agency (or a platform admin)",
        ));
    }
    if name == p.user {
        return Err(forbidden("admins cannot change their own permissions"));
    }
    let user = state.catalog.update_user(&name, &patch, &p.user).await?;
    Ok(Json(json!(user)))
}

// -------------------------------------------------------------------- tokens

/// `{"user"?, "label"?, "scope"?, "expires_in_days"?}`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    scope: Option<Scope>,
    #[serde(default)]
    expires_in_days: Option<i64>,
}

/// `GET /api/v1/tokens?user=`: the caller's tokens (admins: any user's).
pub async fn tokens(
    State(state): State<AppState>,
    Signed(p): Signed,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let user = q.get("user").cloned().unwrap_or_else(|| p.user.clone());
    if user != p.user {
        let owner = state.catalog.user(&user).await?;
        if !(p.role == Role::Admin && p.covers(owner.agency.as_deref())) {
            return Err(forbidden("only admins see other users' tokens"));
        }
    }
    Ok(Json(
        json!({"tokens": state.catalog.tokens(Some(&user)).await?}),
    ))
}

/// `POST /api/v1/tokens`: a new API token, shown once.
pub async fn add_token(
    State(state): State<AppState>,
    Signed(p): Signed,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: NewTokenBody = super::datasets::optional_body(&body)?;
    let user = b.user.clone().unwrap_or_else(|| p.user.clone());
    if user != p.user {
        let owner = state.catalog.user(&user).await?;
        if !may_manage_users(&p, owner.agency.as_deref()) {
            return Err(forbidden("only admins create tokens for other users"));
        }
    }
    // A token never allows more than the one that created it.
    let scope = match (b.scope.unwrap_or(Scope::Write), p.scope) {
        (_, Scope::Read) => Scope::Read,
        (s, Scope::Write) => s,
    };
    if p.scope == Scope::Read {
        return Err(forbidden("a read-only token cannot create tokens"));
    }
    let token = gongkai_catalog::token::generate();
    let expires_at = token_expiry(b.expires_in_days, state.settings.token_days)?;
    let id = state
        .catalog
        .create_token(
            &NewToken {
                user: user.clone(),
                label: b.label.unwrap_or_else(|| "API".into()),
                scope,
                kind: "api",
                expires_at: expires_at.clone(),
            },
            &token,
            &p.user,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": id, "user": user, "token": token, "scope": scope, "expires_at": expires_at}),
        ),
    ))
}

/// `DELETE /api/v1/tokens/{id}`: revoke (own tokens, or as an admin).
pub async fn revoke_token(
    State(state): State<AppState>,
    Signed(p): Signed,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let t = state.catalog.token(id).await?;
    if t.user != p.user {
        let owner = state.catalog.user(&t.user).await?;
        if !may_manage_users(&p, owner.agency.as_deref()) {
            return Err(ApiError::not_found(format!("token {id}")));
        }
    } else if p.scope == Scope::Read {
        return Err(forbidden("a read-only token cannot revoke tokens"));
    }
    Ok(Json(json!(state.catalog.revoke_token(id, &p.user).await?)))
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
    if !p.is_platform_admin() {
        return Err(forbidden("the audit log is for platform admins"));
    }
    let format = q.format.as_deref().unwrap_or("json");
    match format {
        "json" => {
            let limit = q.limit.unwrap_or(500).clamp(1, 5000);
            let events = state.catalog.audit_events(limit, q.after).await?;
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
                let page = state.catalog.audit_events(5000, after).await?;
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
