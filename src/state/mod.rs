//! The state store under `--root` (default /run/hull): one directory per container holding
//! `state.json` and `exec.fifo`. Every mutating command takes the container's lock first.

mod lock;
mod status;
mod store;

pub use lock::Lock;
pub use status::{OciState, Phase, Status};
pub use store::{CgroupRecord, ContainerState};

use crate::error::{ErrorKind, Kind};
use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The default `--root`.
pub const DEFAULT_ROOT: &str = "/run/hull";
/// The start fifo's name in the container directory.
pub const EXEC_FIFO: &str = "exec.fifo";

/// A failed operation on the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// No container with this id.
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    /// The id is taken.
    #[error("container with id \"{0}\" already exists")]
    Exists(String),
    /// The id has characters that could escape the state dir or confuse tools.
    #[error(
        "invalid container id {0:?}: use letters, digits and _ + - . only, at most 1024 bytes"
    )]
    BadId(String),
    /// A file or directory of the store could not be read or written.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// Which file.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// state.json is not what hull wrote.
    #[error("{}: corrupt state: {source}", path.display())]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

impl Kind for StateError {
    fn kind(&self) -> ErrorKind {
        match self {
            StateError::NotFound(_) => ErrorKind::NotFound,
            StateError::Exists(_) => ErrorKind::Exists,
            StateError::BadId(_) => ErrorKind::Usage,
            StateError::Io { .. } | StateError::Corrupt { .. } => ErrorKind::Sys,
        }
    }
}

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The `--root` directory.
#[derive(Debug, Clone)]
pub struct StateRoot {
    dir: PathBuf,
}

/// Checks a container id as runc does: `^[\w+\-.]+$`, and never `.` or `..`.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StateError::BadId(id.to_string()))
    }
}

impl StateRoot {
    /// The store at `dir`; nothing is created until a container is.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateRoot { dir: dir.into() }
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The directory of container `id` (which must be valid).
    pub fn container_dir(&self, id: &str) -> Result<PathBuf, StateError> {
        validate_id(id)?;
        Ok(self.dir.join(id))
    }

    /// Creates the directory for a new container; fails with `Exists` if the id is taken.
    pub fn create_dir(&self, id: &str) -> Result<PathBuf, StateError> {
        let dir = self.container_dir(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io_err("create state root", &self.dir))?;
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(StateError::Exists(id.into()))
            }
            Err(e) => Err(io_err("create state dir", &dir)(e)),
        }
    }

    /// Ids of all containers in the store, sorted.
    pub fn list(&self) -> Result<Vec<String>, StateError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read state root", &self.dir)(e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| validate_id(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_like_runc() {
        for good in ["a", "abc-1.2_3+x", &"x".repeat(1024)] {
            validate_id(good).unwrap();
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a b",
            "a\0",
            &"x".repeat(1025),
        ] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }
}
