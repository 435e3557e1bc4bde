//! `kill`: send a signal to the init, or with --all to every process in the container's cgroup
//! (also of a stopped container, whose init's children may live on in it).

use super::{Container, ContainerError};
use crate::state::{StateRoot, Status};
use nix::sys::signal::Signal;

/// Sends `signal` (a name or number) to container `id`.
pub fn kill(root: &StateRoot, id: &str, signal: &str, all: bool) -> Result<(), ContainerError> {
    let (container, _lock) = Container::lock(root, id)?;
    let signo =
        super::signals::parse(signal).ok_or_else(|| ContainerError::BadSignal(signal.into()))?;
    if all {
        // As runc, --all works on a stopped container too: without a pid namespace the
        // init's children outlive it in the cgroup, and containerd's shim cleans them up so.
        // A rootless container whose cgroup hull could not make has no process list: then
        // only the init is signalled (runc 1.2 does the same, with a warning).
        let record = container
            .state
            .cgroup
            .as_ref()
            .filter(|r| !r.rootless || r.dirs.iter().any(|d| d.exists()));
        if record.is_none() && container.state.cgroup.is_some() {
            crate::log::warn("the container has no cgroup of its own: --all signals only its init");
        }
        if let Some(cg) = record.map(crate::cgroups::from_record).transpose()? {
            let sig =
                Signal::try_from(signo).map_err(|_| ContainerError::BadSignal(signal.into()))?;
            cg.kill_all(sig)?;
            return Ok(());
        }
    }
    container.require("kill", Status::can_kill)?;
    let pid = container.state.pid;
    let Some(pidfd) = container.init_pidfd() else {
        return Err(ContainerError::BadState {
            id: id.into(),
            op: "kill",
            status: Status::Stopped,
        });
    };
    // SAFETY: the signal number was checked to be in 1..=64 by signals::parse.
    let sig = unsafe { rustix::process::Signal::from_raw_unchecked(signo) };
    rustix::process::pidfd_send_signal(&pidfd, sig).map_err(|e| ContainerError::Signal {
        op: "kill",
        pid,
        source: e.into(),
    })
}
