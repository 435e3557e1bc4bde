//! Statistics from cgroup v1 files, read as runc's fs driver reads them: cpuacct.* for CPU
//! time, cpu.stat for throttling, cpuset.*, memory.* (with memsw, kmem and kmem.tcp when the
//! kernel has them), pids.*, the first blkio.* family the kernel fills (bfq debug, bfq, cfq,
//! throttle) and `hugetlb.<size>.*`.

use super::{
    keyed, keyed_or_empty, page_sizes, parse_err, required, uint, uint_or_zero, Blkio, BlkioEntry,
    Cpu, CpuSet, Files, Hugetlb, Memory, MemoryEntry, Pids, Stats, Throttling,
};
use crate::cgroups::CgroupError;
use std::collections::BTreeMap;

/// USER_HZ: cpuacct.stat counts in clock ticks, a constant 100 on Linux.
const CLOCK_TICKS: u64 = 100;
const NS_PER_SEC: u64 = 1_000_000_000;

/// A controller's directory by controller name, None when the container has none.
pub type DirFor<'a> = &'a dyn Fn(&str) -> Result<Option<Box<dyn Files>>, CgroupError>;

/// The statistics of every controller `dir_for` has a directory for.
pub fn collect(dir_for: DirFor<'_>) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    if let Some(f) = dir_for("cpuacct")? {
        s.cpu = cpuacct(f.as_ref())?;
    }
    if let Some(f) = dir_for("cpu")? {
        s.cpu.throttling = throttling(f.as_ref())?;
    }
    if let Some(f) = dir_for("cpuset")? {
        s.cpuset = cpuset(f.as_ref())?;
    }
    if let Some(f) = dir_for("memory")? {
        s.memory = memory(f.as_ref())?;
    }
    if let Some(f) = dir_for("pids")? {
        s.pids = pids(f.as_ref())?;
    }
    if let Some(f) = dir_for("blkio")? {
        s.blkio = blkio(f.as_ref())?;
    }
    if let Some(f) = dir_for("hugetlb")? {
        s.hugetlb = hugetlb(f.as_ref())?;
    }
    Ok(s)
}

/// CPU time from cpuacct.usage, cpuacct.usage_percpu, cpuacct.usage_all and cpuacct.stat.
pub fn cpuacct(f: &dyn Files) -> Result<Cpu, CgroupError> {
    let mut cpu = Cpu::default();
    let u = &mut cpu.usage;
    let stat = keyed(f, "cpuacct.stat")?;
    let ticks = |k: &str| stat.get(k).copied().unwrap_or(0) * NS_PER_SEC / CLOCK_TICKS;
    u.user = ticks("user");
    u.kernel = ticks("system");
    u.total = uint(f, "cpuacct.usage")?;
    let name = "cpuacct.usage_percpu";
    let text = required(f, name)?;
    u.percpu = text
        .split_whitespace()
        .map(|v| v.parse().map_err(|_| parse_err(f, name, v)))
        .collect::<Result<_, _>>()?;
    if let Some(all) = f.get("cpuacct.usage_all")? {
        // "cpu user system" then one line per CPU.
        for line in all.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(user), Some(sys)) = (
                cols.get(1).and_then(|v| v.parse().ok()),
                cols.get(2).and_then(|v| v.parse().ok()),
            ) else {
                return Err(parse_err(f, "cpuacct.usage_all", line));
            };
            u.percpu_user.push(user);
            u.percpu_kernel.push(sys);
        }
    }
    Ok(cpu)
}

/// CFS throttling from the cpu controller's cpu.stat (times already in nanoseconds).
pub fn throttling(f: &dyn Files) -> Result<Throttling, CgroupError> {
    let s = keyed_or_empty(f, "cpu.stat")?;
    let get = |k: &str| s.get(k).copied().unwrap_or(0);
    Ok(Throttling {
        periods: get("nr_periods"),
        throttled_periods: get("nr_throttled"),
        throttled_time: get("throttled_time"),
    })
}

/// A CPU or node list (`0-3,5`) as numbers.
pub fn parse_list(text: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?),
            None => {
                let v = part.parse::<u16>().ok()?;
                (v, v)
            }
        };
        if a > b {
            return None;
        }
        out.extend(a..=b);
    }
    Some(out)
}

