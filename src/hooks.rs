//! OCI hooks: each hook of a lifecycle point is run in order with the container state JSON on
//! its stdin, exactly its own env, its output captured and its timeout enforced.
//!
//! Runs in the hull parent (createRuntime, prestart, poststart, poststop) and inside the
//! forked, single-threaded container init (createContainer, startContainer), so there are no
//! threads: one poll loop feeds stdin, drains stdout/stderr and waits on a pidfd with the
//! deadline. SIGPIPE is ignored while hooks run, so a hook that never reads its stdin only
//! makes the write fail with EPIPE.

use crate::error::{ErrorKind, Kind};
use crate::spec::Hook;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Bytes of each output stream kept for the error message.
const KEEP: usize = 4096;
/// Characters of output shown in an error message.
const SHOW: usize = 400;

/// Which hook failed: lifecycle point, index in the spec's list, path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookId {
    /// The lifecycle point (`createRuntime`, `poststop`, ...).
    pub kind: String,
    /// Index in the spec's list for that point (0-based, as in `hooks.poststop[0]`).
    pub index: usize,
    /// The hook's executable.
    pub path: PathBuf,
}

impl fmt::Display for HookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} hook #{} ({})",
            self.kind,
            self.index,
            self.path.display()
        )
    }
}

/// A hook that failed to run or exited non-zero.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The executable could not be started (missing, not executable, ...).
    #[error("{hook}: start: {source}")]
    Spawn {
        /// The hook.
        hook: HookId,
        /// The exec error.
        #[source]
        source: io::Error,
    },
    /// Watching the running hook failed (pidfd_open, poll, wait).
    #[error("{hook}: {op}: {source}")]
    Supervise {
        /// The hook.
        hook: HookId,
        /// The failed call.
        op: &'static str,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// The hook exited with a non-zero status.
    #[error("{hook}: exit status {code}{}", suffix(output))]
    Exit {
        /// The hook.
        hook: HookId,
        /// The exit status.
        code: i32,
        /// Tail of its stderr (or stdout when stderr is empty).
        output: String,
    },
    /// The hook was killed by a signal.
    #[error("{hook}: killed by {}{}", signal_name(*signal), suffix(output))]
    Signal {
        /// The hook.
        hook: HookId,
        /// The signal number.
        signal: i32,
        /// Tail of its output.
        output: String,
    },
    /// The hook ran longer than its `timeout` and was killed.
    #[error("{hook}: timed out after {secs}s, killed{}", suffix(output))]
    Timeout {
        /// The hook.
        hook: HookId,
        /// The spec's timeout.
        secs: u32,
        /// Tail of its output.
        output: String,
    },
}

impl HookError {
    /// The errno behind the failure (0 for a hook that ran and failed), for the child's
    /// error message.
    pub fn errno(&self) -> i32 {
        match self {
            HookError::Spawn { source, .. } | HookError::Supervise { source, .. } => {
                source.raw_os_error().unwrap_or(0)
            }
            HookError::Exit { .. } | HookError::Signal { .. } => 0,
            HookError::Timeout { .. } => libc::ETIMEDOUT,
        }
    }
}

impl Kind for HookError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Sys
    }
}

fn suffix(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!(": {output}")
    }
}

fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_string())
}

/// Runs `hooks` in order with `state_json` on stdin; the first failure stops the list.
/// `name` is the lifecycle point (`createRuntime`, ...) used in error messages.
pub fn run(name: &str, hooks: &[Hook], state_json: &[u8]) -> Result<(), HookError> {
    let _sigpipe = IgnoreSigpipe::install();
    for (index, hook) in hooks.iter().enumerate() {
        let id = || HookId {
            kind: name.to_string(),
            index,
            path: hook.path.clone(),
        };
        let outcome = execute(hook, state_json).map_err(|e| match e {
            Failure::Spawn(source) => HookError::Spawn { hook: id(), source },
            Failure::Io(op, source) => HookError::Supervise {
                hook: id(),
                op,
                source,
            },
        })?;
        outcome.check(id, hook.timeout.unwrap_or(0))?;
    }
    Ok(())
}

