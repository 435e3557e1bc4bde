//! Container networking as OCI hooks of the same binary: `hull network attach` runs as a
//! createRuntime hook (bridge + veth, macvlan, or only lo), `hull network detach` as a
//! poststop hook, `hull network show` prints an attachment.
//!
//! The flow of an attach, top to bottom: parse the flags ([`options`]), read the state on
//! stdin ([`HookState`]), open the init's network namespace ([`netns`]), claim the record
//! ([`record`]), lease an address ([`lease`]), create the bridge and the veth pair with its
//! peer born in the container's namespace, configure it from inside ([`bridge`]), add the
//! NAT rules ([`firewall`]), write the record. Netlink is spoken directly over synchronous
//! sockets ([`netlink`]): no threads, no `ip` or `nft` binaries, a few milliseconds on the
//! create path. Detach ([`detach`]) keys everything on the container id.

pub mod addr;
mod attach;
pub mod bridge;
mod detach;
mod error;
pub mod firewall;
pub mod lease;
pub mod netlink;
pub mod netns;
pub mod options;
pub mod record;

pub use attach::attach;
pub use detach::{detach, show};
pub use error::NetError;
pub use options::{Mode, Options, RawOptions};
pub use record::Attachment;

use lease::Owner;
use serde::Deserialize;
use std::io::Read;

/// The fields of the OCI state (on a hook's stdin) the network hooks use.
#[derive(Debug, Clone, Deserialize)]
pub struct HookState {
    /// Container id.
    pub id: String,
    /// The init's pid; absent or 0 in a poststop state (podman passes none).
    #[serde(default)]
    pub pid: Option<i32>,
}

impl HookState {
    /// Reads and parses the state JSON.
    pub fn read(mut input: impl Read) -> Result<HookState, NetError> {
        let mut text = Vec::new();
        input
            .read_to_end(&mut text)
            .map_err(|source| NetError::ReadState { source })?;
        serde_json::from_slice(&text).map_err(|source| NetError::ParseState { source })
    }

    /// The owner of what an attach creates: id, pid and the init's start time.
    fn owner(&self) -> Result<Owner, NetError> {
        check_id(&self.id)?;
        let pid = self.pid.filter(|p| *p > 0).ok_or_else(|| NetError::NoPid {
            id: self.id.clone(),
        })?;
        let stat = crate::process::stat::read(pid).ok_or_else(|| NetError::OpenNetns {
            id: self.id.clone(),
            path: format!("/proc/{pid}/stat").into(),
            source: std::io::Error::from_raw_os_error(nix::errno::Errno::ESRCH as i32),
        })?;
        Ok(Owner {
            id: self.id.clone(),
            pid,
            start_time: stat.start_time,
        })
    }
}

/// Refuses ids that cannot name a record file or fit an nftables comment.
fn check_id(id: &str) -> Result<(), NetError> {
    let fits = id.len() <= 200;
    if fits && crate::state::validate_id(id).is_ok() {
        Ok(())
    } else {
        Err(NetError::BadId { id: id.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_with_and_without_pid() {
        let s = HookState::read(
            &br#"{"ociVersion":"1.0.2","id":"c1","pid":42,"status":"created","bundle":"/b"}"#[..],
        )
        .unwrap();
        assert_eq!((s.id.as_str(), s.pid), ("c1", Some(42)));
        let s = HookState::read(&br#"{"id":"c1","status":"stopped"}"#[..]).unwrap();
        assert_eq!(s.pid, None);
        assert!(matches!(s.owner(), Err(NetError::NoPid { .. })));
        assert!(HookState::read(&b"not json"[..]).is_err());
    }

    #[test]
    fn ids_that_cannot_name_a_file_are_refused() {
        assert!(check_id("abc-1.2_x").is_ok());
        for bad in ["", "..", "a/b", &"x".repeat(201)] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
