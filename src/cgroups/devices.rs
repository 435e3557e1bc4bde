//! Device access rules: `linux.resources.devices` plus the devices runc always allows,
//! reduced to what the kernel's v1 devices controller would end up with (a default and a set
//! of exceptions). The v1 manager turns two such states into devices.allow/deny writes; the
//! v2 manager compiles one into an eBPF program, so both hosts enforce the same semantics.
//! Pure and unit-tested.

use super::CgroupError;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::collections::BTreeMap;
use std::fmt;

/// A device type as the devices controller knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DevType {
    /// `a`: every device (resets the controller's mode).
    All,
    /// `b`: block devices.
    Block,
    /// `c`: character devices.
    Char,
}

impl DevType {
    fn as_char(self) -> char {
        match self {
            DevType::All => 'a',
            DevType::Block => 'b',
            DevType::Char => 'c',
        }
    }
}

/// A set of device accesses: the bits are BPF_DEVCG_ACC_{MKNOD,READ,WRITE}, which are also
/// the kernel's v1 ACC_* values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Access(pub u8);

impl Access {
    /// mknod.
    pub const MKNOD: Access = Access(1);
    /// `rwm`.
    pub const ALL: Access = Access(7);

    /// Parses `rwm`-style text; None for any other character or an empty string.
    pub fn parse(s: &str) -> Option<Access> {
        let mut a = 0;
        for c in s.chars() {
            a |= match c {
                'r' => 2,
                'w' => 4,
                'm' => 1,
                _ => return None,
            };
        }
        (a != 0).then_some(Access(a))
    }

    /// No access.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Accesses in `self` but not in `other`.
    pub fn minus(self, other: Access) -> Access {
        Access(self.0 & !other.0)
    }

    /// Whether the two sets share an access.
    pub fn intersects(self, other: Access) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether every access of `self` is in `other`.
    #[cfg(test)]
    pub fn within(self, other: Access) -> bool {
        self.0 & !other.0 == 0
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [(2, 'r'), (4, 'w'), (1, 'm')] {
            if self.0 & bit != 0 {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// One allow or deny rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Device type.
    pub typ: DevType,
    /// Major number; None is `*`.
    pub major: Option<u32>,
    /// Minor number; None is `*`.
    pub minor: Option<u32>,
    /// Accesses the rule is about.
    pub access: Access,
    /// Allow (true) or deny.
    pub allow: bool,
}

impl fmt::Display for Rule {
    /// The devices.allow / devices.deny syntax, e.g. `c 1:3 rwm`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        write!(
            f,
            "{} {}:{} {}",
            self.typ.as_char(),
            num(self.major),
            num(self.minor),
            self.access
        )
    }
}

const fn allow(typ: DevType, major: Option<u32>, minor: Option<u32>, access: Access) -> Rule {
    Rule {
        typ,
        major,
        minor,
        access,
        allow: true,
    }
}

/// The rules runc 1.1 (`specconv.AllowedDevices`) appends after the spec's own, so a
/// container can always use these whatever its config says.
pub const DEFAULT_ALLOWED: &[Rule] = &[
    allow(DevType::Char, None, None, Access::MKNOD),
    allow(DevType::Block, None, None, Access::MKNOD),
    allow(DevType::Char, Some(1), Some(3), Access::ALL), // /dev/null
    allow(DevType::Char, Some(1), Some(8), Access::ALL), // /dev/random
    allow(DevType::Char, Some(1), Some(7), Access::ALL), // /dev/full
    allow(DevType::Char, Some(5), Some(0), Access::ALL), // /dev/tty
    allow(DevType::Char, Some(1), Some(5), Access::ALL), // /dev/zero
    allow(DevType::Char, Some(1), Some(9), Access::ALL), // /dev/urandom
    allow(DevType::Char, Some(136), None, Access::ALL),  // /dev/pts/*
    allow(DevType::Char, Some(5), Some(2), Access::ALL), // /dev/ptmx
    allow(DevType::Char, Some(10), Some(200), Access::ALL), // /dev/net/tun
];

/// `linux.resources.devices` in order, then [`DEFAULT_ALLOWED`].
pub fn rules_from_spec(devices: Option<&[LinuxDeviceCgroup]>) -> Result<Vec<Rule>, CgroupError> {
    let mut out = Vec::new();
    for (i, d) in devices.unwrap_or_default().iter().enumerate() {
        let field = |f: &str| format!("linux.resources.devices[{i}].{f}");
        let typ = match d.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => DevType::All,
            LinuxDeviceType::B => DevType::Block,
            LinuxDeviceType::C => DevType::Char,
            other => {
                return Err(CgroupError::invalid(
                    field("type"),
                    format!("{:?} is not a cgroup device type (a, b, c)", other.as_str()),
                ))
            }
        };
        let num = |n: Option<i64>, name: &str| match n {
            None | Some(-1) => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| CgroupError::invalid(field(name), format!("{n} is out of range"))),
        };
        let access = d.access().as_deref().unwrap_or("");
        let access = Access::parse(access).ok_or_else(|| {
            CgroupError::invalid(
                field("access"),
                format!("{access:?}: must be letters of rwm"),
            )
        })?;
        out.push(Rule {
            typ,
            major: num(d.major(), "major")?,
            minor: num(d.minor(), "minor")?,
            access,
            allow: d.allow(),
        });
    }
    out.extend_from_slice(DEFAULT_ALLOWED);
    Ok(out)
}

