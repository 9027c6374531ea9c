//! Chunked decoder: never panics, and any split of the input across `step` calls decodes the
//! same bytes with the same outcome as one call per available input.
#![no_main]

use fcgate::http::ChunkedDecoder;
use libfuzzer_sys::fuzz_target;

fn decode(input: &[u8], split: usize) -> (Vec<u8>, Result<Option<usize>, ()>) {
    let mut dec = ChunkedDecoder::new();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut avail = split.clamp(1, input.len().max(1)).min(input.len());
    loop {
        let step = match dec.step(&input[pos..avail]) {
            Ok(s) => s,
            Err(_) => return (out, Err(())),
        };
        out.extend_from_slice(&input[pos + step.data.start..pos + step.data.end]);
        pos += step.consumed;
        if step.done {
            return (out, Ok(Some(pos)));
        }
        if pos == avail {
            if avail == input.len() {
                return (out, Ok(None));
            }
            avail = (avail + split.max(1)).min(input.len());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let split = data[0] as usize % 17 + 1;
    let input = &data[1..];
    let whole = decode(input, input.len());
    let parts = decode(input, split);
    assert_eq!(whole.1, parts.1);
    if whole.1.is_ok() {
        assert_eq!(whole.0, parts.0);
    }
});
