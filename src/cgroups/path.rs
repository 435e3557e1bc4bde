//! `linux.cgroupsPath` to one directory per hierarchy, as runc 1.1's cgroupfs driver does:
//! an absolute path sits below each hierarchy's mountpoint; a relative one (and the default,
//! the container id) below hull's own cgroup from /proc/self/cgroup, or on cgroup v2 below
//! its parent, since a cgroup with processes cannot delegate controllers to children.
//! Pure: the callers read /proc and mountinfo; here every result is checked to stay
//! strictly below its mountpoint.

use super::detect::{HostKind, Mount};
use super::CgroupError;
use std::path::{Component, Path, PathBuf};

/// What `linux.cgroupsPath` asks for, before it meets a hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inner {
    /// An absolute path: below each hierarchy's mountpoint.
    Absolute(Vec<String>),
    /// A relative path (or the default, the container id): below hull's own cgroup.
    Relative(Vec<String>),
}

/// Parses `linux.cgroupsPath`; when absent the container goes to `<own cgroup>/<id>`.
pub fn parse(cgroups_path: Option<&str>, id: &str) -> Result<Inner, CgroupError> {
    let Some(p) = cgroups_path.filter(|p| !p.is_empty()) else {
        if id.is_empty() || id == "." || id == ".." || id.contains(['/', '\0']) {
            return Err(bad(id, "the container id is not a usable cgroup name"));
        }
        return Ok(Inner::Relative(vec![id.to_string()]));
    };
    if !p.contains('/') && p.matches(':').count() == 2 {
        return Err(bad(
            p,
            "the systemd form slice:prefix:name needs --systemd-cgroup, which hull does not support yet",
        ));
    }
    if p.contains('\0') {
        return Err(bad(p, "contains NUL"));
    }
    let mut parts = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(bad(p, "contains \"..\"")),
            c => parts.push(c.to_string()),
        }
    }
    if parts.is_empty() {
        return Err(bad(p, "names the root cgroup or hull's own"));
    }
    Ok(if p.starts_with('/') {
        Inner::Absolute(parts)
    } else {
        Inner::Relative(parts)
    })
}

/// The container's directory in one hierarchy, relative to its mountpoint.
///
/// `own` is hull's cgroup in this hierarchy as /proc/self/cgroup shows it (needed only for
/// relative paths).
pub fn resolve(
    inner: &Inner,
    mount: &Mount,
    own: Option<&str>,
    host: HostKind,
) -> Result<PathBuf, CgroupError> {
    let mut rel: Vec<String> = Vec::new();
    let parts = match inner {
        Inner::Absolute(parts) => parts,
        Inner::Relative(parts) => {
            let own = own.ok_or_else(|| own_err(mount, "not listed in /proc/self/cgroup"))?;
            rel = own_below_root(own, &mount.root).ok_or_else(|| {
                own_err(
                    mount,
                    &format!("{own} is outside the mount's root {}", mount.root),
                )
            })?;
            // runc's fs2 driver: the parent of hull's own cgroup, which (unlike a cgroup
            // holding hull itself) may enable controllers for its children. The cgroup2
            // hierarchy of a hybrid host has no controllers, so there the container sits
            // below hull's own cgroup like in the v1 hierarchies next to it.
            if host == HostKind::Unified {
                rel.pop();
            }
            parts
        }
    };
    rel.extend(parts.iter().cloned());
    let path: PathBuf = rel.iter().collect();
    if !is_strictly_beneath(&path) {
        return Err(bad(&path.to_string_lossy(), "escapes the cgroup mount"));
    }
    Ok(path)
}

/// The cgroup path as `/proc/<pid>/cgroup` shows it: the mount's root joined with `rel`.
pub fn kernel_path(mount: &Mount, rel: &Path) -> String {
    let root = mount.root.trim_end_matches('/');
    format!("{root}/{}", rel.display())
}

/// Whether a relative path names something strictly below its base: at least one
/// component, all of them plain names.
pub fn is_strictly_beneath(rel: &Path) -> bool {
    rel.components().next().is_some() && rel.components().all(|c| matches!(c, Component::Normal(_)))
}

