//! `ps`: the processes in a container's cgroup, as pids (runc's `ps --format json`) or as the
//! host's `ps` output cut down to the header and the lines whose PID column is one of them
//! (runc's table format, which runs `ps` with the user's arguments, default `-ef`).

use super::{Container, ContainerError};
use crate::cgroups::{self, Manager};
use crate::error::{ErrorKind, Kind};
use crate::state::StateRoot;
use std::process::{Command, Stdio};

/// A failed `ps` table.
#[derive(Debug, thiserror::Error)]
pub enum PsError {
    /// The host's `ps` could not be run.
    #[error("run ps: {source}")]
    Spawn {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `ps` exited with an error (bad arguments, usually).
    #[error("ps {args}: {status}: {stderr}")]
    Failed {
        /// The arguments it got.
        args: String,
        /// How it ended.
        status: std::process::ExitStatus,
        /// What it said, on one line.
        stderr: String,
    },
    /// The header has no PID column, so lines cannot be matched to the container.
    #[error("couldn't find PID field in ps output")]
    NoPidColumn,
    /// A line's PID column is not a number.
    #[error("unexpected pid {value:?} in ps output line {line:?}")]
    BadPid {
        /// The PID column's text.
        value: String,
        /// The whole line.
        line: String,
    },
}

impl Kind for PsError {
    fn kind(&self) -> ErrorKind {
        match self {
            PsError::Spawn { .. } => ErrorKind::Sys,
            PsError::Failed { .. } | PsError::NoPidColumn | PsError::BadPid { .. } => {
                ErrorKind::Usage
            }
        }
    }
}

/// The cgroup manager of a container, from its state.
pub(crate) fn manager_of(c: &Container) -> Result<Box<dyn Manager>, ContainerError> {
    let record = c
        .state
        .cgroup
        .as_ref()
        .ok_or_else(|| ContainerError::NoCgroup {
            id: c.id().to_string(),
        })?;
    Ok(cgroups::from_record(record)?)
}

/// Pids (in hull's pid namespace) of every process in container `id`'s cgroup.
pub fn pids(root: &StateRoot, id: &str) -> Result<Vec<i32>, ContainerError> {
    let c = Container::load(root, id)?;
    Ok(manager_of(&c)?.pids()?)
}

/// The host's `ps <ps_args>` (default `-ef`) cut down to container `id`'s processes.
pub fn table(root: &StateRoot, id: &str, ps_args: &[String]) -> Result<String, ContainerError> {
    let pids = pids(root, id)?;
    let default = ["-ef".to_string()];
    let args = if ps_args.is_empty() {
        &default[..]
    } else {
        ps_args
    };
    let out = Command::new("ps")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| PsError::Spawn { source })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(PsError::Failed {
            args: args.join(" "),
            status: out.status,
            stderr: stderr.lines().map(str::trim).collect::<Vec<_>>().join("; "),
        }
        .into());
    }
    Ok(filter_table(&String::from_utf8_lossy(&out.stdout), &pids)?)
}

/// The header of `ps` output plus the lines whose PID column is in `pids`.
pub fn filter_table(output: &str, pids: &[i32]) -> Result<String, PsError> {
    let mut lines = output.split('\n');
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|t| t == "PID")
        .ok_or(PsError::NoPidColumn)?;
    let mut out = format!("{header}\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let value = line.split_whitespace().nth(col).unwrap_or_default();
        let pid: i32 = value.parse().map_err(|_| PsError::BadPid {
            value: value.into(),
            line: line.into(),
        })?;
        if pids.contains(&pid) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS: &str = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
root           1       0  0 18:00 ?        00:00:01 /sbin/init\n\
root       24057       1  0 18:19 ?        00:00:00 sh -c while :; do sleep 1; done\n\
root       24068   24057  0 18:19 ?        00:00:00 sleep 1\n";

    #[test]
    fn keeps_header_and_container_lines() {
        let t = filter_table(PS, &[24057, 24068]).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("UID          PID"));
        assert!(lines[1].contains("sh -c while"));
        assert!(lines[2].ends_with("sleep 1"));
        assert_eq!(filter_table(PS, &[]).unwrap().lines().count(), 1);
    }

    #[test]
    fn pid_column_anywhere() {
        let t = filter_table("COMMAND PID\nsh 7\ncat 8\n", &[8]).unwrap();
        assert_eq!(t, "COMMAND PID\ncat 8\n");
    }

    #[test]
    fn bad_output() {
        assert!(matches!(
            filter_table("USER COMMAND\nroot sh\n", &[1]),
            Err(PsError::NoPidColumn)
        ));
        assert!(matches!(
            filter_table("PID CMD\nx sh\n", &[1]),
            Err(PsError::BadPid { .. })
        ));
        assert!(matches!(
            filter_table("CMD PID\nsh\n", &[1]),
            Err(PsError::BadPid { .. })
        ));
    }
}
