//! The publishing workflow as services: upload → ingest → draft, and publish.
//!
//! Write-then-commit: objects are fully written before the catalogue row that
//! points at them commits, so a crash leaves at most unreferenced objects.

use crate::error::Code;
use crate::settings::RawRetention;
use crate::{ApiError, AppState, storage};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use gongkai_catalog::{Column, Dataset, NewVersion, RedraftedVersion, Role, Version};
use gongkai_ingest::IngestOptions;
use gongkai_ingest::privacy::Action;
use object_store::path::Path;
use object_store::{ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};

/// Who sends an upload: the user recorded on the version, and the role that
/// sets the size limit.
#[derive(Debug, Clone, Copy)]
pub struct Uploader<'a> {
    /// User name.
    pub user: &'a str,
    /// Role held in the dataset's agency.
    pub role: Role,
}

impl<'a> From<&'a gongkai_catalog::Principal> for Uploader<'a> {
    fn from(p: &'a gongkai_catalog::Principal) -> Self {
        Uploader {
            user: &p.user,
            role: p.role,
        }
    }
}

/// Streams an upload into the private raw prefix (enforcing the size limit of
/// the uploader's role), ingests it once an ingest slot is free, writes the
/// draft Parquet and records a draft version.
pub async fn upload<S, E>(
    state: &AppState,
    dataset: &Dataset,
    uploader: Uploader<'_>,
    file_name: &str,
    sheet: Option<String>,
    mut body: S,
) -> Result<Version, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let actor = uploader.user;
    // An identifier in the file name is masked before the name is stored,
    // logged or shown anywhere (the extension, which picks the reader, stays).
    let file_name = &gongkai_ingest::privacy::clean_text(file_name);
    let _ticket = state.uploads.admit(actor)?;
    let upload_id = uuid::Uuid::new_v4().to_string();
    let raw_key = storage::raw_key(dataset.agency.as_deref(), &upload_id, file_name);
    let raw_path = Path::from(raw_key.clone());
    let limit = state.uploads.max_bytes(uploader.role);

    // The upload goes to the private raw prefix and to a local spool file
    // that ingest streams from: memory does not grow with the file.
    let mut spool = spool_file(state)?;
    let mut writer = WriteMultipart::new(state.store.put_multipart(&raw_path).await?);
    let mut received: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(ApiError::new(
                    Code::UploadInterrupted,
                    format!("the upload was interrupted: {e}"),
                ));
            }
        };
        if received + chunk.len() as u64 > limit {
            let _ = writer.abort().await;
            return Err(ApiError::new(Code::FileTooLarge,
                format!(
                    "{file_name}: larger than the upload limit of {} for your role ({limit} bytes) / 文件超过您角色的上传上限",
                    human_bytes(limit)
                ),
            )
            .with_details(serde_json::json!({"limit_bytes": limit, "role": uploader.role})));
        }
        writer.write(&chunk);
        received += chunk.len() as u64;
        if let Err(e) = std::io::Write::write_all(&mut spool, &chunk) {
            let _ = writer.abort().await;
            return Err(ApiError::internal(format!("spooling the upload: {e}")));
        }
    }
    writer.finish().await?;
    if received == 0 {
        let _ = state.store.delete(&raw_path).await;
        return Err(ApiError::new(
            Code::EmptyFile,
            format!("{file_name}: the file is empty"),
        ));
    }

    let draft = match derive_draft(
        state,
        dataset,
        file_name,
        spool,
        sheet,
        gongkai_ingest::privacy::RedactionPolicy {
            category: category_of(dataset),
            ..Default::default()
        },
        &crate::columns::Overrides::new(),
        &upload_id,
    )
    .await
    {
        Ok(d) => d,
        Err(e) => {
            // Nothing was recorded: do not keep the raw file of a failed upload.
            let _ = state.store.delete(&raw_path).await;
            return Err(e);
        }
    };
    let version = state
        .catalog
        .create_version(
            dataset,
            NewVersion {
                original_name: file_name.to_string(),
                raw_key,
                draft_key: draft.draft_key,
                rows: draft.rows,
                bytes: draft.bytes,
                sha256: draft.sha256,
                columns: draft.columns,
                report: draft.report,
                created_by: actor.to_string(),
            },
        )
        .await?;
    tracing::info!(dataset = %dataset.slug, version = version.number, rows = version.rows, "draft ingested");
    Ok(version)
}

