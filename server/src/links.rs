//! Absolute links: the public base URL every feed, sitemap and page link
//! starts with.

use crate::error::Code;
use crate::{ApiError, AppState};
use axum::http::{HeaderMap, header};

/// The public base URL: `public_url` from the settings, else `http://{Host}`.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(u) = state
        .settings
        .public_url
        .as_deref()
        .filter(|u| !u.is_empty())
    {
        return Ok(u.trim_end_matches('/').to_string());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .unwrap_or(state.settings.listen.as_str());
    let valid = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
    if !valid {
        return Err(ApiError::new(
            Code::InvalidHost,
            "the Host header is not a valid host name; set public_url in the settings",
        ));
    }
    Ok(format!("http://{host}"))
}
