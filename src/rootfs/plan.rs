//! Pure: turns the config's `mounts` (plus the cgroup views and namespace facts) into the
//! steps `mount.rs` applies in order, and lists the /dev nodes and symlinks `devices.rs`
//! makes. A `cgroup` entry expands into several steps here (tmpfs, one mount or bind per
//! hierarchy, symlinks for combined controllers, read-only last). No syscalls: unit-tested.

use super::error::{Origin, RootfsError};
use super::guard::lexical_clean;
use super::root::Follow;
use super::{CgroupFs, CgroupView};
use crate::spec::defaults::DEV_SYMLINKS;
use crate::spec::{DeviceNode, MountEntry, MountKind};
use crate::sys::MountAttr;
use nix::mount::MsFlags;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// What the plan needs to know besides the mounts.
#[derive(Debug, Clone, Copy)]
pub struct PlanEnv<'a> {
    /// The init runs in a new user namespace.
    pub userns: bool,
    /// The container gets a new cgroup namespace.
    pub cgroupns: bool,
    /// The cgroup hierarchies to show at `cgroup` mounts.
    pub cgroups: &'a [CgroupView],
    /// `linux.mountLabel`.
    pub mount_label: Option<&'a str>,
}

/// Where a mount's filesystem comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source<'a> {
    /// A clone of a host path's mount (its whole subtree when `recursive`).
    Bind {
        /// Host path.
        path: &'a Path,
        /// rbind.
        recursive: bool,
    },
    /// A new filesystem instance.
    Fs {
        /// Filesystem type for fsopen.
        fstype: &'a str,
        /// The `source` key (device, label or a name shown in mountinfo).
        source: Option<&'a Path>,
        /// Filesystem options, comma-separated.
        data: &'a str,
    },
}

/// One mount to make at a container path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountStep<'a> {
    /// The `mounts` entry it comes from.
    pub origin: Origin,
    /// Container path (untrusted).
    pub dest: Cow<'a, Path>,
    /// What to mount.
    pub source: Source<'a>,
    /// MS_* flags the entry sets (`ro`, `nosuid`, ..., `remount`).
    pub flags: MsFlags,
    /// MS_* flags the entry explicitly clears (`rw`, `suid`, ...).
    pub clear: MsFlags,
    /// Recursive attributes (`rro`, ...), applied to the whole new tree.
    pub rec_attr: MountAttr,
    /// Propagation changes after attaching, in order.
    pub propagation: &'a [MsFlags],
    /// Copy the destination's current contents into the new tmpfs.
    pub tmpcopyup: bool,
    /// A tmpfs over an existing directory keeps that directory's mode (as runc does).
    pub inherit_mode: bool,
    /// How symlinks in `dest` are treated.
    pub follow: Follow,
    /// SELinux `context=` for the new filesystem.
    pub label: Option<&'a str>,
    /// Host path to rbind instead when the filesystem cannot be made in a user namespace
    /// (sysfs without a network namespace, mqueue without an ipc namespace), as runc does.
    pub fallback: Option<&'static Path>,
}

impl MountStep<'_> {
    /// What is mounted, for error messages: the filesystem type or `bind <source>`.
    pub fn what(&self) -> String {
        match &self.source {
            Source::Bind { path, .. } => format!("bind {}", path.display()),
            Source::Fs { fstype, .. } => (*fstype).to_owned(),
        }
    }
}

/// One step of the mount plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a> {
    /// Make a mount.
    Mount(MountStep<'a>),
    /// Create a symlink `link -> target` (cgroup controller aliases).
    Symlink {
        /// The `mounts` entry it comes from.
        origin: Origin,
        /// Container path of the link.
        link: PathBuf,
        /// Link text.
        target: &'a str,
    },
    /// Make the mount at `dest` read-only now that it is populated.
    Seal {
        /// The `mounts` entry it comes from.
        origin: Origin,
        /// Container path of the mount.
        dest: &'a Path,
    },
}

/// The steps for every `mounts` entry, in order.
pub fn mount_steps<'a>(
    mounts: &'a [MountEntry],
    env: &PlanEnv<'a>,
) -> Result<Vec<Step<'a>>, RootfsError> {
    let mut steps = Vec::with_capacity(mounts.len() + 4);
    for (i, m) in mounts.iter().enumerate() {
        let origin = Origin(Some(i));
        if lexical_clean(&m.destination) == Path::new("/") {
            return Err(RootfsError::Refused {
                origin,
                what: entry_what(m),
                dest: m.destination.clone(),
                reason: "the destination is the container's root",
            });
        }
        match &m.kind {
            MountKind::Fs(t) if t == "cgroup" => cgroup_steps(origin, m, env, &mut steps)?,
            _ => steps.push(Step::Mount(entry_step(origin, m, env))),
        }
    }
    Ok(steps)
}

