//! fcgate: an HTTP/1.1 edge router for Function Compute style HTTP triggers.
//! Layers, top to bottom: ops -> runtime -> proxy -> upstream, http, routing -> config.

pub mod config;
pub mod errors;
pub mod http;
pub mod routing;
pub mod proxy;
pub mod state;
pub mod upstream;
pub mod runtime;
