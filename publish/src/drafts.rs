//! Change a draft before review: its columns' redaction (tighten freely,
//! loosen only as a reviewer with a legal basis) or their names and types.
//! Either way the draft is derived again from the raw upload, so what is
//! published is always computed from the file, never patched.

use crate::columns::{ColumnOverride, Overrides, original_name, parse_type};
use crate::ingesting::category_of;
use crate::views::{RecordedChoice, StoredReport};
use crate::{Error, Publisher, policy};
use futures::StreamExt;
use gongkai_catalog::{Dataset, Principal, RedraftedVersion, Version};
use gongkai_ingest::privacy::{Action, Category, NEVER_RAW, PiiKind, applicable, loosens};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use std::collections::BTreeMap;

/// One column's redaction choice: `{"action": "...", "legal_basis": "..."}`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnChoice {
    /// drop, mask, generalize, pseudonym or keep.
    pub action: Action,
    /// Required when the choice hides less than the default (reviewers only).
    #[serde(default)]
    pub legal_basis: Option<String>,
}

/// What a draft's column was found to hold, and the action it gets by default.
fn detected(
    report: &StoredReport,
    category: Category,
    column: &str,
) -> Option<(Option<PiiKind>, Action)> {
    let f = report.ingest.privacy.iter().find(|f| f.column == column)?;
    Some(match f.by.as_str() {
        "header" | "values" => {
            let header = f.path.last().map(String::as_str).unwrap_or_default();
            (Some(f.kind), f.kind.default_action_for(category, header))
        }
        "cells" => (None, Action::MaskCells),
        _ => (None, Action::Keep),
    })
}

impl Publisher {
    /// Changes the redaction of a draft (or rejected) version and derives its
    /// draft again from the raw upload. Editors may only tighten; loosening
    /// (down to `keep`) needs a reviewer and a legal basis; resident IDs,
    /// bank numbers, mobiles and passports are never kept raw.
    pub async fn change_redaction(
        &self,
        dataset: &Dataset,
        number: i64,
        choices: &BTreeMap<String, ColumnChoice>,
        actor: &Principal,
    ) -> Result<Version, Error> {
        let version = self.catalog.version(dataset.id, number).await?;
        let raw_key = raw_kept(&version)?;
        let report = StoredReport::of(&version)?;
        // Defaults as they were when the file was uploaded (a later category
        // change must not silently loosen this version).
        let category = report.upload.category_or(category_of(dataset));
        let known = |col: &str| {
            detected(&report, category, col).is_some()
                || version.columns.iter().any(|c| c.name == col)
        };
        // The recorded policy is keyed by ingested names; choices by current names.
        let overrides = &report.column_overrides;
        let mut recorded = report.redaction_policy.clone();
        let mut before = serde_json::Map::new();
        for (col, choice) in choices {
            if !known(col) {
                return Err(Error::UnknownColumn {
                    dataset: dataset.slug.clone(),
                    version: number,
                    column: col.clone(),
                });
            }
            let (kind, default) = detected(&report, category, col).unwrap_or((None, Action::Keep));
            let kind_name = kind.map(PiiKind::name).unwrap_or("no personal data");
            if kind.is_some_and(|k| NEVER_RAW.contains(&k)) && choice.action == Action::Keep {
                return Err(Error::NeverPublic {
                    column: col.clone(),
                    kind: kind_name,
                });
            }
            if !applicable(kind, choice.action) {
                return Err(Error::ActionNotApplicable {
                    column: col.clone(),
                    action: choice.action.name(),
                    kind: kind_name,
                });
            }
            let legal_basis = choice
                .legal_basis
                .as_deref()
                .map(str::trim)
                .filter(|b| !b.is_empty());
            if loosens(default, choice.action) {
                if !policy::may_review(dataset, actor) {
                    return Err(Error::Forbidden(format!(
                        "{} hides less than the default ({}) for {col:?}: only a reviewer may choose it, with a legal basis / 放宽脱敏须由审核人记录法律依据",
                        choice.action.name(),
                        default.name()
                    )));
                }
                if legal_basis.is_none() {
                    return Err(Error::LegalBasisRequired {
                        column: col.clone(),
                    });
                }
            }
            let original = original_name(overrides, col).to_string();
            before.insert(
                col.clone(),
                match recorded.get(&original) {
                    Some(r) => serde_json::to_value(r).map_err(Error::internal)?,
                    None => serde_json::json!({"action": default.name()}),
                },
            );
            recorded.insert(
                original,
                RecordedChoice {
                    action: choice.action,
                    legal_basis: legal_basis.map(str::to_string),
                    by: Some(actor.user.clone()),
                },
            );
        }
        let draft = self
            .rederive(dataset, &version, &raw_key, &report, &recorded, overrides)
            .await?;
        let change = serde_json::json!({
            "before": before,
            "after": choices,
        });
        self.commit_redraft(dataset, number, &draft, &actor.user, change)
            .await
    }

