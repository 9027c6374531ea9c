//! Errors the data plane answers itself: the mapping from HTTP-level faults to Function
//! Compute's status / errorCode (SPEC.md section 5), and the bytes of such an answer.

use std::io::Write;

use crate::errors::{ErrorCode, FcError, reason_phrase};
use crate::http::HeadError;

use super::RequestId;

pub fn from_head_error(e: HeadError) -> FcError {
    match e {
        HeadError::TooLarge => FcError::new(
            431,
            ErrorCode::InvalidArgument,
            "request header fields too large",
        ),
        HeadError::UriTooLong => {
            FcError::new(414, ErrorCode::InvalidArgument, "request-target too long")
        }
        HeadError::Malformed(why) => FcError::new(400, ErrorCode::BadRequest, why),
        HeadError::VersionNotSupported => FcError::new(
            505,
            ErrorCode::VersionNotSupported,
            "only HTTP/1.0 and HTTP/1.1 are supported",
        ),
        HeadError::UnsupportedTransferCoding => FcError::new(
            501,
            ErrorCode::NotImplemented,
            "transfer-coding other than chunked",
        ),
        HeadError::UnknownExpectation => FcError::new(
            417,
            ErrorCode::ExpectationFailed,
            "only Expect: 100-continue is supported",
        ),
    }
}

pub fn timeout() -> FcError {
    FcError::new(
        408,
        ErrorCode::RequestTimeout,
        "request not received in time",
    )
}

pub fn too_large() -> FcError {
    FcError::new(
        413,
        ErrorCode::EntityTooLarge,
        "request body larger than max_body_bytes",
    )
}

pub fn bad_body(why: &'static str) -> FcError {
    FcError::new(400, ErrorCode::BadRequest, why)
}

pub fn unreachable() -> FcError {
    FcError::new(
        502,
        ErrorCode::FunctionNotReachable,
        "no function instance accepted a connection",
    )
}

pub fn bad_response(why: &'static str) -> FcError {
    FcError::new(502, ErrorCode::BadResponse, why)
}

pub fn upstream_timeout() -> FcError {
    FcError::new(
        504,
        ErrorCode::FunctionTimeout,
        "function instance did not answer in time",
    )
}

pub fn exhausted(why: &'static str) -> FcError {
    FcError::new(503, ErrorCode::ResourceExhausted, why)
}

/// Appends the whole answer for `e` to `out`. `head_only`: the request was HEAD (no body is
/// sent, `content-length` still says its size). `close`: announce `connection: close`.
pub fn render(out: &mut Vec<u8>, e: &FcError, id: &RequestId, head_only: bool, close: bool) {
    let body = e.json_body();
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\nx-fc-request-id: {}\r\ncontent-length: {}\r\n",
        e.status,
        reason_phrase(e.status),
        id.as_str(),
        body.len()
    );
    if let Some(allow) = &e.allow {
        let _ = write!(out, "allow: {allow}\r\n");
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
}
