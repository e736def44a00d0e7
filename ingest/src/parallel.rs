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

/// Runs `work` on every item, on the pool's threads: the items are handed
/// out one at a time in order of `cost`, the costliest first, to whichever
/// thread is free (greedy scheduling, longest first). Items of uneven cost
/// (a file's columns) then finish close together, where splitting the list
/// in halves can leave one thread with the costliest items and the other
/// idle. The order only decides which thread works on what.
pub(crate) fn for_each_costliest_first<T: Send>(
    items: Vec<T>,
    cost: impl Fn(&T) -> u64,
    work: impl Fn(T) + Sync + Send,
) {
    let items = costliest_first(items, cost);
    match pool() {
        Some(pool) if threads() > 1 && items.len() > 1 => {
            let workers = threads().min(items.len());
            let queue = std::sync::Mutex::new(items.into_iter());
            // A poisoned queue: a task panicked, and the scope re-raises it.
            let next = || queue.lock().ok().and_then(|mut q| q.next());
            pool.scope(|scope| {
                for _ in 0..workers {
                    scope.spawn(|_| {
                        while let Some(item) = next() {
                            work(item);
                        }
                    });
                }
            });
        }
        _ => items.into_iter().for_each(work),
    }
}

/// Runs `work`, recording in `cost` the nanoseconds it took: the cost
/// [`for_each_costliest_first`] orders the same work by next time.
#[inline]
pub(crate) fn timed<R>(cost: &mut u64, work: impl FnOnce() -> R) -> R {
    let start = std::time::Instant::now();
    let result = work();
    *cost = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    result
}

/// The items in the order [`for_each_costliest_first`] hands them out:
/// costliest first, items of the same cost in their given order.
fn costliest_first<T>(items: Vec<T>, cost: impl Fn(&T) -> u64) -> Vec<T> {
    let mut items = items;
    items.sort_by_key(|item| std::cmp::Reverse(cost(item)));
    items
}

/// `f` of every item, in the items' order; each item is a task of its own
/// for the pool's threads, so uneven items balance out.
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
    fn costly_items_are_each_worked_on_once_handed_out_costliest_first() {
        // Costs 0..300 in a scrambled order (7919 is prime to 300).
        let cost = |i: usize| (i as u64 * 7919) % 300;
        let mut out = vec![0u64; 300];
        for_each_costliest_first(
            out.iter_mut().enumerate().collect(),
            |(i, _)| cost(*i),
            |(i, o)| *o = i as u64 + 1,
        );
        assert!(out.iter().enumerate().all(|(i, &o)| o == i as u64 + 1));
        for_each_costliest_first(Vec::<u8>::new(), |_| 0, |_| unreachable!());
        let order: Vec<u64> = costliest_first((0..300).collect(), |&i| cost(i))
            .into_iter()
            .map(cost)
            .collect();
        assert_eq!(order, (0..300).rev().collect::<Vec<u64>>());
        // Equal costs keep their order (the file's column order).
        let ties = costliest_first(vec![(1, 'a'), (3, 'b'), (1, 'c'), (3, 'd')], |t| t.0);
        assert_eq!(ties, [(3, 'b'), (3, 'd'), (1, 'a'), (1, 'c')]);
    }

    #[test]
    fn every_item_is_mapped_once_in_order() {
        let squares = map((0..500u64).collect(), |i| i * i);
        assert_eq!(squares, (0..500u64).map(|i| i * i).collect::<Vec<_>>());
    }
}
