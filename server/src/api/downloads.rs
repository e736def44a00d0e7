//! Downloads of published versions: Parquet (Range, strong ETag) and CSV (streamed).

use crate::auth::Caller;
use crate::error::Code;
use crate::{ApiError, AppState};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use gongkai_catalog::{Dataset, Principal, Version};
use gongkai_query::{Format, ResultEncoder};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange};

/// `GET /api/v1/datasets/{slug}/data.{parquet|csv}`: the latest published version.
pub async fn latest_file(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((slug, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let d = state.publisher.dataset_for(&slug, caller.as_ref()).await?;
    check_serves_data(&d, caller.as_ref())?;
    let number = d
        .latest_version
        .ok_or_else(|| ApiError::not_found(format!("a published version of {slug:?}")))?;
    let v = state
        .publisher
        .version_for(&d, number, caller.as_ref())
        .await?;
    serve(&state, &d, &v, &file, &headers, false).await
}

/// `GET /api/v1/datasets/{slug}/versions/{n}/data.{parquet|csv}`: one immutable version.
pub async fn version_file(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((slug, number, file)): Path<(String, i64, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let d = state.publisher.dataset_for(&slug, caller.as_ref()).await?;
    check_serves_data(&d, caller.as_ref())?;
    let v = state
        .publisher
        .version_for(&d, number, caller.as_ref())
        .await?;
    serve(&state, &d, &v, &file, &headers, true).await
}

/// Withdrawn datasets serve nothing (410); data given only on request (依申请公开)
/// is not downloadable by the public (403), only by the agency's staff.
pub(crate) fn check_serves_data(d: &Dataset, caller: Option<&Principal>) -> Result<(), ApiError> {
    Ok(gongkai_publish::policy::check_serves_data(d, caller)?)
}

async fn serve(
    state: &AppState,
    d: &Dataset,
    v: &Version,
    file: &str,
    headers: &HeaderMap,
    pinned: bool,
) -> Result<Response, ApiError> {
    // Drafts are served from their private copy only to their editors (checked above).
    let key = v
        .public_key
        .clone()
        .or_else(|| v.draft_key.clone())
        .ok_or_else(|| ApiError::not_found(format!("data of version {}", v.number)))?;
    let xlsx = file == "data.xlsx";
    let format = match file {
        "data.parquet" | "data.xlsx" => None,
        "data.csv" => Some(Format::Csv),
        "data.json" => Some(Format::Json),
        "data.ndjson" => Some(Format::Ndjson),
        other => {
            return Err(ApiError::not_found(format!(
                "file {other:?} (use data.parquet, data.csv, data.json, data.ndjson or data.xlsx)"
            )));
        }
    };
    let etag = match (format, xlsx) {
        (_, true) => format!("\"{}-xlsx\"", v.sha256),
        (None, false) => format!("\"{}\"", v.sha256),
        (Some(f), false) => format!("\"{}-{}\"", v.sha256, f.extension()),
    };
    let cache = if !v.status.is_public() {
        "private, no-store"
    } else if pinned {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60"
    };
    let mut base = HeaderMap::new();
    base.insert(header::ETAG, header_value(&etag)?);
    base.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        && inm.split(',').any(|t| t.trim() == etag || t.trim() == "*")
    {
        return Ok((StatusCode::NOT_MODIFIED, base).into_response());
    }
    let ext = match (format, xlsx) {
        (_, true) => "xlsx",
        (Some(f), false) => f.extension(),
        (None, false) => "parquet",
    };
    base.insert(
        header::CONTENT_DISPOSITION,
        header_value(&format!(
            "attachment; filename=\"{}-v{}.{ext}\"",
            d.slug, v.number
        ))?,
    );
    if xlsx {
        return xlsx_response(state, &key, v, base).await;
    }
    match format {
        None => {
            parquet_response(state, &ObjectPath::from(key), v.bytes as u64, headers, base).await
        }
        Some(f) => csv_response(state, &key, f, base).await,
    }
}

fn header_value(s: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(s).map_err(ApiError::internal)
}

/// Parses a single `bytes=` range against `size`; `Ok(None)` = whole file.
fn parse_range(value: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: answer with the whole file (allowed by RFC 9110)
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size.saturating_sub(1))
        }
        (s, "") => (s.parse().map_err(|_| ())?, size.saturating_sub(1)),
        (s, e) => {
            let s: u64 = s.parse().map_err(|_| ())?;
            let e: u64 = e.parse().map_err(|_| ())?;
            (s, e.min(size.saturating_sub(1)))
        }
    };
    if start > end || start >= size {
        return Err(());
    }
    Ok(Some((start, end)))
}

