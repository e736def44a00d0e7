//! Standard catalogue feeds built from the public catalogue: DCAT-AP 3 (as an
//! RDF graph serialised to JSON-LD and Turtle), DCAT-US 1.1 `data.json`,
//! `sitemap.xml`, the 政务信息公开目录 (government information disclosure
//! catalogue) rows and CSV, and a schema.org `Dataset` object per dataset.
//!
//! Everything here is pure: datasets, agencies and the public base URL in,
//! text or JSON out. Only datasets the public may see are ever described:
//! drafts and 不予公开 (not public) datasets are skipped even when passed in.

use crate::metadata::{FREQUENCIES, licence_url, theme};
use crate::{Agency, Dataset, DatasetStatus, Disclosure};
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

/// Title of the catalogue.
pub const CATALOG_TITLE: &str = "公开 Gongkai";

/// Contact address given in feeds unless the operator configures another.
pub const DEFAULT_CONTACT_EMAIL: &str = "opendata@example.invalid";

/// Column headers of the 政务信息公开目录.
pub const CATALOGUE_HEADERS: [&str; 11] = [
    "索引号",
    "名称",
    "内容概述",
    "生成日期",
    "发布机构",
    "公开方式",
    "公开时限/发布日期",
    "获取方式",
    "状态",
    "主题",
    "关键词",
];

/// What 获取方式 says for 依申请公开 datasets.
pub const ON_REQUEST_ACCESS: &str = "依申请公开：向发布机构提出申请";

/// Namespaces used by the DCAT-AP graph.
pub mod ns {
    /// W3C DCAT.
    pub const DCAT: &str = "http://www.w3.org/ns/dcat#";
    /// DCMI terms.
    pub const DCT: &str = "http://purl.org/dc/terms/";
    /// FOAF.
    pub const FOAF: &str = "http://xmlns.com/foaf/0.1/";
    /// vCard.
    pub const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
    /// SKOS.
    pub const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
    /// ADMS.
    pub const ADMS: &str = "http://www.w3.org/ns/adms#";
    /// ISA Core Location.
    pub const LOCN: &str = "http://www.w3.org/ns/locn#";
    /// RDF.
    pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
    /// XML Schema datatypes.
    pub const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
    /// EU authority tables (data themes, frequencies, file types …).
    pub const EU: &str = "http://publications.europa.eu/resource/authority/";
    /// IANA media types.
    pub const IANA: &str = "https://www.iana.org/assignments/media-types/";
}

const PREFIXES: &[(&str, &str)] = &[
    ("dcat", ns::DCAT),
    ("dct", ns::DCT),
    ("foaf", ns::FOAF),
    ("vcard", ns::VCARD),
    ("skos", ns::SKOS),
    ("adms", ns::ADMS),
    ("locn", ns::LOCN),
    ("rdf", ns::RDF),
    ("xsd", ns::XSD),
];

const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";

/// English labels of the EU data themes (authority table `data-theme`).
const EU_THEME_LABELS: &[(&str, &str)] = &[
    ("AGRI", "Agriculture, fisheries, forestry and food"),
    ("ECON", "Economy and finance"),
    ("EDUC", "Education, culture and sport"),
    ("ENER", "Energy"),
    ("ENVI", "Environment"),
    ("GOVE", "Government and public sector"),
    ("HEAL", "Health"),
    ("INTR", "International issues"),
    ("JUST", "Justice, legal system and public safety"),
    ("REGI", "Regions and cities"),
    ("SOCI", "Population and society"),
    ("TECH", "Science and technology"),
    ("TRAN", "Transport"),
];

/// The data files a published dataset serves: (EU file type, extension, media type, label).
const FORMATS: &[(&str, &str, &str, &str)] = &[
    (
        "PARQUET",
        "parquet",
        "application/vnd.apache.parquet",
        "Parquet",
    ),
    ("CSV", "csv", "text/csv", "CSV"),
];

fn is_listed(d: &Dataset) -> bool {
    d.is_listed()
}

fn serves_data(d: &Dataset) -> bool {
    d.serves_data()
}

// ---------------------------------------------------------------------------
// RDF graph and its serialisations
// ---------------------------------------------------------------------------

/// An RDF term.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Term {
    /// An absolute IRI.
    Iri(String),
    /// A blank node, by label (without `_:`).
    Blank(String),
    /// A literal with an optional language tag or datatype IRI (neither: `xsd:string`).
    Literal {
        /// Lexical form.
        value: String,
        /// Language tag.
        lang: Option<String>,
        /// Datatype IRI.
        datatype: Option<String>,
    },
}

impl Term {
    /// An IRI term.
    pub fn iri(s: impl Into<String>) -> Term {
        Term::Iri(s.into())
    }

    /// A plain string literal.
    pub fn string(s: impl Into<String>) -> Term {
        Term::Literal {
            value: s.into(),
            lang: None,
            datatype: None,
        }
    }

    /// A language-tagged literal.
    pub fn lang(s: impl Into<String>, tag: &str) -> Term {
        Term::Literal {
            value: s.into(),
            lang: Some(tag.to_string()),
            datatype: None,
        }
    }

    /// A typed literal.
    pub fn typed(s: impl Into<String>, datatype: &str) -> Term {
        Term::Literal {
            value: s.into(),
            lang: None,
            datatype: Some(datatype.to_string()),
        }
    }
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triple {
    /// Subject (IRI or blank node).
    pub subject: Term,
    /// Predicate IRI.
    pub predicate: String,
    /// Object.
    pub object: Term,
}

/// A small RDF graph that keeps statements in insertion order.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    triples: Vec<Triple>,
    blanks: usize,
    described: BTreeSet<String>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// A fresh blank node.
    pub fn blank(&mut self) -> Term {
        self.blanks += 1;
        Term::Blank(format!("b{}", self.blanks))
    }

    /// Adds a statement.
    pub fn add(&mut self, subject: &Term, predicate: &str, object: Term) {
        self.triples.push(Triple {
            subject: subject.clone(),
            predicate: predicate.to_string(),
            object,
        });
    }

