//! Keeps the public search index in step with the catalogue.
//!
//! Only what the public may see goes in: published datasets (and their data
//! dictionary), withdrawn ones (metadata only, listed with their reason) and
//! 依申请公开 ones (metadata only). Drafts and 不予公开 datasets never do.

use crate::views::DatasetSummary;
use crate::{Error, Publisher, policy};
use gongkai_catalog::search::SearchDoc;
use gongkai_catalog::{Dataset, DatasetStatus};

impl Publisher {
    /// The search document of `d`, or None when it must not be searchable.
    pub async fn search_doc(&self, d: &Dataset) -> Result<Option<SearchDoc>, Error> {
        if !policy::listed(d) {
            return Ok(None);
        }
        let mut agency_names = Vec::new();
        if let Some(slug) = &d.agency
            && let Ok(a) = self.catalog.agency(slug).await
        {
            agency_names.push(a.name);
            agency_names.extend(a.name_en);
        }
        let mut columns = Vec::new();
        let mut format = None;
        if d.status == DatasetStatus::Published
            && let Some(n) = d.latest_version
            && let Ok(v) = self.catalog.version(d.id, n).await
        {
            format = v
                .original_name
                .rsplit_once('.')
                .map(|(_, ext)| ext.to_ascii_uppercase());
            if policy::serves_data(d) {
                for c in &v.columns {
                    columns.push(c.name.clone());
                    columns.push(c.path.join(" "));
                }
            }
        }
        let year = [
            d.meta.temporal_start.as_deref(),
            d.decision_date.as_deref(),
            d.published_at.as_deref(),
        ]
        .into_iter()
        .flatten()
        .find_map(|s| s.get(..4).and_then(|y| y.parse().ok()));
        let mut description = d.description.clone().unwrap_or_default();
        if let Some(en) = &d.meta.description_en {
            description.push('\n');
            description.push_str(en);
        }
        Ok(Some(SearchDoc {
            slug: d.slug.clone(),
            title: d.title.clone(),
            title_en: d.meta.title_en.clone(),
            description,
            keywords: d.meta.keywords.clone(),
            columns,
            agency: d.agency.clone(),
            agency_names,
            themes: d.meta.themes.clone(),
            year,
            format,
            disclosure: d.disclosure.as_str().to_string(),
            status: d.status.as_str().to_string(),
            updated: d.updated_at.clone(),
            summary: serde_json::to_value(DatasetSummary::of(d)).map_err(Error::internal)?,
        }))
    }

    /// Brings one dataset's entry up to date (after create, edit, publish, withdraw).
    pub async fn reindex(&self, slug: &str) {
        let doc = match self.catalog.dataset(slug).await {
            Ok(d) => self.search_doc(&d).await,
            Err(gongkai_catalog::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        };
        match doc {
            Ok(Some(doc)) => {
                if let Ok(mut ix) = self.search.write() {
                    ix.upsert(doc);
                }
            }
            Ok(None) => {
                if let Ok(mut ix) = self.search.write() {
                    ix.remove(slug);
                }
            }
            Err(e) => tracing::warn!(dataset = slug, error = %e, "search index not updated"),
        }
    }

    /// Rebuilds the whole index from the catalogue (at start-up).
    pub async fn rebuild_search(&self) -> Result<usize, Error> {
        let mut docs = Vec::new();
        let mut offset = 0;
        loop {
            let (page, _) = self.catalog.list_datasets(true, 1000, offset).await?;
            if page.is_empty() {
                break;
            }
            offset += page.len() as i64;
            for d in &page {
                if let Some(doc) = self.search_doc(d).await? {
                    docs.push(doc);
                }
            }
        }
        let n = docs.len();
        let mut fresh = gongkai_catalog::search::SearchIndex::new();
        for doc in docs {
            fresh.upsert(doc);
        }
        if let Ok(mut ix) = self.search.write() {
            *ix = fresh;
        }
        Ok(n)
    }
}
