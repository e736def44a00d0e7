//! The one error type of the HTTP edge: every crate's error maps here, once,
//! through its [`Code`] (the registry in `gongkai-codes` says each code's
//! status).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
pub use gongkai_codes::Code;
use serde_json::json;

/// An error as the API reports it: `{"error": {"code", "message", "details"}}`.
#[derive(Debug)]
pub struct ApiError {
    /// Stable code; its HTTP status comes from the registry.
    pub code: Code,
    /// Human message naming the problem.
    pub message: String,
    /// Extra structured details.
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    /// A new error.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// The HTTP status of the error's code.
    pub fn status(&self) -> StatusCode {
        status_of(self.code)
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 404 for something that does not exist or that the caller may not see.
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        ApiError::new(Code::NotFound, format!("{what} not found"))
    }

    /// 500 that logs the cause and tells the client nothing internal.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(Code::InternalError, "internal error; it has been logged")
    }
}

/// The HTTP status a code is served with.
pub fn status_of(code: Code) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status(), self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // 429 and 503: `Retry-After` from `details.retry_after_secs` when known, else 1 s.
        let retry_after = self
            .details
            .as_ref()
            .and_then(|d| d["retry_after_secs"].as_u64())
            .unwrap_or(1);
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let Some(d) = self.details {
            body["error"]["details"] = d;
        }
        let mut response = (status, Json(body)).into_response();
        if matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after),
            );
        }
        response
    }
}

impl From<gongkai_catalog::Error> for ApiError {
    fn from(e: gongkai_catalog::Error) -> Self {
        match e.code() {
            Code::InternalError => ApiError::internal(e),
            code => ApiError::new(code, e.to_string()),
        }
    }
}

impl From<gongkai_ingest::Error> for ApiError {
    fn from(e: gongkai_ingest::Error) -> Self {
        match e.code() {
            Code::InternalError => ApiError::internal(e),
            code => ApiError::new(code, e.to_string()).with_details(e.details()),
        }
    }
}

impl From<gongkai_query::Error> for ApiError {
    fn from(e: gongkai_query::Error) -> Self {
        let error = match e.code() {
            Code::InternalError => return ApiError::internal(e),
            code => ApiError::new(code, e.to_string()),
        };
        match e.position() {
            Some(p) => error.with_details(json!({"line": p.line, "column": p.column})),
            None => error,
        }
    }
}

impl From<gongkai_publish::Error> for ApiError {
    fn from(e: gongkai_publish::Error) -> Self {
        match e.code() {
            Code::InternalError => ApiError::internal(e),
            code => {
                let error = ApiError::new(code, e.to_string());
                match e.details() {
                    Some(d) => error.with_details(d),
                    None => error,
                }
            }
        }
    }
}

impl From<object_store::Error> for ApiError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => ApiError::not_found("stored object"),
            other => ApiError::internal(other),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection as J;
        match e {
            // JSON that parses but does not fit the operation (a field
            // missing, of the wrong type, unknown): like any invalid value.
            J::JsonDataError(_) => ApiError::new(Code::InvalidInput, e.body_text()),
            _ => ApiError::new(Code::InvalidJson, e.body_text()),
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::new(Code::InvalidQueryString, e.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        ApiError::new(Code::InvalidPath, e.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_valid_status() {
        for &code in Code::ALL {
            assert_eq!(status_of(code).as_u16(), code.status(), "{code}");
        }
    }
}
