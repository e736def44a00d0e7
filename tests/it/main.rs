//! Black-box tests: each test starts the real `gongkai` binary on 127.0.0.1:0
//! with a fresh data directory and drives it over HTTP, like a user's script.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod support;

mod authz;
mod browser;
mod catalogue;
mod ckan;
mod columns;
mod concurrency;
mod crash;
mod duckdb;
mod errors;
mod examples;
mod feeds;
mod hidden;
mod hostile;
mod leaks;
mod limits;
mod pages;
mod postgres;
mod privacy;
mod query;
mod roundtrip;
mod scheduler;
mod shutdown;
mod streaming;
mod sweep;
mod tokens;
mod visibility;
mod workflow;
