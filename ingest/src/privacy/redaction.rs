//! Redaction of one table: planned once from its first rows, applied batch
//! by batch, summed up in the report.
//!
//! [`Redaction::plan`] decides each column's [`Treatment`] from the header
//! and a sample of values ([`super::classify`]); [`Redaction::apply`]
//! transforms every batch the same way (so a streamed file is redacted
//! exactly like a file read whole), and then masks identifiers split across
//! two adjacent cells of a row ([`split`]); [`Redaction::finish`] records
//! the findings, each kept column's `pii`, and cleans every text of the
//! report (sheet names, headers, titles, warnings, the file name) of
//! identifiers.

use super::address::{self, Outcome};
use super::classify::{
    header_kind, integer_kind, mostly_organisations, names_residence, number_kind, value_kind,
};
use super::{
    Action, Category, Finding, NEVER_RAW, PiiKind, RedactionPolicy, RuleCount, applicable, canon,
    mask_in_text, pseudonym,
};
use crate::Result;
use crate::report::{Report, Warning};
use arrow::array::{Array, ArrayRef, AsArray, Int32Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Values sampled per column to recognise identifiers by their values.
pub const SAMPLE_VALUES: usize = 1000;

/// What redaction does to one column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Treatment {
    /// Published as is (dates, times, booleans: no identifier fits them).
    Pass,
    /// Free text: identifiers inside cells are masked cell by cell.
    MaskCells,
    /// Numbers: a value that is an identifier (a mobile, an ID, a card, an
    /// ID whose digits a float lost) is withheld, cell by cell.
    CheckNumbers,
    /// Not published; `by_agency` when the agency asked for it on a column
    /// with nothing detected.
    Drop { by_agency: bool },
    /// Replaced by `action` (mask, generalise, pseudonym, keep).
    Replace(Action),
}

/// One column's plan and what applying it did.
#[derive(Debug, Clone)]
pub(super) struct PlannedColumn {
    pub(super) name: String,
    pub(super) path: Vec<String>,
    kind: Option<PiiKind>,
    by: &'static str,
    treatment: Treatment,
    /// Non-null input cells (a finding's `cells`), or changed cells for
    /// MaskCells and CheckNumbers.
    pub(super) cells: usize,
    pub(super) preview: Vec<String>,
    /// Identifiers masked or withheld cell by cell: IDs, mobiles, cards, names.
    pub(super) masked: [usize; 4],
    out_type: Option<DataType>,
    /// Address generalisation: values per outcome, with examples.
    rules: BTreeMap<&'static str, RuleCount>,
    /// A text column of mostly bare numbers ([`super::find_in_cell`]).
    numbers: bool,
}

impl PlannedColumn {
    fn new(name: String, path: Vec<String>, treatment: Treatment) -> Self {
        PlannedColumn {
            name,
            path,
            kind: None,
            by: "values",
            treatment,
            cells: 0,
            preview: Vec::new(),
            masked: [0; 4],
            out_type: None,
            rules: BTreeMap::new(),
            numbers: false,
        }
    }

    /// Counts one identifier masked or withheld inside a cell.
    pub(super) fn count_masked(&mut self, kind: PiiKind) {
        let k = match kind {
            PiiKind::CnResidentId => 0,
            PiiKind::CnMobile => 1,
            PiiKind::PersonName => 3,
            _ => 2,
        };
        self.masked[k] += 1;
    }
}

/// Redaction decided once from the head of a table and then applied batch
/// by batch, so a streamed file is redacted exactly like a file read whole:
/// [`Redaction::plan`] on the first rows (at least [`SAMPLE_VALUES`]
/// non-empty values per column, or all rows), [`Redaction::apply`] on every
/// batch, [`Redaction::finish`] for the findings and the report.
#[derive(Debug, Clone)]
pub struct Redaction {
    policy: RedactionPolicy,
    columns: Vec<PlannedColumn>,
}

fn is_text(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    )
}

fn is_number(dt: &DataType) -> bool {
    dt.is_integer() || dt.is_floating() || matches!(dt, DataType::Decimal128(..))
}

/// The values of a text column, borrowed (none for other types).
pub(super) fn borrowed_strings(array: &ArrayRef) -> Vec<Option<&str>> {
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
        DataType::Utf8View => array.as_string_view().iter().collect(),
        _ => Vec::new(),
    }
}

