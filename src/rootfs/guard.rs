//! Pure checks on container paths and the filesystems they resolve to: lexical cleaning
//! for comparisons, which targets inside procfs a mount may cover (runc's checkProcMount),
//! and which filesystem a masked or read-only path must be on. Used by `mount.rs` and
//! `paths.rs` after resolving through `Root`, so the decision is made on what the path
//! really is, not on the configured string.

use std::path::{Component, Path, PathBuf};

/// Lexically cleans a container path: absolute, `.` and `//` dropped, `..` applied and
/// clamped at `/` (as RESOLVE_IN_ROOT treats `..`). For comparisons only; the kernel still
/// resolves the original path.
pub fn lexical_clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Files under /proc a mount may cover (what lxcfs emulates); anything else inside procfs
/// is refused, as runc does, so a volume cannot hide /proc/sys or /proc/self from the LSMs.
const PROC_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
];

/// Whether a mount may land on a target that is on procfs. `proc_root`: the target is
/// the root of a procfs; `source_is_proc`: the step mounts procfs (new or bound).
pub fn procfs_target_allowed(dest: &Path, proc_root: bool, source_is_proc: bool) -> bool {
    if proc_root {
        return source_is_proc;
    }
    let dest = lexical_clean(dest);
    PROC_ALLOWED.iter().any(|p| dest == Path::new(p))
}

/// A statfs f_type as i64 (its C type differs between architectures).
#[allow(clippy::unnecessary_cast)]
pub fn fs_type(s: &rustix::fs::StatFs) -> i64 {
    s.f_type as i64
}

/// procfs' f_type (PROC_SUPER_MAGIC).
pub const PROC_MAGIC: i64 = 0x9fa0;
/// sysfs' f_type (SYSFS_MAGIC).
pub const SYSFS_MAGIC: i64 = 0x6265_6572;

/// The filesystem a masked or read-only path must be on, from its lexical location: under
/// /proc procfs and under /sys sysfs, so a fake /proc or /sys in the image is refused
/// instead of being "protected". Exceptions: the lxcfs files allowed over procfs, and
/// /sys/fs/*, where other pseudo filesystems (cgroup, selinuxfs, bpf) legitimately sit.
pub fn expected_fs(path: &Path) -> Option<(&'static str, i64)> {
    let clean = lexical_clean(path);
    if clean.starts_with("/proc") && !PROC_ALLOWED.iter().any(|p| clean == Path::new(p)) {
        Some(("procfs", PROC_MAGIC))
    } else if clean.starts_with("/sys") && !clean.starts_with("/sys/fs") {
        Some(("sysfs", SYSFS_MAGIC))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_clean_clamps_at_root() {
        assert_eq!(lexical_clean(Path::new("/a/../../b")), Path::new("/b"));
        assert_eq!(lexical_clean(Path::new("a/./b//c/")), Path::new("/a/b/c"));
        assert_eq!(lexical_clean(Path::new("/..")), Path::new("/"));
        assert_eq!(lexical_clean(Path::new("")), Path::new("/"));
    }

    #[test]
    fn procfs_targets() {
        assert!(procfs_target_allowed(Path::new("/proc"), true, true));
        assert!(!procfs_target_allowed(Path::new("/proc"), true, false));
        // A symlink leading onto procfs' root is judged by the resolved target.
        assert!(!procfs_target_allowed(Path::new("/p"), true, false));
        assert!(procfs_target_allowed(
            Path::new("/proc/meminfo"),
            false,
            false
        ));
        assert!(procfs_target_allowed(
            Path::new("/proc/./sys/kernel/ns_last_pid"),
            false,
            false
        ));
        assert!(!procfs_target_allowed(Path::new("/proc/sys"), false, false));
        assert!(!procfs_target_allowed(
            Path::new("/proc/self/attr/exec"),
            false,
            true
        ));
    }

    #[test]
    fn expected_fs_of_protected_paths() {
        assert_eq!(
            expected_fs(Path::new("/proc/kcore")),
            Some(("procfs", PROC_MAGIC))
        );
        assert_eq!(expected_fs(Path::new("/proc/meminfo")), None);
        assert_eq!(
            expected_fs(Path::new("/sys/firmware")),
            Some(("sysfs", SYSFS_MAGIC))
        );
        assert_eq!(expected_fs(Path::new("/sys/fs/selinux")), None);
        assert_eq!(expected_fs(Path::new("/proc/../etc/x")), None);
        assert_eq!(expected_fs(Path::new("/etc/x")), None);
        assert_eq!(expected_fs(Path::new("/procfoo")), None);
    }
}