/// The cpuset settings.
pub fn cpuset(f: &dyn Files) -> Result<CpuSet, CgroupError> {
    let list = |name: &str| -> Result<Vec<u16>, CgroupError> {
        let text = f.get(name)?.unwrap_or_default();
        parse_list(&text).ok_or_else(|| parse_err(f, name, text.trim()))
    };
    let n = |name: &str| uint_or_zero(f, &format!("cpuset.{name}"));
    let level = match f.get("cpuset.sched_relax_domain_level")? {
        Some(t) => t
            .trim()
            .parse()
            .map_err(|_| parse_err(f, "cpuset.sched_relax_domain_level", t.trim()))?,
        None => 0,
    };
    Ok(CpuSet {
        cpus: list("cpuset.cpus")?,
        cpu_exclusive: n("cpu_exclusive")?,
        mems: list("cpuset.mems")?,
        mem_hardwall: n("mem_hardwall")?,
        mem_exclusive: n("mem_exclusive")?,
        memory_migrate: n("memory_migrate")?,
        memory_spread_page: n("memory_spread_page")?,
        memory_spread_slab: n("memory_spread_slab")?,
        memory_pressure: n("memory_pressure")?,
        sched_load_balance: n("sched_load_balance")?,
        sched_relax_domain_level: level,
    })
}

/// One memory counter family: `memory` or `memory.<kind>` with usage_in_bytes,
/// max_usage_in_bytes, failcnt and limit_in_bytes. A family other than plain memory may be
/// missing (no swap accounting, no kmem): zero then.
fn memory_entry(f: &dyn Files, kind: &str) -> Result<MemoryEntry, CgroupError> {
    let prefix = match kind {
        "" => "memory".to_string(),
        k => format!("memory.{k}"),
    };
    let usage = format!("{prefix}.usage_in_bytes");
    if !kind.is_empty() && f.get(&usage)?.is_none() {
        return Ok(MemoryEntry::default());
    }
    Ok(MemoryEntry {
        usage: uint(f, &usage)?,
        max: uint(f, &format!("{prefix}.max_usage_in_bytes"))?,
        failcnt: uint(f, &format!("{prefix}.failcnt"))?,
        limit: uint(f, &format!("{prefix}.limit_in_bytes"))?,
    })
}

/// Memory, memory+swap, kernel and kernel TCP counters plus memory.stat.
pub fn memory(f: &dyn Files) -> Result<Memory, CgroupError> {
    if f.get("memory.stat")?.is_none() {
        return Ok(Memory::default());
    }
    let raw = keyed(f, "memory.stat")?;
    Ok(Memory {
        cache: raw.get("cache").copied().unwrap_or(0),
        usage: memory_entry(f, "")?,
        swap: memory_entry(f, "memsw")?,
        kernel: memory_entry(f, "kmem")?,
        kernel_tcp: memory_entry(f, "kmem.tcp")?,
        raw,
    })
}

/// pids.current and pids.max (`max` is reported as 0, no limit).
pub fn pids(f: &dyn Files) -> Result<Pids, CgroupError> {
    let max = required(f, "pids.max")?;
    let limit = match max.trim() {
        "max" => 0,
        v => super::parse_uint(v).ok_or_else(|| parse_err(f, "pids.max", v))?,
    };
    Ok(Pids {
        current: uint(f, "pids.current")?,
        limit,
    })
}

/// One blkio file: `MAJ:MIN [Op] value` lines; the `Total` summary line is skipped.
pub fn parse_blkio(text: &str) -> Result<Vec<BlkioEntry>, String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split([' ', ':']).filter(|s| !s.is_empty()).collect();
        if fields.len() == 2 && fields[0] == "Total" {
            continue;
        }
        let num = |s: &str| s.parse::<u64>().map_err(|_| line.to_string());
        let (op, value) = match fields.len() {
            3 => (String::new(), num(fields[2])?),
            4 => (fields[2].to_string(), num(fields[3])?),
            _ => return Err(line.to_string()),
        };
        out.push(BlkioEntry {
            major: num(fields[0])?,
            minor: num(fields[1])?,
            op,
            value,
        });
    }
    Ok(out)
}

/// The blkio file families in runc's order of preference, each as (file, table) pairs; the
/// first family whose first file has entries is used.
const BLKIO_FAMILIES: [&[(&str, usize)]; 5] = [
    &[
        ("blkio.bfq.sectors_recursive", 7),
        ("blkio.bfq.io_service_time_recursive", 3),
        ("blkio.bfq.io_wait_time_recursive", 4),
        ("blkio.bfq.io_merged_recursive", 5),
        ("blkio.bfq.io_queued_recursive", 2),
        ("blkio.bfq.time_recursive", 6),
        ("blkio.bfq.io_serviced_recursive", 1),
        ("blkio.bfq.io_service_bytes_recursive", 0),
    ],
    &[
        ("blkio.bfq.io_serviced_recursive", 1),
        ("blkio.bfq.io_service_bytes_recursive", 0),
    ],
    &[
        ("blkio.sectors_recursive", 7),
        ("blkio.io_service_time_recursive", 3),
        ("blkio.io_wait_time_recursive", 4),
        ("blkio.io_merged_recursive", 5),
        ("blkio.io_queued_recursive", 2),
        ("blkio.time_recursive", 6),
        ("blkio.io_serviced_recursive", 1),
        ("blkio.io_service_bytes_recursive", 0),
    ],
    &[
        ("blkio.throttle.io_serviced_recursive", 1),
        ("blkio.throttle.io_service_bytes_recursive", 0),
    ],
    &[
        ("blkio.throttle.io_serviced", 1),
        ("blkio.throttle.io_service_bytes", 0),
    ],
];

