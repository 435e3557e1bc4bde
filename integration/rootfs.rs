//! The container's filesystem as a user sees it from inside: `root` (relative path,
//! readonly), the default mount table and /dev, `linux.devices`, bind and tmpfs mounts,
//! masked and read-only paths, `rootfsPropagation`, `--no-pivot`, mount destinations behind
//! symlinks that point out of the rootfs, `cgroup` mounts and a `process.cwd` that does not
//! exist. Where runc 1.1 behaves the same the test passes against it too
//! (`HULL_TEST_BINARY=/usr/sbin/runc cargo test --test integration rootfs`); hull-only
//! behaviour is marked with `hull_only`.

use crate::support::hull::scratch_dir;
use crate::support::*;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Appends `m` to `mounts`; returns its index (what an error about it names).
fn add_mount(c: &mut Value, m: Value) -> usize {
    let mounts = list_mut(&mut c["mounts"]);
    mounts.push(m);
    mounts.len() - 1
}

/// A bind mount entry.
fn bind(source: &Path, destination: &str, options: &[&str]) -> Value {
    json!({
        "destination": destination,
        "type": "bind",
        "source": source,
        "options": options,
    })
}

/// The mount at `target` in /proc/mounts text: (source, fstype, options).
fn mount_at<'a>(mounts: &'a str, target: &str) -> Option<(&'a str, &'a str, Vec<&'a str>)> {
    mounts.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&target)).then(|| (f[0], f[2], f[3].split(',').collect()))
    })
}

/// Asserts that `target` is mounted with `fstype` (in the /proc/mounts text `mounts`) and
/// returns its options.
fn assert_mounted<'a>(mounts: &'a str, target: &str, fstype: &str) -> Vec<&'a str> {
    let (_, ty, opts) =
        mount_at(mounts, target).unwrap_or_else(|| panic!("nothing at {target}:\n{mounts}"));
    assert_eq!(ty, fstype, "{target}:\n{mounts}");
    opts
}

/// The text between `--- name` and the next `---` line in a script's output.
fn section<'a>(out: &'a str, name: &str) -> &'a str {
    let head = format!("--- {name}\n");
    let start = out
        .find(&head)
        .unwrap_or_else(|| panic!("no section {name} in:\n{out}"))
        + head.len();
    let rest = &out[start..];
    &rest[..rest.find("--- ").unwrap_or(rest.len())]
}

/// A directory on the host outside any bundle, for tests that need host mounts (a submount
/// for rbind, a propagation source). Optionally bound onto itself and made shared, so mount
/// propagation does not depend on how the host's own mounts are set up. Dropping it detaches
/// every mount in it and removes it.
struct HostTree {
    path: PathBuf,
}

impl HostTree {
    fn new(shared: bool) -> HostTree {
        let path = scratch_dir("host");
        let tree = HostTree { path };
        if shared {
            let p = tree.path.as_path();
            mount(Some(p), p, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .unwrap_or_else(|e| panic!("bind {} onto itself: {e}", p.display()));
            mount(
                None::<&str>,
                p,
                None::<&str>,
                MsFlags::MS_SHARED,
                None::<&str>,
            )
            .unwrap_or_else(|e| panic!("make {} shared: {e}", p.display()));
        }
        tree
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Mounts a small tmpfs at `<tree>/<rel>` (made if missing) holding `flag` = `text`.
    fn mount_tmpfs(&self, rel: &str, flag: &str, text: &str) -> PathBuf {
        let at = self.path.join(rel);
        fs::create_dir_all(&at).unwrap_or_else(|e| panic!("mkdir {}: {e}", at.display()));
        mount(
            Some("tmpfs"),
            &at,
            Some("tmpfs"),
            MsFlags::empty(),
            Some("size=64k"),
        )
        .unwrap_or_else(|e| panic!("mount tmpfs at {}: {e}", at.display()));
        write_file(&at.join(flag), text.as_bytes());
        at
    }
}

impl Drop for HostTree {
    fn drop(&mut self) {
        // Deepest first; a lazy detach of the top takes whatever is below it too.
        for m in mounts_under(&self.path).iter().rev() {
            let _ = umount2(m.as_str(), MntFlags::MNT_DETACH);
        }
        if mounts_under(&self.path).is_empty() {
            let _ = fs::remove_dir_all(&self.path);
        } else if !std::thread::panicking() {
            panic!("mounts left under {}", self.path.display());
        }
    }
}

#[test]
fn root_path_is_relative_to_the_bundle() {
    let hull = Hull::new();
    let mut bundle = Bundle::new();
    // A name other than the fixture's, and `create` runs with the test's cwd, not the
    // bundle: only a path resolved against the bundle finds this rootfs.
    let fs_dir = bundle.path().join("image-root");
    fs::rename(bundle.rootfs(), &fs_dir).expect("rename rootfs");
    bundle.update_config(|c| c["root"]["path"] = json!("image-root"));
    bundle.write_rootfs_file("/marker", "relative-root\n");
    let mut ct = hull.container(bundle.sh("cat /marker"));
    assert_eq!(ct.run_ok(), "relative-root\n");
}

#[test]
fn readonly_root_refuses_writes_but_a_tmpfs_mount_is_writable() {
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| {
            c["root"]["readonly"] = json!(true);
            add_mount(
                c,
                json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}),
            );
        })
        .sh("touch /written 2>&1 && echo root-writable; \
             touch /tmp/ok && echo tmp-writable; grep ' / ' /proc/mounts");
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    assert!(out.contains("Read-only file system"), "EROFS on /: {out}");
    assert!(!out.contains("root-writable"), "{out}");
    assert!(out.contains("tmp-writable"), "{out}");
    let (_, _, opts) = mount_at(&out, "/").unwrap_or_else(|| panic!("no / in {out}"));
    assert!(opts.contains(&"ro"), "/ is mounted ro: {out}");
    assert!(!ct.bundle().rootfs().join("written").exists());
}

