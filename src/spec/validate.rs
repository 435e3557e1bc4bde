//! The named checks config.json must pass before anything is created. Each check returns the
//! first problem it finds as an error naming the JSON field; `check` runs them in order.

use super::SpecError;
use oci_spec::runtime as oci;
use std::collections::HashSet;
use std::path::Path;

type Check = fn(&oci::Spec) -> Result<(), SpecError>;

/// The checks that need only the document, in the order they run.
const CHECKS: &[(&str, Check)] = &[
    ("oci version", oci_version),
    ("process", process),
    ("namespaces", namespaces),
    ("id mappings", id_mappings),
    ("uts", uts),
    ("time offsets", time_offsets),
    ("mounts", mounts),
    ("paths", masked_and_readonly_paths),
    ("devices", devices),
    ("sysctl", sysctl),
    ("cgroups path", cgroups_path),
    ("hooks", hooks),
    ("seccomp", seccomp),
    ("built-in init", builtin_init),
    ("overlay rootfs", overlay_rootfs),
    ("unsupported", unsupported),
];

/// Runs every check of the document and of the bundle on disk. (What depends on the host's
/// kernel and LSMs is `security::check_host`, run by create on the converted config: `spec`
/// sits below `security` and does not call into it.)
pub fn check(spec: &oci::Spec, bundle: &Path) -> Result<(), SpecError> {
    check_without_fs(spec)?;
    root(spec, bundle)
}

/// Runs the checks that need only the document.
pub fn check_without_fs(spec: &oci::Spec) -> Result<(), SpecError> {
    CHECKS.iter().try_for_each(|(_, check)| check(spec))
}

fn root(spec: &oci::Spec, bundle: &Path) -> Result<(), SpecError> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| SpecError::invalid("root", "missing"))?;
    if root.path().as_os_str().is_empty() {
        return Err(SpecError::invalid("root.path", "empty"));
    }
    let path = bundle.join(root.path());
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(SpecError::invalid(
            "root.path",
            format!("{} is not a directory", path.display()),
        )),
        Err(e) => Err(SpecError::invalid(
            "root.path",
            format!("{}: {e}", path.display()),
        )),
    }
}

fn oci_version(spec: &oci::Spec) -> Result<(), SpecError> {
    let v = spec.version();
    if v.is_empty() {
        return Err(SpecError::invalid("ociVersion", "missing"));
    }
    if v.split('.').next() != Some("1") {
        return Err(SpecError::invalid(
            "ociVersion",
            format!("{v:?}: hull implements 1.x"),
        ));
    }
    Ok(())
}

fn process(spec: &oci::Spec) -> Result<(), SpecError> {
    let p = spec
        .process()
        .as_ref()
        .ok_or_else(|| SpecError::invalid("process", "missing"))?;
    check_process(p)
}

/// The checks of the `process` object alone (also used for `exec --process` files).
pub fn check_process(p: &oci::Process) -> Result<(), SpecError> {
    process_caps(p)?;
    process_rlimits(p)?;
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(SpecError::invalid(
            "process.args",
            "must name the program to run",
        ));
    }
    if !p.cwd().is_absolute() {
        return Err(SpecError::invalid(
            "process.cwd",
            format!("{:?} is not absolute", p.cwd()),
        ));
    }
    for (i, e) in p.env().iter().flatten().enumerate() {
        if !e.contains('=') || e.starts_with('=') || e.contains('\0') {
            return Err(SpecError::invalid(
                format!("process.env[{i}]"),
                format!("{e:?} is not KEY=value"),
            ));
        }
    }
    if let Some(adj) = p.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(SpecError::invalid(
                "process.oomScoreAdj",
                format!("{adj} not in -1000..=1000"),
            ));
        }
    }
    if let Some(io) = p.io_priority() {
        if !(0..=7).contains(&io.priority()) {
            return Err(SpecError::invalid(
                "process.ioPriority.priority",
                "must be 0..=7",
            ));
        }
    }
    if let Some(s) = p.scheduler() {
        let deadline = *s.policy() == oci::LinuxSchedulerPolicy::SchedDeadline;
        if !deadline && (s.runtime().is_some() || s.deadline().is_some() || s.period().is_some()) {
            return Err(SpecError::invalid(
                "process.scheduler",
                "runtime, deadline and period need policy SCHED_DEADLINE",
            ));
        }
        if let Some(n) = s.nice() {
            if !(-20..=19).contains(n) {
                return Err(SpecError::invalid(
                    "process.scheduler.nice",
                    "must be -20..=19",
                ));
            }
        }
    }
    if p.console_size().is_some() && p.terminal() != Some(true) {
        return Err(SpecError::invalid(
            "process.consoleSize",
            "needs process.terminal",
        ));
    }
    Ok(())
}

