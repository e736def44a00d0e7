//! Column typing over every value of a column (not a sample).

use crate::read::Cell;
use crate::text::{
    Decimal, compact, excel_serial_to_datetime, format_excel_number, is_destroyed_identifier,
    is_scientific, normalize, null_marker, parse_date, parse_number,
};
use chrono::NaiveDateTime;
use std::collections::BTreeMap;

/// The logical type chosen for a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Whole numbers (Int64).
    Integer,
    /// Exact decimals (Decimal128(precision, scale)).
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// Calendar dates (Date32).
    Date,
    /// Date and time (Timestamp(ms)).
    Timestamp,
    /// 是/否, true/false (Boolean).
    Boolean,
    /// Identifiers that look numeric but are text: subject codes, phone
    /// numbers, leading zeros (Utf8).
    Code,
    /// Free text (Utf8).
    Text,
}

impl Kind {
    /// The truth-file vocabulary: integer, decimal, date, boolean, code, string.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Integer => "integer",
            Kind::Decimal { .. } => "decimal",
            Kind::Date | Kind::Timestamp => "date",
            Kind::Boolean => "boolean",
            Kind::Code => "code",
            Kind::Text => "string",
        }
    }
}

/// Typed values of one column.
#[derive(Debug, Clone)]
pub enum Values {
    /// Int64 values.
    Int(Vec<Option<i64>>),
    /// Decimal128 unscaled values.
    Decimal(Vec<Option<i128>>),
    /// Days since 1970-01-01.
    Date(Vec<Option<i32>>),
    /// Milliseconds since 1970-01-01T00:00.
    Timestamp(Vec<Option<i64>>),
    /// Booleans.
    Bool(Vec<Option<bool>>),
    /// Text.
    Text(Vec<Option<String>>),
}

/// A value that does not fit its column's type, by position in the column.
#[derive(Debug, Clone)]
pub struct Misfit {
    /// Index among the column's values.
    pub index: usize,
    /// The value as found.
    pub value: String,
    /// Why it does not fit.
    pub reason: String,
}

/// A typed column.
#[derive(Debug, Clone)]
pub struct TypedColumn {
    /// Chosen type.
    pub kind: Kind,
    /// The values.
    pub values: Values,
    /// Values were percentages and are stored as fractions.
    pub percent: bool,
    /// Nulls, by the marker that stood in the cell (`""` for empty).
    pub null_markers: BTreeMap<String, usize>,
    /// Values that did not fit and were stored as null.
    pub misfits: Vec<Misfit>,
    /// Values that Excel destroyed (long digit strings stored as floats).
    pub destroyed: Vec<Misfit>,
}

enum Parsed {
    Null(String),
    Num(crate::text::ParsedNumber, String),
    Date(NaiveDateTime),
    Bool(bool),
    Destroyed(String),
    Text(String),
}

/// Headers of classification codes (`科目编码` 201/20101/2010101): kind `code`.
const CODE_WORDS: &[&str] = &["编码", "代码", "编号", "科目", "分类码", "区划码"];
/// Headers of identifiers that are digits but not numbers (IDs, phones,
/// accounts): kept as text, kind `string`.
const IDENT_WORDS: &[&str] = &[
    "号码",
    "证号",
    "账号",
    "帐号",
    "卡号",
    "电话",
    "手机",
    "邮编",
    "邮政编码",
    "身份证",
    "信用代码",
    "文号",
    "序列号",
    "批准号",
    "许可证号",
    "学号",
    "工号",
    "联系方式",
    "识别号",
    "存折",
    "户号",
];
const DATE_WORDS: &[&str] = &[
    "日期",
    "时间",
    "年月日",
    "date",
    "Date",
    "DATE",
    "发布日",
    "截止日",
];

/// Whether a header names a classification code column.
pub fn header_says_code(header: &str) -> bool {
    let h = compact(header);
    !header_says_identifier(header)
        && (CODE_WORDS.iter().any(|w| h.contains(w)) || h.to_ascii_lowercase().ends_with("code"))
}

/// Whether a header names an identifier (ID, phone, account) column.
pub fn header_says_identifier(header: &str) -> bool {
    let h = compact(header);
    IDENT_WORDS.iter().any(|w| h.contains(w)) || h.eq_ignore_ascii_case("id")
}

/// Whether a header names a date column.
pub fn header_says_date(header: &str) -> bool {
    DATE_WORDS.iter().any(|w| header.contains(w))
}

