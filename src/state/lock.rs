//! The per-container lock: flock on the container's state directory, held by every command
//! that changes the container, so 100 parallel lifecycles never interleave their writes.

use super::{io_err, StateError};
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::Path;

/// An exclusive lock on one container directory, released on drop.
#[derive(Debug)]
pub struct Lock {
    _flock: Flock<File>,
}

impl Lock {
    /// Blocks until the lock on `dir` is held. A container deleted while we waited shows up
    /// as NotFound afterwards, so callers re-read state.json under the lock.
    pub fn acquire(dir: &Path, id: &str) -> Result<Lock, StateError> {
        let file = match File::open(dir) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotFound(id.into()))
            }
            Err(e) => return Err(io_err("open state dir", dir)(e)),
        };
        let flock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| io_err("flock", dir)(errno.into()))?;
        Ok(Lock { _flock: flock })
    }
}
