//! Memory pools: each query has its own cap, and all running queries
//! together draw from one process-wide budget.

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{
    GreedyMemoryPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Memory held by all queries together, and its ceiling.
#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicUsize,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub(crate) fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            used: AtomicUsize::new(0),
            limit,
        })
    }

    /// Bytes reserved now by all queries.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// One query's pool: its own greedy cap, and a share of the [`Budget`].
#[derive(Debug)]
pub(crate) struct QueryPool {
    local: GreedyMemoryPool,
    budget: Arc<Budget>,
}

impl QueryPool {
    pub(crate) fn new(limit: usize, budget: Arc<Budget>) -> Self {
        QueryPool {
            local: GreedyMemoryPool::new(limit),
            budget,
        }
    }
}

impl std::fmt::Display for QueryPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueryPool({}, budget {})", self.local, self.budget.limit)
    }
}

impl MemoryPool for QueryPool {
    fn name(&self) -> &str {
        "gongkai-query"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.local.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.local.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.local.grow(reservation, additional);
        self.budget.used.fetch_add(additional, Ordering::AcqRel);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.local.shrink(reservation, shrink);
        self.budget.used.fetch_sub(shrink, Ordering::AcqRel);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let before = self.budget.used.fetch_add(additional, Ordering::AcqRel);
        if before.saturating_add(additional) > self.budget.limit {
            self.budget.used.fetch_sub(additional, Ordering::AcqRel);
            return Err(DataFusionError::ResourcesExhausted(format!(
                "running queries together hold {} MiB of the server's {} MiB query budget; \
                 this one needed {} MiB more",
                before >> 20,
                self.budget.limit >> 20,
                additional.div_ceil(1 << 20)
            )));
        }
        if let Err(e) = self.local.try_grow(reservation, additional) {
            self.budget.used.fetch_sub(additional, Ordering::AcqRel);
            return Err(e);
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.local.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.local.memory_limit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_share_the_budget_and_give_it_back() {
        let budget = Budget::new(100);
        let a: Arc<dyn MemoryPool> = Arc::new(QueryPool::new(80, budget.clone()));
        let b: Arc<dyn MemoryPool> = Arc::new(QueryPool::new(80, budget.clone()));
        let ra = MemoryConsumer::new("a").register(&a);
        let rb = MemoryConsumer::new("b").register(&b);
        ra.try_grow(70).unwrap();
        assert!(ra.try_grow(20).is_err(), "over the query's own cap");
        assert!(rb.try_grow(40).is_err(), "over the shared budget");
        rb.try_grow(30).unwrap();
        assert_eq!(budget.used(), 100);
        drop(ra);
        assert_eq!(budget.used(), 30, "a finished query returns its share");
        rb.try_grow(40).unwrap();
        drop(rb);
        assert_eq!(budget.used(), 0);
    }
}
