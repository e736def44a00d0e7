//! The SQL console: an editor, a result grid and downloads, all without script.

use super::grid;
use super::{Ctx, PageError, PageResult, alert, html_page, page, text};
use crate::error::Code;
use crate::{ApiError, AppState};
use arrow::record_batch::RecordBatch;
use axum::extract::{Query, State};
use maud::html;
use serde::Deserialize;

/// Rows shown in the page (downloads give the whole result).
const SHOWN_ROWS: usize = 500;

/// `?q=`.
#[derive(Deserialize)]
pub struct ConsoleParams {
    q: Option<String>,
}

/// Runs `sql` and keeps the first rows, under the endpoint's limits.
async fn run(state: &AppState, sql: &str) -> Result<(Vec<RecordBatch>, bool), ApiError> {
    if sql.len() > 100_000 {
        return Err(ApiError::new(
            Code::SqlTooLong,
            "the SQL text is longer than 100000 bytes",
        ));
    }
    let prepared = state.engine.prepare(sql)?;
    let tables = state.publisher.catalog().published_tables().await?;
    let mut stream = state.engine.execute(prepared, tables).await?;
    let mut batches = Vec::new();
    let mut rows = 0;
    let mut more = false;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let room = SHOWN_ROWS - rows;
        if batch.num_rows() > room {
            batches.push(batch.slice(0, room));
            more = true;
            break;
        }
        rows += batch.num_rows();
        batches.push(batch);
        if rows == SHOWN_ROWS {
            more = stream.next().await.is_some();
            break;
        }
    }
    Ok((batches, more || stream.truncated()))
}

fn sql_link(sql: &str) -> String {
    format!(
        "/sql?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", sql)
            .finish()
    )
}

/// `GET /sql?q=…`.
pub async fn page_handler(state: AppState, ctx: Ctx, params: ConsoleParams) -> PageResult {
    let axum::Json(tables) = crate::api::rows::tables(State(state.clone()))
        .await
        .map_err(|e| PageError::from_api(&ctx, e))?;
    let tables = tables["tables"].as_array().cloned().unwrap_or_default();
    let default_sql = tables
        .first()
        .map(|t| format!("SELECT * FROM \"{}\" LIMIT 10", text(&t["name"])))
        .unwrap_or_else(|| "SELECT 1".into());
    let sql = params.q.clone().filter(|q| !q.trim().is_empty());
    let outcome = match &sql {
        Some(q) => Some(run(&state, q).await),
        None => None,
    };
    let encoded = sql.as_deref().map(|q| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", q)
            .finish()
    });
    let body = html! {
        h1 { (ctx.t("SQL 查询", "SQL console")) }
        p { (ctx.t("每个已发布的数据集都是一张表，表名即数据集标识（如 \"budget-2024\"）；\"名称@v2\" 指定版本。只读，有时间和内存限制。",
                   "Every published dataset is a table named by its slug (e.g. \"budget-2024\"); \"slug@v2\" pins a version. Read-only, with time and memory limits.")) }
        form #sql-form method="get" action="/sql" {
            div.field.wide {
                label for="sql" { (ctx.t("SQL 语句", "SQL statement")) " " span.hint { (ctx.t("（Ctrl+Enter 运行）", "(Ctrl+Enter runs it)")) } }
                textarea #sql.code name="q" rows="7" spellcheck="false" { (sql.as_deref().unwrap_or(&default_sql)) }
            }
            button #run type="submit" { (ctx.t("运行", "Run")) }
        }
        @if let Some(outcome) = &outcome {
            section #output aria-labelledby="output-h" {
                h2 #output-h { (ctx.t("结果", "Result")) }
                @match outcome {
                    Err(e) => {
                        (alert(&format!("{} ({})\n{}", ctx.t("查询失败", "The query failed"), e.code, e.message)))
                        @if let Some(d) = &e.details {
                            p.small { (ctx.t("位置：", "Position: ")) (ctx.t("第 ", "line ")) (text(&d["line"])) (ctx.t(" 行，第 ", ", column ")) (text(&d["column"])) (ctx.t(" 列", "")) }
                        }
                    }
                    Ok((batches, more)) => {
                        @let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                        p role="status" {
                            (rows) (ctx.t(" 行", " rows"))
                            @if *more { (ctx.t("（页面只显示前 500 行，下载可得完整结果）", " (the page shows the first 500; download for the whole result)")) }
                        }
                        @if let Some(first) = batches.first() {
                            (grid::table("result", ctx.t("查询结果", "Query result"), &grid::plain_headers(first), batches))
                        } @else {
                            table #result { caption { (ctx.t("查询结果（空）", "Query result (empty)")) } }
                        }
                        @if let Some(q) = &encoded {
                            p #result-downloads {
                                (ctx.t("下载结果：", "Download the result: "))
                                @for (f, label) in [("csv", "CSV"), ("json", "JSON"), ("ndjson", "NDJSON"), ("parquet", "Parquet"), ("arrow", "Arrow")] {
                                    a href=(format!("/api/v1/sql?{q}&format={f}")) download { (label) } " "
                                }
                            }
                        }
                    }
                }
            }
        }
        section #examples aria-labelledby="examples-h" {
            h2 #examples-h { (ctx.t("示例与表", "Examples and tables")) }
            ul {
                li { a href=(sql_link("SELECT table_name, column_name, data_type FROM information_schema.columns ORDER BY table_name")) { (ctx.t("所有表和字段", "All tables and columns")) } }
                @for t in tables.iter().take(30) {
                    @let name = text(&t["name"]);
                    li {
                        code { (name) } " — "
                        a href=(sql_link(&format!("SELECT * FROM \"{name}\" LIMIT 10"))) { (ctx.t("前 10 行", "first 10 rows")) } " · "
                        a href=(sql_link(&format!("SELECT count(*) AS rows FROM \"{name}\""))) { (ctx.t("行数", "row count")) }
                        @if let Some(cols) = t["columns"].as_array() {
                            @if let (Some(g), Some(n)) = (
                                cols.iter().find(|c| c["type"] == "Utf8" && c["unit"].is_null()),
                                cols.iter().find(|c| c["type"].as_str().is_some_and(|t| t.starts_with("Decimal") || t.starts_with("Int") || t.starts_with("Float")))
                            ) {
                                @let (g, n) = (text(&g["name"]), text(&n["name"]));
                                " · " a href=(sql_link(&format!("SELECT \"{g}\", sum(\"{n}\") AS total FROM \"{name}\" GROUP BY \"{g}\" ORDER BY total DESC LIMIT 20"))) { (ctx.t("分组汇总", "group and sum")) }
                            }
                            details {
                                summary { (ctx.t("字段", "Columns")) " (" (cols.len()) ")" }
                                ul.small {
                                    @for c in cols {
                                        li { code { (text(&c["name"])) } " " (text(&c["type"]))
                                            @if let Some(p) = c["path"].as_array() { " — " (p.iter().map(text).collect::<Vec<_>>().join("/")) }
                                            @if let Some(u) = c["unit"].as_str() { "（" (u) "）" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.small { (ctx.t("接口：", "API: ")) code { "GET /api/v1/sql?q=…&format=csv|json|ndjson|arrow|parquet" } }
        }
    };
    Ok(html_page(page(
        &ctx,
        ctx.t("SQL 查询", "SQL console"),
        body,
    )))
}

/// `GET /sql`.
pub async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    params: Result<Query<ConsoleParams>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let params = params
        .map(|Query(p)| p)
        .unwrap_or(ConsoleParams { q: None });
    page_handler(state, ctx, params).await
}
