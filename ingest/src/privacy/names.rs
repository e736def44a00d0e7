//! Person names inside free text and metadata: `户主严瀚骁已故`,
//! `申请人孙炜，电话…`, `紧急联系人 上官韬芊`, `经办人杨铮暄` (a header),
//! `秦煜昀等志愿者名单.csv` (a file name).
//!
//! A name column is told by its header or its values
//! ([`super::classify`]); a name inside text has neither, so it is told by
//! what stands beside it: a word naming a person's role just before it
//! ([`ROLE_WORDS`], then at most two of `：: 　为是`), or `等` ("and
//! others") just after it at the start of the text or after a delimiter.
//! The name itself is a surname ([`super::detect::is_person_name`]'s list,
//! compound ones too) and one or two more Han characters; its length is
//! read from where it stops: a delimiter, or a character that starts the
//! next word far more often than it ends a given name ([`STOP_CHARS`]).
//! Further names listed after it with `、` are taken too.

use super::PiiKind;
use super::canon::Found;
use super::detect::{COMPOUND_SURNAMES, SURNAMES, is_person_name};

/// Words naming a person's role, written just before the person's name.
pub const ROLE_WORDS: &[&str] = &[
    "户主",
    "申请人",
    "紧急联系人",
    "联系人",
    "代领人",
    "领取人",
    "领款人",
    "收款人",
    "监护人",
    "当事人",
    "受助人",
    "受益人",
    "负责人",
    "法定代表人",
    "法人代表",
    "经办人",
    "承办人",
    "代理人",
    "被征收人",
    "家庭成员",
    "家属",
    "姓名",
];

/// Characters that start the word after a name far more often than they
/// end a given name (`王五电话`, `严瀚骁已故`).
const STOP_CHARS: &str = "电手身证已于的和及与在因系为是等之住户家年月日元共领签同先女夫妻子病残";

/// The last characters of [`ROLE_WORDS`] and `等`: a text without any of
/// them holds no name this module finds.
const TRIGGERS: [&str; 6] = ["主", "人", "属", "名", "员", "等"];

fn is_han(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c)
}

/// Whether `bytes` (texts end to end) may hold a name this module finds.
pub fn may_hold_name(bytes: &[u8]) -> bool {
    TRIGGERS
        .iter()
        .any(|t| memchr::memmem::find(bytes, t.as_bytes()).is_some())
}

/// The length in characters of the name starting at `chars[0]`, if one
/// does: a surname and one or two more Han characters, where the text
/// then ends, goes on with anything but a Han character, or with one that
/// starts a word ([`STOP_CHARS`]). `负责人安全生产` holds no name: after
/// `安全` and `安全生` the text goes on with `生` and `产`.
fn name_at(chars: &[char]) -> Option<usize> {
    name_followed_by(chars, |next| {
        next.is_none_or(|c| !is_han(c) || STOP_CHARS.contains(c))
    })
}

/// [`name_at`] with `follows` deciding what may come after the name.
fn name_followed_by(chars: &[char], follows: impl Fn(Option<char>) -> bool) -> Option<usize> {
    let surname = COMPOUND_SURNAMES
        .iter()
        .find(|s| chars.len() >= 3 && s.chars().zip(chars).all(|(a, b)| a == *b))
        .map_or(1, |_| 2);
    if surname == 1 && !chars.first().is_some_and(|c| SURNAMES.contains(*c)) {
        return None;
    }
    [surname + 2, surname + 1].into_iter().find(|&len| {
        chars.len() >= len
            && chars[surname..len].iter().all(|&c| is_han(c))
            && follows(chars.get(len).copied())
            && is_person_name(&chars[..len].iter().collect::<String>())
    })
}

/// Person names in `text` (see the module doc), as spans of the text.
/// `metadata` (file, sheet and column names) also takes a name followed by
/// `等` at the start of the text or after a delimiter (`秦煜昀等志愿者名单`),
/// which in running text too often starts a list of things.
pub fn find(text: &str, metadata: bool) -> Vec<Found> {
    if !may_hold_name(text.as_bytes()) {
        return Vec::new();
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let only: Vec<char> = chars.iter().map(|&(_, c)| c).collect();
    let byte_at = |i: usize| chars.get(i).map_or(text.len(), |&(b, _)| b);
    let mut out: Vec<Found> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let rest = &text[chars[i].0..];
        let role = ROLE_WORDS.iter().find(|w| rest.starts_with(*w));
        if let Some(role) = role {
            let mut at = i + role.chars().count();
            let mut skipped = 0;
            while skipped < 2 && only.get(at).is_some_and(|c| "：: 　为是".contains(*c)) {
                at += 1;
                skipped += 1;
            }
            let mut found_any = false;
            while let Some(len) = name_at(&only[at..]) {
                out.push(Found {
                    span: byte_at(at)..byte_at(at + len),
                    kind: PiiKind::PersonName,
                });
                found_any = true;
                at += len;
                // A list: `张三、李四`.
                if only.get(at) == Some(&'、') {
                    at += 1;
                } else {
                    break;
                }
            }
            i = if found_any { at } else { i + 1 };
            continue;
        }
        // `秦煜昀等…` at the start or after a delimiter.
        let starts_word = i == 0 || !is_han(only[i - 1]);
        if metadata
            && starts_word
            && let Some(len) = name_followed_by(&only[i..], |next| next == Some('等'))
            && !super::classify::ends_like_a_place(&only[i..i + len])
        {
            out.push(Found {
                span: byte_at(i)..byte_at(i + len),
                kind: PiiKind::PersonName,
            });
            i += len;
            continue;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<&str> {
        find(text, true)
            .into_iter()
            .map(|f| &text[f.span])
            .collect()
    }

    #[test]
    fn names_after_a_role_word() {
        assert_eq!(names("户主严瀚骁已故，由家属代领"), ["严瀚骁"]);
        assert_eq!(names("申请人孙炜，电话：[手机号已隐藏]"), ["孙炜"]);
        assert_eq!(names("紧急联系人 上官韬芊 +86"), ["上官韬芊"]);
        assert_eq!(names("代领人司马翎（身份证…）"), ["司马翎"]);
        assert_eq!(names("经办人杨铮暄"), ["杨铮暄"]);
        assert_eq!(names("联系人王五电话"), ["王五"]);
        assert_eq!(names("姓名：张三丰"), ["张三丰"]);
        assert_eq!(
            names("家庭成员：张三、李四、欧阳娜娜"),
            ["张三", "李四", "欧阳娜娜"]
        );
    }

    #[test]
    fn names_before_deng() {
        assert_eq!(names("秦煜昀等志愿者名单.csv"), ["秦煜昀"]);
        assert_eq!(names("名单：王五等3人"), ["王五"]);
        assert!(names("张家港等地区").is_empty());
    }

    #[test]
    fn role_words_before_other_words_are_no_names() {
        for text in [
            "联系人电话",
            "户主姓名",
            "申请人名称",
            "负责人：城关镇人民政府",
            "当事人已缴纳罚款",
            "人民医院",
            "法定代表人",
            "项目负责人安全生产考核合格证书",
        ] {
            assert!(names(text).is_empty(), "{text}: {:?}", names(text));
        }
        let text = "路灯、高低压配电等相关供电设施";
        assert!(find(text, false).is_empty());
    }
}
