//! The sweeper (`gongkai gc`, also run periodically by `serve`): deletes
//! stored objects no catalogue row references.
//!
//! Objects are written before the catalogue row that points at them commits
//! (write-then-commit), so a crash or a failed request leaves at most
//! unreferenced objects. Only Gongkai's own prefixes are swept, and only
//! objects older than a grace period, so uploads still being ingested (their
//! objects exist, their version row does not yet) are never touched.
//!
//! With `raw_retention = "until_published"` (the default) the sweep also
//! applies the retention rule to raw uploads: besides being deleted when
//! their version is published, they are deleted (and forgotten by their
//! version, audited as `version.raw_expired`) once their version can no
//! longer be published: created before their dataset was withdrawn, rejected
//! and superseded by a newer upload, or a draft or rejected version older
//! than `draft_raw_days` (90). See `Catalog::expired_raw_uploads`.
//!
//! A write the process did not finish may also leave data the store's
//! listing never shows. The local store (`file://`) writes each object to a
//! staging file `NAME#N` beside it and renames it when done; a kill in the
//! middle of an upload's body leaves that file, raw personal data included,
//! and `list` hides it. The sweep therefore also walks the store directory
//! under Gongkai's prefixes and deletes staging files older than the grace
//! period (their modification time moves with every write, so an upload in
//! progress is young). On S3-compatible stores an unfinished multipart
//! upload keeps its parts, invisible too, and object_store cannot list
//! them: give the bucket a lifecycle rule that aborts incomplete multipart
//! uploads (`AbortIncompleteMultipartUpload`, e.g. after one day); the
//! report says `staging_checked: false` there.

use crate::{Error, Publisher, RawRetention};
use futures::StreamExt;
use gongkai_catalog::ExpiredRaw;
use object_store::ObjectStoreExt;
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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
    /// Whether the store could be searched for staging files its listing
    /// hides (local `file://` stores; see the module documentation).
    pub staging_checked: bool,
    /// Staging files of interrupted writes deleted (or, in a dry run, that
    /// would be), as paths under the store directory.
    pub staging_deleted: Vec<String>,
    /// Bytes of those staging files.
    pub staging_bytes: u64,
    /// Staging files kept because they are younger than the grace period.
    pub staging_young: usize,
    /// Raw uploads the retention rule deleted (or, in a dry run, would).
    pub raw_expired: Vec<ExpiredRaw>,
}

impl Publisher {
    /// Applies the raw-upload retention rule, then lists every object, compares
    /// with the catalogue and deletes orphans and stale staging files.
    pub async fn sweep(&self, grace: Duration, dry_run: bool) -> Result<Sweep, Error> {
        let mut out = Sweep {
            dry_run,
            ..Sweep::default()
        };
        if self.config.raw_retention == RawRetention::UntilPublished {
            out.raw_expired = self.expire_raw_uploads(dry_run).await?;
        }
        // Read the references first: an object written after this read is young
        // (inside the grace period) or referenced by a row committed after it.
        let referenced: HashSet<String> =
            self.catalog.referenced_keys().await?.into_iter().collect();
        let cutoff =
            chrono::Utc::now() - chrono::Duration::from_std(grace).map_err(Error::internal)?;
        let mut orphans = Vec::new();
        for prefix in PREFIXES {
            let prefix = object_store::path::Path::from(*prefix);
            let mut listing = self.store.list(Some(&prefix));
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
                match self.store.delete(&location).await {
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
        if let Some(root) = local_root(&self.config.store_url) {
            out.staging_checked = true;
            let staged = tokio::task::spawn_blocking(move || sweep_staging(&root, grace, dry_run))
                .await
                .map_err(Error::internal)?
                .map_err(Error::internal)?;
            out.staging_young = staged.young;
            out.staging_bytes = staged.bytes;
            out.staging_deleted = staged.deleted;
            if !out.staging_deleted.is_empty() {
                tracing::info!(
                    deleted = out.staging_deleted.len(),
                    bytes = out.staging_bytes,
                    dry_run,
                    "swept staging files of interrupted writes"
                );
            }
        }
        Ok(out)
    }

    /// Deletes the raw uploads of versions that can no longer be published:
    /// each version forgets its upload first (audited), then the object is
    /// deleted; should that fail, the object is an orphan the next sweep removes.
    async fn expire_raw_uploads(&self, dry_run: bool) -> Result<Vec<ExpiredRaw>, Error> {
        let expired = self
            .catalog
            .expired_raw_uploads(self.config.draft_raw_days, chrono::Utc::now())
            .await?;
        if dry_run {
            return Ok(expired);
        }
        let mut done = Vec::new();
        for e in expired {
            if !self.catalog.expire_raw(&e, SWEEPER).await? {
                continue;
            }
            match self
                .store
                .delete(&object_store::path::Path::from(e.raw_key.clone()))
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => {
                    tracing::warn!(dataset = %e.dataset, version = e.version, error = %err,
                    "deleting an expired raw upload failed; the next sweep removes it");
                }
            }
            tracing::info!(dataset = %e.dataset, version = e.version, reason = e.reason,
            "raw upload expired");
            done.push(e);
        }
        Ok(done)
    }

    /// Sweeps every [`INTERVAL`] while the server runs.
    pub async fn sweep_periodically(self) {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.sweep(DEFAULT_GRACE, false).await {
                tracing::warn!(error = %e, "periodic sweep failed");
            }
        }
    }
}

