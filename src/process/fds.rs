//! Which fds the container process gets: stdio, `--preserve-fds N`, and systemd's LISTEN_FDS,
//! and nothing else. Everything from 3 + LISTEN_FDS + N upwards is made close-on-exec right
//! before execve, so an fd inherited from hull's caller (a directory, CVE-2024-21626) or opened
//! by hull never reaches the container.

use crate::sys::SysError;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use std::os::fd::BorrowedFd;

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

/// Right before execve: keep 0..3+extra open across exec, mark everything above close-on-exec.
pub fn seal(extra: u32) -> Result<(), SysError> {
    for fd in 3..3 + extra as i32 {
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
    crate::sys::cloexec_from(3 + extra)
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
