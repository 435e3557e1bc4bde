//! Fuzz target: arbitrary bytes as config.json through hull's loader (parse, the named
//! checks, the conversion into `Config`) and, when that accepts them, the seccomp compiler;
//! and as process.json (`exec --process`). Nothing may panic, whatever the input; errors are
//! the expected outcome. Run with hack/fuzz.sh.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/fuzz/config.json");
    if let Ok(spec) = hull::spec::parse_slice(data, path) {
        if let Ok(config) = hull::spec::from_spec(spec, "/fuzz".into()) {
            if let Some(seccomp) = &config.seccomp {
                let _ = hull::security::seccomp::compile(seccomp);
            }
            let _ = hull::security::lsm::plan(&config.process);
        }
    }
    let _ = hull::spec::process_from_slice(data, Path::new("/fuzz/process.json"));
});
