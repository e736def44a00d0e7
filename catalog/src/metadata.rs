//! Descriptive metadata of a dataset: what catalogues, search and the
//! standard feeds (DCAT-AP, data.json, CKAN, 政务信息公开目录) describe.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A theme (领域): code, Chinese and English label, and the EU data-theme
/// (DCAT-AP) it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Theme {
    /// Stable code used in the API, search facets and CKAN groups.
    pub code: &'static str,
    /// Chinese label.
    pub zh: &'static str,
    /// English label.
    pub en: &'static str,
    /// Code in the EU data-theme vocabulary (`http://publications.europa.eu/resource/authority/data-theme/…`).
    pub eu: &'static str,
}

/// Themes of government disclosure.
pub const THEMES: &[Theme] = &[
    Theme {
        code: "budget",
        zh: "财政预决算",
        en: "Budgets and final accounts",
        eu: "GOVE",
    },
    Theme {
        code: "procurement",
        zh: "政府采购",
        en: "Public procurement",
        eu: "ECON",
    },
    Theme {
        code: "social_assistance",
        zh: "社会救助",
        en: "Social assistance",
        eu: "SOCI",
    },
    Theme {
        code: "subsidy",
        zh: "惠民惠农补贴",
        en: "Subsidies",
        eu: "SOCI",
    },
    Theme {
        code: "enforcement",
        zh: "行政执法",
        en: "Licensing and enforcement",
        eu: "JUST",
    },
    Theme {
        code: "environment",
        zh: "生态环境",
        en: "Environment",
        eu: "ENVI",
    },
    Theme {
        code: "land",
        zh: "征地拆迁",
        en: "Land and compensation",
        eu: "REGI",
    },
    Theme {
        code: "health",
        zh: "卫生健康",
        en: "Health",
        eu: "HEAL",
    },
    Theme {
        code: "education",
        zh: "教育",
        en: "Education",
        eu: "EDUC",
    },
    Theme {
        code: "transport",
        zh: "交通运输",
        en: "Transport",
        eu: "TRAN",
    },
    Theme {
        code: "agriculture",
        zh: "农业农村",
        en: "Agriculture and rural affairs",
        eu: "AGRI",
    },
    Theme {
        code: "other",
        zh: "其他",
        en: "Other",
        eu: "GOVE",
    },
];

/// The theme with this code.
pub fn theme(code: &str) -> Option<&'static Theme> {
    THEMES.iter().find(|t| t.code == code)
}

/// Update frequencies and their EU frequency-vocabulary codes.
pub const FREQUENCIES: &[(&str, &str, &str)] = &[
    ("irregular", "不定期", "IRREG"),
    ("daily", "每日", "DAILY"),
    ("weekly", "每周", "WEEKLY"),
    ("monthly", "每月", "MONTHLY"),
    ("quarterly", "每季度", "QUARTERLY"),
    ("annual", "每年", "ANNUAL"),
    ("never", "不再更新", "NEVER"),
];

/// Licences a dataset may carry (SPDX ids) and their URLs.
pub const LICENCES: &[(&str, &str)] = &[
    ("CC-BY-4.0", "https://creativecommons.org/licenses/by/4.0/"),
    (
        "CC0-1.0",
        "https://creativecommons.org/publicdomain/zero/1.0/",
    ),
    (
        "CC-BY-SA-4.0",
        "https://creativecommons.org/licenses/by-sa/4.0/",
    ),
    ("ODC-BY-1.0", "https://opendatacommons.org/licenses/by/1-0/"),
    ("ODbL-1.0", "https://opendatacommons.org/licenses/odbl/1-0/"),
    ("PDDL-1.0", "https://opendatacommons.org/licenses/pddl/1-0/"),
];

/// The licence new datasets get unless the agency chooses another.
pub const DEFAULT_LICENCE: &str = "CC-BY-4.0";

/// URL of a licence id.
pub fn licence_url(id: &str) -> Option<&'static str> {
    LICENCES.iter().find(|(l, _)| *l == id).map(|(_, u)| *u)
}

