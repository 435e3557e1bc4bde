//! PID 1's loop: one signalfd for every catchable signal; SIGCHLD reaps every exited child,
//! anything else is forwarded to the user's process.

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// The exit status a shell would report for a wait status (None: still running or stopped).
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Forwards signals to `child` and reaps zombies until `child` exits; returns its status.
/// `mask` must already be blocked.
pub fn reap_until(child: Pid, mask: &SigSet) -> i32 {
    let sfd = match SignalFd::with_flags(mask, SfdFlags::SFD_CLOEXEC) {
        Ok(fd) => fd,
        // Without a signalfd PID 1 can still reap: block on waitpid for the child.
        Err(_) => return wait_blocking(child),
    };
    loop {
        if let Some(code) = reap_all(child) {
            return code;
        }
        match sfd.read_signal() {
            Ok(Some(info)) => {
                let signo = info.ssi_signo as i32;
                if signo != libc::SIGCHLD {
                    if let Ok(sig) = Signal::try_from(signo) {
                        let _ = kill(child, sig);
                    }
                }
            }
            Ok(None) | Err(_) => continue,
        }
    }
}

/// Reaps every exited child without blocking; the child's status once it is among them.
fn reap_all(child: Pid) -> Option<i32> {
    loop {
        match waitpid(
            Pid::from_raw(-1),
            Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
        ) {
            Ok(WaitStatus::StillAlive) | Err(nix::Error::ECHILD) => return None,
            Ok(status) if status.pid() == Some(child) => {
                if let Some(code) = exit_code(status) {
                    return Some(code);
                }
            }
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

fn wait_blocking(child: Pid) -> i32 {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::__WALL)) {
            Ok(status) if status.pid() == Some(child) => {
                if let Some(code) = exit_code(status) {
                    return code;
                }
            }
            Err(nix::Error::ECHILD) => return 1,
            _ => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_like_a_shell() {
        let p = Pid::from_raw(5);
        assert_eq!(exit_code(WaitStatus::Exited(p, 3)), Some(3));
        assert_eq!(
            exit_code(WaitStatus::Signaled(p, Signal::SIGTERM, false)),
            Some(143)
        );
        assert_eq!(exit_code(WaitStatus::StillAlive), None);
    }
}
