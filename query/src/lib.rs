//! Gongkai's query service: DataFusion over published, redacted Parquet only.
//!
//! Each query gets a fresh, sandboxed `SessionContext`:
//! - read-only: DDL, DML and statements are rejected at planning
//!   (`SQLOptions`), URL tables stay off, `generate_series`/`range` are removed;
//! - bounded: its own memory pool inside a process-wide budget, no spilling to disk, a wall-clock timeout
//!   that drops (cancels) the running plan, and a cap on returned rows;
//! - isolated: plans run on a dedicated thread pool, never on the HTTP workers.
//!
//! Tables are the catalogue's published versions, registered as listing tables
//! over the object store: `slug` is the latest version, `"slug@v3"` a pinned one.
#![warn(missing_docs)]

mod encode;
mod engine;
mod error;
mod pool;
mod rows;
mod sandbox;
mod tables;

pub use encode::{Format, ResultEncoder};
pub use engine::{Limits, Prepared, QueryEngine, QueryStream};
pub use error::{Error, Position, Result};
pub use rows::{Cursor, DEFAULT_PAGE_SIZE, Filter, MAX_PAGE_SIZE, Op, RowPage, RowQuery};
pub use tables::{TableColumn, TableInfo, TableVersion};
