//! Upload a file and derive its draft: the raw bytes go to the private
//! prefix and a spool file, ingest reads the table, redaction applies the
//! dataset's defaults (and any recorded choices), column edits apply, and
//! the draft Parquet is written under its private key.
//!
//! Write-then-commit: objects are fully written before the catalogue row
//! that points at them commits, so a crash leaves at most unreferenced
//! objects (see [`crate::gc`]).

use crate::columns::Overrides;
use crate::views::{RecordedChoice, StoredReport, UploadRecord};
use crate::{Error, Publisher, storage};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use gongkai_catalog::{Column, Dataset, NewVersion, RedraftedVersion, Role, Version};
use gongkai_ingest::IngestOptions;
use object_store::path::Path;
use object_store::{ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

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

impl Publisher {
    /// Streams an upload into the private raw prefix (enforcing the size limit of
    /// the uploader's role), ingests it once an ingest slot is free, writes the
    /// draft Parquet and records a draft version.
    pub async fn upload<S, E>(
        &self,
        dataset: &Dataset,
        uploader: Uploader<'_>,
        file_name: &str,
        sheet: Option<String>,
        mut body: S,
    ) -> Result<Version, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let actor = uploader.user;
        // An identifier in the file name is masked before the name is stored,
        // logged or shown anywhere (the extension, which picks the reader, stays).
        let file_name = &gongkai_ingest::privacy::clean_text(file_name);
        let _ticket = self.uploads.admit(actor)?;
        let upload_id = uuid::Uuid::new_v4().to_string();
        let raw_key = storage::raw_key(dataset.agency.as_deref(), &upload_id, file_name);
        let raw_path = Path::from(raw_key.clone());
        let limit = self.uploads.max_bytes(uploader.role);

        // The upload goes to the private raw prefix and to a local spool file
        // that ingest streams from: memory does not grow with the file.
        let mut spool = self.spool_file()?;
        let mut writer = WriteMultipart::new(self.store.put_multipart(&raw_path).await?);
        let mut received: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(Error::UploadInterrupted(e.to_string()));
                }
            };
            if received + chunk.len() as u64 > limit {
                let _ = writer.abort().await;
                return Err(Error::FileTooLarge {
                    file: file_name.to_string(),
                    limit,
                    role: uploader.role,
                });
            }
            writer.write(&chunk);
            received += chunk.len() as u64;
            if let Err(e) = std::io::Write::write_all(&mut spool, &chunk) {
                let _ = writer.abort().await;
                return Err(Error::internal(format!("spooling the upload: {e}")));
            }
        }
        writer.finish().await?;
        if received == 0 {
            let _ = self.store.delete(&raw_path).await;
            return Err(Error::EmptyFile {
                file: file_name.to_string(),
            });
        }

        let draft = match self
            .derive_draft(
                dataset,
                file_name,
                spool,
                sheet,
                gongkai_ingest::privacy::RedactionPolicy {
                    category: category_of(dataset),
                    ..Default::default()
                },
                &Overrides::new(),
                &BTreeMap::new(),
                &upload_id,
            )
            .await
        {
            Ok(d) => d,
            Err(e) => {
                // Nothing was recorded: do not keep the raw file of a failed upload.
                let _ = self.store.delete(&raw_path).await;
                return Err(e);
            }
        };
        let version = self
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
    pub(crate) async fn derive_draft(
        &self,
        dataset: &Dataset,
        file_name: &str,
        raw: tempfile::NamedTempFile,
        sheet: Option<String>,
        policy: gongkai_ingest::privacy::RedactionPolicy,
        overrides: &Overrides,
        recorded: &BTreeMap<String, RecordedChoice>,
        upload_id: &str,
    ) -> Result<RedraftedVersion, Error> {
        let name = file_name.to_string();
        let category = policy.category;
        let mut options = IngestOptions {
            sheet: sheet.clone(),
            ..IngestOptions::default()
        };
        options.limits.stream_above_bytes = self.config.uploads.stream_above_bytes;
        let edits = overrides.clone();
        let slot = self.uploads.ingest_slot().await?;
        let out = self.spool_file()?;
        let (report, rows, out) = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            ingest_to_parquet(&name, raw, &options, &policy, &edits, out)
        })
        .await
        .map_err(Error::internal)??;
        let draft_key = storage::draft_key(dataset.id, upload_id);
        let (bytes, sha256) = self.put_file(&Path::from(draft_key.clone()), out).await?;
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
        let report = StoredReport {
            ingest: report,
            upload: UploadRecord {
                sheet,
                category: Some(category.name().to_string()),
            },
            column_overrides: overrides.clone(),
            redaction_policy: recorded.clone(),
        };
        Ok(RedraftedVersion {
            draft_key,
            rows: rows as i64,
            bytes,
            sha256,
            columns,
            report: report.to_json()?,
        })
    }

    /// A fresh temporary file under `DATA_DIR/tmp` (removed when dropped, and
    /// at start-up for files a crash left behind).
    pub(crate) fn spool_file(&self) -> Result<tempfile::NamedTempFile, Error> {
        let dir = crate::storage::spool_dir(&self.config.data_dir);
        std::fs::create_dir_all(&dir).map_err(Error::internal)?;
        tempfile::Builder::new()
            .prefix("gk-")
            .tempfile_in(&dir)
            .map_err(Error::internal)
    }

    /// Uploads a local file to the store in parts; returns its size and SHA-256.
    async fn put_file(
        &self,
        path: &Path,
        file: tempfile::NamedTempFile,
    ) -> Result<(i64, String), Error> {
        use tokio::io::AsyncReadExt;
        let mut reader = tokio::fs::File::from_std(file.reopen().map_err(Error::internal)?);
        let mut hasher = Sha256::new();
        let mut total = 0i64;
        let mut writer = WriteMultipart::new(self.store.put_multipart(path).await?);
        let mut buf = vec![0u8; 8 << 20];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(Error::internal(e));
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
}

/// Ingests the spooled upload (streamed when it is large delimited text),
/// applies the column edits and writes the draft Parquet to `out`; returns
/// the report, the row count and the written file.
fn ingest_to_parquet(
    name: &str,
    raw: tempfile::NamedTempFile,
    options: &IngestOptions,
    policy: &gongkai_ingest::privacy::RedactionPolicy,
    edits: &Overrides,
    out: tempfile::NamedTempFile,
) -> Result<(gongkai_ingest::Report, usize, tempfile::NamedTempFile), Error> {
    let file = out.reopen().map_err(Error::internal)?;
    let mut sink = gongkai_ingest::parquet_out::ParquetSink::new(file);
    let mut report = gongkai_ingest::stream::ingest_path(
        name,
        raw.path(),
        options,
        policy,
        None,
        |output| -> Result<(), Error> {
            match output {
                gongkai_ingest::stream::Output::Batch(batch) => {
                    let batch = crate::columns::apply_to_batch(batch, edits, sink.rows())?;
                    sink.write(batch).map_err(Error::internal)
                }
                gongkai_ingest::stream::Output::Restart => sink.restart().map_err(Error::internal),
            }
        },
    )?;
    drop(raw);
    let rows = sink.finish().map_err(Error::internal)?;
    crate::columns::apply_to_report(&mut report, edits);
    Ok((report, rows, out))
}

/// The redaction category of a dataset (unknown values fall back to `other`).
pub(crate) fn category_of(dataset: &Dataset) -> gongkai_ingest::privacy::Category {
    gongkai_ingest::privacy::Category::from_name(&dataset.category).unwrap_or_default()
}
