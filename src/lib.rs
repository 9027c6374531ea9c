//! fcgate: an HTTP/1.1 edge router for Function Compute style HTTP triggers.
//! Layers, top to bottom: ops -> runtime -> proxy -> upstream, http, routing -> config.

pub mod access_log;
pub mod clock;
pub mod config;
pub mod errors;
pub mod explain;
pub mod http;
pub mod metrics;
pub mod ops;
pub mod proxy;
pub mod routing;
pub mod runtime;
pub mod state;
pub mod upstream;
