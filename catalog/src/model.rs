//! The domain model: what the catalogue knows about datasets and their versions.

use serde::{Deserialize, Serialize};

/// Lifecycle of a dataset as the public sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetStatus {
    /// Created, nothing published yet: invisible to the public.
    Draft,
    /// At least one version is published.
    Published,
    /// Taken down: listed with its reason, serves no data.
    Withdrawn,
}

/// Lifecycle of one version of a dataset:
/// draft → submitted → approved | rejected → published → superseded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Ingested; the agency is still preparing it. Private.
    Draft,
    /// Handed to review. Private.
    Submitted,
    /// A reviewer approved it (possibly with a scheduled publication time). Private.
    Approved,
    /// A reviewer sent it back with a comment; it can be resubmitted. Private.
    Rejected,
    /// The current public version.
    Published,
    /// Was published; a newer version replaced it. Still served by number.
    Superseded,
    /// Was served when its dataset was withdrawn: never served again, even if
    /// a correction reinstates the dataset.
    Withdrawn,
}

/// Disclosure attribute (公开属性) of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disclosure {
    /// 主动公开: listed and its data served to everyone.
    Public,
    /// 依申请公开: listed in the catalogue; data given on request, not served.
    OnRequest,
    /// 不予公开: internal only (reason required, set by a reviewer).
    NotPublic,
}

impl Disclosure {
    /// The Chinese term used in disclosure catalogues.
    pub fn label_zh(self) -> &'static str {
        match self {
            Disclosure::Public => "主动公开",
            Disclosure::OnRequest => "依申请公开",
            Disclosure::NotPublic => "不予公开",
        }
    }
}

/// What a token may do on top of its user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read what the role may read (drafts of the agency, audit for admins); change nothing.
    Read,
    /// Everything the role allows.
    Write,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The snake_case name stored in the catalogue and shown in APIs.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
        impl std::str::FromStr for $ty {
            type Err = crate::Error;
            fn from_str(s: &str) -> crate::Result<Self> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(crate::Error::Corrupt(format!(
                        "unknown {} {other:?}", stringify!($ty)
                    ))),
                }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(DatasetStatus { Draft => "draft", Published => "published", Withdrawn => "withdrawn" });
text_enum!(VersionStatus {
    Draft => "draft", Submitted => "submitted", Approved => "approved", Rejected => "rejected",
    Published => "published", Superseded => "superseded", Withdrawn => "withdrawn",
});
text_enum!(Disclosure { Public => "public", OnRequest => "on_request", NotPublic => "not_public" });
text_enum!(Scope { Read => "read", Write => "write" });
text_enum!(Role { Editor => "editor", Reviewer => "reviewer", Admin => "admin" });

impl VersionStatus {
    /// Whether data of a version in this state may be served to the public.
    pub fn is_public(self) -> bool {
        matches!(self, VersionStatus::Published | VersionStatus::Superseded)
    }
}

/// A dataset (数据集): the stable identity under which versions are published.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dataset {
    /// Internal numeric id; object keys use it so slugs can change.
    pub id: i64,
    /// URL and SQL name: lowercase ASCII letters, digits, `_` and `-`.
    pub slug: String,
    /// Title (usually Chinese).
    pub title: String,
    /// Free-text description.
    pub description: Option<String>,
    /// Slug of the publishing agency, if any.
    pub agency: Option<String>,
    /// Public lifecycle status.
    pub status: DatasetStatus,
    /// Number of the current published version.
    pub latest_version: Option<i64>,
    /// When the dataset was created (RFC 3339).
    pub created_at: String,
    /// Last metadata or publication change (RFC 3339).
    pub updated_at: String,
    /// When the first version was published (RFC 3339).
    pub published_at: Option<String>,
    /// Disclosure attribute.
    pub disclosure: Disclosure,
    /// Why the data is given only on request or not disclosed.
    pub disclosure_reason: Option<String>,
    /// Date of the decision or document the data discloses (YYYY-MM-DD); starts the deadline.
    pub decision_date: Option<String>,
    /// Why the dataset was withdrawn.
    pub withdrawn_reason: Option<String>,
    /// When it was withdrawn (RFC 3339).
    pub withdrawn_at: Option<String>,
    /// Kind of list, which sets the redaction defaults (one of [`CATEGORIES`]).
    pub category: String,
    /// Descriptive metadata: themes, keywords, licence, coverage, 索引号 …
    pub meta: crate::Metadata,
    /// Bumped by every change of the dataset row (metadata, disclosure,
    /// publication, withdrawal): the ETag of the dataset and the revision an
    /// edit must have been prepared against (optimistic concurrency).
    #[serde(default)]
    pub revision: i64,
}

