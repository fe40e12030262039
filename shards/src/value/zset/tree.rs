//! An order-statistics B+ tree of (score, member position) entries.
//!
//! Leaves hold up to 64 entries as two arrays (scores, positions); inner
//! nodes hold, per child, its element count and its first entry. The
//! tree keeps no comparison of its own: the caller finds ranks with
//! `partition` (a predicate monotone over the order, such as "sorts before
//! this (score, member)") and inserts and removes by rank, so the same
//! descent serves ranks, score ranges and lex ranges. Scores sit in the
//! nodes, so a search reads a member only to break a tie.
//!
//! Splits keep the left node full when an entry goes to the end (or the
//! right one when it goes to the front), so sets filled in order, such as
//! by timestamps, end up with full leaves. A node that falls under a
//! quarter full takes entries from a neighbour or merges with it.

pub(super) const LEAF_CAP: usize = 64;
pub(super) const INNER_CAP: usize = 32;
const LEAF_MIN: usize = LEAF_CAP / 4;
const INNER_MIN: usize = INNER_CAP / 4;

pub(super) struct Leaf {
    len: usize,
    score: [f64; LEAF_CAP],
    pos: [u32; LEAF_CAP],
}

pub(super) struct Inner {
    len: usize,
    /// Elements under each child.
    count: [usize; INNER_CAP],
    /// The first entry under each child.
    score: [f64; INNER_CAP],
    pos: [u32; INNER_CAP],
    /// Capacity `INNER_CAP`, never exceeded.
    kids: Vec<Node>,
}

pub(super) enum Node {
    Leaf(Box<Leaf>),
    Inner(Box<Inner>),
}

pub(super) struct Tree {
    root: Node,
    len: usize,
    leaves: usize,
    inners: usize,
}

impl Leaf {
    fn new() -> Box<Leaf> {
        Box::new(Leaf {
            len: 0,
            score: [0.0; LEAF_CAP],
            pos: [0; LEAF_CAP],
        })
    }

    fn insert(&mut self, i: usize, s: f64, p: u32) {
        let n = self.len;
        self.score.copy_within(i..n, i + 1);
        self.pos.copy_within(i..n, i + 1);
        self.score[i] = s;
        self.pos[i] = p;
        self.len += 1;
    }

    fn remove(&mut self, i: usize) -> (f64, u32) {
        let e = (self.score[i], self.pos[i]);
        let n = self.len;
        self.score.copy_within(i + 1..n, i);
        self.pos.copy_within(i + 1..n, i);
        self.len -= 1;
        e
    }

    /// Moves entries `from..` to the end of `dst`.
    fn move_tail(&mut self, from: usize, dst: &mut Leaf) {
        let (n, d) = (self.len - from, dst.len);
        dst.score[d..d + n].copy_from_slice(&self.score[from..self.len]);
        dst.pos[d..d + n].copy_from_slice(&self.pos[from..self.len]);
        dst.len += n;
        self.len = from;
    }

    /// Moves the first `n` entries to the end of `dst`.
    fn move_head(&mut self, n: usize, dst: &mut Leaf) {
        let d = dst.len;
        dst.score[d..d + n].copy_from_slice(&self.score[..n]);
        dst.pos[d..d + n].copy_from_slice(&self.pos[..n]);
        dst.len += n;
        self.score.copy_within(n..self.len, 0);
        self.pos.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Moves the last `n` entries to the front of `dst`.
    fn move_last_to_front(&mut self, n: usize, dst: &mut Leaf) {
        let d = dst.len;
        dst.score.copy_within(0..d, n);
        dst.pos.copy_within(0..d, n);
        let from = self.len - n;
        dst.score[..n].copy_from_slice(&self.score[from..self.len]);
        dst.pos[..n].copy_from_slice(&self.pos[from..self.len]);
        dst.len += n;
        self.len = from;
    }
}

impl Inner {
    fn new() -> Box<Inner> {
        Box::new(Inner {
            len: 0,
            count: [0; INNER_CAP],
            score: [0.0; INNER_CAP],
            pos: [0; INNER_CAP],
            kids: Vec::with_capacity(INNER_CAP),
        })
    }

    fn total(&self) -> usize {
        self.count[..self.len].iter().sum()
    }

    /// Refreshes the first entry recorded for child `i`.
    fn set_first(&mut self, i: usize) {
        let (s, p) = self.kids[i].first();
        self.score[i] = s;
        self.pos[i] = p;
    }

