//! What a column holds: personal information told by its header words
//! (PRIVACY.md's table) or, failing that, by its values.
//!
//! A header match alone classifies a column, with two exceptions read from
//! the values: a person-name header over values that are mostly
//! organisations (`申请人` over company names) is no person column, and a
//! generic address header (`地址`, `坐落`) is personal only in a table about
//! persons (see [`address_is_personal`]). Without a header match, more
//! than half of the sampled non-empty values must pass a value rule.

use super::PiiKind;
use super::canon;
use super::detect::{ORG_SUFFIXES, is_person_name};

/// Header words of organisation identifiers, which are public.
const ORGANISATION_CODES: &[&str] = &[
    "统一社会信用代码",
    "信用代码",
    "组织机构代码",
    "纳税人识别号",
];

/// Header words of agency service numbers, which stay public.
const SERVICE_NUMBERS: &[&str] = &[
    "监督电话",
    "咨询电话",
    "举报电话",
    "投诉电话",
    "服务电话",
    "办公电话",
    "值班电话",
    "服务热线",
];

/// Header words of each kind, in the order they are tried (a phone column
/// of a contact person, `联系人电话`, is a phone column).
const HEADER_WORDS: &[(PiiKind, &[&str])] = &[
    (
        PiiKind::CnResidentId,
        &[
            "身份证",
            "证件号",
            "公民身份号",
            "身份号码",
            "身份证明",
            "证件编号",
        ],
    ),
    (PiiKind::Passport, &["护照", "通行证", "回乡证", "台胞证"]),
    (
        PiiKind::BankCard,
        &[
            "银行账号",
            "银行帐号",
            "卡号",
            "账号",
            "帐号",
            "存折号",
            "一卡通",
            "开户",
            "账户号",
            "帐户号",
        ],
    ),
    (PiiKind::CnMobile, &["手机", "电话", "联系方式", "联系号码"]),
    (
        PiiKind::Address,
        &["地址", "住址", "户籍", "坐落", "居住地", "住所", "家庭住址"],
    ),
    (PiiKind::BirthDate, &["出生日期", "出生年月", "生日"]),
    (PiiKind::Age, &["年龄", "岁数"]),
    (
        PiiKind::Health,
        &[
            "健康状况",
            "残疾等级",
            "残疾类别",
            "病种",
            "致贫原因",
            "疾病",
            "病情",
        ],
    ),
    (
        PiiKind::PersonName,
        &[
            "姓名",
            "名字",
            "户主",
            "户名",
            "申请人",
            "救助对象",
            "保障对象",
            "补助对象",
            "补贴对象",
            "受助人",
            "受助对象",
            "受益人",
            "收款人",
            "领款人",
            "领取人",
            "持卡人",
            "被征收人",
            "被征地人",
            "被拆迁人",
            "权利人",
            "承包人",
            "当事人",
            "违法行为人",
            "被处罚人",
            "家庭成员",
            "监护人",
            "联系人",
            "负责人",
            "法定代表人",
            "法人代表",
            "经办人",
        ],
    ),
];

/// Header words of addresses that are always a person's (residence,
/// household registration), whatever else the table holds.
const RESIDENCE_WORDS: &[&str] = &["住址", "户籍", "居住地", "住所", "家庭住址"];

/// The kind of personal information a header names, if any.
pub fn header_kind(header: &str) -> Option<PiiKind> {
    // A masked identifier in a header says nothing of the column.
    let mut h = crate::text::compact(header);
    for kind in [
        PiiKind::CnResidentId,
        PiiKind::CnMobile,
        PiiKind::BankCard,
        PiiKind::PersonName,
    ] {
        h = h.replace(canon::marker(kind), "");
    }
    let has = |words: &[&str]| words.iter().any(|w| h.contains(w));
    if has(ORGANISATION_CODES) || has(SERVICE_NUMBERS) {
        return None;
    }
    HEADER_WORDS
        .iter()
        .find(|(_, words)| has(words))
        .map(|(kind, _)| *kind)
}

/// Whether an address header names a residence (`住址`, `户籍`), which is
/// personal in any table.
pub fn names_residence(header: &str) -> bool {
    let h = crate::text::compact(header);
    RESIDENCE_WORDS.iter().any(|w| h.contains(w))
}

/// An organisation's or place's name: a known suffix (`局`, `公司`, `村`…)
/// or longer than any person's name.
pub fn is_organisation(value: &str) -> bool {
    let v = crate::text::compact(value);
    v.chars().count() > 6 || ORG_SUFFIXES.iter().any(|s| v.ends_with(s))
}

