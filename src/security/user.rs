//! `process.user`: supplementary groups, gid and uid of the container process, and its umask.
//! Ids are numeric; one without an /etc/passwd entry is fine.

use super::SecurityError;
use crate::spec::UserConfig;
use nix::sys::stat::Mode;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use std::io::{self, Read};

/// The umask when the spec sets none (runc's).
pub const DEFAULT_UMASK: u32 = 0o022;

/// The umask the process gets: the spec's, limited to permission bits, or 0022.
pub fn effective_umask(user: &UserConfig) -> u32 {
    user.umask.unwrap_or(DEFAULT_UMASK) & 0o777
}

/// Whether a failed setgroups should be skipped: only when the user namespace forbids it
/// (`/proc/self/setgroups` is `deny`), as runc does; the user did not ask for the groups the
/// runtime itself has, so there is nothing to clear there.
fn setgroups_denied(content: &str) -> bool {
    content.trim() == "deny"
}

/// setgroups, setresgid, setresuid, in that order (the gid calls need CAP_SETGID, which a
/// non-zero uid no longer has in its effective set).
pub(super) fn switch_user(user: &UserConfig, userns: bool) -> Result<(), SecurityError> {
    set_groups(&user.additional_gids, userns)?;
    let gid = Gid::from_raw(user.gid);
    setresgid(gid, gid, gid).map_err(|e| SecurityError::Setresgid {
        gid: user.gid,
        source: e.into(),
    })?;
    let uid = Uid::from_raw(user.uid);
    setresuid(uid, uid, uid).map_err(|e| SecurityError::Setresuid {
        uid: user.uid,
        source: e.into(),
    })
}

/// Always called, even with no additionalGids, so the runtime's own supplementary groups
/// never reach the container. /proc/self/setgroups is read only after an EPERM in a user
/// namespace, so a container-controlled /proc can never make hull skip a setgroups that
/// would have worked.
fn set_groups(gids: &[u32], userns: bool) -> Result<(), SecurityError> {
    let groups: Vec<Gid> = gids.iter().copied().map(Gid::from_raw).collect();
    let err = match setgroups(&groups) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if userns && err == nix::errno::Errno::EPERM {
        let mut content = String::new();
        let read = std::fs::File::open("/proc/self/setgroups")
            .and_then(|mut f| f.read_to_string(&mut content));
        match read {
            Ok(_) if setgroups_denied(&content) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(SecurityError::ReadSetgroups { source }),
        }
    }
    Err(SecurityError::Setgroups {
        gids: gids.to_vec(),
        source: err.into(),
    })
}

/// Sets the umask (cannot fail).
pub(super) fn set_umask(user: &UserConfig) {
    nix::sys::stat::umask(Mode::from_bits_truncate(effective_umask(user)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umask_default_and_spec() {
        let mut u = UserConfig::default();
        assert_eq!(effective_umask(&u), 0o022);
        u.umask = Some(0o077);
        assert_eq!(effective_umask(&u), 0o077);
        u.umask = Some(0);
        assert_eq!(effective_umask(&u), 0);
        u.umask = Some(0o7777);
        assert_eq!(effective_umask(&u), 0o777);
    }

    #[test]
    fn setgroups_file() {
        assert!(setgroups_denied("deny\n"));
        assert!(!setgroups_denied("allow\n"));
        assert!(!setgroups_denied(""));
    }

    #[test]
    fn error_names_step_and_value() {
        let e = SecurityError::Setresuid {
            uid: 1000,
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert!(e.to_string().starts_with("setresuid 1000: "), "{e}");
        assert_eq!(e.errno(), libc::EPERM);
    }
}
