//! A chart for the dataset page, drawn on the server as SVG (no script).
//!
//! The chart is chosen from the data dictionary: a numeric column over a date
//! column becomes a line, a numeric column by a text column with few distinct
//! values (or the top entries of any text column) becomes horizontal bars.
//! Money and counts are summed; measurements (μg/m³, %) are averaged.

use super::{Ctx, thousands};
use crate::AppState;
use arrow::array::{Array, Float64Array};
use arrow::record_batch::RecordBatch;
use maud::{Markup, html};
use serde_json::Value;

/// One point or bar.
struct Point {
    label: String,
    value: f64,
}

fn is_numeric_type(t: &str) -> bool {
    ["Int", "UInt", "Float", "Decimal"]
        .iter()
        .any(|p| t.starts_with(p))
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn label_of(c: &Value) -> String {
    super::column_label(c)
}

/// Whether values of this column add up (money, people, items) rather than average.
fn sums(c: &Value) -> bool {
    match c["unit"].as_str() {
        None => true,
        Some(u) => ["元", "人", "户", "个", "件", "次", "吨", "亩", "套", "项"]
            .iter()
            .any(|w| u.contains(w)),
    }
}

async fn run(state: &AppState, sql: &str) -> Option<Vec<RecordBatch>> {
    let tables = state.publisher.catalog().published_tables().await.ok()?;
    let stream = state.engine.execute_sql(sql, tables).await.ok()?;
    stream.collect().await.ok().map(|(b, _)| b)
}

fn points(batches: &[RecordBatch]) -> Vec<Point> {
    let mut out = Vec::new();
    for b in batches {
        if b.num_columns() < 2 {
            continue;
        }
        let labels = super::grid::cells(b);
        let Some(values) = b.column(1).as_any().downcast_ref::<Float64Array>() else {
            continue;
        };
        for (i, row) in labels.iter().enumerate() {
            if values.is_null(i) {
                continue;
            }
            out.push(Point {
                label: row.first().cloned().unwrap_or_default(),
                value: values.value(i),
            });
        }
    }
    out
}

/// The chart of a published dataset's latest version, if one makes sense.
pub async fn for_dataset(
    state: &AppState,
    ctx: &Ctx,
    slug: &str,
    columns: &[Value],
) -> Option<Markup> {
    let usable = |c: &&Value| c["pii"].is_null() && c["action"].is_null();
    let numeric: Vec<&Value> = columns
        .iter()
        .filter(usable)
        .filter(|c| c["type"].as_str().is_some_and(is_numeric_type))
        .filter(|c| {
            let l = label_of(c);
            !(l.contains("序号") || l.contains("编号") || l.contains("代码") || l.contains("编码"))
        })
        .collect();
    let measure = numeric
        .iter()
        .find(|c| c["unit"].is_string())
        .or_else(|| numeric.first())
        .copied()?;
    let aggregate = if sums(measure) { "SUM" } else { "AVG" };
    let agg_label = if aggregate == "SUM" {
        ctx.t("合计", "total")
    } else {
        ctx.t("平均", "average")
    };
    let table = quoted(slug);
    let m = quoted(measure["name"].as_str()?);
    let measure_label = match measure["unit"].as_str() {
        Some(u) if !label_of(measure).contains(u) => format!("{}（{}）", label_of(measure), u),
        _ => label_of(measure),
    };

    // A line over time.
    if let Some(date) = columns.iter().filter(usable).find(|c| {
        c["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("Date") || t.starts_with("Timestamp"))
    }) {
        let d = quoted(date["name"].as_str()?);
        // Months when the data spans several; otherwise days.
        let monthly = format!(
            "SELECT substr(CAST(date_trunc('month', CAST({d} AS TIMESTAMP)) AS VARCHAR), 1, 7) AS label, \
             CAST({aggregate}({m}) AS DOUBLE) AS value FROM {table} WHERE {d} IS NOT NULL \
             GROUP BY 1 ORDER BY 1 LIMIT 400"
        );
        let mut pts = points(&run(state, &monthly).await.unwrap_or_default());
        if pts.len() < 3 {
            let daily = format!(
                "SELECT CAST({d} AS VARCHAR) AS label, CAST({aggregate}({m}) AS DOUBLE) AS value \
                 FROM {table} WHERE {d} IS NOT NULL GROUP BY {d} ORDER BY {d} LIMIT 400"
            );
            pts = points(&run(state, &daily).await.unwrap_or_default());
        }
        if pts.len() >= 2 {
            let title = format!(
                "{measure_label} · {} {} · {}",
                ctx.t("按", "by"),
                label_of(date),
                agg_label
            );
            return Some(line(ctx, &title, &pts));
        }
    }

    // Bars by a text column.
    let texts: Vec<&Value> = columns
        .iter()
        .filter(usable)
        .filter(|c| c["type"].as_str().is_some_and(|t| t.contains("Utf8")))
        .collect();
    if texts.is_empty() {
        return None;
    }
    let distinct = texts
        .iter()
        .filter_map(|c| c["name"].as_str())
        .map(|n| format!("CAST(count(DISTINCT {}) AS DOUBLE)", quoted(n)))
        .collect::<Vec<_>>()
        .join(", ");
    let counts = run(state, &format!("SELECT 0.0, {distinct} FROM {table}")).await?;
    let batch = counts.first()?;
    let ndv = |i: usize| {
        batch
            .column(i + 1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .filter(|a| !a.is_empty())
            .map(|a| a.value(0))
            .unwrap_or(0.0)
    };
    let pick = (0..texts.len())
        .find(|&i| (2.0..=30.0).contains(&ndv(i)))
        .or_else(|| (0..texts.len()).find(|&i| ndv(i) >= 2.0))?;
    let by = texts[pick];
    let b = quoted(by["name"].as_str()?);
    let sql = format!(
        "SELECT {b} AS label, CAST({aggregate}({m}) AS DOUBLE) AS value FROM {table} \
         WHERE {b} IS NOT NULL GROUP BY {b} ORDER BY value DESC NULLS LAST LIMIT 12"
    );
    let pts = points(&run(state, &sql).await?);
    if pts.is_empty() {
        return None;
    }
    let title = format!(
        "{measure_label} · {} {} · {}{}",
        ctx.t("按", "by"),
        label_of(by),
        agg_label,
        if ndv(pick) > 12.0 {
            ctx.t("（前 12 项）", " (top 12)")
        } else {
            ""
        }
    );
    Some(bars(ctx, &title, &pts))
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        thousands(v as i64)
    } else {
        let whole = thousands(v.trunc() as i64);
        let frac = format!("{:.2}", v.fract().abs());
        let sign = if v < 0.0 && v.trunc() == 0.0 { "-" } else { "" };
        format!("{sign}{whole}{}", frac.trim_start_matches('0'))
    }
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

fn data_table(ctx: &Ctx, title: &str, pts: &[Point]) -> Markup {
    html! {
        details {
            summary { (ctx.t("图表数据", "Chart data")) }
            table {
                caption { (title) }
                thead { tr { th scope="col" { (ctx.t("项目", "Item")) } th scope="col" { (ctx.t("数值", "Value")) } } }
                tbody {
                    @for p in pts { tr { td { (p.label) } td.num { (fmt(p.value)) } } }
                }
            }
        }
    }
}

fn bars(ctx: &Ctx, title: &str, pts: &[Point]) -> Markup {
    let width = 760.0;
    let left = 210.0;
    let right = 110.0;
    let row = 28.0;
    let height = row * pts.len() as f64 + 10.0;
    let max = pts.iter().map(|p| p.value).fold(0.0_f64, f64::max);
    let scale = if max > 0.0 {
        (width - left - right) / max
    } else {
        0.0
    };
    html! {
        figure.chart #chart {
            figcaption #chart-title { (title) }
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {width} {height}")) width=(width) height=(height) role="img" aria-labelledby="chart-title" {
                title { (title) }
                line.axis x1=(left) y1="0" x2=(left) y2=(height) {}
                @for (i, p) in pts.iter().enumerate() {
                    @let y = i as f64 * row + 4.0;
                    @let w = (p.value.max(0.0) * scale).max(1.0);
                    text.bar-label x=(left - 8.0) y=(y + row / 2.0 + 1.0) text-anchor="end" dominant-baseline="middle" { (short(&p.label, 14)) }
                    rect.bar x=(left) y=(y) width=(format!("{w:.1}")) height=(row - 8.0) {
                        title { (p.label) ": " (fmt(p.value)) }
                    }
                    text.bar-label x=(left + w + 6.0) y=(y + row / 2.0 + 1.0) dominant-baseline="middle" { (fmt(p.value)) }
                }
            }
            (data_table(ctx, title, pts))
        }
    }
}

fn line(ctx: &Ctx, title: &str, pts: &[Point]) -> Markup {
    let (width, height) = (760.0, 280.0);
    let (left, right, top, bottom) = (70.0, 20.0, 15.0, 40.0);
    let min = pts
        .iter()
        .map(|p| p.value)
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let max = pts
        .iter()
        .map(|p| p.value)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = if max > min { max - min } else { 1.0 };
    let n = pts.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + (width - left - right) * i as f64 / n;
    let y = |v: f64| top + (height - top - bottom) * (1.0 - (v - min) / span);
    let path = pts
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.value)))
        .collect::<Vec<_>>()
        .join(" ");
    let first = pts.first().map(|p| p.label.clone()).unwrap_or_default();
    let last = pts.last().map(|p| p.label.clone()).unwrap_or_default();
    html! {
        figure.chart #chart {
            figcaption #chart-title { (title) }
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {width} {height}")) width=(width) height=(height) role="img" aria-labelledby="chart-title" {
                title { (title) }
                line.axis x1=(left) y1=(top) x2=(left) y2=(height - bottom) {}
                line.axis x1=(left) y1=(height - bottom) x2=(width - right) y2=(height - bottom) {}
                text.axis-label x=(left - 6.0) y=(y(max)) text-anchor="end" dominant-baseline="middle" { (fmt(max)) }
                text.axis-label x=(left - 6.0) y=(y(min)) text-anchor="end" dominant-baseline="middle" { (fmt(min)) }
                text.axis-label x=(left) y=(height - bottom + 18.0) { (first) }
                text.axis-label x=(width - right) y=(height - bottom + 18.0) text-anchor="end" { (last) }
                polyline.line points=(path) {}
                @if pts.len() <= 60 {
                    @for (i, p) in pts.iter().enumerate() {
                        circle.point cx=(format!("{:.1}", x(i))) cy=(format!("{:.1}", y(p.value))) r="3" {
                            title { (p.label) ": " (fmt(p.value)) }
                        }
                    }
                }
            }
            (data_table(ctx, title, pts))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_labels_shortened() {
        assert_eq!(fmt(1234.0), "1,234");
        assert_eq!(fmt(1234.5), "1,234.50");
        assert_eq!(short("一二三四五", 3), "一二…");
        assert!(sums(&serde_json::json!({"unit": "万元"})));
        assert!(!sums(&serde_json::json!({"unit": "μg/m³"})));
    }
}