/// Place words a person's given name rarely ends with, which tell a place
/// (`高新区`, `王府井`) from a name when only values speak.
const PLACE_ENDINGS: &[char] = &[
    '区', '县', '市', '省', '州', '路', '街', '巷', '道', '河', '湖', '港', '桥', '井', '庄', '湾',
    '岛', '门', '里', '堡', '屯', '营', '寨', '坊', '塘', '沟', '坝', '费', '款', '金', '额', '率',
    '类', '型', '期', '号', '表', '单', '证', '书', '品', '物', '业', '事', '项', '计',
];

/// A name as values alone tell it: [`is_person_name`] and no place or
/// bookkeeping word at its end.
fn looks_like_person(value: &str) -> bool {
    let chars: Vec<char> = crate::text::compact(value).chars().collect();
    is_person_name(value) && !ends_like_a_place(&chars)
}

/// Whether a would-be name ends with a place or bookkeeping word
/// ([`PLACE_ENDINGS`]: `张家港`, `王府井`, `高新区`).
pub fn ends_like_a_place(name: &[char]) -> bool {
    name.last().is_some_and(|c| PLACE_ENDINGS.contains(c))
}

/// Whether a column headed as holding person names holds organisations
/// instead: more than half of its sampled values are organisations.
pub fn mostly_organisations(values: &[&str]) -> bool {
    !values.is_empty() && values.iter().filter(|v| is_organisation(v)).count() * 2 > values.len()
}

/// The kind of personal information more than half of a text column's
/// sampled non-empty `values` hold, by value rules alone.
pub fn value_kind(values: &[&str]) -> Option<PiiKind> {
    if values.is_empty() {
        return None;
    }
    let majority = |n: usize| n * 2 > values.len();
    // Values that are identifiers, however written, with at most a short
    // label (`Tel`, `+`): free text that mentions one is masked cell by
    // cell instead.
    let mut counts = [0usize; 3];
    for v in values {
        let found = canon::find(v);
        if found.is_empty() || !only_a_label_beside(v, &found) {
            continue;
        }
        for (k, kind) in [PiiKind::CnResidentId, PiiKind::CnMobile, PiiKind::BankCard]
            .into_iter()
            .enumerate()
        {
            if found.iter().any(|f| f.kind == kind) {
                counts[k] += 1;
            }
        }
    }
    if let Some(k) = [PiiKind::CnResidentId, PiiKind::CnMobile, PiiKind::BankCard]
        .into_iter()
        .zip(counts)
        .filter(|(_, n)| majority(*n))
        .max_by_key(|(_, n)| *n)
        .map(|(k, _)| k)
    {
        return Some(k);
    }
    if majority(values.iter().filter(|v| is_mangled_id(v)).count()) {
        return Some(PiiKind::CnResidentId);
    }
    // Names: most values look like names, and they are mostly different
    // (a column of repeated words is a category, not people).
    let names: Vec<String> = values
        .iter()
        .filter(|v| looks_like_person(v))
        .map(|v| crate::text::compact(v))
        .collect();
    if majority(names.len()) {
        let distinct: std::collections::HashSet<&String> = names.iter().collect();
        if distinct.len() * 2 >= names.len() {
            return Some(PiiKind::PersonName);
        }
    }
    None
}

/// Whether what `found` leaves of `value` is at most a short label without
/// Chinese text (`Tel:`, `+`, `ID`).
fn only_a_label_beside(value: &str, found: &[canon::Found]) -> bool {
    let mut rest = String::new();
    let mut last = 0;
    for f in found {
        rest.push_str(&value[last..f.span.start]);
        last = f.span.end;
    }
    rest.push_str(&value[last..]);
    let rest = crate::text::compact(&rest);
    rest.chars().count() <= 6 && rest.is_ascii()
}

/// A number written bare: ASCII digits, at most one sign in front, one
/// decimal point and thousands commas; nothing else (`13072761000`,
/// `-1,234.5`).
pub fn is_bare_number(value: &str) -> bool {
    let v = value.trim();
    let v = v.strip_prefix(['-', '+']).unwrap_or(v);
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        && v.bytes().filter(|&b| b == b'.').count() <= 1
        && v.as_bytes()[0].is_ascii_digit()
}

/// Whether more than half of a text column's sampled non-empty values are
/// bare numbers ([`is_bare_number`]): a column of amounts or counts kept
/// as text, whose 11-digit values are amounts, not mobiles.
pub fn mostly_bare_numbers(values: &[&str]) -> bool {
    !values.is_empty() && values.iter().filter(|v| is_bare_number(v)).count() * 2 > values.len()
}

