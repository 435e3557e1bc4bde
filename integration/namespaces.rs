//! Namespaces as seen from inside the container: which are new and which are the host's,
//! the pid namespace, uts (hostname, domainname), the network namespace's loopback, user
//! namespace id maps, joining namespaces by path, time offsets and namespaced sysctls. Where
//! runc 1.1 behaves the same the test passes against it too
//! (`HULL_TEST_BINARY=/usr/sbin/runc cargo test --test integration namespaces`); runc 1.1 has
//! no time namespace, ignores `domainname`, cannot mount sysfs in a user namespace without a
//! network namespace and words a failed setns on three lines, so those checks are hull-only.

use crate::support::*;
use std::fs;
use std::os::unix::fs::{chown, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The host ids a user-namespaced container's root maps to in these tests.
const MAPPED_ROOT: u32 = 100_000;

/// Creates a container expected to fail: asserts the one-line error naming one of `words`;
/// the guard then checks that nothing was left.
fn create_fails(ct: &mut Container, words: &[&str]) -> std::process::Output {
    let out = ct.create_with(&[]);
    assert!(
        !out.status.success(),
        "create should fail: {}",
        out.describe()
    );
    assert_one_line_error(&out, "create");
    assert_stderr_mentions(&out, words);
    assert!(!ct.try_state().status.success(), "no container left");
    out
}

/// Replaces `linux.namespaces` with entries of these types (no paths).
fn set_namespaces(c: &mut Value, kinds: &[&str]) {
    c["linux"]["namespaces"] = kinds.iter().map(|k| json!({ "type": k })).collect();
}

/// Sets the path of the namespace entry of type `kind`, adding the entry if missing.
fn join_namespace(c: &mut Value, kind: &str, path: &Path) {
    let list = list_mut(&mut c["linux"]["namespaces"]);
    list.retain(|n| n["type"] != kind);
    list.push(json!({ "type": kind, "path": path }));
}

/// Adds a user namespace mapping container ids 0..65536 to host MAPPED_ROOT.. .
fn map_ids(c: &mut Value) {
    let map = json!([{ "containerID": 0, "hostID": MAPPED_ROOT, "size": 65536 }]);
    c["linux"]["uidMappings"] = map.clone();
    c["linux"]["gidMappings"] = map;
}

/// `readlink /proc/self/ns/<kind>` of the test process: the host's namespace.
fn host_ns(kind: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap_or_else(|e| panic!("/proc/self/ns/{kind}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// A script printing `<kind> <readlink /proc/self/ns/kind>` for each kind.
fn ns_script(kinds: &[&str]) -> String {
    format!(
        "for n in {}; do echo $n $(readlink /proc/self/ns/$n); done",
        kinds.join(" ")
    )
}

/// Parses the output of [`ns_script`] into (kind, link) pairs.
fn ns_links(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every namespace kind, as /proc/self/ns names them.
const ALL_KINDS: [&str; 8] = ["pid", "mnt", "uts", "ipc", "net", "cgroup", "user", "time"];

/// The kinds the runtime under test can create (runc 1.1 has no time namespace).
fn creatable_kinds() -> Vec<&'static str> {
    let n = if is_hull() { 8 } else { 7 };
    ALL_KINDS[..n].to_vec()
}

#[test]
fn new_namespaces_differ_from_the_hosts() {
    requires(&["userns"]);
    let hull = Hull::new();
    let kinds = creatable_kinds();
    let bundle = Bundle::new()
        .with(|c| {
            let mut spec_kinds = vec!["pid", "mount", "uts", "ipc", "network", "cgroup", "user"];
            if is_hull() {
                spec_kinds.push("time");
            }
            set_namespaces(c, &spec_kinds);
            map_ids(c);
        })
        .sh(&ns_script(&kinds));
    let mut ct = hull.container(bundle);
    let links = ns_links(&ct.run_ok());
    assert_eq!(links.len(), kinds.len(), "{links:?}");
    for (kind, link) in links {
        assert!(link.starts_with(&format!("{kind}:[")), "{kind}: {link}");
        assert_ne!(link, host_ns(&kind), "{kind} is a new namespace");
    }
}

#[test]
fn unlisted_namespaces_are_the_hosts() {
    let hull = Hull::new();
    let kinds = ALL_KINDS;
    let bundle = Bundle::new()
        .with(|c| {
            set_namespaces(c, &["mount"]);
            // A hostname needs a uts namespace.
            c.as_object_mut().unwrap().remove("hostname");
        })
        .sh(&ns_script(&kinds));
    let mut ct = hull.container(bundle);
    let links = ns_links(&ct.run_ok());
    assert_eq!(links.len(), kinds.len(), "{links:?}");
    for (kind, link) in links {
        if kind == "mnt" {
            assert_ne!(link, host_ns(&kind), "mount is new");
        } else {
            assert_eq!(link, host_ns(&kind), "{kind} is shared with the host");
        }
    }
}

#[test]
fn pid_namespace_init_is_pid_1_and_ps_shows_only_the_container() {
    let hull = Hull::new();
    // `; true` keeps sh from exec'ing ps in its place.
    let bundle = Bundle::new().sh("echo self $$; ps -o pid,comm; true");
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("self 1"), "{out}");
    assert_eq!(
        lines
            .next()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>),
        Some(vec!["PID", "COMMAND"]),
        "{out}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "only sh and ps: {out}");
    assert_eq!(rows[0], ["1", "sh"], "{out}");
    assert_eq!(rows[1][1], "ps", "{out}");
}

#[test]
fn hostname_is_set_in_the_uts_namespace() {
    let hull = Hull::new();
    let host_before = nix::unistd::gethostname().unwrap();
    let bundle = Bundle::new()
        .with(|c| c["hostname"] = json!("box-one"))
        .sh("hostname; cat /proc/sys/kernel/hostname");
    let mut ct = hull.container(bundle);
    assert_eq!(ct.run_ok(), "box-one\nbox-one\n");
    assert_eq!(
        nix::unistd::gethostname().unwrap(),
        host_before,
        "the host's hostname is untouched"
    );
}

#[test]
fn domainname_is_set_in_the_uts_namespace() {
    // runc 1.1 ignores `domainname` (it came in runc 1.2).
    if hull_only("runc 1.1 ignores domainname") {
        return;
    }
    let hull = Hull::new();
    let host_before = fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let bundle = Bundle::new()
        .with(|c| c["domainname"] = json!("example.test"))
        .sh("cat /proc/sys/kernel/domainname");
    let mut ct = hull.container(bundle);
    assert_eq!(ct.run_ok(), "example.test\n");
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        host_before
    );
}

#[test]
fn a_hostname_without_a_uts_namespace_is_refused() {
    let hull = Hull::new();
    let bundle = Bundle::new().with(|c| {
        let list = list_mut(&mut c["linux"]["namespaces"]);
        list.retain(|n| n["type"] != "uts");
    });
    let mut ct = hull.container(bundle);
    create_fails(&mut ct, &["hostname"]);
}

#[test]
fn a_new_network_namespace_has_only_lo_and_it_is_up() {
    let hull = Hull::new();
    let bundle = Bundle::new()
        .sh("ls /sys/class/net; echo '---'; ip -o link show lo; ip -o -4 addr show lo");
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    let (links, lo) = out.split_once("---\n").expect("separator");
    assert_eq!(links, "lo\n", "only lo exists");
    // As runc does, lo is brought up in every new network namespace; the kernel then gives
    // it 127.0.0.1.
    assert!(lo.contains("<LOOPBACK,UP,LOWER_UP>"), "lo is up: {lo}");
    assert!(lo.contains("inet 127.0.0.1/8"), "lo has 127.0.0.1: {lo}");
}

#[test]
fn user_namespace_maps_ids() {
    requires(&["userns"]);
    let hull = Hull::new();
    let bundle = Bundle::new();
    let data = bundle.scratch().join("data");
    fs::create_dir(&data).unwrap();
    chown(&data, Some(MAPPED_ROOT), Some(MAPPED_ROOT)).unwrap();
    // The rootfs stays owned by the host's root, which is unmapped: the mountpoint must exist.
    fs::create_dir(bundle.rootfs().join("data")).unwrap();
    let bundle = bundle
        .with(|c| {
            let ns = list_mut(&mut c["linux"]["namespaces"]);
            ns.push(json!({"type": "user"}));
            map_ids(c);
            list_mut(&mut c["mounts"]).push(json!({
                "destination": "/data", "type": "bind", "source": data, "options": ["bind"]
            }));
        })
        .sh("cat /proc/self/uid_map /proc/self/gid_map; id; touch /data/made-inside");
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0", "100000", "65536"], "uid_map: {out}");
    assert_eq!(lines[1], ["0", "100000", "65536"], "gid_map: {out}");
    assert_eq!(
        lines[2],
        ["uid=0(root)", "gid=0(root)"],
        "root inside: {out}"
    );
    let made = fs::metadata(data.join("made-inside")).expect("file made inside");
    assert_eq!(
        (made.uid(), made.gid()),
        (MAPPED_ROOT, MAPPED_ROOT),
        "owned by the mapped host ids outside"
    );
}

#[test]
fn userns_sysfs_without_a_network_namespace_falls_back_to_a_bind() {
    requires(&["userns"]);
    // runc 1.1.5 fails: "error mounting "sysfs" to rootfs at "/sys" ... operation not permitted".
    if hull_only("runc 1.1 cannot mount sysfs in a user namespace without a netns") {
        return;
    }
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| {
            set_namespaces(c, &["pid", "ipc", "uts", "mount", "user"]);
            map_ids(c);
        })
        .sh("grep ' /sys ' /proc/mounts; ls /sys/class/net");
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    let mut lines = out.lines();
    let sys: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(sys.get(2), Some(&"sysfs"), "{out}");
    assert!(
        sys.get(3).is_some_and(|o| o.split(',').any(|o| o == "ro")),
        "still read-only: {out}"
    );
    let nets: Vec<&str> = lines.collect();
    assert!(
        nets.contains(&"lo"),
        "the host's sysfs, net devices and all: {out}"
    );
}

/// A network namespace made with `ip netns add`, deleted on drop (even when the test fails).
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        requires(&["ip"]);
        let name = unique("netns");
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .unwrap_or_else(|e| panic!("run ip: {e}"));
        assert!(out.status.success(), "ip netns add {name}: {out:?}");
        Netns { name }
    }

    fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .output();
    }
}