fn parse_cell(cell: &Cell, date_hint: bool) -> Parsed {
    match cell {
        Cell::Empty => Parsed::Null(String::new()),
        Cell::Int(i) => {
            let text = i.to_string();
            if date_hint && let Some(d) = parse_date(&text, true) {
                return Parsed::Date(d);
            }
            match parse_number(&text) {
                Some(p) => Parsed::Num(p, text),
                None => Parsed::Text(text),
            }
        }
        Cell::Number(f) => {
            if is_destroyed_identifier(*f) {
                return Parsed::Destroyed(format!("{f:E}"));
            }
            if date_hint
                && f.fract() == 0.0
                && let Some(d) = parse_date(&format!("{}", *f as i64), true)
            {
                return Parsed::Date(d);
            }
            if date_hint
                && let Some(dt) =
                    excel_serial_to_datetime(*f).filter(|_| *f >= 10_000.0 && *f < 80_000.0)
            {
                return Parsed::Date(dt);
            }
            let text = format_excel_number(*f);
            match parse_number(&text) {
                Some(p) => Parsed::Num(p, text),
                None => Parsed::Text(text),
            }
        }
        Cell::Bool(b) => Parsed::Bool(*b),
        Cell::DateTime(d) => Parsed::Date(*d),
        Cell::Error(e) => Parsed::Null(e.clone()),
        Cell::Text(raw) => {
            let n = normalize(raw);
            if n.is_empty() {
                return Parsed::Null(String::new());
            }
            if let Some(m) = null_marker(&n) {
                return Parsed::Null(m.to_string());
            }
            if is_scientific(&n) && n.parse::<f64>().is_ok_and(is_destroyed_identifier) {
                return Parsed::Destroyed(n);
            }
            if date_hint && let Some(d) = parse_date(&n, true) {
                return Parsed::Date(d);
            }
            if let Some(p) = parse_number(&n) {
                return Parsed::Num(p, compact(&n));
            }
            if let Some(d) = parse_date(&n, false) {
                return Parsed::Date(d);
            }
            match n.as_str() {
                "是" | "true" | "TRUE" | "True" => Parsed::Bool(true),
                "否" | "false" | "FALSE" | "False" => Parsed::Bool(false),
                _ => Parsed::Text(raw.trim().to_string()),
            }
        }
    }
}

fn display(p: &Parsed, cell: &Cell) -> String {
    match p {
        Parsed::Num(_, s) | Parsed::Text(s) | Parsed::Destroyed(s) => s.clone(),
        _ => cell.display(),
    }
}

/// Hierarchical codes: most values extend a shorter value of the column
/// (`201` → `20101` → `2010101`).
fn hierarchical(digits: &[&str]) -> bool {
    if digits.len() < 3 || digits.iter().any(|d| d.len() < 3) {
        return false; // row numbers 1, 2, … 10, 11 are not codes
    }
    let set: std::collections::HashSet<&str> = digits.iter().copied().collect();
    let extending = digits
        .iter()
        .filter(|d| set.contains(&d[..d.len() - 2]))
        .count();
    extending * 3 >= digits.len()
}

