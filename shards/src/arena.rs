//! A shard's arena: the bytes of its records, packed into 16 KiB pages.
//!
//! Every page holds chunks of one size class (16 to 2048 bytes); a record
//! lives in the smallest chunk that fits it, so a key with its value costs
//! its own bytes rounded up to the class (4 bytes for the small classes)
//! and nothing else: no allocator header, no pointer. A chunk is named by a
//! `u32` position, `page << 10 | chunk`, which the index, the LRU links and
//! the TTL table store instead of 8-byte pointers.
//!
//! Space is reused: a freed chunk goes back on its page's free list, a page
//! whose last chunk is freed gives its memory back, and `Arena::sparse`
//! names pages that churn has left mostly empty so the store can move
//! their records out (Redis's active defragmentation does the same with
//! jemalloc's pages).
//!
//! Walks that span calls do not follow the arena: SCAN and the AOF rewrite
//! walk the index (see `index::Index::scan`), so a record may move to any
//! free chunk, which is what lets defragmentation fill the holes churn
//! leaves. A snapshot's copy walks the pages in order (memory order, the
//! fastest walk) within one call, while nothing moves.

/// Bytes per page: small enough that a shard using many size classes holds
/// little slack (a class in use costs at least one page), large enough that
/// the allocator's header and the page table are a fraction of a percent.
pub const PAGE: usize = 16 * 1024;
/// Bits of a position that name the chunk within its page.
const CHUNK_BITS: u32 = 10;
const CHUNK_MASK: u32 = (1 << CHUNK_BITS) - 1;
/// Page ids stay below this so that no position equals `NIL`.
const MAX_PAGES: usize = (1 << (32 - CHUNK_BITS)) - 1;
/// Pages kept with their memory after they emptied, for reuse without a
/// round trip through the allocator.
const SPARE_PAGES: usize = 4;
/// What glibc adds to an allocation of a page (its chunk header, rounded).
const PAGE_OVERHEAD: usize = 16;

/// A position that names no chunk.
pub const NIL: u32 = u32::MAX;

/// The largest chunk: records above it keep their value elsewhere.
pub const MAX_CHUNK: usize = 2048;

/// Chunk sizes: every multiple of 4 from 16 to 256 (small records waste at
/// most 3 bytes), then steps of about 1/8 up to `MAX_CHUNK`.
const LARGE_CLASSES: [u16; 16] = [
    288, 320, 352, 384, 448, 512, 576, 640, 768, 896, 1024, 1152, 1280, 1536, 1792, 2048,
];
const SMALL_CLASSES: usize = (256 - 16) / 4 + 1;
/// Number of size classes.
pub const CLASSES: usize = SMALL_CLASSES + LARGE_CLASSES.len();

/// The chunk size of class `c`.
pub const fn class_size(c: usize) -> usize {
    if c < SMALL_CLASSES {
        16 + 4 * c
    } else {
        LARGE_CLASSES[c - SMALL_CLASSES] as usize
    }
}

/// The smallest class whose chunks hold `size` bytes (`size <= MAX_CHUNK`).
pub fn class_of(size: usize) -> usize {
    debug_assert!(size <= MAX_CHUNK);
    if size <= 256 {
        size.saturating_sub(16).div_ceil(4)
    } else {
        SMALL_CLASSES + LARGE_CLASSES.partition_point(|&s| (s as usize) < size)
    }
}

/// The page of a position.
#[inline]
pub fn page_of(pos: u32) -> usize {
    (pos >> CHUNK_BITS) as usize
}

#[inline]
fn chunk_of(pos: u32) -> usize {
    (pos & CHUNK_MASK) as usize
}

#[inline]
fn pos(page: usize, chunk: usize) -> u32 {
    ((page as u32) << CHUNK_BITS) | chunk as u32
}

const NO_CHUNK: u16 = u16::MAX;
const NOT_LISTED: u32 = u32::MAX;

