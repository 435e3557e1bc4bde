//! Namespaces: which ones the init is cloned with, which it joins by path, and in what order
//! (a pure plan, unit-tested), plus joining, id maps, time offsets, sysctls and bringing up
//! `lo` in a new network namespace.

mod idmap;
mod loopback;
mod setns;
mod sysctl;
mod timens;

pub use idmap::{format_map, write_maps};
pub use loopback::bring_up_loopback;
pub use setns::join;
pub use sysctl::apply_sysctls;
pub use timens::{format_offsets, write_offsets};

use crate::error::{ErrorKind, Kind};
use crate::spec::{Config, NsKind};
use nix::sched::CloneFlags;
use std::path::PathBuf;

/// A failed namespace operation.
#[derive(Debug, thiserror::Error)]
pub enum NsError {
    /// The namespace file named in the config could not be opened.
    #[error("linux.namespaces: open {}: {source}", path.display())]
    Open {
        /// The namespace file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// setns failed; EINVAL means the file is not a namespace of that type.
    #[error("linux.namespaces: join {kind} namespace {}: {source}", path.display())]
    Join {
        /// Namespace type (spec name).
        kind: &'static str,
        /// The namespace file.
        path: PathBuf,
        /// Why.
        #[source]
        source: nix::Error,
    },
    /// unshare failed.
    #[error("unshare {flags:?}: {source}")]
    Unshare {
        /// The flags passed.
        flags: CloneFlags,
        /// Why.
        #[source]
        source: nix::Error,
    },
    /// `lo` could not be brought up in the new network namespace.
    #[error("linux.namespaces: bring up lo in the new network namespace: {source}")]
    Loopback {
        /// The failed socket or ioctl.
        #[source]
        source: crate::sys::SysError,
    },
    /// Writing a /proc file (uid_map, gid_map, setgroups, timens_offsets, a sysctl) failed.
    #[error("{field}: write {}: {source}", path.display())]
    Write {
        /// The spec field the value comes from.
        field: &'static str,
        /// The /proc file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Kind for NsError {
    fn kind(&self) -> ErrorKind {
        match self {
            NsError::Open { .. } => ErrorKind::BadSpec,
            _ => ErrorKind::Sys,
        }
    }
}

/// How the init gets its namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsPlan {
    /// Namespaces to join by path, in join order (user first).
    pub joins: Vec<(NsKind, PathBuf)>,
    /// Flags for the namespaces created with the init itself (one clone3).
    pub clone_flags: CloneFlags,
    /// A new user namespace is created: the parent writes the id maps before the child goes on.
    pub new_userns: bool,
    /// The init unshares its cgroup namespace itself, after the parent placed it in its cgroup,
    /// so the namespace is rooted at the container's cgroup.
    pub unshare_cgroupns: bool,
    /// An intermediate process is needed: it joins namespaces by path (setns into a pid
    /// namespace only affects children) or sets time offsets (they must be written before any
    /// process enters the time namespace), then forks the init.
    pub staged: bool,
}

/// Plans namespace creation from the config. `clone_into_cgroup`: the init is cloned straight
/// into its cgroup (cgroup v2), so it can be cloned with CLONE_NEWCGROUP too.
pub fn plan(config: &Config, clone_into_cgroup: bool) -> NsPlan {
    let joins: Vec<(NsKind, PathBuf)> = NsKind::JOIN_ORDER
        .iter()
        .filter_map(|k| {
            config
                .namespace(*k)
                .and_then(|n| n.path.clone())
                .map(|p| (*k, p))
        })
        .collect();
    let staged = !joins.is_empty() || !config.time_offsets.is_empty();
    let mut clone_flags = CloneFlags::empty();
    for ns in config.namespaces.iter().filter(|n| n.path.is_none()) {
        clone_flags |= ns.kind.clone_flag();
    }
    let new_cgroupns = clone_flags.contains(CloneFlags::CLONE_NEWCGROUP);
    let unshare_cgroupns = new_cgroupns && (staged || !clone_into_cgroup);
    if unshare_cgroupns {
        clone_flags.remove(CloneFlags::CLONE_NEWCGROUP);
    }
    NsPlan {
        new_userns: clone_flags.contains(CloneFlags::CLONE_NEWUSER),
        joins,
        clone_flags,
        unshare_cgroupns,
        staged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{from_spec, TimeClock};

    fn config(ns: &str, extra: &str) -> Config {
        let json = format!(
            r#"{{"ociVersion":"1.0.2","process":{{"args":["sh"],"cwd":"/","user":{{"uid":0,"gid":0}}}},
            "linux":{{"namespaces":{ns}{extra}}}}}"#
        );
        from_spec(serde_json::from_str(&json).unwrap(), "/b".into()).unwrap()
    }

    #[test]
    fn new_namespaces_go_into_one_clone() {
        let c = config(
            r#"[{"type":"pid"},{"type":"mount"},{"type":"network"},{"type":"cgroup"}]"#,
            "",
        );
        let p = plan(&c, true);
        assert!(!p.staged);
        assert!(!p.unshare_cgroupns);
        assert!(p
            .clone_flags
            .contains(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWCGROUP));
        let p = plan(&c, false);
        assert!(
            p.unshare_cgroupns,
            "v1: cgroupns only after the cgroup is joined"
        );
        assert!(!p.clone_flags.contains(CloneFlags::CLONE_NEWCGROUP));
    }

    #[test]
    fn joins_are_staged_user_first() {
        let c = config(
            r#"[{"type":"network","path":"/n"},{"type":"user","path":"/u"},{"type":"mount"}]"#,
            "",
        );
        let p = plan(&c, true);
        assert!(p.staged);
        assert_eq!(
            p.joins,
            vec![(NsKind::User, "/u".into()), (NsKind::Network, "/n".into())]
        );
        assert_eq!(p.clone_flags, CloneFlags::CLONE_NEWNS);
        assert!(!p.new_userns);
    }

    #[test]
    fn time_offsets_need_a_stage() {
        let c = config(
            r#"[{"type":"time"},{"type":"mount"}]"#,
            r#","timeOffsets":{"monotonic":{"secs":10}}"#,
        );
        assert!(plan(&c, true).staged);
        assert_eq!(c.time_offsets[0].clock, TimeClock::Monotonic);
    }
}
