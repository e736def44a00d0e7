//! Who is calling: bearer tokens (the API), the session cookie's name (set
//! by both the API's and the pages' login), and the client's address.

use crate::error::Code;
use crate::{ApiError, AppState};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use gongkai_catalog::Principal;

/// Name of the session cookie (set by both the API and the web login).
pub const SESSION_COOKIE: &str = "gongkai_session";

/// Where a request came from: the address the rate limiter counted
/// (honouring `trust_forwarded_for`), for throttling and the audit log.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let addr = match parts.extensions.get::<crate::ratelimit::ClientIp>() {
            Some(ip) => ip.0.to_string(),
            None => parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        };
        Ok(ClientAddr(addr))
    }
}

/// The caller, if a valid token was presented. A presented but invalid token
/// is an error (401), never silently anonymous.
pub struct Caller(pub Option<Principal>);

/// A caller that must be signed in.
pub struct Signed(pub Principal);

fn bearer(parts: &Parts) -> Result<Option<String>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not valid text"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_string()))
        }
        _ => Err(unauthorized("use 'Authorization: Bearer <token>'")),
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(Code::Unauthorized, message)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = bearer(parts)? else {
            return Ok(Caller(None));
        };
        match state.publisher.catalog().authenticate(&token).await? {
            Some(p) => Ok(Caller(Some(p))),
            None => Err(unauthorized("the token is unknown, revoked or expired")),
        }
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller(Some(p)) => Ok(Signed(p)),
            Caller(None) => Err(unauthorized(
                "this endpoint needs 'Authorization: Bearer <token>'",
            )),
        }
    }
}

/// 403 with a message.
pub fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::Forbidden, message)
}

/// The raw bearer token of a request, if any (for logout).
pub fn presented_token(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Expiry for a new API token: `days` from now (at most ten years), or
/// `default_days` when not given (0: never). Zero or negative `days` are
/// refused (422 `invalid_input`), never read as "no expiry".
pub fn token_expiry(days: Option<i64>, default_days: i64) -> Result<Option<String>, ApiError> {
    Ok(gongkai_catalog::token_expiry(days, default_days)?)
}
