//! The create path, top to bottom: make the sync socket and exec.fifo, plan the namespaces,
//! clone the init (directly, or through a bootstrap process when namespaces are joined by
//! path), then drive it through the protocol of `sync.rs` until it waits for `start`.
//!
//! No threads, no async runtime, no re-exec: the init is a forked copy of this
//! single-threaded process, which is what makes it cheap.

mod bootstrap;
mod clone;
pub mod env;
pub mod exec_fifo;
pub mod fds;
mod init;
mod parent;
pub mod stat;
pub mod sync;
pub mod tenant;

use crate::cgroups::{CgroupError, Manager};
use crate::error::{ErrorKind, Kind};
use crate::hooks::HookError;
use crate::namespaces::{self, NsError};
use crate::spec::Config;
use crate::state::{OciState, StateError};
use crate::sys::SysError;
use clone::Forked;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// A failed step of the create path, on either side of the fork.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The sync protocol broke.
    #[error(transparent)]
    Sync(#[from] sync::SyncError),
    /// exec.fifo could not be made.
    #[error(transparent)]
    Fifo(#[from] exec_fifo::FifoError),
    /// A namespace step in the parent (id maps) failed.
    #[error(transparent)]
    Ns(#[from] NsError),
    /// A cgroup step failed.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// A prestart or createRuntime hook failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// The seccomp filter could not be compiled or handed to its listener.
    #[error(transparent)]
    Seccomp(#[from] crate::security::seccomp::SeccompError),
    /// Limits or priorities could not be applied to the init.
    #[error(transparent)]
    Security(#[from] crate::security::SecurityError),
    /// Recording the pid in state.json failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A syscall in the parent failed.
    #[error(transparent)]
    Sys(#[from] SysError),
    /// A step inside the container failed; the init reported it and exited.
    #[error("{op}: {context}")]
    Child {
        /// The step that failed.
        op: String,
        /// Its errno, 0 if none.
        errno: i32,
        /// The error text from the child.
        context: String,
    },
    /// The init died without reporting an error (killed, or crashed).
    #[error("container init exited during create: {status}")]
    ChildDied {
        /// How it ended, e.g. `killed by signal 9`.
        status: String,
    },
}

impl Kind for ProcessError {
    fn kind(&self) -> ErrorKind {
        match self {
            ProcessError::Ns(e) => e.kind(),
            ProcessError::Cgroup(e) => e.kind(),
            ProcessError::Hook(e) => e.kind(),
            ProcessError::State(e) => e.kind(),
            ProcessError::Security(e) => e.kind(),
            ProcessError::Seccomp(e) => e.kind(),
            _ => ErrorKind::Sys,
        }
    }
}

/// Everything the create path needs from the lifecycle layer.
pub struct InitRequest<'a> {
    /// The container's config.
    pub config: &'a Config,
    /// Container id (for the session keyring name).
    pub id: &'a str,
    /// The container's state directory (exec.fifo goes there).
    pub state_dir: &'a Path,
    /// The container's cgroup, already created and configured.
    pub cgroup: &'a dyn Manager,
    /// Connected `--console-socket`, when `process.terminal` is set.
    pub console: Option<OwnedFd>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// `--preserve-fds`: fds 3.. passed on besides LISTEN_FDS.
    pub preserve_fds: u32,
    /// Socket-activation fds passed to hull ([`fds::listen_fds`], read in hull's own process:
    /// LISTEN_PID names hull, never the init).
    pub listen_fds: u32,
    /// The OCI state (status creating) handed to hooks; spawn fills in the pid.
    pub state: OciState,
}

/// The running init, waiting on exec.fifo.
#[derive(Debug)]
pub struct Init {
    /// Pid in hull's pid namespace.
    pub pid: i32,
    /// Its pidfd.
    pub pidfd: OwnedFd,
    /// Its start time, recorded to detect pid reuse.
    pub start_time: u64,
}

/// Forks the container's init and drives it until it waits for `start`. `record_pid` runs as
/// soon as the init's pid is known, before it is released to set anything up, so a crash from
/// then on leaves a state.json that `delete --force` can act on.
pub fn spawn_init(
    mut req: InitRequest<'_>,
    record_pid: &mut dyn FnMut(i32, u64) -> Result<(), StateError>,
) -> Result<Init, ProcessError> {
    let console = req.console.take();
    // Inherited by the child from birth: nothing in the container can open its /proc files.
    // Not for a rootless hull: a non-dumpable child's /proc files belong to the host's root,
    // so hull could not write its id maps; that child marks itself once they are written
    // (init.rs, at Go), before anything of the container runs.
    if rustix::process::geteuid().is_root() {
        crate::security::exe_seal::mark_non_dumpable()?;
    }
    let (parent_sock, child_sock) = sync::pair()?;
    let fifo = exec_fifo::create(req.state_dir)?;
    let placement = req.cgroup.placement()?;
    let seccomp = req
        .config
        .seccomp
        .as_ref()
        .map(crate::security::seccomp::compile)
        .transpose()?;
    let plan = namespaces::plan(req.config, placement.complete_at_clone());
    let views = cgroup_views(req.cgroup);
    // A staged init is forked by the bootstrap and inherits its cgroup.
    let into = placement.clone_into.as_ref().map(|f| f.as_fd());
    let flags = if plan.staged {
        nix::sched::CloneFlags::empty()
    } else {
        plan.clone_flags
    };
    match clone::clone_child(flags, into)? {
        Forked::Child => {
            drop(parent_sock);
            let ctx = init::InitContext {
                req: &req,
                config: req.config,
                plan: &plan,
                sock: child_sock,
                fifo,
                console,
                direct: !plan.staged,
                cgroup_views: &views,
                cgroup_tasks: &placement.tasks,
                seccomp: seccomp.as_ref(),
            };
            if plan.staged {
                bootstrap::run(ctx)
            } else {
                init::run(ctx)
            }
        }
        Forked::Parent { pid, pidfd } => {
            drop((child_sock, fifo, console));
            parent::drive(
                &req,
                seccomp.as_ref(),
                &plan,
                parent_sock,
                pid,
                pidfd,
                record_pid,
            )
        }
    }
}

/// The container's cgroup hierarchies as the mount code shows them at /sys/fs/cgroup: on a
/// unified host the one hierarchy goes at the destination itself, otherwise each one in a
/// directory named like its host mountpoint (`cpu`, `memory`, `unified`, ...).
fn cgroup_views(cgroup: &dyn Manager) -> Vec<crate::rootfs::CgroupView> {
    use crate::cgroups::HierarchyFs;
    use crate::rootfs::{CgroupFs, CgroupView};
    let hierarchies = cgroup.hierarchies();
    let unified_only = hierarchies.len() == 1 && matches!(hierarchies[0].fs, HierarchyFs::V2);
    hierarchies
        .into_iter()
        .map(|h| CgroupView {
            name: if unified_only {
                String::new()
            } else {
                h.mountpoint
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            },
            fs: match h.fs {
                HierarchyFs::V1 { options } => CgroupFs::V1 { options },
                HierarchyFs::V2 => CgroupFs::V2,
            },
            host_dir: h.dir,
        })
        .collect()
}
