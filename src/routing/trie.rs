//! The path index of one custom domain (SPEC.md 3.4.2): a byte radix tree holding exact
//! routes and prefix routes together. One walk along the path finds both: the exact route
//! whose path ends where the path ends beats every prefix route; among prefix routes, the
//! deepest (longest) one passed on the way wins. Bytes are compared as received.
//!
//! Built as a pointer tree, then flattened into one node array (children contiguous) and one
//! label byte array, so that a domain's index is two allocations.

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    /// The edge label leading into this node: `labels[label_start..label_start + label_len]`.
    label_start: u32,
    label_len: u32,
    /// Children: `nodes[first_child..first_child + child_count]`, distinct first label bytes.
    first_child: u32,
    child_count: u32,
    /// The value of the exact route whose path ends at this node.
    exact: u32,
    /// The value of the prefix route whose prefix ends at this node.
    prefix: u32,
}

/// A compiled path index; values are route indexes.
#[derive(Debug)]
pub struct PathTrie {
    nodes: Box<[Node]>,
    labels: Box<[u8]>,
}

impl PathTrie {
    /// The route for the path of `target` (up to its first `?`): the exact route for the whole
    /// path, else the longest prefix route.
    pub fn lookup(&self, target: &[u8]) -> Option<u32> {
        let mut node = &self.nodes[0];
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
            let children = &self.nodes
                [node.first_child as usize..(node.first_child + node.child_count) as usize];
            let next = children
                .iter()
                .find(|c| self.labels[c.label_start as usize] == b);
            let Some(child) = next else { break };
            let label = &self.labels
                [child.label_start as usize..(child.label_start + child.label_len) as usize];
            if !rest.starts_with(label) {
                break;
            }
            rest = &rest[label.len()..];
            node = child;
            if node.prefix != NONE {
                best = node.prefix;
            }
        }
        (best != NONE).then_some(best)
    }

    /// The number of nodes (for tests and memory estimates).
    #[cfg(test)]
    fn node_count(&self) -> usize {
        self.nodes.len()
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

    pub fn build(self) -> PathTrie {
        let mut nodes = Vec::new();
        let mut labels = Vec::new();
        // Breadth first, so that each node's children are contiguous.
        let mut queue = std::collections::VecDeque::new();
        nodes.push(flat(&self.root, &mut labels));
        queue.push_back((0usize, self.root));
        while let Some((at, mut n)) = queue.pop_front() {
            n.children.sort_by_key(|c| c.label[0]);
            nodes[at].first_child = nodes.len() as u32;
            nodes[at].child_count = n.children.len() as u32;
            for c in n.children {
                nodes.push(flat(&c, &mut labels));
                queue.push_back((nodes.len() - 1, c));
            }
        }
        PathTrie {
            nodes: nodes.into_boxed_slice(),
            labels: labels.into_boxed_slice(),
        }
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
        child_count: 0,
        exact: n.exact.unwrap_or(NONE),
        prefix: n.prefix.unwrap_or(NONE),
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
