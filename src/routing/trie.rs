//! The path index of one custom domain (SPEC.md 3.4.2): a byte radix tree holding exact
//! routes and prefix routes together. One walk along the path finds both: the exact route
//! whose path ends where the path ends beats every prefix route; among prefix routes, the
//! deepest (longest) one passed on the way wins. Bytes are compared as received.
//!
//! Built as a pointer tree, then flattened into a [`TriePool`] shared by all domains: one node
//! array (each tree's nodes contiguous, children contiguous) and one label byte array.

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    /// The edge label leading into this node: `labels[label_start..label_start + label_len]`.
    label_start: u32,
    label_len: u32,
    /// Children: `nodes[first_child..first_child + child_count]`, distinct first label bytes.
    first_child: u32,
    /// The value of the exact route whose path ends at this node.
    exact: u32,
    /// The value of the prefix route whose prefix ends at this node.
    prefix: u32,
    child_count: u16,
    /// The label's first byte (so that finding a child reads no label bytes).
    first: u8,
}

/// The flat trees of many domains in two arrays (each tree contiguous): a domain's index is
/// its root's position.
#[derive(Debug, Default)]
pub struct TriePool {
    nodes: Vec<Node>,
    labels: Vec<u8>,
}

impl TriePool {
    /// Starts fetching the first lines of the tree at `root` (whose labels start at `labels`).
    #[inline(always)]
    pub fn prefetch(&self, root: u32, labels: u32) {
        let node = self.nodes.as_ptr().wrapping_add(root as usize);
        super::flat::prefetch(node);
        super::flat::prefetch(node.wrapping_add(3));
        super::flat::prefetch(self.labels.as_ptr().wrapping_add(labels as usize));
    }

    /// The route for the path of `target` (up to its first `?`) in the tree at `root`: the
    /// exact route for the whole path, else the longest prefix route.
    #[inline]
    pub fn lookup(&self, root: u32, target: &[u8]) -> Option<u32> {
        let mut node = &self.nodes[root as usize];
        let mut best = node.prefix;
        let mut rest = target;
        loop {
            // The path ends at the end of the target or at its first `?` (no label has one).
            let b = match rest.first() {
                Some(&b) if b != b'?' => b,
                _ => {
                    let v = if node.exact != NONE { node.exact } else { best };
                    return (v != NONE).then_some(v);
                }
            };
            let first = node.first_child as usize;
            let children = &self.nodes[first..first + node.child_count as usize];
            let Some(child) = children.iter().find(|c| c.first == b) else {
                break;
            };
            let start = child.label_start as usize;
            let label = &self.labels[start..start + child.label_len as usize];
            match super::strip_prefix(rest, label) {
                Some(r) => rest = r,
                None => break,
            }
            node = child;
            if node.prefix != NONE {
                best = node.prefix;
            }
        }
        (best != NONE).then_some(best)
    }

    /// A pool for trees of about `routes` routes in all, in huge pages where the kernel
    /// gives them.
    pub fn with_capacity(routes: usize) -> TriePool {
        // About 1.5 nodes and 8 label bytes per route.
        let (nodes, labels) = (
            Vec::with_capacity(routes * 3 / 2 + 1),
            Vec::with_capacity(routes * 8),
        );
        super::flat::advise_huge(nodes.as_ptr(), nodes.capacity());
        super::flat::advise_huge(labels.as_ptr(), labels.capacity());
        TriePool { nodes, labels }
    }

    pub fn shrink_to_fit(&mut self) {
        self.nodes.shrink_to_fit();
        self.labels.shrink_to_fit();
    }
}

/// One tree in a pool of its own (tests).
#[cfg(test)]
#[derive(Debug)]
pub struct PathTrie {
    pool: TriePool,
}

#[cfg(test)]
impl PathTrie {
    pub fn lookup(&self, target: &[u8]) -> Option<u32> {
        self.pool.lookup(0, target)
    }

    fn node_count(&self) -> usize {
        self.pool.nodes.len()
    }
}

