//! The row API: filters, ordering and keyset pagination over one published
//! table, translated into DataFusion expressions (never into SQL text).
//!
//! Query-string syntax (Datasette-style, so researchers know it):
//! - `column=value` or `column__exact=value`; `__not`, `__gt`, `__gte`, `__lt`,
//!   `__lte`, `__in=a,b` (or a JSON array), `__notin`, `__like` (SQL pattern),
//!   `__contains`, `__startswith`, `__isnull=1`, `__notnull=1`;
//! - `_select=a,b` (columns to return), `_sort=a,-b` (minus: descending),
//!   `_sort_desc=col`, `_size=N` (≤ [`MAX_PAGE_SIZE`]), `_next=CURSOR`,
//!   `_count=1` (total matching rows);
//! - the same without underscores as in the design notes: `select`, `order`,
//!   `limit`, `after`, `count`, and `filter=column.op.value` (repeatable; ops
//!   as above plus `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `null`, e.g.
//!   `filter=amount.gte.1000`, `filter=township.in.城关镇,东关镇`).
//!
//! Pagination is by keyset: rows are ordered by the requested columns and then
//! by every other column, and the cursor holds the last row's values of that
//! ordering plus how many identical rows were already returned. Pages therefore
//! never skip or repeat a row, even with duplicate rows, and the cursor pins the
//! version it started on.

use crate::{Error, Result};
use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Schema};
use base64::Engine as _;
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{Expr, SortExpr, cast, ident, lit};
use serde::{Deserialize, Serialize};

/// Rows per page when `_size` is not given.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Largest `_size`.
pub const MAX_PAGE_SIZE: usize = 10_000;

/// A comparison in a row filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// One of a list.
    In,
    /// None of a list.
    NotIn,
    /// SQL `LIKE` pattern (`%`, `_`).
    Like,
    /// Substring.
    Contains,
    /// Prefix.
    StartsWith,
    /// `IS NULL` (value `1`/`true`) or `IS NOT NULL` (`0`/`false`).
    IsNull,
    /// `IS NOT NULL` (value `1`/`true`).
    NotNull,
}

impl Op {
    fn from_suffix(s: &str) -> Option<Op> {
        Some(match s {
            "exact" | "eq" => Op::Eq,
            "not" | "ne" => Op::Ne,
            "gt" => Op::Gt,
            "gte" | "ge" => Op::Ge,
            "lt" => Op::Lt,
            "lte" | "le" => Op::Le,
            "in" => Op::In,
            "notin" => Op::NotIn,
            "like" => Op::Like,
            "contains" => Op::Contains,
            "startswith" => Op::StartsWith,
            "isnull" => Op::IsNull,
            "notnull" => Op::NotNull,
            _ => return None,
        })
    }
}

/// One filter: `column op value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Column name as in the table.
    pub column: String,
    /// Comparison.
    pub op: Op,
    /// Raw value(s) from the query string (one, or several for `in`).
    pub values: Vec<String>,
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Version the pagination started on.
    #[serde(rename = "v")]
    pub version: i64,
    /// The last row's values of the ordering (null as `None`), as text.
    #[serde(rename = "k")]
    keys: Vec<Option<String>>,
    /// Rows with exactly these key values already returned.
    #[serde(rename = "d")]
    dup: usize,
    /// Fingerprint of the filters and ordering the cursor belongs to.
    #[serde(rename = "q")]
    query: String,
}

impl Cursor {
    /// The opaque text form used in `_next`.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(s: &str) -> Result<Cursor> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim())
            .ok()
            .and_then(|b: Vec<u8>| serde_json::from_slice(&b).ok())
            .ok_or_else(|| Error::BadRequest("_next is not a cursor this API issued".into()))
    }
}

/// A parsed row request.
#[derive(Debug, Clone, Default)]
pub struct RowQuery {
    /// Columns to return (all when empty).
    pub select: Vec<String>,
    /// Filters, all of which must hold.
    pub filters: Vec<Filter>,
    /// Requested ordering: column and whether descending.
    pub order: Vec<(String, bool)>,
    /// Page size.
    pub size: usize,
    /// Continue after this cursor.
    pub after: Option<Cursor>,
    /// Also count all matching rows.
    pub count: bool,
    /// Rows to skip after the cursor (offset paging, as CKAN's DataStore does).
    pub offset: usize,
    /// Free text that some text column must contain.
    pub text: Option<String>,
}

