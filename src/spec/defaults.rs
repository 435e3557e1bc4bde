//! Defaults: the `hull spec` template (runc's, so tools that patch it keep working), its
//! rootless variant, its networked variants (`hull spec --network`), and the device nodes
//! every container gets.

use super::config::{DeviceKind, DeviceNode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];

const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

const CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

fn mounts(rootless: bool) -> Value {
    let devpts: Vec<&str> = if rootless {
        vec![
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
        ]
    } else {
        vec![
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]
    };
    let sys = if rootless {
        json!({"destination": "/sys", "type": "none", "source": "/sys",
               "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    } else {
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]})
    };
    json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        sys,
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
    ])
}

/// The config.json `hull spec` writes: runc's template, with `--rootless` as runc makes it
/// (a user namespace mapping the caller's ids to root, no network namespace, /sys bound).
pub fn template(rootless: bool, uid: u32, gid: u32) -> Value {
    let mut linux = json!({
        "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                       {"type": "uts"}, {"type": "mount"}],
        "maskedPaths": MASKED,
        "readonlyPaths": READONLY,
    });
    if rootless {
        linux["namespaces"] = json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                                     {"type": "mount"}, {"type": "user"}]);
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    } else {
        linux["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    }
    json!({
        "ociVersion": super::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": CAPS, "effective": CAPS, "permitted": CAPS, "ambient": CAPS},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "hull",
        "mounts": mounts(rootless),
        "linux": linux,
    })
}

/// How a container made from a template is networked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// The host's network: no network namespace.
    Host,
    /// A network namespace with only lo.
    None,
    /// A network namespace on hull's bridge (`hull network attach --mode bridge`).
    Bridge,
}

/// Sets up `config` (a config.json value) for `net`: with a network namespace, the
/// `hull network attach` createRuntime hook and the `detach` poststop hook, both running the
/// hull binary at `hull`; for Host, no network namespace. Hooks already there are kept.
pub fn with_network(config: &mut Value, net: Network, hull: &Path) {
    let namespaces = &mut config["linux"]["namespaces"];
    if !namespaces.is_array() {
        *namespaces = json!([]);
    }
    if let Some(list) = namespaces.as_array_mut() {
        list.retain(|n| n["type"] != "network");
        if net != Network::Host {
            list.push(json!({"type": "network"}));
        }
    }
    let mode = match net {
        Network::Host => return,
        Network::None => "none",
        Network::Bridge => "bridge",
    };
    let path = hull.to_string_lossy();
    let attach = json!({"path": path, "args": ["hull", "network", "attach", "--mode", mode]});
    let detach = json!({"path": path, "args": ["hull", "network", "detach"]});
    for (point, hook) in [("createRuntime", attach), ("poststop", detach)] {
        let list = &mut config["hooks"][point];
        match list.as_array_mut() {
            Some(hooks) => hooks.push(hook),
            None => *list = json!([hook]),
        }
    }
}

/// The device nodes every container's /dev gets, as runc creates them.
pub fn default_devices() -> Vec<DeviceNode> {
    let node = |name: &str, major, minor| DeviceNode {
        path: PathBuf::from("/dev").join(name),
        kind: DeviceKind::Char,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    };
    vec![
        node("null", 1, 3),
        node("zero", 1, 5),
        node("full", 1, 7),
        node("random", 1, 8),
        node("urandom", 1, 9),
        node("tty", 5, 0),
    ]
}

/// The symlinks runc puts in /dev: (link path, target).
pub const DEV_SYMLINKS: &[(&str, &str)] = &[
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_is_a_valid_spec() {
        for rootless in [false, true] {
            let spec: oci_spec::runtime::Spec =
                serde_json::from_value(template(rootless, 1000, 1000)).unwrap();
            crate::spec::from_spec(spec, "/b".into()).unwrap();
        }
    }

    #[test]
    fn network_bridge_adds_the_namespace_once_and_both_hooks() {
        let mut t = template(false, 0, 0);
        with_network(&mut t, Network::Bridge, Path::new("/usr/bin/hull"));
        let spec: oci_spec::runtime::Spec = serde_json::from_value(t.clone()).unwrap();
        let config = crate::spec::from_spec(spec, "/b".into()).unwrap();
        assert_eq!(config.hooks.create_runtime.len(), 1);
        assert_eq!(config.hooks.poststop.len(), 1);
        let nets = t["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["type"] == "network")
            .count();
        assert_eq!(nets, 1);
        assert_eq!(t["hooks"]["createRuntime"][0]["path"], "/usr/bin/hull");
        assert_eq!(t["hooks"]["createRuntime"][0]["args"][4], "bridge");
        assert_eq!(t["hooks"]["poststop"][0]["args"][2], "detach");
    }

    #[test]
    fn network_host_drops_the_namespace_and_adds_no_hooks() {
        let mut t = template(false, 0, 0);
        with_network(&mut t, Network::Host, Path::new("/usr/bin/hull"));
        assert!(t.get("hooks").is_none());
        assert!(t["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["type"] != "network"));
    }

    #[test]
    fn rootless_maps_the_caller() {
        let t = template(true, 1000, 100);
        assert_eq!(t["linux"]["uidMappings"][0]["hostID"], 1000);
        assert_eq!(t["linux"]["gidMappings"][0]["hostID"], 100);
        assert!(t["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["type"] != "network"));
    }
}
