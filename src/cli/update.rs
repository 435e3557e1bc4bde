//! `hull update`: change a running container's resource limits, with runc's flags or a
//! `linux.resources` JSON document (`-r FILE`, `-r -` for stdin). Values are parsed here into
//! a request that `container::update` merges onto the container's current resources.

use super::{CliError, Globals};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use std::io::Read;
use std::path::PathBuf;

/// Flags of `update` (runc's names and value syntax).
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// path to the file containing the resources to update or '-' to read from the standard input
    #[arg(long, short = 'r')]
    pub resources: Option<String>,
    /// Specifies per cgroup weight, range is from 10 to 1000
    #[arg(long)]
    pub blkio_weight: Option<String>,
    /// CPU CFS period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long)]
    pub cpu_period: Option<String>,
    /// CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// CPU realtime period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long)]
    pub cpu_rt_period: Option<String>,
    /// CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<String>,
    /// CPU shares (relative weight vs. other containers)
    #[arg(long)]
    pub cpu_share: Option<String>,
    /// CPU(s) to use
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory node(s) to use
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// (obsoleted; ignored, as by runc)
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// (obsoleted; ignored, as by runc)
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (in bytes)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation or soft_limit (in bytes)
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); set '-1' to enable unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids allowed in the container
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// The string of Intel RDT/CAT L3 cache schema
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    /// The string of Intel RDT/MBA memory bandwidth schema
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
    /// the container id
    pub id: String,
}

/// Runs `update`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    if args.l3_cache_schema.is_some() {
        return Err(CliError::Unsupported {
            what: "--l3-cache-schema (Intel RDT/CAT)",
        });
    }
    if args.mem_bw_schema.is_some() {
        return Err(CliError::Unsupported {
            what: "--mem-bw-schema (Intel RDT/MBA)",
        });
    }
    let request = match &args.resources {
        Some(src) => {
            if flags_request(&args)? != json!({}) {
                crate::log::warn("--resources is given: the other resource flags are ignored");
            }
            read_resources(src)?
        }
        None => typed(flags_request(&args)?)?,
    };
    crate::container::update(&g.state_root(), &args.id, &request)?;
    Ok(0)
}

