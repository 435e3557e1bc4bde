//! `linux.sysctl`: written through /proc/sys from inside the container's new namespaces, where
//! the namespaced keys (net.*, kernel.shm*, ...) apply to the container only. The validator
//! already refused keys that are not namespaced.

use super::NsError;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

/// The /proc/sys path of a dotted sysctl key.
pub fn proc_path(key: &str) -> PathBuf {
    PathBuf::from("/proc/sys").join(key.replace('.', "/"))
}

/// Writes each (key, value).
pub fn apply_sysctls(sysctls: &[(String, String)]) -> Result<(), NsError> {
    for (key, value) in sysctls {
        let path = proc_path(key);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(value.as_bytes()))
            .map_err(|source| NsError::Write {
                field: "linux.sysctl",
                path,
                source,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_become_slashes() {
        assert_eq!(
            proc_path("net.ipv4.ip_forward"),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
    }
}