/// `dir` relative to `mountpoint` if it lies strictly below it (lexically).
pub fn below(mountpoint: &Path, dir: &Path) -> Option<PathBuf> {
    let rel = dir.strip_prefix(mountpoint).ok()?;
    is_strictly_beneath(rel).then(|| rel.to_path_buf())
}

/// One line of /proc/self/cgroup: hierarchy id, controllers, path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnCgroup {
    /// The controllers (with `name=...`); empty for cgroup2's `0::` line.
    pub controllers: Vec<String>,
    /// The cgroup path.
    pub path: String,
}

/// Parses /proc/self/cgroup.
pub fn parse_own(text: &str) -> Vec<OwnCgroup> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctl = it.next()?;
            let path = it.next()?;
            Some(OwnCgroup {
                controllers: ctl
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect(),
                path: path.to_string(),
            })
        })
        .collect()
}

/// hull's own cgroup in a hierarchy.
pub fn own_for<'a>(mount: &Mount, own: &'a [OwnCgroup]) -> Option<&'a str> {
    own.iter()
        .find(|o| {
            o.controllers.len() == mount.controllers.len()
                && o.controllers.iter().all(|c| mount.has(c))
        })
        .map(|o| o.path.as_str())
}

/// `own` relative to the mount's root, as components; None when the mount does not show it.
pub(crate) fn own_below_root(own: &str, root: &str) -> Option<Vec<String>> {
    let split = |s: &str| -> Vec<String> {
        s.split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(String::from)
            .collect()
    };
    let (own, root) = (split(own), split(root));
    if own.iter().any(|c| c == "..") || !own.starts_with(&root) {
        return None;
    }
    Some(own[root.len()..].to_vec())
}

fn bad(path: &str, reason: &'static str) -> CgroupError {
    CgroupError::BadPath {
        path: path.into(),
        reason,
    }
}