fn process_caps(p: &oci::Process) -> Result<(), SpecError> {
    let Some(caps) = p.capabilities().clone() else {
        return Ok(());
    };
    let sets = [
        ("bounding", caps.bounding()),
        ("effective", caps.effective()),
        ("inheritable", caps.inheritable()),
        ("permitted", caps.permitted()),
        ("ambient", caps.ambient()),
    ];
    for (name, set) in sets {
        for c in set.iter().flatten() {
            if super::convert::capability(c).is_none() {
                return Err(SpecError::invalid(
                    format!("process.capabilities.{name}"),
                    format!("unknown capability CAP_{c}"),
                ));
            }
        }
    }
    Ok(())
}

fn process_rlimits(p: &oci::Process) -> Result<(), SpecError> {
    let mut seen = HashSet::new();
    let list = p.rlimits().clone().unwrap_or_default();
    for (i, r) in list.iter().enumerate() {
        if !seen.insert(format!("{:?}", r.typ())) {
            return Err(SpecError::invalid(
                format!("process.rlimits[{i}].type"),
                "listed twice",
            ));
        }
        if r.soft() > r.hard() {
            return Err(SpecError::invalid(
                format!("process.rlimits[{i}]"),
                "soft limit above hard limit",
            ));
        }
    }
    Ok(())
}

fn ns_list(spec: &oci::Spec) -> Vec<oci::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
}

fn has_ns(spec: &oci::Spec, t: oci::LinuxNamespaceType) -> bool {
    ns_list(spec).iter().any(|n| n.typ() == t)
}

fn new_ns(spec: &oci::Spec, t: oci::LinuxNamespaceType) -> bool {
    ns_list(spec)
        .iter()
        .any(|n| n.typ() == t && n.path().is_none())
}

fn namespaces(spec: &oci::Spec) -> Result<(), SpecError> {
    // Without a mount namespace the rootfs mounts and pivot_root would land on the host.
    if !has_ns(spec, oci::LinuxNamespaceType::Mount) {
        return Err(SpecError::invalid(
            "linux.namespaces",
            "a mount namespace is required",
        ));
    }
    let mut seen = HashSet::new();
    for (i, n) in ns_list(spec).iter().enumerate() {
        if !seen.insert(n.typ()) {
            return Err(SpecError::invalid(
                format!("linux.namespaces[{i}].type"),
                "listed twice",
            ));
        }
        if let Some(p) = n.path() {
            if !p.is_absolute() {
                return Err(SpecError::invalid(
                    format!("linux.namespaces[{i}].path"),
                    "not absolute",
                ));
            }
        }
    }
    Ok(())
}

fn id_mappings(spec: &oci::Spec) -> Result<(), SpecError> {
    use oci::LinuxNamespaceType::User;
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let uid = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    let gid = linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if (uid || gid) && !new_ns(spec, User) {
        return Err(SpecError::invalid(
            "linux.uidMappings",
            "id mappings need a new user namespace in linux.namespaces",
        ));
    }
    if new_ns(spec, User) && !(uid && gid) {
        let field = if uid {
            "linux.gidMappings"
        } else {
            "linux.uidMappings"
        };
        return Err(SpecError::invalid(
            field,
            "a new user namespace needs uid and gid mappings",
        ));
    }
    for (field, maps) in [
        ("linux.uidMappings", linux.uid_mappings()),
        ("linux.gidMappings", linux.gid_mappings()),
    ] {
        for (i, m) in maps.iter().flatten().enumerate() {
            if m.size() == 0 {
                return Err(SpecError::invalid(
                    format!("{field}[{i}].size"),
                    "must not be 0",
                ));
            }
        }
        if maps.as_ref().is_some_and(|m| m.len() > 340) {
            return Err(SpecError::invalid(field, "more than 340 ranges"));
        }
    }
    Ok(())
}

