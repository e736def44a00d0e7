//! The canonical reading of text: identifiers found however a clerk wrote
//! them (PRIVACY.md, "Forms seen in the wild"), with the span they take in
//! the text as written.
//!
//! One identifier reaches an agency table in many forms: `110105 19491231
//! 002X`, `110105-19491231-002x`, `１３９　１２３４　５６７８`,
//! `+86 (139) 1234 5678`, `139\u{2060}1234\u{2060}5678`, `Tel13912345678a`,
//! `ID110105…`, or split by a line break inside the cell. The reading:
//!
//! 1. every character is read through NFKC (full-width digits and letters
//!    become ASCII; `ｘ` and `x` count as `X`);
//! 2. digits form *groups*; groups separated by at most [`MAX_GAP`]
//!    *separators* form one *run*. Separators are every white space (line
//!    breaks, NBSP and the ideographic space among them), zero-width
//!    characters and word joiners, dashes, hyphens and minus signs, dots and
//!    middle dots, slashes, underscores and parentheses. Anything else
//!    (letters, Chinese text, `:` `,` `+`) ends a run, so letters may touch
//!    an identifier on either side;
//! 3. an identifier is a stretch of whole groups of a run: a mobile number
//!    (11 digits `1[3-9]…`, also after a `0`, `86` or `0086` prefix), a
//!    resident ID (17 digits and an `X`, or 18 digits, with a real region,
//!    birth date and check character), or a bank card (16–19 digits, BIN
//!    62/60/4/5, Luhn).
//!
//! Example: in `电话：+86 (139) 1234-5678。` the run is `86 (139) 1234-5678`
//! with groups `86`, `139`, `1234`, `5678`; the four groups together read
//! `8613912345678`, a mobile after the `86` prefix, and the span found is
//! the bytes of `86 (139) 1234-5678` in the original text.
//!
//! Whole groups only: digits inside a longer run of digits
//! (`ZB2023138123456789`) are no identifier, and neither is a run of
//! groups whose lengths never add up to one.

use super::PiiKind;
use super::detect::{id18_check_char, luhn, valid_region};
use std::ops::Range;

/// Separators allowed between two digit groups of one identifier
/// (`) ` after `(139`, `\r\n` in a cell).
pub const MAX_GAP: usize = 3;

/// Digits of the shortest identifier found in text (a mobile number).
pub const MIN_DIGITS: usize = 11;

/// Digits of the longest identifier looked for (a 19-digit card).
const MAX_DIGITS: usize = 19;

/// An identifier found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Byte range in the text as written.
    pub span: Range<usize>,
    /// What it is.
    pub kind: PiiKind,
}

/// Characters that show nothing: digits on both sides of them are read as
/// one group (`139\u{2060}1234\u{2060}5678` is written `13912345678`).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{00AD}' | '\u{FEFF}' | '\u{180E}'
    )
}

/// Line breaks: a clerk's cell may break one identifier anywhere.
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0085}' | '\u{2028}' | '\u{2029}' | '\u{000B}' | '\u{000C}'
    )
}

/// Whether `c` may stand between the digit groups of one identifier.
pub fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            // zero-width characters, word joiners, soft hyphen, BOM
            '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{00AD}' | '\u{FEFF}' | '\u{180E}'
            // dashes, hyphens and minus signs
            | '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}'
            | '\u{2E3A}' | '\u{2E3B}' | '\u{30FC}'
            // dots, middle dots, slashes, underscores, parentheses
            | '.' | '\u{00B7}' | '\u{2027}' | '\u{30FB}' | '\u{FF65}' | '\u{2022}' | '\u{3002}'
            | '/' | '\\' | '_' | '(' | ')' | '\u{FF08}' | '\u{FF09}'
        )
}

/// How one character of the NFKC reading counts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Class {
    Digit(u8),
    /// `X` (or `x`): the check character of an ID.
    X,
    /// Shows nothing ([`is_invisible`]): the group goes on.
    Invisible,
    /// A line break ([`is_line_break`]).
    LineBreak,
    Separator,
    /// Ends a run.
    Other,
}

