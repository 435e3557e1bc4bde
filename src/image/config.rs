//! Image config -> the bundle's config.json: hull's `spec` template (terminal off, root
//! writable) with the image's Entrypoint + Cmd, Env, WorkingDir, resolved User, Volumes as
//! bind mounts of bundle directories, and Labels, ExposedPorts, StopSignal and the platform
//! as annotations (the keys of the image spec's conversion rules). Pure: unit-tested.

use super::passwd::Resolved;
use super::schema::ImageConfig;
use serde_json::{json, Map, Value};

/// PATH when the image sets none (runc's and docker's default).
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where a volume's directory lives in the bundle: `volumes/<i>`.
pub fn volume_dir(i: usize) -> String {
    format!("volumes/{i}")
}

/// The image's volumes, sorted.
pub fn volumes(img: &ImageConfig) -> Vec<String> {
    img.config
        .as_ref()
        .and_then(|c| c.volumes.as_ref())
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default()
}

/// Builds config.json; `extra` annotations (the overlay rootfs) are added last.
pub fn runtime_spec(img: &ImageConfig, user: &Resolved, extra: &[(String, String)]) -> Value {
    let mut spec = crate::spec::defaults::template(false, 0, 0);
    let run = img.config.clone().unwrap_or_default();
    let args: Vec<String> = run
        .entrypoint
        .iter()
        .flatten()
        .chain(run.cmd.iter().flatten())
        .cloned()
        .collect();
    let mut env: Vec<String> = run.env.clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if let (false, Some(home)) = (env.iter().any(|e| e.starts_with("HOME=")), &user.home) {
        env.push(format!("HOME={home}"));
    }
    let process = &mut spec["process"];
    process["terminal"] = json!(false);
    if !args.is_empty() {
        process["args"] = json!(args);
    }
    process["env"] = json!(env);
    process["cwd"] = json!(run
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into()));
    let mut u = json!({"uid": user.uid, "gid": user.gid});
    if !user.additional_gids.is_empty() {
        u["additionalGids"] = json!(user.additional_gids);
    }
    process["user"] = u;
    // Images are run writable (the overlay's upper dir takes the writes).
    spec["root"] = json!({"path": "rootfs", "readonly": false});
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for (i, dest) in volumes(img).iter().enumerate() {
            mounts.push(json!({"destination": dest, "type": "bind",
                "source": volume_dir(i), "options": ["rbind", "rw"]}));
        }
    }
    spec["annotations"] = Value::Object(annotations(img, extra));
    spec
}

fn annotations(img: &ImageConfig, extra: &[(String, String)]) -> Map<String, Value> {
    let mut a = Map::new();
    let run = img.config.clone().unwrap_or_default();
    for (k, v) in run.labels.iter().flatten() {
        a.insert(k.clone(), json!(v));
    }
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            a.insert(format!("org.opencontainers.image.{k}"), json!(v));
        }
    };
    put("os", img.os.clone());
    put("architecture", img.architecture.clone());
    put("author", img.author.clone());
    put("created", img.created.clone());
    put("stopSignal", run.stop_signal.clone());
    let ports: Vec<String> = run
        .exposed_ports
        .iter()
        .flatten()
        .map(|(p, _)| p.clone())
        .collect();
    put("exposedPorts", Some(ports.join(",")));
    for (k, v) in extra {
        a.insert(k.clone(), json!(v));
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(json: &str) -> ImageConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn image_config_maps_onto_the_template() {
        let img = image(
            r#"{"os":"linux","architecture":"amd64","config":{"Entrypoint":["/bin/app"],
            "Cmd":["--serve"],"Env":["A=1"],"WorkingDir":"/srv","StopSignal":"SIGINT",
            "ExposedPorts":{"80/tcp":{},"53/udp":{}},"Volumes":{"/data":{}},
            "Labels":{"maintainer":"me"}},"rootfs":{"type":"layers","diff_ids":[]}}"#,
        );
        let user = Resolved {
            uid: 1000,
            gid: 50,
            additional_gids: vec![7],
            home: Some("/home/app".into()),
        };
        let s = runtime_spec(&img, &user, &[("k".into(), "v".into())]);
        let p = &s["process"];
        assert_eq!(p["args"], json!(["/bin/app", "--serve"]));
        assert_eq!(p["terminal"], json!(false));
        assert_eq!(p["cwd"], json!("/srv"));
        assert_eq!(
            p["user"],
            json!({"uid": 1000, "gid": 50, "additionalGids": [7]})
        );
        let env = p["env"].as_array().unwrap();
        assert!(env.contains(&json!("A=1")) && env.contains(&json!("HOME=/home/app")));
        assert!(env[0].as_str().unwrap().starts_with("PATH="));
        let a = &s["annotations"];
        assert_eq!(a["maintainer"], json!("me"));
        assert_eq!(a["org.opencontainers.image.stopSignal"], json!("SIGINT"));
        assert_eq!(
            a["org.opencontainers.image.exposedPorts"],
            json!("53/udp,80/tcp")
        );
        assert_eq!(a["k"], json!("v"));
        let last = s["mounts"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["destination"], json!("/data"));
        assert_eq!(last["source"], json!("volumes/0"));
        assert_eq!(s["root"]["readonly"], json!(false));
    }

    #[test]
    fn an_empty_config_keeps_the_defaults() {
        let s = runtime_spec(&ImageConfig::default(), &Resolved::default(), &[]);
        assert_eq!(s["process"]["cwd"], json!("/"));
        assert!(!s["process"]["args"].as_array().unwrap().is_empty());
    }
}
