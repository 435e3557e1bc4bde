//! hull's internal container configuration: `config.json` validated and converted once
//! (in `convert.rs`), so the create path works on resolved values (flags, ids, paths) and
//! never re-parses strings after fork.

use nix::mount::MsFlags;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything `create` needs, resolved from the bundle's `config.json`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ociVersion` as written in the bundle.
    pub oci_version: String,
    /// Absolute path of the bundle directory.
    pub bundle: PathBuf,
    /// Absolute host path of the root filesystem (`root.path` resolved against the bundle).
    pub rootfs: PathBuf,
    /// `root.readonly`.
    pub readonly_root: bool,
    /// `hostname`, set when a new UTS namespace is created.
    pub hostname: Option<String>,
    /// `domainname`, set when a new UTS namespace is created.
    pub domainname: Option<String>,
    /// `mounts`, in order.
    pub mounts: Vec<MountEntry>,
    /// `process`.
    pub process: ProcessConfig,
    /// `hooks`.
    pub hooks: HooksConfig,
    /// `annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `linux.namespaces`, in the spec's order.
    pub namespaces: Vec<NamespaceEntry>,
    /// `linux.uidMappings`.
    pub uid_mappings: Vec<IdMap>,
    /// `linux.gidMappings`.
    pub gid_mappings: Vec<IdMap>,
    /// `linux.timeOffsets` for the time namespace.
    pub time_offsets: Vec<TimeOffset>,
    /// `linux.devices`.
    pub devices: Vec<DeviceNode>,
    /// `linux.cgroupsPath`, validated (no `..`, no NUL); None when absent.
    pub cgroups_path: Option<String>,
    /// `linux.resources`, applied by the cgroup manager.
    pub resources: Option<oci_spec::runtime::LinuxResources>,
    /// `linux.rootfsPropagation` as mount flags (default: recursive slave).
    pub rootfs_propagation: MsFlags,
    /// `linux.maskedPaths` (container paths).
    pub masked_paths: Vec<PathBuf>,
    /// `linux.readonlyPaths` (container paths).
    pub readonly_paths: Vec<PathBuf>,
    /// `linux.sysctl`, sorted by key.
    pub sysctl: Vec<(String, String)>,
    /// `linux.mountLabel`.
    pub mount_label: Option<String>,
    /// `linux.personality` as the persona value for personality(2).
    pub personality: Option<u64>,
    /// `linux.seccomp`, compiled by `security::seccomp` before the fork.
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// PID 1 is hull's built-in init (annotation `run.oci.hull.init=true` or `run --init`).
    pub pid1: bool,
    /// An overlayfs rootfs of image layers (annotations of `spec::overlay`), mounted at
    /// `rootfs` before pivot_root.
    pub overlay: Option<super::overlay::OverlayRootfs>,
}

impl Config {
    /// The namespace entry of a kind, if the spec lists it.
    pub fn namespace(&self, kind: NsKind) -> Option<&NamespaceEntry> {
        self.namespaces.iter().find(|n| n.kind == kind)
    }

    /// Whether the container gets a namespace of this kind (new or joined).
    pub fn has_namespace(&self, kind: NsKind) -> bool {
        self.namespace(kind).is_some()
    }

    /// Whether hull must re-execute from a sealed copy before running code the container's
    /// processes could reach (CVE-2019-5736, see `security::exe_seal`). Every process hull
    /// forks into a container is non-dumpable, so only a holder of CAP_SYS_PTRACE in the
    /// host's user namespace can open its `/proc/<pid>/exe`. During create that matters where
    /// other processes can see the init: the built-in PID 1 (it lives on), or a pid
    /// namespace that is shared or absent (its other processes' capabilities are unknown).
    pub fn exposes_runtime(&self) -> bool {
        if !self.creates_namespace(NsKind::Pid) {
            return true;
        }
        self.pid1 && self.may_ptrace(&self.process)
    }

    /// Whether a process of this container running `p` could hold CAP_SYS_PTRACE in the host's
    /// user namespace: no user namespace of its own, and the capability in its bounding set
    /// (or no capability list at all, which keeps the caller's full set).
    pub fn may_ptrace(&self, p: &ProcessConfig) -> bool {
        if self.has_namespace(NsKind::User) {
            return false;
        }
        p.capabilities
            .as_ref()
            .is_none_or(|c| c.bounding.contains(&caps::Capability::CAP_SYS_PTRACE))
    }

