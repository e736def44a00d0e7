//! Personal information: detection per column and per cell, default redaction,
//! and the leak gate that every public artifact passes before release.
//!
//! Defaults (PRIVACY.md): resident IDs, mobiles, landlines in person rows, bank
//! accounts, passports and health columns are dropped; person names are masked
//! (`张*丰`); addresses are generalised to township/street; birth dates to the
//! year. In other text columns, embedded IDs, mobiles and card numbers are
//! masked cell by cell. Public Parquet is then written from these values only.

pub mod detect;

use crate::Result;
use crate::report::Report;
use arrow::array::{Array, ArrayRef, AsArray, Int32Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use detect::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Kinds of personal information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// Resident identity number (18 or 15 digits).
    CnResidentId,
    /// A natural person's name.
    PersonName,
    /// Mobile phone number.
    CnMobile,
    /// Landline number in a person's row.
    CnLandline,
    /// Bank card or account number.
    BankCard,
    /// Home or registered address.
    Address,
    /// Date of birth.
    BirthDate,
    /// Age in years.
    Age,
    /// Health, disability or cause of poverty.
    Health,
    /// Passport or travel permit number.
    Passport,
}

impl PiiKind {
    /// snake_case name used in reports and the data dictionary.
    pub fn name(self) -> &'static str {
        match self {
            PiiKind::CnResidentId => "cn_resident_id",
            PiiKind::PersonName => "person_name",
            PiiKind::CnMobile => "cn_mobile",
            PiiKind::CnLandline => "cn_landline",
            PiiKind::BankCard => "bank_card",
            PiiKind::Address => "address",
            PiiKind::BirthDate => "birth_date",
            PiiKind::Age => "age",
            PiiKind::Health => "health",
            PiiKind::Passport => "passport",
        }
    }

    /// The default public action for a list with a publicity basis (names masked).
    pub fn default_action(self) -> Action {
        self.default_action_for(Category::SocialAssistance, "")
    }

    /// The default public action in a dataset of `category`, for a column
    /// headed `header` (PRIVACY.md): names are masked only where the dataset
    /// kind has a publicity basis (and in penalty records only the penalised
    /// party's), otherwise dropped.
    pub fn default_action_for(self, category: Category, header: &str) -> Action {
        match self {
            PiiKind::PersonName => match category {
                Category::SocialAssistance | Category::Subsidy | Category::LandCompensation => {
                    Action::Mask
                }
                Category::Penalty
                    if ["当事人", "被处罚", "违法行为人", "行政相对人"]
                        .iter()
                        .any(|w| header.contains(w)) =>
                {
                    Action::Mask
                }
                _ => Action::Drop,
            },
            PiiKind::Address | PiiKind::BirthDate | PiiKind::Age => Action::Generalize,
            _ => Action::Drop,
        }
    }
}

/// What kind of list a dataset is, as far as the redaction defaults care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 社会救助 (minimum living allowance, temporary relief …): names masked,
    /// addresses kept to the village/community.
    SocialAssistance,
    /// 惠民惠农补贴: names masked.
    Subsidy,
    /// 征地补偿: names masked.
    LandCompensation,
    /// 行政处罚: the penalised party's name masked, other names dropped.
    Penalty,
    /// Anything else: names dropped.
    #[default]
    Other,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 5] = [
        Category::SocialAssistance,
        Category::Subsidy,
        Category::LandCompensation,
        Category::Penalty,
        Category::Other,
    ];

    /// The category with this snake_case name.
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }

    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Category::SocialAssistance => "social_assistance",
            Category::Subsidy => "subsidy",
            Category::LandCompensation => "land_compensation",
            Category::Penalty => "penalty",
            Category::Other => "other",
        }
    }
}

/// What happens to a personal column before publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The column is removed.
    Drop,
    /// Values are masked with the platform-wide format of the kind.
    Mask,
    /// Values are generalised (address → township, date → year).
    Generalize,
    /// Embedded identifiers in free text are masked cell by cell.
    MaskCells,
    /// Values are replaced by a keyed pseudonym (HMAC-SHA256 with the
    /// publisher's key, base32, 20 characters): rows of one person stay linkable.
    Pseudonym,
    /// Published as is: only by a reviewer with a recorded legal basis, and
    /// never for resident IDs, bank numbers, mobiles or passports.
    Keep,
}

