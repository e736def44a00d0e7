//! Gongkai's application layer: every use case of publishing open data,
//! callable without HTTP.
//!
//! A [`Publisher`] holds the catalogue, the object store, the search index,
//! the working-day calendar and the upload admission gate, and runs the use
//! cases over them:
//!
//! | module | use cases |
//! |---|---|
//! | [`ingesting`] | upload a file and derive its draft (ingest, redaction, Parquet) |
//! | [`drafts`] | change a draft's redaction or columns (derived again from the raw upload) |
//! | [`releasing`] | publish now or when scheduled, run the scheduler |
//! | [`gate`] | the leak gate before release, the audit of what is served, refusing identifiers in typed metadata |
//! | [`search`] | keep the public search index in step with the catalogue |
//! | [`datasets`] | read, search, create and edit datasets; submit, approve, reject, publish, withdraw as a caller |
//! | [`accounts`] | sessions, agencies, users, tokens, deadlines, the audit log |
//! | [`gc`] | sweep orphaned objects and expired raw uploads |
//! | [`examples`] | load the example datasets into an empty catalogue |
//!
//! Rules live once: who may see and do what in [`policy`], object keys in
//! [`storage`], column edits in [`columns`], upload admission in
//! [`uploads`]. Answers are typed views ([`views`]) that the JSON API, the
//! pages, CKAN and the feeds all serialise or render. Errors carry their
//! [`gongkai_codes::Code`] ([`Error`]); nothing here knows HTTP.
#![warn(missing_docs)]

pub mod accounts;
pub mod columns;
pub mod datasets;
pub mod drafts;
mod error;
pub mod examples;
pub mod gate;
pub mod gc;
pub mod ingesting;
pub mod policy;
pub mod releasing;
pub mod search;
pub mod storage;
pub mod uploads;
pub mod views;

pub use error::{Error, LeakAt, Result, human_bytes};
pub use uploads::UploadSettings;

use gongkai_catalog::search::SearchIndex;
use gongkai_catalog::{Catalog, WorkCalendar};
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// What happens to a raw upload once its version is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawRetention {
    /// Deleted when the version is published (default: least personal data
    /// kept), and by the sweeper once the version can no longer be published
    /// (see [`gc`]).
    UntilPublished,
    /// Kept in the private prefix.
    Keep,
}

/// The settings the use cases run under.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory: uploads are spooled under `DATA_DIR/tmp`.
    pub data_dir: PathBuf,
    /// The object store's URL (the sweeper walks a `file://` store's
    /// directory for staging files its listing hides).
    pub store_url: String,
    /// Largest upload in bytes, whoever sends it.
    pub max_upload_bytes: u64,
    /// Upload sizes per role, uploads per user, ingests at once.
    pub uploads: UploadSettings,
    /// Raw upload retention.
    pub raw_retention: RawRetention,
    /// Days after which the raw upload of a version still in preparation is
    /// deleted by the sweeper (0: never by age).
    pub draft_raw_days: u32,
    /// How often scheduled publications are checked.
    pub scheduler_interval: Duration,
    /// The public base URL (for absolute links in schema.org descriptions).
    pub public_url: Option<String>,
    /// Lifetime of a web login session, in hours.
    pub session_hours: i64,
    /// Default lifetime of API tokens, in days (0: no expiry).
    pub token_days: i64,
}

/// The application: the stores and gates every use case runs over.
#[derive(Clone)]
pub struct Publisher {
    pub(crate) catalog: Catalog,
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) search: Arc<RwLock<SearchIndex>>,
    pub(crate) config: Arc<Config>,
    pub(crate) uploads: Arc<uploads::UploadGate>,
    pub(crate) calendar: Arc<WorkCalendar>,
}

impl Publisher {
    /// A publisher over an open catalogue and object store; clears spool
    /// files an interrupted process left behind.
    pub fn new(
        catalog: Catalog,
        store: Arc<dyn ObjectStore>,
        config: Config,
        calendar: WorkCalendar,
    ) -> Publisher {
        let stale = storage::clear_spool(&config.data_dir);
        if stale > 0 {
            tracing::info!(files = stale, "removed spool files of interrupted uploads");
        }
        let uploads = Arc::new(uploads::UploadGate::new(
            config.uploads.clone(),
            config.max_upload_bytes,
        ));
        Publisher {
            catalog,
            store,
            search: Arc::default(),
            config: Arc::new(config),
            uploads,
            calendar: Arc::new(calendar),
        }
    }

    /// The catalogue, for reads the use cases do not wrap.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The public search index.
    pub fn search_index(&self) -> &RwLock<SearchIndex> {
        &self.search
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The upload admission gate (its state is shown by `/healthz`).
    pub fn uploads(&self) -> &uploads::UploadGate {
        &self.uploads
    }

    /// The working-day calendar of disclosure deadlines.
    pub fn calendar(&self) -> &WorkCalendar {
        &self.calendar
    }
}