fn strings(array: &ArrayRef) -> Option<Vec<Option<String>>> {
    is_text(array.data_type()).then(|| {
        borrowed_strings(array)
            .into_iter()
            .map(|v| v.map(str::to_string))
            .collect()
    })
}

/// The identifier kind of each value of a numeric column (`None` for a
/// value that is none, or not a number).
pub(super) fn number_kinds(array: &ArrayRef) -> Vec<Option<PiiKind>> {
    use arrow::datatypes::*;
    let dt = array.data_type();
    macro_rules! ints {
        ($t:ty) => {
            array
                .as_primitive::<$t>()
                .iter()
                .map(|v| v.and_then(|v| integer_kind(i128::from(v))))
                .collect()
        };
    }
    match dt {
        DataType::Int8 | DataType::Int16 | DataType::UInt8 | DataType::UInt16 => {
            vec![None; array.len()]
        }
        DataType::Int32 => ints!(Int32Type),
        DataType::Int64 => ints!(Int64Type),
        DataType::UInt32 => ints!(UInt32Type),
        DataType::UInt64 => ints!(UInt64Type),
        DataType::Float16 => vec![None; array.len()],
        DataType::Float32 => array
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.and_then(|v| number_kind(f64::from(v))))
            .collect(),
        DataType::Float64 => array
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.and_then(number_kind))
            .collect(),
        DataType::Decimal128(_, scale) => {
            let ten = 10i128.checked_pow(u32::try_from((*scale).max(0)).unwrap_or(0));
            array
                .as_primitive::<Decimal128Type>()
                .iter()
                .map(|v| {
                    let ten = ten?;
                    let v = v?;
                    (v % ten == 0).then(|| integer_kind(v / ten)).flatten()
                })
                .collect()
        }
        _ => vec![None; array.len()],
    }
}

/// The identifiers a numeric column's cells are on their own: only IDs
/// with their check digit (or an ID whose digits a float lost), which an
/// amount or a count never is by chance. An 11-digit amount may read as a
/// mobile and a 16-digit one as a card, so those are told by the column
/// (more than half of its values, [`numeric_column_kind`]), not per cell.
pub(super) fn cell_identifiers(array: &ArrayRef) -> Vec<Option<PiiKind>> {
    let mut kinds = number_kinds(array);
    for k in &mut kinds {
        if *k != Some(PiiKind::CnResidentId) {
            *k = None;
        }
    }
    kinds
}

/// The identifier kind more than half of a numeric column's (sampled)
/// values are, if any.
pub(super) fn numeric_column_kind(array: &ArrayRef) -> Option<PiiKind> {
    let sample = array.slice(0, array.len().min(SAMPLE_VALUES * 4));
    let values = sample.len() - sample.null_count();
    let kinds: Vec<PiiKind> = number_kinds(&sample).into_iter().flatten().collect();
    [PiiKind::CnResidentId, PiiKind::CnMobile, PiiKind::BankCard]
        .into_iter()
        .find(|k| kinds.iter().filter(|x| *x == k).count() * 2 > values)
}

/// Keeps the values of `array` whose `withheld` flag is false (nulls the others).
fn without(array: &ArrayRef, withheld: &[bool]) -> Result<ArrayRef> {
    let keep = arrow::array::BooleanArray::from(withheld.iter().map(|w| !w).collect::<Vec<_>>());
    let nulls = arrow::array::new_null_array(array.data_type(), array.len());
    Ok(arrow::compute::kernels::zip::zip(&keep, array, &nulls)?)
}

/// Identifiers masked inside the texts `values` of `array`, which is
/// copied only from the first cell that changes.
fn mask_cells<'a>(
    col: &mut PlannedColumn,
    values: impl Iterator<Item = Option<&'a str>> + Clone,
    array: &ArrayRef,
) -> Option<ArrayRef> {
    let mut masked: Option<Vec<Option<String>>> = None;
    for (r, v) in values.clone().enumerate() {
        let m = v.and_then(|v| {
            let found = super::find_in_cell(v, col.numbers);
            (!found.is_empty()).then(|| {
                for f in &found {
                    col.count_masked(f.kind);
                }
                canon::replace(v, &found)
            })
        });
        if let Some(m) = &m {
            col.cells += 1;
            if col.preview.len() < 3 {
                col.preview.push(m.clone());
            }
        }
        match (&mut masked, m) {
            (Some(out), m) => out.push(m.or_else(|| v.map(str::to_string))),
            (None, Some(m)) => {
                let mut out: Vec<Option<String>> = Vec::with_capacity(array.len());
                out.extend(values.clone().take(r).map(|v| v.map(str::to_string)));
                out.push(Some(m));
                masked = Some(out);
            }
            (None, None) => {}
        }
    }
    match masked {
        Some(out) => Some(Arc::new(StringArray::from(out)) as ArrayRef),
        None => Some(array.clone()),
    }
}