fn class(c: char) -> Class {
    match c {
        '0'..='9' => Class::Digit(c as u8 - b'0'),
        'X' | 'x' => Class::X,
        c if is_invisible(c) => Class::Invisible,
        c if is_line_break(c) => Class::LineBreak,
        c if is_separator(c) => Class::Separator,
        _ => Class::Other,
    }
}

/// Calls `f` with each character of the NFKC reading of `c`.
#[inline]
fn nfkc_of(c: char, mut f: impl FnMut(char)) {
    if c.is_ascii() || crate::text::nfkc_stable(c) {
        f(c)
    } else {
        use unicode_normalization::UnicodeNormalization;
        std::iter::once(c).nfkc().for_each(f)
    }
}

/// A digit group: where its digits lie in the run, and its bytes in the text.
#[derive(Debug, Clone)]
struct Group {
    digits_end: usize,
    bytes: Range<usize>,
    /// A line break stands between it and the group before: the identifier
    /// may be split there in any shape.
    after_break: bool,
}

/// The digit groups of one run being read.
#[derive(Debug, Default)]
struct Run {
    digits: Vec<u8>,
    groups: Vec<Group>,
    /// The group being read has its last character just before.
    open: bool,
    /// Separators since the last digit.
    gap: usize,
    /// End byte of an `X` right after the last group (at most one separator between).
    x_end: Option<usize>,
    /// A line break since the last digit.
    broken: bool,
}

impl Run {
    fn clear(&mut self) {
        self.digits.clear();
        self.groups.clear();
        self.open = false;
        self.gap = 0;
        self.x_end = None;
        self.broken = false;
    }
}

/// The identifiers in `text`, in order, not overlapping.
pub fn find(text: &str) -> Vec<Found> {
    let mut out = Vec::new();
    let mut run = Run::default();
    for (at, c) in text.char_indices() {
        let end = at + c.len_utf8();
        nfkc_of(c, |f| match class(f) {
            Class::Digit(d) => {
                if run.x_end.is_some() || (!run.groups.is_empty() && run.gap > MAX_GAP) {
                    flush(&mut run, &mut out);
                }
                run.digits.push(d);
                match run.groups.last_mut() {
                    Some(g) if run.open => {
                        g.digits_end = run.digits.len();
                        g.bytes.end = end;
                    }
                    _ => run.groups.push(Group {
                        digits_end: run.digits.len(),
                        bytes: at..end,
                        after_break: run.broken,
                    }),
                }
                run.open = true;
                run.gap = 0;
                run.broken = false;
            }
            Class::Invisible => {}
            Class::X if !run.groups.is_empty() && run.x_end.is_none() && run.gap <= 1 => {
                run.x_end = Some(end);
                run.open = false;
            }
            Class::Separator | Class::LineBreak
                if !run.groups.is_empty() && run.x_end.is_none() =>
            {
                run.open = false;
                run.broken |= class(f) == Class::LineBreak;
                run.gap += 1;
                if run.gap > MAX_GAP {
                    flush(&mut run, &mut out);
                }
            }
            _ => {
                if !run.groups.is_empty() {
                    flush(&mut run, &mut out);
                }
            }
        });
    }
    flush(&mut run, &mut out);
    for f in &mut out {
        f.span = balanced(text, f.span.clone());
    }
    if !out.is_empty() {
        let codes = code_spans(text);
        out.retain(|f| {
            !codes
                .iter()
                .any(|c| f.span.start < c.end && c.start < f.span.end)
        });
    }
    let mangled = find_mangled(text);
    if !mangled.is_empty() {
        // A mangled ID's digits may read as a card: the whole token wins.
        out.retain(|f| {
            !mangled
                .iter()
                .any(|m| f.span.start < m.span.end && m.span.start < f.span.end)
        });
        out.extend(mangled);
        out.sort_by_key(|f| f.span.start);
    }
    out
}

