//! The one error type of the HTTP edge: every crate's error maps here, once.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error as the API reports it: `{"error": {"code", "message", "details"}}`.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code.
    pub code: &'static str,
    /// Human message naming the problem.
    pub message: String,
    /// Extra structured details.
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 404 for something that does not exist or that the caller may not see.
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 400 for a malformed request.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 500 that logs the cause and tells the client nothing internal.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; it has been logged",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
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
        let mut response = (self.status, Json(body)).into_response();
        if matches!(
            self.status,
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
        use gongkai_catalog::Error as E;
        match &e {
            E::NotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            E::Conflict { .. } => {
                ApiError::new(StatusCode::CONFLICT, "already_exists", e.to_string())
            }
            E::Invalid { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                e.to_string(),
            ),
            E::State(_) => ApiError::new(StatusCode::CONFLICT, "invalid_state", e.to_string()),
            E::Precondition { current, .. } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                e.to_string(),
            )
            .with_details(json!({"revision": current})),
            E::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string()),
            _ => ApiError::internal(e),
        }
    }
}

impl From<gongkai_ingest::Error> for ApiError {
    fn from(e: gongkai_ingest::Error) -> Self {
        use gongkai_ingest::Error as E;
        let (status, code) = match &e {
            E::UnsupportedFormat { .. } => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_file"),
            E::Encoding { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "undecodable_file"),
            E::Csv { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "malformed_csv"),
            E::Workbook { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "unreadable_workbook"),
            E::NoTable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "no_table_found"),
            E::NoSuchSheet { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "no_such_sheet"),
            E::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "table_too_large"),
            E::WorkbookTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "workbook_too_large"),
            E::TooManyColumns { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_many_columns"),
            E::CellTooLong { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "cell_too_long"),
            E::ZipBomb { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "zip_bomb"),
            E::XmlEntities { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "xml_entities"),
            E::Arrow(_) | E::Parquet(_) | E::Io { .. } => return ApiError::internal(e),
        };
        ApiError::new(status, code, e.to_string()).with_details(e.details())
    }
}

impl From<gongkai_query::Error> for ApiError {
    fn from(e: gongkai_query::Error) -> Self {
        use gongkai_query::Error as E;
        let status = match &e {
            E::Syntax { .. } | E::Plan { .. } | E::Execution(_) | E::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            E::NotAllowed(_) => StatusCode::FORBIDDEN,
            E::Timeout { .. } | E::Memory(_) => StatusCode::UNPROCESSABLE_ENTITY,
            E::Busy => StatusCode::TOO_MANY_REQUESTS,
            E::Internal(_) => return ApiError::internal(e),
        };
        let error = ApiError::new(status, e.code(), e.to_string());
        match e.position() {
            Some(p) => error.with_details(json!({"line": p.line, "column": p.column})),
            None => error,
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
        ApiError::new(e.status(), "invalid_json", e.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::new(e.status(), "invalid_query_string", e.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        ApiError::new(e.status(), "invalid_path", e.body_text())
    }
}
