//! The publishing workflow: draft → submitted → approved | rejected →
//! published → superseded; withdrawal and correction of datasets; metadata
//! edits; scheduled publication and disclosure deadlines.
//!
//! Every transition runs in one transaction with its audit event, and checks
//! the state it starts from inside that transaction, so two reviewers racing
//! on the same version cannot both win.

use crate::calendar::WorkCalendar;
use crate::model::*;
use crate::store::{
    DATASET_COLUMNS, audit, changed_meanwhile, check_category, check_date, check_disclosure, clean,
    dataset_from_row, dataset_in, now, version_in,
};
use crate::{Catalog, Error, Result};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};
use std::str::FromStr;

/// What a submitter tells the reviewer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// Why this version exists (更新说明).
    #[serde(default)]
    pub change_note: Option<String>,
    /// Correction notice (更正说明) when the version corrects published data.
    #[serde(default)]
    pub correction_notice: Option<String>,
}

/// A reviewer's approval.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Comment for the record.
    #[serde(default)]
    pub comment: Option<String>,
    /// The reviewer confirms the confidentiality review (保密审查) was done.
    #[serde(default)]
    pub confidentiality_reviewed: bool,
    /// The reviewer confirms the redaction shown in the report is adequate.
    #[serde(default)]
    pub redaction_confirmed: bool,
    /// Publish automatically at this time (RFC 3339) instead of by hand.
    #[serde(default)]
    pub publish_at: Option<String>,
}

/// Who edits a dataset's metadata, and against which revision (see
/// [`Catalog::update_dataset`]).
#[derive(Debug, Clone, Copy)]
pub struct Edit<'a> {
    /// User name recorded in the audit log.
    pub actor: &'a str,
    /// Whether the actor may make a reviewer's changes (the disclosure
    /// attribute and the category) in the dataset's agency.
    pub reviewer: bool,
    /// HTTP `If-Match`: the revisions the edit was prepared against; the edit
    /// is refused ([`Error::Precondition`]) unless the current revision is one
    /// of them. `None`: apply to whatever is current.
    pub if_match: Option<&'a [i64]>,
}

/// Tries of a metadata edit that lost a compare-and-swap to another writer.
const UPDATE_ATTEMPTS: usize = 5;

/// The editable fields of a dataset as the audit log records them.
fn metadata_record(d: &Dataset) -> serde_json::Value {
    serde_json::json!({
        "title": d.title, "description": d.description,
        "disclosure": d.disclosure.as_str(), "disclosure_reason": d.disclosure_reason,
        "decision_date": d.decision_date, "category": d.category, "metadata": d.meta,
        "revision": d.revision,
    })
}

/// The publication deadline of a dataset with a decision date.
#[derive(Debug, Clone, Serialize)]
pub struct Deadline {
    /// Dataset slug.
    pub slug: String,
    /// Dataset title.
    pub title: String,
    /// Agency slug.
    pub agency: Option<String>,
    /// Decision date (YYYY-MM-DD).
    pub decision_date: String,
    /// Last day to publish (YYYY-MM-DD): 7 working days after the decision.
    pub deadline: String,
    /// `overdue`, `due` (still in time), `published_on_time` or `published_late`.
    pub state: &'static str,
    /// Working days left (negative when overdue); None once published.
    pub working_days_left: Option<i64>,
    /// First publication (RFC 3339).
    pub published_at: Option<String>,
}

/// Checks the workflow rules for publishing `version` of `dataset`.
///
/// * Only an `approved` version can be published when the agency requires
///   review; without review a `draft` or `submitted` version can be too.
/// * A withdrawn dataset can only be reinstated by a version that carries a
///   correction notice.
pub fn check_publishable(
    dataset: &Dataset,
    version: &Version,
    review_required: bool,
) -> Result<()> {
    let allowed = match version.status {
        VersionStatus::Approved => true,
        VersionStatus::Draft | VersionStatus::Submitted => !review_required,
        _ => false,
    };
    if !allowed {
        let why = if review_required
            && matches!(
                version.status,
                VersionStatus::Draft | VersionStatus::Submitted
            ) {
            "it must be submitted and approved by a reviewer first / 须经审核通过后发布"
        } else {
            "only an approved version can be published"
        };
        return Err(Error::State(format!(
            "version {} of {} is {}: {why}",
            version.number, dataset.slug, version.status
        )));
    }
    if dataset.status == DatasetStatus::Withdrawn && version.correction_notice.is_none() {
        return Err(Error::State(format!(
            "dataset {} is withdrawn; only a version with a correction notice can reinstate it",
            dataset.slug
        )));
    }
    Ok(())
}

