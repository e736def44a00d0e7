//! Public pages: home, search, dataset pages and agency pages.
//!
//! They read as an anonymous visitor would, whoever is signed in: only
//! published, redacted data and public metadata appear here.

use super::grid::{self, Header};
use super::{
    Ctx, PageError, PageResult, action_label, column_label, day, html_page, json_ld, page,
    page_with_head, pii_label, status_label, text, thousands,
};
use crate::AppState;
use crate::api::{accounts, datasets, downloads};
use crate::auth::Caller;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use gongkai_catalog::PublishedTable;
use gongkai_query::RowQuery;
use maud::{Markup, html};
use serde_json::Value;

/// Rows per preview page.
const PREVIEW_ROWS: usize = 20;
/// Results per search page.
const PER_PAGE: usize = 20;

/// Runs the public catalogue search with the page's query string.
async fn search_api(
    state: &AppState,
    pairs: &[(String, String)],
) -> Result<Value, crate::ApiError> {
    let query = {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            if k != "lang" && k != "per_page" && !v.is_empty() {
                ser.append_pair(k, v);
            }
        }
        ser.append_pair("per_page", &PER_PAGE.to_string());
        ser.finish()
    };
    let uri: Uri = format!("/api/v1/datasets?{query}")
        .parse()
        .map_err(crate::ApiError::internal)?;
    let query = Query::try_from_uri(&uri);
    let axum::Json(v) = datasets::list(State(state.clone()), query).await?;
    serde_json::to_value(v).map_err(crate::ApiError::internal)
}

fn pairs_of(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// `path?` with `pairs`, replacing `key` by `value` (or removing it).
fn with_param(path: &str, pairs: &[(String, String)], key: &str, value: Option<&str>) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if k != key && k != "lang" && !v.is_empty() {
            ser.append_pair(k, v);
        }
    }
    if let Some(v) = value {
        ser.append_pair(key, v);
    }
    let q = ser.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

fn theme_name(ctx: &Ctx, t: &Value) -> String {
    let name = match ctx.lang {
        super::Lang::Zh => text(&t["zh"]),
        super::Lang::En => text(&t["en"]),
    };
    if name.is_empty() {
        text(&t["code"])
    } else {
        name
    }
}

fn title_of(ctx: &Ctx, d: &Value) -> String {
    match ctx.lang {
        super::Lang::En => d["title_en"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| text(&d["title"])),
        super::Lang::Zh => text(&d["title"]),
    }
}

fn search_form(ctx: &Ctx, q: &str) -> Markup {
    html! {
        form.search-box role="search" method="get" action="/datasets" {
            label.visually-hidden for="q" { (ctx.t("搜索数据集", "Search datasets")) }
            input #q type="search" name="q" value=(q)
                placeholder=(ctx.t("搜索：低保、预算、采购、空气质量……", "Search: subsidy, budget, procurement, air quality…"));
            button type="submit" { (ctx.t("搜索", "Search")) }
        }
    }
}

/// Agency slug → display name in the page language.
async fn agency_names(state: &AppState, ctx: &Ctx) -> std::collections::HashMap<String, String> {
    state
        .publisher
        .catalog()
        .agencies()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            let name = match ctx.lang {
                super::Lang::En => a.name_en.clone().unwrap_or(a.name.clone()),
                super::Lang::Zh => a.name.clone(),
            };
            (a.slug, name)
        })
        .collect()
}

type Names = std::collections::HashMap<String, String>;