#[test]
fn default_mount_table_and_dev_from_inside() {
    let hull = Hull::new();
    let bundle = Bundle::new().sh("echo '--- mounts'; cat /proc/mounts; \
         echo '--- dev'; ls -A /dev; \
         echo '--- nodes'; for n in null zero full random urandom tty; do \
           stat -c '%n %F %t:%T %a %u:%g' /dev/$n; done; \
         echo '--- links'; for l in fd stdin stdout stderr ptmx; do \
           echo $l $(readlink /dev/$l); done; \
         echo '--- sys'; touch /sys/kernel/hull-probe 2>&1; echo '--- end'");
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    let mounts = section(&out, "mounts");
    assert_mounted(mounts, "/proc", "proc");
    assert_mounted(mounts, "/dev", "tmpfs");
    assert_mounted(mounts, "/dev/pts", "devpts");
    assert_mounted(mounts, "/dev/shm", "tmpfs");
    assert_mounted(mounts, "/dev/mqueue", "mqueue");
    let sys = assert_mounted(mounts, "/sys", "sysfs");
    assert!(sys.contains(&"ro"), "/sys is read-only: {mounts}");
    assert!(
        section(&out, "sys").contains("Read-only file system"),
        "{out}"
    );

    let dev: BTreeSet<&str> = section(&out, "dev").split_whitespace().collect();
    let mut want: BTreeSet<&str> = [
        "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
        "stdout", "tty", "urandom", "zero",
    ]
    .into_iter()
    .collect();
    // /dev/core -> /proc/kcore only where the kernel has one (runc's rule too).
    if Path::new("/proc/kcore").exists() {
        want.insert("core");
    }
    assert_eq!(dev, want, "exactly the default /dev entries");

    // stat prints major:minor in hex.
    let nodes: Vec<&str> = section(&out, "nodes").lines().collect();
    assert_eq!(
        nodes,
        [
            "/dev/null character special file 1:3 666 0:0",
            "/dev/zero character special file 1:5 666 0:0",
            "/dev/full character special file 1:7 666 0:0",
            "/dev/random character special file 1:8 666 0:0",
            "/dev/urandom character special file 1:9 666 0:0",
            "/dev/tty character special file 5:0 666 0:0",
        ]
    );
    let links: Vec<&str> = section(&out, "links").lines().collect();
    assert_eq!(
        links,
        [
            "fd /proc/self/fd",
            "stdin /proc/self/fd/0",
            "stdout /proc/self/fd/1",
            "stderr /proc/self/fd/2",
            "ptmx pts/ptmx",
        ]
    );
}