#[test]
fn join_a_network_namespace_by_path() {
    let netns = Netns::new();
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| join_namespace(c, "network", &netns.path()))
        .sh("readlink /proc/self/ns/net; ip -o link show lo");
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    let ino = fs::metadata(netns.path()).unwrap().ino();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(&*format!("net:[{ino}]")), "{out}");
    // A joined namespace is the caller's: its lo is left as it was (down), as runc does.
    let lo = lines.next().unwrap_or("");
    assert!(lo.contains("<LOOPBACK>"), "lo untouched: {lo}");
}

#[test]
fn join_the_uts_namespace_of_another_container() {
    let hull = Hull::new();
    let mut first = hull.container(
        Bundle::new()
            .with(|c| c["hostname"] = json!("alpha"))
            .args(&["sleep", "1000"]),
    );
    first.create();
    let uts = PathBuf::from(format!("/proc/{}/ns/uts", first.pid().expect("pid")));
    let bundle = Bundle::new()
        .with(|c| {
            join_namespace(c, "uts", &uts);
            // The hostname belongs to the namespace's owner.
            c.as_object_mut().unwrap().remove("hostname");
        })
        .sh("hostname; readlink /proc/self/ns/uts");
    let mut second = hull.container(bundle);
    let out = second.run_ok();
    let link = fs::read_link(&uts).unwrap();
    assert_eq!(out, format!("alpha\n{}\n", link.display()));
}

