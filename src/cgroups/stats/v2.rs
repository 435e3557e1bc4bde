//! Statistics from cgroup v2 files, mapped onto runc's v1-shaped JSON as runc's fs2 driver
//! maps them: cpu.stat (microseconds to nanoseconds), memory.current/max/stat/events (the
//! `max` event count as the failure count, memory.peak as the peak where the kernel has it),
//! swap reported as memory+swap like v1, pids.*, io.stat onto the blkio tables, and
//! `hugetlb.<size>.current` and `.events`.

use super::{
    keyed, keyed_or_empty, page_sizes, parse_err, uint, Blkio, BlkioEntry, Cpu, Files, Hugetlb,
    Memory, MemoryEntry, Pids, Stats,
};
use crate::cgroups::CgroupError;
use std::collections::BTreeMap;

/// The statistics of one cgroup2 directory.
pub fn collect(f: &dyn Files) -> Result<Stats, CgroupError> {
    Ok(Stats {
        cpu: cpu(f)?,
        memory: memory(f)?,
        pids: pids(f)?,
        blkio: io(f)?,
        hugetlb: hugetlb(f)?,
        ..Stats::default()
    })
}

/// CPU time and throttling from cpu.stat.
pub fn cpu(f: &dyn Files) -> Result<Cpu, CgroupError> {
    let s = keyed_or_empty(f, "cpu.stat")?;
    let get = |k: &str| s.get(k).copied().unwrap_or(0);
    let mut c = Cpu::default();
    c.usage.total = get("usage_usec").saturating_mul(1000);
    c.usage.user = get("user_usec").saturating_mul(1000);
    c.usage.kernel = get("system_usec").saturating_mul(1000);
    c.throttling.periods = get("nr_periods");
    c.throttling.throttled_periods = get("nr_throttled");
    c.throttling.throttled_time = get("throttled_usec").saturating_mul(1000);
    Ok(c)
}

/// One key of a keyed file that may be missing.
fn event(f: &dyn Files, name: &str, key: &str) -> Result<u64, CgroupError> {
    Ok(keyed_or_empty(f, name)?.get(key).copied().unwrap_or(0))
}

/// Memory and memory+swap (as v1 reports swap) plus memory.stat.
pub fn memory(f: &dyn Files) -> Result<Memory, CgroupError> {
    if f.get("memory.stat")?.is_none() {
        return Ok(Memory::default());
    }
    let raw = keyed(f, "memory.stat")?;
    let usage = MemoryEntry {
        usage: uint(f, "memory.current")?,
        limit: uint(f, "memory.max")?,
        max: match f.get("memory.peak")? {
            Some(_) => uint(f, "memory.peak")?,
            None => 0,
        },
        failcnt: event(f, "memory.events", "max")?,
    };
    let mut swap = MemoryEntry::default();
    if f.get("memory.swap.current")?.is_some() {
        swap.usage = uint(f, "memory.swap.current")?;
        swap.limit = uint(f, "memory.swap.max")?;
    }
    swap.usage = swap.usage.saturating_add(usage.usage);
    if swap.limit != u64::MAX {
        swap.limit = swap.limit.saturating_add(usage.limit);
    }
    Ok(Memory {
        cache: raw.get("file").copied().unwrap_or(0),
        usage,
        swap,
        raw,
        ..Memory::default()
    })
}

/// pids.current and pids.max; without the pids controller, the processes in cgroup.procs.
pub fn pids(f: &dyn Files) -> Result<Pids, CgroupError> {
    if f.get("pids.current")?.is_none() {
        let procs = f.get("cgroup.procs")?.unwrap_or_default();
        return Ok(Pids {
            current: procs.lines().filter(|l| !l.trim().is_empty()).count() as u64,
            limit: 0,
        });
    }
    let limit = match f.get("pids.max")?.as_deref().map(str::trim) {
        None | Some("max") => 0,
        Some(v) => super::parse_uint(v).ok_or_else(|| parse_err(f, "pids.max", v))?,
    };
    Ok(Pids {
        current: uint(f, "pids.current")?,
        limit,
    })
}

/// io.stat (`MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. ...`) onto the v1 tables: bytes to
/// io_service_bytes_recursive, operations to io_serviced_recursive, as Read/Write.
pub fn parse_io_stat(text: &str) -> Result<Blkio, String> {
    let mut b = Blkio::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let dev = it.next().unwrap_or("");
        let Some((major, minor)) = dev.split_once(':') else {
            return Err(line.to_string());
        };
        let num = |s: &str| s.parse::<u64>().map_err(|_| line.to_string());
        let (major, minor) = (num(major)?, num(minor)?);
        for item in it {
            let Some((key, value)) = item.split_once('=') else {
                continue;
            };
            let (op, table) = match key {
                "rbytes" => ("Read", &mut b.io_service_bytes_recursive),
                "wbytes" => ("Write", &mut b.io_service_bytes_recursive),
                "rios" => ("Read", &mut b.io_serviced_recursive),
                "wios" => ("Write", &mut b.io_serviced_recursive),
                // Discards and the rest have no v1 table.
                _ => continue,
            };
            table.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value: num(value)?,
            });
        }
    }
    Ok(b)
}