impl Action {
    /// How much the action hides: keep 0, mask/generalise/mask_cells 1, pseudonym 2, drop 3.
    pub fn strictness(self) -> u8 {
        match self {
            Action::Keep => 0,
            Action::Mask | Action::Generalize | Action::MaskCells => 1,
            Action::Pseudonym => 2,
            Action::Drop => 3,
        }
    }

    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Drop => "drop",
            Action::Mask => "mask",
            Action::Generalize => "generalize",
            Action::MaskCells => "mask_cells",
            Action::Pseudonym => "pseudonym",
            Action::Keep => "keep",
        }
    }
}

/// Kinds that are never published raw, whoever asks (PRIVACY.md).
pub const NEVER_RAW: &[PiiKind] = &[
    PiiKind::CnResidentId,
    PiiKind::BankCard,
    PiiKind::CnMobile,
    PiiKind::Passport,
];

/// Whether `action` can be applied to a column of `kind` (None: a column with
/// no detected kind, or free text with embedded identifiers).
pub fn applicable(kind: Option<PiiKind>, action: Action) -> bool {
    match (kind, action) {
        (_, Action::Drop) => true,
        (None, _) => false,
        (Some(k), Action::Keep) => !NEVER_RAW.contains(&k),
        (Some(PiiKind::PersonName), Action::Mask) => true,
        (Some(PiiKind::Address | PiiKind::BirthDate | PiiKind::Age), Action::Generalize) => true,
        (Some(_), Action::Pseudonym) => true,
        _ => false,
    }
}

/// Whether changing a column from its default to `requested` loosens it
/// (needs a reviewer and a recorded legal basis) rather than tightening it.
pub fn loosens(default: Action, requested: Action) -> bool {
    requested.strictness() < default.strictness()
}

/// Per-column choices overriding the default actions, and the publisher's
/// pseudonym key. Columns are named as in the report (`findings[].column`).
#[derive(Debug, Clone, Default)]
pub struct RedactionPolicy {
    /// Column name → action.
    pub columns: std::collections::BTreeMap<String, Action>,
    /// Secret key for [`Action::Pseudonym`] (never written anywhere public).
    pub pseudonym_key: Option<Vec<u8>>,
    /// The dataset's kind, which sets the defaults.
    pub category: Category,
}

/// Keyed pseudonym: HMAC-SHA256(key, "v1|kind|canonical value"), base32, 20 characters.
pub fn pseudonym(key: &[u8], kind: PiiKind, value: &str) -> String {
    use hmac::{Hmac, Mac};
    let canonical = detect::canonical(value);
    let mut mac = match <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this branch is unreachable in practice.
        Err(_) => return String::new(),
    };
    mac.update(format!("v1|{}|{canonical}", kind.name()).as_bytes());
    let digest = mac.finalize().into_bytes();
    base32(&digest).chars().take(20).collect()
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(char::from(ALPHABET[((buffer >> (bits - 5)) & 31) as usize]));
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// One finding, as shown to the agency and the reviewer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// Column name.
    pub column: String,
    /// Original header path.
    pub path: Vec<String>,
    /// Kind detected.
    pub kind: PiiKind,
    /// How it was detected (`header` or `values`).
    pub by: String,
    /// Action applied.
    pub action: Action,
    /// Cells affected.
    pub cells: usize,
    /// A few values as they will be public (empty when dropped).
    pub preview: Vec<String>,
}

fn header_kind(header: &str) -> Option<PiiKind> {
    let h = crate::text::compact(header);
    let has = |words: &[&str]| words.iter().any(|w| h.contains(w));
    if has(&["统一社会信用代码", "信用代码", "组织机构代码"]) {
        return None;
    }
    if has(&["身份证", "证件号码", "公民身份号码", "身份证明", "证件号"]) {
        return Some(PiiKind::CnResidentId);
    }
    if has(&["护照", "通行证", "回乡证", "台胞证"]) {
        return Some(PiiKind::Passport);
    }
    if has(&[
        "银行账号",
        "银行帐号",
        "卡号",
        "账号",
        "帐号",
        "存折号",
        "一卡通",
        "开户",
    ]) {
        return Some(PiiKind::BankCard);
    }
    if has(&[
        "监督电话",
        "咨询电话",
        "举报电话",
        "投诉电话",
        "服务电话",
        "办公电话",
        "值班电话",
    ]) {
        return None; // agency service numbers stay public
    }
    if has(&["手机", "电话", "联系方式"]) {
        return Some(PiiKind::CnMobile);
    }
    if has(&["地址", "住址", "户籍", "坐落", "居住地"]) {
        return Some(PiiKind::Address);
    }
    if has(&["出生日期", "出生年月", "生日"]) {
        return Some(PiiKind::BirthDate);
    }
    if has(&["年龄", "岁数"]) {
        return Some(PiiKind::Age);
    }
    if has(&[
        "健康状况",
        "残疾等级",
        "残疾类别",
        "病种",
        "致贫原因",
        "疾病",
    ]) {
        return Some(PiiKind::Health);
    }
    if has(&[
        "姓名",
        "户主",
        "申请人",
        "救助对象",
        "收款人",
        "户名",
        "被征收人",
        "当事人",
        "家庭成员",
        "监护人",
        "领取人",
    ]) {
        return Some(PiiKind::PersonName);
    }
    None
}

