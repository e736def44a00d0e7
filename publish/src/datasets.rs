//! Datasets as a caller sees and changes them: reading (with the
//! visibility rules of [`crate::policy`]), searching, creating, editing
//! metadata, and moving versions through the workflow (submit, approve,
//! reject, publish or schedule, withdraw), each with its permission check
//! here, so the JSON API and the pages ask the same thing.

use crate::columns::{ColumnOverride, Overrides};
use crate::drafts::ColumnChoice;
use crate::gate::refuse_identifiers;
use crate::views::{
    DatasetDetail, DatasetSummary, ReviewItem, SearchPage, StoredReport, VersionDetail,
    VersionSummary,
};
use crate::{Error, Publisher, Result, policy};
use gongkai_catalog::search::SearchQuery;
use gongkai_catalog::{
    Approval, Dataset, DatasetPatch, NewDataset, Principal, Role, Submission, Version,
    VersionStatus,
};
use std::collections::BTreeMap;

/// A column's new description (`Some(None)` clears it), name or type.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnEdit {
    /// Absent: unchanged; null: cleared.
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    /// New ASCII snake_case name.
    #[serde(default)]
    pub name: Option<String>,
    /// New type.
    #[serde(default, rename = "type")]
    pub data_type: Option<String>,
}

/// Deserializes a field that is present (possibly null) as `Some(…)`.
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    use serde::Deserialize;
    Option::<String>::deserialize(d).map(Some)
}

impl Publisher {
    /// The dataset `slug` if the caller may see it; a hidden one answers
    /// exactly like a missing one ([`policy::dataset_not_found`]).
    pub async fn dataset_for(&self, slug: &str, caller: Option<&Principal>) -> Result<Dataset> {
        let d = match self.catalog.dataset(slug).await {
            Ok(d) => d,
            Err(gongkai_catalog::Error::NotFound { .. }) => {
                return Err(policy::dataset_not_found(slug));
            }
            Err(e) => return Err(e.into()),
        };
        if !policy::may_see(&d, caller) {
            return Err(policy::dataset_not_found(slug));
        }
        Ok(d)
    }

    /// The dataset `slug` for a change the caller must be allowed by
    /// `allowed`: not found when they may not see it, forbidden when they see
    /// it but may not act (`action` names the change in the message).
    pub async fn dataset_to_change(
        &self,
        slug: &str,
        p: &Principal,
        allowed: fn(&Dataset, &Principal) -> bool,
        action: &str,
    ) -> Result<Dataset> {
        let d = self.dataset_for(slug, Some(p)).await?;
        if !allowed(&d, p) {
            return Err(Error::Forbidden(format!(
                "{action} needs a role in the dataset's agency that allows it / 无此操作权限"
            )));
        }
        Ok(d)
    }

    /// Version `number` of `d` if the caller may see it.
    pub async fn version_for(
        &self,
        d: &Dataset,
        number: i64,
        caller: Option<&Principal>,
    ) -> Result<Version> {
        let missing = || Error::not_found(format!("version {number} of {:?}", d.slug));
        let v = match self.catalog.version(d.id, number).await {
            Ok(v) => v,
            Err(gongkai_catalog::Error::NotFound { .. }) => return Err(missing()),
            Err(e) => return Err(e.into()),
        };
        if !policy::may_see_version(d, &v, caller) {
            return Err(missing());
        }
        Ok(v)
    }

