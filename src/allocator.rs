//! The process allocator's settings. glibc's malloc raises its mmap and trim
//! thresholds after the first large block is freed (up to 32 MiB), so later large
//! buffers (an 8 MiB request body, a 10,000-line mass order) come from the heap
//! and stay resident once freed: a mass order left over 20 MiB that
//! `malloc_trim` could hand back. Fixed thresholds keep blocks over 128 KiB in
//! their own mappings, returned when freed, and the heap's free top trimmed.
//! Called once at start by the binary (and by the benchmark programs, which run
//! the server in their own process). Other allocators are left as they are.
//!
//! glibc stays the allocator for now. mimalloc 3 (the `mimalloc` crate, built
//! with `no_thp`) was measured on 2026-12-06: malloc and free were a quarter of
//! the server's time on a customer's page, and mimalloc served 5 to 23% more
//! pages per second (`customer_pages_bench`). But `order_bench` then ended at
//! 66 to 75 MiB resident after the live status, over the 64 MB target (glibc:
//! 58 to 63): mimalloc kept much of what the 10,000-line mass order freed (66
//! to 83 MiB right after it, against 43 with glibc), and none of its purge
//! options brought it back. Built with transparent huge pages, each 2 MiB
//! region it touched stayed resident whole (31 MiB at rest, not 19).

/// Blocks from this size get their own mapping; a free heap top past it is
/// returned.
const THRESHOLD_BYTES: i32 = 128 * 1024;

/// Fixes glibc's thresholds (a no-op elsewhere).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc's `mallopt` parameters (malloc.h).
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_THRESHOLD: i32 = -3;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only changes the allocator's tuning; both parameters
        // take a byte count and are valid at any time.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES);
            mallopt(M_TRIM_THRESHOLD, THRESHOLD_BYTES);
        }
    }
}
