//! Waiting in the foreground for a container process (`run`, `exec`): block every signal we
//! wait for *before* the process exists (an exit right away leaves SIGCHLD pending instead of
//! lost, the hang youki's `run` has), forward the others to it, reap, and return its status
//! the way a shell reports it (128+N when killed by signal N).

use super::terminal::Bridge;
use super::ContainerError;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, OwnedFd};

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

    /// Forwards signals to `pid` until it exits; returns its exit status. With a terminal
    /// `bridge`, also copies between hull's terminal and the container's pty.
    pub fn wait(
        &self,
        pid: i32,
        pidfd: &OwnedFd,
        mut bridge: Option<&mut Bridge>,
    ) -> Result<i32, ContainerError> {
        let flags = SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK;
        let sfd =
            SignalFd::with_flags(&self.mask, flags).map_err(|e| sys("signalfd", pid, e.into()))?;
        let mut output_open = bridge.is_some();
        loop {
            if let Some(code) = reap(pid)? {
                if let Some(b) = bridge.as_deref() {
                    b.drain();
                }
                return Ok(code);
            }
            let (sig_ready, out_ready, in_ready) =
                poll_ready(&sfd, bridge.as_deref(), output_open, pid)?;
            if sig_ready {
                self.forward_pending(&sfd, pidfd, bridge.as_deref(), pid)?;
            }
            if let Some(b) = bridge.as_deref_mut() {
                if out_ready && !b.pump_output() {
                    output_open = false;
                }
                if in_ready {
                    b.pump_input();
                }
            }
        }
    }

    /// Reads every pending signal: SIGCHLD just wakes the reaper, SIGWINCH resizes a bridged
    /// pty, the rest goes to the process.
    fn forward_pending(
        &self,
        sfd: &SignalFd,
        pidfd: &OwnedFd,
        bridge: Option<&Bridge>,
        pid: i32,
    ) -> Result<(), ContainerError> {
        loop {
            let info = match sfd.read_signal() {
                Ok(Some(info)) => info,
                Ok(None) | Err(nix::Error::EAGAIN) => return Ok(()),
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(sys("read signalfd", pid, e.into())),
            };
            let signo = info.ssi_signo as i32;
            match (signo, bridge) {
                (libc::SIGCHLD, _) => {}
                (libc::SIGWINCH, Some(b)) => b.resize(),
                _ => {
                    // SAFETY: the kernel only delivers valid signal numbers through signalfd.
                    let sig = unsafe { rustix::process::Signal::from_raw_unchecked(signo) };
                    let _ = rustix::process::pidfd_send_signal(pidfd, sig);
                }
            }
        }
    }
}

/// Polls the signalfd and, with a bridge, the pty and hull's stdin.
fn poll_ready(
    sfd: &SignalFd,
    bridge: Option<&Bridge>,
    output_open: bool,
    pid: i32,
) -> Result<(bool, bool, bool), ContainerError> {
    let stdin = std::io::stdin();
    let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
    let (mut out_idx, mut in_idx) = (None, None);
    if let Some(b) = bridge {
        if output_open {
            out_idx = Some(fds.len());
            fds.push(PollFd::new(b.master(), PollFlags::POLLIN));
        }
        if b.stdin_open() {
            in_idx = Some(fds.len());
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
    }
    match poll(&mut fds, PollTimeout::NONE) {
        Ok(_) | Err(nix::Error::EINTR) => {}
        Err(e) => return Err(sys("poll", pid, e.into())),
    }
    let ready = |i: Option<usize>| {
        i.and_then(|i| fds[i].revents())
            .is_some_and(|r| !r.is_empty())
    };
    Ok((ready(Some(0)), ready(out_idx), ready(in_idx)))
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
