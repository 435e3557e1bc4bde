//! `Stats`: the runtime's `events --stats` data (runc's `types.Stats`) turned into
//! containerd's metrics types, `io.containerd.cgroups.v1.Metrics` on a v1 or hybrid host and
//! `io.containerd.cgroups.v2.Metrics` on a unified one, as an `Any` for the response. Pure
//! conversions, unit-tested.

use crate::cgroups::stats::{BlkioEntry, Stats};
use containerd_shim_protos::cgroups::metrics as v1;
use containerd_shim_protos::cgroups_v2::metrics as v2;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::{Message, MessageField};
use std::collections::BTreeMap;

/// True when /sys/fs/cgroup is the unified (cgroup2) hierarchy.
pub fn host_is_unified() -> bool {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    rustix::fs::statfs("/sys/fs/cgroup").is_ok_and(|s| s.f_type == CGROUP2_SUPER_MAGIC)
}

/// The metrics as an `Any` of the host's cgroup version.
pub fn to_any(
    stats: &Stats,
    unified: bool,
) -> Result<Any, containerd_shim_protos::protobuf::Error> {
    let (type_url, value) = if unified {
        let m = to_v2(stats);
        ("io.containerd.cgroups.v2.Metrics", m.write_to_bytes()?)
    } else {
        let m = to_v1(stats);
        ("io.containerd.cgroups.v1.Metrics", m.write_to_bytes()?)
    };
    Ok(Any {
        type_url: type_url.into(),
        value,
        ..Default::default()
    })
}

fn raw(stats: &Stats, key: &str) -> u64 {
    stats.memory.raw.get(key).copied().unwrap_or(0)
}

