//! The overlay rootfs (`spec::overlay`): overlayfs of the image's store layers (read-only)
//! and the bundle's upper and work directories, mounted at the rootfs path inside the
//! container's mount namespace as the first step of `prepare`, so the rootfs bind and
//! pivot_root that follow land on it. Built detached with the new mount API (fsopen,
//! fsconfig one layer at a time with `lowerdir+`, fsmount) and attached with move_mount
//! onto an fd of the rootfs directory.

use super::error::{io, Origin, RootfsError};
use crate::spec::overlay::OverlayRootfs;
use crate::spec::Config;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags};
use std::os::fd::OwnedFd;
use std::path::Path;

const PATH_DIR: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);

/// Mounts the overlay at `config.rootfs` (after `pivot::set_root_propagation`, so it cannot
/// propagate to the host).
pub(super) fn mount(config: &Config, ov: &OverlayRootfs) -> Result<(), RootfsError> {
    let fail = |syscall, what: String, e: Errno| RootfsError::Mount {
        origin: Origin(None),
        what,
        dest: config.rootfs.clone(),
        syscall,
        source: io(e),
    };
    if ov.owned {
        // `delete` removed them with the last container; a new one starts empty.
        for dir in [&ov.upper, &ov.work] {
            match rustix::fs::mkdir(dir, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(fail("mkdir", format!("overlay ({})", dir.display()), e)),
            }
        }
    }
    let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(|e| fail("fsopen", "overlay".into(), e))?;
    let set = |key: &str, value: &str| {
        rustix::mount::fsconfig_set_string(&fs, key, value).map_err(|e| {
            fail(
                "fsconfig",
                format!("overlay ({key} {value}{})", said(&fs)),
                e,
            )
        })
    };
    add_lowers(&fs, &ov.lowers, &set)?;
    set("upperdir", &path_str(&ov.upper))?;
    set("workdir", &path_str(&ov.work))?;
    // No index: the same lower layers serve many overlays at once.
    set("index", "off")?;
    rustix::mount::fsconfig_create(&fs)
        .map_err(|e| fail("fsconfig", format!("overlay (create{})", said(&fs)), e))?;
    let mnt = rustix::mount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())
        .map_err(|e| fail("fsmount", "overlay".into(), e))?;
    let target = rustix::fs::open(&config.rootfs, PATH_DIR, Mode::empty())
        .map_err(|e| fail("open", "overlay".into(), e))?;
    rustix::mount::move_mount(
        &mnt,
        "",
        &target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(|e| fail("move_mount", "overlay".into(), e))
}

/// One `lowerdir+` per layer (Linux 6.8+, no length limit, no escaping); older kernels get
/// the classic colon-joined `lowerdir`.
fn add_lowers(
    fs: &OwnedFd,
    lowers: &[std::path::PathBuf],
    set: &dyn Fn(&str, &str) -> Result<(), RootfsError>,
) -> Result<(), RootfsError> {
    let mut iter = lowers.iter();
    if let Some(first) = iter.next() {
        match rustix::mount::fsconfig_set_string(fs, "lowerdir+", path_str(first).as_str()) {
            Ok(()) => {}
            Err(Errno::INVAL) => {
                let joined: Vec<String> = lowers.iter().map(|l| escape(&path_str(l))).collect();
                return set("lowerdir", &joined.join(":"));
            }
            Err(_) => return set("lowerdir+", &path_str(first)),
        }
    }
    for lower in iter {
        set("lowerdir+", &path_str(lower))?;
    }
    Ok(())
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// overlayfs splits `lowerdir` on `:` and `,`; a backslash escapes them.
fn escape(p: &str) -> String {
    p.replace('\\', "\\\\")
        .replace(':', "\\:")
        .replace(',', "\\,")
}

/// The message the kernel logged on the fs context, as `: message`.
fn said(fs: &OwnedFd) -> String {
    let mut buf = [0u8; 256];
    match rustix::io::read(fs, &mut buf) {
        Ok(n) if n > 2 => format!(": {}", String::from_utf8_lossy(&buf[2..n]).trim_end()),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowerdir_separators_are_escaped() {
        assert_eq!(escape("/a:b,c"), "/a\\:b\\,c");
    }
}
