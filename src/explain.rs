//! `fcgate explain`: how a request would be routed, without any network I/O.

use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, method: &str, headers: &[String], json: bool, url: &str) -> ExitCode {
    let _ = (path, method, headers, json, url);
    unimplemented!("explain")
}
