//! Pure flag decisions for the mount steps: the MS_* flags of a `mounts` entry as the
//! mount attributes fsmount(2) and mount_setattr(2) take, runc's rules for which flags a bind
//! sets and clears and how the source's locked flags are kept, the superblock options of a
//! new filesystem and the splitting of its data string. Unit-tested; used by `mount.rs`.

use crate::sys::MountAttr;
use nix::mount::MsFlags;

/// MOUNT_ATTR_* values (linux/mount.h).
pub mod attr {
    /// Read-only.
    pub const RDONLY: u64 = 0x1;
    /// Ignore suid and sgid bits.
    pub const NOSUID: u64 = 0x2;
    /// Disallow access to device special files.
    pub const NODEV: u64 = 0x4;
    /// Disallow program execution.
    pub const NOEXEC: u64 = 0x8;
    /// The atime field (one of the three values below).
    pub const ATIME_MASK: u64 = 0x70;
    /// Update atime relative to mtime/ctime (the value 0).
    pub const RELATIME: u64 = 0x0;
    /// Do not update access times.
    pub const NOATIME: u64 = 0x10;
    /// Always update atime.
    pub const STRICTATIME: u64 = 0x20;
    /// Do not update directory access times.
    pub const NODIRATIME: u64 = 0x80;
    /// Do not follow symlinks.
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

fn ms_nosymfollow() -> MsFlags {
    MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW)
}

/// The per-mount flags that are not about atime.
fn plain_flags() -> [(MsFlags, u64); 5] {
    [
        (MsFlags::MS_RDONLY, attr::RDONLY),
        (MsFlags::MS_NOSUID, attr::NOSUID),
        (MsFlags::MS_NODEV, attr::NODEV),
        (MsFlags::MS_NOEXEC, attr::NOEXEC),
        (ms_nosymfollow(), attr::NOSYMFOLLOW),
    ]
}

/// The atime group: the kernel keeps all of it from the old mount on a bind remount that
/// names none of it.
fn atime_group() -> MsFlags {
    MsFlags::MS_NOATIME | MsFlags::MS_RELATIME | MsFlags::MS_STRICTATIME | MsFlags::MS_NODIRATIME
}

/// Flags the kernel locks (MNT_LOCK_*) on mounts inherited by a less privileged user namespace.
fn lockable() -> MsFlags {
    MsFlags::MS_RDONLY | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | atime_group()
}

fn plain_bits(flags: MsFlags) -> u64 {
    plain_flags()
        .iter()
        .filter(|(ms, _)| flags.contains(*ms))
        .fold(0, |acc, (_, a)| acc | a)
}

/// The atime value as mount(2) computes it: strictatime wins, then noatime, else relatime.
fn atime_value(flags: MsFlags) -> u64 {
    if flags.contains(MsFlags::MS_STRICTATIME) {
        attr::STRICTATIME
    } else if flags.contains(MsFlags::MS_NOATIME) {
        attr::NOATIME
    } else {
        attr::RELATIME
    }
}

/// MOUNT_ATTR_* flags for fsmount(2) of a new filesystem with these MS_* flags.
pub fn fsmount_attr(flags: MsFlags) -> u64 {
    let mut bits = plain_bits(flags) | atime_value(flags);
    if flags.contains(MsFlags::MS_NODIRATIME) {
        bits |= attr::NODIRATIME;
    }
    bits
}

/// The mount_setattr change that gives a bind exactly the requested flags, or None when the
/// entry names no flag at all (the bind then keeps the source's flags, as runc does).
///
/// Like runc, a plain bind emulates `mount --bind -o FLAGS` (unrequested per-mount flags
/// are cleared, atime is inherited unless some atime option is given); with the `remount`
/// option only the named flags change (`mount --bind -o remount,FLAGS`).
pub fn bind_attr(flags: MsFlags, clear: MsFlags) -> Option<MountAttr> {
    let only_named = flags.contains(MsFlags::MS_REMOUNT);
    let flags = flags - MsFlags::MS_REMOUNT;
    if flags.is_empty() && clear.is_empty() {
        return None;
    }
    Some(setattr_for(flags, clear, only_named))
}

fn setattr_for(flags: MsFlags, clear: MsFlags, only_named: bool) -> MountAttr {
    let set_plain = plain_bits(flags);
    let clear_plain = if only_named {
        plain_bits(clear)
    } else {
        plain_flags().iter().fold(0, |acc, (_, a)| acc | a) & !set_plain
    };
    let mut out = MountAttr {
        set: set_plain,
        clear: clear_plain,
    };
    if flags.intersects(atime_group()) {
        out.set |= atime_value(flags);
        out.clear |= attr::ATIME_MASK;
        if flags.contains(MsFlags::MS_NODIRATIME) {
            out.set |= attr::NODIRATIME;
        } else {
            out.clear |= attr::NODIRATIME;
        }
    } else if only_named && clear.contains(MsFlags::MS_NODIRATIME) {
        out.clear |= attr::NODIRATIME;
    }
    out
}