/// Descriptive metadata (all optional except the licence).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// English title.
    pub title_en: Option<String>,
    /// English description.
    pub description_en: Option<String>,
    /// Theme codes (see [`THEMES`]).
    pub themes: Vec<String>,
    /// Free keywords (Chinese or English).
    pub keywords: Vec<String>,
    /// Licence id (see [`LICENCES`]).
    pub licence: Option<String>,
    /// How often the data is updated (see [`FREQUENCIES`]).
    pub update_frequency: Option<String>,
    /// First day the data covers (YYYY-MM-DD).
    pub temporal_start: Option<String>,
    /// Last day the data covers (YYYY-MM-DD).
    pub temporal_end: Option<String>,
    /// Place the data covers (e.g. 示例县).
    pub spatial: Option<String>,
    /// Index number in the agency's disclosure catalogue (索引号).
    pub index_number: Option<String>,
    /// When the information was produced (生成日期, YYYY-MM-DD).
    pub produced_date: Option<String>,
}

/// A change to [`Metadata`]: absent fields stay; `null` or `""` clears a text
/// field, `[]` clears a list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MetadataPatch {
    /// See [`Metadata::title_en`].
    #[serde(deserialize_with = "set_or_clear")]
    pub title_en: Option<Option<String>>,
    /// See [`Metadata::description_en`].
    #[serde(deserialize_with = "set_or_clear")]
    pub description_en: Option<Option<String>>,
    /// See [`Metadata::themes`].
    pub themes: Option<Vec<String>>,
    /// See [`Metadata::keywords`].
    pub keywords: Option<Vec<String>>,
    /// See [`Metadata::licence`].
    #[serde(deserialize_with = "set_or_clear")]
    pub licence: Option<Option<String>>,
    /// See [`Metadata::update_frequency`].
    #[serde(deserialize_with = "set_or_clear")]
    pub update_frequency: Option<Option<String>>,
    /// See [`Metadata::temporal_start`].
    #[serde(deserialize_with = "set_or_clear")]
    pub temporal_start: Option<Option<String>>,
    /// See [`Metadata::temporal_end`].
    #[serde(deserialize_with = "set_or_clear")]
    pub temporal_end: Option<Option<String>>,
    /// See [`Metadata::spatial`].
    #[serde(deserialize_with = "set_or_clear")]
    pub spatial: Option<Option<String>>,
    /// See [`Metadata::index_number`].
    #[serde(deserialize_with = "set_or_clear")]
    pub index_number: Option<Option<String>>,
    /// See [`Metadata::produced_date`].
    #[serde(deserialize_with = "set_or_clear")]
    pub produced_date: Option<Option<String>>,
}

/// Keeps an explicit `null` apart from an absent field.
fn set_or_clear<'de, D>(d: D) -> std::result::Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(d).map(Some)
}

fn text(v: Option<String>, field: &'static str, max: usize) -> Result<Option<String>> {
    let v = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if let Some(s) = &v
        && s.chars().count() > max
    {
        return Err(Error::Invalid {
            field,
            reason: format!("longer than {max} characters"),
        });
    }
    Ok(v)
}

impl MetadataPatch {
    /// Whether the patch carries any field at all.
    pub fn is_set(&self) -> bool {
        self.title_en.is_some()
            || self.description_en.is_some()
            || self.themes.is_some()
            || self.keywords.is_some()
            || self.licence.is_some()
            || self.update_frequency.is_some()
            || self.temporal_start.is_some()
            || self.temporal_end.is_some()
            || self.spatial.is_some()
            || self.index_number.is_some()
            || self.produced_date.is_some()
    }
}

impl Metadata {
    /// Applies `patch` and checks the result.
    pub fn apply(&self, patch: &MetadataPatch) -> Result<Metadata> {
        let pick = |new: &Option<Option<String>>, old: &Option<String>| match new {
            Some(v) => v.clone(),
            None => old.clone(),
        };
        Metadata {
            title_en: pick(&patch.title_en, &self.title_en),
            description_en: pick(&patch.description_en, &self.description_en),
            themes: patch.themes.clone().unwrap_or_else(|| self.themes.clone()),
            keywords: patch
                .keywords
                .clone()
                .unwrap_or_else(|| self.keywords.clone()),
            licence: pick(&patch.licence, &self.licence),
            update_frequency: pick(&patch.update_frequency, &self.update_frequency),
            temporal_start: pick(&patch.temporal_start, &self.temporal_start),
            temporal_end: pick(&patch.temporal_end, &self.temporal_end),
            spatial: pick(&patch.spatial, &self.spatial),
            index_number: pick(&patch.index_number, &self.index_number),
            produced_date: pick(&patch.produced_date, &self.produced_date),
        }
        .checked()
    }

