//! Spec -> Config: every string of config.json that the create path needs is resolved here,
//! once, into flags, numbers and clean paths. Pure: no filesystem access, so it is unit-tested.

use super::config::*;
use super::mount_opts::{self, MountOpt};
use super::SpecError;
use nix::mount::MsFlags;
use oci_spec::runtime as oci;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Converts a validated spec. `bundle` is absolute.
pub fn to_config(spec: oci::Spec, bundle: PathBuf) -> Result<Config, SpecError> {
    let root = spec.root().clone().unwrap_or_default();
    let rootfs = bundle.join(root.path());
    let linux = spec.linux().clone().unwrap_or_default();
    let process = match spec.process() {
        Some(p) => process(p)?,
        None => return Err(SpecError::invalid("process", "missing")),
    };
    let mounts = spec
        .mounts()
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, m)| mount(i, m, &bundle))
        .collect::<Result<Vec<_>, _>>()?;
    let annotations: BTreeMap<String, String> = spec
        .annotations()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let overlay = super::overlay::from_annotations(&annotations, &bundle)?;
    Ok(Config {
        overlay,
        oci_version: spec.version().clone(),
        rootfs,
        readonly_root: root.readonly().unwrap_or(false),
        hostname: spec.hostname().clone(),
        domainname: spec.domainname().clone(),
        mounts,
        process,
        hooks: hooks(spec.hooks().as_ref()),
        annotations,
        namespaces: namespaces(&linux),
        uid_mappings: id_maps(linux.uid_mappings()),
        gid_mappings: id_maps(linux.gid_mappings()),
        time_offsets: time_offsets(&linux)?,
        devices: devices(&linux)?,
        cgroups_path: linux
            .cgroups_path()
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        resources: linux.resources().clone(),
        rootfs_propagation: propagation(linux.rootfs_propagation().as_deref())?,
        masked_paths: linux
            .masked_paths()
            .iter()
            .flatten()
            .map(PathBuf::from)
            .collect(),
        readonly_paths: linux
            .readonly_paths()
            .iter()
            .flatten()
            .map(PathBuf::from)
            .collect(),
        sysctl: linux
            .sysctl()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect(),
        mount_label: linux.mount_label().clone(),
        personality: linux.personality().as_ref().map(|p| match p.domain() {
            oci::LinuxPersonalityDomain::PerLinux32 => 0x0008,
            oci::LinuxPersonalityDomain::PerLinux => 0x0000,
        }),
        seccomp: linux.seccomp().clone(),
        pid1: spec
            .annotations()
            .as_ref()
            .and_then(|a| a.get(crate::pid1::ANNOTATION))
            .is_some_and(|v| v == "true"),
        bundle,
    })
}

/// Lexically cleans an absolute container path: `//` and `.` collapse, `..` stays (it is
/// resolved later, confined to the rootfs).
pub fn clean_container_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => out.push(".."),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn mount(i: usize, m: &oci::Mount, bundle: &Path) -> Result<MountEntry, SpecError> {
    let field = format!("mounts[{i}]");
    let typ = m.typ().clone().unwrap_or_default();
    let mut entry = MountEntry {
        destination: clean_container_path(m.destination()),
        source: m.source().clone(),
        kind: MountKind::Fs(typ.clone()),
        flags: MsFlags::empty(),
        clear: MsFlags::empty(),
        propagation: Vec::new(),
        rec_attr: Default::default(),
        data: String::new(),
        tmpcopyup: false,
    };
    let mut data = Vec::new();
    for opt in m.options().iter().flatten() {
        match mount_opts::lookup(opt) {
            Some(MountOpt::Flag(true, f)) => {
                entry.flags |= f;
                entry.clear.remove(f);
            }
            Some(MountOpt::Flag(false, f)) => {
                entry.flags.remove(f);
                entry.clear |= f;
            }
            Some(MountOpt::Propagation(p)) => entry.propagation.push(p),
            Some(MountOpt::RecAttr(a)) => {
                entry.rec_attr.set = (entry.rec_attr.set & !a.clear) | a.set;
                entry.rec_attr.clear |= a.clear;
            }
            Some(MountOpt::Bind { recursive }) => entry.kind = MountKind::Bind { recursive },
            Some(MountOpt::TmpCopyUp) => entry.tmpcopyup = true,
            Some(MountOpt::Ignored) => {}
            None => data.push(opt.as_str()),
        }
    }
    entry.data = data.join(",");
    if typ == "bind" && !matches!(entry.kind, MountKind::Bind { .. }) {
        entry.kind = MountKind::Bind { recursive: false };
    }
    if let MountKind::Bind { .. } = entry.kind {
        let source = m.source().as_ref().ok_or_else(|| {
            SpecError::invalid(format!("{field}.source"), "a bind mount needs a source")
        })?;
        entry.source = Some(if source.is_absolute() {
            source.clone()
        } else {
            bundle.join(source)
        });
    } else if typ.is_empty() {
        return Err(SpecError::invalid(
            format!("{field}.type"),
            "missing (not a bind mount)",
        ));
    }
    if entry.tmpcopyup && entry.kind != MountKind::Fs("tmpfs".into()) {
        return Err(SpecError::invalid(
            format!("{field}.options"),
            "tmpcopyup needs type tmpfs",
        ));
    }
    Ok(entry)
}