#[test]
fn linux_devices_make_nodes_and_fifos() {
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| {
            c["linux"]["devices"] = json!([
                // /dev/fuse-like: not in the cgroup's allow list, so opening it is refused.
                {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                 "fileMode": 0o640, "uid": 1000, "gid": 1001},
                // A copy of /dev/null under another name: allowed by the default rules.
                {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
                 "fileMode": 0o666},
                {"path": "/dev/sub/fifo", "type": "p", "fileMode": 0o620},
            ])
        })
        .sh(
            "stat -c '%n %F %t:%T %a %u:%g' /dev/fuse /dev/mynull /dev/sub/fifo; \
             echo data > /dev/mynull && echo wrote-mynull; \
             echo read $(cat /dev/mynull | wc -c); \
             cat /dev/fuse 2>/dev/null || echo fuse-refused",
        );
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "/dev/fuse character special file a:e5 640 1000:1001",
            "/dev/mynull character special file 1:3 666 0:0",
            "/dev/sub/fifo fifo 0:0 620 0:0",
            "wrote-mynull",
            "read 0",
            "fuse-refused",
        ]
    );
}

#[test]
fn a_device_outside_dev_is_refused() {
    // runc 1.1 makes the node wherever the path says.
    if hull_only("hull confines linux.devices to /dev") {
        return;
    }
    let hull = Hull::new();
    let bundle = Bundle::new().with(|c| {
        c["linux"]["devices"] = json!([{"path": "/etc/evil", "type": "c", "major": 1, "minor": 3}])
    });
    let mut ct = hull.container(bundle);
    let out = ct.create_with(&[]);
    assert!(!out.status.success(), "{}", out.describe());
    assert_one_line_error(&out, "device outside /dev");
    assert_stderr_mentions(&out, &["linux.devices[0].path"]);
    assert!(!ct.bundle().rootfs().join("etc/evil").exists());
}

#[test]
fn bind_mounts_of_a_file_and_a_directory() {
    let hull = Hull::new();
    let bundle = Bundle::new();
    let dir = bundle.scratch().join("shared-dir");
    fs::create_dir(&dir).unwrap();
    write_file(&dir.join("from-host"), b"dir-content\n");
    let file = bundle.scratch().join("single-file");
    write_file(&file, b"file-content\n");
    let bundle = bundle
        .with(|c| {
            add_mount(c, bind(&dir, "/mnt/dir", &["bind"]));
            add_mount(c, bind(&file, "/etc/bound-file", &["bind"]));
        })
        .sh("cat /mnt/dir/from-host /etc/bound-file; echo inside > /mnt/dir/from-container");
    let mut ct = hull.container(bundle);
    assert_eq!(ct.run_ok(), "dir-content\nfile-content\n");
    assert_eq!(
        fs::read_to_string(dir.join("from-container")).unwrap(),
        "inside\n",
        "a rw bind writes through to the host directory"
    );
}

#[test]
fn a_ro_bind_refuses_writes() {
    let hull = Hull::new();
    let bundle = Bundle::new();
    let dir = bundle.scratch().join("ro-src");
    fs::create_dir(&dir).unwrap();
    write_file(&dir.join("f"), b"keep\n");
    let bundle = bundle
        .with(|c| {
            add_mount(c, bind(&dir, "/mnt/ro", &["bind", "ro"]));
        })
        .sh("cat /mnt/ro/f; { echo x > /mnt/ro/f; } 2>&1; touch /mnt/ro/new 2>&1; true");
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    assert!(out.starts_with("keep\n"), "{out}");
    assert_eq!(out.matches("Read-only file system").count(), 2, "{out}");
    assert_eq!(fs::read_to_string(dir.join("f")).unwrap(), "keep\n");
    assert!(!dir.join("new").exists());
}

#[test]
fn rbind_brings_submounts_and_bind_does_not() {
    let host = HostTree::new(false);
    host.mount_tmpfs("sub", "flag", "submount\n");
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| {
            add_mount(c, bind(host.path(), "/mnt/r", &["rbind"]));
            add_mount(c, bind(host.path(), "/mnt/b", &["bind"]));
        })
        .sh("cat /mnt/r/sub/flag; ls -A /mnt/b/sub | wc -l");
    let mut ct = hull.container(bundle);
    assert_eq!(ct.run_ok(), "submount\n0\n");
}

#[test]
fn bind_source_relative_to_the_bundle() {
    let hull = Hull::new();
    let bundle = Bundle::new();
    let data = bundle.path().join("data");
    fs::create_dir(&data).unwrap();
    write_file(&data.join("f"), b"relative-source\n");
    let bundle = bundle
        .with(|c| {
            add_mount(c, bind(Path::new("data"), "/data", &["bind"]));
        })
        .sh("cat /data/f");
    let mut ct = hull.container(bundle);
    assert_eq!(ct.run_ok(), "relative-source\n");
}

