//! The container's filesystem view, built by the init child inside its new mount namespace
//! (and user namespace, if any) while /proc is still the host's: `prepare` (mounts and
//! /dev), `protect` (masked and read-only paths), `enter` (pivot_root). Every container
//! path goes through [`Root`]; every mount is made with the new mount API onto an fd
//! (see `mount.rs` for why).
//!
//! Step order, with the reason each step is where it is (`prepare` refuses to run without
//! a mount namespace in the config, so nothing here can touch the host's mounts):
//! 1. `/` gets `rootfsPropagation` first, so nothing hull mounts later propagates back to
//!    the host (default rslave); then an overlay rootfs (image layers) is mounted at the
//!    rootfs path, so everything below lands on it.
//! 2. The mount holding the rootfs is made private when needed, *then* the rootfs is
//!    rbound onto itself: pivot_root needs a mount point whose parent is not shared.
//! 3. `mounts` in config order: later entries may land inside earlier ones (/dev/pts in
//!    /dev).
//! 4. /dev nodes and symlinks after the mounts, so they land in the /dev tmpfs; then
//!    `process.cwd` is created, while the root is still writable.
//! 5. readonlyPaths and maskedPaths after every mount (they cover what the mounts made) and
//!    before pivot_root, while the host's /dev/null is reachable for the masks.
//! 6. pivot_root, then the read-only root last: everything above writes into the rootfs.

mod copyup;
mod devices;
mod error;
mod flags;
mod guard;
mod mount;
mod overlay;
mod paths;
mod pivot;
mod plan;
mod root;

pub use error::{Origin, RootfsError};
pub use root::{Follow, Root, Target};

use crate::spec::{Config, NsKind};
use std::path::PathBuf;

/// One cgroup hierarchy to show at a `cgroup` mount's destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupView {
    /// Sub-directory under the destination: the host mountpoint's basename ("cpu",
    /// "cpu,cpuacct", "systemd", "unified"); empty on a unified host, where the hierarchy
    /// goes at the destination itself.
    pub name: String,
    /// The filesystem: v1 with its mount options ("cpu" / "name=systemd"), or v2.
    pub fs: CgroupFs,
    /// The container's cgroup directory in this hierarchy on the host (bound when there is
    /// no cgroup namespace).
    pub host_dir: PathBuf,
}

/// The kind of a cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupFs {
    /// A cgroup v1 hierarchy, with the options that select it.
    V1 {
        /// Mount options: the controllers (`cpu,cpuacct`) or `name=systemd`.
        options: String,
    },
    /// The cgroup v2 hierarchy.
    V2,
}

/// What the mount steps need besides the config.
#[derive(Debug, Clone, Copy)]
pub struct MountContext<'a> {
    /// The container's configuration.
    pub config: &'a Config,
    /// The cgroup hierarchies to show at `cgroup` mounts, from the cgroup manager.
    pub cgroups: &'a [CgroupView],
    /// The init runs in a new user namespace: device nodes are bound from the host, not made.
    pub userns: bool,
}

/// Propagation of `/`, the rootfs bind, every `mounts` entry, /dev nodes and symlinks, and
/// the `process.cwd` directory.
pub fn prepare(ctx: &MountContext<'_>) -> Result<(), RootfsError> {
    let config = ctx.config;
    if !config.has_namespace(NsKind::Mount) {
        return Err(RootfsError::NoMountNamespace);
    }
    pivot::set_root_propagation(config)?;
    if let Some(ov) = &config.overlay {
        overlay::mount(config, ov)?;
    }
    let root = pivot::prepare_root(config)?;
    let env = plan::PlanEnv {
        userns: ctx.userns,
        cgroupns: config.creates_namespace(NsKind::Cgroup),
        cgroups: ctx.cgroups,
        mount_label: config.mount_label.as_deref(),
    };
    for step in plan::mount_steps(&config.mounts, &env)? {
        mount::apply(&root, &step)?;
    }
    if !plan::binds_dev(&config.mounts) {
        devices::populate(&root, config, ctx.userns)?;
    }
    // Before `enter` can make the root read-only (runc also makes it before that remount).
    root.mkdir_all(&config.process.cwd)
        .map_err(|e| RootfsError::Cwd(Box::new(e)))
}

/// maskedPaths and readonlyPaths, applied inside the rootfs before pivot_root.
pub fn protect(config: &Config) -> Result<(), RootfsError> {
    paths::protect(config)
}

/// pivot_root (or MS_MOVE + chroot with `no_pivot`) onto the rootfs, then the readonly root.
pub fn enter(config: &Config, no_pivot: bool) -> Result<(), RootfsError> {
    pivot::enter(config, no_pivot)
}
