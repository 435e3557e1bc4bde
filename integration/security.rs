//! Escape classes, each tried against the runtime, plus the LSM fields on a host without
//! AppArmor or SELinux:
//! - CVE-2019-5736: a process in the container scans /proc for hull processes (an `exec`'s
//!   tenant, the init of a container joining its pid namespace, the built-in PID 1) and tries
//!   to open their `/proc/<pid>/exe` and write through it, with and without CAP_SYS_PTRACE;
//!   the runtime binary (a private copy, so a working attack damages nothing else) must never
//!   be opened and keep its bytes.
//! - CVE-2024-21626 (the rest is in process.rs): `exec --cwd /proc/self/fd/N`.
//! - CVE-2021-30465 / CVE-2024-45310: a host process swaps a path on the way to a mount
//!   destination for a symlink to a host path while containers are created; every mount must
//!   land inside the rootfs (or create fail) and nothing is created in the host path. (In hull createRuntime hooks run after the mounts, so
//!   the swap must race them from outside, as the CVE's exploit did from a second container.)
//! - CVE-2019-16884 class: /proc in the image is a symlink; /proc is a tmpfs or a bind of a
//!   plain directory; a masked path becomes a symlink to a host file (createRuntime hook); a
//!   readonly path is bind-mounted back writable by a createContainer or startContainer hook.
//! - fds: with the built-in init and a seccomp listener, the process and PID 1 hold no fd of
//!   hull's beyond stdio.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

/// A private copy of the runtime binary for attacks that would overwrite it.
struct RuntimeCopy {
    path: PathBuf,
    original: Vec<u8>,
}

impl RuntimeCopy {
    fn new(dir: &Path) -> RuntimeCopy {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(binary_name());
        std::fs::copy(binary(), &path).unwrap_or_else(|e| panic!("copy runtime: {e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        let original = std::fs::read(&path).unwrap_or_else(|e| panic!("read copy: {e}"));
        RuntimeCopy { path, original }
    }

    fn command(&self, hull: &Hull, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.arg("--root").arg(hull.root()).args(args);
        cmd
    }

    fn assert_intact(&self) {
        let now = std::fs::read(&self.path).unwrap_or_else(|e| panic!("read copy: {e}"));
        assert!(
            now == self.original,
            "the runtime binary {} was modified from inside a container",
            self.path.display()
        );
    }
}

/// Runs in the container as its process: opens `/proc/<pid>/exe` of every process it can
/// see that is not busybox, prints `open <pid> <target>`, tries to write through it (printing
/// `WROTE ...` on success), until /tmp/stop exists; then prints `scan-done <passes>`.
const SCANNER: &str = r#"
end=$(($(date +%s) + 30)); n=0
while [ ! -e /tmp/stop ] && [ $(date +%s) -lt $end ]; do
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = 1 ] && [ "$$" = 1 ] && continue
    { t=$(readlink /proc/self/fd/3)
      case "$t" in /bin/busybox) ;; *)
        echo "open $p $t"
        if (printf x >>/proc/self/fd/3) 2>/dev/null; then echo "WROTE $p $t"; fi ;;
      esac; } 2>/dev/null 3<"$d/exe"
  done
  n=$((n+1))
done
echo "scan-done $n"
"#;

fn with_ptrace(c: &mut Value) {
    for set in ["bounding", "effective", "permitted", "ambient"] {
        if let Some(list) = c["process"]["capabilities"][set].as_array_mut() {
            list.push(json!("CAP_SYS_PTRACE"));
        }
    }
}

/// The `open` and `WROTE` lines of the scanner's output.
fn scanner_findings(stdout: &str) -> (Vec<String>, Vec<String>) {
    let opens = stdout
        .lines()
        .filter(|l| l.starts_with("open "))
        .map(String::from)
        .collect();
    let wrote = stdout
        .lines()
        .filter(|l| l.starts_with("WROTE "))
        .map(String::from)
        .collect();
    (opens, wrote)
}