fn result_item(ctx: &Ctx, names: &Names, d: &Value) -> Markup {
    let slug = text(&d["slug"]);
    let status = text(&d["status"]);
    html! {
        article.result {
            h2 { a href=(format!("/datasets/{slug}")) { (title_of(ctx, d)) } }
            p.small.muted {
                @if let Some(a) = d["agency"].as_str() { a href=(format!("/agencies/{a}")) { (names.get(a).map(String::as_str).unwrap_or(a)) } " · " }
                (text(&d["disclosure_label"]))
                @if status != "published" { " · " span class=(format!("status status-{status}")) { (status_label(ctx, &status)) } }
                @if let Some(p) = d["published_at"].as_str() { " · " (ctx.t("发布于 ", "published ")) (day(p)) }
            }
            @if let Some(desc) = d["description"].as_str().filter(|s| !s.is_empty()) {
                p { (desc.chars().take(160).collect::<String>()) @if desc.chars().count() > 160 { "…" } }
            }
            p {
                @for t in d["themes"].as_array().into_iter().flatten() {
                    a.tag href=(format!("/datasets?theme={}", text(&t["code"]))) { (theme_name(ctx, t)) }
                }
            }
        }
    }
}

/// `GET /`: search box, themes, agencies, recently updated.
pub async fn home(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    let recent = search_api(&state, &[("sort".into(), "date".into())])
        .await
        .map_err(|e| PageError::from_api(&ctx, e))?;
    let agencies = state
        .publisher
        .catalog()
        .agencies()
        .await
        .map_err(|e| PageError::from_api(&ctx, e.into()))?;
    let names = agency_names(&state, &ctx).await;
    let theme_counts = recent["facets"]["theme"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let agency_counts = recent["facets"]["agency"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let count_of = |list: &[Value], v: &str| {
        list.iter()
            .find(|c| c["value"] == v)
            .and_then(|c| c["count"].as_u64())
            .unwrap_or(0)
    };
    let body = html! {
        h1 { (ctx.t("政府数据开放平台", "Government open data")) }
        p.lead { (ctx.t("查找、查询和下载政府机构依法公开的数据。个人信息已在发布前脱敏。",
                        "Find, query and download data that agencies publish by law. Personal information is redacted before publication.")) }
        (search_form(&ctx, ""))
        p.small {
            (thousands(recent["total"].as_i64().unwrap_or(0))) " " (ctx.t("个数据集", "datasets"))
            " · " a href="/sql" { (ctx.t("用 SQL 查询全部数据", "Query everything with SQL")) }
        }
        section #themes aria-labelledby="themes-h" {
            h2 #themes-h { (ctx.t("领域", "Themes")) }
            ul.cards {
                @for t in gongkai_catalog::metadata::THEMES {
                    @let n = count_of(&theme_counts, t.code);
                    li { a href=(format!("/datasets?theme={}", t.code)) { (ctx.t(t.zh, t.en)) } " " span.muted { "(" (n) ")" } }
                }
            }
        }
        section #agencies aria-labelledby="agencies-h" {
            h2 #agencies-h { (ctx.t("机构", "Agencies")) }
            ul.cards {
                @for a in &agencies {
                    @let n = count_of(&agency_counts, &a.slug);
                    li {
                        a href=(format!("/agencies/{}", a.slug)) { (match ctx.lang { super::Lang::En => a.name_en.clone().unwrap_or_else(|| a.name.clone()), super::Lang::Zh => a.name.clone() }) }
                        " " span.muted { "(" (n) ")" }
                    }
                }
            }
        }
        section #recent aria-labelledby="recent-h" {
            h2 #recent-h { (ctx.t("最近更新", "Recently updated")) }
            @for d in recent["datasets"].as_array().into_iter().flatten().take(8) {
                (result_item(&ctx, &names, d))
            }
        }
    };
    Ok(html_page(page(&ctx, ctx.t("首页", "Home"), body)))
}

