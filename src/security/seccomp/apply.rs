//! Installing a compiled filter on the calling process.

use super::{Filter, SeccompError};
use crate::sys::seccomp::{set_filter, FLAG_NEW_LISTENER, FLAG_TSYNC_ESRCH};
use std::os::fd::OwnedFd;

const FLAG_TSYNC: u32 = 1;

/// Installs `filter`; returns the notification fd when the filter has a listener.
pub fn install(filter: &Filter) -> Result<Option<OwnedFd>, SeccompError> {
    let mut flags = filter.flags;
    if filter.listener.is_some() {
        flags |= FLAG_NEW_LISTENER;
        // TSYNC and NEW_LISTENER together need TSYNC_ESRCH (the init is single-threaded,
        // so TSYNC has nothing to synchronise anyway).
        if flags & FLAG_TSYNC != 0 {
            flags |= FLAG_TSYNC_ESRCH;
        }
    }
    set_filter(flags, &filter.program).map_err(SeccompError::Install)
}
