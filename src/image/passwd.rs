//! The image config's `User` (`name`, `uid`, `name:group`, `uid:gid`, ...) resolved to ids
//! against the image's own /etc/passwd and /etc/group, read through fds inside the unpacked
//! tree ([`Files`]): the flat rootfs, or the stack of store layers top-down with whiteouts
//! and opaque directories honoured. Parsing is pure and unit-tested.

use super::error::ImageError;
use super::fsops;
use crate::rootfs::Root;
use rustix::fs::{FileType, OFlags};
use std::io::Read;
use std::path::Path;

/// Largest passwd or group file read.
const MAX_FILE: u64 = 4 << 20;

/// The ids a `User` resolves to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
    /// Groups that list the user as a member.
    pub additional_gids: Vec<u32>,
    /// The home directory from /etc/passwd.
    pub home: Option<String>,
}

/// Reads files of the image's tree.
pub trait Files {
    /// The contents of `path` (relative, e.g. `etc/passwd`), `None` if it is not there.
    fn read(&self, path: &Path) -> Option<Vec<u8>>;
}

/// A flat rootfs.
pub struct FlatFiles<'a>(pub &'a Root);

impl Files for FlatFiles<'_> {
    fn read(&self, path: &Path) -> Option<Vec<u8>> {
        let fd = fsops::open_in(self.0.as_fd(), path, OFlags::RDONLY).ok()?;
        read_limited(std::fs::File::from(fd))
    }
}

/// Store layers, topmost first.
pub struct LayerFiles(pub super::layers::Stack);

impl Files for LayerFiles {
    fn read(&self, path: &Path) -> Option<Vec<u8>> {
        match self.0.find(path)? {
            (layer, FileType::RegularFile) => {
                read_limited(std::fs::File::from(self.0.open(layer, path)?))
            }
            _ => None,
        }
    }
}

fn read_limited(f: std::fs::File) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    f.take(MAX_FILE).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// One line of /etc/passwd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    /// Login name.
    pub name: String,
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Home directory.
    pub home: String,
}

/// One line of /etc/group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// Group name.
    pub name: String,
    /// gid.
    pub gid: u32,
    /// Member login names.
    pub members: Vec<String>,
}

/// Parses /etc/passwd, skipping malformed lines.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 6).then_some(())?;
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

/// Parses /etc/group, skipping malformed lines.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4).then_some(())?;
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

/// Resolves `user` against the image's files.
pub fn resolve(user: &str, files: &dyn Files) -> Result<Resolved, ImageError> {
    let text = |p: &str| {
        files
            .read(Path::new(p))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    resolve_in(
        user,
        &parse_passwd(&text("etc/passwd")),
        &parse_group(&text("etc/group")),
    )
}

/// [`resolve`] on parsed files (docker's rules: a numeric uid need not exist; a name must).
pub fn resolve_in(
    user: &str,
    passwd: &[PasswdEntry],
    groups: &[GroupEntry],
) -> Result<Resolved, ImageError> {
    let err = |reason: String| ImageError::User {
        user: user.to_string(),
        reason,
    };
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let entry = match u.parse::<u32>() {
        Ok(uid) => passwd.iter().find(|p| p.uid == uid),
        Err(_) => Some(
            passwd
                .iter()
                .find(|p| p.name == u)
                .ok_or_else(|| err(format!("no user {u:?} in /etc/passwd")))?,
        ),
    };
    let uid = u.parse().unwrap_or_else(|_| entry.map_or(0, |e| e.uid));
    let gid = match g {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => groups
                .iter()
                .find(|e| e.name == g)
                .map(|e| e.gid)
                .ok_or_else(|| err(format!("no group {g:?} in /etc/group")))?,
        },
        None => entry.map_or(0, |e| e.gid),
    };
    let additional_gids = match entry {
        Some(e) => groups
            .iter()
            .filter(|g| g.members.contains(&e.name) && g.gid != gid)
            .map(|g| g.gid)
            .collect(),
        None => Vec::new(),
    };
    Ok(Resolved {
        uid,
        gid,
        additional_gids,
        home: entry.map(|e| e.home.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nbad line\n";
    const GROUP: &str = "root:x:0:\napp:x:1000:\nstaff:x:50:app,other\n";

    fn r(user: &str) -> Result<Resolved, ImageError> {
        resolve_in(user, &parse_passwd(PASSWD), &parse_group(GROUP))
    }

    #[test]
    fn names_and_numbers_resolve() {
        let app = r("app").unwrap();
        assert_eq!((app.uid, app.gid), (1000, 1000));
        assert_eq!(app.additional_gids, [50]);
        assert_eq!(app.home.as_deref(), Some("/home/app"));
        assert_eq!(r("").unwrap().home.as_deref(), Some("/root"));
        let n = r("4242").unwrap();
        assert_eq!((n.uid, n.gid, n.home), (4242, 0, None));
        assert_eq!(r("app:staff").unwrap().gid, 50);
        assert_eq!(r("1000:7").unwrap().gid, 7);
    }

    #[test]
    fn unknown_names_fail_with_the_user() {
        let e = r("nobody").unwrap_err().to_string();
        assert!(e.contains("\"nobody\""), "{e}");
        assert!(r("app:nogroup").is_err());
    }
}
