//! Every error code Gongkai answers with, once: its stable snake_case name,
//! the HTTP status it is served with, and what it means.
//!
//! Each crate's error says its [`Code`] (`gongkai_catalog::Error::code`,
//! `gongkai_ingest::Error::code`, …); the HTTP edge serves
//! `{"error": {"code": code.name(), …}}` with `code.status()`, and
//! `/openapi.json` and the README list this table. A code is never renamed:
//! clients branch on it.
#![warn(missing_docs)]

use serde::{Serialize, Serializer};

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident $name:literal $status:literal $what:literal;)+) => {
        /// An error code: see the table in the crate documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[$doc])* #[doc = $what] $variant,)+
        }

        impl Code {
            /// Every code, in the table's order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            /// The stable snake_case name clients see.
            pub const fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)+ }
            }

            /// The HTTP status it is served with.
            pub const fn status(self) -> u16 {
                match self { $(Code::$variant => $status,)+ }
            }

            /// What it means, in one line.
            pub const fn meaning(self) -> &'static str {
                match self { $(Code::$variant => $what,)+ }
            }
        }
    };
}

codes! {
    // Requests
    InvalidJson "invalid_json" 400 "The body is not JSON (or not sent as application/json).";
    InvalidQueryString "invalid_query_string" 400 "A query-string parameter is malformed.";
    InvalidPath "invalid_path" 400 "A path segment is malformed.";
    InvalidForm "invalid_form" 400 "A web form is incomplete or malformed.";
    InvalidMultipart "invalid_multipart" 400 "A multipart body cannot be read.";
    InvalidSort "invalid_sort" 400 "An unknown sort order.";
    InvalidTime "invalid_time" 400 "A time is not RFC 3339 or lies in the past.";
    InvalidHost "invalid_host" 400 "The Host header cannot make absolute URLs.";
    UnsupportedFormat "unsupported_format" 400 "An output format that the operation does not offer.";
    MissingFile "missing_file" 400 "A multipart upload without a file field.";
    MissingFilename "missing_filename" 400 "A raw upload without ?filename=.";
    MissingSql "missing_sql" 400 "A SQL request without SQL.";
    UploadInterrupted "upload_interrupted" 400 "The upload's body ended early; nothing was kept.";
    InvalidInput "invalid_input" 422 "A value is missing or breaks a rule of the domain (named in the message).";
    // Who may do what
    Unauthorized "unauthorized" 401 "No valid credential was presented.";
    LoginFailed "login_failed" 401 "Wrong user name or password.";
    Forbidden "forbidden" 403 "The caller's role does not allow this.";
    NotFound "not_found" 404 "No such thing, or not visible to the caller.";
    // Workflow and data
    AlreadyExists "already_exists" 409 "A unique name is taken.";
    InvalidState "invalid_state" 409 "The workflow does not allow this in the current state.";
    PreconditionFailed "precondition_failed" 412 "If-Match no longer matches: read again and reapply.";
    DataOnRequest "data_on_request" 403 "依申请公开: listed, but data is given on request only.";
    Withdrawn "withdrawn" 410 "The dataset was withdrawn; the reason is in the message.";
    LeakDetected "leak_detected" 422 "Personal information would be published; nothing was.";
    NeverPublic "never_public" 422 "This kind of personal information can never be kept raw.";
    LegalBasisRequired "legal_basis_required" 422 "Hiding less than the default needs a legal basis.";
    ActionNotApplicable "action_not_applicable" 422 "The redaction action does not fit the column.";
    UnknownColumn "unknown_column" 422 "The version has no such column.";
    InvalidType "invalid_type" 422 "A column type that Gongkai does not publish.";
    CannotRetype "cannot_retype" 422 "Some values do not fit the new type (rows listed).";
    InvalidName "invalid_name" 422 "A column name that is not ASCII snake_case.";
    DuplicateName "duplicate_name" 422 "Two columns would have the same name.";
    TooManyRowsForXlsx "too_many_rows_for_xlsx" 422 "More rows than one XLSX sheet holds.";
    // Uploaded files
    EmptyFile "empty_file" 422 "The uploaded file is empty.";
    FileTooLarge "file_too_large" 413 "Larger than the upload limit of the uploader's role.";
    UnsupportedFile "unsupported_file" 415 "Not a file type Gongkai reads, or not what its name says.";
    UndecodableFile "undecodable_file" 422 "The text's encoding cannot be read.";
    MalformedCsv "malformed_csv" 422 "The delimited text is malformed (line named).";
    UnreadableWorkbook "unreadable_workbook" 422 "The workbook cannot be read.";
    NoTableFound "no_table_found" 422 "No table was found in the file.";
    NoSuchSheet "no_such_sheet" 422 "The workbook has no sheet of that name.";
    TableTooLarge "table_too_large" 413 "The table exceeds ingest's memory bounds.";
    WorkbookTooLarge "workbook_too_large" 413 "The workbook exceeds ingest's bounds.";
    TooManyColumns "too_many_columns" 413 "More columns than ingest reads.";
    CellTooLong "cell_too_long" 413 "A cell longer than ingest reads.";
    ZipBomb "zip_bomb" 422 "The archive inflates far beyond its size.";
    XmlEntities "xml_entities" 422 "The workbook's XML declares entities.";
    // SQL and rows
    SqlSyntaxError "sql_syntax_error" 400 "The SQL does not parse (line and column given).";
    SqlError "sql_error" 400 "The SQL cannot be planned (unknown table or column …).";
    QueryExecutionError "query_execution_error" 400 "The query failed while running.";
    InvalidRowQuery "invalid_row_query" 400 "A row-API filter, sort or page is malformed.";
    StatementNotAllowed "statement_not_allowed" 403 "Only reading statements are allowed.";
    SqlTooLong "sql_too_long" 413 "The SQL text is longer than allowed.";
    QueryTimeout "query_timeout" 422 "The query ran longer than the timeout.";
    QueryMemoryLimit "query_memory_limit" 422 "The query needed more memory than its budget.";
    // Capacity
    RateLimited "rate_limited" 429 "Over the request quota; retry after Retry-After.";
    TooManyQueries "too_many_queries" 429 "All query slots are busy; retry after Retry-After.";
    TooManyUploads "too_many_uploads" 429 "The user has the most uploads in flight already.";
    IngestBusy "ingest_busy" 503 "Every ingest slot stayed busy; retry after Retry-After.";
    InternalError "internal_error" 500 "An internal error; it has been logged.";
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_statuses_are_errors() {
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.name()).collect();
        for n in &names {
            assert!(
                n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{n}"
            );
        }
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "a name appears twice");
        for c in Code::ALL {
            assert!((400..600).contains(&c.status()), "{c}");
            assert!(!c.meaning().is_empty());
        }
    }
}

#[cfg(test)]
mod documented {
    use super::Code;

    #[test]
    fn the_readme_lists_every_code_with_its_status() {
        let readme = include_str!("../../README.md");
        for c in Code::ALL {
            let row = format!("| `{}` | {} |", c.name(), c.status());
            assert!(readme.contains(&row), "README lacks the row {row}");
        }
    }
}
