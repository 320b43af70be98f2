//! Every request body (and query string) the API reads, through `scaivault::fuzz_entry`:
//! the first byte picks the parser, the rest is the body. No panic, and a refusal is always
//! a client error (4xx), never a 500.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault::fuzz_entry::BODY_PARSERS;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (name, parse) = BODY_PARSERS[pick as usize % BODY_PARSERS.len()];
    if let Err(e) = parse(body) {
        assert!(
            e.starts_with('4'),
            "{name}: a refusal that is not a 4xx: {e}"
        );
    }
});
