//! Flat hashing for the big indexes of the table (functions, trigger labels, domains): one
//! seeded hash over a key given as a few borrowed byte slices (no key is built per request),
//! and [`FlatIndex`], an open-addressing table of `u64` buckets (32-bit hash tag | index + 1)
//! pointing into a dense array owned by the caller. A hit costs one bucket probe (rarely two:
//! the load is at most 1/2) and one compare of the entry the caller stores inline in its array,
//! so a lookup touches two cache lines however big the table is.
//!
//! The hash is foldhash's construction (a folded 64x64->128 multiply per 16 bytes) with a
//! random seed per table; each slice's length takes part, so slice boundaries count.

/// A table's hash seed.
#[derive(Debug, Clone)]
pub struct Seed {
    k: [u64; 3],
}

#[inline(always)]
fn folded(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline(always)]
fn load8(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn load4(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[at..at + 4]);
    u32::from_le_bytes(w) as u64
}

impl Seed {
    pub fn new() -> Seed {
        let r = ahash::RandomState::new();
        Seed {
            k: [r.hash_one(1u64), r.hash_one(2u64), r.hash_one(3u64)],
        }
    }

    /// The hash of the slices `parts` (each one's length included); `domain` separates keys
    /// of different kinds hashed with one seed.
    #[inline(always)]
    pub fn hash(&self, domain: u64, parts: &[&[u8]]) -> u64 {
        let mut acc = self.k[2] ^ domain;
        for p in parts {
            acc = self.part(acc, p);
        }
        acc
    }

    #[inline(always)]
    fn part(&self, mut acc: u64, s: &[u8]) -> u64 {
        let len = s.len();
        let (a, b) = if len <= 16 {
            if len >= 8 {
                (load8(s, 0), load8(s, len - 8))
            } else if len >= 4 {
                (load4(s, 0), load4(s, len - 4))
            } else if len > 0 {
                let lo = s[0] as u64 | (s[len / 2] as u64) << 8 | (s[len - 1] as u64) << 16;
                (lo, 0)
            } else {
                (0, 0)
            }
        } else {
            let mut at = 0;
            while len - at > 16 {
                acc = folded(load8(s, at) ^ self.k[0], load8(s, at + 8) ^ acc);
                at += 16;
            }
            (load8(s, len - 16), load8(s, len - 8))
        };
        folded(a ^ self.k[0] ^ acc, b ^ self.k[1] ^ len as u64)
    }
}

/// Open addressing, linear probing, load at most 1/2. Buckets hold `tag << 32 | (index + 1)`
/// (0 is empty), the tag being the hash's high half; the bucket is chosen by its low bits.
#[derive(Debug)]
pub struct FlatIndex {
    buckets: Box<[u64]>,
    len: usize,
}

impl FlatIndex {
    /// A table that takes `n` entries without growing.
    pub fn with_capacity(n: usize) -> FlatIndex {
        FlatIndex {
            buckets: zeroed((n.max(4) * 2).next_power_of_two()),
            len: 0,
        }
    }