/// Dataset categories that set redaction defaults: `social_assistance`
/// (社会救助), `subsidy` (惠民惠农补贴), `land_compensation` (征地补偿),
/// `penalty` (行政处罚), `other`.
pub const CATEGORIES: &[&str] = &[
    "social_assistance",
    "subsidy",
    "land_compensation",
    "penalty",
    "other",
];

/// What an agency supplies to create a dataset.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewDataset {
    /// See [`Dataset::slug`].
    pub slug: String,
    /// See [`Dataset::title`].
    pub title: String,
    /// See [`Dataset::description`].
    #[serde(default)]
    pub description: Option<String>,
    /// Agency slug; must exist when given.
    #[serde(default)]
    pub agency: Option<String>,
    /// Disclosure attribute (default public).
    #[serde(default)]
    pub disclosure: Option<Disclosure>,
    /// Reason for `on_request` / `not_public`.
    #[serde(default)]
    pub disclosure_reason: Option<String>,
    /// Decision date (YYYY-MM-DD).
    #[serde(default)]
    pub decision_date: Option<String>,
    /// Category (default `other`).
    #[serde(default)]
    pub category: Option<String>,
    /// Descriptive metadata, given as top-level fields.
    #[serde(flatten)]
    pub meta: crate::Metadata,
}

/// A change to a dataset's descriptive metadata; absent fields stay as they are.
/// (Unknown fields are refused by the caller against [`DatasetPatch::FIELDS`]:
/// serde cannot deny them together with `flatten`.)
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DatasetPatch {
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New disclosure attribute.
    #[serde(default)]
    pub disclosure: Option<Disclosure>,
    /// Reason for the disclosure attribute.
    #[serde(default)]
    pub disclosure_reason: Option<String>,
    /// New decision date (YYYY-MM-DD).
    #[serde(default)]
    pub decision_date: Option<String>,
    /// New category (applies to later uploads).
    #[serde(default)]
    pub category: Option<String>,
    /// Descriptive metadata changes, given as top-level fields.
    #[serde(flatten)]
    pub meta: crate::MetadataPatch,
}

impl Dataset {
    /// Whether the public sees the dataset in catalogues, search and feeds:
    /// not a draft, not 不予公开 (withdrawn ones stay listed with their reason).
    pub fn is_listed(&self) -> bool {
        self.status != DatasetStatus::Draft && self.disclosure != Disclosure::NotPublic
    }

    /// Whether the dataset's data is served to the public: published and 主动公开.
    pub fn serves_data(&self) -> bool {
        self.status == DatasetStatus::Published && self.disclosure == Disclosure::Public
    }
}

impl DatasetPatch {
    /// The fields this patch carries, by their API names.
    pub fn sent_fields(&self) -> Vec<&'static str> {
        let m = &self.meta;
        [
            ("title", self.title.is_some()),
            ("description", self.description.is_some()),
            ("disclosure", self.disclosure.is_some()),
            ("disclosure_reason", self.disclosure_reason.is_some()),
            ("decision_date", self.decision_date.is_some()),
            ("category", self.category.is_some()),
            ("title_en", m.title_en.is_some()),
            ("description_en", m.description_en.is_some()),
            ("themes", m.themes.is_some()),
            ("keywords", m.keywords.is_some()),
            ("licence", m.licence.is_some()),
            ("update_frequency", m.update_frequency.is_some()),
            ("temporal_start", m.temporal_start.is_some()),
            ("temporal_end", m.temporal_end.is_some()),
            ("spatial", m.spatial.is_some()),
            ("index_number", m.index_number.is_some()),
            ("produced_date", m.produced_date.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, sent)| sent.then_some(name))
        .collect()
    }

    /// Every field a patch may carry.
    pub const FIELDS: &'static [&'static str] = &[
        "title",
        "description",
        "disclosure",
        "disclosure_reason",
        "decision_date",
        "category",
        "title_en",
        "description_en",
        "themes",
        "keywords",
        "licence",
        "update_frequency",
        "temporal_start",
        "temporal_end",
        "spatial",
        "index_number",
        "produced_date",
    ];
}