/// Machine codes whose digits are no identifier: UUIDs
/// (`51a13b9b-15b1-3912-3456-ae952800a9c1`, with or without dashes) and hex
/// digests (16 hex characters or more, letters and digits mixed).
fn code_spans(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    while start < b.len() {
        if !(b[start].is_ascii_alphanumeric() || b[start] == b'-') {
            start += 1;
            continue;
        }
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'-') {
            end += 1;
        }
        let token = &b[start..end];
        let hex = |t: &[u8]| t.iter().all(u8::is_ascii_hexdigit);
        let uuid = token.len() == 36
            && token
                .iter()
                .enumerate()
                .all(|(i, &c)| matches!(i, 8 | 13 | 18 | 23) == (c == b'-'))
            && hex(&token
                .iter()
                .copied()
                .filter(|&c| c != b'-')
                .collect::<Vec<_>>());
        let digest = token.len() >= 16
            && hex(token)
            && token.iter().any(u8::is_ascii_digit)
            && token.iter().any(u8::is_ascii_alphabetic);
        if uuid || digest {
            out.push(start..end);
        }
        start = end;
    }
    out
}

/// What Excel shows of an ID it read as a number, in text: `1.10105E+17`,
/// `3.301061969030646E17` ([`super::classify::is_mangled_id`]), as IDs.
fn find_mangled(text: &str) -> Vec<Found> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(e) = memchr::memchr2(b'E', b'e', &b[i..]).map(|e| i + e) {
        // Back over the mantissa, forward over the exponent.
        let mut start = e;
        while start > 0 && (b[start - 1].is_ascii_digit() || b[start - 1] == b'.') {
            start -= 1;
        }
        let mut end = e + 1;
        if b.get(end) == Some(&b'+') {
            end += 1;
        }
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let bounded = (start == 0 || !b[start - 1].is_ascii_alphanumeric())
            && (end == b.len() || !b[end].is_ascii_alphanumeric());
        if start < e && bounded && super::classify::is_mangled_id(&text[start..end]) {
            out.push(Found {
                span: start..end,
                kind: PiiKind::CnResidentId,
            });
        }
        i = end.max(e + 1);
    }
    out
}

/// `span` widened by a parenthesis just outside it whose partner lies
/// inside (`(139)1234 5678`, `(110105)…(002X)`), so masking leaves none
/// unpaired.
fn balanced(text: &str, mut span: Range<usize>) -> Range<usize> {
    // The lowest depth reached inside, and the depth at its end.
    let depths = |s: &str| {
        s.chars().fold((0i32, 0i32), |(low, d), c| {
            let d = match c {
                '(' | '（' => d + 1,
                ')' | '）' => d - 1,
                _ => d,
            };
            (low.min(d), d)
        })
    };
    if depths(&text[span.clone()]).0 < 0
        && let Some(c) = text[..span.start].chars().next_back()
        && matches!(c, '(' | '（')
    {
        span.start -= c.len_utf8();
    }
    if depths(&text[span.clone()]).1 > 0
        && let Some(c) = text[span.end..].chars().next()
        && matches!(c, ')' | '）')
    {
        span.end += c.len_utf8();
    }
    span
}

/// Records the identifiers of a finished run and clears it.
fn flush(run: &mut Run, out: &mut Vec<Found>) {
    if run.digits.len() >= MIN_DIGITS {
        let mut first = 0;
        while first < run.groups.len() {
            let start_digit = if first == 0 {
                0
            } else {
                run.groups[first - 1].digits_end
            };
            let mut best: Option<(usize, PiiKind, usize)> = None;
            for last in first..run.groups.len() {
                let digits = &run.digits[start_digit..run.groups[last].digits_end];
                if digits.len() > MAX_DIGITS {
                    break;
                }
                let x_end = run.x_end.filter(|_| last + 1 == run.groups.len());
                if let Some((kind, end)) = identify(digits, x_end, run.groups[last].bytes.end)
                    && written_as(
                        kind,
                        &shape(&run.groups, first, last, start_digit),
                        digits.len(),
                    )
                {
                    best = Some((last, kind, end));
                }
            }
            match best {
                Some((last, kind, end)) => {
                    out.push(Found {
                        span: run.groups[first].bytes.start..end,
                        kind,
                    });
                    first = last + 1;
                }
                None => first += 1,
            }
        }
    }
    run.clear();
}

