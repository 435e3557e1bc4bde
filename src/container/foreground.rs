//! Waiting in the foreground for a container process (`run`, `exec`): block every signal we
//! wait for *before* the process exists (an exit right away leaves SIGCHLD pending instead of
//! lost, the hang youki's `run` has), forward the others to it, reap, and return its status
//! the way a shell reports it (128+N when killed by signal N).

use super::ContainerError;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::OwnedFd;

/// Signals blocked for the lifetime of this value.
pub struct Foreground {
    mask: SigSet,
    old: SigSet,
}

impl Foreground {
    /// Blocks the signals and, with `subreaper`, makes this process the reaper of orphaned
    /// descendants (a container process forked by a bootstrap is our grandchild).
    pub fn begin(subreaper: bool) -> Result<Foreground, ContainerError> {
        let mut mask = SigSet::all();
        mask.remove(Signal::SIGKILL);
        mask.remove(Signal::SIGSTOP);
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old))
            .map_err(|e| sys("sigprocmask", 0, e.into()))?;
        let fg = Foreground { mask, old };
        if subreaper {
            rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
                .map_err(|e| sys("prctl(PR_SET_CHILD_SUBREAPER)", 0, e.into()))?;
        }
        Ok(fg)
    }

    /// Forwards signals to `pid` until it exits; returns its exit status.
    pub fn wait(&self, pid: i32, pidfd: &OwnedFd) -> Result<i32, ContainerError> {
        let sfd = SignalFd::with_flags(&self.mask, SfdFlags::SFD_CLOEXEC)
            .map_err(|e| sys("signalfd", pid, e.into()))?;
        loop {
            if let Some(code) = reap(pid)? {
                return Ok(code);
            }
            let info = match sfd.read_signal() {
                Ok(Some(info)) => info,
                Ok(None) | Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(sys("read signalfd", pid, e.into())),
            };
            let signo = info.ssi_signo as i32;
            if signo == libc::SIGCHLD {
                continue;
            }
            // SAFETY: the kernel only delivers valid signal numbers through signalfd.
            let sig = unsafe { rustix::process::Signal::from_raw_unchecked(signo) };
            let _ = rustix::process::pidfd_send_signal(pidfd, sig);
        }
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

/// Reaps every exited child; returns the exit code once `target` is among them.
fn reap(target: i32) -> Result<Option<i32>, ContainerError> {
    loop {
        match waitpid(
            Pid::from_raw(-1),
            Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
        ) {
            Ok(WaitStatus::Exited(pid, code)) if pid.as_raw() == target => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid.as_raw() == target => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) | Err(nix::Error::ECHILD) => return Ok(None),
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(sys("waitpid", target, e.into())),
        }
    }
}

fn sys(op: &'static str, pid: i32, source: std::io::Error) -> ContainerError {
    ContainerError::Signal { op, pid, source }
}
