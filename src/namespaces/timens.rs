//! Time namespace clock offsets: written to /proc/self/timens_offsets after
//! unshare(CLONE_NEWTIME) and before the first process enters the namespace (the init is
//! forked after this), as time_namespaces(7) requires.

use super::NsError;
use crate::spec::{TimeClock, TimeOffset};
use std::fs::OpenOptions;
use std::io::Write;

/// The text of /proc/self/timens_offsets: `<clock> <secs> <nanos>` lines.
pub fn format_offsets(offsets: &[TimeOffset]) -> String {
    offsets
        .iter()
        .map(|o| {
            let clock = match o.clock {
                TimeClock::Monotonic => "monotonic",
                TimeClock::Boottime => "boottime",
            };
            format!("{clock} {} {}\n", o.secs, o.nanos)
        })
        .collect()
}

/// Writes the offsets for the calling process's pending time namespace.
pub fn write_offsets(offsets: &[TimeOffset]) -> Result<(), NsError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let path = "/proc/self/timens_offsets";
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(format_offsets(offsets).as_bytes()))
        .map_err(|source| NsError::Write {
            field: "linux.timeOffsets",
            path: path.into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_clock_lines() {
        let o = [
            TimeOffset {
                clock: TimeClock::Monotonic,
                secs: 86_400,
                nanos: 5,
            },
            TimeOffset {
                clock: TimeClock::Boottime,
                secs: -10,
                nanos: 0,
            },
        ];
        assert_eq!(format_offsets(&o), "monotonic 86400 5\nboottime -10 0\n");
    }
}
