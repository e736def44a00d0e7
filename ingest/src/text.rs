//! Text normalisation and value parsers shared by shape detection and typing.

use chrono::{NaiveDate, NaiveDateTime};
use std::borrow::Cow;
use unicode_normalization::UnicodeNormalization;

/// NFKC (full-width digits and letters become ASCII), zero-width characters
/// removed, surrounding white space (including the ideographic space) trimmed.
pub fn normalize(s: &str) -> String {
    normalized(s).into_owned()
}

/// [`normalize`] without copying when nothing changes but the trimming (ASCII
/// and most Chinese text).
#[inline]
pub fn normalized(s: &str) -> Cow<'_, str> {
    // NFKC leaves ASCII as it is, and no zero-width character is ASCII; it
    // leaves the characters of `nfkc_stable` (most Chinese text) as they are.
    if all_nfkc_stable(s) {
        return Cow::Borrowed(trim(s));
    }
    Cow::Owned(nfkc_folded(s))
}

/// NFKC of `s` without zero-width characters, trimmed.
#[cold]
fn nfkc_folded(s: &str) -> String {
    let folded: String = s
        .nfkc()
        .filter(|c| {
            !matches!(
                c,
                '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}' | '\u{00AD}'
            )
        })
        .collect();
    folded.trim().to_string()
}

/// [`compact`] without copying when nothing changes but the trimming.
pub fn compacted(s: &str) -> Cow<'_, str> {
    without_space(&normalized(s))
}

/// [`strip_space`] of normalised text, borrowing from the original where it can.
pub(crate) fn without_space<'a>(n: &Cow<'a, str>) -> Cow<'a, str> {
    match n {
        Cow::Borrowed(b) => strip_space(b),
        Cow::Owned(o) => Cow::Owned(strip_space(o).into_owned()),
    }
}

/// Already normalised text with every white space removed: [`compact`] of
/// text that [`normalize`] would not change.
pub(crate) fn strip_space(n: &str) -> Cow<'_, str> {
    // White space is ASCII 09–0D and 20, or a character whose UTF-8 form
    // starts with C2, E1, E2 or E3 (U+0085, U+00A0, U+1680, U+2000–U+205F,
    // U+3000): only then are characters decoded.
    let maybe = n
        .bytes()
        .any(|b| matches!(b, b'\t'..=b'\r' | b' ' | 0xC2 | 0xE1 | 0xE2 | 0xE3));
    if maybe && n.chars().any(char::is_whitespace) {
        Cow::Owned(n.chars().filter(|c| !c.is_whitespace()).collect())
    } else {
        Cow::Borrowed(n)
    }
}

/// `s.trim()`, answered from the first and last bytes when they cannot
/// start or end white space (most cells), else by `str::trim`.
#[inline]
pub fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return s;
    };
    // Whether the last character may be white space: white space beyond
    // ASCII is two or three bytes long, so its lead byte is two or three
    // bytes from the end (a byte there that is not a lead byte is not in
    // the table; one that leads a character before the last only sends the
    // text to `str::trim`).
    let may_end_space = if last < 0x80 {
        !cannot_start_space(last)
    } else {
        let back = |k: usize| b.len().checked_sub(k).and_then(|i| b.get(i));
        back(2).is_some_and(|&x| !cannot_start_space(x))
            || back(3).is_some_and(|&x| !cannot_start_space(x))
    };
    if cannot_start_space(first) && !may_end_space {
        s
    } else {
        trim_slowly(s)
    }
}

#[cold]
fn trim_slowly(s: &str) -> &str {
    s.trim()
}

/// Whether a character whose UTF-8 form starts with byte `b` is surely
/// neither white space nor zero-width: white space is ASCII 09–0D and 20 or
/// starts with C2, E1, E2 or E3; the zero-width characters start with C2,
/// E2 or EF.
#[inline]
pub(crate) fn cannot_start_space(b: u8) -> bool {
    !MAY_START_SPACE[usize::from(b)]
}

/// [`cannot_start_space`]'s bytes, looked up (one load instead of a chain
/// of comparisons: it is asked several times of every cell).
static MAY_START_SPACE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = matches!(
            b as u8,
            b'\t'..=b'\r' | b' ' | 0xC2 | 0xE1 | 0xE2 | 0xE3 | 0xEF
        );
        b += 1;
    }
    t
};

/// Whether every character of `s` is [`nfkc_stable`]: at once for ASCII and
/// U+4000–U+9FFF ([`ascii_or_common_cjk`]), else character by character.
#[inline]
pub(crate) fn all_nfkc_stable(s: &str) -> bool {
    ascii_or_common_cjk(s) || all_nfkc_stable_beyond_ascii(s)
}

/// Whether every character of `s` is ASCII or in U+4000–U+9FFF (CJK
/// unified ideographs and most of extension A: nearly all Chinese text; NFKC
/// changes none of them, tested), told by its lead bytes (E4–E9) in one
/// pass without a branch per byte.
#[inline]
pub(crate) fn ascii_or_common_cjk(s: &str) -> bool {
    ascii_or_common_cjk_bytes(s.as_bytes())
}

/// [`ascii_or_common_cjk`] of UTF-8 text given as bytes (several texts laid
/// end to end read as one: every lead byte is still a lead byte).
///
/// A short text (a cell's) is read eight bytes at a time, its last eight
/// bytes as a word of their own; a long one (a column's values) byte by
/// byte, a loop the compiler turns into vector instructions.
#[inline]
pub(crate) fn ascii_or_common_cjk_bytes(bytes: &[u8]) -> bool {
    match bytes.len() {
        8..=64 => {
            let (words, _) = bytes.as_chunks::<8>();
            let last = bytes
                .last_chunk::<8>()
                .map_or(0, |w| uncommon_leads(u64::from_le_bytes(*w)));
            words.iter().fold(last, |other, w| {
                other | uncommon_leads(u64::from_le_bytes(*w))
            }) == 0
        }
        _ => !bytes
            .iter()
            .fold(false, |other, &b| other | uncommon_lead(b)),
    }
}

