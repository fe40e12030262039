//! The two calls into glibc's allocator the server makes. Both are tuning:
//! without them the server is correct but holds memory it freed.
#![allow(unsafe_code)]

/// Fixes glibc's mmap threshold at 128 KiB.
///
/// glibc serves allocations from 128 KiB up with their own `mmap`, and
/// gives them back at `free`, but after the first such free it raises the
/// threshold to that size (up to 32 MiB): from then on a shard's index
/// tables and big values come from the heap, and once freed (an index
/// rebuilt larger, a value overwritten) they stay resident among the arena
/// pages. Measured: 6 bytes a key of RSS left over from index rebuilds
/// after loading 1,000,000 keys. A fixed threshold keeps big blocks mapped
/// and returned.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune() {
    extern "C" {
        fn mallopt(param: std::os::raw::c_int, value: std::os::raw::c_int) -> std::os::raw::c_int;
    }
    const M_MMAP_THRESHOLD: std::os::raw::c_int = -3;
    // SAFETY: `mallopt` takes two integers and changes the allocator's
    // parameters under its own lock; calling it at any time is allowed.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}

/// Hands the pages malloc holds free back to the kernel.
///
/// glibc keeps what a thread frees in that thread's arena. Without a trim,
/// the buffers of connections that sent (or declared and half-sent) big
/// values stay resident after they close: 50 such connections left 64 MB
/// of RSS behind that only this call gave back. Other allocators return
/// memory on their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free_memory() {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::os::raw::c_int;
    }
    // SAFETY: `malloc_trim` takes no pointer and works under each arena's
    // own lock; glibc allows it from any thread at any time.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}
