//! Named failpoints: the seams where a crash between two steps matters, for fault tests.
//!
//! Each name marks a place in the code where a test can make the step fail (or panic, or
//! pause) with the `fail` crate: `fail::cfg(CHECKPOINT_BEFORE_RENAME, "return")`. They
//! compile to nothing, and the crate is not even built, unless the `failpoints` feature is
//! on; only the test binary `tests/failpoints.rs` needs it. A failpoint that returns makes
//! its step fail with an I/O or connection error, as a crash or a lost connection there
//! would.

/// `fail::fail_point!` when the `failpoints` feature is on; nothing otherwise.
macro_rules! fail_point {
    ($name:expr, $on_return:expr) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name, $on_return);
    };
}
pub(crate) use fail_point;

/// The new checkpoint is written to its temporary file and synced, not yet renamed over
/// the old one: a crash here leaves the old checkpoint.
pub const CHECKPOINT_BEFORE_RENAME: &str = "checkpoint-before-rename";

/// The new checkpoint has replaced the old one; the directory is not yet synced.
pub const CHECKPOINT_AFTER_RENAME: &str = "checkpoint-after-rename";

/// The reader is about to handle an event: a test can make it panic there, as a bug would.
pub const READER_HANDLE_EVENT: &str = "reader-handle-event";

/// A message was handed to the sink; its confirmation has not been awaited.
pub const PUBLISH_BEFORE_CONFIRM: &str = "publish-before-confirm";