/// Generalises an address column, counting each value's outcome.
fn generalize_addresses(col: &mut PlannedColumn, array: &ArrayRef, keep_village: bool) -> ArrayRef {
    let values = borrowed_strings(array);
    let mut out: Vec<Option<String>> = Vec::with_capacity(values.len());
    for v in values {
        let Some(v) = v else {
            out.push(None);
            continue;
        };
        let outcome = address::generalize(v, keep_village);
        let rule = match &outcome {
            Outcome::Generalized { level, .. } => match level {
                address::Level::District => "generalized_to_district",
                address::Level::Township => "generalized_to_township",
                address::Level::Village => "generalized_to_village",
            },
            Outcome::Kept => "kept_at_or_above_level",
            Outcome::Withheld => "withheld_unplaced",
        };
        let count = col.rules.entry(rule).or_insert_with(|| RuleCount {
            rule: rule.to_string(),
            values: 0,
            examples: Vec::new(),
        });
        count.values += 1;
        let published = match outcome {
            Outcome::Generalized { value, .. } => Some(value),
            Outcome::Kept => Some(v.to_string()),
            Outcome::Withheld => None,
        };
        // Examples: up to three different ones per rule, made only while
        // a slot is free.
        if count.examples.len() < 3 {
            let example = match &published {
                Some(p) if p != v => (address::before_shape(v, p), p.clone()),
                Some(p) => (p.clone(), p.clone()),
                None => (address::withheld_shape(v), String::new()),
            };
            if !count.examples.contains(&example) {
                count.examples.push(example);
            }
        }
        out.push(published);
    }
    Arc::new(StringArray::from(out))
}

/// One column of a batch as its treatment says; `None` when it is dropped.
pub(super) fn redact_column(
    col: &mut PlannedColumn,
    policy: &RedactionPolicy,
    field: &Arc<Field>,
    array: &ArrayRef,
) -> Result<Option<(Arc<Field>, ArrayRef)>> {
    let array = array.clone();
    let non_null = array.len() - array.null_count();
    let replaced: Option<ArrayRef> = match col.treatment {
        Treatment::Pass => Some(array.clone()),
        Treatment::Drop { .. } => {
            col.cells += non_null;
            None
        }
        // Most batches of most columns hold nothing to mask: told at once.
        Treatment::MaskCells
            if super::value_bytes(&array)
                .is_some_and(|b| !super::may_hold_personal_anywhere(b)) =>
        {
            Some(array.clone())
        }
        Treatment::MaskCells => match array.data_type() {
            DataType::Utf8 => mask_cells(col, array.as_string::<i32>().iter(), &array),
            DataType::LargeUtf8 => mask_cells(col, array.as_string::<i64>().iter(), &array),
            DataType::Utf8View => mask_cells(col, array.as_string_view().iter(), &array),
            _ => Some(array.clone()),
        },
        Treatment::CheckNumbers => {
            let kinds = cell_identifiers(&array);
            if kinds.iter().all(Option::is_none) {
                Some(array.clone())
            } else {
                let withheld: Vec<bool> = kinds.iter().map(Option::is_some).collect();
                for kind in kinds.into_iter().flatten() {
                    col.cells += 1;
                    col.count_masked(kind);
                }
                Some(without(&array, &withheld)?)
            }
        }
        Treatment::Replace(action) => {
            col.cells += non_null;
            let kind = col.kind.unwrap_or(PiiKind::CnResidentId);
            let texts = || strings(&array).unwrap_or_default();
            let text_array =
                |v: Vec<Option<String>>| -> ArrayRef { Arc::new(StringArray::from(v)) };
            let a: Option<ArrayRef> = match (action, kind) {
                (Action::Mask, _) => Some(text_array(
                    texts()
                        .into_iter()
                        .map(|s| s.map(|s| super::detect::mask_name(&s)))
                        .collect(),
                )),
                (Action::Generalize, PiiKind::Address) => Some(generalize_addresses(
                    col,
                    &array,
                    policy.category == Category::SocialAssistance,
                )),
                (Action::Generalize, PiiKind::Age) => age_bands(&array),
                (Action::Generalize, _) => birth_years(&array),
                (Action::Pseudonym, _) => policy.pseudonym_key.as_ref().map(|key| {
                    text_array(
                        texts()
                            .into_iter()
                            .map(|s| {
                                s.filter(|s| !s.trim().is_empty())
                                    .map(|s| pseudonym(key, kind, &s))
                            })
                            .collect(),
                    )
                }),
                (Action::Keep, _) => Some(array.clone()),
                _ => None,
            };
            if let Some(a) = &a
                && col.preview.len() < 3
                && let Ok(f) =
                    arrow::util::display::ArrayFormatter::try_new(a.as_ref(), &Default::default())
            {
                for r in (0..a.len()).filter(|&r| a.is_valid(r)) {
                    if col.preview.len() >= 3 {
                        break;
                    }
                    col.preview.push(f.value(r).to_string());
                }
            }
            a
        }
    };
    let Some(a) = replaced else {
        return Ok(None);
    };
    let dt = a.data_type().clone();
    col.out_type = Some(dt.clone());
    Ok(Some((
        Arc::new(field.as_ref().clone().with_data_type(dt)),
        a,
    )))
}

