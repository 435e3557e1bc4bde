//! Moving a process into a container's cgroup on v2 (`add_process`, for the init and for
//! `exec`). A container that delegates domain controllers from its own cgroup (a nested
//! runtime, systemd as PID 1) has moved its processes into sub-cgroups, and the kernel's
//! no-internal-process rule then refuses a new member of the container's cgroup with
//! EBUSY; the process joins the cgroup of the container's init instead, as runc's exec does
//! (`setnsProcess.start`). The init is the oldest process in the container's tree.

use crate::cgroups::fs::Dir;
use crate::cgroups::node::join;
use crate::cgroups::CgroupError;
use std::path::PathBuf;

/// One process found in the container's tree: its cgroup (relative to the container's),
/// pid and start time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The cgroup, relative to the container's.
    pub rel: PathBuf,
    /// The pid.
    pub pid: i32,
    /// Start time in clock ticks after boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
}

/// Moves `pid` into `dir`, or on EBUSY into the cgroup of the oldest process below it.
pub fn join_container(dir: &Dir, pid: i32) -> Result<(), CgroupError> {
    let err = match join(dir, pid) {
        Err(e) if e.errno() == Some(libc::EBUSY) => e,
        r => return r,
    };
    let mut members = Vec::new();
    collect(dir, PathBuf::new(), &mut members)?;
    let Some(rel) = oldest(&members) else {
        return Err(err);
    };
    let mut target = None;
    for name in rel.iter() {
        let parent = target.as_ref().unwrap_or(dir);
        target = Some(parent.child(&name.to_string_lossy())?);
    }
    match target {
        Some(t) => join(&t, pid),
        None => Err(err),
    }
}

/// The cgroup of the oldest member (ties: the lowest pid), the container's own excluded.
pub fn oldest(members: &[Member]) -> Option<&PathBuf> {
    members
        .iter()
        .filter(|m| m.rel.components().next().is_some())
        .min_by_key(|m| (m.start_time, m.pid))
        .map(|m| &m.rel)
}

/// Every process in `dir` and below with its start time; processes that exit meanwhile and
/// sub-cgroups removed meanwhile are skipped.
fn collect(dir: &Dir, rel: PathBuf, out: &mut Vec<Member>) -> Result<(), CgroupError> {
    for pid in dir.procs()? {
        if let Some(start_time) = start_time(pid) {
            out.push(Member {
                rel: rel.clone(),
                pid,
                start_time,
            });
        }
    }
    for name in dir.subdirs()? {
        match dir.child(&name) {
            Ok(child) => collect(&child, rel.join(&name), out)?,
            Err(e) if e.errno() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn start_time(pid: i32) -> Option<u64> {
    parse_start_time(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Field 22 of a `/proc/<pid>/stat` line, counted after the last `)` (comm may hold any).
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts at field 3 (state); field 22 is 19 fields further.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rel: &str, pid: i32, start_time: u64) -> Member {
        Member {
            rel: rel.into(),
            pid,
            start_time,
        }
    }

    #[test]
    fn the_oldest_member_below_the_container_wins() {
        let members = [
            m("init.scope", 40, 500),
            m("system.slice/a.service", 30, 900),
            m("", 7, 100),
        ];
        assert_eq!(oldest(&members), Some(&PathBuf::from("init.scope")));
        let tie = [m("b", 9, 5), m("a", 8, 5)];
        assert_eq!(oldest(&tie), Some(&PathBuf::from("a")));
        assert_eq!(oldest(&[m("", 1, 1)]), None);
    }

    #[test]
    fn start_time_is_field_22() {
        let line = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 1000 10";
        assert_eq!(parse_start_time(line), Some(12345));
        assert_eq!(parse_start_time("garbage"), None);
    }
}
