//! The function index: (account, service, function, qualifier) -> entry, and the not-found
//! codes of SPEC.md 3.5.1 that fall out of which part of the key is unknown.
//!
//! Entries live in one dense array of cache-line [`Slot`]s, each holding its `Arc` entry, the
//! fields the hot path reads (methods, `disable_url_internet`, `proxy_path`) and, when it fits,
//! the key's bytes; one [`FlatIndex`] keyed by the whole key (one hash over the four borrowed
//! slices of the request, no key built) points into it. A hit is one bucket and one slot.
//! Two more flat indexes, keyed by (account, service) and (account, service, function) and
//! pointing at any slot with that prefix, are read only on a miss, to pick the 404 code.
//!
//! Accounts are keyed in ASCII lowercase, because they also arrive in (case-insensitive) host
//! names. Services, functions and qualifiers are case-sensitive and compared as received (no
//! percent-decoding).

use std::sync::Arc;

use super::flat::{FlatIndex, Seed, SlotTable, Slotted, tag_of};
use super::{FunctionEntry, bytes_eq};
use crate::config::{MethodSet, ProxyPath};
use crate::errors::{ErrorCode, FcError};

/// Key bytes stored in the slot itself; longer keys go to the arena.
const INLINE: usize = 44;

/// Hash domains of the three indexes.
const FULL: u64 = 0;
const SERVICE: u64 = 1;
const FUNCTION: u64 = 2;

/// One function entry, one cache line, in place in the hash table.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct Slot {
    /// None only in an empty slot.
    entry: Option<Arc<FunctionEntry>>,
    tag: u32,
    /// Inline keys: the ends of account, service, function and qualifier in `key`.
    ends: [u8; 4],
    pub methods: MethodSet,
    pub disable_url_internet: bool,
    pub proxy_path: ProxyPath,
    /// The key is in the arena at the offset in `key[..4]`: four `u32` lengths, then bytes.
    spilled: bool,
    key: [u8; INLINE],
}

impl Default for Slot {
    fn default() -> Slot {
        Slot {
            entry: None,
            tag: 0,
            ends: [0; 4],
            methods: MethodSet::EMPTY,
            disable_url_internet: false,
            proxy_path: ProxyPath::Full,
            spilled: false,
            key: [0; INLINE],
        }
    }
}

impl Slotted for Slot {
    #[inline(always)]
    fn tag(&self) -> u32 {
        self.tag
    }
}

impl Slot {
    /// The entry (a slot that [`FunctionIndex::lookup`] returns is never empty).
    #[inline]
    pub fn entry(&self) -> &Arc<FunctionEntry> {
        self.entry.as_ref().expect("a found slot holds an entry")
    }

    fn key<'a>(&'a self, arena: &'a [u8]) -> Key<'a> {
        if !self.spilled {
            let [a, b, c, d] = self.ends.map(usize::from);
            return [
                &self.key[..a],
                &self.key[a..b],
                &self.key[b..c],
                &self.key[c..d],
            ];
        }
        let at = u32::from_le_bytes([self.key[0], self.key[1], self.key[2], self.key[3]]);
        let at = at as usize;
        let len = |k: usize| {
            let w = &arena[at + 4 * k..at + 4 * k + 4];
            u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize
        };
        let mut from = at + 16;
        [0, 1, 2, 3].map(|k| {
            let part = &arena[from..from + len(k)];
            from += part.len();
            part
        })
    }
}

#[derive(Debug)]
pub struct FunctionIndex {
    seed: Seed,
    slots: SlotTable<Slot>,
    arena: Vec<u8>,
    /// (account, service) and (account, service, function) -> the position of a slot with
    /// that prefix: read on a miss only, rebuilt if `slots` grows.
    services: FlatIndex,
    functions: FlatIndex,
}

/// A key: account (lowercase), service, function, qualifier.
type Key<'k> = [&'k [u8]; 4];

impl FunctionIndex {
    /// An index that takes `n` entries without growing.
    pub fn with_capacity(n: usize) -> FunctionIndex {
        FunctionIndex {
            seed: Seed::new(),
            slots: SlotTable::with_capacity(n),
            arena: Vec::new(),
            services: FlatIndex::with_capacity(0),
            functions: FlatIndex::with_capacity(0),
        }
    }

    /// Adds an entry; false when its (account, service, name, qualifier) is already there.
    pub fn insert(&mut self, entry: Arc<FunctionEntry>) -> bool {
        let account = entry.account.to_ascii_lowercase();
        let k: Key = [
            account.as_bytes(),
            entry.service.as_bytes(),
            entry.name.as_bytes(),
            entry.qualifier.as_bytes(),
        ];
        let hash = self.seed.hash(FULL, &k);
        let arena = &self.arena;
        if self.slots.find(hash, |s| s.key(arena) == k).is_some() {
            return false;
        }
        let total: usize = k.iter().map(|p| p.len()).sum();
        let mut slot = Slot {
            methods: entry.methods,
            disable_url_internet: entry.disable_url_internet,
            proxy_path: entry.proxy_path,
            entry: Some(entry.clone()),
            tag: tag_of(hash),
            ends: [0; 4],
            spilled: total > INLINE,
            key: [0; INLINE],
        };
        if slot.spilled {
            let at = u32::try_from(self.arena.len()).expect("function names under 4 GiB");
            slot.key[..4].copy_from_slice(&at.to_le_bytes());
            for p in k {
                let len = u32::try_from(p.len()).expect("function names under 4 GiB");
                self.arena.extend_from_slice(&len.to_le_bytes());
            }
            k.iter().for_each(|p| self.arena.extend_from_slice(p));
        } else {
            let mut end = 0;
            for (n, p) in k.iter().enumerate() {
                slot.key[end..end + p.len()].copy_from_slice(p);
                end += p.len();
                slot.ends[n] = end as u8;
            }
        }
        let (seed, arena) = (&self.seed, &self.arena);
        let inserted = self
            .slots
            .insert(hash, slot, |_| false, |s| seed.hash(FULL, &s.key(arena)));
        let Ok((at, grew)) = inserted else {
            return false;
        };
        if grew {
            // Every slot moved: index the prefixes again.
            self.services = FlatIndex::with_capacity(0);
            self.functions = FlatIndex::with_capacity(0);
            let all: Vec<usize> = self.slots.iter().map(|(at, _)| at).collect();
            for at in all {
                self.index_prefixes(at);
            }
        } else {
            self.index_prefixes(at);
        }
        true
    }

