//! Catalogue feeds for harvesters and search engines: DCAT-AP 3 (JSON-LD and
//! Turtle), DCAT-US 1.1 `data.json`, `sitemap.xml`, and the 政务信息公开目录 as
//! CSV and XLSX. The documents themselves are built in
//! [`gongkai_catalog::feeds`]; this module lists the public catalogue and
//! wraps the results in HTTP responses.

use crate::links::base_url;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use gongkai_catalog::feeds::{CATALOGUE_HEADERS, Feeds};
use gongkai_catalog::{Agency, Dataset};
use gongkai_publish::policy::listed as is_listed;
use serde_json::Value;

/// Datasets fetched per catalogue page while listing everything.
const PAGE: i64 = 500;

/// Every dataset the public may see (published, withdrawn, 依申请公开), newest first.
async fn public_datasets(state: &AppState) -> Result<Vec<Dataset>, ApiError> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let (page, total) = state
            .publisher
            .catalog()
            .list_datasets(true, PAGE, offset)
            .await?;
        let n = page.len() as i64;
        // The store already filters; filter again so a feed can never leak a draft.
        out.extend(page.into_iter().filter(is_listed));
        offset += n;
        if n < PAGE || offset >= total {
            break;
        }
    }
    Ok(out)
}

/// The listed datasets, all agencies and the base URL.
async fn inputs(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Vec<Dataset>, Vec<Agency>, String), ApiError> {
    let base = base_url(state, headers)?;
    let datasets = public_datasets(state).await?;
    let agencies = state.publisher.catalog().agencies().await?;
    Ok((datasets, agencies, base))
}

fn respond(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    let mut r = Response::new(body.into());
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_body(v: &Value) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec_pretty(v).map_err(ApiError::internal)
}

/// `GET /catalog.jsonld`: the DCAT-AP 3 catalogue as JSON-LD.
pub async fn dcat_jsonld(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (datasets, agencies, base) = inputs(&state, &headers).await?;
    let doc = Feeds::new(&datasets, &agencies, &base).dcat_jsonld();
    Ok(respond("application/ld+json", json_body(&doc)?))
}

/// `GET /catalog.ttl`: the DCAT-AP 3 catalogue as Turtle.
pub async fn dcat_turtle(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (datasets, agencies, base) = inputs(&state, &headers).await?;
    let doc = Feeds::new(&datasets, &agencies, &base).dcat_turtle();
    Ok(respond("text/turtle; charset=utf-8", doc))
}

/// `GET /data.json`: the DCAT-US 1.1 (Project Open Data) catalogue.
pub async fn data_json(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (datasets, agencies, base) = inputs(&state, &headers).await?;
    let doc = Feeds::new(&datasets, &agencies, &base).data_json();
    Ok(respond("application/json", json_body(&doc)?))
}

/// `GET /sitemap.xml`: home page, dataset pages and dataset API URLs.
pub async fn sitemap(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (datasets, agencies, base) = inputs(&state, &headers).await?;
    let doc = Feeds::new(&datasets, &agencies, &base).sitemap();
    Ok(respond("application/xml; charset=utf-8", doc))
}

fn attachment(mut r: Response, file_name: &'static str) -> Response {
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(file_name),
    );
    r
}

/// `GET /api/v1/catalogue.csv`: the 政务信息公开目录 as CSV (UTF-8 with BOM).
pub async fn catalogue_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (datasets, agencies, base) = inputs(&state, &headers).await?;
    let body = Feeds::new(&datasets, &agencies, &base).catalogue_csv();
    Ok(attachment(
        respond("text/csv; charset=utf-8", body),
        "attachment; filename=\"catalogue.csv\"",
    ))
}

/// `GET /api/v1/catalogue.xlsx`: the 政务信息公开目录 as an Excel workbook.
pub async fn catalogue_xlsx(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (datasets, agencies, base) = inputs(&state, &headers).await?;
    let rows = Feeds::new(&datasets, &agencies, &base).catalogue_rows();
    let body = tokio::task::spawn_blocking(move || xlsx(&rows))
        .await
        .map_err(ApiError::internal)??;
    Ok(attachment(
        respond(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            body,
        ),
        "attachment; filename=\"catalogue.xlsx\"",
    ))
}

/// One sheet: bold frozen header row with a filter, every cell a string.
fn xlsx(rows: &[Vec<String>]) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format, Workbook};
    let fail = |e: rust_xlsxwriter::XlsxError| ApiError::internal(format!("writing XLSX: {e}"));
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("政务信息公开目录").map_err(fail)?;
    let bold = Format::new().set_bold();
    let widths = [
        24.0, 36.0, 48.0, 12.0, 24.0, 12.0, 16.0, 48.0, 24.0, 20.0, 24.0,
    ];
    for (col, h) in CATALOGUE_HEADERS.iter().enumerate() {
        let col = col as u16;
        sheet
            .write_string_with_format(0, col, *h, &bold)
            .map_err(fail)?;
        sheet
            .set_column_width(col, widths.get(col as usize).copied().unwrap_or(16.0))
            .map_err(fail)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(ApiError::internal)?;
        for (c, cell) in row.iter().enumerate() {
            sheet.write_string(r, c as u16, cell).map_err(fail)?;
        }
    }
    let last_col = (CATALOGUE_HEADERS.len() - 1) as u16;
    let last_row = u32::try_from(rows.len()).map_err(ApiError::internal)?;
    sheet.autofilter(0, 0, last_row, last_col).map_err(fail)?;
    sheet.set_freeze_panes(1, 0).map_err(fail)?;
    book.save_to_buffer().map_err(fail)
}