/// Block I/O counters from io.stat (none without the io controller).
pub fn io(f: &dyn Files) -> Result<Blkio, CgroupError> {
    match f.get("io.stat")? {
        Some(text) => parse_io_stat(&text).map_err(|line| parse_err(f, "io.stat", &line)),
        None => Ok(Blkio::default()),
    }
}

/// Usage and failures at the limit per huge page size.
pub fn hugetlb(f: &dyn Files) -> Result<BTreeMap<String, Hugetlb>, CgroupError> {
    let mut out = BTreeMap::new();
    for size in page_sizes(&f.names()?, "current") {
        let h = Hugetlb {
            usage: uint(f, &format!("hugetlb.{size}.current"))?,
            max: 0,
            failcnt: event(f, &format!("hugetlb.{size}.events"), "max")?,
        };
        out.insert(size, h);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeDir;
    use super::*;

    #[test]
    fn cpu_in_nanoseconds() {
        let f = FakeDir::new(&[(
            "cpu.stat",
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\nnr_throttled 2\nthrottled_usec 30\n",
        )]);
        let c = cpu(&f).unwrap();
        assert_eq!(c.usage.total, 1_500_000);
        assert_eq!(c.usage.user, 1_000_000);
        assert_eq!(c.usage.kernel, 500_000);
        assert!(c.usage.percpu.is_empty());
        assert_eq!(c.throttling.periods, 7);
        assert_eq!(c.throttling.throttled_periods, 2);
        assert_eq!(c.throttling.throttled_time, 30_000);
    }

    #[test]
    fn memory_and_swap_like_v1() {
        let f = FakeDir::new(&[
            ("memory.stat", "anon 8192\nfile 4096\n"),
            ("memory.current", "12288\n"),
            ("memory.max", "33554432\n"),
            ("memory.peak", "40000\n"),
            ("memory.events", "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n"),
            ("memory.swap.current", "100\n"),
            ("memory.swap.max", "max\n"),
        ]);
        let m = memory(&f).unwrap();
        assert_eq!(m.usage.usage, 12288);
        assert_eq!(m.usage.limit, 33554432);
        assert_eq!(m.usage.max, 40000);
        assert_eq!(m.usage.failcnt, 9);
        assert_eq!(m.swap.usage, 12388);
        assert_eq!(m.swap.limit, u64::MAX);
        assert_eq!(m.cache, 4096);
        assert_eq!(m.raw["anon"], 8192);
    }

    #[test]
    fn memory_without_swap_accounting_or_limit() {
        let f = FakeDir::new(&[
            ("memory.stat", "file 0\n"),
            ("memory.current", "4096\n"),
            ("memory.max", "max\n"),
        ]);
        let m = memory(&f).unwrap();
        assert_eq!(m.usage.limit, u64::MAX);
        assert_eq!(m.usage.failcnt, 0);
        assert_eq!(m.swap.usage, 4096);
        assert_eq!(m.swap.limit, u64::MAX, "saturates instead of wrapping");
    }

    #[test]
    fn pids_with_and_without_controller() {
        let f = FakeDir::new(&[("pids.current", "4\n"), ("pids.max", "16\n")]);
        assert_eq!(
            pids(&f).unwrap(),
            Pids {
                current: 4,
                limit: 16
            }
        );
        let f = FakeDir::new(&[("cgroup.procs", "12\n13\n")]);
        assert_eq!(
            pids(&f).unwrap(),
            Pids {
                current: 2,
                limit: 0
            }
        );
    }

    #[test]
    fn io_stat_to_v1_tables() {
        let b = parse_io_stat(
            "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=0 wbytes=0 rios=0 wios=0\n",
        )
        .unwrap();
        assert_eq!(b.io_service_bytes_recursive.len(), 4);
        assert_eq!(b.io_service_bytes_recursive[1].op, "Write");
        assert_eq!(b.io_service_bytes_recursive[1].value, 8192);
        assert_eq!(b.io_serviced_recursive[0].value, 1);
        assert_eq!(b.io_serviced_recursive[2].major, 253);
        assert!(parse_io_stat("sda rbytes=1\n").is_err());
        assert!(parse_io_stat("8:0 rbytes=x\n").is_err());
    }

    #[test]
    fn hugetlb_per_size() {
        let f = FakeDir::new(&[
            ("hugetlb.2MB.current", "2097152\n"),
            ("hugetlb.2MB.max", "max\n"),
            ("hugetlb.2MB.events", "max 3\n"),
            ("hugetlb.2MB.rsvd.current", "0\n"),
            ("hugetlb.1GB.current", "0\n"),
        ]);
        let h = hugetlb(&f).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h["2MB"].usage, 2097152);
        assert_eq!(h["2MB"].failcnt, 3);
        assert_eq!(h["1GB"].failcnt, 0);
    }
}
