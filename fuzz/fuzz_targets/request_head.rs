//! Request head parser: never panics; a parsed head's spans lie inside the head; parsing any
//! prefix of a complete head says "incomplete" (or the same error), never something else.
#![no_main]

use fcgate::http::{RequestLimits, parse_request_head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = RequestLimits { max_header_bytes: 8192, max_uri_bytes: 4096, max_headers: 100 };
    match parse_request_head(data, &limits) {
        Ok(Some(head)) => {
            assert!(head.head_len <= data.len());
            let inside = |s: fcgate::http::Span| (s.end as usize) <= head.head_len && s.start <= s.end;
            assert!(inside(head.method) && inside(head.target));
            for h in &head.headers {
                assert!(inside(h.name) && inside(h.value) && inside(h.line));
                assert!(h.line.start <= h.name.start && h.value.end <= h.line.end);
            }
            if let Some(host) = head.host {
                assert!(inside(host));
            }
            // The same head split anywhere: every strict prefix is incomplete.
            for cut in [head.head_len / 2, head.head_len.saturating_sub(1)] {
                if cut > 0 && cut < head.head_len {
                    assert!(matches!(parse_request_head(&data[..cut], &limits), Ok(None) | Err(_)));
                }
            }
        }
        Ok(None) | Err(_) => {}
    }
});