fn entry_what(m: &MountEntry) -> String {
    match &m.kind {
        MountKind::Bind { .. } => "bind".to_owned(),
        MountKind::Fs(t) => t.clone(),
    }
}

fn base_step<'a>(origin: Origin, m: &'a MountEntry, source: Source<'a>) -> MountStep<'a> {
    MountStep {
        origin,
        dest: Cow::Borrowed(&m.destination),
        source,
        flags: m.flags,
        clear: m.clear,
        rec_attr: m.rec_attr,
        propagation: &m.propagation,
        tmpcopyup: false,
        inherit_mode: false,
        follow: Follow::InRoot,
        label: None,
        fallback: None,
    }
}

fn entry_step<'a>(origin: Origin, m: &'a MountEntry, env: &PlanEnv<'a>) -> MountStep<'a> {
    let fstype = match &m.kind {
        MountKind::Bind { recursive } => {
            let path = m.source.as_deref().unwrap_or(Path::new(""));
            let recursive = *recursive;
            return base_step(origin, m, Source::Bind { path, recursive });
        }
        MountKind::Fs(t) => t.as_str(),
    };
    let source = Source::Fs {
        fstype,
        source: m.source.as_deref(),
        data: &m.data,
    };
    let mut step = base_step(origin, m, source);
    match fstype {
        // Later steps (LSM attributes, sysctl) write into them: never through a symlink.
        "proc" => step.follow = Follow::Never,
        "sysfs" => {
            step.follow = Follow::Never;
            step.fallback = env.userns.then_some(Path::new("/sys"));
        }
        "mqueue" => step.fallback = env.userns.then_some(Path::new("/dev/mqueue")),
        "tmpfs" => {
            step.tmpcopyup = m.tmpcopyup;
            step.inherit_mode = true;
            step.label = env.mount_label;
        }
        "cgroup2" => {}
        _ => step.label = env.mount_label,
    }
    step
}

/// A `cgroup` entry: cgroup2 (or a bind of the container's cgroup) right at the destination
/// on a unified host; otherwise a tmpfs holding one mount per hierarchy, the aliases of
/// combined controllers (`cpu -> cpu,cpuacct`), then the tmpfs made read-only if asked.
fn cgroup_steps<'a>(
    origin: Origin,
    m: &'a MountEntry,
    env: &PlanEnv<'a>,
    steps: &mut Vec<Step<'a>>,
) -> Result<(), RootfsError> {
    if env.cgroups.is_empty() {
        return Err(RootfsError::NoCgroups { origin });
    }
    if let [only] = env.cgroups {
        if only.name.is_empty() {
            steps.push(Step::Mount(cgroup_piece(origin, m, env, only)));
            return Ok(());
        }
    }
    let mut tmpfs = base_step(
        origin,
        m,
        Source::Fs {
            fstype: "tmpfs",
            source: Some(Path::new("tmpfs")),
            data: "mode=755",
        },
    );
    tmpfs.flags.remove(MsFlags::MS_RDONLY);
    tmpfs.rec_attr = MountAttr::default();
    tmpfs.label = env.mount_label;
    steps.push(Step::Mount(tmpfs));
    for view in env.cgroups {
        steps.push(Step::Mount(cgroup_piece(origin, m, env, view)));
    }
    for view in env.cgroups.iter().filter(|v| v.name.contains(',')) {
        for alias in view
            .name
            .split(',')
            .filter(|a| !a.is_empty() && *a != view.name)
        {
            steps.push(Step::Symlink {
                origin,
                link: m.destination.join(alias),
                target: &view.name,
            });
        }
    }
    if m.flags.contains(MsFlags::MS_RDONLY) {
        steps.push(Step::Seal {
            origin,
            dest: &m.destination,
        });
    }
    Ok(())
}

fn cgroup_piece<'a>(
    origin: Origin,
    m: &'a MountEntry,
    env: &PlanEnv<'a>,
    view: &'a CgroupView,
) -> MountStep<'a> {
    let source = match (&view.fs, env.cgroupns) {
        (_, false) => Source::Bind {
            path: &view.host_dir,
            recursive: true,
        },
        (CgroupFs::V1 { options }, true) => Source::Fs {
            fstype: "cgroup",
            source: Some(Path::new(if options.starts_with("name=") {
                view.name.as_str()
            } else {
                "cgroup"
            })),
            data: options,
        },
        (CgroupFs::V2, true) => Source::Fs {
            fstype: "cgroup2",
            source: Some(Path::new("cgroup2")),
            data: "",
        },
    };
    let mut step = base_step(origin, m, source);
    if !view.name.is_empty() {
        step.dest = Cow::Owned(m.destination.join(&view.name));
    }
    step
}

