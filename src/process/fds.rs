//! Which fds the container process gets: stdio, `--preserve-fds N`, and systemd's LISTEN_FDS,
//! and nothing else. Everything from 3 + LISTEN_FDS + N upwards is closed right before
//! execve, so an fd inherited from hull's caller (a directory, CVE-2024-21626) or opened by
//! hull never reaches the container, not even as a `/proc/self/fd/N/...` path that execve
//! resolves while it would still be open.

use crate::sys::SysError;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use std::os::fd::{AsRawFd, BorrowedFd};

/// The number of socket-activation fds passed to hull (LISTEN_FDS), honoured only when
/// LISTEN_PID names this process, as sd_listen_fds(3) requires. Call it in hull's own
/// process: in a forked init getpid() is another pid (1 in a new pid namespace).
pub fn listen_fds() -> u32 {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    if !pid_ok {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The environment additions for socket activation inside the container (the container's
/// init is pid 1 there).
pub fn listen_env(listen: u32) -> Vec<String> {
    if listen == 0 {
        return Vec::new();
    }
    vec![format!("LISTEN_FDS={listen}"), "LISTEN_PID=1".to_string()]
}

/// Right before execve: keep 0..3+extra open across exec and close every other fd but
/// `report` (close-on-exec), the channel an execve failure is reported on.
///
/// Closed, not only made close-on-exec: execve resolves its path with the fds still open,
/// so `/proc/self/fd/N/x` through a leaked directory fd would run a host file.
///
/// # Safety
/// Closes fds that `OwnedFd`s up the stack may still own: call it only right before execve,
/// and on failure leave with `_exit`, without dropping or using those owners.
pub unsafe fn seal(extra: u32, report: BorrowedFd<'_>) -> Result<(), SysError> {
    let report = report.as_raw_fd();
    for fd in (3..3 + extra as i32).filter(|fd| *fd != report) {
        // SAFETY: fd is only used for this fcntl call; if it is not open the call fails
        // with EBADF, which is fine: the caller passed fewer fds than it announced.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        if let Ok(flags) = fcntl(fd, FcntlArg::F_GETFD) {
            let mut flags = FdFlag::from_bits_truncate(flags);
            flags.remove(FdFlag::FD_CLOEXEC);
            fcntl(fd, FcntlArg::F_SETFD(flags))
                .map_err(|e| SysError::from_errno("fcntl(F_SETFD)", e as i32))?;
        }
    }
    let first = 3 + extra;
    match u32::try_from(report) {
        Ok(r) if r >= first => {
            // SAFETY: the caller's contract (right before execve or _exit).
            unsafe { crate::sys::close_range(first, r - 1)? };
            // SAFETY: as above.
            unsafe { crate::sys::close_range(r + 1, u32::MAX) }
        }
        // SAFETY: as above; a report fd below `first` was left close-on-exec by the loop.
        _ => unsafe { crate::sys::close_range(first, u32::MAX) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_env_only_when_fds_were_passed() {
        assert!(listen_env(0).is_empty());
        assert_eq!(
            listen_env(2),
            vec!["LISTEN_FDS=2".to_string(), "LISTEN_PID=1".to_string()]
        );
    }
}
