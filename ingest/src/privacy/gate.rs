//! The leak gate: a header-free, high-recall scan of a table about to be
//! released, its schema and the texts published beside it, through the
//! same canonical reading as redaction ([`super::canon`]). Any finding
//! blocks release.
//!
//! What is read: every cell of every column (text of any Arrow string
//! type, numbers as their digits, anything else cast to text), every pair
//! of adjacent cells ([`super::split`]), every field name and every key and
//! value of the field and schema metadata.

use super::PiiKind;
use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use serde::Serialize;

/// A value in a table that the leak gate refuses.
#[derive(Debug, Clone, Serialize)]
pub struct Leak {
    /// Column name (for metadata: the field, or `(schema)`).
    pub column: String,
    /// 0-based row (0 for metadata).
    pub row: usize,
    /// Kind found.
    pub kind: PiiKind,
    /// Where: `cell`, `split_cells`, `field_name` or `metadata`.
    pub part: &'static str,
}

/// Identifiers in the cells of `batch`.
pub fn scan(batch: &RecordBatch) -> Vec<Leak> {
    let mut leaks = Vec::new();
    let schema = batch.schema();
    for (i, field) in schema.fields().iter().enumerate() {
        let array = batch.column(i);
        let mut push = |row: usize, kind: PiiKind| {
            leaks.push(Leak {
                column: field.name().clone(),
                row,
                kind,
                part: "cell",
            })
        };
        match array.data_type() {
            dt if dt.is_numeric() => {
                // IDs cell by cell; mobiles and cards when most of the column is.
                let column = super::redaction::numeric_column_kind(array);
                let kinds = match column {
                    Some(_) => super::redaction::number_kinds(array),
                    None => super::redaction::cell_identifiers(array),
                };
                for (row, kind) in kinds.into_iter().enumerate() {
                    if let Some(kind) = kind {
                        push(row, kind);
                    }
                }
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                scan_texts_of(array, &mut push)
            }
            _ => scan_texts_of(&as_text(array), &mut push),
        }
    }
    for s in super::split::find_split(batch.columns()) {
        leaks.push(Leak {
            column: schema.field(s.left).name().clone(),
            row: s.row,
            kind: s.kind,
            part: "split_cells",
        });
    }
    leaks
}

/// The column as text (null where a value has no text form).
fn as_text(array: &ArrayRef) -> ArrayRef {
    arrow::compute::cast(array, &DataType::Utf8)
        .unwrap_or_else(|_| arrow::array::new_null_array(&DataType::Utf8, array.len()))
}

fn scan_texts_of(array: &ArrayRef, push: &mut impl FnMut(usize, PiiKind)) {
    if super::value_bytes(array).is_some_and(|b| !super::may_hold_personal_anywhere(b)) {
        return;
    }
    let values = super::redaction::borrowed_strings(array);
    let sample: Vec<&str> = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| !v.trim().is_empty())
        .take(super::SAMPLE_VALUES)
        .collect();
    let numbers = super::classify::mostly_bare_numbers(&sample);
    for (row, value) in values.into_iter().enumerate() {
        let Some(value) = value else { continue };
        for f in super::find_in_cell(value, numbers) {
            push(row, f.kind);
        }
    }
}

/// Identifiers in a schema: field names and the keys and values of the
/// field and schema metadata.
pub fn scan_schema(schema: &Schema) -> Vec<Leak> {
    let mut leaks = Vec::new();
    for field in schema.fields() {
        for f in super::find_personal_in(field.name(), true) {
            leaks.push(Leak {
                column: field.name().clone(),
                row: 0,
                kind: f.kind,
                part: "field_name",
            });
        }
        for (k, v) in field.metadata() {
            for f in super::find_personal_in(k, true)
                .into_iter()
                .chain(super::find_personal_in(v, true))
            {
                leaks.push(Leak {
                    column: field.name().clone(),
                    row: 0,
                    kind: f.kind,
                    part: "metadata",
                });
            }
        }
    }
    for (k, v) in schema.metadata() {
        for f in super::find_personal_in(k, true)
            .into_iter()
            .chain(super::find_personal_in(v, true))
        {
            leaks.push(Leak {
                column: "(schema)".into(),
                row: 0,
                kind: f.kind,
                part: "metadata",
            });
        }
    }
    leaks
}

/// Identifiers in texts published beside the data (titles, descriptions,
/// column names and descriptions, file names): `(where, kind)` for each.
pub fn scan_texts<'a>(
    texts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, PiiKind)> {
    let mut out = Vec::new();
    for (place, text) in texts {
        for f in super::find_personal(text) {
            out.push((place.to_string(), f.kind));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, LargeStringArray, StringArray};
    use arrow::datatypes::Field;
    use std::sync::Arc;

    #[test]
    fn the_gate_reads_every_form_type_and_name() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("note", DataType::LargeUtf8, true),
            Field::new("amount", DataType::Float64, true),
            Field::new("a", DataType::Utf8, true),
            Field::new("b", DataType::Utf8, true),
            Field::new("lian_xi_13912345678", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(LargeStringArray::from(vec![Some(
                    "联系 139\u{2212}1234\u{2212}5678",
                )])),
                Arc::new(Float64Array::from(vec![Some(13_812_345_678.0)])),
                Arc::new(StringArray::from(vec![Some("110105194912")])),
                Arc::new(StringArray::from(vec![Some("31002X")])),
                Arc::new(StringArray::from(vec![Some("无")])),
            ],
        )
        .unwrap();
        let leaks = scan(&batch);
        let parts: Vec<(&str, &str)> = leaks.iter().map(|l| (l.column.as_str(), l.part)).collect();
        assert_eq!(
            parts,
            [("note", "cell"), ("amount", "cell"), ("a", "split_cells")]
        );
        let names = scan_schema(&schema);
        assert_eq!(names.len(), 1);
        assert_eq!(names[0].part, "field_name");
    }
}
