//! How the task service answers: a task error as the ttrpc status containerd maps back to
//! its own errors, the process status enum, and [`detached`], which keeps a lifecycle flow
//! running when containerd hangs up mid-call.

use super::process::Status;
use super::task::TaskError;
use containerd_shim_protos::ttrpc::{self, Code};
use containerd_shim_protos::types::task::Status as TaskStatus;

/// A ttrpc call's result.
pub type TtrpcResult<T> = Result<T, ttrpc::Error>;

/// Runs a lifecycle flow to its end even when the call is abandoned: ttrpc drops a handler's
/// future when containerd's connection closes (containerd killed mid-create), and a create
/// cut off between the runtime command and the task table would leave a task no one can
/// wait for or delete.
pub async fn detached<T, F>(flow: F) -> TtrpcResult<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    tokio::spawn(flow)
        .await
        .map_err(|e| rpc(Code::INTERNAL, format!("task flow failed: {e}")))
}

/// A status with a code and a message.
pub fn rpc(code: Code, msg: String) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg))
}

/// A task error as the status containerd understands.
pub fn status(e: TaskError) -> ttrpc::Error {
    let code = match &e {
        TaskError::NotFound { .. } | TaskError::Finished => Code::NOT_FOUND,
        TaskError::Exists(_) => Code::ALREADY_EXISTS,
        TaskError::State { .. } => Code::FAILED_PRECONDITION,
        TaskError::Options(_) => Code::INVALID_ARGUMENT,
        _ => Code::UNKNOWN,
    };
    rpc(code, e.to_string())
}

/// A runtime failure of `op` as a status.
pub fn runtime_err(op: &'static str) -> impl Fn(super::runtime::RuntimeError) -> ttrpc::Error {
    move |source| status(TaskError::Runtime { op, source })
}

/// containerd's name for a process status.
pub fn task_status(s: Status) -> TaskStatus {
    match s {
        Status::Created => TaskStatus::CREATED,
        Status::Running => TaskStatus::RUNNING,
        Status::Paused => TaskStatus::PAUSED,
        Status::Stopped => TaskStatus::STOPPED,
    }
}
