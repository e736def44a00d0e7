//! The agency workspace: sign in, create datasets, upload with a progress bar,
//! read the ingest report, describe columns and choose redaction, submit,
//! review, publish, withdraw and correct; the review queue and overdue list.
//!
//! Every action calls the same handler as the JSON API with the signed-in
//! user, so roles and workflow rules are checked in one place.

use super::grid;
use super::{
    Ctx, PageError, PageResult, SESSION_COOKIE, action_label, alert, column_label, cookie, day,
    html_page, notice, page, pii_label, status_label, text, thousands,
};
use crate::api::accounts;
use crate::api::datasets;
use crate::auth::ClientAddr;
use crate::auth::{Caller, Signed};
use crate::error::Code;
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use futures::StreamExt;
use gongkai_catalog::{Principal, PublishedTable, Role};
use gongkai_query::RowQuery;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

type Form = Vec<(String, String)>;

fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Parses an urlencoded form body.
fn parse_form(body: &Bytes) -> Form {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The signed-in user, or a redirect to the login page.
#[allow(clippy::result_large_err)] // the redirect is returned straight to axum
fn signed_in(ctx: &Ctx) -> Result<Principal, Response> {
    ctx.user.clone().ok_or_else(|| {
        let next = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", &ctx.here)
            .finish();
        Redirect::to(&format!("/agency/login?{next}")).into_response()
    })
}

/// Refuses a form without this session's CSRF token.
fn check_csrf(ctx: &Ctx, form: &Form) -> Result<(), PageError> {
    if ctx.csrf_ok(field(form, "csrf")) {
        Ok(())
    } else {
        Err(PageError::new(
            ctx,
            StatusCode::FORBIDDEN,
            ctx.t(
                "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。",
                "The form expired or did not come from this site (CSRF check failed); reload the page and try again.",
            ),
        ))
    }
}

fn json_body(v: Value) -> Bytes {
    Bytes::from(v.to_string())
}

fn role_label(ctx: &Ctx, role: Role) -> &'static str {
    match role {
        Role::Editor => {
            if ctx.lang == super::Lang::En {
                "editor"
            } else {
                "编辑"
            }
        }
        Role::Reviewer => {
            if ctx.lang == super::Lang::En {
                "reviewer"
            } else {
                "审核人"
            }
        }
        Role::Admin => {
            if ctx.lang == super::Lang::En {
                "administrator"
            } else {
                "管理员"
            }
        }
    }
}

// ------------------------------------------------------------------ login

/// `?next=`.
#[derive(Deserialize, Default)]
pub struct Next {
    next: Option<String>,
}

fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with("/agency") && !n.starts_with("//"))
        .unwrap_or("/agency")
        .to_string()
}

fn login_form(ctx: &Ctx, next: &str, user: &str, error: Option<&str>) -> Markup {
    html! {
        h1 { (ctx.t("机构工作台登录", "Agency workspace sign-in")) }
        @if let Some(e) = error { (alert(e)) }
        form #login-form method="post" action="/agency/login" {
            input type="hidden" name="next" value=(next);
            div.field {
                label for="user" { (ctx.t("用户名", "User name")) }
                input #user type="text" name="user" value=(user) autocomplete="username" required;
            }
            div.field {
                label for="password" { (ctx.t("密码", "Password")) }
                input #password type="password" name="password" autocomplete="current-password" required;
            }
            button type="submit" { (ctx.t("登录", "Sign in")) }
        }
        p.small.muted { (ctx.t("账号由本机构管理员开设。公众无需登录即可查询和下载数据。",
                               "Accounts are opened by your agency's administrator. The public needs no account to search and download.")) }
    }
}

/// `GET /agency/login`.
pub async fn login_page(
    ctx: Ctx,
    next: Result<Query<Next>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let next = safe_next(next.as_ref().ok().and_then(|n| n.next.as_deref()));
    if ctx.user.is_some() {
        return Redirect::to(&next).into_response();
    }
    html_page(page(
        &ctx,
        ctx.t("登录", "Sign in"),
        login_form(&ctx, &next, "", None),
    ))
}

/// `POST /agency/login`: password login; sets the session cookie.
pub async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    ctx: Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let user = field(&form, "user").unwrap_or("").to_string();
    let next = safe_next(field(&form, "next"));
    let credentials = json!({"user": user, "password": form.iter().find(|(k, _)| k == "password").map(|(_, v)| v.as_str()).unwrap_or("")});
    let login = match serde_json::from_value(credentials) {
        Ok(l) => l,
        Err(e) => {
            return PageError::new(&ctx, StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
    };
    let answer = accounts::login(State(state.clone()), client, Ok(Json(login))).await;
    let response = match answer {
        Ok(r) => r,
        Err(e) => {
            let status = e.status();
            let message = if status == StatusCode::UNAUTHORIZED {
                ctx.t("用户名或密码错误。", "Wrong user name or password.")
                    .to_string()
            } else {
                e.message
            };
            let mut r = html_page(page(
                &ctx,
                ctx.t("登录", "Sign in"),
                login_form(&ctx, &next, &user, Some(&message)),
            ));
            *r.status_mut() = status;
            // Throttled (429): say when to try again, as the API does.
            if let Some(secs) = e
                .details
                .as_ref()
                .and_then(|d| d["retry_after_secs"].as_u64())
            {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return r;
        }
    };
    let bytes = match axum::body::to_bytes(response.into_body(), 1 << 20).await {
        Ok(b) => b,
        Err(e) => return PageError::from_api(&ctx, ApiError::internal(e)).into_response(),
    };
    let token = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_string))
        .unwrap_or_default();
    let secure = https(&state, &headers);
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        state.settings.session_hours.max(1) * 3600,
        if secure { "; Secure" } else { "" }
    );
    let mut r = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Whether the site is served over HTTPS (public URL or proxy header): then