fn value_kind(values: &[&str]) -> Option<PiiKind> {
    if values.is_empty() {
        return None;
    }
    let share = |f: fn(&str) -> bool| values.iter().filter(|v| f(v)).count() * 2 > values.len();
    if share(|v| is_resident_id18(v, true)) {
        Some(PiiKind::CnResidentId)
    } else if share(is_mobile) {
        Some(PiiKind::CnMobile)
    } else if share(is_bank_card) {
        Some(PiiKind::BankCard)
    } else {
        None
    }
}

/// Digits of the shortest identifier [`find_in_text`] finds (a mobile number).
const MIN_DIGITS_IN_TEXT: usize = 11;

/// Pieces of free text that are identifiers: (byte range, kind).
pub fn find_in_text(text: &str) -> Vec<(std::ops::Range<usize>, PiiKind)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        // An ID may end in X/x.
        let mut end = i;
        if end - start == 17 && end < bytes.len() && matches!(bytes[end], b'X' | b'x') {
            end += 1;
        }
        let run = &text[start..end];
        let boundary = end >= bytes.len() || !bytes[end].is_ascii_alphanumeric();
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        if before_ok && boundary {
            let kind = if run.len() == 18 && is_resident_id18(run, true) {
                Some(PiiKind::CnResidentId)
            } else if run.len() == 11 && is_mobile(run) {
                Some(PiiKind::CnMobile)
            } else if (16..=19).contains(&run.len()) && is_bank_card(run) {
                Some(PiiKind::BankCard)
            } else {
                None
            };
            if let Some(k) = kind {
                out.push((start..end, k));
            }
        }
        i = end.max(i);
    }
    out
}

/// Whether `text` has [`MIN_DIGITS_IN_TEXT`] ASCII digits or a character
/// NFKC may change (a full-width digit among them), in one pass over its
/// bytes (read by lead byte as in [`crate::text::all_nfkc_stable`]).
fn may_hold_identifier(text: &str) -> bool {
    let b = text.as_bytes();
    if text.is_ascii() {
        // Counted without branching per byte.
        return b
            .iter()
            .map(|x| usize::from(x.is_ascii_digit()))
            .sum::<usize>()
            >= MIN_DIGITS_IN_TEXT;
    }
    let mut digits = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => {
                digits += 1;
                i += 1;
            }
            0x00..=0x7F => i += 1,
            0xE5..=0xE9 => i += 3,
            0xE4 if b.get(i + 1).is_some_and(|&y| y >= 0xB8) => i += 3,
            _ => {
                return !crate::text::all_nfkc_stable(text)
                    || text.bytes().filter(u8::is_ascii_digit).count() >= MIN_DIGITS_IN_TEXT;
            }
        }
    }
    digits >= MIN_DIGITS_IN_TEXT
}

/// Bytes looked at together by [`may_hold_identifier_anywhere`].
const WINDOW: usize = 64;

/// Whether texts laid end to end in `bytes` (a text column's values, in
/// one buffer) may hold an identifier: [`MIN_DIGITS_IN_TEXT`] ASCII digits
/// in a row, or a character NFKC may change (a character beyond ASCII and
/// U+4000–U+9FFF, told by its lead byte as in
/// [`crate::text::ascii_or_common_cjk`]). [`find_in_text`] finds
/// identifiers only in runs of digits of the normalised text, and text NFKC
/// leaves alone is its own normalisation; a run that crosses from one value
/// into the next can only make the answer yes, never no.
///
/// Digit runs are read [`WINDOW`] bytes at a time as a mask with one bit
/// per byte ([`digit_mask`]), kept in a register: a bit is kept while the
/// bits after it are set too, 2, 4, 8 and then 11 in a row. The windows
/// overlap by one byte less than a run, so every run lies whole in one of
/// them.
fn may_hold_identifier_anywhere(bytes: &[u8]) -> bool {
    const STEP: usize = WINDOW - (MIN_DIGITS_IN_TEXT - 1);
    const _: () = assert!(MIN_DIGITS_IN_TEXT == 11 && WINDOW == 64);
    if !crate::text::ascii_or_common_cjk_bytes(bytes) {
        return true;
    }
    let mut at = 0;
    loop {
        let end = (at + WINDOW).min(bytes.len());
        // Bits past the window are 0: a run ends with its window.
        let mut run = digit_mask(&bytes[at..end]);
        for shift in [1, 2, 4, 3] {
            run &= run >> shift;
        }
        if run != 0 {
            return true;
        }
        if end == bytes.len() {
            return false;
        }
        at += STEP;
    }
}

