//! AppArmor: whether the host has it, and `process.apparmorProfile` as the profile the
//! container process changes to at execve (the kernel's change_onexec), as runc applies it:
//! `exec <profile>` written to the process's own attr file, the LSM-specific one first.

use super::lsm::AttrWrite;
use std::path::Path;

/// The module parameter that says whether AppArmor is on.
const PARAM: &str = "/sys/module/apparmor/parameters/enabled";
/// AppArmor's securityfs directory: present when it is the active LSM and policy can load.
const SECURITYFS: &str = "/sys/kernel/security/apparmor";

/// The attr files for the exec profile: the AppArmor directory (kernels with LSM stacking),
/// then the shared file older kernels have.
pub const EXEC_ATTR: &[&str] = &["attr/apparmor/exec", "attr/exec"];

/// Whether the host has AppArmor enabled.
pub fn enabled() -> bool {
    let param = std::fs::read_to_string(PARAM).unwrap_or_default();
    is_enabled(&param, Path::new(SECURITYFS).is_dir())
}

/// Pure: the module says `Y` and its securityfs directory exists (as runc's IsEnabled).
pub fn is_enabled(param: &str, securityfs_dir: bool) -> bool {
    param.trim_start().starts_with('Y') && securityfs_dir
}

/// The write that makes the next execve enter `profile`.
pub fn exec_write(profile: &str) -> AttrWrite {
    AttrWrite {
        field: "process.apparmorProfile",
        files: EXEC_ATTR,
        value: format!("exec {profile}").into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_needs_the_parameter_and_securityfs() {
        assert!(is_enabled("Y\n", true));
        assert!(!is_enabled("Y\n", false));
        assert!(!is_enabled("N\n", true));
        assert!(!is_enabled("", true));
    }

    #[test]
    fn exec_request_names_the_profile() {
        assert_eq!(exec_write("docker-default").value, b"exec docker-default");
        assert_eq!(exec_write("unconfined").files[0], "attr/apparmor/exec");
    }
}
