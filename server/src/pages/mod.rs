//! Server-rendered web pages: the public catalogue, dataset pages, the SQL
//! console and the agency workspace.
//!
//! Pages are Simplified Chinese by default with an English switch (`?lang=en`
//! or the `gongkai_lang` cookie set by `/lang`). Every page reads without
//! JavaScript; `/static/app.js` only adds the upload progress bar and small
//! conveniences. Pages call the same handlers as the JSON API, so a page never
//! shows more than the API would give the same person.
//!
//! The workspace authenticates with the `gongkai_session` cookie (HttpOnly,
//! SameSite=Strict) set at login; every form that changes something carries a
//! CSRF token derived from the session, and cross-origin posts are refused.

mod assets;
mod chart;
mod console;
mod grid;
mod public;
mod workspace;

use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gongkai_catalog::Principal;
use hmac::{Hmac, Mac};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use sha2::Sha256;

use crate::auth::SESSION_COOKIE;
/// Name of the language cookie.
const LANG_COOKIE: &str = "gongkai_lang";

/// The page routes.
pub fn router() -> Router<AppState> {
    let uploads = Router::new()
        .route("/agency/datasets/{slug}/upload", post(workspace::upload))
        // Uploads are streamed and limited by `max_upload_bytes` in the pipeline.
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .route("/", get(public::home))
        .route("/datasets", get(public::search))
        .route("/datasets/{slug}", get(public::dataset))
        .route("/agencies", get(public::agencies))
        .route("/agencies/{slug}", get(public::agency))
        .route("/sql", get(console::show))
        .route("/lang", get(switch_language))
        .route("/static/app.css", get(assets::css))
        .route("/static/app.js", get(assets::js))
        .route("/favicon.ico", get(assets::favicon))
        .route(
            "/agency/login",
            get(workspace::login_page).post(workspace::login),
        )
        .route("/agency/logout", post(workspace::logout))
        .route("/agency", get(workspace::dashboard))
        .route("/agency/review", get(workspace::review_queue))
        .route("/agency/overdue", get(workspace::overdue))
        .route(
            "/agency/datasets/new",
            get(workspace::new_dataset_page).post(workspace::create_dataset),
        )
        .route("/agency/datasets/{slug}", get(workspace::dataset))
        .route(
            "/agency/datasets/{slug}/withdraw",
            post(workspace::withdraw),
        )
        .route(
            "/agency/datasets/{slug}/versions/{number}",
            get(workspace::version),
        )
        .route(
            "/agency/datasets/{slug}/versions/{number}/{action}",
            post(workspace::version_action),
        )
        .merge(uploads)
}

// ------------------------------------------------------------------ language

/// Page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese (default).
    Zh,
    /// English.
    En,
}

impl Lang {
    fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" | "zh-CN" | "zh-Hans" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The `lang` attribute value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

// ------------------------------------------------------------------ request context

/// What every page needs: language, the signed-in user (if any) and where we are.
pub struct Ctx {
    /// Page language.
    pub lang: Lang,
    /// The signed-in user, from the session cookie.
    pub user: Option<Principal>,
    /// CSRF token of the session (for forms).
    csrf: Option<String>,
    /// Path and query of this request (for the language switch).
    here: String,
}

impl Ctx {
    /// Chinese or English text for the page language.
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        match self.lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// A hidden CSRF field for forms of signed-in users.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf.as_deref().unwrap_or("")); }
    }