    /// Trims and validates every field; fills the default licence.
    pub fn checked(self) -> Result<Metadata> {
        let mut themes: Vec<String> = Vec::new();
        for t in self.themes {
            let t = t.trim().to_string();
            if theme(&t).is_none() {
                return Err(Error::Invalid {
                    field: "themes",
                    reason: format!(
                        "{t:?} is not one of {}",
                        THEMES.iter().map(|t| t.code).collect::<Vec<_>>().join(", ")
                    ),
                });
            }
            if !themes.contains(&t) {
                themes.push(t);
            }
        }
        let mut keywords: Vec<String> = Vec::new();
        for k in self.keywords {
            if let Some(k) = text(Some(k), "keywords", 50)?
                && !keywords.contains(&k)
            {
                keywords.push(k);
            }
        }
        if keywords.len() > 30 {
            return Err(Error::Invalid {
                field: "keywords",
                reason: "at most 30 keywords".into(),
            });
        }
        let licence = text(self.licence, "licence", 40)?.unwrap_or_else(|| DEFAULT_LICENCE.into());
        if licence_url(&licence).is_none() {
            return Err(Error::Invalid {
                field: "licence",
                reason: format!(
                    "{licence:?} is not one of {}",
                    LICENCES.iter().map(|l| l.0).collect::<Vec<_>>().join(", ")
                ),
            });
        }
        let update_frequency = text(self.update_frequency, "update_frequency", 20)?;
        if let Some(f) = &update_frequency
            && !FREQUENCIES.iter().any(|(c, _, _)| c == f)
        {
            return Err(Error::Invalid {
                field: "update_frequency",
                reason: format!(
                    "{f:?} is not one of {}",
                    FREQUENCIES
                        .iter()
                        .map(|f| f.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let date = |v: Option<String>, field: &'static str| -> Result<Option<String>> {
            crate::store::check_date(v.as_deref()).map_err(|e| match e {
                Error::Invalid { reason, .. } => Error::Invalid { field, reason },
                other => other,
            })
        };
        let temporal_start = date(self.temporal_start, "temporal_start")?;
        let temporal_end = date(self.temporal_end, "temporal_end")?;
        if let (Some(a), Some(b)) = (&temporal_start, &temporal_end)
            && a > b
        {
            return Err(Error::Invalid {
                field: "temporal_end",
                reason: format!("{b} is before temporal_start {a}"),
            });
        }
        Ok(Metadata {
            title_en: text(self.title_en, "title_en", 300)?,
            description_en: text(self.description_en, "description_en", 10_000)?,
            themes,
            keywords,
            licence: Some(licence),
            update_frequency,
            temporal_start,
            temporal_end,
            spatial: text(self.spatial, "spatial", 200)?,
            index_number: text(self.index_number, "index_number", 100)?,
            produced_date: date(self.produced_date, "produced_date")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_and_normalises() {
        let m = Metadata {
            themes: vec!["budget".into(), "budget".into()],
            keywords: vec![" 预算 ".into(), "".into(), "预算".into()],
            temporal_start: Some("2024-01-01".into()),
            temporal_end: Some("2024-12-31".into()),
            ..Metadata::default()
        }
        .checked()
        .unwrap();
        assert_eq!(m.themes, vec!["budget"]);
        assert_eq!(m.keywords, vec!["预算"]);
        assert_eq!(m.licence.as_deref(), Some(DEFAULT_LICENCE));
        for bad in [
            Metadata {
                themes: vec!["nope".into()],
                ..Metadata::default()
            },
            Metadata {
                licence: Some("WTFPL".into()),
                ..Metadata::default()
            },
            Metadata {
                update_frequency: Some("hourly".into()),
                ..Metadata::default()
            },
            Metadata {
                produced_date: Some("2024-13-01".into()),
                ..Metadata::default()
            },
            Metadata {
                temporal_start: Some("2025-01-01".into()),
                temporal_end: Some("2024-01-01".into()),
                ..Metadata::default()
            },
        ] {
            assert!(bad.checked().is_err());
        }
    }

    #[test]
    fn patches_set_keep_and_clear() {
        let m = Metadata {
            spatial: Some("示例县".into()),
            keywords: vec!["a".into()],
            ..Metadata::default()
        }
        .checked()
        .unwrap();
        let p: MetadataPatch =
            serde_json::from_str(r#"{"spatial": null, "themes": ["health"]}"#).unwrap();
        let n = m.apply(&p).unwrap();
        assert_eq!(n.spatial, None);
        assert_eq!(n.keywords, vec!["a"]);
        assert_eq!(n.themes, vec!["health"]);
    }
}