/// SIGPIPE ignored for as long as this lives, then the caller's disposition back. The Rust
/// runtime already ignores it in hull, but the forked init may have reset it, and an EPIPE
/// from a hook that skips its stdin must not kill the init. (std resets SIGPIPE to the
/// default in the hook itself.)
struct IgnoreSigpipe(Option<SigAction>);

impl IgnoreSigpipe {
    fn install() -> Self {
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: SIG_IGN runs no code in signal context; nothing else is changed.
        IgnoreSigpipe(unsafe { sigaction(Signal::SIGPIPE, &ignore) }.ok())
    }
}

impl Drop for IgnoreSigpipe {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            // SAFETY: reinstalls exactly the disposition that was in place before install().
            let _ = unsafe { sigaction(Signal::SIGPIPE, old) };
        }
    }
}

/// Why a hook could not be run to completion.
#[derive(Debug)]
enum Failure {
    Spawn(io::Error),
    Io(&'static str, io::Error),
}

/// How a hook ended and what it printed.
#[derive(Debug)]
struct Outcome {
    status: ExitStatus,
    timed_out: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Outcome {
    fn check(&self, id: impl FnOnce() -> HookId, secs: u32) -> Result<(), HookError> {
        let output = || {
            let err = tail_text(&self.stderr, SHOW);
            if err.is_empty() {
                tail_text(&self.stdout, SHOW)
            } else {
                err
            }
        };
        if self.timed_out {
            return Err(HookError::Timeout {
                hook: id(),
                secs,
                output: output(),
            });
        }
        match (self.status.code(), self.status.signal()) {
            (Some(0), _) => Ok(()),
            (Some(code), _) => Err(HookError::Exit {
                hook: id(),
                code,
                output: output(),
            }),
            (None, signal) => Err(HookError::Signal {
                hook: id(),
                signal: signal.unwrap_or(0),
                output: output(),
            }),
        }
    }
}

/// The last `max` characters of a stream, lines joined with "; ", for a one-line error.
fn tail_text(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let count = joined.chars().count();
    if count <= max {
        return joined;
    }
    let tail: String = joined.chars().skip(count - max).collect();
    format!("...{tail}")
}

/// The environment pairs of a hook's `env` (`KEY=value`); an entry without `=` cannot be
/// passed through std's Command and is skipped.
fn env_pairs(env: &[String]) -> impl Iterator<Item = (&str, &str)> {
    env.iter().filter_map(|kv| kv.split_once('='))
}

/// The hook's command: `path` executed with `args` (args[0] is argv[0], default the path),
/// exactly `env`, all three stdio piped.
fn command(hook: &Hook) -> Command {
    let mut cmd = Command::new(&hook.path);
    match hook.args.split_first() {
        Some((argv0, rest)) => {
            cmd.arg0(argv0).args(rest);
        }
        None => {
            cmd.arg0(&hook.path);
        }
    }
    cmd.env_clear()
        .envs(env_pairs(&hook.env))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // hull may hold fds it inherited without O_CLOEXEC (--preserve-fds, a caller's leaks):
    // those are for the container, never for a hook.
    // SAFETY: runs in the forked child before execve; close_range is async-signal-safe and
    // cloexec_from neither allocates nor takes locks (its error is a plain errno).
    unsafe {
        cmd.pre_exec(|| crate::sys::cloexec_from(3).map_err(|e| e.source));
    }
    cmd
}

/// Spawns the hook and supervises it to the end; on any error after spawn the hook is
/// killed and reaped, so nothing is left behind.
fn execute(hook: &Hook, input: &[u8]) -> Result<Outcome, Failure> {
    let mut child = command(hook).spawn().map_err(Failure::Spawn)?;
    let timeout = hook.timeout.map(|s| Duration::from_secs(u64::from(s)));
    let result = open_pidfd(&child).and_then(|pidfd| supervise(&mut child, &pidfd, input, timeout));
    if result.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    result
}

fn open_pidfd(child: &Child) -> Result<OwnedFd, Failure> {
    let pid = rustix::process::Pid::from_raw(child.id() as i32)
        .ok_or_else(|| Failure::Io("pidfd_open", io::Error::from_raw_os_error(libc::ESRCH)))?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| Failure::Io("pidfd_open", e.into()))
}

fn nonblocking(fd: impl AsFd) -> Result<(), Failure> {
    rustix::io::ioctl_fionbio(fd, true).map_err(|e| Failure::Io("set O_NONBLOCK", e.into()))
}

/// Appends a read chunk, keeping only the last KEEP bytes (amortised).
fn keep_tail(buf: &mut Vec<u8>, chunk: &[u8]) {
    buf.extend_from_slice(chunk);
    if buf.len() > 2 * KEEP {
        buf.drain(..buf.len() - KEEP);
    }
}

/// Reads what is available; returns false at EOF (the stream is done).
fn drain(stream: &mut impl Read, buf: &mut Vec<u8>) -> Result<bool, Failure> {
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => keep_tail(buf, &chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::Io("read hook output", e)),
        }
    }
}