/// Ingests raw bytes with a redaction policy and writes the draft Parquet
/// under a fresh private key. The report records the upload options (so the
/// draft can be derived again) under `upload`.
#[allow(clippy::too_many_arguments)] // each is one recorded input of the derivation
async fn derive_draft(
    state: &AppState,
    dataset: &Dataset,
    file_name: &str,
    raw: tempfile::NamedTempFile,
    sheet: Option<String>,
    policy: gongkai_ingest::privacy::RedactionPolicy,
    overrides: &crate::columns::Overrides,
    upload_id: &str,
) -> Result<RedraftedVersion, ApiError> {
    let name = file_name.to_string();
    let category = policy.category;
    let mut options = IngestOptions {
        sheet: sheet.clone(),
        ..IngestOptions::default()
    };
    options.limits.stream_above_bytes = state.settings.uploads.stream_above_bytes;
    let edits = overrides.clone();
    let slot = state.uploads.ingest_slot().await?;
    let out = spool_file(state)?;
    let (report, rows, out) = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        ingest_to_parquet(&name, raw, &options, &policy, &edits, out)
    })
    .await
    .map_err(ApiError::internal)??;
    let draft_key = storage::draft_key(dataset.id, upload_id);
    let (bytes, sha256) = put_file(state, &Path::from(draft_key.clone()), out).await?;
    let columns = report
        .columns
        .iter()
        .map(|c| Column {
            name: c.name.clone(),
            path: c.path.clone(),
            data_type: c.data_type.clone(),
            unit: c.unit.clone(),
            description: None,
            pii: c.pii.clone(),
            action: report
                .privacy
                .iter()
                .find(|f| f.column == c.name)
                .map(|f| f.action.name().to_string()),
        })
        .collect();
    let mut report = serde_json::to_value(&report).map_err(ApiError::internal)?;
    report["upload"] = serde_json::json!({"sheet": sheet, "category": category.name()});
    if !overrides.is_empty() {
        report["column_overrides"] = serde_json::json!(overrides);
    }
    Ok(RedraftedVersion {
        draft_key,
        rows: rows as i64,
        bytes,
        sha256,
        columns,
        report,
    })
}

/// A fresh temporary file under `DATA_DIR/tmp` (removed when dropped, and
/// at start-up for files a crash left behind).
fn spool_file(state: &AppState) -> Result<tempfile::NamedTempFile, ApiError> {
    let dir = crate::storage::spool_dir(&state.settings);
    std::fs::create_dir_all(&dir).map_err(ApiError::internal)?;
    tempfile::Builder::new()
        .prefix("gk-")
        .tempfile_in(&dir)
        .map_err(ApiError::internal)
}

/// Ingests the spooled upload (streamed when it is large delimited text),
/// applies the column edits and writes the draft Parquet to `out`; returns
/// the report, the row count and the written file.
fn ingest_to_parquet(
    name: &str,
    raw: tempfile::NamedTempFile,
    options: &IngestOptions,
    policy: &gongkai_ingest::privacy::RedactionPolicy,
    edits: &crate::columns::Overrides,
    out: tempfile::NamedTempFile,
) -> Result<(gongkai_ingest::Report, usize, tempfile::NamedTempFile), ApiError> {
    let file = out.reopen().map_err(ApiError::internal)?;
    let mut sink = gongkai_ingest::parquet_out::ParquetSink::new(file);
    let mut report = gongkai_ingest::stream::ingest_path(
        name,
        raw.path(),
        options,
        policy,
        None,
        |output| -> Result<(), ApiError> {
            match output {
                gongkai_ingest::stream::Output::Batch(batch) => {
                    let batch = crate::columns::apply_to_batch(batch, edits, sink.rows())?;
                    sink.write(batch).map_err(ApiError::internal)
                }
                gongkai_ingest::stream::Output::Restart => {
                    sink.restart().map_err(ApiError::internal)
                }
            }
        },
    )?;
    drop(raw);
    let rows = sink.finish().map_err(ApiError::internal)?;
    crate::columns::apply_to_report(&mut report, edits);
    Ok((report, rows, out))
}

