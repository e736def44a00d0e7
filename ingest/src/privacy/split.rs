//! Identifiers split across two adjacent cells of a row: `110105194912` |
//! `31002X` in two columns (証件号 written in two parts), or a mobile's
//! area and number apart.
//!
//! A reader who puts the two cells side by side reads the identifier, so
//! each pair of adjacent text or integer cells is read as one text (the two
//! values with a separator between, see [`super::canon`]) wherever the left
//! cell ends and the right cell begins with digits enough for an
//! identifier; an identifier that crosses from one cell into the other is
//! masked in both (a number is withheld).

use super::{PiiKind, canon};
use crate::Result;
use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::{DataType, Int32Type, Int64Type, UInt32Type, UInt64Type};
use std::borrow::Cow;
use std::sync::Arc;

/// The join read between two cells: a word joiner, one separator.
const JOIN: &str = "\u{2060}";

/// A column as the split check reads its cells.
enum Cells<'a> {
    Text(Vec<Option<&'a str>>),
    Integers(Vec<Option<i128>>),
}

impl<'a> Cells<'a> {
    fn of(array: &'a ArrayRef) -> Option<Cells<'a>> {
        let ints = |v: Vec<Option<i128>>| Some(Cells::Integers(v));
        match array.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                Some(Cells::Text(super::redaction::borrowed_strings(array)))
            }
            DataType::Int64 => ints(
                array
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.map(i128::from))
                    .collect(),
            ),
            DataType::UInt64 => ints(
                array
                    .as_primitive::<UInt64Type>()
                    .iter()
                    .map(|v| v.map(i128::from))
                    .collect(),
            ),
            DataType::Int32 => ints(
                array
                    .as_primitive::<Int32Type>()
                    .iter()
                    .map(|v| v.map(i128::from))
                    .collect(),
            ),
            DataType::UInt32 => ints(
                array
                    .as_primitive::<UInt32Type>()
                    .iter()
                    .map(|v| v.map(i128::from))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Digits at the cell's end and at its start (separators skipped; an
    /// `X` counts at the end), or `None` for an empty cell.
    fn edges(&self, row: usize) -> Option<(usize, usize)> {
        match self {
            Cells::Text(v) => v[row].map(|t| {
                (
                    digits_at(t.chars().rev(), true),
                    digits_at(t.chars(), false),
                )
            }),
            Cells::Integers(v) => v[row].filter(|i| *i >= 0).map(|i| {
                let n = i.checked_ilog10().unwrap_or(0) as usize + 1;
                (n, n)
            }),
        }
    }

    fn text(&self, row: usize) -> Option<Cow<'a, str>> {
        match self {
            Cells::Text(v) => v[row].map(Cow::Borrowed),
            Cells::Integers(v) => v[row].map(|i| Cow::Owned(i.to_string())),
        }
    }
}

/// Digits read from one end of a cell before anything but a digit or a
/// separator (an `X` first, at the end, counts as one).
fn digits_at(chars: impl Iterator<Item = char>, x_first: bool) -> usize {
    let mut n = 0;
    for (i, c) in chars.enumerate() {
        let d = match c {
            '0'..='9' | '０'..='９' => true,
            'X' | 'x' | 'Ｘ' | 'ｘ' if x_first && i == 0 => true,
            c if canon::is_separator(c) => false,
            _ => break,
        };
        if d {
            n += 1;
        }
        if i > 64 {
            break;
        }
    }
    n
}

/// One identifier crossing from cell `left` into the next, in `row`.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitFound {
    /// The left cell's column.
    pub left: usize,
    /// Row.
    pub row: usize,
    /// What it is.
    pub kind: PiiKind,
    /// Byte range masked in the left cell's text and in the right cell's.
    spans: (std::ops::Range<usize>, std::ops::Range<usize>),
}

/// Every identifier that crosses between two adjacent cells of `columns`.
pub fn find_split(columns: &[ArrayRef]) -> Vec<SplitFound> {
    let cells: Vec<Option<Cells>> = columns.iter().map(Cells::of).collect();
    let rows = columns.first().map_or(0, |a| a.len());
    let mut out = Vec::new();
    for left in 0..cells.len().saturating_sub(1) {
        let (Some(l), Some(r)) = (&cells[left], &cells[left + 1]) else {
            continue;
        };
        for row in 0..rows {
            let (Some((l_end, _)), Some((_, r_start))) = (l.edges(row), r.edges(row)) else {
                continue;
            };
            if l_end == 0 || r_start == 0 || l_end + r_start < canon::MIN_DIGITS {
                continue;
            }
            let (Some(lt), Some(rt)) = (l.text(row), r.text(row)) else {
                continue;
            };
            let joined = format!("{lt}{JOIN}{rt}");
            let boundary = lt.len();
            let right_start = boundary + JOIN.len();
            for f in canon::find(&joined) {
                // Only an ID's checksum tells a split identifier from two
                // numbers side by side (`1437.99 | 809.10`).
                if f.kind == PiiKind::CnResidentId
                    && f.span.start < boundary
                    && f.span.end > right_start
                {
                    out.push(SplitFound {
                        left,
                        row,
                        kind: f.kind,
                        spans: (f.span.start..boundary, 0..f.span.end - right_start),
                    });
                }
            }
        }
    }
    out
}