    /// Adds the slot at `at` to the prefix indexes, unless a slot with its prefix is there.
    fn index_prefixes(&mut self, at: usize) {
        let (slots, arena, seed) = (&self.slots, &self.arena, &self.seed);
        let key = slots.at(at).key(arena);
        for (domain, n, table) in [
            (SERVICE, 2, &mut self.services),
            (FUNCTION, 3, &mut self.functions),
        ] {
            let key_of = |i: u32| slots.at(i as usize).key(arena);
            let _ = table.insert(
                seed.hash(domain, &key[..n]),
                at as u32,
                |i| key_of(i)[..n] == key[..n],
                |i| seed.hash(domain, &key_of(i)[..n]),
            );
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Finds an entry. `account` must be lowercase; the others are compared as given.
    #[inline]
    pub fn lookup(
        &self,
        account: &[u8],
        service: &[u8],
        function: &[u8],
        qualifier: &[u8],
    ) -> Result<&Slot, FcError> {
        let k: Key = [account, service, function, qualifier];
        let hash = self.seed.hash(FULL, &k);
        let found = self.slots.find(hash, |s| {
            if s.spilled {
                return s.key(&self.arena) == k;
            }
            let [a, b, c, d] = s.ends.map(usize::from);
            bytes_eq(&s.key[..a], account)
                && bytes_eq(&s.key[a..b], service)
                && bytes_eq(&s.key[b..c], function)
                && bytes_eq(&s.key[c..d], qualifier)
        });
        match found {
            Some(at) => Ok(self.slots.at(at)),
            None => Err(self.not_found(k)),
        }
    }

    /// SPEC.md 3.5.1: which part of a key that is not in the index is unknown.
    #[cold]
    fn not_found(&self, k: Key) -> FcError {
        let [_, service, function, qualifier] = k;
        let has = |table: &FlatIndex, domain: u64, n: usize| {
            let hash = self.seed.hash(domain, &k[..n]);
            let key_of = |i: u32| self.slots.at(i as usize).key(&self.arena);
            table.find(hash, |i| key_of(i)[..n] == k[..n]).is_some()
        };
        if !has(&self.services, SERVICE, 2) {
            service_not_found(service)
        } else if !has(&self.functions, FUNCTION, 3) {
            function_not_found(service, function)
        } else {
            qualifier_not_found(service, function, qualifier)
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(account: &str, service: &str, name: &str, qualifier: &str) -> Arc<FunctionEntry> {
        Arc::new(FunctionEntry {
            account: account.into(),
            service: service.into(),
            name: name.into(),
            qualifier: qualifier.into(),
            instances: Box::new([]),
            instance_texts: Box::new([]),
            methods: MethodSet::ALL,
            disable_url_internet: false,
            proxy_path: ProxyPath::Full,
        })
    }

    /// Grown from empty (every slot moves, the prefix indexes are rebuilt), with keys inline
    /// and spilled to the arena.
    #[test]
    fn grows_and_keeps_the_not_found_codes() {
        let mut ix = FunctionIndex::with_capacity(0);
        let long = "s".repeat(100);
        let services = ["S", long.as_str()];
        for i in 0..3000 {
            let service = services[i % 2];
            assert!(ix.insert(entry("Acc", service, &format!("f{i}"), "LATEST")));
            assert!(ix.insert(entry("acc", service, &format!("f{i}"), "1")));
        }
        assert!(!ix.insert(entry("ACC", "S", "f0", "LATEST")));
        assert_eq!(ix.len(), 6000);
        for i in 0..3000 {
            let (s, f) = (services[i % 2].as_bytes(), format!("f{i}"));
            let slot = ix.lookup(b"acc", s, f.as_bytes(), b"1").expect("found");
            assert_eq!((&*slot.entry().name, &*slot.entry().qualifier), (&*f, "1"));
            assert!(ix.lookup(b"acc", s, f.as_bytes(), b"LATEST").is_ok());
        }
        let code = |a: &str, s: &str, f: &str, q: &str| {
            ix.lookup(a.as_bytes(), s.as_bytes(), f.as_bytes(), q.as_bytes())
                .err()
                .map(|e| e.code)
        };
        assert_eq!(
            code("acc", "T", "f0", "1"),
            Some(ErrorCode::ServiceNotFound)
        );
        assert_eq!(
            code("other", "S", "f0", "1"),
            Some(ErrorCode::ServiceNotFound)
        );
        assert_eq!(
            code("acc", "S", "f1", "1"),
            Some(ErrorCode::FunctionNotFound)
        );
        assert_eq!(
            code("acc", &long, "f0", "1"),
            Some(ErrorCode::FunctionNotFound)
        );
        assert_eq!(
            code("acc", "S", "f0", "2"),
            Some(ErrorCode::VersionNotFound)
        );
        assert_eq!(
            code("acc", &long, "f1", "prod"),
            Some(ErrorCode::AliasNotFound)
        );
        assert_eq!(code("acc", "S", "f2", "1"), None);
    }
}
