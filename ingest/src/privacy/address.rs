//! Generalising a person's address to the level the rules allow, without
//! destroying what is not personal (PRIVACY.md, "Generalisation never
//! destroys").
//!
//! An address is read for its administrative levels: province, city,
//! district or county (`省 市 区 县 州 盟 旗`), then township or street
//! (`乡 镇 街道`), then village or community (`村 嘎查 社区`), then the
//! dwelling (road and house number, group, building, room). The target
//! level is the township (default) or the village (social-assistance
//! lists). Each value ends one of four ways, counted per rule in the report:
//!
//! - cut after its target level (`转塘街道美院社区象山路88号3幢501室` →
//!   `转塘街道`), [`Outcome::Generalized`];
//! - kept as written when nothing lies below the target level: a district
//!   (`余杭`, `市本级`), a township, a place or an organisation's name
//!   without a house number, [`Outcome::Kept`];
//! - cut after its district when it has no township but a dwelling below
//!   the district (`西湖区龙井路1号` → `西湖区`), also
//!   [`Outcome::Generalized`];
//! - withheld whole when it names a dwelling but no level to cut at
//!   (`象山路88号`): never cut to a shorter prefix, never published,
//!   counted and flagged for the reviewer, [`Outcome::Withheld`].

/// What generalisation did to one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Cut after `level` (`township`, `village` or `district`).
    Generalized {
        /// The value as published.
        value: String,
        /// The level it was cut after.
        level: Level,
    },
    /// Nothing below the target level: published as written.
    Kept,
    /// A dwelling with no level to cut at: not published.
    Withheld,
}

/// An administrative level an address is cut after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// District or county (区, 县…), when the value has no township.
    District,
    /// Township or street (乡, 镇, 街道).
    Township,
    /// Village or community (村, 嘎查, 社区).
    Village,
}

impl Level {
    /// snake_case name, as in the report's rule names.
    pub fn name(self) -> &'static str {
        match self {
            Level::District => "district",
            Level::Township => "township",
            Level::Village => "village",
        }
    }
}

/// Generalises `value` to its township, or with `keep_village` to its
/// village or community (see the module doc for the outcomes).
pub fn generalize(value: &str, keep_village: bool) -> Outcome {
    let n = crate::text::normalized(value);
    let mut district_end = None;
    let mut township_end = None;
    let mut village_end = None;
    let mut chars = n.char_indices().peekable();
    let mut first = true;
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        let next = chars.peek().map(|&(_, c)| c);
        match c {
            // A level word at the very start is a name (`市本级`, `镇海`).
            '省' | '市' | '区' | '县' | '州' | '盟' | '旗' if township_end.is_none() && !first => {
                district_end = Some(end)
            }
            '乡' | '镇' if township_end.is_none() && !first => township_end = Some(end),
            '街' if next == Some('道') && township_end.is_none() && !first => {
                township_end = Some(end + '道'.len_utf8())
            }
            '村' if township_end.is_some() && village_end.is_none() => village_end = Some(end),
            '嘎' if next == Some('查') && township_end.is_some() && village_end.is_none() => {
                village_end = Some(end + '查'.len_utf8())
            }
            '社' if next == Some('区') && township_end.is_some() && village_end.is_none() => {
                village_end = Some(end + '区'.len_utf8())
            }
            _ => {}
        }
        first = false;
    }
    let target = match (keep_village, village_end, township_end) {
        (true, Some(v), _) => Some((v, Level::Village)),
        (_, _, Some(t)) => Some((t, Level::Township)),
        _ => None,
    };
    let below = |at: usize| n[at..].chars().any(|c| !c.is_whitespace());
    match target {
        Some((at, level)) if below(at) => Outcome::Generalized {
            value: n[..at].to_string(),
            level,
        },
        Some(_) => Outcome::Kept,
        None if !has_dwelling(&n) => Outcome::Kept,
        None => match district_end {
            Some(at) if below(at) => Outcome::Generalized {
                value: n[..at].to_string(),
                level: Level::District,
            },
            _ => Outcome::Withheld,
        },
    }
}