    /// Adds `subject rdf:type class`.
    pub fn add_type(&mut self, subject: &Term, class: &str) {
        self.add(subject, RDF_TYPE, Term::iri(class));
    }

    /// Marks an IRI as described; false if it already was (so shared
    /// resources such as vocabulary concepts are typed once).
    fn first_time(&mut self, iri: &str) -> bool {
        self.described.insert(iri.to_string())
    }

    /// All statements in insertion order.
    pub fn triples(&self) -> &[Triple] {
        &self.triples
    }

    /// Statements grouped by subject, subjects in order of first appearance.
    fn by_subject(&self) -> Vec<(&Term, Vec<&Triple>)> {
        let mut index: HashMap<&Term, usize> = HashMap::new();
        let mut out: Vec<(&Term, Vec<&Triple>)> = Vec::new();
        for t in &self.triples {
            let i = *index.entry(&t.subject).or_insert_with(|| {
                out.push((&t.subject, Vec::new()));
                out.len() - 1
            });
            out[i].1.push(t);
        }
        out
    }

    /// The graph as Turtle (UTF-8; strings escaped per the Turtle grammar).
    pub fn to_turtle(&self) -> String {
        let mut out = String::new();
        for (prefix, iri) in PREFIXES {
            let _ = writeln!(out, "@prefix {prefix}: <{}> .", turtle_iri_body(iri));
        }
        for (subject, triples) in self.by_subject() {
            out.push('\n');
            out.push_str(&turtle_term(subject));
            for (i, t) in triples.iter().enumerate() {
                out.push_str(if i == 0 { " " } else { " ;\n    " });
                if t.predicate == RDF_TYPE {
                    out.push('a');
                } else {
                    out.push_str(&turtle_name(&t.predicate));
                }
                out.push(' ');
                match &t.object {
                    Term::Iri(class) if t.predicate == RDF_TYPE => {
                        out.push_str(&turtle_name(class))
                    }
                    object => out.push_str(&turtle_term(object)),
                }
            }
            out.push_str(" .\n");
        }
        out
    }

    /// The graph as JSON-LD: an `@context` of prefixes and a flat `@graph` of
    /// node objects (compact IRIs for properties and classes, absolute IRIs
    /// for node identifiers).
    pub fn to_jsonld(&self) -> Value {
        let mut context = Map::new();
        for (prefix, iri) in PREFIXES {
            context.insert((*prefix).to_string(), json!(iri));
        }
        let mut nodes = Vec::new();
        for (subject, triples) in self.by_subject() {
            let mut node = Map::new();
            node.insert("@id".into(), json!(jsonld_id(subject)));
            let mut types = Vec::new();
            for t in triples {
                if t.predicate == RDF_TYPE
                    && let Term::Iri(class) = &t.object
                {
                    types.push(json!(compact(class)));
                    continue;
                }
                let value = match &t.object {
                    Term::Iri(_) | Term::Blank(_) => json!({"@id": jsonld_id(&t.object)}),
                    Term::Literal {
                        value,
                        lang: Some(lang),
                        ..
                    } => json!({"@value": value, "@language": lang}),
                    Term::Literal {
                        value,
                        datatype: Some(dt),
                        ..
                    } => json!({"@value": value, "@type": compact(dt)}),
                    Term::Literal { value, .. } => json!({"@value": value}),
                };
                let key = compact(&t.predicate);
                match node.get_mut(&key) {
                    Some(Value::Array(values)) => values.push(value),
                    _ => {
                        node.insert(key, json!([value]));
                    }
                }
            }
            if !types.is_empty() {
                node.insert("@type".into(), Value::Array(types));
            }
            nodes.push(Value::Object(node));
        }
        json!({"@context": context, "@graph": nodes})
    }
}

/// `prefix:local` when the IRI is in a known namespace and the local part is
/// a plain name; otherwise the IRI itself.
fn compact(iri: &str) -> String {
    for (prefix, base) in PREFIXES {
        if let Some(local) = iri.strip_prefix(base)
            && is_simple_local(local)
        {
            return format!("{prefix}:{local}");
        }
    }
    iri.to_string()
}

