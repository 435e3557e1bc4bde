//! SELinux: whether the host has it, and `process.selinuxLabel` as the context the container
//! process gets at execve (written to its own /proc attr/exec, as runc's SetExecLabel).
//! `linux.mountLabel` is applied by `rootfs` as the `context=` option of each mount that
//! takes one; here only the host check concerns it.

use super::lsm::AttrWrite;

/// Where selinuxfs is mounted when SELinux is on.
const SELINUXFS: &str = "/sys/fs/selinux";

/// The attr file for the exec context (SELinux has no LSM-specific directory for it).
pub const EXEC_ATTR: &[&str] = &["attr/exec"];

/// selinuxfs' statfs f_type (SELINUX_MAGIC).
const SELINUX_MAGIC: i64 = 0xf97c_ff8c;

/// Whether the host has SELinux enabled.
pub fn enabled() -> bool {
    #[allow(clippy::unnecessary_cast)]
    let magic = rustix::fs::statfs(SELINUXFS).ok().map(|s| s.f_type as i64);
    let enforce = std::path::Path::new(SELINUXFS).join("enforce").is_file();
    is_enabled(magic, enforce)
}

/// Pure: selinuxfs is mounted at /sys/fs/selinux (not just an empty directory) and has its
/// `enforce` file.
pub fn is_enabled(fs_magic: Option<i64>, has_enforce: bool) -> bool {
    fs_magic == Some(SELINUX_MAGIC) && has_enforce
}

/// The write that gives the next execve `label`.
pub fn exec_write(label: &str) -> AttrWrite {
    AttrWrite {
        field: "process.selinuxLabel",
        files: EXEC_ATTR,
        value: label.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_needs_selinuxfs_mounted() {
        assert!(is_enabled(Some(SELINUX_MAGIC), true));
        // An empty /sys/fs/selinux directory on sysfs is not SELinux.
        assert!(!is_enabled(Some(0x6265_6572), false));
        assert!(!is_enabled(None, false));
        assert!(!is_enabled(Some(SELINUX_MAGIC), false));
    }

    #[test]
    fn label_is_written_verbatim() {
        let w = exec_write("system_u:system_r:container_t:s0");
        assert_eq!(w.value, b"system_u:system_r:container_t:s0");
        assert_eq!(w.files, ["attr/exec"]);
    }
}