#[test]
fn a_namespace_path_of_the_wrong_type_is_refused() {
    // runc 1.1 reports a failed setns on three log lines.
    if hull_only("one-line error naming linux.namespaces") {
        return;
    }
    let hull = Hull::new();
    let net = PathBuf::from(format!("/proc/{}/ns/net", std::process::id()));
    for not_uts in [Some(net), None] {
        let bundle = Bundle::new();
        // None: the bundle's config.json, not a namespace at all.
        let path = not_uts.unwrap_or_else(|| bundle.config_path());
        let bundle = bundle.with(|c| {
            join_namespace(c, "uts", &path);
            c.as_object_mut().unwrap().remove("hostname");
        });
        let mut ct = hull.container(bundle);
        let out = create_fails(&mut ct, &["linux.namespaces"]);
        assert_stderr_mentions(&out, &[&path.to_string_lossy()]);
    }
}

/// The first field of /proc/uptime (boottime seconds).
fn host_uptime() -> f64 {
    let text = fs::read_to_string("/proc/uptime").unwrap_or_default();
    let first = text.split_whitespace().next().unwrap_or_default();
    first
        .parse()
        .unwrap_or_else(|e| panic!("/proc/uptime {text:?}: {e}"))
}

#[test]
fn time_namespace_offsets() {
    if hull_only("runc 1.1 has no time namespace") {
        return;
    }
    const BOOT: f64 = 1_000_000.0;
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| {
            list_mut(&mut c["linux"]["namespaces"]).push(json!({"type": "time"}));
            c["linux"]["timeOffsets"] = json!({
                "boottime": {"secs": BOOT as i64, "nanosecs": 0},
                "monotonic": {"secs": 5000, "nanosecs": 7},
            });
        })
        .sh("cat /proc/uptime /proc/self/timens_offsets");
    let mut ct = hull.container(bundle);
    let before = host_uptime();
    let out = ct.run_ok();
    let after = host_uptime();
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let inside: f64 = lines[0][0].parse().unwrap();
    assert!(
        inside >= before + BOOT && inside <= after + BOOT + 1.0,
        "uptime inside {inside} is the host's ({before}..{after}) + {BOOT}"
    );
    let mut offsets = lines[1..].to_vec();
    offsets.sort();
    assert_eq!(
        offsets,
        [["boottime", "1000000", "0"], ["monotonic", "5000", "7"]]
    );
}