fn is_simple_local(local: &str) -> bool {
    let mut chars = local.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn jsonld_id(t: &Term) -> String {
    match t {
        Term::Iri(i) => i.clone(),
        Term::Blank(b) => format!("_:{b}"),
        Term::Literal { value, .. } => value.clone(),
    }
}

/// A predicate or class name in Turtle: prefixed when possible.
fn turtle_name(iri: &str) -> String {
    let c = compact(iri);
    if c == iri {
        format!("<{}>", turtle_iri_body(iri))
    } else {
        c
    }
}

/// The inside of `<…>`: characters the Turtle IRIREF production excludes are
/// written as `\u` escapes.
fn turtle_iri_body(iri: &str) -> String {
    let mut out = String::with_capacity(iri.len());
    for c in iri.chars() {
        match c {
            '\u{0}'..='\u{20}' | '<' | '>' | '"' | '{' | '}' | '|' | '^' | '`' | '\\' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A string as a Turtle `"…"` literal body: `\\`, `\"`, `\n`, `\r`, `\t`,
/// `\b`, `\f` and `\u` escapes for other control characters; everything
/// else (Chinese included) is kept as UTF-8.
pub fn turtle_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn turtle_term(t: &Term) -> String {
    match t {
        Term::Iri(i) => format!("<{}>", turtle_iri_body(i)),
        Term::Blank(b) => format!("_:{b}"),
        Term::Literal {
            value,
            lang,
            datatype,
        } => {
            let mut s = format!("\"{}\"", turtle_escape(value));
            if let Some(l) = lang {
                s.push('@');
                s.push_str(l);
            } else if let Some(dt) = datatype {
                s.push_str("^^");
                s.push_str(&turtle_name(dt));
            }
            s
        }
    }
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// An RFC 3339 timestamp normalised to seconds in UTC (`2024-06-01T08:00:00Z`),
/// valid as `xsd:dateTime`, W3C Datetime and ISO 8601.
fn datetime(ts: &str) -> Option<String> {
    chrono::DateTime::parse_from_rfc3339(ts).ok().map(|t| {
        t.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}

/// The date part (`YYYY-MM-DD`) of an RFC 3339 timestamp.
fn date_of(ts: &str) -> Option<String> {
    datetime(ts).map(|t| t[..10].to_string())
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn eu_frequency(code: &str) -> Option<&'static str> {
    FREQUENCIES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, _, eu)| *eu)
}

/// The feeds of one catalogue: its public datasets, agencies and base URL.
#[derive(Debug, Clone)]
pub struct Feeds<'a> {
    base: String,
    datasets: Vec<&'a Dataset>,
    agencies: HashMap<&'a str, &'a Agency>,
    contact_email: String,
}

impl<'a> Feeds<'a> {
    /// Feeds over `datasets` (drafts and not-public datasets are dropped
    /// here), with absolute URLs under `base_url` (e.g. `https://data.example.gov.cn`).
    pub fn new(datasets: &'a [Dataset], agencies: &'a [Agency], base_url: &str) -> Feeds<'a> {
        Feeds {
            base: base_url.trim_end_matches('/').to_string(),
            datasets: datasets.iter().filter(|d| is_listed(d)).collect(),
            agencies: agencies.iter().map(|a| (a.slug.as_str(), a)).collect(),
            contact_email: DEFAULT_CONTACT_EMAIL.to_string(),
        }
    }

    /// Sets the contact e-mail address given in contact points.
    pub fn with_contact_email(mut self, email: &str) -> Feeds<'a> {
        self.contact_email = email.trim_start_matches("mailto:").to_string();
        self
    }

    /// The datasets the feeds describe.
    pub fn datasets(&self) -> &[&'a Dataset] {
        &self.datasets
    }

    fn agency(&self, d: &Dataset) -> Option<&'a Agency> {
        d.agency
            .as_deref()
            .and_then(|s| self.agencies.get(s).copied())
    }

    /// Publishing agency's name (its slug when unknown).
    fn agency_name(&self, d: &Dataset) -> Option<String> {
        match (self.agency(d), d.agency.as_deref()) {
            (Some(a), _) => Some(a.name.clone()),
            (None, Some(slug)) => Some(slug.to_string()),
            (None, None) => None,
        }
    }

    fn dataset_url(&self, d: &Dataset) -> String {
        format!("{}/api/v1/datasets/{}", self.base, d.slug)
    }

    fn page_url(&self, d: &Dataset) -> String {
        format!("{}/datasets/{}", self.base, d.slug)
    }

    fn download_url(&self, d: &Dataset, ext: &str) -> String {
        format!("{}/api/v1/datasets/{}/data.{ext}", self.base, d.slug)
    }

    fn agency_iri(&self, slug: &str) -> String {
        format!("{}/api/v1/agencies/{slug}", self.base)
    }

    // -----------------------------------------------------------------------
    // DCAT-AP 3
    // -----------------------------------------------------------------------

    /// The DCAT-AP 3 graph: one `dcat:Catalog` and one `dcat:Dataset` per
    /// listed dataset, with agents, contact points, periods, locations and
    /// (for datasets that serve data) Parquet and CSV distributions.
    /// Vocabulary resources it refers to (EU themes, frequencies, file types,
    /// IANA media types, licences) are typed in the graph so that the
    /// DCAT-AP range shapes hold without a background graph.
    pub fn dcat_graph(&self) -> Graph {
        use ns::{ADMS, DCAT, DCT, EU, FOAF, LOCN, SKOS, VCARD, XSD};
        let mut g = Graph::new();
        let p = |ns: &str, local: &str| format!("{ns}{local}");
        let catalog = Term::iri(format!("{}/#catalog", self.base));
        g.add_type(&catalog, &p(DCAT, "Catalog"));
        g.add(&catalog, &p(DCT, "title"), Term::lang(CATALOG_TITLE, "zh"));
        g.add(
            &catalog,
            &p(DCT, "description"),
            Term::lang(
                "公开 Gongkai 政府开放数据目录：各机构主动公开和依申请公开的数据集。",
                "zh",
            ),
        );
        g.add(
            &catalog,
            &p(DCT, "description"),
            Term::lang(
                "Gongkai open government data catalogue: datasets disclosed by government agencies.",
                "en",
            ),
        );
        let platform = Term::iri(format!("{}/#publisher", self.base));
        g.add(&catalog, &p(DCT, "publisher"), platform.clone());
        g.add_type(&platform, &p(FOAF, "Agent"));
        g.add_type(&platform, &p(FOAF, "Organization"));
        g.add(&platform, &p(FOAF, "name"), Term::lang(CATALOG_TITLE, "zh"));
        let home = format!("{}/", self.base);
        g.add(&catalog, &p(FOAF, "homepage"), Term::iri(&home));
        g.add_type(&Term::iri(&home), &p(FOAF, "Document"));
        let theme_scheme = format!("{EU}data-theme");
        g.add(
            &catalog,
            &p(DCAT, "themeTaxonomy"),
            Term::iri(&theme_scheme),
        );
        g.add_type(&Term::iri(&theme_scheme), &p(SKOS, "ConceptScheme"));
        g.add(
            &Term::iri(&theme_scheme),
            &p(DCT, "title"),
            Term::lang("Data theme", "en"),
        );
        if let Some(m) = self
            .datasets
            .iter()
            .filter_map(|d| datetime(&d.updated_at))
            .max()
        {
            g.add(
                &catalog,
                &p(DCT, "modified"),
                Term::typed(m, &p(XSD, "dateTime")),
            );
        }
        for d in &self.datasets {
            let ds = Term::iri(self.dataset_url(d));
            g.add(&catalog, &p(DCAT, "dataset"), ds.clone());
        }

        for d in &self.datasets {
            let ds = Term::iri(self.dataset_url(d));
            g.add_type(&ds, &p(DCAT, "Dataset"));
            g.add(&ds, &p(DCT, "identifier"), Term::string(&d.slug));
            g.add(&ds, &p(DCT, "title"), Term::lang(&d.title, "zh"));
            if let Some(t) = nonempty(&d.meta.title_en) {
                g.add(&ds, &p(DCT, "title"), Term::lang(t, "en"));
            }
            let description = nonempty(&d.description).unwrap_or(&d.title);
            g.add(&ds, &p(DCT, "description"), Term::lang(description, "zh"));
            if let Some(t) = nonempty(&d.meta.description_en) {
                g.add(&ds, &p(DCT, "description"), Term::lang(t, "en"));
            }
            let page = Term::iri(self.page_url(d));
            g.add(&ds, &p(DCAT, "landingPage"), page.clone());
            g.add_type(&page, &p(FOAF, "Document"));

            // Publisher and contact point.
            let name = self.agency_name(d);
            if let Some(slug) = d.agency.as_deref() {
                let iri = self.agency_iri(slug);
                let agent = Term::iri(&iri);
                g.add(&ds, &p(DCT, "publisher"), agent.clone());
                if g.first_time(&iri) {
                    g.add_type(&agent, &p(FOAF, "Agent"));
                    g.add_type(&agent, &p(FOAF, "Organization"));
                    g.add(
                        &agent,
                        &p(FOAF, "name"),
                        Term::lang(name.clone().unwrap_or_else(|| slug.to_string()), "zh"),
                    );
                    if let Some(en) = self.agency(d).and_then(|a| nonempty(&a.name_en)) {
                        g.add(&agent, &p(FOAF, "name"), Term::lang(en, "en"));
                    }
                }
            }
            let contact = g.blank();
            g.add(&ds, &p(DCAT, "contactPoint"), contact.clone());
            g.add_type(&contact, &p(VCARD, "Kind"));
            g.add_type(&contact, &p(VCARD, "Organization"));
            g.add(
                &contact,
                &p(VCARD, "fn"),
                Term::lang(name.unwrap_or_else(|| CATALOG_TITLE.into()), "zh"),
            );
            g.add(
                &contact,
                &p(VCARD, "hasEmail"),
                Term::iri(format!("mailto:{}", self.contact_email)),
            );

            // Themes (several local themes may share one EU theme).
            let mut seen = BTreeSet::new();
            for code in &d.meta.themes {
                let Some(t) = theme(code) else { continue };
                if !seen.insert(t.eu) {
                    continue;
                }
                let iri = format!("{EU}data-theme/{}", t.eu);
                g.add(&ds, &p(DCAT, "theme"), Term::iri(&iri));
                if g.first_time(&iri) {
                    let c = Term::iri(&iri);
                    g.add_type(&c, &p(SKOS, "Concept"));
                    let label = EU_THEME_LABELS
                        .iter()
                        .find(|(code, _)| *code == t.eu)
                        .map_or(t.eu, |(_, l)| *l);
                    g.add(&c, &p(SKOS, "prefLabel"), Term::lang(label, "en"));
                    g.add(&c, &p(SKOS, "inScheme"), Term::iri(&theme_scheme));
                }
            }
            for k in &d.meta.keywords {
                g.add(&ds, &p(DCAT, "keyword"), Term::string(k));
            }
            if let Some(t) = d.published_at.as_deref().and_then(datetime) {
                g.add(&ds, &p(DCT, "issued"), Term::typed(t, &p(XSD, "dateTime")));
            }
            if let Some(t) = datetime(&d.updated_at) {
                g.add(
                    &ds,
                    &p(DCT, "modified"),
                    Term::typed(t, &p(XSD, "dateTime")),
                );
            }
            if let Some(eu) = d.meta.update_frequency.as_deref().and_then(eu_frequency) {
                let iri = format!("{EU}frequency/{eu}");
                g.add(&ds, &p(DCT, "accrualPeriodicity"), Term::iri(&iri));
                if g.first_time(&iri) {
                    g.add_type(&Term::iri(&iri), &p(DCT, "Frequency"));
                }
            }
            let (start, end) = (
                nonempty(&d.meta.temporal_start),
                nonempty(&d.meta.temporal_end),
            );
            if start.is_some() || end.is_some() {
                let period = g.blank();
                g.add(&ds, &p(DCT, "temporal"), period.clone());
                g.add_type(&period, &p(DCT, "PeriodOfTime"));
                if let Some(s) = start {
                    g.add(
                        &period,
                        &p(DCAT, "startDate"),
                        Term::typed(s, &p(XSD, "date")),
                    );
                }
                if let Some(e) = end {
                    g.add(
                        &period,
                        &p(DCAT, "endDate"),
                        Term::typed(e, &p(XSD, "date")),
                    );
                }
            }
            if let Some(place) = nonempty(&d.meta.spatial) {
                let location = g.blank();
                g.add(&ds, &p(DCT, "spatial"), location.clone());
                g.add_type(&location, &p(DCT, "Location"));
                g.add(
                    &location,
                    &p(LOCN, "geographicName"),
                    Term::lang(place, "zh"),
                );
            }
            let access = if d.disclosure == Disclosure::Public {
                "PUBLIC"
            } else {
                "RESTRICTED"
            };
            let access = format!("{EU}access-right/{access}");
            g.add(&ds, &p(DCT, "accessRights"), Term::iri(&access));
            if g.first_time(&access) {
                g.add_type(&Term::iri(&access), &p(DCT, "RightsStatement"));
            }
            if d.status == DatasetStatus::Withdrawn {
                let status = format!("{EU}dataset-status/WITHDRAWN");
                g.add(&ds, &p(ADMS, "status"), Term::iri(&status));
                if g.first_time(&status) {
                    let s = Term::iri(&status);
                    g.add_type(&s, &p(SKOS, "Concept"));
                    g.add(&s, &p(SKOS, "prefLabel"), Term::lang("withdrawn", "en"));
                }
                let note = match nonempty(&d.withdrawn_reason) {
                    Some(r) => format!("已撤回：{r}"),
                    None => "已撤回".to_string(),
                };
                g.add(&ds, &p(ADMS, "versionNotes"), Term::lang(note, "zh"));
            }

            if serves_data(d) {
                let licence = d
                    .meta
                    .licence
                    .as_deref()
                    .and_then(licence_url)
                    .or_else(|| licence_url(crate::metadata::DEFAULT_LICENCE));
                for (file_type, ext, media, label) in FORMATS {
                    let dist = Term::iri(format!("{}#{ext}", self.dataset_url(d)));
                    g.add(&ds, &p(DCAT, "distribution"), dist.clone());
                    g.add_type(&dist, &p(DCAT, "Distribution"));
                    g.add(
                        &dist,
                        &p(DCT, "title"),
                        Term::lang(format!("{} ({label})", d.title), "zh"),
                    );
                    let url = Term::iri(self.download_url(d, ext));
                    g.add(&dist, &p(DCAT, "accessURL"), url.clone());
                    g.add(&dist, &p(DCAT, "downloadURL"), url);
                    let format = format!("{EU}file-type/{file_type}");
                    g.add(&dist, &p(DCT, "format"), Term::iri(&format));
                    if g.first_time(&format) {
                        g.add_type(&Term::iri(&format), &p(DCT, "MediaTypeOrExtent"));
                    }
                    let media = format!("{}{media}", ns::IANA);
                    g.add(&dist, &p(DCAT, "mediaType"), Term::iri(&media));
                    if g.first_time(&media) {
                        g.add_type(&Term::iri(&media), &p(DCT, "MediaType"));
                    }
                    if let Some(l) = licence {
                        g.add(&dist, &p(DCT, "license"), Term::iri(l));
                        if g.first_time(l) {
                            g.add_type(&Term::iri(l), &p(DCT, "LicenseDocument"));
                        }
                    }
                    if let Some(t) = datetime(&d.updated_at) {
                        g.add(
                            &dist,
                            &p(DCT, "modified"),
                            Term::typed(t, &p(XSD, "dateTime")),
                        );
                    }
                }
            }
        }
        g
    }

    /// The DCAT-AP graph as Turtle.
    pub fn dcat_turtle(&self) -> String {
        self.dcat_graph().to_turtle()
    }

    /// The DCAT-AP graph as JSON-LD.
    pub fn dcat_jsonld(&self) -> Value {
        self.dcat_graph().to_jsonld()
    }

    // -----------------------------------------------------------------------
    // DCAT-US 1.1 (Project Open Data)
    // -----------------------------------------------------------------------

    fn organization(&self, slug: &str, depth: usize) -> Value {
        let a = self.agencies.get(slug);
        let mut org = json!({
            "@type": "org:Organization",
            "name": a.map_or(slug, |a| a.name.as_str()),
        });
        if depth < 8
            && let Some(parent) = a.and_then(|a| a.parent.as_deref())
        {
            org["subOrganizationOf"] = self.organization(parent, depth + 1);
        }
        org
    }

    /// DCAT-US 1.1 `data.json`.
    pub fn data_json(&self) -> Value {
        let datasets: Vec<Value> = self
            .datasets
            .iter()
            .map(|d| {
                let name = self.agency_name(d).unwrap_or_else(|| CATALOG_TITLE.into());
                let publisher = match d.agency.as_deref() {
                    Some(slug) => self.organization(slug, 0),
                    None => json!({"@type": "org:Organization", "name": CATALOG_TITLE}),
                };
                let themes: Vec<&str> = d
                    .meta
                    .themes
                    .iter()
                    .filter_map(|t| theme(t).map(|t| t.zh))
                    .collect();
                let mut keywords: Vec<String> = d.meta.keywords.clone();
                if keywords.is_empty() {
                    keywords = themes.iter().map(|t| t.to_string()).collect();
                }
                if keywords.is_empty() {
                    // DCAT-US requires at least one keyword.
                    keywords.push(name.clone());
                }
                let mut out = json!({
                    "@type": "dcat:Dataset",
                    "identifier": d.slug,
                    "title": d.title,
                    "description": nonempty(&d.description).unwrap_or(&d.title),
                    "keyword": keywords,
                    "modified": datetime(&d.updated_at).unwrap_or_else(|| d.updated_at.clone()),
                    "publisher": publisher,
                    "contactPoint": {
                        "@type": "vcard:Contact",
                        "fn": name,
                        "hasEmail": format!("mailto:{}", self.contact_email),
                    },
                    "landingPage": self.page_url(d),
                    "language": ["zh"],
                });
                let (level, rights) = match (d.status, d.disclosure) {
                    (DatasetStatus::Withdrawn, _) => (
                        "non-public",
                        Some(match nonempty(&d.withdrawn_reason) {
                            Some(r) => format!("已撤回：{r}"),
                            None => "已撤回".to_string(),
                        }),
                    ),
                    (_, Disclosure::OnRequest) => (
                        "restricted public",
                        Some(match nonempty(&d.disclosure_reason) {
                            Some(r) => format!("{ON_REQUEST_ACCESS}（{r}）"),
                            None => ON_REQUEST_ACCESS.to_string(),
                        }),
                    ),
                    _ => ("public", None),
                };
                out["accessLevel"] = json!(level);
                if let Some(r) = rights {
                    out["rights"] = json!(r);
                }
                if let Some(t) = d.published_at.as_deref().and_then(datetime) {
                    out["issued"] = json!(t);
                }
                if !themes.is_empty() {
                    out["theme"] = json!(themes);
                }
                if let (Some(s), Some(e)) = (
                    nonempty(&d.meta.temporal_start),
                    nonempty(&d.meta.temporal_end),
                ) {
                    out["temporal"] = json!(format!("{s}/{e}"));
                }
                if let Some(s) = nonempty(&d.meta.spatial) {
                    out["spatial"] = json!(s);
                }
                let periodicity = match d.meta.update_frequency.as_deref() {
                    Some("daily") => Some("R/P1D"),
                    Some("weekly") => Some("R/P1W"),
                    Some("monthly") => Some("R/P1M"),
                    Some("quarterly") => Some("R/P3M"),
                    Some("annual") => Some("R/P1Y"),
                    Some("irregular") => Some("irregular"),
                    _ => None,
                };
                if let Some(p) = periodicity {
                    out["accrualPeriodicity"] = json!(p);
                }
                if serves_data(d) {
                    if let Some(l) = d.meta.licence.as_deref().and_then(licence_url) {
                        out["license"] = json!(l);
                    }
                    out["distribution"] = json!(
                        FORMATS
                            .iter()
                            .map(|(_, ext, media, label)| json!({
                                "@type": "dcat:Distribution",
                                "title": label,
                                "format": label,
                                "mediaType": media,
                                "downloadURL": self.download_url(d, ext),
                            }))
                            .collect::<Vec<_>>()
                    );
                }
                out
            })
            .collect();
        json!({
            "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld",
            "@id": format!("{}/data.json", self.base),
            "@type": "dcat:Catalog",
            "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
            "describedBy": "https://project-open-data.cio.gov/v1.1/schema/catalog.json",
            "dataset": datasets,
        })
    }

    // -----------------------------------------------------------------------
    // sitemap.xml
    // -----------------------------------------------------------------------

    /// A sitemaps.org `urlset`: the home page, then each dataset's page and
    /// its API URL, with `lastmod`.
    pub fn sitemap(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
        );
        let url = |out: &mut String, loc: &str, lastmod: Option<&str>| {
            let _ = write!(out, "  <url><loc>{}</loc>", xml_escape(loc));
            if let Some(m) = lastmod {
                let _ = write!(out, "<lastmod>{}</lastmod>", xml_escape(m));
            }
            out.push_str("</url>\n");
        };
        let newest = self
            .datasets
            .iter()
            .filter_map(|d| datetime(&d.updated_at))
            .max();
        url(&mut out, &format!("{}/", self.base), newest.as_deref());
        for d in &self.datasets {
            let m = datetime(&d.updated_at);
            url(&mut out, &self.page_url(d), m.as_deref());
            url(&mut out, &self.dataset_url(d), m.as_deref());
        }
        out.push_str("</urlset>\n");
        out
    }

    // -----------------------------------------------------------------------
    // 政务信息公开目录
    // -----------------------------------------------------------------------

    /// One row per listed dataset, in [`CATALOGUE_HEADERS`] order.
    pub fn catalogue_rows(&self) -> Vec<Vec<String>> {
        self.datasets
            .iter()
            .map(|d| {
                let produced = nonempty(&d.meta.produced_date)
                    .or(nonempty(&d.decision_date))
                    .map(str::to_string)
                    .or_else(|| date_of(&d.created_at))
                    .unwrap_or_default();
                let access = if serves_data(d) {
                    self.download_url(d, "csv")
                } else if d.disclosure == Disclosure::OnRequest {
                    ON_REQUEST_ACCESS.to_string()
                } else {
                    "已撤回，不再提供数据".to_string()
                };
                let status = match d.status {
                    DatasetStatus::Withdrawn => match nonempty(&d.withdrawn_reason) {
                        Some(r) => format!("已撤回：{r}"),
                        None => "已撤回".to_string(),
                    },
                    _ => "已发布".to_string(),
                };
                let themes: Vec<&str> = d
                    .meta
                    .themes
                    .iter()
                    .filter_map(|t| theme(t).map(|t| t.zh))
                    .collect();
                vec![
                    d.meta.index_number.clone().unwrap_or_default(),
                    d.title.clone(),
                    d.description.clone().unwrap_or_default(),
                    produced,
                    self.agency_name(d).unwrap_or_default(),
                    d.disclosure.label_zh().to_string(),
                    d.published_at
                        .as_deref()
                        .and_then(date_of)
                        .unwrap_or_default(),
                    access,
                    status,
                    themes.join("、"),
                    d.meta.keywords.join("、"),
                ]
            })
            .collect()
    }

    /// The catalogue as CSV for spreadsheet users: UTF-8 with a byte-order
    /// mark, CRLF line ends, RFC 4180 quoting; cells that a spreadsheet would
    /// read as a formula are prefixed with `'`.
    pub fn catalogue_csv(&self) -> Vec<u8> {
        let mut out = String::from("\u{feff}");
        let line = |out: &mut String, cells: &[&str]| {
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&csv_cell(c));
            }
            out.push_str("\r\n");
        };
        line(&mut out, &CATALOGUE_HEADERS);
        for row in self.catalogue_rows() {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            line(&mut out, &cells);
        }
        out.into_bytes()
    }
}