/// What a scanner found must be harmless: nothing written, and with CAP_SYS_PTRACE at most
/// the sealed copy opened (without it, nothing at all: every hull process is non-dumpable).
fn assert_no_handle(stdout: &str, ptrace: bool, copy: &RuntimeCopy) {
    let (opens, wrote) = scanner_findings(stdout);
    assert!(wrote.is_empty(), "wrote through a runtime exe: {wrote:?}");
    let host = copy.path.to_string_lossy().into_owned();
    for line in &opens {
        assert!(
            !line.contains(&host) && !line.contains(&*binary().to_string_lossy()),
            "opened the host runtime binary: {line}"
        );
        if is_hull() {
            assert!(
                ptrace && line.contains("memfd:hull-sealed"),
                "ptrace {ptrace}: opened a runtime process's exe: {line}"
            );
        }
    }
    eprintln!(
        "scanner (ptrace {ptrace}) opened {} runtime exe(s)",
        opens.len()
    );
    copy.assert_intact();
}

#[test]
fn execs_and_joining_inits_never_hand_out_the_runtime_binary() {
    for ptrace in [false, true] {
        let hull = Hull::new();
        let mut bundle = Bundle::new().sh(SCANNER);
        if ptrace {
            bundle.update_config(with_ptrace);
        }
        let copy = RuntimeCopy::new(bundle.scratch());
        let mut ct = hull.container(bundle);
        ct.run_detached(&[]);
        let init = ct.pid().expect("scanner pid");
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut n = 0;
        while Instant::now() < deadline {
            // An exec: its tenant runs hull code inside the container's pid namespace.
            let out = hull.output_of(copy.command(&hull, &["exec", ct.id(), "true"]));
            assert_eq!(out.code(), 0, "{}", out.describe());
            // A container joining the scanner's pid namespace: its init is visible too.
            if n % 4 == 0 {
                let pidns = format!("/proc/{init}/ns/pid");
                let b = Bundle::new().args(&["true"]).with(|c| {
                    let ns = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
                    ns.retain(|n| n["type"] != "pid");
                    ns.push(json!({"type": "pid", "path": pidns}));
                });
                let joiner = hull.container(b);
                let path = joiner.bundle().path().to_string_lossy().into_owned();
                let out =
                    hull.output_of(copy.command(&hull, &["run", "--bundle", &path, joiner.id()]));
                assert_eq!(out.code(), 0, "{}", out.describe());
            }
            n += 1;
        }
        let out = ct.exec(&["touch", "/tmp/stop"]);
        assert_eq!(out.code(), 0, "{}", out.describe());
        let text = ct.wait_for_stdout("scan-done", T);
        eprintln!("{n} execs and joining creates raced against the scanner");
        assert_no_handle(&text, ptrace, &copy);
    }
}

#[test]
fn the_builtin_init_is_a_sealed_copy_even_to_ptrace() {
    if hull_only("built-in init") {
        return;
    }
    for ptrace in [false, true] {
        let hull = Hull::new();
        let mut bundle = Bundle::new().sh(SCANNER);
        if ptrace {
            bundle.update_config(with_ptrace);
        }
        let copy = RuntimeCopy::new(bundle.scratch());
        let mut ct = hull.container(bundle);
        let path = ct.bundle().path().to_string_lossy().into_owned();
        let sp = spawn_in(
            copy.command(&hull, &["run", "--init", "--bundle", &path, ct.id()]),
            hull.io_dir(),
        );
        let (out_file, _) = sp.paths();
        // Let the scanner see PID 1 for a while (once it runs: slow under emulation), then
        // stop it.
        ct.wait_for_status("running", Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(500));
        let out = ct.exec(&["touch", "/tmp/stop"]);
        assert_eq!(out.code(), 0, "{}", out.describe());
        let run = sp.wait();
        assert_eq!(run.code(), 0, "{}", run.describe());
        let text = std::fs::read_to_string(out_file).unwrap_or_default();
        assert!(text.contains("scan-done"), "{text}");
        assert_no_handle(&text, ptrace, &copy);
        if ptrace {
            assert!(
                text.lines().any(|l| l.starts_with("open 1 ")),
                "with CAP_SYS_PTRACE PID 1's exe opens (and is the sealed copy): {text}"
            );
        }
    }
}