struct Page {
    /// The page's bytes; empty while the page is unused.
    data: Box<[u8]>,
    class: u8,
    /// Chunks in use.
    used: u16,
    /// Chunks `0..fresh` have been handed out at least once; the rest are
    /// untouched and allocated in order.
    fresh: u16,
    /// Head of the list of freed chunks (each holds the next one in its
    /// first two bytes).
    free: u16,
    /// Position in its class's list of pages with room, or `NOT_LISTED`.
    listed: u32,
}

impl Page {
    fn chunks(&self) -> usize {
        PAGE / class_size(self.class as usize)
    }
    fn has_room(&self) -> bool {
        (self.used as usize) < self.chunks()
    }
}

#[derive(Default, Clone)]
struct Class {
    /// Pages of this class with at least one free chunk.
    room: Vec<u32>,
}

/// The pages of one shard.
pub struct Arena {
    pages: Vec<Page>,
    /// Ids of pages without memory, for reuse.
    unused: Vec<u32>,
    /// Ids of emptied pages that kept their memory.
    spare: Vec<u32>,
    classes: Vec<Class>,
    /// Pages in use.
    in_use: usize,
    /// Pages holding memory (in use or spare).
    resident: usize,
    /// Bytes of chunks in use.
    used_bytes: usize,
}

impl Default for Arena {
    fn default() -> Self {
        Arena::new()
    }
}

impl Arena {
    /// An empty arena; it takes no memory until the first allocation.
    pub fn new() -> Self {
        Arena {
            pages: Vec::new(),
            unused: Vec::new(),
            spare: Vec::new(),
            classes: vec![Class::default(); CLASSES],
            in_use: 0,
            resident: 0,
            used_bytes: 0,
        }
    }

    /// Bytes the arena accounts for: the chunks in use (at their class
    /// sizes) and the page table. Like Redis's `used_memory`, this leaves
    /// out what the pages hold unused (see `slack` and `resident`), which
    /// defragmentation keeps small.
    pub fn allocated(&self) -> usize {
        self.used_bytes + self.pages.capacity() * std::mem::size_of::<Page>()
    }

    /// Bytes of pages held from the allocator, used or not.
    pub fn resident(&self) -> usize {
        self.resident * (PAGE + PAGE_OVERHEAD)
    }

    /// Bytes of the chunks in use (their full class sizes).
    pub fn used(&self) -> usize {
        self.used_bytes
    }

    /// A chunk of at least `size` bytes (`size <= MAX_CHUNK`), or None when
    /// the arena has no page id left. Its bytes are whatever they were.
    pub fn alloc(&mut self, size: usize) -> Option<u32> {
        let c = class_of(size);
        let page = match self.classes[c].room.last() {
            Some(&p) => p as usize,
            None => self.open_page(c)?,
        };
        Some(self.take_chunk(page))
    }

    /// A chunk of at least `size` bytes that is not in page `avoid` (for
    /// moving the records out of that page), preferring the fullest page
    /// with room among the last few listed.
    pub fn alloc_avoiding(&mut self, size: usize, avoid: usize) -> Option<u32> {
        let c = class_of(size);
        let room = &self.classes[c].room;
        let page = room
            .iter()
            .rev()
            .take(8)
            .filter(|&&p| p as usize != avoid)
            .max_by_key(|&&p| self.pages[p as usize].used)
            .copied();
        let page = match page {
            Some(p) => p as usize,
            None => self.open_page(c)?,
        };
        Some(self.take_chunk(page))
    }

    /// Gives a chunk back.
    pub fn free(&mut self, at: u32) {
        let page = page_of(at);
        let chunk = chunk_of(at);
        let p = &mut self.pages[page];
        let c = p.class as usize;
        debug_assert!(p.used > 0 && chunk < p.fresh as usize);
        let size = class_size(c);
        let off = chunk * size;
        p.data[off..off + 2].copy_from_slice(&p.free.to_le_bytes());
        p.free = chunk as u16;
        let was_full = !p.has_room();
        p.used -= 1;
        self.used_bytes -= size;
        if p.used == 0 {
            self.close_page(page);
        } else if was_full {
            self.list(page);
        }
    }

