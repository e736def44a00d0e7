//! Work spread over the machine's cores: the streamed ingest classifies rows
//! and types and converts a file's columns side by side.
//!
//! The work runs on one pool of threads kept for the life of the process
//! (rayon): a thread per piece of work would cost a start each time and, with
//! a fresh allocator heap per thread, fresh zeroed memory for every buffer it
//! fills.

use rayon::prelude::*;
use std::sync::OnceLock;

/// Threads one piece of work uses at most.
const MAX_THREADS: usize = 8;

/// Threads available to one piece of work.
pub(crate) fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_THREADS)
    })
}

/// The pool, started on first use; `None` when no thread could be started
/// (the work then runs on the calling thread).
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads())
            .thread_name(|i| format!("gongkai-ingest-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Runs `work` on every item; each item is a task of its own for the pool's
/// threads, so uneven items balance out.
pub(crate) fn for_each<T: Send>(items: Vec<T>, work: impl Fn(T) + Sync + Send) {
    match pool() {
        Some(pool) if threads() > 1 && items.len() > 1 => {
            pool.install(|| items.into_par_iter().with_max_len(1).for_each(work))
        }
        _ => items.into_iter().for_each(work),
    }
}

/// `f` of every item, in the items' order, worked out as [`for_each`] does.
pub(crate) fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync + Send) -> Vec<R> {
    match pool() {
        Some(pool) if threads() > 1 && items.len() > 1 => {
            pool.install(|| items.into_par_iter().with_max_len(1).map(f).collect())
        }
        _ => items.into_iter().map(f).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_worked_on_once() {
        let mut out = vec![0u64; 1000];
        for_each(out.iter_mut().enumerate().collect(), |(i, o)| {
            *o = i as u64 * 2
        });
        assert!(out.iter().enumerate().all(|(i, &o)| o == i as u64 * 2));
        for_each(Vec::<u8>::new(), |_| unreachable!());
        let squares = map((0..500u64).collect(), |i| i * i);
        assert_eq!(squares, (0..500u64).map(|i| i * i).collect::<Vec<_>>());
    }
}
