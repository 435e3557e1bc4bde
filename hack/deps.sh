#!/usr/bin/env bash
# Installs the Debian packages hull's build, tests and benchmarks need, and nothing else.
# Idempotent and quiet when everything is present; runs `apt-get update` only when something
# is missing. The Rust toolchain is not a Debian package here: it must already be on PATH.
set -euo pipefail

packages=(
	busybox-static # the test rootfs (bundle-fixtures/build-rootfs.sh)
	runc           # the yardstick: the integration suite runs against it, bench compares
	crun           # bench baseline
	hyperfine      # hack/bench.sh
	jq             # hack/bench.sh reads hyperfine's JSON
	libseccomp-dev # seccomp filters
	pkg-config     # finds libseccomp for the build
	iproute2       # tests inspect links and addresses with `ip`
	nftables       # tests inspect hull's nft table
	util-linux     # unshare, nsenter, findmnt in scripts and tests
	umoci          # reference unpacker for image tests
	skopeo         # builds OCI layouts for image tests
	tini           # reference init for pid1 tests
	gcc            # cc for build scripts of -sys crates
	docker.io      # dockerd and its client: client tests (network, shim)
	containerd     # containerd and ctr: shim tests
	podman         # podman client tests
	conmon         # podman's monitor
	bsdutils       # `script`: a terminal for `ctr run -t`, `docker exec -t` in the client tests
	iptables       # dockerd's networking inside the test namespaces
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "deps: missing packages: ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for tool in cargo rustc; do
	if ! command -v "$tool" >/dev/null; then
		echo "deps: $tool not on PATH; install a Rust toolchain (rust-version in Cargo.toml)" >&2
		exit 1
	fi
done
for tool in rustfmt clippy-driver; do
	if ! command -v "$tool" >/dev/null; then
		echo "deps: $tool not on PATH; add the rustfmt and clippy components" >&2
		exit 1
	fi
done
