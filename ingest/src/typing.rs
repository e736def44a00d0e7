//! Column typing over every value of a column (not a sample).

use crate::chunk::CellRef;
use crate::read::Cell;
use crate::text::{
    Decimal, compact, date_of_compact, excel_serial_to_datetime, format_excel_number,
    is_destroyed_identifier, normalized, null_marker, number_of_compact, parse_date, parse_number,
    scientific_compact, too_long_for_a_scalar, without_space,
};
use chrono::NaiveDateTime;
use std::borrow::Cow;
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
#[derive(Debug)]
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
    Text(TextValues),
}

/// Text values end to end in one buffer, as Arrow holds them: no string is
/// allocated per value, and the array is handed over without copying or
/// checking the text again.
#[derive(Debug, Default)]
pub struct TextValues {
    builder: arrow::array::StringBuilder,
    /// Bytes of text past what one Arrow string array can hold (2 GiB):
    /// those values are kept as nulls and [`TextValues::into_array`] fails.
    overflow: usize,
}

impl Values {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::Int(v) | Values::Timestamp(v) => v.len(),
            Values::Decimal(v) => v.len(),
            Values::Date(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::Text(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TextValues {
    /// Room for `n` values and `bytes` bytes of text.
    pub fn with_capacity(n: usize, bytes: usize) -> Self {
        TextValues {
            builder: arrow::array::StringBuilder::with_capacity(n, bytes),
            overflow: 0,
        }
    }

    /// Bytes of text held.
    pub fn text_len(&self) -> usize {
        self.builder.values_slice().len()
    }

    /// Adds a value (`None`: null).
    #[inline]
    pub fn push(&mut self, value: Option<&str>) {
        match value {
            Some(v) if self.text_len() + v.len() <= i32::MAX as usize => {
                self.builder.append_value(v)
            }
            Some(v) => {
                self.overflow += v.len();
                self.builder.append_null();
            }
            None => self.builder.append_null(),
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.builder.offsets_slice().len().saturating_sub(1)
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th value.
    pub fn get(&self, i: usize) -> Option<&str> {
        if let Some(validity) = self.builder.validity_slice()
            && validity.get(i / 8)? & (1 << (i % 8)) == 0
        {
            return None;
        }
        let offsets = self.builder.offsets_slice();
        let start = usize::try_from(*offsets.get(i)?).ok()?;
        let end = usize::try_from(*offsets.get(i + 1)?).ok()?;
        // Values are whole strings appended: their ends are char boundaries.
        std::str::from_utf8(self.builder.values_slice().get(start..end)?).ok()
    }

    /// The values in order.
    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The values as an Arrow array; an error when they hold more text than
    /// one Arrow string array can (2 GiB).
    pub fn into_array(
        mut self,
    ) -> std::result::Result<arrow::array::StringArray, arrow::error::ArrowError> {
        if self.overflow > 0 {
            return Err(arrow::error::ArrowError::InvalidArgumentError(format!(
                "a column holds {} bytes of text in one batch, more than 2 GiB",
                self.text_len() + self.overflow
            )));
        }
        Ok(self.builder.finish())
    }
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
#[derive(Debug)]
pub struct TypedColumn {
    /// Chosen type.
    pub kind: Kind,
    /// The values.
    pub values: Values,
    /// Values were percentages and are stored as fractions.
    pub percent: bool,
    /// Nulls, by the marker that stood in the cell (`""` for empty).
    pub null_markers: BTreeMap<String, usize>,
    /// The first values that did not fit and were stored as null
    /// (at most [`MAX_KEPT_PROBLEMS`]).
    pub misfits: Vec<Misfit>,
    /// Values that did not fit, in all.
    pub misfit_total: usize,
    /// The first values that Excel destroyed (long digit strings stored as floats).
    pub destroyed: Vec<Misfit>,
    /// Destroyed values in all.
    pub destroyed_total: usize,
}

/// One cell as a column reads it; text borrowed from the cell where it can be.
#[derive(Debug, PartialEq)]
pub(crate) enum Parsed<'a> {
    /// No value, with the marker that stood in the cell (`""` for empty).
    Null(Cow<'a, str>),
    /// A number and its text without white space.
    Num(crate::text::ParsedNumber, Cow<'a, str>),
    Date(NaiveDateTime),
    Bool(bool),
    Destroyed(Cow<'a, str>),
    /// Text, trimmed.
    Text(Cow<'a, str>),
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

/// Parses a cell as a column read with `date_hint` reads it. A field's text
/// goes straight to [`parse_text`], inlined here, so that its answer is
/// written where the caller keeps it rather than copied back through a call.
#[inline]
fn parse_cell(cell: CellRef<'_>, date_hint: bool) -> Parsed<'_> {
    match cell {
        CellRef::Text(raw) => parse_text(raw, date_hint),
        CellRef::Cell(cell) => parse_sheet_cell(cell, date_hint),
    }
}

/// [`parse_cell`] of a reader's cell.
fn parse_sheet_cell(cell: &Cell, date_hint: bool) -> Parsed<'_> {
    match cell {
        Cell::Empty => Parsed::Null(Cow::Borrowed("")),
        Cell::Int(i) => {
            let text = i.to_string();
            if date_hint && let Some(d) = parse_date(&text, true) {
                return Parsed::Date(d);
            }
            match parse_number(&text) {
                Some(p) => Parsed::Num(p, text.into()),
                None => Parsed::Text(text.into()),
            }
        }
        Cell::Number(f) => {
            if is_destroyed_identifier(*f) {
                return Parsed::Destroyed(format!("{f:E}").into());
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
                Some(p) => Parsed::Num(p, text.into()),
                None => Parsed::Text(text.into()),
            }
        }
        Cell::Bool(b) => Parsed::Bool(*b),
        Cell::DateTime(d) => Parsed::Date(*d),
        Cell::Error(e) => Parsed::Null(Cow::Borrowed(e)),
        Cell::Text(raw) => parse_text(raw, date_hint),
    }
}

/// Parses a text cell (see [`parse_cell`]): most text cells are told text
/// at once ([`plainly_text`], inlined where the cells are read), the rest
/// read in full.
#[inline]
fn parse_text(raw: &str, date_hint: bool) -> Parsed<'_> {
    match plainly_text(raw) {
        Some(text) => Parsed::Text(Cow::Borrowed(text)),
        None => parse_text_in_full(raw, date_hint),
    }
}

/// The trimmed text of a cell that [`parse_text_in_full`] would read as
/// text, told from a few of its bytes: it starts with neither white space
/// nor what a number or date starts with ([`may_start_scalar`]), NFKC
/// leaves it alone, and it is neither a null marker nor a boolean word.
/// `None`: read it in full.
#[inline]
fn plainly_text(raw: &str) -> Option<&str> {
    let first = *raw.as_bytes().first()?;
    if !crate::text::cannot_start_space(first)
        || may_start_scalar(raw)
        || !crate::text::all_nfkc_stable(raw)
    {
        return None;
    }
    // Normalised, the text is itself trimmed (and not empty: it starts
    // with a byte that is not white space).
    let text = crate::text::trim(raw);
    if null_marker(text).is_some() || boolean_word(text).is_some() {
        return None;
    }
    Some(text)
}

/// Whether normalised, trimmed text may be a number or a date: numbers,
/// dates and scientific notation start with a digit, a sign, a point or a
/// currency mark (R, ¥, ￥, 人民币).
#[inline]
fn may_start_scalar(n: &str) -> bool {
    match n.as_bytes().first() {
        Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'R' | 0xC2 | 0xEF) => true,
        Some(0xE4) => n.starts_with("人民币"),
        _ => false,
    }
}

/// The boolean a normalised, trimmed text means, if it is one of the words
/// for yes and no.
#[inline]
fn boolean_word(n: &str) -> Option<bool> {
    match n {
        "是" | "true" | "TRUE" | "True" => Some(true),
        "否" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// [`parse_text`] of any text, read in full.
fn parse_text_in_full(raw: &str, date_hint: bool) -> Parsed<'_> {
    // Printable ASCII without white space (most numbers, dates and codes)
    // is its own normalised and compact form.
    let unspaced = crate::text::unspaced_ascii(raw);
    let n = match unspaced {
        Some(_) => Cow::Borrowed(raw),
        None => normalized(raw),
    };
    if n.is_empty() {
        return Parsed::Null(Cow::Borrowed(""));
    }
    if let Some(m) = null_marker(&n) {
        return Parsed::Null(Cow::Borrowed(m));
    }
    // The text is trimmed, so its first byte is the compact text's first.
    if may_start_scalar(&n) && !too_long_for_a_scalar(&n) {
        // Without white space, as the number and date parsers read it.
        let c = match unspaced {
            Some(_) => Cow::Borrowed(raw),
            None => without_space(&n),
        };
        if unspaced != Some(false)
            && scientific_compact(&c)
            && n.parse::<f64>().is_ok_and(is_destroyed_identifier)
        {
            return Parsed::Destroyed(n);
        }
        if date_hint && let Some(d) = date_of_compact(&c, true) {
            return Parsed::Date(d);
        }
        if let Some(p) = number_of_compact(&c) {
            return Parsed::Num(p, c);
        }
        if let Some(d) = date_of_compact(&c, false) {
            return Parsed::Date(d);
        }
    }
    match boolean_word(&n) {
        Some(b) => Parsed::Bool(b),
        // Text NFKC leaves alone normalises to itself trimmed: `n` is then
        // the trimmed text already.
        None => match n {
            Cow::Borrowed(trimmed) => Parsed::Text(Cow::Borrowed(trimmed)),
            Cow::Owned(_) => Parsed::Text(Cow::Borrowed(crate::text::trim(raw))),
        },
    }
}

fn display(p: &Parsed, cell: CellRef) -> String {
    match p {
        Parsed::Num(_, s) | Parsed::Text(s) | Parsed::Destroyed(s) => s.to_string(),
        _ => cell.display(),
    }
}

/// Misfits and destroyed values kept per column with their location (the
/// rest are counted): the report shows at most this many of each.
pub const MAX_KEPT_PROBLEMS: usize = 50;

/// Distinct plain-digit values remembered for the hierarchical-code test;
/// a column with more is not a classification code list.
const MAX_DIGIT_VALUES: usize = 200_000;

/// What a column's values show, gathered one value at a time: enough to
/// choose the column's type without keeping the values, so a column of a
/// streamed file is typed over all of its values in one pass.
#[derive(Debug, Clone)]
pub struct Evidence {
    date_hint: bool,
    code_hint: bool,
    ident_hint: bool,
    null_markers: BTreeMap<String, usize>,
    n_num: usize,
    n_date: usize,
    n_bool: usize,
    n_text: usize,
    n_destroyed: usize,
    int_only: bool,
    any_percent: bool,
    leading_zero: bool,
    long_digits: bool,
    has_time: bool,
    /// Plain-digit values (with their counts) for the hierarchical-code test.
    digits: std::collections::HashMap<String, usize>,
    n_plain_digits: usize,
    short_digits: bool,
    digits_overflow: bool,
    fits_i64: bool,
    /// Largest scale and integer digits of the values written with `%`, of
    /// those without, and of those without once scaled as percentages.
    pct_scale: Option<u8>,
    pct_int_digits: u32,
    plain_scale: Option<u8>,
    plain_int_digits: u32,
    plain_as_pct_int_digits: u32,
}

/// The type chosen for a column and how to convert its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Chosen type.
    pub kind: Kind,
    /// Some values were percentages: every value is stored as a fraction.
    any_percent: bool,
    /// Digits kept as text because they identify (IDs, phones, accounts).
    identifiers: bool,
    date_hint: bool,
}

impl Evidence {
    /// Empty evidence for a column headed `header` (its last header level).
    pub fn new(header: &str) -> Self {
        Evidence {
            date_hint: header_says_date(header),
            code_hint: header_says_code(header),
            ident_hint: header_says_identifier(header),
            null_markers: BTreeMap::new(),
            n_num: 0,
            n_date: 0,
            n_bool: 0,
            n_text: 0,
            n_destroyed: 0,
            int_only: true,
            any_percent: false,
            leading_zero: false,
            long_digits: false,
            has_time: false,
            digits: std::collections::HashMap::new(),
            n_plain_digits: 0,
            short_digits: false,
            digits_overflow: false,
            fits_i64: true,
            pct_scale: None,
            pct_int_digits: 0,
            plain_scale: None,
            plain_int_digits: 0,
            plain_as_pct_int_digits: 0,
        }
    }

    /// Parses a cell as this column reads it.
    #[inline]
    pub(crate) fn parse<'a>(&self, cell: CellRef<'a>) -> Parsed<'a> {
        parse_cell(cell, self.date_hint)
    }

    /// Adds one cell to the evidence.
    pub fn add(&mut self, cell: &Cell) {
        let p = self.parse(CellRef::Cell(cell));
        self.observe(&p);
    }

    /// Adds `n` empty cells.
    pub fn add_empty(&mut self, n: usize) {
        if n > 0 {
            *self.null_markers.entry(String::new()).or_insert(0) += n;
        }
    }

    /// Adds one parsed value to the evidence. Text, the most common value
    /// in a file's text columns, is counted here, inlined where the values
    /// are read; the rest in [`Evidence::observe_value`].
    #[inline]
    pub(crate) fn observe(&mut self, p: &Parsed) {
        if let Parsed::Text(_) = p {
            self.n_text += 1;
        } else {
            self.observe_value(p);
        }
    }

    /// [`Evidence::observe`] of a value other than text.
    fn observe_value(&mut self, p: &Parsed) {
        match p {
            Parsed::Null(m) => {
                if let Some(n) = self.null_markers.get_mut(m.as_ref()) {
                    *n += 1;
                } else {
                    self.null_markers.insert(m.to_string(), 1);
                }
            }
            Parsed::Num(n, s) => {
                self.n_num += 1;
                if n.value.scale > 0 || n.percent {
                    self.int_only = false;
                }
                self.any_percent |= n.percent;
                self.leading_zero |= n.leading_zero;
                self.fits_i64 &= i64::try_from(n.value.mantissa).is_ok();
                if n.percent {
                    self.pct_scale = Some(self.pct_scale.unwrap_or(0).max(n.value.scale));
                    self.pct_int_digits = self.pct_int_digits.max(n.value.integer_digits());
                } else {
                    self.plain_scale = Some(self.plain_scale.unwrap_or(0).max(n.value.scale));
                    let digits = n.value.integer_digits();
                    self.plain_int_digits = self.plain_int_digits.max(digits);
                    // As a percentage that lost its `%` (a hundredth of it):
                    // `fraction(n, true).integer_digits()`, two digits fewer.
                    self.plain_as_pct_int_digits = self
                        .plain_as_pct_int_digits
                        .max(digits.saturating_sub(2).max(1));
                }
                if n.plain_digits {
                    self.n_plain_digits += 1;
                    self.short_digits |= s.len() < 3;
                    if s.len() >= 11 {
                        self.long_digits = true;
                    }
                    if let Some(c) = self.digits.get_mut(s.as_ref()) {
                        *c += 1;
                    } else if self.digits.len() < MAX_DIGIT_VALUES {
                        self.digits.insert(s.to_string(), 1);
                    } else {
                        self.digits_overflow = true;
                    }
                }
            }
            Parsed::Date(d) => {
                self.n_date += 1;
                self.has_time |= d.time() != chrono::NaiveTime::MIN;
            }
            Parsed::Bool(_) => self.n_bool += 1,
            Parsed::Destroyed(_) => self.n_destroyed += 1,
            Parsed::Text(_) => self.n_text += 1,
        }
    }

    /// Nulls seen, by the marker that stood in the cell (`""` for empty).
    pub fn null_markers(&self) -> &BTreeMap<String, usize> {
        &self.null_markers
    }

    /// Hierarchical codes: most values extend a shorter value of the column
    /// (`201` → `20101` → `2010101`).
    fn hierarchical(&self) -> bool {
        if self.n_plain_digits < 3 || self.short_digits || self.digits_overflow {
            return false; // row numbers 1, 2, … 10, 11 are not codes
        }
        let extending: usize = self
            .digits
            .iter()
            .filter(|(d, _)| self.digits.contains_key(&d[..d.len() - 2]))
            .map(|(_, n)| n)
            .sum();
        extending * 3 >= self.n_plain_digits
    }

    fn numeric_kind(&self) -> Kind {
        let (scale, int_digits) = if self.any_percent {
            (
                self.pct_scale
                    .into_iter()
                    .chain(self.plain_scale.map(|s| s + 2))
                    .max()
                    .unwrap_or(0),
                self.pct_int_digits.max(self.plain_as_pct_int_digits),
            )
        } else {
            (self.plain_scale.unwrap_or(0), self.plain_int_digits)
        };
        let int_digits = int_digits.max(1);
        if self.int_only && self.fits_i64 && !self.any_percent {
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

    /// Chooses the column's type from everything seen.
    pub fn decide(&self) -> Decision {
        let (n_num, n_date, n_bool, n_text, n_destroyed) = (
            self.n_num,
            self.n_date,
            self.n_bool,
            self.n_text,
            self.n_destroyed,
        );
        let non_null = n_num + n_date + n_bool + n_text + n_destroyed;
        // Up to 2% of values (at least one) may be misfits before a column falls back to text.
        let tolerated =
            |fit: usize| fit > 0 && (non_null - fit) * 50 <= non_null && fit * 2 > non_null;
        let all_plain_digits = n_num > 0 && self.n_plain_digits == n_num;
        let codes = n_destroyed == 0
            && n_num > 0
            && n_date == 0
            && (self.code_hint
                || self.leading_zero
                || (all_plain_digits && n_text == 0 && !self.long_digits && self.hierarchical()));
        let identifiers = n_destroyed == 0
            && n_num > 0
            && (self.ident_hint || (all_plain_digits && self.long_digits));
        let kind = if non_null == 0 || n_destroyed > 0 || identifiers {
            Kind::Text
        } else if codes {
            Kind::Code
        } else if tolerated(n_date) && n_num == 0
            || (n_date > 0 && n_date + n_num == non_null && self.date_hint && tolerated(n_date))
        {
            if self.has_time {
                Kind::Timestamp
            } else {
                Kind::Date
            }
        } else if n_bool == non_null {
            Kind::Boolean
        } else if tolerated(n_num) {
            self.numeric_kind()
        } else {
            Kind::Text
        };
        Decision {
            kind,
            any_percent: self.any_percent,
            identifiers,
            date_hint: self.date_hint,
        }
    }
}

/// Converts the values of one column to its decided type, in pieces: each
/// [`Converter::take`] returns the values converted since the last one.
#[derive(Debug)]
pub struct Converter {
    decision: Decision,
    values: Values,
    /// The first misfits, by index among all the column's values.
    pub misfits: Vec<Misfit>,
    /// Misfits in all.
    pub misfit_total: usize,
    /// The first destroyed values.
    pub destroyed: Vec<Misfit>,
    /// Destroyed values in all.
    pub destroyed_total: usize,
}

impl Converter {
    /// A converter for a column typed as `decision` says, with room for
    /// `n` values.
    pub fn new(decision: Decision, n: usize) -> Self {
        Converter {
            decision,
            values: empty_values(decision.kind, n, 0),
            misfits: Vec::new(),
            misfit_total: 0,
            destroyed: Vec::new(),
            destroyed_total: 0,
        }
    }

    /// Converts one cell, the `index`-th value of the column.
    pub fn push(&mut self, index: usize, cell: &Cell) {
        self.push_cell(index, CellRef::Cell(cell));
    }

    /// [`Converter::push`] of a cell or a chunk's field.
    pub(crate) fn push_cell(&mut self, index: usize, cell: CellRef) {
        let p = parse_cell(cell, self.decision.date_hint);
        self.push_parsed(index, &p, cell);
    }

    fn misfit(&mut self, index: usize, p: &Parsed, cell: CellRef, why: &str) {
        self.misfit_total += 1;
        if self.misfits.len() < MAX_KEPT_PROBLEMS {
            self.misfits.push(Misfit {
                index,
                value: display(p, cell),
                reason: why.to_string(),
            });
        }
    }

    /// Converts one parsed cell, the `index`-th value of the column. Text
    /// into a text column is pushed here, inlined where the values are read;
    /// the rest in [`Converter::push_value`].
    #[inline]
    pub(crate) fn push_parsed(&mut self, index: usize, p: &Parsed, cell: CellRef) {
        // Text values are kept for code and text columns only.
        if let (Parsed::Text(s), Values::Text(out)) = (p, &mut self.values) {
            out.push(Some(s.as_ref()));
        } else {
            self.push_value(index, p, cell);
        }
    }

    /// [`Converter::push_parsed`] of any value but text into a text column.
    fn push_value(&mut self, index: usize, p: &Parsed, cell: CellRef) {
        let d = self.decision;
        match d.kind {
            Kind::Integer => {
                let v = match p {
                    Parsed::Num(n, _) => i64::try_from(n.value.mantissa).ok(),
                    Parsed::Null(_) => None,
                    other => {
                        self.misfit(index, other, cell, "not a whole number");
                        None
                    }
                };
                if let Values::Int(out) = &mut self.values {
                    out.push(v);
                }
            }
            Kind::Decimal { scale, .. } => {
                let v = match p {
                    Parsed::Num(n, _) => fraction(n, d.any_percent).rescale(scale),
                    Parsed::Null(_) => None,
                    other => {
                        self.misfit(index, other, cell, "not a number");
                        None
                    }
                };
                if let Values::Decimal(out) = &mut self.values {
                    out.push(v);
                }
            }
            Kind::Date => {
                let v = match p {
                    Parsed::Date(d) => Some(days(d)),
                    Parsed::Num(n, s) => match parse_date(s, true)
                        .or_else(|| excel_serial_to_datetime(n.value.to_f64()))
                    {
                        Some(d) => Some(days(&d)),
                        None => {
                            self.misfit(index, p, cell, "not a date");
                            None
                        }
                    },
                    Parsed::Null(_) => None,
                    other => {
                        self.misfit(index, other, cell, "not a date");
                        None
                    }
                };
                if let Values::Date(out) = &mut self.values {
                    out.push(v);
                }
            }
            Kind::Timestamp => {
                let v = match p {
                    Parsed::Date(d) => Some(d.and_utc().timestamp_millis()),
                    Parsed::Null(_) => None,
                    other => {
                        self.misfit(index, other, cell, "not a date/time");
                        None
                    }
                };
                if let Values::Timestamp(out) = &mut self.values {
                    out.push(v);
                }
            }
            Kind::Boolean => {
                if let Values::Bool(out) = &mut self.values {
                    out.push(match p {
                        Parsed::Bool(b) => Some(*b),
                        _ => None,
                    });
                }
            }
            Kind::Code | Kind::Text => {
                let owned;
                let v = match p {
                    Parsed::Null(_) => None,
                    Parsed::Destroyed(s) => {
                        self.destroyed_total += 1;
                        if self.destroyed.len() < MAX_KEPT_PROBLEMS {
                            self.destroyed.push(Misfit {
                                index,
                                value: s.to_string(),
                                reason: "a 15–18 digit number stored as a float: Excel kept only 15 significant digits, so the value is destroyed".into(),
                            });
                        }
                        None
                    }
                    // Codes and identifiers keep their digits as written.
                    Parsed::Num(_, s) | Parsed::Text(s) => Some(&**s),
                    other => {
                        owned = display(other, cell);
                        Some(owned.as_str())
                    }
                };
                if let Values::Text(out) = &mut self.values {
                    out.push(v);
                }
            }
        }
    }

    /// The values converted since the last call.
    pub fn take(&mut self) -> Values {
        // The next values get the room these took, and an eighth more for
        // text (batches of as many values hold about as many bytes): a
        // batch's buffers are reserved once instead of grown, and copied,
        // from nothing or from a little too little.
        let bytes = match &self.values {
            Values::Text(these) => these.text_len() + these.text_len() / 8,
            _ => 0,
        };
        let next = empty_values(self.decision.kind, self.values.len(), bytes);
        std::mem::replace(&mut self.values, next)
    }

    /// The column's type.
    pub fn decision(&self) -> Decision {
        self.decision
    }
}

impl Decision {
    /// Percentages stored as fractions.
    pub fn percent(&self) -> bool {
        self.any_percent && matches!(self.kind, Kind::Decimal { .. })
    }
}

/// No values yet, with room for `n` (and `bytes` bytes of text).
fn empty_values(kind: Kind, n: usize, bytes: usize) -> Values {
    match kind {
        Kind::Integer => Values::Int(Vec::with_capacity(n)),
        Kind::Decimal { .. } => Values::Decimal(Vec::with_capacity(n)),
        Kind::Date => Values::Date(Vec::with_capacity(n)),
        Kind::Timestamp => Values::Timestamp(Vec::with_capacity(n)),
        Kind::Boolean => Values::Bool(Vec::with_capacity(n)),
        Kind::Code | Kind::Text => Values::Text(TextValues::with_capacity(n, bytes)),
    }
}

/// Types one column from its cells. `header` is the last header level.
pub fn type_column(header: &str, cells: &[&Cell]) -> TypedColumn {
    let mut evidence = Evidence::new(header);
    let parsed: Vec<Parsed> = cells
        .iter()
        .map(|c| evidence.parse(CellRef::Cell(c)))
        .collect();
    for p in &parsed {
        evidence.observe(p);
    }
    let decision = evidence.decide();
    let mut converter = Converter::new(decision, cells.len());
    for (i, (p, cell)) in parsed.iter().zip(cells).enumerate() {
        converter.push_parsed(i, p, CellRef::Cell(cell));
    }
    TypedColumn {
        kind: decision.kind,
        values: converter.take(),
        percent: decision.percent(),
        null_markers: evidence.null_markers,
        misfit_total: converter.misfit_total,
        destroyed_total: converter.destroyed_total,
        misfits: converter.misfits,
        destroyed: converter.destroyed,
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

/// Days from 0001-01-01 (day 1) to 1970-01-01, Arrow's `Date32` epoch.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

fn days(d: &NaiveDateTime) -> i32 {
    use chrono::Datelike;
    d.date().num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
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
    fn digits_as_a_percentage_are_two_fewer() {
        for text in [
            "0", "0.05", "0.5", "1", "99", "100", "123.45", "12345.67", "-98765",
        ] {
            let n = crate::text::parse_number(text).expect(text);
            assert_eq!(
                n.value.integer_digits().saturating_sub(2).max(1),
                fraction(&n, true).integer_digits(),
                "{text}"
            );
        }
    }

    #[test]
    fn text_told_at_once_is_read_as_in_full() {
        let pieces = [
            "0",
            "7",
            "-",
            "+",
            ".",
            "R",
            "x",
            "N/A",
            "n",
            "#",
            "是",
            "否",
            "true",
            "False",
            "ZFCG",
            "城关镇",
            "人民币",
            "人",
            "元",
            "¥",
            "￥",
            "１",
            "\u{200B}",
            "—",
            "无",
            "空",
            "　",
            " ",
            "\t",
            "é",
            "ａ",
            "2024-05-06",
            "12:30",
            "e5",
            "%",
            "T",
            "计",
        ];
        let mut seed = 0xD1B5_4A32_D192_ED03u64;
        let mut at_once = 0;
        for _ in 0..50_000 {
            let text = crate::text_of_pieces(&mut seed, &pieces, 4);
            at_once += usize::from(plainly_text(&text).is_some());
            for hint in [false, true] {
                assert_eq!(
                    parse_text(&text, hint),
                    parse_text_in_full(&text, hint),
                    "{text:?}"
                );
            }
        }
        assert!(at_once > 5_000, "only {at_once} texts were told at once");
    }

    #[test]
    fn unspaced_ascii_is_read_as_spaced_text_is() {
        // A leading space sends a text the general way (normalised, then
        // without white space); the text alone may take the ASCII way.
        let pieces = [
            "0",
            "7",
            "12",
            "-",
            "+",
            ".",
            ",",
            "%",
            "e",
            "E",
            "2024-05-06",
            "2024/5/6",
            "20230506",
            "4.10102E+17",
            "x",
            "N/A",
            "是",
            "true",
            "ZFCG",
            "元",
            "¥",
            "１",
            "\u{200B}",
            "—",
            ":",
            "12:30:00",
            "T",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let (mut fast, mut kept, mut folded) = (0, 0, 0);
        for _ in 0..20_000 {
            let text = crate::text_of_pieces(&mut seed, &pieces, 5);
            fast += usize::from(crate::text::unspaced_ascii(&text).is_some());
            for hint in [false, true] {
                assert_eq!(
                    parse_text(&text, hint),
                    parse_text(&format!(" {text}"), hint),
                    "{text:?}"
                );
            }
            // Text is kept as written, only trimmed (not normalised).
            for raw in [
                text.clone(),
                format!(" {text}\t"),
                format!("供应商{text}\u{3000}"),
            ] {
                if let Parsed::Text(t) = parse_text(&raw, false) {
                    assert_eq!(t, crate::text::trim(&raw), "{raw:?}");
                    // Both ways: text NFKC leaves alone, and text it changes.
                    match crate::text::normalized(&raw) {
                        Cow::Borrowed(_) => kept += 1,
                        Cow::Owned(_) => folded += 1,
                    }
                }
            }
        }
        assert!(fast > 5_000, "only {fast} texts took the ASCII way");
        assert!(
            kept > 5_000 && folded > 5_000,
            "text kept {kept}, folded {folded}"
        );
    }

    #[test]
    fn days_count_from_the_unix_epoch() {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        for (y, m, d) in [
            (1970, 1, 1),
            (1969, 12, 31),
            (1900, 3, 1),
            (2024, 5, 6),
            (2100, 12, 31),
        ] {
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date");
            let midnight = date.and_hms_opt(0, 0, 0).expect("time");
            assert_eq!(
                i64::from(days(&midnight)),
                (date - epoch).num_days(),
                "{date}"
            );
        }
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
        assert_eq!(v.get(1), Some("13912345678"));
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
        assert!(v.iter().all(|v| v.is_none()));
        let c = kind_of("身份证号", &["4.10102E+17"]);
        assert_eq!(c.destroyed.len(), 1);
    }
}