/// The `linux.resources` document of `-r FILE` or `-r -`.
fn read_resources(src: &str) -> Result<LinuxResources, CliError> {
    let mut text = String::new();
    let read = if src == "-" {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(src).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|source| CliError::Io {
        op: "read",
        path: PathBuf::from(if src == "-" { "stdin" } else { src }),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| CliError::BadArg {
        arg: "--resources",
        reason: e.to_string(),
    })
}

fn typed(v: Value) -> Result<LinuxResources, CliError> {
    serde_json::from_value(v).map_err(|e| CliError::BadArg {
        arg: "update",
        reason: e.to_string(),
    })
}

fn bad(arg: &'static str, reason: impl Into<String>) -> CliError {
    CliError::BadArg {
        arg,
        reason: reason.into(),
    }
}

fn unsigned(v: &str, arg: &'static str) -> Result<u64, CliError> {
    v.parse()
        .map_err(|_| bad(arg, format!("invalid value {v:?}: not an unsigned integer")))
}

fn signed(v: &str, arg: &'static str) -> Result<i64, CliError> {
    v.parse()
        .map_err(|_| bad(arg, format!("invalid value {v:?}: not an integer")))
}

fn memory(v: &str, arg: &'static str) -> Result<i64, CliError> {
    if v == "-1" {
        return Ok(-1);
    }
    ram_in_bytes(v).map_err(|reason| bad(arg, format!("invalid value: {reason}")))
}

/// The request the resource flags make, as `linux.resources` JSON (only what was given).
pub fn flags_request(a: &Args) -> Result<Value, CliError> {
    let mut r = json!({});
    if let Some(v) = &a.blkio_weight {
        let w: u16 = v
            .parse()
            .map_err(|_| bad("--blkio-weight", format!("invalid value {v:?}")))?;
        r["blockIO"]["weight"] = json!(w);
    }
    let unsigned_flags = [
        (&a.cpu_period, "--cpu-period", "period"),
        (&a.cpu_rt_period, "--cpu-rt-period", "realtimePeriod"),
        (&a.cpu_share, "--cpu-share", "shares"),
    ];
    for (val, arg, key) in unsigned_flags {
        if let Some(v) = val {
            r["cpu"][key] = json!(unsigned(v, arg)?);
        }
    }
    let signed_flags = [
        (&a.cpu_quota, "--cpu-quota", "quota"),
        (&a.cpu_rt_runtime, "--cpu-rt-runtime", "realtimeRuntime"),
    ];
    for (val, arg, key) in signed_flags {
        if let Some(v) = val {
            r["cpu"][key] = json!(signed(v, arg)?);
        }
    }
    for (val, key) in [(&a.cpuset_cpus, "cpus"), (&a.cpuset_mems, "mems")] {
        if let Some(v) = val {
            r["cpu"][key] = json!(v);
        }
    }
    let memory_flags = [
        (&a.memory, "--memory", "limit"),
        (&a.memory_swap, "--memory-swap", "swap"),
        (&a.memory_reservation, "--memory-reservation", "reservation"),
        (&a.kernel_memory, "--kernel-memory", "kernel"),
        (&a.kernel_memory_tcp, "--kernel-memory-tcp", "kernelTCP"),
    ];
    for (val, arg, key) in memory_flags {
        if let Some(v) = val {
            r["memory"][key] = json!(memory(v, arg)?);
        }
    }
    if let Some(v) = &a.pids_limit {
        r["pids"]["limit"] = json!(signed(v, "--pids-limit")?);
    }
    Ok(r)
}

/// A size as runc's `units.RAMInBytes` reads it: a number, an optional space, and an
/// optional binary unit `k`, `m`, `g`, `t`, `p` (any case) with an optional `b` or `ib`.
pub fn ram_in_bytes(text: &str) -> Result<i64, String> {
    let invalid = || format!("invalid size: {text:?}");
    let Some(sep) = text.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(invalid());
    };
    let (num, suffix) = match text.as_bytes()[sep] {
        b' ' => (&text[..sep], &text[sep + 1..]),
        _ => (&text[..=sep], &text[sep + 1..]),
    };
    let size: f64 = num.trim().parse().map_err(|_| invalid())?;
    if size < 0.0 || !size.is_finite() {
        return Err(invalid());
    }
    let bad_suffix = || format!("invalid suffix: {suffix:?}");
    let lower = suffix.to_ascii_lowercase();
    let mult: f64 = match lower.as_bytes() {
        [] | [b'b'] => 1.0,
        [u, rest @ ..] => {
            let exp = match u {
                b'k' => 1,
                b'm' => 2,
                b'g' => 3,
                b't' => 4,
                b'p' => 5,
                _ => return Err(bad_suffix()),
            };
            if !matches!(rest, [] | [b'b'] | [b'i', b'b']) {
                return Err(bad_suffix());
            }
            1024f64.powi(exp)
        }
    };
    let bytes = size * mult;
    if bytes >= i64::MAX as f64 {
        return Err(invalid());
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(ram_in_bytes("512m"), Ok(512 << 20));
        assert_eq!(ram_in_bytes("1g"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("1G"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("10KiB"), Ok(10 << 10));
        assert_eq!(ram_in_bytes("2MB"), Ok(2 << 20));
        assert_eq!(ram_in_bytes("1.5k"), Ok(1536));
        assert_eq!(ram_in_bytes("4096"), Ok(4096));
        assert_eq!(ram_in_bytes("64 m"), Ok(64 << 20));
        assert_eq!(ram_in_bytes("7b"), Ok(7));
        for bad in ["abc", "", "m", "-5m", "5x", "5mx", "5kbb", "5mib2"] {
            assert!(ram_in_bytes(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ram_in_bytes("abc").unwrap_err(), "invalid size: \"abc\"");
    }

    #[test]
    fn flags_make_a_request() {
        let a = Args {
            memory: Some("128m".into()),
            memory_swap: Some("-1".into()),
            pids_limit: Some("50".into()),
            cpu_quota: Some("-1".into()),
            cpu_period: Some("100000".into()),
            cpuset_cpus: Some("0".into()),
            blkio_weight: Some("300".into()),
            id: "c".into(),
            ..Args::default()
        };
        let r = flags_request(&a).unwrap();
        assert_eq!(
            r,
            json!({
                "memory": {"limit": 134217728, "swap": -1},
                "pids": {"limit": 50},
                "cpu": {"quota": -1, "period": 100000, "cpus": "0"},
                "blockIO": {"weight": 300}
            })
        );
        typed(r).unwrap();
        assert_eq!(flags_request(&Args::default()).unwrap(), json!({}));
    }

    #[test]
    fn bad_values_name_the_flag() {
        let a = Args {
            memory: Some("lots".into()),
            ..Args::default()
        };
        let e = flags_request(&a).unwrap_err().to_string();
        assert_eq!(e, "--memory: invalid value: invalid size: \"lots\"");
        let a = Args {
            cpu_period: Some("-5".into()),
            ..Args::default()
        };
        assert!(flags_request(&a)
            .unwrap_err()
            .to_string()
            .starts_with("--cpu-period: "));
    }
}
