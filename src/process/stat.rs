//! Reading `/proc/<pid>/stat`: whether a recorded init still exists (same start time, so a
//! recycled pid is not mistaken for it) and is not a zombie.

use std::fs;

/// The fields of `/proc/<pid>/stat` hull needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Process state letter (R, S, D, Z, T, ...).
    pub state: char,
    /// Start time in clock ticks after boot (field 22).
    pub start_time: u64,
}

/// Parses the content of a stat file; the comm field may contain spaces and parentheses, so
/// fields are counted from the last `)`.
pub fn parse(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the state (field 3) comes field 4; start time is field 22.
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

/// Reads `/proc/<pid>/stat`; None if the process does not exist.
pub fn read(pid: i32) -> Option<ProcStat> {
    if pid <= 0 {
        return None;
    }
    parse(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether `pid` is the process started at `start_time` and has not exited.
pub fn alive(pid: i32, start_time: u64) -> bool {
    read(pid).is_some_and(|s| s.start_time == start_time && s.state != 'Z' && s.state != 'X')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comm_with_spaces_and_parens() {
        let line = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 1000 10";
        assert_eq!(
            parse(line),
            Some(ProcStat {
                state: 'S',
                start_time: 12345
            })
        );
        assert_eq!(parse("garbage"), None);
    }

    #[test]
    fn this_process_is_alive() {
        let me = std::process::id() as i32;
        let s = read(me).unwrap();
        assert!(alive(me, s.start_time));
        assert!(!alive(me, s.start_time + 1));
    }
}
