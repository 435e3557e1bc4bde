//! The container table and the create flow behind the task service (starting is in
//! `start.rs`, deleting in `delete.rs`), each a list of named steps around one runtime
//! command, plus the exit handling. State
//! lives in [`Shared`]: one table of containers, each with its own locks (an `ops` lock that
//! orders the init's lifecycle calls, a short state lock never held across an await), so a
//! slow call on one container never stalls another served by the same shim.

use super::events::{CreateInfo, Events};
use super::io::IoError;
use super::mount::{self, RootfsMount};
use super::options::RuntimeOptions;
use super::process::{Container, ExitTable, Proc, ProcKey, Status, StdioPaths};
use super::reaper::{Exit, Reaper};
use super::runtime::{CreateOpts, Runtime, RuntimeError};
use super::start::{read_pid, with_stdio};
use containerd_shim_protos::api::CreateTaskRequest;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::task::JoinHandle;

/// A failed lifecycle step, mapped to a ttrpc status by the service.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// No such container or process.
    #[error("{what} {id}: not found")]
    NotFound {
        /// `container` or `process`.
        what: &'static str,
        /// The id.
        id: String,
    },
    /// The id is taken.
    #[error("container {0}: already exists")]
    Exists(String),
    /// The process is in the wrong state for the call.
    #[error("{id}: cannot {op} a {state} process")]
    State {
        /// The id.
        id: String,
        /// The call.
        op: &'static str,
        /// Its state.
        state: &'static str,
    },
    /// The process already exited.
    #[error("process already finished")]
    Finished,
    /// The runtime command failed.
    #[error("OCI runtime {op} failed: {source}")]
    Runtime {
        /// The call.
        op: &'static str,
        /// The runtime's error.
        #[source]
        source: RuntimeError,
    },
    /// Stdio could not be set up.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The rootfs could not be mounted.
    #[error(transparent)]
    Mount(#[from] super::mount::MountError),
    /// The request's options or files are bad.
    #[error(transparent)]
    Options(#[from] super::options::OptionsError),
    /// A file in the bundle could not be written.
    #[error("write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One container of this shim.
pub struct Ctr {
    /// Its id.
    pub id: String,
    /// Its runtime client.
    pub runtime: Runtime,
    /// Orders the init's lifecycle calls (create, start, delete, pause, resume, update).
    pub ops: tokio::sync::Mutex<()>,
    state: Mutex<Container>,
    pub(super) oom: Mutex<Option<JoinHandle<()>>>,
}

impl Ctr {
    /// The state, locked briefly (never across an await).
    pub fn state(&self) -> MutexGuard<'_, Container> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Everything the service and the exit dispatcher share.
pub struct Shared {
    /// containerd namespace.
    pub namespace: String,
    /// Event publisher.
    pub events: Arc<Events>,
    /// The reaper.
    pub reaper: Arc<Reaper>,
    /// Whether metrics are v2.
    pub unified: bool,
    containers: Mutex<HashMap<String, Arc<Ctr>>>,
    exits: Mutex<ExitTable>,
}

impl Shared {
    /// The shared state; starts the exit dispatcher.
    pub fn new(namespace: String, events: Arc<Events>, reaper: Arc<Reaper>) -> Arc<Shared> {
        let shared = Arc::new(Shared {
            namespace,
            events,
            reaper: reaper.clone(),
            unified: super::metrics::host_is_unified(),
            containers: Mutex::new(HashMap::new()),
            exits: Mutex::new(ExitTable::default()),
        });
        let mut sub = reaper.subscribe();
        let s = shared.clone();
        tokio::spawn(async move {
            while let Some(exit) = sub.next().await {
                let owner = s.exits().on_exit(exit);
                if let Some((key, exit)) = owner {
                    s.clone().handle_exit(key, exit);
                }
            }
        });
        shared
    }

    pub(super) fn exits(&self) -> MutexGuard<'_, ExitTable> {
        self.exits.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn table(&self) -> MutexGuard<'_, HashMap<String, Arc<Ctr>>> {
        self.containers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The container `id`.
    pub fn get(&self, id: &str) -> Result<Arc<Ctr>, TaskError> {
        self.table().get(id).cloned().ok_or(TaskError::NotFound {
            what: "container",
            id: id.into(),
        })
    }

    /// How many containers this shim serves.
    pub fn count(&self) -> usize {
        self.table().len()
    }

    /// Records an exit and tells containerd (in a task of its own, so the dispatcher goes
    /// on with the next exit while the init's leftovers are killed).
    pub fn handle_exit(self: Arc<Self>, key: ProcKey, exit: Exit) {
        let Ok(ctr) = self.get(&key.id) else {
            return;
        };
        let kill_all = {
            let mut st = ctr.state();
            let shares = st.shares_host_pids;
            let Some(p) = st.proc_mut(&key.exec_id) else {
                return;
            };
            p.set_exited(exit);
            key.exec_id.is_empty() && shares
        };
        tokio::spawn(async move {
            if kill_all {
                // Without its own pid namespace nothing kills the init's children for us.
                let _ = ctr.runtime.kill(&ctr.id, 9, true).await;
            }
            self.events.exited(&key.id, &key.exec_id, exit);
        });
    }

    /// Runs the whole create; on failure nothing of it is left (mounts, state, table entry).
    pub async fn create(
        self: &Arc<Self>,
        req: &CreateTaskRequest,
        runtime_opts: RuntimeOptions,
    ) -> Result<i32, TaskError> {
        let bundle = PathBuf::from(&req.bundle);
        let stdio = StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        let runtime = Runtime {
            binary: runtime_opts.binary(),
            root: runtime_opts.root(&self.namespace),
            log: bundle.join("log.json"),
            systemd_cgroup: runtime_opts.systemd_cgroup,
            reaper: self.reaper.clone(),
        };
        let ctr = Arc::new(Ctr {
            id: req.id.clone(),
            runtime,
            ops: tokio::sync::Mutex::new(()),
            state: Mutex::new(Container {
                bundle: bundle.clone(),
                mounted_rootfs: false,
                init: Proc::new(stdio, Vec::new()),
                execs: HashMap::new(),
                shares_host_pids: shares_host_pids(&bundle),
            }),
            oom: Mutex::new(None),
        });
        {
            let mut table = self.table();
            if table.contains_key(&req.id) {
                return Err(TaskError::Exists(req.id.clone()));
            }
            table.insert(req.id.clone(), ctr.clone());
        }
        let _op = ctr.ops.lock().await;
        let result = self.create_steps(&ctr, req, &runtime_opts).await;
        if result.is_err() {
            self.table().remove(&req.id);
            let rootfs = bundle.join("rootfs");
            if ctr.state().mounted_rootfs {
                mount::unmount_all(&rootfs);
            }
        }
        result
    }

    async fn create_steps(
        self: &Arc<Self>,
        ctr: &Arc<Ctr>,
        req: &CreateTaskRequest,
        opts: &RuntimeOptions,
    ) -> Result<i32, TaskError> {
        let bundle = PathBuf::from(&req.bundle);
        opts.save(&bundle)?;
        if !req.rootfs.is_empty() {
            let mounts: Vec<RootfsMount> = req
                .rootfs
                .iter()
                .map(|m| RootfsMount {
                    fstype: m.type_.clone(),
                    source: m.source.clone(),
                    options: m.options.clone(),
                })
                .collect();
            mount::mount_all(&mounts, &bundle.join("rootfs"))?;
            ctr.state().mounted_rootfs = true;
        }
        let pid_file = bundle.join("init.pid");
        let run_opts = CreateOpts {
            pid_file: pid_file.clone(),
            console_socket: None,
            no_pivot: opts.no_pivot_root,
            no_new_keyring: opts.no_new_keyring,
        };
        let stdio = ctr.state().init.stdio.clone();
        let window = self.exits().open_window();
        let started = with_stdio("create", &stdio, opts, |child, socket| {
            let mut o = run_opts;
            o.console_socket = socket;
            let rt = ctr.runtime.clone();
            let bundle = bundle.clone();
            let id = ctr.id.clone();
            async move { rt.create(&id, &bundle, &o, child).await }
        })
        .await;
        let (pid, io) = match started.and_then(|io| Ok((read_pid(&pid_file, "create")?, io))) {
            Ok(v) => v,
            Err(e) => {
                self.exits().close_window(window);
                let _ = ctr.runtime.delete(&ctr.id, true).await;
                return Err(e);
            }
        };
        {
            let mut st = ctr.state();
            st.init.pid = pid;
            st.init.io = Some(io);
        }
        self.events.created(CreateInfo {
            id: &req.id,
            bundle: &req.bundle,
            rootfs: &req.rootfs,
            stdin: &req.stdin,
            stdout: &req.stdout,
            stderr: &req.stderr,
            terminal: req.terminal,
            pid,
        });
        self.after_start(window, pid, ProcKey::init(&ctr.id));
        let watch = super::oom::watch(pid, &ctr.id, self.events.clone());
        *ctr.oom.lock().unwrap_or_else(PoisonError::into_inner) = watch;
        Ok(pid)
    }
}

impl ProcKey {
    /// The init of `id`.
    pub fn init(id: &str) -> ProcKey {
        ProcKey {
            id: id.into(),
            exec_id: String::new(),
        }
    }

    /// Exec `exec_id` of `id`.
    pub fn exec(id: &str, exec_id: &str) -> ProcKey {
        ProcKey {
            id: id.into(),
            exec_id: exec_id.into(),
        }
    }
}

pub(super) fn not_found(exec_id: &str) -> TaskError {
    TaskError::NotFound {
        what: "process",
        id: exec_id.into(),
    }
}

/// Fails unless `status` is one of `allowed`.
pub fn require(
    id: &str,
    op: &'static str,
    status: Status,
    allowed: &[Status],
) -> Result<(), TaskError> {
    if allowed.contains(&status) {
        return Ok(());
    }
    Err(TaskError::State {
        id: id.into(),
        op,
        state: match status {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        },
    })
}

/// Whether a runtime error says the container is already gone.
pub fn gone(e: &RuntimeError) -> bool {
    let text = e.to_string().to_lowercase();
    ["does not exist", "not found", "no such"]
        .iter()
        .any(|w| text.contains(w))
}

/// True unless config.json asks for a new pid namespace (read leniently: a broken config is
/// the runtime's to report).
fn shares_host_pids(bundle: &Path) -> bool {
    let Ok(text) = std::fs::read(bundle.join("config.json")) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return false;
    };
    !v["linux"]["namespaces"].as_array().is_some_and(|ns| {
        ns.iter()
            .any(|n| n["type"] == "pid" && n.get("path").is_none())
    })
}
