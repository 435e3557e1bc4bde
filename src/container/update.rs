//! `update`: change the resource limits of a live container. The request is merged onto the
//! resources recorded in state.json (the config's at create, plus earlier updates), the
//! full merged set is applied (the managers re-apply device rules on every apply, and v1's
//! memory+swap order depends on both values), and only then recorded. A value the kernel
//! refuses makes the manager write back what each changed file held before
//! (`Manager::update`), so the container keeps exactly its old limits, including "none"
//! for a limit the failed request set first (runc re-applies the old resources, which
//! leaves such a limit in place).

use super::ps::manager_of;
use super::{Container, ContainerError};
use crate::state::{StateRoot, Status};
use oci_spec::runtime::LinuxResources;
use serde_json::{Map, Value};

/// Fields whose 0 is a value, not "unchanged" (every other 0, "" and null in a request
/// means "leave as it is", as runc's update treats its zero values).
const ZERO_IS_A_VALUE: [&str; 2] = ["swappiness", "idle"];

/// Fields runc's update does not change, with why.
const NOT_UPDATED: [(&str, &str, &str); 3] = [
    ("", "devices", "device rules cannot be changed by update"),
    ("memory", "kernel", "kernel memory limits are obsolete"),
    ("memory", "kernelTCP", "kernel memory limits are obsolete"),
];

/// Applies `request` to container `id` and records the result; returns the merged set.
pub fn update(
    root: &StateRoot,
    id: &str,
    request: &LinuxResources,
) -> Result<LinuxResources, ContainerError> {
    let (mut c, _lock) = Container::lock(root, id)?;
    c.require("update", |s| {
        matches!(s, Status::Created | Status::Running | Status::Paused)
    })?;
    let cgroup = manager_of(&c)?;
    let old = c.state.resources.clone().unwrap_or_default();
    let (new, ignored) =
        merge(&old, request).map_err(|source| ContainerError::BadResources { source })?;
    for (field, why) in ignored {
        crate::log::warn(&format!("{field}: {why}; ignored"));
    }
    // A refused value puts back every file this update had changed.
    cgroup.update(&new)?;
    c.state.resources = Some(new.clone());
    c.state.write(&c.dir)?;
    Ok(new)
}

/// Request fields an update leaves out: (`linux.resources.<field>`, why).
pub type Ignored = Vec<(String, &'static str)>;

/// `request` merged onto `current`: every value the request sets replaces the current one,
/// objects merge key by key. Also returns the request fields left out.
pub fn merge(
    current: &LinuxResources,
    request: &LinuxResources,
) -> Result<(LinuxResources, Ignored), serde_json::Error> {
    let mut base = serde_json::to_value(current)?;
    let mut patch = serde_json::to_value(request)?;
    let mut ignored = Vec::new();
    if let Some(p) = patch.as_object_mut() {
        for (parent, key, why) in NOT_UPDATED {
            let obj = match parent {
                "" => Some(&mut *p),
                parent => p.get_mut(parent).and_then(Value::as_object_mut),
            };
            if obj.and_then(|o| o.remove(key)).is_some() {
                let field = match parent {
                    "" => key.to_string(),
                    parent => format!("{parent}.{key}"),
                };
                ignored.push((format!("linux.resources.{field}"), why));
            }
        }
        unlimit_swap_with_memory(p);
    }
    prune(&mut patch);
    deep_merge(&mut base, patch);
    Ok((serde_json::from_value(base)?, ignored))
}

/// runc: a memory limit of -1 without a swap value means "no limit on either".
fn unlimit_swap_with_memory(patch: &mut Map<String, Value>) {
    let Some(m) = patch.get_mut("memory").and_then(Value::as_object_mut) else {
        return;
    };
    let swap_unset = m.get("swap").is_none_or(|s| s.as_i64() == Some(0));
    if m.get("limit").and_then(Value::as_i64) == Some(-1) && swap_unset {
        m.insert("swap".into(), Value::from(-1));
    }
}

/// Drops the request's "unchanged" values: null, "", 0 (except where 0 is a value) and
/// objects left empty.
fn prune(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    obj.retain(|key, val| {
        prune(val);
        match val {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0) || ZERO_IS_A_VALUE.contains(&key.as_str()),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        }
    });
}

fn deep_merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(v: Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    fn merged(current: Value, request: Value) -> Value {
        let (r, _) = merge(&res(current), &res(request)).unwrap();
        serde_json::to_value(r).unwrap()
    }

    #[test]
    fn request_values_replace_and_the_rest_stays() {
        let current = json!({
            "devices": [{"allow": false, "type": "c", "major": 1, "minor": 5, "access": "rwm"}],
            "memory": {"limit": 33554432, "swap": 33554432},
            "pids": {"limit": 10},
            "cpu": {"quota": 20000, "period": 100000}
        });
        let out = merged(
            current,
            json!({"pids": {"limit": 50}, "cpu": {"quota": 50000}}),
        );
        assert_eq!(out["pids"]["limit"], 50);
        assert_eq!(out["cpu"]["quota"], 50000);
        assert_eq!(out["cpu"]["period"], 100000);
        assert_eq!(out["memory"]["limit"], 33554432);
        assert_eq!(out["devices"][0]["minor"], 5, "devices are kept: {out}");
    }

    #[test]
    fn zero_and_empty_mean_unchanged() {
        let out = merged(
            json!({"memory": {"limit": 1000, "swappiness": 60}, "cpu": {"cpus": "0", "shares": 512}}),
            json!({"memory": {"limit": 0, "reservation": 0, "swappiness": 0},
                   "cpu": {"cpus": "", "shares": 0}, "pids": {"limit": 0}}),
        );
        assert_eq!(out["memory"]["limit"], 1000);
        assert_eq!(out["memory"]["swappiness"], 0, "swappiness 0 is a value");
        assert!(out["memory"].get("reservation").is_none());
        assert_eq!(out["cpu"]["cpus"], "0");
        assert_eq!(out["cpu"]["shares"], 512);
        assert!(out.get("pids").is_none(), "{out}");
    }

    #[test]
    fn unlimited_memory_unlimits_swap() {
        let out = merged(
            json!({"memory": {"limit": 1000, "swap": 1000}}),
            json!({"memory": {"limit": -1}}),
        );
        assert_eq!(out["memory"], json!({"limit": -1, "swap": -1}));
        let out = merged(
            json!({"memory": {"limit": 1000, "swap": 1000}}),
            json!({"memory": {"limit": -1, "swap": 5000}}),
        );
        assert_eq!(out["memory"]["swap"], 5000);
    }

    #[test]
    fn devices_and_kernel_memory_are_left_out() {
        let (r, ignored) = merge(
            &res(json!({"memory": {"limit": 1000}})),
            &res(json!({"devices": [{"allow": true, "access": "rwm"}],
                        "memory": {"kernel": 100, "kernelTCP": 200, "limit": 2000}})),
        )
        .unwrap();
        let out = serde_json::to_value(r).unwrap();
        assert_eq!(out, json!({"memory": {"limit": 2000}}));
        let fields: Vec<&str> = ignored.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "linux.resources.devices",
                "linux.resources.memory.kernel",
                "linux.resources.memory.kernelTCP"
            ]
        );
    }

    #[test]
    fn merging_onto_nothing() {
        let out = merged(
            json!({}),
            json!({"blockIO": {"weight": 300}, "unified": {"memory.high": "1000"}}),
        );
        assert_eq!(
            out,
            json!({"blockIO": {"weight": 300}, "unified": {"memory.high": "1000"}})
        );
    }
}