/// Whether `b` leads a character other than U+4000–U+9FFF: a lead byte
/// (C0–FF) other than E4–E9.
#[inline]
fn uncommon_lead(b: u8) -> bool {
    (b >= 0xC0) & (b.wrapping_sub(0xE4) > 5)
}

/// [`uncommon_lead`] of each byte of `w`, as the byte's high bit.
#[inline]
fn uncommon_leads(w: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW6: u64 = 0x3F3F_3F3F_3F3F_3F3F;
    // Bits 7 and 6 both set: C0–FF (bit 6 moved up within its byte).
    let lead = w & (w << 1) & HIGH;
    // A lead byte's low six bits tell which it is: E4–E9 are 24–29. Adding
    // to six bits never carries into the next byte.
    let low = w & LOW6;
    let from_e4 = (low + 0x5C5C_5C5C_5C5C_5C5C) & HIGH;
    let from_ea = (low + 0x5656_5656_5656_5656) & HIGH;
    lead & !(from_e4 & !from_ea)
}

fn all_nfkc_stable_beyond_ascii(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            0x00..=0x7F => i += 1,
            0xE5..=0xE9 => i += 3,
            0xE4 if b.get(i + 1).is_some_and(|&y| y >= 0xB8) => i += 3,
            _ => return s.get(i..).is_some_and(|rest| rest.chars().all(nfkc_stable)),
        }
    }
    true
}

/// Characters NFKC never changes, alone or next to each other: ASCII, CJK
/// unified ideographs (and extension A, and the Yijing hexagram symbols
/// between them), and the CJK punctuation 、。〃 and
/// 〈〉《》「」『』【】. Zero-width characters are not among them.
pub(crate) fn nfkc_stable(c: char) -> bool {
    c.is_ascii()
        || ('\u{3400}'..='\u{9FFF}').contains(&c)
        || ('\u{3001}'..='\u{3003}').contains(&c)
        || ('\u{3008}'..='\u{3011}').contains(&c)
}

/// Text longer than this (trimmed, in bytes) is never a number or a date:
/// `人民币 1,234,567,890.12 万元` and `2023年05月06日 12:30:45` are far shorter.
/// Checking first keeps long text cells from being normalised over and over.
const MAX_SCALAR_BYTES: usize = 100;

pub(crate) fn too_long_for_a_scalar(raw: &str) -> bool {
    raw.len() > MAX_SCALAR_BYTES && raw.trim().len() > MAX_SCALAR_BYTES
}

/// `normalize` and then every white space removed.
pub fn compact(s: &str) -> String {
    compacted(s).into_owned()
}

/// Cell contents that mean "no value" in agency tables.
pub const NULL_MARKERS: &[&str] = &[
    "—",
    "——",
    "–",
    "-",
    "--",
    "－",
    "..",
    "...",
    "…",
    "……",
    "x",
    "X",
    "/",
    "／",
    "N/A",
    "n/a",
    "NA",
    "#N/A",
    "无数据",
    "空",
];

/// Whether a null marker may start with byte `b`: the first bytes of
/// [`NULL_MARKERS`] (`—–…` E2, `－／` EF, `无` E6, `空` E7), so that numbers,
/// dates and most text are not compared with every marker.
#[inline]
fn may_start_marker(b: u8) -> bool {
    matches!(
        b,
        b'-' | b'.' | b'x' | b'X' | b'/' | b'N' | b'n' | b'#' | 0xE2 | 0xE6 | 0xE7 | 0xEF
    )
}

/// Bytes of the longest null marker (`无数据`).
const MAX_MARKER_BYTES: usize = 9;

/// If the (normalised) text is a null marker, returns the marker.
pub fn null_marker(normalized: &str) -> Option<&'static str> {
    if normalized.len() > MAX_MARKER_BYTES
        || !normalized
            .as_bytes()
            .first()
            .is_some_and(|&b| may_start_marker(b))
    {
        return None;
    }
    NULL_MARKERS.iter().copied().find(|m| *m == normalized)
}

/// An exact decimal number: `mantissa × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// Unscaled value.
    pub mantissa: i128,
    /// Digits after the decimal point.
    pub scale: u8,
}

impl Decimal {
    /// Rescales to a larger scale (exact).
    pub fn rescale(self, scale: u8) -> Option<i128> {
        if scale < self.scale {
            return None;
        }
        10i128
            .checked_pow(u32::from(scale - self.scale))
            .and_then(|f| self.mantissa.checked_mul(f))
    }

    /// Number of significant integer digits: a mantissa of `d` digits at
    /// scale `s` has `d - s` before the point when `d > s`, else one (`0`),
    /// so no division is needed.
    pub fn integer_digits(self) -> u32 {
        let magnitude = self.mantissa.unsigned_abs();
        let digits = match u64::try_from(magnitude) {
            Ok(m) => m.checked_ilog10(),
            Err(_) => magnitude.checked_ilog10(),
        }
        .map_or(1, |log| log + 1);
        digits.saturating_sub(u32::from(self.scale)).max(1)
    }

    /// As f64 (for display and checks only).
    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 / 10f64.powi(i32::from(self.scale))
    }
}

/// What a numeric-looking cell turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedNumber {
    /// The value (percentages already divided by 100).
    pub value: Decimal,
    /// It carried a `%` sign.
    pub percent: bool,
    /// It had leading zeros (`007`): an identifier, not a number.
    pub leading_zero: bool,
    /// Digits only, no sign, point or separators (could be a code).
    pub plain_digits: bool,
}