/// Bit `i` set when byte `i` of `bytes` (the first 64 are read) is an
/// ASCII digit: eight bytes at a time, each byte's answer in its high bit
/// (no carry crosses a byte), the eight high bits then gathered by one
/// multiplication.
fn digit_mask(bytes: &[u8]) -> u64 {
    let bytes = &bytes[..bytes.len().min(64)];
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let of_word = |w: u64| {
        let low = w & LOW7;
        // High bit set when the low seven bits are at least `0`, and when
        // they are past `9`; a byte of 0x80 or more is no digit.
        let from_zero = low + 0x5050_5050_5050_5050;
        let past_nine = low + 0x4646_4646_4646_4646;
        let digits = from_zero & !past_nine & !w & HIGH;
        (digits >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
    };
    let mut mask = 0u64;
    let mut words = bytes.chunks_exact(8);
    let mut k = 0;
    for word in words.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        mask |= of_word(u64::from_le_bytes(w)) << (8 * k);
        k += 1;
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let w = rest
            .iter()
            .rev()
            .fold(0u64, |w, &b| (w << 8) | u64::from(b));
        mask |= of_word(w) << (8 * k);
    }
    mask
}

/// The bytes of a text array's values, end to end (`None` for a view array,
/// whose values are not in one buffer).
fn value_bytes(array: &ArrayRef) -> Option<&[u8]> {
    let strings = array.as_string_opt::<i32>()?;
    let offsets = strings.value_offsets();
    let (first, last) = (*offsets.first()?, *offsets.last()?);
    strings
        .value_data()
        .get(usize::try_from(first).ok()?..usize::try_from(last).ok()?)
}

fn mask_in_text(text: &str) -> Option<String> {
    // Every identifier found in text has at least 11 digits; text that NFKC
    // leaves alone (no full-width digits) with fewer holds none, and so does
    // text of fewer than 11 bytes (NFKC makes at most two digits of three
    // bytes, `⒛` → `20.`).
    if text.len() < MIN_DIGITS_IN_TEXT || !may_hold_identifier(text) {
        return None;
    }
    let normalized = crate::text::normalized(text);
    let found = find_in_text(&normalized);
    if found.is_empty() {
        return None;
    }
    let mut out = String::new();
    let mut last = 0;
    for (range, kind) in found {
        out.push_str(&normalized[last..range.start]);
        out.push_str(match kind {
            PiiKind::CnMobile => "[手机号已隐藏]",
            PiiKind::BankCard => "[卡号已隐藏]",
            _ => "[证件号已隐藏]",
        });
        last = range.end;
    }
    out.push_str(&normalized[last..]);
    Some(out)
}

/// The values of a text column, borrowed (none for other types).
fn borrowed_strings(array: &ArrayRef) -> Vec<Option<&str>> {
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().collect(),
        DataType::Utf8View => array.as_string_view().iter().collect(),
        _ => Vec::new(),
    }
}

fn strings(array: &ArrayRef) -> Option<Vec<Option<String>>> {
    matches!(array.data_type(), DataType::Utf8 | DataType::Utf8View).then(|| {
        borrowed_strings(array)
            .into_iter()
            .map(|v| v.map(str::to_string))
            .collect()
    })
}

/// Applies default redaction to an ingested table and records the findings
/// (and each column's `pii`) in the report.
pub fn redact(batch: &RecordBatch, report: &mut Report) -> Result<(RecordBatch, Vec<Finding>)> {
    redact_with(batch, report, &RedactionPolicy::default())
}

/// [`redact`] with per-column overrides. Overrides that do not apply to a
/// column (see [`applicable`]) are ignored and the default is used; callers
/// validate choices before (the server refuses them with a message).
pub fn redact_with(
    batch: &RecordBatch,
    report: &mut Report,
    policy: &RedactionPolicy,
) -> Result<(RecordBatch, Vec<Finding>)> {
    let mut redaction = Redaction::plan(batch, report, policy);
    let out = redaction.apply(batch)?;
    let findings = redaction.finish(report);
    Ok((out, findings))
}

/// Values sampled per column to recognise identifiers by their values.
pub const SAMPLE_VALUES: usize = 1000;

