//! OOM kills of a container, watched in the shim itself as containerd's runc shim does:
//! cgroup v1 through an eventfd registered for `memory.oom_control` (cgroup.event_control),
//! cgroup v2 through inotify on `memory.events`, where an OOM kill is an increase of
//! `oom_kill`; the registration is `cgroups::OomWatch`, the one `hull events` uses. Each
//! wakeup that brings new kills becomes a TaskOOM. The memory cgroup is found from the
//! init's `/proc/<pid>/cgroup` and the host's mountinfo (pure parsers, unit-tested).
//!
//! In-process rather than a `hull events` child per container: that child cost about as
//! much resident memory as the shim itself.

use super::events::Events;
use super::io::register;
use crate::cgroups::{OomNews, OomWatch};
use std::io;
use std::os::fd::OwnedFd;
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
/// on the current runtime that ends when the cgroup is removed. The registration is the one
/// `hull events` uses ([`OomWatch`]); the shim only waits for its fd through tokio.
pub fn start(target: &Target, on_oom: OnOom) -> io::Result<JoinHandle<()>> {
    let watch = match target {
        Target::V1(dir) => OomWatch::open(dir, false),
        Target::V2(dir) => OomWatch::open(dir, true),
    }
    .map_err(io::Error::other)?;
    // A dup of the watch's fd: the same eventfd or inotify instance, owned by the reactor.
    let ready = register(watch.fd().try_clone_to_owned()?)?;
    Ok(tokio::spawn(run(watch, ready, on_oom)))
}

async fn run(mut watch: OomWatch, ready: AsyncFd<OwnedFd>, mut on_oom: OnOom) {
    loop {
        let Ok(mut guard) = ready.readable().await else {
            return;
        };
        // Cleared before the check drains the fd: news arriving after the drain sets the
        // readiness again instead of being wiped.
        guard.clear_ready();
        match watch.check() {
            Ok(OomNews::Kills(0)) => {}
            Ok(OomNews::Kills(_)) => on_oom(),
            Ok(OomNews::Gone) | Err(_) => return,
        }
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
}
