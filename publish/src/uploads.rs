//! Upload admission: how large an upload may be for the sender's role, how
//! many uploads one user may have in flight, and how many ingests run at once.
//!
//! Receiving a file costs little; ingesting it (decode, detect, type, redact,
//! write Parquet) takes CPU and up to about 1 GiB of memory. So uploads are
//! received concurrently, while ingests queue for one of
//! `[uploads] max_concurrent_ingests` slots; a user who already has
//! `per_user_concurrent` uploads in flight is told to wait (429), and an
//! upload that waited `queue_secs` for a slot gets 503 `ingest_busy`, its raw
//! file removed, with `Retry-After`.

use crate::Error;
use gongkai_catalog::Role;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Upload sizes per role and how many uploads and ingests run at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadSettings {
    /// Largest upload of an editor, in bytes (never above `max_upload_bytes`).
    pub editor_max_bytes: u64,
    /// Largest upload of a reviewer, in bytes (never above `max_upload_bytes`).
    pub reviewer_max_bytes: u64,
    /// Largest upload of an administrator, in bytes (never above `max_upload_bytes`).
    pub admin_max_bytes: u64,
    /// Uploads one user may have in flight at once (429 `too_many_uploads` beyond).
    pub per_user_concurrent: usize,
    /// Ingests (decode, detect, type, redact, write Parquet) running at once
    /// on this server; each may take up to about 1 GiB of memory.
    pub max_concurrent_ingests: usize,
    /// Seconds an upload waits for a free ingest slot before 503 `ingest_busy`.
    pub queue_secs: u64,
    /// Delimited uploads larger than this many bytes are ingested in two
    /// streaming passes (memory independent of the file size).
    pub stream_above_bytes: u64,
}

impl Default for UploadSettings {
    fn default() -> Self {
        UploadSettings {
            editor_max_bytes: 256 << 20,
            reviewer_max_bytes: 1 << 30,
            admin_max_bytes: 1 << 30,
            per_user_concurrent: 2,
            max_concurrent_ingests: 2,
            queue_secs: 120,
            stream_above_bytes: 32 << 20,
        }
    }
}

/// Shared admission state of one server.
#[derive(Debug)]
pub struct UploadGate {
    settings: UploadSettings,
    ceiling: u64,
    in_flight: Mutex<HashMap<String, usize>>,
    ingests: Arc<Semaphore>,
}

/// One admitted upload; dropping it frees the user's slot.
#[derive(Debug)]
pub struct UploadTicket {
    gate: Arc<UploadGate>,
    user: String,
}

impl Drop for UploadTicket {
    fn drop(&mut self) {
        let mut map = self
            .gate
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.user);
            }
        }
    }
}

impl UploadGate {
    /// Admission under `settings`, with `ceiling` (`max_upload_bytes`) above every role's limit.
    pub fn new(settings: UploadSettings, ceiling: u64) -> Self {
        let slots = settings.max_concurrent_ingests.max(1);
        UploadGate {
            settings,
            ceiling,
            in_flight: Mutex::new(HashMap::new()),
            ingests: Arc::new(Semaphore::new(slots)),
        }
    }

    /// Largest upload, in bytes, a user holding `role` may send.
    pub fn max_bytes(&self, role: Role) -> u64 {
        let by_role = match role {
            Role::Editor => self.settings.editor_max_bytes,
            Role::Reviewer => self.settings.reviewer_max_bytes,
            Role::Admin => self.settings.admin_max_bytes,
        };
        by_role.min(self.ceiling)
    }

    /// Admits one more upload of `user`, or 429 `too_many_uploads`.
    pub fn admit(self: &Arc<Self>, user: &str) -> Result<UploadTicket, Error> {
        let limit = self.settings.per_user_concurrent.max(1);
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(user.to_string()).or_insert(0);
        if *n >= limit {
            return Err(Error::TooManyUploads {
                in_flight: *n,
                limit,
            });
        }
        *n += 1;
        Ok(UploadTicket {
            gate: Arc::clone(self),
            user: user.to_string(),
        })
    }

    /// Waits for an ingest slot, at most `queue_secs`; then 503 `ingest_busy`.
    pub async fn ingest_slot(&self) -> Result<OwnedSemaphorePermit, Error> {
        let wait = Duration::from_secs(self.settings.queue_secs);
        match tokio::time::timeout(wait, Arc::clone(&self.ingests).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(Error::internal(closed)),
            Err(_) => Err(Error::IngestBusy {
                slots: self.settings.max_concurrent_ingests.max(1),
                waited_secs: self.settings.queue_secs,
            }),
        }
    }

    /// Ingests running now.
    pub fn ingests_running(&self) -> usize {
        self.settings.max_concurrent_ingests.max(1) - self.ingests.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(per_user: usize, ingests: usize, queue_secs: u64) -> Arc<UploadGate> {
        Arc::new(UploadGate::new(
            UploadSettings {
                per_user_concurrent: per_user,
                max_concurrent_ingests: ingests,
                queue_secs,
                ..UploadSettings::default()
            },
            512 << 20,
        ))
    }

    #[test]
    fn role_limits_stay_under_the_ceiling() {
        let g = gate(2, 2, 1);
        assert_eq!(g.max_bytes(Role::Editor), 256 << 20);
        assert_eq!(g.max_bytes(Role::Reviewer), 512 << 20);
        assert_eq!(g.max_bytes(Role::Admin), 512 << 20);
    }

    #[test]
    fn a_user_gets_a_slot_back_when_an_upload_ends() {
        let g = gate(2, 2, 1);
        let a = g.admit("clerk").unwrap();
        let _b = g.admit("clerk").unwrap();
        let e = g.admit("clerk").unwrap_err();
        assert_eq!(e.code(), gongkai_codes::Code::TooManyUploads);
        // Others are not affected.
        let _c = g.admit("other").unwrap();
        drop(a);
        assert!(g.admit("clerk").is_ok());
    }

    #[tokio::test]
    async fn ingests_queue_then_give_up() {
        let g = gate(2, 1, 1);
        let held = g.ingest_slot().await.unwrap();
        assert_eq!(g.ingests_running(), 1);
        let e = g.ingest_slot().await.unwrap_err();
        assert_eq!(e.code(), gongkai_codes::Code::IngestBusy);
        drop(held);
        assert!(g.ingest_slot().await.is_ok());
    }
}