/// cookies are marked `Secure`.
fn https(state: &AppState, headers: &HeaderMap) -> bool {
    state
        .settings
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `POST /agency/logout`: revokes the session.
pub async fn logout(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let form = parse_form(&body);
    check_csrf(&ctx, &form)?;
    if let (Some(p), Some(token)) = (&ctx.user, cookie(&headers, SESSION_COOKIE))
        && let Err(e) = state
            .publisher
            .catalog()
            .revoke_secret(token, &p.user)
            .await
    {
        tracing::warn!(error = %e, "revoking a web session failed");
    }
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("gongkai_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(r)
}

// ------------------------------------------------------------------ dashboard

/// `GET /agency`: the signed-in user's datasets, review queue and deadlines.
pub async fn dashboard(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    let p = match signed_in(&ctx) {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let err = |e: ApiError| PageError::from_api(&ctx, e);
    let (all, _) = state
        .publisher
        .catalog()
        .list_datasets(false, 2000, 0)
        .await
        .map_err(|e| err(e.into()))?;
    let mine: Vec<_> = all
        .into_iter()
        .filter(|d| p.can_view(d.agency.as_deref()))
        .collect();
    let reviewer = matches!(p.role, Role::Reviewer | Role::Admin);
    let queue = if reviewer {
        datasets::review_queue(State(state.clone()), Signed(p.clone()))
            .await
            .map(|Json(v)| v["items"].as_array().map(Vec::len).unwrap_or(0))
            .unwrap_or(0)
    } else {
        0
    };
    let deadlines = deadlines_of(&state, &p).await.unwrap_or(Value::Null);
    let overdue: Vec<Value> = deadlines["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["state"] == "overdue")
        .cloned()
        .collect();
    let body = html! {
        h1 { (ctx.t("机构工作台", "Agency workspace")) }
        p { (p.user) " · " (role_label(&ctx, p.role)) @if let Some(a) = &p.agency { " · " (a) } }
        div.actions {
            @if p.role != Role::Reviewer {
                a #new-dataset.button href="/agency/datasets/new" { (ctx.t("新建数据集", "New dataset")) }
            }
            @if reviewer {
                a #review-queue-link.button.secondary href="/agency/review" { (ctx.t("待审核", "Review queue")) " (" (queue) ")" }
            }
            a.button.secondary href="/agency/overdue" { (ctx.t("公开时限", "Deadlines")) }
        }
        section #overdue aria-labelledby="overdue-h" {
            h2 #overdue-h { (ctx.t("逾期未公开", "Overdue")) " (" (overdue.len()) ")" }
            @if overdue.is_empty() {
                p { (ctx.t("没有逾期事项。", "Nothing is overdue.")) }
            } @else {
                ul {
                    @for i in overdue.iter().take(10) {
                        li { a href=(format!("/agency/datasets/{}", text(&i["slug"]))) { (text(&i["title"])) }
                             " — " (ctx.t("期限 ", "deadline ")) (text(&i["deadline"])) }
                    }
                }
            }
        }
        section #my-datasets aria-labelledby="mine-h" {
            h2 #mine-h { (ctx.t("本机构数据集", "Your agency's datasets")) " (" (mine.len()) ")" }
            div.table-scroll tabindex="0" role="region" aria-label=(ctx.t("本机构数据集", "Your agency's datasets")) {
                table {
                    thead { tr {
                        th scope="col" { (ctx.t("标题", "Title")) }
                        th scope="col" { (ctx.t("机构", "Agency")) }
                        th scope="col" { (ctx.t("状态", "Status")) }
                        th scope="col" { (ctx.t("当前版本", "Current version")) }
                        th scope="col" { (ctx.t("更新", "Updated")) }
                    } }
                    tbody {
                        @for d in &mine {
                            tr {
                                td { a href=(format!("/agency/datasets/{}", d.slug)) { (d.title) } }
                                td { (d.agency.as_deref().unwrap_or("")) }
                                td { (status_label(&ctx, d.status.as_str())) }
                                td { @if let Some(v) = d.latest_version { "v" (v) } }
                                td { (day(&d.updated_at)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(page(
        &ctx,
        ctx.t("机构工作台", "Agency workspace"),
        body,
    )))
}

async fn deadlines_of(state: &AppState, p: &Principal) -> Result<Value, ApiError> {
    let report = if p.is_platform_admin() {
        state.publisher.all_deadlines(p).await?
    } else if let Some(a) = &p.agency {
        state.publisher.agency_deadlines(a, p).await?
    } else {
        return Ok(Value::Null);
    };
    serde_json::to_value(report).map_err(ApiError::internal)
}

/// `GET /agency/review`: versions waiting for this reviewer.
pub async fn review_queue(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    let p = match signed_in(&ctx) {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let Json(v) = datasets::review_queue(State(state.clone()), Signed(p))
        .await
        .map_err(|e| PageError::from_api(&ctx, e))?;
    let items = v["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        h1 { (ctx.t("待审核", "Review queue")) }
        @if items.is_empty() { p { (ctx.t("没有待审核的版本。", "Nothing waits for review.")) } }
        ul #review-queue {
            @for i in &items {
                @let href = format!("/agency/datasets/{}/versions/{}", text(&i["dataset"]), text(&i["version"]));
                li {
                    a href=(href) { (text(&i["title"])) " v" (text(&i["version"])) }
                    " · " (text(&i["agency"]))
                    " · " (ctx.t("提交人 ", "submitted by ")) (text(&i["submitted_by"]))
                    @if let Some(t) = i["submitted_at"].as_str() { " · " (day(t)) }
                    @if let Some(n) = i["rows"].as_i64() { " · " (thousands(n)) (ctx.t(" 行", " rows")) }
                    @if let Some(f) = i["privacy"].as_array().filter(|f| !f.is_empty()) {
                        " · " strong { (f.len()) (ctx.t(" 个个人信息字段", " personal fields")) }
                    }
                }
            }
        }
    };
    Ok(html_page(page(&ctx, ctx.t("待审核", "Review queue"), body)))
}

/// `GET /agency/overdue`: publication deadlines, overdue first.
pub async fn overdue(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    let p = match signed_in(&ctx) {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let v = deadlines_of(&state, &p)
        .await
        .map_err(|e| PageError::from_api(&ctx, e))?;
    let body = html! {
        h1 { (ctx.t("公开时限", "Publication deadlines")) }
        p { (ctx.t("依《政府信息公开条例》，信息应在形成或变更之日起 20 个工作日内公开（本平台按机构设定的工作日计算）。今天：",
                   "Information must be published within the statutory number of working days after it is made. Today: "))
            (text(&v["today"])) }
        div.table-scroll tabindex="0" role="region" aria-label=(ctx.t("公开时限", "Publication deadlines")) {
            table #deadlines {
                thead { tr {
                    th scope="col" { (ctx.t("数据集", "Dataset")) }
                    th scope="col" { (ctx.t("形成日期", "Decision date")) }
                    th scope="col" { (ctx.t("期限", "Deadline")) }
                    th scope="col" { (ctx.t("状态", "State")) }
                    th scope="col" { (ctx.t("剩余工作日", "Working days left")) }
                } }
                tbody {
                    @for i in v["items"].as_array().into_iter().flatten() {
                        @let state_code = text(&i["state"]);
                        tr {
                            td { a href=(format!("/agency/datasets/{}", text(&i["slug"]))) { (text(&i["title"])) } }
                            td { (text(&i["decision_date"])) }
                            td { (text(&i["deadline"])) }
                            td { (match state_code.as_str() {
                                "overdue" => ctx.t("逾期", "overdue"),
                                "due" => ctx.t("待公开", "due"),
                                "published_on_time" => ctx.t("按时公开", "published on time"),
                                "published_late" => ctx.t("逾期公开", "published late"),
                                _ => "",
                            }) }
                            td.num { (text(&i["working_days_left"])) }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(page(&ctx, ctx.t("公开时限", "Deadlines"), body)))
}

// ------------------------------------------------------------------ datasets

fn dataset_form(
    ctx: &Ctx,
    agencies: &[gongkai_catalog::Agency],
    form: &Form,
    error: Option<&str>,
) -> Markup {
    let v = |k: &str| field(form, k).unwrap_or("").to_string();
    let categories: [(&str, &str, &str); 5] = [
        ("other", "其他", "other"),
        (
            "social_assistance",
            "社会救助（低保、特困等）",
            "social assistance",
        ),
        ("subsidy", "补贴发放", "subsidies"),
        ("land_compensation", "征地补偿", "land compensation"),
        ("penalty", "行政处罚", "administrative penalties"),
    ];
    html! {
        h1 { (ctx.t("新建数据集", "New dataset")) }
        @if let Some(e) = error { (alert(e)) }
        form #dataset-form method="post" action="/agency/datasets/new" {
            (ctx.csrf_field())
            div.field {
                label for="title" { (ctx.t("标题", "Title")) }
                input #title type="text" name="title" value=(v("title")) required;
            }
            div.field {
                label for="slug" { (ctx.t("标识（网址和 SQL 表名）", "Slug (address and SQL table name)")) }
                input #slug type="text" name="slug" value=(v("slug")) required pattern="[a-z0-9][a-z0-9-]*" aria-describedby="slug-hint";
                span #slug-hint.hint { (ctx.t("小写字母、数字和连字符，如 subsidy-2024-06", "lower-case letters, digits and hyphens, e.g. subsidy-2024-06")) }
            }
            div.field {
                label for="description" { (ctx.t("说明", "Description")) }
                textarea #description name="description" rows="3" { (v("description")) }
            }
            div.field {
                label for="agency" { (ctx.t("发布机构", "Agency")) }
                select #agency name="agency" required {
                    @for a in agencies {
                        option value=(a.slug) selected[v("agency") == a.slug] { (a.name) " (" (a.slug) ")" }
                    }
                }
            }
            div.field {
                label for="category" { (ctx.t("类别（决定默认脱敏方式）", "Category (sets the default redaction)")) }
                select #category name="category" {
                    @for (code, zh, en) in categories {
                        option value=(code) selected[v("category") == code] { (ctx.t(zh, en)) }
                    }
                }
            }
            div.field {
                label for="decision_date" { (ctx.t("形成日期（计算公开时限）", "Decision date (starts the publication deadline)")) }
                input #decision_date type="date" name="decision_date" value=(v("decision_date"));
            }
            fieldset.field {
                legend { (ctx.t("领域", "Themes")) }
                @for t in gongkai_catalog::metadata::THEMES {
                    label.field.inline { input type="checkbox" name="themes" value=(t.code) checked[form.iter().any(|(k, x)| k == "themes" && x == t.code)]; span { (ctx.t(t.zh, t.en)) } }
                }
            }
            button type="submit" { (ctx.t("创建", "Create")) }
        }
    }
}

async fn editable_agencies(state: &AppState, p: &Principal) -> Vec<gongkai_catalog::Agency> {
    state
        .publisher
        .catalog()
        .agencies()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|a| p.can_edit(Some(&a.slug)))
        .collect()
}

/// `GET /agency/datasets/new`.
pub async fn new_dataset_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    let p = match signed_in(&ctx) {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let agencies = editable_agencies(&state, &p).await;
    let form = vec![("agency".to_string(), p.agency.clone().unwrap_or_default())];
    Ok(html_page(page(
        &ctx,
        ctx.t("新建数据集", "New dataset"),
        dataset_form(&ctx, &agencies, &form, None),
    )))
}

/// `POST /agency/datasets/new`.
pub async fn create_dataset(State(state): State<AppState>, ctx: Ctx, body: Bytes) -> PageResult {
    let p = match signed_in(&ctx) {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let form = parse_form(&body);
    check_csrf(&ctx, &form)?;
    let slug = field(&form, "slug").unwrap_or("").to_string();
    let themes: Vec<&str> = form
        .iter()
        .filter(|(k, v)| k == "themes" && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    let new = json!({
        "slug": slug,
        "title": field(&form, "title").unwrap_or(""),
        "description": field(&form, "description"),
        "agency": field(&form, "agency"),
        "category": field(&form, "category"),
        "decision_date": field(&form, "decision_date"),
        "themes": themes,
    });
    let answer = match serde_json::from_value(new) {
        Ok(new) => datasets::create(State(state.clone()), Signed(p.clone()), Ok(Json(new)))
            .await
            .map(|_| ()),
        Err(e) => Err(ApiError::new(Code::InvalidForm, e.to_string())),
    };
    match answer {
        Ok(()) => {
            Ok(Redirect::to(&format!("/agency/datasets/{slug}?done=created")).into_response())
        }
        Err(e) => {
            let agencies = editable_agencies(&state, &p).await;
            let mut r = html_page(page(
                &ctx,
                ctx.t("新建数据集", "New dataset"),
                dataset_form(&ctx, &agencies, &form, Some(&e.message)),
            ));
            *r.status_mut() = e.status();
            Ok(r)
        }
    }
}

fn done_notice(ctx: &Ctx, done: Option<&str>) -> Option<Markup> {
    let text = match done? {
        "created" => ctx.t(
            "数据集已创建。下一步：上传文件。",
            "Dataset created. Next: upload a file.",
        ),
        "uploaded" => ctx.t(
            "文件已上传并完成识别，请检查报告。",
            "File uploaded and read; check the report.",
        ),
        "columns" => ctx.t(
            "字段说明和脱敏方式已保存。",
            "Column descriptions and redaction saved.",
        ),
        "submit" => ctx.t("已提交审核。", "Submitted for review."),
        "approve" => ctx.t("已批准。", "Approved."),
        "reject" => ctx.t("已退回。", "Sent back."),
        "publish" => ctx.t("已发布（或已排期）。", "Published (or scheduled)."),
        "withdrawn" => ctx.t("数据集已撤回。", "Dataset withdrawn."),
        _ => return None,
    };
    Some(notice(text))
}

/// `?done=`.
#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

/// `GET /agency/datasets/{slug}`: versions, upload and withdrawal.
pub async fn dataset(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    done: Result<Query<Done>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let p = match signed_in(&ctx) {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let d = datasets::show(
        State(state.clone()),
        Caller(Some(p.clone())),
        Path(slug.clone()),
    )
    .await
    .map_err(|e| PageError::from_api(&ctx, e))?
    .0;
    let d = serde_json::to_value(d)
        .map_err(|e| PageError::from_api(&ctx, crate::ApiError::internal(e)))?;
    let agency = d["agency"].as_str();
    let can_edit = p.can_edit(agency);
    let can_review = p.can_review(agency);
    let status = text(&d["status"]);
    let published_before = d["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|v| v["published_at"].is_string());
    let body = html! {
        p.small { a href="/agency" { (ctx.t("机构工作台", "Workspace")) } " / " (slug) }
        h1 { (text(&d["title"])) }
        @if let Some(n) = done_notice(&ctx, done.as_ref().ok().and_then(|q| q.done.as_deref())) { (n) }
        p {
            span class=(format!("status status-{status}")) { (status_label(&ctx, &status)) }
            " · " (text(&d["disclosure_label"]))
            @if status == "published" || status == "withdrawn" {
                " · " a href=(format!("/datasets/{slug}")) { (ctx.t("查看公开页面", "View the public page")) }
            }
        }
        section #versions aria-labelledby="versions-h" {
            h2 #versions-h { (ctx.t("版本", "Versions")) }
            @let versions = d["versions"].as_array().cloned().unwrap_or_default();
            @if versions.is_empty() { p { (ctx.t("尚未上传文件。", "No file uploaded yet.")) } }
            @else {
                div.table-scroll tabindex="0" role="region" aria-label=(ctx.t("版本", "Versions")) {
                    table {
                        thead { tr {
                            th scope="col" { (ctx.t("版本", "Version")) }
                            th scope="col" { (ctx.t("文件", "File")) }
                            th scope="col" { (ctx.t("行数", "Rows")) }
                            th scope="col" { (ctx.t("状态", "Status")) }
                            th scope="col" { (ctx.t("上传", "Uploaded")) }
                        } }
                        tbody {
                            @for v in versions.iter().rev() {
                                tr {
                                    td { a href=(format!("/agency/datasets/{slug}/versions/{}", text(&v["version"]))) { "v" (text(&v["version"])) } }
                                    td { (text(&v["file"])) }
                                    td.num { (v["rows"].as_i64().map(thousands).unwrap_or_default()) }
                                    td { (status_label(&ctx, &text(&v["status"]))) }
                                    td { (v["created_at"].as_str().map(day).unwrap_or("")) " " (text(&v["created_by"])) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if can_edit && status != "withdrawn" {
            section #upload aria-labelledby="upload-h" {
                h2 #upload-h { (ctx.t("上传文件", "Upload a file")) }
                p { (ctx.t("支持 XLSX、XLS、ODS、CSV/TSV（GBK、GB18030、Big5、UTF-8 等编码）。上传后系统识别表格结构、字段类型和个人信息，生成待审核的草稿版本。",
                           "XLSX, XLS, ODS and CSV/TSV in GBK, GB18030, Big5, UTF-8 and more. Gongkai finds the table, types the columns and detects personal information, making a draft version for review.")) }
                @if published_before {
                    p.small { (ctx.t("更正已发布的数据：上传更正后的文件，提交审核时填写更正说明。",
                                     "To correct published data: upload the corrected file and give a correction notice when you submit it.")) }
                }
                form #upload-form method="post" action=(format!("/agency/datasets/{slug}/upload")) enctype="multipart/form-data" {
                    (ctx.csrf_field())
                    div.field {
                        label for="sheet" { (ctx.t("工作表（可选）", "Sheet (optional)")) }
                        input #sheet type="text" name="sheet";
                    }
                    div.field {
                        label for="file" { (ctx.t("文件", "File")) }
                        input #file type="file" name="file" required accept=".xlsx,.xls,.ods,.csv,.tsv,.txt,.parquet";
                    }
                    button type="submit" { (ctx.t("上传", "Upload")) }
                    div.field {
                        progress #upload-progress max="100" value="0" hidden aria-label=(ctx.t("上传进度", "Upload progress")) {}
                        span #upload-progress-label hidden aria-live="polite" {}
                        p #upload-status hidden aria-live="polite" data-processing=(ctx.t("上传完成，正在识别表格……", "Uploaded; reading the table…")) {}
                    }
                }
            }
        }
        @if can_review && status == "published" {
            section #withdraw aria-labelledby="withdraw-h" {
                h2 #withdraw-h { (ctx.t("撤回", "Withdraw")) }
                form #withdraw-form method="post" action=(format!("/agency/datasets/{slug}/withdraw")) {
                    (ctx.csrf_field())
                    div.field {
                        label for="reason" { (ctx.t("撤回原因（公开显示）", "Reason (shown publicly)")) }
                        textarea #reason name="reason" rows="2" required {}
                    }
                    button.danger type="submit" { (ctx.t("撤回数据集", "Withdraw the dataset")) }
                }
            }
        }
    };
    Ok(html_page(page(&ctx, &text(&d["title"]), body)))
}

/// `POST /agency/datasets/{slug}/withdraw`.
pub async fn withdraw(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    body: Bytes,
) -> PageResult {
    let p = match signed_in(&ctx) {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let form = parse_form(&body);
    check_csrf(&ctx, &form)?;
    let _ = datasets::withdraw(
        State(state),
        Signed(p),
        Path(slug.clone()),
        json_body(json!({"reason": field(&form, "reason")})),
    )
    .await
    .map_err(|e| PageError::from_api(&ctx, e))?;
    Ok(Redirect::to(&format!("/agency/datasets/{slug}?done=withdrawn")).into_response())
}

/// `POST /agency/datasets/{slug}/upload` (multipart: `csrf`, `sheet`?, `file`).
///
/// With `X-Requested-With: XMLHttpRequest` (the progress-bar script) the
/// answer is JSON `{"redirect": …}` or the API error; otherwise a redirect.
pub async fn upload(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    let xhr = request
        .headers()
        .get("x-requested-with")
        .is_some_and(|v| v == "XMLHttpRequest");
    let outcome = receive_upload(&state, &ctx, &slug, request).await;
    match (outcome, xhr) {
        (Ok(url), true) => (StatusCode::CREATED, Json(json!({"redirect": url}))).into_response(),
        (Ok(url), false) => Redirect::to(&url).into_response(),
        (Err(e), true) => e.into_response(),
        (Err(e), false) => PageError::from_api(&ctx, e).into_response(),
    }
}

async fn receive_upload(
    state: &AppState,
    ctx: &Ctx,
    slug: &str,
    request: Request,
) -> Result<String, ApiError> {
    let p = ctx
        .user
        .clone()
        .ok_or_else(|| ApiError::new(Code::Unauthorized, ctx.t("请先登录。", "Please sign in.")))?;
    let d = state
        .publisher
        .dataset_for(slug, Some(&p))
        .await
        .map_err(crate::ApiError::from)?;
    if !p.can_edit(d.agency.as_deref()) {
        return Err(crate::auth::forbidden(
            "you may only upload to datasets of your own agency",
        ));
    }
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::new(Code::InvalidMultipart, e.body_text()))?;
    let mut csrf_ok = false;
    let mut sheet = None;
    while let Some(f) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::new(Code::InvalidMultipart, e.body_text()))?
    {
        match f.name() {
            Some("csrf") => {
                let v = f
                    .text()
                    .await
                    .map_err(|e| ApiError::new(Code::InvalidMultipart, e.body_text()))?;
                csrf_ok = ctx.csrf_ok(Some(v.trim()));
            }
            Some("sheet") => {
                let v = f
                    .text()
                    .await
                    .map_err(|e| ApiError::new(Code::InvalidMultipart, e.body_text()))?;
                sheet = Some(v.trim().to_string()).filter(|s| !s.is_empty());
            }
            Some("file") => {
                if !csrf_ok {
                    return Err(crate::auth::forbidden(
                        "CSRF check failed: reload the page and upload again / 表单校验失败，请刷新后重新上传",
                    ));
                }
                let name = f
                    .file_name()
                    .map(str::to_string)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| {
                        ApiError::new(
                            Code::MissingFile,
                            "choose a file to upload / 请选择要上传的文件",
                        )
                    })?;
                let stream = f.map(|r| r.map_err(|e| e.body_text()));
                let version = state
                    .publisher
                    .upload(&d, (&p).into(), &name, sheet.clone(), Box::pin(stream))
                    .await?;
                return Ok(format!(
                    "/agency/datasets/{slug}/versions/{}?done=uploaded",
                    version.number
                ));
            }
            _ => {}
        }
    }
    Err(ApiError::new(
        Code::MissingFile,
        "the form has no file / 表单中没有文件",
    ))
}

// ------------------------------------------------------------------ versions

/// `GET /agency/datasets/{slug}/versions/{n}`: the ingest report and the workflow.
pub async fn version(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, number)): Path<(String, i64)>,
    done: Result<Query<Done>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let p = match signed_in(&ctx) {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let flash = done_notice(&ctx, done.as_ref().ok().and_then(|q| q.done.as_deref()));
    render_version(&state, &ctx, &p, &slug, number, flash).await
}

async fn render_version(
    state: &AppState,
    ctx: &Ctx,
    p: &Principal,
    slug: &str,
    number: i64,
    flash: Option<Markup>,
) -> PageResult {
    let err = |e: ApiError| PageError::from_api(ctx, e);
    let d = state
        .publisher
        .dataset_for(slug, Some(p))
        .await
        .map_err(|e| err(e.into()))?;
    let version = state
        .publisher
        .version_for(&d, number, Some(p))
        .await
        .map_err(|e| err(e.into()))?;
    let Json(v) = datasets::version(
        State(state.clone()),
        Caller(Some(p.clone())),
        Path((slug.to_string(), number)),
    )
    .await
    .map_err(err)?;
    let v = serde_json::to_value(v).map_err(|e| err(crate::ApiError::internal(e)))?;
    let report = &v["report"];
    let status = text(&v["status"]);
    let can_edit = p.can_edit(d.agency.as_deref());
    let can_review = p.can_review(d.agency.as_deref());
    let editable = matches!(status.as_str(), "draft" | "rejected");
    let published_before = state
        .publisher
        .catalog()
        .versions(d.id)
        .await
        .map(|vs| vs.iter().any(|x| x.published_at.is_some()))
        .unwrap_or(false);
    let columns: Vec<Value> = v["columns"].as_array().cloned().unwrap_or_default();
    let findings: Vec<Value> = report["privacy"].as_array().cloned().unwrap_or_default();

    // The first rows as they will be published (the draft is already redacted).
    let key = version
        .public_key
        .clone()
        .or_else(|| version.draft_key.clone());
    let preview = match key {
        Some(key) => {
            let table = PublishedTable {
                slug: d.slug.clone(),
                dataset_id: d.id,
                version: version.number,
                is_latest: true,
                key,
            };
            match RowQuery::parse(&[("_size".to_string(), "10".to_string())]) {
                Ok(q) => state
                    .engine
                    .rows(table, q)
                    .await
                    .map(|r| r.batch)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
        None => Err(ctx
            .t("该版本没有数据文件。", "This version has no data file.")
            .to_string()),
    };
    let base = format!("/agency/datasets/{slug}/versions/{number}");
    let actions = [
        ("drop", "删除整列", "remove the column"),
        ("mask", "部分遮盖", "mask"),
        ("generalize", "泛化", "generalise"),
        ("mask_cells", "遮盖文本中的号码", "mask numbers in text"),
        ("pseudonym", "化名替换", "pseudonym"),
        (
            "keep",
            "保留原值（需审核人和法律依据）",
            "keep (reviewer and legal basis)",
        ),
    ];
    let body = html! {
        p.small { a href="/agency" { (ctx.t("机构工作台", "Workspace")) } " / " a href=(format!("/agency/datasets/{slug}")) { (slug) } " / v" (number) }
        h1 { (d.title) " · v" (number) }
        @if let Some(f) = flash { (f) }
        p { (ctx.t("状态：", "Status: ")) strong #version-status data-status=(status) { (status_label(ctx, &status)) " (" (status) ")" }
            @if let Some(c) = v["review_comment"].as_str() { " · " (ctx.t("审核意见：", "Review comment: ")) (c) }
            @if let Some(t) = v["scheduled_at"].as_str() { " · " (ctx.t("计划发布：", "Scheduled: ")) (t) }
        }

        section #shape aria-labelledby="shape-h" {
            h2 #shape-h { (ctx.t("识别结果", "What was found")) }
            dl.meta {
                dt { (ctx.t("文件", "File")) } dd { (text(&report["file"])) " (" (text(&report["format"])) ")" }
                @if let Some(e) = report["encoding"].as_str() { dt { (ctx.t("编码", "Encoding")) } dd { (e) } }
                @if let Some(e) = report["delimiter"].as_str() { dt { (ctx.t("分隔符", "Delimiter")) } dd { code { (e) } } }
                dt { (ctx.t("数据行", "Data rows")) } dd { (report["rows"].as_i64().map(thousands).unwrap_or_default()) }
                @if let Some(h) = report["hidden_sheets"].as_array().filter(|h| !h.is_empty()) {
                    dt { (ctx.t("隐藏工作表", "Hidden sheets")) } dd { (h.iter().map(text).collect::<Vec<_>>().join("、")) }
                }
            }
            @for s in report["sheets"].as_array().into_iter().flatten() {
                h3 { (ctx.t("工作表 ", "Sheet ")) (text(&s["name"])) }
                ul {
                    @if let Some(t) = s["title"].as_str() { li { (ctx.t("标题行：", "Title: ")) (t) } }
                    @if let Some(u) = s["unit"].as_str() { li { (ctx.t("单位：", "Unit: ")) (u) } }
                    @if let Some(h) = s["header_rows"].as_array() {
                        li { (ctx.t("表头：第 ", "Header rows: ")) (h.first().and_then(Value::as_i64).map(|x| x + 1).unwrap_or(0)) "–" (h.get(1).and_then(Value::as_i64).map(|x| x + 1).unwrap_or(0)) (ctx.t(" 行", "")) }
                    }
                    li { (ctx.t("数据行：", "Data rows: ")) (text(&s["data_rows"])) }
                    @if s["blank_rows"].as_i64().unwrap_or(0) > 0 { li { (ctx.t("空行（已跳过）：", "Blank rows skipped: ")) (text(&s["blank_rows"])) } }
                    @for t in s["totals"].as_array().into_iter().flatten() {
                        li { (ctx.t("合计行（第 ", "Totals row (row ")) (t["row"].as_i64().map(|x| x + 1).unwrap_or(0)) (ctx.t(" 行，未计入数据）：", ", kept out of the data): "))
                            @for c in t["columns"].as_array().into_iter().flatten() {
                                (text(&c["column"])) " " (text(&c["stated"]))
                                @if c["matches"] == true { " ✓ " } @else { " ≠ " (text(&c["computed"])) " ✗ " }
                            }
                        }
                    }
                    @for f in s["footnotes"].as_array().into_iter().flatten() {
                        li { (ctx.t("注释行：", "Footnote: ")) (f.get(1).map(text).unwrap_or_default()) }
                    }
                }
            }
        }

        section #pii-findings aria-labelledby="pii-h" {
            h2 #pii-h { (ctx.t("个人信息检测", "Personal information found")) }
            @if findings.is_empty() {
                p { (ctx.t("未发现个人信息字段。", "No personal fields were found.")) }
            } @else {
                div.table-scroll tabindex="0" role="region" aria-label=(ctx.t("个人信息检测", "Personal information found")) {
                    table {
                        thead { tr {
                            th scope="col" { (ctx.t("列", "Column")) }
                            th scope="col" { (ctx.t("类型", "Kind")) }
                            th scope="col" { (ctx.t("识别依据", "Found by")) }
                            th scope="col" { (ctx.t("单元格", "Cells")) }
                            th scope="col" { (ctx.t("处理", "Action")) }
                            th scope="col" { (ctx.t("公开效果", "As published")) }
                        } }
                        tbody {
                            @for f in &findings {
                                tr {
                                    td { (f["path"].as_array().map(|p| p.iter().map(text).collect::<Vec<_>>().join("/")).unwrap_or_default()) " " code { (text(&f["column"])) } }
                                    td { (pii_label(ctx, &text(&f["kind"]))) }
                                    td { (if f["by"] == "header" { ctx.t("表头", "header") } else { ctx.t("数值", "values") }) }
                                    td.num { (text(&f["cells"])) }
                                    td { (action_label(ctx, &text(&f["action"]))) }
                                    td {
                                        @if f["action"] == "drop" { span.muted { (ctx.t("（整列不公开）", "(column not published)")) } }
                                        @else { (f["preview"].as_array().map(|p| p.iter().take(3).map(text).collect::<Vec<_>>().join("，")).unwrap_or_default()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        section #redacted-preview aria-labelledby="preview-h" {
            h2 #preview-h { (ctx.t("脱敏后预览（前 10 行，即公开内容）", "Redacted preview (first 10 rows, as the public will see them)")) }
            @match &preview {
                Ok(batch) => {
                    @let headers: Vec<grid::Header> = batch.schema().fields().iter().map(|f| {
                        let c = columns.iter().find(|c| c["name"] == f.name().as_str());
                        grid::Header { name: f.name().clone(), label: c.map(column_label), unit: c.and_then(|c| c["unit"].as_str()).map(str::to_string), sort: None }
                    }).collect();
                    (grid::table("redacted-table", ctx.t("脱敏后预览", "Redacted preview"), &headers, std::slice::from_ref(batch)))
                }
                Err(m) => { (alert(m)) }
            }
        }

        section #columns aria-labelledby="columns-h" {
            h2 #columns-h { (ctx.t("字段", "Columns")) }
            @let report_cols = report["columns"].as_array().cloned().unwrap_or_default();
            form #columns-form method="post" action=(format!("{base}/columns")) {
                (ctx.csrf_field())
                div.table-scroll tabindex="0" role="region" aria-label=(ctx.t("字段", "Columns")) {
                    table {
                        thead { tr {
                            th scope="col" { (ctx.t("原始列名", "Original header")) }
                            th scope="col" { (ctx.t("字段名", "Field")) }
                            th scope="col" { (ctx.t("类型", "Type")) }
                            th scope="col" { (ctx.t("单位", "Unit")) }
                            th scope="col" { (ctx.t("空值", "Nulls")) }
                            th scope="col" { (ctx.t("示例", "Examples")) }
                            th scope="col" { (ctx.t("说明", "Description")) }
                            th scope="col" { (ctx.t("脱敏", "Redaction")) }
                        } }
                        tbody {
                            @for c in &columns {
                                @let name = text(&c["name"]);
                                @let rc = report_cols.iter().find(|r| r["name"] == c["name"]);
                                @let personal = !c["pii"].is_null();
                                tr {
                                    td { (column_label(c)) }
                                    td {
                                        @if editable && can_edit {
                                            input type="text" name=(format!("name.{name}")) value=(name) pattern="[a-z_][a-z0-9_]*" aria-label=(format!("{} {}", ctx.t("字段名", "Field name"), column_label(c)));
                                        } @else { code { (name) } }
                                    }
                                    td {
                                        @if editable && can_edit && !personal {
                                            @let current = text(&c["type"]);
                                            select name=(format!("type.{name}")) aria-label=(format!("{} {}", ctx.t("类型", "Type of"), column_label(c))) {
                                                option value=(current) selected { (current) }
                                                @for (t, zh, en) in TYPES {
                                                    @if t != current { option value=(t) { (ctx.t(zh, en)) " (" (t) ")" } }
                                                }
                                            }
                                        } @else { (text(&c["type"])) }
                                    }
                                    td { (text(&c["unit"])) }
                                    td.num { (rc.map(|r| text(&r["nulls"])).unwrap_or_default()) }
                                    td { @if personal { span.muted { (ctx.t("（个人信息，不显示）", "(personal, not shown)")) } }
                                         @else { (rc.and_then(|r| r["examples"].as_array()).map(|e| e.iter().take(3).map(text).collect::<Vec<_>>().join("，")).unwrap_or_default()) } }
                                    td {
                                        @if editable && can_edit {
                                            input type="text" name=(format!("description.{name}")) value=(text(&c["description"])) aria-label=(format!("{} {}", ctx.t("说明", "Description"), column_label(c)));
                                        } @else { (text(&c["description"])) }
                                    }
                                    td {
                                        @if personal && editable && (can_edit || can_review) {
                                            @let current = c["action"].as_str().unwrap_or("");
                                            select name=(format!("action.{name}")) aria-label=(format!("{} {}", ctx.t("脱敏方式", "Redaction of"), column_label(c))) {
                                                @for (code, zh, en) in actions {
                                                    option value=(code) selected[current == code] { (ctx.t(zh, en)) }
                                                }
                                            }
                                            @if can_review {
                                                input type="text" name=(format!("legal_basis.{name}")) placeholder=(ctx.t("法律依据（放宽时必填）", "Legal basis (needed to loosen)")) aria-label=(format!("{} {}", ctx.t("法律依据", "Legal basis"), column_label(c)));
                                            }
                                        } @else if let Some(a) = c["action"].as_str() { (action_label(ctx, a)) }
                                    }
                                }
                            }
                        }
                    }
                }
                @if editable && can_edit {
                    button type="submit" { (ctx.t("保存字段", "Save columns")) }
                }
            }
        }

        @if let Some(w) = report["warnings"].as_array().filter(|w| !w.is_empty()) {
            section #warnings aria-labelledby="warnings-h" {
                h2 #warnings-h { (ctx.t("提示", "Warnings")) " (" (w.len()) ")" }
                ul {
                    @for x in w.iter().take(200) {
                        li {
                            @if let Some(s) = x["sheet"].as_str() { (ctx.t("工作表 ", "sheet ")) (s) " " }
                            @if let Some(r) = x["row"].as_i64() { (ctx.t("第 ", "row ")) (r + 1) (ctx.t(" 行 ", " ")) }
                            @if let Some(c) = x["header"].as_str().or(x["column"].as_str()) { (ctx.t("列 ", "column ")) (c) " " }
                            "— " (text(&x["message"]))
                        }
                    }
                }
            }
        } @else {
            section #warnings aria-labelledby="warnings-h" { h2 #warnings-h { (ctx.t("提示", "Warnings")) } p { (ctx.t("没有提示。", "None.")) } }
        }

        section #workflow aria-labelledby="workflow-h" {
            h2 #workflow-h { (ctx.t("审核与发布", "Review and publication")) }
            div.actions {
                @if editable && can_edit {
                    form #submit-form method="post" action=(format!("{base}/submit")) {
                        (ctx.csrf_field())
                        div.field {
                            label for="change_note" { (ctx.t("更新说明（可选）", "Change note (optional)")) }
                            textarea #change_note name="change_note" rows="2" {}
                        }
                        @if published_before {
                            div.field {
                                label for="correction_notice" { (ctx.t("更正说明（更正已发布数据时填写）", "Correction notice (when correcting published data)")) }
                                textarea #correction_notice name="correction_notice" rows="2" {}
                            }
                        }
                        button type="submit" { (ctx.t("提交审核", "Submit for review")) }
                    }
                }
                @if status == "submitted" && can_review {
                    form #approve-form method="post" action=(format!("{base}/approve")) {
                        (ctx.csrf_field())
                        label.field.inline { input type="checkbox" name="confidentiality_reviewed" value="true" required; span { (ctx.t("已完成保密审查", "Confidentiality review done")) } }
                        label.field.inline { input type="checkbox" name="redaction_confirmed" value="true" required; span { (ctx.t("已核对脱敏预览", "Redaction preview checked")) } }
                        div.field {
                            label for="approve-comment" { (ctx.t("意见（可选）", "Comment (optional)")) }
                            textarea #approve-comment name="comment" rows="2" {}
                        }
                        button type="submit" { (ctx.t("批准", "Approve")) }
                    }
                    form #reject-form method="post" action=(format!("{base}/reject")) {
                        (ctx.csrf_field())
                        div.field {
                            label for="reject-comment" { (ctx.t("退回意见", "Why it goes back")) }
                            textarea #reject-comment name="comment" rows="2" required {}
                        }
                        button.secondary type="submit" { (ctx.t("退回修改", "Send back")) }
                    }
                }
                @if status == "approved" && (can_review || can_edit) {
                    form #publish-form method="post" action=(format!("{base}/publish")) {
                        (ctx.csrf_field())
                        div.field {
                            label for="at" { (ctx.t("定时发布（北京时间，留空则立即发布）", "Publish at (Beijing time; empty publishes now)")) }
                            input #at type="datetime-local" name="at";
                        }
                        button type="submit" { (ctx.t("发布", "Publish")) }
                    }
                }
                @if status == "published" {
                    p { (ctx.t("已发布。", "Published. ")) a href=(format!("/datasets/{slug}")) { (ctx.t("查看公开页面", "View the public page")) } }
                }
            }
        }
    };
    Ok(html_page(page(
        ctx,
        &format!("{} v{number}", d.title),
        body,
    )))
}

/// `POST /agency/datasets/{slug}/versions/{n}/{action}`: submit, approve,
/// reject, publish or columns.
pub async fn version_action(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, number, action)): Path<(String, i64, String)>,
    body: Bytes,
) -> PageResult {
    let p = match signed_in(&ctx) {
        Ok(p) => p,
        Err(r) => return Ok(r),
    };
    let form = parse_form(&body);
    check_csrf(&ctx, &form)?;
    let path = Path((slug.clone(), number));
    let st = State(state.clone());
    let signed = Signed(p.clone());
    let outcome: Result<(), ApiError> = match action.as_str() {
        "submit" => datasets::submit(st, signed, path, json_body(json!({
            "change_note": field(&form, "change_note"),
            "correction_notice": field(&form, "correction_notice"),
        })))
        .await
        .map(|_| ()),
        "approve" => datasets::approve(st, signed, path, json_body(json!({
            "comment": field(&form, "comment"),
            "confidentiality_reviewed": field(&form, "confidentiality_reviewed") == Some("true"),
            "redaction_confirmed": field(&form, "redaction_confirmed") == Some("true"),
        })))
        .await
        .map(|_| ()),
        "reject" => datasets::reject(st, signed, path, json_body(json!({"comment": field(&form, "comment")})))
            .await
            .map(|_| ()),
        "publish" => {
            let at = field(&form, "at").map(beijing_time);
            datasets::publish(st, signed, path, json_body(json!({"at": at}))).await.map(|_| ())
        }
        "columns" => save_columns(&state, &p, &slug, number, &form).await,
        _ => return Err(PageError::new(&ctx, StatusCode::NOT_FOUND, ctx.t("没有这个操作。", "No such action."))),
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!(
            "/agency/datasets/{slug}/versions/{number}?done={action}"
        ))
        .into_response()),
        Err(e) => {
            let status = e.status();
            let mut r =
                render_version(&state, &ctx, &p, &slug, number, Some(alert(&e.message))).await?;
            *r.status_mut() = status;
            Ok(r)
        }
    }
}

/// `2026-11-27T10:00` (a `datetime-local` value) as RFC 3339 in Beijing time.
fn beijing_time(local: &str) -> String {
    let with_seconds = if local.len() == 16 {
        format!("{local}:00")
    } else {
        local.to_string()
    };
    format!("{with_seconds}+08:00")
}

/// Types a column can be changed to in the form.
const TYPES: [(&str, &str, &str); 6] = [
    ("Utf8", "文本", "text"),
    ("Int64", "整数", "integer"),
    (
        "Decimal128(18, 2)",
        "金额（两位小数）",
        "decimal (2 places)",
    ),
    ("Float64", "小数", "number"),
    ("Date32", "日期", "date"),
    ("Boolean", "是/否", "yes/no"),
];

/// Saves names, types, descriptions and redaction choices from the columns form.
async fn save_columns(
    state: &AppState,
    p: &Principal,
    slug: &str,
    number: i64,
    form: &Form,
) -> Result<(), ApiError> {
    let d = state
        .publisher
        .dataset_for(slug, Some(p))
        .await
        .map_err(crate::ApiError::from)?;
    let v = state
        .publisher
        .version_for(&d, number, Some(p))
        .await
        .map_err(crate::ApiError::from)?;
    let mut descriptions = serde_json::Map::new();
    let mut redaction = serde_json::Map::new();
    for c in &v.columns {
        if let Some((_, text)) = form
            .iter()
            .find(|(k, _)| *k == format!("description.{}", c.name))
        {
            let text = text.trim();
            if Some(text) != c.description.as_deref()
                && !(text.is_empty() && c.description.is_none())
            {
                descriptions.insert(c.name.clone(), json!({"description": text}));
            }
        }
        let mut edit = serde_json::Map::new();
        if let Some(n) = field(form, &format!("name.{}", c.name)).filter(|n| *n != c.name) {
            edit.insert("name".into(), json!(n));
        }
        if let Some(t) = field(form, &format!("type.{}", c.name)).filter(|t| *t != c.data_type) {
            edit.insert("type".into(), json!(t));
        }
        if !edit.is_empty() {
            let entry = descriptions
                .entry(c.name.clone())
                .or_insert_with(|| json!({}));
            if let Some(o) = entry.as_object_mut() {
                o.extend(edit);
            }
        }
        if let Some(action) = field(form, &format!("action.{}", c.name))
            && Some(action) != c.action.as_deref()
        {
            redaction.insert(
                c.name.clone(),
                json!({"action": action, "legal_basis": field(form, &format!("legal_basis.{}", c.name))}),
            );
        }
    }
    if !redaction.is_empty() {
        let req = serde_json::from_value(json!({"columns": redaction}))
            .map_err(|e| ApiError::new(Code::InvalidForm, e.to_string()))?;
        let _ = datasets::redaction(
            State(state.clone()),
            Signed(p.clone()),
            Path((slug.to_string(), number)),
            Ok(Json(req)),
        )
        .await?;
    }
    if !descriptions.is_empty() {
        let req = serde_json::from_value(json!({"columns": descriptions}))
            .map_err(|e| ApiError::new(Code::InvalidForm, e.to_string()))?;
        let _ = datasets::describe_columns(
            State(state.clone()),
            Signed(p.clone()),
            Path((slug.to_string(), number)),
            Ok(Json(req)),
        )
        .await?;
    }
    Ok(())
}
