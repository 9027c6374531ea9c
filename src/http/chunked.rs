//! Streaming `Transfer-Encoding: chunked` decoder (RFC 9112 section 7.1), strict: it never
//! buffers, keeps its state between reads, and hands back chunk data as ranges of its input.

use std::ops::Range;

use super::fields::{is_field_value_byte, is_tchar};

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

/// The last chunk and the empty trailer section, for an encoder to finish a body with.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Writes the chunk-size line for a chunk of `n` bytes (`"{n:x}\r\n"`, lowercase, no leading
/// zeros) into `out` and returns it.
pub fn chunk_size_line(n: u64, out: &mut [u8; 18]) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = if n == 0 {
        1
    } else {
        (64 - n.leading_zeros() as usize).div_ceil(4)
    };
    for i in 0..digits {
        out[digits - 1 - i] = HEX[((n >> (4 * i)) & 0xf) as usize];
    }
    out[digits] = b'\r';
    out[digits + 1] = b'\n';
    &out[..digits + 2]
}

/// Chunk extension bytes allowed on one chunk-size line (from the first `;`).
pub const MAX_EXTENSION_BYTES: u32 = 4096;
/// Trailer section bytes allowed (field lines with their CRLFs, not the final CRLF).
pub const MAX_TRAILER_BYTES: u32 = 8192;
/// Hex digits allowed in a chunk size (16 fit a u64, so no size can overflow).
pub const MAX_SIZE_DIGITS: u8 = 16;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// Expecting the first hex digit of a chunk size.
    #[default]
    SizeStart,
    Size,
    /// After `;`: an extension name must start here (no BWS).
    ExtNameStart,
    ExtName,
    /// After `=`: a token or a quoted-string.
    ExtValueStart,
    ExtValueToken,
    ExtQuoted,
    ExtQuotedEscape,
    /// After a closing quote: `;` or CR.
    ExtQuotedEnd,
    /// CR of the size line seen.
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerLineStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    /// CR of the final empty line seen.
    FinalLf,
    Done,
    Failed(&'static str),
}

/// Streaming decoder for one chunked body.
///
/// Strictness (RFC 9112 section 7.1, narrowed where the grammar admits forms that parsers
/// disagree on, so that no two readings of a body are possible):
/// - chunk-size is 1 to 16 hex digits: no sign, no `0x`, no whitespace anywhere in the line,
///   not even the BWS the grammar allows before `;` / around `=` in extensions;
/// - extensions are `;name` or `;name=token` or `;name="quoted"`, at most 4096 bytes per line,
///   and are ignored;
/// - every line ends in CRLF exactly; chunk data is followed by CRLF exactly;
/// - trailer fields are checked as field lines (token name, colon right after it, value of
///   HTAB / SP / VCHAR / obs-text; no obs-fold), at most 8192 bytes, and discarded.
///
/// After an error every later call returns the same error.
#[derive(Debug, Clone, Default)]
pub struct ChunkedDecoder {
    state: State,
    /// Size of the chunk being read (while in the size line), then bytes of data left.
    size: u64,
    digits: u8,
    ext_bytes: u32,
    trailer_bytes: u32,
}