/// The actor the sweeper's changes are audited under.
const SWEEPER: &str = "sweeper";

/// The directory of a `file://` store.
fn local_root(store_url: &str) -> Option<PathBuf> {
    store_url.strip_prefix("file://").map(PathBuf::from)
}

/// Whether a file name is one the local store's listing hides: a staging
/// file `NAME#N` (object keys never hold a bare `#`: it is escaped).
fn is_staging(name: &str) -> bool {
    name.split_once('#').is_some_and(|(base, n)| {
        !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// What [`sweep_staging`] found.
#[derive(Debug, Default)]
struct Staged {
    deleted: Vec<String>,
    bytes: u64,
    young: usize,
}

/// Deletes staging files older than `grace` under Gongkai's prefixes of the
/// store directory `root` (symbolic links are not followed), and the
/// directories they leave empty.
fn sweep_staging(root: &Path, grace: Duration, dry_run: bool) -> std::io::Result<Staged> {
    let cutoff = SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut out = Staged::default();
    for prefix in PREFIXES {
        let top = root.join(prefix.trim_end_matches('/'));
        let mut dirs = vec![top.clone()];
        while let Some(dir) = dirs.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let kind = entry.file_type()?;
                let path = entry.path();
                if kind.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if !kind.is_file() || !is_staging(&entry.file_name().to_string_lossy()) {
                    continue;
                }
                let meta = entry.metadata()?;
                if meta.modified()? > cutoff {
                    out.young += 1;
                    continue;
                }
                if !dry_run {
                    match std::fs::remove_file(&path) {
                        Ok(()) => remove_empty_parents(&path, &top),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
                out.bytes += meta.len();
                out.deleted.push(
                    path.strip_prefix(root)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.deleted.sort();
    Ok(out)
}

/// Removes the directories above `path` that are now empty, up to `top`.
fn remove_empty_parents(path: &Path, top: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == top || !d.starts_with(top) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_are_what_the_local_listing_hides() {
        assert!(is_staging("名册.csv#1"));
        assert!(is_staging("part-0.parquet#12"));
        assert!(!is_staging("a.csv"));
        assert!(!is_staging("a.csv#"));
        assert!(!is_staging("#1"));
        assert!(!is_staging("a.csv#1x"));
        assert_eq!(
            local_root("file:///srv/gongkai/store"),
            Some(PathBuf::from("/srv/gongkai/store"))
        );
        assert_eq!(local_root("s3://bucket/prefix"), None);
    }

    #[test]
    fn old_staging_files_go_and_empty_directories_with_them() {
        let root = tempfile::tempdir().unwrap();
        let upload = root.path().join("raw/_/u1");
        std::fs::create_dir_all(&upload).unwrap();
        std::fs::write(upload.join("a.csv#1"), b"partial").unwrap();
        let kept = root.path().join("raw/_/u2");
        std::fs::create_dir_all(&kept).unwrap();
        std::fs::write(kept.join("b.csv"), b"whole").unwrap();
        std::fs::write(root.path().join("elsewhere#1"), b"not ours").unwrap();

        let young = sweep_staging(root.path(), Duration::from_secs(3600), false).unwrap();
        assert_eq!((young.young, young.deleted.len()), (1, 0));
        let dry = sweep_staging(root.path(), Duration::ZERO, true).unwrap();
        assert_eq!(dry.deleted, ["raw/_/u1/a.csv#1"]);
        assert!(upload.join("a.csv#1").exists());
        let done = sweep_staging(root.path(), Duration::ZERO, false).unwrap();
        assert_eq!(done.deleted, ["raw/_/u1/a.csv#1"]);
        assert_eq!(done.bytes, 7);
        assert!(!upload.exists(), "the emptied upload directory stays");
        assert!(kept.join("b.csv").exists());
        assert!(root.path().join("raw").exists());
        assert!(root.path().join("elsewhere#1").exists());
    }
}
