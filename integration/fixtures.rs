//! The config fixtures of `bundle-fixtures/`: every `good/*.json` runs to exit 0 and prints
//! `fixture-ok` (each one's process checks its own feature from inside), every `bad/<name>.json` is refused with an
//! error naming the field in `bad/<name>.err`, both by hull's loader (library) and by
//! `create` (binary), and nothing is left behind.

use crate::support::*;
use std::fs;
use std::path::PathBuf;

/// `bundle-fixtures/<dir>/*.<ext>`, sorted.
fn fixtures(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = fixtures_dir().join(dir);
    let mut list: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    list.sort();
    assert!(!list.is_empty(), "no *.{ext} in {}", dir.display());
    list
}

/// Each bad fixture with its expected error substring.
fn bad_cases() -> Vec<(String, String, String)> {
    fixtures("bad", "json")
        .into_iter()
        .map(|json| {
            let name = json
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let err_path = json.with_extension("err");
            let want = fs::read_to_string(&err_path)
                .unwrap_or_else(|e| panic!("{}: {e}", err_path.display()))
                .trim()
                .to_string();
            assert!(!want.is_empty(), "{} is empty", err_path.display());
            let text =
                fs::read_to_string(&json).unwrap_or_else(|e| panic!("{}: {e}", json.display()));
            (name, text, want)
        })
        .collect()
}

/// Fails with every mismatch listed at once, so one run shows them all.
fn report(what: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{what}: {} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_bad_fixture_has_an_err_file() {
    for json in fixtures("bad", "json") {
        assert!(
            json.with_extension("err").exists(),
            "{} has no .err",
            json.display()
        );
    }
    for err in fixtures("bad", "err") {
        assert!(
            err.with_extension("json").exists(),
            "{} has no .json",
            err.display()
        );
    }
}

#[test]
fn good_fixtures_pass_the_loader() {
    let mut failures = Vec::new();
    for path in fixtures("good", "json") {
        let bundle = Bundle::with_config(read_json(&path));
        if let Err(e) = ::hull::spec::load(bundle.path()) {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    report("good fixtures through hull::spec::load", failures);
}

#[test]
fn bad_fixtures_are_rejected_by_the_loader() {
    let mut failures = Vec::new();
    for (name, text, want) in bad_cases() {
        let bundle = Bundle::with_config_text(&text);
        // The checks create runs before anything exists: the document's, then the host's.
        let loaded = ::hull::spec::load(bundle.path())
            .and_then(|c| ::hull::security::check_host(&c).map(|()| c));
        match loaded {
            Ok(_) => failures.push(format!("{name}: accepted, want error with {want:?}")),
            Err(e) if !e.to_string().contains(&want) => {
                failures.push(format!("{name}: error {:?} lacks {want:?}", e.to_string()))
            }
            Err(_) => {}
        }
    }
    report(
        "bad fixtures through hull::spec::load and security::check_host",
        failures,
    );
}

#[test]
fn bad_fixtures_are_refused_by_create() {
    // runc accepts some of them (`..` in cgroupsPath, seccomp) and words the rest its own way.
    if hull_only("the .err texts are hull's messages") {
        return;
    }
    let hull = Hull::new();
    let mut failures = Vec::new();
    for (name, text, want) in bad_cases() {
        let mut ct = hull.container(Bundle::with_config_text(&text));
        let out = ct.create_with(&[]);
        let err = out.stderr_text();
        let lines = err.lines().filter(|l| !l.trim().is_empty()).count();
        if out.status.success() {
            failures.push(format!("{name}: create succeeded"));
        } else if !err.contains(&want) || lines != 1 {
            failures.push(format!("{name}: want one line with {want:?}, got {err:?}"));
        }
    }
    report("bad fixtures through create", failures);
}

#[test]
fn good_fixtures_run_and_pass_their_own_checks() {
    requires(&["userns"]);
    let hull = Hull::new();
    let mut failures = Vec::new();
    for path in fixtures("good", "json") {
        let mut ct = hull.container(Bundle::with_config(read_json(&path)));
        let out = ct.run(&[]);
        if out.code() != 0 || !out.stdout_text().contains("fixture-ok") {
            failures.push(format!("{}: {}", path.display(), out.describe()));
        }
    }
    report("good fixtures through run", failures);
}
