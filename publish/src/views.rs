//! Typed answers of the use cases: what the JSON API serialises, the pages
//! render, CKAN and the feeds read. A renamed field breaks the build, not
//! a page.

use crate::columns::Overrides;
use gongkai_catalog::{Dataset, DatasetStatus, Disclosure, Version, VersionStatus};
use gongkai_ingest::Report;
use gongkai_ingest::privacy::{Action, Category};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A theme with its names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThemeView {
    /// Theme code (`budget`, `social_assistance` …).
    pub code: String,
    /// Chinese name.
    pub zh: Option<String>,
    /// English name.
    pub en: Option<String>,
}

/// The period the data covers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Temporal {
    /// First day (YYYY-MM-DD).
    pub start: Option<String>,
    /// Last day (YYYY-MM-DD).
    pub end: Option<String>,
}

/// Links of a dataset (downloads only where its data is served).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatasetLinks {
    /// `/api/v1/datasets/{slug}`.
    #[serde(rename = "self")]
    pub this: String,
    /// Parquet download of the latest version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parquet: Option<String>,
    /// CSV download of the latest version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<String>,
}

/// A dataset as listed and searched: its descriptive metadata and status.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatasetSummary {
    /// Catalogue id.
    pub id: i64,
    /// URL name and SQL table name.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Publishing agency's slug.
    pub agency: Option<String>,
    /// `draft`, `published` or `withdrawn`.
    pub status: DatasetStatus,
    /// Why it was withdrawn.
    pub withdrawn_reason: Option<String>,
    /// When it was withdrawn.
    pub withdrawn_at: Option<String>,
    /// `public`, `on_request` or `not_public`.
    pub disclosure: Disclosure,
    /// 主动公开 / 依申请公开 / 不予公开.
    pub disclosure_label: String,
    /// Why it is not public.
    pub disclosure_reason: Option<String>,
    /// Date of the decision it discloses.
    pub decision_date: Option<String>,
    /// Redaction category (`social_assistance` …).
    pub category: String,
    /// English title.
    pub title_en: Option<String>,
    /// English description.
    pub description_en: Option<String>,
    /// Themes.
    pub themes: Vec<ThemeView>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Licence id.
    pub licence: Option<String>,
    /// Licence URL.
    pub licence_url: Option<String>,
    /// Update frequency.
    pub update_frequency: Option<String>,
    /// Temporal coverage.
    pub temporal: Temporal,
    /// Spatial coverage.
    pub spatial: Option<String>,
    /// 索引号.
    pub index_number: Option<String>,
    /// 生成日期.
    pub produced_date: Option<String>,
    /// Latest published version.
    pub latest_version: Option<i64>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
    /// First published (RFC 3339).
    pub published_at: Option<String>,
    /// Links.
    pub links: DatasetLinks,
}

impl DatasetSummary {
    /// Whether the dataset's data is served to the public
    /// ([`crate::policy::serves_data`], decided when the summary was made:
    /// its download links are there).
    pub fn serves_data(&self) -> bool {
        self.links.parquet.is_some()
    }

    /// The summary of `d`.
    pub fn of(d: &Dataset) -> Self {
        let serves = crate::policy::serves_data(d);
        let link = |file: &str| serves.then(|| format!("/api/v1/datasets/{}/{file}", d.slug));
        DatasetSummary {
            id: d.id,
            slug: d.slug.clone(),
            title: d.title.clone(),
            description: d.description.clone(),
            agency: d.agency.clone(),
            status: d.status,
            withdrawn_reason: d.withdrawn_reason.clone(),
            withdrawn_at: d.withdrawn_at.clone(),
            disclosure: d.disclosure,
            disclosure_label: d.disclosure.label_zh().to_string(),
            disclosure_reason: d.disclosure_reason.clone(),
            decision_date: d.decision_date.clone(),
            category: d.category.clone(),
            title_en: d.meta.title_en.clone(),
            description_en: d.meta.description_en.clone(),
            themes: d
                .meta
                .themes
                .iter()
                .map(|t| {
                    let theme = gongkai_catalog::metadata::theme(t);
                    ThemeView {
                        code: t.clone(),
                        zh: theme.map(|x| x.zh.to_string()),
                        en: theme.map(|x| x.en.to_string()),
                    }
                })
                .collect(),
            keywords: d.meta.keywords.clone(),
            licence: d.meta.licence.clone(),
            licence_url: d
                .meta
                .licence
                .as_deref()
                .and_then(gongkai_catalog::metadata::licence_url)
                .map(str::to_string),
            update_frequency: d.meta.update_frequency.clone(),
            temporal: Temporal {
                start: d.meta.temporal_start.clone(),
                end: d.meta.temporal_end.clone(),
            },
            spatial: d.meta.spatial.clone(),
            index_number: d.meta.index_number.clone(),
            produced_date: d.meta.produced_date.clone(),
            latest_version: d.latest_version,
            created_at: d.created_at.clone(),
            updated_at: d.updated_at.clone(),
            published_at: d.published_at.clone(),
            links: DatasetLinks {
                this: format!("/api/v1/datasets/{}", d.slug),
                parquet: link("data.parquet"),
                csv: link("data.csv"),
            },
        }
    }
}

