//! The LSM step of the create and exec paths: which Linux security modules the host has (so
//! a config asking for one it lacks is refused before anything is created), and the exec
//! label of the container process, written to its own procfs attr file so the kernel applies
//! it at execve. The plan (which file, which bytes) is pure; `apply` only opens and writes.

use super::{apparmor, selinux};
use crate::spec::{ProcessConfig, SpecError};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::os::fd::OwnedFd;

/// A Linux security module a config can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lsm {
    /// `process.apparmorProfile`.
    AppArmor,
    /// `process.selinuxLabel`, `linux.mountLabel`.
    SeLinux,
}

impl Lsm {
    /// Its usual name.
    pub fn name(self) -> &'static str {
        match self {
            Lsm::AppArmor => "AppArmor",
            Lsm::SeLinux => "SELinux",
        }
    }
}

/// The LSMs this host has enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostLsm {
    /// AppArmor is enabled and its securityfs directory exists.
    pub apparmor: bool,
    /// selinuxfs is mounted at /sys/fs/selinux.
    pub selinux: bool,
}

impl HostLsm {
    /// Probes the host (a few sysfs reads).
    pub fn detect() -> HostLsm {
        HostLsm {
            apparmor: apparmor::enabled(),
            selinux: selinux::enabled(),
        }
    }

    /// Why `lsm` cannot be used here, or None when it can.
    pub fn missing(&self, lsm: Lsm) -> Option<&'static str> {
        match lsm {
            Lsm::AppArmor if !self.apparmor => {
                Some("AppArmor is not enabled on this host (no /sys/kernel/security/apparmor)")
            }
            Lsm::SeLinux if !self.selinux => {
                Some("SELinux is not enabled on this host (no selinuxfs at /sys/fs/selinux)")
            }
            _ => None,
        }
    }

    /// Fails naming `field` when it asks for an LSM the host lacks.
    pub fn require(&self, field: &str, lsm: Lsm) -> Result<(), LsmError> {
        match self.missing(lsm) {
            Some(reason) => Err(LsmError::NotEnabled {
                field: field.to_string(),
                reason,
            }),
            None => Ok(()),
        }
    }
}

/// The labels of a process, each with the spec field (or exec flag) that set it.
pub fn requests(p: &ProcessConfig) -> Vec<(&'static str, Lsm)> {
    let mut out = Vec::new();
    if p.apparmor_profile.as_deref().is_some_and(|s| !s.is_empty()) {
        out.push(("process.apparmorProfile", Lsm::AppArmor));
    }
    if p.selinux_label.as_deref().is_some_and(|s| !s.is_empty()) {
        out.push(("process.selinuxLabel", Lsm::SeLinux));
    }
    out
}

/// Refuses, naming the field, a label of the container (`process`, and `linux.mountLabel`)
/// that `host` cannot apply: create checks this before anything exists, rather than failing
/// in the init or passing a mount option the kernel ignores.
pub fn check_config(
    process: &ProcessConfig,
    mount_label: Option<&str>,
    host: HostLsm,
) -> Result<(), SpecError> {
    let mut asked = requests(process);
    if mount_label.is_some_and(|s| !s.is_empty()) {
        asked.push(("linux.mountLabel", Lsm::SeLinux));
    }
    for (field, lsm) in asked {
        if let Some(reason) = host.missing(lsm) {
            return Err(SpecError::invalid(field, reason));
        }
    }
    Ok(())
}

/// One write of an exec label: the first of `files` (relative to `/proc/<pid>`) that exists
/// gets `value` in a single write(2), as procfs attr files require.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrWrite {
    /// The spec field the label comes from.
    pub field: &'static str,
    /// Candidate files, most specific first.
    pub files: &'static [&'static str],
    /// The bytes to write.
    pub value: Vec<u8>,
}

