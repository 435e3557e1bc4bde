//! OCI hooks: PLACEHOLDER interface, implemented in the security work branch.

use crate::spec::Hook;

/// A hook that failed to run or exited non-zero.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// Not implemented yet.
    #[error("hook: {0}")]
    Sys(#[from] crate::sys::SysError),
}

/// Runs `hooks` in order with `state_json` on stdin; the first failure stops the list.
/// `name` is the lifecycle point (`createRuntime`, ...) used in error messages.
pub fn run(_name: &str, _hooks: &[Hook], _state_json: &[u8]) -> Result<(), HookError> {
    Ok(())
}

impl crate::error::Kind for HookError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Sys
    }
}
