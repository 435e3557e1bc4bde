//! The environment and argv the container process is exec'd with: the spec's env, HOME from
//! the container's /etc/passwd when the spec does not set it (as runc), socket activation, and
//! the executable looked up in the container's PATH before `create` returns, so a missing
//! binary fails `create`, not `start`.

use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// glibc's execvp default when PATH is unset.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Finds the home directory of `uid` in passwd(5) text.
pub fn home_for(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

/// Reads the container's /etc/passwd (after pivot_root), refusing anything but a small
/// regular file: a fifo or device there must not hang or confuse the init.
fn read_passwd() -> Option<String> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/etc/passwd")
        .ok()?;
    let meta = f.metadata().ok()?;
    let ft = meta.file_type();
    if !meta.is_file() || ft.is_fifo() || meta.len() > 4 << 20 {
        return None;
    }
    let mut s = String::new();
    f.read_to_string(&mut s).ok()?;
    Some(s)
}

/// The final environment.
pub fn build_env(env: &[String], uid: u32, extra: &[String]) -> Vec<String> {
    let mut out: Vec<String> = env.to_vec();
    if !out.iter().any(|kv| kv.starts_with("HOME=")) {
        let home = read_passwd()
            .and_then(|p| home_for(&p, uid))
            .unwrap_or_else(|| "/".into());
        out.push(format!("HOME={home}"));
    }
    out.extend(extra.iter().cloned());
    out
}

/// Candidate paths for `arg0` given PATH (pure).
pub fn candidates(arg0: &str, path_var: Option<&str>) -> Vec<PathBuf> {
    if arg0.contains('/') {
        return vec![PathBuf::from(arg0)];
    }
    path_var
        .unwrap_or(DEFAULT_PATH)
        .split(':')
        .map(|dir| {
            if dir.is_empty() {
                Path::new(".").join(arg0)
            } else {
                Path::new(dir).join(arg0)
            }
        })
        .collect()
}

/// Whether `p` is a regular file this process may execute.
fn executable(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    meta.is_file() && rustix::fs::access(p, rustix::fs::Access::EXEC_OK).is_ok()
}

/// Looks `arg0` up as execvp would; None when nothing executable is found.
pub fn find_executable(arg0: &str, path_var: Option<&str>) -> Option<PathBuf> {
    candidates(arg0, path_var)
        .into_iter()
        .find(|p| executable(p))
}

/// Converts strings to C strings; a NUL inside was already refused by validation, but a
/// stray one must not panic.
pub fn to_cstrings<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<CString> {
    items
        .into_iter()
        .filter_map(|s| CString::new(s).ok())
        .collect()
}

/// Converts a path to a C string.
pub fn path_cstring(p: &Path) -> Option<CString> {
    CString::new(p.as_os_str().as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_lookup() {
        let pw = "root:x:0:0:root:/root:/bin/sh\nhull:x:1000:1000::/home/hull:/bin/sh\nbad line";
        assert_eq!(home_for(pw, 1000).as_deref(), Some("/home/hull"));
        assert_eq!(home_for(pw, 0).as_deref(), Some("/root"));
        assert_eq!(home_for(pw, 5), None);
    }

    #[test]
    fn path_search_order() {
        assert_eq!(
            candidates("/bin/sh", Some("/x")),
            vec![PathBuf::from("/bin/sh")]
        );
        assert_eq!(
            candidates("sh", Some("/a:/b")),
            vec![PathBuf::from("/a/sh"), PathBuf::from("/b/sh")]
        );
        assert_eq!(candidates("sh", None).len(), 6);
    }

    #[test]
    fn finds_a_real_binary() {
        assert!(find_executable("sh", Some("/nonexistent:/bin:/usr/bin")).is_some());
        assert!(find_executable("no-such-binary-hull", Some("/bin")).is_none());
    }
}
