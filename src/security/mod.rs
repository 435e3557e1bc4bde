//! Process privileges of the container init: rlimits and scheduling attributes while still
//! privileged, then the privilege drop (bounding set, groups and ids, capability sets, umask,
//! no_new_privs) right before the init waits for `start`. The LSM exec labels (`lsm.rs`) are
//! written before the drop; seccomp comes after it, last.

pub mod apparmor;
mod attrs;
mod caps;
pub mod exe_seal;
pub mod lsm;
mod rlimits;
pub mod seccomp;
pub mod selinux;
mod user;

use crate::error::{ErrorKind, Kind};
use crate::spec::{Config, ProcessConfig, SpecError};
use std::io;

pub use caps::{bounding_drops, CapPlan};
pub use lsm::{HostLsm, Lsm, LsmError};
pub use rlimits::rlimit_name;
pub use user::{effective_umask, DEFAULT_UMASK};

/// The checks of a loaded config that depend on this host: an LSM label it cannot apply, a
/// seccomp architecture libseccomp cannot filter here. Errors name the field, as the
/// document's own checks do; create runs this before anything exists.
pub fn check_host(config: &Config) -> Result<(), SpecError> {
    lsm::check_config(
        &config.process,
        config.mount_label.as_deref(),
        HostLsm::detect(),
    )?;
    let arches = config
        .seccomp
        .iter()
        .flat_map(|s| s.architectures().iter().flatten());
    for (i, a) in arches.enumerate() {
        seccomp::check_arch(*a).map_err(|reason| {
            SpecError::invalid(format!("linux.seccomp.architectures[{i}]"), reason)
        })?;
    }
    Ok(())
}