/// What redaction does to one column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Treatment {
    /// Published as is (no personal information found).
    Pass,
    /// Free text: identifiers inside cells are masked cell by cell.
    MaskCells,
    /// Not published; `by_agency` when the agency asked for it on a column
    /// with nothing detected.
    Drop { by_agency: bool },
    /// Replaced by `action` (mask, generalise, pseudonym, keep).
    Replace(Action),
}

#[derive(Debug, Clone)]
struct PlannedColumn {
    name: String,
    path: Vec<String>,
    kind: Option<PiiKind>,
    by: &'static str,
    treatment: Treatment,
    /// Non-null input cells (a finding's `cells`), or masked cells for MaskCells.
    cells: usize,
    preview: Vec<String>,
    /// Markers inserted by cell masking: IDs, mobiles, cards.
    masked: [usize; 3],
    out_type: Option<DataType>,
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
    matches!(dt, DataType::Utf8 | DataType::Utf8View)
}

/// One column of a batch as its treatment says; `None` when it is dropped.
/// Identifiers masked inside the texts `values` of `array`, which is
/// copied only from the first cell that changes.
fn mask_cells<'a>(
    col: &mut PlannedColumn,
    values: impl Iterator<Item = Option<&'a str>> + Clone,
    array: &ArrayRef,
) -> Option<ArrayRef> {
    let mut masked: Option<Vec<Option<String>>> = None;
    for (r, v) in values.clone().enumerate() {
        let m = v.and_then(mask_in_text);
        if let Some(m) = &m {
            col.cells += 1;
            for (k, marker) in MARKERS.iter().enumerate() {
                col.masked[k] += m.matches(marker).count();
            }
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

fn redact_column(
    col: &mut PlannedColumn,
    policy: &RedactionPolicy,
    field: &Arc<Field>,
    array: &ArrayRef,
) -> Option<(Arc<Field>, ArrayRef)> {
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
            if value_bytes(&array).is_some_and(|b| !may_hold_identifier_anywhere(b)) =>
        {
            Some(array.clone())
        }
        Treatment::MaskCells => match array.data_type() {
            DataType::Utf8 => mask_cells(col, array.as_string::<i32>().iter(), &array),
            DataType::Utf8View => mask_cells(col, array.as_string_view().iter(), &array),
            _ => Some(array.clone()),
        },
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
                        .map(|s| s.map(|s| mask_name(&s)))
                        .collect(),
                )),
                (Action::Generalize, PiiKind::Address) => Some(text_array(
                    texts()
                        .into_iter()
                        .map(|s| {
                            s.map(|s| {
                                generalize_address(
                                    &s,
                                    policy.category == Category::SocialAssistance,
                                )
                            })
                        })
                        .collect(),
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
    let a = replaced?;
    let dt = a.data_type().clone();
    col.out_type = Some(dt.clone());
    Some((Arc::new(field.as_ref().clone().with_data_type(dt)), a))
}

impl Redaction {
    /// Decides each column's treatment from `sample` (the table's first rows)
    /// and the report's header paths.
    pub fn plan(sample: &RecordBatch, report: &Report, policy: &RedactionPolicy) -> Self {
        let schema = sample.schema();
        let mut columns = Vec::new();
        for (i, field) in schema.fields().iter().enumerate() {
            let array = sample.column(i);
            let path = report
                .columns
                .get(i)
                .map(|c| c.path.clone())
                .unwrap_or_default();
            let header = path.last().cloned().unwrap_or_default();
            let text = is_text(field.data_type());
            let values = if text { strings(array) } else { None };
            let sample_values: Vec<&str> = values
                .as_ref()
                .map(|v| {
                    v.iter()
                        .flatten()
                        .map(String::as_str)
                        .filter(|s| !s.is_empty())
                        .take(SAMPLE_VALUES)
                        .collect()
                })
                .unwrap_or_default();
            let (kind, by) = match header_kind(&header) {
                Some(k) => (Some(k), "header"),
                None => (value_kind(&sample_values), "values"),
            };
            let requested = policy
                .columns
                .get(field.name().as_str())
                .copied()
                .filter(|a| applicable(kind, *a));
            let treatment = match kind {
                None if requested == Some(Action::Drop) => Treatment::Drop { by_agency: true },
                None if text => Treatment::MaskCells,
                None => Treatment::Pass,
                Some(kind) => {
                    let action =
                        requested.unwrap_or(kind.default_action_for(policy.category, &header));
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
            columns.push(PlannedColumn {
                name: field.name().clone(),
                path,
                kind,
                by,
                treatment,
                cells: 0,
                preview: Vec::new(),
                masked: [0; 3],
                out_type: None,
            });
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
            .zip(schema.fields().iter())
            .zip(batch.columns())
            .collect();
        let work = |((col, field), array): ((&mut PlannedColumn, &Arc<Field>), &ArrayRef)| {
            redact_column(col, policy, field, array)
        };
        // The columns of a large batch side by side.
        let redacted: Vec<_> = if batch.num_rows() >= 4096 {
            crate::parallel::map(columns, work)
        } else {
            columns.into_iter().map(work).collect()
        };
        let (fields, arrays): (Vec<Arc<Field>>, Vec<ArrayRef>) =
            redacted.into_iter().flatten().unzip();
        let options =
            arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            arrays,
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
            match col.treatment {
                Treatment::Pass => kept_reports.extend(col_report),
                Treatment::MaskCells => {
                    if col.cells > 0 {
                        let kind = [
                            (col.masked[0], PiiKind::CnResidentId),
                            (col.masked[1], PiiKind::CnMobile),
                            (col.masked[2], PiiKind::BankCard),
                        ]
                        .into_iter()
                        .max_by_key(|(n, _)| *n)
                        .map_or(PiiKind::CnResidentId, |(_, k)| k);
                        findings.push(Finding {
                            column: col.name,
                            path: col.path,
                            kind,
                            by: "cells".into(),
                            action: Action::MaskCells,
                            cells: col.cells,
                            preview: col.preview,
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
                    findings.push(Finding {
                        column: col.name,
                        path: col.path,
                        kind,
                        by: col.by.into(),
                        action,
                        cells: col.cells,
                        preview: col.preview,
                    });
                }
            }
        }
        // Per-sheet reports show what was detected, even for dropped columns, and
        // like every other part of the report they carry only redacted values.
        let clean = |s: &mut String| {
            if let Some(m) = mask_in_text(s) {
                *s = m;
            }
        };
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
            if let Some(t) = sheet.title.as_mut() {
                clean(t);
            }
            for (_, note) in &mut sheet.footnotes {
                clean(note);
            }
        }
        for c in &mut kept_reports {
            if c.pii.is_none() {
                c.examples.iter_mut().for_each(clean);
            }
        }
        for w in &mut report.warnings {
            clean(&mut w.message);
        }
        report.columns = kept_reports;
        report.privacy = findings.clone();
        findings
    }
}

/// Markers cell masking writes, in the order of [`PlannedColumn::masked`].
const MARKERS: [&str; 3] = ["[证件号已隐藏]", "[手机号已隐藏]", "[卡号已隐藏]"];

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

/// A value in a table that the leak gate refuses.
#[derive(Debug, Clone, Serialize)]
pub struct Leak {
    /// Column name.
    pub column: String,
    /// 0-based row.
    pub row: usize,
    /// Kind found.
    pub kind: PiiKind,
}

/// The leak gate: header-free, high-recall scan of every text and integer cell.
pub fn scan(batch: &RecordBatch) -> Vec<Leak> {
    let mut leaks = Vec::new();
    for (i, field) in batch.schema().fields().iter().enumerate() {
        let array = batch.column(i);
        let cells: Vec<Option<String>> = match array.data_type() {
            DataType::Utf8 | DataType::Utf8View => strings(array).unwrap_or_default(),
            DataType::Int64 | DataType::Decimal128(_, _) => {
                match arrow::util::display::ArrayFormatter::try_new(
                    array.as_ref(),
                    &Default::default(),
                ) {
                    Ok(f) => (0..array.len())
                        .map(|r| array.is_valid(r).then(|| f.value(r).to_string()))
                        .collect(),
                    Err(_) => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        for (row, cell) in cells.iter().enumerate() {
            if let Some(text) = cell {
                for (_, kind) in find_in_text(&crate::text::normalize(text)) {
                    leaks.push(Leak {
                        column: field.name().clone(),
                        row,
                        kind,
                    });
                }
            }
        }
    }
    leaks
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_one_pass_identifier_check_agrees_with_its_definition() {
        let texts = [
            "ZFCG-00000000",
            "供应商3235有限公司",
            "联系电话13800138000",
            "联系电话１３８００１３８０００",
            "编号①②③④⑤⑥⑦⑧⑨⑩⑪",
            "一丁七13800138",
            "乙丙二12345678901",
            "㐀㐁 4DBF 3400 12",
            "「甲」、《乙》。１",
            "Café 12345678901",
            "aaaaaaaaaaaaaaaaaaaa",
            "12345 67890 1",
        ];
        for text in texts {
            let definition = !crate::text::all_nfkc_stable(text)
                || text.bytes().filter(u8::is_ascii_digit).count() >= MIN_DIGITS_IN_TEXT;
            assert_eq!(may_hold_identifier(text), definition, "{text}");
        }
        assert!(!may_hold_identifier("供应商3235有限公司"));
        assert!(may_hold_identifier("联系电话１３８００１３８０００"));
        assert!(may_hold_identifier("12345 67890 1"));
    }

    #[test]
    fn the_whole_column_check_agrees_with_its_definition() {
        // Digit runs of every length around 11, Chinese text, ASCII, and
        // characters beyond ASCII and U+4000–U+9FFF, which the check cannot
        // vouch for (a full-width digit and ①, which NFKC makes digits; 〇
        // and é, which it leaves alone).
        let pieces = [
            "1",
            "12",
            "1234",
            "12345678",
            "1234567890",
            "13800138000",
            "供应商",
            "有限公司",
            "计",
            "a",
            "-",
            " ",
            "㐀",
            "ZFCG-0000",
        ];
        let beyond_common_cjk = ["１", "①", "〇", "é"];
        let longest_run = |t: &str| {
            t.bytes()
                .fold((0, 0), |(run, most), b| {
                    let run = if b.is_ascii_digit() { run + 1 } else { 0 };
                    (run, most.max(run))
                })
                .1
        };
        let mut seed = 0x5DEE_CE66_D1CE_4E5Bu64;
        let (mut yes, mut no) = (0, 0);
        for _ in 0..50_000 {
            // Up to 40 pieces: texts longer than several windows.
            let mut text = crate::text_of_pieces(&mut seed, &pieces, 40);
            if crate::xorshift(&mut seed).is_multiple_of(8) {
                let k = crate::xorshift(&mut seed) as usize % beyond_common_cjk.len();
                text.push_str(beyond_common_cjk[k]);
                text.push_str(&crate::text_of_pieces(&mut seed, &pieces, 10));
            }
            let common = |c: char| c.is_ascii() || ('\u{4000}'..='\u{9FFF}').contains(&c);
            let definition = !text.chars().all(common) || longest_run(&text) >= MIN_DIGITS_IN_TEXT;
            assert_eq!(
                may_hold_identifier_anywhere(text.as_bytes()),
                definition,
                "{text:?}"
            );
            if definition {
                yes += 1
            } else {
                no += 1
            }
            // Whatever one value would have masked, the column check lets through.
            if mask_in_text(&text).is_some() {
                assert!(definition, "{text:?}");
            }
        }
        assert!(yes > 2_000 && no > 2_000, "{yes} {no}");
        assert!(!may_hold_identifier_anywhere(b""));
        // A run that crosses a window's end is found.
        for at in 40..80 {
            let mut text = "x".repeat(at);
            text.push_str("13800138000");
            assert!(may_hold_identifier_anywhere(text.as_bytes()), "{at}");
            text.pop();
            assert!(!may_hold_identifier_anywhere(text.as_bytes()), "{at}");
        }
    }

    #[test]
    fn the_digit_mask_has_a_bit_for_each_ascii_digit() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            let len = crate::xorshift(&mut seed) as usize % 65;
            let bytes: Vec<u8> = (0..len)
                .map(|_| match crate::xorshift(&mut seed) % 4 {
                    0 => b'0' + (crate::xorshift(&mut seed) % 10) as u8,
                    1 => crate::xorshift(&mut seed) as u8,
                    2 => [b'/', b':', 0xB0, 0xB9, 0xBA, 0xAF]
                        [crate::xorshift(&mut seed) as usize % 6],
                    _ => b'a',
                })
                .collect();
            let expected = bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_digit())
                .fold(0u64, |m, (i, _)| m | 1 << i);
            assert_eq!(digit_mask(&bytes), expected, "{bytes:?}");
        }
    }

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
            Some("联系人电话13800138000"),
            Some("ZFCG-00000001"),
        ]));
        let policy = RedactionPolicy::default();
        let mut col = PlannedColumn {
            name: "note".into(),
            path: vec!["备注".into()],
            kind: None,
            by: "values",
            treatment: Treatment::MaskCells,
            cells: 0,
            preview: Vec::new(),
            masked: [0; 3],
            out_type: None,
        };
        let field = Arc::new(Field::new("note", DataType::Utf8, true));
        let (_, out) = redact_column(&mut col, &policy, &field, &plain).expect("kept");
        assert_eq!(out.as_string::<i32>(), plain.as_string::<i32>());
        assert_eq!(col.cells, 0);
        let (_, out) = redact_column(&mut col, &policy, &field, &leaking).expect("kept");
        let out = out.as_string::<i32>();
        assert_eq!(out.value(0), "供应商3235有限公司");
        assert_eq!(out.value(1), "联系人电话[手机号已隐藏]");
        assert_eq!(col.cells, 1);
        assert_eq!(col.masked[1], 1);
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
        assert_eq!(header_kind("年龄"), Some(PiiKind::Age));
    }

    #[test]
    fn free_text_findings_name_the_kind_found() {
        let csv =
            "编号,备注\n1,无异议\n2,联系 13812345678\n3,13912345678 或 11010519491231002X\n4,\n";
        let out =
            crate::ingest_for_publication("n.csv", csv.as_bytes(), &Default::default()).unwrap();
        let f = &out.report.privacy[0];
        assert_eq!(f.action, Action::MaskCells);
        assert_eq!(f.kind, PiiKind::CnMobile);
        assert_eq!(f.cells, 2);
        // The cells before the first masked one are kept as they were.
        let notes: Vec<Option<&str>> = out.batch.column(1).as_string::<i32>().iter().collect();
        assert_eq!(
            notes,
            [
                Some("无异议"),
                Some("联系 [手机号已隐藏]"),
                Some("[手机号已隐藏] 或 [证件号已隐藏]"),
                None
            ]
        );
    }

    #[test]
    fn defaults_follow_the_dataset_category() {
        let name = PiiKind::PersonName;
        assert_eq!(
            name.default_action_for(Category::SocialAssistance, "姓名"),
            Action::Mask
        );
        assert_eq!(
            name.default_action_for(Category::Other, "姓名"),
            Action::Drop
        );
        assert_eq!(
            name.default_action_for(Category::Penalty, "当事人姓名"),
            Action::Mask
        );
        assert_eq!(
            name.default_action_for(Category::Penalty, "执法人员"),
            Action::Drop
        );
        assert_eq!(
            PiiKind::CnResidentId.default_action_for(Category::SocialAssistance, "身份证号"),
            Action::Drop
        );
    }

    #[test]
    fn pseudonyms_are_keyed_stable_and_canonical() {
        let a = pseudonym(b"key one", PiiKind::CnResidentId, "11010519491231002X");
        assert_eq!(a.len(), 20);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c))
        );
        assert_eq!(
            a,
            pseudonym(b"key one", PiiKind::CnResidentId, "110105 19491231 002x")
        );
        assert_ne!(
            a,
            pseudonym(b"key two", PiiKind::CnResidentId, "11010519491231002X")
        );
        assert_ne!(
            a,
            pseudonym(b"key one", PiiKind::PersonName, "11010519491231002X")
        );
    }

    #[test]
    fn overrides_tighten_freely_and_loosen_only_where_allowed() {
        assert!(!applicable(Some(PiiKind::CnResidentId), Action::Keep));
        assert!(!applicable(Some(PiiKind::CnMobile), Action::Keep));
        assert!(applicable(Some(PiiKind::PersonName), Action::Keep));
        assert!(applicable(Some(PiiKind::CnResidentId), Action::Pseudonym));
        assert!(!applicable(Some(PiiKind::CnResidentId), Action::Mask));
        assert!(applicable(None, Action::Drop));
        assert!(!applicable(None, Action::Keep));
        assert!(loosens(Action::Mask, Action::Keep));
        assert!(loosens(Action::Drop, Action::Pseudonym));
        assert!(!loosens(Action::Mask, Action::Pseudonym));
        assert!(!loosens(Action::Generalize, Action::Drop));
    }

    use super::*;

    #[test]
    fn free_text_identifiers_are_found() {
        let found = find_in_text("联系人张三，电话13812345678，身份证11010519491231002X。");
        let kinds: Vec<PiiKind> = found.iter().map(|f| f.1).collect();
        assert_eq!(kinds, [PiiKind::CnMobile, PiiKind::CnResidentId]);
        assert!(
            find_in_text("编号 110105194912310021 无效").is_empty(),
            "bad checksum in free text is not an ID"
        );
        assert!(find_in_text("项目编号ZB2023138123456789").is_empty());
        assert_eq!(
            mask_in_text("电话13812345678").as_deref(),
            Some("电话[手机号已隐藏]")
        );
    }

    #[test]
    fn header_words() {
        assert_eq!(header_kind("身份证号码"), Some(PiiKind::CnResidentId));
        assert_eq!(header_kind("户主姓名"), Some(PiiKind::PersonName));
        assert_eq!(header_kind("监督电话"), None);
        assert_eq!(header_kind("统一社会信用代码"), None);
        assert_eq!(header_kind("银行账号"), Some(PiiKind::BankCard));
        assert_eq!(header_kind("家庭住址"), Some(PiiKind::Address));
        assert_eq!(header_kind("法定代表人"), None);
    }
}