    /// Whether `presented` is this session's CSRF token.
    pub fn csrf_ok(&self, presented: Option<&str>) -> bool {
        match (&self.csrf, presented) {
            (Some(expected), Some(p)) => constant_time_eq(expected.as_bytes(), p.as_bytes()),
            _ => false,
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The CSRF token of a session: an HMAC of a fixed label keyed by the session secret.
fn csrf_for(session: &str) -> String {
    match Hmac::<Sha256>::new_from_slice(session.as_bytes()) {
        Ok(mut mac) => {
            mac.update(b"gongkai web form");
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC accepts keys of any length; this branch is unreachable in practice.
        Err(_) => String::new(),
    }
}

/// A cookie's value from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

#[derive(Deserialize)]
struct LangParam {
    lang: Option<String>,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let from_query = Query::<LangParam>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.lang)
            .and_then(|l| Lang::parse(&l));
        let lang = from_query
            .or_else(|| cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse))
            .unwrap_or(Lang::Zh);
        let session = cookie(&parts.headers, SESSION_COOKIE)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let mut user = None;
        let mut csrf = None;
        if let Some(token) = session {
            match state.publisher.catalog().authenticate(&token).await {
                Ok(Some(p)) => {
                    csrf = Some(csrf_for(&token));
                    user = Some(p);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "session lookup failed"),
            }
        }
        let here = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        Ok(Ctx {
            lang,
            user,
            csrf,
            here,
        })
    }
}

#[derive(Deserialize)]
struct SwitchParams {
    to: String,
    back: Option<String>,
}

/// `GET /lang?to=en&back=/path`: remembers the language and goes back.
async fn switch_language(Query(p): Query<SwitchParams>) -> Response {
    let lang = Lang::parse(&p.to).unwrap_or(Lang::Zh);
    let back = p
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".into());
    let back = strip_lang_param(&back);
    let mut response = Redirect::to(&back).into_response();
    let code = match lang {
        Lang::Zh => "zh",
        Lang::En => "en",
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={code}; Path=/; Max-Age=31536000; SameSite=Lax"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `path?…` without any `lang=` parameter.
fn strip_lang_param(path_and_query: &str) -> String {
    match path_and_query.split_once('?') {
        None => path_and_query.to_string(),
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| !kv.is_empty() && !kv.starts_with("lang="))
                .collect();
            if kept.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
    }
}

// ------------------------------------------------------------------ layout

/// A whole page: header with navigation, main content, footer.
pub fn page(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    page_with_head(ctx, title, html! {}, body)
}

/// A whole page with extra elements in `<head>` (JSON-LD, canonical links).
pub fn page_with_head(ctx: &Ctx, title: &str, head: Markup, body: Markup) -> Markup {
    let other = match ctx.lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    let switch = format!(
        "/lang?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("to", other.0)
            .append_pair("back", &ctx.here)
            .finish()
    );
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (ctx.t("公开 · 政府数据开放平台", "Gongkai open data")) }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
                (head)
            }
            body {
                a.skip-link href="#main" { (ctx.t("跳到主要内容", "Skip to main content")) }
                header.site-header {
                    div.wrap {
                        a.brand href="/" { span.brand-mark aria-hidden="true" { "公" } " " (ctx.t("公开 · 数据开放", "Gongkai open data")) }
                        nav aria-label=(ctx.t("主导航", "Main navigation")) {
                            ul {
                                li { a href="/datasets" { (ctx.t("数据集", "Datasets")) } }
                                li { a href="/agencies" { (ctx.t("机构", "Agencies")) } }
                                li { a href="/sql" { (ctx.t("SQL 查询", "SQL console")) } }
                                li { a href="/agency" { (ctx.t("机构工作台", "Agency workspace")) } }
                                li { a #lang-switch href=(switch) lang=(if other.0 == "en" { "en" } else { "zh-CN" }) { (other.1) } }
                            }
                        }
                        @if let Some(user) = &ctx.user {
                            form #logout-form method="post" action="/agency/logout" {
                                (ctx.csrf_field())
                                span.who { (user.user) }
                                " "
                                button.link type="submit" { (ctx.t("退出", "Sign out")) }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    div.wrap { (body) }
                }
                footer.site-footer {
                    div.wrap {
                        p {
                            (ctx.t("数据依据《中华人民共和国政府信息公开条例》公开；个人信息已按《个人信息保护法》脱敏。",
                                   "Published under the Regulations on Open Government Information; personal information is redacted under the Personal Information Protection Law."))
                        }
                        p {
                            a href="/api/v1/datasets" { "API" } " · "
                            a href="/openapi.json" { "OpenAPI" } " · "
                            a href="/catalog.jsonld" { "DCAT" } " · "
                            a href="/data.json" { "data.json" } " · "
                            a href="/api/3/action/package_list" { "CKAN API" } " · "
                            a href="/api/v1/catalogue.csv" { (ctx.t("公开目录 CSV", "Catalogue CSV")) }
                        }
                    }
                }
            }
        }
    }
}

/// A page as an HTML response.
pub fn html_page(markup: Markup) -> Response {
    let mut r = Html(markup.into_string()).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// A success message box.
pub fn notice(text: &str) -> Markup {
    html! { p.notice role="status" { (text) } }
}

/// An error message box.
pub fn alert(text: &str) -> Markup {
    html! { div.alert role="alert" { (text) } }
}

/// JSON embedded in a `<script type="application/ld+json">` block.
pub fn json_ld(value: &serde_json::Value) -> Markup {
    let text = value.to_string().replace("</", "<\\/");
    html! { script type="application/ld+json" { (PreEscaped(text)) } }
}

// ------------------------------------------------------------------ errors

/// An error shown as a page, in the page language.
pub struct PageError {
    status: StatusCode,
    message: String,
    lang: Lang,
}

impl PageError {
    /// From an API error, keeping its status and message.
    pub fn from_api(ctx: &Ctx, e: ApiError) -> PageError {
        PageError {
            status: e.status(),
            message: e.message,
            lang: ctx.lang,
        }
    }

    /// A page-level error with a status.
    pub fn new(ctx: &Ctx, status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
            lang: ctx.lang,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let ctx = Ctx {
            lang: self.lang,
            user: None,
            csrf: None,
            here: "/".into(),
        };
        let heading = match self.status {
            StatusCode::NOT_FOUND => ctx.t("页面不存在", "Page not found"),
            StatusCode::FORBIDDEN => ctx.t("没有权限", "Not allowed"),
            StatusCode::UNAUTHORIZED => ctx.t("请先登录", "Please sign in"),
            s if s.is_client_error() => ctx.t("请求有误", "Bad request"),
            _ => ctx.t("服务器错误", "Server error"),
        };
        let body = html! {
            h1 { (heading) }
            (alert(&self.message))
            p { a href="/" { (ctx.t("返回首页", "Back to the home page")) } }
        };
        let mut r = html_page(page(&ctx, heading, body));
        *r.status_mut() = self.status;
        r
    }
}

/// Result of a page handler.
pub type PageResult = Result<Response, PageError>;

// ------------------------------------------------------------------ security headers

/// Content Security Policy of HTML pages: nothing inline, nothing from elsewhere.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Policy for everything else (JSON, files): render nothing, frame nowhere.
const DATA_CSP: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// Adds security headers to every response, and refuses cross-site form posts
/// to the pages.
pub async fn security_headers(request: Request<Body>, next: Next) -> Response {
    let page_post = request.method() == Method::POST
        && (request.uri().path().starts_with("/agency") || request.uri().path() == "/lang");
    if page_post && !same_origin(request.headers()) {
        let mut r = (
            StatusCode::FORBIDDEN,
            "cross-site form submission refused / 拒绝跨站提交",
        )
            .into_response();
        set_security_headers(&mut r);
        return r;
    }
    let mut response = next.run(request).await;
    set_security_headers(&mut response);
    response
}

fn set_security_headers(response: &mut Response) {
    // Pages and redirects get the page policy; data (JSON, files) the strict one.
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/html"));
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if is_html { PAGE_CSP } else { DATA_CSP }),
    );
}

