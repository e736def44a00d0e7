//! Gongkai's HTTP server and command-line tool.
//!
//! `server` is the only crate that knows HTTP: it serves the application
//! (`gongkai-publish`) and the query engine over the JSON API and the web
//! pages, maps every crate's error to one JSON error shape, and owns
//! start-up and settings.
#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod auth;
pub mod error;
pub mod links;
pub mod logging;
pub mod pages;
pub mod ratelimit;
pub mod router;
pub mod settings;

pub use app::{AppState, Application, open_publisher, redact_url};
pub use auth::token_expiry;
pub use error::ApiError;
pub use settings::Settings;
