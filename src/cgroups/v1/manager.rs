//! The v1 manager: the container's directory in every v1 hierarchy (and the cgroup2 one on
//! hybrid hosts). Reads the facts a plan needs, applies the plan to the hierarchy of each
//! write's controller, freezes through the freezer hierarchy.

use super::{cpuset, devices, freezer, Facts};
use crate::cgroups::fs::Dir;
use crate::cgroups::node::{join, open_clone_into, open_tasks, signal_all, Layout, Node};
use crate::cgroups::plan::{apply_write, warn_ignored, Journal};
use crate::cgroups::stats::{self, Files, Stats};
use crate::cgroups::{CgroupError, Hierarchy, HierarchyFs, Manager, OomWatch, Placement};
use crate::state::CgroupRecord;
use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;
use std::cell::Cell;

/// A container's cgroup on a legacy or hybrid host.
#[derive(Debug)]
pub struct V1Manager {
    layout: Layout,
    /// Whether a rootless container may go on without a hierarchy it cannot use (only
    /// with hull's default path, as runc).
    tolerant: bool,
    /// Bit i: node i was dropped (rootless, no permission).
    dropped: Cell<u64>,
}

impl V1Manager {
    /// A manager over these nodes; `explicit` is whether linux.cgroupsPath was given.
    pub fn new(layout: Layout, explicit: bool) -> V1Manager {
        V1Manager {
            tolerant: layout.rootless && !explicit,
            layout,
            dropped: Cell::new(0),
        }
    }

    fn live(&self) -> impl Iterator<Item = (usize, &Node)> {
        let dropped = self.dropped.get();
        self.layout
            .nodes
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i >= 64 || dropped & (1 << i) == 0)
    }

    fn node_with(&self, controller: &str) -> Option<&Node> {
        self.live()
            .map(|(_, n)| n)
            .find(|n| n.mount.has(controller))
    }

    /// Runs `f` on each live node; in tolerant mode a permission error drops the node.
    fn each(&self, mut f: impl FnMut(&Node) -> Result<(), CgroupError>) -> Result<(), CgroupError> {
        for (i, n) in self.live() {
            match f(n) {
                Err(e) if self.tolerant && e.is_permission() && i < 64 => {
                    self.dropped.set(self.dropped.get() | (1 << i));
                }
                r => r?,
            }
        }
        Ok(())
    }

    fn facts(&self) -> Result<Facts, CgroupError> {
        let mut f = Facts::default();
        if let Some(dir) = self.open_with("memory")? {
            f.memory.limit = dir
                .read_trimmed("memory.limit_in_bytes")
                .ok()
                .and_then(|s| s.parse().ok());
            f.memory.has_memsw = dir.has("memory.memsw.limit_in_bytes");
        }
        if let Some(dir) = self.open_with("blkio")? {
            f.blkio.bfq = !dir.has("blkio.weight") && dir.has("blkio.bfq.weight");
        }
        if let Some(dir) = self.open_with("devices")? {
            f.devices = devices::current(&dir)?;
        }
        Ok(f)
    }

    fn open_with(&self, controller: &str) -> Result<Option<Dir>, CgroupError> {
        self.node_with(controller).map(Node::open).transpose()
    }

    fn freezer(&self, op: &'static str) -> Result<Dir, CgroupError> {
        self.open_with("freezer")?
            .ok_or(CgroupError::NoFreezer { op })
    }
}

