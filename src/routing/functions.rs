//! The function index: account -> service -> function -> qualifier, nested ahash maps keyed by
//! `Box<str>` and looked up with borrowed `&str` (no allocation), and the not-found codes of
//! SPEC.md 3.5.1 that fall out of where a lookup stops.
//!
//! Accounts are keyed in ASCII lowercase, because they also arrive in (case-insensitive) host
//! names. Services, functions and qualifiers are case-sensitive and compared as received (no
//! percent-decoding). A function's qualifiers are few (LATEST, a few versions and aliases), so
//! up to [`FEW`] of them are a slice searched linearly; beyond that, a map.

use std::collections::HashMap;
use std::sync::Arc;

use super::FunctionEntry;
use crate::errors::{ErrorCode, FcError};

/// An ahash map; one seed per table, cloned into every map.
pub type Map<V> = HashMap<Box<str>, V, ahash::RandomState>;

const FEW: usize = 8;

#[derive(Debug)]
pub struct FunctionIndex {
    hasher: ahash::RandomState,
    accounts: Map<Map<Map<Qualifiers>>>,
    count: usize,
}

#[derive(Debug)]
enum Qualifiers {
    Few(Box<[(Box<str>, Arc<FunctionEntry>)]>),
    Many(Map<Arc<FunctionEntry>>),
}

impl Qualifiers {
    fn get(&self, q: &str) -> Option<&Arc<FunctionEntry>> {
        match self {
            Qualifiers::Few(v) => v.iter().find(|(k, _)| **k == *q).map(|(_, e)| e),
            Qualifiers::Many(m) => m.get(q),
        }
    }

    fn insert(&mut self, entry: Arc<FunctionEntry>, hasher: &ahash::RandomState) -> bool {
        if self.get(&entry.qualifier).is_some() {
            return false;
        }
        match self {
            Qualifiers::Few(v) if v.len() < FEW => {
                let mut list = std::mem::take(v).into_vec();
                list.push((entry.qualifier.clone(), entry));
                *v = list.into_boxed_slice();
            }
            Qualifiers::Few(v) => {
                let mut m = Map::with_capacity_and_hasher(v.len() + 1, hasher.clone());
                for (k, e) in std::mem::take(v).into_vec() {
                    m.insert(k, e);
                }
                m.insert(entry.qualifier.clone(), entry);
                *self = Qualifiers::Many(m);
            }
            Qualifiers::Many(m) => {
                m.insert(entry.qualifier.clone(), entry);
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
            .entry(entry.account.to_ascii_lowercase().into())
            .or_insert_with(|| Map::with_hasher(h.clone()));
        let functions = services
            .entry(entry.service.clone())
            .or_insert_with(|| Map::with_hasher(h.clone()));
        let quals = functions
            .entry(entry.name.clone())
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
        account: &str,
        service: &[u8],
        function: &[u8],
        qualifier: &[u8],
    ) -> Result<&Arc<FunctionEntry>, FcError> {
        let functions = self
            .accounts
            .get(account)
            .zip(std::str::from_utf8(service).ok())
            .and_then(|(services, s)| services.get(s))
            .ok_or_else(|| service_not_found(service))?;
        let quals = std::str::from_utf8(function)
            .ok()
            .and_then(|f| functions.get(f))
            .ok_or_else(|| function_not_found(service, function))?;
        std::str::from_utf8(qualifier)
            .ok()
            .and_then(|q| quals.get(q))
            .ok_or_else(|| qualifier_not_found(service, function, qualifier))
    }
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