#[test]
fn a_missing_bind_source_fails_create_and_leaves_nothing() {
    let hull = Hull::new();
    let mut bundle = Bundle::new();
    let missing = bundle.scratch().join("no-such-source");
    let mut index = 0;
    bundle.update_config(|c| index = add_mount(c, bind(&missing, "/mnt/x", &["bind"])));
    let mut ct = hull.container(bundle);
    let out = ct.create_with(&[]);
    assert!(!out.status.success(), "{}", out.describe());
    assert_one_line_error(&out, "missing bind source");
    if is_hull() {
        assert_stderr_mentions(&out, &[&format!("mounts[{index}]")]);
    }
    assert_stderr_mentions(&out, &[&missing.to_string_lossy()]);
    assert!(!ct.try_state().status.success(), "no container left");
    // The guard checks processes, state dir, cgroups and mounts when `ct` drops.
}

#[test]
fn tmpfs_options_show_in_proc_mounts() {
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| {
            add_mount(
                c,
                json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "nodev", "size=2048k", "mode=700"]}),
            );
        })
        .sh("grep ' /mnt/t ' /proc/mounts; stat -c %a /mnt/t");
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    let opts = assert_mounted(&out, "/mnt/t", "tmpfs");
    for want in ["rw", "nosuid", "nodev", "size=2048k", "mode=700"] {
        assert!(opts.contains(&want), "{want} in {out}");
    }
    assert!(out.ends_with("\n700\n"), "{out}");
}

#[test]
fn tmpcopyup_keeps_the_image_files() {
    let hull = Hull::new();
    let bundle = Bundle::new();
    bundle.write_rootfs_file("/var/cache/app/seed", "from-image\n");
    let bundle = bundle
        .with(|c| {
            add_mount(
                c,
                json!({"destination": "/var/cache/app", "type": "tmpfs", "source": "tmpfs",
                       "options": ["tmpcopyup"]}),
            );
        })
        .sh(
            "cat /var/cache/app/seed; echo changed > /var/cache/app/seed; \
             grep ' /var/cache/app ' /proc/mounts",
        );
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    assert!(out.starts_with("from-image\n"), "{out}");
    assert_mounted(&out, "/var/cache/app", "tmpfs");
    assert_eq!(
        fs::read_to_string(ct.bundle().rootfs().join("var/cache/app/seed")).unwrap(),
        "from-image\n",
        "writes go to the tmpfs copy, not the image"
    );
}

#[test]
fn masked_and_readonly_paths() {
    let hull = Hull::new();
    let bundle = Bundle::new();
    bundle.write_rootfs_file("/etc/secret", "top-secret\n");
    bundle.write_rootfs_file("/var/secret-dir/key", "k\n");
    bundle.write_rootfs_file("/var/ro-dir/f", "readable\n");
    let bundle = bundle
        .with(|c| {
            let masked = list_mut(&mut c["linux"]["maskedPaths"]);
            masked.push(json!("/etc/secret"));
            masked.push(json!("/var/secret-dir"));
            masked.push(json!("/var/not-there"));
            let ro = list_mut(&mut c["linux"]["readonlyPaths"]);
            ro.push(json!("/var/ro-dir"));
        })
        .sh(
            "echo secret $(cat /etc/secret | wc -c); \
             echo dir $(ls -A /var/secret-dir | wc -l); \
             touch /var/secret-dir/x 2>&1; \
             echo kcore $(cat /proc/kcore | wc -c); \
             cat /var/ro-dir/f; touch /var/ro-dir/new 2>&1; { echo x > /var/ro-dir/f; } 2>&1; true",
        );
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "secret 0", "a masked file reads empty: {out}");
    assert_eq!(lines[1], "dir 0", "a masked directory is empty: {out}");
    assert!(lines[2].contains("Read-only file system"), "{out}");
    assert_eq!(lines[3], "kcore 0", "{out}");
    assert_eq!(lines[4], "readable", "{out}");
    assert!(lines[5].contains("Read-only file system"), "{out}");
    assert!(lines[6].contains("Read-only file system"), "{out}");
    let rootfs = ct.bundle().rootfs();
    assert_eq!(
        fs::read_to_string(rootfs.join("etc/secret")).unwrap(),
        "top-secret\n"
    );
    assert!(
        !rootfs.join("var/not-there").exists(),
        "a missing masked path is skipped"
    );
}