/// Converts a `process` object.
pub fn process(p: &oci::Process) -> Result<ProcessConfig, SpecError> {
    let user = p.user();
    Ok(ProcessConfig {
        terminal: p.terminal().unwrap_or(false),
        console_size: p
            .console_size()
            .map(|b| (clamp_u16(b.height()), clamp_u16(b.width()))),
        args: p.args().clone().unwrap_or_default(),
        env: p.env().clone().unwrap_or_default(),
        cwd: p.cwd().clone(),
        user: UserConfig {
            uid: user.uid(),
            gid: user.gid(),
            umask: user.umask(),
            additional_gids: user.additional_gids().clone().unwrap_or_default(),
        },
        capabilities: p.capabilities().as_ref().map(capabilities),
        rlimits: p.rlimits().iter().flatten().map(rlimit).collect(),
        no_new_privileges: p.no_new_privileges().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
        io_priority: p.io_priority().map(|io| {
            let class = match io.class() {
                oci::IOPriorityClass::IoprioClassRt => 1,
                oci::IOPriorityClass::IoprioClassBe => 2,
                oci::IOPriorityClass::IoprioClassIdle => 3,
            };
            (class, io.priority() as i32)
        }),
        scheduler: p.scheduler().as_ref().map(scheduler),
        apparmor_profile: p.apparmor_profile().clone().filter(|s| !s.is_empty()),
        selinux_label: p.selinux_label().clone().filter(|s| !s.is_empty()),
    })
}

fn clamp_u16(v: u64) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

/// Maps an oci-spec capability to the kernel's, by name (`CAP_` + the oci-spec name).
pub fn capability(c: &oci::Capability) -> Option<caps::Capability> {
    format!("CAP_{c}").parse().ok()
}

fn cap_set(set: &Option<oci::Capabilities>) -> caps::CapsHashSet {
    set.iter().flatten().filter_map(capability).collect()
}

fn capabilities(c: &oci::LinuxCapabilities) -> CapSets {
    CapSets {
        bounding: cap_set(c.bounding()),
        effective: cap_set(c.effective()),
        inheritable: cap_set(c.inheritable()),
        permitted: cap_set(c.permitted()),
        ambient: cap_set(c.ambient()),
    }
}

fn rlimit(r: &oci::PosixRlimit) -> Rlimit {
    use oci::PosixRlimitType as T;
    let resource = match r.typ() {
        T::RlimitCpu => libc::RLIMIT_CPU,
        T::RlimitFsize => libc::RLIMIT_FSIZE,
        T::RlimitData => libc::RLIMIT_DATA,
        T::RlimitStack => libc::RLIMIT_STACK,
        T::RlimitCore => libc::RLIMIT_CORE,
        T::RlimitRss => libc::RLIMIT_RSS,
        T::RlimitNproc => libc::RLIMIT_NPROC,
        T::RlimitNofile => libc::RLIMIT_NOFILE,
        T::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        T::RlimitAs => libc::RLIMIT_AS,
        T::RlimitLocks => libc::RLIMIT_LOCKS,
        T::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        T::RlimitNice => libc::RLIMIT_NICE,
        T::RlimitRtprio => libc::RLIMIT_RTPRIO,
        T::RlimitRttime => libc::RLIMIT_RTTIME,
    };
    Rlimit {
        resource: resource as i32,
        soft: r.soft(),
        hard: r.hard(),
    }
}

