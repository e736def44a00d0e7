//! One typed settings struct: defaults < config file < `GONGKAI_*` environment < CLI flags.
//!
//! The environment and flags are read by clap in `main.rs` (each flag names its
//! `GONGKAI_*` variable); this module merges them over the file and defaults.

use gongkai_publish::{RawRetention, UploadSettings};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A secret string that never prints itself.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// Query limits (see `gongkai_query::Limits`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct QuerySettings {
    /// Most rows one query returns.
    pub max_rows: usize,
    /// Seconds a query may run.
    pub timeout_secs: u64,
    /// MiB of memory one query may hold.
    pub memory_mb: usize,
    /// MiB all running queries together may hold.
    pub memory_total_mb: usize,
    /// Queries running at once.
    pub max_concurrent: usize,
    /// Seconds a query waits for a free slot before 429.
    pub queue_secs: u64,
}

impl Default for QuerySettings {
    fn default() -> Self {
        QuerySettings {
            max_rows: 1_000_000,
            timeout_secs: 30,
            memory_mb: 512,
            memory_total_mb: 2048,
            max_concurrent: 8,
            queue_secs: 5,
        }
    }
}

/// Per-client request quotas and login throttling (see `crate::ratelimit`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    /// Request quotas on (`false`: no request is ever refused for its rate;
    /// login throttling has its own switch, `login_per_minute = 0`).
    pub enabled: bool,
    /// Requests per minute of an anonymous client (per IP address, per /64 for IPv6).
    pub anonymous_per_minute: u32,
    /// Requests an anonymous client may make at once (its bucket size).
    pub burst: u32,
    /// Requests per minute of a client with an API token or a web session.
    pub token_per_minute: u32,
    /// Requests a token or session client may make at once.
    pub token_burst: u32,
    /// Failed logins per minute per client address and per user name (0: off).
    pub login_per_minute: u32,
    /// Count requests against the address a reverse proxy appended to
    /// `X-Forwarded-For` (its last entry) instead of the peer address.
    pub trust_forwarded_for: bool,
    /// Most clients tracked at once (bounds the limiter's memory).
    pub max_clients: usize,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            enabled: true,
            anonymous_per_minute: 600,
            burst: 100,
            token_per_minute: 3000,
            token_burst: 500,
            login_per_minute: 10,
            trust_forwarded_for: false,
            max_clients: 100_000,
        }
    }
}

/// All settings of a Gongkai process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Directory for the embedded catalogue and file store.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: String,
    /// Catalogue URL; default `sqlite://DATA_DIR/catalog.db`.
    pub catalog: Option<String>,
    /// Object store URL; default `file://DATA_DIR/store`.
    pub store: Option<String>,
    /// Bootstrap admin token (else one is generated and printed once).
    pub admin_token: Option<Secret>,
    /// Largest accepted upload in bytes, whoever sends it (the request body limit).
    pub max_upload_bytes: u64,
    /// Upload sizes per role, uploads per user and ingests at once.
    pub uploads: UploadSettings,
    /// Load `examples/` into an empty catalogue at start.
    pub load_examples: bool,
    /// Raw upload retention.
    pub raw_retention: RawRetention,
    /// With `raw_retention = "until_published"`: days after which the raw
    /// upload of a version still in preparation (draft or rejected) is
    /// deleted by the sweeper (0: never by age).
    pub draft_raw_days: u32,
    /// Public base URL used in links (default: derived from the request).
    pub public_url: Option<String>,
    /// Query limits.
    pub query: QuerySettings,
    /// Request quotas and login throttling.
    pub rate_limit: RateLimitSettings,
    /// Working-day calendar file (TOML `holidays`/`workdays` lists); default: built-in China 2025–2026.
    pub calendar_file: Option<PathBuf>,
    /// How often scheduled publications are checked, in seconds.
    pub scheduler_interval_secs: u64,
    /// Lifetime of a web login session, in hours.
    pub session_hours: i64,
    /// Default lifetime of API tokens, in days (0: no expiry).
    pub token_days: i64,
    /// Seconds a client has to send a request's head (slow-header clients are cut off).
    pub header_timeout_secs: u64,
    /// Seconds a request body may stall between two pieces before it is abandoned.
    pub body_idle_timeout_secs: u64,
    /// Seconds a shutdown waits for requests in flight before closing them.
    pub shutdown_grace_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("gongkai-data"),
            listen: "127.0.0.1:8080".into(),
            catalog: None,
            store: None,
            admin_token: None,
            max_upload_bytes: 1 << 30,
            uploads: UploadSettings::default(),
            load_examples: true,
            raw_retention: RawRetention::UntilPublished,
            draft_raw_days: 90,
            public_url: None,
            query: QuerySettings::default(),
            rate_limit: RateLimitSettings::default(),
            calendar_file: None,
            scheduler_interval_secs: 30,
            session_hours: 12,
            token_days: 365,
            header_timeout_secs: 20,
            body_idle_timeout_secs: 60,
            shutdown_grace_secs: 120,
        }
    }
}