/// Whether the config bind-mounts the host's (or some) /dev, in which case hull makes no
/// device nodes or symlinks.
pub fn binds_dev(mounts: &[MountEntry]) -> bool {
    mounts.iter().any(|m| {
        matches!(m.kind, MountKind::Bind { .. })
            && lexical_clean(&m.destination) == Path::new("/dev")
    })
}

/// Whether the config mounts something at /dev/pts (then /dev/ptmx becomes `pts/ptmx`).
pub fn mounts_devpts(mounts: &[MountEntry]) -> bool {
    mounts
        .iter()
        .any(|m| lexical_clean(&m.destination) == Path::new("/dev/pts"))
}

/// The device nodes to create: the defaults, then `linux.devices`; a config entry replaces
/// a default with the same path. /dev/ptmx is skipped (it becomes a symlink to pts/ptmx).
pub fn device_nodes<'a>(
    defaults: &'a [DeviceNode],
    config: &'a [DeviceNode],
) -> Vec<&'a DeviceNode> {
    let ptmx = Path::new("/dev/ptmx");
    defaults
        .iter()
        .filter(|d| {
            !config
                .iter()
                .any(|c| lexical_clean(&c.path) == lexical_clean(&d.path))
        })
        .chain(config)
        .filter(|d| lexical_clean(&d.path) != ptmx)
        .collect()
}

/// Whether a device path names an entry directly in /dev (the common case).
pub fn in_dev(path: &Path) -> bool {
    lexical_clean(path).parent() == Some(Path::new("/dev"))
}

/// One symlink in /dev: file name under /dev, link text, and whether an existing entry is
/// replaced (ptmx, which images often ship as a device node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevLink {
    /// Name under /dev.
    pub name: &'static str,
    /// Link text.
    pub target: &'static str,
    /// Remove whatever is there first.
    pub replace: bool,
}