/// Parses numbers as agencies write them: full-width digits, thousands
/// separators, a `元`/`万元` suffix, `¥`, `%`, surrounding spaces.
/// Scientific notation is not a number here (see [`is_scientific`]).
pub fn parse_number(raw: &str) -> Option<ParsedNumber> {
    if too_long_for_a_scalar(raw) {
        return None;
    }
    number_of_compact(&compacted(raw))
}

/// [`parse_number`] of text that is normalised, without white space and
/// not too long for a scalar.
pub(crate) fn number_of_compact(compacted: &str) -> Option<ParsedNumber> {
    match plain_decimal(compacted) {
        Plain::Number(n) => Some(n),
        Plain::NotANumber => None,
        Plain::Unsure => number_in_general(compacted),
    }
}

/// What the one-pass reading of the commonest numbers tells of a text.
#[derive(Debug, PartialEq)]
enum Plain {
    /// The text is this number.
    Number(ParsedNumber),
    /// The text is no number at all ([`number_in_general`] would say `None`).
    NotANumber,
    /// Only [`number_in_general`] can tell.
    Unsure,
}

/// [`number_of_compact`] of the commonest numbers, `-?[0-9]+(\.[0-9]+)?`
/// with at most 18 digits, read in one pass. Text that is no number for a
/// plain reason is told at once: an ASCII byte other than `,`, `.` and `%`
/// after a digit or point (a date's `-` or `/`, a time's `:`). The general
/// reading accepts nothing there: a currency mark can only come first and
/// `%` or a unit (beyond ASCII) only last, a sign only first, and `,` is the
/// only separator.
#[inline]
fn plain_decimal(s: &str) -> Plain {
    let b = s.as_bytes();
    let (negative, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(_) => (false, b),
        None => return Plain::Unsure,
    };
    // 18 digits and a point at most: the mantissa fits a u64.
    if digits.len() > 19 {
        return Plain::Unsure;
    }
    let mut mantissa = 0u64;
    let mut point = None;
    for (i, &x) in digits.iter().enumerate() {
        let d = x.wrapping_sub(b'0');
        if d < 10 {
            mantissa = mantissa * 10 + u64::from(d);
        } else if x == b'.' && point.is_none() {
            point = Some(i);
        } else if i > 0 && x.is_ascii() && !matches!(x, b',' | b'.' | b'%') {
            return Plain::NotANumber;
        } else {
            return Plain::Unsure;
        }
    }
    let int_len = point.unwrap_or(digits.len());
    let frac_len = point.map_or(0, |p| digits.len() - p - 1);
    // `.5` and `5.` are read the general way; so are 19 digits.
    if int_len == 0 || (point.is_some() && frac_len == 0) || int_len + frac_len > 18 {
        return Plain::Unsure;
    }
    let mantissa = i128::from(mantissa);
    Plain::Number(ParsedNumber {
        value: Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale: frac_len as u8,
        },
        percent: false,
        leading_zero: int_len > 1 && digits[0] == b'0',
        plain_digits: !negative && point.is_none(),
    })
}

/// [`number_of_compact`] of any text: currency marks, units, `%`, signs
/// and thousands separators.
fn number_in_general(compacted: &str) -> Option<ParsedNumber> {
    let compact_len = compacted.len();
    let mut s: &str = compacted;
    // A number starts with a digit, a sign or a point, or with one of the
    // currency prefixes below; and it has a digit.
    let starts_well = s.as_bytes().first().is_some_and(|b| {
        matches!(
            b,
            b'0'..=b'9' | b'-' | b'+' | b'.' | b'R' | 0xC2 | 0xEF | 0xE4
        )
    });
    if !starts_well || !s.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    // No currency mark starts with a digit, sign or point, and every unit
    // ends in a character beyond ASCII.
    if !s
        .as_bytes()
        .first()
        .is_some_and(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.'))
    {
        for prefix in ["¥", "￥", "RMB", "人民币"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest;
            }
        }
    }
    if s.as_bytes().last().is_some_and(|&b| b >= 0x80) {
        for suffix in ["万元", "亿元", "千元", "元"] {
            if let Some(rest) = s.strip_suffix(suffix) {
                s = rest;
                break;
            }
        }
    }
    let (s, percent) = match s.as_bytes().last() {
        Some(b'%') => (&s[..s.len() - 1], true),
        _ => (s, false),
    };
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = strip_thousands(digits)?;
    let (int_part, frac_part) = match digits.bytes().position(|b| b == b'.') {
        Some(i) => (&digits[..i], &digits[i + 1..]),
        None => (&*digits, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    if int_part.len() + frac_part.len() > 36 {
        return None;
    }
    let all = int_part.bytes().chain(frac_part.bytes());
    let mut mantissa: i128 = if int_part.len() + frac_part.len() <= 18 {
        // Fits u64: cheaper than 128-bit steps.
        i128::from(all.fold(0u64, |m, b| m * 10 + u64::from(b - b'0')))
    } else {
        all.fold(0i128, |m, b| m * 10 + i128::from(b - b'0'))
    };
    let mut scale = u8::try_from(frac_part.len()).ok()?;
    if percent {
        scale = scale.checked_add(2)?;
    }
    if negative {
        mantissa = -mantissa;
    }
    Some(ParsedNumber {
        value: Decimal { mantissa, scale },
        percent,
        leading_zero: int_part.len() > 1 && int_part.starts_with('0'),
        plain_digits: !negative && frac_part.is_empty() && !percent && digits.len() == compact_len,
    })
}

/// Removes `1,234,567.89`-style separators; rejects misplaced commas.
fn strip_thousands(s: &str) -> Option<Cow<'_, str>> {
    if !s.bytes().any(|b| b == b',') {
        return Some(Cow::Borrowed(s));
    }
    let (int_part, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let groups: Vec<&str> = int_part.split(',').collect();
    let first_ok = groups.first().is_some_and(|g| (1..=3).contains(&g.len()));
    let rest_ok = groups.iter().skip(1).all(|g| g.len() == 3);
    if !first_ok || !rest_ok {
        return None;
    }
    let mut out = groups.concat();
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    Some(Cow::Owned(out))
}

/// `4.10102E+17`-style text: what Excel shows for long digit strings.
pub fn is_scientific(raw: &str) -> bool {
    if too_long_for_a_scalar(raw) {
        return false;
    }
    if !raw.contains(['E', 'e']) {
        return false;
    }
    scientific_compact(&compacted(raw))
}

/// Printable ASCII without white space (most numbers, dates and codes),
/// which NFKC, trimming and removing white space leave as it is: `Some`,
/// with whether it holds an `e` or `E` (a possible exponent); else `None`.
#[inline]
pub(crate) fn unspaced_ascii(s: &str) -> Option<bool> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    // Eight bytes at a time; the bytes after the last whole word are read
    // in one more word that overlaps the ones before (each byte read twice
    // or more is the same byte, and both questions are "any byte?").
    let (mut other, mut e) = (0u64, 0u64);
    let bytes = s.as_bytes();
    let mut words = bytes.chunks_exact(8);
    let mut word = |w: u64| {
        // A byte at or above 0x80, or below 0x21 (exact for "any").
        other |= (w | (w.wrapping_sub(ONES * 0x21) & !w)) & HIGH;
        // A byte that is `e` once 0x20 is set: zero after the xor.
        let x = (w | (ONES * 0x20)) ^ (ONES * u64::from(b'e'));
        e |= x.wrapping_sub(ONES) & !x & HIGH;
    };
    for w in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(w);
        word(u64::from_le_bytes(bytes));
    }
    if !words.remainder().is_empty() {
        word(last_word(bytes));
    }
    (other == 0).then_some(e != 0)
}

