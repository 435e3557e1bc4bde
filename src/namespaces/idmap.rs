//! User namespace id maps: formatting (pure) and writing `/proc/<pid>/{uid`,gid}_map from the
//! parent, in the parent namespace, before the child goes on.

use super::NsError;
use crate::spec::IdMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

/// The text the kernel expects in uid_map/gid_map: one `inside outside count` line per range.
pub fn format_map(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

fn write_proc(pid: i32, file: &str, field: &'static str, text: &str) -> Result<(), NsError> {
    let path = PathBuf::from(format!("/proc/{pid}/{file}"));
    // One write(2): the kernel accepts a map only in a single write.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| NsError::Write {
            field,
            path,
            source,
        })
}

/// Writes the maps of process `pid`'s user namespace. gid_map first. A privileged writer (root
/// in hull's user namespace) may map any range it holds, and setgroups stays allowed so
/// `additionalGids` can be applied; an unprivileged one (rootless hull) may map only its own
/// ids, and the kernel takes its gid_map only once `setgroups` is `deny`, as runc writes it.
pub fn write_maps(pid: i32, uid: &[IdMap], gid: &[IdMap]) -> Result<(), NsError> {
    if !rustix::process::geteuid().is_root() {
        write_proc(pid, "setgroups", "linux.gidMappings", "deny")?;
    }
    write_proc(pid, "gid_map", "linux.gidMappings", &format_map(gid))?;
    write_proc(pid, "uid_map", "linux.uidMappings", &format_map(uid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_one_line_per_range() {
        let maps = [
            IdMap {
                container_id: 0,
                host_id: 100_000,
                size: 65_536,
            },
            IdMap {
                container_id: 65_536,
                host_id: 1000,
                size: 1,
            },
        ];
        assert_eq!(format_map(&maps), "0 100000 65536\n65536 1000 1\n");
        assert_eq!(format_map(&[]), "");
    }
}
