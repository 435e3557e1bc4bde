//! The container's cgroup on every kind of host. `new` (create path) and `from_record`
//! (every later command) detect the host layout from mountinfo and return one [`Manager`]:
//! v2 on unified hosts, v1 on hybrid and legacy hosts (all v1 hierarchies plus the
//! controller-less cgroup2 one on hybrid hosts, which crun refuses and hull must not).
//!
//! Order on the create path: `new` -> `record` (persisted before anything exists, so
//! `delete --force` can always clean up) -> `create` -> `apply` -> `add_process` (or
//! `placement` for clone3 and the child). Applying before the init joins matters: the realtime budget
//! must exist before an RT process joins, and the device rules before the container runs.

mod detect;
mod devices;
mod error;
mod fs;
mod node;
mod oom;
mod path;
mod plan;
pub use plan::Journal;
mod rdma;
pub mod stats;
mod v1;
mod v2;

pub use detect::HostKind;
pub use error::CgroupError;
pub use node::join_self;
pub use oom::{OomNews, OomWatch};
pub use stats::Stats;

use crate::state::CgroupRecord;
use detect::{Host, Mount};
use nix::sys::signal::Signal;
use node::{Layout, Node};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// How a new process gets into the container's cgroup.
///
/// Migrating a process by writing its pid to `cgroup.procs` takes the kernel's global
/// threadgroup lock, whose write side waits for an RCU grace period: about 10 ms per create
/// on a v1 host (runc and crun pay it). Instead, the cgroup2 directory (if any) is passed to
/// clone3(CLONE_INTO_CGROUP), and each v1 hierarchy's `tasks` file is opened by hull and
/// handed to the single-threaded child, which writes "0" (itself) to it: moving one thread,
/// the caller, needs no global lock. The kernel checks the opener's credentials (hull's), so
/// this works from inside a new user namespace too.
#[derive(Debug, Default)]
pub struct Placement {
    /// An O_PATH fd of the cgroup2 directory, for CLONE_INTO_CGROUP.
    pub clone_into: Option<OwnedFd>,
    /// `tasks` files of the v1 hierarchies, open for writing.
    pub tasks: Vec<OwnedFd>,
}

impl Placement {
    /// Whether clone3 alone puts the child in every hierarchy.
    pub fn complete_at_clone(&self) -> bool {
        self.tasks.is_empty() && self.clone_into.is_some()
    }
}

/// Which cgroup filesystem a hierarchy is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HierarchyFs {
    /// cgroup v1 with its controllers as mount options, e.g. `cpu,cpuacct` or `name=systemd`.
    V1 {
        /// The controllers, comma-separated as in the mount options.
        options: String,
    },
    /// cgroup2.
    V2,
}

/// One hierarchy the container's cgroup lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where the hierarchy is mounted on the host.
    pub mountpoint: PathBuf,
    /// v1 (with controllers) or v2.
    pub fs: HierarchyFs,
    /// The container's directory in it.
    pub dir: PathBuf,
}

/// One container's cgroup across every hierarchy of the host.
pub trait Manager {
    /// What to persist in state.json, written before `create` so `destroy` can always run.
    fn record(&self) -> CgroupRecord;
    /// The hierarchies and the container's directory in each, for its /sys/fs/cgroup.
    fn hierarchies(&self) -> Vec<Hierarchy>;
    /// Creates the cgroup directories.
    fn create(&self) -> Result<(), CgroupError>;
    /// Writes the plan for `resources`, noting each file's value first in `journal`.
    fn write_plan(
        &self,
        resources: &oci_spec::runtime::LinuxResources,
        journal: Option<&mut Journal>,
    ) -> Result<(), CgroupError>;
    /// Applies `linux.resources` (all of it: devices are always set, to the spec's rules
    /// plus runc's default allowed devices, so an update must pass the full set).
    fn apply(&self, resources: &oci_spec::runtime::LinuxResources) -> Result<(), CgroupError> {
        self.write_plan(resources, None)
    }
    /// [`Manager::apply`] to a live container: when a write fails, every file this call
    /// changed is put back as it was before the error is returned.
    fn update(&self, resources: &oci_spec::runtime::LinuxResources) -> Result<(), CgroupError> {
        let mut journal = Journal::default();
        let result = self.write_plan(resources, Some(&mut journal));
        if result.is_err() {
            journal.roll_back();
        }
        result
    }
    /// Moves a process into the cgroup.
    fn add_process(&self, pid: i32) -> Result<(), CgroupError>;
    /// Pids of every process in the cgroup and its sub-cgroups.
    fn pids(&self) -> Result<Vec<i32>, CgroupError>;
    /// Sends a signal to every process in the cgroup, frozen meanwhile so none can fork.
    fn kill_all(&self, signal: Signal) -> Result<(), CgroupError>;
    /// Freezes every process.
    fn freeze(&self) -> Result<(), CgroupError>;
    /// Thaws every process.
    fn thaw(&self) -> Result<(), CgroupError>;
    /// Whether the cgroup is frozen.
    fn is_frozen(&self) -> Result<bool, CgroupError>;
    /// Resource usage, in the shape runc's `events` prints.
    fn stats(&self) -> Result<Stats, CgroupError>;
    /// A registration for OOM-kill notifications; None without a memory cgroup.
    fn oom_watch(&self) -> Result<Option<OomWatch>, CgroupError>;
    /// How a new process enters the cgroup without hull migrating it by pid (see
    /// [`Placement`]); opened by hull before the fork.
    fn placement(&self) -> Result<Placement, CgroupError>;
    /// Removes the cgroup directories (with sub-cgroups the container made) and the parents
    /// hull created if they are empty; absent ones are fine.
    fn destroy(&self) -> Result<(), CgroupError>;
}