/// A failed privilege step, naming the step and the value it tried to apply.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// `process.rlimits` names a resource this kernel interface does not know.
    #[error("process.rlimits: unknown resource {resource}")]
    UnknownRlimit {
        /// The RLIMIT_* number.
        resource: i32,
    },
    /// setrlimit failed.
    #[error("setrlimit {name} (soft {soft}, hard {hard}): {source}")]
    Rlimit {
        /// RLIMIT_* name.
        name: &'static str,
        /// Soft limit asked for.
        soft: u64,
        /// Hard limit asked for.
        hard: u64,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Writing /proc/self/oom_score_adj failed.
    #[error("process.oomScoreAdj: write {value} to /proc/self/oom_score_adj: {source}")]
    OomScoreAdj {
        /// The value.
        value: i32,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// ioprio_set failed (ENOSYS: the kernel has no ioprio).
    #[error("process.ioPriority: class {class} level {level}: {source}")]
    IoPriority {
        /// IOPRIO_CLASS_*.
        class: i32,
        /// Priority level inside the class.
        level: i32,
        /// The syscall error.
        #[source]
        source: crate::sys::SysError,
    },
    /// sched_setattr failed.
    #[error("process.scheduler: policy {policy}: {source}")]
    Scheduler {
        /// SCHED_* policy number.
        policy: u32,
        /// The syscall error.
        #[source]
        source: crate::sys::SysError,
    },
    /// personality(2) failed.
    #[error("linux.personality: personality {persona:#x}: {source}")]
    Personality {
        /// The persona value.
        persona: u64,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Probing the bounding set (PR_CAPBSET_READ) failed.
    #[error("read the capability bounding set: {source}")]
    ReadBounding {
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// PR_CAPBSET_DROP failed.
    #[error("drop {cap} from the bounding set: {source}")]
    DropBounding {
        /// Capability name.
        cap: String,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// PR_SET_KEEPCAPS failed.
    #[error("prctl PR_SET_KEEPCAPS {value}: {source}")]
    KeepCaps {
        /// 1 or 0.
        value: u8,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// setgroups failed.
    #[error("setgroups {gids:?}: {source}")]
    Setgroups {
        /// `user.additionalGids`.
        gids: Vec<u32>,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Reading /proc/self/setgroups (to tell a denied setgroups from a real failure) failed.
    #[error("read /proc/self/setgroups: {source}")]
    ReadSetgroups {
        /// Why.
        #[source]
        source: io::Error,
    },
    /// setresgid failed.
    #[error("setresgid {gid}: {source}")]
    Setresgid {
        /// `user.gid`.
        gid: u32,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// setresuid failed.
    #[error("setresuid {uid}: {source}")]
    Setresuid {
        /// `user.uid`.
        uid: u32,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// capset of effective/permitted/inheritable failed.
    #[error(
        "capset effective {effective:#x} permitted {permitted:#x} inheritable {inheritable:#x}: {source}"
    )]
    Capset {
        /// Effective mask.
        effective: u64,
        /// Permitted mask.
        permitted: u64,
        /// Inheritable mask.
        inheritable: u64,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Clearing or raising an ambient capability failed.
    #[error("ambient set: {op} {cap}: {source}")]
    Ambient {
        /// `clear` or `raise`.
        op: &'static str,
        /// Capability name (empty for clear).
        cap: String,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// PR_SET_NO_NEW_PRIVS failed.
    #[error("process.noNewPrivileges: prctl PR_SET_NO_NEW_PRIVS: {source}")]
    NoNewPrivs {
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// An AppArmor profile or SELinux label cannot be used or applied.
    #[error(transparent)]
    Lsm(#[from] LsmError),
}

impl SecurityError {
    /// The errno behind the failure (0 when there is none), for the child's error message.
    pub fn errno(&self) -> i32 {
        use SecurityError as E;
        match self {
            E::UnknownRlimit { .. } => libc::EINVAL,
            E::Lsm(e) => e.errno(),
            E::IoPriority { source, .. } | E::Scheduler { source, .. } => source.errno(),
            E::Rlimit { source, .. }
            | E::OomScoreAdj { source, .. }
            | E::Personality { source, .. }
            | E::ReadBounding { source }
            | E::DropBounding { source, .. }
            | E::KeepCaps { source, .. }
            | E::Setgroups { source, .. }
            | E::ReadSetgroups { source }
            | E::Setresgid { source, .. }
            | E::Setresuid { source, .. }
            | E::Capset { source, .. }
            | E::Ambient { source, .. }
            | E::NoNewPrivs { source } => source.raw_os_error().unwrap_or(0),
        }
    }
}

impl Kind for SecurityError {
    fn kind(&self) -> ErrorKind {
        match self {
            SecurityError::UnknownRlimit { .. }
            | SecurityError::Lsm(LsmError::NotEnabled { .. }) => ErrorKind::BadSpec,
            _ => ErrorKind::Sys,
        }
    }
}

/// Applies, from hull, the limits and priorities of `process` to process `pid` (the init or
/// an exec'd process, before it runs user code): rlimits, oomScoreAdj, ioPriority,
/// scheduler. Done from outside because inside a new user namespace the process itself could
/// not raise a hard limit, lower its oom_score_adj or pick a realtime policy.
pub fn apply_limits(pid: i32, p: &ProcessConfig) -> Result<(), SecurityError> {
    p.rlimits.iter().try_for_each(|r| rlimits::apply(pid, r))?;
    if let Some(value) = p.oom_score_adj {
        attrs::set_oom_score_adj(pid, value)?;
    }
    if let Some((class, level)) = p.io_priority {
        attrs::set_io_priority(pid, class, level)?;
    }
    if let Some(attr) = p.scheduler {
        attrs::set_scheduler(pid, attr)?;
    }
    Ok(())
}

/// `linux.personality`, set by the init on itself (personality(2) has no pid argument).
pub fn apply_personality(personality: Option<u64>) -> Result<(), SecurityError> {
    personality.map_or(Ok(()), attrs::set_personality)
}

/// Sets the AppArmor profile and SELinux label the process gets at execve. Runs in the
/// container's mount namespace after pivot_root (its /proc is checked to be procfs), before
/// the privilege drop and before any seccomp filter, as runc orders it: the write needs
/// open(2) and write(2), which the container's filter may forbid.
pub fn apply_exec_labels(p: &ProcessConfig) -> Result<(), SecurityError> {
    Ok(lsm::apply(p)?)
}

/// The privilege drop, in order: bounding set, groups/gid/uid, the other capability sets,
/// ambient, umask, no_new_privs. Runs after pivot_root, right before waiting for start.
///
/// The order is runc's finalizeNamespace: the bounding set can only shrink while
/// CAP_SETPCAP is still effective, i.e. before the uid changes; PR_SET_KEEPCAPS keeps the
/// permitted set across a switch to a non-zero uid (which clears the effective set), so
/// capset can then restore exactly the spec's effective set; ambient caps can only be
/// raised once they are permitted and inheritable. With `capabilities` absent the current
/// sets are kept, as runc does.
pub fn drop_privileges(p: &ProcessConfig, userns: bool) -> Result<(), SecurityError> {
    let plan = p.capabilities.as_ref().map(CapPlan::from_sets);
    if let Some(plan) = &plan {
        caps::apply_bounding(plan.bounding)?;
    }
    caps::set_keepcaps(true)?;
    user::switch_user(&p.user, userns)?;
    caps::set_keepcaps(false)?;
    if let Some(plan) = &plan {
        caps::apply_sets(plan)?;
    }
    user::set_umask(&p.user);
    if p.no_new_privileges {
        rustix::thread::set_no_new_privs(true)
            .map_err(|e| SecurityError::NoNewPrivs { source: e.into() })?;
    }
    Ok(())
}
