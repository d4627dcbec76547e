//! The run lock: one `weaksignal run` per data directory at a time.
//!
//! Cron starts a run every morning whether or not yesterday's finished. Two
//! runs would collect the same pages twice and race on the index writer, so
//! the second one stops with a clear message. The lock is an advisory
//! `flock` on `DATA_DIR/run.lock`: the kernel drops it when the holder dies,
//! even by `kill -9`, so a lock left by a killed run is taken over without a
//! timeout or a guess about process ids. The file's text (pid and start time)
//! is only for the message.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const LOCK_FILE: &str = "run.lock";

/// Held for the length of a run; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
    /// What a previous holder that did not release the lock cleanly left in it.
    pub taken_over: Option<String>,
}

impl RunLock {
    pub fn acquire(data_dir: &Path) -> Result<RunLock> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
        let path = data_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut previous = String::new();
        let _ = file.read_to_string(&mut previous);
        if !try_lock(&file) {
            return Err(Error::RunLocked {
                path,
                holder: if previous.trim().is_empty() {
                    "holder unknown".into()
                } else {
                    previous.trim().to_string()
                },
            });
        }
        let taken_over = (!previous.trim().is_empty()).then(|| previous.trim().to_string());
        if let Some(stale) = &taken_over {
            tracing::warn!(lock = %path.display(), previous = %stale, "taking over the run lock of a run that did not finish");
        }
        file.set_len(0).map_err(|e| Error::io(&path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(&path, e))?;
        write!(
            file,
            "pid {} since {}",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        )
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::io(&path, e))?;
        Ok(RunLock {
            file,
            path,
            taken_over,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // An empty file marks a clean release; the flock goes with the file.
        let _ = self.file.set_len(0);
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own; no memory is involved.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_a_released_one_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        let err = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("another run is in progress"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        let again = RunLock::acquire(dir.path()).unwrap();
        assert!(again.taken_over.is_none(), "a clean release is not stale");
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(LOCK_FILE),
            "pid 999999 since 2026-01-01T00:00:00Z",
        )
        .unwrap();
        let lock = RunLock::acquire(dir.path()).unwrap();
        assert_eq!(
            lock.taken_over.as_deref(),
            Some("pid 999999 since 2026-01-01T00:00:00Z")
        );
    }
}