/// Starts a sleeper with `<host tree>` bound at /mnt/tree and `propagation` as
/// rootfsPropagation (None: the default), then mounts a tmpfs on the host under the tree
/// and reports whether the container sees it.
fn host_mount_seen_inside(propagation: Option<&str>) -> bool {
    let host = HostTree::new(true);
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| {
            add_mount(c, bind(host.path(), "/mnt/tree", &["rbind"]));
            if let Some(p) = propagation {
                c["linux"]["rootfsPropagation"] = json!(p);
            }
        })
        .args(&["sleep", "1000"]);
    let mut ct = hull.container(bundle);
    ct.create();
    ct.start();
    host.mount_tmpfs("late", "flag", "late-mount\n");
    let out = ct.exec(&["cat", "/mnt/tree/late/flag"]);
    let seen = out.status.success();
    if seen {
        assert_eq!(out.stdout_text(), "late-mount\n");
    }
    drop(ct);
    seen
}

#[test]
fn rootfs_propagation_default_rslave_receives_host_mounts() {
    assert!(
        host_mount_seen_inside(None),
        "default rslave: a host mount made after start shows inside"
    );
}

#[test]
fn rootfs_propagation_rprivate_does_not() {
    assert!(
        !host_mount_seen_inside(Some("rprivate")),
        "rprivate: a host mount made after start stays outside"
    );
}

#[test]
fn no_pivot_still_shows_only_the_rootfs() {
    let hull = Hull::new();
    let bundle = Bundle::new();
    bundle.write_rootfs_file("/only-in-rootfs", "x");
    // A host file outside the rootfs and outside /dev (which the container's own /dev
    // tmpfs would hide anyway).
    let host_file = bundle.scratch().join("host-only");
    write_file(&host_file, b"host");
    let bundle = bundle.sh(&format!(
        "ls -A /; cd /..; test -e {} && echo host-visible; echo parent $(pwd)",
        host_file.display()
    ));
    let mut ct = hull.container(bundle);
    let out = ct.run(&["--no-pivot"]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    let text = out.stdout_text();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.pop(), Some("parent /"), "{text}");
    let seen: BTreeSet<&str> = lines.into_iter().collect();
    let want: BTreeSet<String> = fs::read_dir(ct.bundle().rootfs())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let want: BTreeSet<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(seen, want, "/ is the rootfs");
}

#[test]
fn symlinked_destinations_stay_inside_the_rootfs() {
    let hull = Hull::new();
    let bundle = Bundle::new();
    let rootfs = bundle.rootfs();
    // An absolute link to the host's /etc, and a relative one that climbs far above the
    // rootfs (to the host's / if followed on the host).
    symlink("/etc", rootfs.join("link-etc")).unwrap();
    fs::create_dir_all(rootfs.join("a/b")).unwrap();
    symlink("../../../../../../../../../..", rootfs.join("a/b/up")).unwrap();
    let name = unique("cve");
    let src = bundle.scratch().join("bind-src");
    write_file(&src, b"bound\n");
    let bundle = bundle
        .with(|c| {
            add_mount(c, bind(&src, &format!("/link-etc/{name}"), &["bind"]));
            add_mount(
                c,
                json!({"destination": format!("/a/b/up/tmp/{name}"),
                       "type": "tmpfs", "source": "tmpfs"}),
            );
        })
        .sh(&format!(
            "cat /etc/{name}; grep -c ' /tmp/{name} tmpfs ' /proc/mounts"
        ));
    let mut ct = hull.container(bundle);
    assert_eq!(ct.run_ok(), "bound\n1\n");
    assert!(
        !Path::new("/etc").join(&name).exists(),
        "nothing made in the host's /etc"
    );
    assert!(
        !Path::new("/tmp").join(&name).exists(),
        "nothing made in the host's /tmp"
    );
    let rootfs = ct.bundle().rootfs();
    assert!(
        rootfs.join("etc").join(&name).is_file(),
        "file mountpoint in the rootfs"
    );
    assert!(
        rootfs.join("tmp").join(&name).is_dir(),
        "dir mountpoint in the rootfs"
    );
}

