use datafusion::error::DataFusionError;
use thiserror::Error;

/// Result alias for the query service.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a query failed. User errors and limits are separate from internal faults.
#[derive(Debug, Error)]
pub enum Error {
    /// The SQL does not parse.
    #[error("SQL syntax error: {message}")]
    Syntax {
        /// What the parser expected.
        message: String,
        /// Where in the SQL text, when the parser says.
        position: Option<Position>,
    },
    /// The SQL parses but cannot be planned (unknown table or column, bad types…).
    #[error("{message}")]
    Plan {
        /// What is wrong.
        message: String,
        /// Where in the SQL text, when the planner says.
        position: Option<Position>,
    },
    /// A row-API request is malformed (unknown column, bad filter or cursor).
    #[error("{0}")]
    BadRequest(String),
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

/// A place in the SQL text (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

impl Error {
    /// A planning error without a known position.
    pub fn plan(message: impl Into<String>) -> Self {
        Error::Plan {
            message: message.into(),
            position: None,
        }
    }

    /// Where in the SQL the error is, when known.
    pub fn position(&self) -> Option<Position> {
        match self {
            Error::Syntax { position, .. } | Error::Plan { position, .. } => *position,
            _ => None,
        }
    }

    /// Stable snake_case code for API errors.
    pub fn code(&self) -> gongkai_codes::Code {
        use gongkai_codes::Code;
        match self {
            Error::Syntax { .. } => Code::SqlSyntaxError,
            Error::Plan { .. } => Code::SqlError,
            Error::BadRequest(_) => Code::InvalidRowQuery,
            Error::NotAllowed(_) => Code::StatementNotAllowed,
            Error::Timeout { .. } => Code::QueryTimeout,
            Error::Memory(_) => Code::QueryMemoryLimit,
            Error::Busy => Code::TooManyQueries,
            Error::Execution(_) => Code::QueryExecutionError,
            Error::Internal(_) => Code::InternalError,
        }
    }
}

/// Reads "… at Line: 3, Column: 14" as the SQL parser words it.
fn position_in_message(message: &str) -> Option<Position> {
    let at = message.rfind("Line: ")?;
    let rest = &message[at + "Line: ".len()..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(Position {
        line: line.trim().parse().ok()?,
        column: column.parse().ok()?,
    })
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        let spanned = e
            .diagnostic()
            .and_then(|d| d.span)
            .filter(|s| s.start.line > 0)
            .map(|s| Position {
                line: s.start.line,
                column: s.start.column,
            });
        match e.find_root() {
            DataFusionError::SQL(inner, _) => {
                let message = inner.to_string();
                let position = spanned.or_else(|| position_in_message(&message));
                Error::Syntax { message, position }
            }
            DataFusionError::Plan(m) => {
                if m.contains("not supported")
                    && (m.contains("DDL") || m.contains("DML") || m.contains("Statement"))
                {
                    Error::NotAllowed(m.clone())
                } else {
                    Error::Plan {
                        message: m.clone(),
                        position: spanned.or_else(|| position_in_message(m)),
                    }
                }
            }
            DataFusionError::SchemaError(inner, _) => Error::Plan {
                message: inner.to_string(),
                position: spanned,
            },
            DataFusionError::ResourcesExhausted(m) => Error::Memory(m.clone()),
            DataFusionError::NotImplemented(m) => Error::Plan {
                message: format!("not supported: {m}"),
                position: spanned,
            },
            DataFusionError::ArrowError(inner, _) => Error::Execution(inner.to_string()),
            DataFusionError::Execution(m) => Error::Execution(m.clone()),
            DataFusionError::ObjectStore(inner) => Error::Internal(inner.to_string()),
            DataFusionError::IoError(inner) => Error::Internal(inner.to_string()),
            other => Error::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parser_position() {
        let p = position_in_message("Expected: an expression, found: FROM at Line: 2, Column: 8");
        assert_eq!(p, Some(Position { line: 2, column: 8 }));
        assert_eq!(position_in_message("no place given"), None);
    }
}