/// The lengths of groups `first..=last`, a group after a line break
/// counted with the one before it.
fn shape(groups: &[Group], first: usize, last: usize, start_digit: usize) -> Vec<usize> {
    let mut lengths: Vec<usize> = Vec::new();
    let mut from = start_digit;
    for (i, g) in groups.iter().enumerate().take(last + 1).skip(first) {
        let len = g.digits_end - from;
        from = g.digits_end;
        match lengths.last_mut() {
            Some(l) if i > first && g.after_break => *l += len,
            _ => lengths.push(len),
        }
    }
    lengths
}

/// Whether digit groups of these lengths are a way people write an
/// identifier of `kind` (`digits` long, a country or trunk prefix
/// included). An ID's checksum is proof enough whatever its groups; a
/// mobile is written whole or 3-4-4 (also 3-8, 4-7, 7-4, 4-4-3), a card
/// whole or in fours; digits one by one count for both. House numbers
/// and postcodes side by side (`156/158 24125`) fit none of these.
fn written_as(kind: PiiKind, lengths: &[usize], digits: usize) -> bool {
    if lengths.len() == 1 || lengths.iter().all(|&l| l == 1) {
        return true;
    }
    match kind {
        PiiKind::CnMobile => {
            // The prefix (`86`, `0086`, `0`) as a group of its own, or glued to the first.
            let prefix = digits - 11;
            let mut mobile = lengths.to_vec();
            if prefix > 0 {
                if mobile[0] == prefix {
                    mobile.remove(0);
                } else if mobile[0] > prefix {
                    mobile[0] -= prefix;
                } else {
                    return false;
                }
            }
            matches!(
                mobile.as_slice(),
                [11] | [3, 8] | [3, 4, 4] | [4, 7] | [7, 4] | [4, 4, 3]
            ) || mobile.iter().all(|&l| l == 1)
        }
        PiiKind::BankCard => {
            let (last, fours) = lengths.split_last().unwrap_or((&0, &[]));
            fours.iter().all(|&l| l == 4) && (1..=4).contains(last)
        }
        _ => true,
    }
}

/// What a stretch of digits is (and where it ends: after the `X` for an ID
/// that ends in one).
fn identify(digits: &[u8], x_end: Option<usize>, end: usize) -> Option<(PiiKind, usize)> {
    if let Some(x) = x_end
        && digits.len() == 17
        && resident_id18(digits, Some(b'X'))
    {
        return Some((PiiKind::CnResidentId, x));
    }
    let kind = match digits.len() {
        18 if resident_id18(&digits[..17], Some(b'0' + digits[17])) => PiiKind::CnResidentId,
        11 if mobile(digits) => PiiKind::CnMobile,
        12 if digits[0] == 0 && mobile(&digits[1..]) => PiiKind::CnMobile,
        13 if digits[..2] == [8, 6] && mobile(&digits[2..]) => PiiKind::CnMobile,
        15 if digits[..4] == [0, 0, 8, 6] && mobile(&digits[4..]) => PiiKind::CnMobile,
        16..=19 if bank_card(digits) => PiiKind::BankCard,
        _ => return None,
    };
    Some((kind, end))
}

