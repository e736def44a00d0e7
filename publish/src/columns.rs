//! Agencies' column edits before publication: new names and types.
//!
//! Edits are kept per version (in the report, under `column_overrides`) keyed
//! by the name ingest gave the column, and applied every time the draft is
//! derived from the raw upload — after redaction, so a renamed personal column
//! keeps its redaction. A type change that some value cannot take is refused
//! with the rows that do not fit; nothing is silently nulled.

use crate::Error;
use arrow::array::{Array, ArrayRef};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One column's edit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnOverride {
    /// New ASCII snake_case name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New type: `text`, `integer`, `decimal`, `number`, `date`, `boolean`, or
    /// an Arrow type as Arrow writes it (`Decimal128(18, 2)`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
}

/// Edits by the column's ingested name.
pub type Overrides = BTreeMap<String, ColumnOverride>;

/// The overrides recorded in a version's report.
pub fn recorded(report: &serde_json::Value) -> Overrides {
    serde_json::from_value(report["column_overrides"].clone()).unwrap_or_default()
}

/// The ingested name of the column now called `current`.
pub fn original_name<'a>(overrides: &'a Overrides, current: &'a str) -> &'a str {
    overrides
        .iter()
        .find(|(_, o)| o.name.as_deref() == Some(current))
        .map(|(k, _)| k.as_str())
        .unwrap_or(current)
}

/// The Arrow type for a requested type name.
pub fn parse_type(name: &str) -> Result<DataType, Error> {
    let t = match name.trim().to_ascii_lowercase().as_str() {
        "text" | "string" | "utf8" => DataType::Utf8,
        "integer" | "int" | "int64" => DataType::Int64,
        "number" | "float" | "float64" | "double" => DataType::Float64,
        "decimal" => DataType::Decimal128(18, 2),
        "date" | "date32" => DataType::Date32,
        "boolean" | "bool" => DataType::Boolean,
        _ => name.trim().parse::<DataType>().map_err(|_| {
            Error::InvalidType(format!(
                "unknown type {name:?}; use text, integer, decimal, number, date, boolean or an Arrow type such as Decimal128(18, 2)"
            ))
        })?,
    };
    let allowed = matches!(
        t,
        DataType::Utf8
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Float64
            | DataType::Decimal128(_, _)
            | DataType::Date32
            | DataType::Boolean
    );
    if allowed {
        Ok(t)
    } else {
        Err(Error::InvalidType(format!(
            "columns cannot be published as {t}"
        )))
    }
}

/// Whether `name` can name a SQL column without quoting.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// Applies `overrides` to an ingested table and its report.
pub fn apply(ingested: &mut gongkai_ingest::Ingested, overrides: &Overrides) -> Result<(), Error> {
    ingested.batch = apply_to_batch(ingested.batch.clone(), overrides, 0)?;
    apply_to_report(&mut ingested.report, overrides);
    Ok(())
}

