//! Encoding detection and delimiter sniffing (the delimited-text reader) on
//! arbitrary bytes, as .csv, .tsv and .txt uploads.
#![no_main]
use gongkai_ingest::IngestOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = IngestOptions::default();
    for name in ["upload.csv", "upload.tsv", "upload.txt"] {
        let _ = gongkai_ingest::read::read(name, data, &options);
    }
});
