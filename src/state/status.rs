//! Container status: how it is derived from what is on disk and in /proc, which operations
//! each status allows, and the OCI state JSON that `state` and `list` print.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How far `create` got, as recorded in state.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Recorded before anything is created; still there if create crashed.
    Creating,
    /// create finished; the init waits on exec.fifo or has been started.
    Created,
}

/// The OCI status of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// create is in progress.
    Creating,
    /// Created, waiting for start.
    Created,
    /// The user process runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The init is gone (or create never finished).
    Stopped,
}

impl Status {
    /// Derives the status. `alive`: the recorded init pid exists with the recorded start time
    /// and is not a zombie; `fifo`: exec.fifo still exists; `frozen`: the cgroup is frozen.
    pub fn derive(phase: Phase, alive: bool, fifo: bool, frozen: bool) -> Status {
        match (phase, alive) {
            (_, false) => Status::Stopped,
            (Phase::Creating, true) => Status::Creating,
            // A frozen container is paused whether or not it was started (runc pauses a
            // created one too; `resume` gives it back as created).
            (Phase::Created, true) if frozen => Status::Paused,
            (Phase::Created, true) if fifo => Status::Created,
            (Phase::Created, true) => Status::Running,
        }
    }

    /// The lowercase name the spec uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }

    /// Whether `start` is allowed.
    pub fn can_start(self) -> bool {
        self == Status::Created
    }

    /// Whether signals may be sent (runc refuses to signal a stopped container).
    pub fn can_kill(self) -> bool {
        matches!(self, Status::Created | Status::Running | Status::Paused)
    }

    /// Whether `delete` without `--force` is allowed: a stopped container, or a created one
    /// whose init never ran user code.
    pub fn can_delete(self) -> bool {
        matches!(self, Status::Stopped | Status::Created)
    }

    /// Whether new processes may be started inside.
    pub fn can_exec(self) -> bool {
        matches!(self, Status::Created | Status::Running)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state JSON of the runtime spec, in runc's field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    /// Spec version of the bundle.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Init pid in the runtime's pid namespace; 0 when stopped.
    pub pid: i32,
    /// Current status.
    pub status: Status,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 with nanoseconds.
    pub created: String,
    /// Owner (runc prints "" in `state`, the user name in `list`).
    pub owner: String,
    /// The bundle's annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_covers_the_lifecycle() {
        assert_eq!(
            Status::derive(Phase::Creating, true, true, false),
            Status::Creating
        );
        assert_eq!(
            Status::derive(Phase::Creating, false, true, false),
            Status::Stopped
        );
        assert_eq!(
            Status::derive(Phase::Created, true, true, false),
            Status::Created
        );
        assert_eq!(
            Status::derive(Phase::Created, true, false, false),
            Status::Running
        );
        assert_eq!(
            Status::derive(Phase::Created, true, false, true),
            Status::Paused
        );
        assert_eq!(
            Status::derive(Phase::Created, true, true, true),
            Status::Paused
        );
        assert_eq!(
            Status::derive(Phase::Created, false, false, false),
            Status::Stopped
        );
    }

    #[test]
    fn transitions() {
        assert!(Status::Created.can_start());
        assert!(!Status::Running.can_start());
        assert!(!Status::Stopped.can_kill());
        assert!(!Status::Running.can_delete());
        assert!(Status::Stopped.can_delete());
        assert!(!Status::Stopped.can_exec());
    }

    #[test]
    fn json_matches_runc() {
        let s = OciState {
            oci_version: "1.0.2".into(),
            id: "x".into(),
            pid: 7,
            status: Status::Running,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            owner: String::new(),
            annotations: BTreeMap::new(),
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"ociVersion":"1.0.2","id":"x","pid":7,"status":"running","bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00Z","owner":""}"#
        );
    }
}