/// The writes that label `p`'s next execve.
pub fn plan(p: &ProcessConfig) -> Vec<AttrWrite> {
    let mut out = Vec::new();
    if let Some(profile) = p.apparmor_profile.as_deref().filter(|s| !s.is_empty()) {
        out.push(apparmor::exec_write(profile));
    }
    if let Some(label) = p.selinux_label.as_deref().filter(|s| !s.is_empty()) {
        out.push(selinux::exec_write(label));
    }
    out
}

/// Sets the exec labels of the calling process (the init or tenant, in the container's mount
/// and pid namespaces, after pivot_root): they take effect at its execve.
pub fn apply(p: &ProcessConfig) -> Result<(), LsmError> {
    let writes = plan(p);
    if writes.is_empty() {
        return Ok(());
    }
    let proc = open_procfs()?;
    writes.iter().try_for_each(|w| write_attr(&proc, w))
}

/// The container's /proc, refused unless it really is procfs: an image or a process in the
/// container could put a directory, a symlink or a tmpfs there, and a label written into a
/// plain file is a label silently not applied (CVE-2019-16884).
fn open_procfs() -> Result<OwnedFd, LsmError> {
    let path = "/proc";
    let fd = rustix::fs::openat2(
        rustix::fs::CWD,
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| LsmError::Open {
        path: path.into(),
        source: e.into(),
    })?;
    ensure_procfs(&fd, path)?;
    Ok(fd)
}

fn ensure_procfs(fd: &OwnedFd, path: &str) -> Result<(), LsmError> {
    let st = rustix::fs::fstatfs(fd).map_err(|e| LsmError::Open {
        path: path.into(),
        source: e.into(),
    })?;
    #[allow(clippy::unnecessary_cast)]
    let (magic, proc) = (st.f_type as i64, rustix::fs::PROC_SUPER_MAGIC as i64);
    if magic == proc {
        Ok(())
    } else {
        Err(LsmError::NotProcfs {
            path: path.into(),
            magic,
        })
    }
}

/// Opens `/proc/<pid>/<file>` for the first candidate that exists, beneath the procfs root
/// without crossing a mount or following a link (so nothing mounted over the attr file in
/// the container can take the write), and writes the label in one call.
fn write_attr(proc: &OwnedFd, w: &AttrWrite) -> Result<(), LsmError> {
    let pid = rustix::process::getpid().as_raw_nonzero();
    let resolve = ResolveFlags::BENEATH
        | ResolveFlags::NO_SYMLINKS
        | ResolveFlags::NO_MAGICLINKS
        | ResolveFlags::NO_XDEV;
    let flags = OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let mut tried = Vec::new();
    for file in w.files {
        let rel = format!("{pid}/{file}");
        let path = format!("/proc/{rel}");
        let fd = match rustix::fs::openat2(proc, rel.as_str(), flags, Mode::empty(), resolve) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => {
                tried.push(path);
                continue;
            }
            Err(e) => {
                return Err(LsmError::Open {
                    path,
                    source: e.into(),
                })
            }
        };
        ensure_procfs(&fd, &path)?;
        return match rustix::io::write(&fd, &w.value) {
            Ok(n) if n == w.value.len() => Ok(()),
            Ok(_) => Err(LsmError::Write {
                field: w.field,
                path,
                source: std::io::ErrorKind::WriteZero.into(),
            }),
            Err(e) => Err(LsmError::Write {
                field: w.field,
                path,
                source: e.into(),
            }),
        };
    }
    Err(LsmError::Open {
        path: tried.join(" or "),
        source: std::io::Error::from_raw_os_error(libc::ENOENT),
    })
}

/// A label that cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum LsmError {
    /// The config or a flag asks for an LSM the host does not have.
    #[error("{field}: {reason}")]
    NotEnabled {
        /// The spec field or exec flag.
        field: String,
        /// Which LSM is missing and how that was seen.
        reason: &'static str,
    },
    /// The container's /proc (or an attr file in it) is not procfs.
    #[error("{path} is not procfs (f_type {magic:#x}); refusing to write a security label there")]
    NotProcfs {
        /// What was checked.
        path: String,
        /// Its statfs f_type.
        magic: i64,
    },
    /// Opening the procfs attr file failed.
    #[error("open {path}: {source}")]
    Open {
        /// The file (or candidates).
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The kernel refused the label.
    #[error("{field}: write {path}: {source}")]
    Write {
        /// The spec field.
        field: &'static str,
        /// The attr file.
        path: String,
        /// Why (EINVAL: unknown profile or label).
        #[source]
        source: std::io::Error,
    },
}