fn text_of(digits: &[u8]) -> String {
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

/// `1[3-9]` and nine more digits.
fn mobile(digits: &[u8]) -> bool {
    digits.len() == 11 && digits[0] == 1 && (3..=9).contains(&digits[1])
}

/// 17 digits of an ID with its check character: region, a real past birth
/// date, and the check character the digits give.
fn resident_id18(first17: &[u8], check: Option<u8>) -> bool {
    if first17.len() != 17 {
        return false;
    }
    let text = text_of(first17);
    valid_region(&text[..6])
        && super::detect::real_birth_date(&text[6..14])
        && check.is_some_and(|c| id18_check_char(&text) == Some(char::from(c)))
}

/// BIN 62/60/4/5 and a valid Luhn checksum.
fn bank_card(digits: &[u8]) -> bool {
    let bin = matches!(digits, [6, 2, ..] | [6, 0, ..] | [4, ..] | [5, ..]);
    bin && luhn(&text_of(digits))
}

/// The text with each identifier found replaced by the marker of its kind
/// (`None` when there is none). Only the spans change; the rest is kept as
/// written.
pub fn mask(text: &str) -> Option<String> {
    let found = find(text);
    if found.is_empty() {
        return None;
    }
    Some(replace(text, &found))
}

/// `text` with each span of `found` (in order) replaced by its kind's
/// marker; a span overlapping the one before is masked together with it.
pub fn replace(text: &str, found: &[Found]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for f in found {
        let start = f.span.start.max(last);
        let end = f.span.end.max(start);
        if let (Some(before), true) = (text.get(last..start), text.is_char_boundary(end)) {
            out.push_str(before);
            if f.span.start >= last {
                out.push_str(marker(f.kind));
            }
            last = end;
        }
    }
    out.push_str(text.get(last..).unwrap_or_default());
    out
}

/// The platform's marker for an identifier masked inside text.
pub const fn marker(kind: PiiKind) -> &'static str {
    match kind {
        PiiKind::CnMobile => "[手机号已隐藏]",
        PiiKind::BankCard => "[卡号已隐藏]",
        PiiKind::PersonName => "[姓名已隐藏]",
        _ => "[证件号已隐藏]",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(String, PiiKind)> {
        find(text)
            .into_iter()
            .map(|f| (text[f.span].to_string(), f.kind))
            .collect()
    }

    const ID: &str = "11010519491231002X";
    const MOBILE: &str = "13912345678";
    const CARD: &str = "6222000012345673";

    #[test]
    fn resident_ids_in_every_form() {
        let forms = [
            "11010519491231002X",
            "11010519491231002x",
            "１１０１０５１９４９１２３１００２Ｘ",
            "110105 19491231 002X",
            "110105-19491231-002X",
            "110105.19491231.002X",
            "110105\u{2010}19491231\u{2010}002X",
            "110105\u{2013}19491231\u{2014}002X",
            "110105\u{2212}19491231\u{2212}002X",
            "110105\u{00A0}19491231\u{3000}002X",
            "110105\u{200B}19491231\u{2060}002X",
            "11010519491\n231002X",
            "11010519491\r\n231002X",
            "(110105)19491231(002X)",
            "110105 19491231 002 X",
        ];
        for form in forms {
            assert_eq!(
                kinds(form),
                [(form.to_string(), PiiKind::CnResidentId)],
                "{form:?}"
            );
        }
        for (text, id) in [
            ("ID110105 19491231 002X", "110105 19491231 002X"),
            ("身份证号：11010519491231002X。", ID),
            ("公民身份号码11010519491231002X号", ID),
            (
                "shen_fen_zheng_hao: \"1.10105E+17\" a 15–18 digit number",
                "1.10105E+17",
            ),
            ("值 3.301061969030646E17 已隐去", "3.301061969030646E17"),
        ] {
            assert_eq!(
                kinds(text),
                [(id.to_string(), PiiKind::CnResidentId)],
                "{text}"
            );
        }
    }

    #[test]
    fn mobiles_in_every_form() {
        let forms = [
            "13912345678",
            "139 1234 5678",
            "139-1234-5678",
            "139/1234/5678",
            "139_1234_5678",
            "139\u{2013}1234\u{2013}5678",
            "139\u{2212}1234\u{2212}5678",
            "139\u{2060}1234\u{2060}5678",
            "(139)1234 5678",
            "１３９　１２３４　５６７８",
            "86 139 1234 5678",
            "8613912345678",
            "0086 13912345678",
            "013912345678",
        ];
        for form in forms {
            assert_eq!(
                kinds(form),
                [(form.to_string(), PiiKind::CnMobile)],
                "{form:?}"
            );
        }
        for (text, found) in [
            ("+86 (139) 1234 5678", "86 (139) 1234 5678"),
            ("Tel13912345678", MOBILE),
            ("Tel:139-1234-5678", "139-1234-5678"),
            ("13912345678a", MOBILE),
            (
                "1\u{2060}3\u{2060}9\u{2060}1\u{2060}2\u{2060}3\u{2060}4\u{2060}5\u{2060}6\u{2060}7\u{2060}8",
                "1\u{2060}3\u{2060}9\u{2060}1\u{2060}2\u{2060}3\u{2060}4\u{2060}5\u{2060}6\u{2060}7\u{2060}8",
            ),
            ("13912\n345678", "13912\n345678"),
            ("1 3 9 1 2 3 4 5 6 7 8", "1 3 9 1 2 3 4 5 6 7 8"),
            ("电话：13912345678，", MOBILE),
            ("310000 13912345678", MOBILE),
        ] {
            assert_eq!(
                kinds(text),
                [(found.to_string(), PiiKind::CnMobile)],
                "{text}"
            );
        }
        assert_eq!(
            kinds("13912345678/13812345678").len(),
            2,
            "two numbers side by side are two"
        );
    }

    #[test]
    fn cards_in_every_form() {
        for form in [
            CARD,
            "6222 0000 1234 5673",
            "6222-0000-1234-5673",
            "６２２２　００００　１２３４　５６７３",
        ] {
            assert_eq!(
                kinds(form),
                [(form.to_string(), PiiKind::BankCard)],
                "{form:?}"
            );
        }
    }

    #[test]
    fn ordinary_numbers_are_no_identifiers() {
        for text in [
            "12345678901",
            "110105194912310021",
            "项目编号ZB2023138123456789",
            "2024-06-28 13:45:12",
            "0571-87654321",
            "650.00 650.00 650.00",
            "192.168.100.200",
            "91330106MA2B0C3D9W",
            "139123456789",
            "1391234567",
            "139 1234 567",
            "6222000012345678",
            "139    1234 5678",
            "VIA VIA DELLE VALLI 156/158 24125, BERGAMO (BG) 156/158 24125",
            "1391 23 45678",
            "6222 0000 1234 567 3",
            "AfficheID=992bf139-1234-5678-99b1-9051af59b48e&IsInner=0",
            "sha256 9a13912345678b0c9a13912345678b0c",
        ] {
            assert!(find(text).is_empty(), "{text:?}: {:?}", kinds(text));
        }
    }

    #[test]
    fn a_mangled_id_whose_digits_read_as_a_card_is_one_id() {
        let text = "值 4.201031968092225E17 已隐去";
        assert_eq!(
            kinds(text),
            [("4.201031968092225E17".to_string(), PiiKind::CnResidentId)]
        );
        assert_eq!(mask(text).as_deref(), Some("值 [证件号已隐藏] 已隐去"));
        // Overlapping spans never break masking.
        let overlapping = [
            Found {
                span: 0..5,
                kind: PiiKind::CnMobile,
            },
            Found {
                span: 3..8,
                kind: PiiKind::BankCard,
            },
        ];
        assert_eq!(replace("abcdefghij", &overlapping), "[手机号已隐藏]ij");
    }

    #[test]
    fn masking_replaces_the_span_as_written_and_keeps_the_rest() {
        assert_eq!(
            mask("联系　139 1234 5678（户主）").as_deref(),
            Some("联系　[手机号已隐藏]（户主）")
        );
        assert_eq!(
            mask("ＡＢ１２ 身份证110105 19491231 002x 卡6222-0000-1234-5673").as_deref(),
            Some("ＡＢ１２ 身份证[证件号已隐藏] 卡[卡号已隐藏]")
        );
        assert_eq!(mask("无"), None);
    }
}
