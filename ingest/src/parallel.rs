//! Work spread over the machine's cores with scoped threads: the streamed
//! ingest types and converts a file's columns side by side.

use std::sync::{Mutex, OnceLock};

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

/// Runs `work` on every item; the items are taken in turn by as many threads
/// as there are cores (and items), so uneven items balance out.
pub(crate) fn for_each<T: Send>(items: Vec<T>, work: impl Fn(T) + Sync) {
    let k = threads().min(items.len());
    if k <= 1 {
        items.into_iter().for_each(work);
        return;
    }
    let queue = Mutex::new(items.into_iter());
    let next = || queue.lock().ok().and_then(|mut q| q.next());
    std::thread::scope(|scope| {
        for _ in 1..k {
            scope.spawn(|| {
                while let Some(item) = next() {
                    work(item);
                }
            });
        }
        while let Some(item) = next() {
            work(item);
        }
    });
}

/// `f` of every item, in the items' order, worked out as [`for_each`] does.
pub(crate) fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let mut out: Vec<Option<R>> = items.iter().map(|_| None).collect();
    for_each(
        items.into_iter().zip(out.iter_mut()).collect(),
        |(item, slot)| {
            *slot = Some(f(item));
        },
    );
    out.into_iter().flatten().collect()
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