    /// Whether the container creates a new namespace of this kind (listed without a path).
    pub fn creates_namespace(&self, kind: NsKind) -> bool {
        self.namespace(kind).is_some_and(|n| n.path.is_none())
    }
}

/// A namespace type, as the spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NsKind {
    /// `user`
    User,
    /// `mount`
    Mount,
    /// `pid`
    Pid,
    /// `network`
    Network,
    /// `ipc`
    Ipc,
    /// `uts`
    Uts,
    /// `cgroup`
    Cgroup,
    /// `time`
    Time,
}

impl NsKind {
    /// The CLONE_NEW* flag of this namespace type.
    pub fn clone_flag(self) -> nix::sched::CloneFlags {
        use nix::sched::CloneFlags as F;
        match self {
            NsKind::User => F::CLONE_NEWUSER,
            NsKind::Mount => F::CLONE_NEWNS,
            NsKind::Pid => F::CLONE_NEWPID,
            NsKind::Network => F::CLONE_NEWNET,
            NsKind::Ipc => F::CLONE_NEWIPC,
            NsKind::Uts => F::CLONE_NEWUTS,
            NsKind::Cgroup => F::CLONE_NEWCGROUP,
            NsKind::Time => F::from_bits_retain(libc::CLONE_NEWTIME),
        }
    }

    /// The file name under `/proc/<pid>/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            NsKind::User => "user",
            NsKind::Mount => "mnt",
            NsKind::Pid => "pid",
            NsKind::Network => "net",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
        }
    }

    /// The spec's name (`linux.namespaces[].type`).
    pub fn spec_name(self) -> &'static str {
        match self {
            NsKind::Network => "network",
            NsKind::Mount => "mount",
            other => other.proc_name(),
        }
    }

    /// Every kind, in the order hull joins namespaces given by path: user first so the
    /// others are entered with its privileges, mount last among the ones that change what
    /// paths mean.
    pub const JOIN_ORDER: [NsKind; 8] = [
        NsKind::User,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::Network,
        NsKind::Pid,
        NsKind::Cgroup,
        NsKind::Time,
        NsKind::Mount,
    ];
}

/// One entry of `linux.namespaces`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceEntry {
    /// The namespace type.
    pub kind: NsKind,
    /// A namespace file to join (setns) instead of creating a new namespace.
    pub path: Option<PathBuf>,
}

/// One line of a uid_map or gid_map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    /// First id inside the user namespace.
    pub container_id: u32,
    /// First id outside (on the host).
    pub host_id: u32,
    /// Number of ids mapped.
    pub size: u32,
}

/// A clock offset of the time namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOffset {
    /// `monotonic` or `boottime`.
    pub clock: TimeClock,
    /// Whole seconds.
    pub secs: i64,
    /// Additional nanoseconds.
    pub nanos: u32,
}

/// A clock a time namespace can offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeClock {
    /// CLOCK_MONOTONIC
    Monotonic,
    /// CLOCK_BOOTTIME
    Boottime,
}

/// What kind of mount an entry of `mounts` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A bind mount (`bind` or `rbind` in options, or type `bind`).
    Bind {
        /// `rbind`: submounts come along.
        recursive: bool,
    },
    /// A new filesystem instance of this type (`proc`, `tmpfs`, `sysfs`, `cgroup`, ...).
    Fs(String),
}

/// One entry of `mounts`, with its options parsed into flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Absolute, cleaned path inside the container. Untrusted: resolve only via `rootfs::Root`.
    pub destination: PathBuf,
    /// `source`: a host path for binds (resolved against the bundle when relative), a
    /// device or a label otherwise.
    pub source: Option<PathBuf>,
    /// Bind or new filesystem.
    pub kind: MountKind,
    /// MS_* flags to set (ro, nosuid, nodev, noexec, relatime, ...).
    pub flags: MsFlags,
    /// MS_* flags the options explicitly clear (rw, suid, dev, exec, ...).
    pub clear: MsFlags,
    /// Propagation changes to apply after mounting, in order (MS_SHARED, MS_REC|MS_SLAVE, ...).
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes (`rro`, `rnosuid`, ...) applied with mount_setattr(AT_RECURSIVE).
    pub rec_attr: crate::sys::MountAttr,
    /// Filesystem-specific options, comma-joined (`mode=755,size=65536k`).
    pub data: String,
    /// `tmpcopyup`: copy the lower directory's contents into a new tmpfs.
    pub tmpcopyup: bool,
}