/// Who did what to a version: shown to its agency's staff only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReviewDetails {
    /// Uploader.
    pub created_by: String,
    /// Who submitted it.
    pub submitted_by: Option<String>,
    /// When.
    pub submitted_at: Option<String>,
    /// Who approved or rejected it.
    pub reviewed_by: Option<String>,
    /// When.
    pub reviewed_at: Option<String>,
    /// The reviewer's comment.
    pub review_comment: Option<String>,
    /// When it is to be published.
    pub scheduled_at: Option<String>,
    /// Who published it.
    pub published_by: Option<String>,
}

/// A version as listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VersionSummary {
    /// Number within the dataset.
    pub version: i64,
    /// Workflow status.
    pub status: VersionStatus,
    /// Data rows.
    pub rows: i64,
    /// Parquet bytes.
    pub bytes: i64,
    /// SHA-256 of the Parquet file.
    pub sha256: String,
    /// File name as uploaded (identifiers masked).
    pub file: String,
    /// When it was ingested.
    pub created_at: String,
    /// When it was published.
    pub published_at: Option<String>,
    /// Why it exists.
    pub change_note: Option<String>,
    /// What it corrects.
    pub correction_notice: Option<String>,
    /// Review details, for the agency's staff.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewDetails>,
}

impl VersionSummary {
    /// The summary of `v`; review details only when `staff`.
    pub fn of(v: &Version, staff: bool) -> Self {
        VersionSummary {
            version: v.number,
            status: v.status,
            rows: v.rows,
            bytes: v.bytes,
            sha256: v.sha256.clone(),
            file: v.original_name.clone(),
            created_at: v.created_at.clone(),
            published_at: v.published_at.clone(),
            change_note: v.change_note.clone(),
            correction_notice: v.correction_notice.clone(),
            review: staff.then(|| ReviewDetails {
                created_by: v.created_by.clone(),
                submitted_by: v.submitted_by.clone(),
                submitted_at: v.submitted_at.clone(),
                reviewed_by: v.reviewed_by.clone(),
                reviewed_at: v.reviewed_at.clone(),
                review_comment: v.review_comment.clone(),
                scheduled_at: v.scheduled_at.clone(),
                published_by: v.published_by.clone(),
            }),
        }
    }
}

/// How a file was uploaded: what is needed to derive its draft again.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UploadRecord {
    /// The sheet asked for, if any.
    pub sheet: Option<String>,
    /// The dataset's redaction category at upload (later changes do not
    /// loosen this version).
    pub category: Option<String>,
}

impl UploadRecord {
    /// The recorded category, or `fallback` when none was recorded.
    pub fn category_or(&self, fallback: Category) -> Category {
        self.category
            .as_deref()
            .and_then(Category::from_name)
            .unwrap_or(fallback)
    }
}

/// One column's recorded redaction choice.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedChoice {
    /// The action chosen.
    pub action: Action,
    /// The legal basis given for hiding less than the default.
    #[serde(default)]
    pub legal_basis: Option<String>,
    /// Who chose it.
    #[serde(default)]
    pub by: Option<String>,
}

/// A version's stored report: the ingest report and what the draft was
/// derived with (upload options, column edits, redaction choices).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredReport {
    /// The ingest report.
    #[serde(flatten)]
    pub ingest: Report,
    /// How the file was uploaded.
    #[serde(default)]
    pub upload: UploadRecord,
    /// Column edits by ingested name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub column_overrides: Overrides,
    /// Redaction choices by ingested name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub redaction_policy: BTreeMap<String, RecordedChoice>,
}

impl StoredReport {
    /// Reads a version's stored report.
    pub fn of(v: &Version) -> crate::Result<Self> {
        serde_json::from_value(v.report.clone()).map_err(|e| {
            crate::Error::internal(format!(
                "the report of version {} cannot be read: {e}",
                v.number
            ))
        })
    }

    /// As stored in the catalogue.
    pub fn to_json(&self) -> crate::Result<serde_json::Value> {
        serde_json::to_value(self).map_err(crate::Error::internal)
    }

    /// The report as the public may see it: without who chose what.
    pub fn public(mut self) -> Self {
        self.redaction_policy.clear();
        self
    }
}

/// A version with its data dictionary and report, as one caller may see it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionDetail {
    /// The summary.
    #[serde(flatten)]
    pub summary: VersionSummary,
    /// The data dictionary.
    pub columns: Vec<gongkai_catalog::Column>,
    /// The report: whole for the agency's staff, without redaction choices
    /// for a served version, none for data given on request or withdrawn.
    pub report: Option<StoredReport>,
}

