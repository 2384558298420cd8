//! Provider classification: any decoded text gets a provider from the built-in rules, and any
//! `--rules` TOML is accepted or refused with a `RulesError`; when accepted, the table also
//! classifies the text without panicking.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use qrscan::classify::Rules;

fuzz_target!(|input: &str| {
    static BUILT_IN: OnceLock<Rules> = OnceLock::new();
    let _ = BUILT_IN.get_or_init(Rules::default).classify(input);
    if let Ok(rules) = Rules::from_toml(input) {
        let _ = rules.classify(input);
    }
});