/// Values given on the command line or in `GONGKAI_*` variables; `None` = not given.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--config` / `GONGKAI_CONFIG`.
    pub config: Option<PathBuf>,
    /// `--data-dir` / `GONGKAI_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--listen` / `GONGKAI_LISTEN`.
    pub listen: Option<String>,
    /// `--catalog` / `GONGKAI_CATALOG`.
    pub catalog: Option<String>,
    /// `--store` / `GONGKAI_STORE`.
    pub store: Option<String>,
    /// `--admin-token` / `GONGKAI_ADMIN_TOKEN`.
    pub admin_token: Option<String>,
    /// `--max-upload-bytes` / `GONGKAI_MAX_UPLOAD_BYTES`.
    pub max_upload_bytes: Option<u64>,
    /// `--no-examples` / `GONGKAI_NO_EXAMPLES`.
    pub no_examples: bool,
    /// `--scheduler-interval-secs` / `GONGKAI_SCHEDULER_INTERVAL_SECS`.
    pub scheduler_interval_secs: Option<u64>,
}

/// Settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for these settings.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// File.
        path: PathBuf,
        /// Cause.
        source: toml::de::Error,
    },
}

impl Settings {
    /// Merges defaults, the config file (explicit, or `DATA_DIR/gongkai.toml` if
    /// present) and the overrides.
    pub fn load(o: &Overrides) -> Result<Settings, SettingsError> {
        let data_dir = o
            .data_dir
            .clone()
            .unwrap_or_else(|| Settings::default().data_dir);
        let file = o
            .config
            .clone()
            .or_else(|| Some(data_dir.join("gongkai.toml")).filter(|p| p.exists()));
        let mut s = match &file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| SettingsError::Parse {
                    path: path.clone(),
                    source,
                })?
            }
            None => Settings::default(),
        };
        if let Some(v) = &o.data_dir {
            s.data_dir = v.clone();
        }
        if let Some(v) = &o.listen {
            s.listen = v.clone();
        }
        if let Some(v) = &o.catalog {
            s.catalog = Some(v.clone());
        }
        if let Some(v) = &o.store {
            s.store = Some(v.clone());
        }
        if let Some(v) = &o.admin_token {
            s.admin_token = Some(Secret::new(v.clone()));
        }
        if let Some(v) = o.max_upload_bytes {
            s.max_upload_bytes = v;
        }
        if o.no_examples {
            s.load_examples = false;
        }
        if let Some(v) = o.scheduler_interval_secs {
            s.scheduler_interval_secs = v.max(1);
        }
        Ok(s)
    }

    /// The catalogue URL in force.
    pub fn catalog_url(&self) -> String {
        self.catalog.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                absolute(&self.data_dir.join("catalog.db")).display()
            )
        })
    }

    /// What the application's use cases run under.
    pub fn publish_config(&self) -> gongkai_publish::Config {
        gongkai_publish::Config {
            data_dir: self.data_dir.clone(),
            store_url: self.store_url(),
            max_upload_bytes: self.max_upload_bytes,
            uploads: self.uploads.clone(),
            raw_retention: self.raw_retention,
            draft_raw_days: self.draft_raw_days,
            scheduler_interval: std::time::Duration::from_secs(self.scheduler_interval_secs.max(1)),
            public_url: self.public_url.clone().filter(|u| !u.is_empty()),
            session_hours: self.session_hours,
            token_days: self.token_days,
        }
    }

    /// The object store URL in force.
    pub fn store_url(&self) -> String {
        self.store.clone().unwrap_or_else(|| {
            format!(
                "file://{}",
                absolute(&self.data_dir.join("store")).display()
            )
        })
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