fn scheduler(s: &oci::Scheduler) -> crate::sys::SchedAttr {
    use oci::LinuxSchedulerFlag as F;
    use oci::LinuxSchedulerPolicy as P;
    let policy = match s.policy() {
        P::SchedOther => 0,
        P::SchedFifo => 1,
        P::SchedRr => 2,
        P::SchedBatch => 3,
        P::SchedIso => 4,
        P::SchedIdle => 5,
        P::SchedDeadline => 6,
    };
    let flags = s.flags().iter().flatten().fold(0u64, |acc, f| {
        acc | match f {
            F::SchedResetOnFork => 0x01,
            F::SchedFlagReclaim => 0x02,
            F::SchedFlagDLOverrun => 0x04,
            F::SchedFlagKeepPolicy => 0x08,
            F::SchedFlagKeepParams => 0x10,
            F::SchedFlagUtilClampMin => 0x20,
            F::SchedFlagUtilClampMax => 0x40,
        }
    });
    crate::sys::SchedAttr {
        size: 0,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0).max(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    }
}

fn hook_list(list: &Option<Vec<oci::Hook>>) -> Vec<Hook> {
    list.iter()
        .flatten()
        .map(|h| Hook {
            path: h.path().clone(),
            args: h
                .args()
                .clone()
                .unwrap_or_else(|| vec![h.path().to_string_lossy().into_owned()]),
            env: h.env().clone().unwrap_or_default(),
            timeout: h.timeout().and_then(|t| u32::try_from(t).ok()),
        })
        .collect()
}

fn hooks(h: Option<&oci::Hooks>) -> HooksConfig {
    let Some(h) = h else {
        return HooksConfig::default();
    };
    #[allow(deprecated)]
    let prestart = hook_list(h.prestart());
    HooksConfig {
        prestart,
        create_runtime: hook_list(h.create_runtime()),
        create_container: hook_list(h.create_container()),
        start_container: hook_list(h.start_container()),
        poststart: hook_list(h.poststart()),
        poststop: hook_list(h.poststop()),
    }
}

/// Maps an oci-spec namespace type to hull's.
pub fn ns_kind(t: oci::LinuxNamespaceType) -> NsKind {
    use oci::LinuxNamespaceType as T;
    match t {
        T::Mount => NsKind::Mount,
        T::Cgroup => NsKind::Cgroup,
        T::Uts => NsKind::Uts,
        T::Ipc => NsKind::Ipc,
        T::User => NsKind::User,
        T::Pid => NsKind::Pid,
        T::Network => NsKind::Network,
        T::Time => NsKind::Time,
    }
}

fn namespaces(linux: &oci::Linux) -> Vec<NamespaceEntry> {
    linux
        .namespaces()
        .iter()
        .flatten()
        .map(|n| NamespaceEntry {
            kind: ns_kind(n.typ()),
            path: n.path().clone(),
        })
        .collect()
}

fn id_maps(maps: &Option<Vec<oci::LinuxIdMapping>>) -> Vec<IdMap> {
    maps.iter()
        .flatten()
        .map(|m| IdMap {
            container_id: m.container_id(),
            host_id: m.host_id(),
            size: m.size(),
        })
        .collect()
}

fn time_offsets(linux: &oci::Linux) -> Result<Vec<TimeOffset>, SpecError> {
    let mut out = Vec::new();
    for (name, off) in linux.time_offsets().iter().flatten() {
        let clock = match name.as_str() {
            "monotonic" => TimeClock::Monotonic,
            "boottime" => TimeClock::Boottime,
            other => {
                return Err(SpecError::invalid(
                    format!("linux.timeOffsets.{other}"),
                    "unknown clock (want monotonic or boottime)",
                ))
            }
        };
        out.push(TimeOffset {
            clock,
            secs: off.secs().unwrap_or(0),
            nanos: off.nanosecs().unwrap_or(0),
        });
    }
    out.sort_by_key(|o| o.clock == TimeClock::Boottime);
    Ok(out)
}