    /// The bytes of the chunk at `at` (its whole class size).
    #[inline]
    pub fn chunk(&self, at: u32) -> &[u8] {
        let p = &self.pages[page_of(at)];
        let size = class_size(p.class as usize);
        let off = chunk_of(at) * size;
        &p.data[off..off + size]
    }

    /// The bytes of the chunk at `at`, writable.
    #[inline]
    pub fn chunk_mut(&mut self, at: u32) -> &mut [u8] {
        let p = &mut self.pages[page_of(at)];
        let size = class_size(p.class as usize);
        let off = chunk_of(at) * size;
        &mut p.data[off..off + size]
    }

    /// The size of the chunk at `at`.
    #[inline]
    pub fn size_of(&self, at: u32) -> usize {
        class_size(self.pages[page_of(at)].class as usize)
    }

    /// Calls `f(pos, bytes)` for every chunk of page `page` handed out at
    /// least once (live or freed: the caller tells them apart).
    pub fn chunks_of(&self, page: usize, mut f: impl FnMut(u32, &[u8])) {
        let p = &self.pages[page];
        if p.data.is_empty() {
            return;
        }
        let size = class_size(p.class as usize);
        for chunk in 0..p.fresh as usize {
            let off = chunk * size;
            f(pos(page, chunk), &p.data[off..off + size]);
        }
    }

    /// Page ids run below this (pages without memory included).
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// The number of pages in use.
    pub fn pages_in_use(&self) -> usize {
        self.in_use
    }

    /// A page in use whose chunks are mostly free (at most a quarter in
    /// use), searching from page id `from` on: its records can move into
    /// fuller pages so that it empties.
    pub fn sparse(&self, from: usize) -> Option<usize> {
        (from..self.pages.len()).find(|&i| {
            let p = &self.pages[i];
            p.used > 0 && (p.used as usize) * 4 <= p.chunks()
        })
    }

    /// Bytes in pages that are in use but not by chunks (fragmentation).
    pub fn slack(&self) -> usize {
        self.in_use * PAGE - self.used_bytes
    }

    fn take_chunk(&mut self, page: usize) -> u32 {
        let p = &mut self.pages[page];
        let size = class_size(p.class as usize);
        let chunk = if p.free != NO_CHUNK {
            let c = p.free as usize;
            let off = c * size;
            p.free = u16::from_le_bytes([p.data[off], p.data[off + 1]]);
            c
        } else {
            let c = p.fresh as usize;
            p.fresh += 1;
            c
        };
        p.used += 1;
        self.used_bytes += size;
        if !p.has_room() {
            self.unlist(page);
        }
        pos(page, chunk)
    }

    /// Puts a page to use for class `c`, listed as having room.
    fn open_page(&mut self, c: usize) -> Option<usize> {
        let page = if let Some(p) = self.spare.pop() {
            p as usize
        } else if let Some(p) = self.unused.pop() {
            self.pages[p as usize].data = vec![0u8; PAGE].into_boxed_slice();
            self.resident += 1;
            p as usize
        } else {
            if self.pages.len() >= MAX_PAGES {
                return None;
            }
            self.pages.push(Page {
                data: vec![0u8; PAGE].into_boxed_slice(),
                class: 0,
                used: 0,
                fresh: 0,
                free: NO_CHUNK,
                listed: NOT_LISTED,
            });
            self.resident += 1;
            self.pages.len() - 1
        };
        let p = &mut self.pages[page];
        p.class = c as u8;
        p.used = 0;
        p.fresh = 0;
        p.free = NO_CHUNK;
        self.in_use += 1;
        self.list(page);
        Some(page)
    }