/// A word made only of bytes of `b` that holds each of its last eight bytes
/// (all of them when shorter), some more than once: read with whole loads,
/// so that no byte-wise copy stalls the load of the word. (Of no bytes:
/// eight `a`s, printable and not `e`.)
#[inline]
fn last_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n == 0 {
        return u64::from_ne_bytes([b'a'; 8]);
    }
    let u32_at = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&b[at..at + 4]);
        u64::from(u32::from_le_bytes(w))
    };
    if n >= 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[n - 8..]);
        u64::from_le_bytes(w)
    } else if n >= 4 {
        u32_at(0) | (u32_at(n - 4) << 32)
    } else {
        // One to three bytes: the first, the middle and the last.
        let (x, y, z) = (u64::from(b[0]), u64::from(b[n / 2]), u64::from(b[n - 1]));
        // Copies at bits 0, 24 and 48 (the third cut off at 64 bits).
        (x | (y << 8) | (z << 16)).wrapping_mul(0x0001_0000_0100_0001)
    }
}

/// [`is_scientific`] of text that is normalised, without white space and
/// not too long for a scalar.
pub(crate) fn scientific_compact(s: &str) -> bool {
    // Digits, a point and an exponent: ASCII once normalised.
    // `E` and `e` are the bytes that are `e` with the 0x20 bit set (short
    // text: a loop beats a vectorised search's set-up).
    let Some(at) = s.bytes().position(|b| b | 0x20 == b'e') else {
        return false;
    };
    if !s.is_ascii() {
        return false;
    }
    let (m, e) = (&s[..at], &s[at + 1..]);
    let e = e.strip_prefix('+').unwrap_or(e);
    !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit() || b == b'.') && e.parse::<i32>().is_ok()
}

/// A magnitude at which an identifier stored as a float has lost digits
/// (15+ digit integers: resident IDs, bank cards).
pub fn is_destroyed_identifier(v: f64) -> bool {
    v.is_finite() && v.abs() >= 1e14 && v.fract() == 0.0
}

/// Parses a date written the ways agencies write them:
/// `2023-05-06`, `2023/5/6`, `2023.5.6`, `2023年5月6日`, `20230506`
/// (the last only when `allow_compact`), with an optional time.
pub fn parse_date(raw: &str, allow_compact: bool) -> Option<NaiveDateTime> {
    if too_long_for_a_scalar(raw) {
        return None;
    }
    date_of_compact(&compacted(raw), allow_compact)
}

/// [`parse_date`] of text that is normalised, without white space and not
/// too long for a scalar.
pub(crate) fn date_of_compact(s: &str, allow_compact: bool) -> Option<NaiveDateTime> {
    if allow_compact && s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        let d = NaiveDate::parse_from_str(s, "%Y%m%d").ok()?;
        return plausible(d).and_then(|d| d.and_hms_opt(0, 0, 0));
    }
    match iso_date(s) {
        Some(date) => plausible(date).and_then(|d| d.and_hms_opt(0, 0, 0)),
        None => date_in_general(s),
    }
}

