//! Loading `config.json`: parse (with the JSON path of any type error), run the named checks
//! of `validate.rs`, and convert once into [`Config`]. This is the only module that touches
//! `oci_spec::runtime::Spec`.

mod config;
pub mod convert;
pub mod defaults;
pub mod mount_opts;
pub mod overlay;
mod validate;

pub use config::*;

use oci_spec::runtime::Spec;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// The file name of the runtime configuration inside a bundle.
pub const CONFIG_FILE: &str = "config.json";

/// The OCI runtime-spec version hull implements.
pub const OCI_VERSION: &str = "1.2.0";

/// A config.json that cannot be used, naming the file or JSON field at fault.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The bundle or its config.json cannot be read.
    #[error("open {}: {source}", path.display())]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// config.json is not valid JSON or a field has the wrong type or value.
    #[error("{}: {field}: {message}", path.display())]
    Parse {
        /// The config file.
        path: PathBuf,
        /// JSON path of the offending field (`process.args`), `.` for the document.
        field: String,
        /// serde's description of the problem.
        message: String,
    },
    /// A field has a value hull refuses.
    #[error("{field}: {reason}")]
    Invalid {
        /// JSON path of the field (`linux.namespaces[2].path`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A field asks for something hull does not implement (yet); refused, never ignored.
    #[error("{field}: not supported by hull: {what}")]
    Unsupported {
        /// JSON path of the field.
        field: String,
        /// What exactly is unsupported.
        what: String,
    },
}

impl SpecError {
    /// Shorthand for [`SpecError::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SpecError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`SpecError::Unsupported`].
    pub fn unsupported(field: impl Into<String>, what: impl Into<String>) -> Self {
        SpecError::Unsupported {
            field: field.into(),
            what: what.into(),
        }
    }
}

/// Reads and parses `path` as a runtime Spec, naming the JSON field of any error.
pub fn parse_file(path: &Path) -> Result<Spec, SpecError> {
    let file = File::open(path).map_err(|source| SpecError::Read {
        path: path.into(),
        source,
    })?;
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
    serde_path_to_error::deserialize(&mut de).map_err(|e| parse_error(path, e))
}

/// Parses config.json text already in memory (`path` only names it in errors). The entry
/// point of the config fuzz target, with [`from_spec`].
pub fn parse_slice(bytes: &[u8], path: &Path) -> Result<Spec, SpecError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| parse_error(path, e))
}

fn parse_error(path: &Path, e: serde_path_to_error::Error<serde_json::Error>) -> SpecError {
    SpecError::Parse {
        path: path.into(),
        field: e.path().to_string(),
        message: e.into_inner().to_string(),
    }
}

/// Reads a process.json (`exec --process`), checked like config.json's `process`.
pub fn load_process(path: &Path) -> Result<ProcessConfig, SpecError> {
    let file = File::open(path).map_err(|source| SpecError::Read {
        path: path.into(),
        source,
    })?;
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
    let process: oci_spec::runtime::Process =
        serde_path_to_error::deserialize(&mut de).map_err(|e| parse_error(path, e))?;
    process_from(&process)
}

/// Parses, checks and converts process.json text already in memory.
pub fn process_from_slice(bytes: &[u8], path: &Path) -> Result<ProcessConfig, SpecError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let process: oci_spec::runtime::Process =
        serde_path_to_error::deserialize(&mut de).map_err(|e| parse_error(path, e))?;
    process_from(&process)
}

fn process_from(process: &oci_spec::runtime::Process) -> Result<ProcessConfig, SpecError> {
    validate::check_process(process)?;
    convert::process(process)
}

/// Loads, validates and converts the bundle's config.json. `bundle` may be relative.
pub fn load(bundle: &Path) -> Result<Config, SpecError> {
    let bundle = std::path::absolute(bundle).map_err(|source| SpecError::Read {
        path: bundle.into(),
        source,
    })?;
    let spec = parse_file(&bundle.join(CONFIG_FILE))?;
    validate::check(&spec, &bundle)?;
    convert::to_config(spec, bundle)
}

/// Parses and checks a config.json without a bundle on disk (unit tests, `hull spec` checks).
pub fn from_spec(spec: Spec, bundle: PathBuf) -> Result<Config, SpecError> {
    validate::check_without_fs(&spec)?;
    convert::to_config(spec, bundle)
}