/// What a column holds and how it was told, before the table-wide rules.
struct Detected {
    kind: Option<PiiKind>,
    by: &'static str,
    header: String,
    /// A text column of mostly bare numbers.
    numbers: bool,
}

fn detect(header: &str, field: &Field, array: &ArrayRef) -> Detected {
    let text = is_text(field.data_type());
    let sample: Vec<&str> = if text {
        borrowed_strings(array)
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .take(SAMPLE_VALUES)
            .collect()
    } else {
        Vec::new()
    };
    let (kind, by) = match header_kind(header) {
        // A person header over organisations (`申请人` over companies).
        Some(PiiKind::PersonName) if text && mostly_organisations(&sample) => (None, "values"),
        Some(k) => (Some(k), "header"),
        None if text => (value_kind(&sample), "values"),
        None if is_number(field.data_type()) => (numeric_column_kind(array), "values"),
        None => (None, "values"),
    };
    Detected {
        kind,
        by,
        header: header.to_string(),
        numbers: super::classify::mostly_bare_numbers(&sample),
    }
}

impl Redaction {
    /// Decides each column's treatment from `sample` (the table's first rows)
    /// and the report's header paths.
    pub fn plan(sample: &RecordBatch, report: &Report, policy: &RedactionPolicy) -> Self {
        let schema = sample.schema();
        let paths: Vec<Vec<String>> = (0..schema.fields().len())
            .map(|i| {
                report
                    .columns
                    .get(i)
                    .map(|c| c.path.clone())
                    .unwrap_or_default()
            })
            .collect();
        let mut detected: Vec<Detected> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let header = paths[i].last().cloned().unwrap_or_default();
                detect(&header, field, sample.column(i))
            })
            .collect();
        // An address is a person's only in a table about persons, unless
        // its header names a residence: a list of sites or suppliers keeps
        // its addresses.
        let about_persons = detected.iter().any(|d| {
            matches!(
                d.kind,
                Some(
                    PiiKind::PersonName
                        | PiiKind::CnResidentId
                        | PiiKind::CnMobile
                        | PiiKind::BankCard
                        | PiiKind::Passport
                )
            )
        });
        for d in &mut detected {
            if d.kind == Some(PiiKind::Address) && !about_persons && !names_residence(&d.header) {
                d.kind = None;
                d.by = "values";
            }
        }
        let mut columns = Vec::new();
        for ((field, d), path) in schema.fields().iter().zip(detected).zip(paths) {
            let text = is_text(field.data_type());
            let requested = policy
                .columns
                .get(field.name().as_str())
                .copied()
                .filter(|a| applicable(d.kind, *a));
            let treatment = match d.kind {
                None if requested == Some(Action::Drop) => Treatment::Drop { by_agency: true },
                None if text => Treatment::MaskCells,
                None if is_number(field.data_type()) => Treatment::CheckNumbers,
                None => Treatment::Pass,
                Some(kind) => {
                    let action =
                        requested.unwrap_or(kind.default_action_for(policy.category, &d.header));
                    let dt = field.data_type();
                    let possible = match (action, kind) {
                        (Action::Drop, _) => false,
                        (Action::Mask, _) => text,
                        (Action::Generalize, PiiKind::Address) => text,
                        (Action::Generalize, PiiKind::Age) => text || dt == &DataType::Int64,
                        (Action::Generalize, _) => dt == &DataType::Date32,
                        (Action::Pseudonym, _) => policy.pseudonym_key.is_some() && text,
                        (Action::Keep, _) => !NEVER_RAW.contains(&kind),
                        _ => false,
                    };
                    if possible {
                        Treatment::Replace(action)
                    } else {
                        // Dropped (or no safe transformation for this type).
                        Treatment::Drop { by_agency: false }
                    }
                }
            };
            let mut col = PlannedColumn::new(field.name().clone(), path, treatment);
            col.kind = d.kind;
            col.by = d.by;
            col.numbers = d.numbers;
            columns.push(col);
        }
        Redaction {
            policy: policy.clone(),
            columns,
        }
    }

    /// Redacts one batch (of the table the plan was made for).
    pub fn apply(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let schema = batch.schema();
        let policy = &self.policy;
        let columns: Vec<_> = self
            .columns
            .iter_mut()
            .enumerate()
            .zip(schema.fields().iter())
            .zip(batch.columns())
            .collect();
        let work = |(((i, col), field), array): (
            ((usize, &mut PlannedColumn), &Arc<Field>),
            &ArrayRef,
        )| {
            redact_column(col, policy, field, array).map(|kept| kept.map(|(f, a)| (i, f, a)))
        };
        // The columns of a large batch side by side.
        let redacted: Vec<_> = if batch.num_rows() >= 4096 {
            crate::parallel::map(columns, work)
        } else {
            columns.into_iter().map(work).collect()
        };
        let mut kept = Vec::new();
        for r in redacted {
            kept.extend(r?);
        }
        let (mut arrays, counts) =
            super::split::mask_split(&kept.iter().map(|(_, _, a)| a.clone()).collect::<Vec<_>>())?;
        for (k, kinds) in counts {
            let col = &mut self.columns[kept[k].0];
            for kind in kinds {
                col.cells += 1;
                col.count_masked(kind);
            }
        }
        let fields: Vec<Arc<Field>> = kept
            .iter()
            .zip(&arrays)
            .map(|((_, f, _), a)| {
                Arc::new(f.as_ref().clone().with_data_type(a.data_type().clone()))
            })
            .collect();
        let options =
            arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            std::mem::take(&mut arrays),
            &options,
        )?)
    }

    /// The findings over all batches; records them and each kept column's
    /// `pii`, type and redacted examples in the report, and masks
    /// identifiers in the report's other texts.
    pub fn finish(self, report: &mut Report) -> Vec<Finding> {
        let mut findings = Vec::new();
        let mut kept_reports = Vec::new();
        for (i, col) in self.columns.into_iter().enumerate() {
            let mut col_report = report.columns.get(i).cloned();
            let cell_kind = || {
                [
                    (col.masked[0], PiiKind::CnResidentId),
                    (col.masked[1], PiiKind::CnMobile),
                    (col.masked[2], PiiKind::BankCard),
                    (col.masked[3], PiiKind::PersonName),
                ]
                .into_iter()
                .max_by_key(|(n, _)| *n)
                .map_or(PiiKind::CnResidentId, |(_, k)| k)
            };
            match col.treatment {
                Treatment::Pass | Treatment::MaskCells | Treatment::CheckNumbers => {
                    if col.cells > 0 {
                        findings.push(Finding {
                            column: col.name.clone(),
                            path: col.path.clone(),
                            kind: cell_kind(),
                            by: "cells".into(),
                            action: Action::MaskCells,
                            cells: col.cells,
                            preview: col.preview.clone(),
                            rules: Vec::new(),
                        });
                    }
                    kept_reports.extend(col_report);
                }
                Treatment::Drop { by_agency } => findings.push(Finding {
                    column: col.name,
                    path: col.path,
                    kind: col.kind.unwrap_or(PiiKind::CnResidentId),
                    by: if by_agency { "agency" } else { col.by }.into(),
                    action: Action::Drop,
                    cells: col.cells,
                    preview: Vec::new(),
                    rules: Vec::new(),
                }),
                Treatment::Replace(action) => {
                    let kind = col.kind.unwrap_or(PiiKind::CnResidentId);
                    if let Some(c) = col_report.as_mut() {
                        c.pii = Some(kind.name().to_string());
                        if let Some(dt) = &col.out_type {
                            c.data_type = dt.to_string();
                        }
                        c.examples = col.preview.clone();
                        kept_reports.push(c.clone());
                    }
                    let rules: Vec<RuleCount> = col.rules.into_values().collect();
                    if let Some(w) = rules.iter().find(|r| r.rule == "withheld_unplaced") {
                        report.warnings.push(Warning {
                            code: "address_withheld".into(),
                            sheet: None,
                            row: None,
                            column: Some(col.name.clone()),
                            header: Some(col.path.join("/")),
                            message: format!(
                                "{n} 个地址无法定位到乡镇（街道）或区县，已整条隐去，请审核 / \
                                 {n} address(es) name a dwelling but no township or district to \
                                 cut at: withheld whole; review them",
                                n = w.values
                            ),
                        });
                    }
                    findings.push(Finding {
                        column: col.name,
                        path: col.path,
                        kind,
                        by: col.by.into(),
                        action,
                        cells: col.cells,
                        preview: col.preview,
                        rules,
                    });
                }
            }
        }
        report.columns = kept_reports;
        // Per-sheet reports show what was detected, even for dropped columns, and
        // like every other part of the report they carry only redacted values.
        for sheet in &mut report.sheets {
            for c in &mut sheet.columns {
                match findings
                    .iter()
                    .find(|f| f.path == c.path && f.action != Action::MaskCells)
                {
                    Some(f) => {
                        c.pii = Some(f.kind.name().to_string());
                        c.examples = f.preview.clone();
                    }
                    None => c.examples.iter_mut().for_each(clean),
                }
            }
        }
        for c in &mut report.columns {
            if c.pii.is_none() {
                c.examples.iter_mut().for_each(clean);
            }
        }
        report.privacy = findings;
        clean_report_texts(report);
        report.privacy.clone()
    }
}