/// The pids hierarchy as the container sees it at its `cgroup` mount, and the pattern of its
/// line in /proc/self/cgroup: the v1 controller on a v1/hybrid host, else the unified root.
fn pids_hierarchy() -> (&'static str, &'static str) {
    if Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists() {
        ("/sys/fs/cgroup/pids", "^[0-9]+:pids:")
    } else {
        ("/sys/fs/cgroup", "^0::")
    }
}

/// Runs a container with a cgroup mount (base.json has one at /sys/fs/cgroup) and checks it
/// shows the container's own cgroup, read-only. Returns the pids line of /proc/self/cgroup.
fn cgroup_mount_check(cgroupns: bool) -> String {
    let hull = Hull::new();
    let (dir, line) = pids_hierarchy();
    let bundle = Bundle::new()
        .with(|c| {
            if cgroupns {
                let ns = list_mut(&mut c["linux"]["namespaces"]);
                ns.push(json!({"type": "cgroup"}));
            }
        })
        .sh(&format!(
            "echo '--- procs'; cat {dir}/cgroup.procs; \
             echo '--- subdirs'; find {dir} -mindepth 1 -type d | wc -l; \
             echo '--- ro'; mkdir {dir}/hull-probe 2>&1; \
             echo '--- self'; grep -E '{line}' /proc/self/cgroup; echo '--- end'"
        ));
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    let procs: Vec<&str> = section(&out, "procs").lines().collect();
    assert!(
        procs.contains(&"1"),
        "the mount shows the container's cgroup, which holds its pid 1: {out}"
    );
    assert_eq!(
        section(&out, "subdirs").trim(),
        "0",
        "no other cgroups below it: {out}"
    );
    assert!(
        section(&out, "ro").contains("Read-only file system"),
        "{out}"
    );
    section(&out, "self").trim().to_string()
}

#[test]
fn cgroup_mount_without_cgroupns_shows_the_containers_cgroup() {
    let line = cgroup_mount_check(false);
    assert!(
        !line.ends_with(":/"),
        "no cgroupns: the host path shows: {line}"
    );
}

#[test]
fn cgroup_mount_with_cgroupns_shows_the_containers_cgroup() {
    let line = cgroup_mount_check(true);
    assert!(
        line.ends_with(":/"),
        "cgroupns is rooted at the container: {line}"
    );
}

#[test]
fn a_missing_cwd_is_created() {
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| c["process"]["cwd"] = json!("/does/not/exist"))
        .sh("pwd");
    let mut ct = hull.container(bundle);
    assert_eq!(ct.run_ok(), "/does/not/exist\n");
    assert!(ct.bundle().rootfs().join("does/not/exist").is_dir());
}

#[test]
fn a_missing_cwd_is_created_under_a_readonly_root() {
    let hull = Hull::new();
    let bundle = Bundle::new()
        .with(|c| {
            c["process"]["cwd"] = json!("/work/dir");
            c["root"]["readonly"] = json!(true);
        })
        .sh("pwd; touch here 2>&1; true");
    let mut ct = hull.container(bundle);
    let out = ct.run_ok();
    assert!(out.starts_with("/work/dir\n"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    let made = ct.bundle().rootfs().join("work/dir");
    assert!(made.is_dir());
    let mode = fs::metadata(&made).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "made like mkdir -p");
    assert_eq!(fs::metadata(&made).unwrap().uid(), 0);
}

#[test]
fn an_exec_failure_after_start_is_reported() {
    let hull = Hull::new();
    let bundle = Bundle::new().args(&["/bin/sh", "-c", "echo ran"]);
    // A private copy first: bundles hard-link the shared busybox, which must never be
    // held open for writing (every other test's container would hit ETXTBSY).
    let busybox = bundle.rootfs().join("bin/busybox");
    let private = bundle.rootfs().join("bin/busybox.private");
    fs::copy(&busybox, &private).unwrap();
    fs::rename(&private, &busybox).unwrap();
    // Held open for writing on the host, the rootfs' busybox resolves fine at create but
    // execve fails with ETXTBSY after start, when `create` has stopped listening to the init.
    let _writer = fs::OpenOptions::new().append(true).open(&busybox).unwrap();
    let mut ct = hull.container(bundle);
    let out = ct.run(&[]);
    assert_ne!(out.code(), 0, "{}", out.describe());
    assert_eq!(out.stdout_text(), "", "nothing ran");
    assert_one_line_error(&out, "exec after start");
    assert_stderr_mentions(&out, &["text file busy"]);
}
