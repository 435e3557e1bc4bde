//! The container's directory in each hierarchy and what both managers do with it alike:
//! create it level by level (with a per-level hook for cpuset and subtree_control), join,
//! list pids, remove it with its sub-cgroups and the parents hull made, and describe it in
//! state.json. Parents hull will create are found when the manager is built, so the record
//! written before `create` already names them.

use super::detect::Mount;
use super::fs::{write_file, Dir};
use super::path::kernel_path;
use super::{CgroupError, Hierarchy};
use crate::state::CgroupRecord;
use std::path::{Path, PathBuf};

/// One hierarchy's container directory.
#[derive(Debug, Clone)]
pub struct Node {
    /// The hierarchy.
    pub mount: Mount,
    /// The container's directory relative to the mountpoint: at least one plain component.
    pub rel: PathBuf,
}

impl Node {
    /// The absolute directory.
    pub fn path(&self) -> PathBuf {
        self.mount.mountpoint.join(&self.rel)
    }

    /// Opens the existing directory.
    pub fn open(&self) -> Result<Dir, CgroupError> {
        Dir::open(&self.mount.mountpoint, &self.rel)
    }

    /// Creates every missing level and calls `hook(parent, child)` for each level below the
    /// mountpoint. A parent removed meanwhile by another container's cleanup (ENOENT) is
    /// retried.
    pub fn create(
        &self,
        mut hook: impl FnMut(&Dir, &Dir) -> Result<(), CgroupError>,
    ) -> Result<Dir, CgroupError> {
        let mut tries = 0;
        loop {
            match self.create_once(&mut hook) {
                Err(e) if e.errno() == Some(libc::ENOENT) && tries < 3 => tries += 1,
                r => return r,
            }
        }
    }

    fn create_once(
        &self,
        hook: &mut impl FnMut(&Dir, &Dir) -> Result<(), CgroupError>,
    ) -> Result<Dir, CgroupError> {
        let mut dir = Dir::open_mount(&self.mount.mountpoint)?;
        for name in self.rel.iter() {
            let name = name.to_string_lossy();
            dir.mkdir(&name)?;
            let child = dir.child(&name)?;
            hook(&dir, &child)?;
            dir = child;
        }
        Ok(dir)
    }

    /// The levels of `rel` that do not exist yet, deepest first: the parents `create` will
    /// make (the container's own directory excluded).
    fn missing_parents(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut p = self.mount.mountpoint.clone();
        let levels: Vec<_> = self.rel.iter().collect();
        for name in &levels[..levels.len().saturating_sub(1)] {
            p.push(name);
            if std::fs::symlink_metadata(&p).is_err() {
                out.push(p.clone());
            }
        }
        out.reverse();
        out
    }

