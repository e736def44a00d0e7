//! The sweeper (`gongkai gc`, also run periodically by `serve`): deletes
//! stored objects no catalogue row references.
//!
//! Objects are written before the catalogue row that points at them commits
//! (write-then-commit), so a crash or a failed request leaves at most
//! unreferenced objects. Only Gongkai's own prefixes are swept, and only
//! objects older than a grace period, so uploads still being ingested (their
//! objects exist, their version row does not yet) are never touched.

use crate::{ApiError, AppState};
use futures::StreamExt;
use object_store::ObjectStoreExt;
use serde::Serialize;
use std::collections::HashSet;
use std::time::Duration;

/// Key prefixes Gongkai writes; nothing else in the store is ever deleted.
pub const PREFIXES: &[&str] = &["raw/", "drafts/", "datasets/", "derived/"];

/// How old an unreferenced object must be before it is deleted (default).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// How often `serve` sweeps.
pub const INTERVAL: Duration = Duration::from_secs(6 * 3600);

/// What a sweep found and did.
#[derive(Debug, Default, Serialize)]
pub struct Sweep {
    /// Objects listed under Gongkai's prefixes.
    pub objects: usize,
    /// Objects a catalogue row references.
    pub referenced: usize,
    /// Unreferenced objects deleted (or, in a dry run, that would be).
    pub deleted: Vec<String>,
    /// Bytes of the deleted objects.
    pub deleted_bytes: u64,
    /// Unreferenced objects kept because they are younger than the grace period.
    pub young: usize,
    /// Whether nothing was deleted on purpose.
    pub dry_run: bool,
}

/// Lists every object, compares with the catalogue and deletes orphans.
pub async fn sweep(state: &AppState, grace: Duration, dry_run: bool) -> Result<Sweep, ApiError> {
    // Read the references first: an object written after this read is young
    // (inside the grace period) or referenced by a row committed after it.
    let referenced: HashSet<String> = state.catalog.referenced_keys().await?.into_iter().collect();
    let cutoff =
        chrono::Utc::now() - chrono::Duration::from_std(grace).map_err(ApiError::internal)?;
    let mut out = Sweep {
        dry_run,
        ..Sweep::default()
    };
    let mut orphans = Vec::new();
    for prefix in PREFIXES {
        let prefix = object_store::path::Path::from(*prefix);
        let mut listing = state.store.list(Some(&prefix));
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            out.objects += 1;
            let key = meta.location.to_string();
            if referenced.contains(&key) {
                out.referenced += 1;
            } else if meta.last_modified > cutoff {
                out.young += 1;
            } else {
                orphans.push((meta.location, meta.size));
            }
        }
    }
    for (location, size) in orphans {
        if !dry_run {
            match state.store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        out.deleted_bytes += size;
        out.deleted.push(location.to_string());
    }
    if !out.deleted.is_empty() {
        tracing::info!(
            deleted = out.deleted.len(),
            bytes = out.deleted_bytes,
            dry_run,
            "swept unreferenced objects"
        );
    }
    Ok(out)
}

/// Sweeps every [`INTERVAL`] while the server runs.
pub async fn run_periodically(state: AppState) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&state, DEFAULT_GRACE, false).await {
            tracing::warn!(error = %e, "periodic sweep failed");
        }
    }
}