/// Uploads a local file to the store in parts; returns its size and SHA-256.
async fn put_file(
    state: &AppState,
    path: &Path,
    file: tempfile::NamedTempFile,
) -> Result<(i64, String), ApiError> {
    use tokio::io::AsyncReadExt;
    let mut reader = tokio::fs::File::from_std(file.reopen().map_err(ApiError::internal)?);
    let mut hasher = Sha256::new();
    let mut total = 0i64;
    let mut writer = WriteMultipart::new(state.store.put_multipart(path).await?);
    let mut buf = vec![0u8; 8 << 20];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(ApiError::internal(e));
            }
        };
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        writer.write(&buf[..n]);
        total += n as i64;
    }
    writer.finish().await?;
    drop(file);
    Ok((total, hex::encode(hasher.finalize())))
}

/// `256 MiB`, `1 GiB`, `1500 bytes`.
fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// The redaction category of a dataset (unknown values fall back to `other`).
fn category_of(dataset: &Dataset) -> gongkai_ingest::privacy::Category {
    gongkai_ingest::privacy::Category::from_name(&dataset.category).unwrap_or_default()
}

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

/// Changes the redaction of a draft (or rejected) version and derives its
/// draft again from the raw upload. Editors may only tighten; loosening (down
/// to `keep`) needs a reviewer and a legal basis; resident IDs, bank numbers,
/// mobiles and passports are never kept raw.
pub async fn change_redaction(
    state: &AppState,
    dataset: &Dataset,
    number: i64,
    choices: &std::collections::BTreeMap<String, ColumnChoice>,
    actor: &gongkai_catalog::Principal,
) -> Result<Version, ApiError> {
    use gongkai_ingest::privacy::{PiiKind, applicable, loosens};
    let version = state.catalog.version(dataset.id, number).await?;
    let Some(raw_key) = version.raw_key.clone() else {
        return Err(ApiError::new(
            Code::InvalidState,
            format!("the raw upload of version {number} is no longer kept; upload the file again"),
        ));
    };
    // What was detected per column, and its default action.
    let findings = version.report["privacy"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Defaults as they were when the file was uploaded (a later category
    // change must not silently loosen this version).
    let category = version.report["upload"]["category"]
        .as_str()
        .and_then(gongkai_ingest::privacy::Category::from_name)
        .unwrap_or_else(|| category_of(dataset));
    let detected = |col: &str| -> Option<(Option<PiiKind>, Action)> {
        let f = findings.iter().find(|f| f["column"] == col)?;
        match f["by"].as_str() {
            Some("header" | "values") => {
                let kind: PiiKind = serde_json::from_value(f["kind"].clone()).ok()?;
                let header = f["path"]
                    .as_array()
                    .and_then(|p| p.last())
                    .and_then(|h| h.as_str())
                    .unwrap_or_default();
                Some((Some(kind), kind.default_action_for(category, header)))
            }
            Some("cells") => Some((None, Action::MaskCells)),
            _ => Some((None, Action::Keep)),
        }
    };
    let known =
        |col: &str| detected(col).is_some() || version.columns.iter().any(|c| c.name == col);
    // The recorded policy is keyed by ingested names; choices by current names.
    let overrides = crate::columns::recorded(&version.report);
    let mut previous: serde_json::Map<String, serde_json::Value> =
        version.report["redaction_policy"]
            .as_object()
            .cloned()
            .unwrap_or_default();
    let mut before = serde_json::Map::new();
    for (col, choice) in choices {
        if !known(col) {
            return Err(ApiError::new(
                Code::UnknownColumn,
                format!("version {number} of {} has no column {col:?}", dataset.slug),
            ));
        }
        let (kind, default) = detected(col).unwrap_or((None, Action::Keep));
        let kind_name = kind.map(PiiKind::name).unwrap_or("no personal data");
        if kind.is_some_and(|k| gongkai_ingest::privacy::NEVER_RAW.contains(&k))
            && choice.action == Action::Keep
        {
            return Err(ApiError::new(
                Code::NeverPublic,
                format!(
                    "column {col:?} holds {kind_name}: it can never be published raw / 该类个人信息不得原样公开"
                ),
            ));
        }
        if !applicable(kind, choice.action) {
            return Err(ApiError::new(
                Code::ActionNotApplicable,
                format!(
                    "{} does not apply to column {col:?} ({kind_name})",
                    choice.action.name()
                ),
            ));
        }
        let legal_basis = choice
            .legal_basis
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty());
        if loosens(default, choice.action) {
            if !actor.can_review(dataset.agency.as_deref()) {
                return Err(ApiError::new(
                    Code::Forbidden,
                    format!(
                        "{} hides less than the default ({}) for {col:?}: only a reviewer may choose it, with a legal basis / 放宽脱敏须由审核人记录法律依据",
                        choice.action.name(),
                        default.name()
                    ),
                ));
            }
            if legal_basis.is_none() {
                return Err(ApiError::new(
                    Code::LegalBasisRequired,
                    format!("keeping more of {col:?} than the default needs \"legal_basis\""),
                ));
            }
        }
        let original = crate::columns::original_name(&overrides, col).to_string();
        before.insert(
            col.clone(),
            previous
                .get(&original)
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"action": default.name()})),
        );
        previous.insert(
            original,
            serde_json::json!({"action": choice.action.name(), "legal_basis": legal_basis, "by": actor.user}),
        );
    }
    let draft = rederive(
        state,
        dataset,
        &version,
        &raw_key,
        category,
        Some(&previous),
        &overrides,
    )
    .await?;
    let change = serde_json::json!({
        "before": before,
        "after": choices,
    });
    commit_redraft(state, dataset, number, &draft, &actor.user, change).await
}

