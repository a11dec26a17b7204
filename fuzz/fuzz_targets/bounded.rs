//! The fuzz targets' allocator: the system's, but any single allocation over 256 MiB
//! aborts, which libFuzzer reports as a crash with the input that asked for it. (libFuzzer's
//! own -malloc_limit_mb needs a sanitizer runtime, which the stable toolchain lacks.)

use std::alloc::{GlobalAlloc, Layout, System};

pub const MAX_ALLOCATION: usize = 256 << 20;

pub struct Bounded;

fn check(size: usize) {
    if size > MAX_ALLOCATION {
        eprintln!("allocation of {size} bytes, over the {MAX_ALLOCATION}-byte bound");
        std::process::abort();
    }
}

// SAFETY: every call goes to `System` unchanged after the size check.
unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        // SAFETY: as for `dealloc` and `alloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
