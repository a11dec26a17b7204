//! Files only the daemon's own user may read: the state directory (0700) and the files in
//! it (0600), whatever the process's umask.
//!
//! The checkpoint, the schema history (table definitions and DDL) and the lock file say
//! what a database holds and where; under the usual umask 022 they would be readable by
//! every local user. The spill file needs nothing here: it is created unlinked and 0600.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Creates `dir` and its missing parents as 0700. An existing directory is left as the
/// operator made it.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Opens `path` for writing from the start, creating it as 0600 (a file that exists keeps
/// its mode: this one writes only to temporary names it then renames).
pub fn create(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Opens `path` for reading and writing, creating it empty as 0600 if it is missing.
pub fn open_or_create(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_state_is_private_under_the_usual_umask_022() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_dir(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // Whatever the umask, the bits asked for are at most 0700 / 0600.
        assert_eq!(mode(&dir) & 0o077, 0, "{:o}", mode(&dir));
        assert_eq!(mode(&root.path().join("a")) & 0o077, 0);
        let file = dir.join("f");
        drop(create(&file).unwrap());
        assert_eq!(mode(&file) & 0o077, 0, "{:o}", mode(&file));
        let other = dir.join("g");
        drop(open_or_create(&other).unwrap());
        assert_eq!(mode(&other) & 0o077, 0, "{:o}", mode(&other));
    }
}