/// One column of a version's data dictionary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// ASCII snake_case name used in SQL and in the Parquet schema.
    pub name: String,
    /// Original header path, one element per header level (e.g. `["基本支出", "人员经费"]`).
    pub path: Vec<String>,
    /// Arrow data type as arrow displays it (`Int64`, `Decimal128(18, 2)`, `Date32`, `Utf8`).
    #[serde(rename = "type")]
    pub data_type: String,
    /// Unit of the values (万元, %, μg/m³ …).
    #[serde(default)]
    pub unit: Option<String>,
    /// Human description.
    #[serde(default)]
    pub description: Option<String>,
    /// Kind of personal information detected, if any.
    #[serde(default)]
    pub pii: Option<String>,
    /// Redaction applied before publication, if any.
    #[serde(default)]
    pub action: Option<String>,
}

/// A version (版本) of a dataset: one ingested upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// The dataset it belongs to.
    pub dataset_id: i64,
    /// 1, 2, 3 … within the dataset.
    pub number: i64,
    /// Lifecycle status.
    pub status: VersionStatus,
    /// File name as uploaded.
    pub original_name: String,
    /// Private object key of the raw upload (None once deleted by retention).
    #[serde(skip_serializing)]
    pub raw_key: Option<String>,
    /// Private object key of the draft Parquet.
    #[serde(skip_serializing)]
    pub draft_key: Option<String>,
    /// Public object key of the published Parquet.
    #[serde(skip_serializing)]
    pub public_key: Option<String>,
    /// Data rows.
    pub rows: i64,
    /// Size of the Parquet file in bytes.
    pub bytes: i64,
    /// SHA-256 of the Parquet file (hex): the strong ETag of its downloads.
    pub sha256: String,
    /// Data dictionary.
    pub columns: Vec<Column>,
    /// The ingest report (shape, columns, warnings) as produced by ingest.
    pub report: serde_json::Value,
    /// Why this version exists.
    pub change_note: Option<String>,
    /// Who uploaded it.
    pub created_by: String,
    /// When it was ingested (RFC 3339).
    pub created_at: String,
    /// Who published it.
    pub published_by: Option<String>,
    /// When it was published (RFC 3339).
    pub published_at: Option<String>,
    /// Who submitted it for review.
    pub submitted_by: Option<String>,
    /// When it was submitted (RFC 3339).
    pub submitted_at: Option<String>,
    /// Who approved or rejected it.
    pub reviewed_by: Option<String>,
    /// When it was reviewed (RFC 3339).
    pub reviewed_at: Option<String>,
    /// The reviewer's comment.
    pub review_comment: Option<String>,
    /// Scheduled publication time of an approved version (RFC 3339).
    pub scheduled_at: Option<String>,
    /// Correction notice (更正说明) when this version corrects an earlier one.
    pub correction_notice: Option<String>,
}

/// Roles a user can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Uploads and edits drafts.
    Editor,
    /// Reviews and publishes.
    Reviewer,
    /// Manages the platform.
    Admin,
}

/// The authenticated caller behind a token.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    /// User name.
    pub user: String,
    /// Role held.
    pub role: Role,
    /// Agency slug the role applies to (None for platform admins).
    pub agency: Option<String>,
    /// The agency and all agencies below it: where the role applies.
    pub within: Vec<String>,
    /// What the presented token allows.
    pub scope: Scope,
}

impl Principal {
    /// A platform administrator: an admin attached to no agency.
    pub fn is_platform_admin(&self) -> bool {
        self.role == Role::Admin && self.agency.is_none()
    }

    /// Whether the caller's role applies to material of `agency`.
    pub fn covers(&self, agency: Option<&str>) -> bool {
        self.is_platform_admin() || agency.is_some_and(|a| self.within.iter().any(|w| w == a))
    }

    /// May see unpublished material of the agency (drafts, reports, reviews).
    pub fn can_view(&self, agency: Option<&str>) -> bool {
        self.covers(agency)
    }

    /// May create datasets, upload, edit and submit drafts in the agency.
    pub fn can_edit(&self, agency: Option<&str>) -> bool {
        self.scope == Scope::Write && self.covers(agency)
    }

    /// May approve, reject, publish and withdraw in the agency.
    pub fn can_review(&self, agency: Option<&str>) -> bool {
        self.can_edit(agency) && matches!(self.role, Role::Reviewer | Role::Admin)
    }

    /// May publish (now or on a schedule) in the agency: reviewers, or
    /// editors where the agency requires no review. The one rule the publish
    /// endpoint and the scheduler (when a scheduled publication fires) apply.
    pub fn can_publish(&self, agency: Option<&str>, review_required: bool) -> bool {
        if review_required {
            self.can_review(agency)
        } else {
            self.can_edit(agency)
        }
    }

    /// May manage agencies and users within its scope.
    pub fn can_administer(&self, agency: Option<&str>) -> bool {
        self.can_edit(agency) && self.role == Role::Admin
    }
}

