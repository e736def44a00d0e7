//! Object storage: built from a URL in one place, and the key layout.
//!
//! - `raw/<agency>/<upload-id>/<file>`: uploads as received (private).
//! - `drafts/<dataset-id>/<upload-id>/part-0.parquet`: ingested drafts (private).
//! - `datasets/<dataset-id>/v<n>/part-0.parquet`: published versions (public, immutable).

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;

use std::sync::Arc;

/// The object store URL could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreUrlError {
    /// Unknown scheme or malformed URL.
    #[error(
        "unsupported object store URL {0:?}: use file:///path, s3://bucket/prefix or memory://"
    )]
    Unsupported(String),
    /// The local directory could not be created.
    #[error("cannot create the store directory {path}: {source}")]
    Io {
        /// Directory.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The store rejected its configuration.
    #[error("object store configuration: {0}")]
    Store(#[from] object_store::Error),
}

/// Builds the object store for `url`. S3 credentials, region and endpoint come
/// from the usual `AWS_*` variables (`AWS_ENDPOINT`, `AWS_ALLOW_HTTP` for
/// S3-compatible servers).
pub fn from_url(url: &str) -> Result<Arc<dyn ObjectStore>, StoreUrlError> {
    if url == "memory://" || url == "memory:" {
        return Ok(Arc::new(InMemory::new()));
    }
    if let Some(path) = url.strip_prefix("file://") {
        std::fs::create_dir_all(path).map_err(|source| StoreUrlError::Io {
            path: path.to_string(),
            source,
        })?;
        return Ok(Arc::new(LocalFileSystem::new_with_prefix(path)?));
    }
    #[cfg(feature = "s3")]
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreUrlError::Unsupported(url.to_string()));
        }
        let s3 = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()?;
        let prefix = prefix.trim_matches('/');
        return Ok(if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
        });
    }
    Err(StoreUrlError::Unsupported(url.to_string()))
}

/// Private key of a raw upload.
pub fn raw_key(agency: Option<&str>, upload_id: &str, file_name: &str) -> String {
    format!(
        "raw/{}/{upload_id}/{}",
        agency.unwrap_or("_"),
        safe_file_name(file_name)
    )
}

/// Private key of a draft's Parquet.
pub fn draft_key(dataset_id: i64, upload_id: &str) -> String {
    format!("drafts/{dataset_id}/{upload_id}/part-0.parquet")
}

/// Public key of a published version's Parquet.
pub fn public_key(dataset_id: i64, version: i64) -> String {
    format!("datasets/{dataset_id}/v{version}/part-0.parquet")
}

/// A file name reduced to characters that are safe in object keys.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let cleaned = cleaned.trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "upload".into()
    } else {
        cleaned
    }
}

/// Local directory for spooled uploads and drafts being written:
/// `DATA_DIR/tmp` (files in it live only while one ingest runs).
pub fn spool_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("tmp")
}

/// Removes spool files a killed process left behind; returns how many.
pub fn clear_spool(data_dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(spool_dir(data_dir)) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("gk-"))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(public_key(7, 3), "datasets/7/v3/part-0.parquet");
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("预算 表.xlsx"), "预算_表.xlsx");
        assert_eq!(safe_file_name(".."), "upload");
        assert!(raw_key(None, "u1", "a.csv").starts_with("raw/_/u1/"));
    }

    #[test]
    fn urls() {
        assert!(from_url("memory://").is_ok());
        assert!(from_url("ftp://x").is_err());
        let dir = tempfile::tempdir().unwrap();
        assert!(from_url(&format!("file://{}/store", dir.path().display())).is_ok());
    }
}
