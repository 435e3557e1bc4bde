//! `run`: create + start, and in the foreground wait for the container, forwarding signals to
//! its init and exiting with its status (128+N when killed by signal N), then delete it.
//!
//! Every signal `run` waits for is blocked *before* the init is cloned: an init that exits at
//! once leaves its SIGCHLD pending instead of lost (youki's `run` can hang on exactly that).

use super::{create, delete, start, ContainerError, CreateOptions};
use crate::process::Init;
use crate::state::StateRoot;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// The flags of `run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The create flags.
    pub create: CreateOptions,
    /// `--detach`: return once started.
    pub detach: bool,
    /// `--keep`: do not delete the container after it exits.
    pub keep: bool,
    /// `--no-subreaper`.
    pub no_subreaper: bool,
}

/// Runs container `id`; returns the exit status for hull to exit with.
pub fn run(root: &StateRoot, id: &str, opts: &RunOptions) -> Result<i32, ContainerError> {
    if opts.detach {
        create(root, id, &opts.create)?;
        start_or_remove(root, id)?;
        return Ok(0);
    }
    let mask = forwarded_signals();
    let old = block(&mask)?;
    let result = foreground(root, id, opts, &mask);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    result
}

fn foreground(
    root: &StateRoot,
    id: &str,
    opts: &RunOptions,
    mask: &SigSet,
) -> Result<i32, ContainerError> {
    if !opts.no_subreaper {
        // A staged init is our grandchild; as subreaper we still reap it and get its status.
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
            .map_err(|e| sys("prctl(PR_SET_CHILD_SUBREAPER)", 0, e.into()))?;
    }
    let init = create(root, id, &opts.create)?;
    start_or_remove(root, id)?;
    let status = wait_forwarding(&init, mask);
    if !opts.keep {
        delete(root, id, true)?;
    }
    status
}

fn start_or_remove(root: &StateRoot, id: &str) -> Result<(), ContainerError> {
    if let Err(e) = start(root, id) {
        let _ = delete(root, id, true);
        return Err(e);
    }
    Ok(())
}

/// Every signal a user can send, minus the ones the kernel never lets us catch.
fn forwarded_signals() -> SigSet {
    let mut set = SigSet::all();
    set.remove(Signal::SIGKILL);
    set.remove(Signal::SIGSTOP);
    set
}

fn block(mask: &SigSet) -> Result<SigSet, ContainerError> {
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(mask), Some(&mut old))
        .map_err(|e| sys("sigprocmask", 0, e.into()))?;
    Ok(old)
}

/// Reads signals until the init exits; forwards everything but SIGCHLD to it.
fn wait_forwarding(init: &Init, mask: &SigSet) -> Result<i32, ContainerError> {
    let sfd = SignalFd::with_flags(mask, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| sys("signalfd", init.pid, e.into()))?;
    loop {
        if let Some(code) = reap(init.pid)? {
            return Ok(code);
        }
        let info = match sfd.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(sys("read signalfd", init.pid, e.into())),
        };
        let signo = info.ssi_signo as i32;
        if signo == libc::SIGCHLD {
            continue;
        }
        // SAFETY: the kernel only delivers valid signal numbers through signalfd.
        let sig = unsafe { rustix::process::Signal::from_raw_unchecked(signo) };
        let _ = rustix::process::pidfd_send_signal(&init.pidfd, sig);
    }
}

/// Reaps every exited child; returns the exit code once the init is among them.
fn reap(init: i32) -> Result<Option<i32>, ContainerError> {
    loop {
        match waitpid(
            Pid::from_raw(-1),
            Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
        ) {
            Ok(WaitStatus::Exited(pid, code)) if pid.as_raw() == init => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid.as_raw() == init => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) | Err(nix::Error::ECHILD) => return Ok(None),
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(sys("waitpid", init, e.into())),
        }
    }
}

fn sys(op: &'static str, pid: i32, source: std::io::Error) -> ContainerError {
    ContainerError::Signal { op, pid, source }
}
