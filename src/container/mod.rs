//! The container lifecycle: a [`Container`] is state.json plus what /proc and the cgroup say
//! about it now; each operation (create, start, kill, delete, run) lives in its own file and
//! checks the status transition it needs under the container's lock.

mod create;
mod delete;
mod events;
mod exec;
mod foreground;
mod kill;
mod pause;
mod ps;
mod run;
pub mod signals;
mod start;
mod terminal;
mod update;

pub use create::{create, CreateOptions};
pub use delete::delete;
pub use events::{stats, watch, Event};
pub use exec::{exec, ExecOptions};
pub use kill::kill;
pub use pause::{pause, resume};
pub use ps::{filter_table, pids, table as ps_table, PsError};
pub use run::{run, RunOptions};
pub use start::start;
pub use update::{merge as merge_resources, update};

use crate::cgroups::CgroupError;
use crate::console::ConsoleError;
use crate::error::{ErrorKind, Kind};
use crate::hooks::HookError;
use crate::process::ProcessError;
use crate::spec::SpecError;
use crate::state::{ContainerState, Lock, OciState, StateError, StateRoot, Status};
use std::path::PathBuf;

/// A failed lifecycle operation.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The bundle's config.json is unusable.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The state store failed, or the container does not exist / already exists.
    #[error(transparent)]
    State(#[from] StateError),
    /// A cgroup step failed.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// The create path failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// A hook failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// The console socket could not be used.
    #[error(transparent)]
    Console(#[from] ConsoleError),
    /// The operation is not allowed in the container's status.
    #[error("cannot {op} container \"{id}\": it is {status}")]
    BadState {
        /// Container id.
        id: String,
        /// The refused operation.
        op: &'static str,
        /// The status it is in.
        status: Status,
    },
    /// A flag combination runc also refuses.
    #[error("{0}")]
    BadOption(&'static str),
    /// A signal name or number that does not exist.
    #[error("invalid signal {0:?}")]
    BadSignal(String),
    /// Sending a signal or waiting for a process failed.
    #[error("{op} pid {pid}: {source}")]
    Signal {
        /// What was being done.
        op: &'static str,
        /// The target.
        pid: i32,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The pid file could not be written.
    #[error("write pid file {}: {source}", path.display())]
    PidFile {
        /// The --pid-file path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `ps` could not list the container's processes.
    #[error(transparent)]
    Ps(#[from] PsError),
    /// The container's state records no cgroup.
    #[error("container \"{id}\" has no cgroup")]
    NoCgroup {
        /// Container id.
        id: String,
    },
    /// An update's resources could not be merged with the recorded ones.
    #[error("merge linux.resources: {source}")]
    BadResources {
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// create failed, and undoing what it had done failed too.
    #[error("{error}; cleanup also failed: {cleanup}")]
    Cleanup {
        /// The original failure.
        error: Box<ContainerError>,
        /// The cleanup failure.
        cleanup: Box<ContainerError>,
    },
}

impl Kind for ContainerError {
    fn kind(&self) -> ErrorKind {
        match self {
            ContainerError::Spec(_) => ErrorKind::BadSpec,
            ContainerError::State(e) => e.kind(),
            ContainerError::Cgroup(e) => e.kind(),
            ContainerError::Process(e) => e.kind(),
            ContainerError::Hook(e) => e.kind(),
            ContainerError::Console(e) => e.kind(),
            ContainerError::BadState { .. } => ErrorKind::BadState,
            ContainerError::BadOption(_) | ContainerError::BadSignal(_) => ErrorKind::Usage,
            ContainerError::Signal { .. } | ContainerError::PidFile { .. } => ErrorKind::Sys,
            ContainerError::Ps(e) => e.kind(),
            ContainerError::NoCgroup { .. } => ErrorKind::BadState,
            ContainerError::BadResources { .. } => ErrorKind::BadSpec,
            ContainerError::Cleanup { error, .. } => error.kind(),
        }
    }
}

/// A container as known from its state directory.
#[derive(Debug)]
pub struct Container {
    /// Its state directory.
    pub dir: PathBuf,
    /// The persisted state.
    pub state: ContainerState,
}

impl Container {
    /// Loads container `id`; NotFound if it does not exist.
    pub fn load(root: &StateRoot, id: &str) -> Result<Container, ContainerError> {
        let dir = root.container_dir(id)?;
        let state = ContainerState::read(&dir, id)?;
        Ok(Container { dir, state })
    }

    /// Takes the container's lock and loads it under the lock.
    pub fn lock(root: &StateRoot, id: &str) -> Result<(Container, Lock), ContainerError> {
        let dir = root.container_dir(id)?;
        let lock = Lock::acquire(&dir, id)?;
        let state = ContainerState::read(&dir, id)?;
        Ok((Container { dir, state }, lock))
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// Whether the recorded init is still alive.
    pub fn init_alive(&self) -> bool {
        crate::process::stat::alive(self.state.pid, self.state.pid_start)
    }

    /// The current status, from state.json, /proc, exec.fifo and the cgroup freezer.
    pub fn status(&self) -> Status {
        let alive = self.init_alive();
        let fifo = self.dir.join(crate::state::EXEC_FIFO).exists();
        let frozen = alive
            && self
                .state
                .cgroup
                .as_ref()
                .and_then(|r| crate::cgroups::from_record(r).ok())
                .is_some_and(|m| m.is_frozen().unwrap_or(false));
        Status::derive(self.state.phase, alive, fifo, frozen)
    }

    /// The OCI state JSON as `state` prints it (pid 0 once stopped, as runc).
    pub fn oci_state(&self, status: Status) -> OciState {
        let s = &self.state;
        OciState {
            oci_version: s.oci_version.clone(),
            id: s.id.clone(),
            pid: if status == Status::Stopped { 0 } else { s.pid },
            status,
            bundle: s.bundle.clone(),
            rootfs: s.rootfs.clone(),
            created: s.created.clone(),
            owner: String::new(),
            annotations: s.annotations.clone(),
        }
    }

    /// Fails with BadState unless `allowed(status)`.
    pub fn require(
        &self,
        op: &'static str,
        allowed: fn(Status) -> bool,
    ) -> Result<Status, ContainerError> {
        let status = self.status();
        if allowed(status) {
            Ok(status)
        } else {
            Err(ContainerError::BadState {
                id: self.state.id.clone(),
                op,
                status,
            })
        }
    }

    /// A pidfd for the init, if it is still the recorded process.
    pub fn init_pidfd(&self) -> Option<std::os::fd::OwnedFd> {
        let pid = rustix::process::Pid::from_raw(self.state.pid)?;
        let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
        // The pidfd pins the process; check it is still the one we recorded.
        self.init_alive().then_some(fd)
    }
}