async fn parquet_response(
    state: &AppState,
    path: &ObjectPath,
    size: u64,
    headers: &HeaderMap,
    mut out: HeaderMap,
) -> Result<Response, ApiError> {
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.apache.parquet"),
    );
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let range = match headers.get(header::RANGE).and_then(|h| h.to_str().ok()) {
        Some(r) => match parse_range(r, size) {
            Ok(r) => r,
            Err(()) => {
                out.insert(
                    header::CONTENT_RANGE,
                    header_value(&format!("bytes */{size}"))?,
                );
                return Ok((StatusCode::RANGE_NOT_SATISFIABLE, out).into_response());
            }
        },
        None => None,
    };
    let options = GetOptions {
        range: range.map(|(s, e)| GetRange::Bounded(s..e + 1)),
        ..GetOptions::default()
    };
    let result = state.publisher.store().get_opts(path, options).await?;
    let stream = result
        .into_stream()
        .map(|r| r.map_err(std::io::Error::other));
    let body = Body::from_stream(stream);
    match range {
        Some((s, e)) => {
            out.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes {s}-{e}/{size}"))?,
            );
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(e - s + 1));
            Ok((StatusCode::PARTIAL_CONTENT, out, body).into_response())
        }
        None => {
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            Ok((StatusCode::OK, out, body).into_response())
        }
    }
}

async fn csv_response(
    state: &AppState,
    key: &str,
    format: Format,
    mut out: HeaderMap,
) -> Result<Response, ApiError> {
    let mut stream = state.engine.scan(key).await?;
    let encoder = ResultEncoder::new(format, stream.schema.clone());
    let batches = Box::pin(futures::stream::poll_fn(move |cx| stream.poll_next(cx)));
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let body = super::encoded_body(encoder, batches, || false, false)?;
    Ok((StatusCode::OK, out, body).into_response())
}

/// Most data rows a worksheet holds (Excel's limit, less the header row).
const XLSX_MAX_ROWS: usize = 1_048_575;

/// The version as an Excel workbook for people: Chinese header paths as
/// headers, numbers as numbers, dates as dates. Built in memory, so limited to
/// one worksheet's rows.
async fn xlsx_response(
    state: &AppState,
    key: &str,
    v: &Version,
    mut out: HeaderMap,
) -> Result<Response, ApiError> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::DataType;
    use rust_xlsxwriter::{ExcelDateTime, Format as Cell, Workbook};
    if v.rows as usize > XLSX_MAX_ROWS {
        return Err(ApiError::new(
            Code::TooManyRowsForXlsx,
            format!(
                "version {} has {} rows, more than a worksheet holds ({XLSX_MAX_ROWS}); download data.csv or data.parquet",
                v.number, v.rows
            ),
        ));
    }
    let fail = |e: rust_xlsxwriter::XlsxError| ApiError::internal(format!("writing XLSX: {e}"));
    let mut stream = state.engine.scan(key).await?;
    let schema = stream.schema.clone();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let bold = Cell::new().set_bold();
    let date = Cell::new().set_num_format("yyyy-mm-dd");
    for (c, f) in schema.fields().iter().enumerate() {
        // The original header path is what the agency's readers know.
        let header = f
            .metadata()
            .get("gongkai:path")
            .and_then(|p| serde_json::from_str::<Vec<String>>(p).ok())
            .map(|p| p.join("/"))
            .unwrap_or_else(|| f.name().clone());
        let header = match f.metadata().get("gongkai:unit") {
            Some(u) => format!("{header}（{u}）"),
            None => header,
        };
        sheet
            .write_string_with_format(0, c as u16, header, &bold)
            .map_err(fail)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(fail)?;
    let mut row: u32 = 1;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let text: Vec<arrow::array::ArrayRef> = batch
            .columns()
            .iter()
            .map(|a| arrow::compute::cast(a, &DataType::Utf8))
            .collect::<Result<_, _>>()
            .map_err(ApiError::internal)?;
        for i in 0..batch.num_rows() {
            for (c, array) in batch.columns().iter().enumerate() {
                if array.is_null(i) {
                    continue;
                }
                let col = c as u16;
                let as_text = text[c].as_string::<i32>().value(i);
                match array.data_type() {
                    DataType::Int8
                    | DataType::Int16
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::UInt8
                    | DataType::UInt16
                    | DataType::UInt32
                    | DataType::UInt64
                    | DataType::Float32
                    | DataType::Float64
                    | DataType::Decimal128(_, _)
                    | DataType::Decimal256(_, _) => match as_text.parse::<f64>() {
                        // Integers beyond 2^53 would lose digits as numbers.
                        Ok(n) if n.abs() < 9.0e15 => {
                            sheet.write_number(row, col, n).map_err(fail)?;
                        }
                        _ => {
                            sheet.write_string(row, col, as_text).map_err(fail)?;
                        }
                    },
                    DataType::Boolean => {
                        sheet
                            .write_boolean(row, col, array.as_boolean().value(i))
                            .map_err(fail)?;
                    }
                    DataType::Date32 => match ExcelDateTime::parse_from_str(as_text) {
                        Ok(d) => {
                            sheet
                                .write_datetime_with_format(row, col, &d, &date)
                                .map_err(fail)?;
                        }
                        Err(_) => {
                            sheet.write_string(row, col, as_text).map_err(fail)?;
                        }
                    },
                    _ => {
                        sheet.write_string(row, col, as_text).map_err(fail)?;
                    }
                }
            }
            row += 1;
        }
    }
    let bytes = book.save_to_buffer().map_err(fail)?;
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    );
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Ok((StatusCode::OK, out, Body::from(bytes)).into_response())
}