/// What Excel shows of a long digit string it read as a number
/// (`1.10105E+17`): an ID whose last digits are lost, when its leading
/// digits are a region code.
pub fn is_mangled_id(value: &str) -> bool {
    let v = crate::text::compact(value).to_ascii_uppercase();
    let Some((mantissa, exponent)) = v.split_once('E') else {
        return false;
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    matches!(exponent.parse::<u32>(), Ok(14..=17))
        && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && mantissa.as_bytes().get(1).is_none_or(|&b| b == b'.')
        && digits.len() >= 3
        && super::detect::valid_region(&format!("{digits:0<6}"))
}

/// The kind of identifier an integral number is (a mobile, an 18-digit
/// ID with its check digit, a card), or an ID whose digits a float lost.
pub fn number_kind(value: f64) -> Option<PiiKind> {
    if !value.is_finite() || value.fract() != 0.0 || value < 1e10 {
        return None;
    }
    // From 2^53 a float no longer holds every integer: an 18-digit ID read
    // as a number has lost its last digits, and its region still shows.
    if (9_007_199_254_740_992.0..1e19).contains(&value) {
        let digits = format!("{value:.0}");
        return super::detect::valid_region(&digits[..6.min(digits.len())])
            .then_some(PiiKind::CnResidentId);
    }
    integer_kind(value as i128)
}

/// The kind of identifier an integer's digits are.
pub fn integer_kind(value: i128) -> Option<PiiKind> {
    if !(10_000_000_000..10_000_000_000_000_000_000).contains(&value) {
        return None;
    }
    let digits = value.to_string();
    canon::find(&digits)
        .into_iter()
        .find(|f| f.span.len() == digits.len())
        .map(|f| f.kind)
        .or_else(|| {
            // 15 digits in a region: an old ID, or a long one cut short.
            (digits.len() >= 15
                && super::detect::is_resident_id15(&digits[..15])
                && digits.len() == 15)
                .then_some(PiiKind::CnResidentId)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_words() {
        assert_eq!(header_kind("身份证号码"), Some(PiiKind::CnResidentId));
        assert_eq!(header_kind("户主姓名"), Some(PiiKind::PersonName));
        assert_eq!(header_kind("户主 姓名"), Some(PiiKind::PersonName));
        assert_eq!(header_kind("姓　名"), Some(PiiKind::PersonName));
        for h in [
            "名字",
            "受助人",
            "受助对象",
            "领取人",
            "联系人",
            "家庭成员",
            "法定代表人",
        ] {
            assert_eq!(header_kind(h), Some(PiiKind::PersonName), "{h}");
        }
        assert_eq!(header_kind("联系人电话"), Some(PiiKind::CnMobile));
        assert_eq!(header_kind("监督电话"), None);
        assert_eq!(header_kind("统一社会信用代码"), None);
        assert_eq!(header_kind("银行账号"), Some(PiiKind::BankCard));
        assert_eq!(header_kind("家庭住址"), Some(PiiKind::Address));
        assert!(names_residence("家庭住址"));
        assert!(!names_residence("地址"));
        assert_eq!(header_kind("年龄"), Some(PiiKind::Age));
    }

    #[test]
    fn values_tell_identifiers_names_and_mangled_ids() {
        assert_eq!(
            value_kind(&["139 1234 5678", "Tel13812345678", "无"]),
            Some(PiiKind::CnMobile)
        );
        assert_eq!(
            value_kind(&["110105 19491231 002X", "11010519491231002x"]),
            Some(PiiKind::CnResidentId)
        );
        assert_eq!(
            value_kind(&["1.10105E+17", "3.30106E+17"]),
            Some(PiiKind::CnResidentId)
        );
        assert_eq!(
            value_kind(&["张三丰", "李　四", "欧阳娜娜", "王翊"]),
            Some(PiiKind::PersonName)
        );
        // Places, categories and organisations are no names.
        assert_eq!(value_kind(&["高新区", "王府井", "城关镇", "西湖区"]), None);
        assert_eq!(value_kind(&["高血压", "高血压", "高血压", "高血压"]), None);
        assert_eq!(value_kind(&["杭州市民政局", "城关镇人民政府"]), None);
        assert!(mostly_organisations(&[
            "杭州某某有限公司",
            "城关镇人民政府",
            "张三"
        ]));
    }

    #[test]
    fn numbers_that_are_identifiers() {
        assert_eq!(number_kind(13_912_345_678.0), Some(PiiKind::CnMobile));
        assert_eq!(
            number_kind(110_105_194_912_310_000.0),
            Some(PiiKind::CnResidentId)
        );
        assert_eq!(integer_kind(13_912_345_678), Some(PiiKind::CnMobile));
        assert_eq!(integer_kind(6_222_000_012_345_673), Some(PiiKind::BankCard));
        assert_eq!(
            integer_kind(110_105_491_231_002),
            Some(PiiKind::CnResidentId)
        );
        assert_eq!(integer_kind(12_345_678_901), None);
        assert_eq!(number_kind(650.0), None);
        assert_eq!(number_kind(13_912_345_678.5), None);
    }
}