/// Renames and retypes columns of a draft (or rejected) version: the edits
/// are merged into the version's recorded overrides and the draft is derived
/// again from the raw upload with the recorded redaction. `changes` is keyed
/// by the columns' current names.
pub async fn change_columns(
    state: &AppState,
    dataset: &Dataset,
    number: i64,
    changes: &crate::columns::Overrides,
    actor: &str,
) -> Result<Version, ApiError> {
    use crate::columns::{original_name, recorded};
    let version = state.catalog.version(dataset.id, number).await?;
    let Some(raw_key) = version.raw_key.clone() else {
        return Err(ApiError::new(
            Code::InvalidState,
            format!("the raw upload of version {number} is no longer kept; upload the file again"),
        ));
    };
    let before_overrides = recorded(&version.report);
    let mut overrides = before_overrides.clone();
    for (current, change) in changes {
        if !version.columns.iter().any(|c| c.name == *current) {
            return Err(ApiError::new(
                Code::UnknownColumn,
                format!(
                    "version {number} of {} has no column {current:?}",
                    dataset.slug
                ),
            ));
        }
        let original = original_name(&before_overrides, current).to_string();
        let entry = overrides.entry(original.clone()).or_default();
        if let Some(n) = &change.name {
            entry.name = (n != &original).then(|| n.clone());
        }
        if let Some(t) = &change.data_type {
            crate::columns::parse_type(t)?;
            entry.data_type = Some(t.clone());
        }
        if entry == &crate::columns::ColumnOverride::default() {
            overrides.remove(&original);
        }
    }
    let category = version.report["upload"]["category"]
        .as_str()
        .and_then(gongkai_ingest::privacy::Category::from_name)
        .unwrap_or_else(|| category_of(dataset));
    let mut draft = rederive(
        state,
        dataset,
        &version,
        &raw_key,
        category,
        version.report["redaction_policy"].as_object(),
        &overrides,
    )
    .await?;
    // Descriptions follow their column across a rename.
    for c in &mut draft.columns {
        let original = original_name(&overrides, &c.name);
        c.description = version
            .columns
            .iter()
            .find(|old| original_name(&before_overrides, &old.name) == original)
            .and_then(|old| old.description.clone());
    }
    let change =
        serde_json::json!({"column_edits": {"before": before_overrides, "after": overrides}});
    commit_redraft(state, dataset, number, &draft, actor, change).await
}