/// Replaces the identifiers in `s` by their markers.
fn clean(s: &mut String) {
    if let Some(m) = mask_in_text(s) {
        *s = m;
    }
}

/// Replaces the identifiers and names in a file, sheet or column name.
fn clean_name(s: &mut String) {
    *s = super::clean_text(s);
}

/// Masks identifiers in every text of a report that names or describes
/// the file rather than holding its values: the file and sheet names and
/// header paths (read as names, [`super::clean_text`]), titles, units,
/// footnotes and warnings (read as text).
pub fn clean_report_texts(report: &mut Report) {
    clean_name(&mut report.file);
    report.table_sheets.iter_mut().for_each(clean_name);
    report.hidden_sheets.iter_mut().for_each(clean_name);
    for sheet in &mut report.sheets {
        clean_name(&mut sheet.name);
        if let Some(t) = sheet.title.as_mut() {
            clean(t);
        }
        if let Some(u) = sheet.unit.as_mut() {
            clean(u);
        }
        for (_, note) in &mut sheet.footnotes {
            clean(note);
        }
        for c in &mut sheet.columns {
            c.path.iter_mut().for_each(clean_name);
        }
    }
    for c in &mut report.columns {
        c.path.iter_mut().for_each(clean_name);
    }
    for f in &mut report.privacy {
        f.path.iter_mut().for_each(clean_name);
    }
    for w in &mut report.warnings {
        clean(&mut w.message);
        if let Some(s) = w.sheet.as_mut() {
            clean_name(s);
        }
        if let Some(h) = w.header.as_mut() {
            clean_name(h);
        }
    }
}

