//! A typed client for the runtime binary (`hull`, or whatever `BinaryName` names): one
//! method per runc subcommand the shim uses, each run as a child process with runc's global
//! flags (`--root`, `--log <bundle>/log.json --log-format json`). A failed command becomes
//! [`RuntimeError::CommandFailed`] carrying the error the runtime logged, read from the json
//! log as containerd's runc shim does (the runtime's stderr may be the container's). The
//! child is reaped by the shim's one reaper ([`super::reaper`]), never waited on here.

use super::reaper::Reaper;
use std::io::{BufRead, Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// A runtime command that could not run or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The binary could not be started (missing, not executable).
    #[error("run {binary} {command}: {source}")]
    Spawn {
        /// The runtime binary.
        binary: PathBuf,
        /// The subcommand.
        command: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The command exited non-zero; `stderr` is the error it logged (or printed).
    #[error("{stderr}")]
    CommandFailed {
        /// The subcommand.
        command: &'static str,
        /// Exit status (128 + signal when killed).
        status: u32,
        /// The runtime's own error message.
        stderr: String,
    },
    /// The command's exit was never seen (the reaper stopped).
    #[error("{command}: the runtime's exit status was lost")]
    Lost {
        /// The subcommand.
        command: &'static str,
    },
    /// A pipe for the command's output could not be made or read.
    #[error("{command}: output pipe: {source}")]
    Pipe {
        /// The subcommand.
        command: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The pid file the runtime should have written cannot be read.
    #[error("read pid file {}: {source}", path.display())]
    PidFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The output is not what the runc contract promises.
    #[error("{command}: unexpected output {output:?}: {reason}")]
    BadOutput {
        /// The subcommand.
        command: &'static str,
        /// What was printed (cut short).
        output: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The three stdio fds a process gets from the shim (None: /dev/null).
#[derive(Debug, Default)]
pub struct ChildStdio {
    /// Stdin.
    pub stdin: Option<OwnedFd>,
    /// Stdout.
    pub stdout: Option<OwnedFd>,
    /// Stderr.
    pub stderr: Option<OwnedFd>,
}

/// How `create` should be run.
#[derive(Debug, Default)]
pub struct CreateOpts {
    /// Where the init's pid goes.
    pub pid_file: PathBuf,
    /// The console socket, for a terminal.
    pub console_socket: Option<PathBuf>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
}

/// The runtime binary with its global flags.
#[derive(Clone)]
pub struct Runtime {
    /// The binary (`hull` on PATH by default).
    pub binary: PathBuf,
    /// `--root`.
    pub root: PathBuf,
    /// `--log` (json).
    pub log: PathBuf,
    /// `--systemd-cgroup`.
    pub systemd_cgroup: bool,
    /// The reaper that sees the children exit.
    pub reaper: Arc<Reaper>,
}

/// What a finished command printed.
#[derive(Debug, Default)]
pub struct Output {
    /// Its stdout (empty when not captured).
    pub stdout: Vec<u8>,
}

impl Runtime {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(&self.log)
            .args(["--log-format", "json"]);
        if self.systemd_cgroup {
            cmd.arg("--systemd-cgroup");
        }
        cmd.args(args);
        cmd
    }

    /// `create --bundle B --pid-file P [--console-socket S] id`, the container's stdio as
    /// the runtime's (the init inherits it).
    pub async fn create(
        &self,
        id: &str,
        bundle: &Path,
        opts: &CreateOpts,
        stdio: ChildStdio,
    ) -> Result<(), RuntimeError> {
        let mut cmd = self.command(&["create", "--bundle"]);
        cmd.arg(bundle).arg("--pid-file").arg(&opts.pid_file);
        if let Some(s) = &opts.console_socket {
            cmd.arg("--console-socket").arg(s);
        }
        if opts.no_pivot {
            cmd.arg("--no-pivot");
        }
        if opts.no_new_keyring {
            cmd.arg("--no-new-keyring");
        }
        cmd.arg(id);
        self.run_with(cmd, "create", stdio, false).await.map(|_| ())
    }

    /// `exec --detach --process F --pid-file P [--console-socket S] id`.
    pub async fn exec(
        &self,
        id: &str,
        process: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
        stdio: ChildStdio,
    ) -> Result<(), RuntimeError> {
        let mut cmd = self.command(&["exec", "--detach", "--process"]);
        cmd.arg(process).arg("--pid-file").arg(pid_file);
        if let Some(s) = console_socket {
            cmd.arg("--console-socket").arg(s);
        }
        cmd.arg(id);
        self.run_with(cmd, "exec", stdio, false).await.map(|_| ())
    }

    /// `start id`.
    pub async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        self.simple("start", &["start", id]).await.map(|_| ())
    }

    /// `kill [--all] id SIGNAL`.
    pub async fn kill(&self, id: &str, signal: u32, all: bool) -> Result<(), RuntimeError> {
        let sig = signal.to_string();
        let args: Vec<&str> = if all {
            vec!["kill", "--all", id, &sig]
        } else {
            vec!["kill", id, &sig]
        };
        self.simple("kill", &args).await.map(|_| ())
    }

    /// `delete [--force] id`.
    pub async fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        let args: Vec<&str> = if force {
            vec!["delete", "--force", id]
        } else {
            vec!["delete", id]
        };
        self.simple("delete", &args).await.map(|_| ())
    }

    /// `pause id`.
    pub async fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        self.simple("pause", &["pause", id]).await.map(|_| ())
    }

    /// `resume id`.
    pub async fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        self.simple("resume", &["resume", id]).await.map(|_| ())
    }

    /// `ps --format json id`: the host pids in the container.
    pub async fn ps(&self, id: &str) -> Result<Vec<u32>, RuntimeError> {
        let out = self.simple("ps", &["ps", "--format", "json", id]).await?;
        parse_json(&out.stdout, "ps")
    }

    /// `update --resources - id` with the resources JSON on stdin.
    pub async fn update(&self, id: &str, resources: &[u8]) -> Result<(), RuntimeError> {
        let cmd = self.command(&["update", "--resources", "-", id]);
        let stdin = stdin_with(resources).map_err(|source| RuntimeError::Pipe {
            command: "update",
            source,
        })?;
        let stdio = ChildStdio {
            stdin: Some(stdin),
            ..ChildStdio::default()
        };
        self.run_with(cmd, "update", stdio, true).await.map(|_| ())
    }

    /// `events --stats id`: the `data` of the one stats event.
    pub async fn stats(&self, id: &str) -> Result<crate::cgroups::Stats, RuntimeError> {
        let out = self.simple("events", &["events", "--stats", id]).await?;
        let ev: crate::container::Event = parse_json(&out.stdout, "events")?;
        ev.data.ok_or_else(|| RuntimeError::BadOutput {
            command: "events",
            output: String::from_utf8_lossy(&out.stdout)
                .chars()
                .take(200)
                .collect(),
            reason: "no stats data".into(),
        })
    }

    /// Runs a command whose stdout is captured and whose stderr is kept for the error.
    async fn simple(&self, what: &'static str, args: &[&str]) -> Result<Output, RuntimeError> {
        self.run_with(self.command(args), what, ChildStdio::default(), true)
            .await
    }

    /// Runs `cmd` to its end. With `capture`, a stdout or stderr not given is captured;
    /// without (create, exec: the container inherits the runtime's stdio, and a captured
    /// pipe would stay open as long as it runs), it is /dev/null.
    async fn run_with(
        &self,
        mut cmd: Command,
        what: &'static str,
        stdio: ChildStdio,
        capture: bool,
    ) -> Result<Output, RuntimeError> {
        let pipe_err = |source| RuntimeError::Pipe {
            command: what,
            source,
        };
        let log_start = std::fs::metadata(&self.log).map_or(0, |m| m.len());
        let (out_r, out_w) = capture_pipe(capture && stdio.stdout.is_none()).map_err(pipe_err)?;
        let (err_r, err_w) = capture_pipe(capture && stdio.stderr.is_none()).map_err(pipe_err)?;
        cmd.stdin(stdio_or_null(stdio.stdin))
            .stdout(stdio_or_null(stdio.stdout.or(out_w)))
            .stderr(stdio_or_null(stdio.stderr.or(err_w)));
        // Subscribe before the fork: the reaper may reap the child before spawn returns.
        let mut exits = self.reaper.subscribe();
        let pid = spawn(&mut cmd, &self.binary, what)?;
        // The command holds the child's ends of the pipes: drop them so reads see EOF.
        drop(cmd);
        let (stdout, stderr, exit) =
            tokio::join!(read_all(out_r), read_all(err_r), exits.wait_for(pid));
        let exit = exit.ok_or(RuntimeError::Lost { command: what })?;
        if exit.status == 0 {
            return Ok(Output { stdout });
        }
        let logged = last_error_since(&self.log, log_start);
        let stderr = logged
            .or_else(|| last_line(&String::from_utf8_lossy(&stderr)))
            .unwrap_or_else(|| {
                format!("{} {what} exited with status {}", self.name(), exit.status)
            });
        Err(RuntimeError::CommandFailed {
            command: what,
            status: exit.status,
            stderr,
        })
    }

    fn name(&self) -> String {
        self.binary
            .file_name()
            .map_or_else(|| "runtime".into(), |n| n.to_string_lossy().into_owned())
    }
}