    /// Renames and retypes columns of a draft (or rejected) version: the
    /// edits are merged into the version's recorded overrides and the draft
    /// is derived again from the raw upload with the recorded redaction.
    /// `changes` is keyed by the columns' current names.
    pub async fn change_columns(
        &self,
        dataset: &Dataset,
        number: i64,
        changes: &Overrides,
        actor: &str,
    ) -> Result<Version, Error> {
        let version = self.catalog.version(dataset.id, number).await?;
        let raw_key = raw_kept(&version)?;
        let report = StoredReport::of(&version)?;
        let before_overrides = &report.column_overrides;
        let mut overrides = before_overrides.clone();
        for (current, change) in changes {
            if !version.columns.iter().any(|c| c.name == *current) {
                return Err(Error::UnknownColumn {
                    dataset: dataset.slug.clone(),
                    version: number,
                    column: current.clone(),
                });
            }
            let original = original_name(before_overrides, current).to_string();
            let entry = overrides.entry(original.clone()).or_default();
            if let Some(n) = &change.name {
                entry.name = (n != &original).then(|| n.clone());
            }
            if let Some(t) = &change.data_type {
                parse_type(t)?;
                entry.data_type = Some(t.clone());
            }
            if entry == &ColumnOverride::default() {
                overrides.remove(&original);
            }
        }
        let mut draft = self
            .rederive(
                dataset,
                &version,
                &raw_key,
                &report,
                &report.redaction_policy,
                &overrides,
            )
            .await?;
        // Descriptions follow their column across a rename.
        for c in &mut draft.columns {
            let original = original_name(&overrides, &c.name);
            c.description = version
                .columns
                .iter()
                .find(|old| original_name(before_overrides, &old.name) == original)
                .and_then(|old| old.description.clone());
        }
        let change =
            serde_json::json!({"column_edits": {"before": before_overrides, "after": overrides}});
        self.commit_redraft(dataset, number, &draft, actor, change)
            .await
    }

    /// Derives a version's draft again from its raw upload: the redaction
    /// `recorded` (ingested column name → choice, kept in the new report)
    /// over the defaults of the category recorded at upload, then the
    /// column `overrides`.
    async fn rederive(
        &self,
        dataset: &Dataset,
        version: &Version,
        raw_key: &str,
        report: &StoredReport,
        recorded: &BTreeMap<String, RecordedChoice>,
        overrides: &Overrides,
    ) -> Result<RedraftedVersion, Error> {
        let mut policy = gongkai_ingest::privacy::RedactionPolicy {
            category: report.upload.category_or(category_of(dataset)),
            ..Default::default()
        };
        for (col, choice) in recorded {
            policy.columns.insert(col.clone(), choice.action);
        }
        if policy.columns.values().any(|a| *a == Action::Pseudonym) {
            policy.pseudonym_key = Some(
                self.catalog
                    .pseudonym_key(dataset.agency.as_deref())
                    .await?,
            );
        }
        let mut raw = self.spool_file()?;
        let mut stream = self.store.get(&Path::from(raw_key)).await?.into_stream();
        while let Some(chunk) = stream.next().await {
            std::io::Write::write_all(&mut raw, &chunk?)
                .map_err(|e| Error::internal(format!("spooling the raw upload: {e}")))?;
        }
        self.derive_draft(
            dataset,
            &version.original_name,
            raw,
            report.upload.sheet.clone(),
            policy,
            overrides,
            recorded,
            &uuid::Uuid::new_v4().to_string(),
        )
        .await
    }

    /// Records a re-derived draft (audited with `change`) and deletes the
    /// draft it replaced; if recording fails, the new draft's object is
    /// deleted instead.
    async fn commit_redraft(
        &self,
        dataset: &Dataset,
        number: i64,
        draft: &RedraftedVersion,
        actor: &str,
        change: serde_json::Value,
    ) -> Result<Version, Error> {
        match self
            .catalog
            .replace_draft(dataset, number, draft, actor, change)
            .await
        {
            Ok((v, old)) => {
                if let Some(old) = old {
                    let _ = self.store.delete(&Path::from(old)).await;
                }
                Ok(v)
            }
            Err(e) => {
                let _ = self
                    .store
                    .delete(&Path::from(draft.draft_key.clone()))
                    .await;
                Err(e.into())
            }
        }
    }
}

/// The version's raw upload key, or why it can no longer be derived again.
fn raw_kept(version: &Version) -> Result<String, Error> {
    version.raw_key.clone().ok_or_else(|| {
        Error::InvalidState(format!(
            "the raw upload of version {} is no longer kept; upload the file again",
            version.number
        ))
    })
}