/// A host sysctl value, trimmed.
fn host_sysctl(key: &str) -> String {
    let path = Path::new("/proc/sys").join(key.replace('.', "/"));
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

#[test]
fn namespaced_sysctls_apply_inside_only() {
    let hull = Hull::new();
    let net_key = "net.ipv4.ip_unprivileged_port_start";
    let ipc_key = "kernel.msgmax";
    let (net_host, ipc_host) = (host_sysctl(net_key), host_sysctl(ipc_key));
    // Values that differ from the host's, so a leak to the host would show.
    let net_val = if net_host == "80" { "81" } else { "80" };
    let ipc_val = if ipc_host == "4096" { "4097" } else { "4096" };
    let bundle = Bundle::new()
        .with(|c| c["linux"]["sysctl"] = json!({ net_key: net_val, ipc_key: ipc_val }))
        .sh("cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/msgmax");
    let mut ct = hull.container(bundle);
    assert_eq!(ct.run_ok(), format!("{net_val}\n{ipc_val}\n"));
    assert_eq!(host_sysctl(net_key), net_host, "host {net_key} unchanged");
    assert_eq!(host_sysctl(ipc_key), ipc_host, "host {ipc_key} unchanged");
}

#[test]
fn a_sysctl_that_is_not_namespaced_is_refused() {
    let hull = Hull::new();
    let before = host_sysctl("vm.swappiness");
    let value = if before == "10" { "11" } else { "10" };
    let bundle = Bundle::new().with(|c| c["linux"]["sysctl"] = json!({ "vm.swappiness": value }));
    let mut ct = hull.container(bundle);
    let mut words = vec!["vm.swappiness"];
    if is_hull() {
        words = vec!["linux.sysctl.vm.swappiness"];
    }
    create_fails(&mut ct, &words);
    assert_eq!(host_sysctl("vm.swappiness"), before);
}