/// Whether a request's `Origin` (or, lacking one, `Referer`) is this host.
/// Requests with neither (non-browser clients) pass; the CSRF token still applies.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match (source, host) {
        (None, _) => true,
        (Some("null"), _) => false,
        (Some(src), Some(host)) => url::Url::parse(src).is_ok_and(|u| {
            let authority = match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                _ => String::new(),
            };
            authority.eq_ignore_ascii_case(host)
        }),
        (Some(_), None) => false,
    }
}

// ------------------------------------------------------------------ small helpers

/// Formats a count with thousands separators.
pub fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The date part of an RFC 3339 timestamp.
pub fn day(ts: &str) -> &str {
    ts.get(..10).unwrap_or(ts)
}

/// A JSON value as display text (strings without quotes).
pub fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Label of a version status.
pub fn status_label(ctx: &Ctx, status: &str) -> String {
    let (zh, en) = match status {
        "draft" => ("草稿", "draft"),
        "submitted" => ("待审核", "submitted"),
        "approved" => ("已批准", "approved"),
        "rejected" => ("已退回", "rejected"),
        "published" => ("已发布", "published"),
        "superseded" => ("已被新版本替代", "superseded"),
        "withdrawn" => ("已撤回", "withdrawn"),
        other => (other, other),
    };
    ctx.t(zh, en).to_string()
}

/// Label of a redaction action.
pub fn action_label(ctx: &Ctx, action: &str) -> String {
    let (zh, en) = match action {
        "drop" => ("删除整列", "column removed"),
        "mask" => ("部分遮盖", "partly masked"),
        "mask_cells" => ("遮盖文本中的号码", "numbers in text masked"),
        "generalize" => ("泛化", "generalised"),
        "pseudonym" => ("化名替换", "pseudonymised"),
        "keep" => ("依法保留", "kept (legal basis given)"),
        other => (other, other),
    };
    ctx.t(zh, en).to_string()
}

/// Label of a kind of personal information.
pub fn pii_label(ctx: &Ctx, kind: &str) -> String {
    let (zh, en) = match kind {
        "cn_resident_id" => ("居民身份证号码", "resident ID number"),
        "cn_mobile" => ("手机号码", "mobile number"),
        "cn_landline" => ("固定电话", "landline number"),
        "bank_card" => ("银行卡号", "bank card number"),
        "person_name" => ("姓名", "person's name"),
        "address" => ("住址", "address"),
        "passport" => ("护照号码", "passport number"),
        "birth_date" => ("出生日期", "birth date"),
        "age" => ("年龄", "age"),
        "health" => ("健康信息", "health information"),
        other => (other, other),
    };
    ctx.t(zh, en).to_string()
}

/// The original header of a column (its path joined with `/`), or its name.
pub fn column_label(column: &serde_json::Value) -> String {
    let path: Vec<String> = column["path"]
        .as_array()
        .map(|a| a.iter().map(text).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if path.is_empty() {
        text(&column["name"])
    } else {
        path.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_differ_per_session_and_compare_exactly() {
        let a = csrf_for("session-a");
        assert_eq!(a.len(), 64);
        assert_ne!(a, csrf_for("session-b"));
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), &a.as_bytes()[1..]));
    }

    #[test]
    fn origin_must_match_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn language_switch_drops_lang_parameter_and_numbers_group() {
        assert_eq!(strip_lang_param("/datasets?q=x&lang=en"), "/datasets?q=x");
        assert_eq!(strip_lang_param("/?lang=en"), "/");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-12), "-12");
    }
}
