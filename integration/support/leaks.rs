//! Leak probes the guard runs after each container: is the process gone, is any cgroup named
//! after the id left in any hierarchy, is anything mounted under the bundle; and the last-resort
//! cleanup after a leak was reported.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long to wait for a killed process to be gone.
pub const EXIT_WAIT: Duration = Duration::from_secs(10);

/// A pidfd for `pid`: signals and exit polls through it cannot hit a recycled pid.
pub fn pidfd(pid: i32) -> std::io::Result<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ESRCH))?;
    Ok(rustix::process::pidfd_open(
        pid,
        rustix::process::PidfdFlags::empty(),
    )?)
}

/// Waits until the process behind `fd` exits; false on timeout.
pub fn wait_pidfd(fd: &OwnedFd, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, ms) {
            Ok(n) if n > 0 => return true,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return false,
            Ok(_) if left.is_zero() => return false,
            Ok(_) => {}
        }
    }
}

/// Retries `probe` for up to 2 s while it finds something (cgroup removal can lag the exit of
/// the last task by a moment).
pub fn wait_empty<T>(probe: impl Fn() -> Vec<T>) -> Vec<T> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let found = probe();
        if found.is_empty() || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Last resort after a leak was reported: SIGKILL the processes in cgroups named after the
/// test's unique id, then remove the directories, deepest first, so one failing test does not
/// leave the machine dirty for the next.
pub fn remove_cgroups(dirs: &[PathBuf]) {
    let mut all: Vec<PathBuf> = Vec::new();
    for d in dirs {
        collect_dirs(d, &mut all);
    }
    for d in &all {
        let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            if let Ok(fd) = pidfd(pid) {
                let _ = rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL);
                wait_pidfd(&fd, EXIT_WAIT);
            }
        }
    }
    all.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in &all {
        let _ = wait_empty(|| match fs::remove_dir(d) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => vec![e],
            _ => vec![],
        });
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect_dirs(&e.path(), out);
        }
    }
}

/// Mount points at or under `dir` in this (the host's) mount namespace.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let dir = dir.to_string_lossy();
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|m| *m == *dir || m.starts_with(&prefix))
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(char::from(c));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Cgroup directories (any hierarchy under /sys/fs/cgroup, up to 6 levels deep) whose name
/// contains `id`.
pub fn cgroups_named(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    walk_cgroups(Path::new("/sys/fs/cgroup"), id, 6, &mut found);
    found
}

fn walk_cgroups(dir: &Path, id: &str, depth: u32, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = e.path();
        if e.file_name().to_string_lossy().contains(id) {
            found.push(path);
        } else if depth > 0 {
            walk_cgroups(&path, id, depth - 1, found);
        }
    }
}
