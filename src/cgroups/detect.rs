//! Which cgroup layout the host has (unified, hybrid, legacy) and where each hierarchy is
//! mounted, from one read of /proc/self/mountinfo. The first step of `cgroups::new` and
//! `cgroups::from_record`; parsing is pure and unit-tested on samples of each layout.

use super::{CgroupError, HierarchyFs};
use std::path::{Path, PathBuf};

/// The cgroup layout of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// cgroup2 only (at /sys/fs/cgroup): the v2 manager.
    Unified,
    /// v1 controllers plus a cgroup2 hierarchy without controllers (/sys/fs/cgroup/unified).
    Hybrid,
    /// v1 controllers only.
    Legacy,
}

/// One mounted hierarchy hull uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// The mountinfo `root` field: which cgroup of the hierarchy the mount shows.
    pub root: String,
    /// v1 (with its controllers) or v2.
    pub fs: HierarchyFs,
    /// The v1 controllers (`cpu`, `cpuacct`), with `name=systemd` for named hierarchies;
    /// empty for cgroup2.
    pub controllers: Vec<String>,
}

impl Mount {
    /// Whether this v1 hierarchy carries a controller (or name, e.g. `name=systemd`).
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// A short name for messages: the controllers or `unified`.
    pub fn label(&self) -> String {
        match &self.fs {
            HierarchyFs::V1 { options } => options.clone(),
            HierarchyFs::V2 => "unified".into(),
        }
    }
}

/// The host's layout and the hierarchies hull puts a container into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The layout.
    pub kind: HostKind,
    /// v1 hierarchies in mount order, then the cgroup2 hierarchy (if mounted).
    pub mounts: Vec<Mount>,
}

/// v1 controllers the kernel can have (Documentation/admin-guide/cgroup-v1); other super
/// options of a cgroup mount (`rw`, `xattr`, `release_agent=`...) are not controllers.
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// The only named v1 hierarchy hull joins, as runc does; other named hierarchies belong to
/// other tools.
const SYSTEMD_NAME: &str = "name=systemd";

/// Reads /proc/self/mountinfo and classifies the host.
pub fn detect() -> Result<Host, CgroupError> {
    let path = Path::new("/proc/self/mountinfo");
    let text = std::fs::read_to_string(path).map_err(|source| CgroupError::ReadProc {
        path: path.into(),
        source,
    })?;
    parse_host(&text).ok_or(CgroupError::NoCgroupFs)
}

/// Classifies the host from mountinfo text; None when no cgroup hierarchy is mounted.
pub fn parse_host(mountinfo: &str) -> Option<Host> {
    let mut v1: Vec<Mount> = Vec::new();
    let mut v2: Option<Mount> = None;
    for line in mountinfo.lines() {
        let Some(m) = parse_line(line) else { continue };
        match m.fs {
            HierarchyFs::V2 => {
                // The same hierarchy can be mounted twice (bind mounts, containers): the
                // canonical place wins, else the first seen.
                let better = match &v2 {
                    None => true,
                    Some(old) => !is_canonical(old) && is_canonical(&m),
                };
                if better {
                    v2 = Some(m);
                }
            }
            HierarchyFs::V1 { .. } => {
                if !v1.iter().any(|o| o.controllers == m.controllers) {
                    v1.push(m);
                }
            }
        }
    }
    let kind = match (&v2, v1.is_empty()) {
        (None, true) => return None,
        (Some(m), _) if is_canonical(m) => HostKind::Unified,
        (Some(_), true) => HostKind::Unified,
        (Some(_), false) => HostKind::Hybrid,
        (None, false) => HostKind::Legacy,
    };
    let mut mounts = if kind == HostKind::Unified {
        Vec::new()
    } else {
        v1
    };
    mounts.extend(v2);
    Some(Host { kind, mounts })
}

