//! The row API's query-string parser (filters, sort, select, cursors).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Treat the input as a query string, as axum would decode it.
    let pairs: Vec<(String, String)> = data
        .split(|b| *b == b'&')
        .map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv.to_string(), String::new()),
            }
        })
        .collect();
    let _ = gongkai_query::RowQuery::parse(&pairs);
});