/// Collects routes, then [`TrieBuilder::build`]s the flat tree. The first value given for a
/// key is kept.
#[derive(Debug, Default)]
pub struct TrieBuilder {
    root: BuildNode,
}

#[derive(Debug, Default)]
struct BuildNode {
    label: Vec<u8>,
    children: Vec<BuildNode>,
    exact: Option<u32>,
    prefix: Option<u32>,
}

impl TrieBuilder {
    /// Adds an exact route `path`. Returns false, and adds nothing, when the path already had
    /// one or contains a `?` (which no request path can contain).
    pub fn insert_exact(&mut self, path: &[u8], value: u32) -> bool {
        !path.contains(&b'?') && set_once(&mut self.root.descend(path).exact, value)
    }

    /// Adds a prefix route `prefix`. Returns false, and adds nothing, when the prefix already
    /// had one or contains a `?`.
    pub fn insert_prefix(&mut self, prefix: &[u8], value: u32) -> bool {
        !prefix.contains(&b'?') && set_once(&mut self.root.descend(prefix).prefix, value)
    }

    /// A pool holding only this tree.
    #[cfg(test)]
    pub fn build(self) -> PathTrie {
        let mut pool = TriePool::default();
        self.build_into(&mut pool);
        PathTrie { pool }
    }

    /// Flattens the tree into `pool`; returns its root and where its labels start.
    pub fn build_into(self, pool: &mut TriePool) -> (u32, u32) {
        let TriePool { nodes, labels } = pool;
        let root = u32::try_from(nodes.len()).expect("under 4G trie nodes");
        let label_start = u32::try_from(labels.len()).expect("under 4 GiB of labels");
        // Breadth first, so that each node's children are contiguous.
        let mut queue = std::collections::VecDeque::new();
        nodes.push(flat(&self.root, labels));
        queue.push_back((root as usize, self.root));
        while let Some((at, mut n)) = queue.pop_front() {
            n.children.sort_by_key(|c| c.label[0]);
            nodes[at].first_child = nodes.len() as u32;
            nodes[at].child_count = n.children.len() as u16;
            for c in n.children {
                nodes.push(flat(&c, labels));
                queue.push_back((nodes.len() - 1, c));
            }
        }
        (root, label_start)
    }
}

fn set_once(slot: &mut Option<u32>, value: u32) -> bool {
    if slot.is_some() {
        return false;
    }
    *slot = Some(value);
    true
}

fn flat(n: &BuildNode, labels: &mut Vec<u8>) -> Node {
    let label_start = labels.len() as u32;
    labels.extend_from_slice(&n.label);
    Node {
        label_start,
        label_len: n.label.len() as u32,
        first_child: 0,
        exact: n.exact.unwrap_or(NONE),
        prefix: n.prefix.unwrap_or(NONE),
        child_count: 0,
        first: n.label.first().copied().unwrap_or(0),
    }
}