fn own_err(mount: &Mount, reason: &str) -> CgroupError {
    CgroupError::OwnCgroup {
        mountpoint: mount.mountpoint.clone(),
        hierarchy: mount.label(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::HierarchyFs;

    fn v1(point: &str, root: &str, ctl: &[&str]) -> Mount {
        Mount {
            mountpoint: point.into(),
            root: root.into(),
            fs: HierarchyFs::V1 {
                options: ctl.join(","),
            },
            controllers: ctl.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn v2(point: &str) -> Mount {
        Mount {
            mountpoint: point.into(),
            root: "/".into(),
            fs: HierarchyFs::V2,
            controllers: Vec::new(),
        }
    }

    fn parts(s: &[&str]) -> Vec<String> {
        s.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn parses_the_forms() {
        assert_eq!(
            parse(None, "abc").unwrap(),
            Inner::Relative(parts(&["abc"]))
        );
        assert_eq!(
            parse(Some(""), "abc").unwrap(),
            Inner::Relative(parts(&["abc"]))
        );
        assert_eq!(
            parse(Some("/hull//x/./y/"), "abc").unwrap(),
            Inner::Absolute(parts(&["hull", "x", "y"]))
        );
        assert_eq!(
            parse(Some("a/b"), "abc").unwrap(),
            Inner::Relative(parts(&["a", "b"]))
        );
    }

    #[test]
    fn refuses_escapes_and_roots() {
        for p in ["/a/../../etc", "..", "a/..", "/..", "/", ".", "//./"] {
            let err = parse(Some(p), "abc").unwrap_err();
            assert!(
                err.to_string().starts_with("linux.cgroupsPath: "),
                "{p}: {err}"
            );
        }
        for id in ["", ".", "..", "a/b"] {
            assert!(parse(None, id).is_err(), "{id:?}");
        }
    }

    #[test]
    fn refuses_the_systemd_form() {
        let err = parse(Some("system.slice:docker:abc"), "abc").unwrap_err();
        assert!(err.to_string().contains("slice:prefix:name"), "{err}");
        // With a slash it is a plain path that happens to contain colons.
        assert!(parse(Some("/a:b:c"), "abc").is_ok());
    }

    #[test]
    fn absolute_sits_under_the_mountpoint() {
        let m = v1("/sys/fs/cgroup/memory", "/docker/x", &["memory"]);
        let inner = parse(Some("/hull/c1"), "c1").unwrap();
        let rel = resolve(&inner, &m, None, HostKind::Hybrid).unwrap();
        assert_eq!(rel, Path::new("hull/c1"));
        assert_eq!(kernel_path(&m, &rel), "/docker/x/hull/c1");
    }

    #[test]
    fn relative_sits_under_own_cgroup() {
        let m = v1("/sys/fs/cgroup/memory", "/", &["memory"]);
        let inner = parse(None, "c1").unwrap();
        let rel = resolve(&inner, &m, Some("/process_api/b8e2"), HostKind::Hybrid).unwrap();
        assert_eq!(rel, Path::new("process_api/b8e2/c1"));
        // A mount showing a sub-tree: own cgroup relative to the mount's root.
        let m = v1("/sys/fs/cgroup/memory", "/docker/x", &["memory"]);
        let rel = resolve(&inner, &m, Some("/docker/x/sub"), HostKind::Legacy).unwrap();
        assert_eq!(rel, Path::new("sub/c1"));
        assert!(resolve(&inner, &m, Some("/elsewhere"), HostKind::Legacy).is_err());
        assert!(resolve(&inner, &m, None, HostKind::Legacy).is_err());
    }

    #[test]
    fn unified_uses_the_parent_of_own_cgroup() {
        let inner = parse(None, "c1").unwrap();
        let own = Some("/user.slice/session-1.scope");
        let rel = resolve(&inner, &v2("/sys/fs/cgroup"), own, HostKind::Unified).unwrap();
        assert_eq!(rel, Path::new("user.slice/c1"));
        // Hybrid: the controller-less cgroup2 hierarchy follows the v1 rule.
        let rel = resolve(&inner, &v2("/sys/fs/cgroup/unified"), own, HostKind::Hybrid).unwrap();
        assert_eq!(rel, Path::new("user.slice/session-1.scope/c1"));
        // At the root there is no parent to go to.
        let rel = resolve(&inner, &v2("/sys/fs/cgroup"), Some("/"), HostKind::Unified).unwrap();
        assert_eq!(rel, Path::new("c1"));
    }

    #[test]
    fn dotdot_in_own_cgroup_cannot_escape() {
        let m = v1("/sys/fs/cgroup/pids", "/", &["pids"]);
        let inner = parse(None, "c1").unwrap();
        assert!(resolve(&inner, &m, Some("/a/../../etc"), HostKind::Legacy).is_err());
    }

    #[test]
    fn below_checks_lexically() {
        let mp = Path::new("/sys/fs/cgroup/pids");
        assert_eq!(
            below(mp, Path::new("/sys/fs/cgroup/pids/a/b")),
            Some("a/b".into())
        );
        assert_eq!(below(mp, Path::new("/sys/fs/cgroup/pids")), None);
        assert_eq!(below(mp, Path::new("/sys/fs/cgroup/pids/../../etc")), None);
        assert_eq!(below(mp, Path::new("/sys/fs/cgroup/pidsx/a")), None);
        assert_eq!(below(mp, Path::new("/etc")), None);
    }

    #[test]
    fn parses_proc_self_cgroup() {
        let own = parse_own("9:name=systemd:/\n4:memory:/process_api/b8\n2:cpu,cpuacct:/x\n0::/\n");
        assert_eq!(
            own_for(&v1("/m", "/", &["memory"]), &own),
            Some("/process_api/b8")
        );
        assert_eq!(
            own_for(&v1("/c", "/", &["cpuacct", "cpu"]), &own),
            Some("/x")
        );
        assert_eq!(own_for(&v1("/s", "/", &["name=systemd"]), &own), Some("/"));
        assert_eq!(own_for(&v2("/u"), &own), Some("/"));
        assert_eq!(own_for(&v1("/p", "/", &["pids"]), &own), None);
    }
}
