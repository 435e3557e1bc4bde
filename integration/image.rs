//! `hull image`: images made by `bundle-fixtures/images/gen.py` (OCI layouts with gzip,
//! plain and zstd layers, whiteouts, an opaque dir, hardlinks, devices, a nested index, a
//! docker-save archive, broken and malicious layouts) unpacked flat and as overlays of a
//! layer store, cross-checked against umoci, and run as containers: lower, changed, deleted
//! and opaque content, copy-on-write into the upper dir, whiteouts for deletes, `diff` and
//! `commit`, layers untouched by delete, a shared layer stored once.

use crate::support::*;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The generated images, made once per test process.
fn images() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = crate::support::hull::scratch_base();
        // Images of test processes that are gone (each process keeps its own until exit).
        for entry in fs::read_dir(&base).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix(".images-")
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        let dir = base.join(format!(".images-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let gen = fixtures_dir().join("images/gen.py");
        let out = Command::new("python3")
            .arg(&gen)
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("run gen.py: {e}"));
        assert!(
            out.status.success(),
            "gen.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// A scratch dir removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        Scratch(crate::support::hull::scratch_dir(tag))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Unpacks `src` into a fresh bundle (`store`: overlay mode) and wraps it as a [`Bundle`].
fn unpacked(hull: &Hull, src: &Path, reference: &str, store: Option<&Path>) -> Bundle {
    let mut bundle = Bundle::without_rootfs(json!({}));
    fs::remove_file(bundle.config_path()).unwrap_or_else(|e| panic!("rm config.json: {e}"));
    let mut args: Vec<String> = vec![
        "image".into(),
        "unpack".into(),
        "--ref".into(),
        reference.into(),
    ];
    if let Some(s) = store {
        args.extend([
            "--overlay".into(),
            "--store".into(),
            s.display().to_string(),
        ]);
    }
    args.extend([
        src.display().to_string(),
        bundle.path().display().to_string(),
    ]);
    let out = hull.ok(&args);
    // Quiet when not on a terminal.
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        out.describe()
    );
    let config = read_json(&bundle.config_path());
    bundle.update_config(|c| *c = config);
    bundle
}

/// What every container from the v1 image must see (both modes).
const CHECK_V1: &str = "set -e; cat /data/lower.txt; cat /data/changed.txt; \
    test ! -e /data/deleted.txt && echo deleted-gone; test ! -e /data/gone && echo dir-gone; \
    ls /opq | tr '\\n' ' '; echo; cat /app/run.sh | tail -1; cat /etc/motd; pwd; \
    echo $HULL_IMAGE; stat -c %h /hard/b; ls /opq2; cat /data/same.txt";

fn check_v1_output(out: &str) {
    let want = [
        "from layer 1",
        "v2 from layer 2",
        "deleted-gone",
        "dir-gone",
        "new ",
        "echo app v3",
        "top layer",
        "/data",
        "1",
        "2",
        "keep",
        "same layer",
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, want, "container output:\n{out}");
}

fn run_check(hull: &Hull, bundle: Bundle) {
    let mut ct = hull.container(bundle.sh(CHECK_V1));
    let out = ct.run(&[]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    check_v1_output(&out.stdout_text());
}

#[test]
fn flat_unpack_runs_with_every_layer_applied() {
    requires(&["root"]);
    if hull_only("hull image") {
        return;
    }
    let hull = Hull::new();
    let bundle = unpacked(&hull, &images().join("layout"), "v1", None);
    let c = bundle.config().clone();
    assert_eq!(c["process"]["cwd"], json!("/data"));
    assert_eq!(
        c["annotations"]["org.opencontainers.image.stopSignal"],
        json!("SIGINT")
    );
    assert_eq!(
        c["annotations"]["org.opencontainers.image.exposedPorts"],
        json!("8080/tcp")
    );
    assert_eq!(c["annotations"]["org.example.test"], json!("yes"));
    assert!(c["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["destination"] == json!("/vol")));
    let rootfs = bundle.rootfs();
    assert_eq!(
        fs::metadata(rootfs.join("srv/setuid")).unwrap().mode() & 0o7777,
        0o4755
    );
    assert!(fs::symlink_metadata(rootfs.join("srv/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(
        fs::metadata(rootfs.join("srv/null")).unwrap().rdev(),
        libc::makedev(1, 3)
    );
    assert_eq!(
        fs::metadata(rootfs.join("hard/a")).unwrap().ino(),
        fs::metadata(rootfs.join("hard/b")).unwrap().ino()
    );
    run_check(&hull, bundle);
}

#[test]
fn flat_unpack_equals_umoci() {
    requires(&["root", "umoci", "python3"]);
    if hull_only("hull image") {
        return;
    }
    let hull = Hull::new();
    let scratch = Scratch::new("umoci");
    let theirs = scratch.0.join("umoci");
    let src = images().join("layout-gz");
    let out = Command::new("umoci")
        .args(["unpack", "--image", &format!("{}:v1", src.display())])
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let compare = fixtures_dir().join("images/compare.py");
    // The gzip layout, the zstd/plain layout and the docker archive (plain and gzipped) all
    // give umoci's tree.
    for (src, r) in [
        (src.clone(), "v1"),
        (images().join("layout"), "v1"),
        (images().join("docker.tar"), "hulltest:v1"),
        (images().join("docker.tar.gz"), "hulltest:v1"),
    ] {
        let bundle = unpacked(&hull, &src, r, None);
        let out = Command::new("python3")
            .arg(&compare)
            .arg(bundle.rootfs())
            .arg(theirs.join("rootfs"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} differs from umoci:\n{}",
            src.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn overlay_container_writes_only_its_upper_dir() {
    requires(&["root", "overlay"]);
    if hull_only("hull image") {
        return;
    }
    let hull = Hull::new();
    let store = Scratch::new("store");
    let bundle = unpacked(&hull, &images().join("layout"), "v1", Some(&store.0));
    let upper = bundle.path().join("upper");
    let layers_before = tree_digest(&store.0);
    run_check(
        &hull,
        unpacked(&hull, &images().join("layout"), "v1", Some(&store.0)),
    );
    let script =
        "set -e; echo new > /data/new.txt; rm /data/lower.txt; echo more >> /data/changed.txt; \
                  rm -r /opq/new; mkdir /added";
    let mut ct = hull.container(bundle.sh(script));
    ct.create();
    ct.start();
    ct.wait_for_status("stopped", Duration::from_secs(20));
    assert_eq!(
        fs::read_to_string(upper.join("data/new.txt")).unwrap(),
        "new\n"
    );
    assert_eq!(
        fs::read_to_string(upper.join("data/changed.txt")).unwrap(),
        "v2 from layer 2\nmore\n"
    );
    for deleted in ["data/lower.txt", "opq/new"] {
        let m = fs::symlink_metadata(upper.join(deleted)).unwrap();
        assert!(
            m.file_type().is_char_device() && m.rdev() == 0,
            "{deleted} is not a whiteout"
        );
    }
    let diff = hull.ok(&["image", "diff", ct.id()]).stdout_text();
    for line in [
        "A /added",
        "C /data",
        "C /data/changed.txt",
        "D /data/lower.txt",
        "A /data/new.txt",
        "D /opq/new",
    ] {
        assert!(
            diff.lines().any(|l| l == line),
            "diff lacks {line:?}:\n{diff}"
        );
    }
    let layer = store.0.join("commit.tar");
    let out = hull
        .ok(&[
            "image",
            "commit",
            "--output",
            &layer.display().to_string(),
            ct.id(),
        ])
        .stdout_text();
    assert!(
        out.contains("digest sha256:") && out.contains("diff_id sha256:"),
        "{out}"
    );
    let names = Command::new("tar").arg("-tf").arg(&layer).output().unwrap();
    let names = String::from_utf8_lossy(&names.stdout);
    for n in ["data/.wh.lower.txt", "data/new.txt", "opq/.wh.new", "added"] {
        assert!(
            names.lines().any(|l| l.trim_end_matches('/') == n),
            "commit lacks {n}:\n{names}"
        );
    }
    ct.delete();
    assert!(
        !upper.exists() && !bundle_path(&ct).join("work").exists(),
        "upper/work left after delete"
    );
    assert_eq!(tree_digest(&store.0), layers_before, "layers changed");
}

fn bundle_path(ct: &Container) -> PathBuf {
    ct.bundle().path().to_path_buf()
}

/// Names, modes and contents of everything under `dir` (the store's layers).
fn tree_digest(dir: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("cd \"$1\" && find layers -exec stat -c '%n %f %u %g %s %Y' {} + | sort && find layers -type f -exec sha256sum {} + | sort")
        .arg("sh")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("sh: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_shared_layer_is_extracted_once() {
    requires(&["root", "overlay"]);
    if hull_only("hull image") {
        return;
    }
    let hull = Hull::new();
    let store = Scratch::new("store");
    let _v1 = unpacked(&hull, &images().join("layout"), "v1", Some(&store.0));
    let layers = store.0.join("layers/sha256");
    let count = || fs::read_dir(&layers).unwrap().count();
    assert_eq!(count(), 3);
    let base = fs::read_dir(&layers)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("bin/busybox").exists())
        .expect("base layer");
    let before = fs::metadata(&base).unwrap();
    let v2 = unpacked(&hull, &images().join("layout"), "v2", Some(&store.0));
    assert_eq!(count(), 4, "v2 adds only its own layer");
    let after = fs::metadata(&base).unwrap();
    assert_eq!(
        (before.ino(), before.mtime(), before.ctime()),
        (after.ino(), after.mtime(), after.ctime())
    );
    let mut ct = hull.container(v2);
    let out = ct.run(&[]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    assert_eq!(out.stdout_text(), "image v2\n");
    assert_eq!(fs::read_dir(store.0.join("tmp")).unwrap().count(), 0);
}

#[test]
fn gc_removes_only_layers_no_bundle_names() {
    requires(&["root", "overlay"]);
    if hull_only("hull image") {
        return;
    }
    let hull = Hull::new();
    let store = Scratch::new("gc-store");
    let s = store.0.display().to_string();
    let v1 = unpacked(&hull, &images().join("layout"), "v1", Some(&store.0));
    let v2 = unpacked(&hull, &images().join("layout"), "v2", Some(&store.0));
    let layers = store.0.join("layers/sha256");
    let count = || fs::read_dir(&layers).unwrap().count();
    assert_eq!(count(), 4, "v1's three layers and v2's own");
    let gc = |extra: &[&str]| {
        let mut args = vec!["image", "gc", "--store", &s];
        args.extend_from_slice(extra);
        hull.ok(&args).stdout_text()
    };
    assert_eq!(gc(&[]), "removed 0 layers (0 MiB), kept 4\n");

    // v2's bundle is deleted: only its own layer goes; the shared base stays for v1.
    let v2_path = v2.path().to_path_buf();
    drop(v2);
    let out = gc(&["--dry-run"]);
    assert!(
        out.contains(&format!("would forget bundle {}", v2_path.display())),
        "{out}"
    );
    assert!(
        out.contains("would remove 1 layers") && out.contains("kept 3"),
        "{out}"
    );
    assert_eq!(count(), 4, "a dry run removes nothing");
    fs::create_dir(store.0.join("tmp/crashed-unpack")).unwrap();
    let out = gc(&[]);
    assert!(out.contains("removed 1 layers"), "{out}");
    assert!(out.contains("kept 3"), "{out}");
    assert_eq!(count(), 3);
    assert_eq!(fs::read_dir(store.0.join("tmp")).unwrap().count(), 0);
    assert_eq!(fs::read_dir(store.0.join("refs")).unwrap().count(), 1);

    // A bundle whose config.json cannot be parsed stops gc before anything is removed.
    let good = fs::read(v1.config_path()).unwrap();
    write_file(&v1.config_path(), b"{not json");
    let out = hull.fails(&["image", "gc", "--store", &s]);
    assert_one_line_error(&out, "gc with a broken config.json");
    assert_stderr_mentions(&out, &["config.json"]);
    assert_eq!(count(), 3);
    write_file(&v1.config_path(), &good);

    // v1 still runs on what gc kept.
    run_check(&hull, v1);

    // A path that is not a store is refused, and not made into one.
    let nowhere = store.0.join("not-a-store");
    let out = hull.fails(&["image", "gc", "--store", &nowhere.display().to_string()]);
    assert_stderr_mentions(&out, &["not a hull layer store"]);
    assert!(!nowhere.exists());
}

#[test]
fn references_nested_indexes_and_docker_archives() {
    requires(&["root"]);
    if hull_only("hull image") {
        return;
    }
    let hull = Hull::new();
    let multi = unpacked(&hull, &images().join("layout"), "multi", None);
    assert_eq!(
        fs::read_to_string(multi.rootfs().join("etc/motd")).unwrap(),
        "top layer\n"
    );
    let docker = unpacked(&hull, &images().join("docker.tar"), "hulltest:v1", None);
    assert_eq!(
        docker.config()["process"]["user"],
        json!({"uid": 1000, "gid": 1001})
    );
    let scratch = Scratch::new("noref");
    let out = hull.fails(&[
        "image",
        "unpack",
        &images().join("layout").display().to_string(),
        &scratch.0.join("b").display().to_string(),
    ]);
    assert_stderr_mentions(&out, &["--ref"]);
    let out = hull.fails(&[
        "image",
        "unpack",
        "--ref",
        "nope",
        &images().join("layout").display().to_string(),
        &scratch.0.join("b").display().to_string(),
    ]);
    assert_stderr_mentions(&out, &["nope"]);
}

#[test]
fn bad_images_fail_in_one_line_and_leave_nothing() {
    requires(&["root"]);
    if hull_only("hull image") {
        return;
    }
    let hull = Hull::new();
    let cases = [
        ("missing-blob", "missing from"),
        ("digest-mismatch", "digest mismatch"),
        ("truncated", "deflate"),
        ("corrupt", "deflate"),
        ("unknown-media-type", "unknown media type"),
        ("escape-dotdot", "entry ../escape.txt: refused"),
        ("escape-hardlink", "entry h: refused"),
        (
            "docker-truncated.tar.gz",
            "docker-truncated.tar.gz: incomplete deflate stream",
        ),
    ];
    for overlay in [false, true] {
        for (case, words) in cases {
            let scratch = Scratch::new(case);
            let bundle = scratch.0.join("bundle");
            let store = scratch.0.join("store");
            let mut args = vec!["image".to_string(), "unpack".into()];
            if overlay {
                args.extend([
                    "--overlay".into(),
                    "--store".into(),
                    store.display().to_string(),
                ]);
            }
            args.extend([
                images().join("bad").join(case).display().to_string(),
                bundle.display().to_string(),
            ]);
            let out = hull.fails(&args);
            assert_stderr_mentions(&out, &[words]);
            let left: Vec<_> = fs::read_dir(&scratch.0)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            let want: Vec<std::ffi::OsString> = if overlay && store.exists() {
                vec!["store".into()]
            } else {
                vec![]
            };
            assert_eq!(left, want, "{case}: left behind");
            if overlay && store.exists() {
                assert_eq!(
                    fs::read_dir(store.join("tmp")).unwrap().count(),
                    0,
                    "{case}: store tmp"
                );
            }
        }
    }
}

#[test]
fn escaping_links_are_confined_to_the_rootfs() {
    requires(&["root"]);
    if hull_only("hull image") {
        return;
    }
    let hull = Hull::new();
    let bundle = unpacked(&hull, &images().join("bad/confined"), "v1", None);
    let rootfs = bundle.rootfs();
    assert_eq!(
        fs::read_to_string(rootfs.join("tmp/hull-confined.txt")).unwrap(),
        "confined\n"
    );
    assert_eq!(fs::read_to_string(rootfs.join("abs.txt")).unwrap(), "abs\n");
    assert_eq!(
        fs::read_to_string(rootfs.join("etc/through-symlink")).unwrap(),
        "through\n"
    );
    assert!(!Path::new("/tmp/hull-confined.txt").exists());
    assert!(!Path::new("/etc/through-symlink").exists());
    assert_eq!(
        fs::metadata(rootfs.join("lnk-hard")).unwrap().ino(),
        fs::metadata(rootfs.join("etc/hostname")).unwrap().ino()
    );
}

#[test]
fn overlay_rootfs_in_a_user_namespace_is_refused() {
    requires(&["root"]);
    if hull_only("hull image") {
        return;
    }
    let hull = Hull::new();
    let store = Scratch::new("store");
    let bundle = unpacked(&hull, &images().join("layout"), "v2", Some(&store.0)).with(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    let mut ct = hull.container(bundle);
    let out = ct.create_with(&[]);
    assert!(!out.status.success());
    assert_stderr_mentions(&out, &["user namespace"]);
}
