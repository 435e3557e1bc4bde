//! `pause` and `resume`: freeze every process of a running (or, as runc allows, a created)
//! container through its cgroup's freezer, and thaw a paused one, which is then running or
//! created again. The status `state` reports follows from the freezer
//! (see `Container::status`), so nothing else is recorded.

use super::ps::manager_of;
use super::{Container, ContainerError};
use crate::state::{StateRoot, Status};

/// Freezes running or created container `id`; any other status is refused.
pub fn pause(root: &StateRoot, id: &str) -> Result<(), ContainerError> {
    let (c, _lock) = Container::lock(root, id)?;
    c.require("pause", |s| matches!(s, Status::Running | Status::Created))?;
    manager_of(&c)?.freeze()?;
    Ok(())
}

/// Thaws paused container `id`; any other status is refused.
pub fn resume(root: &StateRoot, id: &str) -> Result<(), ContainerError> {
    let (c, _lock) = Container::lock(root, id)?;
    c.require("resume", |s| s == Status::Paused)?;
    manager_of(&c)?.thaw()?;
    Ok(())
}