    /// The number of entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The index stored under `hash` for which `eq` holds.
    #[inline(always)]
    pub fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.buckets.len() - 1;
        let tag = hash >> 32;
        let mut i = hash as usize & mask;
        loop {
            let b = self.buckets[i];
            if b == 0 {
                return None;
            }
            if b >> 32 == tag {
                let index = (b as u32).wrapping_sub(1);
                if eq(index) {
                    return Some(index);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `index` under `hash`, unless an index for which `eq` holds is there already
    /// (returned as the error). `rehash` gives a stored index's hash, for growing.
    pub fn insert(
        &mut self,
        hash: u64,
        index: u32,
        eq: impl FnMut(u32) -> bool,
        rehash: impl Fn(u32) -> u64,
    ) -> Result<(), u32> {
        if let Some(found) = self.find(hash, eq) {
            return Err(found);
        }
        assert!(index < u32::MAX, "too many entries");
        if (self.len + 1) * 2 > self.buckets.len() {
            let bigger = zeroed(self.buckets.len() * 2);
            let old = std::mem::replace(&mut self.buckets, bigger);
            for b in old.iter().filter(|&&b| b != 0) {
                let i = (*b as u32) - 1;
                self.put(rehash(i), i);
            }
        }
        self.put(hash, index);
        self.len += 1;
        Ok(())
    }

    fn put(&mut self, hash: u64, index: u32) {
        let mask = self.buckets.len() - 1;
        let mut i = hash as usize & mask;
        while self.buckets[i] != 0 {
            i = (i + 1) & mask;
        }
        self.buckets[i] = (hash >> 32) << 32 | (index as u64 + 1);
    }
}

/// An entry of a [`SlotTable`]: one that is there has a non-zero tag.
pub trait Slotted: Default {
    fn tag(&self) -> u32;
}

/// The tag stored with an entry of hash `hash` (never 0, which marks an empty slot).
#[inline(always)]
pub fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32 | 1
}

/// Open addressing over the entries themselves (each a cache line that holds its key and a
/// 32-bit hash tag): a hit is one line, with no index to follow first. Linear probing, load at
/// most 7/8 (1/2 to 7/8 after a doubling); an entry keeps its place unless the table grows.
#[derive(Debug)]
pub struct SlotTable<T> {
    slots: Box<[T]>,
    len: usize,
}

impl<T: Slotted> SlotTable<T> {
    /// A table that takes `n` entries without growing, in huge pages when it is big.
    pub fn with_capacity(n: usize) -> SlotTable<T> {
        let cap = (n.max(4) * 8 / 7 + 1).next_power_of_two();
        let mut slots = Vec::with_capacity(cap);
        advise_huge(slots.as_ptr(), cap);
        slots.resize_with(cap, T::default);
        SlotTable {
            slots: slots.into_boxed_slice(),
            len: 0,
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The entries, with their positions.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.slots.iter().enumerate().filter(|(_, s)| s.tag() != 0)
    }

    /// The entry at `at` (a position [`SlotTable::find`] or [`SlotTable::insert`] gave).
    pub fn at(&self, at: usize) -> &T {
        &self.slots[at]
    }

    /// The position of the entry of hash `hash` for which `eq` holds.
    #[inline(always)]
    pub fn find(&self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let tag = tag_of(hash);
        let mut i = hash as usize & mask;
        loop {
            let s = &self.slots[i];
            match s.tag() {
                0 => return None,
                t if t == tag && eq(s) => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Adds `value` (whose tag is `tag_of(hash)`), unless an entry for which `eq` holds is there
    /// (its position is the error). `rehash` gives an entry's hash, for growing. Ok: the new
    /// entry's position, and whether the table grew (moving every entry).
    pub fn insert(
        &mut self,
        hash: u64,
        value: T,
        eq: impl FnMut(&T) -> bool,
        rehash: impl Fn(&T) -> u64,
    ) -> Result<(usize, bool), usize> {
        debug_assert_eq!(value.tag(), tag_of(hash));
        if let Some(at) = self.find(hash, eq) {
            return Err(at);
        }
        let grow = (self.len + 1) * 8 > self.slots.len() * 7;
        if grow {
            let mut bigger = SlotTable::with_capacity(self.slots.len() * 2 * 7 / 8);
            for s in std::mem::take(&mut self.slots).into_vec() {
                if s.tag() != 0 {
                    bigger.put(rehash(&s), s);
                }
            }
            self.slots = bigger.slots;
        }
        self.len += 1;
        Ok((self.put(hash, value), grow))
    }

    fn put(&mut self, hash: u64, value: T) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while self.slots[i].tag() != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = value;
        i
    }
}

/// `n` empty buckets, in huge pages where the kernel gives them.
fn zeroed(n: usize) -> Box<[u64]> {
    let b = vec![0u64; n].into_boxed_slice();
    advise_huge(b.as_ptr(), b.len());
    b
}

/// Asks the kernel to back the `n` (untouched) `T`s at `p` with 2 MiB pages, so that the
/// random probes of a big index do not also miss the TLB. A hint: errors are ignored.
pub fn advise_huge<T>(p: *const T, n: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let (start, end) = (p as usize, p as usize + n * std::mem::size_of::<T>());
        let (from, to) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if from < to {
            // SAFETY: madvise on whole pages inside an allocation we own; MADV_HUGEPAGE
            // changes no contents.
            unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (p, n);
}

/// Hints the CPU to fetch the line at `p` (a no-op off x86_64).
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A name stored inline when it has at most `N` bytes, else in an arena (its offset in the
/// first four bytes).
#[derive(Debug)]
pub struct InlineName<const N: usize> {
    len: u32,
    bytes: [u8; N],
}

impl<const N: usize> Default for InlineName<N> {
    fn default() -> Self {
        InlineName {
            len: 0,
            bytes: [0; N],
        }
    }
}

impl<const N: usize> InlineName<N> {
    pub fn new(name: &[u8], arena: &mut Vec<u8>) -> InlineName<N> {
        let len = u32::try_from(name.len()).expect("names under 4 GiB");
        let mut bytes = [0; N];
        if name.len() <= N {
            bytes[..name.len()].copy_from_slice(name);
        } else {
            let at = u32::try_from(arena.len()).expect("names under 4 GiB");
            bytes[..4].copy_from_slice(&at.to_le_bytes());
            arena.extend_from_slice(name);
        }
        InlineName { len, bytes }
    }

    #[inline(always)]
    pub fn get<'a>(&'a self, arena: &'a [u8]) -> &'a [u8] {
        let len = self.len as usize;
        if len <= N {
            &self.bytes[..len]
        } else {
            let at =
                u32::from_le_bytes([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]]);
            &arena[at as usize..at as usize + len]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_boundaries_and_lengths_count() {
        let s = Seed::new();
        let keys: [&[&[u8]]; 10] = [
            &[b"ab", b"c"],
            &[b"a", b"bc"],
            &[b"abc", b""],
            &[b"", b"abc"],
            &[b"abc"],
            &[b"abcdefghijklmnopq"],
            &[b"abcdefghijklmnopr"],
            &[b"abcdefghijklmnop", b"q"],
            &[b"abcdefghijklmnopqrstuvwxyz0123456789"],
            &[b"abcdefghijklmnopqrstuvwxyz0123456788"],
        ];
        let hs: Vec<u64> = keys.iter().map(|k| s.hash(0, k)).collect();
        for i in 0..hs.len() {
            for j in i + 1..hs.len() {
                assert_ne!(hs[i], hs[j], "{:?} {:?}", keys[i], keys[j]);
            }
        }
        assert_ne!(s.hash(0, &[b"x"]), s.hash(1, &[b"x"]));
        assert_eq!(s.hash(0, &[b"x", b"yz"]), s.hash(0, &[b"x", b"yz"]));
    }

    #[test]
    fn index_finds_inserts_and_grows() {
        let s = Seed::new();
        let keys: Vec<String> = (0..5000).map(|i| format!("key-{i}")).collect();
        let h = |i: u32| s.hash(0, &[keys[i as usize].as_bytes()]);
        let mut t = FlatIndex::with_capacity(0);
        for i in 0..keys.len() as u32 {
            let k = &keys[i as usize];
            assert_eq!(t.insert(h(i), i, |j| keys[j as usize] == *k, h), Ok(()));
        }
        assert_eq!(t.len(), 5000);
        assert_eq!(
            t.insert(h(7), 9999, |j| keys[j as usize] == keys[7], h),
            Err(7)
        );
        for (i, k) in keys.iter().enumerate() {
            let found = t.find(s.hash(0, &[k.as_bytes()]), |j| keys[j as usize] == *k);
            assert_eq!(found, Some(i as u32));
        }
        assert_eq!(
            t.find(s.hash(0, &[b"nope"]), |j| keys[j as usize] == "nope"),
            None
        );
    }
}