fn devices(linux: &oci::Linux) -> Result<Vec<DeviceNode>, SpecError> {
    let mut out = Vec::new();
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let kind = match d.typ() {
            oci::LinuxDeviceType::C | oci::LinuxDeviceType::U => DeviceKind::Char,
            oci::LinuxDeviceType::B => DeviceKind::Block,
            oci::LinuxDeviceType::P => DeviceKind::Fifo,
            oci::LinuxDeviceType::A => {
                return Err(SpecError::invalid(
                    format!("linux.devices[{i}].type"),
                    "\"a\" is only valid in linux.resources.devices",
                ))
            }
        };
        let num = |v: i64, what: &str| {
            u64::try_from(v)
                .map_err(|_| SpecError::invalid(format!("linux.devices[{i}].{what}"), "negative"))
        };
        out.push(DeviceNode {
            path: clean_container_path(d.path()),
            kind,
            major: num(d.major(), "major")?,
            minor: num(d.minor(), "minor")?,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(out)
}

/// `linux.rootfsPropagation` as mount flags; runc's default is recursive slave.
pub fn propagation(value: Option<&str>) -> Result<MsFlags, SpecError> {
    Ok(match value.unwrap_or("") {
        "" | "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        other => {
            return Err(SpecError::invalid(
                "linux.rootfsPropagation",
                format!("unknown propagation {other:?}"),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> oci::Spec {
        serde_json::from_str(json).unwrap()
    }

    const BASE: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}}}"#;

    #[test]
    fn clean_keeps_dotdot_but_drops_dots() {
        assert_eq!(
            clean_container_path(Path::new("/a//./b/../c/")),
            PathBuf::from("/a/b/../c")
        );
        assert_eq!(clean_container_path(Path::new("/")), PathBuf::from("/"));
    }

    #[test]
    fn root_path_is_relative_to_bundle() {
        let c = to_config(spec(BASE), "/b".into()).unwrap();
        assert_eq!(c.rootfs, PathBuf::from("/b/rootfs"));
        assert!(!c.readonly_root);
        assert_eq!(c.rootfs_propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
    }

    #[test]
    fn mount_options_split_into_flags_and_data() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},
            "mounts":[{"destination":"/dev","type":"tmpfs","source":"tmpfs",
              "options":["nosuid","strictatime","mode=755","size=65536k","rro","rprivate"]},
              {"destination":"/data","source":"vol","options":["rbind","ro"]}]}"#,
        );
        let c = to_config(s, "/b".into()).unwrap();
        let dev = &c.mounts[0];
        assert_eq!(dev.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(dev.data, "mode=755,size=65536k");
        assert_eq!(dev.rec_attr.set, 0x1);
        assert_eq!(dev.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        let data = &c.mounts[1];
        assert_eq!(data.kind, MountKind::Bind { recursive: true });
        assert_eq!(data.source, Some(PathBuf::from("/b/vol")));
        assert_eq!(data.flags, MsFlags::MS_RDONLY);
    }

    #[test]
    fn later_option_wins() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},
            "mounts":[{"destination":"/x","type":"tmpfs","source":"t","options":["ro","rw"]}]}"#,
        );
        let m = &to_config(s, "/b".into()).unwrap().mounts[0];
        assert!(!m.flags.contains(MsFlags::MS_RDONLY));
        assert!(m.clear.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn bind_without_source_names_the_field() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},
            "mounts":[{"destination":"/x","type":"bind"}]}"#,
        );
        let e = to_config(s, "/b".into()).unwrap_err().to_string();
        assert_eq!(e, "mounts[0].source: a bind mount needs a source");
    }

    #[test]
    fn capabilities_map_to_kernel_names() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0},
            "capabilities":{"bounding":["CAP_KILL","CAP_NET_BIND_SERVICE"],"ambient":["CAP_KILL"]}}}"#,
        );
        let caps = to_config(s, "/b".into())
            .unwrap()
            .process
            .capabilities
            .unwrap();
        assert!(caps
            .bounding
            .contains(&caps::Capability::CAP_NET_BIND_SERVICE));
        assert!(caps.ambient.contains(&caps::Capability::CAP_KILL));
        assert!(caps.effective.is_empty());
    }

    #[test]
    fn rlimits_and_user() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/",
            "user":{"uid":1000,"gid":100,"umask":63,"additionalGids":[5,6]},
            "rlimits":[{"type":"RLIMIT_NOFILE","soft":100,"hard":200}]}}"#,
        );
        let p = to_config(s, "/b".into()).unwrap().process;
        assert_eq!(p.user.uid, 1000);
        assert_eq!(p.user.umask, Some(0o77));
        assert_eq!(p.user.additional_gids, vec![5, 6]);
        assert_eq!(p.rlimits[0].resource, libc::RLIMIT_NOFILE as i32);
        assert_eq!((p.rlimits[0].soft, p.rlimits[0].hard), (100, 200));
    }

    #[test]
    fn bad_propagation_is_named() {
        let e = propagation(Some("sideways")).unwrap_err().to_string();
        assert!(e.starts_with("linux.rootfsPropagation:"), "{e}");
    }
}