impl BuildNode {
    /// The node at which `key` ends, splitting edges as needed.
    fn descend(&mut self, key: &[u8]) -> &mut BuildNode {
        if key.is_empty() {
            return self;
        }
        let Some(i) = self.children.iter().position(|c| c.label[0] == key[0]) else {
            self.children.push(BuildNode {
                label: key.to_vec(),
                ..BuildNode::default()
            });
            return self.children.last_mut().expect("just pushed");
        };
        let child = &mut self.children[i];
        let common = child
            .label
            .iter()
            .zip(key)
            .take_while(|(a, b)| a == b)
            .count();
        if common < child.label.len() {
            // Split the edge: child becomes `label[..common]` with the old node below it.
            let tail = child.label.split_off(common);
            let old = std::mem::take(child);
            let BuildNode {
                label,
                children,
                exact,
                prefix,
            } = old;
            *child = BuildNode {
                label,
                children: vec![BuildNode {
                    label: tail,
                    children,
                    exact,
                    prefix,
                }],
                exact: None,
                prefix: None,
            };
        }
        child.descend(&key[common..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie(exact: &[&str], prefix: &[&str]) -> PathTrie {
        let mut b = TrieBuilder::default();
        for (i, p) in exact.iter().enumerate() {
            assert!(b.insert_exact(p.as_bytes(), i as u32));
        }
        for (i, p) in prefix.iter().enumerate() {
            assert!(b.insert_prefix(p.as_bytes(), 100 + i as u32));
        }
        b.build()
    }

    #[test]
    fn exact_beats_prefix_and_longest_prefix_wins() {
        let t = trie(
            &["/login", "/a/b", "/"],
            &["/login/", "/", "/a/", "/a/b/c/"],
        );
        assert_eq!(t.lookup(b"/login"), Some(0));
        assert_eq!(t.lookup(b"/login/"), Some(100));
        assert_eq!(t.lookup(b"/login/a/b"), Some(100));
        assert_eq!(t.lookup(b"/loginx"), Some(101));
        assert_eq!(t.lookup(b"/"), Some(2));
        assert_eq!(t.lookup(b"/a/b"), Some(1));
        assert_eq!(t.lookup(b"/a/b/"), Some(102));
        assert_eq!(t.lookup(b"/a/b/c"), Some(102));
        assert_eq!(t.lookup(b"/a/b/c/"), Some(103));
        assert_eq!(t.lookup(b"/a/b/c/d"), Some(103));
        assert_eq!(t.lookup(b"/a"), Some(101));
        assert_eq!(t.lookup(b"x"), None);
        assert_eq!(t.lookup(b""), None);
    }

    #[test]
    fn no_match_without_catch_all() {
        let t = trie(&["/test"], &["/login/"]);
        assert_eq!(t.lookup(b"/test"), Some(0));
        assert_eq!(t.lookup(b"/test/"), None);
        assert_eq!(t.lookup(b"/tes"), None);
        assert_eq!(t.lookup(b"/login"), None);
        assert_eq!(t.lookup(b"/login/"), Some(100));
        assert_eq!(t.lookup(b"/a%2Fb"), None);
    }

    #[test]
    fn raw_bytes_no_decoding() {
        let t = trie(&["/a/b", "/A%2fb"], &[]);
        assert_eq!(t.lookup(b"/a/b"), Some(0));
        assert_eq!(t.lookup(b"/a%2Fb"), None);
        assert_eq!(t.lookup(b"/A%2fb"), Some(1));
        assert_eq!(t.lookup(b"/A%2Fb"), None);
        assert_eq!(t.lookup(b"/A/b"), None);
    }

    #[test]
    fn the_query_takes_no_part() {
        let t = trie(&["/login", "/"], &["/login/"]);
        assert_eq!(t.lookup(b"/login?x"), Some(0));
        assert_eq!(t.lookup(b"/login?/login/"), Some(0));
        assert_eq!(t.lookup(b"/login/?x"), Some(100));
        assert_eq!(t.lookup(b"/?login"), Some(1));
        assert_eq!(t.lookup(b"/log?in"), None);
        let mut b = TrieBuilder::default();
        assert!(!b.insert_exact(b"/a?b", 1));
        assert!(!b.insert_prefix(b"/a?", 2));
        assert_eq!(b.build().lookup(b"/a?b"), None);
    }

    #[test]
    fn duplicates_keep_the_first() {
        let mut b = TrieBuilder::default();
        assert!(b.insert_exact(b"/x", 1));
        assert!(!b.insert_exact(b"/x", 2));
        assert!(b.insert_prefix(b"/x", 3));
        assert!(!b.insert_prefix(b"/x", 4));
        let t = b.build();
        assert_eq!(t.lookup(b"/x"), Some(1));
        assert_eq!(t.lookup(b"/xy"), Some(3));
    }

    #[test]
    fn edge_splitting_keeps_everything() {
        let paths = ["/abc", "/abd", "/ab", "/a", "/abcdef", "/b", "/abcd"];
        let t = trie(&paths, &[]);
        for (i, p) in paths.iter().enumerate() {
            assert_eq!(t.lookup(p.as_bytes()), Some(i as u32), "{p}");
        }
        assert_eq!(t.lookup(b"/abcde"), None);
        assert!(t.node_count() <= paths.len() + 3);
    }
}
