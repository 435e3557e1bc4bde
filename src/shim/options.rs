//! The runc options containerd sends with a create request (`containerd.runc.v1.Options`:
//! `BinaryName`, `Root`, `SystemdCgroup`, `NoPivotRoot`, `NoNewKeyring`, `IoUid`, `IoGid`),
//! decoded by their type URL, and kept in `<bundle>/options.json` so the `delete` action can
//! find the container after the shim that made it is gone.

use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::Message;
use containerd_shim_protos::shim::oci::Options;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The runtime binary when `BinaryName` is empty: `hull` on the shim's PATH.
pub const DEFAULT_BINARY: &str = "hull";
/// The runtime state root when `Root` is empty; the namespace is appended, as the runc shim
/// does with /run/containerd/runc.
pub const DEFAULT_ROOT: &str = "/run/containerd/hull";
/// The file in the bundle holding [`RuntimeOptions`].
pub const OPTIONS_FILE: &str = "options.json";

const RUNC_OPTIONS: &str = "containerd.runc.v1.Options";
/// CRI's generic runtime options (`ConfigPath`, `TypeUrl`); nothing in them applies here.
const CRI_RUNTIME_OPTIONS: &str = "runtimeoptions.v1.Options";

/// The options could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// The Any has a type hull's shim does not know.
    #[error("runtime options of type {type_url:?} are not supported (want {RUNC_OPTIONS})")]
    UnknownType {
        /// The type URL.
        type_url: String,
    },
    /// The protobuf did not decode.
    #[error("decode {RUNC_OPTIONS}: {0}")]
    Decode(#[source] containerd_shim_protos::protobuf::Error),
    /// options.json could not be written or read.
    #[error("{op} {}: {source}", path.display())]
    File {
        /// `read` or `write`.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What the shim takes from the runc options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeOptions {
    /// The runtime binary (empty: [`DEFAULT_BINARY`]).
    pub binary_name: String,
    /// The runtime's state root (empty: [`DEFAULT_ROOT`]/namespace).
    pub root: String,
    /// Pass `--systemd-cgroup`.
    pub systemd_cgroup: bool,
    /// Pass `--no-pivot` to create.
    pub no_pivot_root: bool,
    /// Pass `--no-new-keyring` to create.
    pub no_new_keyring: bool,
    /// Owner of the stdio pipes.
    pub io_uid: u32,
    /// Group of the stdio pipes.
    pub io_gid: u32,
}

impl RuntimeOptions {
    /// Decodes the options of a create request by type URL (none: defaults).
    pub fn from_any(any: Option<&Any>) -> Result<RuntimeOptions, OptionsError> {
        let Some(any) = any.filter(|a| !a.type_url.is_empty()) else {
            return Ok(RuntimeOptions::default());
        };
        let type_url = any.type_url.rsplit('/').next().unwrap_or_default();
        match type_url {
            RUNC_OPTIONS => {
                let o = Options::parse_from_bytes(&any.value).map_err(OptionsError::Decode)?;
                Ok(RuntimeOptions {
                    binary_name: o.binary_name,
                    root: o.root,
                    systemd_cgroup: o.systemd_cgroup,
                    no_pivot_root: o.no_pivot_root,
                    no_new_keyring: o.no_new_keyring,
                    io_uid: o.io_uid,
                    io_gid: o.io_gid,
                })
            }
            CRI_RUNTIME_OPTIONS => Ok(RuntimeOptions::default()),
            _ => Err(OptionsError::UnknownType {
                type_url: any.type_url.clone(),
            }),
        }
    }

    /// The runtime binary to run.
    pub fn binary(&self) -> PathBuf {
        if self.binary_name.is_empty() {
            PathBuf::from(DEFAULT_BINARY)
        } else {
            PathBuf::from(&self.binary_name)
        }
    }

    /// The runtime's `--root` for containers of `namespace`.
    pub fn root(&self, namespace: &str) -> PathBuf {
        let base = if self.root.is_empty() {
            DEFAULT_ROOT
        } else {
            &self.root
        };
        Path::new(base).join(namespace)
    }

    /// Writes `<bundle>/options.json`.
    pub fn save(&self, bundle: &Path) -> Result<(), OptionsError> {
        let path = bundle.join(OPTIONS_FILE);
        let text = serde_json::to_vec(self).unwrap_or_default();
        write_file(&path, &text).map_err(|source| OptionsError::File {
            op: "write",
            path,
            source,
        })
    }

    /// Reads `<bundle>/options.json`; defaults when the create never got that far.
    pub fn load(bundle: &Path) -> Result<RuntimeOptions, OptionsError> {
        let path = bundle.join(OPTIONS_FILE);
        match std::fs::read(&path) {
            Ok(text) => serde_json::from_slice(&text).map_err(|e| OptionsError::File {
                op: "read",
                path,
                source: e.into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RuntimeOptions::default()),
            Err(source) => Err(OptionsError::File {
                op: "read",
                path,
                source,
            }),
        }
    }
}

/// Writes a small file the shim owns (0600), replacing what was there.
pub fn write_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(type_url: &str, o: &Options) -> Any {
        Any {
            type_url: type_url.into(),
            value: o.write_to_bytes().unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn runc_options_are_decoded_by_type_url() {
        let o = Options {
            binary_name: "/usr/local/bin/hull".into(),
            root: "/run/x".into(),
            systemd_cgroup: true,
            no_pivot_root: true,
            no_new_keyring: true,
            io_uid: 1000,
            io_gid: 1001,
            ..Default::default()
        };
        for url in [
            "containerd.runc.v1.Options",
            "types.containerd.io/containerd.runc.v1.Options",
        ] {
            let r = RuntimeOptions::from_any(Some(&any(url, &o))).unwrap();
            assert_eq!(r.binary(), PathBuf::from("/usr/local/bin/hull"));
            assert_eq!(r.root("k8s"), PathBuf::from("/run/x/k8s"));
            assert!(r.systemd_cgroup && r.no_pivot_root && r.no_new_keyring);
            assert_eq!((r.io_uid, r.io_gid), (1000, 1001));
        }
    }

    #[test]
    fn defaults_without_options() {
        let r = RuntimeOptions::from_any(None).unwrap();
        assert_eq!(r.binary(), PathBuf::from("hull"));
        assert_eq!(
            r.root("default"),
            PathBuf::from("/run/containerd/hull/default")
        );
    }

    #[test]
    fn an_unknown_type_is_refused() {
        let e = RuntimeOptions::from_any(Some(&any("foo.Bar", &Options::default()))).unwrap_err();
        assert!(e.to_string().contains("foo.Bar"), "{e}");
    }
}
