//! v1 freezer: freeze by writing FROZEN and reading freezer.state back until the kernel
//! reports FROZEN. A v1 cgroup can sit in FREEZING for a while (or for good while new
//! processes keep arriving), so like runc hull retries a bounded number of times, thawing
//! and pausing now and then, and thaws again if it gives up.

use crate::cgroups::fs::{write_file, Dir};
use crate::cgroups::CgroupError;
use std::time::Duration;

/// Attempts before giving up (runc: 1000).
const TRIES: u32 = 1000;

/// Freezes every process of the cgroup and its children.
pub fn freeze(dir: &Dir) -> Result<(), CgroupError> {
    let mut state = String::new();
    for i in 0..TRIES {
        if i % 50 == 49 {
            // New processes keep the cgroup FREEZING; a short thaw lets them settle.
            let _ = write_file(dir, "freezer.state", "THAWED");
            std::thread::sleep(Duration::from_millis(10));
        }
        write_file(dir, "freezer.state", "FROZEN")?;
        if i % 25 == 24 {
            std::thread::sleep(Duration::from_micros(10));
        }
        state = dir.read_trimmed("freezer.state")?;
        match state.as_str() {
            "FROZEN" => return Ok(()),
            "FREEZING" => continue,
            _ => break,
        }
    }
    // Half-frozen is the worst state to leave behind.
    let _ = write_file(dir, "freezer.state", "THAWED");
    Err(CgroupError::FreezeTimeout {
        path: dir.path().into(),
        state,
        tries: TRIES,
    })
}

/// Thaws the cgroup.
pub fn thaw(dir: &Dir) -> Result<(), CgroupError> {
    write_file(dir, "freezer.state", "THAWED")
}

/// Whether the cgroup itself is frozen (not merely a parent).
pub fn is_frozen(dir: &Dir) -> Result<bool, CgroupError> {
    match dir.read_trimmed("freezer.state")?.as_str() {
        "THAWED" => Ok(false),
        // FREEZING with self_freezing set: frozen by us, still settling.
        _ => Ok(dir.read_trimmed("freezer.self_freezing")? == "1"),
    }
}