/// An agency (机构) in the hierarchy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Agency {
    /// URL name.
    pub slug: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: Option<String>,
    /// Parent agency slug.
    pub parent: Option<String>,
    /// County government, department, township …
    pub kind: Option<String>,
    /// Whether publishing needs a second person's approval (default true).
    pub review_required: bool,
}

/// What is needed to register an agency.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgency {
    /// URL name (same rules as dataset slugs).
    pub slug: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    #[serde(default)]
    pub name_en: Option<String>,
    /// Parent agency slug.
    #[serde(default)]
    pub parent: Option<String>,
    /// County government, department, township …
    #[serde(default)]
    pub kind: Option<String>,
    /// Default true.
    #[serde(default)]
    pub review_required: Option<bool>,
}

/// A user account (without secrets).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Agency the role applies to (None: platform-wide, admins only).
    pub agency: Option<String>,
    /// Whether a password is set (web login).
    pub has_password: bool,
    /// When the account was disabled.
    pub disabled_at: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// An API token as listed (never the secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    /// Token id (for revocation).
    pub id: i64,
    /// Owner.
    pub user: String,
    /// Free label.
    pub label: Option<String>,
    /// What it allows.
    pub scope: Scope,
    /// `api` or `session`.
    pub kind: String,
    /// First 8 hex digits of its hash, to tell tokens apart.
    pub hash_prefix: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Expires (RFC 3339), if ever.
    pub expires_at: Option<String>,
    /// Revoked (RFC 3339).
    pub revoked_at: Option<String>,
}

/// A published version as the query engine registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedTable {
    /// Dataset slug (the SQL table name).
    pub slug: String,
    /// Dataset id.
    pub dataset_id: i64,
    /// Version number.
    pub version: i64,
    /// Whether this is the dataset's current version.
    pub is_latest: bool,
    /// Public object key of the Parquet file.
    pub key: String,
}

/// One entry of the append-only audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    /// Sequence number.
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Who (user name, or `system`).
    pub actor: String,
    /// What (`dataset.create`, `version.publish`, …).
    pub action: String,
    /// On what (`dataset:slug`, `dataset:slug@v2`, …).
    pub subject: String,
    /// Before/after and other details.
    pub details: serde_json::Value,
}

/// Checks a dataset slug: 1–64 chars of `a-z0-9_-`, starting with a letter or digit.
pub fn validate_slug(slug: &str) -> crate::Result<()> {
    let ok_chars = slug
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    let ok_start = slug
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if slug.is_empty() || slug.len() > 64 || !ok_chars || !ok_start || slug.contains('@') {
        return Err(crate::Error::Invalid {
            field: "slug",
            reason: format!(
                "{slug:?} must be 1–64 characters of lowercase a-z, 0-9, '_' or '-', starting with a letter or digit"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(validate_slug("budget-2023").is_ok());
        assert!(validate_slug("a").is_ok());
        assert!(validate_slug("").is_err());
        assert!(validate_slug("Budget").is_err());
        assert!(validate_slug("-x").is_err());
        assert!(validate_slug("预算").is_err());
        assert!(validate_slug(&"x".repeat(65)).is_err());
    }

    #[test]
    fn a_patch_names_the_fields_it_carries() {
        let p: DatasetPatch = serde_json::from_str(
            r#"{"description": "", "disclosure": "public", "spatial": null, "themes": []}"#,
        )
        .unwrap();
        assert_eq!(
            p.sent_fields(),
            ["description", "disclosure", "themes", "spatial"]
        );
        // Every field a patch may carry is named when sent.
        let all: serde_json::Map<String, serde_json::Value> = DatasetPatch::FIELDS
            .iter()
            .map(|f| {
                let v = match *f {
                    "disclosure" => serde_json::json!("public"),
                    "themes" | "keywords" => serde_json::json!([]),
                    _ => serde_json::json!("x"),
                };
                (f.to_string(), v)
            })
            .collect();
        let p: DatasetPatch = serde_json::from_value(serde_json::Value::Object(all)).unwrap();
        assert_eq!(p.sent_fields(), DatasetPatch::FIELDS);
    }

    #[test]
    fn status_text_round_trips() {
        for s in [
            VersionStatus::Draft,
            VersionStatus::Submitted,
            VersionStatus::Approved,
            VersionStatus::Rejected,
            VersionStatus::Published,
            VersionStatus::Superseded,
        ] {
            assert_eq!(s.as_str().parse::<VersionStatus>().unwrap(), s);
        }
        assert!("bogus".parse::<DatasetStatus>().is_err());
    }
}
