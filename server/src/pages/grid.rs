//! Result grids: an Arrow record batch as an HTML table.

use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use maud::{Markup, html};

/// How a grid labels and links its column headers.
pub struct Header {
    /// Column name (ASCII, as in SQL).
    pub name: String,
    /// Original header, shown above the name when different.
    pub label: Option<String>,
    /// Unit, shown after the label.
    pub unit: Option<String>,
    /// Link that sorts by this column, and the current direction if sorted.
    pub sort: Option<(String, Option<bool>)>,
}

/// Whether a column holds numbers (right-aligned).
pub fn is_numeric(t: &DataType) -> bool {
    t.is_numeric()
}

/// Every cell of `batch` as display text (nulls empty).
pub fn cells(batch: &RecordBatch) -> Vec<Vec<String>> {
    let options = FormatOptions::default().with_null("");
    let formatters: Vec<Option<ArrayFormatter>> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).ok())
        .collect();
    (0..batch.num_rows())
        .map(|row| {
            formatters
                .iter()
                .map(|f| match f {
                    Some(f) => f.value(row).to_string(),
                    None => "?".to_string(),
                })
                .collect()
        })
        .collect()
}

/// An HTML table of `batches` with `headers` (one per column, in order).
pub fn table(id: &str, caption: &str, headers: &[Header], batches: &[RecordBatch]) -> Markup {
    let numeric: Vec<bool> = batches
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| is_numeric(f.data_type()))
                .collect()
        })
        .unwrap_or_default();
    html! {
        div.table-scroll tabindex="0" role="region" aria-label=(caption) {
            table #(id) {
                caption { (caption) }
                thead {
                    tr {
                        @for h in headers {
                            th scope="col" aria-sort=[h.sort.as_ref().and_then(|(_, d)| *d).map(|desc| if desc { "descending" } else { "ascending" })] {
                                @match &h.sort {
                                    Some((href, dir)) => {
                                        a.sort href=(href) {
                                            (h.label.as_deref().unwrap_or(&h.name))
                                            @if let Some(u) = h.unit.as_deref().filter(|u| !h.label.as_deref().unwrap_or(&h.name).contains(*u)) { "（" (u) "）" }
                                            @match dir { Some(true) => " ▼", Some(false) => " ▲", None => "" }
                                        }
                                    }
                                    None => {
                                        (h.label.as_deref().unwrap_or(&h.name))
                                        @if let Some(u) = h.unit.as_deref().filter(|u| !h.label.as_deref().unwrap_or(&h.name).contains(*u)) { "（" (u) "）" }
                                    }
                                }
                                @if h.label.as_deref().is_some_and(|l| l != h.name) {
                                    span.name { (h.name) }
                                }
                            }
                        }
                    }
                }
                tbody {
                    @for batch in batches {
                        @for row in cells(batch) {
                            tr {
                                @for (i, cell) in row.iter().enumerate() {
                                    @if numeric.get(i).copied().unwrap_or(false) {
                                        td.num { (cell) }
                                    } @else {
                                        td { (cell) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Plain headers (names only) for a batch.
pub fn plain_headers(batch: &RecordBatch) -> Vec<Header> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| Header {
            name: f.name().clone(),
            label: None,
            unit: None,
            sort: None,
        })
        .collect()
}