impl Manager for V1Manager {
    fn write_plan(
        &self,
        resources: &LinuxResources,
        mut journal: Option<&mut Journal>,
    ) -> Result<(), CgroupError> {
        let (plan, target) = super::plan(resources, &self.facts()?)?;
        warn_ignored(&plan, "v1");
        let mut dirs: Vec<(&'static str, Dir)> = Vec::new();
        for w in &plan.writes {
            let rootless_devices = self.layout.rootless && w.controller == "devices";
            let idx = match dirs.iter().position(|(c, _)| *c == w.controller) {
                Some(i) => i,
                None => match self.open_with(w.controller)? {
                    Some(d) => {
                        dirs.push((w.controller, d));
                        dirs.len() - 1
                    }
                    None if rootless_devices => continue,
                    None => {
                        return Err(CgroupError::NoController {
                            field: w.field.clone(),
                            controller: w.controller.into(),
                        })
                    }
                },
            };
            let dir = &dirs[idx].1;
            if let Some(j) = journal.as_deref_mut() {
                j.remember(dir, w);
            }
            match apply_write(dir, w) {
                // Rootless containers cannot be expected to manage devices (runc).
                Err(_) if rootless_devices => {}
                r => r?,
            }
        }
        match dirs.iter().find(|(c, _)| *c == "devices") {
            Some((_, dir)) if !self.layout.rootless => devices::verify(dir, &target),
            _ => Ok(()),
        }
    }

    fn record(&self) -> CgroupRecord {
        self.layout.record()
    }

    fn hierarchies(&self) -> Vec<Hierarchy> {
        let live: Vec<usize> = self.live().map(|(i, _)| i).collect();
        crate::cgroups::views_of(&self.layout, |i| live.contains(&i))
    }

    fn create(&self) -> Result<(), CgroupError> {
        self.each(|n| {
            let cpuset = n.mount.has("cpuset");
            n.create(|parent, child| {
                if cpuset {
                    cpuset::inherit(parent, child)
                } else {
                    Ok(())
                }
            })
            .map(drop)
        })
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        self.each(|n| join(&n.open()?, pid))
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let node = self
            .node_with("pids")
            .or_else(|| self.node_with("freezer"))
            .or_else(|| self.live().map(|(_, n)| n).next());
        node.map_or(Ok(Vec::new()), Layout::pids_in)
    }

    fn kill_all(&self, signal: Signal) -> Result<(), CgroupError> {
        // An empty cgroup stays empty (nothing in it can fork), and freezing costs a
        // system-wide text patch of the freezer's static key: skip it on the usual delete of
        // a container whose processes are gone.
        if self.pids()?.is_empty() {
            return Ok(());
        }
        // Frozen, no process can fork a child that the pid list would miss.
        let frozen = match self.freezer("freeze") {
            Ok(dir) => freezer::freeze(&dir).is_ok(),
            Err(_) => false,
        };
        let result = self.pids().and_then(|pids| signal_all(&pids, signal));
        if frozen {
            freezer::thaw(&self.freezer("thaw")?)?;
        }
        result
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        freezer::freeze(&self.freezer("freeze")?)
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        freezer::thaw(&self.freezer("thaw")?)
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self.open_with("freezer")? {
            Some(dir) => freezer::is_frozen(&dir),
            None => Ok(false),
        }
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        let dir_for = |c: &str| -> Result<Option<Box<dyn Files>>, CgroupError> {
            Ok(self.open_with(c)?.map(|d| Box::new(d) as Box<dyn Files>))
        };
        stats::v1::collect(&dir_for)
    }

    fn oom_watch(&self) -> Result<Option<OomWatch>, CgroupError> {
        self.open_with("memory")?.map(OomWatch::v1).transpose()
    }

    fn placement(&self) -> Result<Placement, CgroupError> {
        let mut p = Placement::default();
        for (_, n) in self.live() {
            let placed = match n.mount.fs {
                HierarchyFs::V2 => open_clone_into(n).map(|f| p.clone_into = Some(f)),
                HierarchyFs::V1 { .. } => n
                    .open()
                    .and_then(|d| open_tasks(&d))
                    .map(|t| p.tasks.push(t)),
            };
            match placed {
                // A rootless container (an exec into it) stays out of what it could not make.
                Err(e) if self.layout.rootless && e.is_rootless_gap() => {}
                r => r?,
            }
        }
        Ok(p)
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        self.layout.destroy()
    }
}