    fn insert_kid(&mut self, i: usize, kid: Node, count: usize) {
        let n = self.len;
        self.count.copy_within(i..n, i + 1);
        self.score.copy_within(i..n, i + 1);
        self.pos.copy_within(i..n, i + 1);
        let (s, p) = kid.first();
        self.count[i] = count;
        self.score[i] = s;
        self.pos[i] = p;
        self.kids.insert(i, kid);
        self.len += 1;
    }

    fn remove_kid(&mut self, i: usize) -> Node {
        let n = self.len;
        self.count.copy_within(i + 1..n, i);
        self.score.copy_within(i + 1..n, i);
        self.pos.copy_within(i + 1..n, i);
        self.len -= 1;
        self.kids.remove(i)
    }

    /// Moves children `from..` to the end of `dst`.
    fn move_tail(&mut self, from: usize, dst: &mut Inner) {
        let (n, d) = (self.len - from, dst.len);
        dst.count[d..d + n].copy_from_slice(&self.count[from..self.len]);
        dst.score[d..d + n].copy_from_slice(&self.score[from..self.len]);
        dst.pos[d..d + n].copy_from_slice(&self.pos[from..self.len]);
        dst.kids.extend(self.kids.drain(from..));
        dst.len += n;
        self.len = from;
    }

    /// Moves the first `n` children to the end of `dst`.
    fn move_head(&mut self, n: usize, dst: &mut Inner) {
        let d = dst.len;
        dst.count[d..d + n].copy_from_slice(&self.count[..n]);
        dst.score[d..d + n].copy_from_slice(&self.score[..n]);
        dst.pos[d..d + n].copy_from_slice(&self.pos[..n]);
        dst.kids.extend(self.kids.drain(..n));
        dst.len += n;
        self.count.copy_within(n..self.len, 0);
        self.score.copy_within(n..self.len, 0);
        self.pos.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Moves the last `n` children to the front of `dst`.
    fn move_last_to_front(&mut self, n: usize, dst: &mut Inner) {
        let d = dst.len;
        dst.count.copy_within(0..d, n);
        dst.score.copy_within(0..d, n);
        dst.pos.copy_within(0..d, n);
        let from = self.len - n;
        dst.count[..n].copy_from_slice(&self.count[from..self.len]);
        dst.score[..n].copy_from_slice(&self.score[from..self.len]);
        dst.pos[..n].copy_from_slice(&self.pos[from..self.len]);
        let moved: Vec<Node> = self.kids.drain(from..).collect();
        dst.kids.splice(0..0, moved);
        dst.len += n;
        self.len = from;
    }

    /// The child holding rank `rank` and the rank within it; `at_end`
    /// lets a rank equal to a child's count land at that child's end (for
    /// inserts) rather than at the next child's start.
    #[inline]
    fn child_for(&self, mut rank: usize, at_end: bool) -> (usize, usize) {
        let mut c = 0;
        while c + 1 < self.len {
            let n = self.count[c];
            if rank < n || (at_end && rank == n) {
                break;
            }
            rank -= n;
            c += 1;
        }
        (c, rank)
    }

    /// Rebalances child `c` after it fell under its minimum.
    fn fix_underflow(&mut self, c: usize, leaves: &mut usize, inners: &mut usize) {
        if self.len < 2 {
            return;
        }
        let (a, b) = if c + 1 < self.len {
            (c, c + 1)
        } else {
            (c - 1, c)
        };
        let (left, right) = self.kids.split_at_mut(b);
        match (&mut left[a], &mut right[0]) {
            (Node::Leaf(x), Node::Leaf(y)) => {
                if x.len + y.len <= LEAF_CAP {
                    y.move_head(y.len, x);
                    self.count[a] += self.count[b];
                    self.remove_kid(b);
                    *leaves -= 1;
                } else {
                    let half = (x.len + y.len) / 2;
                    if x.len < half {
                        y.move_head(half - x.len, x);
                    } else {
                        x.move_last_to_front(x.len - half, y);
                    }
                    self.count[a] = x.len;
                    self.count[b] = y.len;
                }
            }
            (Node::Inner(x), Node::Inner(y)) => {
                if x.len + y.len <= INNER_CAP {
                    y.move_head(y.len, x);
                    self.count[a] += self.count[b];
                    self.remove_kid(b);
                    *inners -= 1;
                } else {
                    let half = (x.len + y.len) / 2;
                    if x.len < half {
                        y.move_head(half - x.len, x);
                    } else {
                        x.move_last_to_front(x.len - half, y);
                    }
                    self.count[a] = x.total();
                    self.count[b] = y.total();
                }
            }
            _ => unreachable!("siblings are at the same depth"),
        }
        self.set_first(a);
        if a + 1 < self.len {
            self.set_first(a + 1);
        }
    }
}

impl Node {
    #[inline]
    fn first(&self) -> (f64, u32) {
        match self {
            Node::Leaf(l) => (l.score[0], l.pos[0]),
            Node::Inner(n) => (n.score[0], n.pos[0]),
        }
    }