/// Words that follow a number in the part of an address that locates a
/// dwelling: house number, building, unit, floor, room, group.
const DWELLING_WORDS: &[char] = &[
    '号', '室', '幢', '栋', '弄', '组', '楼', '层', '户', '座', '排', '单',
];

/// Whether an address names a dwelling: a number (Arabic or Chinese)
/// followed by one of [`DWELLING_WORDS`], a `#`, or digits joined by a
/// dash (`3-501`).
pub fn has_dwelling(address: &str) -> bool {
    let n = crate::text::normalized(address);
    let numeral = |c: char| c.is_ascii_digit() || "一二三四五六七八九十百零〇两".contains(c);
    let mut chars = n.chars().peekable();
    while let Some(c) = chars.next() {
        let Some(&next) = chars.peek() else { break };
        if (numeral(c) && (DWELLING_WORDS.contains(&next) || next == '#'))
            || (c == '-' && next.is_ascii_digit())
        {
            return true;
        }
    }
    false
}

/// How a generalised value is shown beside the published one in the
/// report: the part kept, then how much was removed, so the report never
/// holds the dwelling itself.
pub fn before_shape(original: &str, published: &str) -> String {
    let removed = crate::text::normalize(original)
        .chars()
        .count()
        .saturating_sub(published.chars().count());
    format!("{published}…(+{removed} 字 / chars)")
}

/// How a withheld value is shown in the report: what precedes its first
/// number (a road or place name), never the number itself.
pub fn withheld_shape(original: &str) -> String {
    let n = crate::text::normalize(original);
    let head: String = n
        .chars()
        .take_while(|c| !c.is_ascii_digit() && !"一二三四五六七八九十百零〇两".contains(*c))
        .take(8)
        .collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(value: &str, keep_village: bool) -> Option<String> {
        match generalize(value, keep_village) {
            Outcome::Generalized { value, .. } => Some(value),
            Outcome::Kept => Some(value.to_string()),
            Outcome::Withheld => None,
        }
    }

    #[test]
    fn dwellings_are_cut_at_the_target_level() {
        let full = "浙江省杭州市西湖区转塘街道美院社区象山路88号3幢501室";
        assert_eq!(
            published(full, false).as_deref(),
            Some("浙江省杭州市西湖区转塘街道")
        );
        assert_eq!(
            published(full, true).as_deref(),
            Some("浙江省杭州市西湖区转塘街道美院社区")
        );
        assert_eq!(
            published("张庄镇北李村2组13号", false).as_deref(),
            Some("张庄镇")
        );
        assert_eq!(
            published("钢山街道北李村2组86号", true).as_deref(),
            Some("钢山街道北李村")
        );
        assert_eq!(
            published("张庄镇北李村", false).as_deref(),
            Some("张庄镇"),
            "a village is below the township"
        );
        assert_eq!(
            generalize("杭州市西湖区龙井路1号", false),
            Outcome::Generalized {
                value: "杭州市西湖区".into(),
                level: Level::District
            }
        );
    }

    #[test]
    fn places_and_levels_above_the_target_are_kept_as_written() {
        for place in [
            "余杭",
            "市本级",
            "萧山",
            "西湖区",
            "杭州市西湖区转塘街道",
            "西湖风景名胜区",
            "镇海区",
            "灵隐寺",
            "钢山街道北李村",
        ] {
            let keep_village = place.ends_with('村');
            assert_eq!(generalize(place, keep_village), Outcome::Kept, "{place}");
        }
    }

    #[test]
    fn a_dwelling_with_no_level_is_withheld_whole() {
        assert_eq!(generalize("象山路88号", false), Outcome::Withheld);
        assert_eq!(generalize("解放路三号楼", false), Outcome::Withheld);
        assert_eq!(withheld_shape("象山路88号"), "象山路…");
        assert_eq!(
            before_shape("张庄镇北李村2组13号", "张庄镇"),
            "张庄镇…(+8 字 / chars)"
        );
    }
}