fn csv_cell(s: &str) -> String {
    let guarded;
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{s}");
        guarded.as_str()
    } else {
        s
    };
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Escapes text for XML element content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{fffe}' | '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The schema.org `Dataset` object of one dataset (for a page's
/// `<script type="application/ld+json">` and the dataset API). `base_url`
/// may be empty: links are then absolute paths.
pub fn schema_org(d: &Dataset, agency: Option<&Agency>, base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    let org = |name: &str| json!({"@type": "Organization", "name": name});
    let agency_name = agency
        .map(|a| a.name.clone())
        .or_else(|| d.agency.clone())
        .unwrap_or_else(|| CATALOG_TITLE.to_string());
    let mut out = json!({
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": format!("{base}/api/v1/datasets/{}", d.slug),
        "url": format!("{base}/datasets/{}", d.slug),
        "name": d.title,
        "description": nonempty(&d.description).unwrap_or(&d.title),
        "identifier": d.slug,
        "keywords": d.meta.keywords,
        "creator": org(&agency_name),
        "publisher": org(&agency_name),
        "isAccessibleForFree": true,
        "inLanguage": "zh",
        "dateModified": datetime(&d.updated_at).unwrap_or_else(|| d.updated_at.clone()),
    });
    if let Some(t) = nonempty(&d.meta.title_en) {
        out["alternateName"] = json!(t);
    }
    if let Some(l) = d.meta.licence.as_deref().and_then(licence_url) {
        out["license"] = json!(l);
    }
    if let Some(t) = d.published_at.as_deref().and_then(datetime) {
        out["datePublished"] = json!(t);
    }
    match (
        nonempty(&d.meta.temporal_start),
        nonempty(&d.meta.temporal_end),
    ) {
        (Some(s), Some(e)) => out["temporalCoverage"] = json!(format!("{s}/{e}")),
        (Some(s), None) => out["temporalCoverage"] = json!(format!("{s}/..")),
        (None, Some(e)) => out["temporalCoverage"] = json!(format!("../{e}")),
        (None, None) => {}
    }
    if let Some(s) = nonempty(&d.meta.spatial) {
        out["spatialCoverage"] = json!({"@type": "Place", "name": s});
    }
    if let Some(i) = nonempty(&d.meta.index_number) {
        out["identifier"] = json!([d.slug, i]);
    }
    if d.status == DatasetStatus::Withdrawn {
        out["creativeWorkStatus"] = json!("Withdrawn");
    }
    if serves_data(d) {
        out["distribution"] = json!(
            FORMATS
                .iter()
                .map(|(_, ext, media, _)| json!({
                    "@type": "DataDownload",
                    "encodingFormat": media,
                    "contentUrl": format!("{base}/api/v1/datasets/{}/data.{ext}", d.slug),
                }))
                .collect::<Vec<_>>()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metadata;

    fn dataset(slug: &str, title: &str, status: DatasetStatus, disclosure: Disclosure) -> Dataset {
        Dataset {
            id: 1,
            slug: slug.into(),
            title: title.into(),
            description: Some("说明 \"引号\" \\ 反斜杠\n第二行".into()),
            agency: Some("county".into()),
            status,
            latest_version: Some(1),
            created_at: "2024-06-01T08:00:00.123Z".into(),
            updated_at: "2024-06-02T09:30:00.456Z".into(),
            published_at: Some("2024-06-02T09:30:00.456Z".into()),
            disclosure,
            disclosure_reason: None,
            decision_date: Some("2024-05-30".into()),
            withdrawn_reason: (status == DatasetStatus::Withdrawn).then(|| "数据有误".into()),
            withdrawn_at: None,
            category: "other".into(),
            meta: Metadata {
                title_en: Some("Relief list".into()),
                themes: vec!["social_assistance".into(), "subsidy".into()],
                keywords: vec!["低保".into(), "=cmd".into()],
                licence: Some("CC-BY-4.0".into()),
                update_frequency: Some("monthly".into()),
                temporal_start: Some("2024-01-01".into()),
                temporal_end: Some("2024-12-31".into()),
                spatial: Some("城关镇".into()),
                index_number: Some("000014349/2024-00031".into()),
                ..Metadata::default()
            },
            revision: 1,
        }
    }

    fn agencies() -> Vec<Agency> {
        vec![Agency {
            slug: "county".into(),
            name: "某县民政局".into(),
            name_en: Some("County Civil Affairs".into()),
            parent: None,
            kind: None,
            review_required: true,
        }]
    }

    fn sample() -> Vec<Dataset> {
        vec![
            dataset(
                "relief",
                "低保名册",
                DatasetStatus::Published,
                Disclosure::Public,
            ),
            dataset(
                "asked",
                "依申请数据",
                DatasetStatus::Published,
                Disclosure::OnRequest,
            ),
            dataset(
                "gone",
                "撤回的数据",
                DatasetStatus::Withdrawn,
                Disclosure::Public,
            ),
            dataset(
                "secret-draft",
                "草稿标题",
                DatasetStatus::Draft,
                Disclosure::Public,
            ),
            dataset(
                "internal",
                "内部数据",
                DatasetStatus::Published,
                Disclosure::NotPublic,
            ),
        ]
    }

    #[test]
    fn turtle_escapes_strings_and_keeps_chinese() {
        assert_eq!(
            turtle_escape("a\"b\\c\nd\re\tf\u{1}g中文"),
            "a\\\"b\\\\c\\nd\\re\\tf\\u0001g中文"
        );
        let mut g = Graph::new();
        let s = Term::iri("http://example.org/a b>");
        g.add(
            &s,
            "http://purl.org/dc/terms/title",
            Term::lang("公开\"x\"", "zh"),
        );
        g.add(
            &s,
            "http://example.org/p#q-r",
            Term::typed("1", &format!("{}integer", ns::XSD)),
        );
        let ttl = g.to_turtle();
        assert!(
            ttl.contains("<http://example.org/a\\u0020b\\u003E> dct:title \"公开\\\"x\\\"\"@zh ;"),
            "{ttl}"
        );
        assert!(
            ttl.contains("<http://example.org/p#q-r> \"1\"^^xsd:integer ."),
            "{ttl}"
        );
    }

    #[test]
    fn drafts_and_not_public_are_never_described() {
        let ds = sample();
        let ag = agencies();
        let f = Feeds::new(&ds, &ag, "https://data.example.gov.cn/");
        let outputs = [
            f.dcat_turtle(),
            f.dcat_jsonld().to_string(),
            f.data_json().to_string(),
            f.sitemap(),
            String::from_utf8(f.catalogue_csv()).unwrap(),
        ];
        for o in &outputs {
            for hidden in ["secret-draft", "草稿标题", "internal", "内部数据"] {
                assert!(!o.contains(hidden), "{hidden} leaked into {o}");
            }
            for (slug, title) in [
                ("relief", "低保名册"),
                ("asked", "依申请数据"),
                ("gone", "撤回的数据"),
            ] {
                assert!(
                    o.contains(slug) || o.contains(title),
                    "{title} missing from {o}"
                );
            }
        }
        assert_eq!(f.catalogue_rows().len(), 3);
    }

    #[test]
    fn dcat_graph_has_distributions_only_for_served_data() {
        let ds = sample();
        let ag = agencies();
        let f = Feeds::new(&ds, &ag, "https://data.example.gov.cn");
        let g = f.dcat_graph();
        let dist = format!("{}distribution", ns::DCAT);
        let with_dist: BTreeSet<String> = g
            .triples()
            .iter()
            .filter(|t| t.predicate == dist)
            .map(|t| match &t.subject {
                Term::Iri(i) => i.clone(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(
            with_dist.into_iter().collect::<Vec<_>>(),
            vec!["https://data.example.gov.cn/api/v1/datasets/relief".to_string()]
        );
        let ttl = g.to_turtle();
        assert!(ttl.contains("<http://publications.europa.eu/resource/authority/data-theme/SOCI>"));
        assert!(
            ttl.contains("<http://publications.europa.eu/resource/authority/frequency/MONTHLY>")
        );
        assert!(
            ttl.contains("<http://publications.europa.eu/resource/authority/file-type/PARQUET>")
        );
        assert!(ttl.contains(
            "dcat:downloadURL <https://data.example.gov.cn/api/v1/datasets/relief/data.csv>"
        ));
        assert!(ttl.contains("dcat:startDate \"2024-01-01\"^^xsd:date"));
        assert!(ttl.contains("dct:issued \"2024-06-02T09:30:00Z\"^^xsd:dateTime"));
        assert!(ttl.contains("\"Relief list\"@en"));
        // Two local themes map to SOCI: one theme statement, one concept description.
        assert_eq!(
            ttl.matches("data-theme/SOCI> a skos:Concept").count(),
            1,
            "{ttl}"
        );
        let jsonld = g.to_jsonld();
        let nodes = jsonld["@graph"].as_array().unwrap();
        let relief = nodes
            .iter()
            .find(|n| n["@id"] == "https://data.example.gov.cn/api/v1/datasets/relief")
            .unwrap();
        assert_eq!(relief["@type"], json!(["dcat:Dataset"]));
        assert_eq!(
            relief["dct:title"][0],
            json!({"@value": "低保名册", "@language": "zh"})
        );
        assert_eq!(relief["dcat:distribution"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn data_json_levels_and_catalogue_rows() {
        let ds = sample();
        let ag = agencies();
        let f = Feeds::new(&ds, &ag, "http://h").with_contact_email("mailto:x@y.z");
        let dj = f.data_json();
        let by_id = |id: &str| {
            dj["dataset"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["identifier"] == id)
                .unwrap()
                .clone()
        };
        assert_eq!(by_id("relief")["accessLevel"], "public");
        assert_eq!(
            by_id("relief")["distribution"][1]["downloadURL"],
            "http://h/api/v1/datasets/relief/data.csv"
        );
        assert_eq!(by_id("relief")["contactPoint"]["hasEmail"], "mailto:x@y.z");
        assert_eq!(by_id("relief")["temporal"], "2024-01-01/2024-12-31");
        assert_eq!(by_id("asked")["accessLevel"], "restricted public");
        assert!(by_id("asked").get("distribution").is_none());
        assert_eq!(by_id("gone")["accessLevel"], "non-public");

        let rows = f.catalogue_rows();
        let relief = rows.iter().find(|r| r[1] == "低保名册").unwrap();
        assert_eq!(relief[0], "000014349/2024-00031");
        assert_eq!(relief[3], "2024-05-30");
        assert_eq!(relief[4], "某县民政局");
        assert_eq!(relief[5], "主动公开");
        assert_eq!(relief[6], "2024-06-02");
        assert_eq!(relief[7], "http://h/api/v1/datasets/relief/data.csv");
        assert_eq!(relief[8], "已发布");
        assert_eq!(relief[9], "社会救助、惠民惠农补贴");
        let asked = rows.iter().find(|r| r[1] == "依申请数据").unwrap();
        assert_eq!(asked[5], "依申请公开");
        assert_eq!(asked[7], ON_REQUEST_ACCESS);
        let gone = rows.iter().find(|r| r[1] == "撤回的数据").unwrap();
        assert_eq!(gone[8], "已撤回：数据有误");

        let csv = f.catalogue_csv();
        assert!(csv.starts_with("\u{feff}索引号,名称,".as_bytes()));
        let text = String::from_utf8(csv).unwrap();
        assert!(
            text.contains("\"说明 \"\"引号\"\" \\ 反斜杠\n第二行\""),
            "{text}"
        );
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("低保、=cmd"), "低保、=cmd");
    }

    #[test]
    fn sitemap_and_schema_org() {
        let ds = sample();
        let ag = agencies();
        let f = Feeds::new(&ds, &ag, "http://h");
        let sm = f.sitemap();
        assert!(sm.contains(
            "<url><loc>http://h/datasets/relief</loc><lastmod>2024-06-02T09:30:00Z</lastmod></url>"
        ));
        assert!(sm.contains("<loc>http://h/api/v1/datasets/gone</loc>"));
        assert_eq!(xml_escape("a&b<c>'\"\u{1}"), "a&amp;b&lt;c&gt;&apos;&quot;");

        let s = schema_org(&ds[0], ag.first(), "");
        assert_eq!(s["@type"], "Dataset");
        assert_eq!(s["temporalCoverage"], "2024-01-01/2024-12-31");
        assert_eq!(s["publisher"]["name"], "某县民政局");
        assert_eq!(
            s["distribution"][0]["contentUrl"],
            "/api/v1/datasets/relief/data.parquet"
        );
        assert_eq!(s["license"], "https://creativecommons.org/licenses/by/4.0/");
        let asked = schema_org(&ds[1], ag.first(), "http://h");
        assert!(asked.get("distribution").is_none());
    }
}