/// A host directory with a marker file, opened as fd 7 in the runtime's caller.
fn host_secret_dir(bundle: &Bundle) -> PathBuf {
    let dir = bundle.scratch().join("host");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    write_file(&dir.join("host-secret"), b"secret\n");
    dir
}

/// `<runtime> --root R <args...>` with `redirs` (e.g. `7</dir`) applied by a shell first.
fn with_fds(hull: &Hull, redirs: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("exec \"$0\" \"$@\" {redirs}"))
        .arg(binary())
        .arg("--root")
        .arg(hull.root())
        .args(args);
    hull.output_of(cmd)
}

#[test]
fn exec_cwd_through_an_inherited_fd_stays_in_the_container() {
    // CVE-2024-21626 through `exec --cwd`: process.rs covers process.cwd, the executable
    // and fds of the runtime for create/run; this is the exec flag.
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().args(&["sleep", "1000"]));
    ct.run_detached(&[]);
    let dir = host_secret_dir(ct.bundle());
    let redirs = format!("7<'{}'", dir.display());
    for n in 3..=15 {
        let cwd = format!("/proc/self/fd/{n}");
        let out = with_fds(
            &hull,
            &redirs,
            &[
                "exec",
                "--cwd",
                &cwd,
                ct.id(),
                "sh",
                "-c",
                "pwd; ls; ls ../../..",
            ],
        );
        assert!(
            !out.stdout_text().contains("host-secret"),
            "exec --cwd {cwd} reached the host: {}",
            out.describe()
        );
        if n == 7 {
            assert_ne!(out.code(), 0, "{}", out.describe());
            assert_one_line_error(&out, "exec --cwd through an inherited fd");
        }
    }
}

/// Swaps `dir/a` and `dir/b` (RENAME_EXCHANGE) until `stop` is set; returns the swap count.
fn swap_until(
    dir: PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    use nix::fcntl::{renameat2, RenameFlags};
    use std::sync::atomic::Ordering;
    std::thread::spawn(move || {
        let d = std::fs::File::open(&dir).unwrap_or_else(|e| panic!("open {}: {e}", dir.display()));
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            renameat2(&d, "sub", &d, "sub-swap", RenameFlags::RENAME_EXCHANGE)
                .unwrap_or_else(|e| panic!("renameat2: {e}"));
            n += 1;
        }
        // Leave the directory in place, the symlink aside.
        if std::fs::symlink_metadata(dir.join("sub")).is_ok_and(|m| m.file_type().is_symlink()) {
            let _ = renameat2(&d, "sub", &d, "sub-swap", RenameFlags::RENAME_EXCHANGE);
        }
        n
    })
}