    /// Removes the directory and every sub-cgroup in it; absent is fine.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let parent_rel = self.rel.parent().unwrap_or(Path::new(""));
        let Some(name) = self.rel.file_name() else {
            return Ok(());
        };
        match Dir::open(&self.mount.mountpoint, parent_rel) {
            Ok(parent) => parent.remove_tree(&name.to_string_lossy()),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The nodes of one container and what is recorded about them.
#[derive(Debug)]
pub struct Layout {
    /// One node per hierarchy hull uses.
    pub nodes: Vec<Node>,
    /// Parent directories hull creates (deepest first) and removes again if empty.
    pub parents: Vec<PathBuf>,
    /// The cgroup path as the kernel shows it in the first hierarchy.
    pub path: String,
    /// runc's --rootless: permission errors on create/join drop a hierarchy.
    pub rootless: bool,
}

impl Layout {
    /// A layout for a new container; looks up which parents are still missing.
    pub fn new(nodes: Vec<Node>, rootless: bool) -> Layout {
        let mut parents = Vec::new();
        for n in &nodes {
            parents.extend(n.missing_parents());
        }
        let path = nodes
            .first()
            .map(|n| kernel_path(&n.mount, &n.rel))
            .unwrap_or_default();
        Layout {
            nodes,
            parents,
            path,
            rootless,
        }
    }

    /// The state.json record.
    pub fn record(&self) -> CgroupRecord {
        CgroupRecord {
            path: self.path.clone(),
            dirs: self.nodes.iter().map(Node::path).collect(),
            parents: self.parents.clone(),
            rootless: self.rootless,
        }
    }

    /// The hierarchies for the container's /sys/fs/cgroup.
    pub fn hierarchies(&self) -> Vec<Hierarchy> {
        self.nodes
            .iter()
            .map(|n| Hierarchy {
                mountpoint: n.mount.mountpoint.clone(),
                fs: n.mount.fs.clone(),
                dir: n.path(),
            })
            .collect()
    }

    /// Removes every node, then the parents hull made if nothing else uses them. Tries
    /// everything and returns the first error.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        let mut first = None;
        for n in &self.nodes {
            if let Err(e) = n.remove() {
                first.get_or_insert(e);
            }
        }
        for p in &self.parents {
            if let Err(e) = self.remove_parent(p) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn remove_parent(&self, p: &Path) -> Result<(), CgroupError> {
        let mount = self
            .nodes
            .iter()
            .map(|n| &n.mount)
            .filter(|m| p.starts_with(&m.mountpoint))
            .max_by_key(|m| m.mountpoint.components().count());
        let Some(mount) = mount else { return Ok(()) };
        let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
            return Ok(());
        };
        let rel = parent
            .strip_prefix(&mount.mountpoint)
            .unwrap_or(Path::new(""));
        match Dir::open(&mount.mountpoint, rel) {
            Ok(dir) => dir.remove_if_empty(&name.to_string_lossy()).map(|_| ()),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Pids of every process in `node` and its sub-cgroups.
    pub fn pids_in(node: &Node) -> Result<Vec<i32>, CgroupError> {
        let mut out = Vec::new();
        match node.open() {
            Ok(dir) => dir.procs_recursive(&mut out)?,
            Err(e) if e.errno() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        Ok(out)
    }
}

/// Moves the calling thread (the whole process: the create path is single-threaded) into
/// each hierarchy whose `tasks` file is in `tasks` (see `Placement`).
pub fn join_self(tasks: &[std::os::fd::OwnedFd]) -> Result<(), CgroupError> {
    for fd in tasks {
        rustix::io::write(fd, b"0").map_err(|e| CgroupError::JoinSelf { source: e.into() })?;
    }
    Ok(())
}

/// Opens the `tasks` file of `dir` for writing (by hull, for the child).
pub fn open_tasks(dir: &Dir) -> Result<std::os::fd::OwnedFd, CgroupError> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::openat(
        dir.fd(),
        "tasks",
        OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| CgroupError::JoinSelf { source: e.into() })
}

/// Opens `node`'s directory as an O_PATH fd for CLONE_INTO_CGROUP.
pub fn open_clone_into(node: &Node) -> Result<std::os::fd::OwnedFd, CgroupError> {
    use rustix::fs::{Mode, OFlags};
    let dir = node.open()?;
    rustix::fs::openat(
        dir.fd(),
        ".",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| CgroupError::JoinSelf { source: e.into() })
}

/// Writes `pid` to the directory's cgroup.procs.
pub fn join(dir: &Dir, pid: i32) -> Result<(), CgroupError> {
    write_file(dir, "cgroup.procs", &pid.to_string())
}

/// Sends `signal` to each pid; a process that is already gone (ESRCH) is fine. Pid 0 (a
/// process outside hull's pid namespace shows as 0) and hull itself are never signalled.
pub fn signal_all(pids: &[i32], signal: nix::sys::signal::Signal) -> Result<(), CgroupError> {
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    let me = std::process::id() as i32;
    let mut first = None;
    for &pid in pids.iter().filter(|p| **p > 0 && **p != me) {
        match kill(Pid::from_raw(pid), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(source) => {
                first.get_or_insert(CgroupError::Signal {
                    pid,
                    signal: signal.as_str(),
                    source,
                });
            }
        }
    }
    first.map_or(Ok(()), Err)
}
