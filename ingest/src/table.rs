//! From detected shapes and typed columns to one Arrow table and its report.

use crate::naming::unique_names;
use crate::read::{Cell, Sheet, Workbook};
use crate::report::{
    ColumnReport, Report, SheetReport, TotalsCheck, TotalsColumn, Warning, column_letter,
};
use crate::shape::{Shape, detect};
use crate::text::{normalize, split_header_unit};
use crate::typing::{Kind, Misfit, TypedColumn, Values, type_column};
use crate::{Error, IngestOptions, Result};
use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int64Array, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use std::collections::HashMap;
use std::sync::Arc;

/// Field-metadata keys carried in the Parquet/Arrow schema.
pub mod meta {
    /// JSON array of the original header path.
    pub const PATH: &str = "gongkai:path";
    /// Unit of the values.
    pub const UNIT: &str = "gongkai:unit";
    /// integer | decimal | date | boolean | code | string.
    pub const KIND: &str = "gongkai:kind";
}

/// The result of ingesting a file: the table to publish and the report.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// The table (one batch), columns named in ASCII snake_case.
    pub batch: RecordBatch,
    /// What was detected.
    pub report: Report,
}

struct SheetTable<'a> {
    sheet: &'a Sheet,
    shape: Shape,
}

/// The reader's notes (decoding problems, odd extensions) as report warnings.
pub(crate) fn read_notes(notes: &[String]) -> Vec<Warning> {
    notes
        .iter()
        .map(|n| Warning {
            code: "read_note".into(),
            sheet: None,
            row: None,
            column: None,
            header: None,
            message: n.clone(),
        })
        .collect()
}

/// Rows from which a read workbook is freed on a thread of its own.
const FREE_APART_ROWS: usize = 10_000;

/// Detects, types and assembles the table of a read workbook.
pub fn build(file: &str, workbook: Workbook, options: &IngestOptions) -> Result<Ingested> {
    let built = build_from(file, &workbook, options);
    // A sheet of many cells takes a while to free (a heap string per text
    // cell): freed on a thread of its own, not on the way to the output.
    if workbook.sheets.iter().map(|s| s.rows.len()).sum::<usize>() >= FREE_APART_ROWS {
        // Should the thread not start, the workbook is freed here.
        let _ = std::thread::Builder::new()
            .name("gongkai-free".into())
            .spawn(move || drop(workbook));
    }
    built
}