fn spawn(cmd: &mut Command, binary: &Path, what: &'static str) -> Result<i32, RuntimeError> {
    let child = cmd.spawn().map_err(|source| RuntimeError::Spawn {
        binary: binary.to_path_buf(),
        command: what,
        source,
    })?;
    // Dropping a std Child neither kills nor waits; the reaper collects it.
    Ok(child.id() as i32)
}

fn stdio_or_null(fd: Option<OwnedFd>) -> Stdio {
    fd.map_or_else(Stdio::null, Stdio::from)
}

type Pipe = (Option<OwnedFd>, Option<OwnedFd>);

fn capture_pipe(wanted: bool) -> std::io::Result<Pipe> {
    if !wanted {
        return Ok((None, None));
    }
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    Ok((Some(r), Some(w)))
}

/// A pipe's read end already holding `data` (small: runtime resources JSON).
fn stdin_with(data: &[u8]) -> std::io::Result<OwnedFd> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let size = rustix::pipe::fcntl_getpipe_size(&w)?;
    if data.len() > size {
        rustix::pipe::fcntl_setpipe_size(&w, data.len())?;
    }
    let mut w = std::fs::File::from(w);
    std::io::Write::write_all(&mut w, data)?;
    Ok(r)
}

async fn read_all(fd: Option<OwnedFd>) -> Vec<u8> {
    let mut buf = Vec::new();
    let Some(fd) = fd else {
        return buf;
    };
    match tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
        Ok(mut rx) => {
            let _ = rx.read_to_end(&mut buf).await;
        }
        Err(e) => log::warn!("read runtime output: {e}"),
    }
    buf
}

