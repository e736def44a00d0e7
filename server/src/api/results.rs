//! A small in-memory cache of complete query results, keyed by their ETag.
//!
//! A result's ETag covers the SQL text, the output format, the row limit and
//! the exact stored files of every table the query names, so an entry can
//! never be served after a table it read changed (a new version, a
//! withdrawal): the key itself changes.

use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Largest single result kept.
pub const MAX_ENTRY_BYTES: usize = 1 << 20;
/// Total size of all kept results.
pub const BUDGET_BYTES: usize = 64 << 20;

/// One cached, fully encoded result.
#[derive(Debug)]
pub struct CachedResult {
    /// Encoded body.
    pub body: Bytes,
    /// Its Content-Type.
    pub content_type: &'static str,
    /// Whether a limit cut it.
    pub truncated: bool,
    /// Rows in it.
    pub rows: usize,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, Arc<CachedResult>>,
    order: VecDeque<String>,
    bytes: usize,
}

/// Least-recently-used cache of query results.
#[derive(Default)]
pub struct ResultCache {
    entries: Mutex<Entries>,
}

impl ResultCache {
    /// The result stored under `etag`, marking it recently used.
    pub fn get(&self, etag: &str) -> Option<Arc<CachedResult>> {
        let mut e = self.entries.lock().ok()?;
        let hit = e.map.get(etag).cloned()?;
        if let Some(i) = e.order.iter().position(|k| k == etag) {
            e.order.remove(i);
        }
        e.order.push_back(etag.to_string());
        Some(hit)
    }

    /// Keeps `result` under `etag` if it is small enough, evicting the least
    /// recently used entries to stay within the budget.
    pub fn put(&self, etag: &str, result: CachedResult) {
        if result.body.len() > MAX_ENTRY_BYTES {
            return;
        }
        let Ok(mut e) = self.entries.lock() else {
            return;
        };
        if e.map.contains_key(etag) {
            return;
        }
        e.bytes += result.body.len();
        e.map.insert(etag.to_string(), Arc::new(result));
        e.order.push_back(etag.to_string());
        while e.bytes > BUDGET_BYTES {
            let Some(old) = e.order.pop_front() else {
                break;
            };
            if let Some(r) = e.map.remove(&old) {
                e.bytes -= r.body.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(n: usize) -> CachedResult {
        CachedResult {
            body: Bytes::from(vec![b'x'; n]),
            content_type: "text/csv",
            truncated: false,
            rows: 1,
        }
    }

    #[test]
    fn evicts_the_least_recently_used_within_the_budget() {
        let c = ResultCache::default();
        let n = MAX_ENTRY_BYTES;
        for i in 0..(BUDGET_BYTES / n) {
            c.put(&format!("k{i}"), result(n));
        }
        assert!(c.get("k0").is_some()); // k0 is now the most recent
        c.put("new", result(n));
        assert!(c.get("k0").is_some());
        assert!(c.get("k1").is_none(), "the oldest unused entry goes first");
        assert!(c.get("new").is_some());
        c.put("huge", result(MAX_ENTRY_BYTES + 1));
        assert!(c.get("huge").is_none(), "too large to keep");
    }
}