    /// A dataset with the versions the caller may see and its current data
    /// dictionary.
    pub async fn dataset_detail(
        &self,
        d: &Dataset,
        caller: Option<&Principal>,
    ) -> Result<DatasetDetail> {
        let staff = policy::staff(d, caller);
        let versions: Vec<Version> = self
            .catalog
            .versions(d.id)
            .await?
            .into_iter()
            .filter(|v| staff || v.status.is_public())
            .collect();
        let current = d
            .latest_version
            .and_then(|n| versions.iter().find(|v| v.number == n))
            .or_else(|| if staff { versions.last() } else { None });
        let agency = match d.agency.as_deref() {
            Some(slug) => match self.catalog.agency(slug).await {
                Ok(a) => Some(a),
                Err(gongkai_catalog::Error::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let base = self.config.public_url.as_deref().unwrap_or("");
        Ok(DatasetDetail {
            summary: DatasetSummary::of(d),
            revision: d.revision,
            columns: current.map(|v| v.columns.clone()).unwrap_or_default(),
            rows: current.map(|v| v.rows),
            schema_org: gongkai_catalog::feeds::schema_org(d, agency.as_ref(), base),
            versions: versions
                .iter()
                .map(|v| VersionSummary::of(v, staff))
                .collect(),
            review_required: if staff {
                Some(self.catalog.review_required(d).await?)
            } else {
                None
            },
        })
    }

    /// A version with its data dictionary and the part of its report the
    /// caller may see: all of it for the agency's staff; without who chose
    /// what for a served version (its examples are public anyway); nothing
    /// for data given on request or withdrawn.
    pub fn version_detail(
        &self,
        d: &Dataset,
        v: &Version,
        caller: Option<&Principal>,
    ) -> Result<VersionDetail> {
        let staff = policy::staff(d, caller);
        let report = if staff {
            Some(StoredReport::of(v)?)
        } else if policy::serves_data(d) {
            Some(StoredReport::of(v)?.public())
        } else {
            None
        };
        Ok(VersionDetail {
            summary: VersionSummary::of(v, staff),
            columns: v.columns.clone(),
            report,
        })
    }

    /// Searches the public catalogue; `query.agencies` names one agency,
    /// which is widened to the agencies below it.
    pub async fn search(&self, mut query: SearchQuery, page: usize) -> Result<SearchPage> {
        if let Some(slug) = query.agencies.as_ref().and_then(|a| a.first()).cloned() {
            let all = self.catalog.agencies().await?;
            query.agencies = Some(gongkai_catalog::accounts::subtree(&all, &slug));
        }
        let per_page = query.limit;
        let result = self
            .search
            .read()
            .map_err(|_| Error::internal("search index lock poisoned"))?
            .search(&query);
        SearchPage::of(result, page, per_page)
    }

    /// Creates a dataset in the caller's agency (or the one named, if they
    /// may edit there); its texts may hold no identifier.
    pub async fn create_dataset(&self, new: NewDataset, p: &Principal) -> Result<Dataset> {
        let mut texts: Vec<(&str, &str)> = vec![("slug", &new.slug), ("title", &new.title)];
        for (field, text) in [
            ("description", &new.description),
            ("disclosure_reason", &new.disclosure_reason),
            ("title_en", &new.meta.title_en),
            ("description_en", &new.meta.description_en),
            ("spatial", &new.meta.spatial),
            ("index_number", &new.meta.index_number),
        ] {
            if let Some(t) = text {
                texts.push((field, t));
            }
        }
        texts.extend(new.meta.keywords.iter().map(|k| ("keywords", k.as_str())));
        refuse_identifiers(texts)?;
        let agency = new.agency.clone().or_else(|| p.agency.clone());
        if !p.can_edit(agency.as_deref()) {
            return Err(Error::Forbidden(
                "you may only create datasets for your own agency".into(),
            ));
        }
        if new.disclosure == Some(gongkai_catalog::Disclosure::NotPublic)
            && !p.can_review(agency.as_deref())
        {
            return Err(Error::Forbidden(
                "only a reviewer may classify a dataset as 不予公开 (not_public)".into(),
            ));
        }
        let d = self
            .catalog
            .create_dataset(&NewDataset { agency, ..new }, &p.user)
            .await?;
        self.reindex(&d.slug).await;
        Ok(d)
    }

    /// Edits a dataset's metadata: only the fields sent change, applied to
    /// the dataset as it is when the change is written; `if_match` (the
    /// revisions an `If-Match` named) refuses the change when it has moved
    /// on. `texts` are the sent texts, refused when they hold an identifier.
    pub async fn update_dataset(
        &self,
        slug: &str,
        patch: &DatasetPatch,
        texts: &[(String, String)],
        if_match: Option<&[i64]>,
        p: &Principal,
    ) -> Result<Dataset> {
        refuse_identifiers(texts.iter().map(|(f, t)| (f.as_str(), t.as_str())))?;
        let d = self
            .dataset_to_change(slug, p, policy::may_edit, "editing a dataset")
            .await?;
        let edit = gongkai_catalog::Edit {
            actor: &p.user,
            reviewer: policy::may_review(&d, p),
            if_match,
        };
        let d = self.catalog.update_dataset(&d, patch, &edit).await?;
        self.reindex(&d.slug).await;
        Ok(d)
    }

    /// Withdraws a published dataset with a public reason (reviewers).
    pub async fn withdraw(
        &self,
        slug: &str,
        reason: Option<&str>,
        p: &Principal,
    ) -> Result<Dataset> {
        refuse_identifiers(reason.map(|t| ("reason", t)))?;
        let d = self
            .dataset_to_change(slug, p, policy::may_review, "withdrawing")
            .await?;
        let d = self.catalog.withdraw_dataset(&d, reason, &p.user).await?;
        self.reindex(&d.slug).await;
        Ok(d)
    }

    /// Submits a draft for review (editors); its notes will be public.
    pub async fn submit(
        &self,
        slug: &str,
        number: i64,
        s: &Submission,
        p: &Principal,
    ) -> Result<Version> {
        let notes = [
            ("change_note", s.change_note.as_deref()),
            ("correction_notice", s.correction_notice.as_deref()),
        ];
        refuse_identifiers(notes.iter().filter_map(|(f, t)| Some((*f, (*t)?))))?;
        let d = self
            .dataset_to_change(slug, p, policy::may_edit, "submitting")
            .await?;
        Ok(self.catalog.submit_version(&d, number, s, &p.user).await?)
    }

    /// Approves a submitted version (reviewers other than its uploader).
    pub async fn approve(
        &self,
        slug: &str,
        number: i64,
        a: &Approval,
        p: &Principal,
    ) -> Result<Version> {
        let d = self
            .dataset_to_change(slug, p, policy::may_review, "approving")
            .await?;
        Ok(self.catalog.approve_version(&d, number, a, &p.user).await?)
    }

    /// Sends a submitted version back with a comment (reviewers).
    pub async fn reject(
        &self,
        slug: &str,
        number: i64,
        comment: Option<&str>,
        p: &Principal,
    ) -> Result<Version> {
        let d = self
            .dataset_to_change(slug, p, policy::may_review, "rejecting")
            .await?;
        Ok(self
            .catalog
            .reject_version(&d, number, comment, &p.user)
            .await?)
    }

    /// Publishes a version now, or schedules it at `at` (RFC 3339); only a
    /// caller who may publish in the dataset's agency.
    pub async fn publish_as(
        &self,
        slug: &str,
        number: i64,
        at: Option<&str>,
        p: &Principal,
    ) -> Result<Version> {
        let d = self.dataset_for(slug, Some(p)).await?;
        let review_required = self.catalog.review_required(&d).await?;
        if !policy::may_publish(&d, p, review_required) {
            return Err(Error::Forbidden(
                "publishing needs a reviewer of the dataset's agency or an admin".into(),
            ));
        }
        if let Some(at) = at.map(str::trim).filter(|s| !s.is_empty()) {
            let when = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| {
                Error::InvalidTime(format!(
                    "{at:?} is not an RFC 3339 time (2026-12-01T09:00:00+08:00)"
                ))
            })?;
            let when = when
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            return Ok(self
                .catalog
                .schedule_version(&d, number, Some(&when), &p.user)
                .await?);
        }
        self.publish(&d, number, &p.user).await
    }

    /// Uploads a file as a new draft of `slug` (editors of its agency).
    pub async fn upload_as<S, E>(
        &self,
        slug: &str,
        p: &Principal,
        file_name: &str,
        sheet: Option<String>,
        body: S,
    ) -> Result<Version>
    where
        S: futures::Stream<Item = std::result::Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let d = self.dataset_for(slug, Some(p)).await?;
        if !policy::may_edit(&d, p) {
            return Err(Error::Forbidden(
                "you may only upload to datasets of your own agency".into(),
            ));
        }
        self.upload(&d, p.into(), file_name, sheet, body).await
    }

    /// Changes the redaction of a draft's columns (editors tighten,
    /// reviewers may loosen with a legal basis).
    pub async fn change_redaction_as(
        &self,
        slug: &str,
        number: i64,
        choices: &BTreeMap<String, ColumnChoice>,
        p: &Principal,
    ) -> Result<Version> {
        let d = self
            .dataset_to_change(slug, p, policy::may_edit, "changing the redaction")
            .await?;
        self.change_redaction(&d, number, choices, p).await
    }

    /// Describes, renames and retypes columns of a draft (editors).
    /// Renaming or retyping derives the draft again from the raw upload.
    pub async fn edit_columns_as(
        &self,
        slug: &str,
        number: i64,
        edits: BTreeMap<String, ColumnEdit>,
        p: &Principal,
    ) -> Result<Version> {
        let d = self
            .dataset_to_change(slug, p, policy::may_edit, "editing columns")
            .await?;
        let descriptions_sent: Vec<(String, String)> = edits
            .iter()
            .filter_map(|(name, c)| Some((format!("column {name}"), c.description.clone()??)))
            .collect();
        refuse_identifiers(
            descriptions_sent
                .iter()
                .map(|(f, t)| (f.as_str(), t.as_str())),
        )?;
        let renames: Overrides = edits
            .iter()
            .filter(|(_, c)| c.name.is_some() || c.data_type.is_some())
            .map(|(name, c)| {
                (
                    name.clone(),
                    ColumnOverride {
                        name: c.name.clone(),
                        data_type: c.data_type.clone(),
                    },
                )
            })
            .collect();
        let mut v = None;
        if !renames.is_empty() {
            let current = self.catalog.version(d.id, number).await?;
            if !matches!(
                current.status,
                VersionStatus::Draft | VersionStatus::Rejected
            ) {
                return Err(Error::InvalidState(format!(
                    "version {number} is {:?}: only drafts and rejected versions can change columns",
                    current.status
                )));
            }
            v = Some(self.change_columns(&d, number, &renames, &p.user).await?);
        }
        // Descriptions use the columns' names after this request's renames.
        let descriptions: BTreeMap<String, Option<String>> = edits
            .into_iter()
            .filter_map(|(name, c)| {
                let name = c.name.unwrap_or(name);
                c.description.map(|d| (name, d))
            })
            .collect();
        if !descriptions.is_empty() || v.is_none() {
            v = Some(
                self.catalog
                    .describe_columns(&d, number, &descriptions, &p.user)
                    .await?,
            );
        }
        v.ok_or_else(|| Error::internal("no version after a column edit"))
    }

    /// Submitted versions the caller may review, oldest first.
    pub async fn review_queue(&self, p: &Principal) -> Result<Vec<ReviewItem>> {
        if !matches!(p.role, Role::Reviewer | Role::Admin) {
            return Err(Error::Forbidden("the review queue is for reviewers".into()));
        }
        let scope = if p.is_platform_admin() {
            None
        } else {
            Some(p.within.as_slice())
        };
        let items = self.catalog.review_queue(scope).await?;
        items
            .iter()
            .filter(|(d, _)| policy::may_review(d, p))
            .map(|(d, v)| {
                Ok(ReviewItem {
                    version: VersionSummary::of(v, true),
                    dataset: d.slug.clone(),
                    title: d.title.clone(),
                    agency: d.agency.clone(),
                    privacy: StoredReport::of(v)?.ingest.privacy,
                })
            })
            .collect()
    }
}
