//! Daemons the client tests start (containerd, dockerd) and the processes they leave: a
//! [`Daemon`] runs in the background with its output in a log file and is stopped by pid
//! (SIGTERM, then SIGKILL); [`procs_with_arg`] finds processes by an argument of theirs (the
//! shims of one containerd name its socket), so a test can prove none is left.

use super::leaks::{pidfd, wait_pidfd};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A background process started by a test, stopped when dropped.
pub struct Daemon {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    /// Starts `cmd` with stdin from /dev/null and stdout+stderr into `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Daemon {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("dup {}: {e}", log.display()));
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} ({cmd:?}): {e}"));
        Daemon {
            name: name.into(),
            child: Some(child),
            log: log.into(),
        }
    }

    /// Its pid (0 once stopped).
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// The last lines of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits until `ready` holds (polling), or fails the test with the log.
    pub fn wait_ready(&mut self, timeout: Duration, ready: impl Fn() -> bool) {
        let deadline = Instant::now() + timeout;
        while !ready() {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!(
                        "{} exited ({st}) while starting:\n{}",
                        self.name,
                        self.log_tail()
                    );
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "{} not ready after {timeout:?}:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, as a crash would (the test then restarts or cleans up).
    pub fn crash(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, up to 20 s for a clean exit, then SIGKILL.
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        if let Ok(fd) = pidfd(c.id() as i32) {
            let _ = rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::TERM);
            if !wait_pidfd(&fd, Duration::from_secs(20)) {
                let _ = c.kill();
            }
        }
        let _ = c.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Pids of processes whose command line has `arg` as one argument.
pub fn procs_with_arg(arg: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let cmdline = fs::read(e.path().join("cmdline")).unwrap_or_default();
        if cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// The command line of `pid`, arguments joined by spaces.
pub fn cmdline(pid: i32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

/// SIGKILLs `pid` by pidfd and waits for it to be gone (reaped by whoever is its parent).
pub fn kill_and_wait(pid: i32) {
    if let Ok(fd) = pidfd(pid) {
        let _ = rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL);
        wait_pidfd(&fd, Duration::from_secs(10));
    }
}

/// The parent pid of `pid`.
pub fn ppid(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

/// Resident set size of `pid` in KiB (VmRSS).
pub fn rss_kib(pid: i32) -> Option<u64> {
    status_field(pid, "VmRSS:")
}

fn status_field(pid: i32, key: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Detaches every mount at or under `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    let mut mounts = super::mounts_under(dir);
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in mounts {
        let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// What a client's test left in its scratch `dir` (mounts) and in its cgroup parent named
/// `parent` (child cgroups but those in `own`, which the client keeps for itself), noted and
/// then removed with `dir` itself, so a leak fails this test and not the next.
pub fn client_leftovers(dir: &Path, parent: &str, own: &[&str]) -> Vec<String> {
    let mut leaks = Vec::new();
    let mounts = super::mounts_under(dir);
    if !mounts.is_empty() {
        leaks.push(format!("mounts {mounts:?}"));
    }
    unmount_under(dir);
    let cgroups = super::cgroups_named(parent);
    let inner: Vec<PathBuf> = super::leaks::wait_empty(|| {
        cgroups
            .iter()
            .flat_map(|d| fs::read_dir(d).into_iter().flatten().flatten())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|e| !own.iter().any(|o| e.file_name() == *o))
            .map(|e| e.path())
            .collect()
    });
    if !inner.is_empty() {
        leaks.push(format!("cgroups {inner:?}"));
    }
    super::leaks::remove_cgroups(&cgroups);
    let _ = fs::remove_dir_all(dir);
    leaks
}

/// A short scratch directory (unix socket paths must stay under 108 bytes).
pub fn short_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(format!("/run/hull-it/{tag}{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    dir
}

/// The `docker save` archive of the busybox fixture (`bundle-fixtures/docker-save.sh`, built
/// once per test process; fast when current).
pub fn image_archive() -> &'static Path {
    static ARCHIVE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ARCHIVE.get_or_init(|| super::bundle::fixture_script_output("docker-save.sh"))
}

/// The image the archive holds.
pub const IMAGE: &str = "docker.io/hull-test/busybox:latest";

/// `cmd` quoted for `sh -c` (for `script -c`, which runs a command under a new pty).
pub fn shell_quote(args: &[&str]) -> String {
    args.iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Host directories the clients make on first use whatever their config says
/// (/etc/docker/key.json, /run/containerd/s for shim sockets, podman's blob cache): each
/// test claims the ones its client makes; the first claim of a directory notes whether it
/// existed, and when the last claim of one that did not is dropped, it is removed.
pub struct HostDirs(Vec<&'static str>);

static HOST_DIRS: std::sync::Mutex<Vec<(&'static str, usize, bool)>> =
    std::sync::Mutex::new(Vec::new());

impl HostDirs {
    /// Claims `dirs` for the life of the returned value.
    pub fn claim(dirs: &[&'static str]) -> HostDirs {
        let mut all = HOST_DIRS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for d in dirs {
            match all.iter_mut().find(|(p, _, _)| p == d) {
                Some(e) if e.1 > 0 => e.1 += 1,
                Some(e) => *e = (d, 1, Path::new(d).exists()),
                None => all.push((d, 1, Path::new(d).exists())),
            }
        }
        HostDirs(dirs.to_vec())
    }
}

impl Drop for HostDirs {
    fn drop(&mut self) {
        let mut all = HOST_DIRS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for d in &self.0 {
            if let Some(e) = all.iter_mut().find(|(p, _, _)| p == d) {
                e.1 -= 1;
                if e.1 == 0 && !e.2 {
                    let _ = fs::remove_dir_all(d);
                }
            }
        }
    }
}