fn uts(spec: &oci::Spec) -> Result<(), SpecError> {
    use oci::LinuxNamespaceType::Uts;
    for (field, value) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        let Some(v) = value.as_deref().filter(|v| !v.is_empty()) else {
            continue;
        };
        if !new_ns(spec, Uts) {
            return Err(SpecError::invalid(
                field,
                "setting it needs a new uts namespace",
            ));
        }
        if v.len() > 64 || v.contains('\0') {
            return Err(SpecError::invalid(
                field,
                "longer than 64 bytes or contains NUL",
            ));
        }
    }
    Ok(())
}

fn time_offsets(spec: &oci::Spec) -> Result<(), SpecError> {
    let has = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
        .is_some_and(|t| !t.is_empty());
    if has && !new_ns(spec, oci::LinuxNamespaceType::Time) {
        return Err(SpecError::invalid(
            "linux.timeOffsets",
            "needs a new time namespace",
        ));
    }
    Ok(())
}

fn mounts(spec: &oci::Spec) -> Result<(), SpecError> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            return Err(SpecError::invalid(
                format!("mounts[{i}].destination"),
                format!("{:?} is not absolute", m.destination()),
            ));
        }
        if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
            return Err(SpecError::unsupported(
                format!("mounts[{i}].uidMappings"),
                "id-mapped mounts",
            ));
        }
        for opt in m.options().iter().flatten() {
            if opt == "idmap" || opt == "ridmap" {
                return Err(SpecError::unsupported(
                    format!("mounts[{i}].options"),
                    format!("{opt:?}"),
                ));
            }
        }
    }
    Ok(())
}

fn masked_and_readonly_paths(spec: &oci::Spec) -> Result<(), SpecError> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    for (field, list) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, p) in list.iter().flatten().enumerate() {
            if !p.starts_with('/') {
                return Err(SpecError::invalid(
                    format!("{field}[{i}]"),
                    format!("{p:?} is not absolute"),
                ));
            }
        }
    }
    Ok(())
}

fn devices(spec: &oci::Spec) -> Result<(), SpecError> {
    let list = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for (i, d) in list.iter().enumerate() {
        let p = super::convert::clean_container_path(d.path());
        if !d.path().is_absolute()
            || !p.starts_with("/dev/")
            || p.components().any(|c| c.as_os_str() == "..")
        {
            return Err(SpecError::invalid(
                format!("linux.devices[{i}].path"),
                format!("{:?} is not under /dev", d.path()),
            ));
        }
    }
    Ok(())
}

/// Sysctls a container may set, and the namespace each needs (as runc's validator).
fn sysctl(spec: &oci::Spec) -> Result<(), SpecError> {
    use oci::LinuxNamespaceType as T;
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().clone()) else {
        return Ok(());
    };
    for key in map.keys() {
        let field = format!("linux.sysctl.{key}");
        let ipc = key.starts_with("fs.mqueue.")
            || key.starts_with("kernel.msg")
            || key.starts_with("kernel.shm")
            || key == "kernel.sem";
        let need = if ipc {
            T::Ipc
        } else if key.starts_with("net.") {
            T::Network
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            T::Uts
        } else {
            return Err(SpecError::invalid(
                field,
                "not a namespaced sysctl; it would change the host",
            ));
        };
        if !has_ns(spec, need) {
            return Err(SpecError::invalid(
                field,
                format!(
                    "needs a {} namespace",
                    super::convert::ns_kind(need).spec_name()
                ),
            ));
        }
        if key.contains("..") || key.contains('/') {
            return Err(SpecError::invalid(field, "malformed key"));
        }
    }
    Ok(())
}

