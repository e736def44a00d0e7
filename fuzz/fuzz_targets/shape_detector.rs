//! Table shape detection (title, unit line, header rows, totals, footnotes)
//! and the whole ingest pipeline on arbitrary delimited text.
#![no_main]
use gongkai_ingest::IngestOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = IngestOptions::default();
    if let Ok(workbook) = gongkai_ingest::read::read("upload.csv", data, &options) {
        for sheet in &workbook.sheets {
            let _ = gongkai_ingest::shape::detect(sheet);
        }
    }
    // Typing and redaction too: errors are fine, panics are not.
    let _ = gongkai_ingest::ingest_for_publication("upload.csv", data, &options);
});
