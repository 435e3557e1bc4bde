//! Container networking end to end: `hull network attach` and `detach` as the createRuntime
//! and poststop hooks of real containers (bridge, published ports, masquerade, macvlan,
//! none), their bookkeeping under parallel load and after crashes, their errors, `hull spec
//! --network`, and Docker's and podman's own networking through hull.
//!
//! Every test runs in a network namespace of its own: [`in_netns`] runs the test body on a
//! thread that unshares CLONE_NEWNET, so every process it starts (hull, the hooks, `ip`,
//! `nc`) and every bridge, veth, address and nftables rule they make live there, and die
//! with the thread. Nothing touches the host's interfaces, routes or rules, and no packet
//! leaves the machine. Each test also checks, after its containers are gone, that no host
//! veth, lease, record or rule is left ([`Net::assert_clean`]).

use crate::support::hull::scratch_dir;
use crate::support::*;
use nix::sched::{unshare, CloneFlags};
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Generous bound for a container or a listener to come up on a loaded 2-core machine.
const T: Duration = Duration::from_secs(10);

/// The hooks always run the hull cargo built, also when another runtime is under test.
fn hull_bin() -> &'static str {
    env!("CARGO_BIN_EXE_hull")
}

/// Runs `body` on a thread in a fresh network namespace (with `lo` up) and returns its
/// result; a panic in it fails the test. The namespace goes when the thread ends.
fn in_netns<R: Send>(body: impl FnOnce() -> R + Send) -> R {
    requires(&["root", "ip", "nft", "busybox", "unshare", "nsenter"]);
    let name = crate::support::hull::test_name();
    std::thread::scope(|s| {
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn_scoped(s, || {
                unshare(CloneFlags::CLONE_NEWNET)
                    .unwrap_or_else(|e| panic!("unshare(CLONE_NEWNET) on the test thread: {e}"));
                host(&["ip", "link", "set", "lo", "up"]);
                body()
            })
            .unwrap_or_else(|e| panic!("spawn the test's namespace thread: {e}"));
        thread
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Runs a program in the test's namespace and returns its stdout; fails the test unless it
/// exits 0.
fn host(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {argv:?}: {e}"));
    assert!(out.status.success(), "{argv:?}: {}", out.describe());
    out.stdout_text()
}

/// A process in a network namespace of its own (`unshare -n`), killed on drop: a target
/// for direct attach calls, or a client outside the test's namespace.
struct NsProc {
    child: Child,
}

impl NsProc {
    fn start() -> NsProc {
        let child = Command::new("unshare")
            .args(["-n", "sleep", "1000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn unshare -n sleep: {e}"));
        let ns = format!("/proc/{}/ns/net", child.id());
        let deadline = Instant::now() + T;
        // unshare execs sleep after entering the new namespace.
        while fs::read_link(&ns).ok() == fs::read_link("/proc/thread-self/ns/net").ok() {
            assert!(Instant::now() < deadline, "unshare -n did not take effect");
            std::thread::sleep(Duration::from_millis(5));
        }
        NsProc { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs a program inside this process's namespace; stdout.
    fn run(&self, argv: &[&str]) -> String {
        let pid = self.pid().to_string();
        let mut full = vec!["nsenter", "-t", &pid, "-n", "--"];
        full.extend_from_slice(argv);
        host(&full)
    }

    /// The OCI state a runtime would hand a hook for a container with this init.
    fn state(&self, id: &str) -> String {
        json!({"ociVersion": "1.0.2", "id": id, "pid": self.pid(), "status": "created",
               "bundle": "/"})
        .to_string()
    }
}

impl Drop for NsProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A helper program in its own process group, without the test's stdio, killed with its
/// whole group on drop (a shell loop's `nc` would otherwise outlive it).
struct Background {
    child: Child,
}

impl Background {
    fn start(argv: &[&str]) -> Background {
        use std::os::unix::process::CommandExt;
        let child = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
        Background { child }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A scratch directory removed on drop, also when the test fails.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        Scratch(scratch_dir(tag))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// One test's network state dir (leases, records) and how its containers use it.
struct Net {
    state: PathBuf,
}

impl Net {
    fn new() -> Net {
        Net {
            state: scratch_dir("netstate"),
        }
    }

    fn state_dir(&self) -> &str {
        self.state
            .to_str()
            .unwrap_or_else(|| panic!("scratch path is not UTF-8"))
    }

    /// `bundle` with a network namespace, CAP_NET_RAW (for ping) and the hooks
    /// `hull network attach --state-dir S <flags>` / `detach --state-dir S`.
    fn hooked(&self, bundle: Bundle, flags: &[&str]) -> Bundle {
        let mut attach = vec!["hull", "network", "attach", "--state-dir", self.state_dir()];
        attach.extend_from_slice(flags);
        let detach = ["hull", "network", "detach", "--state-dir", self.state_dir()];
        bundle.with(|c| {
            c["hooks"] = json!({
                "createRuntime": [{"path": hull_bin(), "args": attach}],
                "poststop": [{"path": hull_bin(), "args": detach}],
            });
            for set in ["bounding", "effective", "permitted"] {
                if let Some(caps) = c["process"]["capabilities"][set].as_array_mut() {
                    caps.push(json!("CAP_NET_RAW"));
                }
            }
        })
    }

    /// A created and started `sleep` container attached with `flags`.
    fn container(&self, hull: &Hull, flags: &[&str]) -> Container {
        self.container_running(hull, Bundle::new().args(&["sleep", "1000"]), flags)
    }

    /// A created and started container of `bundle` attached with `flags`.
    fn container_running(&self, hull: &Hull, bundle: Bundle, flags: &[&str]) -> Container {
        let mut ct = hull.container(self.hooked(bundle, flags));
        ct.create();
        ct.start();
        ct
    }

    /// `hull network <args...> --state-dir S`, whatever the result.
    fn hull_net(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        let mut argv: Vec<&str> = vec!["network"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["--state-dir", self.state_dir()]);
        let mut cmd = Command::new(hull_bin());
        cmd.args(&argv);
        let Some(text) = stdin else {
            return spawn_in(cmd, &self.state).wait();
        };
        // spawn_in gives /dev/null as stdin; a shell redirects the state file instead.
        let file = self.state.join(format!("{}.state-in", unique("")));
        write_file(&file, text.as_bytes());
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(r#"f=$0; exec "$@" <"$f""#)
            .arg(&file)
            .arg(hull_bin())
            .args(&argv);
        spawn_in(sh, &self.state).wait()
    }

    /// The attachment of `id` (`hull network show`).
    fn show(&self, id: &str) -> Value {
        let out = self.hull_net(&["show", id], None);
        assert!(
            out.status.success(),
            "network show {id}: {}",
            out.describe()
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("show prints JSON: {e}"))
    }

    /// The container's address without the prefix.
    fn ip_of(&self, id: &str) -> String {
        let a = self.show(id)["address"].as_str().unwrap_or("").to_string();
        a.split('/').next().unwrap_or("").to_string()
    }

    /// Lease files (addresses) in every network, and records.
    fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        for entry in fs::read_dir(self.state.join("networks"))
            .into_iter()
            .flatten()
            .flatten()
        {
            for lease in fs::read_dir(entry.path()).into_iter().flatten().flatten() {
                let name = lease.file_name().to_string_lossy().into_owned();
                if name.parse::<std::net::Ipv4Addr>().is_ok() {
                    left.push(format!("lease {}", lease.path().display()));
                }
            }
        }
        for rec in fs::read_dir(self.state.join("attachments"))
            .into_iter()
            .flatten()
            .flatten()
        {
            left.push(format!("record {}", rec.path().display()));
        }
        left
    }

    /// Fails the test if a host veth of hull's, a lease, a record or a hull rule is left.
    fn assert_clean(&self) {
        let mut left = self.leftovers();
        left.extend(host_veths().into_iter().map(|v| format!("veth {v}")));
        let rules = host(&["nft", "list", "ruleset"]);
        left.extend(
            rules
                .lines()
                .filter(|l| l.contains("comment \"hull:"))
                .map(|l| format!("rule {}", l.trim())),
        );
        assert!(left.is_empty(), "left behind: {left:#?}");
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.state);
    }
}

/// Interfaces of the test's namespace named like hull's host veths (`hull` + 11 hex).
fn host_veths() -> Vec<String> {
    link_names()
        .into_iter()
        .filter(|n| n.len() == 15 && n.starts_with("hull"))
        .collect()
}

/// Every interface name in the test's namespace.
fn link_names() -> Vec<String> {
    host(&["ip", "-o", "link"])
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

/// Runs `command` in the container; fails the test unless it exits 0; stdout.
fn exec_ok(ct: &Container, command: &[&str]) -> String {
    let out = ct.exec(command);
    assert_eq!(
        out.code(),
        0,
        "exec {command:?} in {}: {}",
        ct.id(),
        out.describe()
    );
    out.stdout_text()
}

/// Pings `ip` from the container until one reply comes (busybox ping exits 0 then), or 5 s.
fn ping_from(ct: &Container, ip: &str) {
    let out = ct.exec(&["ping", "-c", "1", "-w", "5", ip]);
    assert_eq!(
        out.code(),
        0,
        "{} cannot ping {ip}: {}",
        ct.id(),
        out.describe()
    );
}

/// Connects with busybox nc to `ip:port` until it answers (a listener may still be coming
/// up) and returns what it said.
fn nc_until(prefix: &[&str], ip: &str, port: u16) -> String {
    let deadline = Instant::now() + T;
    let port = port.to_string();
    loop {
        let mut argv: Vec<&str> = prefix.to_vec();
        argv.extend_from_slice(&["busybox", "nc", "-w", "2", ip, &port]);
        let out = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run nc: {e}"));
        if !out.stdout.is_empty() {
            return out.stdout_text();
        }
        assert!(
            Instant::now() < deadline,
            "{ip}:{port} never answered: {}",
            out.describe()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn bridge_containers_ping_each_other_and_the_gateway() {
    in_netns(|| {
        let net = Net::new();
        {
            let hull = Hull::new();
            let a = net.container(&hull, &[]);
            let b = net.container(&hull, &["--mtu", "1400"]);
            let (ia, ib) = (net.ip_of(a.id()), net.ip_of(b.id()));
            assert_ne!(ia, ib);
            let show = net.show(a.id());
            assert_eq!(show["mode"], "bridge");
            assert_eq!(show["interface"], "eth0");
            assert_eq!(show["gateway"], "10.88.0.1");
            assert_eq!(show["bridge"], "hull0");
            let veth = show["host_veth"].as_str().unwrap_or("").to_string();
            assert!(link_names().contains(&veth), "host veth {veth} missing");
            let inside = exec_ok(&a, &["ip", "-o", "-4", "addr", "show", "eth0"]);
            assert!(inside.contains(&format!("{ia}/16")), "{inside}");
            let link = exec_ok(&a, &["ip", "-o", "link", "show", "eth0"]);
            assert!(link.contains(show["mac"].as_str().unwrap_or("?")), "{link}");
            let route = exec_ok(&a, &["ip", "route"]);
            assert!(route.contains("default via 10.88.0.1 dev eth0"), "{route}");
            let link_b = exec_ok(&b, &["ip", "-o", "link", "show", "eth0"]);
            assert!(link_b.contains("mtu 1400"), "{link_b}");
            let veth_b = net.show(b.id())["host_veth"]
                .as_str()
                .unwrap_or("")
                .to_string();
            assert!(host(&["ip", "-o", "link", "show", &veth_b]).contains("mtu 1400"));
            ping_from(&a, &ib);
            ping_from(&b, &ia);
            ping_from(&a, "10.88.0.1");
            assert_eq!(
                fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                    .unwrap_or_default()
                    .trim(),
                "1",
                "forwarding on in the bridge's namespace"
            );
        }
        net.assert_clean();
    });
}

/// A client namespace joined to the test's by a veth pair: 192.0.2.1 on the test's side,
/// 192.0.2.2 on the client's, and no route from the client to the containers' subnet.
fn client_namespace() -> NsProc {
    let client = NsProc::start();
    let pid = client.pid().to_string();
    host(&[
        "ip", "link", "add", "hcl0", "type", "veth", "peer", "name", "hcl1", "netns", &pid,
    ]);
    host(&["ip", "addr", "add", "192.0.2.1/24", "dev", "hcl0"]);
    host(&["ip", "link", "set", "hcl0", "up"]);
    client.run(&["ip", "addr", "add", "192.0.2.2/24", "dev", "hcl1"]);
    client.run(&["ip", "link", "set", "hcl1", "up"]);
    client.run(&["ip", "link", "set", "lo", "up"]);
    client
}

#[test]
fn published_ports_answer_and_outbound_traffic_is_masqueraded() {
    in_netns(|| {
        let net = Net::new();
        {
            let hull = Hull::new();
            let server = Bundle::new().sh("while true; do echo hello | nc -l -p 80; done");
            let ct = net.container_running(&hull, server, &["--publish", "8080:80/tcp"]);
            assert_eq!(net.show(ct.id())["publish"], json!(["8080:80/tcp"]));
            // From the test's own namespace (nat output) to its addresses.
            assert_eq!(nc_until(&[], "10.88.0.1", 8080).trim(), "hello");
            assert_eq!(nc_until(&[], "127.0.0.1", 8080).trim(), "hello");
            let client = client_namespace();
            let pid = client.pid().to_string();
            let via_client = ["nsenter", "-t", pid.as_str(), "-n", "--"];
            // From outside (nat prerouting), forwarded over the bridge.
            assert_eq!(nc_until(&via_client, "192.0.2.1", 8080).trim(), "hello");
            // Outbound: the client has no route back to 10.88.0.0/16, so only a
            // masqueraded connection can be answered.
            let listener = Background::start(&[
                "nsenter",
                "-t",
                &pid,
                "-n",
                "--",
                "busybox",
                "sh",
                "-c",
                "while true; do echo pong | busybox nc -l -p 9000; done",
            ]);
            let deadline = Instant::now() + T;
            let answer = loop {
                let out = ct.exec(&["sh", "-c", "nc -w 2 192.0.2.2 9000 </dev/null"]);
                if out.stdout_text().contains("pong") || Instant::now() > deadline {
                    break out;
                }
                std::thread::sleep(Duration::from_millis(100));
            };
            drop(listener);
            assert!(
                answer.stdout_text().contains("pong"),
                "{}",
                answer.describe()
            );
        }
        net.assert_clean();
    });
}

#[test]
fn macvlan_on_a_parent_in_the_test_namespace() {
    in_netns(|| {
        // This kernel has no dummy driver (CONFIG_DUMMY is off), so the parent is one end of
        // a veth pair whose other end plays the LAN's router, 10.77.0.1.
        host(&[
            "ip", "link", "add", "mvp0", "type", "veth", "peer", "name", "mvp1",
        ]);
        host(&["ip", "addr", "add", "10.77.0.1/24", "dev", "mvp1"]);
        host(&["ip", "link", "set", "mvp1", "up"]);
        host(&["ip", "link", "set", "mvp0", "up"]);
        let net = Net::new();
        {
            let hull = Hull::new();
            let flags = [
                "--mode",
                "macvlan",
                "--parent",
                "mvp0",
                "--subnet",
                "10.77.0.0/24",
            ];
            let a = net.container(&hull, &flags);
            let b = net.container(
                &hull,
                &[&flags[..], &["--ip", "10.77.0.50", "--mtu", "1400"]].concat(),
            );
            let show = net.show(b.id());
            assert_eq!(show["mode"], "macvlan");
            assert_eq!(show["parent"], "mvp0");
            assert_eq!(show["address"], "10.77.0.50/24");
            assert!(show.get("host_veth").is_none(), "{show}");
            let link = exec_ok(&b, &["ip", "-o", "link", "show", "eth0"]);
            assert!(link.contains("mtu 1400"), "{link}");
            assert!(link.contains(show["mac"].as_str().unwrap_or("?")), "{link}");
            ping_from(&a, "10.77.0.1");
            ping_from(&a, "10.77.0.50");
            ping_from(&b, &net.ip_of(a.id()));
            assert!(host_veths().is_empty(), "macvlan made a host veth");
        }
        net.assert_clean();
    });
}

#[test]
fn mode_none_leaves_only_lo_up() {
    in_netns(|| {
        let net = Net::new();
        {
            let hull = Hull::new();
            let ct = net.container(&hull, &["--mode", "none"]);
            let links = exec_ok(&ct, &["ip", "-o", "link"]);
            let names: Vec<&str> = links.lines().filter_map(|l| l.split(": ").nth(1)).collect();
            assert_eq!(names, ["lo"], "{links}");
            assert!(links.contains("UP"), "lo is up: {links}");
            let show = net.show(ct.id());
            assert_eq!(
                (show["mode"].as_str(), show["interface"].as_str()),
                (Some("none"), Some("lo"))
            );
            assert!(
                net.leftovers().iter().all(|l| l.starts_with("record")),
                "no lease for none"
            );
        }
        net.assert_clean();
    });
}

#[test]
fn twenty_parallel_attaches_get_distinct_addresses_and_leave_nothing() {
    in_netns(|| {
        let net = Net::new();
        let hull = Hull::new();
        let mut cts: Vec<Container> = (0..20)
            .map(|_| {
                hull.container(net.hooked(
                    Bundle::new().args(&["sleep", "1000"]),
                    &["--subnet", "10.66.0.0/24"],
                ))
            })
            .collect();
        // Threads made here share the test's network namespace.
        std::thread::scope(|s| {
            for ct in cts.iter_mut() {
                s.spawn(move || ct.create());
            }
        });
        let ips: std::collections::HashSet<String> =
            cts.iter().map(|c| net.ip_of(c.id())).collect();
        assert_eq!(ips.len(), 20, "addresses: {ips:?}");
        assert_eq!(host_veths().len(), 20);
        assert_eq!(net.leftovers().len(), 40, "20 leases and 20 records");
        for ct in &cts {
            let pid = ct.pid().unwrap_or_else(|| panic!("no pid after create"));
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap_or_else(|e| panic!("kill -9 the init: {e}"));
        }
        std::thread::scope(|s| {
            for ct in &cts {
                s.spawn(move || {
                    let out = ct.delete_force();
                    assert!(
                        !out.stderr_text().contains("poststop"),
                        "the detach hook of {} failed: {}",
                        ct.id(),
                        out.describe()
                    );
                    assert!(
                        out.status.success(),
                        "delete --force {}: {}",
                        ct.id(),
                        out.describe()
                    );
                });
            }
        });
        drop(cts);
        net.assert_clean();
    });
}

#[test]
fn lease_of_a_crashed_container_is_reclaimed() {
    in_netns(|| {
        let net = Net::new();
        // A /30 has a single container address: the new container can only get it back.
        let flags = ["--subnet", "10.55.0.0/30", "--publish", "8080:80"];
        let crashed = NsProc::start();
        let out = net.hull_net(
            &[&["attach"], &flags[..]].concat(),
            Some(&crashed.state("gone")),
        );
        assert!(out.status.success(), "attach: {}", out.describe());
        assert_eq!(net.ip_of("gone"), "10.55.0.2");
        // The container dies without its poststop hook (a host crash, a kill of everything).
        drop(crashed);
        {
            let hull = Hull::new();
            let ct = net.container(&hull, &flags);
            assert_eq!(net.ip_of(ct.id()), "10.55.0.2");
            let out = net.hull_net(&["show", "gone"], None);
            assert!(
                !out.status.success(),
                "the crashed container's record is gone"
            );
            let rules = host(&["nft", "list", "ruleset"]);
            assert!(!rules.contains("hull:gone"), "its rules are gone: {rules}");
            assert_eq!(rules.matches("dnat to 10.55.0.2:80").count(), 2, "{rules}");
        }
        net.assert_clean();
    });
}

#[test]
fn attach_twice_fails_naming_the_container_and_detach_twice_is_fine() {
    in_netns(|| {
        let net = Net::new();
        let target = NsProc::start();
        let state = target.state("twice");
        let out = net.hull_net(&["attach"], Some(&state));
        assert!(out.status.success(), "{}", out.describe());
        let again = net.hull_net(&["attach"], Some(&state));
        assert!(!again.status.success(), "second attach must fail");
        assert_one_line_error(&again, "second attach");
        assert!(
            again
                .stderr_text()
                .contains("container twice is already attached"),
            "{}",
            again.describe()
        );
        assert_eq!(
            net.ip_of("twice"),
            "10.88.0.2",
            "the first attachment is untouched"
        );
        // The poststop state of podman: no pid.
        for _ in 0..2 {
            let out = net.hull_net(
                &["detach"],
                Some(r#"{"ociVersion":"1.0.2","id":"twice","status":"stopped"}"#),
            );
            assert!(out.status.success(), "detach: {}", out.describe());
        }
        let out = net.hull_net(&["detach", "twice"], None);
        assert!(out.status.success(), "detach by id: {}", out.describe());
        drop(target);
        net.assert_clean();
    });
}

#[test]
fn bad_flags_fail_with_one_line_and_leave_nothing() {
    in_netns(|| {
        let net = Net::new();
        let target = NsProc::start();
        let cases: [(&[&str], &str); 5] = [
            (&["--subnet", "10.88.0.0/33"], "--subnet"),
            (&["--subnet", "ten.88.0.0/16"], "--subnet"),
            (&["--ip", "10.99.0.5"], "not in the subnet"),
            (&["--bridge", "bridge-name-of-16"], "longer than 15 bytes"),
            (
                &["--mode", "macvlan", "--parent", "nosuchif0"],
                "no such interface",
            ),
        ];
        for (flags, says) in cases {
            let out = net.hull_net(&[&["attach"], flags].concat(), Some(&target.state("bad")));
            assert!(!out.status.success(), "{flags:?} should fail");
            assert_one_line_error(&out, &format!("{flags:?}"));
            assert!(
                out.stderr_text().contains(says),
                "{flags:?}: {}",
                out.describe()
            );
            assert!(
                !link_names().iter().any(|n| n.starts_with("bridge-name")),
                "{flags:?} made a bridge"
            );
            assert_eq!(net.leftovers(), Vec::<String>::new(), "{flags:?}");
            assert!(host_veths().is_empty(), "{flags:?} left a veth");
        }
        // An exhausted subnet: the /30's only address is taken by a live container.
        let tiny = ["--subnet", "10.44.0.0/30", "--bridge", "tiny0"];
        let holder = NsProc::start();
        let out = net.hull_net(
            &[&["attach"], &tiny[..]].concat(),
            Some(&holder.state("holder")),
        );
        assert!(out.status.success(), "{}", out.describe());
        let out = net.hull_net(
            &[&["attach"], &tiny[..]].concat(),
            Some(&target.state("bad")),
        );
        assert!(!out.status.success(), "exhausted subnet should fail");
        assert_one_line_error(&out, "exhausted");
        assert!(
            out.stderr_text()
                .contains("no free address in 10.44.0.0/30"),
            "{}",
            out.describe()
        );
        assert!(net.hull_net(&["show", "bad"], None).status.code() != Some(0));
        assert_eq!(host_veths().len(), 1, "only the holder's veth");
        let out = net.hull_net(&["detach", "holder"], None);
        assert!(out.status.success(), "{}", out.describe());
        drop((holder, target));
        net.assert_clean();
    });
}

#[test]
fn a_failing_attach_hook_fails_create_and_leaves_nothing() {
    in_netns(|| {
        let net = Net::new();
        {
            let hull = Hull::new();
            let bundle = net.hooked(
                Bundle::new().args(&["sleep", "1000"]),
                &["--ip", "10.88.0.1"],
            );
            let mut ct = hull.container(bundle);
            let out = ct.create_with(&[]);
            assert!(!out.status.success(), "create with a failing hook");
            assert_one_line_error(&out, "create");
            assert_stderr_mentions(&out, &["createRuntime"]);
            assert_stderr_mentions(&out, &["gateway"]);
        }
        net.assert_clean();
    });
}

#[test]
fn spec_network_bridge_gives_a_networked_container() {
    in_netns(|| {
        let net = Net::new();
        {
            let hull = Hull::new();
            let mut bundle = Bundle::new();
            fs::remove_file(bundle.config_path())
                .unwrap_or_else(|e| panic!("remove the fixture config: {e}"));
            let dir = bundle.path().to_string_lossy().into_owned();
            let out = Command::new(hull_bin())
                .args(["spec", "--bundle", &dir, "--network", "bridge"])
                .output()
                .unwrap_or_else(|e| panic!("run hull spec: {e}"));
            assert!(out.status.success(), "spec: {}", out.describe());
            let written = read_json(&bundle.config_path());
            bundle.update_config(|c| {
                *c = written;
                assert_eq!(c["hooks"]["createRuntime"][0]["path"], hull_bin());
                // Only the test's changes: no terminal, a command, a private state dir.
                c["process"]["terminal"] = json!(false);
                c["process"]["args"] = json!(["sleep", "1000"]);
                c["root"]["readonly"] = json!(false);
                for point in ["createRuntime", "poststop"] {
                    if let Some(args) = c["hooks"][point][0]["args"].as_array_mut() {
                        args.extend([json!("--state-dir"), json!(net.state_dir())]);
                    }
                }
            });
            let mut ct = hull.container(bundle);
            ct.create();
            ct.start();
            let addr = exec_ok(&ct, &["ip", "-o", "-4", "addr", "show", "eth0"]);
            assert!(addr.contains("10.88.0.2/16"), "{addr}");
            let route = exec_ok(&ct, &["ip", "route"]);
            assert!(route.contains("default via 10.88.0.1"), "{route}");
            // runc's template grants no CAP_NET_RAW (no ping): talk TCP to the gateway.
            let _listener = Background::start(&[
                "busybox",
                "sh",
                "-c",
                "while true; do echo gateway | busybox nc -l -p 7000; done",
            ]);
            let deadline = Instant::now() + T;
            loop {
                let out = ct.exec(&["sh", "-c", "nc -w 2 10.88.0.1 7000 </dev/null"]);
                if out.stdout_text().contains("gateway") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "gateway unreachable: {}",
                    out.describe()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        net.assert_clean();
    });
}

/// Runs `script` with bash in a private mount namespace of the test's network namespace,
/// where a tmpfs hides the host's /run (containerd's socket, netns pins, runtime state) and
/// /var/lib is an overlay whose writes land in `work` (image caches), so the client under
/// test sees and leaves nothing of the host's. Arguments: `$1` runtime, `$2` busybox rootfs,
/// `$3` work dir. Returns stdout; fails the test unless the script exits 0.
fn client_script(script: &str, work: &std::path::Path) -> String {
    let private = r#"set -eu
mount -t tmpfs tmpfs /run
mkdir -p "$3/varlib-up" "$3/varlib-work"
mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$3/varlib-up,workdir=$3/varlib-work" /var/lib
"#;
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "bash", "-c"])
        .arg(format!("{private}{script}"))
        .arg("client-script")
        .arg(binary())
        .arg(fixture_rootfs())
        .arg(work);
    let out = spawn_in(cmd, work).wait_timeout(Duration::from_secs(300));
    assert!(
        out.status.success(),
        "client script failed: {}",
        out.describe()
    );
    out.stdout_text()
}

/// The value of `KEY=value` in a script's output.
fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in:\n{out}"))
        .to_string()
}

/// dockerd with its own data, exec root, socket and cgroup parent, hull added as a runtime,
/// the busybox fixture imported; two containers on dockerd's default bridge, networked by
/// the `libnetwork-setkey` prestart hook dockerd injects. Everything is removed on exit.
const DOCKER: &str = r#"
hull=$1 rootfs=$2 work=$3
cg=hull-it-docker-$$
# Sockets live under the private /run: unix socket paths must stay under 104 bytes.
exec_root=/run/hull-docker-$$
export DOCKER_HOST=unix://$exec_root.sock
cleanup() {
    docker rm -f srv >/dev/null 2>&1 || true
    if [ -n "${dockerd:-}" ]; then kill "$dockerd" 2>/dev/null || true; wait "$dockerd" || true; fi
    for pid in $(pgrep -f "$work/|$exec_root/" || true); do echo "LEAKED=$pid $(tr '\0' ' ' </proc/$pid/cmdline)"; kill -9 "$pid" || true; done
    for d in $(find /sys/fs/cgroup -maxdepth 2 -type d -name "$cg"); do find "$d" -depth -type d -exec rmdir {} +; done
}
trap cleanup EXIT
printf '{"deprecated-key-path": "%s"}' "$work/key.json" >"$work/daemon.json"
dockerd --data-root "$work/data" --exec-root "$exec_root" --pidfile "$work/docker.pid" \
    -H "$DOCKER_HOST" --config-file "$work/daemon.json" --storage-driver vfs \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/$cg" \
    --add-runtime "hull=$hull" >"$work/dockerd.log" 2>&1 &
dockerd=$!
# dockerd starts its own containerd first: slow on a loaded machine.
for i in $(seq 1200); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker version >/dev/null || { cat "$work/dockerd.log" >&2; exit 1; }
tar -C "$rootfs" -c . | docker import - hull-busybox >/dev/null
docker run -d --runtime hull --name srv hull-busybox sleep 1000 >/dev/null
echo "SERVER_IP=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' srv)"
echo "SERVER_RUNTIME=$(docker inspect -f '{{.HostConfig.Runtime}}' srv)"
ip=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' srv)
docker run --rm --runtime hull hull-busybox sh -c "ip -o -4 addr show eth0; ping -c 1 -w 5 $ip" >"$work/client.out" 2>&1 && echo PING=ok || echo PING=failed
sed 's/^/CLIENT: /' "$work/client.out"
"#;

#[test]
fn docker_default_bridge_reaches_another_container_through_hull() {
    requires(&["dockerd", "docker", "iptables", "tar"]);
    in_netns(|| {
        let work = Scratch::new("docker");
        let out = client_script(DOCKER, &work.0);
        assert!(!out.contains("LEAKED="), "processes left: {out}");
        assert_eq!(field(&out, "SERVER_RUNTIME"), "hull", "{out}");
        let ip = field(&out, "SERVER_IP");
        assert!(
            ip.starts_with("172.17."),
            "dockerd's default bridge address: {out}"
        );
        assert_eq!(field(&out, "PING"), "ok", "{out}");
        assert!(
            out.contains("CLIENT: ") && out.contains("inet 172.17."),
            "{out}"
        );
    });
}

/// podman with its own storage, run root and cgroup parent, hull as the runtime, and a
/// hooks.d that runs `hull network attach` (createRuntime) and `detach` (poststop, which
/// podman runs itself, with no pid in the state). `--network none` leaves the namespace to
/// the hook. podman asks for nofile and nproc limits above this sandbox's hard limits
/// (root here lacks CAP_SYS_RESOURCE), so the runs pass their own `--ulimit`.
const PODMAN: &str = r#"
hull=$1 rootfs=$2 work=$3
cg=hull-it-podman-$$
mkdir -p "$work/hooks"
for stage in createRuntime:attach poststop:detach; do
    cat >"$work/hooks/hull-${stage#*:}.json" <<JSON
{"version": "1.0.0", "hook": {"path": "$hull", "args": ["hull", "network", "${stage#*:}", "--state-dir", "$work/net"]},
 "when": {"always": true}, "stages": ["${stage%%:*}"]}
JSON
done
podman() {
    # /run is the script's own tmpfs (and podman refuses a run root over 50 characters).
    command podman --root "$work/root" --runroot /run/podman --tmpdir /run/libpod \
        --cgroup-manager cgroupfs --runtime "$hull" --hooks-dir "$work/hooks" \
        --events-backend file --storage-driver vfs "$@"
}
run_flags="--network none --cgroup-parent /$cg --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --cap-add NET_RAW"
cleanup() {
    podman rm -f -t 0 srv >/dev/null 2>&1 || true
    for pid in $(pgrep -f "$work/" || true); do echo "LEAKED=$pid $(tr '\0' ' ' </proc/$pid/cmdline)"; kill -9 "$pid" || true; done
    for d in $(find /sys/fs/cgroup -maxdepth 2 -type d -name "$cg"); do find "$d" -depth -type d -exec rmdir {} +; done
}
trap cleanup EXIT
tar -C "$rootfs" -c . | podman import - hull-busybox >/dev/null
id=$(podman run -d $run_flags --name srv hull-busybox sleep 1000)
"$hull" network show --state-dir "$work/net" "$id" | tr -d ' \n' | sed 's/^/SHOW=/'; echo
ip=$("$hull" network show --state-dir "$work/net" "$id" | sed -n 's/.*"address": "\([0-9.]*\)\/.*/\1/p')
podman run --rm $run_flags hull-busybox sh -c "ip -o -4 addr show eth0; ping -c 1 -w 5 $ip" >"$work/client.out" 2>&1 && echo PING=ok || echo PING=failed
sed 's/^/CLIENT: /' "$work/client.out"
podman rm -f -t 0 srv >/dev/null
echo "LINKS=$(ip -o link | awk -F': ' '{print $2}' | tr '\n' ' ')"
echo "LEASES=$(find "$work/net" -type f -name '10.*' | wc -l)"
echo "RECORDS=$(find "$work/net/attachments" -type f | wc -l)"
echo "RULES=$(nft list ruleset | grep -c 'comment "hull:' || true)"
"#;

#[test]
fn podman_hooks_attach_and_its_pidless_poststop_detaches() {
    requires(&["podman", "conmon", "tar"]);
    in_netns(|| {
        let work = Scratch::new("podman");
        let out = client_script(PODMAN, &work.0);
        assert!(!out.contains("LEAKED="), "processes left: {out}");
        let show = field(&out, "SHOW");
        assert!(
            show.contains(r#""mode":"bridge""#) && show.contains(r#""address":"10.88.0.2/16""#),
            "{out}"
        );
        assert_eq!(field(&out, "PING"), "ok", "{out}");
        assert!(
            out.contains("inet 10.88.0.3/16"),
            "the second container is attached too: {out}"
        );
        let links = field(&out, "LINKS");
        assert!(
            !links
                .split(' ')
                .any(|l| l.len() >= 15 && l.starts_with("hull")),
            "veth left: {out}"
        );
        assert_eq!(field(&out, "LEASES"), "0", "{out}");
        assert_eq!(field(&out, "RECORDS"), "0", "{out}");
        assert_eq!(field(&out, "RULES"), "0", "{out}");
    });
}
