//! state.json: what hull knows about a container between commands. Written atomically
//! (temp file + rename) so a reader never sees half a file, and written *before* each
//! resource is created so `delete --force` can always finish what a crashed create began.
//! No fsync: the state lives in /run (tmpfs) and means nothing after a reboot, and a sync
//! costs milliseconds on every create where /run is on a disk.

use super::status::Phase;
use super::{io_err, StateError};
use crate::spec::HooksConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The file name inside the container directory.
pub const STATE_FILE: &str = "state.json";

/// The cgroup hull made (or is about to make) for the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupRecord {
    /// The cgroup path inside each hierarchy, e.g. `/hull/abc`.
    pub path: String,
    /// The absolute directories, one per hierarchy, that hull creates and removes.
    pub dirs: Vec<PathBuf>,
    /// Parent directories that did not exist before hull created them (deepest first);
    /// removed again at delete if nothing else uses them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<PathBuf>,
    /// Created with `--rootless`: cgroups hull may not write to were skipped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rootless: bool,
}

/// Everything persisted about one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    /// `ociVersion` of the bundle.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// How far create got.
    pub phase: Phase,
    /// The init's pid in hull's pid namespace; 0 until known.
    pub pid: i32,
    /// The init's start time (field 22 of /proc/pid/stat), to detect pid reuse.
    pub pid_start: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time (RFC 3339, ns).
    pub created: String,
    /// Owner name for `list`.
    pub owner: String,
    /// Bundle annotations.
    pub annotations: BTreeMap<String, String>,
    /// The container's cgroup, recorded before it is created.
    pub cgroup: Option<CgroupRecord>,
    /// Hooks that run after create (poststart, poststop).
    pub hooks: HooksConfig,
    /// Whether the container was created in rootless mode (cgroup errors tolerated).
    pub rootless: bool,
    /// The `linux.resources` in force: the config's at create, merged with each `update`
    /// (an update must re-apply the full set, devices included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<oci_spec::runtime::LinuxResources>,
}

impl ContainerState {
    /// Reads `dir/state.json`; NotFound when it does not exist.
    pub fn read(dir: &Path, id: &str) -> Result<Self, StateError> {
        let path = dir.join(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotFound(id.into()))
            }
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt { path, source })
    }

    /// Writes `dir/state.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), StateError> {
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(format!(".{STATE_FILE}.{}", std::process::id()));
        let json = serde_json::to_vec(self).map_err(|source| StateError::Corrupt {
            path: path.clone(),
            source,
        })?;
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        f.write_all(&json).map_err(io_err("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_err("rename", &path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let dir = std::env::temp_dir().join(format!("hull-state-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let s = ContainerState {
            oci_version: "1.0.2".into(),
            id: "a".into(),
            phase: Phase::Creating,
            pid: 0,
            pid_start: 0,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "t".into(),
            owner: "root".into(),
            annotations: BTreeMap::new(),
            cgroup: Some(CgroupRecord {
                path: "/hull/a".into(),
                dirs: vec!["/sys/fs/cgroup/pids/hull/a".into()],
                ..Default::default()
            }),
            hooks: HooksConfig::default(),
            rootless: false,
            resources: Some(
                serde_json::from_str(r#"{"pids":{"limit":10},"memory":{"limit":1048576}}"#)
                    .unwrap(),
            ),
        };
        s.write(&dir).unwrap();
        assert_eq!(ContainerState::read(&dir, "a").unwrap(), s);
        fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            ContainerState::read(&dir, "a"),
            Err(StateError::NotFound(_))
        ));
    }

    #[test]
    fn state_without_resources_still_reads() {
        let s = ContainerState {
            oci_version: "1.0.2".into(),
            id: "a".into(),
            phase: Phase::Created,
            pid: 1,
            pid_start: 2,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "t".into(),
            owner: String::new(),
            annotations: BTreeMap::new(),
            cgroup: None,
            hooks: HooksConfig::default(),
            rootless: false,
            resources: None,
        };
        let v = serde_json::to_value(&s).unwrap();
        assert!(v.get("resources").is_none(), "{v}");
        let back: ContainerState = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }
}