/// Derives a version's draft again from its raw upload: the redaction
/// `recorded` (ingested column name → `{"action"}`, kept in the new report)
/// over the category's defaults, then the column `overrides`.
async fn rederive(
    state: &AppState,
    dataset: &Dataset,
    version: &Version,
    raw_key: &str,
    category: gongkai_ingest::privacy::Category,
    recorded: Option<&serde_json::Map<String, serde_json::Value>>,
    overrides: &crate::columns::Overrides,
) -> Result<RedraftedVersion, ApiError> {
    let mut policy = gongkai_ingest::privacy::RedactionPolicy {
        category,
        ..Default::default()
    };
    for (col, v) in recorded.into_iter().flatten() {
        if let Ok(a) = serde_json::from_value::<Action>(v["action"].clone()) {
            policy.columns.insert(col.clone(), a);
        }
    }
    if policy.columns.values().any(|a| *a == Action::Pseudonym) {
        policy.pseudonym_key = Some(
            state
                .catalog
                .pseudonym_key(dataset.agency.as_deref())
                .await?,
        );
    }
    let mut raw = spool_file(state)?;
    let mut stream = state.store.get(&Path::from(raw_key)).await?.into_stream();
    while let Some(chunk) = stream.next().await {
        std::io::Write::write_all(&mut raw, &chunk?)
            .map_err(|e| ApiError::internal(format!("spooling the raw upload: {e}")))?;
    }
    let sheet = version.report["upload"]["sheet"]
        .as_str()
        .map(str::to_string);
    let mut draft = derive_draft(
        state,
        dataset,
        &version.original_name,
        raw,
        sheet,
        policy,
        overrides,
        &uuid::Uuid::new_v4().to_string(),
    )
    .await?;
    if let Some(recorded) = recorded {
        draft.report["redaction_policy"] = serde_json::Value::Object(recorded.clone());
    }
    Ok(draft)
}

/// Records a re-derived draft (audited with `change`) and deletes the draft it
/// replaced; if recording fails, the new draft's object is deleted instead.
async fn commit_redraft(
    state: &AppState,
    dataset: &Dataset,
    number: i64,
    draft: &RedraftedVersion,
    actor: &str,
    change: serde_json::Value,
) -> Result<Version, ApiError> {
    match state
        .catalog
        .replace_draft(dataset, number, draft, actor, change)
        .await
    {
        Ok((v, old)) => {
            if let Some(old) = old {
                let _ = state.store.delete(&Path::from(old)).await;
            }
            Ok(v)
        }
        Err(e) => {
            let _ = state
                .store
                .delete(&Path::from(draft.draft_key.clone()))
                .await;
            Err(e.into())
        }
    }
}

