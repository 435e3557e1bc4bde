//! The mount option table: what each fstab-style option in `mounts[].options` means as
//! mount(2) flags, propagation changes or recursive mount_setattr attributes (as runc and crun
//! interpret them). Anything not in the table is filesystem data (`mode=755`, `size=64k`).

use crate::sys::MountAttr;
use nix::mount::MsFlags;

/// What a single option does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountOpt {
    /// Set (`true`) or clear (`false`) an MS_* flag.
    Flag(bool, MsFlags),
    /// A propagation change applied after the mount.
    Propagation(MsFlags),
    /// A recursive attribute applied with mount_setattr(AT_RECURSIVE).
    RecAttr(MountAttr),
    /// `bind` / `rbind`.
    Bind { recursive: bool },
    /// `tmpcopyup`.
    TmpCopyUp,
    /// Options that only mean something to other tools (`defaults`, `auto`, `_netdev`...).
    Ignored,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const MOUNT_ATTR__ATIME: u64 = 0x70;
const MOUNT_ATTR_RELATIME: u64 = 0x0;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

const fn set(bits: u64) -> MountOpt {
    MountOpt::RecAttr(MountAttr {
        set: bits,
        clear: 0,
    })
}
const fn clr(bits: u64) -> MountOpt {
    MountOpt::RecAttr(MountAttr {
        set: 0,
        clear: bits,
    })
}
const fn atime(bits: u64) -> MountOpt {
    MountOpt::RecAttr(MountAttr {
        set: bits,
        clear: MOUNT_ATTR__ATIME,
    })
}

/// Looks an option up; None means it is filesystem data.
pub fn lookup(opt: &str) -> Option<MountOpt> {
    use MountOpt::{Flag, Propagation};
    let nosymfollow = MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW);
    Some(match opt {
        "defaults" | "auto" | "noauto" | "_netdev" | "nofail" | "user" | "nouser" | "users" => {
            MountOpt::Ignored
        }
        "ro" => Flag(true, MsFlags::MS_RDONLY),
        "rw" => Flag(false, MsFlags::MS_RDONLY),
        "suid" => Flag(false, MsFlags::MS_NOSUID),
        "nosuid" => Flag(true, MsFlags::MS_NOSUID),
        "dev" => Flag(false, MsFlags::MS_NODEV),
        "nodev" => Flag(true, MsFlags::MS_NODEV),
        "exec" => Flag(false, MsFlags::MS_NOEXEC),
        "noexec" => Flag(true, MsFlags::MS_NOEXEC),
        "sync" => Flag(true, MsFlags::MS_SYNCHRONOUS),
        "async" => Flag(false, MsFlags::MS_SYNCHRONOUS),
        "dirsync" => Flag(true, MsFlags::MS_DIRSYNC),
        "remount" => Flag(true, MsFlags::MS_REMOUNT),
        "mand" => Flag(true, MsFlags::MS_MANDLOCK),
        "nomand" => Flag(false, MsFlags::MS_MANDLOCK),
        "atime" => Flag(false, MsFlags::MS_NOATIME),
        "noatime" => Flag(true, MsFlags::MS_NOATIME),
        "diratime" => Flag(false, MsFlags::MS_NODIRATIME),
        "nodiratime" => Flag(true, MsFlags::MS_NODIRATIME),
        "relatime" => Flag(true, MsFlags::MS_RELATIME),
        "norelatime" => Flag(false, MsFlags::MS_RELATIME),
        "strictatime" => Flag(true, MsFlags::MS_STRICTATIME),
        "nostrictatime" => Flag(false, MsFlags::MS_STRICTATIME),
        "lazytime" => Flag(true, MsFlags::MS_LAZYTIME),
        "nolazytime" => Flag(false, MsFlags::MS_LAZYTIME),
        "silent" => Flag(true, MsFlags::MS_SILENT),
        "loud" => Flag(false, MsFlags::MS_SILENT),
        "iversion" => Flag(true, MsFlags::MS_I_VERSION),
        "noiversion" => Flag(false, MsFlags::MS_I_VERSION),
        "symfollow" => Flag(false, nosymfollow),
        "nosymfollow" => Flag(true, nosymfollow),
        "bind" => MountOpt::Bind { recursive: false },
        "rbind" => MountOpt::Bind { recursive: true },
        "private" => Propagation(MsFlags::MS_PRIVATE),
        "rprivate" => Propagation(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
        "shared" => Propagation(MsFlags::MS_SHARED),
        "rshared" => Propagation(MsFlags::MS_SHARED | MsFlags::MS_REC),
        "slave" => Propagation(MsFlags::MS_SLAVE),
        "rslave" => Propagation(MsFlags::MS_SLAVE | MsFlags::MS_REC),
        "unbindable" => Propagation(MsFlags::MS_UNBINDABLE),
        "runbindable" => Propagation(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
        "rro" => set(MOUNT_ATTR_RDONLY),
        "rrw" => clr(MOUNT_ATTR_RDONLY),
        "rnosuid" => set(MOUNT_ATTR_NOSUID),
        "rsuid" => clr(MOUNT_ATTR_NOSUID),
        "rnodev" => set(MOUNT_ATTR_NODEV),
        "rdev" => clr(MOUNT_ATTR_NODEV),
        "rnoexec" => set(MOUNT_ATTR_NOEXEC),
        "rexec" => clr(MOUNT_ATTR_NOEXEC),
        "rnodiratime" => set(MOUNT_ATTR_NODIRATIME),
        "rdiratime" => clr(MOUNT_ATTR_NODIRATIME),
        "rrelatime" => atime(MOUNT_ATTR_RELATIME),
        "rnorelatime" => clr(MOUNT_ATTR__ATIME),
        "rnoatime" => atime(MOUNT_ATTR_NOATIME),
        "ratime" => clr(MOUNT_ATTR_NOATIME),
        "rstrictatime" => atime(MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => clr(MOUNT_ATTR__ATIME),
        "rnosymfollow" => set(MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => clr(MOUNT_ATTR_NOSYMFOLLOW),
        "tmpcopyup" => MountOpt::TmpCopyUp,
        _ => return None,
    })
}

/// Every option name the table knows, for `hull features`.
pub const KNOWN: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_option_is_in_the_table() {
        for opt in KNOWN {
            assert!(lookup(opt).is_some(), "{opt} missing from lookup");
        }
    }

    #[test]
    fn data_options_fall_through() {
        assert_eq!(lookup("mode=755"), None);
        assert_eq!(lookup("size=65536k"), None);
        assert_eq!(lookup("newinstance"), None);
    }

    #[test]
    fn pairs_set_and_clear_the_same_flag() {
        assert_eq!(lookup("ro"), Some(MountOpt::Flag(true, MsFlags::MS_RDONLY)));
        assert_eq!(
            lookup("rw"),
            Some(MountOpt::Flag(false, MsFlags::MS_RDONLY))
        );
        assert_eq!(
            lookup("rslave"),
            Some(MountOpt::Propagation(MsFlags::MS_SLAVE | MsFlags::MS_REC))
        );
    }
}
