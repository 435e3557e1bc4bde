//! `containerd-shim-hull-v2`: containerd's task API v2 served over ttrpc, every runtime step
//! done by running the `hull` binary (or `BinaryName`) and reading its output, as
//! containerd's runc shim drives runc. The shim never forks the create path itself: it is an
//! async, ttrpc-serving process, and hull's create path wants a single-threaded forker.
//!
//! containerd runs the binary three ways, all through [`run`]:
//! - `start`: spawn the serving shim (or find the one serving the container's group), write
//!   the `address` file in the bundle and print the socket address;
//! - `delete`: clean up after a shim that died (runtime `delete --force`, rootfs unmount,
//!   its dead socket) and print the DeleteResponse;
//! - no action: serve the task API until Shutdown with no container left.
//!
//! One current-thread tokio runtime runs it all (memory: one idle shim per container).
//! Files: `service.rs` (the API; `reply.rs`, `control.rs`), the flows `task.rs` (create,
//! exits), `start.rs`, `delete.rs`; `runtime.rs` (the hull CLI client), `process.rs` (task
//! table, exit matching), `reaper.rs` (the one waitpid), `io.rs` (fifos, pipes, pty),
//! `events.rs` (to containerd), `oom.rs`, `mount.rs`, `options.rs`, `metrics.rs`.

pub mod control;
pub mod delete;
pub mod events;
pub mod io;
pub mod metrics;
pub mod mount;
pub mod oom;
pub mod options;
pub mod process;
pub mod reaper;
pub mod reply;
pub mod runtime;
pub mod service;
pub mod start;
pub mod task;

use async_trait::async_trait;
use containerd_shim::asynchronous::publisher::RemotePublisher;
use containerd_shim::asynchronous::{ExitSignal, Shim};
use containerd_shim::{Config, DeleteResponse, Flags, StartOpts};
use containerd_shim_protos::protobuf::MessageField;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The runtime name containerd resolves to this binary.
pub const RUNTIME_ID: &str = "io.containerd.hull.v2";

/// Annotations that put containers into one shim, as the runc v2 shim reads them.
const GROUP_LABELS: [&str; 2] = [
    "io.containerd.runc.v2.group",
    "io.kubernetes.cri.sandbox-id",
];

/// Runs the shim binary; returns only when the shim is done.
pub fn run() {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{RUNTIME_ID}: start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let config = Config {
        // reaper.rs is the only reaper: the crate's own SIGCHLD loop would steal exits.
        no_reaper: true,
        ..Config::default()
    };
    rt.block_on(containerd_shim::asynchronous::run::<HullShim>(
        RUNTIME_ID,
        Some(config),
    ));
}

/// The shim process: its flags and the signal that ends serving.
pub struct HullShim {
    id: String,
    socket: String,
    namespace: String,
    bundle: PathBuf,
    exit: Arc<ExitSignal>,
}

/// The group a container's shim is shared by: the first group annotation in its
/// config.json, else the container's own id.
pub fn grouping(config: &[u8], id: &str) -> String {
    let v: serde_json::Value = serde_json::from_slice(config).unwrap_or_default();
    GROUP_LABELS
        .iter()
        .find_map(|k| v["annotations"][k].as_str().filter(|s| !s.is_empty()))
        .unwrap_or(id)
        .to_string()
}

#[async_trait]
impl Shim for HullShim {
    type T = service::Service;