/// Writes what the pipe takes; returns false when stdin is done (all written, or the hook
/// closed it: EPIPE is not an error, a hook need not read its state).
fn feed(stdin: &mut impl Write, input: &[u8], written: &mut usize) -> Result<bool, Failure> {
    while *written < input.len() {
        match stdin.write(&input[*written..]) {
            Ok(n) => *written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(false),
            Err(e) => return Err(Failure::Io("write hook stdin", e)),
        }
    }
    Ok(false)
}

/// The poll timeout until `deadline`, rounded up to whole milliseconds.
fn poll_timeout(deadline: Option<Instant>, now: Instant) -> PollTimeout {
    match deadline {
        None => PollTimeout::NONE,
        Some(d) => {
            let left = d.saturating_duration_since(now);
            let ms = left.as_micros().div_ceil(1000);
            PollTimeout::try_from(ms.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
        }
    }
}

/// The hook's three pipes and what went through them so far.
struct Pipes<'a> {
    input: &'a [u8],
    written: usize,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    out: Vec<u8>,
    err: Vec<u8>,
}

/// Which fds poll reported: the pidfd (exited), stdin, stdout, stderr.
#[derive(Default)]
struct Ready {
    exited: bool,
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

impl<'a> Pipes<'a> {
    fn take(child: &mut Child, input: &'a [u8]) -> Result<Self, Failure> {
        let pipes = Pipes {
            input,
            written: 0,
            stdin: child.stdin.take().filter(|_| !input.is_empty()),
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            out: Vec::new(),
            err: Vec::new(),
        };
        let fds = [
            pipes.stdin.as_ref().map(AsFd::as_fd),
            pipes.stdout.as_ref().map(AsFd::as_fd),
            pipes.stderr.as_ref().map(AsFd::as_fd),
        ];
        for fd in fds.into_iter().flatten() {
            nonblocking(fd)?;
        }
        Ok(pipes)
    }

    /// One poll over the pidfd and the open pipes; None when interrupted by a signal.
    fn wait(&self, pidfd: &OwnedFd, timeout: PollTimeout) -> Result<Option<Ready>, Failure> {
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        let slots = [
            self.stdin.as_ref().map(|f| (f.as_fd(), PollFlags::POLLOUT)),
            self.stdout.as_ref().map(|f| (f.as_fd(), PollFlags::POLLIN)),
            self.stderr.as_ref().map(|f| (f.as_fd(), PollFlags::POLLIN)),
        ];
        let mut index = [usize::MAX; 3];
        for (i, (fd, events)) in slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, (*s)?)))
        {
            index[i] = fds.len();
            fds.push(PollFd::new(fd, events));
        }
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(None),
            Err(e) => return Err(Failure::Io("poll", e.into())),
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(PollFd::revents)
                .is_some_and(|r| !r.is_empty())
        };
        Ok(Some(Ready {
            exited: ready(0),
            stdin: ready(index[0]),
            stdout: ready(index[1]),
            stderr: ready(index[2]),
        }))
    }

    /// Moves data for the ready pipes; after exit, drains both outputs once more.
    fn service(&mut self, r: &Ready) -> Result<(), Failure> {
        if let (true, Some(s)) = (r.stdin, self.stdin.as_mut()) {
            if !feed(s, self.input, &mut self.written)? {
                self.stdin = None;
            }
        }
        if let (true, Some(s)) = (r.stdout || r.exited, self.stdout.as_mut()) {
            if !drain(s, &mut self.out)? {
                self.stdout = None;
            }
        }
        if let (true, Some(s)) = (r.stderr || r.exited, self.stderr.as_mut()) {
            if !drain(s, &mut self.err)? {
                self.stderr = None;
            }
        }
        Ok(())
    }
}

