//! `process.rlimits`: resource numbers mapped to the kernel interface (pure, tested), then
//! one prlimit64 each on the target pid, set by hull from outside: inside a new user
//! namespace the init could not raise a hard limit above hull's.

use super::SecurityError;
use crate::spec::Rlimit;
use nix::sys::resource::Resource;

/// Every resource the spec can name, with its RLIMIT_* name.
const TABLE: [(Resource, &str); 16] = [
    (Resource::RLIMIT_AS, "RLIMIT_AS"),
    (Resource::RLIMIT_CORE, "RLIMIT_CORE"),
    (Resource::RLIMIT_CPU, "RLIMIT_CPU"),
    (Resource::RLIMIT_DATA, "RLIMIT_DATA"),
    (Resource::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
    (Resource::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
    (Resource::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
    (Resource::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
    (Resource::RLIMIT_NICE, "RLIMIT_NICE"),
    (Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
    (Resource::RLIMIT_NPROC, "RLIMIT_NPROC"),
    (Resource::RLIMIT_RSS, "RLIMIT_RSS"),
    (Resource::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
    (Resource::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
    (Resource::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
    (Resource::RLIMIT_STACK, "RLIMIT_STACK"),
];

fn lookup(resource: i32) -> Option<(Resource, &'static str)> {
    TABLE.iter().copied().find(|(r, _)| *r as i32 == resource)
}

/// The RLIMIT_* name of a resource number, None if it is not one the spec allows.
pub fn rlimit_name(resource: i32) -> Option<&'static str> {
    lookup(resource).map(|(_, name)| name)
}

/// Sets one limit on process `pid`.
pub(super) fn apply(pid: i32, r: &Rlimit) -> Result<(), SecurityError> {
    let (_, name) = lookup(r.resource).ok_or(SecurityError::UnknownRlimit {
        resource: r.resource,
    })?;
    crate::sys::prlimit(pid, r.resource, r.soft, r.hard).map_err(|e| SecurityError::Rlimit {
        name,
        soft: r.soft,
        hard: r.hard,
        source: e.source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_libc_numbers() {
        assert_eq!(
            rlimit_name(libc::RLIMIT_NOFILE as i32),
            Some("RLIMIT_NOFILE")
        );
        assert_eq!(rlimit_name(libc::RLIMIT_CORE as i32), Some("RLIMIT_CORE"));
        assert_eq!(
            rlimit_name(libc::RLIMIT_RTTIME as i32),
            Some("RLIMIT_RTTIME")
        );
        assert_eq!(rlimit_name(99), None);
        // Every number 0..16 is covered exactly once.
        let mut nums: Vec<i32> = TABLE.iter().map(|(r, _)| *r as i32).collect();
        nums.sort_unstable();
        assert_eq!(nums, (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn unknown_resource_is_a_spec_error() {
        let e = apply(
            0,
            &Rlimit {
                resource: 77,
                soft: 1,
                hard: 1,
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "process.rlimits: unknown resource 77");
        use crate::error::Kind;
        assert_eq!(e.kind(), crate::error::ErrorKind::BadSpec);
    }
}