#[test]
fn a_mount_destination_swapped_for_a_symlink_lands_inside_the_rootfs() {
    // CVE-2021-30465: `/shared` is a volume another party controls (here a host thread; in
    // the exploit a second container); it swaps `/shared/sub`, on the way to a later mount's
    // destination, between a directory and a symlink to a host path while containers are
    // created. Followed outside the rootfs, the runtime would create `inner` in the host
    // path and mount there; resolved in the rootfs, the symlink leads to a copy of that path
    // inside it. Creating `inner` there is CVE-2024-45310, which runc 1.1.5 has: against it
    // this test fails (seen here: `inner` appeared in the host directory).
    if hull_only("runc 1.1.5 creates directories through a raced symlink (CVE-2024-45310)") {
        return;
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    let hull = Hull::new();
    let setup = Bundle::without_rootfs(json!({}));
    let host = setup.scratch().join("host-target");
    let shared = setup.scratch().join("shared");
    let vol = setup.scratch().join("vol");
    for d in [&host, &shared, &shared.join("sub"), &vol] {
        std::fs::create_dir(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
    }
    write_file(&host.join("host-secret"), b"host\n");
    write_file(&vol.join("volume-marker"), b"volume\n");
    std::os::unix::fs::symlink(&host, shared.join("sub-swap")).expect("symlink");
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let racer = swap_until(shared.clone(), stop.clone());
    let mut created = 0;
    for _ in 0..25 {
        let bundle = Bundle::new()
            .sh("cat /shared/sub/inner/volume-marker 2>&1; true")
            .with(|c| {
                let m = c["mounts"].as_array_mut().expect("mounts");
                m.push(json!({"destination": "/shared", "type": "bind", "source": shared, "options": ["rbind"]}));
                m.push(json!({"destination": "/shared/sub/inner", "type": "bind", "source": vol, "options": ["bind"]}));
            });
        let mut ct = hull.container(bundle);
        let out = ct.run(&[]);
        assert!(
            !out.stdout_text().contains("host-secret"),
            "the container sees the host path: {}",
            out.describe()
        );
        if out.code() == 0 {
            created += 1;
            // The mount is in the directory, or under the symlink's target resolved inside
            // the rootfs (hull refuses a component it created that turns into a symlink).
            assert!(
                out.stdout_text().contains("volume"),
                "the volume is not where the container looks: {}",
                out.describe()
            );
        } else {
            assert_one_line_error(&out, "a raced mount destination");
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = racer.join().expect("racer");
    eprintln!("{swaps} swaps; {created}/25 containers created, the rest refused");
    let listing: Vec<_> = std::fs::read_dir(&host)
        .expect("host dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(listing, ["host-secret"], "the host path was written to");
    assert!(
        mounts_under(setup.scratch()).is_empty(),
        "a mount landed on the host"
    );
}

/// The process: print /proc's filesystem type, what the masked /proc/timer_list holds, and
/// whether the host's kernel.panic sysctl (not namespaced) can be written (the same value
/// back: harmless).
const PROC_PROBE: &str = "echo fstype=$(stat -f -c %T /proc/); echo masked=$(head -c 16 /proc/timer_list 2>&1); \
    v=$(cat /proc/sys/kernel/panic) && echo \"$v\" > /proc/sys/kernel/panic && echo WROTE-SYSCTL; true";

/// Either create failed with one error line, or the container saw a real, protected /proc.
fn assert_proc_protected(out: &Output, what: &str) {
    let text = out.stdout_text();
    assert!(
        !text.contains("FAKE"),
        "{what}: the fake /proc was used: {}",
        out.describe()
    );
    assert!(
        !text.contains("WROTE-SYSCTL"),
        "{what}: /proc/sys writable: {}",
        out.describe()
    );
    if out.code() == 0 {
        assert!(text.contains("fstype=proc"), "{what}: {}", out.describe());
        assert!(
            text.contains("masked=\n"),
            "{what}: timer_list not masked: {}",
            out.describe()
        );
    } else {
        assert_one_line_error(out, what);
    }
}

/// A fake procfs tree in the image at `rootfs/<rel>`.
fn fake_proc(bundle: &Bundle, rel: &str) {
    bundle.write_rootfs_file(&format!("{rel}/timer_list"), "FAKE-TIMER-LIST\n");
    bundle.write_rootfs_file(&format!("{rel}/sys/kernel/panic"), "FAKE\n");
    bundle.write_rootfs_file(&format!("{rel}/self/attr/exec"), "");
}

#[test]
fn proc_as_a_symlink_in_the_image_is_never_used() {
    let hull = Hull::new();
    for target in ["fakeproc", "/fakeproc", "../../fakeproc"] {
        let bundle = Bundle::new().sh(PROC_PROBE);
        fake_proc(&bundle, "fakeproc");
        let proc = bundle.rootfs().join("proc");
        std::fs::remove_dir(&proc).unwrap_or_else(|e| panic!("rmdir {}: {e}", proc.display()));
        std::os::unix::fs::symlink(target, &proc).expect("symlink /proc");
        let mut ct = hull.container(bundle);
        let out = ct.run(&[]);
        assert_proc_protected(&out, &format!("/proc -> {target}"));
        if is_hull() {
            assert_ne!(
                out.code(),
                0,
                "hull refuses a symlink at /proc: {}",
                out.describe()
            );
            assert_stderr_mentions(&out, &["/proc"]);
        }
    }
}

#[test]
fn proc_that_is_not_procfs_protects_nothing_fake() {
    // A tmpfs or a plain directory at /proc: an empty one holds nothing to protect, but one
    // with files at masked or readonly paths would be "protected" while the real ones are not,
    // and an LSM label written there would silently not apply (CVE-2019-16884). hull refuses
    // the latter (runc 1.1.5 masks the fake files).
    let hull = Hull::new();
    let fake = Bundle::without_rootfs(json!({}));
    let dir = fake.scratch().join("proc");
    std::fs::create_dir_all(dir.join("sys/kernel")).expect("mkdir");
    write_file(&dir.join("timer_list"), b"FAKE-TIMER-LIST\n");
    write_file(&dir.join("sys/kernel/panic"), b"0\n");
    let cases = [
        (
            json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}),
            false,
        ),
        (
            json!({"destination": "/proc", "type": "bind", "source": dir, "options": ["bind"]}),
            true,
        ),
    ];
    for (replacement, refused) in cases {
        let mut ct = hull.container(Bundle::new().sh(PROC_PROBE).with(|c| {
            let m = c["mounts"].as_array_mut().expect("mounts");
            m.retain(|m| m["type"] != "proc");
            m.insert(0, replacement.clone());
        }));
        let out = ct.run(&[]);
        let text = out.stdout_text();
        assert!(!text.contains("FAKE"), "{replacement}: {}", out.describe());
        assert!(
            !text.contains("WROTE-SYSCTL"),
            "{replacement}: {}",
            out.describe()
        );
        assert!(
            !text.contains("fstype=proc"),
            "{replacement}: {}",
            out.describe()
        );
        if refused && is_hull() {
            assert_ne!(out.code(), 0, "{replacement}: {}", out.describe());
            assert_one_line_error(&out, "a fake /proc");
            assert_stderr_mentions(&out, &["procfs"]);
        }
    }
}

/// A host file with a marker, outside every rootfs.
fn host_file(bundle: &Bundle) -> PathBuf {
    let f = bundle.scratch().join("host-file");
    write_file(&f, b"host-secret\n");
    f
}

/// A hook running `sh -c <script>`.
fn sh_hook(script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

#[test]
fn a_masked_path_swapped_for_a_symlink_to_a_host_file() {
    let hull = Hull::new();
    let mut bundle = Bundle::new().sh("cat /etc/hull-masked 2>&1; echo; readlink /etc/hull-masked");
    bundle.write_rootfs_file("etc/hull-masked", "container-private\n");
    let host = host_file(&bundle);
    let link = bundle.rootfs().join("etc/hull-masked");
    let swap = format!(
        "rm -f '{0}' && ln -s '{1}' '{0}'",
        link.display(),
        host.display()
    );
    bundle.update_config(|c| {
        c["linux"]["maskedPaths"]
            .as_array_mut()
            .expect("maskedPaths")
            .push(json!("/etc/hull-masked"));
        c["hooks"] = json!({"createRuntime": [sh_hook(&swap)]});
    });
    let mut ct = hull.container(bundle);
    let out = ct.run(&[]);
    assert!(
        !out.stdout_text().contains("host-secret"),
        "the container read the host file: {}",
        out.describe()
    );
    if out.code() != 0 {
        assert_one_line_error(&out, "masked path swapped for a symlink");
    }
    assert_eq!(
        std::fs::read_to_string(&host).unwrap_or_default(),
        "host-secret\n",
        "the host file changed"
    );
    assert!(
        mounts_under(ct.bundle().scratch()).is_empty(),
        "something was mounted on the host"
    );
}

#[test]
fn a_readonly_path_made_writable_by_a_create_container_hook() {
    // createContainer hooks run in the container's mount namespace with the runtime's
    // privileges, before the readonly paths are applied: a bind over /proc/sys must not end
    // up as a writable /proc/sys.
    let hull = Hull::new();
    let bundle = Bundle::new().sh(PROC_PROBE);
    let rootfs = bundle.rootfs();
    let scripts = [
        format!("mount --bind '{0}/tmp' '{0}/proc/sys'", rootfs.display()),
        format!(
            "mount -o remount,rw '{0}/proc' && mount --bind '{0}/proc/sys' '{0}/proc/sys'",
            rootfs.display()
        ),
    ];
    drop(bundle);
    for script in scripts {
        let bundle = Bundle::new().sh(PROC_PROBE);
        let script = script.replace(
            &*rootfs.to_string_lossy(),
            &bundle.rootfs().to_string_lossy(),
        );
        let mut ct = hull.container(
            bundle.with(|c| c["hooks"] = json!({"createContainer": [sh_hook(&script)]})),
        );
        let out = ct.run(&[]);
        assert!(
            !out.stdout_text().contains("WROTE-SYSCTL"),
            "{script}: /proc/sys writable: {}",
            out.describe()
        );
        if out.code() != 0 {
            assert_one_line_error(&out, &script);
        }
    }
}

#[test]
fn a_readonly_path_made_writable_by_a_start_container_hook() {
    // startContainer hooks run in the container after the privilege drop: the remount fails
    // and /proc/sys stays read-only.
    let hull = Hull::new();
    let hook = sh_hook(
        "mount -o remount,bind,rw /proc/sys 2>/dev/null; mount --bind /tmp /proc/sys 2>/dev/null; true",
    );
    let mut ct = hull.container(
        Bundle::new()
            .sh(PROC_PROBE)
            .with(|c| c["hooks"] = json!({"startContainer": [hook]})),
    );
    let out = ct.run(&[]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    assert_proc_protected(&out, "startContainer remount");
}

#[test]
fn the_builtin_init_and_its_child_hold_only_stdio() {
    if hull_only("built-in init") {
        return;
    }
    let hull = Hull::new();
    let mut ct = hull.container(
        Bundle::new().sh("echo fds; ls /proc/$$/fd; echo end; echo ready; exec sleep 1000"),
    );
    ct.spawn_run(&["--init"]);
    let text = ct.wait_for_stdout("ready", T);
    let fds: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "fds")
        .skip(1)
        .take_while(|l| *l != "end")
        .collect();
    assert_eq!(fds, ["0", "1", "2"], "the process's fds: {text}");
    // PID 1 runs hull code for the container's whole life: apart from stdio, only
    // anonymous objects (signalfd, pidfd, pipes, sockets), never a host file or directory.
    let init = hull.state(ct.id())["pid"].as_i64().expect("pid");
    let dir = format!("/proc/{init}/fd");
    for entry in std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
    {
        let n: u32 = entry.file_name().to_string_lossy().parse().unwrap_or(0);
        let target = std::fs::read_link(entry.path()).unwrap_or_default();
        let t = target.to_string_lossy();
        let anonymous = ["anon_inode:", "pipe:", "socket:"]
            .iter()
            .any(|p| t.starts_with(p));
        assert!(n <= 2 || anonymous, "PID 1 holds fd {n} -> {t}");
    }
    ct.kill("KILL");
    let _ = ct.wait_run();
}

/// Whether this host has AppArmor / SELinux (the error paths below need it not to).
fn host_lsm() -> (bool, bool) {
    let h = ::hull::security::HostLsm::detect();
    (h.apparmor, h.selinux)
}

#[test]
fn lsm_fields_the_host_cannot_apply_are_refused_before_anything_runs() {
    let (apparmor, selinux) = host_lsm();
    let hull = Hull::new();
    let cases = [
        ("/process/apparmorProfile", "docker-default", apparmor),
        (
            "/process/selinuxLabel",
            "system_u:system_r:container_t:s0",
            selinux,
        ),
        (
            "/linux/mountLabel",
            "system_u:object_r:container_file_t:s0",
            selinux,
        ),
    ];
    for (pointer, value, present) in cases {
        let field = pointer.trim_start_matches('/').replace('/', ".");
        if present {
            eprintln!("NOTE: the host has the LSM for {field}; its error path is not tried");
            continue;
        }
        let mut ct = hull.container(Bundle::new().args(&["touch", "/ran"]).with(|c| {
            let (parent, key) = pointer.rsplit_once('/').expect("pointer");
            c.pointer_mut(parent).expect("parent")[key] = json!(value);
        }));
        let out = ct.run(&[]);
        assert_ne!(out.code(), 0, "{field}: {}", out.describe());
        assert_one_line_error(&out, &field);
        assert!(
            !ct.bundle().rootfs().join("ran").exists(),
            "{field}: the process ran"
        );
        if is_hull() {
            assert_stderr_mentions(&out, &[&field]);
            assert_stderr_mentions(&out, &["not enabled on this host"]);
        }
    }
}

#[test]
fn exec_label_flags_the_host_cannot_apply_are_refused() {
    if hull_only("runc 1.1.5 accepts --apparmor and --process-label and fails inside") {
        return;
    }
    let (apparmor, selinux) = host_lsm();
    let hull = Hull::new();
    let mut ct = hull.container(Bundle::new().args(&["sleep", "1000"]));
    ct.run_detached(&[]);
    let process = ct.bundle().scratch().join("process.json");
    let mut p = ct.bundle().config()["process"].clone();
    p["args"] = json!(["touch", "/ran"]);
    p["apparmorProfile"] = json!("docker-default");
    write_file(&process, p.to_string().as_bytes());
    let cases: [(&[&str], &str, bool); 3] = [
        (&["--apparmor", "docker-default"], "--apparmor", apparmor),
        (
            &["--process-label", "system_u:system_r:container_t:s0"],
            "--process-label",
            selinux,
        ),
        (
            &["--process", &process.to_string_lossy()],
            "process.apparmorProfile",
            apparmor,
        ),
    ];
    for (flags, named, present) in cases {
        if present {
            eprintln!("NOTE: the host has the LSM for {named}; its error path is not tried");
            continue;
        }
        let command: &[&str] = if named.starts_with("process.") {
            &[]
        } else {
            &["touch", "/ran"]
        };
        let out = ct.exec_with(flags, command);
        assert_ne!(out.code(), 0, "{named}: {}", out.describe());
        assert_one_line_error(&out, named);
        assert_stderr_mentions(&out, &[named]);
        assert!(
            !ct.bundle().rootfs().join("ran").exists(),
            "{named}: the process ran"
        );
    }
    // The container is untouched: only its own process runs in it.
    let ps = ct.exec(&["ps", "-o", "comm"]);
    assert_eq!(
        ps.stdout_text()
            .lines()
            .filter(|l| l.trim() == "sleep")
            .count(),
        1
    );
}

#[test]
fn features_reports_an_lsm_only_where_the_host_has_it() {
    if hull_only("runc reports the LSMs it was built with") {
        return;
    }
    let (apparmor, selinux) = host_lsm();
    let out = Hull::new().ok(&["features"]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("features JSON");
    assert_eq!(
        doc["linux"]["apparmor"]["enabled"],
        json!(apparmor),
        "{doc}"
    );
    assert_eq!(doc["linux"]["selinux"]["enabled"], json!(selinux), "{doc}");
}
