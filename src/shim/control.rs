//! Signals and freezing behind the task service: `kill` of an exec (a direct signal, as
//! containerd's runc shim sends it), `pause`/`resume` as one flow with their event, and the
//! exec details `ps` attaches to a pid.

use super::events::Events;
use super::process::Status;
use super::reply::{rpc, runtime_err, status, TtrpcResult};
use super::task::{gone, require, Ctr, TaskError};
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::Message;
use containerd_shim_protos::shim::oci::ProcessDetails;
use containerd_shim_protos::ttrpc::Code;
use std::sync::Arc;

/// `pause` (or `resume`), the status and the event, as one flow.
pub async fn freeze(ctr: Arc<Ctr>, events: Arc<Events>, pause: bool) -> TtrpcResult<()> {
    let _op = ctr.ops.lock().await;
    let (from, to, op) = if pause {
        (Status::Running, Status::Paused, "pause")
    } else {
        (Status::Paused, Status::Running, "resume")
    };
    let st = ctr.state().init.status;
    require(&ctr.id, op, st, &[from]).map_err(status)?;
    if pause {
        ctr.runtime.pause(&ctr.id).await
    } else {
        ctr.runtime.resume(&ctr.id).await
    }
    .map_err(runtime_err(op))?;
    set_init_status(&ctr, from, to);
    if pause {
        events.paused(&ctr.id);
    } else {
        events.resumed(&ctr.id);
    }
    Ok(())
}

/// A pty dimension as the kernel takes it.
pub fn clamp16(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

/// Moves the init from `from` to `to` (not when it changed meanwhile, e.g. exited).
pub fn set_init_status(ctr: &Ctr, from: Status, to: Status) {
    let mut st = ctr.state();
    if st.init.status == from {
        st.init.status = to;
    }
}

/// The runtime said the container's init is gone.
pub fn not_running(e: &super::runtime::RuntimeError) -> bool {
    let text = e.to_string().to_lowercase();
    gone(e)
        || [
            "not running",
            "already finished",
            "stopped",
            "no such process",
        ]
        .iter()
        .any(|w| text.contains(w))
}

/// Signals an exec directly, as containerd's runc shim does. The pid cannot be reused while
/// the process is not reaped, and reaping marks it stopped under the same lock.
pub fn kill_exec(ctr: &Ctr, exec_id: &str, signal: u32) -> TtrpcResult<()> {
    let st = ctr.state();
    let p = st.execs.get(exec_id).ok_or_else(|| {
        status(TaskError::NotFound {
            what: "process",
            id: exec_id.into(),
        })
    })?;
    match p.status {
        Status::Running | Status::Paused => {}
        Status::Stopped => return Err(status(TaskError::Finished)),
        Status::Created => {
            return Err(status(TaskError::State {
                id: exec_id.into(),
                op: "kill",
                state: "created",
            }))
        }
    }
    let pid = nix::unistd::Pid::from_raw(p.pid);
    let sig = i32::try_from(signal)
        .ok()
        .and_then(|s| nix::sys::signal::Signal::try_from(s).ok())
        .ok_or_else(|| rpc(Code::INVALID_ARGUMENT, format!("signal {signal}: unknown")))?;
    match nix::sys::signal::kill(pid, sig) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::ESRCH) => Err(status(TaskError::Finished)),
        Err(e) => Err(rpc(Code::UNKNOWN, format!("kill exec {exec_id}: {e}"))),
    }
}

/// The `ProcessDetails` of an exec, as `ps` reports them.
pub fn details(exec_id: &str) -> Option<Any> {
    let d = ProcessDetails {
        exec_id: exec_id.into(),
        ..Default::default()
    };
    Some(Any {
        type_url: "containerd.runc.v1.ProcessDetails".into(),
        value: d.write_to_bytes().ok()?,
        ..Default::default()
    })
}
