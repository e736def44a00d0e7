//! Stable ASCII snake_case column names for SQL.
//!
//! Rule (documented for agencies): take the header path without a trailing
//! unit (`罚款金额(万元)` → `罚款金额`), write every Chinese character as
//! toneless pinyin, keep ASCII letters and digits, lowercase, and join the parts
//! with `_` (`基本支出/人员经费` → `ji_ben_zhi_chu_ren_yuan_jing_fei`). Names
//! that would start with a digit get a `c_` prefix; duplicates get `_2`, `_3`.
//! The original header path stays in the data dictionary and Parquet metadata.

use crate::text::{normalize, split_header_unit};
use pinyin::ToPinyin;

const MAX_LEN: usize = 60;

/// Name for one header path (not yet de-duplicated).
pub fn column_name(path: &[String], position: usize) -> String {
    let mut parts: Vec<String> = path.iter().map(|p| normalize(p)).collect();
    if let Some(last) = parts.last_mut() {
        *last = split_header_unit(last).0;
    }
    let mut out = String::new();
    let push_sep = |out: &mut String| {
        if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    };
    for part in &parts {
        push_sep(&mut out);
        for (ch, py) in part.chars().zip(part.as_str().to_pinyin()) {
            if let Some(py) = py {
                push_sep(&mut out);
                out.push_str(py.plain());
                out.push('_');
            } else if ch.is_ascii_alphanumeric() {
                out.push(ch.to_ascii_lowercase());
            } else {
                push_sep(&mut out);
            }
        }
    }
    let mut name: String = out.trim_matches('_').to_string();
    if name.len() > MAX_LEN {
        name.truncate(MAX_LEN);
        name = name.trim_end_matches('_').to_string();
    }
    if name.is_empty() {
        return format!("column_{}", position + 1);
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name = format!("c_{name}");
    }
    name
}

/// Names for all columns, unique within the table.
pub fn unique_names(paths: &[Vec<String>]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut names = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        let base = column_name(path, i);
        let mut name = base.clone();
        let mut n = 2;
        while !seen.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

/// Checks a user-chosen column name: `[a-z_][a-z0-9_]*`, at most 63 bytes.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pinyin_names() {
        assert_eq!(column_name(&p(&["科目编码"]), 0), "ke_mu_bian_ma");
        assert_eq!(column_name(&p(&["罚款金额(万元)"]), 0), "fa_kuan_jin_e");
        assert_eq!(
            column_name(&p(&["基本支出", "人员经费"]), 0),
            "ji_ben_zhi_chu_ren_yuan_jing_fei"
        );
        assert_eq!(column_name(&p(&["PM2.5(μg/m³)"]), 0), "pm2_5");
        assert_eq!(column_name(&p(&["AQI"]), 0), "aqi");
        assert_eq!(column_name(&p(&["2019年"]), 0), "c_2019_nian");
        assert_eq!(column_name(&p(&[]), 4), "column_5");
        assert_eq!(column_name(&p(&["Total Amount"]), 0), "total_amount");
    }

    #[test]
    fn duplicates_get_suffixes() {
        let names = unique_names(&[p(&["金额(元)"]), p(&["金额(万元)"]), p(&["金额"])]);
        assert_eq!(names, ["jin_e", "jin_e_2", "jin_e_3"]);
        assert!(names.iter().all(|n| is_valid_name(n)));
    }
}