/// [`date_of_compact`] of text that is not eight digits, by the general reading.
fn date_in_general(s: &str) -> Option<NaiveDateTime> {
    // A date starts with its four-digit year and has separators after it.
    if !s
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'+')
    {
        return None;
    }
    let ascii = s.is_ascii();
    let separated = if ascii {
        s.bytes().any(|b| matches!(b, b'/' | b'.' | b'-'))
    } else {
        s.contains(['年', '月', '/', '.', '-'])
    };
    if !separated {
        return None;
    }
    // 年 and 月 separate like `-`, `/` and `.`; 日 and 号 are dropped (copied
    // only when they are there).
    let owned;
    let s = if !ascii && s.contains(['年', '月', '日', '号']) {
        owned = s.replace(['年', '月'], "-").replace(['日', '号'], "");
        owned.as_str()
    } else {
        s
    };
    // Date and optional time, split at 'T' or at the first ':' boundary.
    let (date_part, time_part) = match s.bytes().position(|b| b == b'T' || b == b' ') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => match s.bytes().position(|b| b == b':') {
            // "2023-05-0612:30" (space removed by compact): split before hour.
            Some(i) if i >= 2 && s.as_bytes()[i - 2..i].iter().all(u8::is_ascii_digit) => {
                (&s[..i - 2], Some(&s[i - 2..]))
            }
            _ => (s, None),
        },
    };
    let mut parts = date_part.split(['-', '/', '.']);
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1000..=9999).contains(&y) {
        return None;
    }
    let date = plausible(NaiveDate::from_ymd_opt(y, m, d)?)?;
    let time = match time_part {
        None | Some("") => chrono::NaiveTime::MIN,
        Some(t) => chrono::NaiveTime::parse_from_str(t, "%H:%M:%S")
            .or_else(|_| chrono::NaiveTime::parse_from_str(t, "%H:%M"))
            .ok()?,
    };
    Some(date.and_time(time))
}

/// `2023-05-06` (or with `/` or `.`), the way most files write dates, read
/// without splitting; `None` for anything else, which the general reading
/// handles (an impossible date such as `2023-02-30` is `None` both ways).
fn iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b[7] || !matches!(b[4], b'-' | b'/' | b'.') {
        return None;
    }
    let mut n = [0u32; 8];
    for (k, i) in [0, 1, 2, 3, 5, 6, 8, 9].into_iter().enumerate() {
        n[k] = u32::from(b[i].wrapping_sub(b'0'));
        if n[k] > 9 {
            return None;
        }
    }
    let y = n[0] * 1000 + n[1] * 100 + n[2] * 10 + n[3];
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, n[4] * 10 + n[5], n[6] * 10 + n[7])
}

fn plausible(d: NaiveDate) -> Option<NaiveDate> {
    use chrono::Datelike;
    (1900..=2100).contains(&d.year()).then_some(d)
}

/// Converts an Excel serial day number (1900 date system) to a date.
pub fn excel_serial_to_datetime(serial: f64) -> Option<NaiveDateTime> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    let millis = (serial * 86_400_000.0).round() as i64;
    base.checked_add_signed(chrono::Duration::milliseconds(millis))
}

/// Formats an Excel float the way Excel shows it: at most 15 significant
/// digits, so binary noise (`0.30000000000000004`) disappears.
pub fn format_excel_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    // The shortest text that reads back as `v`: when it has at most 15
    // significant digits it is also `v` rounded to 15 digits (`v` lies within
    // half an ulp of it, far less than half a unit in the 15th digit).
    let shortest = format!("{v}");
    if significant_digits(&shortest) <= 15 {
        return shortest;
    }
    let s = format!("{:.*e}", 14, v);
    match s.parse::<f64>() {
        Ok(rounded) => {
            let plain = format!("{rounded}");
            if plain.contains('e') { s } else { plain }
        }
        Err(_) => s,
    }
}

/// Significant digits of a plain decimal (`-0.00120` → 2, `1200` → 2).
fn significant_digits(plain: &str) -> usize {
    let (mut seen, mut count, mut zeros) = (false, 0, 0);
    for b in plain.bytes().filter(u8::is_ascii_digit) {
        if b == b'0' {
            zeros += 1;
        } else {
            count += if seen { zeros + 1 } else { 1 };
            seen = true;
            zeros = 0;
        }
    }
    count
}

/// Splits a unit out of a header: `罚款金额(万元)` → `("罚款金额", Some("万元"))`.
pub fn split_header_unit(header: &str) -> (String, Option<String>) {
    let h = header.trim();
    for (open, close) in [('(', ')'), ('（', '）'), ('[', ']'), ('【', '】')] {
        if let Some(stripped) = h.strip_suffix(close)
            && let Some(i) = stripped.rfind(open)
        {
            let unit = stripped[i + open.len_utf8()..].trim();
            if looks_like_unit(unit) {
                return (stripped[..i].trim().to_string(), Some(unit.to_string()));
            }
        }
    }
    (h.to_string(), None)
}

/// Units agencies put in headers and unit lines.
pub fn looks_like_unit(u: &str) -> bool {
    const UNITS: &[&str] = &[
        "元",
        "万元",
        "亿元",
        "千元",
        "百万元",
        "%",
        "‰",
        "人",
        "万人",
        "户",
        "个",
        "家",
        "件",
        "次",
        "吨",
        "万吨",
        "千克",
        "公斤",
        "kg",
        "t",
        "公里",
        "km",
        "米",
        "m",
        "平方米",
        "m²",
        "m2",
        "万平方米",
        "亩",
        "公顷",
        "μg/m³",
        "ug/m3",
        "μg/m3",
        "mg/m³",
        "mg/m3",
        "mg/L",
        "mg/l",
        "℃",
        "°C",
        "天",
        "日",
        "小时",
        "年",
        "月",
        "辆",
        "台",
        "套",
        "床",
        "册",
        "kWh",
        "千瓦时",
        "万千瓦时",
        "立方米",
        "m³",
        "万立方米",
        "美元",
        "万美元",
        "岁",
    ];
    let n = normalize(u);
    UNITS.iter().any(|x| normalize(x) == n)
}

