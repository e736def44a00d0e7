//! Personal-data detectors and maskers on arbitrary text.
#![no_main]
use gongkai_ingest::privacy::detect;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let c = detect::canonical(s);
    let _ = detect::is_resident_id18(&c, true);
    let _ = detect::is_resident_id18(&c, false);
    let _ = detect::is_resident_id15(&c);
    let _ = detect::id18_check_char(&c);
    let _ = detect::is_mobile(s);
    let _ = detect::is_landline(s);
    let _ = detect::luhn(&c);
    let _ = detect::is_bank_card(s);
    let _ = detect::is_account_number(s);
    let _ = detect::is_passport(s);
    let _ = detect::is_person_name(s);
    let _ = detect::mask_name(s);
    let _ = detect::mask_mobile(s);
    let _ = gongkai_ingest::privacy::address::generalize(s, true);
    let _ = gongkai_ingest::privacy::address::generalize(s, false);
    let _ = gongkai_ingest::privacy::classify::is_mangled_id(s);
    for (range, _kind) in gongkai_ingest::privacy::find_in_text(s) {
        assert!(s.get(range).is_some(), "find_in_text returned a range that is not on a char boundary");
    }
    if let Some(masked) = gongkai_ingest::privacy::mask_in_text(s) {
        assert!(
            gongkai_ingest::privacy::find_in_text(&masked).is_empty(),
            "masking left an identifier: {masked:?}"
        );
    }
});
