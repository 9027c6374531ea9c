//! Config loader: any text gives a config or errors with positions inside the text; never a
//! panic. A config that loads also compiles into a routing table.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match fcgate::config::parse_with(text, std::path::Path::new("fuzz.toml"), fcgate::config::offline_resolver) {
        Ok(config) => {
            let _ = fcgate::routing::RouteTable::compile(&config);
        }
        Err(errors) => {
            let lines = text.lines().count().max(1) + 1;
            for e in errors {
                assert!(e.line >= 1 && e.line <= lines, "{e}");
                assert!(e.col >= 1, "{e}");
            }
        }
    }
});