impl ChunkedDecoder {
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder::default()
    }

    /// The whole body (through the final CRLF) has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`. Returns at the end of the first run of chunk data it reaches (or at
    /// the end of the input, or when done). Call again with the unconsumed rest.
    pub fn step(&mut self, input: &[u8]) -> Result<ChunkStep, ChunkError> {
        match self.state {
            State::Done => {
                return Ok(ChunkStep {
                    consumed: 0,
                    data: 0..0,
                    done: true,
                });
            }
            State::Failed(why) => return Err(ChunkError::Malformed(why)),
            _ => {}
        }
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Data {
                let take = (input.len() - i).min(usize::try_from(self.size).unwrap_or(usize::MAX));
                self.size -= take as u64;
                if self.size == 0 {
                    self.state = State::DataCr;
                }
                return Ok(ChunkStep {
                    consumed: i + take,
                    data: i..i + take,
                    done: false,
                });
            }
            match self.byte(input[i]) {
                Ok(true) => {
                    return Ok(ChunkStep {
                        consumed: i + 1,
                        data: i + 1..i + 1,
                        done: true,
                    });
                }
                Ok(false) => {}
                Err(why) => {
                    self.state = State::Failed(why);
                    return Err(ChunkError::Malformed(why));
                }
            }
            i += 1;
        }
        Ok(ChunkStep {
            consumed: input.len(),
            data: input.len()..input.len(),
            done: false,
        })
    }

    /// One framing byte. `Ok(true)`: the body is complete.
    #[inline]
    fn byte(&mut self, b: u8) -> Result<bool, &'static str> {
        use State::*;
        match self.state {
            SizeStart => {
                let d = hex_value(b).ok_or("chunk size must start with a hex digit")?;
                self.size = d;
                self.digits = 1;
                self.ext_bytes = 0;
                self.state = Size;
            }
            Size => {
                if let Some(d) = hex_value(b) {
                    if self.digits == MAX_SIZE_DIGITS {
                        return Err("chunk size longer than 16 hex digits");
                    }
                    self.size = (self.size << 4) | d;
                    self.digits += 1;
                } else {
                    match b {
                        b';' => {
                            self.ext_bytes = 1;
                            self.state = ExtNameStart;
                        }
                        b'\r' => self.state = SizeLf,
                        _ => return Err("invalid byte after chunk size"),
                    }
                }
            }
            ExtNameStart | ExtName | ExtValueStart | ExtValueToken | ExtQuoted
            | ExtQuotedEscape | ExtQuotedEnd => {
                if b != b'\r' {
                    self.ext_bytes += 1;
                    if self.ext_bytes > MAX_EXTENSION_BYTES {
                        return Err("chunk extensions too long");
                    }
                }
                self.state = match (self.state, b) {
                    (ExtNameStart, b) if is_tchar(b) => ExtName,
                    (ExtName, b) if is_tchar(b) => ExtName,
                    (ExtName, b'=') => ExtValueStart,
                    (ExtValueStart, b'"') => ExtQuoted,
                    (ExtValueStart | ExtValueToken, b) if is_tchar(b) => ExtValueToken,
                    (ExtQuoted, b'"') => ExtQuotedEnd,
                    (ExtQuoted, b'\\') => ExtQuotedEscape,
                    (ExtQuoted, b) if is_qdtext(b) => ExtQuoted,
                    (ExtQuotedEscape, b) if is_field_value_byte(b) => ExtQuoted,
                    (ExtName | ExtValueToken | ExtQuotedEnd, b';') => ExtNameStart,
                    (ExtName | ExtValueToken | ExtQuotedEnd, b'\r') => SizeLf,
                    _ => return Err("invalid chunk extension"),
                };
            }
            SizeLf => {
                if b != b'\n' {
                    return Err("chunk-size line not ended by CRLF");
                }
                if self.size == 0 {
                    self.trailer_bytes = 0;
                    self.state = TrailerLineStart;
                } else {
                    self.state = Data;
                }
            }
            Data => unreachable!("data is handled by step"),
            DataCr => {
                if b != b'\r' {
                    return Err("chunk data not followed by CRLF");
                }
                self.state = DataLf;
            }
            DataLf => {
                if b != b'\n' {
                    return Err("chunk data not followed by CRLF");
                }
                self.state = SizeStart;
            }
            TrailerLineStart | TrailerName | TrailerValue | TrailerLf => {
                if self.state == TrailerLineStart && b == b'\r' {
                    self.state = FinalLf;
                    return Ok(false);
                }
                self.trailer_bytes += 1;
                if self.trailer_bytes > MAX_TRAILER_BYTES {
                    return Err("trailer section too long");
                }
                self.state = match (self.state, b) {
                    (TrailerLineStart | TrailerName, b) if is_tchar(b) => TrailerName,
                    (TrailerName, b':') => TrailerValue,
                    (TrailerValue, b'\r') => TrailerLf,
                    (TrailerValue, b) if is_field_value_byte(b) => TrailerValue,
                    (TrailerLf, b'\n') => TrailerLineStart,
                    _ => return Err("invalid trailer field"),
                };
            }
            FinalLf => {
                if b != b'\n' {
                    return Err("chunked body not ended by CRLF");
                }
                self.state = Done;
                return Ok(true);
            }
            Done | Failed(_) => unreachable!("handled by step"),
        }
        Ok(false)
    }
}

#[inline]
fn hex_value(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'a'..=b'f' => Some(u64::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(b - b'A' + 10)),
        _ => None,
    }
}

/// `qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text`.
#[inline]
fn is_qdtext(b: u8) -> bool {
    b == b'\t'
        || b == b' '
        || b == 0x21
        || (0x23..=0x5b).contains(&b)
        || (0x5d..=0x7e).contains(&b)
        || b >= 0x80
}
