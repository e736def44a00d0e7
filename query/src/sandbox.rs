//! Guards on built-in functions whose output can be far larger than their
//! input (`repeat('x', 2000000000)`): DataFusion's memory pool does not see
//! scalar function results, so each of these is wrapped to compute the size
//! of what it would produce for a batch before producing it, and to refuse
//! with a memory-limit error beyond the per-query budget. Functions that only
//! exist to build huge values (`range`, `generate_series`) are removed.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Table and scalar functions that are removed outright.
const REMOVED_TABLE_FUNCTIONS: &[&str] = &["generate_series", "range"];
const REMOVED_FUNCTIONS: &[&str] = &["generate_series", "range"];

/// How a guarded function's output size follows from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Growth {
    /// `repeat(s, n)`: len(s) × n.
    Repeat,
    /// `lpad(s, n [, fill])`: n characters (≤ 4 bytes each).
    Pad,
    /// `array_repeat(x, n)`, `array_resize(a, n [, x])`: n elements.
    Elements,
    /// `replace(s, from, to)`: every occurrence of `from` becomes `to`.
    Replace,
    /// `regexp_replace(s, re, to [, flags])`: at most one match per position.
    RegexReplace,
}

const GUARDED: &[(&str, Growth)] = &[
    ("repeat", Growth::Repeat),
    ("lpad", Growth::Pad),
    ("rpad", Growth::Pad),
    ("array_repeat", Growth::Elements),
    ("array_resize", Growth::Elements),
    ("replace", Growth::Replace),
    ("regexp_replace", Growth::RegexReplace),
];

/// Removes and wraps functions in `ctx` so that none can allocate more than
/// `limit` bytes for one batch.
pub(crate) fn restrict_functions(ctx: &SessionContext, limit: usize) {
    for name in REMOVED_TABLE_FUNCTIONS {
        ctx.deregister_udtf(name);
    }
    for name in REMOVED_FUNCTIONS {
        ctx.deregister_udf(name);
    }
    for (name, growth) in GUARDED {
        if let Ok(inner) = ctx.udf(name) {
            let bounded = Bounded {
                inner: inner.inner().clone(),
                growth: *growth,
                limit: limit as u64,
            };
            ctx.register_udf(ScalarUDF::new_from_impl(bounded));
        }
    }
}

/// A built-in function with an output-size check in front of it.
#[derive(Debug)]
struct Bounded {
    inner: Arc<dyn ScalarUDFImpl>,
    growth: Growth,
    limit: u64,
}

impl PartialEq for Bounded {
    fn eq(&self, other: &Self) -> bool {
        self.inner.name() == other.inner.name() && self.limit == other.limit
    }
}

impl Eq for Bounded {}

impl Hash for Bounded {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.name().hash(state);
        self.limit.hash(state);
    }
}

/// Per-row byte lengths of a string argument (0 for null).
fn lengths(v: &ColumnarValue, rows: usize) -> Vec<u64> {
    match v {
        ColumnarValue::Scalar(s) => {
            let n = s.try_as_str().flatten().map_or(0, |s| s.len() as u64);
            vec![n; rows]
        }
        ColumnarValue::Array(a) => match arrow::compute::kernels::length::length(a) {
            Ok(l) => ints_of(&l, rows),
            Err(_) => vec![0; rows],
        },
    }
}

/// Per-row integer values of a count argument (0 for null or negative).
fn counts(v: &ColumnarValue, rows: usize) -> Vec<u64> {
    match v {
        ColumnarValue::Scalar(s) => {
            let n = match s.cast_to(&DataType::Int64) {
                Ok(ScalarValue::Int64(Some(n))) => n.max(0) as u64,
                _ => 0,
            };
            vec![n; rows]
        }
        ColumnarValue::Array(a) => ints_of(a, rows),
    }
}