/// Publishes a draft: copies its Parquet to the public key, then commits.
pub async fn publish(
    state: &AppState,
    dataset: &Dataset,
    number: i64,
    actor: &str,
) -> Result<Version, ApiError> {
    let version = state.catalog.version(dataset.id, number).await?;
    // Check the workflow before copying anything (and again at commit).
    let review_required = state.catalog.review_required(dataset).await?;
    gongkai_catalog::check_publishable(dataset, &version, review_required)?;
    let Some(draft_key) = version.draft_key.clone() else {
        return Err(ApiError::new(
            Code::InvalidState,
            format!(
                "version {number} of {} is {}; only a draft can be published",
                dataset.slug, version.status
            ),
        ));
    };
    leak_gate(state, dataset, &version, &draft_key).await?;
    let public_key = storage::public_key(dataset.id, number);
    state
        .store
        .copy(
            &Path::from(draft_key.clone()),
            &Path::from(public_key.clone()),
        )
        .await?;
    let published = state
        .catalog
        .publish_version(dataset, number, &public_key, actor)
        .await?;
    // Committed: the draft copy and (by default) the raw upload are no longer needed.
    if state.store.delete(&Path::from(draft_key)).await.is_ok() {
        state.catalog.clear_draft_key(dataset.id, number).await?;
    }
    if state.settings.raw_retention == RawRetention::UntilPublished
        && let Some(raw) = &version.raw_key
        && state.store.delete(&Path::from(raw.clone())).await.is_ok()
    {
        state.catalog.clear_raw_key(dataset.id, number).await?;
    }
    tracing::info!(dataset = %dataset.slug, version = number, "version published");
    crate::catalogue::reindex(state, &dataset.slug).await;
    Ok(published)
}

/// Publishes approved versions whose scheduled time has come, every
/// `scheduler_interval_secs`, on behalf of the reviewer who scheduled them.
///
/// When a publication fires, that reviewer is checked again, as they are
/// now (role, agency, account), with the rule of the publish endpoint
/// ([`gongkai_catalog::Principal::can_publish`] in the dataset's agency,
/// agencies below one's own included): a reviewer who was moved to another
/// agency, demoted or disabled meanwhile no longer publishes. A publication
/// that fails is unscheduled (audited, by `scheduler`) and logged, so the
/// agency sees it and acts instead of it being retried forever.
pub async fn run_scheduler(state: AppState) {
    let every = std::time::Duration::from_secs(state.settings.scheduler_interval_secs.max(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let due = match state.catalog.due_versions().await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "scheduler: listing due versions failed");
                continue;
            }
        };
        for (slug, number, reviewer) in due {
            let result = async {
                let dataset = state.catalog.dataset(&slug).await?;
                // The reviewer who scheduled it must still be able to publish,
                // by the publish endpoint's rule, with their current role and agency.
                let review_required = state.catalog.review_required(&dataset).await?;
                let allowed = state
                    .catalog
                    .principal(&reviewer)
                    .await?
                    .is_some_and(|p| p.can_publish(dataset.agency.as_deref(), review_required));
                if !allowed {
                    return Err(ApiError::new(
                        Code::InvalidState,
                        format!(
                            "{reviewer} may no longer publish in {}; the schedule is cancelled / \
                             定时发布的审核人已无发布权限，定时发布已取消",
                            dataset.agency.as_deref().unwrap_or("the platform")
                        ),
                    ));
                }
                publish(&state, &dataset, number, &reviewer).await
            }
            .await;
            match result {
                Ok(_) => {
                    tracing::info!(dataset = %slug, version = number, "scheduled publication done")
                }
                Err(e) => {
                    tracing::warn!(dataset = %slug, version = number, error = %e.message, "scheduled publication failed; unscheduling it");
                    // Do not retry a failing publication forever: clear the schedule
                    // (audited) so the reviewer sees it and acts.
                    if let Ok(d) = state.catalog.dataset(&slug).await {
                        let _ = state
                            .catalog
                            .schedule_version(&d, number, None, "scheduler")
                            .await;
                    }
                }
            }
        }
    }
}

