//! Payloads: any decoded text gets a content type and, when it looks like a structure (Wi-Fi,
//! vCard through vcard-rs, MECARD, e-mail, SMS, phone, geo, EMVCo), a parse or none, without
//! panicking; whatever is parsed serialises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qrscan::payload::{parse, ContentType};

fuzz_target!(|input: &str| {
    let _ = ContentType::of(input);
    if let Some(payload) = parse(input) {
        let _ = serde_json::to_string(&payload);
    }
});