/// Applies `overrides` to one batch of a table whose first row is data row
/// `first_row + 1` (for the rows named when a value cannot take a new type).
pub fn apply_to_batch(
    batch: RecordBatch,
    overrides: &Overrides,
    first_row: usize,
) -> Result<RecordBatch, Error> {
    if overrides.is_empty() {
        return Ok(batch);
    }
    let schema = batch.schema();
    // Edits of columns that redaction removed since are kept (they apply again
    // if the column comes back) but have nothing to change now.
    let mut fields: Vec<Field> = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (i, f) in schema.fields().iter().enumerate() {
        let o = overrides.get(f.name());
        let mut field = f.as_ref().clone();
        let mut array = batch.column(i).clone();
        if let Some(t) = o.and_then(|o| o.data_type.as_deref()) {
            let target = parse_type(t)?;
            if &target != f.data_type() {
                array = retype(&array, f.name(), &target, first_row)?;
                field = field.with_data_type(target);
            }
        }
        if let Some(n) = o.and_then(|o| o.name.as_deref()) {
            if !valid_name(n) {
                return Err(Error::InvalidName(n.to_string()));
            }
            field = field.with_name(n);
        }
        fields.push(field);
        arrays.push(array);
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = fields.iter().find(|f| !seen.insert(f.name().clone())) {
        return Err(Error::DuplicateName(dup.name().clone()));
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let options =
        arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(schema, arrays, &options).map_err(Error::internal)
}

/// Applies `overrides` to an ingest report: names and types of its columns,
/// and the column names of its privacy findings.
pub fn apply_to_report(report: &mut gongkai_ingest::Report, overrides: &Overrides) {
    if overrides.is_empty() {
        return;
    }
    let fix = |c: &mut gongkai_ingest::report::ColumnReport| {
        if let Some(o) = overrides.get(&c.name) {
            if let Some(t) = o.data_type.as_deref().and_then(|t| parse_type(t).ok()) {
                c.data_type = t.to_string();
            }
            if let Some(n) = &o.name {
                c.name = n.clone();
            }
        }
    };
    report.columns.iter_mut().for_each(fix);
    for s in &mut report.sheets {
        s.columns.iter_mut().for_each(fix);
    }
    for f in &mut report.privacy {
        if let Some(n) = overrides.get(&f.column).and_then(|o| o.name.clone()) {
            f.column = n;
        }
    }
}

/// Casts a column, refusing when a value does not fit (with up to five examples).
fn retype(
    array: &ArrayRef,
    column: &str,
    target: &DataType,
    first_row: usize,
) -> Result<ArrayRef, Error> {
    let options = CastOptions {
        safe: true,
        ..CastOptions::default()
    };
    let cast = cast_with_options(array, target, &options).map_err(|e| Error::CannotRetype {
        message: format!("column {column:?} cannot become {target}: {e}"),
        column: column.to_string(),
        to_type: target.to_string(),
        failures: array.len() - array.null_count(),
        examples: Vec::new(),
    })?;
    let bad: Vec<usize> = (0..array.len())
        .filter(|&r| array.is_valid(r) && cast.is_null(r))
        .collect();
    if bad.is_empty() {
        return Ok(cast);
    }
    let shown = FormatOptions::default();
    let values = ArrayFormatter::try_new(array.as_ref(), &shown).ok();
    let examples: Vec<serde_json::Value> = bad
        .iter()
        .take(5)
        .map(|&r| {
            serde_json::json!({
                "data_row": first_row + r + 1,
                "value": values.as_ref().map(|v| v.value(r).to_string()),
            })
        })
        .collect();
    Err(Error::CannotRetype {
        message: format!(
            "column {column:?} cannot become {target}: {} value(s) do not fit, first in data row {} / 有 {} 个值无法转换",
            bad.len(),
            first_row + bad[0] + 1,
            bad.len()
        ),
        column: column.to_string(),
        to_type: target.to_string(),
        failures: bad.len(),
        examples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_and_column_names() {
        assert_eq!(parse_type("text").unwrap(), DataType::Utf8);
        assert_eq!(
            parse_type("Decimal128(20, 4)").unwrap(),
            DataType::Decimal128(20, 4)
        );
        assert!(parse_type("Binary").is_err());
        assert!(parse_type("nonsense").is_err());
        assert!(valid_name("amount_2024"));
        assert!(!valid_name("2024_amount"));
        assert!(!valid_name("Amount"));
        assert!(!valid_name("金额"));
    }

    #[test]
    fn retype_refuses_values_that_do_not_fit() {
        let a: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![
            Some("1"),
            None,
            Some("x"),
        ]));
        let e = retype(&a, "n", &DataType::Int64, 0).unwrap_err();
        assert_eq!(e.code(), gongkai_codes::Code::CannotRetype);
        assert!(e.to_string().contains("data row 3"), "{e}");
        let ok: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![Some("1"), None]));
        assert_eq!(
            retype(&ok, "n", &DataType::Int64, 0).unwrap().null_count(),
            1
        );
    }
}
