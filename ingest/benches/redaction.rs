//! Cost of privacy: plain ingest (detect the table, type the columns) against
//! ingest + detection + redaction, on the same generated subsidy list.
//! Target (issue #4): redaction adds at most 20 % to the ingest time.
//!
//! Run: `cargo bench -p gongkai-ingest --bench redaction` (or `bench/redaction.sh`);
//! `GONGKAI_BENCH_ROWS` sets the size (default 200 000 rows).

use gongkai_ingest::privacy::detect::id18_check_char;
use gongkai_ingest::{IngestOptions, ingest, ingest_for_publication};
use std::fmt::Write;
use std::time::{Duration, Instant};

const SURNAMES: &[&str] = &["张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴"];
const GIVEN: &[&str] = &["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军"];
const TOWNS: &[&str] = &["城关镇", "桥头镇", "东湖街道", "西岭乡", "南山镇"];

/// A deterministic pseudo-random sequence (no dependency needed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn subsidy_csv(rows: usize) -> Vec<u8> {
    let mut rng = Lcg(20261126);
    let mut out = String::from(
        "2024年度惠民惠农补贴发放名册\n单位：元\n序号,姓名,身份证号,手机号码,家庭住址,补贴项目,发放金额,发放日期,备注\n",
    );
    for i in 0..rows {
        let name = format!(
            "{}{}",
            SURNAMES[rng.next() as usize % SURNAMES.len()],
            GIVEN[rng.next() as usize % GIVEN.len()]
        );
        let first17 = format!(
            "330106{:04}{:02}{:02}{:03}",
            1940 + rng.next() % 60,
            1 + rng.next() % 12,
            1 + rng.next() % 28,
            rng.next() % 1000
        );
        let id = format!("{first17}{}", id18_check_char(&first17).unwrap_or('0'));
        let mobile = format!("13{:09}", rng.next() % 1_000_000_000);
        let town = TOWNS[rng.next() as usize % TOWNS.len()];
        let note = if i % 50 == 0 {
            format!("代领人电话 139{:08}", rng.next() % 100_000_000)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{},{name},{id},{mobile},浙江省杭州市西湖区{town}{}村{}组{}号,耕地地力保护补贴,{}.{:02},2024年{}月{}日,{note}",
            i + 1,
            rng.next() % 20,
            rng.next() % 10,
            rng.next() % 100,
            100 + rng.next() % 5000,
            rng.next() % 100,
            1 + rng.next() % 12,
            1 + rng.next() % 28,
        );
    }
    out.into_bytes()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rows: usize = std::env::var("GONGKAI_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let data = subsidy_csv(rows);
    let mb = data.len() as f64 / 1e6;
    let options = IngestOptions::default();
    let runs = 5;
    let mut plain = Vec::new();
    let mut redacted = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let a = ingest("subsidy.csv", &data, &options).map(|i| i.batch.num_rows());
        plain.push(t.elapsed());
        let t = Instant::now();
        let b = ingest_for_publication("subsidy.csv", &data, &options).map(|i| i.batch.num_rows());
        redacted.push(t.elapsed());
        assert_eq!(a.ok(), Some(rows));
        assert_eq!(b.ok(), Some(rows));
    }
    let (p, r) = (median(plain), median(redacted));
    let overhead = (r.as_secs_f64() / p.as_secs_f64() - 1.0) * 100.0;
    println!("redaction benchmark: {rows} rows, {mb:.1} MB CSV, median of {runs} runs");
    println!(
        "  ingest only:          {:>8.1} ms  {:>6.1} MB/s",
        p.as_secs_f64() * 1e3,
        mb / p.as_secs_f64()
    );
    println!(
        "  ingest + redaction:   {:>8.1} ms  {:>6.1} MB/s",
        r.as_secs_f64() * 1e3,
        mb / r.as_secs_f64()
    );
    println!("  redaction overhead:   {overhead:>7.1} %  (target ≤ 20 %)");
}