fn truthy(v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(Error::BadRequest(format!(
            "expected 1 or 0 (true/false), got {v:?}"
        ))),
    }
}

fn list(v: &str) -> Result<Vec<String>> {
    if v.trim_start().starts_with('[') {
        let items: Vec<serde_json::Value> = serde_json::from_str(v)
            .map_err(|e| Error::BadRequest(format!("list {v:?} is not a JSON array: {e}")))?;
        return Ok(items
            .into_iter()
            .map(|i| match i {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect());
    }
    Ok(v.split(',').map(|s| s.to_string()).collect())
}

impl RowQuery {
    /// Parses query-string pairs. `format` (and `_format`) are left to the caller.
    pub fn parse(pairs: &[(String, String)]) -> Result<RowQuery> {
        let mut q = RowQuery {
            size: DEFAULT_PAGE_SIZE,
            ..RowQuery::default()
        };
        for (key, value) in pairs {
            match key.as_str() {
                "format" | "_format" => {}
                "filter" => {
                    let mut parts = value.splitn(3, '.');
                    let column = parts.next().unwrap_or("").trim();
                    let op = parts.next().unwrap_or("");
                    let rest = parts.next();
                    let op = match op {
                        "null" => Op::IsNull,
                        other => Op::from_suffix(other).ok_or_else(|| {
                            Error::BadRequest(format!(
                                "filter={value:?}: write column.op.value with op one of eq, ne, lt, le, gt, ge, in, notin, like, contains, startswith, null, notnull"
                            ))
                        })?,
                    };
                    if column.is_empty() {
                        return Err(Error::BadRequest(format!(
                            "filter={value:?} names no column"
                        )));
                    }
                    let values = match op {
                        Op::In | Op::NotIn => list(
                            rest.unwrap_or("")
                                .trim_start_matches('(')
                                .trim_end_matches(')'),
                        )?,
                        Op::IsNull | Op::NotNull => {
                            let yes = truthy(rest.unwrap_or("true"))?;
                            let op = if (op == Op::IsNull) == yes {
                                Op::IsNull
                            } else {
                                Op::NotNull
                            };
                            q.filters.push(Filter {
                                column: column.to_string(),
                                op,
                                values: vec![],
                            });
                            continue;
                        }
                        _ => vec![rest.unwrap_or("").to_string()],
                    };
                    q.filters.push(Filter {
                        column: column.to_string(),
                        op,
                        values,
                    });
                }
                "_select" | "_col" | "select" => q.select.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                ),
                "_sort" | "order" => {
                    for part in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        match part.strip_prefix('-') {
                            Some(c) => q.order.push((c.to_string(), true)),
                            None => q.order.push((part.to_string(), false)),
                        }
                    }
                }
                "_sort_desc" => q.order.push((value.trim().to_string(), true)),
                "_size" | "_limit" | "limit" => {
                    q.size = value
                        .parse()
                        .ok()
                        .filter(|n| *n <= MAX_PAGE_SIZE)
                        .ok_or_else(|| {
                            Error::BadRequest(format!(
                                "_size must be a number from 0 to {MAX_PAGE_SIZE}, got {value:?}"
                            ))
                        })?
                }
                "_next" | "after" => q.after = Some(Cursor::decode(value)?),
                "_count" | "count" => q.count = truthy(value)?,
                k if k.starts_with('_') => {
                    return Err(Error::BadRequest(format!(
                        "unknown parameter {k}; use _select, _sort, _sort_desc, _size, _next, _count or column filters"
                    )));
                }
                k => {
                    let (column, op) = match k.rsplit_once("__") {
                        Some((c, s)) if !c.is_empty() => match Op::from_suffix(s) {
                            Some(op) => (c, op),
                            None => (k, Op::Eq),
                        },
                        _ => (k, Op::Eq),
                    };
                    let values = match op {
                        Op::In | Op::NotIn => list(value)?,
                        Op::IsNull | Op::NotNull => {
                            let yes = truthy(value)?;
                            let op = match (op, yes) {
                                (Op::IsNull, true) | (Op::NotNull, false) => Op::IsNull,
                                _ => Op::NotNull,
                            };
                            q.filters.push(Filter {
                                column: column.to_string(),
                                op,
                                values: vec![],
                            });
                            continue;
                        }
                        _ => vec![value.clone()],
                    };
                    q.filters.push(Filter {
                        column: column.to_string(),
                        op,
                        values,
                    });
                }
            }
        }
        Ok(q)
    }

    /// Stable fingerprint of the filters and ordering (FNV-1a), so a cursor
    /// is only accepted by the query that issued it.
    fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |s: &str| {
            for b in s.bytes().chain(std::iter::once(0xff)) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for f in &self.filters {
            eat(&f.column);
            eat(&format!("{:?}", f.op));
            for v in &f.values {
                eat(v);
            }
        }
        for (c, desc) in &self.order {
            eat(c);
            eat(if *desc { "d" } else { "a" });
        }
        format!("{h:016x}")
    }
}