/// Scans a stored Parquet object with the current leak detectors (batch by batch).
pub async fn scan_object(
    state: &AppState,
    key: &str,
) -> Result<Vec<gongkai_ingest::privacy::Leak>, ApiError> {
    let bytes = state
        .store
        .get(&Path::from(key.to_string()))
        .await?
        .bytes()
        .await?;
    tokio::task::spawn_blocking(move || {
        let builder =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)?;
        // Field names and metadata are published with every download.
        let mut leaks = gongkai_ingest::privacy::scan_schema(builder.schema());
        let reader = builder.build()?;
        let mut offset = 0;
        for batch in reader {
            let batch = batch?;
            leaks.extend(
                gongkai_ingest::privacy::scan(&batch)
                    .into_iter()
                    .map(|mut l| {
                        l.row += offset;
                        l
                    }),
            );
            offset += batch.num_rows();
        }
        Ok::<_, parquet::errors::ParquetError>(leaks)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

/// What `gongkai audit` found in one served version.
#[derive(Debug, serde::Serialize)]
pub struct AuditFinding {
    /// Dataset slug.
    pub dataset: String,
    /// Version number.
    pub version: i64,
    /// Identifiers found.
    pub leaks: usize,
    /// First locations: (column, 1-based row, kind).
    pub first: Vec<(String, usize, String)>,
    /// Whether the dataset was withdrawn because of it.
    pub withdrawn: bool,
}

/// Re-scans every served version with today's detectors. With `withdraw`,
/// datasets with findings are withdrawn (audited, reason stated).
pub async fn audit_published(
    state: &AppState,
    withdraw: bool,
) -> Result<(usize, Vec<AuditFinding>), ApiError> {
    let tables = state.catalog.published_tables().await?;
    let mut findings: Vec<AuditFinding> = Vec::new();
    for t in &tables {
        let mut first: Vec<(String, usize, String)> = scan_object(state, &t.key)
            .await?
            .into_iter()
            .map(|l| (l.column, l.row + 1, l.kind.name().to_string()))
            .collect();
        // The texts served beside the data (dictionary, report, metadata).
        let dataset = state.catalog.dataset(&t.slug).await?;
        let version = state.catalog.version(dataset.id, t.version).await?;
        let texts = published_texts(&dataset, &version);
        first.extend(
            gongkai_ingest::privacy::scan_texts(
                texts.iter().map(|(p, t)| (p.as_str(), t.as_str())),
            )
            .into_iter()
            .map(|(place, kind)| (place, 0, kind.name().to_string())),
        );
        if first.is_empty() {
            continue;
        }
        let leaks = first.len();
        first.truncate(5);
        findings.push(AuditFinding {
            dataset: t.slug.clone(),
            version: t.version,
            leaks,
            first,
            withdrawn: false,
        });
    }
    if withdraw {
        let mut done: Vec<String> = Vec::new();
        for f in &mut findings {
            if !done.contains(&f.dataset) {
                let d = state.catalog.dataset(&f.dataset).await?;
                let reason = format!(
                    "个人信息复查发现第 {v} 版含 {n} 处未脱敏的个人信息，已撤回待处理 / \
                     re-scan found {n} personal identifier(s) in version {v} (gongkai audit)",
                    v = f.version,
                    n = f.leaks
                );
                state
                    .catalog
                    .withdraw_dataset(&d, Some(&reason), "gongkai-audit")
                    .await?;
                done.push(f.dataset.clone());
            }
            f.withdrawn = true;
        }
    }
    Ok((tables.len(), findings))
}

/// Refuses texts an agency types for publication (dataset metadata, change
/// notes, withdrawal reasons) that hold a personal identifier or a name
/// beside a role word: they would be public as soon as they are stored.
/// `texts` are `(field, text)`.
pub fn refuse_identifiers<'a>(
    texts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), ApiError> {
    let found = gongkai_ingest::privacy::scan_texts(texts);
    let Some((field, kind)) = found.first() else {
        return Ok(());
    };
    Err(ApiError::new(Code::LeakDetected,
        format!(
            "{field} holds personal information ({}); it would be public: remove it / {field} 含个人信息，公开前请删除",
            kind.name()
        ),
    )
    .with_details(serde_json::json!({"leaks": found.iter().map(|(f, k)| serde_json::json!({"part": "metadata", "where": f, "kind": k})).collect::<Vec<_>>()})))
}

/// Every string of a JSON request body (not its keys), with the field it is under.
pub fn json_texts(value: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(place: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::String(s) => out.push((place.to_string(), s.clone())),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(place, x, out)),
            serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| walk(k, x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("body", value, &mut out);
    out
}

/// The texts published beside a version's data: the dataset's
/// descriptive metadata, the file name, the data dictionary and every text
/// of the ingest report, each with where it is shown.
pub fn published_texts(dataset: &Dataset, version: &Version) -> Vec<(String, String)> {
    let mut texts: Vec<(String, String)> = vec![
        ("title".into(), dataset.title.clone()),
        ("file".into(), version.original_name.clone()),
    ];
    let optional = [
        ("description", &dataset.description),
        ("title_en", &dataset.meta.title_en),
        ("description_en", &dataset.meta.description_en),
        ("spatial", &dataset.meta.spatial),
        ("index_number", &dataset.meta.index_number),
        ("change_note", &version.change_note),
        ("correction_notice", &version.correction_notice),
    ];
    for (place, text) in optional {
        if let Some(t) = text {
            texts.push((place.into(), t.clone()));
        }
    }
    for k in &dataset.meta.keywords {
        texts.push(("keywords".into(), k.clone()));
    }
    for c in &version.columns {
        let place = format!("column {}", c.name);
        texts.push((place.clone(), c.name.clone()));
        for h in &c.path {
            texts.push((place.clone(), h.clone()));
        }
        if let Some(d) = &c.description {
            texts.push((place.clone(), d.clone()));
        }
    }
    fn walk(v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::String(s) => out.push(("report".into(), s.clone())),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
                out.push(("report".into(), k.clone()));
                walk(x, out)
            }),
            _ => {}
        }
    }
    walk(&version.report, &mut texts);
    texts
}

