//! The Lua states' allocator: free lists of small blocks, one set per
//! thread, over the C allocator.
//!
//! A script run allocates and the collector frees many small objects
//! (KEYS and ARGV tables, key and reply strings). With glibc's allocator
//! the bursts of frees of a collection step overflow its per-thread cache,
//! and its slow paths were ~6% of a worker's time under pipelined EVALSHA.
//! Here a freed small block is kept on a list for its size and the next
//! allocation of that size takes it back.
//!
//! Every block is a block of the C allocator, whether it came from a list
//! or not, so any block may be freed or resized by `libc` and any thread's
//! lists may keep any block (a state dropped on another thread is fine).
//! A block goes to the list of the size `malloc_usable_size` reports,
//! rounded down to a class, and serves requests up to that class.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::os::raw::c_void;
use std::ptr;

/// Class `c` holds blocks of at least `c * STEP` usable bytes.
const STEP: usize = 16;
/// Classes 1 to 16: blocks up to 256 bytes are kept.
const CLASSES: usize = 17;
/// Bytes one thread keeps on its lists at most; the rest go back to libc.
const MAX_KEPT: usize = 1 << 20;

struct Lists {
    /// Head of each class's list; a free block's first word points to
    /// the next.
    heads: [*mut u8; CLASSES],
    kept: usize,
}

thread_local! {
    // No destructor: usable while other thread-locals (a Lua state among
    // them) are dropped at thread exit. The blocks kept when a thread
    // ends (at most MAX_KEPT) are not returned.
    static LISTS: UnsafeCell<Lists> = const {
        UnsafeCell::new(Lists { heads: [ptr::null_mut(); CLASSES], kept: 0 })
    };
}

/// The class a request of `n` bytes (1..=256) takes its block from.
#[inline]
fn class_for(n: usize) -> usize {
    n.div_ceil(STEP)
}

#[inline]
unsafe fn take(n: usize) -> *mut c_void {
    if n > (CLASSES - 1) * STEP {
        return libc::malloc(n);
    }
    let c = class_for(n);
    let block = LISTS.with(|l| {
        // SAFETY: only this thread reaches its lists, and nothing called
        // from here reaches them again.
        let l = unsafe { &mut *l.get() };
        let head = l.heads[c];
        if !head.is_null() {
            // SAFETY: a listed block is free and starts with the next link.
            l.heads[c] = unsafe { *(head as *mut *mut u8) };
            l.kept -= c * STEP;
        }
        head
    });
    if block.is_null() {
        libc::malloc(c * STEP)
    } else {
        block as *mut c_void
    }
}

#[inline]
unsafe fn give(p: *mut c_void) {
    let c = libc::malloc_usable_size(p) / STEP;
    if c == 0 || c >= CLASSES {
        return libc::free(p);
    }
    let kept = LISTS.with(|l| {
        // SAFETY: as in `take`; `p` is a free block of at least `c * STEP`
        // (>= a pointer's size) bytes.
        let l = unsafe { &mut *l.get() };
        if l.kept + c * STEP > MAX_KEPT {
            return false;
        }
        unsafe { *(p as *mut *mut u8) = l.heads[c] };
        l.heads[c] = p as *mut u8;
        l.kept += c * STEP;
        true
    });
    if !kept {
        libc::free(p);
    }
}

/// `lua_Alloc`: free when `nsize` is 0, allocate when `p` is null, resize
/// otherwise. A shrink never fails (Lua 5.1 relies on it).
pub(crate) unsafe extern "C" fn lua_alloc(
    _ud: *mut c_void,
    p: *mut c_void,
    osize: usize,
    nsize: usize,
) -> *mut c_void {
    if nsize == 0 {
        if !p.is_null() {
            give(p);
        }
        return ptr::null_mut();
    }
    if p.is_null() {
        return take(nsize);
    }
    let small = (CLASSES - 1) * STEP;
    if osize > small && nsize > small {
        let q = libc::realloc(p, nsize);
        return if q.is_null() && nsize <= osize { p } else { q };
    }
    let q = take(nsize);
    if q.is_null() {
        return if nsize <= osize { p } else { ptr::null_mut() };
    }
    ptr::copy_nonoverlapping(p as *const u8, q as *mut u8, osize.min(nsize));
    give(p);
    q
}
