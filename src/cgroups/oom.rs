//! OOM-kill notifications for `events`. v1: an eventfd registered for memory.oom_control
//! through cgroup.event_control, which the kernel signals each time the cgroup runs out of
//! memory (and once more when the cgroup is removed). v2: inotify on memory.events, which
//! the kernel marks modified when a counter changes; an event is an increase of `oom_kill`.
//! Both give one fd to poll, so `events` waits on it, the init's pidfd and its timer at once.

use super::fs::{write_file, Dir};
use super::CgroupError;
use rustix::event::EventfdFlags;
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// What a readable watch reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OomNews {
    /// This many OOM kills since the last check (0: a spurious wakeup).
    Kills(u64),
    /// The cgroup was removed: no more events can come.
    Gone,
}

/// A registration for OOM notifications of one container's memory cgroup.
#[derive(Debug)]
pub struct OomWatch {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    V1 {
        event: OwnedFd,
        /// memory.oom_control stays open for the registration's lifetime.
        _control: OwnedFd,
        dir: Dir,
    },
    V2 {
        inotify: OwnedFd,
        dir: Dir,
        last: u64,
    },
}

/// The `oom_kill` counter of a v2 memory.events file.
pub fn oom_kills(events: &str) -> u64 {
    events
        .lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == "oom_kill")
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

fn sys_err(dir: &Dir, name: &str, e: Errno) -> CgroupError {
    CgroupError::Read {
        path: dir.path().join(name),
        source: e.into(),
    }
}

impl OomWatch {
    /// Watches the memory cgroup directory at `path`: cgroup2's when `unified`, else v1's.
    /// (For callers that found the cgroup themselves, as the shim does from /proc.)
    pub fn open(path: &Path, unified: bool) -> Result<OomWatch, CgroupError> {
        let dir = Dir::open_mount(path)?;
        if unified {
            OomWatch::v2(dir)
        } else {
            OomWatch::v1(dir)
        }
    }

    /// Registers an eventfd for memory.oom_control of a v1 memory cgroup.
    pub(crate) fn v1(dir: Dir) -> Result<OomWatch, CgroupError> {
        let event = rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
            .map_err(|e| sys_err(&dir, "eventfd", e))?;
        let control = rustix::fs::openat(
            dir.fd(),
            "memory.oom_control",
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| sys_err(&dir, "memory.oom_control", e))?;
        // The kernel's syntax: "<event fd> <fd of the file to watch>".
        let line = format!("{} {}", event.as_raw_fd(), control.as_raw_fd());
        write_file(&dir, "cgroup.event_control", &line)?;
        Ok(OomWatch {
            inner: Inner::V1 {
                event,
                _control: control,
                dir,
            },
        })
    }

    /// Watches memory.events of a v2 cgroup.
    pub(crate) fn v2(dir: Dir) -> Result<OomWatch, CgroupError> {
        let name = "memory.events";
        let inotify = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)
            .map_err(|e| sys_err(&dir, name, e))?;
        // Through the directory fd, so the watch is on this cgroup's file whatever the path.
        let path = format!("/proc/self/fd/{}/{name}", dir.fd().as_raw_fd());
        inotify::add_watch(&inotify, path.as_str(), WatchFlags::MODIFY)
            .map_err(|e| sys_err(&dir, name, e))?;
        let last = oom_kills(&dir.read(name)?);
        Ok(OomWatch {
            inner: Inner::V2 { inotify, dir, last },
        })
    }

    /// The fd that becomes readable when there may be news.
    pub fn fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::V1 { event, .. } => event.as_fd(),
            Inner::V2 { inotify, .. } => inotify.as_fd(),
        }
    }

    /// Collects what happened since the last check, without blocking.
    pub fn check(&mut self) -> Result<OomNews, CgroupError> {
        match &mut self.inner {
            Inner::V1 { event, dir, .. } => check_v1(event, dir),
            Inner::V2 { inotify, dir, last } => check_v2(inotify, dir, last),
        }
    }
}

fn check_v1(event: &OwnedFd, dir: &Dir) -> Result<OomNews, CgroupError> {
    let mut buf = [0u8; 8];
    let n = match rustix::io::read(event, &mut buf) {
        Ok(8) => u64::from_ne_bytes(buf),
        Ok(_) | Err(Errno::AGAIN) => 0,
        Err(e) => return Err(sys_err(dir, "eventfd", e)),
    };
    // Removing the cgroup signals the eventfd too; then its files are gone.
    if n > 0 && !dir.has("cgroup.event_control") {
        return Ok(OomNews::Gone);
    }
    Ok(OomNews::Kills(n))
}

fn check_v2(inotify: &OwnedFd, dir: &Dir, last: &mut u64) -> Result<OomNews, CgroupError> {
    let mut buf = [MaybeUninit::uninit(); 1024];
    let mut reader = inotify::Reader::new(inotify, &mut buf);
    loop {
        match reader.next() {
            // The watched file was removed with its cgroup.
            Ok(ev) if ev.events().contains(ReadFlags::IGNORED) => return Ok(OomNews::Gone),
            Ok(_) => {}
            Err(Errno::AGAIN) => break,
            Err(e) => return Err(sys_err(dir, "memory.events", e)),
        }
    }
    let text = match dir.read("memory.events") {
        Ok(t) => t,
        Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(OomNews::Gone),
        Err(e) => return Err(e),
    };
    let now = oom_kills(&text);
    let new = now.saturating_sub(*last);
    *last = now;
    Ok(OomNews::Kills(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kill_counter() {
        assert_eq!(
            oom_kills("low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n"),
            2
        );
        assert_eq!(oom_kills("low 0\n"), 0);
    }
}