/// The /dev symlinks: runc's standard ones, `ptmx -> pts/ptmx` with devpts, `core ->
/// /proc/kcore` when the kernel has /proc/kcore.
pub fn dev_links(devpts: bool, kcore: bool) -> impl Iterator<Item = DevLink> {
    let std_links = DEV_SYMLINKS.iter().filter_map(|(link, target)| {
        Some(DevLink {
            name: link.strip_prefix("/dev/")?,
            target,
            replace: false,
        })
    });
    let ptmx = devpts.then_some(DevLink {
        name: "ptmx",
        target: "pts/ptmx",
        replace: true,
    });
    let core = kcore.then_some(DevLink {
        name: "core",
        target: "/proc/kcore",
        replace: false,
    });
    std_links.chain(ptmx).chain(core)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{defaults, Config, DeviceKind};
    use serde_json::json;

    fn config(patch: impl FnOnce(&mut serde_json::Value)) -> Config {
        let mut t = defaults::template(false, 0, 0);
        patch(&mut t);
        crate::spec::from_spec(serde_json::from_value(t).unwrap(), "/b".into()).unwrap()
    }

    fn env(cgroups: &[CgroupView]) -> PlanEnv<'_> {
        PlanEnv {
            userns: false,
            cgroupns: false,
            cgroups,
            mount_label: None,
        }
    }

    fn mount<'s, 'a>(step: &'s Step<'a>) -> &'s MountStep<'a> {
        match step {
            Step::Mount(m) => m,
            other => panic!("not a mount: {other:?}"),
        }
    }

    fn unified() -> Vec<CgroupView> {
        vec![CgroupView {
            name: String::new(),
            fs: CgroupFs::V2,
            host_dir: "/sys/fs/cgroup/hull/c1".into(),
        }]
    }

    fn hybrid() -> Vec<CgroupView> {
        let v1 = |name: &str, options: &str| CgroupView {
            name: name.into(),
            fs: CgroupFs::V1 {
                options: options.into(),
            },
            host_dir: PathBuf::from("/sys/fs/cgroup").join(name).join("hull/c1"),
        };
        vec![
            v1("cpu,cpuacct", "cpu,cpuacct"),
            v1("systemd", "name=systemd"),
            CgroupView {
                name: "unified".into(),
                fs: CgroupFs::V2,
                host_dir: "/sys/fs/cgroup/unified/hull/c1".into(),
            },
        ]
    }

    #[test]
    fn default_mounts_map_one_to_one_with_guards() {
        let c = config(|_| {});
        let views = unified();
        let steps = mount_steps(&c.mounts, &env(&views)).unwrap();
        assert_eq!(steps.len(), c.mounts.len());
        let proc = mount(&steps[0]);
        assert_eq!(proc.dest, Path::new("/proc"));
        assert_eq!(proc.follow, Follow::Never);
        assert_eq!(proc.origin, Origin(Some(0)));
        let dev = mount(&steps[1]);
        assert!(dev.inherit_mode);
        assert!(matches!(
            dev.source,
            Source::Fs {
                fstype: "tmpfs",
                data: "mode=755,size=65536k",
                ..
            }
        ));
        let sys = mount(&steps[5]);
        assert_eq!((sys.follow, sys.fallback), (Follow::Never, None));
        assert!(sys.flags.contains(MsFlags::MS_RDONLY));
        assert_eq!(mount(&steps[4]).fallback, None);
        // Unified host, no cgroup namespace: the container's cgroup is bound at the destination.
        let cg = mount(&steps[6]);
        assert_eq!(cg.dest, Path::new("/sys/fs/cgroup"));
        assert_eq!(
            cg.source,
            Source::Bind {
                path: Path::new("/sys/fs/cgroup/hull/c1"),
                recursive: true
            }
        );
    }

    #[test]
    fn userns_gets_fallbacks_and_labels_go_to_labelable_filesystems() {
        let c = config(|_| {});
        let views = unified();
        let e = PlanEnv {
            userns: true,
            mount_label: Some("system_u:object_r:container_file_t:s0"),
            ..env(&views)
        };
        let steps = mount_steps(&c.mounts, &e).unwrap();
        assert_eq!(mount(&steps[5]).fallback, Some(Path::new("/sys")));
        assert_eq!(mount(&steps[4]).fallback, Some(Path::new("/dev/mqueue")));
        let labelled: Vec<bool> = steps.iter().map(|s| mount(s).label.is_some()).collect();
        // proc, /dev tmpfs, devpts, shm tmpfs, mqueue, sysfs, cgroup
        assert_eq!(labelled, [false, true, true, true, false, false, false]);
    }

    #[test]
    fn cgroup_with_namespace_on_a_unified_host_is_one_cgroup2() {
        let c = config(|_| {});
        let views = unified();
        let e = PlanEnv {
            cgroupns: true,
            ..env(&views)
        };
        let steps = mount_steps(&c.mounts, &e).unwrap();
        let cg = mount(&steps[6]);
        assert!(matches!(
            cg.source,
            Source::Fs {
                fstype: "cgroup2",
                ..
            }
        ));
        assert!(cg.flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_NOSUID));
    }

    #[test]
    fn cgroup_on_a_hybrid_host_expands_into_tmpfs_pieces_links_and_seal() {
        let c = config(|_| {});
        let views = hybrid();
        let e = PlanEnv {
            cgroupns: true,
            ..env(&views)
        };
        let steps = mount_steps(&c.mounts, &e).unwrap();
        let cg = &steps[6..];
        let tmpfs = mount(&cg[0]);
        assert!(matches!(
            tmpfs.source,
            Source::Fs {
                fstype: "tmpfs",
                data: "mode=755",
                ..
            }
        ));
        // Writable until populated, sealed at the end.
        assert!(!tmpfs.flags.contains(MsFlags::MS_RDONLY));
        assert!(tmpfs.flags.contains(MsFlags::MS_NOSUID));
        let cpu = mount(&cg[1]);
        assert_eq!(cpu.dest, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert!(matches!(
            cpu.source,
            Source::Fs {
                fstype: "cgroup",
                data: "cpu,cpuacct",
                ..
            }
        ));
        assert!(cpu.flags.contains(MsFlags::MS_RDONLY));
        let systemd = mount(&cg[2]);
        assert!(
            matches!(systemd.source, Source::Fs { source: Some(s), data: "name=systemd", .. } if s == Path::new("systemd"))
        );
        assert!(matches!(
            mount(&cg[3]).source,
            Source::Fs {
                fstype: "cgroup2",
                ..
            }
        ));
        assert_eq!(
            &cg[4..],
            [
                Step::Symlink {
                    origin: Origin(Some(6)),
                    link: "/sys/fs/cgroup/cpu".into(),
                    target: "cpu,cpuacct"
                },
                Step::Symlink {
                    origin: Origin(Some(6)),
                    link: "/sys/fs/cgroup/cpuacct".into(),
                    target: "cpu,cpuacct"
                },
                Step::Seal {
                    origin: Origin(Some(6)),
                    dest: Path::new("/sys/fs/cgroup")
                },
            ]
        );
    }

    #[test]
    fn cgroup_without_namespace_binds_each_hierarchy() {
        let c = config(|_| {});
        let views = hybrid();
        let steps = mount_steps(&c.mounts, &env(&views)).unwrap();
        let unified = mount(&steps[9]);
        assert_eq!(unified.dest, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(
            unified.source,
            Source::Bind {
                path: Path::new("/sys/fs/cgroup/unified/hull/c1"),
                recursive: true
            }
        );
    }

    #[test]
    fn refuses_the_root_and_missing_cgroups() {
        let c = config(|t| {
            t["mounts"] = json!([{"destination": "/a/..", "type": "tmpfs", "source": "x"}])
        });
        let e = mount_steps(&c.mounts, &env(&[])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mounts[0]: mount tmpfs on /a/..: refused: the destination is the container's root"
        );
        let c = config(|_| {});
        let e = mount_steps(&c.mounts, &env(&[])).unwrap_err();
        assert!(
            matches!(
                e,
                RootfsError::NoCgroups {
                    origin: Origin(Some(6))
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn bind_steps_keep_flags_and_options() {
        let c = config(|t| {
            t["mounts"] = json!([
                {"destination": "/data", "type": "bind", "source": "vol",
                 "options": ["rbind", "ro", "rnosuid", "rprivate"]},
                {"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]},
            ])
        });
        let steps = mount_steps(&c.mounts, &env(&[])).unwrap();
        let b = mount(&steps[0]);
        assert_eq!(
            b.source,
            Source::Bind {
                path: Path::new("/b/vol"),
                recursive: true
            }
        );
        assert_eq!(b.flags, MsFlags::MS_RDONLY);
        assert_eq!(b.rec_attr.set, super::super::flags::attr::NOSUID);
        assert_eq!(b.propagation, [MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(b.what(), "bind /b/vol");
        assert!(mount(&steps[1]).tmpcopyup);
    }

    #[test]
    fn dev_is_bound_or_made() {
        let c = config(|_| {});
        assert!(!binds_dev(&c.mounts));
        assert!(mounts_devpts(&c.mounts));
        let c = config(
            |t| t["mounts"] = json!([{"destination": "/dev/", "type": "bind", "source": "/dev", "options": ["rbind"]}]),
        );
        assert!(binds_dev(&c.mounts));
        assert!(!mounts_devpts(&c.mounts));
    }

    #[test]
    fn config_devices_replace_defaults_and_ptmx_is_skipped() {
        let dev = |path: &str, minor| DeviceNode {
            path: path.into(),
            kind: DeviceKind::Char,
            major: 1,
            minor,
            mode: 0o600,
            uid: 0,
            gid: 0,
        };
        let defaults = defaults::default_devices();
        let config = [
            dev("/dev/null", 3),
            dev("/dev/fuse", 229),
            dev("/dev/ptmx", 2),
        ];
        let nodes = device_nodes(&defaults, &config);
        let paths: Vec<_> = nodes.iter().map(|d| d.path.to_str().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "/dev/zero",
                "/dev/full",
                "/dev/random",
                "/dev/urandom",
                "/dev/tty",
                "/dev/null",
                "/dev/fuse"
            ]
        );
        assert_eq!(nodes[5].mode, 0o600);
    }

    #[test]
    fn devices_directly_in_dev() {
        assert!(in_dev(Path::new("/dev/null")));
        assert!(in_dev(Path::new("/dev/./fuse")));
        assert!(!in_dev(Path::new("/dev/net/tun")));
        assert!(!in_dev(Path::new("/dev/../etc/x")));
    }

    #[test]
    fn dev_links_depend_on_devpts_and_kcore() {
        let names = |d, k| dev_links(d, k).map(|l| l.name).collect::<Vec<_>>();
        assert_eq!(names(false, false), ["fd", "stdin", "stdout", "stderr"]);
        let all: Vec<_> = dev_links(true, true).collect();
        assert_eq!(all.len(), 6);
        assert_eq!(
            all[4],
            DevLink {
                name: "ptmx",
                target: "pts/ptmx",
                replace: true
            }
        );
        assert_eq!((all[5].name, all[5].target), ("core", "/proc/kcore"));
    }
}
