//! Gongkai's HTTP server and command-line tool.
//!
//! `server` is the only crate that knows HTTP: it wires the catalogue, the
//! ingest pipeline, the object store and the query engine into routes, maps
//! every crate's error to one JSON error shape, and owns start-up.
#![warn(missing_docs)]

pub mod app;
pub mod auth;
pub mod catalogue;
pub mod columns;
pub mod error;
pub mod examples;
pub mod gc;
pub mod logging;
pub mod publishing;
pub mod ratelimit;
pub mod results;
pub mod routes;
pub mod settings;
pub mod storage;
pub mod uploads;
pub mod web;

pub use app::{AppState, Application, redact_url};
pub use auth::token_expiry;
pub use error::ApiError;
pub use settings::Settings;