/// The (type, major, minor) an exception is about.
type Key = (DevType, Option<u32>, Option<u32>);

/// What the v1 devices controller holds after a sequence of rules: a default and the
/// exceptions to it (kernel `security/device_cgroup.c` semantics).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Emulator {
    /// Default allow (a "blacklist") or default deny (a "whitelist").
    pub default_allow: bool,
    /// Exceptions to the default, with their accesses.
    pub exceptions: BTreeMap<Key, Access>,
}

impl Emulator {
    /// The state after applying `rules` to a deny-all start, as runc does.
    pub fn from_rules(rules: &[Rule]) -> Result<Emulator, CgroupError> {
        let mut e = Emulator::default();
        for r in rules {
            e.apply(r)
                .map_err(|reason| CgroupError::invalid("linux.resources.devices", reason))?;
        }
        Ok(e)
    }

    /// Applies one rule as a write to devices.allow or devices.deny would.
    pub fn apply(&mut self, r: &Rule) -> Result<(), String> {
        if r.typ == DevType::All {
            // The kernel treats any `a` rule as `a *:* rwm`: a mode switch that clears the
            // exceptions.
            self.default_allow = r.allow;
            self.exceptions.clear();
            return Ok(());
        }
        let key = (r.typ, r.major, r.minor);
        if r.allow != self.default_allow {
            let e = self.exceptions.entry(key).or_default();
            e.0 |= r.access.0;
            return Ok(());
        }
        // The kernel removes only an exact match and silently keeps a wildcard exception
        // that covers the rule; refuse that instead of pretending (runc does the same).
        for partial in [
            (r.typ, None, r.minor),
            (r.typ, r.major, None),
            (r.typ, None, None),
        ] {
            if partial == key {
                continue;
            }
            if let Some(a) = self.exceptions.get(&partial) {
                if a.intersects(r.access) {
                    return Err(format!(
                        "rule \"{}\" cannot punch a hole in the wildcard rule \"{}\"",
                        Rule {
                            allow: r.allow,
                            ..*r
                        },
                        exception_rule(partial, *a, !self.default_allow)
                    ));
                }
            }
        }
        if let Some(a) = self.exceptions.get_mut(&key) {
            *a = a.minus(r.access);
            if a.is_empty() {
                self.exceptions.remove(&key);
            }
        }
        Ok(())
    }

    /// The exceptions as rules (their action is the opposite of the default), sorted.
    pub fn exception_rules(&self) -> Vec<Rule> {
        self.exceptions
            .iter()
            .map(|(k, a)| exception_rule(*k, *a, !self.default_allow))
            .collect()
    }