    fn close_page(&mut self, page: usize) {
        self.unlist(page);
        self.in_use -= 1;
        let p = &mut self.pages[page];
        if self.spare.len() < SPARE_PAGES {
            self.spare.push(page as u32);
        } else {
            p.data = Box::default();
            self.resident -= 1;
            self.unused.push(page as u32);
        }
    }

    fn list(&mut self, page: usize) {
        let c = self.pages[page].class as usize;
        if self.pages[page].listed == NOT_LISTED {
            self.pages[page].listed = self.classes[c].room.len() as u32;
            self.classes[c].room.push(page as u32);
        }
    }

    fn unlist(&mut self, page: usize) {
        let at = self.pages[page].listed;
        if at == NOT_LISTED {
            return;
        }
        let c = self.pages[page].class as usize;
        let room = &mut self.classes[c].room;
        room.swap_remove(at as usize);
        if let Some(&moved) = room.get(at as usize) {
            self.pages[moved as usize].listed = at;
        }
        self.pages[page].listed = NOT_LISTED;
    }

    /// Forgets everything and gives every page back.
    pub fn clear(&mut self) {
        *self = Arena::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_every_size_tightly() {
        for size in 1..=MAX_CHUNK {
            let c = class_of(size);
            assert!(class_size(c) >= size, "size {size}");
            if c > 0 {
                assert!(
                    class_size(c - 1) < size,
                    "size {size} not in its smallest class"
                );
            }
        }
        assert_eq!(class_size(CLASSES - 1), MAX_CHUNK);
        // Every class fits at least one chunk per page and chunk indices fit.
        assert!(PAGE / class_size(0) <= 1 << CHUNK_BITS);
    }

    #[test]
    fn chunks_are_reused_and_pages_returned() {
        let mut a = Arena::new();
        let mut live: Vec<u32> = (0..10_000).map(|_| a.alloc(100).unwrap()).collect();
        let pages = a.pages_in_use();
        assert_eq!(a.used(), 10_000 * 100);
        for (i, &p) in live.iter().enumerate() {
            a.chunk_mut(p)[4..8].copy_from_slice(&(i as u32).to_le_bytes());
        }
        // Free every other chunk, then allocate as many: no new page.
        for p in live.iter().step_by(2) {
            a.free(*p);
        }
        let again: Vec<u32> = (0..5_000).map(|_| a.alloc(97).unwrap()).collect();
        assert_eq!(a.pages_in_use(), pages);
        // Untouched chunks kept their bytes.
        for (i, &p) in live.iter().enumerate().skip(1).step_by(2) {
            assert_eq!(a.chunk(p)[4..8], (i as u32).to_le_bytes());
        }
        live = live.into_iter().skip(1).step_by(2).chain(again).collect();
        for p in live {
            a.free(p);
        }
        assert_eq!(a.pages_in_use(), 0);
        assert_eq!(a.used(), 0);
        assert!(a.resident <= SPARE_PAGES);
    }

    #[test]
    fn alloc_avoiding_leaves_the_page_being_emptied() {
        let mut a = Arena::new();
        let all: Vec<u32> = (0..1_000).map(|_| a.alloc(40).unwrap()).collect();
        let page = page_of(all[0]);
        // Free most of the first page: it is sparse and has room, yet a
        // move out of it never lands in it.
        let first: Vec<u32> = all
            .iter()
            .copied()
            .filter(|&p| page_of(p) == page)
            .collect();
        for &p in &first[1..] {
            a.free(p);
        }
        assert_eq!(a.sparse(0), Some(page));
        let moved = a.alloc_avoiding(40, page).unwrap();
        assert_ne!(page_of(moved), page);
        // Once its last record left, the page is given back.
        let pages = a.pages_in_use();
        a.free(first[0]);
        assert_eq!(a.pages_in_use(), pages - 1);
    }
}
