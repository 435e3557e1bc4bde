//! Task events to containerd (TaskCreate, TaskStart, TaskExit, TaskDelete, TaskExecAdded,
//! TaskExecStarted, TaskPaused, TaskResumed, TaskOOM), through the crate's publisher, which
//! queues them in order and retries while containerd is away (a restart).

use super::reaper::Exit;
use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim_protos::protobuf::{Message, MessageField};
use containerd_shim_protos::shim::event::Envelope;
use containerd_shim_protos::shim::events::ForwardRequest;
use containerd_shim_protos::shim_async::{Client, EventsClient};
use containerd_shim_protos::topics;
use containerd_shim_protos::ttrpc::context::Context;
use containerd_shim_protos::types::mount::Mount;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// How often one event is offered to containerd before it is dropped (with a pause of 1,
/// 2, ... s between tries: long enough for a containerd restart).
const TRIES: u64 = 6;

/// Publishes this shim's task events into one containerd namespace, in order.
pub struct Events {
    queue: mpsc::UnboundedSender<Envelope>,
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

/// The ttrpc address form of containerd's `TTRPC_ADDRESS` (a plain socket path).
pub fn ttrpc_address(address: &str) -> String {
    if address.contains("://") {
        address.to_string()
    } else {
        format!("unix://{address}")
    }
}

impl Events {
    /// Events for `namespace`, forwarded to containerd's ttrpc socket at `address` by a
    /// task of their own.
    pub fn new(address: &str, namespace: String) -> Events {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(forward_all(ttrpc_address(address), rx));
        Events { queue, namespace }
    }

    /// Queues one event. The type URL is the message's protobuf name, set here rather than
    /// read from protobuf's reflection, which would build the descriptors of every imported
    /// .proto file (descriptor.proto among them) in each shim's heap.
    fn send<M: Message>(&self, topic: &str, type_name: &str, event: &M) {
        let value = match event.write_to_bytes() {
            Ok(v) => v,
            Err(e) => {
                log::warn!("encode {type_name}: {e}");
                return;
            }
        };
        let envelope = Envelope {
            timestamp: MessageField::some(timestamp(SystemTime::now())),
            namespace: self.namespace.clone(),
            topic: topic.into(),
            event: MessageField::some(Any {
                type_url: format!("containerd.events.{type_name}"),
                value,
                ..Default::default()
            }),
            ..Default::default()
        };
        let _ = self.queue.send(envelope);
    }

    /// TaskCreate.
    pub fn created(&self, c: CreateInfo<'_>) {
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
        self.send(topics::TASK_CREATE_EVENT_TOPIC, "TaskCreate", &ev);
    }

    /// TaskStart.
    pub fn started(&self, id: &str, pid: i32) {
        let ev = TaskStart {
            container_id: id.into(),
            pid: pid as u32,
            ..Default::default()
        };
        self.send(topics::TASK_START_EVENT_TOPIC, "TaskStart", &ev);
    }

    /// TaskExit of the init (`exec_id` empty: the id is the container's) or of an exec.
    pub fn exited(&self, id: &str, exec_id: &str, exit: Exit) {
        let ev = TaskExit {
            container_id: id.into(),
            id: if exec_id.is_empty() { id } else { exec_id }.into(),
            pid: exit.pid as u32,
            exit_status: exit.status,
            exited_at: MessageField::some(timestamp(exit.at)),
            ..Default::default()
        };
        self.send(topics::TASK_EXIT_EVENT_TOPIC, "TaskExit", &ev);
    }

    /// TaskDelete.
    pub fn deleted(&self, id: &str, pid: i32, exit: Option<Exit>) {
        let ev = TaskDelete {
            container_id: id.into(),
            pid: pid as u32,
            exit_status: exit.map_or(0, |e| e.status),
            exited_at: MessageField::some(timestamp(exit.map_or(SystemTime::now(), |e| e.at))),
            ..Default::default()
        };
        self.send(topics::TASK_DELETE_EVENT_TOPIC, "TaskDelete", &ev);
    }

    /// TaskExecAdded.
    pub fn exec_added(&self, id: &str, exec_id: &str) {
        let ev = TaskExecAdded {
            container_id: id.into(),
            exec_id: exec_id.into(),
            ..Default::default()
        };
        self.send(topics::TASK_EXEC_ADDED_EVENT_TOPIC, "TaskExecAdded", &ev);
    }

    /// TaskExecStarted.
    pub fn exec_started(&self, id: &str, exec_id: &str, pid: i32) {
        let ev = TaskExecStarted {
            container_id: id.into(),
            exec_id: exec_id.into(),
            pid: pid as u32,
            ..Default::default()
        };
        self.send(
            topics::TASK_EXEC_STARTED_EVENT_TOPIC,
            "TaskExecStarted",
            &ev,
        );
    }

    /// TaskPaused.
    pub fn paused(&self, id: &str) {
        let ev = TaskPaused {
            container_id: id.into(),
            ..Default::default()
        };
        self.send(topics::TASK_PAUSED_EVENT_TOPIC, "TaskPaused", &ev);
    }

    /// TaskResumed.
    pub fn resumed(&self, id: &str) {
        let ev = TaskResumed {
            container_id: id.into(),
            ..Default::default()
        };
        self.send(topics::TASK_RESUMED_EVENT_TOPIC, "TaskResumed", &ev);
    }

    /// TaskOOM.
    pub fn oom(&self, id: &str) {
        let ev = TaskOOM {
            container_id: id.into(),
            ..Default::default()
        };
        self.send(topics::TASK_OOM_EVENT_TOPIC, "TaskOOM", &ev);
    }
}

/// Sends each queued envelope to containerd in order, reconnecting as needed.
async fn forward_all(address: String, mut rx: mpsc::UnboundedReceiver<Envelope>) {
    let mut client: Option<EventsClient> = None;
    while let Some(envelope) = rx.recv().await {
        let req = ForwardRequest {
            envelope: MessageField::some(envelope),
            ..Default::default()
        };
        for attempt in 1..=TRIES {
            if client.is_none() {
                client = Client::connect(&address).await.ok().map(EventsClient::new);
            }
            if let Some(c) = &client {
                match c.forward(Context::default(), &req).await {
                    Ok(_) => break,
                    Err(e) => {
                        log::warn!("forward event to {address}: {e}");
                        client = None;
                    }
                }
            }
            if attempt == TRIES {
                log::warn!("dropped event {}", req.envelope.topic);
            } else {
                tokio::time::sleep(Duration::from_secs(attempt)).await;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + std::time::Duration::new(5, 7);
        let ts = timestamp(t);
        assert_eq!((ts.seconds, ts.nanos), (5, 7));
    }
}
