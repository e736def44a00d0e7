//! Search latency over a generated catalogue of 100,000 datasets (issue #5:
//! p99 < 20 ms). Run with `cargo bench -p gongkai-catalog --bench search`
//! (or `bench/search.sh`); `SEARCH_DATASETS=N` changes the size.

use gongkai_catalog::search::{SearchDoc, SearchIndex, SearchQuery, Sort};
use std::time::{Duration, Instant};

const AGENCIES: &[(&str, &str)] = &[
    ("finance", "县财政局"),
    ("civil", "县民政局"),
    ("health", "县卫生健康局"),
    ("env", "市生态环境局"),
    ("transport", "县交通运输局"),
    ("education", "县教育和体育局"),
    ("agri", "县农业农村局"),
    ("market", "县市场监督管理局"),
];
const TOWNS: &[&str] = &[
    "城关镇",
    "东关镇",
    "西关镇",
    "南关镇",
    "北关镇",
    "石墙镇",
    "香城镇",
    "大束镇",
];
const SUBJECTS: &[(&str, &str, &str)] = &[
    ("部门预算", "budget", "department budget"),
    ("部门决算", "budget", "final accounts"),
    ("政府采购中标结果", "procurement", "procurement results"),
    (
        "低保发放名册",
        "social_assistance",
        "minimum living allowance",
    ),
    (
        "特困人员供养名单",
        "social_assistance",
        "extreme poverty support",
    ),
    ("耕地地力保护补贴", "subsidy", "farmland protection subsidy"),
    ("行政处罚决定", "enforcement", "administrative penalties"),
    ("空气质量监测", "environment", "air quality monitoring"),
    ("征地补偿安置", "land", "land compensation"),
    ("道路养护项目", "transport", "road maintenance"),
];

fn catalogue(n: usize) -> Vec<SearchDoc> {
    (0..n)
        .map(|i| {
            let (agency, agency_name) = AGENCIES[i % AGENCIES.len()];
            let town = TOWNS[(i / 7) % TOWNS.len()];
            let (subject, theme, en) = SUBJECTS[(i / 3) % SUBJECTS.len()];
            let year = 2015 + (i % 11) as i32;
            let month = 1 + i % 12;
            SearchDoc {
                slug: format!("ds-{i}"),
                title: format!("{year}年{month}月{town}{subject}"),
                title_en: Some(format!("{town} {en} {year}-{month:02}")),
                description: format!("{agency_name}发布的{town}{subject}，数据按月更新。"),
                keywords: vec![subject.to_string(), town.to_string()],
                columns: vec![
                    "xiang_zhen 乡镇".into(),
                    "jin_e 金额".into(),
                    format!("col_{} 字段{}", i % 50, i % 50),
                ],
                agency: Some(agency.into()),
                agency_names: vec![agency_name.into()],
                themes: vec![theme.into()],
                year: Some(year),
                format: Some(if i % 3 == 0 { "CSV" } else { "XLSX" }.into()),
                disclosure: if i % 20 == 0 { "on_request" } else { "public" }.into(),
                status: "published".into(),
                updated: format!("2025-{:02}-{:02}T00:00:00Z", 1 + i % 12, 1 + i % 28),
                summary: serde_json::json!({"slug": format!("ds-{i}"), "title": subject}),
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let n: usize = std::env::var("SEARCH_DATASETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let docs = catalogue(n);
    let started = Instant::now();
    let mut index = SearchIndex::new();
    for d in docs {
        index.upsert(d);
    }
    println!("indexed {n} datasets in {:.2?}", started.elapsed());
    let q = |text: &str| SearchQuery {
        q: text.into(),
        limit: 20,
        ..SearchQuery::default()
    };
    let queries: Vec<(&str, SearchQuery)> = vec![
        ("one common word (低保)", q("低保")),
        ("two words (城关镇 预算)", q("城关镇 预算")),
        ("phrase-like (耕地地力保护补贴)", q("耕地地力保护补贴")),
        ("english (air quality)", q("air quality")),
        ("column name (jin_e)", q("jin_e")),
        ("rare (col_7)", q("col_7")),
        ("no match (区块链)", q("区块链")),
        ("everything, newest first", q("")),
        (
            "filters: agency+theme+year",
            SearchQuery {
                agencies: Some(vec!["civil".into()]),
                theme: Some("social_assistance".into()),
                year: Some(2020),
                ..q("")
            },
        ),
        (
            "word + sort by name, page 50",
            SearchQuery {
                sort: Sort::Name,
                offset: 1000,
                ..q("补贴")
            },
        ),
    ];
    let rounds = 200;
    let mut all = Vec::new();
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>8}",
        "query", "p50", "p99", "max", "hits"
    );
    for (name, query) in &queries {
        let mut times = Vec::with_capacity(rounds);
        let mut total = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            let r = index.search(query);
            times.push(t.elapsed());
            total = r.total;
            std::hint::black_box(r);
        }
        times.sort();
        println!(
            "{name:<34} {:>9.2?} {:>9.2?} {:>9.2?} {total:>8}",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1]
        );
        all.extend(times);
    }
    all.sort();
    println!(
        "all {} searches over {n} datasets: p50 {:.2?}, p99 {:.2?} (target p99 < 20 ms)",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
}
