//! The rootfs mounts of a create request (the snapshotter's overlay or bind) at
//! `<bundle>/rootfs`, and their removal on delete. Options are split into mount flags and
//! filesystem data by a pure function ([`plan`]); applying is one `mount(2)` each.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::{Path, PathBuf};

/// A rootfs mount failed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// `mount(2)` failed.
    #[error("mount {fstype} {source_path} on {}: {errno}", target.display())]
    Mount {
        /// Filesystem type.
        fstype: String,
        /// Source.
        source_path: String,
        /// Target.
        target: PathBuf,
        /// Why.
        #[source]
        errno: nix::errno::Errno,
    },
    /// The mount point could not be made.
    #[error("mkdir {}: {source}", path.display())]
    Mkdir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The data string is longer than one page, the most mount(2) takes.
    #[error("mount {fstype}: options are {len} bytes, more than mount(2) takes")]
    TooLong {
        /// Filesystem type.
        fstype: String,
        /// Their length.
        len: usize,
    },
}

/// One mount as containerd describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsMount {
    /// `overlay`, `bind`, ...
    pub fstype: String,
    /// The source.
    pub source: String,
    /// Options as strings (`ro`, `rbind`, `lowerdir=...`).
    pub options: Vec<String>,
}

/// The flags and data of one mount, and whether its propagation must be made private
/// afterwards (a bind is made, then remounted read-only in a second call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPlan {
    /// Flags for the first call.
    pub flags: MsFlags,
    /// Filesystem data (comma-joined unknown options).
    pub data: String,
    /// A bind that must be remounted read-only (the kernel ignores MS_RDONLY on a new bind).
    pub remount_ro: bool,
}

/// Splits options into flags and data, as containerd's `mount.parseMountOptions` does.
pub fn plan(m: &RootfsMount) -> MountPlan {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for o in &m.options {
        let (set, clear) = match o.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        flags.insert(set);
        flags.remove(clear);
    }
    if m.fstype == "bind" {
        flags.insert(MsFlags::MS_BIND);
    }
    let remount_ro = flags.contains(MsFlags::MS_BIND) && flags.contains(MsFlags::MS_RDONLY);
    MountPlan {
        flags,
        data: data.join(","),
        remount_ro,
    }
}

/// Mounts every entry at `target` (creating it), in order; on failure, unmounts what was
/// mounted.
pub fn mount_all(mounts: &[RootfsMount], target: &Path) -> Result<(), MountError> {
    std::fs::create_dir_all(target).map_err(|source| MountError::Mkdir {
        path: target.into(),
        source,
    })?;
    for (i, m) in mounts.iter().enumerate() {
        if let Err(e) = mount_one(m, target) {
            for _ in 0..i {
                unmount_all(target);
            }
            return Err(e);
        }
    }
    Ok(())
}

fn mount_one(m: &RootfsMount, target: &Path) -> Result<(), MountError> {
    let p = plan(m);
    // The kernel takes at most one page of data.
    if p.data.len() >= 4096 {
        return Err(MountError::TooLong {
            fstype: m.fstype.clone(),
            len: p.data.len(),
        });
    }
    let err = |errno| MountError::Mount {
        fstype: m.fstype.clone(),
        source_path: m.source.clone(),
        target: target.into(),
        errno,
    };
    let data = (!p.data.is_empty()).then_some(p.data.as_str());
    mount(
        Some(m.source.as_str()),
        target,
        Some(m.fstype.as_str()),
        p.flags,
        data,
    )
    .map_err(err)?;
    if p.remount_ro {
        let flags = p.flags | MsFlags::MS_REMOUNT;
        mount(None::<&str>, target, None::<&str>, flags, None::<&str>).map_err(err)?;
    }
    Ok(())
}

/// Unmounts everything at `target` (lazily, as containerd's `UnmountAll` with MNT_DETACH);
/// nothing mounted there is fine.
pub fn unmount_all(target: &Path) {
    for _ in 0..32 {
        match umount2(target, MntFlags::MNT_DETACH) {
            Ok(()) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(fstype: &str, options: &[&str]) -> RootfsMount {
        RootfsMount {
            fstype: fstype.into(),
            source: "src".into(),
            options: options.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn overlay_options_are_data() {
        let p = plan(&m(
            "overlay",
            &["index=off", "workdir=/w", "upperdir=/u", "lowerdir=/a:/b"],
        ));
        assert_eq!(p.flags, MsFlags::empty());
        assert_eq!(p.data, "index=off,workdir=/w,upperdir=/u,lowerdir=/a:/b");
        assert!(!p.remount_ro);
    }

    #[test]
    fn a_read_only_bind_is_remounted() {
        let p = plan(&m("bind", &["rbind", "ro"]));
        assert!(p
            .flags
            .contains(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert!(p.remount_ro);
        assert_eq!(p.data, "");
    }

    #[test]
    fn later_options_win() {
        let p = plan(&m("overlay", &["ro", "rw", "nodev", "dev", "noexec"]));
        assert_eq!(p.flags, MsFlags::MS_NOEXEC);
    }
}