/// The poll loop: feed stdin, drain stdout/stderr, until the pidfd says the hook exited or
/// the deadline passes (then SIGKILL and reap). Output still buffered at exit is drained
/// once; a backgrounded grandchild holding the pipes does not keep hull waiting.
fn supervise(
    child: &mut Child,
    pidfd: &OwnedFd,
    input: &[u8],
    timeout: Option<Duration>,
) -> Result<Outcome, Failure> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut pipes = Pipes::take(child, input)?;
    let timed_out = loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            child.kill().map_err(|e| Failure::Io("kill", e))?;
            break true;
        }
        let Some(ready) = pipes.wait(pidfd, poll_timeout(deadline, now))? else {
            continue;
        };
        pipes.service(&ready)?;
        if ready.exited {
            break false;
        }
    };
    let status = child.wait().map_err(|e| Failure::Io("wait", e))?;
    Ok(Outcome {
        status,
        timed_out,
        stdout: pipes.out,
        stderr: pipes.err,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn hook(path: &str, args: &[&str], env: &[&str], timeout: Option<u32>) -> Hook {
        Hook {
            path: path.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: env.iter().map(|s| s.to_string()).collect(),
            timeout,
        }
    }

    fn sh(script: &str) -> Hook {
        hook("/bin/sh", &["sh", "-c", script], &[], Some(10))
    }

    fn run_one(h: &Hook, input: &[u8]) -> Result<(), HookError> {
        run("createRuntime", std::slice::from_ref(h), input)
    }

    #[test]
    fn command_line_and_env() {
        let c = command(&hook(
            "/x/h",
            &["name", "a", "b"],
            &["A=1", "BAD", "B=x=y"],
            None,
        ));
        assert_eq!(c.get_program(), "/x/h");
        assert_eq!(c.get_args().collect::<Vec<_>>(), ["a", "b"]);
        let envs: Vec<_> = c.get_envs().collect();
        assert_eq!(envs.len(), 2);
        assert!(envs.contains(&("A".as_ref(), Some("1".as_ref()))));
        assert!(envs.contains(&("B".as_ref(), Some("x=y".as_ref()))));
        let c = command(&hook("/x/h", &[], &[], None));
        assert_eq!(c.get_args().count(), 0);
    }

    #[test]
    fn tail_is_short_and_one_line() {
        assert_eq!(tail_text(b"  one\n\ntwo \n", 100), "one; two");
        assert_eq!(tail_text(b"abcdefgh", 3), "...fgh");
        assert_eq!(tail_text("héé".as_bytes(), 2), "...éé");
        assert_eq!(tail_text(b"", 10), "");
        let mut buf = Vec::new();
        for _ in 0..10 {
            keep_tail(&mut buf, &[7u8; 3000]);
        }
        assert!(buf.len() <= 2 * KEEP && buf.len() >= KEEP);
    }

    #[test]
    fn error_text() {
        let id = HookId {
            kind: "createRuntime".into(),
            index: 1,
            path: "/usr/bin/x".into(),
        };
        let e = HookError::Exit {
            hook: id.clone(),
            code: 3,
            output: "boom".into(),
        };
        assert_eq!(
            e.to_string(),
            "createRuntime hook #1 (/usr/bin/x): exit status 3: boom"
        );
        let e = HookError::Signal {
            hook: id.clone(),
            signal: 9,
            output: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "createRuntime hook #1 (/usr/bin/x): killed by SIGKILL"
        );
        let e = HookError::Timeout {
            hook: id,
            secs: 2,
            output: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "createRuntime hook #1 (/usr/bin/x): timed out after 2s, killed"
        );
    }

    #[test]
    fn success_and_list_order() {
        let ok = sh("exit 0");
        let bad = sh("echo first >&2; exit 4");
        run("prestart", &[ok.clone(), ok.clone()], b"{}").unwrap();
        let e = run("poststop", &[ok, bad.clone(), bad], b"{}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "poststop hook #1 (/bin/sh): exit status 4: first"
        );
        assert!(run("poststart", &[], b"{}").is_ok());
    }

    #[test]
    fn exit_status_prefers_stderr_then_stdout() {
        let e = run_one(&sh("echo out; echo err >&2; exit 3"), b"{}").unwrap_err();
        assert!(
            matches!(e, HookError::Exit { code: 3, ref output, .. } if output == "err"),
            "{e}"
        );
        let e = run_one(&sh("echo only-out; exit 1"), b"{}").unwrap_err();
        assert!(e.to_string().ends_with("exit status 1: only-out"), "{e}");
    }

    #[test]
    fn signal_is_reported() {
        let e = run_one(&sh("kill -KILL $$"), b"{}").unwrap_err();
        assert!(matches!(e, HookError::Signal { signal: 9, .. }), "{e}");
    }

    #[test]
    fn missing_binary() {
        let e = run_one(&hook("/nonexistent/hook", &[], &[], None), b"{}").unwrap_err();
        assert!(matches!(e, HookError::Spawn { .. }), "{e}");
        assert_eq!(e.errno(), libc::ENOENT);
        assert!(
            e.to_string()
                .starts_with("createRuntime hook #0 (/nonexistent/hook): start: "),
            "{e}"
        );
    }

    #[test]
    fn timeout_kills_and_reaps() {
        let start = Instant::now();
        let e = run_one(&hook("/bin/sleep", &["sleep", "30"], &[], Some(1)), b"{}").unwrap_err();
        assert!(matches!(e, HookError::Timeout { secs: 1, .. }), "{e}");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(950) && took < Duration::from_secs(5),
            "{took:?}"
        );
    }

    #[test]
    fn stdin_gets_the_state() {
        let state = br#"{"ociVersion":"1.0.2","id":"c1","status":"creating","pid":42}"#;
        let out = execute(&hook("/bin/cat", &["cat"], &[], Some(10)), state).unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, state);
    }

    #[test]
    fn env_is_exact_and_argv0_is_args0() {
        let h = hook("/usr/bin/env", &["env"], &["A=1", "B=two words"], Some(10));
        let out = execute(&h, b"{}").unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "A=1\nB=two words\n");
        let h = hook(
            "/bin/cat",
            &["my-argv0", "/proc/self/cmdline"],
            &[],
            Some(10),
        );
        let out = execute(&h, b"{}").unwrap();
        assert_eq!(out.stdout, b"my-argv0\0/proc/self/cmdline\0");
    }

    #[test]
    fn hook_ignoring_stdin_is_fine() {
        let big = vec![b'x'; 1 << 20];
        run_one(&hook("/bin/true", &["true"], &[], Some(10)), &big).unwrap();
    }

    #[test]
    fn big_output_while_big_input_does_not_deadlock() {
        // The hook writes 1 MiB before reading anything: hull must drain while feeding.
        let big = vec![b'{'; 1 << 20];
        let h = sh("head -c 1048576 /dev/zero; head -c 1048576 >/dev/null; echo done");
        let out = execute(&h, &big).unwrap();
        assert!(out.status.success());
        assert!(out.stdout.ends_with(b"done\n"));
        assert!(out.stdout.len() <= 2 * KEEP);
    }

    #[test]
    fn background_child_does_not_block() {
        let start = Instant::now();
        run_one(&sh("sleep 2 & exit 0"), b"{}").unwrap();
        assert!(start.elapsed() < Duration::from_millis(1500));
    }

    #[test]
    fn no_fd_leaks_into_hooks() {
        // A dup() has no O_CLOEXEC: the kind of fd hull may inherit from its caller.
        let devnull = std::fs::File::open("/dev/null").unwrap();
        let leaky = nix::unistd::dup(devnull.as_fd()).unwrap();
        let script = format!(
            "ls /proc/$$/fd; test ! -e /proc/$$/fd/{}",
            leaky.as_raw_fd()
        );
        let out = execute(&sh(&script), b"{}").unwrap();
        assert!(
            out.status.success(),
            "{:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["0", "1", "2"]
        );
    }
}