    #[cfg(test)]
    fn width(&self) -> usize {
        match self {
            Node::Leaf(l) => l.len,
            Node::Inner(n) => n.len,
        }
    }

    fn small(&self) -> bool {
        match self {
            Node::Leaf(l) => l.len < LEAF_MIN,
            Node::Inner(n) => n.len < INNER_MIN,
        }
    }
}

/// Which ends of the whole tree a node lies on.
#[derive(Clone, Copy)]
struct Edge {
    first: bool,
    last: bool,
}

/// Where a full node splits so that an entry at `at` of `cap` finds room:
/// an append to the last node of the tree (or a prepend to the first)
/// leaves the old node whole, else the halves are even.
fn split_point(at: usize, cap: usize, edge: Edge) -> usize {
    if at == cap && edge.last {
        cap
    } else if at == 0 && edge.first {
        0
    } else {
        cap / 2
    }
}

fn insert_rec(
    node: &mut Node,
    rank: usize,
    s: f64,
    p: u32,
    edge: Edge,
    leaves: &mut usize,
    inners: &mut usize,
) -> Option<(Node, usize)> {
    match node {
        Node::Leaf(l) => {
            if l.len < LEAF_CAP {
                l.insert(rank, s, p);
                return None;
            }
            let at = split_point(rank, LEAF_CAP, edge);
            let mut right = Leaf::new();
            l.move_tail(at, &mut right);
            if rank < at || (rank == at && at < LEAF_CAP) {
                l.insert(rank, s, p);
            } else {
                right.insert(rank - at, s, p);
            }
            *leaves += 1;
            let n = right.len;
            Some((Node::Leaf(right), n))
        }
        Node::Inner(n) => {
            let (c, r) = n.child_for(rank, true);
            let kid_edge = Edge {
                first: edge.first && c == 0,
                last: edge.last && c + 1 == n.len,
            };
            let split = insert_rec(&mut n.kids[c], r, s, p, kid_edge, leaves, inners);
            n.count[c] += 1;
            if r == 0 {
                n.set_first(c);
            }
            let (kid, kc) = split?;
            n.count[c] -= kc;
            let q = c + 1;
            if n.len < INNER_CAP {
                n.insert_kid(q, kid, kc);
                return None;
            }
            let at = split_point(q, INNER_CAP, edge);
            let mut right = Inner::new();
            n.move_tail(at, &mut right);
            if q < at || (q == at && at < INNER_CAP) {
                n.insert_kid(q, kid, kc);
            } else {
                right.insert_kid(q - at, kid, kc);
            }
            *inners += 1;
            let total = right.total();
            Some((Node::Inner(right), total))
        }
    }
}

fn remove_rec(node: &mut Node, rank: usize, leaves: &mut usize, inners: &mut usize) -> (f64, u32) {
    match node {
        Node::Leaf(l) => l.remove(rank),
        Node::Inner(n) => {
            let (c, r) = n.child_for(rank, false);
            let e = remove_rec(&mut n.kids[c], r, leaves, inners);
            n.count[c] -= 1;
            if n.kids[c].small() {
                n.fix_underflow(c, leaves, inners);
            } else if r == 0 {
                n.set_first(c);
            }
            e
        }
    }
}

impl Tree {
    /// A tree of `n` entries given in order, packed full.
    pub(super) fn from_sorted(n: usize, mut entries: impl Iterator<Item = (f64, u32)>) -> Tree {
        if n <= LEAF_CAP {
            let mut l = Leaf::new();
            for (s, p) in entries.by_ref().take(n) {
                l.insert(l.len, s, p);
            }
            let len = l.len;
            return Tree {
                root: Node::Leaf(l),
                len,
                leaves: 1,
                inners: 0,
            };
        }
        let mut level: Vec<(Node, usize)> = Vec::new();
        let k = n.div_ceil(LEAF_CAP);
        for i in 0..k {
            let size = n / k + usize::from(i < n % k);
            let mut l = Leaf::new();
            for (s, p) in entries.by_ref().take(size) {
                l.insert(l.len, s, p);
            }
            let c = l.len;
            level.push((Node::Leaf(l), c));
        }
        let leaves = level.len();
        let mut inners = 0;
        while level.len() > 1 {
            let m = level.len().div_ceil(INNER_CAP);
            let total = level.len();
            let mut it = level.into_iter();
            let mut up = Vec::with_capacity(m);
            for i in 0..m {
                let size = total / m + usize::from(i < total % m);
                let mut inner = Inner::new();
                for (kid, c) in it.by_ref().take(size) {
                    let at = inner.len;
                    inner.insert_kid(at, kid, c);
                }
                let c = inner.total();
                up.push((Node::Inner(inner), c));
                inners += 1;
            }
            level = up;
        }
        let (root, len) = level.pop().unwrap_or((Node::Leaf(Leaf::new()), 0));
        Tree {
            root,
            len,
            leaves,
            inners,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Allocations of the nodes (a leaf is one, an inner node two).
    pub(super) fn node_allocations(&self) -> usize {
        self.leaves + 2 * self.inners
    }

    /// Bytes held from the allocator by the nodes.
    pub(super) fn heap_bytes(&self) -> usize {
        self.leaves * crate::alloc_size(std::mem::size_of::<Leaf>())
            + self.inners
                * (crate::alloc_size(std::mem::size_of::<Inner>())
                    + crate::alloc_size(INNER_CAP * std::mem::size_of::<Node>()))
    }

    /// The number of entries for which `less(score, pos)` holds, `less`
    /// being true on a prefix of the order and false after it.
    pub(super) fn partition(&self, mut less: impl FnMut(f64, u32) -> bool) -> usize {
        let mut rank = 0;
        let mut node = &self.root;
        loop {
            match node {
                Node::Inner(n) => {
                    // The first child whose first entry is not less; the
                    // boundary lies in the child before it.
                    let (mut lo, mut hi) = (1, n.len);
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        if less(n.score[mid], n.pos[mid]) {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    let c = lo - 1;
                    rank += n.count[..c].iter().sum::<usize>();
                    node = &n.kids[c];
                }
                Node::Leaf(l) => {
                    let (mut lo, mut hi) = (0, l.len);
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        if less(l.score[mid], l.pos[mid]) {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    return rank + lo;
                }
            }
        }
    }

    /// The entry of rank `rank` (`< len`).
    pub(super) fn get(&self, mut rank: usize) -> (f64, u32) {
        let mut node = &self.root;
        loop {
            match node {
                Node::Inner(n) => {
                    let (c, r) = n.child_for(rank, false);
                    rank = r;
                    node = &n.kids[c];
                }
                Node::Leaf(l) => return (l.score[rank], l.pos[rank]),
            }
        }
    }

    /// Inserts an entry so that it gets rank `rank` (`0..=len`); the
    /// caller keeps the order.
    pub(super) fn insert_at(&mut self, rank: usize, s: f64, p: u32) {
        let edge = Edge {
            first: true,
            last: true,
        };
        let split = insert_rec(
            &mut self.root,
            rank,
            s,
            p,
            edge,
            &mut self.leaves,
            &mut self.inners,
        );
        self.len += 1;
        if let Some((right, rc)) = split {
            let left = std::mem::replace(&mut self.root, Node::Leaf(Leaf::new()));
            let mut root = Inner::new();
            root.insert_kid(0, left, self.len - rc);
            root.insert_kid(1, right, rc);
            self.root = Node::Inner(root);
            self.inners += 1;
        }
    }

    /// Changes the score of the entry of rank `rank` (`< len`) in place;
    /// the caller checked that the order stays.
    pub(super) fn set_score_at(&mut self, rank: usize, s: f64) {
        fn walk(node: &mut Node, rank: usize, s: f64) {
            match node {
                Node::Leaf(l) => l.score[rank] = s,
                Node::Inner(n) => {
                    let (c, r) = n.child_for(rank, false);
                    walk(&mut n.kids[c], r, s);
                    if r == 0 {
                        n.score[c] = s;
                    }
                }
            }
        }
        walk(&mut self.root, rank, s);
    }

    /// Removes the entry of rank `rank` (`< len`) and returns it.
    pub(super) fn remove_at(&mut self, rank: usize) -> (f64, u32) {
        let e = remove_rec(&mut self.root, rank, &mut self.leaves, &mut self.inners);
        self.len -= 1;
        while let Node::Inner(n) = &mut self.root {
            if n.len != 1 {
                break;
            }
            let only = n.kids.pop().unwrap_or_else(|| Node::Leaf(Leaf::new()));
            self.root = only;
            self.inners -= 1;
        }
        e
    }

    /// A cursor on the entry of rank `rank` (`< len`).
    pub(super) fn cursor(&self, mut rank: usize) -> Cursor<'_> {
        let mut path = Vec::new();
        let mut node = &self.root;
        loop {
            match node {
                Node::Inner(n) => {
                    let (c, r) = n.child_for(rank, false);
                    path.push((&**n, c));
                    rank = r;
                    node = &n.kids[c];
                }
                Node::Leaf(l) => {
                    return Cursor {
                        path,
                        leaf: l,
                        i: rank,
                    }
                }
            }
        }
    }

    /// Every entry, in order.
    pub(super) fn for_each(&self, mut f: impl FnMut(f64, u32)) {
        fn walk(node: &Node, f: &mut impl FnMut(f64, u32)) {
            match node {
                Node::Leaf(l) => {
                    for i in 0..l.len {
                        f(l.score[i], l.pos[i]);
                    }
                }
                Node::Inner(n) => {
                    for k in &n.kids {
                        walk(k, f);
                    }
                }
            }
        }
        walk(&self.root, &mut f);
    }

    /// Checks the structure (tests): counts, first entries, fill, depth.
    #[cfg(test)]
    pub(super) fn check(&self, cmp: &impl Fn((f64, u32), (f64, u32)) -> std::cmp::Ordering) {
        fn walk(
            node: &Node,
            root: bool,
            edge: bool,
            depth: usize,
            leaf_depth: &mut Option<usize>,
            counts: &mut (usize, usize),
            out: &mut Vec<(f64, u32)>,
        ) -> usize {
            match node {
                Node::Leaf(l) => {
                    assert!(
                        root || l.len >= LEAF_MIN || (edge && l.len > 0),
                        "leaf of {}",
                        l.len
                    );
                    assert_eq!(*leaf_depth.get_or_insert(depth), depth);
                    counts.0 += 1;
                    for i in 0..l.len {
                        out.push((l.score[i], l.pos[i]));
                    }
                    l.len
                }
                Node::Inner(n) => {
                    assert!(
                        n.len
                            >= if root {
                                2
                            } else if edge {
                                1
                            } else {
                                INNER_MIN
                            }
                    );
                    assert_eq!(n.kids.len(), n.len);
                    assert_eq!(n.kids.capacity(), INNER_CAP);
                    counts.1 += 1;
                    let mut total = 0;
                    for (i, k) in n.kids.iter().enumerate() {
                        let first = out.len();
                        let edge = edge && (i == 0 || i + 1 == n.len);
                        let c = walk(k, false, edge, depth + 1, leaf_depth, counts, out);
                        assert_eq!(c, n.count[i]);
                        assert_eq!(out[first].0.to_bits(), n.score[i].to_bits());
                        assert_eq!(out[first].1, n.pos[i]);
                        assert!(k.width() > 0);
                        total += c;
                    }
                    total
                }
            }
        }
        let mut out = Vec::new();
        let mut counts = (0, 0);
        let total = walk(&self.root, true, true, 0, &mut None, &mut counts, &mut out);
        assert_eq!(total, self.len);
        assert_eq!(counts, (self.leaves, self.inners));
        for w in out.windows(2) {
            assert_eq!(cmp(w[0], w[1]), std::cmp::Ordering::Less);
        }
    }
}

/// A position in the tree that steps both ways.
pub(super) struct Cursor<'a> {
    path: Vec<(&'a Inner, usize)>,
    leaf: &'a Leaf,
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(super) fn get(&self) -> (f64, u32) {
        (self.leaf.score[self.i], self.leaf.pos[self.i])
    }

    /// Moves to the next entry; false at the end.
    pub(super) fn next(&mut self) -> bool {
        if self.i + 1 < self.leaf.len {
            self.i += 1;
            return true;
        }
        while let Some((n, c)) = self.path.pop() {
            if c + 1 < n.len {
                self.path.push((n, c + 1));
                let mut node = &n.kids[c + 1];
                loop {
                    match node {
                        Node::Inner(m) => {
                            self.path.push((m, 0));
                            node = &m.kids[0];
                        }
                        Node::Leaf(l) => {
                            self.leaf = l;
                            self.i = 0;
                            return true;
                        }
                    }
                }
            }
        }
        false
    }

    /// Moves to the previous entry; false at the start.
    pub(super) fn prev(&mut self) -> bool {
        if self.i > 0 {
            self.i -= 1;
            return true;
        }
        while let Some((n, c)) = self.path.pop() {
            if c > 0 {
                self.path.push((n, c - 1));
                let mut node = &n.kids[c - 1];
                loop {
                    match node {
                        Node::Inner(m) => {
                            self.path.push((m, m.len - 1));
                            node = &m.kids[m.len - 1];
                        }
                        Node::Leaf(l) => {
                            self.leaf = l;
                            self.i = l.len - 1;
                            return true;
                        }
                    }
                }
            }
        }
        false
    }
}
