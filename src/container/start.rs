//! `start`: release a created container's init (exec.fifo), then run poststart hooks. If
//! the init fails after its release (a startContainer hook, execve), start fails with its
//! error and destroys the container, poststop hooks included, as the runtime-spec says.

use super::{Container, ContainerError};
use crate::process::exec_fifo;
use crate::state::{StateRoot, Status};

/// Starts container `id`, which must be created.
pub fn start(root: &StateRoot, id: &str) -> Result<(), ContainerError> {
    let (container, lock) = Container::lock(root, id)?;
    container.require("start", Status::can_start)?;
    let pidfd = container
        .init_pidfd()
        .ok_or_else(|| ContainerError::BadState {
            id: id.into(),
            op: "start",
            status: Status::Stopped,
        })?;
    if let Err(e) = exec_fifo::release(&container.dir, &pidfd) {
        let after_start = matches!(e, exec_fifo::FifoError::AfterStart { .. });
        let error = ContainerError::from(crate::process::ProcessError::from(e));
        if !after_start {
            return Err(error);
        }
        return match super::delete::destroy_recorded(&container) {
            Ok(()) => Err(error),
            Err(cleanup) => Err(ContainerError::Cleanup {
                error: Box::new(error),
                cleanup: Box::new(cleanup),
            }),
        };
    }
    drop(lock);
    let state = container.oci_state(Status::Running);
    let json = serde_json::to_string(&state).unwrap_or_default();
    // The spec: a failing poststart hook is a warning; the container keeps running.
    if let Err(e) = crate::hooks::run(
        "poststart",
        &container.state.hooks.poststart,
        json.as_bytes(),
    ) {
        crate::log::warn(&e.to_string());
    }
    Ok(())
}