/// One mountinfo line if it is a cgroup hierarchy hull uses.
///
/// Format (proc(5)): `id parent major:minor root mountpoint options [optional...] - fstype
/// source super_options`; paths escape space, tab, newline and backslash as octal.
fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let root = unescape(l.nth(3)?);
    let mountpoint = PathBuf::from(unescape(l.next()?));
    let mut r = right.split(' ');
    let fstype = r.next()?;
    let _source = r.next()?;
    let super_opts = r.next().unwrap_or("");
    match fstype {
        "cgroup2" => Some(Mount {
            mountpoint,
            root,
            fs: HierarchyFs::V2,
            controllers: Vec::new(),
        }),
        "cgroup" => {
            let controllers: Vec<String> = super_opts
                .split(',')
                .filter(|o| V1_CONTROLLERS.contains(o) || *o == SYSTEMD_NAME)
                .map(String::from)
                .collect();
            // A named hierarchy of another tool (name=elogind...) or a mount of nothing
            // hull knows.
            if controllers.is_empty() {
                return None;
            }
            Some(Mount {
                mountpoint,
                root,
                fs: HierarchyFs::V1 {
                    options: controllers.join(","),
                },
                controllers,
            })
        }
        _ => None,
    }
}

/// Whether a cgroup2 mount is at the place a unified host has it.
fn is_canonical(m: &Mount) -> bool {
    m.mountpoint == Path::new("/sys/fs/cgroup")
}

/// Undoes mountinfo's octal escapes (`\040` for space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|o| o.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(o) if b[i] == b'\\' => {
                out.push(o.iter().fold(0u8, |v, c| v.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const UNIFIED: &str = "\
25 18 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    // A Debian 10 style legacy host: joint cpu,cpuacct, a foreign named hierarchy, and a
    // container's bind of the memory hierarchy that must not be counted twice.
    const LEGACY: &str = "\
26 18 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:5 - tmpfs tmpfs ro,mode=755
27 26 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:6 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
30 26 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
31 26 0:28 /docker/abc /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
32 26 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,net_cls,net_prio
33 26 0:30 / /sys/fs/cgroup/elogind rw - cgroup cgroup rw,name=elogind
34 18 0:28 / /mnt/mem\\040x rw - cgroup cgroup rw,memory
";

    #[test]
    fn hybrid_host() {
        let h = parse_host(HYBRID).unwrap();
        assert_eq!(h.kind, HostKind::Hybrid);
        assert_eq!(h.mounts.len(), 10);
        assert_eq!(h.mounts[0].mountpoint, Path::new("/sys/fs/cgroup/cpu"));
        assert_eq!(h.mounts[8].controllers, vec!["name=systemd"]);
        let last = h.mounts.last().unwrap();
        assert_eq!(last.fs, HierarchyFs::V2);
        assert_eq!(last.mountpoint, Path::new("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn unified_host() {
        let h = parse_host(UNIFIED).unwrap();
        assert_eq!(h.kind, HostKind::Unified);
        assert_eq!(h.mounts.len(), 1);
        assert_eq!(h.mounts[0].mountpoint, Path::new("/sys/fs/cgroup"));
        assert_eq!(h.mounts[0].root, "/");
    }

    #[test]
    fn legacy_host() {
        let h = parse_host(LEGACY).unwrap();
        assert_eq!(h.kind, HostKind::Legacy);
        let labels: Vec<String> = h.mounts.iter().map(Mount::label).collect();
        assert_eq!(
            labels,
            ["name=systemd", "cpu,cpuacct", "memory", "net_cls,net_prio"]
        );
        assert_eq!(h.mounts[2].root, "/docker/abc");
        assert!(h.mounts[1].has("cpuacct"));
        assert!(!h.mounts[1].has("cpuset"));
    }

    #[test]
    fn nothing_mounted() {
        assert_eq!(parse_host("22 1 0:21 / /sys rw - sysfs sysfs rw\n"), None);
        assert_eq!(parse_host("garbage\n\n"), None);
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape("/mnt/mem\\040x"), "/mnt/mem x");
        assert_eq!(unescape("/a\\134b"), "/a\\b");
        assert_eq!(unescape("/trailing\\"), "/trailing\\");
        assert_eq!(unescape("/bad\\09"), "/bad\\09");
    }
}