/// A dataset with its versions, as one caller may see it.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetDetail {
    /// Descriptive metadata and status.
    #[serde(flatten)]
    pub summary: DatasetSummary,
    /// The dataset row's revision (the `ETag` of `If-Match` edits).
    pub revision: i64,
    /// The current version's data dictionary (the latest published one;
    /// for the agency's staff the newest one while none is published).
    pub columns: Vec<gongkai_catalog::Column>,
    /// The current version's rows.
    pub rows: Option<i64>,
    /// The schema.org `Dataset` object describing it (JSON-LD).
    pub schema_org: serde_json::Value,
    /// Versions the caller may see, oldest first.
    pub versions: Vec<VersionSummary>,
    /// Whether its agency requires review (for the agency's staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_required: Option<bool>,
}

/// One value of a search facet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FacetValue {
    /// The value (`budget`, `public`, an agency slug, a year …).
    pub value: String,
    /// Its Chinese name, where it has one.
    pub label: Option<String>,
    /// Matching datasets with it.
    pub count: usize,
}

/// One page of search results with facets over the whole match.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchPage {
    /// This page's datasets.
    pub datasets: Vec<DatasetSummary>,
    /// Matching datasets in all.
    pub total: usize,
    /// Page number (from 1).
    pub page: usize,
    /// Datasets per page.
    pub per_page: usize,
    /// Facet name → values by descending count.
    pub facets: BTreeMap<String, Vec<FacetValue>>,
}

impl SearchPage {
    /// The page of `result`.
    pub fn of(
        result: gongkai_catalog::search::SearchResult,
        page: usize,
        per_page: usize,
    ) -> crate::Result<Self> {
        let datasets = result
            .hits
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<DatasetSummary>, _>>()
            .map_err(crate::Error::internal)?;
        let facets = result
            .facets
            .iter()
            .map(|(name, counts)| {
                let values = counts
                    .iter()
                    .map(|c| FacetValue {
                        value: c.value.clone(),
                        label: facet_label(name, &c.value).map(str::to_string),
                        count: c.count,
                    })
                    .collect();
                ((*name).to_string(), values)
            })
            .collect();
        Ok(SearchPage {
            datasets,
            total: result.total,
            page,
            per_page,
            facets,
        })
    }
}

/// The Chinese name of a facet value, where it has one.
fn facet_label(facet: &str, value: &str) -> Option<&'static str> {
    match facet {
        "theme" => gongkai_catalog::metadata::theme(value).map(|t| t.zh),
        "disclosure" => match value {
            "public" => Some("主动公开"),
            "on_request" => Some("依申请公开"),
            _ => None,
        },
        "status" => match value {
            "published" => Some("已发布"),
            "withdrawn" => Some("已撤回"),
            _ => None,
        },
        _ => None,
    }
}

/// A version waiting for review, with its dataset and privacy findings.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewItem {
    /// The version.
    #[serde(flatten)]
    pub version: VersionSummary,
    /// Dataset slug.
    pub dataset: String,
    /// Dataset title.
    pub title: String,
    /// Agency slug.
    pub agency: Option<String>,
    /// What redaction found and did.
    pub privacy: Vec<gongkai_ingest::privacy::Finding>,
}

/// A web session opened by a password login.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// The session token (also sent as the `gongkai_session` cookie).
    pub token: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// Its lifetime in seconds (the cookie's `Max-Age`).
    #[serde(skip)]
    pub max_age_secs: i64,
    /// Who signed in.
    pub user: gongkai_catalog::User,
}

/// An agency with the agencies directly below it.
#[derive(Debug, Clone, Serialize)]
pub struct AgencyDetail {
    /// The agency.
    #[serde(flatten)]
    pub agency: gongkai_catalog::Agency,
    /// Slugs of the agencies directly below it.
    pub children: Vec<String>,
}

/// Publication deadlines (7 working days after the decision date).
#[derive(Debug, Clone, Serialize)]
pub struct DeadlineReport {
    /// Today in Beijing (YYYY-MM-DD).
    pub today: String,
    /// Working days allowed.
    pub working_days_allowed: u32,
    /// Items overdue.
    pub overdue: usize,
    /// Every dataset with a decision date, most urgent first.
    pub items: Vec<gongkai_catalog::Deadline>,
}

/// A token just created: its secret, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct NewTokenView {
    /// Token id (to list and revoke it).
    pub id: i64,
    /// Whose.
    pub user: String,
    /// The secret.
    pub token: String,
    /// `read` or `write`.
    pub scope: gongkai_catalog::Scope,
    /// When it expires (RFC 3339), if it does.
    pub expires_at: Option<String>,
}