fn cgroups_path(spec: &oci::Spec) -> Result<(), SpecError> {
    let Some(p) = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()) else {
        return Ok(());
    };
    let s = p.to_string_lossy();
    if s.contains('\0') {
        return Err(SpecError::invalid("linux.cgroupsPath", "contains NUL"));
    }
    // crun follows `..` here onto the host filesystem; hull refuses it outright.
    if p.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(SpecError::invalid(
            "linux.cgroupsPath",
            format!("{s:?} contains \"..\""),
        ));
    }
    Ok(())
}

fn hooks(spec: &oci::Spec) -> Result<(), SpecError> {
    let Some(h) = spec.hooks() else { return Ok(()) };
    #[allow(deprecated)]
    let lists = [
        ("prestart", h.prestart()),
        ("createRuntime", h.create_runtime()),
        ("createContainer", h.create_container()),
        ("startContainer", h.start_container()),
        ("poststart", h.poststart()),
        ("poststop", h.poststop()),
    ];
    for (name, list) in lists {
        for (i, hook) in list.iter().flatten().enumerate() {
            if !hook.path().is_absolute() {
                return Err(SpecError::invalid(
                    format!("hooks.{name}[{i}].path"),
                    "not absolute",
                ));
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(SpecError::invalid(
                    format!("hooks.{name}[{i}].timeout"),
                    "must be positive",
                ));
            }
        }
    }
    Ok(())
}

/// What can be checked of `linux.seccomp` without compiling it (the compiler in
/// `security::seccomp` names libseccomp's own refusals the same way).
fn seccomp(spec: &oci::Spec) -> Result<(), SpecError> {
    use oci::LinuxSeccompAction::ScmpActNotify;
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().clone()) else {
        return Ok(());
    };
    errno_ret(
        "linux.seccomp.defaultErrnoRet",
        s.default_action(),
        s.default_errno_ret(),
    )?;
    let mut notify = s.default_action() == ScmpActNotify;
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        notify |= rule.action() == ScmpActNotify;
        let field = format!("linux.seccomp.syscalls[{i}].errnoRet");
        errno_ret(&field, rule.action(), rule.errno_ret())?;
        if rule.names().is_empty() {
            return Err(SpecError::invalid(
                format!("linux.seccomp.syscalls[{i}].names"),
                "empty",
            ));
        }
        for (j, arg) in rule.args().iter().flatten().enumerate() {
            if arg.index() > 5 {
                let field = format!("linux.seccomp.syscalls[{i}].args[{j}].index");
                return Err(SpecError::invalid(
                    field,
                    "a syscall has 6 arguments (0..=5)",
                ));
            }
        }
    }
    if notify && s.listener_path().is_none() {
        return Err(SpecError::invalid(
            "linux.seccomp.listenerPath",
            "SCMP_ACT_NOTIFY needs a listener socket",
        ));
    }
    Ok(())
}

/// errnoRet must fit what the kernel returns: an errno (at most 4095) for ERRNO, the 16-bit
/// message for TRACE; a larger value would otherwise be cut silently to its low bits.
fn errno_ret(
    field: &str,
    action: oci::LinuxSeccompAction,
    value: Option<u32>,
) -> Result<(), SpecError> {
    use oci::LinuxSeccompAction as A;
    let (max, name) = match action {
        A::ScmpActErrno => (4095, "SCMP_ACT_ERRNO"),
        A::ScmpActTrace => (u32::from(u16::MAX), "SCMP_ACT_TRACE"),
        _ => return Ok(()),
    };
    match value {
        Some(v) if v > max => Err(SpecError::invalid(
            field,
            format!("{v} is above {max}, the largest value {name} can return"),
        )),
        _ => Ok(()),
    }
}