fn table(b: &mut Blkio, i: usize) -> &mut Vec<BlkioEntry> {
    match i {
        0 => &mut b.io_service_bytes_recursive,
        1 => &mut b.io_serviced_recursive,
        2 => &mut b.io_queued_recursive,
        3 => &mut b.io_service_time_recursive,
        4 => &mut b.io_wait_time_recursive,
        5 => &mut b.io_merged_recursive,
        6 => &mut b.io_time_recursive,
        _ => &mut b.sectors_recursive,
    }
}

/// Block I/O counters from the first blkio family the kernel fills.
pub fn blkio(f: &dyn Files) -> Result<Blkio, CgroupError> {
    let read = |name: &str| -> Result<Vec<BlkioEntry>, CgroupError> {
        match f.get(name)? {
            Some(text) => parse_blkio(&text).map_err(|line| parse_err(f, name, &line)),
            None => Ok(Vec::new()),
        }
    };
    for family in BLKIO_FAMILIES {
        let mut out = Blkio::default();
        let mut first = true;
        for (name, t) in family {
            let entries = read(name)?;
            if first && entries.is_empty() {
                break;
            }
            first = false;
            *table(&mut out, *t) = entries;
        }
        if !first {
            return Ok(out);
        }
    }
    Ok(Blkio::default())
}

