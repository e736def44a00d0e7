//! The leak gate and the audit: every artifact about to be released, and
//! every text served beside it, is read through the same detectors as
//! redaction ([`gongkai_ingest::privacy`]); a finding blocks release. Texts
//! an agency types for publication are refused where they are typed.

use crate::{Error, LeakAt, Publisher};
use gongkai_catalog::{Dataset, Version};
use object_store::ObjectStoreExt;
use object_store::path::Path;

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

impl Publisher {
    /// Scans a stored Parquet object with the current leak detectors (batch by batch).
    pub async fn scan_object(
        &self,
        key: &str,
    ) -> Result<Vec<gongkai_ingest::privacy::Leak>, Error> {
        let bytes = self
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
        .map_err(Error::internal)?
        .map_err(Error::internal)
    }

    /// Re-scans every served version with today's detectors. With `withdraw`,
    /// datasets with findings are withdrawn (audited, reason stated).
    pub async fn audit_published(
        &self,
        withdraw: bool,
    ) -> Result<(usize, Vec<AuditFinding>), Error> {
        let tables = self.catalog.published_tables().await?;
        let mut findings: Vec<AuditFinding> = Vec::new();
        for t in &tables {
            let mut first: Vec<(String, usize, String)> = self
                .scan_object(&t.key)
                .await?
                .into_iter()
                .map(|l| (l.column, l.row + 1, l.kind.name().to_string()))
                .collect();
            // The texts served beside the data (dictionary, report, metadata).
            let dataset = self.catalog.dataset(&t.slug).await?;
            let version = self.catalog.version(dataset.id, t.version).await?;
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
                    let d = self.catalog.dataset(&f.dataset).await?;
                    let reason = format!(
                        "个人信息复查发现第 {v} 版含 {n} 处未脱敏的个人信息，已撤回待处理 / \
                     re-scan found {n} personal identifier(s) in version {v} (gongkai audit)",
                        v = f.version,
                        n = f.leaks
                    );
                    self.catalog
                        .withdraw_dataset(&d, Some(&reason), "gongkai-audit")
                        .await?;
                    done.push(f.dataset.clone());
                }
                f.withdrawn = true;
            }
        }
        Ok((tables.len(), findings))
    }

    /// Scans the artifact about to be released (cells, schema) and every text
    /// published beside it; any identifier found blocks publication.
    pub(crate) async fn leak_gate(
        &self,
        dataset: &Dataset,
        version: &Version,
        key: &str,
    ) -> Result<(), Error> {
        let number = version.number;
        let texts = published_texts(dataset, version);
        let in_texts = gongkai_ingest::privacy::scan_texts(
            texts.iter().map(|(p, t)| (p.as_str(), t.as_str())),
        );
        let leaks = self.scan_object(key).await?;
        if leaks.is_empty() && in_texts.is_empty() {
            return Ok(());
        }
        let total = leaks.len() + in_texts.len();
        let location = match (leaks.first(), in_texts.first()) {
            (Some(l), _) => format!("column {}, row {}", l.column, l.row + 1),
            (None, Some((place, _))) => place.clone(),
            (None, None) => String::new(),
        };
        let mut found: Vec<LeakAt> = leaks
            .into_iter()
            .take(20)
            .map(|l| LeakAt {
                part: l.part,
                column: Some(l.column),
                row: Some(l.row + 1),
                place: None,
                kind: l.kind,
            })
            .collect();
        found.extend(in_texts.into_iter().take(20).map(|(place, kind)| LeakAt {
            part: "metadata",
            column: None,
            row: None,
            place: Some(place),
            kind,
        }));
        Err(Error::LeakDetected {
            message: format!(
                "version {number} of {} still contains {total} personal identifier(s) (first: {location}); redact them before publishing / 仍含个人信息，请脱敏后再发布",
                dataset.slug,
            ),
            leaks: found,
        })
    }
}

/// Refuses texts an agency types for publication (dataset metadata, change
/// notes, withdrawal reasons) that hold a personal identifier or a name
/// beside a role word: they would be public as soon as they are stored.
/// `texts` are `(field, text)`.
pub fn refuse_identifiers<'a>(
    texts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), Error> {
    let found = gongkai_ingest::privacy::scan_texts(texts);
    let Some((field, kind)) = found.first() else {
        return Ok(());
    };
    Err(Error::LeakDetected {
        message: format!(
            "{field} holds personal information ({}); it would be public: remove it / {field} 含个人信息，公开前请删除",
            kind.name()
        ),
        leaks: found
            .iter()
            .map(|(place, kind)| LeakAt {
                part: "metadata",
                column: None,
                row: None,
                place: Some(place.clone()),
                kind: *kind,
            })
            .collect(),
    })
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
