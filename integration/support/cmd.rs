//! Running one command for a test: stdin from /dev/null, stdout and stderr into files (never
//! pipes, which a detached container would hold open so a read would never end), a deadline
//! after which the process is killed and the test fails, and helpers to read the result.

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long one runtime command may take before the test fails (`HULL_TEST_TIMEOUT`, seconds).
pub fn command_timeout() -> Duration {
    let secs = std::env::var("HULL_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// Convenience accessors on a command's result.
pub trait OutputExt {
    /// stdout as (lossy) UTF-8.
    fn stdout_text(&self) -> String;
    /// stderr as (lossy) UTF-8.
    fn stderr_text(&self) -> String;
    /// The exit code, or 128+signal when killed by a signal (as a shell reports it).
    fn code(&self) -> i32;
    /// One line for assertion messages: status, stdout and stderr.
    fn describe(&self) -> String;
}

impl OutputExt for Output {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    fn code(&self) -> i32 {
        exit_code(self.status)
    }
    fn describe(&self) -> String {
        format!(
            "exit {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code(),
            self.stdout_text(),
            self.stderr_text()
        )
    }
}

/// The exit code, or 128+signal when killed by a signal.
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

/// A process started with its output going to files; read them with [`Spawned::wait`].
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    what: String,
}

impl Spawned {
    /// The pid of the runtime process (not of the container).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The command line, for messages.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The files receiving its stdout and stderr (inherited by a container it starts).
    pub fn paths(&self) -> (PathBuf, PathBuf) {
        (self.out.clone(), self.err.clone())
    }

    /// Waits until the process exits; on timeout kills and reaps it and returns None.
    pub fn try_wait_timeout(mut self, timeout: Duration) -> Option<Output> {
        let status = wait_child(&mut self.child, timeout)?;
        Some(Output {
            status,
            stdout: fs::read(&self.out).unwrap_or_default(),
            stderr: fs::read(&self.err).unwrap_or_default(),
        })
    }

    /// Waits until the process exits (or fails the test after `timeout`, killing it).
    pub fn wait_timeout(self, timeout: Duration) -> Output {
        let what = self.what.clone();
        self.try_wait_timeout(timeout)
            .unwrap_or_else(|| panic!("{what} did not finish within {timeout:?}"))
    }

    /// Waits with the default [`command_timeout`].
    pub fn wait(self) -> Output {
        self.wait_timeout(command_timeout())
    }

    /// Whether the process has exited, without waiting.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Spawned {
    /// Never leaves a runtime process behind, even when the test panicked before `wait`.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for `child` up to `timeout`; on timeout kills it, reaps it and returns None.
fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    if let Ok(pidfd) = super::leaks::pidfd(child.id() as i32) {
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [nix::poll::PollFd::new(
                pidfd.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let _ = nix::poll::poll(&mut fds, ms);
        }
    } else {
        while Instant::now() < deadline {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Starts `cmd` with stdin from /dev/null and stdout/stderr into fresh files in `dir`.
pub fn spawn_in(cmd: Command, dir: &Path) -> Spawned {
    try_spawn_in(cmd, dir).unwrap_or_else(|e| panic!("{e}"))
}

pub fn try_spawn_in(mut cmd: Command, dir: &Path) -> Result<Spawned, String> {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let out = dir.join(format!("{n}.out"));
    let err = dir.join(format!("{n}.err"));
    let open = |p: &Path| File::create_new(p).map_err(|e| format!("create {}: {e}", p.display()));
    cmd.stdin(Stdio::null())
        .stdout(open(&out)?)
        .stderr(open(&err)?);
    let what = format!("{cmd:?}");
    let child = cmd.spawn().map_err(|e| format!("spawn {what}: {e}"))?;
    Ok(Spawned {
        child,
        out,
        err,
        what,
    })
}

/// Asserts that a failed command explained itself in exactly one non-empty stderr line.
pub fn assert_one_line_error(out: &Output, what: &str) {
    let err = out.stderr_text();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: want exactly one error line on stderr: {}",
        out.describe()
    );
}

/// Asserts that stderr mentions at least one of `words` (case-insensitive).
pub fn assert_stderr_mentions(out: &Output, words: &[&str]) {
    let err = out.stderr_text().to_lowercase();
    assert!(
        words.iter().any(|w| err.contains(&w.to_lowercase())),
        "stderr should mention one of {words:?}: {}",
        out.describe()
    );
}
