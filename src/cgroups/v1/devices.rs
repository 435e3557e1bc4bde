//! v1 devices controller: the writes that take the cgroup from what devices.list shows to
//! the state the rules ask for (deny-all plus the allowed devices for a normal container),
//! and the check afterwards that the kernel holds exactly that.

use crate::cgroups::devices::{DevType, Emulator, Rule};
use crate::cgroups::fs::Dir;
use crate::cgroups::plan::Plan;
use crate::cgroups::CgroupError;

const F: &str = "linux.resources.devices";

/// Plans the devices.allow / devices.deny writes from `current` to `target`.
pub fn plan(current: &Emulator, target: &Emulator, out: &mut Plan) {
    for r in current.transition(target) {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        out.write("devices", file, line(&r), F);
    }
}

/// The text for devices.allow/deny: the kernel takes a bare `a` for the wildcard rule.
fn line(r: &Rule) -> String {
    if r.typ == DevType::All {
        "a".into()
    } else {
        r.to_string()
    }
}

/// Reads devices.list as an emulator state.
pub fn current(dir: &Dir) -> Result<Emulator, CgroupError> {
    let text = dir.read("devices.list")?;
    Emulator::parse_list(&text).ok_or_else(|| CgroupError::Parse {
        path: dir.path().join("devices.list"),
        content: text,
    })
}

/// Checks the kernel ended in the target state: exactly, for a deny-all target; in the
/// right mode for an allow-all one, whose exceptions devices.list does not show.
pub fn verify(dir: &Dir, target: &Emulator) -> Result<(), CgroupError> {
    let now = current(dir)?;
    let same = if target.default_allow {
        now.default_allow
    } else {
        now == *target
    };
    if same {
        return Ok(());
    }
    Err(CgroupError::invalid(
        F,
        format!(
            "{} does not hold the requested rules after writing them",
            dir.path().join("devices.list").display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::devices::{rules_from_spec, Access};

    #[test]
    fn new_cgroup_gets_deny_all_then_defaults() {
        let parent = Emulator::parse_list("a *:* rwm\n").unwrap();
        let target = Emulator::from_rules(&rules_from_spec(None).unwrap()).unwrap();
        let mut p = Plan::default();
        plan(&parent, &target, &mut p);
        assert_eq!(p.writes[0].file, "devices.deny");
        assert_eq!(p.writes[0].value, "a");
        assert!(p.writes[1..].iter().all(|w| w.file == "devices.allow"));
        assert!(p.writes.iter().any(|w| w.value == "c 1:3 rwm"));
        assert!(p.writes.iter().any(|w| w.value == "c 136:* rwm"));
        assert!(p.writes.iter().any(|w| w.value == "b *:* m"));
    }

    #[test]
    fn update_touches_only_the_difference() {
        let current = Emulator::parse_list("c 1:3 rwm\nc 1:5 rwm\nc 10:200 rw\n").unwrap();
        let target = Emulator::from_rules(&[
            Rule {
                typ: DevType::All,
                major: None,
                minor: None,
                access: Access::ALL,
                allow: false,
            },
            Rule {
                typ: DevType::Char,
                major: Some(1),
                minor: Some(3),
                access: Access::ALL,
                allow: true,
            },
            Rule {
                typ: DevType::Char,
                major: Some(10),
                minor: Some(200),
                access: Access::ALL,
                allow: true,
            },
        ])
        .unwrap();
        let mut p = Plan::default();
        plan(&current, &target, &mut p);
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            p.pairs(),
            [
                s("devices.deny", "c 1:5 rwm"),
                s("devices.allow", "c 10:200 m")
            ]
        );
    }
}
