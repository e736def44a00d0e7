//! Gongkai's catalogue: the domain model (agencies, datasets, versions, columns,
//! users, tokens, audit events), the publishing workflow and the metadata store
//! that keeps it.
//!
//! The store runs on SQLite (embedded default) or PostgreSQL (multi-node). Both
//! backends execute the same SQL through sqlx's `Any` driver, so one test suite
//! covers both; only the schema migrations differ per backend.
#![warn(missing_docs)]

pub mod accounts;
pub mod calendar;
mod error;
pub mod feeds;
pub mod metadata;
pub mod model;
pub mod search;
mod store;
pub mod token;
pub mod workflow;

pub use accounts::{NewToken, NewUser, UserPatch, hash_password, token_expiry, verify_password};
pub use calendar::WorkCalendar;
pub use error::{Error, Result};
pub use metadata::{Metadata, MetadataPatch, THEMES, Theme};
pub use model::*;
pub use store::{Backend, Catalog, NewVersion};
pub use workflow::{
    Approval, Deadline, Edit, ExpiredRaw, RedraftedVersion, Submission, check_publishable,
};
