//! The streamed two-pass ingest of delimited files (decoder, row
//! classification, evidence, batch conversion, redaction) on arbitrary bytes,
//! with a tiny head and tiny batches so that every boundary is crossed.
#![no_main]
use gongkai_ingest::privacy::RedactionPolicy;
use gongkai_ingest::{IngestOptions, Limits, stream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("gongkai-fuzz-{}.csv", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let options = IngestOptions {
        sheet: None,
        limits: Limits {
            stream_above_bytes: 0,
            stream_head_rows: 5,
            stream_batch_rows: 3,
            ..Limits::default()
        },
    };
    let mut rows = 0usize;
    let result = stream::ingest_delimited(
        "upload.csv",
        &path,
        &options,
        &RedactionPolicy::default(),
        None,
        |output| {
            match output {
                stream::Output::Batch(b) => rows += b.num_rows(),
                stream::Output::Restart => rows = 0,
            }
            Ok::<_, gongkai_ingest::Error>(())
        },
    );
    if let Ok(report) = result {
        assert_eq!(report.rows, rows, "the report and the batches disagree on rows");
    }
});
