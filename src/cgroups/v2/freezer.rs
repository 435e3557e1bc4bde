//! v2 freezer: cgroup.freeze, then wait until cgroup.events says `frozen 1`. The kernel
//! freezes asynchronously and signals a change of cgroup.events with POLLPRI, so hull
//! polls the file instead of sleeping blindly, with a bound like runc's 10 s.

use crate::cgroups::fs::{write_file, Dir};
use crate::cgroups::CgroupError;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use rustix::fs::{Mode, OFlags};
use std::os::fd::AsFd;

/// Wait steps of 10 ms before giving up (10 s in all).
const TRIES: u32 = 1000;

/// Freezes the cgroup and its children.
pub fn freeze(dir: &Dir) -> Result<(), CgroupError> {
    write_file(dir, "cgroup.freeze", "1")?;
    let events = rustix::fs::openat(
        dir.fd(),
        "cgroup.events",
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| CgroupError::Read {
        path: dir.path().join("cgroup.events"),
        source: e.into(),
    })?;
    for _ in 0..TRIES {
        if frozen(&dir.read("cgroup.events")?) {
            return Ok(());
        }
        let mut fds = [PollFd::new(events.as_fd(), PollFlags::POLLPRI)];
        let _ = poll(&mut fds, PollTimeout::from(10u8));
    }
    let _ = write_file(dir, "cgroup.freeze", "0");
    Err(CgroupError::FreezeTimeout {
        path: dir.path().into(),
        state: "frozen 0".into(),
        tries: TRIES,
    })
}

/// Thaws the cgroup.
pub fn thaw(dir: &Dir) -> Result<(), CgroupError> {
    write_file(dir, "cgroup.freeze", "0")
}

/// Whether the cgroup was asked to freeze (cgroup.freeze is 1).
pub fn is_frozen(dir: &Dir) -> Result<bool, CgroupError> {
    Ok(dir.read_trimmed("cgroup.freeze")? == "1")
}

/// Whether cgroup.events reports the cgroup frozen.
pub fn frozen(events: &str) -> bool {
    events.lines().any(|l| l.trim() == "frozen 1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_events() {
        assert!(frozen("populated 1\nfrozen 1\n"));
        assert!(!frozen("populated 1\nfrozen 0\n"));
        assert!(!frozen("populated 0\n"));
    }
}