    /// Parses a v1 `devices.list`. In allow-all mode the kernel prints only `a *:* rwm` and
    /// hides the deny exceptions, so those are unknown (see [`Emulator::transition`]).
    pub fn parse_list(text: &str) -> Option<Emulator> {
        let mut e = Emulator::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut it = line.split_whitespace();
            let (t, nums, acc) = (it.next()?, it.next()?, it.next()?);
            let typ = match t {
                "a" => DevType::All,
                "b" => DevType::Block,
                "c" => DevType::Char,
                _ => return None,
            };
            let (maj, min) = nums.split_once(':')?;
            let num = |s: &str| -> Option<Option<u32>> {
                if s == "*" {
                    Some(None)
                } else {
                    s.parse().ok().map(Some)
                }
            };
            let rule = allow(typ, num(maj)?, num(min)?, Access::parse(acc)?);
            if typ == DevType::All {
                return Some(Emulator {
                    default_allow: true,
                    exceptions: BTreeMap::new(),
                });
            }
            e.apply(&rule).ok()?;
        }
        Some(e)
    }

    /// The rules that take a cgroup from `self` to `target`, touching as little as possible
    /// so running processes never lose access they keep (runc's emulator `Transition`).
    pub fn transition(&self, target: &Emulator) -> Vec<Rule> {
        let mut out = Vec::new();
        let mut old = &self.exceptions;
        let empty = BTreeMap::new();
        // A mode change needs the disruptive `a` rule; so does an allow-all source, whose
        // deny exceptions devices.list does not show.
        if self.default_allow || self.default_allow != target.default_allow {
            out.push(Rule {
                typ: DevType::All,
                major: None,
                minor: None,
                access: Access::ALL,
                allow: target.default_allow,
            });
            old = &empty;
        }
        for (k, a) in old {
            let dropped = a.minus(target.exceptions.get(k).copied().unwrap_or_default());
            if !dropped.is_empty() {
                out.push(exception_rule(*k, dropped, target.default_allow));
            }
        }
        for (k, a) in &target.exceptions {
            let gained = a.minus(old.get(k).copied().unwrap_or_default());
            if !gained.is_empty() {
                out.push(exception_rule(*k, gained, !target.default_allow));
            }
        }
        out
    }

    /// Whether the kernel would let a process make this access (`devcgroup_check_permission`):
    /// in deny-all mode one exception must cover every requested access; in allow-all mode
    /// any exception sharing an access denies it. Used to test the eBPF program.
    #[cfg(test)]
    pub fn allows(&self, typ: DevType, major: u32, minor: u32, access: Access) -> bool {
        let matching = self.exceptions.iter().filter(|((t, ma, mi), _)| {
            *t == typ && ma.is_none_or(|m| m == major) && mi.is_none_or(|m| m == minor)
        });
        if self.default_allow {
            !matching.into_iter().any(|(_, a)| a.intersects(access))
        } else {
            matching.into_iter().any(|(_, a)| access.within(*a))
        }
    }
}