/// Types one column from its cells. `header` is the last header level.
pub fn type_column(header: &str, cells: &[&Cell]) -> TypedColumn {
    let date_hint = header_says_date(header);
    let code_hint = header_says_code(header);
    let ident_hint = header_says_identifier(header);
    let parsed: Vec<Parsed> = cells.iter().map(|c| parse_cell(c, date_hint)).collect();

    let mut null_markers = BTreeMap::new();
    let (mut n_num, mut n_date, mut n_bool, mut n_text, mut n_destroyed) = (0, 0, 0, 0, 0);
    let mut n_int_only = true;
    let mut any_percent = false;
    let mut leading_zero = false;
    let mut long_digits = false;
    let mut has_time = false;
    let mut plain_digit_values: Vec<&str> = Vec::new();
    for p in &parsed {
        match p {
            Parsed::Null(m) => *null_markers.entry(m.clone()).or_insert(0) += 1,
            Parsed::Num(n, s) => {
                n_num += 1;
                if n.value.scale > 0 || n.percent {
                    n_int_only = false;
                }
                any_percent |= n.percent;
                leading_zero |= n.leading_zero;
                if n.plain_digits {
                    plain_digit_values.push(s.as_str());
                    if s.len() >= 11 {
                        long_digits = true;
                    }
                }
            }
            Parsed::Date(d) => {
                n_date += 1;
                has_time |= d.time() != chrono::NaiveTime::MIN;
            }
            Parsed::Bool(_) => n_bool += 1,
            Parsed::Destroyed(_) => n_destroyed += 1,
            Parsed::Text(_) => n_text += 1,
        }
    }
    let non_null = n_num + n_date + n_bool + n_text + n_destroyed;
    // Up to 2% of values (at least one) may be misfits before a column falls back to text.
    let tolerated = |fit: usize| fit > 0 && (non_null - fit) * 50 <= non_null && fit * 2 > non_null;

    let all_plain_digits = n_num > 0 && plain_digit_values.len() == n_num;
    let codes = n_destroyed == 0
        && n_num > 0
        && n_date == 0
        && (code_hint
            || leading_zero
            || (all_plain_digits
                && n_text == 0
                && !long_digits
                && hierarchical(&plain_digit_values)));
    let identifiers =
        n_destroyed == 0 && n_num > 0 && (ident_hint || (all_plain_digits && long_digits));

    let kind = if non_null == 0 || n_destroyed > 0 || identifiers {
        Kind::Text
    } else if codes {
        Kind::Code
    } else if tolerated(n_date) && n_num == 0
        || (n_date > 0 && n_date + n_num == non_null && date_hint && tolerated(n_date))
    {
        if has_time {
            Kind::Timestamp
        } else {
            Kind::Date
        }
    } else if n_bool == non_null {
        Kind::Boolean
    } else if tolerated(n_num) {
        numeric_kind(&parsed, n_int_only, any_percent)
    } else {
        Kind::Text
    };

    let mut misfits = Vec::new();
    let mut destroyed = Vec::new();
    let mut misfit = |i: usize, p: &Parsed, why: &str| {
        misfits.push(Misfit {
            index: i,
            value: display(p, cells[i]),
            reason: why.to_string(),
        })
    };
    let values = match kind {
        Kind::Integer => Values::Int(
            parsed
                .iter()
                .enumerate()
                .map(|(i, p)| match p {
                    Parsed::Num(n, _) => i64::try_from(n.value.mantissa).ok(),
                    Parsed::Null(_) => None,
                    other => {
                        misfit(i, other, "not a whole number");
                        None
                    }
                })
                .collect(),
        ),
        Kind::Decimal { scale, .. } => Values::Decimal(
            parsed
                .iter()
                .enumerate()
                .map(|(i, p)| match p {
                    Parsed::Num(n, _) => fraction(n, any_percent).rescale(scale),
                    Parsed::Null(_) => None,
                    other => {
                        misfit(i, other, "not a number");
                        None
                    }
                })
                .collect(),
        ),
        Kind::Date => Values::Date(
            parsed
                .iter()
                .enumerate()
                .map(|(i, p)| match p {
                    Parsed::Date(d) => Some(days(d)),
                    Parsed::Num(n, s) => match parse_date(s, true)
                        .or_else(|| excel_serial_to_datetime(n.value.to_f64()))
                    {
                        Some(d) => Some(days(&d)),
                        None => {
                            misfit(i, p, "not a date");
                            None
                        }
                    },
                    Parsed::Null(_) => None,
                    other => {
                        misfit(i, other, "not a date");
                        None
                    }
                })
                .collect(),
        ),
        Kind::Timestamp => Values::Timestamp(
            parsed
                .iter()
                .enumerate()
                .map(|(i, p)| match p {
                    Parsed::Date(d) => Some(d.and_utc().timestamp_millis()),
                    Parsed::Null(_) => None,
                    other => {
                        misfit(i, other, "not a date/time");
                        None
                    }
                })
                .collect(),
        ),
        Kind::Boolean => Values::Bool(
            parsed
                .iter()
                .map(|p| match p {
                    Parsed::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect(),
        ),
        Kind::Code | Kind::Text => Values::Text(
            parsed
                .iter()
                .enumerate()
                .map(|(i, p)| match p {
                    Parsed::Null(_) => None,
                    Parsed::Destroyed(s) => {
                        destroyed.push(Misfit {
                            index: i,
                            value: s.clone(),
                            reason: "a 15–18 digit number stored as a float: Excel kept only 15 significant digits, so the value is destroyed".into(),
                        });
                        None
                    }
                    Parsed::Num(_, s) if kind == Kind::Code || identifiers => Some(s.clone()),
                    other => Some(display(other, cells[i])),
                })
                .collect(),
        ),
    };
    TypedColumn {
        kind,
        values,
        percent: any_percent && matches!(kind, Kind::Decimal { .. }),
        null_markers,
        misfits,
        destroyed,
    }
}

fn fraction(n: &crate::text::ParsedNumber, column_is_percent: bool) -> Decimal {
    if column_is_percent && !n.percent {
        // A percent column where one value lost its '%': same unit as the others.
        Decimal {
            mantissa: n.value.mantissa,
            scale: n.value.scale + 2,
        }
    } else {
        n.value
    }
}

fn numeric_kind(parsed: &[Parsed], int_only: bool, percent: bool) -> Kind {
    let nums = parsed.iter().filter_map(|p| match p {
        Parsed::Num(n, _) => Some(fraction(n, percent)),
        _ => None,
    });
    let (mut scale, mut int_digits, mut fits_i64) = (0u8, 1u32, true);
    for d in nums {
        scale = scale.max(d.scale);
        int_digits = int_digits.max(d.integer_digits());
        fits_i64 &= i64::try_from(d.mantissa).is_ok();
    }
    if int_only && fits_i64 && !percent {
        return Kind::Integer;
    }
    let scale = scale.min(18);
    let needed = int_digits + u32::from(scale);
    let precision = if needed <= 18 { 18 } else { 38 };
    let scale = if needed > 38 {
        38u8.saturating_sub(int_digits.min(38) as u8)
    } else {
        scale
    };
    Kind::Decimal { precision, scale }
}

fn days(d: &NaiveDateTime) -> i32 {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (d.date() - epoch).num_days() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(values: &[&str]) -> Vec<Cell> {
        values
            .iter()
            .map(|v| {
                if v.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(v.to_string())
                }
            })
            .collect()
    }

    fn kind_of(header: &str, values: &[&str]) -> TypedColumn {
        let cells = text(values);
        let refs: Vec<&Cell> = cells.iter().collect();
        type_column(header, &refs)
    }

    #[test]
    fn money_is_decimal_and_exact() {
        let c = kind_of("金额", &["1,234.50", "２０．１", "3元", "—"]);
        assert_eq!(
            c.kind,
            Kind::Decimal {
                precision: 18,
                scale: 2
            }
        );
        let Values::Decimal(v) = c.values else {
            panic!()
        };
        assert_eq!(v, vec![Some(123450), Some(2010), Some(300), None]);
        assert_eq!(c.null_markers.get("—"), Some(&1));
    }

    #[test]
    fn counts_are_integers() {
        assert_eq!(
            kind_of("家庭人口", &["3", "2", "", "5"]).kind,
            Kind::Integer
        );
    }

    #[test]
    fn codes_stay_text() {
        assert_eq!(
            kind_of("科目编码", &["201", "20101", "2010101"]).kind,
            Kind::Code
        );
        assert_eq!(
            kind_of("分类", &["201", "20101", "2010101", "202", "20201"]).kind,
            Kind::Code
        );
        assert_eq!(kind_of("站点", &["001", "002"]).kind, Kind::Code);
        let row_numbers: Vec<String> = (1..=120).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = row_numbers.iter().map(String::as_str).collect();
        assert_eq!(kind_of("序号", &refs).kind, Kind::Integer);
        let phones = kind_of("联系电话", &["13812345678", "139 1234 5678"]);
        assert_eq!(phones.kind, Kind::Text);
        let Values::Text(v) = phones.values else {
            panic!()
        };
        assert_eq!(v[1].as_deref(), Some("13912345678"));
    }

    #[test]
    fn dates_in_many_spellings() {
        let c = kind_of(
            "公告日期",
            &["2023-05-06", "2023年5月7日", "20230508", "2023/5/9"],
        );
        assert_eq!(c.kind, Kind::Date);
        let Values::Date(v) = c.values else { panic!() };
        assert_eq!(v[0], Some(19483));
        assert_eq!(v[3], Some(19486));
    }

    #[test]
    fn percentages_become_fractions() {
        let c = kind_of("优良天数比例", &["90.3%", "89.3%"]);
        assert_eq!(
            c.kind,
            Kind::Decimal {
                precision: 18,
                scale: 3
            }
        );
        assert!(c.percent);
        let Values::Decimal(v) = c.values else {
            panic!()
        };
        assert_eq!(v, vec![Some(903), Some(893)]);
    }

    #[test]
    fn misfits_are_reported_not_silently_nulled() {
        let mut values = vec!["1.5"; 60];
        values.push("abc");
        let c = kind_of("金额", &values);
        assert!(matches!(c.kind, Kind::Decimal { .. }));
        assert_eq!(c.misfits.len(), 1);
        assert_eq!(c.misfits[0].index, 60);
        assert_eq!(c.misfits[0].value, "abc");
    }

    #[test]
    fn mostly_text_stays_text() {
        assert_eq!(kind_of("备注", &["1", "abc", "def"]).kind, Kind::Text);
    }

    #[test]
    fn excel_destroyed_ids_are_flagged() {
        let cells = [Cell::Number(4.10102e17), Cell::Number(4.20102e17)];
        let refs: Vec<&Cell> = cells.iter().collect();
        let c = type_column("身份证号", &refs);
        assert_eq!(c.kind, Kind::Text);
        assert_eq!(c.destroyed.len(), 2);
        let Values::Text(v) = c.values else { panic!() };
        assert!(v.iter().all(Option::is_none));
        let c = kind_of("身份证号", &["4.10102E+17"]);
        assert_eq!(c.destroyed.len(), 1);
    }
}