/// cgroup v1 metrics.
pub fn to_v1(s: &Stats) -> v1::Metrics {
    let entry = |e: &crate::cgroups::stats::MemoryEntry| v1::MemoryEntry {
        limit: e.limit,
        usage: e.usage,
        max: e.max,
        failcnt: e.failcnt,
        ..Default::default()
    };
    let r = |k: &str| raw(s, k);
    let memory = v1::MemoryStat {
        cache: s.memory.cache,
        rss: r("rss"),
        rss_huge: r("rss_huge"),
        mapped_file: r("mapped_file"),
        dirty: r("dirty"),
        writeback: r("writeback"),
        pg_pg_in: r("pgpgin"),
        pg_pg_out: r("pgpgout"),
        pg_fault: r("pgfault"),
        pg_maj_fault: r("pgmajfault"),
        inactive_anon: r("inactive_anon"),
        active_anon: r("active_anon"),
        inactive_file: r("inactive_file"),
        active_file: r("active_file"),
        unevictable: r("unevictable"),
        hierarchical_memory_limit: r("hierarchical_memory_limit"),
        hierarchical_swap_limit: r("hierarchical_memsw_limit"),
        total_cache: r("total_cache"),
        total_rss: r("total_rss"),
        total_rss_huge: r("total_rss_huge"),
        total_mapped_file: r("total_mapped_file"),
        total_dirty: r("total_dirty"),
        total_writeback: r("total_writeback"),
        total_pg_pg_in: r("total_pgpgin"),
        total_pg_pg_out: r("total_pgpgout"),
        total_pg_fault: r("total_pgfault"),
        total_pg_maj_fault: r("total_pgmajfault"),
        total_inactive_anon: r("total_inactive_anon"),
        total_active_anon: r("total_active_anon"),
        total_inactive_file: r("total_inactive_file"),
        total_active_file: r("total_active_file"),
        total_unevictable: r("total_unevictable"),
        usage: MessageField::some(entry(&s.memory.usage)),
        swap: MessageField::some(entry(&s.memory.swap)),
        kernel: MessageField::some(entry(&s.memory.kernel)),
        kernel_tcp: MessageField::some(entry(&s.memory.kernel_tcp)),
        ..Default::default()
    };
    let cpu = v1::CPUStat {
        usage: MessageField::some(v1::CPUUsage {
            total: s.cpu.usage.total,
            kernel: s.cpu.usage.kernel,
            user: s.cpu.usage.user,
            per_cpu: s.cpu.usage.percpu.clone(),
            ..Default::default()
        }),
        throttling: MessageField::some(v1::Throttle {
            periods: s.cpu.throttling.periods,
            throttled_periods: s.cpu.throttling.throttled_periods,
            throttled_time: s.cpu.throttling.throttled_time,
            ..Default::default()
        }),
        ..Default::default()
    };
    let blk = |v: &[BlkioEntry]| -> Vec<v1::BlkIOEntry> {
        v.iter()
            .map(|e| v1::BlkIOEntry {
                op: e.op.clone(),
                major: e.major,
                minor: e.minor,
                value: e.value,
                ..Default::default()
            })
            .collect()
    };
    let b = &s.blkio;
    v1::Metrics {
        hugetlb: s
            .hugetlb
            .iter()
            .map(|(size, h)| v1::HugetlbStat {
                usage: h.usage,
                max: h.max,
                failcnt: h.failcnt,
                pagesize: size.clone(),
                ..Default::default()
            })
            .collect(),
        pids: MessageField::some(v1::PidsStat {
            current: s.pids.current,
            limit: s.pids.limit,
            ..Default::default()
        }),
        cpu: MessageField::some(cpu),
        memory: MessageField::some(memory),
        blkio: MessageField::some(v1::BlkIOStat {
            io_service_bytes_recursive: blk(&b.io_service_bytes_recursive),
            io_serviced_recursive: blk(&b.io_serviced_recursive),
            io_queued_recursive: blk(&b.io_queued_recursive),
            io_service_time_recursive: blk(&b.io_service_time_recursive),
            io_wait_time_recursive: blk(&b.io_wait_time_recursive),
            io_merged_recursive: blk(&b.io_merged_recursive),
            io_time_recursive: blk(&b.io_time_recursive),
            sectors_recursive: blk(&b.sectors_recursive),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// cgroup v2 metrics. runc's `swap` is memory plus swap (v1 semantics), containerd's v2
/// `swap_usage` is swap alone: the difference.
pub fn to_v2(s: &Stats) -> v2::Metrics {
    let r = |k: &str| raw(s, k);
    let mem = &s.memory;
    let memory = v2::MemoryStat {
        anon: r("anon"),
        file: r("file"),
        kernel_stack: r("kernel_stack"),
        slab: r("slab"),
        sock: r("sock"),
        shmem: r("shmem"),
        file_mapped: r("file_mapped"),
        file_dirty: r("file_dirty"),
        file_writeback: r("file_writeback"),
        anon_thp: r("anon_thp"),
        inactive_anon: r("inactive_anon"),
        active_anon: r("active_anon"),
        inactive_file: r("inactive_file"),
        active_file: r("active_file"),
        unevictable: r("unevictable"),
        slab_reclaimable: r("slab_reclaimable"),
        slab_unreclaimable: r("slab_unreclaimable"),
        pgfault: r("pgfault"),
        pgmajfault: r("pgmajfault"),
        workingset_refault: r("workingset_refault"),
        workingset_activate: r("workingset_activate"),
        workingset_nodereclaim: r("workingset_nodereclaim"),
        pgrefill: r("pgrefill"),
        pgscan: r("pgscan"),
        pgsteal: r("pgsteal"),
        pgactivate: r("pgactivate"),
        pgdeactivate: r("pgdeactivate"),
        pglazyfree: r("pglazyfree"),
        pglazyfreed: r("pglazyfreed"),
        thp_fault_alloc: r("thp_fault_alloc"),
        thp_collapse_alloc: r("thp_collapse_alloc"),
        usage: mem.usage.usage,
        usage_limit: mem.usage.limit,
        swap_usage: mem.swap.usage.saturating_sub(mem.usage.usage),
        swap_limit: mem.swap.limit,
        max_usage: mem.usage.max,
        swap_max_usage: mem.swap.max,
        ..Default::default()
    };
    let t = &s.cpu.throttling;
    let cpu = v2::CPUStat {
        usage_usec: s.cpu.usage.total / 1000,
        user_usec: s.cpu.usage.user / 1000,
        system_usec: s.cpu.usage.kernel / 1000,
        nr_periods: t.periods,
        nr_throttled: t.throttled_periods,
        throttled_usec: t.throttled_time / 1000,
        ..Default::default()
    };
    v2::Metrics {
        pids: MessageField::some(v2::PidsStat {
            current: s.pids.current,
            limit: s.pids.limit,
            ..Default::default()
        }),
        cpu: MessageField::some(cpu),
        memory: MessageField::some(memory),
        io: MessageField::some(v2::IOStat {
            usage: io_entries(s),
            ..Default::default()
        }),
        hugetlb: s
            .hugetlb
            .iter()
            .map(|(size, h)| v2::HugeTlbStat {
                current: h.usage,
                max: h.max,
                failcnt: h.failcnt,
                pagesize: size.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// runc maps io.stat onto the v1 tables (bytes and operations per op); regroup per device.
fn io_entries(s: &Stats) -> Vec<v2::IOEntry> {
    let mut by_dev: BTreeMap<(u64, u64), v2::IOEntry> = BTreeMap::new();
    let mut add = |list: &[BlkioEntry], bytes: bool| {
        for e in list {
            let d = by_dev
                .entry((e.major, e.minor))
                .or_insert_with(|| v2::IOEntry {
                    major: e.major,
                    minor: e.minor,
                    ..Default::default()
                });
            match (e.op.to_ascii_lowercase().as_str(), bytes) {
                ("read", true) => d.rbytes += e.value,
                ("write", true) => d.wbytes += e.value,
                ("read", false) => d.rios += e.value,
                ("write", false) => d.wios += e.value,
                _ => {}
            }
        }
    };
    add(&s.blkio.io_service_bytes_recursive, true);
    add(&s.blkio.io_serviced_recursive, false);
    by_dev.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Stats {
        let json = r#"{
          "cpu": {"usage": {"total": 5000000, "percpu": [3000000, 2000000], "kernel": 1000000, "user": 4000000},
                  "throttling": {"periods": 10, "throttledPeriods": 2, "throttledTime": 7000}},
          "memory": {"cache": 4096, "usage": {"limit": 1048576, "usage": 524288, "max": 600000, "failcnt": 3},
                     "swap": {"limit": 2097152, "usage": 624288, "failcnt": 0},
                     "kernel": {"limit": 0, "failcnt": 0}, "kernelTCP": {"limit": 0, "failcnt": 0},
                     "raw": {"rss": 8192, "total_rss": 8192, "anon": 12288, "file": 4096, "pgfault": 99}},
          "pids": {"current": 3, "limit": 100},
          "blkio": {"ioServiceBytesRecursive": [{"major": 8, "minor": 0, "op": "Read", "value": 100},
                                                {"major": 8, "minor": 0, "op": "Write", "value": 200}],
                    "ioServicedRecursive": [{"major": 8, "minor": 0, "op": "Read", "value": 1},
                                            {"major": 8, "minor": 0, "op": "Write", "value": 2}]},
          "hugetlb": {"2MB": {"usage": 0, "max": 0, "failcnt": 1}}
        }"#;
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn v1_keeps_runcs_tables() {
        let m = to_v1(&sample());
        assert_eq!(m.pids.current, 3);
        assert_eq!(m.pids.limit, 100);
        assert_eq!(m.cpu.usage.total, 5_000_000);
        assert_eq!(m.cpu.usage.per_cpu, vec![3_000_000, 2_000_000]);
        assert_eq!(m.cpu.throttling.throttled_periods, 2);
        assert_eq!(m.memory.usage.limit, 1_048_576);
        assert_eq!(m.memory.usage.failcnt, 3);
        assert_eq!(m.memory.rss, 8192);
        assert_eq!(m.memory.cache, 4096);
        assert_eq!(m.memory.pg_fault, 99);
        assert_eq!(m.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(m.hugetlb[0].pagesize, "2MB");
        assert_eq!(m.hugetlb[0].failcnt, 1);
    }

    #[test]
    fn v2_converts_units_and_regroups_io() {
        let m = to_v2(&sample());
        assert_eq!(m.cpu.usage_usec, 5000);
        assert_eq!(m.cpu.user_usec, 4000);
        assert_eq!(m.cpu.system_usec, 1000);
        assert_eq!(m.cpu.throttled_usec, 7);
        assert_eq!(m.memory.usage, 524_288);
        assert_eq!(m.memory.usage_limit, 1_048_576);
        assert_eq!(m.memory.swap_usage, 100_000);
        assert_eq!(m.memory.anon, 12288);
        assert_eq!(m.io.usage.len(), 1);
        let io = &m.io.usage[0];
        assert_eq!(
            (io.major, io.rbytes, io.wbytes, io.rios, io.wios),
            (8, 100, 200, 1, 2)
        );
    }

    #[test]
    fn the_any_names_the_version() {
        let a = to_any(&sample(), false).unwrap();
        assert_eq!(a.type_url, "io.containerd.cgroups.v1.Metrics");
        let back = v1::Metrics::parse_from_bytes(&a.value).unwrap();
        assert_eq!(back.pids.current, 3);
        assert_eq!(
            to_any(&sample(), true).unwrap().type_url,
            "io.containerd.cgroups.v2.Metrics"
        );
    }
}
