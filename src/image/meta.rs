//! A tar entry's metadata, read once from its header and pax records: mode, owner, times and
//! xattrs (pax `uid`/`gid`/`mtime`/`atime` override the header, as GNU and Go tar write them).
//! Xattrs in overlayfs' namespaces are dropped: a layer must never forge the opaque,
//! redirect or metacopy attributes that the store (or overlayfs) would honour.

use rustix::fs::{Timespec, Timestamps};
use std::io;

/// Metadata to apply to an entry once it is created.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// Permission bits, with setuid/setgid/sticky.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time (seconds, nanoseconds).
    pub mtime: (i64, u32),
    /// Access time, when the pax records carry one (else mtime is used).
    pub atime: Option<(i64, u32)>,
    /// Extended attributes, name and value.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl Meta {
    /// The times for utimensat.
    pub fn timestamps(&self) -> Timestamps {
        let ts = |(s, n): (i64, u32)| Timespec {
            tv_sec: s,
            tv_nsec: n.into(),
        };
        Timestamps {
            last_access: ts(self.atime.unwrap_or(self.mtime)),
            last_modification: ts(self.mtime),
        }
    }
}

/// Reads the metadata of `entry`.
pub fn read<R: io::Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
    let h = entry.header();
    let id = |v: u64| u32::try_from(v).map_err(|_| bad("uid or gid above 2^32"));
    let mut meta = Meta {
        mode: h.mode()? & 0o7777,
        uid: id(h.uid()?)?,
        gid: id(h.gid()?)?,
        mtime: (h.mtime()?.min(i64::MAX as u64) as i64, 0),
        atime: None,
        xattrs: Vec::new(),
    };
    let Some(pax) = entry.pax_extensions()? else {
        return Ok(meta);
    };
    for ext in pax {
        let ext = ext?;
        let Ok(key) = ext.key() else { continue };
        let value = ext.value_bytes();
        if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
            if !forged(name) {
                meta.xattrs.push((name.to_string(), value.to_vec()));
            }
            continue;
        }
        let text = std::str::from_utf8(value).unwrap_or_default();
        match key {
            "uid" => meta.uid = text.parse().map_err(|_| bad("pax uid"))?,
            "gid" => meta.gid = text.parse().map_err(|_| bad("pax gid"))?,
            "mtime" => meta.mtime = pax_time(text).ok_or_else(|| bad("pax mtime"))?,
            "atime" => meta.atime = pax_time(text),
            _ => {}
        }
    }
    Ok(meta)
}

/// xattrs a layer may not set: overlayfs' own (trusted.overlay.*, user.overlay.*).
pub fn forged(name: &str) -> bool {
    name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")
}

/// A pax time, `1700000000.123456789` (or negative), as seconds and nanoseconds.
pub fn pax_time(text: &str) -> Option<(i64, u32)> {
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let s: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    // -1.5 means 1.5 s before the epoch: -2 s + 0.5 s.
    if s < 0 || secs.starts_with('-') {
        if nanos == 0 {
            return Some((s, 0));
        }
        return Some((s - 1, 1_000_000_000 - nanos));
    }
    Some((s, nanos))
}

fn bad(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times_parse() {
        assert_eq!(pax_time("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(pax_time("1700000000.5"), Some((1_700_000_000, 500_000_000)));
        assert_eq!(pax_time("-1.25"), Some((-2, 750_000_000)));
        assert_eq!(pax_time("x"), None);
    }

    #[test]
    fn overlay_xattrs_are_never_taken_from_a_layer() {
        assert!(forged("trusted.overlay.opaque"));
        assert!(forged("user.overlay.redirect"));
        assert!(!forged("user.comment"));
        assert!(!forged("security.capability"));
    }
}
