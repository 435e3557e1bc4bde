//! The built-in init (`run --init`, or the annotation `run.oci.hull.init=true`): PID 1 of the
//! container stays hull, with the user's process as its only child, and does what tini does:
//! forwards every catchable signal to the child, reaps every zombie (orphans re-parented to
//! PID 1 included) and exits with the child's status (128+N when it was killed by signal N).
//!
//! No binary is copied into the container: PID 1 is the container's init itself, which had
//! re-executed from a sealed memfd copy of hull before create (see `security::exe_seal`), so
//! its `/proc/1/exe` is an anonymous write-sealed file, never the host's hull binary; it is
//! also non-dumpable and holds no fd but stdio.

mod reaper;

pub use reaper::{exit_code, reap_until};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::unistd::{fork, ForkResult};

/// The annotation that turns the built-in init on.
pub const ANNOTATION: &str = "run.oci.hull.init";

/// Every signal PID 1 can catch; these are forwarded to the child.
pub fn forwarded() -> SigSet {
    let mut set = SigSet::all();
    set.remove(Signal::SIGKILL);
    set.remove(Signal::SIGSTOP);
    set
}

/// A failed step of the built-in init.
#[derive(Debug, thiserror::Error)]
pub enum Pid1Error {
    /// A syscall failed.
    #[error("pid1: {op}: {source}")]
    Sys {
        /// What was being done.
        op: &'static str,
        /// Why.
        #[source]
        source: nix::Error,
    },
}

impl crate::error::Kind for Pid1Error {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Sys
    }
}

/// Forks the user's process. In the child this returns `Ok(None)` (the caller execs the
/// user's program); in PID 1 it never returns: it reaps and forwards until the child exits,
/// then exits with the child's status.
pub fn fork_child() -> Result<Option<std::convert::Infallible>, Pid1Error> {
    // Blocked before the fork, so no signal meant for the child is lost in between.
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&forwarded()), None).map_err(
        |source| Pid1Error::Sys {
            op: "sigprocmask",
            source,
        },
    )?;
    // SAFETY: the init is single-threaded; the child goes straight on to execve.
    match unsafe { fork() }.map_err(|source| Pid1Error::Sys { op: "fork", source })? {
        ForkResult::Child => Ok(None),
        ForkResult::Parent { child } => {
            // Nothing of hull's may stay open in the long-lived PID 1 but stdio.
            crate::sys::close_from(3);
            let code = reap_until(child, &forwarded());
            std::process::exit(code)
        }
    }
}