impl Catalog {
    /// Moves a version from one of `from` to `to`, setting extra columns, with an audit event.
    #[allow(clippy::too_many_arguments)]
    async fn transition(
        &self,
        dataset: &Dataset,
        number: i64,
        from: &[VersionStatus],
        to: VersionStatus,
        sets: &[(&'static str, Option<String>)],
        actor: &str,
        action: &str,
        check: impl FnOnce(&Version) -> Result<()>,
        details: serde_json::Value,
    ) -> Result<Version> {
        let mut tx = self.pool.begin().await?;
        let before = version_in(&mut tx, dataset, number).await?;
        if !from.contains(&before.status) {
            let expected: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
            return Err(Error::State(format!(
                "version {number} of {} is {}; this needs it to be {}",
                dataset.slug,
                before.status,
                expected.join(" or ")
            )));
        }
        check(&before)?;
        // Constant column names only; values are bound.
        let mut sql = String::from("UPDATE versions SET status = $1");
        for (i, (col, _)) in sets.iter().enumerate() {
            sql.push_str(&format!(", {col} = ${}", i + 2));
        }
        let n = sets.len();
        sql.push_str(&format!(
            " WHERE dataset_id = ${} AND number = ${} AND status = ${}",
            n + 2,
            n + 3,
            n + 4
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(to.as_str());
        for (_, v) in sets {
            q = q.bind(v.clone());
        }
        let changed = q
            .bind(dataset.id)
            .bind(number)
            .bind(before.status.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed != 1 {
            return Err(changed_meanwhile(dataset, number));
        }
        let mut details = details;
        details["before"] = serde_json::json!({"status": before.status.as_str()});
        details["after"] = serde_json::json!({"status": to.as_str()});
        audit(
            &mut tx,
            actor,
            action,
            &format!("dataset:{}@v{number}", dataset.slug),
            details,
        )
        .await?;
        tx.commit().await?;
        self.version(dataset.id, number).await
    }

    /// Hands a draft (or a rejected version) to review.
    pub async fn submit_version(
        &self,
        dataset: &Dataset,
        number: i64,
        s: &Submission,
        actor: &str,
    ) -> Result<Version> {
        let note = clean(s.change_note.as_deref());
        let correction = clean(s.correction_notice.as_deref());
        if correction.is_some() && dataset.latest_version.is_none() {
            return Err(Error::Invalid {
                field: "correction_notice",
                reason: "nothing has been published yet, so there is nothing to correct".into(),
            });
        }
        self.transition(
            dataset,
            number,
            &[VersionStatus::Draft, VersionStatus::Rejected],
            VersionStatus::Submitted,
            &[
                ("submitted_by", Some(actor.to_string())),
                ("submitted_at", Some(now())),
                ("change_note", note.clone()),
                ("correction_notice", correction.clone()),
                ("reviewed_by", None),
                ("reviewed_at", None),
                ("review_comment", None),
            ],
            actor,
            "version.submit",
            |_| Ok(()),
            serde_json::json!({"change_note": note, "correction_notice": correction}),
        )
        .await
    }

    /// Approves a submitted version. When the agency requires review, the
    /// reviewer cannot be the person who uploaded it (four-eyes rule).
    pub async fn approve_version(
        &self,
        dataset: &Dataset,
        number: i64,
        a: &Approval,
        actor: &str,
    ) -> Result<Version> {
        if !a.confidentiality_reviewed || !a.redaction_confirmed {
            return Err(Error::Invalid {
                field: "confidentiality_reviewed",
                reason: "approval needs \"confidentiality_reviewed\": true (保密审查已完成) and \
                         \"redaction_confirmed\": true (已确认脱敏结果)"
                    .into(),
            });
        }
        let scheduled = match clean(a.publish_at.as_deref()) {
            None => None,
            Some(t) => Some(
                chrono::DateTime::parse_from_rfc3339(&t)
                    .map_err(|_| Error::Invalid {
                        field: "publish_at",
                        reason: format!(
                            "{t:?} is not an RFC 3339 time (2026-12-01T09:00:00+08:00)"
                        ),
                    })?
                    .with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
        };
        let review_required = self.review_required(dataset).await?;
        let comment = clean(a.comment.as_deref());
        self.transition(
            dataset,
            number,
            &[VersionStatus::Submitted],
            VersionStatus::Approved,
            &[
                ("reviewed_by", Some(actor.to_string())),
                ("reviewed_at", Some(now())),
                ("review_comment", comment.clone()),
                ("scheduled_at", scheduled.clone()),
            ],
            actor,
            "version.approve",
            |v| {
                if review_required && v.created_by == actor {
                    return Err(Error::State(format!(
                        "{actor} uploaded version {number} of {}; another reviewer must approve it \
                         (审核人不能审核自己上传的数据)",
                        dataset.slug
                    )));
                }
                // Whoever loosened the redaction cannot also approve it.
                let loosened_by_actor = v.report["redaction_policy"]
                    .as_object()
                    .is_some_and(|m| {
                        m.values()
                            .any(|c| c["by"] == actor && !c["legal_basis"].is_null())
                    });
                if loosened_by_actor {
                    return Err(Error::State(format!(
                        "{actor} loosened the redaction of version {number} of {}; another reviewer \
                         must approve it",
                        dataset.slug
                    )));
                }
                Ok(())
            },
            serde_json::json!({"comment": comment, "confidentiality_reviewed": true,
                               "redaction_confirmed": true, "scheduled_at": scheduled}),
        )
        .await
    }

    /// Sends a submitted version back with a comment (required).
    pub async fn reject_version(
        &self,
        dataset: &Dataset,
        number: i64,
        comment: Option<&str>,
        actor: &str,
    ) -> Result<Version> {
        let comment = clean(comment).ok_or(Error::Invalid {
            field: "comment",
            reason: "a rejection needs a comment telling the agency what to fix / 请填写退回意见"
                .into(),
        })?;
        self.transition(
            dataset,
            number,
            &[VersionStatus::Submitted, VersionStatus::Approved],
            VersionStatus::Rejected,
            &[
                ("reviewed_by", Some(actor.to_string())),
                ("reviewed_at", Some(now())),
                ("review_comment", Some(comment.clone())),
                ("scheduled_at", None),
            ],
            actor,
            "version.reject",
            |_| Ok(()),
            serde_json::json!({"comment": comment}),
        )
        .await
    }

    /// Sets (or clears) the scheduled publication time of an approved version.
    pub async fn schedule_version(
        &self,
        dataset: &Dataset,
        number: i64,
        at: Option<&str>,
        actor: &str,
    ) -> Result<Version> {
        let at = at.map(str::to_string);
        self.transition(
            dataset,
            number,
            &[VersionStatus::Approved],
            VersionStatus::Approved,
            &[("scheduled_at", at.clone())],
            actor,
            "version.schedule",
            |_| Ok(()),
            serde_json::json!({"scheduled_at": at}),
        )
        .await
    }

    /// Approved versions whose scheduled time has come: (dataset slug, version, reviewer).
    pub async fn due_versions(&self) -> Result<Vec<(String, i64, String)>> {
        let rows = sqlx::query(
            "SELECT d.slug, v.number, v.reviewed_by FROM versions v JOIN datasets d ON d.id = v.dataset_id \
             WHERE v.status = 'approved' AND v.scheduled_at IS NOT NULL AND v.scheduled_at <= $1 \
             ORDER BY v.scheduled_at",
        )
        .bind(now())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("slug")?,
                    r.try_get("number")?,
                    r.try_get::<Option<String>, _>("reviewed_by")?
                        .unwrap_or_else(|| "scheduler".into()),
                ))
            })
            .collect()
    }

    /// Versions waiting for review in the given agencies (None: everywhere), oldest first.
    pub async fn review_queue(
        &self,
        agencies: Option<&[String]>,
    ) -> Result<Vec<(Dataset, Version)>> {
        let sql = format!(
            "SELECT {DATASET_COLUMNS} FROM datasets d LEFT JOIN agencies a ON a.id = d.agency_id \
             WHERE EXISTS (SELECT 1 FROM versions v WHERE v.dataset_id = d.id AND v.status = 'submitted') \
             ORDER BY d.slug"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let d = dataset_from_row(r)?;
            let visible = match agencies {
                None => true,
                Some(list) => d.agency.as_ref().is_some_and(|a| list.contains(a)),
            };
            if !visible {
                continue;
            }
            for v in self.versions(d.id).await? {
                if v.status == VersionStatus::Submitted {
                    out.push((d.clone(), v));
                }
            }
        }
        out.sort_by(|a, b| a.1.submitted_at.cmp(&b.1.submitted_at));
        Ok(out)
    }

    /// Takes a published dataset down: it stays listed with its reason but serves no data.
    pub async fn withdraw_dataset(
        &self,
        dataset: &Dataset,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<Dataset> {
        let reason = clean(reason).ok_or(Error::Invalid {
            field: "reason",
            reason: "withdrawing needs a reason, shown to the public / 撤回须说明理由".into(),
        })?;
        let at = now();
        let mut tx = self.begin_write().await?;
        let current = dataset_in(&mut tx, self.backend(), dataset.id).await?;
        let n = sqlx::query(
            "UPDATE datasets SET status = 'withdrawn', withdrawn_reason = $1, withdrawn_at = $2, \
             withdrawn_by = $3, updated_at = $4, revision = revision + 1 \
             WHERE id = $5 AND status = 'published' AND revision = $6",
        )
        .bind(&reason)
        .bind(&at)
        .bind(actor)
        .bind(&at)
        .bind(dataset.id)
        .bind(current.revision)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(Error::State(format!(
                "dataset {} is {}; only a published dataset can be withdrawn",
                dataset.slug, current.status
            )));
        }
        // What was served is never served again (a correction publishes a new
        // version); scheduled publications must not fire.
        sqlx::query(
            "UPDATE versions SET status = 'withdrawn' WHERE dataset_id = $1 \
             AND status IN ('published', 'superseded')",
        )
        .bind(dataset.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE versions SET scheduled_at = NULL WHERE dataset_id = $1")
            .bind(dataset.id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            actor,
            "dataset.withdraw",
            &format!("dataset:{}", dataset.slug),
            serde_json::json!({"before": {"status": current.status.as_str(), "revision": current.revision},
                               "after": {"status": "withdrawn", "reason": reason,
                                         "revision": current.revision + 1}}),
        )
        .await?;
        tx.commit().await?;
        self.dataset(&dataset.slug).await
    }

    /// Edits a dataset's metadata: only the fields `patch` carries change,
    /// applied to the row as it is inside the writing transaction (locked),
    /// with a compare-and-swap on its revision, so concurrent edits of
    /// different fields all take effect and none undoes another (a
    /// disclosure change in particular). The reviewer-only changes
    /// (disclosure attribute, category) and `edit.if_match` are checked
    /// against that same row, and the audit event's "before" is that row.
    pub async fn update_dataset(
        &self,
        dataset: &Dataset,
        patch: &DatasetPatch,
        edit: &Edit<'_>,
    ) -> Result<Dataset> {
        // Field checks that do not depend on the stored row fail before any lock.
        let title = match &patch.title {
            Some(t) => Some(clean(Some(t)).ok_or(Error::Invalid {
                field: "title",
                reason: "must not be empty".into(),
            })?),
            None => None,
        };
        let decision_date = match &patch.decision_date {
            Some(d) => Some(check_date(Some(d))?),
            None => None,
        };
        let category = match &patch.category {
            Some(c) => Some(check_category(Some(c))?),
            None => None,
        };
        for _ in 0..UPDATE_ATTEMPTS {
            let mut tx = self.begin_write().await?;
            let current = dataset_in(&mut tx, self.backend(), dataset.id).await?;
            if let Some(tags) = edit.if_match
                && !tags.contains(&current.revision)
            {
                return Err(Error::Precondition {
                    kind: "dataset",
                    key: current.slug,
                    current: current.revision,
                });
            }
            let disclosure_change = patch.disclosure.is_some_and(|x| x != current.disclosure)
                || (patch.disclosure_reason.is_some() && current.disclosure != Disclosure::Public);
            if disclosure_change && !edit.reviewer {
                return Err(Error::Forbidden(
                    "only a reviewer may change the disclosure attribute (公开属性) / 只有审核人可以修改公开属性"
                        .into(),
                ));
            }
            // The category sets redaction defaults: changing it is a reviewer's call.
            if category.as_ref().is_some_and(|c| *c != current.category) && !edit.reviewer {
                return Err(Error::Forbidden(
                    "only a reviewer may change the category (it sets the redaction defaults) / \
                     只有审核人可以修改类别（类别决定脱敏默认规则）"
                        .into(),
                ));
            }
            let disclosure = patch.disclosure.unwrap_or(current.disclosure);
            // A new disclosure attribute without a reason drops the old reason.
            let reason = match &patch.disclosure_reason {
                Some(r) => clean(Some(r)),
                None if disclosure != current.disclosure => None,
                None => current.disclosure_reason.clone(),
            };
            check_disclosure(disclosure, reason.as_deref())?;
            let meta = current.meta.apply(&patch.meta)?;
            let meta_json =
                serde_json::to_string(&meta).map_err(|e| Error::Corrupt(e.to_string()))?;
            let after = Dataset {
                title: title.clone().unwrap_or_else(|| current.title.clone()),
                description: match &patch.description {
                    Some(d) => clean(Some(d)),
                    None => current.description.clone(),
                },
                disclosure,
                disclosure_reason: reason,
                decision_date: decision_date
                    .clone()
                    .unwrap_or_else(|| current.decision_date.clone()),
                category: category.clone().unwrap_or_else(|| current.category.clone()),
                meta,
                revision: current.revision + 1,
                ..current.clone()
            };
            // Only the columns of the fields sent are written.
            let mut sets: Vec<(&'static str, Option<String>)> = Vec::new();
            if patch.title.is_some() {
                sets.push(("title", Some(after.title.clone())));
            }
            if patch.description.is_some() {
                sets.push(("description", after.description.clone()));
            }
            if patch.disclosure.is_some() || patch.disclosure_reason.is_some() {
                sets.push(("disclosure", Some(after.disclosure.as_str().to_string())));
                sets.push(("disclosure_reason", after.disclosure_reason.clone()));
            }
            if patch.decision_date.is_some() {
                sets.push(("decision_date", after.decision_date.clone()));
            }
            if patch.category.is_some() {
                sets.push(("category", Some(after.category.clone())));
            }
            if patch.meta.is_set() {
                sets.push(("metadata_json", Some(meta_json)));
            }
            if sets.is_empty() {
                // Nothing to change: no write, no new revision.
                return Ok(current);
            }
            sets.push(("updated_at", Some(now())));
            // Constant column names only; values are bound.
            let mut sql = String::from("UPDATE datasets SET revision = revision + 1");
            for (i, (col, _)) in sets.iter().enumerate() {
                sql.push_str(&format!(", {col} = ${}", i + 1));
            }
            let n = sets.len();
            sql.push_str(&format!(" WHERE id = ${} AND revision = ${}", n + 1, n + 2));
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (_, v) in &sets {
                q = q.bind(v.clone());
            }
            let changed = q
                .bind(current.id)
                .bind(current.revision)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed != 1 {
                // Someone else's change came first: read again and reapply.
                tx.rollback().await?;
                continue;
            }
            let fields = patch.sent_fields();
            audit(
                &mut tx,
                edit.actor,
                "dataset.update",
                &format!("dataset:{}", current.slug),
                serde_json::json!({
                    "fields": fields,
                    "before": metadata_record(&current),
                    "after": metadata_record(&after),
                }),
            )
            .await?;
            tx.commit().await?;
            return self.dataset_by_id(current.id).await;
        }
        Err(Error::State(format!(
            "dataset {} changed too often meanwhile; try again / 数据集正被频繁修改，请稍后重试",
            dataset.slug
        )))
    }

    /// Publication deadlines of datasets with a decision date, in the given
    /// agencies (None: all), most urgent first.
    pub async fn deadlines(
        &self,
        agencies: Option<&[String]>,
        calendar: &WorkCalendar,
        today: chrono::NaiveDate,
    ) -> Result<Vec<Deadline>> {
        let sql = format!(
            "SELECT {DATASET_COLUMNS} FROM datasets d LEFT JOIN agencies a ON a.id = d.agency_id \
             WHERE d.decision_date IS NOT NULL AND d.disclosure <> 'not_public' ORDER BY d.decision_date"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let d = dataset_from_row(r)?;
            if let Some(list) = agencies
                && !d.agency.as_ref().is_some_and(|a| list.contains(a))
            {
                continue;
            }
            let Some(decision) = d
                .decision_date
                .as_deref()
                .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            else {
                continue;
            };
            let deadline = calendar.publication_deadline(decision);
            let published_day = d
                .published_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                // Deadlines are Beijing calendar days.
                .map(|t| {
                    t.with_timezone(
                        &chrono::FixedOffset::east_opt(8 * 3600).unwrap_or(t.timezone()),
                    )
                    .date_naive()
                });
            let (state, left) = match published_day {
                Some(p) if p <= deadline => ("published_on_time", None),
                Some(_) => ("published_late", None),
                None => {
                    let left = working_days_between(calendar, today, deadline);
                    (if today > deadline { "overdue" } else { "due" }, Some(left))
                }
            };
            out.push(Deadline {
                slug: d.slug,
                title: d.title,
                agency: d.agency,
                decision_date: decision.format("%Y-%m-%d").to_string(),
                deadline: deadline.format("%Y-%m-%d").to_string(),
                state,
                working_days_left: left,
                published_at: d.published_at,
            });
        }
        out.sort_by_key(|d| (d.state != "overdue", d.state != "due", d.deadline.clone()));
        Ok(out)
    }
}

/// A raw upload kept no longer under the `until_published` retention rule
/// (see [`Catalog::expired_raw_uploads`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiredRaw {
    /// Dataset id.
    #[serde(skip)]
    pub dataset_id: i64,
    /// Dataset slug.
    pub dataset: String,
    /// Version number.
    pub version: i64,
    /// Private key of the raw upload.
    #[serde(skip)]
    pub raw_key: String,
    /// Why the version can no longer be published: `published` (its raw
    /// upload outlived the publication), `dataset_withdrawn` (created before
    /// its dataset was withdrawn), `rejected_superseded` (rejected, and a
    /// newer upload exists) or `stale_draft` (a draft or rejected version
    /// older than the configured days).
    pub reason: &'static str,
}

/// A re-derived draft replacing the Parquet of a draft version (after the
/// agency or reviewer changed the redaction).
#[derive(Debug, Clone)]
pub struct RedraftedVersion {
    /// New private key of the draft Parquet.
    pub draft_key: String,
    /// Rows.
    pub rows: i64,
    /// Parquet size.
    pub bytes: i64,
    /// Parquet SHA-256 (hex).
    pub sha256: String,
    /// New data dictionary.
    pub columns: Vec<Column>,
    /// New ingest report.
    pub report: serde_json::Value,
}

/// Refuses to change `what` of a version that is no longer being prepared
/// (only drafts and rejected versions are).
fn in_preparation(dataset: &Dataset, version: &Version, what: &str) -> Result<()> {
    if matches!(
        version.status,
        VersionStatus::Draft | VersionStatus::Rejected
    ) {
        return Ok(());
    }
    Err(Error::State(format!(
        "version {} of {} is {}; {what} can only change while it is a draft (or after a rejection)",
        version.number, dataset.slug, version.status
    )))
}

impl Catalog {
    /// Replaces the draft of a version that is still being prepared (draft or
    /// rejected), recording the redaction change (before/after, legal basis) in
    /// the audit log. Returns the version and the draft key it replaced.
    pub async fn replace_draft(
        &self,
        dataset: &Dataset,
        number: i64,
        new: &RedraftedVersion,
        actor: &str,
        change: serde_json::Value,
    ) -> Result<(Version, Option<String>)> {
        let report = serde_json::to_string(&new.report)
            .map_err(|e| Error::Corrupt(format!("report: {e}")))?;
        let mut tx = self.pool.begin().await?;
        let before = version_in(&mut tx, dataset, number).await?;
        // Column descriptions written by the agency survive a re-derived draft.
        let mut new_columns = new.columns.clone();
        for c in &mut new_columns {
            if c.description.is_none() {
                c.description = before
                    .columns
                    .iter()
                    .find(|b| b.name == c.name)
                    .and_then(|b| b.description.clone());
            }
        }
        let columns = serde_json::to_string(&new_columns)
            .map_err(|e| Error::Corrupt(format!("columns: {e}")))?;
        in_preparation(dataset, &before, "its redaction")?;
        let changed = sqlx::query(
            "UPDATE versions SET draft_key = $1, row_count = $2, byte_size = $3, sha256 = $4, \
             columns_json = $5, report_json = $6 WHERE dataset_id = $7 AND number = $8 AND status = $9",
        )
        .bind(&new.draft_key)
        .bind(new.rows)
        .bind(new.bytes)
        .bind(&new.sha256)
        .bind(&columns)
        .bind(&report)
        .bind(dataset.id)
        .bind(number)
        .bind(before.status.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(changed_meanwhile(dataset, number));
        }
        audit(
            &mut tx,
            actor,
            "version.redaction",
            &format!("dataset:{}@v{number}", dataset.slug),
            change,
        )
        .await?;
        tx.commit().await?;
        Ok((self.version(dataset.id, number).await?, before.draft_key))
    }

    /// Sets or clears column descriptions in the data dictionary of a version
    /// that is still being prepared (draft or rejected). Audited.
    pub async fn describe_columns(
        &self,
        dataset: &Dataset,
        number: i64,
        descriptions: &std::collections::BTreeMap<String, Option<String>>,
        actor: &str,
    ) -> Result<Version> {
        let mut tx = self.pool.begin().await?;
        let before = version_in(&mut tx, dataset, number).await?;
        in_preparation(dataset, &before, "its data dictionary")?;
        let mut columns = before.columns.clone();
        let mut changes = serde_json::Map::new();
        for (name, text) in descriptions {
            let column = columns
                .iter_mut()
                .find(|c| c.name == *name)
                .ok_or_else(|| Error::Invalid {
                    field: "columns",
                    reason: format!(
                        "no column {name:?}; columns are {}",
                        before
                            .columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?;
            let text = clean(text.as_deref());
            if text.as_ref().is_some_and(|t| t.chars().count() > 2_000) {
                return Err(Error::Invalid {
                    field: "description",
                    reason: format!("the description of {name} is longer than 2000 characters"),
                });
            }
            changes.insert(
                name.clone(),
                serde_json::json!({"before": column.description, "after": text}),
            );
            column.description = text;
        }
        let json =
            serde_json::to_string(&columns).map_err(|e| Error::Corrupt(format!("columns: {e}")))?;
        let changed = sqlx::query(
            "UPDATE versions SET columns_json = $1 WHERE dataset_id = $2 AND number = $3 AND status = $4",
        )
        .bind(&json)
        .bind(dataset.id)
        .bind(number)
        .bind(before.status.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(changed_meanwhile(dataset, number));
        }
        audit(
            &mut tx,
            actor,
            "version.columns",
            &format!("dataset:{}@v{number}", dataset.slug),
            serde_json::Value::Object(changes),
        )
        .await?;
        tx.commit().await?;
        self.version(dataset.id, number).await
    }

    /// Raw uploads whose versions can no longer be published, which the
    /// `until_published` retention deletes: of versions already published
    /// (whose raw upload should have gone then), of versions created before
    /// their dataset was withdrawn and never published, of rejected versions
    /// a newer upload superseded, and of drafts and rejected versions created
    /// more than `draft_days` days before `now` (`draft_days` 0: none by age).
    /// A correction uploaded after a withdrawal keeps its raw upload.
    pub async fn expired_raw_uploads(
        &self,
        draft_days: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<ExpiredRaw>> {
        let rows = sqlx::query(
            "SELECT d.id, d.slug, d.status AS dataset_status, d.withdrawn_at, v.number, v.status, \
             v.raw_key, v.created_at, \
             (SELECT MAX(w.number) FROM versions w WHERE w.dataset_id = v.dataset_id) AS newest \
             FROM versions v JOIN datasets d ON d.id = v.dataset_id \
             WHERE v.raw_key IS NOT NULL ORDER BY d.slug, v.number",
        )
        .fetch_all(&self.pool)
        .await?;
        let stale_before = (draft_days > 0)
            .then(|| now - chrono::Duration::days(i64::from(draft_days)))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        let mut out = Vec::new();
        for r in &rows {
            let status = VersionStatus::from_str(&r.try_get::<String, _>("status")?)?;
            let dataset_status =
                DatasetStatus::from_str(&r.try_get::<String, _>("dataset_status")?)?;
            let number: i64 = r.try_get("number")?;
            let newest: Option<i64> = r.try_get("newest")?;
            let created_at: String = r.try_get("created_at")?;
            let withdrawn_at: Option<String> = r.try_get("withdrawn_at")?;
            // Timestamps are all written by `now()`: RFC 3339, UTC, milliseconds,
            // so they compare as text.
            let reason = if matches!(
                status,
                VersionStatus::Published | VersionStatus::Superseded | VersionStatus::Withdrawn
            ) {
                "published"
            } else if dataset_status == DatasetStatus::Withdrawn
                && withdrawn_at.is_some_and(|w| created_at <= w)
            {
                "dataset_withdrawn"
            } else if status == VersionStatus::Rejected && newest.is_some_and(|n| n > number) {
                "rejected_superseded"
            } else if matches!(status, VersionStatus::Draft | VersionStatus::Rejected)
                && stale_before.as_ref().is_some_and(|t| created_at < *t)
            {
                "stale_draft"
            } else {
                continue;
            };
            out.push(ExpiredRaw {
                dataset_id: r.try_get("id")?,
                dataset: r.try_get("slug")?,
                version: number,
                raw_key: r.try_get("raw_key")?,
                reason,
            });
        }
        Ok(out)
    }

    /// Forgets an expired raw upload (see [`Catalog::expired_raw_uploads`]),
    /// audited as `version.raw_expired` with its reason. Returns false when
    /// the version no longer points at that upload (nothing changed).
    pub async fn expire_raw(&self, expired: &ExpiredRaw, actor: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE versions SET raw_key = NULL WHERE dataset_id = $1 AND number = $2 AND raw_key = $3",
        )
        .bind(expired.dataset_id)
        .bind(expired.version)
        .bind(&expired.raw_key)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        audit(
            &mut tx,
            actor,
            "version.raw_expired",
            &format!("dataset:{}@v{}", expired.dataset, expired.version),
            serde_json::json!({"reason": expired.reason,
                               "before": {"raw_upload": true}, "after": {"raw_upload": false}}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The publisher's secret pseudonym key (created on first use): per agency,
    /// or one platform key for datasets without an agency. Never exported.
    pub async fn pseudonym_key(&self, agency: Option<&str>) -> Result<Vec<u8>> {
        let fresh = crate::token::generate();
        let stored: Option<String> = match agency {
            Some(a) => {
                sqlx::query(
                    "UPDATE agencies SET pseudonym_key = $1 WHERE slug = $2 AND pseudonym_key IS NULL",
                )
                .bind(&fresh)
                .bind(a)
                .execute(&self.pool)
                .await?;
                sqlx::query("SELECT pseudonym_key FROM agencies WHERE slug = $1")
                    .bind(a)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.try_get("pseudonym_key"))
                    .transpose()?
                    .flatten()
            }
            None => {
                let inserted = sqlx::query(
                    "INSERT INTO platform_secrets (name, value) VALUES ('pseudonym_key', $1)",
                )
                .bind(&fresh)
                .execute(&self.pool)
                .await;
                if let Err(e) = inserted
                    && !crate::store::is_unique_violation(&e)
                {
                    return Err(e.into());
                }
                sqlx::query("SELECT value FROM platform_secrets WHERE name = 'pseudonym_key'")
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.try_get("value"))
                    .transpose()?
            }
        };
        stored
            .map(String::into_bytes)
            .ok_or_else(|| Error::not_found("agency", agency.unwrap_or("(platform)")))
    }
}

/// Working days from `today` until `deadline` (negative once it has passed).
fn working_days_between(
    c: &WorkCalendar,
    today: chrono::NaiveDate,
    deadline: chrono::NaiveDate,
) -> i64 {
    let (from, to, sign) = if deadline >= today {
        (today, deadline, 1)
    } else {
        (deadline, today, -1)
    };
    let mut n = 0;
    let mut day = from;
    while day < to {
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
        if c.is_working_day(day) {
            n += 1;
        }
    }
    sign * n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(status: DatasetStatus) -> Dataset {
        Dataset {
            id: 1,
            slug: "d".into(),
            title: "t".into(),
            description: None,
            agency: Some("a".into()),
            status,
            latest_version: Some(1),
            created_at: String::new(),
            updated_at: String::new(),
            published_at: None,
            disclosure: Disclosure::Public,
            disclosure_reason: None,
            decision_date: None,
            withdrawn_reason: None,
            withdrawn_at: None,
            category: "other".into(),
            meta: crate::Metadata::default(),
            revision: 1,
        }
    }

    fn version(status: VersionStatus, correction: Option<&str>) -> Version {
        Version {
            dataset_id: 1,
            number: 2,
            status,
            original_name: "f.csv".into(),
            raw_key: None,
            draft_key: None,
            public_key: None,
            rows: 1,
            bytes: 1,
            sha256: String::new(),
            columns: vec![],
            report: serde_json::Value::Null,
            change_note: None,
            created_by: "e".into(),
            created_at: String::new(),
            published_by: None,
            published_at: None,
            submitted_by: None,
            submitted_at: None,
            reviewed_by: None,
            reviewed_at: None,
            review_comment: None,
            scheduled_at: None,
            correction_notice: correction.map(Into::into),
        }
    }

    #[test]
    fn only_approved_versions_publish_when_review_is_required() {
        let d = dataset(DatasetStatus::Published);
        for s in [
            VersionStatus::Draft,
            VersionStatus::Submitted,
            VersionStatus::Rejected,
            VersionStatus::Published,
            VersionStatus::Superseded,
        ] {
            assert!(
                check_publishable(&d, &version(s, None), true).is_err(),
                "{s}"
            );
        }
        assert!(check_publishable(&d, &version(VersionStatus::Approved, None), true).is_ok());
        assert!(check_publishable(&d, &version(VersionStatus::Draft, None), false).is_ok());
        assert!(check_publishable(&d, &version(VersionStatus::Rejected, None), false).is_err());
    }

    #[test]
    fn a_withdrawn_dataset_comes_back_only_with_a_correction() {
        let d = dataset(DatasetStatus::Withdrawn);
        assert!(check_publishable(&d, &version(VersionStatus::Approved, None), true).is_err());
        assert!(
            check_publishable(&d, &version(VersionStatus::Approved, Some("更正")), true).is_ok()
        );
    }

    #[test]
    fn working_days_left_counts_both_ways() {
        let c = WorkCalendar::china();
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        assert_eq!(
            working_days_between(&c, d("2026-11-23"), d("2026-12-02")),
            7
        );
        assert_eq!(
            working_days_between(&c, d("2026-12-02"), d("2026-11-23")),
            -7
        );
        assert_eq!(
            working_days_between(&c, d("2026-11-23"), d("2026-11-23")),
            0
        );
    }
}
