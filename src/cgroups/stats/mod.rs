//! Resource usage of a container's cgroup, as `events` prints it: the JSON shape of runc's
//! `types.Stats` (field names, and which zero values Go's `omitempty` leaves out), filled
//! from the v1 files (`v1.rs`) or the v2 files (`v2.rs`) by pure readers of file contents.
//! The managers only say where each controller's directory is; [`Files`] is that seam, a
//! cgroup directory in production and a map in the unit tests.

pub mod v1;
pub mod v2;

use super::fs::Dir;
use super::CgroupError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `data` of a `stats` event (runc's `types.Stats`, Intel RDT left empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// CPU time and CFS throttling.
    pub cpu: Cpu,
    /// The cpuset controller's settings (v1 only; zero on v2, as runc).
    pub cpuset: CpuSet,
    /// Memory, swap and kernel memory counters.
    pub memory: Memory,
    /// Process count and limit.
    pub pids: Pids,
    /// Block I/O counters.
    pub blkio: Blkio,
    /// Per huge page size (`2MB`, `1GB`).
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Intel RDT: hull has no RDT support, so always `{}`.
    pub intel_rdt: IntelRdt,
    /// runc fills this only for its own network setups: always `null`.
    pub network_interfaces: Option<Vec<serde_json::Value>>,
}

/// CPU statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cpu {
    /// Time used.
    pub usage: CpuUsage,
    /// CFS bandwidth throttling.
    pub throttling: Throttling,
}

/// CPU time in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    /// Total time.
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Total time per CPU (v1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Kernel-mode time per CPU (v1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// User-mode time per CPU (v1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    /// Kernel-mode time.
    pub kernel: u64,
    /// User-mode time.
    pub user: u64,
}

/// CFS throttling counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Throttling {
    /// Enforcement periods that elapsed.
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Time throttled, in nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// The cpuset settings runc reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuSet {
    /// CPUs the cgroup may use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    /// `cpuset.cpu_exclusive`.
    pub cpu_exclusive: u64,
    /// Memory nodes the cgroup may use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    /// `cpuset.mem_hardwall`.
    pub mem_hardwall: u64,
    /// `cpuset.mem_exclusive`.
    pub mem_exclusive: u64,
    /// `cpuset.memory_migrate`.
    pub memory_migrate: u64,
    /// `cpuset.memory_spread_page`.
    pub memory_spread_page: u64,
    /// `cpuset.memory_spread_slab`.
    pub memory_spread_slab: u64,
    /// `cpuset.memory_pressure`.
    pub memory_pressure: u64,
    /// `cpuset.sched_load_balance`.
    pub sched_load_balance: u64,
    /// `cpuset.sched_relax_domain_level`.
    pub sched_relax_domain_level: i64,
}

/// One memory counter family (usage, swap, kernel, kernel TCP).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryEntry {
    /// The limit in bytes (`u64::MAX`-ish when unlimited, as the kernel reports it).
    pub limit: u64,
    /// Bytes in use.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak bytes in use.
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// How often the limit was hit.
    pub failcnt: u64,
}