fn ints_of(a: &ArrayRef, rows: usize) -> Vec<u64> {
    let Ok(a) = arrow::compute::cast(a, &DataType::Int64) else {
        return vec![0; rows];
    };
    let a = a.as_primitive::<Int64Type>();
    (0..rows.min(a.len()))
        .map(|i| {
            if a.is_null(i) {
                0
            } else {
                a.value(i).max(0) as u64
            }
        })
        .collect()
}

impl Bounded {
    /// Bytes the call would produce for this batch (saturating).
    fn output_bytes(&self, args: &[ColumnarValue], rows: usize) -> u64 {
        let arg = |i: usize| args.get(i);
        let zero = || vec![0u64; rows];
        let len_of = |i: usize| arg(i).map_or_else(zero, |a| lengths(a, rows));
        let count_of = |i: usize| arg(i).map_or_else(zero, |a| counts(a, rows));
        let per_row: Vec<u64> = match self.growth {
            Growth::Repeat => len_of(0)
                .iter()
                .zip(count_of(1))
                .map(|(l, n)| l.saturating_mul(n))
                .collect(),
            Growth::Pad => count_of(1).iter().map(|n| n.saturating_mul(4)).collect(),
            Growth::Elements => count_of(1).iter().map(|n| n.saturating_mul(16)).collect(),
            Growth::Replace => {
                let from = len_of(1);
                let to = len_of(2);
                len_of(0)
                    .iter()
                    .zip(from.iter().zip(&to))
                    .map(|(s, (f, t))| {
                        let hits = s / (*f).max(1) + 1;
                        s.saturating_add(hits.saturating_mul(*t))
                    })
                    .collect()
            }
            Growth::RegexReplace => {
                let to = len_of(2);
                len_of(0)
                    .iter()
                    .zip(&to)
                    .map(|(s, t)| s.saturating_add((s + 1).saturating_mul(*t)))
                    .collect()
            }
        };
        per_row.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> datafusion::common::Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(
        &self,
        args: ReturnFieldArgs,
    ) -> datafusion::common::Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> datafusion::common::Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        let rows = if args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)))
        {
            1
        } else {
            args.number_rows
        };
        let bytes = self.output_bytes(&args.args, rows);
        if bytes > self.limit {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{}() would produce about {} MiB, more than the {} MiB a query may hold",
                self.inner.name(),
                bytes >> 20,
                self.limit >> 20
            )));
        }
        self.inner.invoke_with_args(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> SessionContext {
        let ctx = SessionContext::new();
        restrict_functions(&ctx, 1 << 20);
        ctx
    }

    async fn run(sql: &str) -> datafusion::common::Result<usize> {
        let batches = ctx().sql(sql).await?.collect().await?;
        Ok(batches.iter().map(|b| b.num_rows()).sum())
    }

    #[tokio::test]
    async fn small_calls_work_and_huge_ones_are_refused() {
        assert_eq!(
            run("SELECT repeat('ab', 10), lpad('7', 3, '0')")
                .await
                .unwrap(),
            1
        );
        assert_eq!(run("SELECT replace('a.b', '.', '-')").await.unwrap(), 1);
        for sql in [
            "SELECT repeat('x', 2000000000)",
            "SELECT length(repeat(repeat('x', 1000), 100000))",
            "SELECT lpad('x', 2000000000)",
            "SELECT array_repeat(1, 1000000000)",
            "SELECT replace(repeat('x', 2000), '', repeat('y', 2000))",
            "SELECT regexp_replace(repeat('x', 2000), '', repeat('y', 2000), 'g')",
        ] {
            let e = match run(sql).await {
                Ok(n) => panic!("{sql} answered {n} rows"),
                Err(e) => e,
            };
            assert!(
                matches!(e.find_root(), DataFusionError::ResourcesExhausted(_)),
                "{sql}: {e}"
            );
        }
        for sql in [
            "SELECT range(1, 10)",
            "SELECT * FROM generate_series(1, 10)",
        ] {
            assert!(run(sql).await.is_err(), "{sql} should be gone");
        }
    }
}
