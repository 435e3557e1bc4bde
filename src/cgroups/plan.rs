//! A resource plan: `linux.resources` turned into an ordered list of cgroup file writes by
//! the pure per-controller functions in v1/ and v2/, then applied by [`apply`], the only
//! code that writes them. Each write knows the spec field it comes from, so a value the
//! kernel refuses is reported against the config, not just the file.

use super::fs::{write_err, Dir};
use super::CgroupError;
use std::io;

/// What a failed write means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// The error is the caller's error.
    Fail,
    /// A missing file means the kernel lacks the feature: skip it (runc does for kernel
    /// memory, swap and hugetlb reservations).
    SkipMissing,
    /// EINVAL is expected when the value only fits after a later write of the plan, which
    /// repeats this one (cfs period vs quota, cpu.max.burst vs cpu.max).
    RetryLater,
    /// Read the value back: the kernel clamps cpu.shares silently instead of failing.
    ReadBack,
}

/// One cgroup file write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The controller owning the file (selects the v1 hierarchy).
    pub controller: &'static str,
    /// The file name, e.g. `memory.limit_in_bytes`.
    pub file: String,
    /// The value.
    pub value: String,
    /// The spec field, e.g. `linux.resources.memory.limit`.
    pub field: String,
    /// How a failure is handled.
    pub on_error: OnError,
}

/// Ordered writes plus the set fields this host's cgroup version has no file for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The writes, in order.
    pub writes: Vec<Write>,
    /// Spec fields that were set but mean nothing on this cgroup version (warned about).
    pub ignored: Vec<String>,
}

impl Plan {
    /// Appends a write that must succeed.
    pub fn write(
        &mut self,
        controller: &'static str,
        file: impl Into<String>,
        value: impl ToString,
        field: impl Into<String>,
    ) {
        self.write_with(controller, file, value, field, OnError::Fail);
    }

    /// Appends a write with its own error handling.
    pub fn write_with(
        &mut self,
        controller: &'static str,
        file: impl Into<String>,
        value: impl ToString,
        field: impl Into<String>,
        on_error: OnError,
    ) {
        self.writes.push(Write {
            controller,
            file: file.into(),
            value: value.to_string(),
            field: field.into(),
            on_error,
        });
    }

    /// Records a set field that this cgroup version cannot apply.
    pub fn ignore(&mut self, field: impl Into<String>) {
        self.ignored.push(field.into());
    }

    /// The `(file, value)` pairs, for tests.
    #[cfg(test)]
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.writes
            .iter()
            .map(|w| (w.file.clone(), w.value.clone()))
            .collect()
    }
}

/// Performs one write of a plan in `dir`.
pub fn apply_write(dir: &Dir, w: &Write) -> Result<(), CgroupError> {
    let fail = |source: io::Error| write_err(dir, &w.file, &w.value, Some(&w.field), source);
    match (dir.write_raw(&w.file, &w.value), w.on_error) {
        (Ok(()), OnError::ReadBack) => read_back(dir, w),
        (Ok(()), _) => Ok(()),
        (Err(e), OnError::SkipMissing) if e.raw_os_error() == Some(libc::ENOENT) => {
            crate::log::debug(&format!(
                "{}: {} is missing on this kernel, not set",
                w.field,
                dir.path().join(&w.file).display()
            ));
            Ok(())
        }
        (Err(e), OnError::RetryLater) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        (Err(e), _) => Err(fail(e)),
    }
}

/// What one file held before an update wrote it, in the form the file takes back.
#[derive(Debug)]
struct Undo {
    dir: Dir,
    file: String,
    value: String,
}

/// The files an update changed, first change first, so a failed update can put back exactly
/// what it changed: also a limit the container never had, which re-applying the old
/// resources (what runc does) would leave in place.
#[derive(Debug, Default)]
pub struct Journal(Vec<Undo>);

impl Journal {
    /// Notes what `w`'s file in `dir` holds before `w` changes it. Device rules are left
    /// out: an update re-applies the same rules.
    pub fn remember(&mut self, dir: &Dir, w: &Write) {
        if w.controller == "devices" {
            return;
        }
        let key = restore_key(&w.file, &w.value);
        let seen = self
            .0
            .iter()
            .any(|u| u.dir.path() == dir.path() && restore_key(&u.file, &u.value) == key);
        if seen {
            return; // a repeated write (RetryLater): the first value is the one to restore
        }
        let Ok(before) = dir.read(&w.file) else {
            return; // a missing file: the write will fail or be skipped, changing nothing
        };
        let undo = restore_value(&w.file, &w.value, &before)
            .ok_or("the file cannot take its content back")
            .and_then(|value| {
                let dir = dir
                    .try_clone()
                    .map_err(|_| "dup of its directory fd failed")?;
                Ok(Undo {
                    dir,
                    file: w.file.clone(),
                    value,
                })
            });
        match undo {
            Ok(u) => self.0.push(u),
            Err(why) => crate::log::warn(&format!(
                "{}: cannot be put back if the update fails: {why}",
                dir.path().join(&w.file).display()
            )),
        }
    }

    /// Writes everything back, last change first (the reverse of a sequence the kernel
    /// accepted is accepted too: memsw and limit, quota and period). A value the kernel
    /// refuses now is logged and the rest still restored, as runc warns when its own
    /// roll-back fails.
    pub fn roll_back(self) {
        for u in self.0.into_iter().rev() {
            if let Err(e) = u.dir.write_raw(&u.file, &u.value) {
                crate::log::warn(&format!(
                    "update failed and {} could not be put back to {:?}: {e}",
                    u.dir.path().join(&u.file).display(),
                    u.value
                ));
            }
        }
    }
}