/// Ages → 5-year bands (`30-34`; `14-19` for the youngest published), 90
/// and over top-coded (`90+`); children under 14 are not published (null).
fn age_bands(array: &ArrayRef) -> Option<ArrayRef> {
    let ages: Vec<Option<i64>> = match array.data_type() {
        DataType::Int64 => array
            .as_primitive::<arrow::datatypes::Int64Type>()
            .iter()
            .collect(),
        _ => strings(array)?
            .into_iter()
            .map(|s| s.and_then(|s| s.trim().trim_end_matches('岁').parse::<i64>().ok()))
            .collect(),
    };
    Some(Arc::new(StringArray::from(
        ages.into_iter()
            .map(|a| {
                a.and_then(|a| match a {
                    ..14 => None,
                    90.. => Some("90+".to_string()),
                    14..=19 => Some("14-19".to_string()),
                    a => {
                        let low = a - a % 5;
                        Some(format!("{low}-{}", low + 4))
                    }
                })
            })
            .collect::<Vec<_>>(),
    )))
}

fn birth_years(array: &ArrayRef) -> Option<ArrayRef> {
    use arrow::datatypes::Date32Type;
    match array.data_type() {
        DataType::Date32 => {
            let dates = array.as_primitive::<Date32Type>();
            let years: Int32Array = dates
                .iter()
                .map(|d| {
                    d.and_then(|d| chrono::DateTime::from_timestamp(i64::from(d) * 86_400, 0))
                        .map(|t| {
                            use chrono::Datelike;
                            t.year()
                        })
                })
                .collect();
            Some(Arc::new(years))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_is_masked_alike_whether_its_batch_is_told_at_once_or_not() {
        // One batch with nothing to mask (passed through whole), one with a
        // mobile number in its middle value (masked value by value).
        let plain: ArrayRef = Arc::new(StringArray::from(vec![
            Some("供应商3235有限公司"),
            None,
            Some("ZFCG-00000001"),
        ]));
        let leaking: ArrayRef = Arc::new(StringArray::from(vec![
            Some("供应商3235有限公司"),
            Some("联系人电话138 0013 8000"),
            Some("ZFCG-00000001"),
        ]));
        let policy = RedactionPolicy::default();
        let mut col = PlannedColumn::new("note".into(), vec!["备注".into()], Treatment::MaskCells);
        let field = Arc::new(Field::new("note", DataType::Utf8, true));
        let (_, out) = redact_column(&mut col, &policy, &field, &plain)
            .unwrap()
            .expect("kept");
        assert_eq!(out.as_string::<i32>(), plain.as_string::<i32>());
        assert_eq!(col.cells, 0);
        let (_, out) = redact_column(&mut col, &policy, &field, &leaking)
            .unwrap()
            .expect("kept");
        let out = out.as_string::<i32>();
        assert_eq!(out.value(0), "供应商3235有限公司");
        assert_eq!(out.value(1), "联系人电话[手机号已隐藏]");
        assert_eq!(col.cells, 1);
        assert_eq!(col.masked[1], 1);
    }

    #[test]
    fn numbers_that_are_identifiers_are_withheld_cell_by_cell() {
        // An ID with its check digit is withheld; an 11-digit amount that
        // reads as a mobile is not (only a column of mobiles is).
        let numbers: ArrayRef = Arc::new(arrow::array::Float64Array::from(vec![
            Some(650.0),
            Some(13_912_345_678.0),
            None,
            Some(1.5),
            Some(110_105_194_912_310_000.0),
        ]));
        let policy = RedactionPolicy::default();
        let mut col = PlannedColumn::new("n".into(), vec!["数".into()], Treatment::CheckNumbers);
        let field = Arc::new(Field::new("n", DataType::Float64, true));
        let (_, out) = redact_column(&mut col, &policy, &field, &numbers)
            .unwrap()
            .expect("kept");
        let got: Vec<Option<f64>> = out
            .as_primitive::<arrow::datatypes::Float64Type>()
            .iter()
            .collect();
        assert_eq!(
            got,
            [Some(650.0), Some(13_912_345_678.0), None, Some(1.5), None]
        );
        assert_eq!((col.cells, col.masked[0]), (1, 1));
    }

    #[test]
    fn ages_become_bands_and_children_disappear() {
        let ages: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![
            Some(8),
            Some(14),
            Some(37),
            Some(90),
            Some(103),
            None,
        ]));
        let bands = age_bands(&ages).unwrap();
        let bands = bands.as_string::<i32>();
        let got: Vec<Option<&str>> = bands.iter().collect();
        assert_eq!(
            got,
            [
                None,
                Some("14-19"),
                Some("35-39"),
                Some("90+"),
                Some("90+"),
                None
            ]
        );
    }
}
