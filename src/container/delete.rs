//! `delete`: remove a stopped (or, with --force, any) container: kill what is left, remove the
//! cgroup, run poststop hooks, remove the state directory. It also finishes the job of a
//! create that crashed, because create records each resource before making it.

use super::{Container, ContainerError};
use crate::cgroups::{self, Manager};
use crate::state::{StateError, StateRoot, Status};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use std::os::fd::{AsFd, OwnedFd};

/// How long to wait for a SIGKILLed init to be gone before giving up.
const KILL_WAIT_MS: u16 = 10_000;

/// Deletes container `id`.
pub fn delete(root: &StateRoot, id: &str, force: bool) -> Result<(), ContainerError> {
    let (container, _lock) = match Container::lock(root, id) {
        Ok(c) => c,
        Err(ContainerError::State(StateError::NotFound(_))) if force => {
            // A create killed before it wrote state.json leaves only the directory.
            let dir = root.container_dir(id)?;
            let _ = std::fs::remove_dir_all(dir);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let status = container.status();
    let allowed = status.can_delete() || (status == Status::Creating && !container.init_alive());
    if !allowed && !force {
        return Err(ContainerError::BadState {
            id: id.to_string(),
            op: "delete",
            status,
        });
    }
    destroy_recorded(&container)
}

/// [`destroy`] with the cgroup state.json records (or just the processes, without one).
pub(crate) fn destroy_recorded(container: &Container) -> Result<(), ContainerError> {
    let cgroup = match &container.state.cgroup {
        Some(record) => Some(cgroups::from_record(record)?),
        None => None,
    };
    match cgroup {
        Some(cg) => destroy(container, cg.as_ref(), true),
        None => destroy_without_cgroup(container),
    }
}

/// Kills every process of the container, waits for the init to go, removes the cgroup, runs
/// poststop hooks (warnings only, as the spec says) and removes the state directory.
pub(crate) fn destroy(
    c: &Container,
    cgroup: &dyn Manager,
    poststop: bool,
) -> Result<(), ContainerError> {
    let init = kill_init(c)?;
    // Processes that ignored SIGTERM, or live outside the container's pid namespace.
    cgroup.kill_all(Signal::SIGKILL)?;
    // A frozen (paused) process cannot die until thawed, so thaw before waiting for the
    // init; thawing an unfrozen cgroup is a no-op.
    let _ = cgroup.thaw();
    wait_gone(c, init)?;
    cgroup.destroy()?;
    finish(c, poststop)
}

fn destroy_without_cgroup(c: &Container) -> Result<(), ContainerError> {
    let init = kill_init(c)?;
    wait_gone(c, init)?;
    finish(c, true)
}

fn finish(c: &Container, poststop: bool) -> Result<(), ContainerError> {
    if poststop && c.state.pid != 0 {
        run_poststop(c);
    }
    remove_overlay_dirs(c)?;
    std::fs::remove_dir_all(&c.dir).map_err(|source| {
        ContainerError::State(StateError::Io {
            op: "remove state dir",
            path: c.dir.clone(),
            source,
        })
    })
}

/// The upper and work dirs of an overlay rootfs hull made (`spec::overlay`); the store's
/// layers stay. Before the state dir goes, so a failure leaves `delete` retryable.
fn remove_overlay_dirs(c: &Container) -> Result<(), ContainerError> {
    for dir in crate::spec::overlay::owned_dirs(&c.state.annotations, &c.state.bundle) {
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(ContainerError::State(StateError::Io {
                    op: "remove overlay dir",
                    path: dir,
                    source: e,
                }))
            }
            _ => {}
        }
    }
    Ok(())
}

fn run_poststop(c: &Container) {
    let state = c.oci_state(Status::Stopped);
    let json = serde_json::to_string(&state).unwrap_or_default();
    if let Err(e) = crate::hooks::run("poststop", &c.state.hooks.poststop, json.as_bytes()) {
        crate::log::warn(&e.to_string());
    }
}

/// SIGKILLs the init if it is still the recorded process; returns its pidfd to wait on.
fn kill_init(c: &Container) -> Result<Option<OwnedFd>, ContainerError> {
    let Some(pidfd) = c.init_pidfd() else {
        return Ok(None);
    };
    match rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(Some(pidfd)),
        Err(e) => Err(ContainerError::Signal {
            op: "kill",
            pid: c.state.pid,
            source: e.into(),
        }),
    }
}

/// Waits until the killed init has exited.
fn wait_gone(c: &Container, pidfd: Option<OwnedFd>) -> Result<(), ContainerError> {
    let Some(pidfd) = pidfd else {
        return Ok(());
    };
    let pid = c.state.pid;
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(KILL_WAIT_MS)) {
        Ok(n) if n > 0 => Ok(()),
        Ok(_) => Err(ContainerError::Signal {
            op: "wait for exit of",
            pid,
            source: std::io::Error::from_raw_os_error(libc::ETIMEDOUT),
        }),
        Err(e) => Err(ContainerError::Signal {
            op: "wait for exit of",
            pid,
            source: e.into(),
        }),
    }
}
