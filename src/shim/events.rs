//! Task events to containerd (TaskCreate, TaskStart, TaskExit, TaskDelete, TaskExecAdded,
//! TaskExecStarted, TaskPaused, TaskResumed, TaskOOM), through the crate's publisher, which
//! queues them in order and retries while containerd is away (a restart). Also the OOM
//! watch: the runtime's `events` stream, whose `{"type":"oom"}` lines cover cgroup v1
//! (`memory.oom_control` eventfd) and v2 (`memory.events` via inotify) alike.

use super::reaper::Exit;
use super::runtime::Runtime;
use containerd_shim::asynchronous::publisher::RemotePublisher;
use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim_protos::protobuf::{MessageDyn, MessageField};
use containerd_shim_protos::topics;
use containerd_shim_protos::ttrpc::context::Context;
use containerd_shim_protos::types::mount::Mount;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::AsyncBufReadExt;

/// Publishes this shim's task events into one containerd namespace.
pub struct Events {
    publisher: RemotePublisher,
    namespace: String,
}

/// A protobuf timestamp.
pub fn timestamp(t: SystemTime) -> Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
        ..Default::default()
    }
}

impl Events {
    /// Events for `namespace` through `publisher`.
    pub fn new(publisher: RemotePublisher, namespace: String) -> Events {
        Events {
            publisher,
            namespace,
        }
    }

    async fn send(&self, topic: &str, event: Box<dyn MessageDyn>) {
        if let Err(e) = self
            .publisher
            .publish(Context::default(), topic, &self.namespace, event)
            .await
        {
            log::warn!("publish {topic}: {e}");
        }
    }

    /// TaskCreate.
    pub async fn created(&self, c: CreateInfo<'_>) {
        let ev = TaskCreate {
            container_id: c.id.into(),
            bundle: c.bundle.into(),
            rootfs: c.rootfs.to_vec(),
            io: MessageField::some(TaskIO {
                stdin: c.stdin.into(),
                stdout: c.stdout.into(),
                stderr: c.stderr.into(),
                terminal: c.terminal,
                ..Default::default()
            }),
            pid: c.pid as u32,
            ..Default::default()
        };
        self.send(topics::TASK_CREATE_EVENT_TOPIC, Box::new(ev))
            .await;
    }

    /// TaskStart.
    pub async fn started(&self, id: &str, pid: i32) {
        let ev = TaskStart {
            container_id: id.into(),
            pid: pid as u32,
            ..Default::default()
        };
        self.send(topics::TASK_START_EVENT_TOPIC, Box::new(ev))
            .await;
    }

    /// TaskExit of the init (`exec_id` empty: the id is the container's) or of an exec.
    pub async fn exited(&self, id: &str, exec_id: &str, exit: Exit) {
        let ev = TaskExit {
            container_id: id.into(),
            id: if exec_id.is_empty() { id } else { exec_id }.into(),
            pid: exit.pid as u32,
            exit_status: exit.status,
            exited_at: MessageField::some(timestamp(exit.at)),
            ..Default::default()
        };
        self.send(topics::TASK_EXIT_EVENT_TOPIC, Box::new(ev)).await;
    }

    /// TaskDelete.
    pub async fn deleted(&self, id: &str, pid: i32, exit: Option<Exit>) {
        let ev = TaskDelete {
            container_id: id.into(),
            pid: pid as u32,
            exit_status: exit.map_or(0, |e| e.status),
            exited_at: MessageField::some(timestamp(exit.map_or(SystemTime::now(), |e| e.at))),
            ..Default::default()
        };
        self.send(topics::TASK_DELETE_EVENT_TOPIC, Box::new(ev))
            .await;
    }

    /// TaskExecAdded.
    pub async fn exec_added(&self, id: &str, exec_id: &str) {
        let ev = TaskExecAdded {
            container_id: id.into(),
            exec_id: exec_id.into(),
            ..Default::default()
        };
        self.send(topics::TASK_EXEC_ADDED_EVENT_TOPIC, Box::new(ev))
            .await;
    }

    /// TaskExecStarted.
    pub async fn exec_started(&self, id: &str, exec_id: &str, pid: i32) {
        let ev = TaskExecStarted {
            container_id: id.into(),
            exec_id: exec_id.into(),
            pid: pid as u32,
            ..Default::default()
        };
        self.send(topics::TASK_EXEC_STARTED_EVENT_TOPIC, Box::new(ev))
            .await;
    }

    /// TaskPaused.
    pub async fn paused(&self, id: &str) {
        let ev = TaskPaused {
            container_id: id.into(),
            ..Default::default()
        };
        self.send(topics::TASK_PAUSED_EVENT_TOPIC, Box::new(ev))
            .await;
    }

    /// TaskResumed.
    pub async fn resumed(&self, id: &str) {
        let ev = TaskResumed {
            container_id: id.into(),
            ..Default::default()
        };
        self.send(topics::TASK_RESUMED_EVENT_TOPIC, Box::new(ev))
            .await;
    }

    /// TaskOOM.
    pub async fn oom(&self, id: &str) {
        let ev = TaskOOM {
            container_id: id.into(),
            ..Default::default()
        };
        self.send(topics::TASK_OOM_EVENT_TOPIC, Box::new(ev)).await;
    }
}

/// The fields of a TaskCreate.
pub struct CreateInfo<'a> {
    /// Container id.
    pub id: &'a str,
    /// Bundle path.
    pub bundle: &'a str,
    /// The rootfs mounts of the request.
    pub rootfs: &'a [Mount],
    /// Stdin fifo.
    pub stdin: &'a str,
    /// Stdout fifo.
    pub stdout: &'a str,
    /// Stderr fifo.
    pub stderr: &'a str,
    /// Whether there is a pty.
    pub terminal: bool,
    /// The init's pid.
    pub pid: i32,
}

/// Whether one line of the runtime's `events` output is an OOM notification.
pub fn is_oom_line(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v["type"] == "oom")
}

/// Follows `events` of container `id` and publishes TaskOOM for each OOM kill, until the
/// stream ends (the init exited). The stats it prints every interval are ignored, so the
/// interval is long.
pub fn watch_oom(
    runtime: &Runtime,
    id: &str,
    events: Arc<Events>,
) -> Option<tokio::task::JoinHandle<()>> {
    let fd = match runtime.events_stream(id, "24h") {
        Ok(fd) => fd,
        Err(e) => {
            log::warn!("oom watch for {id}: {e}");
            return None;
        }
    };
    let id = id.to_string();
    Some(tokio::spawn(async move {
        let rx = match tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
            Ok(rx) => rx,
            Err(e) => {
                log::warn!("oom watch for {id}: {e}");
                return;
            }
        };
        let mut lines = tokio::io::BufReader::new(rx).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if is_oom_line(&line) {
                events.oom(&id).await;
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_lines() {
        assert!(is_oom_line(r#"{"type":"oom","id":"c"}"#));
        assert!(!is_oom_line(r#"{"type":"stats","id":"c","data":{}}"#));
        assert!(!is_oom_line("garbage"));
    }

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + std::time::Duration::new(5, 7);
        let ts = timestamp(t);
        assert_eq!((ts.seconds, ts.nanos), (5, 7));
    }
}