fn build_from(file: &str, workbook: &Workbook, options: &IngestOptions) -> Result<Ingested> {
    let mut warnings = read_notes(&workbook.notes);
    let hidden_sheets: Vec<String> = workbook
        .sheets
        .iter()
        .filter(|s| s.hidden)
        .map(|s| s.name.clone())
        .collect();
    for name in &hidden_sheets {
        warnings.push(Warning {
            code: "hidden_sheet".into(),
            sheet: Some(name.clone()),
            row: None,
            column: None,
            header: None,
            message: format!("sheet {name:?} is hidden; it is not published"),
        });
    }
    if let Some(wanted) = &options.sheet
        && !workbook.sheets.iter().any(|s| &s.name == wanted)
    {
        return Err(Error::NoSuchSheet {
            file: file.to_string(),
            sheet: wanted.clone(),
            available: workbook
                .sheets
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let tables: Vec<SheetTable> = workbook
        .sheets
        .iter()
        .filter(|s| !s.hidden || options.sheet.as_ref() == Some(&s.name))
        .filter_map(|sheet| detect(sheet).map(|shape| SheetTable { sheet, shape }))
        .collect();

    // Every sheet's report, with its typed columns (reused when the table is
    // one sheet).
    let (sheet_reports, mut sheet_columns): (Vec<SheetReport>, Vec<Vec<SheetColumn>>) =
        tables.iter().map(sheet_report).unzip();

    // The published table: the chosen sheet, or the first sheet with data plus
    // every later sheet with the same header paths (one sheet per township…).
    let paths_of = |t: &SheetTable| {
        t.shape
            .columns
            .iter()
            .map(|c| c.path.clone())
            .collect::<Vec<_>>()
    };
    let main = match &options.sheet {
        Some(name) => tables.iter().position(|t| &t.sheet.name == name),
        None => tables.iter().position(|t| !t.shape.data_rows.is_empty()),
    };
    let Some(main) = main else {
        return Err(Error::NoTable {
            file: file.to_string(),
            detail: "no table with data rows was found in any visible sheet".into(),
        });
    };
    let main_paths = paths_of(&tables[main]);
    let used: Vec<&SheetTable> = if options.sheet.is_some() {
        vec![&tables[main]]
    } else {
        tables
            .iter()
            .filter(|t| paths_of(t) == main_paths && !t.shape.data_rows.is_empty())
            .collect()
    };
    for t in tables
        .iter()
        .filter(|t| !used.iter().any(|u| std::ptr::eq(*u, *t)))
    {
        if !t.shape.data_rows.is_empty() {
            warnings.push(Warning {
                code: "other_table".into(),
                sheet: Some(t.sheet.name.clone()),
                row: None,
                column: None,
                header: None,
                message: format!(
                    "sheet {:?} holds a differently shaped table; upload it as a separate dataset (choose it with ?sheet=)",
                    t.sheet.name
                ),
            });
        }
    }

    let combine = used.len() > 1;
    let mut paths: Vec<Vec<String>> = Vec::new();
    if combine {
        paths.push(vec!["工作表".to_string()]);
    }
    paths.extend(main_paths.iter().cloned());
    let names = unique_names(&paths);
    let units: Vec<Option<String>> = paths
        .iter()
        .map(|p| p.last().and_then(|h| split_header_unit(h).1))
        .collect();
    let table_unit = used.iter().find_map(|t| t.shape.unit.clone());

    // Gather cells column by column across the used sheets.
    // One cell per sheet for the 工作表 column, referenced by each of its rows.
    let sheet_names: Vec<Cell> = used
        .iter()
        .map(|t| Cell::Text(t.sheet.name.clone()))
        .collect();
    let locations: Vec<(&str, usize)> = used
        .iter()
        .flat_map(|t| {
            t.shape
                .data_rows
                .iter()
                .map(|&r| (t.sheet.name.as_str(), r))
        })
        .collect();
    let mut columns: Vec<(Vec<&Cell>, Option<usize>)> = Vec::new();
    if combine {
        columns.push((
            used.iter()
                .zip(&sheet_names)
                .flat_map(|(t, name)| t.shape.data_rows.iter().map(move |_| name))
                .collect(),
            None,
        ));
    }
    for (ci, _) in main_paths.iter().enumerate() {
        let cells: Vec<&Cell> = used
            .iter()
            .flat_map(|t| {
                let idx = t.shape.columns[ci].index;
                t.shape
                    .data_rows
                    .iter()
                    .map(move |&r| t.sheet.rows[r].get(idx).unwrap_or(&Cell::Empty))
            })
            .collect();
        columns.push((cells, Some(tables[main].shape.columns[ci].index)));
    }

    // One sheet: its columns as its report typed them; else typed anew, the
    // columns side by side.
    let typed_columns: Vec<SheetColumn> = if combine {
        crate::parallel::map(columns.iter().enumerate().collect(), |(i, (cells, _))| {
            SheetColumn {
                typed: type_column(paths[i].last().map_or("", String::as_str), cells),
                arrow: None,
            }
        })
    } else {
        std::mem::take(&mut sheet_columns[main])
    };
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    let mut column_reports = Vec::new();
    for (i, ((_, sheet_col), column)) in columns.iter().zip(typed_columns).enumerate() {
        let SheetColumn { typed, arrow } = column;
        let unit = column_unit(
            typed.kind,
            typed.percent,
            units[i].clone(),
            table_unit.clone(),
        );
        let at = |index: usize| {
            let (sheet, row) = locations.get(index).copied().unwrap_or(("", 0));
            (sheet.to_string(), row)
        };
        locate(
            &Problems::of(&typed),
            &names[i],
            &paths[i],
            *sheet_col,
            &at,
            &mut warnings,
        );
        // One sheet: its columns as its report converted them.
        let (field, array) = match arrow {
            Some(converted) => converted?,
            None => to_arrow(
                &names[i],
                &paths[i],
                unit.as_deref(),
                typed.kind,
                typed.values,
            )?,
        };
        column_reports.push(column_report(
            &names[i],
            &paths[i],
            unit,
            typed.kind,
            &typed.null_markers,
            &field,
            &array,
        ));
        fields.push(field);
        arrays.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema, arrays)?;

    Ok(Ingested {
        report: Report {
            file: file.to_string(),
            format: serde_json::to_value(workbook.format)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            encoding: workbook.encoding.clone(),
            delimiter: workbook.delimiter.map(|d| d.to_string()),
            sheets: sheet_reports,
            table_sheets: used.iter().map(|t| t.sheet.name.clone()).collect(),
            rows: batch.num_rows(),
            columns: column_reports,
            hidden_sheets,
            warnings,
            privacy: Vec::new(),
        },
        batch,
    })
}

/// The unit of a column: its header's, else (for money-like decimals) the
/// table's unit line; percentages are stored as fractions.
pub(crate) fn column_unit(
    kind: Kind,
    percent: bool,
    header_unit: Option<String>,
    table_unit: Option<String>,
) -> Option<String> {
    if percent {
        return header_unit.or_else(|| Some("1 (fraction; was %)".to_string()));
    }
    match kind {
        Kind::Decimal { .. } => header_unit.or(table_unit),
        Kind::Integer => header_unit,
        _ => None,
    }
}

/// The values of one column that did not fit its type or were destroyed.
pub(crate) struct Problems<'a> {
    pub(crate) misfits: &'a [Misfit],
    pub(crate) misfit_total: usize,
    pub(crate) destroyed: &'a [Misfit],
    pub(crate) destroyed_total: usize,
}

impl<'a> Problems<'a> {
    fn of(typed: &'a TypedColumn) -> Self {
        Problems {
            misfits: &typed.misfits,
            misfit_total: typed.misfit_total,
            destroyed: &typed.destroyed,
            destroyed_total: typed.destroyed_total,
        }
    }
}

/// Turns misfits and destroyed values into located warnings; `at` gives the
/// sheet and 0-based row of a value's index.
pub(crate) fn locate(
    typed: &Problems,
    name: &str,
    path: &[String],
    sheet_col: Option<usize>,
    at: &dyn Fn(usize) -> (String, usize),
    warnings: &mut Vec<Warning>,
) {
    const MAX_PER_COLUMN: usize = crate::typing::MAX_KEPT_PROBLEMS;
    let header = path.join("/");
    let mut emit = |code: &str, m: &Misfit| {
        let (sheet, row) = at(m.index);
        warnings.push(Warning {
            code: code.into(),
            sheet: Some(sheet),
            row: Some(row + 1),
            column: sheet_col.map(column_letter),
            header: Some(header.clone()),
            message: format!("{name}: {:?} {}; stored as null", m.value, m.reason),
        });
    };
    for m in typed.misfits.iter().take(MAX_PER_COLUMN) {
        emit("value_not_in_type", m);
    }
    for m in typed.destroyed.iter().take(MAX_PER_COLUMN) {
        emit("precision_lost", m);
    }
    let extra = typed.misfit_total.saturating_sub(MAX_PER_COLUMN)
        + typed.destroyed_total.saturating_sub(MAX_PER_COLUMN);
    if extra > 0 {
        warnings.push(Warning {
            code: "more_problems".into(),
            sheet: None,
            row: None,
            column: sheet_col.map(column_letter),
            header: Some(header.clone()),
            message: format!("{name}: {extra} more values with problems"),
        });
    }
}

/// One column as an Arrow field (with its header path, kind and unit as
/// field metadata) and array.
pub(crate) fn to_arrow(
    name: &str,
    path: &[String],
    unit: Option<&str>,
    kind: Kind,
    values: Values,
) -> Result<(Field, ArrayRef)> {
    let (data_type, array): (DataType, ArrayRef) = match (values, kind) {
        (Values::Int(v), _) => (DataType::Int64, Arc::new(Int64Array::from(v))),
        (Values::Decimal(v), Kind::Decimal { precision, scale }) => {
            let a = Decimal128Array::from(v).with_precision_and_scale(precision, scale as i8)?;
            (DataType::Decimal128(precision, scale as i8), Arc::new(a))
        }
        (Values::Decimal(v), _) => {
            let a = Decimal128Array::from(v).with_precision_and_scale(38, 0)?;
            (DataType::Decimal128(38, 0), Arc::new(a))
        }
        (Values::Date(v), _) => (DataType::Date32, Arc::new(Date32Array::from(v))),
        (Values::Timestamp(v), _) => (
            DataType::Timestamp(TimeUnit::Millisecond, None),
            Arc::new(TimestampMillisecondArray::from(v)),
        ),
        (Values::Bool(v), _) => (DataType::Boolean, Arc::new(BooleanArray::from(v))),
        (Values::Text(v), _) => (DataType::Utf8, Arc::new(v.into_array()?)),
    };
    let mut metadata = HashMap::new();
    metadata.insert(
        meta::PATH.to_string(),
        serde_json::to_string(path).unwrap_or_default(),
    );
    metadata.insert(meta::KIND.to_string(), kind.name().to_string());
    if let Some(u) = unit {
        metadata.insert(meta::UNIT.to_string(), u.to_string());
    }
    Ok((
        Field::new(name, data_type, true).with_metadata(metadata),
        array,
    ))
}

/// Adds up to three distinct example values of `array` to `examples`.
pub(crate) fn add_examples(examples: &mut Vec<String>, array: &ArrayRef) {
    if examples.len() >= 3 {
        return;
    }
    let formatter =
        arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &Default::default()).ok();
    if let Some(f) = formatter {
        for i in 0..array.len() {
            if examples.len() >= 3 {
                break;
            }
            if array.is_valid(i) {
                let v = f.value(i).to_string();
                if !examples.contains(&v) {
                    examples.push(v);
                }
            }
        }
    }
}

pub(crate) fn column_report(
    name: &str,
    path: &[String],
    unit: Option<String>,
    kind: Kind,
    null_markers: &std::collections::BTreeMap<String, usize>,
    field: &Field,
    array: &ArrayRef,
) -> ColumnReport {
    let mut examples = Vec::new();
    add_examples(&mut examples, array);
    ColumnReport {
        name: name.to_string(),
        path: path.to_vec(),
        data_type: field.data_type().to_string(),
        kind: kind.name().to_string(),
        unit,
        pii: None,
        nulls: array.null_count(),
        null_markers: null_markers.clone(),
        examples,
    }
}

/// A column of a sheet as its report typed it and converted it to Arrow
/// (the values then are in the array, not in `typed`).
struct SheetColumn {
    typed: TypedColumn,
    arrow: Option<Result<(Field, ArrayRef)>>,
}

/// Per-sheet report (its own columns and types) and totals checks, with the
/// sheet's columns.
fn sheet_report(t: &SheetTable) -> (SheetReport, Vec<SheetColumn>) {
    let shape = &t.shape;
    let paths: Vec<Vec<String>> = shape.columns.iter().map(|c| c.path.clone()).collect();
    let names = unique_names(&paths);
    let mut columns = Vec::new();
    let mut totals: Vec<TotalsCheck> = shape
        .totals_rows
        .iter()
        .map(|&r| TotalsCheck {
            row: r + 1,
            columns: Vec::new(),
        })
        .collect();
    // The columns typed side by side.
    let typed_columns = crate::parallel::map(shape.columns.iter().collect(), |col| {
        let cells: Vec<&Cell> = shape
            .data_rows
            .iter()
            .map(|&r| t.sheet.rows[r].get(col.index).unwrap_or(&Cell::Empty))
            .collect();
        type_column(col.path.last().map_or("", String::as_str), &cells)
    });
    let mut sheet_columns = Vec::with_capacity(typed_columns.len());
    for ((ci, col), mut typed) in shape.columns.iter().enumerate().zip(typed_columns) {
        let unit = column_unit(
            typed.kind,
            typed.percent,
            col.path.last().and_then(|h| split_header_unit(h).1),
            shape.unit.clone(),
        );
        if matches!(typed.kind, Kind::Decimal { .. } | Kind::Integer) {
            let sum = sum_value(sum_of(&typed.values, typed.kind), typed.kind);
            for (k, &r) in shape.totals_rows.iter().enumerate() {
                let cell = t.sheet.rows[r].get(col.index).unwrap_or(&Cell::Empty);
                if let Some(check) = totals_column(&names[ci], cell, sum) {
                    totals[k].columns.push(check);
                }
            }
        }
        let values = std::mem::replace(&mut typed.values, Values::Bool(Vec::new()));
        let arrow = to_arrow(&names[ci], &col.path, unit.as_deref(), typed.kind, values);
        if let Ok((field, array)) = &arrow {
            columns.push(column_report(
                &names[ci],
                &col.path,
                unit,
                typed.kind,
                &typed.null_markers,
                field,
                array,
            ));
        }
        sheet_columns.push(SheetColumn {
            typed,
            arrow: Some(arrow),
        });
    }
    let report = SheetReport {
        name: t.sheet.name.clone(),
        title: shape.title.clone(),
        unit: shape.unit.clone(),
        header_rows: shape.header_rows.map(|(a, b)| [a, b]),
        data_rows: shape.data_rows.len(),
        totals,
        footnotes: shape
            .footnotes
            .iter()
            .map(|(r, t)| (r + 1, t.clone()))
            .collect(),
        blank_rows: shape.blank_rows,
        columns,
    };
    (report, sheet_columns)
}

/// A totals row's stated value of one column checked against the sum of its data.
pub(crate) fn totals_column(name: &str, cell: &Cell, sum: f64) -> Option<TotalsColumn> {
    let stated = normalize(&cell.display());
    let stated_f = crate::text::parse_number(&stated)?.value.to_f64();
    Some(TotalsColumn {
        column: name.to_string(),
        stated,
        computed: crate::text::format_excel_number(sum),
        matches: (stated_f - sum).abs() <= 0.005 * stated_f.abs().max(1.0) / 100.0 + 0.01,
    })
}

/// The sum of a numeric column's values (0 for other kinds).
///
/// Exact: unscaled values are added as integers (saturating), so a column
/// summed in pieces gives the very same total. See [`sum_value`].
pub(crate) fn sum_of(values: &Values, kind: Kind) -> i128 {
    match (values, kind) {
        (Values::Int(v), _) => v
            .iter()
            .flatten()
            .fold(0i128, |s, &x| s.saturating_add(i128::from(x))),
        (Values::Decimal(v), Kind::Decimal { .. }) => {
            v.iter().flatten().fold(0i128, |s, &x| s.saturating_add(x))
        }
        _ => 0,
    }
}

/// An unscaled sum of [`sum_of`] as a number.
pub(crate) fn sum_value(unscaled: i128, kind: Kind) -> f64 {
    match kind {
        Kind::Decimal { scale, .. } => unscaled as f64 / 10f64.powi(i32::from(scale)),
        _ => unscaled as f64,
    }
}
