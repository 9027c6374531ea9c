//! The Function Compute error vocabulary (SPEC.md section 5): every answer fcgate makes
//! itself carries a status, an `errorCode` and an `errorMessage`. Made here, in one place.

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadRequest,
    InvalidArgument,
    AccessDenied,
    PathNotFound,
    DomainNameNotFound,
    DomainRouteNotFound,
    ServiceNotFound,
    FunctionNotFound,
    VersionNotFound,
    AliasNotFound,
    TriggerNotFound,
    MethodNotAllowed,
    RequestTimeout,
    EntityTooLarge,
    ExpectationFailed,
    VersionNotSupported,
    NotImplemented,
    FunctionNotReachable,
    BadResponse,
    ResourceExhausted,
    FunctionTimeout,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BadRequest",
            ErrorCode::InvalidArgument => "InvalidArgument",
            ErrorCode::AccessDenied => "AccessDenied",
            ErrorCode::PathNotFound => "PathNotFound",
            ErrorCode::DomainNameNotFound => "DomainNameNotFound",
            ErrorCode::DomainRouteNotFound => "DomainRouteNotFound",
            ErrorCode::ServiceNotFound => "ServiceNotFound",
            ErrorCode::FunctionNotFound => "FunctionNotFound",
            ErrorCode::VersionNotFound => "VersionNotFound",
            ErrorCode::AliasNotFound => "AliasNotFound",
            ErrorCode::TriggerNotFound => "TriggerNotFound",
            ErrorCode::MethodNotAllowed => "MethodNotAllowed",
            ErrorCode::RequestTimeout => "RequestTimeout",
            ErrorCode::EntityTooLarge => "EntityTooLarge",
            ErrorCode::ExpectationFailed => "ExpectationFailed",
            ErrorCode::VersionNotSupported => "HTTPVersionNotSupported",
            ErrorCode::NotImplemented => "NotImplemented",
            ErrorCode::FunctionNotReachable => "FunctionNotReachable",
            ErrorCode::BadResponse => "BadResponse",
            ErrorCode::ResourceExhausted => "ResourceExhausted",
            ErrorCode::FunctionTimeout => "FunctionTimeout",
        }
    }
}

/// An answer made by fcgate itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcError {
    pub status: u16,
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    /// For 405: the value of the `Allow` header.
    pub allow: Option<String>,
}

impl FcError {
    pub fn new(status: u16, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> FcError {
        FcError {
            status,
            code,
            message: message.into(),
            allow: None,
        }
    }

    /// `{"errorCode":"<Code>","errorMessage":"<text>"}`
    pub fn json_body(&self) -> String {
        let mut s = String::with_capacity(48 + self.message.len());
        s.push_str("{\"errorCode\":\"");
        s.push_str(self.code.as_str());
        s.push_str("\",\"errorMessage\":");
        s.push_str(&serde_json::to_string(&*self.message).unwrap_or_else(|_| "\"\"".into()));
        s.push('}');
        s
    }
}

/// The reason phrase for the statuses fcgate produces itself (and a generic one otherwise).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}
