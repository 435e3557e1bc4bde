#!/usr/bin/env bash
# First command after a checkout: installs what is missing, builds hull in release mode,
# builds the busybox test rootfs, then runs one demo container with the fresh binary and
# removes every trace of it (bundle, state root).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ $(id -u) -ne 0 ]]; then
	echo "setup: run as root (hull creates namespaces, cgroups and mounts)" >&2
	exit 1
fi

bash hack/deps.sh
echo "==> cargo build --release"
cargo build --release
hull=$PWD/target/x86_64-unknown-linux-gnu/release/hull
echo "==> test rootfs"
rootfs=$(bash bundle-fixtures/build-rootfs.sh)

echo "==> demo: $hull run"
work=$(mktemp -d /tmp/hull-demo.XXXXXX)
id=hull-demo-$$
cleanup() {
	"$hull" --root "$work/state" delete --force "$id" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/bundle"
cp -a "$rootfs" "$work/bundle/rootfs"
jq '.hostname = "hull-demo"
	| .process.args = ["sh", "-c", "echo \"hostname: $(hostname)\"; echo \"id: $(id)\"; echo \"pid: $$\""]' \
	bundle-fixtures/base.json >"$work/bundle/config.json"
if ! out=$("$hull" --root "$work/state" run --bundle "$work/bundle" "$id"); then
	printf '%s\n' "$out"
	echo "setup: the demo container failed (see above)" >&2
	exit 1
fi
printf '%s\n' "$out" | sed 's/^/    /'
if [[ $out != *"hostname: hull-demo"* ]]; then
	echo "setup: the demo container did not print its hostname" >&2
	exit 1
fi
echo "setup done: $hull works; next: bash hack/test.sh"
