//! Personal information: detection per column and per cell, default redaction,
//! and the leak gate that every public artifact passes before release.
//!
//! Defaults (PRIVACY.md): resident IDs, mobiles, landlines in person rows, bank
//! accounts, passports and health columns are dropped; person names are masked
//! (`张*丰`); addresses are generalised to township/street; birth dates to the
//! year. In other text columns, embedded IDs, mobiles and card numbers are
//! masked cell by cell. Public Parquet is then written from these values only.

pub mod address;
pub mod canon;
pub mod classify;
pub mod detect;
pub mod gate;
pub mod names;
mod redaction;
pub mod split;

pub use gate::{Leak, scan, scan_schema, scan_texts};
pub use redaction::{Redaction, SAMPLE_VALUES, clean_report_texts};

use crate::Result;
use crate::report::Report;
use arrow::array::{ArrayRef, AsArray};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

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
                    if [
                        "当事人",
                        "被处罚",
                        "违法行为人",
                        "行政相对人",
                        "法定代表人",
                        "法人代表",
                    ]
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
    /// Generalisation: how many values each rule changed or kept, with
    /// examples (addresses: cut to a level, kept, withheld).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleCount>,
}

/// How many values one generalisation rule applied to, with up to three
/// examples shown as `(before, after)`; the before side never shows what
/// was removed (see [`address::before_shape`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuleCount {
    /// `generalized_to_township`, `generalized_to_village`,
    /// `generalized_to_district`, `kept_at_or_above_level` or
    /// `withheld_unplaced`.
    pub rule: String,
    /// Values the rule applied to.
    pub values: usize,
    /// Up to three `(before, after)` examples.
    pub examples: Vec<(String, String)>,
}

/// Digits of the shortest identifier [`find_in_text`] finds (a mobile number).
const MIN_DIGITS_IN_TEXT: usize = canon::MIN_DIGITS;

/// Identifiers in free text, however written ([`canon`]), and person names
/// beside a role word ([`names`]): (byte range in `text`, kind).
pub fn find_in_text(text: &str) -> Vec<(std::ops::Range<usize>, PiiKind)> {
    find_personal(text)
        .into_iter()
        .map(|f| (f.span, f.kind))
        .collect()
}

/// [`canon::find`] and [`names::find`] together, in order, not
/// overlapping (an identifier wins over a name it overlaps), in a cell's text.
pub fn find_personal(text: &str) -> Vec<canon::Found> {
    find_personal_in(text, false)
}

/// [`find_personal`] in a file, sheet or column name (`metadata`), or in a cell.
pub fn find_personal_in(text: &str, metadata: bool) -> Vec<canon::Found> {
    let mut found = canon::find(text);
    let names = names::find(text, metadata);
    if !names.is_empty() {
        let overlaps = |n: &canon::Found| {
            found
                .iter()
                .any(|f| f.span.start < n.span.end && n.span.start < f.span.end)
        };
        let names: Vec<canon::Found> = names.into_iter().filter(|n| !overlaps(n)).collect();
        found.extend(names);
        found.sort_by_key(|f| f.span.start);
    }
    found
}

/// What [`find_personal`] finds in one cell of a text column, where
/// `numbers` says the column holds mostly bare numbers
/// ([`classify::mostly_bare_numbers`]): there a cell that is itself a bare
/// number (`13072761000`, an amount) is an identifier only as an ID with
/// its check digit, as in a numeric column.
pub fn find_in_cell(text: &str, numbers: bool) -> Vec<canon::Found> {
    if !may_hold_personal(text) {
        return Vec::new();
    }
    let mut found = find_personal(text);
    if numbers && classify::is_bare_number(text) {
        found.retain(|f| f.kind == PiiKind::CnResidentId);
    }
    found
}

/// Whether `text` may hold what [`find_personal`] finds: quick tests that
/// never say no to a text that does.
fn may_hold_personal(text: &str) -> bool {
    text.len() >= MIN_PERSONAL_BYTES
        && (may_hold_identifier(text) || names::may_hold_name(text.as_bytes()))
}

