//! The address leases of one network, as CNI's host-local keeps them: a directory with one
//! file per leased address naming its owner, a `last` file for round-robin allocation and a
//! `subnet` file, all changed under an flock on `lock`. A lease whose owner process is gone
//! (a crashed container that never ran its poststop hook) is handed out again.

use super::addr::Subnet;
use super::error::io;
use super::NetError;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

const LOCK: &str = "lock";
const LAST: &str = "last";
const SUBNET: &str = "subnet";

/// Who holds a lease: the container and its init process (pid + start time, so a recycled
/// pid is not taken for the owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Container id.
    pub id: String,
    /// Init pid in the hook's pid namespace.
    pub pid: i32,
    /// The init's start time (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
}

impl Owner {
    /// The lease file's content.
    pub fn encode(&self) -> String {
        format!("{}\n{} {}\n", self.id, self.pid, self.start_time)
    }

    /// Parses a lease file; None when it is not one (then it counts as stale).
    pub fn decode(text: &str) -> Option<Owner> {
        let mut lines = text.lines();
        let id = lines.next().filter(|s| !s.is_empty())?.to_string();
        let (pid, start) = lines.next()?.split_once(' ')?;
        Some(Owner {
            id,
            pid: pid.parse().ok()?,
            start_time: start.parse().ok()?,
        })
    }

    /// Whether the owner's process still exists.
    pub fn alive(&self) -> bool {
        crate::process::stat::alive(self.pid, self.start_time)
    }
}

/// The lease directory of one network.
#[derive(Debug)]
pub struct Leases {
    dir: PathBuf,
    name: String,
}

/// The held lock of a lease directory; every lease operation goes through it.
#[derive(Debug)]
pub struct Locked<'a> {
    leases: &'a Leases,
    _lock: Flock<File>,
}

/// A lease handed out: the address and the stale owners whose leases were taken over (their
/// rules and records must go too).
#[derive(Debug)]
pub struct Grant {
    /// The address.
    pub ip: Ipv4Addr,
    /// Owners whose dead lease on `ip` was reclaimed.
    pub reclaimed: Vec<Owner>,
}

impl Leases {
    /// The lease directory of network `name` under `state_dir` (created when missing).
    pub fn open(state_dir: &Path, name: &str) -> Result<Leases, NetError> {
        let dir = state_dir.join("networks").join(name);
        fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        Ok(Leases {
            dir,
            name: name.to_string(),
        })
    }

    /// The networks that have a lease directory under `state_dir`.
    pub fn all(state_dir: &Path) -> Vec<String> {
        let dir = state_dir.join("networks");
        fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Blocks until this process holds the directory's lock.
    pub fn lock(&self) -> Result<Locked<'_>, NetError> {
        let path = self.dir.join(LOCK);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("open", &path))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| io("flock", &path)(e.into()))?;
        Ok(Locked {
            leases: self,
            _lock: lock,
        })
    }
}

fn is_address(name: &str) -> Option<Ipv4Addr> {
    name.parse().ok()
}

impl Locked<'_> {
    fn path(&self, name: &str) -> PathBuf {
        self.leases.dir.join(name)
    }

    /// Every lease: address and owner (None for an unreadable lease).
    pub fn list(&self) -> Vec<(Ipv4Addr, Option<Owner>)> {
        let Ok(dir) = fs::read_dir(&self.leases.dir) else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|e| {
                let ip = is_address(&e.file_name().to_string_lossy())?;
                let owner = fs::read_to_string(e.path())
                    .ok()
                    .and_then(|t| Owner::decode(&t));
                Some((ip, owner))
            })
            .collect()
    }

    fn live_count(&self) -> usize {
        self.list()
            .iter()
            .filter(|(_, o)| o.as_ref().is_some_and(Owner::alive))
            .count()
    }

    /// Records the network's subnet, refusing another one while live leases exist.
    pub fn check_subnet(&self, subnet: &Subnet) -> Result<(), NetError> {
        let path = self.path(SUBNET);
        let wanted = subnet.to_string();
        match fs::read_to_string(&path) {
            Ok(existing) if existing.trim() == wanted => return Ok(()),
            Ok(existing) if self.live_count() > 0 => {
                return Err(NetError::SubnetMismatch {
                    network: self.leases.name.clone(),
                    existing: existing.trim().to_string(),
                    wanted,
                })
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io("read", path)(e)),
        }
        self.replace(SUBNET, &wanted)
    }

    /// Writes `name` by a temporary file and a rename, so a crash never leaves half a file.
    fn replace(&self, name: &str, text: &str) -> Result<(), NetError> {
        replace_file(&self.leases.dir, name, text.as_bytes())
    }

    /// Leases `want` (or the next free address) to `owner`, reclaiming a dead owner's lease.
    pub fn allocate(
        &self,
        owner: &Owner,
        want: Option<Ipv4Addr>,
        subnet: &Subnet,
    ) -> Result<Grant, NetError> {
        let last = fs::read_to_string(self.path(LAST))
            .ok()
            .and_then(|t| t.trim().parse().ok());
        let candidates: Vec<Ipv4Addr> = match want {
            Some(ip) => vec![ip],
            None => subnet.candidates(last).collect(),
        };
        for ip in candidates {
            if let Some(grant) = self.try_take(ip, owner, want.is_some())? {
                if want.is_none() {
                    self.replace(LAST, &ip.to_string())?;
                }
                return Ok(grant);
            }
        }
        Err(NetError::Exhausted {
            network: self.leases.name.clone(),
            subnet: subnet.to_string(),
            leased: self.live_count(),
        })
    }

    /// Takes `ip` if it is free or its owner is dead; None when a live owner holds it
    /// (an error instead when the address was pinned).
    fn try_take(
        &self,
        ip: Ipv4Addr,
        owner: &Owner,
        pinned: bool,
    ) -> Result<Option<Grant>, NetError> {
        let path = self.path(&ip.to_string());
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(owner.encode().as_bytes())
                    .map_err(io("write", &path))?;
                return Ok(Some(Grant {
                    ip,
                    reclaimed: vec![],
                }));
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("create", &path)(e)),
        }
        let held = fs::read_to_string(&path)
            .ok()
            .and_then(|t| Owner::decode(&t));
        match held {
            Some(h) if h.alive() && pinned => Err(NetError::AddressTaken { ip, owner: h.id }),
            Some(h) if h.alive() => Ok(None),
            stale => {
                self.replace(&ip.to_string(), &owner.encode())?;
                Ok(Some(Grant {
                    ip,
                    reclaimed: stale.into_iter().collect(),
                }))
            }
        }
    }

    /// Removes every lease of container `id`; returns the addresses freed.
    pub fn release(&self, id: &str) -> Result<Vec<Ipv4Addr>, NetError> {
        let mut freed = Vec::new();
        for (ip, owner) in self.list() {
            if owner.is_some_and(|o| o.id == id) {
                let path = self.path(&ip.to_string());
                match fs::remove_file(&path) {
                    Ok(()) => freed.push(ip),
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(io("remove", path)(e)),
                }
            }
        }
        Ok(freed)
    }
}