/// Per changed column (by index), the kinds of identifier masked in it.
pub type Masked = Vec<(usize, Vec<PiiKind>)>;

/// `columns` with every identifier split across two adjacent cells masked
/// in both cells (text) or withheld (numbers), and what was masked where.
pub fn mask_split(columns: &[ArrayRef]) -> Result<(Vec<ArrayRef>, Masked)> {
    let found = find_split(columns);
    let mut out = columns.to_vec();
    if found.is_empty() {
        return Ok((out, Vec::new()));
    }
    // Per column: row → byte ranges to mask (text) or withhold (numbers).
    let mut edits: Vec<Vec<(usize, std::ops::Range<usize>, PiiKind)>> =
        vec![Vec::new(); columns.len()];
    for f in &found {
        edits[f.left].push((f.row, f.spans.0.clone(), f.kind));
        edits[f.left + 1].push((f.row, f.spans.1.clone(), f.kind));
    }
    let mut counts = Vec::new();
    for (c, mut col_edits) in edits.into_iter().enumerate() {
        if col_edits.is_empty() {
            continue;
        }
        col_edits.sort_by_key(|(row, span, _)| (*row, span.start));
        counts.push((c, col_edits.iter().map(|e| e.2).collect()));
        let array = &columns[c];
        out[c] = match Cells::of(array) {
            Some(Cells::Text(values)) => {
                let mut masked: Vec<Option<String>> =
                    values.iter().map(|v| v.map(str::to_string)).collect();
                // Right to left within a row, so earlier spans stay valid.
                for (row, span, kind) in col_edits.iter().rev() {
                    if let Some(Some(text)) = masked.get_mut(*row)
                        && text.is_char_boundary(span.start)
                        && text.is_char_boundary(span.end.min(text.len()))
                    {
                        text.replace_range(
                            span.start..span.end.min(text.len()),
                            canon::marker(*kind),
                        );
                    }
                }
                Arc::new(StringArray::from(masked)) as ArrayRef
            }
            _ => {
                let mut withheld = vec![false; array.len()];
                for (row, _, _) in &col_edits {
                    withheld[*row] = true;
                }
                let keep = arrow::array::BooleanArray::from(
                    withheld.iter().map(|w| !w).collect::<Vec<_>>(),
                );
                let nulls = arrow::array::new_null_array(array.data_type(), array.len());
                arrow::compute::kernels::zip::zip(&keep, array, &nulls)?
            }
        };
    }
    Ok((out, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;

    #[test]
    fn an_id_in_two_text_cells_is_masked_in_both() {
        let left: ArrayRef = Arc::new(StringArray::from(vec![
            Some("110105194912"),
            Some("城关镇"),
            Some("12"),
        ]));
        let right: ArrayRef = Arc::new(StringArray::from(vec![
            Some("31002X"),
            Some("31002X"),
            Some("650"),
        ]));
        let (out, counts) = mask_split(&[left, right]).unwrap();
        let l: Vec<Option<&str>> = out[0].as_string::<i32>().iter().collect();
        let r: Vec<Option<&str>> = out[1].as_string::<i32>().iter().collect();
        assert_eq!(l, [Some("[证件号已隐藏]"), Some("城关镇"), Some("12")]);
        assert_eq!(r, [Some("[证件号已隐藏]"), Some("31002X"), Some("650")]);
        assert_eq!(counts.len(), 2);
    }

    #[test]
    fn an_id_in_a_text_and_a_number_cell() {
        let left: ArrayRef = Arc::new(StringArray::from(vec![Some("证件 110105"), Some("139")]));
        let right: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(194_912_310_021),
            Some(12_345_678),
        ]));
        let (out, _) = mask_split(&[left, right]).unwrap();
        let l: Vec<Option<&str>> = out[0].as_string::<i32>().iter().collect();
        // 110105 + 194912310021 is an ID with a bad checksum: not taken.
        assert_eq!(
            l,
            [Some("证件 110105"), Some("139")],
            "a mobile split in two is two numbers"
        );
        let left: ArrayRef = Arc::new(StringArray::from(vec![Some("证件 110105")]));
        let right: ArrayRef = Arc::new(StringArray::from(vec![Some("19491231002X")]));
        let (out, _) = mask_split(&[left, right]).unwrap();
        assert_eq!(out[0].as_string::<i32>().value(0), "证件 [证件号已隐藏]");
        assert_eq!(out[1].as_string::<i32>().value(0), "[证件号已隐藏]");
    }

    #[test]
    fn ordinary_adjacent_numbers_are_left_alone() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(2024), Some(650)]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![Some(6), Some(12)]));
        assert!(find_split(&[a, b]).is_empty());
    }
}
