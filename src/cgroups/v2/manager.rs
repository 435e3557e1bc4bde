//! The v2 manager: one cgroup2 directory. Creating it enables the available controllers
//! in each ancestor's cgroup.subtree_control (a controller must be enabled in the parent
//! before its files appear in the child); applying writes the plan and installs the device
//! program.

use super::{devices, freezer, io, join, Facts};
use crate::cgroups::fs::{write_file, Dir};
use crate::cgroups::node::{open_clone_into, signal_all, Layout, Node};
use crate::cgroups::plan::{apply_write, warn_ignored, Journal, Write};
use crate::cgroups::stats::{self, Stats};
use crate::cgroups::{CgroupError, Hierarchy, Manager, OomWatch, Placement};
use crate::state::CgroupRecord;
use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;
use std::cell::Cell;

/// A container's cgroup on a unified host.
#[derive(Debug)]
pub struct V2Manager {
    layout: Layout,
    /// Whether a rootless container may go on without its cgroup (only with hull's
    /// default path, as runc).
    tolerant: bool,
    /// The cgroup could not be created for lack of permission (rootless).
    dropped: Cell<bool>,
}

impl V2Manager {
    /// A manager over the layout's single node; `explicit` is whether linux.cgroupsPath
    /// was given.
    pub fn new(layout: Layout, explicit: bool) -> V2Manager {
        V2Manager {
            tolerant: layout.rootless && !explicit,
            layout,
            dropped: Cell::new(false),
        }
    }

    fn node(&self) -> Option<&Node> {
        self.layout.nodes.first().filter(|_| !self.dropped.get())
    }

    /// The container's directory; None without one, or when it does not exist (a create
    /// killed before making it, a rootless container that could not), as v1's nodes.
    fn open(&self) -> Result<Option<Dir>, CgroupError> {
        match self.node().map(Node::open).transpose() {
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
            r => r,
        }
    }

    fn dir(&self, op: &'static str) -> Result<Dir, CgroupError> {
        self.open()?.ok_or(CgroupError::NoFreezer { op })
    }

    /// Runs `f` on the node; in tolerant mode a permission error drops it.
    fn tolerate(&self, r: Result<(), CgroupError>) -> Result<(), CgroupError> {
        match r {
            Err(e) if self.tolerant && e.is_permission() => {
                self.dropped.set(true);
                Ok(())
            }
            r => r,
        }
    }

    fn facts(dir: &Dir) -> Facts {
        let bfq = dir.has("io.bfq.weight");
        let per_device = bfq
            && dir
                .read("io.bfq.weight")
                .is_ok_and(|c| io::bfq_per_device(&c));
        Facts {
            io: io::Facts {
                bfq,
                bfq_per_device: per_device,
            },
        }
    }

    /// A write failed: a missing file of a controller the cgroup lacks gets a clear error.
    fn explain(dir: &Dir, w: &Write, e: CgroupError) -> CgroupError {
        if e.errno() != Some(libc::ENOENT) {
            return e;
        }
        let enabled = dir.read("cgroup.controllers").unwrap_or_default();
        if w.controller == "cgroup" || enabled.split_whitespace().any(|c| c == w.controller) {
            return e;
        }
        CgroupError::NoController {
            field: w.field.clone(),
            controller: w.controller.into(),
        }
    }
}

/// Enables in `dir`'s cgroup.subtree_control every available controller not enabled yet.
/// Failures are left for the resource writes to report (runc does the same): a controller
/// may be unavailable to a rootless or nested hull without anything being wrong.
fn enable_controllers(dir: &Dir) {
    let Ok(available) = dir.read("cgroup.controllers") else {
        return;
    };
    let enabled = dir.read("cgroup.subtree_control").unwrap_or_default();
    let missing: Vec<String> = available
        .split_whitespace()
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty()
        || dir
            .write_raw("cgroup.subtree_control", &missing.join(" "))
            .is_ok()
    {
        return;
    }
    for c in &missing {
        let _ = dir.write_raw("cgroup.subtree_control", c);
    }
}

impl Manager for V2Manager {
    fn write_plan(
        &self,
        resources: &LinuxResources,
        mut journal: Option<&mut Journal>,
    ) -> Result<(), CgroupError> {
        let Some(dir) = self.open()? else {
            let (plan, _) = super::plan(resources, &Facts::default())?;
            return match plan.writes.first() {
                Some(w) => Err(CgroupError::NoController {
                    field: w.field.clone(),
                    controller: w.controller.into(),
                }),
                None => Ok(()),
            };
        };
        let (plan, target) = super::plan(resources, &Self::facts(&dir))?;
        warn_ignored(&plan, "v2");
        for w in &plan.writes {
            if let Some(j) = journal.as_deref_mut() {
                j.remember(&dir, w);
            }
            apply_write(&dir, w).map_err(|e| Self::explain(&dir, w, e))?;
        }
        match devices::install(&dir, &target) {
            // Rootless containers cannot be expected to manage devices (runc).
            Err(_) if self.layout.rootless => Ok(()),
            r => r,
        }
    }

    fn record(&self) -> CgroupRecord {
        self.layout.record()
    }

    fn hierarchies(&self) -> Vec<Hierarchy> {
        crate::cgroups::views_of(&self.layout, |_| !self.dropped.get())
    }

    fn create(&self) -> Result<(), CgroupError> {
        let Some(node) = self.node() else {
            return Ok(());
        };
        let r = node.create(|parent, _child| {
            enable_controllers(parent);
            Ok(())
        });
        self.tolerate(r.map(drop))
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        let Some(node) = self.node() else {
            return Ok(());
        };
        let r = node.open().and_then(|d| join::join_container(&d, pid));
        self.tolerate(r)
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        self.node().map_or(Ok(Vec::new()), Layout::pids_in)
    }

    fn kill_all(&self, signal: Signal) -> Result<(), CgroupError> {
        let Some(dir) = self.open()? else {
            return Ok(());
        };
        // cgroup.kill (Linux 5.14) kills the whole subtree atomically, forks included.
        if signal == Signal::SIGKILL && dir.has("cgroup.kill") {
            return write_file(&dir, "cgroup.kill", "1");
        }
        // An empty cgroup stays empty: nothing in it can fork.
        if self.pids()?.is_empty() {
            return Ok(());
        }
        // Frozen, no process can fork a child that the pid list would miss.
        let frozen = freezer::freeze(&dir).is_ok();
        let result = self.pids().and_then(|pids| signal_all(&pids, signal));
        if frozen {
            freezer::thaw(&dir)?;
        }
        result
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        freezer::freeze(&self.dir("freeze")?)
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        freezer::thaw(&self.dir("thaw")?)
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self.open()? {
            Some(dir) => freezer::is_frozen(&dir),
            None => Ok(false),
        }
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        match self.open()? {
            Some(dir) => stats::v2::collect(&dir),
            None => Ok(Stats::default()),
        }
    }

    fn oom_watch(&self) -> Result<Option<OomWatch>, CgroupError> {
        match self.open()? {
            Some(dir) if dir.has("memory.events") => OomWatch::v2(dir).map(Some),
            _ => Ok(None),
        }
    }

    fn placement(&self) -> Result<Placement, CgroupError> {
        let clone_into = match self.node().map(open_clone_into).transpose() {
            // A rootless container (an exec into it) stays out of what it could not make.
            Err(e) if self.layout.rootless && e.is_rootless_gap() => None,
            r => r?,
        };
        Ok(Placement {
            clone_into,
            tasks: Vec::new(),
        })
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        self.layout.destroy()
    }
}
