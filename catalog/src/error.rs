use thiserror::Error;

/// Result alias for catalogue operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the catalogue.
#[derive(Debug, Error)]
pub enum Error {
    /// The requested object does not exist (or is not visible to the caller).
    #[error("{kind} not found: {key}")]
    NotFound {
        /// What was looked for ("dataset", "version", …).
        kind: &'static str,
        /// The key it was looked up by.
        key: String,
    },
    /// A unique name is already taken.
    #[error("{kind} already exists: {key}")]
    Conflict {
        /// What collided ("dataset", …).
        kind: &'static str,
        /// The colliding key.
        key: String,
    },
    /// Input that breaks a rule of the domain model.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// A state change that the workflow does not allow.
    #[error("{0}")]
    State(String),
    /// An edit was prepared against a revision that is no longer current
    /// (HTTP `If-Match` that no longer matches).
    #[error(
        "{kind} {key:?} has changed since you read it (now revision {current}); read it again \
         and reapply your change / 数据已被他人修改（当前版本号 {current}），请重新读取后再修改"
    )]
    Precondition {
        /// What was edited ("dataset").
        kind: &'static str,
        /// Its key.
        key: String,
        /// The revision it has now.
        current: i64,
    },
    /// The actor's role does not allow this particular change (checked
    /// against the row as it is when the change is written).
    #[error("{0}")]
    Forbidden(String),
    /// The catalogue URL is not one we can connect to.
    #[error("unsupported catalogue URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// The database failed.
    #[error("catalogue database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Running the schema migrations failed.
    #[error("catalogue migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored JSON document could not be decoded.
    #[error("corrupt catalogue record: {0}")]
    Corrupt(String),
}

impl Error {
    /// The code the error is reported with.
    pub fn code(&self) -> gongkai_codes::Code {
        use gongkai_codes::Code;
        match self {
            Error::NotFound { .. } => Code::NotFound,
            Error::Conflict { .. } => Code::AlreadyExists,
            Error::Invalid { .. } => Code::InvalidInput,
            Error::State(_) => Code::InvalidState,
            Error::Precondition { .. } => Code::PreconditionFailed,
            Error::Forbidden(_) => Code::Forbidden,
            Error::UnsupportedUrl(_)
            | Error::Database(_)
            | Error::Migrate(_)
            | Error::Corrupt(_) => Code::InternalError,
        }
    }

    pub(crate) fn not_found(kind: &'static str, key: impl ToString) -> Self {
        Error::NotFound {
            kind,
            key: key.to_string(),
        }
    }
}