/// The `process` object, resolved.
#[derive(Debug, Clone, Default)]
pub struct ProcessConfig {
    /// `terminal`: give the process a pty whose master goes to the console socket.
    pub terminal: bool,
    /// `consoleSize` as (height, width).
    pub console_size: Option<(u16, u16)>,
    /// `args`; never empty after validation.
    pub args: Vec<String>,
    /// `env`, as `KEY=value` strings.
    pub env: Vec<String>,
    /// `cwd`, absolute. Untrusted: resolved inside the rootfs.
    pub cwd: PathBuf,
    /// `user`.
    pub user: UserConfig,
    /// `capabilities`; None keeps whatever the runtime has (runc's behaviour).
    pub capabilities: Option<CapSets>,
    /// `rlimits`.
    pub rlimits: Vec<Rlimit>,
    /// `noNewPrivileges`.
    pub no_new_privileges: bool,
    /// `oomScoreAdj`.
    pub oom_score_adj: Option<i32>,
    /// `ioPriority` as (class, level).
    pub io_priority: Option<(i32, i32)>,
    /// `scheduler`.
    pub scheduler: Option<crate::sys::SchedAttr>,
    /// `apparmorProfile`.
    pub apparmor_profile: Option<String>,
    /// `selinuxLabel`.
    pub selinux_label: Option<String>,
}

impl ProcessConfig {
    /// The value of an environment variable in `env`.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }
}

/// `process.user`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserConfig {
    /// uid inside the container.
    pub uid: u32,
    /// gid inside the container.
    pub gid: u32,
    /// `umask`; None keeps 0022 (runc's default).
    pub umask: Option<u32>,
    /// `additionalGids`.
    pub additional_gids: Vec<u32>,
}

/// The five capability sets, as kernel capability numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapSets {
    /// Bounding set.
    pub bounding: caps::CapsHashSet,
    /// Effective set.
    pub effective: caps::CapsHashSet,
    /// Inheritable set.
    pub inheritable: caps::CapsHashSet,
    /// Permitted set.
    pub permitted: caps::CapsHashSet,
    /// Ambient set.
    pub ambient: caps::CapsHashSet,
}

/// One `process.rlimits` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// RLIMIT_* resource number.
    pub resource: i32,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

/// A hook from `hooks`, kept in state.json for the ones run after create (poststop).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    /// Absolute path of the executable.
    pub path: PathBuf,
    /// argv, including `argv[0]`; defaults to the path.
    pub args: Vec<String>,
    /// Environment, `KEY=value`.
    pub env: Vec<String>,
    /// Timeout in seconds.
    pub timeout: Option<u32>,
}

/// The hook lists, by the point in the lifecycle where they run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HooksConfig {
    /// `prestart` (deprecated, runs with createRuntime).
    pub prestart: Vec<Hook>,
    /// `createRuntime`: runtime namespace, after namespaces exist, before pivot_root.
    pub create_runtime: Vec<Hook>,
    /// `createContainer`: container namespaces, before pivot_root.
    pub create_container: Vec<Hook>,
    /// `startContainer`: in the container, right before the user process.
    pub start_container: Vec<Hook>,
    /// `poststart`: runtime namespace, after start.
    pub poststart: Vec<Hook>,
    /// `poststop`: runtime namespace, on delete.
    pub poststop: Vec<Hook>,
}

/// The type of a device node in `linux.devices`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// `c` or `u`.
    Char,
    /// `b`.
    Block,
    /// `p`.
    Fifo,
}

/// A device node to create in the container's /dev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Absolute path inside the container (under /dev).
    pub path: PathBuf,
    /// Node type.
    pub kind: DeviceKind,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits (default 0666).
    pub mode: u32,
    /// Owner uid inside the container.
    pub uid: u32,
    /// Owner gid inside the container.
    pub gid: u32,
}
