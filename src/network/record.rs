//! The attachment record of each container, `<state-dir>/attachments/<id>.json`: claimed
//! first (so a second attach of the same id fails), completed when attach succeeds, read by
//! `show` and `detach`, removed by `detach`.

use super::error::io;
use super::lease::Owner;
use super::options::Mode;
use super::NetError;
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// What `hull network show` prints and `detach` undoes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Container id.
    pub id: String,
    /// How it is connected.
    pub mode: Mode,
    /// Interface inside the container (`eth0`; `lo` for mode none).
    pub interface: String,
    /// The interface's MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// `ADDRESS/PREFIX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The default route's gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Ipv4Addr>,
    /// The bridge (bridge mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// The host end of the veth (bridge mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_veth: Option<String>,
    /// The macvlan parent (macvlan mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The MTU asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Published ports, `HOST:CONTAINER/PROTO`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<String>,
    /// The lease directory the address came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The container's init when attached.
    pub pid: i32,
    /// Its start time, to tell a crashed container's record from a live one.
    pub start_time: u64,
}

impl Attachment {
    /// A record with only the owner and mode: what a claim holds until attach completes.
    pub fn claim(owner: &Owner, mode: Mode) -> Attachment {
        Attachment {
            id: owner.id.clone(),
            mode,
            interface: "lo".into(),
            mac: None,
            address: None,
            gateway: None,
            bridge: None,
            host_veth: None,
            parent: None,
            mtu: None,
            publish: vec![],
            network: None,
            pid: owner.pid,
            start_time: owner.start_time,
        }
    }

    /// The owner this record names.
    pub fn owner(&self) -> Owner {
        Owner {
            id: self.id.clone(),
            pid: self.pid,
            start_time: self.start_time,
        }
    }

    /// A few words for messages: `bridge hull0, 10.88.0.2/16`.
    pub fn summary(&self) -> String {
        let mode = serde_json::to_value(self.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let on = self.bridge.as_ref().or(self.parent.as_ref());
        let mut s = mode;
        if let Some(on) = on {
            s.push(' ');
            s.push_str(on);
        }
        if let Some(a) = &self.address {
            s.push_str(", ");
            s.push_str(a);
        }
        s
    }
}

/// The records directory.
#[derive(Debug, Clone)]
pub struct Records {
    dir: PathBuf,
}

impl Records {
    /// `<state_dir>/attachments`.
    pub fn new(state_dir: &Path) -> Records {
        Records {
            dir: state_dir.join("attachments"),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Creates the record of `a` only if none exists; Ok(false) when one does.
    pub fn claim(&self, a: &Attachment) -> Result<bool, NetError> {
        fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let path = self.path(&a.id);
        let mut f = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(io("create", path)(e)),
        };
        f.write_all(&encode(a)).map_err(io("write", &path))?;
        Ok(true)
    }

    /// Replaces the record of `a.id` with `a` (temporary file and rename).
    pub fn commit(&self, a: &Attachment) -> Result<(), NetError> {
        super::lease::replace_file(&self.dir, &format!("{}.json", a.id), &encode(a))
    }

    /// The record of `id`, None when there is none.
    pub fn read(&self, id: &str) -> Result<Option<Attachment>, NetError> {
        let path = self.path(id);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| NetError::Record { path, source }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", path)(e)),
        }
    }

    /// Removes the record of `id`; a missing one is fine.
    pub fn remove(&self, id: &str) -> Result<(), NetError> {
        let path = self.path(id);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(io("remove", path)(e)),
            _ => Ok(()),
        }
    }
}

fn encode(a: &Attachment) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(a).unwrap_or_default();
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_json_has_the_fields_show_promises() {
        let owner = Owner {
            id: "c1".into(),
            pid: 5,
            start_time: 9,
        };
        let mut a = Attachment::claim(&owner, Mode::Bridge);
        a.interface = "eth0".into();
        a.address = Some("10.88.0.2/16".into());
        a.bridge = Some("hull0".into());
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["mode"], "bridge");
        assert_eq!(v["address"], "10.88.0.2/16");
        assert!(v.get("mac").is_none());
        assert_eq!(a.summary(), "bridge hull0, 10.88.0.2/16");
        assert_eq!(a.owner(), owner);
        let back: Attachment = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
    }
}