/// A unit line (`单位：万元`, `金额单位:元`) anywhere in the text; returns the unit.
pub fn unit_line(text: &str) -> Option<String> {
    let t = normalize(text);
    let i = t.find("单位")?;
    // "编制单位", "填报单位", "所属单位" name an organisation, not a unit.
    let before = t[..i].chars().last();
    if matches!(
        before,
        Some('制' | '报' | '属' | '用' | '作' | '表' | '建' | '设' | '施')
    ) {
        return None;
    }
    let rest = t[i + "单位".len()..].trim_start_matches([':', '：', ' ']);
    let unit: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '，' | ';' | '；' | ')' | '）'))
        .collect();
    looks_like_unit(&unit).then_some(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_read_as_the_general_reading_reads_them() {
        let pieces = [
            "0",
            "1",
            "5",
            "9",
            "00",
            "123",
            "-",
            "+",
            ".",
            ",",
            "%",
            "e",
            "E",
            "元",
            "99999999",
            "/",
            ":",
            "x",
            "¥",
            "R",
            "MB",
            "万元",
            "2024-05-06",
        ];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let (mut plain, mut not) = (0, 0);
        for _ in 0..100_000 {
            let text = crate::text_of_pieces(&mut seed, &pieces, 6);
            // The one-pass reading tells only what the general one would.
            match plain_decimal(&text) {
                Plain::Number(p) => {
                    plain += 1;
                    assert_eq!(Some(p), number_in_general(&text), "{text:?}");
                }
                Plain::NotANumber => {
                    not += 1;
                    assert_eq!(None, number_in_general(&text), "{text:?}");
                }
                Plain::Unsure => {}
            }
        }
        assert!(plain > 5_000, "only {plain} plain decimals");
        assert!(not > 5_000, "only {not} texts told apart as no number");
        assert_eq!(number_of_compact("-0").map(|p| p.value.mantissa), Some(0));
        assert!(matches!(
            plain_decimal("123456789012345678"),
            Plain::Number(_)
        ));
        assert_eq!(plain_decimal("1234567890123456789"), Plain::Unsure);
        assert!(number_of_compact("1234567890123456789").is_some());
        assert_eq!(plain_decimal("2023-05-06"), Plain::NotANumber);
        assert_eq!(plain_decimal("+5"), Plain::Unsure);
        assert_eq!(plain_decimal("1,234"), Plain::Unsure);
        assert_eq!(
            number_of_compact("1,234").map(|p| p.value.mantissa),
            Some(1234)
        );
    }

    #[test]
    fn unspaced_ascii_reads_as_a_byte_loop_reads() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut some = 0;
        for _ in 0..100_000 {
            crate::xorshift(&mut seed);
            let len = (seed % 20) as usize;
            let mut text = String::new();
            for _ in 0..len {
                crate::xorshift(&mut seed);
                // Mostly printable ASCII, sometimes a space, a control
                // character, DEL, `e`/`E` or a character beyond ASCII.
                let c = match seed % 16 {
                    0 => [' ', '\t', '\u{1f}', '\u{7f}', 'é', '城', '\u{20}', '!']
                        [(seed >> 8) as usize % 8],
                    1 => ['e', 'E'][(seed >> 8) as usize % 2],
                    _ => char::from(b'!' + ((seed >> 8) % 94) as u8),
                };
                text.push(c);
            }
            let printable = text.bytes().all(|b| (0x21..=0x7F).contains(&b));
            let e = text.bytes().any(|b| b | 0x20 == b'e');
            let expected = printable.then_some(e);
            some += usize::from(expected.is_some());
            assert_eq!(unspaced_ascii(&text), expected, "{text:?}");
        }
        assert!(some > 10_000, "only {some} printable texts");
    }

    #[test]
    fn integer_digits_count_the_digits_before_the_point() {
        let mut seed = 0x853C_49E6_748F_EA9Bu64;
        for _ in 0..50_000 {
            let high = crate::xorshift(&mut seed);
            let low = crate::xorshift(&mut seed);
            let shift = (crate::xorshift(&mut seed) % 127) as u32;
            let mut mantissa = ((i128::from(high) << 64) | i128::from(low)) >> shift;
            if crate::xorshift(&mut seed).is_multiple_of(2) {
                mantissa = -mantissa;
            }
            let scale = (crate::xorshift(&mut seed) % 42) as u8;
            let d = Decimal { mantissa, scale };
            let int = 10u128
                .checked_pow(u32::from(scale))
                .map_or(0, |p| mantissa.unsigned_abs() / p);
            assert_eq!(d.integer_digits() as usize, int.to_string().len(), "{d:?}");
        }
    }

    #[test]
    fn the_last_word_holds_the_last_bytes_and_no_others() {
        let text: Vec<u8> = (1..=20).collect();
        for n in 1..=text.len() {
            let b = &text[..n];
            let word = last_word(b).to_le_bytes();
            assert!(word.iter().all(|x| b.contains(x)), "{n}: {word:?}");
            let last = &b[n.saturating_sub(8)..];
            assert!(last.iter().all(|x| word.contains(x)), "{n}: {word:?}");
        }
        assert_eq!(unspaced_ascii(""), Some(false));
        assert_eq!(last_word(&[]).to_le_bytes(), [b'a'; 8]);
    }

    #[test]
    fn common_cjk_is_told_word_by_word_as_byte_by_byte() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let pool = [
            b'a', b'1', 0x80, 0xB8, 0xBF, 0xC0, 0xDF, 0xE3, 0xE4, 0xE9, 0xEA, 0xEF, 0xF0, 0xFF,
        ];
        for _ in 0..50_000 {
            let len = (crate::xorshift(&mut seed) % 80) as usize;
            let mut bytes: Vec<u8> = (0..len)
                .map(|_| match crate::xorshift(&mut seed) % 4 {
                    0 => crate::xorshift(&mut seed) as u8,
                    _ => pool[(crate::xorshift(&mut seed) % pool.len() as u64) as usize],
                })
                .collect();
            // Mostly plain, so that a single odd byte anywhere is tried.
            if crate::xorshift(&mut seed).is_multiple_of(2) {
                for b in bytes.iter_mut().filter(|b| uncommon_lead(**b)) {
                    *b = b'x';
                }
                if len > 0 && crate::xorshift(&mut seed).is_multiple_of(2) {
                    let at = (crate::xorshift(&mut seed) % len as u64) as usize;
                    bytes[at] = pool[5 + (crate::xorshift(&mut seed) % 9) as usize];
                }
            }
            let expected = !bytes.iter().any(|&b| uncommon_lead(b));
            assert_eq!(ascii_or_common_cjk_bytes(&bytes), expected, "{bytes:x?}");
        }
        for b in 0..=255u8 {
            let word = u64::from_le_bytes([b'a', b, b'a', b'a', b'a', b'a', b'a', b]);
            assert_eq!(uncommon_leads(word) != 0, uncommon_lead(b), "{b:x}");
        }
    }

    #[test]
    fn common_cjk_is_told_by_lead_bytes() {
        for (s, expected) in [
            ("", true),
            ("abc 123", true),
            ("城关镇", true),
            ("供应商12有限公司", true),
            ("一", true),
            ("\u{3fff}", false),
            ("１", false),
            ("é", false),
            ("😀", false),
            ("\u{3000}", false),
        ] {
            assert_eq!(ascii_or_common_cjk(s), expected, "{s:?}");
        }
        for c in ('\u{4000}'..='\u{9FFF}').chain('\0'..='\u{7F}') {
            let s = c.to_string();
            assert!(ascii_or_common_cjk(&s), "{c:?}");
            assert_eq!(s.nfkc().collect::<String>(), s, "{c:?}");
        }
    }

    #[test]
    fn unspaced_ascii_is_its_own_compact_form() {
        let texts = [
            "",
            "a",
            "ZFCG-00000001",
            "12.5",
            "4.10102E+17",
            "~!@#$%^&*()_+{}|:<>?",
            "\u{7f}",
            " a",
            "a b",
            "a\t",
            "\u{1c}",
            "１",
            "a\u{200B}",
            "城",
            "\u{a0}",
        ];
        for t in texts {
            if let Some(e) = unspaced_ascii(t) {
                assert_eq!(normalized(t), t, "{t:?}");
                assert_eq!(strip_space(t), t, "{t:?}");
                assert_eq!(e, t.contains(['e', 'E']), "{t:?}");
            } else {
                assert!(!t.bytes().all(|b| (0x21..0x80).contains(&b)), "{t:?}");
            }
        }
    }

    #[test]
    fn fast_trim_agrees_with_str_trim() {
        let samples = [
            "",
            " ",
            "a",
            " a ",
            "城关镇",
            "\u{3000}城关镇\u{3000}",
            "\u{00A0}1\u{00A0}",
            "x\u{200B}",
            "\u{FEFF}",
            "\t12.5\n",
            "供应商12有限公司",
            "é",
            "\u{85}x",
            "x\u{2003}",
            "𠀀",
        ];
        for s in samples {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            for s in [c.to_string(), format!("a{c}"), format!("{c}a")] {
                assert_eq!(trim(&s), s.trim(), "{s:?}");
            }
        }
    }

    #[test]
    fn null_markers_fit_the_length_check() {
        let longest = NULL_MARKERS.iter().map(|m| m.len()).max();
        assert_eq!(longest, Some(MAX_MARKER_BYTES));
    }

    #[test]
    fn every_null_marker_passes_the_first_byte_check() {
        for m in NULL_MARKERS {
            assert_eq!(null_marker(m), Some(*m), "{m}");
        }
        assert_eq!(null_marker("12"), None);
    }

    #[test]
    fn the_byte_check_agrees_with_nfkc_stable_on_every_character() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let s = format!("a{c}中");
            assert_eq!(all_nfkc_stable(&s), nfkc_stable(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn white_space_starts_with_the_bytes_strip_space_looks_for() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if c.is_whitespace() {
                let mut buf = [0u8; 4];
                let first = c.encode_utf8(&mut buf).as_bytes()[0];
                assert!(
                    matches!(first, b'\t'..=b'\r' | b' ' | 0xC2 | 0xE1 | 0xE2 | 0xE3),
                    "{c:?}"
                );
            }
        }
        assert_eq!(strip_space("1 234\u{3000}5"), "12345");
        assert_eq!(strip_space("城关镇"), "城关镇");
    }

    #[test]
    fn the_nfkc_shortcut_is_exact() {
        // Every character the shortcut trusts is its own NFKC form, and
        // does not compose with an ASCII or ideographic neighbour.
        let stable: Vec<char> = (0u32..0x1_0000)
            .filter_map(char::from_u32)
            .filter(|&c| nfkc_stable(c))
            .collect();
        for &c in &stable {
            let s = c.to_string();
            assert_eq!(s.nfkc().collect::<String>(), s, "U+{:04X}", c as u32);
            for n in ['a', '1', '中', '。'] {
                let pair: String = [c, n].iter().collect();
                assert_eq!(pair.nfkc().collect::<String>(), pair, "U+{:04X}", c as u32);
            }
        }
        assert_eq!(normalize(" 中文，（１２）\u{200B} "), "中文,(12)");
        assert_eq!(normalize("\u{3000}预算、决算\u{3000}"), "预算、决算");
        // `Cell::is_blank` agrees with `normalize` on every BMP character.
        for c in (0u32..0x1_0000).filter_map(char::from_u32) {
            let cell = crate::read::Cell::Text(format!(" {c} "));
            assert_eq!(
                cell.is_blank(),
                normalize(&format!(" {c} ")).is_empty(),
                "U+{:04X}",
                c as u32
            );
        }
    }

    fn num(s: &str) -> Option<(i128, u8)> {
        parse_number(s).map(|p| (p.value.mantissa, p.value.scale))
    }

    #[test]
    fn numbers_as_agencies_write_them() {
        assert_eq!(num("1,234.50"), Some((123450, 2)));
        assert_eq!(num("１２３４．５"), Some((12345, 1)));
        assert_eq!(num("597.00元"), Some((59700, 2)));
        assert_eq!(num("90.3%"), Some((903, 3)));
        assert_eq!(num("-12"), Some((-12, 0)));
        assert_eq!(num(" 42 "), Some((42, 0)));
        assert_eq!(num("1,23"), None);
        assert_eq!(num("abc"), None);
        assert_eq!(num(""), None);
        assert_eq!(num("4.10102E+17"), None);
        assert!(parse_number("007").is_some_and(|p| p.leading_zero));
        assert!(is_scientific("4.10102E+17"));
        assert!(!is_scientific("E12345678"));
    }

    #[test]
    fn dates_as_agencies_write_them() {
        let d = |s| parse_date(s, true).map(|d| d.date().to_string());
        assert_eq!(d("2023-05-06").as_deref(), Some("2023-05-06"));
        assert_eq!(d("2023/5/6").as_deref(), Some("2023-05-06"));
        assert_eq!(d("2023年5月6日").as_deref(), Some("2023-05-06"));
        assert_eq!(d("20230506").as_deref(), Some("2023-05-06"));
        assert_eq!(d("2023.05.06").as_deref(), Some("2023-05-06"));
        assert_eq!(d("2023-02-30"), None);
        assert_eq!(d("注:本表为示例。"), None);
        assert_eq!(d("2023-05-0612:30").as_deref(), Some("2023-05-06"));
        assert_eq!(parse_date("20230506", false), None);
        assert_eq!(
            excel_serial_to_datetime(45052.0)
                .map(|d| d.date().to_string())
                .as_deref(),
            Some("2023-05-06")
        );
    }

    #[test]
    fn units() {
        assert_eq!(
            split_header_unit("罚款金额(万元)"),
            ("罚款金额".into(), Some("万元".into()))
        );
        assert_eq!(
            split_header_unit("PM2.5(μg/m³)"),
            ("PM2.5".into(), Some("μg/m³".into()))
        );
        assert_eq!(split_header_unit("乡镇(街道)"), ("乡镇(街道)".into(), None));
        assert_eq!(unit_line("单位:万元").as_deref(), Some("万元"));
        assert_eq!(unit_line("金额单位：元").as_deref(), Some("元"));
        assert_eq!(unit_line("编制单位：县财政局"), None);
    }

    #[test]
    fn excel_floats_lose_their_noise() {
        assert_eq!(format_excel_number(0.1 + 0.2), "0.3");
        assert_eq!(format_excel_number(1234.0), "1234");
        assert_eq!(format_excel_number(53.3), "53.3");
        assert_eq!(format_excel_number(-0.00120), "-0.0012");
        assert_eq!(format_excel_number(1.0 / 3.0), "0.333333333333333");
        assert_eq!(format_excel_number(1e20), "100000000000000000000");
        // The shortest-text fast path agrees with rounding to 15 digits.
        let by_rounding = |v: f64| {
            let s = format!("{:.*e}", 14, v);
            s.parse::<f64>().map_or(s, |r| format!("{r}"))
        };
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match i % 3 {
                0 => f64::from_bits(x),
                1 => (x % 10_000_000_000) as f64 / 10f64.powi((x % 12) as i32),
                _ => (x % 1_000_000) as f64 * 0.01 + (x % 7) as f64 * 0.1,
            };
            if v.is_finite() && !(v.fract() == 0.0 && v.abs() < 1e15) {
                assert_eq!(format_excel_number(v), by_rounding(v), "{v:e}");
            }
        }
    }

    #[test]
    fn iso_dates_read_quickly_read_as_in_general() {
        let mut seed = 7u64;
        let mut digit = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(b'0' + ((seed >> 33) % 10) as u8)
        };
        let mut cases = vec![
            "2023-05-06".to_string(),
            "2023/5/06".into(),
            "2023.05.06".into(),
            "2023-02-30".into(),
            "2024-02-29".into(),
            "1899-12-31".into(),
            "2101-01-01".into(),
            "0999-01-01".into(),
            "2023-05/06".into(),
            "2023-13-01".into(),
            "2023-00-10".into(),
            "2023-1a-01".into(),
        ];
        for sep in ['-', '/', '.'] {
            for _ in 0..3000 {
                let y: String = (0..4).map(|_| digit()).collect();
                let (m1, m2, d1, d2) = (digit(), digit(), digit(), digit());
                cases.push(format!("{y}{sep}{m1}{m2}{sep}{d1}{d2}"));
                cases.push(format!(
                    "20{}{sep}{}{m2}{sep}{}{d2}",
                    &y[2..],
                    m1.min('1'),
                    d1.min('2')
                ));
            }
        }
        let mut quick = 0;
        for s in &cases {
            if let Some(d) = iso_date(s) {
                quick += 1;
                let d = plausible(d).and_then(|d| d.and_hms_opt(0, 0, 0));
                assert_eq!(d, date_in_general(s), "{s}");
            }
            assert_eq!(date_of_compact(s, true), date_in_general(s), "{s}");
        }
        assert!(quick > 3_000, "{quick} read quickly");
    }
}
