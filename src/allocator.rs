//! The process allocator: jemalloc (`tikv-jemallocator`) serves every Rust
//! allocation of the server, its jobs, the tests and the benchmark programs, with
//! the settings in [`SETTINGS`].
//!
//! Why jemalloc (measured 2026-12-06 on the 2-core machine): on a customer's page
//! (`customer_pages_bench`) glibc's malloc and free were a quarter of the server's
//! time, in their ordinary paths (no trimming), so no `mallopt` setting removed
//! it. jemalloc serves 6 to 26% more pages per second than glibc, which takes
//! every page past 2 times PostGraphile (1.66 to 2.11 with glibc).
//!
//! mimalloc 3 was as fast but kept what a 10,000-line mass order freed
//! (`order_bench`: 66 to 75 MiB after the live status, over the 64 MB target, and
//! none of its purge options helped): a thread's freed pages go back only when
//! that thread allocates again. jemalloc gives freed pages back on a clock, from
//! its own background threads, whichever thread freed them.
//!
//! The settings (jemalloc reads them at its first allocation; the environment
//! variable `_RJEM_MALLOC_CONF` overrides them, to measure others):
//! - `background_thread:true`: purging runs on jemalloc's threads (one per core),
//!   not inside a request, and reaches arenas whose threads have gone idle.
//! - `dirty_decay_ms:100`: freed pages go back to the kernel within about a tenth
//!   of a second. jemalloc's default (10 s) left `order_bench` at 57 MiB right
//!   after the mass orders (43 with 100 ms, 44 with glibc); 0 (purge at every
//!   free) cost a third of the customer pages' throughput in `madvise` calls.
//! - `muzzy_decay_ms:0`: pages are given back with `MADV_DONTNEED`, not
//!   `MADV_FREE`, whose pages count as resident until the kernel needs them.
//!
//! glibc's malloc still serves C code, of which there is none on the request path.

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, as it reads them; see the module docs.
pub const SETTINGS: &std::ffi::CStr = c"background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:0";

/// A C string pointer that may live in a `static`.
#[repr(transparent)]
struct MallocConf(*const std::ffi::c_char);

// SAFETY: the pointer is to a `'static` C string literal, never written.
unsafe impl Sync for MallocConf {}

// jemalloc's `malloc_conf`, read before `main`. The crate builds jemalloc with
// the `_rjem_` prefix, so the symbol has it too.
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: MallocConf = MallocConf(SETTINGS.as_ptr());

#[cfg(test)]
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
        assert_eq!(signed_option(b"opt.dirty_decay_ms\0"), 100);
        assert_eq!(signed_option(b"opt.muzzy_decay_ms\0"), 0);
    }
}
