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
