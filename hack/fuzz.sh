#!/usr/bin/env bash
# Fuzzes hull's config.json loader and seccomp compiler (hack/fuzz/fuzz_targets/config.rs) for N
# seconds (default 600). Not part of CI. Needs cargo-fuzz (`cargo install cargo-fuzz`) and a
# C++ compiler for libFuzzer; the stable toolchain's nightly features (-Zsanitizer) are
# unlocked with RUSTC_BOOTSTRAP=1. Crashes land in hack/fuzz/artifacts/config/; reproduce one
# with `RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir . config <file>` in hack/fuzz/.
# Usage: hack/fuzz.sh [SECONDS] [extra libFuzzer flags...]
set -euo pipefail

secs=${1:-600}
shift || true
cd "$(dirname "${BASH_SOURCE[0]}")/fuzz"
command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: cargo install cargo-fuzz" >&2; exit 1; }
# The seeds are committed; the corpus grows in a gitignored directory.
mkdir -p corpus/config
cp -n seeds/*.json corpus/config/
# cargo-fuzz 0.13 looks for <project>/fuzz unless told where the fuzz crate is.
RUSTC_BOOTSTRAP=1 exec cargo fuzz run --fuzz-dir . config corpus/config -- \
	-dict=config.dict -max_total_time="$secs" -max_len=65536 -timeout=10 \
	-rss_limit_mb=2048 -print_final_stats=1 "$@"