impl LsmError {
    /// The errno behind the failure (0 when there is none).
    pub fn errno(&self) -> i32 {
        match self {
            LsmError::NotEnabled { .. } => libc::EINVAL,
            LsmError::NotProcfs { .. } => libc::EXDEV,
            LsmError::Open { source, .. } | LsmError::Write { source, .. } => {
                source.raw_os_error().unwrap_or(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(apparmor: Option<&str>, selinux: Option<&str>) -> ProcessConfig {
        ProcessConfig {
            apparmor_profile: apparmor.map(String::from),
            selinux_label: selinux.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn labels_need_the_host_lsm() {
        let none = HostLsm::default();
        let both = HostLsm {
            apparmor: true,
            selinux: true,
        };
        let aa = process(Some("docker-default"), None);
        let e = check_config(&aa, None, none).unwrap_err().to_string();
        assert!(
            e.starts_with("process.apparmorProfile: AppArmor is not enabled"),
            "{e}"
        );
        check_config(&aa, None, both).unwrap();
        let se = process(None, Some("system_u:system_r:container_t:s0"));
        let e = check_config(&se, None, none).unwrap_err().to_string();
        assert!(
            e.starts_with("process.selinuxLabel: SELinux is not enabled"),
            "{e}"
        );
        let label = Some("system_u:object_r:container_file_t:s0");
        let e = check_config(&process(None, None), label, none)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("linux.mountLabel: SELinux"), "{e}");
        check_config(&process(None, None), label, both).unwrap();
        // Empty strings ask for nothing (Docker writes them on hosts without an LSM).
        check_config(&process(Some(""), Some("")), Some(""), none).unwrap();
    }

    #[test]
    fn nothing_asked_nothing_written() {
        assert!(plan(&process(None, None)).is_empty());
        assert!(plan(&process(Some(""), Some(""))).is_empty());
        assert!(requests(&process(None, Some(""))).is_empty());
    }

    #[test]
    fn apparmor_goes_to_its_own_attr_dir_first() {
        let w = plan(&process(Some("docker-default"), None));
        assert_eq!(
            w,
            [AttrWrite {
                field: "process.apparmorProfile",
                files: &["attr/apparmor/exec", "attr/exec"],
                value: b"exec docker-default".to_vec(),
            }]
        );
    }

    #[test]
    fn selinux_label_goes_to_attr_exec_as_is() {
        let label = "system_u:system_r:container_t:s0:c1,c2";
        let w = plan(&process(None, Some(label)));
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].files, ["attr/exec"]);
        assert_eq!(w[0].value, label.as_bytes());
        assert_eq!(w[0].field, "process.selinuxLabel");
    }

    #[test]
    fn a_missing_lsm_is_named_with_its_field() {
        let none = HostLsm::default();
        let e = none
            .require("process.apparmorProfile", Lsm::AppArmor)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("process.apparmorProfile: AppArmor is not enabled"),
            "{e}"
        );
        let e = none.require("linux.mountLabel", Lsm::SeLinux).unwrap_err();
        assert!(
            e.to_string().starts_with("linux.mountLabel: SELinux"),
            "{e}"
        );
        let both = HostLsm {
            apparmor: true,
            selinux: true,
        };
        assert!(both.require("x", Lsm::AppArmor).is_ok());
        assert!(both.require("x", Lsm::SeLinux).is_ok());
    }

    #[test]
    fn requests_name_their_fields() {
        let r = requests(&process(Some("p"), Some("l")));
        assert_eq!(
            r,
            [
                ("process.apparmorProfile", Lsm::AppArmor),
                ("process.selinuxLabel", Lsm::SeLinux)
            ]
        );
    }
}