/// After EPERM on a bind's flags: the same request with the source's locked flags kept, as
/// runc retries. None when the request itself contradicts a locked flag (it clears one the
/// source has, or asks for a different atime), which must stay an error.
pub fn bind_attr_keeping_locked(
    flags: MsFlags,
    clear: MsFlags,
    source: MsFlags,
) -> Option<MountAttr> {
    let locked = source & lockable();
    if locked.intersects(clear) {
        return None;
    }
    let asked_atime = flags & atime_group();
    if !asked_atime.is_empty() && asked_atime != source & atime_group() {
        return None;
    }
    Some(setattr_for(
        (flags - MsFlags::MS_REMOUNT) | locked,
        clear,
        false,
    ))
}

/// The MS_* flags of a mount as statvfs(2) reports them (`f_flag`), STRICTATIME included
/// when no other atime mode is set (it is not stored, only implied).
pub fn statvfs_flags(f_flag: u64) -> MsFlags {
    const ST_NOSYMFOLLOW: u64 = 0x2000;
    let table = [
        (libc::ST_RDONLY, MsFlags::MS_RDONLY),
        (libc::ST_NOSUID, MsFlags::MS_NOSUID),
        (libc::ST_NODEV, MsFlags::MS_NODEV),
        (libc::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (libc::ST_NOATIME, MsFlags::MS_NOATIME),
        (libc::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (libc::ST_RELATIME, MsFlags::MS_RELATIME),
        (ST_NOSYMFOLLOW, ms_nosymfollow()),
    ];
    let mut out = MsFlags::empty();
    for (st, ms) in table {
        if f_flag & st == st {
            out |= ms;
        }
    }
    if !out.intersects(MsFlags::MS_NOATIME | MsFlags::MS_RELATIME) {
        out |= MsFlags::MS_STRICTATIME;
    }
    out
}

/// Filesystems whose superblock can be shared with the host's mount (or with other
/// containers): their read-only state is set on the mount only, never on the superblock,
/// so a `ro` option can never make the host's /sys or cgroup hierarchies read-only.
fn shared_superblock(fstype: &str) -> bool {
    matches!(
        fstype,
        "proc" | "sysfs" | "cgroup" | "cgroup2" | "mqueue" | "bpf"
    )
}

/// The superblock flags of a new filesystem, as fsconfig(FSCONFIG_SET_FLAG) keys.
pub fn sb_flags(flags: MsFlags, fstype: &str) -> impl Iterator<Item = &'static str> {
    let table = [
        (MsFlags::MS_RDONLY, "ro"),
        (MsFlags::MS_SYNCHRONOUS, "sync"),
        (MsFlags::MS_DIRSYNC, "dirsync"),
        (MsFlags::MS_LAZYTIME, "lazytime"),
    ];
    let shared = shared_superblock(fstype);
    table
        .into_iter()
        .filter(move |(ms, key)| flags.contains(*ms) && !(shared && *key == "ro"))
        .map(|(_, key)| key)
}

/// Splits a mount data string into fsconfig (key, value) pairs. Commas inside double
/// quotes do not split (`context="system_u:object_r:x:s0:c1,c2"`), and one pair of
/// surrounding quotes is removed from a value, as the kernel's mount(2) parser does.
pub fn fs_params(data: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    let mut rest = data;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let mut quoted = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == ',' && !quoted
            })
            .map_or(rest.len(), |(i, _)| i);
        let item = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
        if item.is_empty() {
            continue;
        }
        return Some(match item.split_once('=') {
            Some((k, v)) => {
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                (k, Some(v))
            }
            None => (item, None),
        });
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: u64 = attr::RDONLY | attr::NOSUID | attr::NODEV | attr::NOEXEC | attr::NOSYMFOLLOW;

    #[test]
    fn fsmount_attr_follows_mount2_atime_rules() {
        let f = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        assert_eq!(
            fsmount_attr(f),
            attr::RDONLY | attr::NOSUID | attr::NODEV | attr::NOEXEC
        );
        assert_eq!(fsmount_attr(MsFlags::MS_STRICTATIME), attr::STRICTATIME);
        assert_eq!(fsmount_attr(MsFlags::MS_NOATIME), attr::NOATIME);
        // strictatime wins over noatime, as in path_mount().
        let both = MsFlags::MS_NOATIME | MsFlags::MS_STRICTATIME;
        assert_eq!(fsmount_attr(both), attr::STRICTATIME);
        assert_eq!(fsmount_attr(MsFlags::MS_NODIRATIME), attr::NODIRATIME);
        assert_eq!(fsmount_attr(MsFlags::empty()), attr::RELATIME);
    }

    #[test]
    fn bind_without_options_keeps_source_flags() {
        assert_eq!(bind_attr(MsFlags::empty(), MsFlags::empty()), None);
    }

    #[test]
    fn bind_sets_exactly_the_requested_flags() {
        let a = bind_attr(MsFlags::MS_RDONLY, MsFlags::empty()).unwrap();
        assert_eq!(a.set, attr::RDONLY);
        assert_eq!(a.clear, PLAIN & !attr::RDONLY);
        // No atime option: atime is inherited, not touched.
        assert_eq!(a.clear & attr::ATIME_MASK, 0);
        // `rw` alone still means "exactly these flags".
        let rw = bind_attr(MsFlags::empty(), MsFlags::MS_RDONLY).unwrap();
        assert_eq!((rw.set, rw.clear), (0, PLAIN));
    }

    #[test]
    fn bind_atime_options_replace_the_whole_atime_group() {
        let a = bind_attr(MsFlags::MS_NOATIME, MsFlags::empty()).unwrap();
        assert_eq!(a.set, attr::NOATIME);
        assert_eq!(a.clear, PLAIN | attr::ATIME_MASK | attr::NODIRATIME);
        let d = bind_attr(MsFlags::MS_NODIRATIME, MsFlags::empty()).unwrap();
        assert_eq!(d.set, attr::RELATIME | attr::NODIRATIME);
        assert_eq!(d.clear & attr::NODIRATIME, 0);
    }

    #[test]
    fn bind_remount_changes_only_named_flags() {
        let a = bind_attr(MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID, MsFlags::MS_RDONLY).unwrap();
        assert_eq!((a.set, a.clear), (attr::NOSUID, attr::RDONLY));
    }

    #[test]
    fn locked_flags_are_kept_on_retry() {
        let source = MsFlags::MS_RDONLY | MsFlags::MS_NODEV | MsFlags::MS_RELATIME;
        let a = bind_attr_keeping_locked(MsFlags::MS_NOSUID, MsFlags::empty(), source).unwrap();
        assert_eq!(
            a.set & PLAIN,
            attr::NOSUID | attr::RDONLY | attr::NODEV,
            "{a:?}"
        );
        assert_eq!(a.clear & (attr::RDONLY | attr::NODEV), 0);
        assert_eq!(a.clear & attr::NOEXEC, attr::NOEXEC);
        assert_eq!(a.set & attr::ATIME_MASK, attr::RELATIME);
    }

    #[test]
    fn requests_against_locked_flags_stay_errors() {
        let source = MsFlags::MS_RDONLY | MsFlags::MS_RELATIME;
        // `rw` on a locked read-only source.
        assert_eq!(
            bind_attr_keeping_locked(MsFlags::empty(), MsFlags::MS_RDONLY, source),
            None
        );
        // Another atime mode than the locked one.
        assert_eq!(
            bind_attr_keeping_locked(MsFlags::MS_NOATIME, MsFlags::empty(), source),
            None
        );
        // The same atime mode is fine.
        assert!(bind_attr_keeping_locked(MsFlags::MS_RELATIME, MsFlags::empty(), source).is_some());
    }

    #[test]
    fn statvfs_flags_imply_strictatime() {
        let f = statvfs_flags(libc::ST_RDONLY | libc::ST_NOSUID | libc::ST_RELATIME);
        assert_eq!(
            f,
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_RELATIME
        );
        assert_eq!(statvfs_flags(0), MsFlags::MS_STRICTATIME);
        assert_eq!(statvfs_flags(libc::ST_NOATIME), MsFlags::MS_NOATIME);
    }

    #[test]
    fn superblock_ro_never_on_shared_superblocks() {
        let f = MsFlags::MS_RDONLY | MsFlags::MS_SYNCHRONOUS | MsFlags::MS_NOSUID;
        assert_eq!(sb_flags(f, "tmpfs").collect::<Vec<_>>(), ["ro", "sync"]);
        assert_eq!(sb_flags(f, "sysfs").collect::<Vec<_>>(), ["sync"]);
        assert_eq!(sb_flags(f, "cgroup").collect::<Vec<_>>(), ["sync"]);
        assert_eq!(sb_flags(MsFlags::empty(), "tmpfs").count(), 0);
    }

    #[test]
    fn data_splits_into_fsconfig_pairs() {
        let v: Vec<_> = fs_params("mode=755,size=65536k").collect();
        assert_eq!(v, [("mode", Some("755")), ("size", Some("65536k"))]);
        let v: Vec<_> = fs_params("newinstance,,ptmxmode=0666,").collect();
        assert_eq!(v, [("newinstance", None), ("ptmxmode", Some("0666"))]);
        let v: Vec<_> = fs_params(r#"mode=1,context="system_u:object_r:x:s0:c1,c2""#).collect();
        assert_eq!(
            v,
            [
                ("mode", Some("1")),
                ("context", Some("system_u:object_r:x:s0:c1,c2"))
            ]
        );
        assert_eq!(fs_params("").count(), 0);
        let v: Vec<_> = fs_params("upperdir=/a=b").collect();
        assert_eq!(v, [("upperdir", Some("/a=b"))]);
    }
}