/// Files whose lines are keyed (a device `MAJ:MIN`, `default`, an interface): a write
/// changes one line, so one line is restored. With the value that removes the key when the
/// file had no line for it.
const KEYED: [(&str, &str); 10] = [
    ("blkio.throttle.read_bps_device", "0"),
    ("blkio.throttle.write_bps_device", "0"),
    ("blkio.throttle.read_iops_device", "0"),
    ("blkio.throttle.write_iops_device", "0"),
    ("blkio.weight_device", "0"),
    ("blkio.bfq.weight_device", "0"),
    ("blkio.leaf_weight_device", "0"),
    ("io.max", "rbps=max wbps=max riops=max wiops=max"),
    ("io.weight", "default"),
    ("io.bfq.weight", "default"),
];

fn keyed(file: &str) -> Option<&'static str> {
    KEYED
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, unset)| *unset)
}

/// What identifies the part of `file` a write of `written` changes.
fn restore_key(file: &str, written: &str) -> String {
    let key = written.split_once(' ').map_or(written, |(k, _)| k);
    if keyed(file).is_some() || file == "net_prio.ifpriomap" {
        format!("{file} {key}")
    } else {
        file.to_string()
    }
}

/// The value that puts `file` back to `before` (what it read) after a write of `written`;
/// None when the file cannot take its own content back.
pub fn restore_value(file: &str, written: &str, before: &str) -> Option<String> {
    let before = before.trim_end_matches('\n');
    let key_of = |line: &str| line.split_once(' ').map(|(k, _)| k.to_string());
    if file == "memory.oom_control" {
        // Reads as "oom_kill_disable N\nunder_oom N\n...", takes N.
        return before
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill_disable "))
            .map(str::to_string);
    }
    let unset = keyed(file).or((file == "net_prio.ifpriomap").then_some("0"));
    if let Some(unset) = unset {
        // A bare weight (io.weight "100") is the `default` line.
        let key = key_of(written).unwrap_or_else(|| "default".to_string());
        return Some(
            before
                .lines()
                .find(|l| key_of(l).as_deref() == Some(key.as_str()))
                .map_or_else(|| format!("{key} {unset}"), str::to_string),
        );
    }
    (!before.contains('\n')).then(|| before.to_string())
}

/// Logs the fields a plan could not apply on this cgroup version, as runc warns about
/// kernel memory.
pub fn warn_ignored(plan: &Plan, version: &str) {
    for f in &plan.ignored {
        crate::log::warn(&format!(
            "{f} is not supported on cgroup {version}, ignored"
        ));
    }
}

fn read_back(dir: &Dir, w: &Write) -> Result<(), CgroupError> {
    let got = dir.read_trimmed(&w.file)?;
    if got == w.value {
        return Ok(());
    }
    Err(CgroupError::invalid(
        w.field.clone(),
        format!(
            "{} is out of range: the kernel set {} to {got}",
            w.value,
            dir.path().join(&w.file).display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_values_come_back_as_read() {
        assert_eq!(
            restore_value("pids.max", "50", "max\n").as_deref(),
            Some("max")
        );
        assert_eq!(
            restore_value("cpu.max", "50000 100000", "max 100000\n").as_deref(),
            Some("max 100000")
        );
        assert_eq!(
            restore_value("memory.limit_in_bytes", "67108864", "9223372036854771712\n").as_deref(),
            Some("9223372036854771712")
        );
        // A multi-line file that is not keyed cannot take its content back.
        assert_eq!(restore_value("memory.stat", "1", "a 1\nb 2\n"), None);
    }

    #[test]
    fn oom_control_takes_its_flag() {
        let before = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(
            restore_value("memory.oom_control", "1", before).as_deref(),
            Some("0")
        );
    }

    #[test]
    fn keyed_files_restore_one_line_or_unset_it() {
        let thr = "blkio.throttle.read_bps_device";
        assert_eq!(
            restore_value(thr, "8:0 1048576", "8:0 2097152\n8:16 100\n").as_deref(),
            Some("8:0 2097152")
        );
        assert_eq!(
            restore_value(thr, "8:0 1048576", "").as_deref(),
            Some("8:0 0")
        );
        assert_eq!(
            restore_value("io.max", "8:0 wbps=1000", "").as_deref(),
            Some("8:0 rbps=max wbps=max riops=max wiops=max")
        );
        assert_eq!(
            restore_value(
                "io.max",
                "8:0 wbps=1000",
                "8:0 rbps=5 wbps=max riops=max wiops=max\n"
            )
            .as_deref(),
            Some("8:0 rbps=5 wbps=max riops=max wiops=max")
        );
        assert_eq!(
            restore_value("io.weight", "default 500", "default 100\n").as_deref(),
            Some("default 100")
        );
        assert_eq!(
            restore_value("io.weight", "8:0 200", "default 100\n").as_deref(),
            Some("8:0 default")
        );
        assert_eq!(
            restore_value("io.bfq.weight", "500", "default 100\n").as_deref(),
            Some("default 100")
        );
    }

    #[test]
    fn repeated_writes_share_a_key_and_devices_differ() {
        assert_eq!(
            restore_key("cpu.cfs_period_us", "100000"),
            restore_key("cpu.cfs_period_us", "200000")
        );
        assert_ne!(
            restore_key("io.max", "8:0 wbps=1"),
            restore_key("io.max", "8:16 wbps=1")
        );
    }
}