fn exception_rule(k: Key, access: Access, allow: bool) -> Rule {
    Rule {
        typ: k.0,
        major: k.1,
        minor: k.2,
        access,
        allow,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A rule from its parts (also for the v2 program's tests).
    pub(crate) fn rule(
        typ: DevType,
        major: Option<u32>,
        minor: Option<u32>,
        a: &str,
        allow: bool,
    ) -> Rule {
        Rule {
            typ,
            major,
            minor,
            access: Access::parse(a).unwrap(),
            allow,
        }
    }

    fn spec(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn access_text() {
        assert_eq!(Access::parse("mwr").unwrap().to_string(), "rwm");
        assert_eq!(Access::parse("w").unwrap(), Access(4));
        assert_eq!(Access::parse(""), None);
        assert_eq!(Access::parse("rx"), None);
    }

    #[test]
    fn rule_text() {
        let r = rule(DevType::Char, Some(136), None, "rw", true);
        assert_eq!(r.to_string(), "c 136:* rw");
        assert_eq!(
            rule(DevType::All, None, None, "rwm", false).to_string(),
            "a *:* rwm"
        );
    }

    #[test]
    fn spec_rules_then_defaults() {
        let rules = rules_from_spec(Some(&spec(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"rw"}]"#,
        )))
        .unwrap();
        assert_eq!(rules[0], rule(DevType::All, None, None, "rwm", false));
        assert_eq!(
            rules[1],
            rule(DevType::Char, Some(10), Some(229), "rw", true)
        );
        assert_eq!(&rules[2..], DEFAULT_ALLOWED);
        let e = Emulator::from_rules(&rules).unwrap();
        assert!(!e.default_allow);
        assert!(e.allows(DevType::Char, 10, 229, Access::parse("rw").unwrap()));
        assert!(
            !e.allows(DevType::Char, 10, 229, Access::ALL),
            "m was not allowed"
        );
        assert!(e.allows(DevType::Block, 8, 0, Access::MKNOD));
        assert!(!e.allows(DevType::Block, 8, 0, Access::parse("r").unwrap()));
        assert!(e.allows(DevType::Char, 136, 4, Access::ALL));
    }

    #[test]
    fn spec_errors_name_the_entry() {
        let bad = spec(r#"[{"allow":true,"access":"rwm"},{"allow":true,"major":-7,"access":"r"}]"#);
        let err = rules_from_spec(Some(&bad)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.resources.devices[1].major: "),
            "{err}"
        );
        let bad = spec(r#"[{"allow":true,"type":"u","access":"r"}]"#);
        assert!(rules_from_spec(Some(&bad)).is_err());
    }

    #[test]
    fn later_rules_win_like_the_kernel() {
        let e = Emulator::from_rules(&[
            rule(DevType::All, None, None, "rwm", false),
            rule(DevType::Char, Some(1), Some(3), "rwm", true),
            rule(DevType::Char, Some(1), Some(3), "w", false),
        ])
        .unwrap();
        assert_eq!(
            e.exception_rules(),
            [rule(DevType::Char, Some(1), Some(3), "rm", true)]
        );
        // An `a` rule resets everything before it.
        let e = Emulator::from_rules(&[
            rule(DevType::Char, Some(1), Some(3), "rwm", true),
            rule(DevType::All, None, None, "r", true),
        ])
        .unwrap();
        assert!(e.default_allow && e.exceptions.is_empty());
    }

    #[test]
    fn no_hole_in_a_wildcard() {
        let err = Emulator::from_rules(&[
            rule(DevType::All, None, None, "rwm", false),
            rule(DevType::Char, Some(1), None, "rwm", true),
            rule(DevType::Char, Some(1), Some(3), "w", false),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("cannot punch a hole"), "{err}");
    }

    #[test]
    fn parses_devices_list() {
        let e = Emulator::parse_list("c 1:3 rwm\nc 136:* rw\nb *:* m\n").unwrap();
        assert!(!e.default_allow);
        assert_eq!(e.exceptions.len(), 3);
        assert!(Emulator::parse_list("a *:* rwm\n").unwrap().default_allow);
        assert_eq!(Emulator::parse_list("").unwrap(), Emulator::default());
        assert_eq!(Emulator::parse_list("x 1:2 r\n"), None);
    }

    #[test]
    fn transitions() {
        let allow_all = Emulator::parse_list("a *:* rwm").unwrap();
        let target = Emulator::from_rules(DEFAULT_ALLOWED).unwrap();
        let t = allow_all.transition(&target);
        assert_eq!(t[0], rule(DevType::All, None, None, "rwm", false));
        assert_eq!(t.len(), 1 + DEFAULT_ALLOWED.len());
        // Same target again: nothing to write.
        assert!(target.transition(&target).is_empty());
        // Allow-all to allow-all still resets: its deny exceptions are invisible.
        let t = allow_all.transition(&allow_all);
        assert_eq!(t, [rule(DevType::All, None, None, "rwm", true)]);
    }
}