    async fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        let bundle = if args.bundle.is_empty() {
            std::env::current_dir().unwrap_or_default()
        } else {
            PathBuf::from(&args.bundle)
        };
        HullShim {
            id: args.id.clone(),
            socket: args.socket.clone(),
            namespace: args.namespace.clone(),
            bundle,
            exit: Arc::new(ExitSignal::default()),
        }
    }

    async fn start_shim(&mut self, opts: StartOpts) -> containerd_shim::Result<String> {
        let config = std::fs::read(self.bundle.join("config.json")).unwrap_or_default();
        let group = grouping(&config, &opts.id);
        let address = containerd_shim::asynchronous::spawn(opts, &group, Vec::new()).await?;
        options::write_file(&self.bundle.join("address"), address.as_bytes())
            .map_err(|e| containerd_shim::Error::Other(format!("write address file: {e}")))?;
        Ok(address)
    }

    async fn delete_shim(&mut self) -> containerd_shim::Result<DeleteResponse> {
        let reaper =
            reaper::Reaper::start().map_err(|e| containerd_shim::Error::Other(e.to_string()))?;
        Ok(cleanup(&self.bundle, &self.id, &self.namespace, reaper).await)
    }

    async fn wait(&mut self) {
        self.exit.wait().await;
        // The crate removes the socket named by the `address` file in the working
        // directory, but a grouped shim's working directory is the bundle of the first
        // container, which containerd may have deleted by now.
        let path = self.socket.trim_start_matches("unix://");
        if !path.is_empty() {
            let _ = std::fs::remove_file(path);
        }
    }

    async fn create_task_service(&self, publisher: RemotePublisher) -> Self::T {
        let reaper = match reaper::Reaper::start() {
            Ok(r) => r,
            Err(e) => {
                log::error!("{e}");
                eprintln!("{RUNTIME_ID}: {e}");
                std::process::exit(1);
            }
        };
        // The crate connected a publisher of its own; hull's (events.rs) forwards in order
        // without protobuf reflection, so this one is dropped unused.
        let address = publisher.address.clone();
        drop(publisher);
        let events = Arc::new(events::Events::new(&address, self.namespace.clone()));
        let shared = task::Shared::new(self.namespace.clone(), events, reaper);
        service::Service::new(shared, self.exit.clone())
    }
}

/// The `delete` action: whatever a dead shim left of container `id`, removed: the runtime's
/// state (`delete --force` kills what still runs), the rootfs mount, the dead shim's
/// socket. Reports the init as
/// killed (137), as containerd's runc shim does.
pub async fn cleanup(
    bundle: &Path,
    id: &str,
    namespace: &str,
    reaper: Arc<reaper::Reaper>,
) -> DeleteResponse {
    let opts = options::RuntimeOptions::load(bundle).unwrap_or_else(|e| {
        log::warn!("{e}; using the defaults");
        options::RuntimeOptions::default()
    });
    let rt = runtime::Runtime {
        binary: opts.binary(),
        root: opts.root(namespace),
        log: bundle.join("log.json"),
        systemd_cgroup: opts.systemd_cgroup,
        reaper,
    };
    if let Err(e) = rt.delete(id, true).await {
        if !task::gone(&e) {
            log::warn!("delete {id}: {e}");
        }
    }
    mount::unmount_all(&bundle.join("rootfs"));
    remove_dead_socket(bundle);
    let pid = runtime::read_pid_file(&bundle.join("init.pid")).unwrap_or(0);
    DeleteResponse {
        pid: pid as u32,
        exit_status: 128 + libc::SIGKILL as u32,
        exited_at: MessageField::some(events::timestamp(std::time::SystemTime::now())),
        ..Default::default()
    }
}

/// Removes the socket the bundle's `address` file names when no shim listens on it any
/// more (a shim killed with SIGKILL cannot remove its own). A grouped shim that still
/// serves other containers answers, and keeps its socket.
fn remove_dead_socket(bundle: &Path) {
    let Ok(address) = std::fs::read_to_string(bundle.join("address")) else {
        return;
    };
    let path = Path::new(address.trim().trim_start_matches("unix://"));
    match std::os::unix::net::UnixStream::connect(path) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            if let Err(e) = std::fs::remove_file(path) {
                log::warn!("remove dead shim socket {}: {e}", path.display());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_group_by_annotation() {
        let cfg = br#"{"annotations":{"io.kubernetes.cri.sandbox-id":"pod1"}}"#;
        assert_eq!(grouping(cfg, "c1"), "pod1");
        let both = br#"{"annotations":{"io.kubernetes.cri.sandbox-id":"pod1","io.containerd.runc.v2.group":"g"}}"#;
        assert_eq!(grouping(both, "c1"), "g");
        assert_eq!(grouping(b"{}", "c1"), "c1");
        assert_eq!(grouping(b"not json", "c1"), "c1");
    }
}