/// The built-in init must be PID 1 of its own pid namespace to reap orphans.
fn builtin_init(spec: &oci::Spec) -> Result<(), SpecError> {
    let on = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(crate::pid1::ANNOTATION))
        .is_some_and(|v| v == "true");
    if on && !new_ns(spec, oci::LinuxNamespaceType::Pid) {
        let field = format!("annotations.{}", crate::pid1::ANNOTATION);
        return Err(SpecError::invalid(
            field,
            "the built-in init needs a new pid namespace",
        ));
    }
    Ok(())
}

/// The overlay rootfs annotations are well-formed, and not combined with a new user
/// namespace: the store's layers belong to host ids and carry trusted.* xattrs, which
/// overlayfs in a user namespace cannot use.
fn overlay_rootfs(spec: &oci::Spec) -> Result<(), SpecError> {
    let annotations = spec
        .annotations()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    if super::overlay::from_annotations(&annotations, Path::new("/"))?.is_some()
        && new_ns(spec, oci::LinuxNamespaceType::User)
    {
        return Err(SpecError::unsupported(
            format!("annotations.{}", super::overlay::LAYERS),
            "an overlay rootfs of store layers in a new user namespace",
        ));
    }
    Ok(())
}

/// Fields hull does not implement yet: refused with a clear error, never silently ignored.
fn unsupported(spec: &oci::Spec) -> Result<(), SpecError> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    if linux.intel_rdt().is_some() {
        return Err(SpecError::unsupported("linux.intelRdt", "Intel RDT"));
    }
    if linux.memory_policy().is_some() {
        return Err(SpecError::unsupported(
            "linux.memoryPolicy",
            "NUMA memory policy",
        ));
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(SpecError::unsupported(
            "linux.netDevices",
            "moving host network devices",
        ));
    }
    if let Some(p) = linux.personality() {
        if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
            return Err(SpecError::unsupported(
                "linux.personality.flags",
                "personality flags",
            ));
        }
    }
    if spec
        .process()
        .as_ref()
        .is_some_and(|p| p.exec_cpu_affinity().is_some())
    {
        return Err(SpecError::unsupported(
            "process.execCPUAffinity",
            "CPU affinity at exec",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a test config, adding the mount namespace every valid config needs.
    fn parse(json: &str) -> oci::Spec {
        let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
        let ns = v
            .as_object_mut()
            .unwrap()
            .entry("linux")
            .or_insert_with(|| serde_json::json!({}))
            .as_object_mut()
            .unwrap()
            .entry("namespaces")
            .or_insert_with(|| serde_json::json!([]));
        let list = ns.as_array_mut().unwrap();
        if !list.iter().any(|n| n["type"] == "mount") {
            list.push(serde_json::json!({"type": "mount"}));
        }
        serde_json::from_value(v).unwrap()
    }

    fn err(json: &str) -> String {
        check_without_fs(&parse(json)).unwrap_err().to_string()
    }

    fn ok(json: &str) {
        check_without_fs(&parse(json)).unwrap();
    }

    const P: &str = r#""process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}}"#;

    #[test]
    fn requires_a_mount_namespace() {
        let spec: oci::Spec =
            serde_json::from_str(&format!(r#"{{"ociVersion":"1.0.2",{P}}}"#)).unwrap();
        let e = check_without_fs(&spec).unwrap_err().to_string();
        assert_eq!(e, "linux.namespaces: a mount namespace is required");
    }

    #[test]
    fn accepts_minimal() {
        ok(&format!(r#"{{"ociVersion":"1.0.2",{P}}}"#));
    }

    #[test]
    fn names_each_field() {
        assert_eq!(
            err(&format!(r#"{{"ociVersion":"2.0.0",{P}}}"#)),
            "ociVersion: \"2.0.0\": hull implements 1.x"
        );
        assert_eq!(
            err(
                r#"{"ociVersion":"1.0.0","process":{"args":[],"cwd":"/","user":{"uid":0,"gid":0}}}"#
            ),
            "process.args: must name the program to run"
        );
        assert_eq!(
            err(
                r#"{"ociVersion":"1.0.0","process":{"args":["x"],"cwd":"rel","user":{"uid":0,"gid":0}}}"#
            ),
            "process.cwd: \"rel\" is not absolute"
        );
        assert_eq!(
            err(&format!(r#"{{"ociVersion":"1.0.0",{P},"hostname":"h"}}"#)),
            "hostname: setting it needs a new uts namespace"
        );
        assert_eq!(
            err(&format!(
                r#"{{"ociVersion":"1.0.0",{P},"linux":{{"cgroupsPath":"/a/../../etc"}}}}"#
            )),
            "linux.cgroupsPath: \"/a/../../etc\" contains \"..\""
        );
    }

    #[test]
    fn namespaces_checked() {
        let dup = format!(
            r#"{{"ociVersion":"1.0.0",{P},"linux":{{"namespaces":[{{"type":"pid"}},{{"type":"pid"}}]}}}}"#
        );
        assert_eq!(err(&dup), "linux.namespaces[1].type: listed twice");
        let rel = format!(
            r#"{{"ociVersion":"1.0.0",{P},"linux":{{"namespaces":[{{"type":"network","path":"x"}}]}}}}"#
        );
        assert_eq!(err(&rel), "linux.namespaces[0].path: not absolute");
        let user =
            format!(r#"{{"ociVersion":"1.0.0",{P},"linux":{{"namespaces":[{{"type":"user"}}]}}}}"#);
        assert_eq!(
            err(&user),
            "linux.uidMappings: a new user namespace needs uid and gid mappings"
        );
    }

    #[test]
    fn sysctl_needs_its_namespace() {
        let host =
            format!(r#"{{"ociVersion":"1.0.0",{P},"linux":{{"sysctl":{{"vm.swappiness":"1"}}}}}}"#);
        assert_eq!(
            err(&host),
            "linux.sysctl.vm.swappiness: not a namespaced sysctl; it would change the host"
        );
        let net = format!(
            r#"{{"ociVersion":"1.0.0",{P},"linux":{{"sysctl":{{"net.ipv4.ip_forward":"1"}}}}}}"#
        );
        assert_eq!(
            err(&net),
            "linux.sysctl.net.ipv4.ip_forward: needs a network namespace"
        );
        ok(&format!(
            r#"{{"ociVersion":"1.0.0",{P},"linux":{{"namespaces":[{{"type":"ipc"}}],"sysctl":{{"kernel.shmmax":"1"}}}}}}"#
        ));
    }

    #[test]
    fn devices_stay_under_dev() {
        let d = format!(
            r#"{{"ociVersion":"1.0.0",{P},"linux":{{"devices":[{{"path":"/dev/../etc/x","type":"c","major":1,"minor":3}}]}}}}"#
        );
        assert_eq!(
            err(&d),
            "linux.devices[0].path: \"/dev/../etc/x\" is not under /dev"
        );
    }

    #[test]
    fn errno_ret_must_fit_the_action() {
        let sc = |s: &str| format!(r#"{{"ociVersion":"1.0.0",{P},"linux":{{"seccomp":{s}}}}}"#);
        assert_eq!(
            err(&sc(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":4096}"#)),
            "linux.seccomp.defaultErrnoRet: 4096 is above 4095, the largest value SCMP_ACT_ERRNO can return"
        );
        let e = err(&sc(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_TRACE","errnoRet":65536}]}"#,
        ));
        assert!(
            e.starts_with("linux.seccomp.syscalls[0].errnoRet: 65536 is above 65535"),
            "{e}"
        );
        ok(&sc(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":4095,"syscalls":[{"names":["kill"],"action":"SCMP_ACT_TRACE","errnoRet":65535}]}"#,
        ));
    }

    #[test]
    fn unsupported_is_refused_not_ignored() {
        let s = format!(r#"{{"ociVersion":"1.0.0",{P},"linux":{{"intelRdt":{{"closID":"x"}}}}}}"#);
        assert!(err(&s).starts_with("linux.intelRdt: not supported by hull"));
    }
}
