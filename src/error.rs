//! The error classes every module error maps onto, so callers (the CLI's exit status, the
//! shim's ttrpc codes) can react to the class without matching on every variant.

/// What kind of failure an error is, independent of the module that raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The container (or another named object) does not exist.
    NotFound,
    /// A container with that id already exists.
    Exists,
    /// The operation is not allowed in the container's current state.
    BadState,
    /// The bundle or its config.json is malformed or asks for something unsupported.
    BadSpec,
    /// The command line is wrong.
    Usage,
    /// A system call or an external program failed.
    Sys,
}

impl ErrorKind {
    /// The process exit status for this kind. runc exits 1 for every error and the engines
    /// only test for non-zero, so hull does the same.
    pub fn exit_code(self) -> i32 {
        1
    }
}

/// Implemented by every module error enum.
pub trait Kind {
    /// The class of this error.
    fn kind(&self) -> ErrorKind;
}
