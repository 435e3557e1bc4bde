//! OOM kills of a container, watched in the shim itself as containerd's runc shim does:
//! cgroup v1 through an eventfd registered for `memory.oom_control` (cgroup.event_control),
//! cgroup v2 through inotify on `memory.events`, where an OOM kill is an increase of
//! `oom_kill`. Each kill becomes a TaskOOM. The memory cgroup is found from the init's
//! `/proc/<pid>/cgroup` and the host's mountinfo (pure parsers, unit-tested).
//!
//! In-process rather than a `hull events` child per container: that child cost about as
//! much resident memory as the shim itself.

use super::events::Events;
use rustix::event::EventfdFlags;
use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::unix::AsyncFd;
use tokio::task::JoinHandle;

/// Which memory cgroup to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A v1 memory cgroup directory.
    V1(PathBuf),
    /// A v2 cgroup directory (with the memory controller).
    V2(PathBuf),
}

/// The memory cgroup of a process, from its `/proc/<pid>/cgroup` and the host's
/// `/proc/self/mountinfo`: the v1 memory hierarchy if one is mounted (hybrid hosts have v2
/// without controllers), else the v2 one.
pub fn memory_cgroup(proc_cgroup: &str, mountinfo: &str) -> Option<Target> {
    let mut v2_path = None;
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            v2_path = Some(path);
        } else if ctrls.split(',').any(|c| c == "memory") {
            if let Some(dir) = mount_dir(
                mountinfo,
                |fs, opts| fs == "cgroup" && opts.split(',').any(|o| o == "memory"),
                path,
            ) {
                return Some(Target::V1(dir));
            }
        }
    }
    let path = v2_path?;
    mount_dir(mountinfo, |fs, _| fs == "cgroup2", path).map(Target::V2)
}

/// Where cgroup `path` of the hierarchy mounted as `is_it` is on the host.
fn mount_dir(mountinfo: &str, is_it: impl Fn(&str, &str) -> bool, path: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let mut r = right.split(' ');
        let (fs, _source, opts) = (r.next()?, r.next()?, r.next().unwrap_or(""));
        if !is_it(fs, opts) {
            return None;
        }
        let f: Vec<&str> = left.split(' ').collect();
        let (root, mountpoint) = (*f.get(3)?, *f.get(4)?);
        let rel = path
            .strip_prefix(root.trim_end_matches('/'))
            .unwrap_or(path);
        Some(Path::new(mountpoint).join(rel.trim_start_matches('/')))
    })
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

/// What to do on each OOM kill.
pub type OnOom = Box<dyn FnMut() + Send>;

/// The memory cgroup of process `pid` on this host.
pub fn target_of(pid: i32) -> Option<Target> {
    let proc_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    memory_cgroup(&proc_cgroup, &mountinfo)
}

/// Starts watching the memory cgroup of process `pid` (container `id`) and publishes a
/// TaskOOM per kill; None when it has no memory cgroup or the registration failed (logged:
/// the container runs on without OOM events).
pub fn watch(pid: i32, id: &str, events: Arc<Events>) -> Option<JoinHandle<()>> {
    let target = target_of(pid)?;
    let id = id.to_string();
    start(&target, Box::new(move || events.oom(&id)))
        .map_err(|e| log::warn!("oom watch of {pid}: {e}"))
        .ok()
}

/// Registers for OOM notifications of `target` and calls `on_oom` for each kill, in a task
/// on the current runtime that ends when the cgroup is removed.
pub fn start(target: &Target, on_oom: OnOom) -> io::Result<JoinHandle<()>> {
    Ok(match target {
        Target::V1(dir) => {
            let (efd, control) = v1(dir)?;
            tokio::spawn(watch_v1(efd, control, dir.clone(), on_oom))
        }
        Target::V2(dir) => {
            let (fd, kills) = v2(dir)?;
            tokio::spawn(watch_v2(fd, dir.clone(), kills, on_oom))
        }
    })
}

fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the AsyncFd takes the OwnedFd by value, so the fd it registers stays open
    // exactly as long as the registration (tokio's I/O-safety condition for `register`).
    unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)
}

/// eventfd + memory.oom_control, registered through cgroup.event_control.
fn v1(dir: &Path) -> io::Result<(OwnedFd, OwnedFd)> {
    use std::io::Write;
    let efd = rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
    let control: OwnedFd = std::fs::File::open(dir.join("memory.oom_control"))?.into();
    let mut ev = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.event_control"))?;
    ev.write_all(format!("{} {}", efd.as_raw_fd(), control.as_raw_fd()).as_bytes())?;
    Ok((efd, control))
}

async fn watch_v1(efd: OwnedFd, _control: OwnedFd, dir: PathBuf, mut on_oom: OnOom) {
    let Ok(efd) = register(efd) else { return };
    loop {
        let Ok(mut guard) = efd.readable().await else {
            return;
        };
        let mut buf = [0u8; 8];
        match guard.try_io(|fd| rustix::io::read(fd.get_ref(), &mut buf).map_err(io::Error::from)) {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return,
            Err(_would_block) => continue,
        }
        // The kernel signals the eventfd once more when the cgroup is removed.
        if !dir.exists() {
            return;
        }
        on_oom();
    }
}

/// inotify on memory.events, and the kills counted so far. Both now, at registration: the
/// watching task may first run after a kill that must not count as old.
fn v2(dir: &Path) -> io::Result<(OwnedFd, u64)> {
    let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
    let file = dir.join("memory.events");
    inotify::add_watch(&fd, &file, WatchFlags::MODIFY)?;
    let kills = oom_kills(&std::fs::read_to_string(&file)?);
    Ok((fd, kills))
}

async fn watch_v2(fd: OwnedFd, dir: PathBuf, mut last: u64, mut on_oom: OnOom) {
    let file = dir.join("memory.events");
    let Ok(fd) = register(fd) else { return };
    let mut buf = [0u8; 1024];
    loop {
        let Ok(mut guard) = fd.readable().await else {
            return;
        };
        match guard.try_io(|fd| rustix::io::read(fd.get_ref(), &mut buf).map_err(io::Error::from)) {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return,
            Err(_would_block) => continue,
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            return; // the cgroup is gone
        };
        let now = oom_kills(&text);
        if now > last {
            on_oom();
        }
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
35 29 0:30 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
36 29 0:31 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
40 29 0:35 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
41 29 0:36 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
";
    const UNIFIED: &str = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";

    #[test]
    fn hybrid_hosts_use_the_v1_memory_hierarchy() {
        let pc = "12:memory:/ns/c1\n4:cpu,cpuacct:/ns/c1\n1:name=systemd:/ns/c1\n0::/ns/c1\n";
        assert_eq!(
            memory_cgroup(pc, HYBRID),
            Some(Target::V1(PathBuf::from("/sys/fs/cgroup/memory/ns/c1")))
        );
    }

    #[test]
    fn unified_hosts_use_v2() {
        assert_eq!(
            memory_cgroup("0::/k8s/pod/c1\n", UNIFIED),
            Some(Target::V2(PathBuf::from("/sys/fs/cgroup/k8s/pod/c1")))
        );
    }

    #[test]
    fn a_mount_of_a_subtree_is_joined_below_its_root() {
        let mi = "40 29 0:35 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        assert_eq!(
            memory_cgroup("5:memory:/outer/c1\n", mi),
            Some(Target::V1(PathBuf::from("/sys/fs/cgroup/memory/c1")))
        );
        assert_eq!(memory_cgroup("5:memory:/c1\n", ""), None);
    }

    #[test]
    fn oom_kill_counter() {
        assert_eq!(oom_kills("low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n"), 1);
        assert_eq!(oom_kills(""), 0);
    }
}