/// Memory statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    /// Page cache bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory plus swap (v1 semantics, also on v2).
    pub swap: MemoryEntry,
    /// Kernel memory (v1).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// Every counter of memory.stat.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// Process counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pids {
    /// Processes (tasks) in the cgroup.
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// The limit; 0 when unlimited.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// One block I/O counter of one device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioEntry {
    /// Device major number.
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    /// Device minor number.
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`, or empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// The counter.
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// Block I/O statistics, in runc's v1 tables (v2's io.stat is mapped onto them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Blkio {
    /// Bytes transferred.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// I/O operations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    /// Queued operations (runc's JSON name drops the `d`).
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    /// Time between dispatch and completion.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    /// Time waiting in the scheduler queues.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    /// Merged requests.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    /// Disk time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    /// Sectors transferred.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

/// Huge page usage of one page size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hugetlb {
    /// Bytes in use.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak bytes in use (v1).
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Allocations that failed at the limit.
    pub failcnt: u64,
}

/// Intel RDT statistics: none, hull does not manage resctrl.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelRdt {}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Where the stats readers get cgroup files from.
pub trait Files {
    /// The file's content; None when the file does not exist.
    fn get(&self, name: &str) -> Result<Option<String>, CgroupError>;
    /// The names of the files in the directory.
    fn names(&self) -> Result<Vec<String>, CgroupError>;
    /// The file's path, for messages.
    fn path(&self, name: &str) -> PathBuf;
}

impl Files for Dir {
    fn get(&self, name: &str) -> Result<Option<String>, CgroupError> {
        match self.read(name) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn names(&self) -> Result<Vec<String>, CgroupError> {
        self.files()
    }

    fn path(&self, name: &str) -> PathBuf {
        Dir::path(self).join(name)
    }
}

/// A file that must exist.
fn required(f: &dyn Files, name: &str) -> Result<String, CgroupError> {
    f.get(name)?.ok_or_else(|| CgroupError::Read {
        path: f.path(name),
        source: std::io::Error::from_raw_os_error(libc::ENOENT),
    })
}

fn parse_err(f: &dyn Files, name: &str, content: &str) -> CgroupError {
    CgroupError::Parse {
        path: f.path(name),
        content: content.into(),
    }
}

/// A counter as runc's `ParseUint` reads one: `max` is `u64::MAX`, a negative value
/// (v1 reports -1 for "unset" in some files) is 0.
pub fn parse_uint(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "max" {
        return Some(u64::MAX);
    }
    match s.parse::<u64>() {
        Ok(v) => Some(v),
        Err(_)
            if s.len() > 1 && s.starts_with('-') && s[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(0)
        }
        Err(_) => None,
    }
}

/// A one-value file that must exist.
fn uint(f: &dyn Files, name: &str) -> Result<u64, CgroupError> {
    let text = required(f, name)?;
    parse_uint(&text).ok_or_else(|| parse_err(f, name, text.trim()))
}

/// A one-value file that may be missing (0 then).
fn uint_or_zero(f: &dyn Files, name: &str) -> Result<u64, CgroupError> {
    match f.get(name)? {
        Some(text) => parse_uint(&text).ok_or_else(|| parse_err(f, name, text.trim())),
        None => Ok(0),
    }
}

/// A flat keyed file (`key value` per line, as memory.stat and cpu.stat).
pub fn parse_keyed(text: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v), None) = (it.next(), it.next(), it.next()) else {
            return Err(line.to_string());
        };
        let v = parse_uint(v).ok_or_else(|| line.to_string())?;
        out.insert(k.to_string(), v);
    }
    Ok(out)
}

/// A flat keyed file that must exist.
fn keyed(f: &dyn Files, name: &str) -> Result<BTreeMap<String, u64>, CgroupError> {
    let text = required(f, name)?;
    parse_keyed(&text).map_err(|line| parse_err(f, name, &line))
}

/// A flat keyed file that may be missing (empty then).
fn keyed_or_empty(f: &dyn Files, name: &str) -> Result<BTreeMap<String, u64>, CgroupError> {
    match f.get(name)? {
        Some(text) => parse_keyed(&text).map_err(|line| parse_err(f, name, &line)),
        None => Ok(BTreeMap::new()),
    }
}

/// The huge page sizes the directory has files for: `hugetlb.<size>.<suffix>` where the size
/// is one the kernel names (`2MB`), reservation files (`.rsvd.`) excluded.
pub fn page_sizes(names: &[String], suffix: &str) -> Vec<String> {
    let mut out: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_prefix("hugetlb.")?.strip_suffix(suffix))
        .filter_map(|s| s.strip_suffix('.'))
        .filter(|s| crate::cgroups::v1::page_size(s, "").is_ok())
        .map(String::from)
        .collect();
    out.sort();
    out
}

#[cfg(test)]
pub(crate) mod fake {
    //! A cgroup directory as a map of file names to contents.
    use super::*;

    /// Files from `(name, content)` pairs.
    pub struct FakeDir(pub BTreeMap<String, String>);

    impl FakeDir {
        pub fn new(files: &[(&str, &str)]) -> FakeDir {
            FakeDir(
                files
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        }
    }

    impl Files for FakeDir {
        fn get(&self, name: &str) -> Result<Option<String>, CgroupError> {
            Ok(self.0.get(name).cloned())
        }
        fn names(&self) -> Result<Vec<String>, CgroupError> {
            Ok(self.0.keys().cloned().collect())
        }
        fn path(&self, name: &str) -> PathBuf {
            PathBuf::from("/fake").join(name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uints_read_like_runc() {
        assert_eq!(parse_uint("42\n"), Some(42));
        assert_eq!(parse_uint("max"), Some(u64::MAX));
        assert_eq!(parse_uint("-1"), Some(0));
        assert_eq!(parse_uint("x"), None);
        assert_eq!(parse_uint("-"), None);
    }

    #[test]
    fn keyed_files() {
        let m = parse_keyed("cache 4096\nrss 8192\n\n").unwrap();
        assert_eq!(m["cache"], 4096);
        assert_eq!(m["rss"], 8192);
        assert_eq!(parse_keyed("a 1 2\n").unwrap_err(), "a 1 2");
        assert_eq!(parse_keyed("a\n").unwrap_err(), "a");
    }

    #[test]
    fn page_sizes_from_file_names() {
        let names: Vec<String> = [
            "hugetlb.2MB.usage_in_bytes",
            "hugetlb.2MB.rsvd.usage_in_bytes",
            "hugetlb.1GB.usage_in_bytes",
            "hugetlb.1GB.limit_in_bytes",
            "memory.usage_in_bytes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(page_sizes(&names, "usage_in_bytes"), ["1GB", "2MB"]);
    }

    #[test]
    fn empty_stats_have_runcs_shape() {
        let json = serde_json::to_string(&Stats::default()).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"cpu":{"usage":{"kernel":0,"user":0},"throttling":{}},"#,
                r#""cpuset":{"cpu_exclusive":0,"mem_hardwall":0,"mem_exclusive":0,"#,
                r#""memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"#,
                r#""memory_pressure":0,"sched_load_balance":0,"sched_relax_domain_level":0},"#,
                r#""memory":{"usage":{"limit":0,"failcnt":0},"swap":{"limit":0,"failcnt":0},"#,
                r#""kernel":{"limit":0,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0}},"#,
                r#""pids":{},"blkio":{},"hugetlb":{},"intel_rdt":{},"network_interfaces":null}"#
            )
        );
    }
}
