//! `linux.seccomp`: compiled in hull before the fork (`compile.rs`), installed by the init
//! (`apply.rs`) as late as the spec's settings allow, with the SCMP_ACT_NOTIFY listener fd
//! handed to `listenerPath` by hull (`notify.rs`).

mod apply;
mod compile;
mod notify;

pub use apply::install;
pub use compile::{check_arch, compile};
pub use notify::send_to_listener;

use crate::error::{ErrorKind, Kind};
use std::path::PathBuf;

/// A compiled filter, ready to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// `struct sock_filter` entries, 8 bytes each.
    pub program: Vec<u8>,
    /// SECCOMP_FILTER_FLAG_* bits from `linux.seccomp.flags`.
    pub flags: u32,
    /// Where the notification fd goes when a rule uses SCMP_ACT_NOTIFY.
    pub listener: Option<Listener>,
}

/// `linux.seccomp.listenerPath` and `listenerMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The unix socket to send the notification fd to.
    pub path: PathBuf,
    /// Opaque metadata passed along.
    pub metadata: String,
}

/// A seccomp filter that cannot be built, installed or handed over.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// libseccomp refused a part of the filter.
    #[error("{field}: {message}")]
    Libseccomp {
        /// The rule or field at fault.
        field: String,
        /// libseccomp's reason.
        message: String,
    },
    /// The filter asks for something impossible.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field at fault.
        field: String,
        /// Why.
        reason: String,
    },
    /// The kernel refused the filter.
    #[error("linux.seccomp: install filter: {0}")]
    Install(#[source] crate::sys::SysError),
    /// The listener socket could not take the notification fd.
    #[error("linux.seccomp.listenerPath: {op} {}: {source}", path.display())]
    Listener {
        /// connect / send.
        op: &'static str,
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Kind for SeccompError {
    fn kind(&self) -> ErrorKind {
        match self {
            SeccompError::Libseccomp { .. } | SeccompError::Invalid { .. } => ErrorKind::BadSpec,
            _ => ErrorKind::Sys,
        }
    }
}
