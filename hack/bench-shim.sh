#!/usr/bin/env bash
# Benchmarks hull's containerd shim against containerd's runc shim, side by side in one run,
# on a private containerd (root, state, sockets in a temp dir; Debian's containerd 1.6):
#  1. `ctr run --rm` of /bin/true (hyperfine): hull's shim with hull, the runc shim with
#     hull (--runc-binary), the runc shim with runc;
#  2. resident memory of one idle shim per container for 20 containers: hull's shim vs
#     containerd's Go runc shim (with runc), as RSS and as PSS (pages shared between the
#     20 shims divided among them), and their ratio (target: hull's at most a third).
# Usage: bash hack/bench-shim.sh [--quick]   (--quick: 10 runs, 5 containers)
# Builds the release binaries (cargo build --release: hull and the shim) first. Needs root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
runs=30
count=20
if [[ ${1:-} == --quick ]]; then
	runs=10
	count=5
fi
[[ $(id -u) -eq 0 ]] || { echo "bench-shim: run as root" >&2; exit 1; }
bash hack/deps.sh
cargo build --release >&2
archive=$(bash bundle-fixtures/docker-save.sh)
image=docker.io/hull-test/busybox:latest

dir=$(mktemp -d /run/hull-bench-shim.XXXXXX)
ns=hullbench$$
bin=$dir/bin
mkdir -p "$bin" "$dir/fifo"
ln -s "$repo/target/x86_64-unknown-linux-gnu/release/hull" "$bin/hull"
ln -s "$repo/target/x86_64-unknown-linux-gnu/release/containerd-shim-hull-v2" "$bin/containerd-shim-hull-v2"
cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/c.sock"
[ttrpc]
  address = "$dir/c.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
EOF
PATH="$bin:$PATH" containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
ctd_pid=$!
ctr=(ctr --address "$dir/c.sock" --namespace "$ns")

cleanup() {
	set +e
	for id in $("${ctr[@]}" containers ls -q 2>/dev/null); do
		"${ctr[@]}" task kill -a -s KILL "$id" >/dev/null 2>&1
		"${ctr[@]}" task rm -f "$id" >/dev/null 2>&1
		"${ctr[@]}" containers rm "$id" >/dev/null 2>&1
	done
	kill "$ctd_pid" 2>/dev/null && wait "$ctd_pid" 2>/dev/null
	grep -o " $dir[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf "$dir" "/run/containerd/hull/$ns" "/run/containerd/runc/$ns"
	for c in /sys/fs/cgroup/*/"$ns" /sys/fs/cgroup/"$ns"; do
		[[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}
trap cleanup EXIT

for _ in $(seq 100); do
	"${ctr[@]}" version >/dev/null 2>&1 && break
	sleep 0.1
done
"${ctr[@]}" images import "$archive" >/dev/null

# One command line per variant; `{n}` gets a fresh id per run.
run_cmd() {
	local runtime=$1
	echo "${ctr[*]} run --rm --fifo-dir $dir/fifo $runtime $image b\$(date +%s%N) /bin/true"
}
hull_shim="--runtime io.containerd.hull.v2"
runc_hull="--runtime io.containerd.runc.v2 --runc-binary $repo/target/x86_64-unknown-linux-gnu/release/hull"
runc_runc="--runtime io.containerd.runc.v2 --runc-binary $(command -v runc)"

echo "== ctr run --rm /bin/true ($runs runs each)"
hyperfine --style basic --warmup 3 --runs "$runs" --export-json "$dir/run.json" \
	-n "hull shim + hull" "$(run_cmd "$hull_shim")" \
	-n "runc shim + hull" "$(run_cmd "$runc_hull")" \
	-n "runc shim + runc" "$(run_cmd "$runc_runc")" >&2
jq -r '.results[] | "\(.command): \(.mean * 1000 | floor) ms (± \(.stddev * 1000 | floor))"' "$dir/run.json"

# Sum of a /proc/PID/smaps_rollup field (kB) over pids.
mem_sum() {
	local field=$1 total=0 pid v
	shift
	for pid in "$@"; do
		v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# Starts $count idle containers with runtime flags $1; prints the pids of their shims.
idle_shims() {
	local runtime=$1 i
	for i in $(seq "$count"); do
		# shellcheck disable=SC2086
		"${ctr[@]}" run -d --fifo-dir "$dir/fifo" $runtime "$image" "idle$i" sleep 100000 >/dev/null
	done
	sleep 2
	pgrep -f -- "-address $dir/c.sock" | tr '\n' ' '
}

remove_all() {
	for id in $("${ctr[@]}" containers ls -q); do
		"${ctr[@]}" task kill -s KILL "$id" >/dev/null 2>&1 || true
		"${ctr[@]}" task rm -f "$id" >/dev/null 2>&1 || true
		"${ctr[@]}" containers rm "$id" >/dev/null
	done
	sleep 1
}

report() {
	local name=$1 n rss pss s
	read -r -a s <<<"$2"
	n=${#s[@]}
	rss=$(mem_sum Rss "${s[@]}")
	pss=$(mem_sum Pss "${s[@]}")
	printf '%-10s %2d shims: RSS %6d kB (%5d kB each), PSS %6d kB (%5d kB each)\n' \
		"$name" "$n" "$rss" $((rss / n)) "$pss" $((pss / n))
	echo "$rss $pss" >"$dir/$name.total"
}

echo "== idle memory, one shim per container, $count containers"
report hull-shim "$(idle_shims "$hull_shim")"
remove_all
report runc-shim "$(idle_shims "$runc_runc")"
remove_all
read -r h_rss h_pss <"$dir/hull-shim.total"
read -r g_rss g_pss <"$dir/runc-shim.total"
echo "hull's shim / Go runc shim: RSS $((100 * h_rss / g_rss))%, PSS $((100 * h_pss / g_pss))% (target: at most 33%)"
