//! Scenario text, as `beanworld validate` and every command that loads a scenario read it:
//! parsed and checked by [`Scenario::parse`], its error turned into the message users see. Any
//! text must give a scenario or an error, never a panic. A scenario that resolves must also
//! encode to the same bytes after a round trip through postcard, as snapshot headers rely on.

#![no_main]

use beanworld_sim::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Scenario::parse(text, "fuzz.ron") {
        Ok(scenario) => {
            let bytes = postcard::to_stdvec(&scenario).expect("a scenario encodes");
            let again: Scenario = postcard::from_bytes(&bytes).expect("a scenario decodes");
            assert_eq!(postcard::to_stdvec(&again).expect("a scenario encodes"), bytes);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