/// `GET /datasets?q=&theme=&agency=&year=&format=&disclosure=&status=&sort=&page=`.
pub async fn search(State(state): State<AppState>, ctx: Ctx, uri: Uri) -> PageResult {
    let pairs = pairs_of(&uri);
    let result = search_api(&state, &pairs)
        .await
        .map_err(|e| PageError::from_api(&ctx, e))?;
    let names = agency_names(&state, &ctx).await;
    let q = get(&pairs, "q").unwrap_or("");
    let total = result["total"].as_u64().unwrap_or(0) as usize;
    let page_no = get(&pairs, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let pages = total.div_ceil(PER_PAGE).max(1);
    let facet_names: [(&str, &str, &str); 6] = [
        ("theme", "领域", "Theme"),
        ("agency", "机构", "Agency"),
        ("year", "年份", "Year"),
        ("format", "格式", "Format"),
        ("disclosure", "公开属性", "Disclosure"),
        ("status", "状态", "Status"),
    ];
    let body = html! {
        h1 { (ctx.t("数据集", "Datasets")) }
        (search_form(&ctx, q))
        div.layout {
            nav #facets aria-label=(ctx.t("筛选", "Filters")) {
                @for (name, zh, en) in facet_names {
                    @let values = result["facets"][name].as_array().cloned().unwrap_or_default();
                    @if !values.is_empty() {
                        div.facet {
                            h3 { (ctx.t(zh, en)) }
                            ul {
                                @for v in values.iter().take(12) {
                                    @let value = text(&v["value"]);
                                    @let active = get(&pairs, name) == Some(value.as_str());
                                    @let label = if name == "theme" {
                                        gongkai_catalog::metadata::theme(&value).map(|t| ctx.t(t.zh, t.en).to_string()).unwrap_or(value.clone())
                                    } else if name == "status" { status_label(&ctx, &value) }
                                    else if name == "agency" { names.get(&value).cloned().unwrap_or(value.clone()) }
                                    else { v["label"].as_str().map(str::to_string).unwrap_or(value.clone()) };
                                    li {
                                        @if active {
                                            a href=(with_param("/datasets", &pairs, name, None)) aria-current="true" { (label) " ✕" }
                                        } @else {
                                            a href=(with_param("/datasets", &with_param_pairs(&pairs, "page"), name, Some(&value))) { (label) }
                                        }
                                        " " span.muted { "(" (text(&v["count"])) ")" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            div {
                p #result-count role="status" {
                    (ctx.t("共 ", "")) (thousands(total as i64)) (ctx.t(" 个结果", " results"))
                    @if !q.is_empty() { (ctx.t("：", " for ")) "“" (q) "”" }
                }
                p.small {
                    (ctx.t("排序：", "Sort: "))
                    a href=(with_param("/datasets", &pairs, "sort", None)) { (ctx.t("相关度", "relevance")) } " · "
                    a href=(with_param("/datasets", &pairs, "sort", Some("date"))) { (ctx.t("最新", "newest")) } " · "
                    a href=(with_param("/datasets", &pairs, "sort", Some("name"))) { (ctx.t("名称", "name")) }
                }
                div #results {
                    @for d in result["datasets"].as_array().into_iter().flatten() {
                        (result_item(&ctx, &names, d))
                    }
                    @if total == 0 {
                        p { (ctx.t("没有找到匹配的数据集。试试更短的关键词，或去掉筛选条件。",
                                   "No dataset matches. Try a shorter word or remove a filter.")) }
                    }
                }
                @if pages > 1 {
                    nav #pagination.pager aria-label=(ctx.t("分页", "Pagination")) {
                        @if page_no > 1 {
                            a rel="prev" href=(with_param("/datasets", &pairs, "page", Some(&(page_no - 1).to_string()))) { (ctx.t("上一页", "Previous")) }
                        }
                        span { (ctx.t("第 ", "Page ")) (page_no) " / " (pages) (ctx.t(" 页", "")) }
                        @if page_no < pages {
                            a rel="next" href=(with_param("/datasets", &pairs, "page", Some(&(page_no + 1).to_string()))) { (ctx.t("下一页", "Next")) }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(page(&ctx, ctx.t("数据集", "Datasets"), body)))
}

fn with_param_pairs(pairs: &[(String, String)], drop: &str) -> Vec<(String, String)> {
    pairs.iter().filter(|(k, _)| k != drop).cloned().collect()
}

/// The page's row query: filter form fields, sort and page number.
fn preview_query(pairs: &[(String, String)]) -> (Vec<(String, String)>, usize) {
    let mut q: Vec<(String, String)> = vec![
        ("_size".into(), PREVIEW_ROWS.to_string()),
        ("_count".into(), "1".into()),
    ];
    if let (Some(column), Some(op)) = (get(pairs, "column"), get(pairs, "op")) {
        let value = pairs
            .iter()
            .find(|(k, _)| k == "value")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        q.push(("filter".into(), format!("{column}.{op}.{value}")));
    }
    if let Some(sort) = get(pairs, "sort") {
        q.push(("_sort".into(), sort.to_string()));
    }
    let page = get(pairs, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    (q, page)
}

/// `GET /datasets/{slug}`: everything about one dataset.
pub async fn dataset(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> PageResult {
    let err = |e| PageError::from_api(&ctx, e);
    let detail = datasets::show(State(state.clone()), Caller(None), Path(slug.clone()))
        .await
        .map_err(err)?
        .0;
    let detail = serde_json::to_value(detail).map_err(|e| err(crate::ApiError::internal(e)))?;
    let d = state
        .publisher
        .dataset_for(&slug, None)
        .await
        .map_err(|e| err(e.into()))?;
    let pairs = pairs_of(&uri);
    let serves = downloads::check_serves_data(&d, None);
    let columns: Vec<Value> = detail["columns"].as_array().cloned().unwrap_or_default();
    let base = crate::links::base_url(&state, &headers).unwrap_or_default();
    let here = format!("/datasets/{slug}");

    // Preview grid.
    let mut preview: Option<Result<(Markup, u64), String>> = None;
    if serves.is_ok()
        && let Some(n) = d.latest_version
        && let Ok(v) = state.publisher.version_for(&d, n, None).await
        && let Some(key) = v.public_key.clone()
    {
        let (q, page_no) = preview_query(&pairs);
        let table = PublishedTable {
            slug: d.slug.clone(),
            dataset_id: d.id,
            version: v.number,
            is_latest: true,
            key,
        };
        let result = match RowQuery::parse(&q) {
            Ok(mut rq) => {
                rq.offset = (page_no - 1) * PREVIEW_ROWS;
                state
                    .engine
                    .rows(table, rq)
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        preview = Some(result.map(|rows| {
            let total = rows.total.unwrap_or(0);
            let sort = get(&pairs, "sort").unwrap_or("");
            let headers: Vec<Header> = rows
                .batch
                .schema()
                .fields()
                .iter()
                .map(|f| {
                    let c = columns.iter().find(|c| c["name"] == f.name().as_str());
                    let current = if sort == f.name() {
                        Some(false)
                    } else if sort.strip_prefix('-') == Some(f.name().as_str()) {
                        Some(true)
                    } else {
                        None
                    };
                    let next = if current == Some(false) {
                        format!("-{}", f.name())
                    } else {
                        f.name().clone()
                    };
                    let mut link_pairs = with_param_pairs(&pairs, "page");
                    link_pairs.retain(|(k, _)| k != "sort");
                    Header {
                        name: f.name().clone(),
                        label: c.map(column_label),
                        unit: c.and_then(|c| c["unit"].as_str()).map(str::to_string),
                        sort: Some((
                            format!("{}#preview", with_param(&here, &link_pairs, "sort", Some(&next))),
                            current,
                        )),
                    }
                })
                .collect();
            let pages = (total as usize).div_ceil(PREVIEW_ROWS).max(1);
            let markup = html! {
                (grid::table("preview-table", ctx.t("数据预览", "Data preview"), &headers, std::slice::from_ref(&rows.batch)))
                nav.pager aria-label=(ctx.t("预览分页", "Preview pages")) {
                    @if page_no > 1 {
                        a #prev-page rel="prev" href=(format!("{}#preview", with_param(&here, &pairs, "page", Some(&(page_no - 1).to_string())))) { (ctx.t("上一页", "Previous")) }
                    }
                    span { (ctx.t("第 ", "Page ")) (page_no) " / " (pages) (ctx.t(" 页", "")) }
                    @if page_no < pages {
                        a #next-page rel="next" href=(format!("{}#preview", with_param(&here, &pairs, "page", Some(&(page_no + 1).to_string())))) { (ctx.t("下一页", "Next")) }
                    }
                }
            };
            (markup, total)
        }));
    }
    let chart = if serves.is_ok() && detail["status"] == "published" {
        super::chart::for_dataset(&state, &ctx, &slug, &columns).await
    } else {
        None
    };

    let names = agency_names(&state, &ctx).await;
    let title = title_of(&ctx, &detail);
    let status = text(&detail["status"]);
    let api = format!("{base}/api/v1/datasets/{slug}");
    let sample_sql = format!("SELECT * FROM \"{slug}\" LIMIT 10");
    let sql_url = format!(
        "/sql?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &sample_sql)
            .finish()
    );
    let redacted: Vec<&Value> = columns
        .iter()
        .filter(|c| !c["action"].is_null() || !c["pii"].is_null())
        .collect();
    let op_options: [(&str, &str, &str); 8] = [
        ("eq", "等于", "equals"),
        ("ne", "不等于", "not equal"),
        ("contains", "包含", "contains"),
        ("like", "匹配（% 通配）", "like (% wildcard)"),
        ("gt", "大于", "greater than"),
        ("lt", "小于", "less than"),
        ("null", "为空", "is empty"),
        ("notnull", "不为空", "is not empty"),
    ];
    let body = html! {
        p.small { a href="/datasets" { (ctx.t("数据集", "Datasets")) } " / " (slug) }
        h1 { (title) }
        p {
            span class=(format!("status status-{status}")) { (status_label(&ctx, &status)) }
            " " span.tag { (text(&detail["disclosure_label"])) }
            @for t in detail["themes"].as_array().into_iter().flatten() {
                a.tag href=(format!("/datasets?theme={}", text(&t["code"]))) { (theme_name(&ctx, t)) }
            }
        }
        @if status == "withdrawn" {
            div.warn role="note" {
                (ctx.t("该数据集已撤回，不再提供数据。", "This dataset has been withdrawn and serves no data."))
                @if let Some(r) = detail["withdrawn_reason"].as_str() { " " (ctx.t("原因：", "Reason: ")) (r) }
            }
        }
        @if let Some(desc) = detail["description"].as_str().filter(|s| !s.is_empty()) { p.lead { (desc) } }
        @if ctx.lang == super::Lang::En && let Some(desc) = detail["description_en"].as_str().filter(|s| !s.is_empty()) { p.lead { (desc) } }

        section #metadata aria-labelledby="metadata-h" {
            h2 #metadata-h { (ctx.t("基本信息", "About this dataset")) }
            dl.meta {
                dt { (ctx.t("发布机构", "Agency")) }
                dd { @if let Some(a) = detail["agency"].as_str() { a href=(format!("/agencies/{a}")) { (names.get(a).map(String::as_str).unwrap_or(a)) } } }
                dt { (ctx.t("公开属性", "Disclosure")) } dd { (text(&detail["disclosure_label"]))
                    @if let Some(r) = detail["disclosure_reason"].as_str() { "（" (r) "）" } }
                @if let Some(x) = detail["index_number"].as_str() { dt { (ctx.t("索引号", "Index number")) } dd { (x) } }
                @if let Some(x) = detail["decision_date"].as_str() { dt { (ctx.t("形成日期", "Decision date")) } dd { (x) } }
                @if let Some(x) = detail["published_at"].as_str() { dt { (ctx.t("发布日期", "Published")) } dd { (day(x)) } }
                @if let Some(x) = detail["updated_at"].as_str() { dt { (ctx.t("更新日期", "Updated")) } dd { (day(x)) } }
                @if let Some(x) = detail["update_frequency"].as_str() { dt { (ctx.t("更新频率", "Update frequency")) } dd { (x) } }
                @if detail["temporal"]["start"].is_string() || detail["temporal"]["end"].is_string() {
                    dt { (ctx.t("时间范围", "Period")) } dd { (text(&detail["temporal"]["start"])) " – " (text(&detail["temporal"]["end"])) }
                }
                @if let Some(x) = detail["spatial"].as_str() { dt { (ctx.t("地域范围", "Area")) } dd { (x) } }
                @if let Some(x) = detail["licence"].as_str() {
                    dt { (ctx.t("许可协议", "Licence")) }
                    dd { @if let Some(u) = detail["licence_url"].as_str() { a href=(u) { (x) } } @else { (x) } }
                }
                @if let Some(k) = detail["keywords"].as_array().filter(|k| !k.is_empty()) {
                    dt { (ctx.t("关键词", "Keywords")) } dd { (k.iter().map(text).collect::<Vec<_>>().join("、")) }
                }
                @if let Some(n) = detail["rows"].as_i64() { dt { (ctx.t("行数", "Rows")) } dd { (thousands(n)) } }
            }
        }

        @if let Some(chart) = &chart {
            section #visual aria-labelledby="chart-h" {
                h2 #chart-h { (ctx.t("图表", "Chart")) }
                (chart)
            }
        }

        @if let Err(e) = &serves {
            div.warn role="note" { (e.message) }
        }

        @if let Some(p) = &preview {
            section #preview aria-labelledby="preview-h" {
                h2 #preview-h { (ctx.t("数据预览", "Data preview")) }
                form #preview-filter.inline-form method="get" action=(format!("{here}#preview")) {
                    div.field {
                        label for="f-column" { (ctx.t("列", "Column")) }
                        select #f-column name="column" {
                            @for c in &columns {
                                @let name = text(&c["name"]);
                                option value=(name) selected[get(&pairs, "column") == Some(name.as_str())] { (column_label(c)) " (" (name) ")" }
                            }
                        }
                    }
                    div.field {
                        label for="f-op" { (ctx.t("条件", "Condition")) }
                        select #f-op name="op" {
                            @for (op, zh, en) in op_options {
                                option value=(op) selected[get(&pairs, "op") == Some(op)] { (ctx.t(zh, en)) }
                            }
                        }
                    }
                    div.field {
                        label for="f-value" { (ctx.t("值", "Value")) }
                        input #f-value type="text" name="value" value=(get(&pairs, "value").unwrap_or(""));
                    }
                    @if let Some(s) = get(&pairs, "sort") { input type="hidden" name="sort" value=(s); }
                    button type="submit" { (ctx.t("筛选", "Filter")) }
                    @if get(&pairs, "column").is_some() { a href=(format!("{here}#preview")) { (ctx.t("清除筛选", "Clear filter")) } }
                }
                @match p {
                    Ok((markup, total)) => {
                        p #preview-count role="status" { (ctx.t("符合条件的行：", "Matching rows: ")) (thousands(*total as i64)) }
                        (markup)
                    }
                    Err(message) => { (super::alert(message)) }
                }
            }
        }

        section #dictionary aria-labelledby="dictionary-h" {
            h2 #dictionary-h { (ctx.t("数据字典", "Data dictionary")) }
            div.table-scroll tabindex="0" role="region" aria-label=(ctx.t("数据字典", "Data dictionary")) {
                table {
                    thead { tr {
                        th scope="col" { (ctx.t("原始列名", "Original header")) }
                        th scope="col" { (ctx.t("字段名", "Field")) }
                        th scope="col" { (ctx.t("类型", "Type")) }
                        th scope="col" { (ctx.t("单位", "Unit")) }
                        th scope="col" { (ctx.t("说明", "Description")) }
                        th scope="col" { (ctx.t("脱敏", "Redaction")) }
                    } }
                    tbody {
                        @for c in &columns {
                            tr {
                                td { (column_label(c)) }
                                td { code { (text(&c["name"])) } }
                                td { (text(&c["type"])) }
                                td { (text(&c["unit"])) }
                                td { (text(&c["description"])) }
                                td { @if let Some(a) = c["action"].as_str() { (action_label(&ctx, a)) } }
                            }
                        }
                    }
                }
            }
        }

        section #redaction aria-labelledby="redaction-h" {
            h2 #redaction-h { (ctx.t("个人信息保护说明", "What was redacted and why")) }
            @if redacted.is_empty() {
                p { (ctx.t("检测未发现个人信息字段，数据按原样发布。",
                           "No personal fields were found; the data is published as uploaded.")) }
            } @else {
                p { (ctx.t("依据《个人信息保护法》和《政府信息公开条例》，下列字段在发布前已处理，公开数据中不含原始值：",
                           "Under the Personal Information Protection Law and the open-government regulations, these fields were processed before publication; the public data holds no original values:")) }
                ul {
                    @for c in &redacted {
                        li {
                            strong { (column_label(c)) }
                            @if let Some(k) = c["pii"].as_str() { "（" (pii_label(&ctx, k)) "）" }
                            "：" (c["action"].as_str().map(|a| action_label(&ctx, a)).unwrap_or_default())
                        }
                    }
                }
                p.small.muted { (ctx.t("审核人员已确认脱敏处理和保密审查。", "A reviewer confirmed the redaction and the confidentiality review.")) }
            }
        }

        @if serves.is_ok() && d.latest_version.is_some() {
            section #downloads aria-labelledby="downloads-h" {
                h2 #downloads-h { (ctx.t("下载", "Downloads")) }
                ul.downloads {
                    @for (file, label) in [("data.csv", "CSV"), ("data.xlsx", "Excel (XLSX)"), ("data.parquet", "Parquet"), ("data.json", "JSON"), ("data.ndjson", "NDJSON")] {
                        li { a href=(format!("/api/v1/datasets/{slug}/{file}")) download { (label) } }
                    }
                }
                p.small.muted { (ctx.t("CSV 为 UTF-8 编码（带 BOM，Excel 可直接打开）。", "CSV is UTF-8 with a BOM, so Excel opens it directly.")) }
            }
            section #snippets aria-labelledby="snippets-h" {
                h2 #snippets-h { (ctx.t("代码示例", "Use it from code")) }
                h3 { "curl" }
                pre data-copy { code { "curl -O " (api) "/data.csv\ncurl '" (api) "/rows?_size=5'" } }
                h3 { "Python / pandas" }
                pre data-copy { code { "import pandas as pd\ndf = pd.read_parquet(\"" (api) "/data.parquet\")\nprint(df.head())" } }
                h3 { "R" }
                pre data-copy { code { "df <- arrow::read_parquet(\"" (api) "/data.parquet\")\n# or: df <- read.csv(\"" (api) "/data.csv\", fileEncoding = \"UTF-8-BOM\")" } }
                h3 { "DuckDB" }
                pre data-copy { code { "INSTALL httpfs; LOAD httpfs;\nSELECT * FROM '" (api) "/data.parquet' LIMIT 10;" } }
                h3 { "SQL" }
                pre data-copy { code { "curl -G " (base) "/api/v1/sql --data-urlencode 'q=" (sample_sql) "' -d format=csv" } }
                p { a href=(sql_url) { (ctx.t("在 SQL 控制台中打开", "Open in the SQL console")) } }
            }
        }

        section #versions aria-labelledby="versions-h" {
            h2 #versions-h { (ctx.t("版本历史", "Version history")) }
            div.table-scroll tabindex="0" role="region" aria-label=(ctx.t("版本历史", "Version history")) {
                table {
                    thead { tr {
                        th scope="col" { (ctx.t("版本", "Version")) }
                        th scope="col" { (ctx.t("状态", "Status")) }
                        th scope="col" { (ctx.t("发布日期", "Published")) }
                        th scope="col" { (ctx.t("行数", "Rows")) }
                        th scope="col" { (ctx.t("更新说明 / 更正说明", "Change / correction note")) }
                        th scope="col" { (ctx.t("下载", "Download")) }
                    } }
                    tbody {
                        @for v in detail["versions"].as_array().into_iter().flatten().rev() {
                            @let n = text(&v["version"]);
                            @let vs = text(&v["status"]);
                            tr {
                                td { "v" (n) }
                                td { (status_label(&ctx, &vs)) }
                                td { (v["published_at"].as_str().map(day).unwrap_or("")) }
                                td.num { (v["rows"].as_i64().map(thousands).unwrap_or_default()) }
                                td {
                                    (text(&v["change_note"]))
                                    @if let Some(c) = v["correction_notice"].as_str() { br; strong { (ctx.t("更正：", "Correction: ")) } (c) }
                                }
                                td {
                                    @if serves.is_ok() && (vs == "published" || vs == "superseded") {
                                        a href=(format!("/api/v1/datasets/{slug}/versions/{n}/data.csv")) { "CSV" } " · "
                                        a href=(format!("/api/v1/datasets/{slug}/versions/{n}/data.parquet")) { "Parquet" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let head = json_ld(&detail["schema_org"]);
    Ok(html_page(page_with_head(&ctx, &title, head, body)))
}

/// `GET /agencies`: every agency, in its hierarchy.
pub async fn agencies(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    let axum::Json(all) = accounts::agencies(State(state.clone()))
        .await
        .map_err(|e| PageError::from_api(&ctx, e))?;
    let list = all["agencies"].as_array().cloned().unwrap_or_default();
    fn tree(ctx: &Ctx, list: &[Value], parent: Option<&str>) -> Markup {
        let children: Vec<&Value> = list
            .iter()
            .filter(|a| a["parent"].as_str() == parent)
            .collect();
        html! {
            @if !children.is_empty() {
                ul {
                    @for a in children {
                        @let slug = text(&a["slug"]);
                        li {
                            a href=(format!("/agencies/{slug}")) { (match ctx.lang { super::Lang::En => a["name_en"].as_str().map(str::to_string).unwrap_or_else(|| text(&a["name"])), super::Lang::Zh => text(&a["name"]) }) }
                            (tree(ctx, list, Some(&slug)))
                        }
                    }
                }
            }
        }
    }
    let body = html! {
        h1 { (ctx.t("机构", "Agencies")) }
        (tree(&ctx, &list, None))
    };
    Ok(html_page(page(&ctx, ctx.t("机构", "Agencies"), body)))
}

/// `GET /agencies/{slug}`: an agency, its sub-agencies and its datasets.
pub async fn agency(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
) -> PageResult {
    let a = state
        .publisher
        .agency_detail(&slug)
        .await
        .map_err(|e| PageError::from_api(&ctx, e.into()))?;
    let a = serde_json::to_value(a)
        .map_err(|e| PageError::from_api(&ctx, crate::ApiError::internal(e)))?;
    let result = search_api(
        &state,
        &[
            ("agency".into(), slug.clone()),
            ("sort".into(), "date".into()),
        ],
    )
    .await
    .map_err(|e| PageError::from_api(&ctx, e))?;
    let names = agency_names(&state, &ctx).await;
    let name = match ctx.lang {
        super::Lang::En => a["name_en"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| text(&a["name"])),
        super::Lang::Zh => text(&a["name"]),
    };
    let body = html! {
        p.small { a href="/agencies" { (ctx.t("机构", "Agencies")) } " / " (slug) }
        h1 { (name) }
        @if let Some(p) = a["parent"].as_str() {
            p { (ctx.t("上级机构：", "Parent: ")) a href=(format!("/agencies/{p}")) { (names.get(p).map(String::as_str).unwrap_or(p)) } }
        }
        @if let Some(children) = a["children"].as_array().filter(|c| !c.is_empty()) {
            h2 { (ctx.t("下级机构", "Sub-agencies")) }
            ul { @for c in children { li { a href=(format!("/agencies/{}", text(c))) { (names.get(&text(c)).cloned().unwrap_or(text(c))) } } } }
        }
        h2 { (ctx.t("数据集", "Datasets")) " (" (text(&result["total"])) ")" }
        div #results {
            @for d in result["datasets"].as_array().into_iter().flatten() { (result_item(&ctx, &names, d)) }
        }
        @if result["total"].as_u64().unwrap_or(0) > PER_PAGE as u64 {
            p { a href=(format!("/datasets?agency={slug}")) { (ctx.t("查看全部", "See all")) } }
        }
    };
    Ok(html_page(page(&ctx, &name, body)))
}
