//! `events`: runc's event stream for one container. `--stats` is a single `stats` event;
//! otherwise a `stats` event every interval and an `oom` event for each OOM kill in the
//! container, until its init exits or its cgroup is removed. One thread: a poll on the
//! init's pidfd and the cgroup's OOM watch, with the time to the next tick as timeout.

use super::ps::manager_of;
use super::{Container, ContainerError};
use crate::cgroups::{OomNews, OomWatch, Stats};
use crate::state::{StateRoot, Status};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// One line of `events` output (runc's `types.Event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `stats` or `oom`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The container id.
    pub id: String,
    /// The statistics of a `stats` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

impl Event {
    /// A `stats` event.
    pub fn stats(id: &str, data: Stats) -> Event {
        Event {
            kind: "stats".into(),
            id: id.into(),
            data: Some(data),
        }
    }

    /// An `oom` event.
    pub fn oom(id: &str) -> Event {
        Event {
            kind: "oom".into(),
            id: id.into(),
            data: None,
        }
    }
}

fn load_live(root: &StateRoot, id: &str, op: &'static str) -> Result<Container, ContainerError> {
    let c = Container::load(root, id)?;
    c.require(op, |s| s != Status::Stopped)?;
    Ok(c)
}

/// The `stats` event of container `id` now.
pub fn stats(root: &StateRoot, id: &str) -> Result<Event, ContainerError> {
    let c = load_live(root, id, "read stats of")?;
    Ok(Event::stats(id, manager_of(&c)?.stats()?))
}

/// Streams container `id`'s events to `emit` (which may stop the stream) until its init
/// exits or its cgroup goes away. Stats that cannot be read are logged and skipped.
pub fn watch(
    root: &StateRoot,
    id: &str,
    interval: Duration,
    emit: &mut dyn FnMut(&Event) -> ControlFlow<()>,
) -> Result<(), ContainerError> {
    let c = load_live(root, id, "watch events of")?;
    let cgroup = manager_of(&c)?;
    let mut oom = cgroup.oom_watch()?;
    let pidfd = c.init_pidfd().ok_or(ContainerError::BadState {
        id: id.into(),
        op: "watch events of",
        status: Status::Stopped,
    })?;
    let mut next = Instant::now() + interval;
    loop {
        let (init_done, news) = wait(&pidfd, c.state.pid, oom.as_ref(), next)?;
        if news || init_done {
            if let Some(w) = oom.as_mut() {
                match report_ooms(w, id, emit)? {
                    ControlFlow::Break(()) => return Ok(()),
                    ControlFlow::Continue(false) => return Ok(()),
                    ControlFlow::Continue(true) => {}
                }
            }
        }
        if init_done {
            return Ok(());
        }
        let now = Instant::now();
        if now >= next {
            match cgroup.stats() {
                Ok(s) => {
                    if emit(&Event::stats(id, s)).is_break() {
                        return Ok(());
                    }
                }
                Err(e) => crate::log::error(&e.to_string()),
            }
            next += interval;
            if next <= now {
                next = now + interval;
            }
        }
    }
}

/// Emits one `oom` event per new kill; Continue(false) once the cgroup is gone.
fn report_ooms(
    w: &mut OomWatch,
    id: &str,
    emit: &mut dyn FnMut(&Event) -> ControlFlow<()>,
) -> Result<ControlFlow<(), bool>, ContainerError> {
    match w.check()? {
        OomNews::Gone => Ok(ControlFlow::Continue(false)),
        OomNews::Kills(n) => {
            for _ in 0..n {
                if emit(&Event::oom(id)).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
            Ok(ControlFlow::Continue(true))
        }
    }
}

/// Waits until `deadline`, the init's exit or OOM news: (init exited, news may be ready).
fn wait(
    pidfd: &OwnedFd,
    pid: i32,
    oom: Option<&OomWatch>,
    deadline: Instant,
) -> Result<(bool, bool), ContainerError> {
    let left = deadline.saturating_duration_since(Instant::now());
    // Round up: a timeout rounded down to 0 ms would spin until the deadline.
    let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
    let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    if let Some(w) = oom {
        fds.push(PollFd::new(w.fd(), PollFlags::POLLIN));
    }
    match poll(&mut fds, timeout) {
        Ok(_) => {}
        Err(nix::errno::Errno::EINTR) => return Ok((false, false)),
        Err(e) => {
            return Err(ContainerError::Signal {
                op: "wait for events of",
                pid,
                source: e.into(),
            })
        }
    }
    let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
    Ok((ready(&fds[0]), fds.get(1).is_some_and(ready)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_json_matches_runc() {
        assert_eq!(
            serde_json::to_string(&Event::oom("c1")).unwrap(),
            r#"{"type":"oom","id":"c1"}"#
        );
        let s = serde_json::to_value(Event::stats("c1", Stats::default())).unwrap();
        assert_eq!(s["type"], "stats");
        assert_eq!(s["data"]["intel_rdt"], serde_json::json!({}));
        assert_eq!(s["data"]["network_interfaces"], serde_json::Value::Null);
    }
}