/// Scans the artifact about to be released (cells, schema) and every text
/// published beside it; any identifier found blocks publication.
async fn leak_gate(
    state: &AppState,
    dataset: &Dataset,
    version: &Version,
    key: &str,
) -> Result<(), ApiError> {
    let number = version.number;
    let texts = published_texts(dataset, version);
    let in_texts =
        gongkai_ingest::privacy::scan_texts(texts.iter().map(|(p, t)| (p.as_str(), t.as_str())));
    let leaks = scan_object(state, key).await?;
    if leaks.is_empty() && in_texts.is_empty() {
        return Ok(());
    }
    let mut first: Vec<serde_json::Value> = leaks
        .iter()
        .take(20)
        .map(|l| serde_json::json!({"column": l.column, "row": l.row + 1, "kind": l.kind, "part": l.part}))
        .collect();
    first.extend(in_texts.iter().take(20).map(
        |(place, kind)| serde_json::json!({"part": "metadata", "where": place, "kind": kind}),
    ));
    let total = leaks.len() + in_texts.len();
    let location = match (leaks.first(), in_texts.first()) {
        (Some(l), _) => format!("column {}, row {}", l.column, l.row + 1),
        (None, Some((place, _))) => place.clone(),
        (None, None) => String::new(),
    };
    Err(ApiError::new(Code::LeakDetected,
        format!(
            "version {number} of {} still contains {total} personal identifier(s) (first: {location}); redact them before publishing / 仍含个人信息，请脱敏后再发布",
            dataset.slug,
        ),
    )
    .with_details(serde_json::json!({"leaks": first})))
}