fn parse_json<T: serde::de::DeserializeOwned>(
    out: &[u8],
    command: &'static str,
) -> Result<T, RuntimeError> {
    serde_json::from_slice(out).map_err(|e| RuntimeError::BadOutput {
        command,
        output: String::from_utf8_lossy(out).chars().take(200).collect(),
        reason: e.to_string(),
    })
}

/// The last error-level message in the json log after byte `start`.
fn last_error_since(log: &Path, start: u64) -> Option<String> {
    let mut f = std::fs::File::open(log).ok()?;
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut text = String::new();
    f.take(1 << 20).read_to_string(&mut text).ok()?;
    last_error_in(text.as_bytes())
}

/// The `msg` of the last `"level":"error"` line of a runc-style json log.
pub fn last_error_in(log: &[u8]) -> Option<String> {
    log.lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .filter(|v| v["level"] == "error" || v["level"] == "fatal")
        .filter_map(|v| v["msg"].as_str().map(str::to_string))
        .last()
}

fn last_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_string)
}

/// Reads a pid file the runtime wrote.
pub fn read_pid_file(path: &Path) -> Result<i32, RuntimeError> {
    let text = std::fs::read_to_string(path).map_err(|source| RuntimeError::PidFile {
        path: path.into(),
        source,
    })?;
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| RuntimeError::BadOutput {
            command: "pid file",
            output: text.chars().take(40).collect(),
            reason: format!("{} does not hold a pid", path.display()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_logged_error_is_the_message() {
        let log = br#"{"level":"info","msg":"starting","time":"t"}
{"level":"error","msg":"first","time":"t"}
not json
{"level":"error","msg":"process.cwd: \"tmp\" is not absolute","time":"t"}
{"level":"warning","msg":"after","time":"t"}
"#;
        assert_eq!(
            last_error_in(log).as_deref(),
            Some(r#"process.cwd: "tmp" is not absolute"#)
        );
        assert_eq!(last_error_in(b"{\"level\":\"info\",\"msg\":\"x\"}\n"), None);
    }

    #[test]
    fn the_last_non_empty_stderr_line() {
        assert_eq!(last_line("a\nb\n\n").as_deref(), Some("b"));
        assert_eq!(last_line("  \n"), None);
    }
}
