//! The function index: account -> service -> function -> qualifier, nested ahash maps keyed by
//! the names' bytes (`Box<[u8]>`) and looked up with borrowed `&[u8]` slices of the request (no
//! allocation, and no UTF-8 validation per request: names are compared byte for byte), and the
//! not-found codes of SPEC.md 3.5.1 that fall out of where a lookup stops.
//!
//! Accounts are keyed in ASCII lowercase, because they also arrive in (case-insensitive) host
//! names. Services, functions and qualifiers are case-sensitive and compared as received (no
//! percent-decoding). A function's qualifiers are few (LATEST, a few versions and aliases), so
//! up to [`FEW`] of them are a slice searched linearly; beyond that, a map.

use std::collections::HashMap;
use std::sync::Arc;

use super::{FunctionEntry, bytes_eq};
use crate::errors::{ErrorCode, FcError};

/// An ahash map; one seed per table, cloned into every map.
pub type Map<V> = HashMap<Box<[u8]>, V, ahash::RandomState>;

const FEW: usize = 8;

#[derive(Debug)]
pub struct FunctionIndex {
    hasher: ahash::RandomState,
    accounts: Map<Map<Map<Qualifiers>>>,
    count: usize,
}

#[derive(Debug)]
enum Qualifiers {
    Few(Box<[Arc<FunctionEntry>]>),
    Many(Map<Arc<FunctionEntry>>),
}

impl Qualifiers {
    fn get(&self, q: &[u8]) -> Option<&Arc<FunctionEntry>> {
        match self {
            Qualifiers::Few(v) => v.iter().find(|e| bytes_eq(e.qualifier.as_bytes(), q)),
            Qualifiers::Many(m) => m.get(q),
        }
    }

    fn insert(&mut self, entry: Arc<FunctionEntry>, hasher: &ahash::RandomState) -> bool {
        if self.get(entry.qualifier.as_bytes()).is_some() {
            return false;
        }
        match self {
            Qualifiers::Few(v) if v.len() < FEW => {
                let mut list = std::mem::take(v).into_vec();
                list.push(entry);
                *v = list.into_boxed_slice();
            }
            Qualifiers::Few(v) => {
                let mut m = Map::with_capacity_and_hasher(v.len() + 1, hasher.clone());
                for e in std::mem::take(v).into_vec().into_iter().chain([entry]) {
                    m.insert(key(&e.qualifier), e);
                }
                *self = Qualifiers::Many(m);
            }
            Qualifiers::Many(m) => {
                m.insert(key(&entry.qualifier), entry);
            }
        }
        true
    }
}

impl FunctionIndex {
    pub fn new(hasher: ahash::RandomState) -> FunctionIndex {
        FunctionIndex {
            accounts: Map::with_hasher(hasher.clone()),
            hasher,
            count: 0,
        }
    }

    /// Adds an entry; false when its (account, service, name, qualifier) is already there.
    pub fn insert(&mut self, entry: Arc<FunctionEntry>) -> bool {
        let h = &self.hasher;
        let services = self
            .accounts
            .entry(entry.account.to_ascii_lowercase().into_bytes().into())
            .or_insert_with(|| Map::with_hasher(h.clone()));
        let functions = services
            .entry(key(&entry.service))
            .or_insert_with(|| Map::with_hasher(h.clone()));
        let quals = functions
            .entry(key(&entry.name))
            .or_insert_with(|| Qualifiers::Few(Box::new([])));
        let added = quals.insert(entry, h);
        self.count += usize::from(added);
        added
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Finds an entry. `account` must be lowercase; the others are compared as given.
    pub fn lookup(
        &self,
        account: &[u8],
        service: &[u8],
        function: &[u8],
        qualifier: &[u8],
    ) -> Result<&Arc<FunctionEntry>, FcError> {
        let functions = self
            .accounts
            .get(account)
            .and_then(|services| services.get(service))
            .ok_or_else(|| service_not_found(service))?;
        let quals = functions
            .get(function)
            .ok_or_else(|| function_not_found(service, function))?;
        quals
            .get(qualifier)
            .ok_or_else(|| qualifier_not_found(service, function, qualifier))
    }
}

/// A map key from a name.
pub fn key(name: &str) -> Box<[u8]> {
    name.as_bytes().into()
}

/// Client-supplied text for an error message: lossy UTF-8, at most 128 bytes.
pub fn shown(b: &[u8]) -> String {
    let b = &b[..b.len().min(128)];
    String::from_utf8_lossy(b).into_owned()
}

fn service_not_found(service: &[u8]) -> FcError {
    let s = shown(service);
    FcError::new(
        404,
        ErrorCode::ServiceNotFound,
        format!("service '{s}' does not exist"),
    )
}

fn function_not_found(service: &[u8], function: &[u8]) -> FcError {
    let (s, f) = (shown(service), shown(function));
    let msg = format!("function '{f}' does not exist in service '{s}'");
    FcError::new(404, ErrorCode::FunctionNotFound, msg)
}

fn qualifier_not_found(service: &[u8], function: &[u8], qualifier: &[u8]) -> FcError {
    let (s, f, q) = (shown(service), shown(function), shown(qualifier));
    if !qualifier.is_empty() && qualifier.iter().all(u8::is_ascii_digit) {
        let msg = format!("version '{q}' of function '{f}' in service '{s}' does not exist");
        FcError::new(404, ErrorCode::VersionNotFound, msg)
    } else {
        let msg = format!("alias '{q}' of function '{f}' in service '{s}' does not exist");
        FcError::new(404, ErrorCode::AliasNotFound, msg)
    }
}
