//! Detectors for personal information (PRIVACY.md): header words, value
//! patterns and checksums, applied after normalisation (NFKC, spaces and
//! hyphens removed, `x` → `X`).

use crate::text::normalize;
use chrono::{Datelike, NaiveDate};

/// The text without separators ([`super::canon::is_separator`]: white
/// space, zero-width characters, dashes, dots, slashes, underscores,
/// parentheses), upper case: `110105 1949-1231 002x` → `11010519491231002X`.
pub fn canonical(s: &str) -> String {
    normalize(s)
        .chars()
        .filter(|&c| !super::canon::is_separator(c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn valid_province(two: &str) -> bool {
    two.parse::<u32>().is_ok_and(
        |p| matches!(p, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81..=83),
    )
}

/// A province code, or `9` + province code (the 2023 permanent-residence card).
pub(crate) fn valid_region(code: &str) -> bool {
    code.len() >= 3
        && code.is_char_boundary(2)
        && code.is_char_boundary(3)
        && (valid_province(&code[..2]) || (code.starts_with('9') && valid_province(&code[1..3])))
}

/// `YYYYMMDD` of a real date from 1890 up to today.
pub(crate) fn real_birth_date(yyyymmdd: &str) -> bool {
    let parse = |r: std::ops::Range<usize>| yyyymmdd.get(r).and_then(|t| t.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (parse(0..4), parse(4..6), parse(6..8)) else {
        return false;
    };
    yyyymmdd.len() == 8
        && NaiveDate::from_ymd_opt(y as i32, m, d)
            .is_some_and(|birth| birth.year() >= 1890 && birth <= chrono::Utc::now().date_naive())
}

/// An 18-character resident ID: region, a real past date, 3 digits and the
/// ISO 7064 check character. `check_digit` = false accepts a bad checksum
/// (inside a column whose header names IDs: a truncated or mistyped ID is still an ID).
pub fn is_resident_id18(s: &str, check_digit: bool) -> bool {
    let c = canonical(s);
    let b = c.as_bytes();
    if b.len() != 18
        || !b[..17].iter().all(u8::is_ascii_digit)
        || !(b[17].is_ascii_digit() || b[17] == b'X')
    {
        return false;
    }
    if !valid_region(&c[..6]) || !real_birth_date(&c[6..14]) {
        return false;
    }
    !check_digit || id18_check_char(&c[..17]) == Some(char::from(b[17]))
}

/// The check character of the first 17 digits of an ID.
pub fn id18_check_char(first17: &str) -> Option<char> {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).map(|d| d * w))
        .sum::<Option<u32>>()?;
    "10X98765432".chars().nth((sum % 11) as usize)
}

/// A 15-digit (pre-1999) resident ID: region + YYMMDD + 3 digits.
pub fn is_resident_id15(s: &str) -> bool {
    let c = canonical(s);
    c.len() == 15
        && c.bytes().all(|b| b.is_ascii_digit())
        && valid_region(&c[..6])
        && NaiveDate::parse_from_str(&format!("19{}", &c[6..12]), "%Y%m%d").is_ok()
}

/// A mainland mobile number (a `+86`, `86`, `0086` or `0` prefix allowed):
/// `1[3-9]` + 9 digits.
pub fn is_mobile(s: &str) -> bool {
    let c = canonical(s);
    let c = c.strip_prefix('+').unwrap_or(&c);
    let c = match c.len() {
        15 => c.strip_prefix("0086").unwrap_or(c),
        13 => c.strip_prefix("86").unwrap_or(c),
        12 => c.strip_prefix('0').unwrap_or(c),
        _ => c,
    };
    let b = c.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

/// A landline: 0 + 2–3 digit area code + 7–8 digits.
pub fn is_landline(s: &str) -> bool {
    let c = canonical(s);
    c.starts_with('0') && (10..=12).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_digit())
}

/// Luhn checksum over a digit string.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, ch) in digits.chars().rev().enumerate() {
        let Some(mut d) = ch.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// A bank card: 16–19 digits, Luhn-valid, BIN 62/60/4/5.
pub fn is_bank_card(s: &str) -> bool {
    let c = canonical(s);
    (16..=19).contains(&c.len())
        && c.bytes().all(|b| b.is_ascii_digit())
        && (c.starts_with("62") || c.starts_with("60") || c.starts_with('4') || c.starts_with('5'))
        && luhn(&c)
}

/// Any 10–30 digit run (an account number inside a header-matched column).
pub fn is_account_number(s: &str) -> bool {
    let c = canonical(s);
    (10..=30).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_digit())
}

/// Passport and travel permits: `[EGDPS][0-9A-HJ-NP-Z]?\d{7,8}`, `[HM]\d{8}(\d{2})?`.
pub fn is_passport(s: &str) -> bool {
    let c = canonical(s);
    let b = c.as_bytes();
    let digits = |x: &[u8]| x.iter().all(u8::is_ascii_digit);
    match b.first() {
        Some(b'E' | b'G' | b'D' | b'P' | b'S') => {
            let rest = &b[1..];
            (digits(rest) && (7..=8).contains(&rest.len()))
                || (rest.len() >= 8
                    && (rest[0].is_ascii_digit()
                        || (rest[0].is_ascii_uppercase() && !matches!(rest[0], b'I' | b'O')))
                    && digits(&rest[1..])
                    && (7..=8).contains(&(rest.len() - 1)))
        }
        Some(b'H' | b'M') => digits(&b[1..]) && matches!(b.len() - 1, 8 | 10),
        _ => false,
    }
}

pub(crate) const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "上官", "司马", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "令狐", "澹台", "西门", "南宫", "端木", "独孤", "百里", "呼延", "轩辕",
];
pub(crate) const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝";
pub(crate) const ORG_SUFFIXES: &[&str] = &[
    "局", "委", "办", "院", "司", "会", "府", "中心", "处", "科", "所", "站", "队", "厂", "店",
    "社", "村", "镇", "乡", "街道", "部", "室", "馆", "校", "园", "行", "场", "组", "团", "协会",
    "集团", "公司", "银行", "医院",
];

