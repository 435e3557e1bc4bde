//! `requires(...)`: a test states what the host must provide and fails with a clear message
//! when it is missing. Never a silent skip: a CI machine that lacks crun or user namespaces
//! must show up red, not green with fewer tests.

use std::fs;
use std::path::{Path, PathBuf};

/// Fails the test unless every item is available. Items:
/// - `root`: running as uid 0
/// - `userns`: user namespaces can be created (`/proc/sys/user/max_user_namespaces` > 0)
/// - `cgroup2`: cgroup v2 is the unified hierarchy at /sys/fs/cgroup
/// - `cgroup-hybrid`: v1 controllers at /sys/fs/cgroup/<ctrl>, cgroup2 at /sys/fs/cgroup/unified
/// - `cgroup-v1`: v1 controllers are mounted (hybrid or legacy)
/// - `overlay`: the kernel knows overlayfs
/// - `seccomp`: the kernel has seccomp filters
/// - anything else: an executable of that name on PATH (or at that absolute path), e.g.
///   `requires(&["crun", "hyperfine"])`
pub fn requires(items: &[&str]) {
    for item in items {
        if let Err(why) = check(item) {
            panic!("requires {item:?}: {why} (install or enable it; this test does not skip)");
        }
    }
}

fn check(item: &str) -> Result<(), String> {
    match item {
        "root" => {
            if rustix::process::geteuid().is_root() {
                Ok(())
            } else {
                Err("not running as root".into())
            }
        }
        "userns" => {
            let max = read_trim("/proc/sys/user/max_user_namespaces");
            match max.parse::<u64>() {
                Ok(n) if n > 0 => Ok(()),
                _ => Err(format!("max_user_namespaces is {max:?}")),
            }
        }
        "cgroup2" => is_fs("/sys/fs/cgroup", "cgroup2"),
        "cgroup-hybrid" => {
            is_fs("/sys/fs/cgroup/unified", "cgroup2")?;
            has_v1()
        }
        "cgroup-v1" => has_v1(),
        "overlay" => kernel_fs("overlay"),
        "seccomp" => {
            let status = read_trim("/proc/self/status");
            if status.lines().any(|l| l.starts_with("Seccomp:")) {
                Ok(())
            } else {
                Err("no Seccomp line in /proc/self/status".into())
            }
        }
        program => find_program(program).map(|_| ()),
    }
}

/// The path of an executable on PATH (or `name` itself when absolute and executable).
pub fn find_program(name: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return if executable(&p) {
            Ok(p)
        } else {
            Err(format!("{name} is not an executable file"))
        };
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    path.split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| executable(p))
        .ok_or_else(|| format!("no executable {name:?} on PATH ({path})"))
}

fn read_trim(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The filesystem type mounted exactly at `path`, from /proc/self/mountinfo.
fn fs_type_at(path: &str) -> Option<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().rev().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        (left.split(' ').nth(4)? == path).then(|| right.split(' ').next().unwrap_or("").into())
    })
}

fn is_fs(path: &str, want: &str) -> Result<(), String> {
    match fs_type_at(path) {
        Some(t) if t == want => Ok(()),
        Some(t) => Err(format!("{path} is {t}, not {want}")),
        None => Err(format!("nothing mounted at {path}")),
    }
}

fn has_v1() -> Result<(), String> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    if info.lines().any(|l| l.contains(" - cgroup ")) {
        Ok(())
    } else {
        Err("no cgroup v1 hierarchy is mounted".into())
    }
}

fn kernel_fs(name: &str) -> Result<(), String> {
    let list = read_trim("/proc/filesystems");
    if list
        .lines()
        .any(|l| l.split_whitespace().last() == Some(name))
    {
        Ok(())
    } else {
        Err(format!(
            "{name} not in /proc/filesystems (modprobe {name}?)"
        ))
    }
}
