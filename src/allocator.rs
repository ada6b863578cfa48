//! The process allocator and its settings: the system's malloc by default, with
//! glibc's thresholds fixed by [`tune`]; jemalloc when built with the `jemalloc`
//! feature, with [`JEMALLOC_SETTINGS`].
//!
//! glibc raises its mmap and trim thresholds after the first large block is freed
//! (up to 32 MiB), so later large buffers (an 8 MiB request body, a 10,000-line
//! mass order) come from the heap and stay resident once freed: a mass order left
//! over 20 MiB that `malloc_trim` could hand back. Fixed thresholds keep blocks
//! over 128 KiB in their own mappings, returned when freed, and the heap's free
//! top trimmed. [`tune`] is called once at start by the binary and by the
//! benchmark programs, which run the server in their own process.
//!
//! Why glibc stays the default (measured 2026-12-06 on the 2-core machine): on a
//! customer's page (`customer_pages_bench`) glibc's malloc and free are a quarter
//! of the server's time, in their ordinary paths (no trimming, so no `mallopt`
//! setting helps). The faster allocators hold more memory:
//! - jemalloc (`--features jemalloc`) serves 6 to 26% more customer pages per
//!   second (2.08 to 2.36 times PostGraphile over two runs, against 1.66 to 2.11
//!   with glibc). But `order_bench` ends 3 to 5 MiB above glibc at every point:
//!   62 to 65 MiB after the live status (glibc: 58 to 60), at or over the 64 MB
//!   target. With `dirty_decay_ms:100` it ends at 61 to 64, and `myOrders(first:
//!   20)` loses about 7%.
//! - mimalloc 3 (with `no_thp`) was as fast, but kept what a 10,000-line mass
//!   order freed: 66 to 75 MiB after the live status, and none of its purge
//!   options helped; a thread's freed pages go back only when that thread
//!   allocates again. With transparent huge pages, 31 MiB at rest, not 19.
//!
//! The customer pages reach their target (twice PostGraphile) with glibc since
//! their statements keep one generic plan (the page pool, `db::PlanCache`), so the
//! speed jemalloc brings is not needed for it.
//!
//! What the live status holds is mostly its 1,000 subscriptions, about 11 KiB
//! each (14 before the order event stream boxed its rare futures), most of it
//! async-graphql's own stream per subscription (heaptrack): smaller
//! subscriptions would leave room for jemalloc.

/// Blocks from this size get their own mapping; a free heap top past it is
/// returned.
#[cfg(not(feature = "jemalloc"))]
const THRESHOLD_BYTES: i32 = 128 * 1024;

/// Fixes glibc's thresholds (a no-op with jemalloc or another libc).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "jemalloc")))]
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

/// jemalloc's settings (read at its first allocation, before `main`; the
/// environment variable `_RJEM_MALLOC_CONF` overrides them, to measure others):
/// - `background_thread:true`: purging runs on jemalloc's threads (one per
///   core), not inside a request, and reaches arenas whose threads have gone
///   idle;
/// - `dirty_decay_ms:1000`: freed pages go back to the kernel within about a
///   second (100 ms cost about 7% of `myOrders(first: 20)`, 0 a third of the
///   customer pages, in `madvise` calls);
/// - `muzzy_decay_ms:0`: pages are given back with `MADV_DONTNEED`, not
///   `MADV_FREE`, whose pages count as resident until the kernel needs them.
pub const JEMALLOC_SETTINGS: &std::ffi::CStr =
    c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";

#[cfg(feature = "jemalloc")]
mod jemalloc {
    #[global_allocator]
    static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

    /// A C string pointer that may live in a `static`.
    #[repr(transparent)]
    struct MallocConf(*const std::ffi::c_char);

    // SAFETY: the pointer is to a `'static` C string literal, never written.
    unsafe impl Sync for MallocConf {}

    // jemalloc's `malloc_conf`. The crate builds jemalloc with the `_rjem_`
    // prefix, so the symbol has it too.
    #[unsafe(export_name = "_rjem_malloc_conf")]
    static MALLOC_CONF: MallocConf = MallocConf(super::JEMALLOC_SETTINGS.as_ptr());
}

#[cfg(all(test, feature = "jemalloc"))]
mod tests {
    use tikv_jemalloc_ctl::{opt, raw};

    /// jemalloc's signed option `name` (a `ssize_t`, as the decay times are).
    fn signed_option(name: &[u8]) -> isize {
        // SAFETY: the caller names a jemalloc option whose type is `ssize_t`, a
        // NUL-terminated name, as `raw::read` requires.
        unsafe { raw::read::<isize>(name) }.expect("jemalloc knows the option")
    }

    #[test]
    fn jemalloc_runs_with_the_settings() {
        if std::env::var_os("_RJEM_MALLOC_CONF").is_some() {
            eprintln!("_RJEM_MALLOC_CONF overrides the settings: not checked");
            return;
        }
        // Read back from jemalloc itself: proves `MALLOC_CONF` is linked in and
        // parsed (jemalloc ignores a setting it cannot parse, with a warning).
        assert!(opt::background_thread::read().unwrap());
        assert_eq!(signed_option(b"opt.dirty_decay_ms\0"), 1000);
        assert_eq!(signed_option(b"opt.muzzy_decay_ms\0"), 0);
    }
}
