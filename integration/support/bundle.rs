//! A fresh bundle per test: the busybox fixture rootfs copied into a scratch directory and
//! `config.json` from `bundle-fixtures/base.json`, edited with `update_config` the way runc's
//! bats helpers edit theirs. Dropping it removes the directory, but never through a mount.

use super::hull::scratch_dir;
use super::leaks::mounts_under;
use serde_json::Value;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `bundle-fixtures/` of this checkout.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bundle-fixtures")
}

/// Runs `bundle-fixtures/<script>` (which builds what is missing) and returns the path it
/// prints.
pub fn fixture_script_output(script: &str) -> PathBuf {
    let script = fixtures_dir().join(script);
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The fixture rootfs, built once per test process by `build-rootfs.sh` (fast when current).
pub fn fixture_rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| fixture_script_output("build-rootfs.sh"))
}

/// The fixture rootfs copied once per test process next to the bundles (same filesystem),
/// so each bundle can hard-link its executables instead of writing them.
///
/// Writing a copy of busybox into every bundle raced with the suite's other threads: a child
/// forked meanwhile inherits the open write fd until it execs, and a container whose init
/// execs that busybox in that window fails with ETXTBSY. A hard link is never open for
/// writing; the cache is written once, before any container can exec it.
fn rootfs_cache() -> &'static Path {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    CACHE.get_or_init(|| {
        let base = super::hull::scratch_base().join(".rootfs-cache");
        let _ = fs::create_dir_all(&base);
        // Caches of test processes that are gone.
        for entry in fs::read_dir(&base).into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().parse::<u32>().ok();
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        let dir = base.join(std::process::id().to_string());
        let _ = fs::remove_dir_all(&dir);
        copy_tree(fixture_rootfs(), &dir, false);
        dir
    })
}

/// `bundle-fixtures/base.json`, parsed.
pub fn base_config() -> Value {
    read_json(&fixtures_dir().join("base.json"))
}

/// Reads and parses a JSON file, failing the test with the path on error.
pub fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Writes `bytes` to `path` by a new temporary file and a rename, so a reader never sees half
/// a file and an existing symlink at `path` is replaced, not followed.
pub fn write_file(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp-write");
    let _ = fs::remove_file(&tmp);
    let mut f = File::create_new(&tmp).unwrap_or_else(|e| panic!("create {}: {e}", tmp.display()));
    f.write_all(bytes)
        .unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    drop(f);
    fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
}

/// Copies a tree, keeping symlinks, modes and owners (the fixture has a uid-1000 home);
/// with `link_executables`, executable files are hard-linked instead of copied.
pub fn copy_tree(from: &Path, to: &Path, link_executables: bool) {
    let meta = fs::symlink_metadata(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        std::os::unix::fs::symlink(target, to)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", to.display()));
    } else if ft.is_dir() {
        fs::create_dir(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
        for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
            let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", from.display()));
            copy_tree(&entry.path(), &to.join(entry.file_name()), link_executables);
        }
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", to.display()));
    } else if link_executables && meta.mode() & 0o111 != 0 && fs::hard_link(from, to).is_ok() {
        return;
    } else {
        fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
    lchown(to, Some(meta.uid()), Some(meta.gid()))
        .unwrap_or_else(|e| panic!("chown {}: {e}", to.display()));
}

/// A bundle directory owned by one test: `<scratch>/bundle/{config.json,rootfs/}`.
#[derive(Debug)]
pub struct Bundle {
    scratch: PathBuf,
    path: PathBuf,
    config: Value,
}

impl Default for Bundle {
    fn default() -> Self {
        Self::new()
    }
}

impl Bundle {
    /// base.json and a copy of the busybox rootfs.
    pub fn new() -> Bundle {
        Self::with_config(base_config())
    }

    /// `config` and a copy of the busybox rootfs.
    pub fn with_config(config: Value) -> Bundle {
        let b = Self::without_rootfs(config);
        copy_tree(rootfs_cache(), &b.path.join("rootfs"), true);
        b
    }

    /// `config` but no rootfs on disk (for tests of a missing root.path).
    pub fn without_rootfs(config: Value) -> Bundle {
        let scratch = scratch_dir("bundle");
        let path = scratch.join("bundle");
        fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        let b = Bundle {
            scratch,
            path,
            config,
        };
        b.write_config();
        b
    }

    /// A bundle whose config.json is exactly `text` (malformed JSON, say), with the rootfs.
    pub fn with_config_text(text: &str) -> Bundle {
        let b = Self::new();
        write_file(&b.config_path(), text.as_bytes());
        b
    }

    /// The bundle directory (what `--bundle` gets).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<bundle>/config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.json")
    }

    /// The rootfs directory the config names (`root.path`, relative to the bundle).
    pub fn rootfs(&self) -> PathBuf {
        let root = self.config["root"]["path"].as_str().unwrap_or("rootfs");
        self.path.join(root)
    }

    /// A scratch directory beside the bundle for the test's own files (bind sources, hook
    /// output); removed with the bundle.
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// The config as last written.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Edits the config and writes it back at once (runc bats' `update_config`).
    pub fn update_config(&mut self, edit: impl FnOnce(&mut Value)) -> &mut Self {
        edit(&mut self.config);
        self.write_config();
        self
    }

    /// Consuming form of [`Bundle::update_config`], for building in one expression.
    pub fn with(mut self, edit: impl FnOnce(&mut Value)) -> Self {
        self.update_config(edit);
        self
    }

    /// Sets `process.args`.
    pub fn args(self, args: &[&str]) -> Self {
        self.with(|c| c["process"]["args"] = serde_json::json!(args))
    }

    /// Sets `process.args` to `sh -c <script>`.
    pub fn sh(self, script: &str) -> Self {
        self.args(&["sh", "-c", script])
    }

    /// Writes a file inside the rootfs (test setup only; the path is joined on the host, so
    /// it must not go through symlinks the test did not make).
    pub fn write_rootfs_file(&self, rel: &str, contents: &str) {
        let p = self.rootfs().join(rel.trim_start_matches('/'));
        if let Some(dir) = p.parent() {
            fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        }
        write_file(&p, contents.as_bytes());
    }

    fn write_config(&self) {
        let text = serde_json::to_vec_pretty(&self.config).unwrap_or_default();
        write_file(&self.config_path(), &text);
    }
}

impl Drop for Bundle {
    /// Removes the scratch tree unless something is still mounted in it: deleting through a
    /// leaked bind mount would delete the mount's source on the host.
    fn drop(&mut self) {
        let mounts = mounts_under(&self.scratch);
        if mounts.is_empty() {
            let _ = fs::remove_dir_all(&self.scratch);
        } else if !std::thread::panicking() {
            panic!(
                "mounts left under bundle {}: {mounts:?} (directory kept)",
                self.scratch.display()
            );
        } else {
            eprintln!(
                "mounts left under bundle {}: {mounts:?} (directory kept)",
                self.scratch.display()
            );
        }
    }
}

/// The JSON array at `v` (a config list such as `mounts`), made one if null, to push to.
pub fn list_mut(v: &mut Value) -> &mut Vec<Value> {
    if v.is_null() {
        *v = serde_json::json!([]);
    }
    v.as_array_mut()
        .unwrap_or_else(|| panic!("not a JSON array"))
}