/// Usage, peak and failures per huge page size.
pub fn hugetlb(f: &dyn Files) -> Result<BTreeMap<String, Hugetlb>, CgroupError> {
    let mut out = BTreeMap::new();
    for size in page_sizes(&f.names()?, "usage_in_bytes") {
        let file = |what: &str| format!("hugetlb.{size}.{what}");
        let h = Hugetlb {
            usage: uint(f, &file("usage_in_bytes"))?,
            max: uint(f, &file("max_usage_in_bytes"))?,
            failcnt: uint(f, &file("failcnt"))?,
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
    fn cpu_time() {
        let f = FakeDir::new(&[
            ("cpuacct.stat", "user 19\nsystem 15\n"),
            ("cpuacct.usage", "11146758\n"),
            ("cpuacct.usage_percpu", "3514830 7631928 \n"),
            (
                "cpuacct.usage_all",
                "cpu user system\n0 116000000 104000000\n1 72000000 44000000\n",
            ),
        ]);
        let c = cpuacct(&f).unwrap();
        assert_eq!(c.usage.total, 11146758);
        assert_eq!(c.usage.user, 190_000_000);
        assert_eq!(c.usage.kernel, 150_000_000);
        assert_eq!(c.usage.percpu, [3514830, 7631928]);
        assert_eq!(c.usage.percpu_user, [116000000, 72000000]);
        assert_eq!(c.usage.percpu_kernel, [104000000, 44000000]);
        let t = throttling(&FakeDir::new(&[(
            "cpu.stat",
            "nr_periods 469\nnr_throttled 3\nthrottled_time 1200\nnr_bursts 0\nburst_time 0\n",
        )]))
        .unwrap();
        assert_eq!(
            (t.periods, t.throttled_periods, t.throttled_time),
            (469, 3, 1200)
        );
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_list("0,2-4,7"), Some(vec![0, 2, 3, 4, 7]));
        assert_eq!(parse_list(""), Some(vec![]));
        assert_eq!(parse_list("3-1"), None);
        assert_eq!(parse_list("x"), None);
        let f = FakeDir::new(&[
            ("cpuset.cpus", "0-1\n"),
            ("cpuset.mems", "0\n"),
            ("cpuset.sched_load_balance", "1\n"),
            ("cpuset.sched_relax_domain_level", "-1\n"),
        ]);
        let c = cpuset(&f).unwrap();
        assert_eq!(c.cpus, [0, 1]);
        assert_eq!(c.mems, [0]);
        assert_eq!(c.sched_load_balance, 1);
        assert_eq!(c.sched_relax_domain_level, -1);
    }

    fn family(
        prefix: &str,
        usage: &str,
        max: &str,
        failcnt: &str,
        limit: &str,
    ) -> Vec<(String, String)> {
        [
            ("usage_in_bytes", usage),
            ("max_usage_in_bytes", max),
            ("failcnt", failcnt),
            ("limit_in_bytes", limit),
        ]
        .iter()
        .map(|(k, v)| (format!("{prefix}.{k}"), format!("{v}\n")))
        .collect()
    }

    #[test]
    fn memory_with_and_without_swap_accounting() {
        let mut files = family("memory", "442368", "2519040", "5", "67108864");
        files.extend(family(
            "memory.kmem.tcp",
            "0",
            "0",
            "0",
            "9223372036854771712",
        ));
        files.push(("memory.stat".into(), "cache 4096\nrss 118784\n".into()));
        let f = FakeDir(files.into_iter().collect());
        let m = memory(&f).unwrap();
        assert_eq!(m.usage.usage, 442368);
        assert_eq!(m.usage.max, 2519040);
        assert_eq!(m.usage.failcnt, 5);
        assert_eq!(m.usage.limit, 67108864);
        assert_eq!(m.swap, MemoryEntry::default(), "no memsw files: zero");
        assert_eq!(m.kernel_tcp.limit, 9223372036854771712);
        assert_eq!(m.cache, 4096);
        assert_eq!(m.raw["rss"], 118784);
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["usage"]["failcnt"], 5);
        assert!(
            json["kernelTCP"].get("usage").is_none(),
            "omitempty: {json}"
        );
    }

    #[test]
    fn memory_needs_its_usage_file() {
        let f = FakeDir::new(&[("memory.stat", "cache 0\n")]);
        let err = memory(&f).unwrap_err();
        assert!(err.to_string().contains("memory.usage_in_bytes"), "{err}");
        assert_eq!(memory(&FakeDir::new(&[])).unwrap(), Memory::default());
    }

    #[test]
    fn pids_limit_max_is_zero() {
        let f = FakeDir::new(&[("pids.current", "3\n"), ("pids.max", "max\n")]);
        assert_eq!(
            pids(&f).unwrap(),
            Pids {
                current: 3,
                limit: 0
            }
        );
        let f = FakeDir::new(&[("pids.current", "10\n"), ("pids.max", "10\n")]);
        assert_eq!(pids(&f).unwrap().limit, 10);
    }

    #[test]
    fn blkio_lines() {
        let e = parse_blkio("8:0 Read 1282048\n8:0 Write 4096\nTotal 1286144\n").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 1282048
            }
        );
        assert_eq!(parse_blkio("8:16 6792\n").unwrap()[0].op, "");
        assert!(parse_blkio("8:0 Read\n").is_err());
        assert!(parse_blkio("8 Read 1 2 3\n").is_err());
    }

    #[test]
    fn blkio_takes_the_first_family_with_data() {
        let f = FakeDir::new(&[
            ("blkio.bfq.io_serviced_recursive", ""),
            ("blkio.bfq.io_service_bytes_recursive", ""),
            (
                "blkio.throttle.io_serviced_recursive",
                "8:0 Read 3\nTotal 3\n",
            ),
            (
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 12288\nTotal 12288\n",
            ),
        ]);
        let b = blkio(&f).unwrap();
        assert_eq!(b.io_serviced_recursive[0].value, 3);
        assert_eq!(b.io_service_bytes_recursive[0].value, 12288);
        assert_eq!(blkio(&FakeDir::new(&[])).unwrap(), Blkio::default());
    }

    #[test]
    fn hugetlb_per_size() {
        let f = FakeDir::new(&[
            ("hugetlb.2MB.usage_in_bytes", "2097152\n"),
            ("hugetlb.2MB.max_usage_in_bytes", "4194304\n"),
            ("hugetlb.2MB.failcnt", "1\n"),
            ("hugetlb.2MB.limit_in_bytes", "4194304\n"),
            ("hugetlb.2MB.rsvd.usage_in_bytes", "0\n"),
        ]);
        let h = hugetlb(&f).unwrap();
        assert_eq!(
            h["2MB"],
            Hugetlb {
                usage: 2097152,
                max: 4194304,
                failcnt: 1
            }
        );
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn collect_uses_each_controllers_dir() {
        let dir_for = |c: &str| -> Result<Option<Box<dyn Files>>, CgroupError> {
            Ok(match c {
                "pids" => Some(Box::new(FakeDir::new(&[
                    ("pids.current", "2\n"),
                    ("pids.max", "50\n"),
                ]))),
                _ => None,
            })
        };
        let s = collect(&dir_for).unwrap();
        assert_eq!(
            s.pids,
            Pids {
                current: 2,
                limit: 50
            }
        );
        assert_eq!(s.memory, Memory::default());
    }
}