/// The manager for a new container: `cgroups_path` from the spec (None: `<own cgroup>/<id>`,
/// as runc). With `rootless` and no `cgroups_path`, hierarchies hull may not write to are
/// skipped, as runc's `--rootless` does.
pub fn new(
    cgroups_path: Option<&str>,
    id: &str,
    rootless: bool,
) -> Result<Box<dyn Manager>, CgroupError> {
    let host = detect::detect()?;
    let inner = path::parse(cgroups_path, id)?;
    let own = match inner {
        path::Inner::Relative(_) => read_own()?,
        path::Inner::Absolute(_) => Vec::new(),
    };
    let mut nodes = Vec::new();
    for m in &host.mounts {
        let rel = path::resolve(&inner, m, path::own_for(m, &own), host.kind)?;
        nodes.push(Node {
            mount: m.clone(),
            rel,
        });
    }
    // Without the devices hierarchy a container could open any host device (runc: fatal).
    if host.kind != HostKind::Unified && !rootless && !host.mounts.iter().any(|m| m.has("devices"))
    {
        return Err(CgroupError::NoController {
            field: "linux.resources.devices".into(),
            controller: "devices".into(),
        });
    }
    let explicit = cgroups_path.is_some_and(|p| !p.is_empty());
    Ok(manager(&host, Layout::new(nodes, rootless), explicit))
}

/// The manager for an existing container, from its record in state.json. Every recorded
/// directory must lie strictly inside a mounted cgroup hierarchy.
pub fn from_record(record: &CgroupRecord) -> Result<Box<dyn Manager>, CgroupError> {
    let host = detect::detect()?;
    let nodes = record
        .dirs
        .iter()
        .map(|d| {
            let (mount, rel) = locate(&host, d)?;
            Ok(Node {
                mount: mount.clone(),
                rel,
            })
        })
        .collect::<Result<Vec<_>, CgroupError>>()?;
    for p in &record.parents {
        let ok = locate(&host, p).is_ok() && nodes.iter().any(|n| n.path().starts_with(p));
        if !ok {
            return Err(CgroupError::Record { path: p.clone() });
        }
    }
    let layout = Layout {
        nodes,
        parents: record.parents.clone(),
        path: record.path.clone(),
        rootless: record.rootless,
    };
    Ok(manager(&host, layout, true))
}

fn manager(host: &Host, layout: Layout, explicit: bool) -> Box<dyn Manager> {
    match host.kind {
        HostKind::Unified => Box::new(v2::V2Manager::new(layout, explicit)),
        HostKind::Hybrid | HostKind::Legacy => Box::new(v1::V1Manager::new(layout, explicit)),
    }
}

/// The hierarchy holding `dir` (the deepest mountpoint above it) and `dir` relative to it.
fn locate<'a>(host: &'a Host, dir: &Path) -> Result<(&'a Mount, PathBuf), CgroupError> {
    host.mounts
        .iter()
        .filter_map(|m| path::below(&m.mountpoint, dir).map(|rel| (m, rel)))
        .max_by_key(|(m, _)| m.mountpoint.components().count())
        .ok_or_else(|| CgroupError::Record { path: dir.into() })
}

/// hull's own cgroup directory in the hierarchy mounted as `mount`, where a rootless
/// container whose cgroup could not be made stays (hull's child is never moved out of it).
fn own_dir(mount: &Mount) -> Option<PathBuf> {
    let own = read_own().ok()?;
    let parts = path::own_below_root(path::own_for(mount, &own)?, &mount.root)?;
    Some(
        parts
            .iter()
            .fold(mount.mountpoint.clone(), |p, c| p.join(c)),
    )
}

/// The hierarchies of `layout` as the container sees them: its own cgroup where hull made
/// one (`live(i)`), else (rootless) hull's own cgroup, which the init inherited, as runc
/// shows it.
fn views_of(layout: &Layout, live: impl Fn(usize) -> bool) -> Vec<Hierarchy> {
    layout
        .hierarchies()
        .into_iter()
        .zip(&layout.nodes)
        .enumerate()
        .filter_map(|(i, (h, node))| {
            if live(i) {
                Some(h)
            } else {
                own_dir(&node.mount).map(|dir| Hierarchy { dir, ..h })
            }
        })
        .collect()
}

fn read_own() -> Result<Vec<path::OwnCgroup>, CgroupError> {
    let p = Path::new("/proc/self/cgroup");
    let text = std::fs::read_to_string(p).map_err(|source| CgroupError::ReadProc {
        path: p.into(),
        source,
    })?;
    Ok(path::parse_own(&text))
}

/// The host's cgroup layout.
pub fn host_kind() -> Result<HostKind, CgroupError> {
    Ok(detect::detect()?.kind)
}
