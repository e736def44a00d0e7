//! What can go wrong in a use case, each with its [`Code`]; the HTTP edge
//! serves `code.status()` and [`Error::details`].

use gongkai_catalog::Role;
use gongkai_codes::Code;
use serde::Serialize;

/// Result alias of the application layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One identifier the leak gate found, and where.
#[derive(Debug, Clone, Serialize)]
pub struct LeakAt {
    /// `cell`, `split_cells`, `field_name`, `metadata`.
    pub part: &'static str,
    /// Column, for data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// 1-based row, for cells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    /// The text's place, for metadata (`title`, `column xing_ming` …).
    #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// Kind found.
    pub kind: gongkai_ingest::privacy::PiiKind,
}

/// Everything a use case can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The catalogue refused or failed.
    #[error(transparent)]
    Catalog(#[from] gongkai_catalog::Error),
    /// Ingest refused the file.
    #[error(transparent)]
    Ingest(#[from] gongkai_ingest::Error),
    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// Something that does not exist, or that the caller may not see.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, as the message names it.
        what: String,
    },
    /// A dataset that does not exist or that the caller may not see (one
    /// answer for both, see [`crate::policy::dataset_not_found`]).
    #[error("dataset {slug:?} not found / 未找到数据集")]
    DatasetNotFound {
        /// The slug asked for.
        slug: String,
    },
    /// The caller's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The workflow does not allow this in the current state.
    #[error("{0}")]
    InvalidState(String),
    /// A withdrawn dataset serves no data.
    #[error("dataset {slug:?} has been withdrawn and serves no data / 该数据集已撤回{}", reason.as_deref().map(|r| format!("：{r}")).unwrap_or_default())]
    Withdrawn {
        /// Dataset slug.
        slug: String,
        /// Why.
        reason: Option<String>,
    },
    /// 依申请公开: listed, data given on request only.
    #[error("dataset {slug:?} is 依申请公开: its data is given on request; apply to {} / 请向发布机关提出政府信息公开申请", agency.as_deref().unwrap_or("the publishing agency"))]
    OnRequest {
        /// Dataset slug.
        slug: String,
        /// The agency to apply to.
        agency: Option<String>,
    },
    /// The upload's body ended early.
    #[error("the upload was interrupted: {0}")]
    UploadInterrupted(String),
    /// An upload larger than the sender's role may send.
    #[error(
        "{file}: larger than the upload limit of {} for your role ({limit} bytes) / 文件超过您角色的上传上限",
        human_bytes(*limit)
    )]
    FileTooLarge {
        /// File name.
        file: String,
        /// The role's limit in bytes.
        limit: u64,
        /// The sender's role.
        role: Role,
    },
    /// An empty upload.
    #[error("{file}: the file is empty")]
    EmptyFile {
        /// File name.
        file: String,
    },
    /// The user has the most uploads in flight already.
    #[error(
        "you already have {in_flight} upload(s) in progress (at most {limit} at once); wait for one to finish / 您已有 {in_flight} 个上传正在处理，请等待完成后再上传"
    )]
    TooManyUploads {
        /// Uploads in flight.
        in_flight: usize,
        /// The most at once.
        limit: usize,
    },
    /// Every ingest slot stayed busy for the whole wait.
    #[error(
        "all {slots} ingest slots stayed busy for {waited_secs} s; the upload was not kept, send it again later / 处理队列繁忙，本次上传未保存，请稍后重试"
    )]
    IngestBusy {
        /// Ingest slots.
        slots: usize,
        /// Seconds waited.
        waited_secs: u64,
    },
    /// Personal information would be published; nothing was.
    #[error("{message}")]
    LeakDetected {
        /// What was found, where, in one sentence.
        message: String,
        /// The first findings.
        leaks: Vec<LeakAt>,
    },
    /// A column a version does not have.
    #[error("version {version} of {dataset} has no column {column:?}")]
    UnknownColumn {
        /// Dataset slug.
        dataset: String,
        /// Version number.
        version: i64,
        /// Column asked for.
        column: String,
    },
    /// Keeping raw what may never be kept raw.
    #[error(
        "column {column:?} holds {kind}: it can never be published raw / 该类个人信息不得原样公开"
    )]
    NeverPublic {
        /// Column.
        column: String,
        /// Kind of personal information.
        kind: &'static str,
    },
    /// A redaction action that does not fit the column.
    #[error("{action} does not apply to column {column:?} ({kind})")]
    ActionNotApplicable {
        /// Column.
        column: String,
        /// Action asked for.
        action: &'static str,
        /// Kind of personal information, or `no personal data`.
        kind: &'static str,
    },
    /// Hiding less than the default without a legal basis.
    #[error("keeping more of {column:?} than the default needs \"legal_basis\"")]
    LegalBasisRequired {
        /// Column.
        column: String,
    },
    /// A time that is not RFC 3339.
    #[error("{0}")]
    InvalidTime(String),
    /// A value that breaks a rule (named in the message).
    #[error("{0}")]
    InvalidInput(String),
    /// Wrong user name or password.
    #[error("用户名或密码错误 / wrong user name or password")]
    LoginFailed,
    /// A column type Gongkai does not publish.
    #[error("{0}")]
    InvalidType(String),
    /// A column name that is not ASCII snake_case.
    #[error(
        "{0:?} is not a valid column name: use lower-case ASCII letters, digits and _, starting with a letter or _, at most 63 characters"
    )]
    InvalidName(String),
    /// Two columns would have the same name.
    #[error("two columns would be called {0:?}")]
    DuplicateName(String),
    /// Values that do not fit a new column type.
    #[error("{message}")]
    CannotRetype {
        /// Which column, which type, how many values, first row.
        message: String,
        /// Column.
        column: String,
        /// Type asked for.
        to_type: String,
        /// Values that do not fit.
        failures: usize,
        /// The first of them, with their rows.
        examples: Vec<serde_json::Value>,
    },
    /// An internal failure (logged; the caller is told nothing internal).
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The code the error is reported with.
    pub fn code(&self) -> Code {
        match self {
            Error::Catalog(e) => e.code(),
            Error::Ingest(e) => e.code(),
            Error::Store(object_store::Error::NotFound { .. }) => Code::NotFound,
            Error::Store(_) | Error::Internal(_) => Code::InternalError,
            Error::NotFound { .. } | Error::DatasetNotFound { .. } => Code::NotFound,
            Error::Forbidden(_) => Code::Forbidden,
            Error::InvalidState(_) => Code::InvalidState,
            Error::Withdrawn { .. } => Code::Withdrawn,
            Error::OnRequest { .. } => Code::DataOnRequest,
            Error::UploadInterrupted(_) => Code::UploadInterrupted,
            Error::FileTooLarge { .. } => Code::FileTooLarge,
            Error::EmptyFile { .. } => Code::EmptyFile,
            Error::TooManyUploads { .. } => Code::TooManyUploads,
            Error::IngestBusy { .. } => Code::IngestBusy,
            Error::LeakDetected { .. } => Code::LeakDetected,
            Error::UnknownColumn { .. } => Code::UnknownColumn,
            Error::NeverPublic { .. } => Code::NeverPublic,
            Error::ActionNotApplicable { .. } => Code::ActionNotApplicable,
            Error::LegalBasisRequired { .. } => Code::LegalBasisRequired,
            Error::InvalidTime(_) => Code::InvalidTime,
            Error::InvalidInput(_) => Code::InvalidInput,
            Error::LoginFailed => Code::LoginFailed,
            Error::InvalidType(_) => Code::InvalidType,
            Error::InvalidName(_) => Code::InvalidName,
            Error::DuplicateName(_) => Code::DuplicateName,
            Error::CannotRetype { .. } => Code::CannotRetype,
        }
    }

    /// Structured details for the answer, where there are any.
    pub fn details(&self) -> Option<serde_json::Value> {
        use serde_json::json;
        match self {
            Error::Ingest(e) => Some(e.details()),
            Error::FileTooLarge { limit, role, .. } => {
                Some(json!({"limit_bytes": limit, "role": role}))
            }
            Error::TooManyUploads { limit, .. } => {
                Some(json!({"retry_after_secs": 5, "limit": limit}))
            }
            Error::IngestBusy { .. } => Some(json!({"retry_after_secs": 30})),
            Error::LeakDetected { leaks, .. } => Some(json!({"leaks": leaks})),
            Error::CannotRetype {
                column,
                to_type,
                failures,
                examples,
                ..
            } => Some(
                json!({"column": column, "type": to_type, "failures": failures, "examples": examples}),
            ),
            _ => None,
        }
    }

    /// An internal failure with its cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Error::Internal(cause.to_string())
    }

    /// [`Error::NotFound`] naming `what`.
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Error::NotFound {
            what: what.to_string(),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::internal(e)
    }
}

/// `256 MiB`, `1 GiB`, `1500 bytes`.
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}
