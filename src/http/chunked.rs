//! Streaming `Transfer-Encoding: chunked` decoder (RFC 9112 section 7.1), strict: it never
//! buffers, keeps its state between reads, and hands back chunk data as ranges of its input.

use std::ops::Range;

/// One call's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkStep {
    /// Bytes of the input used (framing and data); the caller drops them.
    pub consumed: usize,
    /// Chunk data found in the input (a sub-range of `0..consumed`; may be empty).
    pub data: Range<usize>,
    /// The last chunk, trailers and final CRLF have been read: the body is complete and
    /// `consumed` stops right after it (pipelined bytes are left alone).
    pub done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// The text says what was wrong.
    Malformed(&'static str),
}

#[derive(Debug, Clone, Default)]
pub struct ChunkedDecoder {
    _state: u8,
}

impl ChunkedDecoder {
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder::default()
    }

    /// Decodes from `input`. Returns at the end of the first run of chunk data it reaches (or at
    /// the end of the input, or when done). Call again with the unconsumed rest.
    pub fn step(&mut self, input: &[u8]) -> Result<ChunkStep, ChunkError> {
        let _ = input;
        unimplemented!("http::chunked::ChunkedDecoder::step")
    }
}

/// `"{n:x}\r\n"` into `out`, returned as a slice of it.
pub fn chunk_size_line(n: u64, out: &mut [u8; 18]) -> &[u8] {
    let _ = (n, out);
    unimplemented!("http::chunked::chunk_size_line")
}
