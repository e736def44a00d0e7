use datafusion::error::DataFusionError;
use thiserror::Error;

/// Result alias for the query service.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a query failed. User errors and limits are separate from internal faults.
#[derive(Debug, Error)]
pub enum Error {
    /// The SQL does not parse.
    #[error("SQL syntax error: {0}")]
    Syntax(String),
    /// The SQL parses but cannot be planned (unknown table or column, bad types…).
    #[error("{0}")]
    Plan(String),
    /// The statement is not a read-only query.
    #[error("only read-only queries are allowed: {0}")]
    NotAllowed(String),
    /// The query ran longer than the limit.
    #[error("the query ran longer than {seconds} s and was cancelled")]
    Timeout {
        /// The limit in seconds.
        seconds: u64,
    },
    /// The query needed more memory than the limit.
    #[error("the query needed more memory than the per-query limit: {0}")]
    Memory(String),
    /// Too many queries are running.
    #[error("too many queries are running; try again shortly")]
    Busy,
    /// Failed while running (e.g. a cast that fails on some row).
    #[error("query failed while running: {0}")]
    Execution(String),
    /// A fault on our side (storage, bug).
    #[error("internal query error: {0}")]
    Internal(String),
}

impl Error {
    /// Stable snake_case code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Syntax(_) => "sql_syntax_error",
            Error::Plan(_) => "sql_error",
            Error::NotAllowed(_) => "statement_not_allowed",
            Error::Timeout { .. } => "query_timeout",
            Error::Memory(_) => "query_memory_limit",
            Error::Busy => "too_many_queries",
            Error::Execution(_) => "query_execution_error",
            Error::Internal(_) => "internal_error",
        }
    }
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        match e.find_root() {
            DataFusionError::SQL(inner, _) => Error::Syntax(inner.to_string()),
            DataFusionError::Plan(m) => {
                if m.contains("not supported")
                    && (m.contains("DDL") || m.contains("DML") || m.contains("Statement"))
                {
                    Error::NotAllowed(m.clone())
                } else {
                    Error::Plan(m.clone())
                }
            }
            DataFusionError::SchemaError(inner, _) => Error::Plan(inner.to_string()),
            DataFusionError::ResourcesExhausted(m) => Error::Memory(m.clone()),
            DataFusionError::NotImplemented(m) => Error::Plan(format!("not supported: {m}")),
            DataFusionError::ArrowError(inner, _) => Error::Execution(inner.to_string()),
            DataFusionError::Execution(m) => Error::Execution(m.clone()),
            DataFusionError::ObjectStore(inner) => Error::Internal(inner.to_string()),
            DataFusionError::IoError(inner) => Error::Internal(inner.to_string()),
            other => Error::Internal(other.to_string()),
        }
    }
}