/// Writes `dir/name` by a temporary file and a rename, so a crash never leaves half a file
/// (the lease files and the attachment records both).
pub(super) fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), NetError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(io("create", &tmp))?;
    f.write_all(bytes).map_err(io("write", &tmp))?;
    let path = dir.join(name);
    fs::rename(&tmp, &path).map_err(io("rename", &path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_round_trips_and_garbage_is_no_owner() {
        let o = Owner {
            id: "c1".into(),
            pid: 42,
            start_time: 7,
        };
        assert_eq!(Owner::decode(&o.encode()), Some(o));
        assert_eq!(Owner::decode(""), None);
        assert_eq!(Owner::decode("c1\n"), None);
        assert_eq!(Owner::decode("c1\nx 7\n"), None);
    }

    /// A private lease directory for one test, removed on drop.
    struct TempState(PathBuf);

    impl TempState {
        fn new(tag: &str) -> TempState {
            let dir = std::env::temp_dir().join(format!("hull-lease-{}-{tag}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            TempState(dir)
        }
    }

    impl Drop for TempState {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn me(id: &str) -> Owner {
        let pid = std::process::id() as i32;
        let start_time = crate::process::stat::read(pid).unwrap().start_time;
        Owner {
            id: id.into(),
            pid,
            start_time,
        }
    }

    fn dead(id: &str) -> Owner {
        Owner {
            id: id.into(),
            pid: i32::MAX,
            start_time: 1,
        }
    }

    #[test]
    fn leases_are_distinct_until_exhausted_and_released_by_id() {
        let tmp = TempState::new("distinct");
        let subnet: Subnet = "10.9.0.0/29".parse().unwrap();
        let leases = Leases::open(&tmp.0, "n0").unwrap();
        let locked = leases.lock().unwrap();
        locked.check_subnet(&subnet).unwrap();
        let ips: Vec<_> = (0..5)
            .map(|i| {
                locked
                    .allocate(&me(&format!("c{i}")), None, &subnet)
                    .unwrap()
                    .ip
            })
            .collect();
        let unique: std::collections::HashSet<_> = ips.iter().collect();
        assert_eq!(unique.len(), 5);
        let full = locked.allocate(&me("c5"), None, &subnet).unwrap_err();
        assert_eq!(
            full.to_string(),
            "network n0: no free address in 10.9.0.0/29 (5 leased)"
        );
        assert_eq!(locked.release("c2").unwrap(), vec![ips[2]]);
        assert!(locked.release("c2").unwrap().is_empty());
        assert_eq!(
            locked.allocate(&me("c5"), None, &subnet).unwrap().ip,
            ips[2]
        );
    }

    #[test]
    fn a_dead_owners_lease_is_reclaimed_and_a_live_pinned_one_is_refused() {
        let tmp = TempState::new("reclaim");
        let subnet: Subnet = "10.9.0.0/30".parse().unwrap();
        let leases = Leases::open(&tmp.0, "n0").unwrap();
        let locked = leases.lock().unwrap();
        let ip = locked.allocate(&dead("old"), None, &subnet).unwrap().ip;
        let grant = locked.allocate(&me("new"), None, &subnet).unwrap();
        assert_eq!(grant.ip, ip);
        assert_eq!(grant.reclaimed, vec![dead("old")]);
        let taken = locked
            .allocate(&me("other"), Some(ip), &subnet)
            .unwrap_err();
        assert_eq!(
            taken.to_string(),
            "--ip 10.9.0.2: already leased to container new"
        );
    }

    #[test]
    fn the_subnet_changes_only_without_live_leases() {
        let tmp = TempState::new("subnet");
        let a: Subnet = "10.9.0.0/24".parse().unwrap();
        let b: Subnet = "10.10.0.0/24".parse().unwrap();
        let leases = Leases::open(&tmp.0, "n0").unwrap();
        let locked = leases.lock().unwrap();
        locked.check_subnet(&a).unwrap();
        locked.allocate(&me("c1"), None, &a).unwrap();
        assert!(matches!(
            locked.check_subnet(&b),
            Err(NetError::SubnetMismatch { .. })
        ));
        locked.release("c1").unwrap();
        locked.check_subnet(&b).unwrap();
    }

    #[test]
    fn a_dead_pid_is_not_alive() {
        let o = Owner {
            id: "c1".into(),
            pid: i32::MAX,
            start_time: 1,
        };
        assert!(!o.alive());
    }
}