fn is_han(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c)
}

/// A person's name: 2–4 Han characters starting with a common surname, no organisation suffix.
pub fn is_person_name(s: &str) -> bool {
    // Clerks pad two-character names: `张　三`, `张 三`.
    let n = crate::text::compact(s);
    let chars: Vec<char> = n.chars().collect();
    if !(2..=4).contains(&chars.len()) || !chars.iter().all(|&c| is_han(c)) {
        return false;
    }
    if ORG_SUFFIXES.iter().any(|suf| n.ends_with(suf)) {
        return false;
    }
    COMPOUND_SURNAMES.iter().any(|s| n.starts_with(s)) || SURNAMES.contains(chars[0])
}

/// The one platform-wide name mask: surname kept, given name starred except its
/// last character (`张三丰` → `张*丰`, `李四` → `李*`, `欧阳娜娜` → `欧**娜`).
pub fn mask_name(s: &str) -> String {
    let n = crate::text::compact(s);
    let chars: Vec<char> = n.chars().collect();
    match chars.len() {
        0 | 1 => "*".repeat(chars.len()),
        2 => format!("{}*", chars[0]),
        len => {
            let mut out = String::new();
            out.push(chars[0]);
            out.push_str(&"*".repeat(len - 2));
            out.push(chars[len - 1]);
            out
        }
    }
}

/// The one platform-wide mobile mask: `138****1234`.
pub fn mask_mobile(s: &str) -> String {
    let c = canonical(s);
    let c = c.trim_start_matches("+86").trim_start_matches("0086");
    if c.len() == 11 && c.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}****{}", &c[..3], &c[7..])
    } else {
        "***".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vectors of PRIVACY.md.
    #[test]
    fn resident_ids() {
        assert!(is_resident_id18("11010519491231002X", true));
        assert!(is_resident_id18("11010519491231002x", true));
        assert!(is_resident_id18(
            "１１０１０５１９４９１２３１００２Ｘ",
            true
        ));
        assert!(is_resident_id18("110105 19491231 002X", true));
        assert!(
            !is_resident_id18("110105194912310021", true),
            "bad checksum outside an ID column"
        );
        assert!(
            is_resident_id18("110105194912310021", false),
            "bad checksum inside an ID column"
        );
        assert!(
            !is_resident_id18("440305199902290010", false),
            "no 29 Feb 1999"
        );
        assert!(!is_resident_id18("990101199001011230", false), "region 99");
        assert!(is_resident_id15("110105491231002"));
        assert!(
            !is_resident_id18("91330106MA2B0C3D9W", false),
            "a credit code is not an ID"
        );
    }

    #[test]
    fn phones_cards_passports() {
        assert!(is_mobile("13812345678"));
        assert!(is_mobile("+86 138-1234-5678"));
        assert!(!is_mobile("12345678901"));
        assert!(is_landline("0571-87654321"));
        assert!(is_bank_card("6222000012345673"));
        assert!(!is_bank_card("6222000012345678"));
        assert!(is_account_number("6222000012345678"));
        assert!(is_passport("E12345678"));
        assert!(!is_passport("ZB-2024-001"));
    }

    #[test]
    fn names() {
        assert!(is_person_name("张三丰"));
        assert!(is_person_name("欧阳娜娜"));
        assert!(!is_person_name("杭州市西湖区民政局"));
        assert!(!is_person_name("城关镇"));
        assert_eq!(mask_name("张三丰"), "张*丰");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        assert_eq!(mask_name("李四"), "李*");
        assert_eq!(mask_mobile("13812345678"), "138****5678");
        assert_eq!(
            mask_mobile("电话1381234"),
            "***",
            "never slices inside a character"
        );
    }
}
