#!/usr/bin/env bash
# Runs every check CI runs, in order: deps, format, lints, docs, unit tests, fixtures, and the
# integration suite as root (lifecycle contract, fixtures good and bad, every area). Runs all
# steps even after a failure so one run shows everything; exits non-zero if any step failed.
# Usage: bash hack/test.sh [extra args for the integration test binary, e.g. a name filter]
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
failed=()
start_all=$SECONDS

step() {
	local name=$1
	shift
	local t0=$SECONDS
	echo "==> $name"
	if "$@"; then
		echo "--- ok: $name ($((SECONDS - t0)) s)"
	else
		echo "--- FAILED: $name ($((SECONDS - t0)) s)" >&2
		failed+=("$name")
	fi
}

need_root() {
	if [[ $(id -u) -ne 0 ]]; then
		echo "the integration suite creates containers: run hack/test.sh as root" >&2
		return 1
	fi
}

integration() {
	need_root || return 1
	echo "runtime under test: ${HULL_TEST_BINARY:-target/debug/hull (built by cargo)}"
	cargo test --test integration -- "$@"
}

if ! bash hack/deps.sh; then
	echo "FAILED: hack/deps.sh" >&2
	exit 1
fi

step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy" cargo clippy --all-targets --all-features -- -D warnings
step "cargo doc" env RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps --all-features
step "unit tests" cargo test --lib --bins
step "doc tests" cargo test --doc
step "fixtures" bash bundle-fixtures/build-rootfs.sh
step "integration tests" integration "$@"

echo "==> total $((SECONDS - start_all)) s"
if ((${#failed[@]})); then
	printf 'FAILED steps:\n' >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "all checks passed"
