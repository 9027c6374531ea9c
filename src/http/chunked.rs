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

    /// Bytes of the current chunk's data not read yet (0 outside chunk data): lets a caller
    /// refuse a chunk that would exceed a body limit as soon as its size line is read.
    pub fn data_left(&self) -> u64 {
        match self.state {
            State::Data => self.size,
            _ => 0,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `input` in one piece, stepping until done or the input is used up.
    fn decode_pieces(pieces: &[&[u8]]) -> Result<(Vec<u8>, usize, bool), ChunkError> {
        let mut dec = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut total = 0;
        for piece in pieces {
            let mut rest: &[u8] = piece;
            loop {
                let step = dec.step(rest)?;
                assert!(step.data.end <= step.consumed && step.data.start <= step.data.end);
                out.extend_from_slice(&rest[step.data.clone()]);
                total += step.consumed;
                rest = &rest[step.consumed..];
                if step.done {
                    assert!(dec.is_done());
                    return Ok((out, total, true));
                }
                if rest.is_empty() {
                    break;
                }
            }
        }
        Ok((out, total, false))
    }

    fn decode(input: &[u8]) -> Result<(Vec<u8>, usize, bool), ChunkError> {
        decode_pieces(&[input])
    }

    fn decoded(input: &[u8]) -> Vec<u8> {
        let (out, consumed, done) =
            decode(input).unwrap_or_else(|e| panic!("{:?}: {e:?}", String::from_utf8_lossy(input)));
        assert!(done, "{:?} not done", String::from_utf8_lossy(input));
        assert_eq!(consumed, input.len());
        out
    }

    macro_rules! rejects {
        ($($name:ident: $input:expr,)*) => {$(
            #[test]
            fn $name() {
                let input: Vec<u8> = $input.to_vec();
                let r = decode(&input);
                assert!(matches!(r, Err(ChunkError::Malformed(_))), "{:?} -> {r:?}",
                    String::from_utf8_lossy(&input));
            }
        )*};
    }

    macro_rules! accepts {
        ($($name:ident: $input:expr => $data:expr;)*) => {$(
            #[test]
            fn $name() {
                let input: Vec<u8> = $input.to_vec();
                assert_eq!(decoded(&input), $data.to_vec());
            }
        )*};
    }

    accepts! {
        one_chunk: b"5\r\nhello\r\n0\r\n\r\n" => b"hello";
        two_chunks: b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" => b"hello world";
        empty_body: b"0\r\n\r\n" => b"";
        uppercase_hex: b"A\r\n0123456789\r\n0\r\n\r\n" => b"0123456789";
        lowercase_hex: b"a\r\n0123456789\r\n0\r\n\r\n" => b"0123456789";
        leading_zeros: b"0005\r\nhello\r\n000\r\n\r\n" => b"hello";
        sixteen_digits: b"0000000000000003\r\nabc\r\n0\r\n\r\n" => b"abc";
        ext_name: b"5;foo\r\nhello\r\n0\r\n\r\n" => b"hello";
        ext_token_value: b"5;foo=bar\r\nhello\r\n0;last=1\r\n\r\n" => b"hello";
        ext_quoted_value: b"5;foo=\"b a;r\\\"x\"\r\nhello\r\n0\r\n\r\n" => b"hello";
        ext_several: b"5;a;b=c;d=\"e\"\r\nhello\r\n0\r\n\r\n" => b"hello";
        trailer_fields: b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\tv w\r\n\r\n" => b"hello";
        trailer_empty_value: b"0\r\nX-T:\r\n\r\n" => b"";
        data_with_crlf_inside: b"4\r\n\r\n\r\n\r\n0\r\n\r\n" => b"\r\n\r\n";
        binary_data: b"3\r\n\0\xff\n\r\n0\r\n\r\n" => b"\0\xff\n";
    }

    rejects! {
        size_0x_prefix: b"0x5\r\nhello\r\n0\r\n\r\n",
        size_trailing_space: b"5 \r\nhello\r\n0\r\n\r\n",
        size_leading_space: b" 5\r\nhello\r\n0\r\n\r\n",
        size_tab: b"5\t\r\nhello\r\n0\r\n\r\n",
        size_bws_before_ext: b"5 ;a\r\nhello\r\n0\r\n\r\n",
        size_negative: b"-1\r\nx\r\n0\r\n\r\n",
        size_plus: b"+5\r\nhello\r\n0\r\n\r\n",
        size_not_hex: b"g\r\n",
        size_empty: b"\r\nhello\r\n0\r\n\r\n",
        size_seventeen_digits: b"00000000000000005\r\nhello\r\n0\r\n\r\n",
        size_huge: b"fffffffffffffffff\r\n",
        size_lf_only: b"5\nhello\r\n0\r\n\r\n",
        size_bare_cr: b"5\rhello\r\n0\r\n\r\n",
        size_underscore: b"1_0\r\n",
        ext_bws_after_semicolon: b"5; a\r\nhello\r\n0\r\n\r\n",
        ext_bws_around_equals: b"5;a = b\r\nhello\r\n0\r\n\r\n",
        ext_empty_name: b"5;=b\r\nhello\r\n0\r\n\r\n",
        ext_empty_value: b"5;a=\r\nhello\r\n0\r\n\r\n",
        ext_bare_semicolon: b"5;\r\nhello\r\n0\r\n\r\n",
        ext_unterminated_quote: b"5;a=\"b\r\nhello\r\n0\r\n\r\n",
        ext_junk_after_quote: b"5;a=\"b\"c\r\nhello\r\n0\r\n\r\n",
        ext_nul: b"5;a\0\r\nhello\r\n0\r\n\r\n",
        ext_lf_only: b"5;a\nhello\r\n0\r\n\r\n",
        data_not_followed_by_crlf: b"5\r\nhelloX\r\n0\r\n\r\n",
        data_too_long: b"3\r\nhello\r\n0\r\n\r\n",
        data_followed_by_lf: b"5\r\nhello\n0\r\n\r\n",
        data_followed_by_cr_only: b"5\r\nhello\r0\r\n\r\n",
        last_chunk_lf_only: b"5\r\nhello\r\n0\n\r\n",
        final_lf_only: b"5\r\nhello\r\n0\r\n\n",
        final_cr_cr: b"0\r\n\r\r",
        trailer_obs_fold: b"0\r\nX-T: a\r\n b\r\n\r\n",
        trailer_no_colon: b"0\r\nX-T a\r\n\r\n",
        trailer_space_before_colon: b"0\r\nX-T : a\r\n\r\n",
        trailer_empty_name: b"0\r\n: a\r\n\r\n",
        trailer_nul: b"0\r\nX-T: a\0\r\n\r\n",
        trailer_bare_cr: b"0\r\nX-T: a\rb\r\n\r\n",
        trailer_lf_only: b"0\r\nX-T: a\n\r\n",
    }

    #[test]
    fn extension_limit() {
        let ok = format!("1;{}\r\nx\r\n0\r\n\r\n", "a".repeat(4095));
        assert_eq!(decoded(ok.as_bytes()), b"x");
        let long = format!("1;{}\r\nx\r\n0\r\n\r\n", "a".repeat(4096));
        assert!(decode(long.as_bytes()).is_err());
        // The limit is per line: the next line gets its own budget.
        let two = format!("1;{0}\r\nx\r\n1;{0}\r\ny\r\n0\r\n\r\n", "a".repeat(4095));
        assert_eq!(decoded(two.as_bytes()), b"xy");
    }

    #[test]
    fn trailer_limit() {
        let line = format!("X-T: {}\r\n", "v".repeat(8192 - 7));
        assert_eq!(line.len(), 8192);
        assert_eq!(decoded(format!("0\r\n{line}\r\n").as_bytes()), b"");
        let line = format!("X-T: {}\r\n", "v".repeat(8192 - 6));
        assert!(decode(format!("0\r\n{line}\r\n").as_bytes()).is_err());
        let many = "X: 1\r\n".repeat(1400);
        assert!(decode(format!("0\r\n{many}\r\n").as_bytes()).is_err());
    }

    #[test]
    fn max_size_is_data() {
        let mut dec = ChunkedDecoder::new();
        let step = dec.step(b"ffffffffffffffff\r\nabc").unwrap();
        assert_eq!(
            step,
            ChunkStep {
                consumed: 21,
                data: 18..21,
                done: false
            }
        );
    }

    #[test]
    fn consumed_stops_after_final_crlf() {
        let input = b"3\r\nabc\r\n0\r\nX: y\r\n\r\nGET / HTTP/1.1\r\n";
        let (out, consumed, done) = decode(input).unwrap();
        assert!(done);
        assert_eq!(out, b"abc");
        assert_eq!(&input[consumed..], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn step_returns_at_end_of_each_data_run() {
        let mut dec = ChunkedDecoder::new();
        let input = b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let s = dec.step(input).unwrap();
        assert_eq!(
            s,
            ChunkStep {
                consumed: 6,
                data: 3..6,
                done: false
            }
        );
        let s = dec.step(&input[6..]).unwrap();
        assert_eq!(
            s,
            ChunkStep {
                consumed: 7,
                data: 5..7,
                done: false
            }
        );
        let s = dec.step(&input[13..]).unwrap();
        assert_eq!(
            s,
            ChunkStep {
                consumed: 7,
                data: 7..7,
                done: true
            }
        );
        // Done is sticky and consumes nothing more.
        let s = dec.step(b"more").unwrap();
        assert_eq!(
            s,
            ChunkStep {
                consumed: 0,
                data: 0..0,
                done: true
            }
        );
    }

    #[test]
    fn data_split_across_reads() {
        let mut dec = ChunkedDecoder::new();
        assert_eq!(
            dec.step(b"a\r\n0123").unwrap(),
            ChunkStep {
                consumed: 7,
                data: 3..7,
                done: false
            }
        );
        assert_eq!(
            dec.step(b"45").unwrap(),
            ChunkStep {
                consumed: 2,
                data: 0..2,
                done: false
            }
        );
        assert_eq!(
            dec.step(b"6789\r").unwrap(),
            ChunkStep {
                consumed: 4,
                data: 0..4,
                done: false
            }
        );
        assert_eq!(
            dec.step(b"\r").unwrap(),
            ChunkStep {
                consumed: 1,
                data: 1..1,
                done: false
            }
        );
        assert_eq!(
            dec.step(b"\n0\r\n\r\n").unwrap(),
            ChunkStep {
                consumed: 6,
                data: 6..6,
                done: true
            }
        );
        assert!(dec.step(b"").unwrap().done);
    }

    #[test]
    fn empty_input_consumes_nothing() {
        let mut dec = ChunkedDecoder::new();
        assert_eq!(
            dec.step(b"").unwrap(),
            ChunkStep {
                consumed: 0,
                data: 0..0,
                done: false
            }
        );
    }

    #[test]
    fn error_is_sticky() {
        let mut dec = ChunkedDecoder::new();
        let e = dec.step(b"0x5\r\n").unwrap_err();
        assert_eq!(dec.step(b"5\r\nhello").unwrap_err(), e);
        assert!(!dec.is_done());
    }

    #[test]
    fn size_lines() {
        let mut out = [0u8; 18];
        assert_eq!(chunk_size_line(0, &mut out), b"0\r\n");
        assert_eq!(chunk_size_line(1, &mut out), b"1\r\n");
        assert_eq!(chunk_size_line(15, &mut out), b"f\r\n");
        assert_eq!(chunk_size_line(16, &mut out), b"10\r\n");
        assert_eq!(chunk_size_line(255, &mut out), b"ff\r\n");
        assert_eq!(chunk_size_line(4096, &mut out), b"1000\r\n");
        assert_eq!(chunk_size_line(u64::MAX, &mut out), b"ffffffffffffffff\r\n");
        for n in [0u64, 7, 0xabc, 1 << 40, u64::MAX - 1] {
            assert_eq!(
                chunk_size_line(n, &mut out),
                format!("{n:x}\r\n").as_bytes()
            );
        }
    }

    /// Encodes `data` cut at `cuts` (chunk boundaries), with optional extensions and trailers.
    fn encode(data: &[u8], cuts: &[usize], ext: bool, trailers: bool) -> Vec<u8> {
        let mut bounds: Vec<usize> = cuts.iter().map(|&c| c % (data.len() + 1)).collect();
        bounds.push(0);
        bounds.push(data.len());
        bounds.sort_unstable();
        bounds.dedup();
        let mut out = Vec::new();
        let mut line = [0u8; 18];
        for w in bounds.windows(2) {
            let chunk = &data[w[0]..w[1]];
            let size = chunk_size_line(chunk.len() as u64, &mut line);
            if ext {
                out.extend_from_slice(&size[..size.len() - 2]);
                out.extend_from_slice(b";name=\"v;\\\"al\";flag\r\n");
            } else {
                out.extend_from_slice(size);
            }
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        if trailers {
            out.extend_from_slice(b"0\r\nX-Sum: 1\r\nX-More: a b\r\n\r\n");
        } else {
            out.extend_from_slice(LAST_CHUNK);
        }
        out
    }

    proptest! {
        #[test]
        fn prop_round_trip(
            data in prop::collection::vec(any::<u8>(), 0..2048),
            cuts in prop::collection::vec(any::<usize>(), 0..10),
            ext: bool,
            trailers: bool,
        ) {
            let enc = encode(&data, &cuts, ext, trailers);
            let (out, consumed, done) = decode(&enc).unwrap();
            prop_assert!(done);
            prop_assert_eq!(consumed, enc.len());
            prop_assert_eq!(out, data);
        }

        #[test]
        fn prop_any_split_same_result(
            data in prop::collection::vec(any::<u8>(), 0..512),
            cuts in prop::collection::vec(any::<usize>(), 0..6),
            reads in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
            ext: bool,
            trailers: bool,
            tail in prop::collection::vec(any::<u8>(), 0..8),
        ) {
            let mut enc = encode(&data, &cuts, ext, trailers);
            let body_len = enc.len();
            enc.extend_from_slice(&tail);
            let mut at: Vec<usize> = reads.iter().map(|i| i.index(enc.len() + 1)).collect();
            at.push(0);
            at.push(enc.len());
            at.sort_unstable();
            at.dedup();
            let pieces: Vec<&[u8]> = at.windows(2).map(|w| &enc[w[0]..w[1]]).collect();
            let (out, consumed, done) = decode_pieces(&pieces).unwrap();
            prop_assert!(done);
            prop_assert_eq!(consumed, body_len);
            prop_assert_eq!(out, data);
        }

        #[test]
        fn prop_any_split_same_error(
            input in prop::collection::vec(prop::sample::select(b"0123456789abcdefABCDEFxX;=\" \t\r\n:-".to_vec()), 0..64),
            reads in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let whole = decode(&input);
            let mut at: Vec<usize> = reads.iter().map(|i| i.index(input.len() + 1)).collect();
            at.push(0);
            at.push(input.len());
            at.sort_unstable();
            at.dedup();
            let pieces: Vec<&[u8]> = at.windows(2).map(|w| &input[w[0]..w[1]]).collect();
            prop_assert_eq!(decode_pieces(&pieces), whole);
        }

        #[test]
        fn prop_random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&input);
            let mut prefixed = b"5\r\n".to_vec();
            prefixed.extend_from_slice(&input);
            let _ = decode(&prefixed);
        }
    }
}