/// The ordering used for a page: requested columns, then every other column.
pub(crate) struct Ordering {
    keys: Vec<(String, bool)>,
}

fn check_column(schema: &Schema, name: &str, what: &str) -> Result<DataType> {
    schema
        .field_with_name(name)
        .map(|f| f.data_type().clone())
        .map_err(|_| {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            Error::BadRequest(format!(
                "{what}: no column {name:?}; columns are {}",
                names.join(", ")
            ))
        })
}

fn typed(value: &str, dt: &DataType, column: &str) -> Result<Expr> {
    ScalarValue::try_from_string(value.to_string(), dt)
        .map(lit)
        .map_err(|_| {
            Error::BadRequest(format!(
                "filter on {column}: {value:?} is not a valid {dt} value"
            ))
        })
}

fn as_text(column: &str, dt: &DataType) -> Expr {
    if matches!(
        dt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        ident(column)
    } else {
        cast(ident(column), DataType::Utf8)
    }
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn filter_expr(schema: &Schema, f: &Filter) -> Result<Expr> {
    let dt = check_column(schema, &f.column, "filter")?;
    let c = ident(&f.column);
    let one = || -> Result<Expr> {
        let v = f.values.first().map(String::as_str).unwrap_or("");
        typed(v, &dt, &f.column)
    };
    let raw = f.values.first().cloned().unwrap_or_default();
    Ok(match f.op {
        Op::Eq => c.eq(one()?),
        Op::Ne => c.not_eq(one()?),
        Op::Gt => c.gt(one()?),
        Op::Ge => c.gt_eq(one()?),
        Op::Lt => c.lt(one()?),
        Op::Le => c.lt_eq(one()?),
        Op::In | Op::NotIn => {
            let items = f
                .values
                .iter()
                .map(|v| typed(v, &dt, &f.column))
                .collect::<Result<Vec<_>>>()?;
            c.in_list(items, f.op == Op::NotIn)
        }
        Op::Like => as_text(&f.column, &dt).like(lit(raw)),
        Op::Contains => as_text(&f.column, &dt).like(lit(format!("%{}%", escape_like(&raw)))),
        Op::StartsWith => as_text(&f.column, &dt).like(lit(format!("{}%", escape_like(&raw)))),
        Op::IsNull => c.is_null(),
        Op::NotNull => c.is_not_null(),
    })
}

impl Ordering {
    pub(crate) fn new(schema: &Schema, q: &RowQuery) -> Result<Ordering> {
        let mut keys: Vec<(String, bool)> = Vec::new();
        for (c, desc) in &q.order {
            check_column(schema, c, "_sort")?;
            if !keys.iter().any(|(k, _)| k == c) {
                keys.push((c.clone(), *desc));
            }
        }
        for f in schema.fields() {
            if !keys.iter().any(|(k, _)| k == f.name()) && orderable(f.data_type()) {
                keys.push((f.name().clone(), false));
            }
        }
        Ok(Ordering { keys })
    }

    fn sort(&self) -> Vec<SortExpr> {
        // Nulls count as the largest value both ways: last ascending, first descending.
        self.keys
            .iter()
            .map(|(c, desc)| ident(c).sort(!desc, *desc))
            .collect()
    }

    /// Rows at or after the cursor's position in this ordering.
    fn at_or_after(&self, schema: &Schema, cursor: &Cursor) -> Result<Expr> {
        if cursor.keys.len() != self.keys.len() {
            return Err(Error::BadRequest(
                "_next belongs to a different query; start again without it".into(),
            ));
        }
        let mut cond: Option<Expr> = None;
        for ((column, desc), value) in self.keys.iter().zip(&cursor.keys).rev() {
            let dt = check_column(schema, column, "_next")?;
            let c = ident(column);
            let value = match value {
                Some(v) => Some(typed(v, &dt, column)?),
                None => None,
            };
            let (after, equal) = match (value, desc) {
                (None, false) => (lit(false), c.is_null()),
                (None, true) => (c.clone().is_not_null(), c.is_null()),
                (Some(v), false) => (c.clone().gt(v.clone()).or(c.clone().is_null()), c.eq(v)),
                (Some(v), true) => (c.clone().lt(v.clone()), c.eq(v)),
            };
            cond = Some(match cond {
                None => after.or(equal),
                Some(rest) => after.or(equal.and(rest)),
            });
        }
        Ok(cond.unwrap_or(lit(true)))
    }

    /// The key values of row `i` of `batch` (which holds every key column).
    fn row_keys(&self, batch: &RecordBatch, i: usize) -> Result<Vec<Option<String>>> {
        self.keys
            .iter()
            .map(|(c, _)| {
                let array = batch
                    .column_by_name(c)
                    .ok_or_else(|| Error::Internal(format!("key column {c} missing")))?;
                key_text(array, i)
            })
            .collect()
    }
}

fn orderable(dt: &DataType) -> bool {
    !matches!(
        dt,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(_, _)
            | DataType::Struct(_)
            | DataType::Map(_, _)
            | DataType::Union(_, _)
    )
}

fn key_text(array: &ArrayRef, i: usize) -> Result<Option<String>> {
    if array.is_null(i) {
        return Ok(None);
    }
    let one = array.slice(i, 1);
    let text = arrow::compute::cast(&one, &DataType::Utf8)
        .map_err(|e| Error::Internal(format!("cursor value: {e}")))?;
    let text = text
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .ok_or_else(|| Error::Internal("cursor value is not text".into()))?;
    Ok(Some(text.value(0).to_string()))
}

/// The filters of `q` as one predicate (None when there are none).
pub(crate) fn predicate(schema: &Schema, q: &RowQuery) -> Result<Option<Expr>> {
    let mut all: Option<Expr> = None;
    if let Some(text) = q.text.as_deref().filter(|t| !t.is_empty()) {
        let pattern = lit(format!("%{}%", escape_like(text)));
        let any = schema
            .fields()
            .iter()
            .filter(|f| {
                matches!(
                    f.data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                )
            })
            .map(|f| ident(f.name()).ilike(pattern.clone()))
            .reduce(Expr::or);
        all = Some(any.unwrap_or(lit(false)));
    }
    for f in &q.filters {
        let e = filter_expr(schema, f)?;
        all = Some(match all {
            None => e,
            Some(a) => a.and(e),
        });
    }
    Ok(all)
}

/// Builds the page's DataFrame: filters, keyset position, ordering and one
/// row more than the page, so the caller knows whether another page follows.
pub(crate) fn page_frame(df: DataFrame, q: &RowQuery) -> Result<DataFrame> {
    let schema: Schema = df.schema().as_arrow().clone();
    for c in &q.select {
        check_column(&schema, c, "_select")?;
    }
    let ordering = Ordering::new(&schema, q)?;
    let mut df = df;
    if let Some(p) = predicate(&schema, q)? {
        df = df.filter(p)?;
    }
    let mut skip = 0;
    if let Some(cursor) = &q.after {
        if cursor.query != q.fingerprint() {
            return Err(Error::BadRequest(
                "_next belongs to a different filter or ordering; start again without it".into(),
            ));
        }
        df = df.filter(ordering.at_or_after(&schema, cursor)?)?;
        skip = cursor.dup;
    }
    let skip = skip.saturating_add(q.offset);
    Ok(df
        .sort(ordering.sort())?
        .limit(skip, Some(q.size.saturating_add(1)))?)
}

/// One page of rows.
pub struct RowPage {
    /// The rows (selected columns only).
    pub batch: RecordBatch,
    /// Cursor for the next page, if there is one.
    pub next: Option<Cursor>,
    /// Total matching rows, when asked for.
    pub total: Option<u64>,
}

/// Cuts the fetched rows to the page and works out the next cursor.
pub(crate) fn finish_page(
    batch: RecordBatch,
    q: &RowQuery,
    version: i64,
    total: Option<u64>,
) -> Result<RowPage> {
    let schema = batch.schema();
    let ordering = Ordering::new(&schema, q)?;
    let more = batch.num_rows() > q.size;
    let page = batch.slice(0, batch.num_rows().min(q.size));
    let next = if more && page.num_rows() > 0 {
        let last = page.num_rows() - 1;
        let keys = ordering.row_keys(&page, last)?;
        let mut dup = 0;
        for i in (0..page.num_rows()).rev() {
            if ordering.row_keys(&page, i)? == keys {
                dup += 1;
            } else {
                break;
            }
        }
        if dup == page.num_rows()
            && let Some(prev) = &q.after
            && prev.keys == keys
        {
            dup += prev.dup;
        }
        Some(Cursor {
            version,
            keys,
            dup,
            query: q.fingerprint(),
        })
    } else {
        None
    };
    let batch = if q.select.is_empty() {
        page
    } else {
        let indices = q
            .select
            .iter()
            .map(|c| schema.index_of(c))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::BadRequest(e.to_string()))?;
        page.project(&indices)
            .map_err(|e| Error::Internal(e.to_string()))?
    };
    Ok(RowPage { batch, next, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &[(&str, &str)]) -> Vec<(String, String)> {
        s.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_filters_sorting_and_paging() {
        let q = RowQuery::parse(&pairs(&[
            ("township", "城关镇"),
            ("amount__gte", "1000"),
            ("year__in", "2023,2024"),
            ("name__in", r#"["a,b","c"]"#),
            ("note__isnull", "0"),
            ("weird__name", "x"),
            ("_sort", "-amount,township"),
            ("_size", "5"),
            ("_count", "1"),
            ("_select", "township,amount"),
        ]))
        .unwrap();
        assert_eq!(q.size, 5);
        assert!(q.count);
        assert_eq!(q.select, vec!["township", "amount"]);
        assert_eq!(
            q.order,
            vec![
                ("amount".to_string(), true),
                ("township".to_string(), false)
            ]
        );
        let ops: Vec<(&str, Op)> = q
            .filters
            .iter()
            .map(|f| (f.column.as_str(), f.op))
            .collect();
        assert_eq!(
            ops,
            vec![
                ("township", Op::Eq),
                ("amount", Op::Ge),
                ("year", Op::In),
                ("name", Op::In),
                ("note", Op::NotNull),
                ("weird__name", Op::Eq),
            ]
        );
        assert_eq!(q.filters[3].values, vec!["a,b", "c"]);
    }

    #[test]
    fn accepts_the_plain_parameter_names_too() {
        let q = RowQuery::parse(&pairs(&[
            ("filter", "amount.gte.1000"),
            ("filter", "township.in.(城关镇,东关镇)"),
            ("filter", "note.null"),
            ("filter", "code.null.false"),
            ("select", "township"),
            ("order", "-amount"),
            ("limit", "7"),
            ("count", "true"),
        ]))
        .unwrap();
        assert_eq!(q.size, 7);
        assert!(q.count);
        assert_eq!(q.select, vec!["township"]);
        assert_eq!(q.order, vec![("amount".to_string(), true)]);
        let f: Vec<(&str, Op, Vec<String>)> = q
            .filters
            .iter()
            .map(|f| (f.column.as_str(), f.op, f.values.clone()))
            .collect();
        assert_eq!(
            f,
            vec![
                ("amount", Op::Ge, vec!["1000".to_string()]),
                (
                    "township",
                    Op::In,
                    vec!["城关镇".to_string(), "东关镇".to_string()]
                ),
                ("note", Op::IsNull, vec![]),
                ("code", Op::NotNull, vec![]),
            ]
        );
        for bad in ["amount", "amount.between.1", ".eq.1"] {
            let e = RowQuery::parse(&pairs(&[("filter", bad)])).unwrap_err();
            assert_eq!(e.code().name(), "invalid_row_query", "{bad}");
        }
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for bad in [
            ("_size", "100000"),
            ("_size", "-1"),
            ("_bogus", "1"),
            ("_next", "not-a-cursor"),
            ("x__isnull", "maybe"),
        ] {
            let e = RowQuery::parse(&pairs(&[bad])).unwrap_err();
            assert_eq!(e.code().name(), "invalid_row_query", "{bad:?}");
        }
    }

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            version: 3,
            keys: vec![Some("1.50".into()), None],
            dup: 2,
            query: "abc".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn like_patterns_are_escaped_for_contains() {
        assert_eq!(escape_like("50%_a\\"), "50\\%\\_a\\\\");
    }
}
