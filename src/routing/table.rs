//! RouteTable: compile and resolve. (To be written.)

use crate::config::Config;

use super::{Decision, HeaderLookup};

/// The compiled, immutable routing table.
#[derive(Debug)]
pub struct RouteTable {}

impl RouteTable {
    /// Compiles a validated config. Fails only on what validation cannot see.
    pub fn compile(config: &Config) -> Result<RouteTable, String> {
        let _ = config;
        unimplemented!("routing::RouteTable::compile")
    }

    /// Routes one request. `host`: the Host field's value as received (None when absent);
    /// `target`: the request-target as received; `headers`: the request's fields (only
    /// `x-fc-invocation-target` matters here, and only on the system endpoint).
    pub fn resolve<'a>(
        &'a self,
        method: &[u8],
        host: Option<&[u8]>,
        target: &'a [u8],
        headers: &(impl HeaderLookup + ?Sized),
    ) -> Decision<'a> {
        let _ = (method, host, target, headers);
        unimplemented!("routing::RouteTable::resolve")
    }
}
