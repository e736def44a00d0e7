//! Full-text search over the public catalogue, in Chinese and English.
//!
//! An in-memory inverted index: text is segmented with jieba (search mode, so
//! 低保发放名册 yields 低保, 发放, 名册) and split into lowercase words for
//! Latin text; documents are ranked with BM25 over weighted fields (title ×3,
//! keywords ×2, agency ×1.5, description and column names ×1). Every query
//! term must match. Facets (agency, theme, year, format, disclosure, status)
//! are counted over the matching set after filters. The index holds only what
//! the public may see: the server adds published and withdrawn datasets
//! (withdrawn ones without their data dictionary) and never drafts or
//! 不予公开 datasets; it updates one dataset at a time as the catalogue changes.

use jieba_rs::Jieba;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

const K1: f32 = 1.2;
const B: f32 = 0.75;

/// What the index knows about one dataset.
#[derive(Debug, Clone, Default)]
pub struct SearchDoc {
    /// Dataset slug (the document key).
    pub slug: String,
    /// Title (Chinese).
    pub title: String,
    /// English title, description and other secondary text.
    pub title_en: Option<String>,
    /// Description in any language.
    pub description: String,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Column names, header paths and descriptions.
    pub columns: Vec<String>,
    /// Agency slug and name(s).
    pub agency: Option<String>,
    /// Agency names (Chinese and English) for matching.
    pub agency_names: Vec<String>,
    /// Theme codes.
    pub themes: Vec<String>,
    /// Year the data is about.
    pub year: Option<i32>,
    /// Source format of the current version (XLSX, CSV …).
    pub format: Option<String>,
    /// Disclosure attribute.
    pub disclosure: String,
    /// Lifecycle status (published, withdrawn).
    pub status: String,
    /// Last publication or metadata change (RFC 3339), for sorting by date.
    pub updated: String,
    /// Prebuilt JSON summary returned in results.
    pub summary: serde_json::Value,
}

/// Result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// By score (date for an empty query).
    #[default]
    Relevance,
    /// Most recently updated first.
    Date,
    /// By title.
    Name,
}

impl Sort {
    /// From `?sort=`.
    pub fn parse(s: &str) -> Option<Sort> {
        match s {
            "relevance" | "score" => Some(Sort::Relevance),
            "date" | "updated" | "modified" => Some(Sort::Date),
            "name" | "title" => Some(Sort::Name),
            _ => None,
        }
    }
}

/// A search request.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Free text (empty: everything).
    pub q: String,
    /// Agencies to keep (an agency and its sub-agencies, expanded by the caller).
    pub agencies: Option<Vec<String>>,
    /// Theme code.
    pub theme: Option<String>,
    /// Year.
    pub year: Option<i32>,
    /// Source format.
    pub format: Option<String>,
    /// Disclosure attribute.
    pub disclosure: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Order.
    pub sort: Sort,
    /// Rows to skip.
    pub offset: usize,
    /// Rows to return.
    pub limit: usize,
}

/// One facet value and how many matching datasets have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FacetCount {
    /// The value.
    pub value: String,
    /// Matching datasets with it.
    pub count: usize,
}

/// A page of results.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    /// Matching datasets in all.
    pub total: usize,
    /// Summaries of this page's datasets.
    pub hits: Vec<serde_json::Value>,
    /// Facet name → values by descending count.
    pub facets: BTreeMap<&'static str, Vec<FacetCount>>,
}

/// Field weights for scoring.
const TITLE: f32 = 3.0;
const KEYWORDS: f32 = 2.0;
const AGENCY: f32 = 1.5;
const BODY: f32 = 1.0;

