//! The binary under test and how tests call it: which binary, unique names, scratch space,
//! and [`Hull`], the runtime with a private `--root` whose commands run through `cmd.rs`
//! (output to files, a deadline), so a hung runtime fails the test instead of hanging it.

use super::bundle::Bundle;
use super::cmd::{assert_one_line_error, spawn_in, try_spawn_in, OutputExt, Spawned};
use super::guard::Container;
use serde_json::Value;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Parent of every per-test state root.
pub const ROOTS: &str = "/run/hull-it";

/// The runtime under test: `HULL_TEST_BINARY` if set (e.g. /usr/sbin/runc), else the `hull`
/// cargo built for this test run.
pub fn binary() -> PathBuf {
    match std::env::var_os("HULL_TEST_BINARY") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_hull")),
    }
}

/// The file name of the runtime under test (`hull`, `runc`, `crun`).
pub fn binary_name() -> String {
    binary()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// True when the runtime under test is hull itself (not runc or crun standing in for it).
pub fn is_hull() -> bool {
    binary_name().starts_with("hull")
}

/// Marks a test of behaviour only hull has (where it deliberately differs from runc). Returns
/// true, after saying so on stderr, when another runtime is under test: the caller returns.
/// Against hull it returns false and the test runs in full.
pub fn hull_only(why: &str) -> bool {
    if is_hull() {
        return false;
    }
    eprintln!(
        "NOTE: {} checks hull-only behaviour ({why}); not run against {}",
        test_name(),
        binary().display()
    );
    true
}

/// The running test's name (libtest names each test thread after it).
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string()
}

/// A name unique across tests and test processes, readable in `ps` and cgroup listings:
/// `it<pid>-<n>-<last part of the test name>`.
pub fn unique(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let name = test_name();
    let short: String = name
        .rsplit("::")
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(32)
        .collect();
    let mut s = format!("it{}-{n}-{short}", std::process::id());
    if !tag.is_empty() {
        s.push('-');
        s.push_str(tag);
    }
    s
}

/// Where bundles and captured output go: `HULL_TEST_TMPDIR`, else /dev/shm when it is a
/// tmpfs that allows exec (copying the rootfs there takes ~10 ms instead of ~150 ms on this
/// VM's disk), else the system temp dir.
pub fn scratch_base() -> PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        if let Some(dir) = std::env::var_os("HULL_TEST_TMPDIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        // The last mount at /dev/shm is the one on top.
        let shm_ok = info
            .lines()
            .rev()
            .map(|l| l.split(' ').collect::<Vec<_>>())
            .find(|f| f.get(4) == Some(&"/dev/shm"))
            .is_some_and(|f| {
                !f.get(5)
                    .is_some_and(|o| o.split(',').any(|o| o == "noexec"))
                    && f.join(" ").contains(" - tmpfs ")
            });
        if shm_ok {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        }
    })
    .join("hull-it")
}

/// A fresh scratch directory under [`scratch_base`], removed by its owner.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = scratch_base().join(unique(tag));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    dir
}

struct Inner {
    root: PathBuf,
    io: PathBuf,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let left: Vec<String> = fs::read_dir(&self.root)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let _ = fs::remove_dir_all(&self.root);
        let _ = fs::remove_dir_all(&self.io);
        if !left.is_empty() && !std::thread::panicking() {
            panic!(
                "state root {} still held {left:?} after every container guard was dropped",
                self.root.display()
            );
        }
    }
}

/// The runtime with a fresh, private state root (`--root /run/hull-it/<unique>`). Clones share
/// the root; the last one dropped removes it and its captured output, and fails the test if a
/// container's state directory was left in it.
#[derive(Clone)]
pub struct Hull {
    inner: Arc<Inner>,
}

impl Default for Hull {
    fn default() -> Self {
        Self::new()
    }
}

impl Hull {
    /// A fresh state root for this test. Fails the test unless running as root and the
    /// runtime binary exists.
    pub fn new() -> Hull {
        super::requires(&["root"]);
        let bin = binary();
        if let Err(e) = super::find_program(&bin.to_string_lossy()) {
            panic!("runtime under test: {e} (set HULL_TEST_BINARY or build hull)");
        }
        let root = Path::new(ROOTS).join(unique(""));
        fs::create_dir_all(&root).unwrap_or_else(|e| panic!("mkdir {}: {e}", root.display()));
        let io = scratch_dir("io");
        Hull {
            inner: Arc::new(Inner { root, io }),
        }
    }

    /// The `--root` this handle passes.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Directory for captured output files.
    pub fn io_dir(&self) -> &Path {
        &self.inner.io
    }

    /// `<binary> --root <root> <args...>`, not yet run.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(binary());
        cmd.arg("--root").arg(self.root());
        cmd.args(args);
        cmd
    }

    /// Starts a runtime command in the background (output to files).
    pub fn spawn<S: AsRef<OsStr>>(&self, args: &[S]) -> Spawned {
        spawn_in(self.command(args), self.io_dir())
    }

    /// Runs any prepared command to completion, output captured, within the deadline.
    pub fn output_of(&self, cmd: Command) -> Output {
        spawn_in(cmd, self.io_dir()).wait()
    }

    /// Runs `<binary> --root <root> <args...>` and returns its result, whatever the status.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.output_of(self.command(args))
    }

    /// Runs a command without ever panicking (for teardown code): Err on spawn failure or
    /// timeout (the process is then killed).
    pub fn try_run<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        timeout: Duration,
    ) -> Result<Output, String> {
        let sp = try_spawn_in(self.command(args), self.io_dir())?;
        let what = sp.what().to_string();
        sp.try_wait_timeout(timeout)
            .ok_or_else(|| format!("{what} did not finish within {timeout:?}"))
    }

    /// Like [`Hull::run`] but fails the test unless the command exits 0.
    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {:?} failed: {}",
            binary_name(),
            args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
            out.describe()
        );
        out
    }

    /// Like [`Hull::run`] but fails the test unless the command exits non-zero, and unless
    /// stderr is one non-empty line (the runc contract for errors).
    pub fn fails<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        let out = self.run(args);
        let argv = args.iter().map(|a| a.as_ref()).collect::<Vec<_>>();
        assert!(
            !out.status.success(),
            "{} {argv:?} should have failed: {}",
            binary_name(),
            out.describe()
        );
        assert_one_line_error(&out, &format!("{argv:?}"));
        out
    }

    /// `state <id>` parsed as JSON; fails the test if the command fails.
    pub fn state(&self, id: &str) -> Value {
        let out = self.ok(&["state", id]);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("state {id}: not JSON ({e}): {}", out.describe()))
    }

    /// A guarded container with a unique id on `bundle` (nothing is run yet).
    pub fn container(&self, bundle: Bundle) -> Container {
        Container::new(self.clone(), unique(""), bundle)
    }

    /// A guarded container with a chosen id.
    pub fn container_with_id(&self, bundle: Bundle, id: &str) -> Container {
        Container::new(self.clone(), id.to_string(), bundle)
    }
}
