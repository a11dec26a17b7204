//! The test binary's allocator: the system's, refusing any single allocation over a bound,
//! so a length field that asks for gigabytes fails the test run (an allocation error
//! aborts it) instead of passing on a machine with the memory to spare.

use std::alloc::{GlobalAlloc, Layout, System};

/// No test needs one allocation this large; a damaged length field asks for more.
pub const MAX_ALLOCATION: usize = 256 << 20;

pub struct BoundedAlloc;

// SAFETY: every call is passed to `System` unchanged, except that a request over the
// bound gets the null pointer `GlobalAlloc` defines as failure.
unsafe impl GlobalAlloc for BoundedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        // SAFETY: as for `dealloc` and `alloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