/// Splits text into index terms: jieba words for Chinese, lowercase words for
/// the rest; punctuation and whitespace dropped.
pub fn terms(text: &str) -> Vec<String> {
    // snake_case identifiers (column names) as wholes; jieba splits them.
    let mut out: Vec<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.contains('_') && w.chars().any(|c| c.is_ascii_alphanumeric()))
        .map(|w| w.trim_matches('_').to_ascii_lowercase())
        .collect();
    for piece in JIEBA.cut_for_search(text, true) {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        if piece.chars().any(|c| c.is_alphanumeric() && !c.is_ascii()) {
            out.push(piece.to_lowercase());
            continue;
        }
        for word in piece
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            out.push(word.to_lowercase());
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Entry {
    doc: SearchDoc,
    /// Terms with their weighted frequency (to remove the postings again).
    terms: Vec<(String, f32)>,
    /// Weighted length.
    len: f32,
    /// Lowercased title for name sorting.
    title_key: String,
    /// Interned facet values (ids into `SearchIndex::facet_values`).
    facets: Vec<u32>,
}

/// Facet names, in the order their values are interned.
const FACETS: [&str; 6] = ["agency", "theme", "year", "format", "disclosure", "status"];

/// The in-memory index.
#[derive(Debug, Default)]
pub struct SearchIndex {
    entries: Vec<Option<Entry>>,
    by_slug: HashMap<String, usize>,
    /// Term → (entry id, weighted frequency), sorted by id.
    postings: HashMap<String, Vec<(u32, f32)>>,
    free: Vec<usize>,
    total_len: f64,
    live: usize,
    /// Interned facet values: id → (facet index, value).
    facet_values: Vec<(usize, String)>,
    facet_ids: HashMap<(usize, String), u32>,
}

impl SearchIndex {
    /// An empty index.
    pub fn new() -> Self {
        SearchIndex::default()
    }

    /// Datasets in the index.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn intern(&mut self, facet: usize, value: &str) -> u32 {
        let key = (facet, value.to_string());
        if let Some(id) = self.facet_ids.get(&key) {
            return *id;
        }
        let id = self.facet_values.len() as u32;
        self.facet_values.push(key.clone());
        self.facet_ids.insert(key, id);
        id
    }

    /// Adds or replaces a dataset.
    pub fn upsert(&mut self, doc: SearchDoc) {
        self.remove(&doc.slug);
        let mut tf: HashMap<String, f32> = HashMap::new();
        let mut add = |text: &str, w: f32| {
            for t in terms(text) {
                *tf.entry(t).or_insert(0.0) += w;
            }
        };
        add(&doc.title, TITLE);
        add(&doc.slug.replace('-', " "), TITLE);
        if let Some(t) = &doc.title_en {
            add(t, TITLE);
        }
        for k in &doc.keywords {
            add(k, KEYWORDS);
        }
        for a in &doc.agency_names {
            add(a, AGENCY);
        }
        add(&doc.description, BODY);
        for c in &doc.columns {
            add(c, BODY);
        }
        let len: f32 = tf.values().sum();
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.entries.push(None);
                self.entries.len() - 1
            }
        };
        for (term, f) in &tf {
            let list = self.postings.entry(term.clone()).or_default();
            // Ids are reused, so keep each posting list sorted.
            let at = list.partition_point(|(x, _)| (*x as usize) < id);
            list.insert(at, (id as u32, *f));
        }
        let mut facets = Vec::new();
        if let Some(a) = &doc.agency {
            facets.push(self.intern(0, a));
        }
        for t in &doc.themes {
            facets.push(self.intern(1, t));
        }
        if let Some(y) = doc.year {
            facets.push(self.intern(2, &y.to_string()));
        }
        if let Some(f) = &doc.format {
            facets.push(self.intern(3, f));
        }
        facets.push(self.intern(4, &doc.disclosure));
        facets.push(self.intern(5, &doc.status));
        self.total_len += f64::from(len);
        self.live += 1;
        self.by_slug.insert(doc.slug.clone(), id);
        let title_key = doc.title.to_lowercase();
        self.entries[id] = Some(Entry {
            doc,
            terms: tf.into_iter().collect(),
            len,
            title_key,
            facets,
        });
    }

    /// Removes a dataset (no-op if absent).
    pub fn remove(&mut self, slug: &str) {
        let Some(id) = self.by_slug.remove(slug) else {
            return;
        };
        let Some(entry) = self.entries.get_mut(id).and_then(Option::take) else {
            return;
        };
        for (term, _) in &entry.terms {
            if let Some(list) = self.postings.get_mut(term) {
                if let Ok(at) = list.binary_search_by_key(&(id as u32), |(x, _)| *x) {
                    list.remove(at);
                }
                if list.is_empty() {
                    self.postings.remove(term);
                }
            }
        }
        self.total_len -= f64::from(entry.len);
        self.live -= 1;
        self.free.push(id);
    }

    fn keep(&self, e: &Entry, q: &SearchQuery) -> bool {
        let d = &e.doc;
        q.agencies
            .as_ref()
            .is_none_or(|list| d.agency.as_ref().is_some_and(|a| list.contains(a)))
            && q.theme.as_ref().is_none_or(|t| d.themes.contains(t))
            && q.year.is_none_or(|y| d.year == Some(y))
            && q.format
                .as_ref()
                .is_none_or(|f| d.format.as_ref().is_some_and(|x| x.eq_ignore_ascii_case(f)))
            && q.disclosure.as_ref().is_none_or(|x| d.disclosure == *x)
            && q.status.as_ref().is_none_or(|x| d.status == *x)
    }

    /// Runs a search.
    pub fn search(&self, q: &SearchQuery) -> SearchResult {
        let words: Vec<String> = {
            let mut w = terms(&q.q);
            w.sort();
            w.dedup();
            w
        };
        let n = self.live.max(1) as f32;
        let avg = ((self.total_len / self.live.max(1) as f64) as f32).max(1.0);
        // Candidates and their BM25 scores, accumulated over the posting lists
        // into dense arrays (every word must match).
        let mut matched: Vec<(usize, f32)> = Vec::new();
        if words.is_empty() {
            matched.extend(
                self.entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.is_some())
                    .map(|(i, _)| (i, 0.0)),
            );
        } else {
            let lists: Option<Vec<&Vec<(u32, f32)>>> =
                words.iter().map(|w| self.postings.get(w)).collect();
            if let Some(lists) = lists {
                let mut seen = vec![0u16; self.entries.len()];
                let mut score = vec![0f32; self.entries.len()];
                for list in &lists {
                    let df = list.len() as f32;
                    let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                    for (id, f) in list.iter() {
                        let id = *id as usize;
                        let len = self.entries[id].as_ref().map_or(avg, |e| e.len);
                        seen[id] += 1;
                        score[id] += idf * f * (K1 + 1.0) / (f + K1 * (1.0 - B + B * len / avg));
                    }
                }
                let need = lists.len() as u16;
                matched.extend(
                    seen.iter()
                        .enumerate()
                        .filter(|(_, c)| **c == need)
                        .map(|(i, _)| (i, score[i])),
                );
            }
        }
        let filtered = q.agencies.is_some()
            || q.theme.is_some()
            || q.year.is_some()
            || q.format.is_some()
            || q.disclosure.is_some()
            || q.status.is_some();
        if filtered {
            matched.retain(|(id, _)| self.entries[*id].as_ref().is_some_and(|e| self.keep(e, q)));
        }
        let mut counts = vec![0usize; self.facet_values.len()];
        for (id, _) in &matched {
            if let Some(e) = &self.entries[*id] {
                for v in &e.facets {
                    counts[*v as usize] += 1;
                }
            }
        }
        let total = matched.len();
        let entry = |id: usize| self.entries[id].as_ref();
        let by_date = |a: &(usize, f32), b: &(usize, f32)| {
            let (x, y) = (entry(a.0), entry(b.0));
            y.map(|e| &e.doc.updated)
                .cmp(&x.map(|e| &e.doc.updated))
                .then_with(|| a.0.cmp(&b.0))
        };
        let sort = match q.sort {
            Sort::Relevance if words.is_empty() => Sort::Date,
            s => s,
        };
        let cmp = |a: &(usize, f32), b: &(usize, f32)| match sort {
            Sort::Relevance => b.1.total_cmp(&a.1).then_with(|| by_date(a, b)),
            Sort::Date => by_date(a, b),
            Sort::Name => entry(a.0)
                .map(|e| &e.title_key)
                .cmp(&entry(b.0).map(|e| &e.title_key))
                .then_with(|| a.0.cmp(&b.0)),
        };
        let end = q.offset.saturating_add(q.limit).min(total);
        if end > 0 && end < total {
            matched.select_nth_unstable_by(end - 1, cmp);
            matched.truncate(end);
        }
        matched.sort_by(cmp);
        let hits = matched
            .iter()
            .skip(q.offset)
            .take(q.limit)
            .filter_map(|(id, _)| entry(*id).map(|e| e.doc.summary.clone()))
            .collect();
        let mut facets: BTreeMap<&'static str, Vec<FacetCount>> = BTreeMap::new();
        for (vid, count) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            let (facet, value) = &self.facet_values[vid];
            facets.entry(FACETS[*facet]).or_default().push(FacetCount {
                value: value.clone(),
                count: *count,
            });
        }
        for values in facets.values_mut() {
            values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        }
        SearchResult {
            total,
            hits,
            facets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(slug: &str, title: &str, agency: &str, theme: &str, updated: &str) -> SearchDoc {
        SearchDoc {
            slug: slug.into(),
            title: title.into(),
            agency: Some(agency.into()),
            agency_names: vec![format!("{agency}局")],
            themes: vec![theme.into()],
            year: Some(2024),
            format: Some("XLSX".into()),
            disclosure: "public".into(),
            status: "published".into(),
            updated: updated.into(),
            summary: serde_json::json!({"slug": slug}),
            ..SearchDoc::default()
        }
    }

    fn slugs(r: &SearchResult) -> Vec<&str> {
        r.hits.iter().map(|h| h["slug"].as_str().unwrap()).collect()
    }

    #[test]
    fn segments_chinese_and_english() {
        let t = terms("2024年城关镇低保发放名册 Air quality PM2.5 ke_mu_bian_ma");
        for want in [
            "低保",
            "名册",
            "城关镇",
            "air",
            "quality",
            "ke_mu_bian_ma",
            "bian",
        ] {
            assert!(t.contains(&want.to_string()), "{want} not in {t:?}");
        }
    }

    #[test]
    fn finds_ranks_filters_counts_and_forgets() {
        let mut ix = SearchIndex::new();
        ix.upsert(doc(
            "a",
            "2024年城关镇低保发放名册",
            "civil",
            "social_assistance",
            "2024-03-01",
        ));
        ix.upsert(doc(
            "b",
            "2024年部门预算",
            "finance",
            "budget",
            "2024-02-01",
        ));
        ix.upsert(SearchDoc {
            description: "城关镇 低保 对象".into(),
            ..doc(
                "c",
                "社会救助资金",
                "civil",
                "social_assistance",
                "2024-01-01",
            )
        });
        let q = |text: &str| SearchQuery {
            q: text.into(),
            limit: 10,
            ..SearchQuery::default()
        };
        let r = ix.search(&q("低保名册"));
        assert_eq!(slugs(&r), vec!["a"]);
        let r = ix.search(&q("低保"));
        assert_eq!(
            slugs(&r),
            vec!["a", "c"],
            "title matches rank above description"
        );
        assert_eq!(
            r.facets["agency"],
            vec![FacetCount {
                value: "civil".into(),
                count: 2
            }]
        );
        let r = ix.search(&SearchQuery {
            theme: Some("budget".into()),
            ..q("")
        });
        assert_eq!(slugs(&r), vec!["b"]);
        let r = ix.search(&q(""));
        assert_eq!(
            slugs(&r),
            vec!["a", "b", "c"],
            "newest first without a query"
        );
        let r = ix.search(&SearchQuery {
            sort: Sort::Name,
            offset: 1,
            limit: 1,
            ..q("")
        });
        assert_eq!(r.total, 3);
        assert_eq!(slugs(&r), vec!["b"]);
        ix.remove("a");
        assert_eq!(slugs(&ix.search(&q("低保"))), vec!["c"]);
        ix.upsert(doc("a", "预算执行情况", "finance", "budget", "2024-05-01"));
        assert_eq!(slugs(&ix.search(&q("低保"))), vec!["c"]);
        assert_eq!(slugs(&ix.search(&q("预算"))).len(), 2);
        assert_eq!(ix.len(), 3);
    }
}
