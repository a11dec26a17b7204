//! One writer per state directory: an exclusive lock on `checkpoint.dir/lock`, held for as
//! long as the daemon (or a command that changes the state) runs.
//!
//! Two processes writing one checkpoint would each move it to their own position, and a
//! restart would resume from whichever wrote last: rows skipped or sent twice. A second
//! container on the same volume or a unit started twice must stop at once instead. The lock
//! is the operating system's (`flock`), so it goes away with the process, `kill -9`
//! included; the file names the holder for the error message.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::CheckpointError;

const LOCK_FILE: &str = "lock";
/// How often, and how far apart, a lock held by someone else is tried again.
const RETRIES: u32 = 5;
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock on `dir` (created if needed), or says who holds it.
    pub fn acquire(dir: &Path) -> Result<Self, CheckpointError> {
        let dir_err = |source| CheckpointError::Dir {
            dir: dir.to_owned(),
            source,
        };
        crate::private_file::create_dir(dir).map_err(dir_err)?;
        let path = dir.join(LOCK_FILE);
        let mut file = crate::private_file::open_or_create(&path).map_err(dir_err)?;
        // A `check` looking at the holder takes a shared lock for an instant: try again
        // for a moment before calling the directory taken.
        let mut attempts = 0;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if attempts < RETRIES => {
                    attempts += 1;
                    std::thread::sleep(RETRY_PAUSE);
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(CheckpointError::Locked {
                        dir: dir.to_owned(),
                        holder: read_holder(&mut file),
                    });
                }
                Err(TryLockError::Error(source)) => return Err(dir_err(source)),
            }
        }
        // Who holds it, for the next one that tries.
        let me = format!("pid {} on {}", std::process::id(), hostname());
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(me.as_bytes()));
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Who holds the lock on `dir`: `None` when nobody does (or it cannot be told). Creates
/// and writes nothing; a shared lock taken for an instant tells whether it is held.
pub fn holder(dir: &Path) -> Option<String> {
    let mut file = File::open(dir.join(LOCK_FILE)).ok()?;
    match file.try_lock_shared() {
        Err(TryLockError::WouldBlock) => Some(read_holder(&mut file)),
        _ => None,
    }
}

/// What the holder wrote of itself; it writes just after taking the lock, so it may not
/// have yet.
fn read_holder(file: &mut File) -> String {
    let mut holder = String::new();
    let _ = file.read_to_string(&mut holder);
    match holder.trim() {
        "" => "a process that is just starting".into(),
        name => name.to_owned(),
    }
}

pub(super) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "this host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_directory_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&dir.path().display().to_string())
                && text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert_eq!(
            holder(dir.path()),
            Some(format!("pid {} on {}", std::process::id(), hostname()))
        );
        drop(first);
        assert_eq!(holder(dir.path()), None, "released with its holder");
        // Released with its holder.
        let again = DirLock::acquire(dir.path()).unwrap();
        assert!(again.path().ends_with(LOCK_FILE));
        assert_eq!(
            holder(&tempfile::tempdir().unwrap().path().join("new")),
            None
        );
    }
}