/// Bytes of the shortest text [`find_personal`] finds something in
/// (`王五等`: three Chinese characters).
const MIN_PERSONAL_BYTES: usize = 9;

/// [`may_hold_personal`] for texts laid end to end in one buffer.
fn may_hold_personal_anywhere(bytes: &[u8]) -> bool {
    may_hold_identifier_anywhere(bytes) || names::may_hold_name(bytes)
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
/// one buffer) may hold an identifier: [`MIN_DIGITS_IN_TEXT`] bytes in a
/// row that are ASCII digits or ASCII bytes that may separate digit groups
/// ([`digit_or_separator_mask`]), or a character NFKC may change or that
/// may separate groups beyond ASCII (a character beyond ASCII and
/// U+4000–U+9FFF, told by its lead byte as in
/// [`crate::text::ascii_or_common_cjk`]). In text of ASCII and common
/// Chinese characters, an identifier [`canon::find`] finds has at least
/// [`MIN_DIGITS_IN_TEXT`] digits with only such separators between them;
/// a run that crosses from one value into the next can only make the
/// answer yes, never no.
///
/// Runs are read [`WINDOW`] bytes at a time as a mask with one bit per
/// byte, kept in a register: a bit is kept while the bits after it are set
/// too, 2, 4, 8 and then 11 in a row. The windows overlap by one byte less
/// than a run, so every run lies whole in one of them.
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
        let mut run = digit_or_separator_mask(&bytes[at..end]);
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

/// Whether an ASCII byte may be part of a written identifier: a digit or a
/// separator [`canon::is_separator`] accepts (white space, `-./\_()`), or
/// one of `*+,` (in the same range of bytes as `()-./`, let through to
/// keep the test short).
#[cfg(test)]
fn digit_or_separator(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ' | b'('..=b'9' | b'\\' | b'_')
}

/// Bit `i` set when byte `i` of `bytes` (the first 64 are read) is an
/// ASCII digit or separator (see `digit_or_separator`): eight bytes at a
/// time, each byte's answer in its high bit (no carry crosses a byte), the
/// eight high bits then gathered by one multiplication.
fn digit_or_separator_mask(bytes: &[u8]) -> u64 {
    let bytes = &bytes[..bytes.len().min(64)];
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = ONES * 0x7F;
    const HIGH: u64 = ONES * 0x80;
    // High bit of each byte set when its low seven bits lie in `lo..=hi`.
    let in_range = |low: u64, lo: u64, hi: u64| {
        let from_lo = low + ONES * (0x80 - lo);
        let past_hi = low + ONES * (0x7F - hi);
        from_lo & !past_hi & HIGH
    };
    let equal = |low: u64, b: u64| {
        // High bit set when the low seven bits are exactly `b`.
        let x = low ^ (ONES * b);
        !((x & LOW7) + LOW7) & HIGH
    };
    let of_word = |w: u64| {
        let low = w & LOW7;
        let hits = (in_range(low, 0x28, 0x39)
            | in_range(low, 0x09, 0x0D)
            | equal(low, 0x20)
            | equal(low, 0x5C)
            | equal(low, 0x5F))
            & !w;
        (hits >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
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
        // Bytes past the end read as 0, which is none of them.
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
    fn of<O: arrow::array::OffsetSizeTrait>(array: &ArrayRef) -> Option<&[u8]> {
        let strings = array.as_string_opt::<O>()?;
        let offsets = strings.value_offsets();
        let (first, last) = (offsets.first()?.as_usize(), offsets.last()?.as_usize());
        strings.value_data().get(first..last)
    }
    of::<i32>(array).or_else(|| of::<i64>(array))
}

/// A header, sheet name or file name with each identifier and name replaced
/// by its marker, the rest as written.
pub fn clean_text(text: &str) -> String {
    if !may_hold_personal(text) {
        return text.to_string();
    }
    let found = find_personal_in(text, true);
    if found.is_empty() {
        text.to_string()
    } else {
        canon::replace(text, &found)
    }
}

/// The text with each identifier replaced by its marker, the rest as
/// written; `None` when it holds none.
pub fn mask_in_text(text: &str) -> Option<String> {
    if !may_hold_personal(text) {
        return None;
    }
    let found = find_personal(text);
    (!found.is_empty()).then(|| canon::replace(text, &found))
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
            "139 1234",
            "-5678",
            "(",
            ")",
            "_",
            ".",
            "/",
            "\n",
        ];
        let beyond_common_cjk = ["１", "①", "〇", "é", "\u{3000}", "\u{2060}"];
        // Digits and the ASCII bytes that may stand between digit groups.
        let longest_run = |t: &str| {
            t.bytes()
                .fold((0, 0), |(run, most), b| {
                    let run = if b.is_ascii_digit() || b" \t\n\r-./\\_()".contains(&b) {
                        run + 1
                    } else {
                        0
                    };
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
            // The test's ASCII separators lie outside `*+,`, which the check also lets through.
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
    fn the_mask_has_a_bit_for_each_ascii_digit_and_separator() {
        // Separators, their neighbours, and bytes whose low seven bits are theirs.
        const ODD: &[u8] = b"/:\x08\x09\x0D\x0E\x1F ()'*+,-._\\^`\xB0\xB9\xBA\xAF\xA0\xDC\xDF";
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let (mut digits, mut separators) = (0, 0);
        for _ in 0..20_000 {
            let len = crate::xorshift(&mut seed) as usize % 65;
            let bytes: Vec<u8> = (0..len)
                .map(|_| match crate::xorshift(&mut seed) % 4 {
                    0 => b'0' + (crate::xorshift(&mut seed) % 10) as u8,
                    1 => crate::xorshift(&mut seed) as u8,
                    2 => ODD[crate::xorshift(&mut seed) as usize % ODD.len()],
                    _ => b'a',
                })
                .collect();
            let expected = bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| digit_or_separator(**b))
                .fold(0u64, |m, (i, _)| m | 1 << i);
            assert_eq!(digit_or_separator_mask(&bytes), expected, "{bytes:?}");
            digits += bytes.iter().filter(|b| b.is_ascii_digit()).count();
            separators += bytes
                .iter()
                .filter(|&&b| !b.is_ascii_digit() && digit_or_separator(b))
                .count();
        }
        assert!(digits > 10_000 && separators > 10_000);
        // The definition agrees with the canonical reading's separators.
        for b in 0..=127u8 {
            let c = char::from(b);
            let expected = c.is_ascii_digit() || canon::is_separator(c) || b"*+,".contains(&b);
            assert_eq!(digit_or_separator(b), expected, "{b:#x}");
        }
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
    fn bare_numbers_in_a_column_of_numbers_are_amounts_unless_ids() {
        assert!(find_in_cell("13072761000", true).is_empty());
        assert_eq!(find_in_cell("13072761000", false).len(), 1);
        assert_eq!(find_in_cell("11010519491231002X", true).len(), 1);
        assert_eq!(find_in_cell("电话13072761000", true).len(), 1);
        assert!(classify::mostly_bare_numbers(&[
            "887163000",
            "13072761000",
            "-1,234.5",
            "无"
        ]));
    }

    #[test]
    fn free_text_identifiers_are_found() {
        let found = find_in_text("联系人张三，电话13812345678，身份证11010519491231002X。");
        let kinds: Vec<PiiKind> = found.iter().map(|f| f.1).collect();
        assert_eq!(
            kinds,
            [
                PiiKind::PersonName,
                PiiKind::CnMobile,
                PiiKind::CnResidentId
            ]
        );
        assert_eq!(
            mask_in_text("联系人张三，电话13812345678").as_deref(),
            Some("联系人[姓名已隐藏]，电话[手机号已隐藏]")
        );
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
}
