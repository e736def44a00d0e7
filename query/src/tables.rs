//! What SQL can read, described: every published dataset as a table, with
//! its columns (type, unit, original header path) and pinned versions.

use crate::{QueryEngine, Result};
use gongkai_catalog::PublishedTable;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One column of a table.
#[derive(Debug, Clone, Serialize)]
pub struct TableColumn {
    /// SQL name.
    pub name: String,
    /// Arrow type as displayed (`Utf8`, `Decimal128(18, 2)` …).
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether it may hold nulls.
    pub nullable: bool,
    /// Unit of its values.
    pub unit: Option<String>,
    /// The original header path.
    pub path: Option<Vec<String>>,
}

/// One pinned version of a table (`slug@v2`).
#[derive(Debug, Clone, Serialize)]
pub struct TableVersion {
    /// Version number.
    pub version: i64,
    /// Its SQL name.
    pub name: String,
}

/// A table SQL can read.
#[derive(Debug, Clone, Serialize)]
pub struct TableInfo {
    /// SQL name (the dataset's slug).
    pub name: String,
    /// The version the plain name reads (the latest).
    pub version: i64,
    /// Every published version.
    pub versions: Vec<TableVersion>,
    /// The latest version's columns.
    pub columns: Vec<TableColumn>,
    /// The dataset's API address.
    pub dataset: String,
    /// Its row API address.
    pub rows: String,
}

impl QueryEngine {
    /// The tables of `published` (every served version), one per dataset,
    /// described by its latest version's schema.
    pub async fn tables(self: &Arc<Self>, published: &[PublishedTable]) -> Result<Vec<TableInfo>> {
        let mut by_slug: BTreeMap<&str, Vec<&PublishedTable>> = BTreeMap::new();
        for t in published {
            by_slug.entry(t.slug.as_str()).or_default().push(t);
        }
        let mut out = Vec::new();
        for (slug, versions) in by_slug {
            let Some(latest) = versions.iter().find(|t| t.is_latest) else {
                continue;
            };
            let schema = self.schema_of(latest).await?;
            let columns = schema
                .fields()
                .iter()
                .map(|f| {
                    let meta = f.metadata();
                    TableColumn {
                        name: f.name().clone(),
                        data_type: f.data_type().to_string(),
                        nullable: f.is_nullable(),
                        unit: meta.get("gongkai:unit").cloned(),
                        path: meta
                            .get("gongkai:path")
                            .and_then(|p| serde_json::from_str(p).ok()),
                    }
                })
                .collect();
            out.push(TableInfo {
                name: slug.to_string(),
                version: latest.version,
                versions: versions
                    .iter()
                    .map(|t| TableVersion {
                        version: t.version,
                        name: format!("{slug}@v{}", t.version),
                    })
                    .collect(),
                columns,
                dataset: format!("/api/v1/datasets/{slug}"),
                rows: format!("/api/v1/datasets/{slug}/rows"),
            });
        }
        Ok(out)
    }
}
