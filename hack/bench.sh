#!/usr/bin/env bash
# Startup benchmark: one hyperfine run timing `<runtime> run` of a /bin/true container, to
# exit, for hull, runc and crun on the same bundle, then the means and the ratios hull/runc
# and hull/crun. With --exec: the latency of `<runtime> exec <id> /bin/true` into a running
# container of each runtime instead.
#
# Usage: bash hack/bench.sh [--quick] [--exec] [--runtimes hull,runc,crun]
#
# Everything runs in one private mount namespace (`unshare -m`) in which
# /sys/fs/cgroup/unified is unmounted: crun 1.8 refuses this hybrid cgroup layout otherwise,
# and all runtimes must see the same mounts for a fair race. The host's mounts are untouched.
# Each timed run uses its own container id (`$$` of hyperfine's shell, no extra process).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

usage() {
	sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

quick=0
exec_mode=0
runtimes=hull,runc,crun
inner=0
work=
while (($#)); do
	case $1 in
	--quick) quick=1 ;;
	--exec) exec_mode=1 ;;
	--runtimes) runtimes=${2:?--runtimes needs a list}; shift ;;
	--runtimes=*) runtimes=${1#*=} ;;
	--inner) inner=1; work=${2:?}; shift ;;
	-h | --help) usage ;;
	*) echo "bench: unknown argument $1" >&2; usage ;;
	esac
	shift
done
IFS=, read -r -a rts <<<"$runtimes"

binary_of() {
	case $1 in
	hull) echo "$repo/target/x86_64-unknown-linux-gnu/release/hull" ;;
	runc) command -v runc ;;
	crun) command -v crun ;;
	*) echo "bench: unknown runtime $1 (want hull, runc or crun)" >&2; return 1 ;;
	esac
}

# The part that runs inside the private mount namespace.
if ((inner)); then
	if mountpoint -q /sys/fs/cgroup/unified; then
		umount /sys/fs/cgroup/unified
	fi
	bundle=$work/bundle
	# One untimed run per runtime first, of a container that must say something, so a
	# broken runtime fails here with its own message instead of timing a no-op.
	cp "$bundle/check.json" "$bundle/config.json"
	for rt in "${rts[@]}"; do
		bin=$(binary_of "$rt")
		mkdir -p "$work/state-$rt"
		if ! out=$("$bin" --root "$work/state-$rt" run --bundle "$bundle" "bench-$rt-check" 2>&1) ||
			[[ $out != *bench-check-ok* ]]; then
			echo "bench: $rt cannot run the benchmark container (want exit 0 and \"bench-check-ok\"), got:" >&2
			printf '%s\n' "$out" >&2
			exit 1
		fi
	done
	cmds=()
	if ((exec_mode)); then
		# One long-running container per runtime; each timed run execs /bin/true into it.
		cp "$bundle/sleep.json" "$bundle/config.json"
		for rt in "${rts[@]}"; do
			bin=$(binary_of "$rt")
			"$bin" --root "$work/state-$rt" run --detach --bundle "$bundle" "bench-$rt-exec"
			cmds+=(--command-name "$rt" "$bin --root $work/state-$rt exec bench-$rt-exec /bin/true")
		done
	else
		cp "$bundle/true.json" "$bundle/config.json"
		for rt in "${rts[@]}"; do
			bin=$(binary_of "$rt")
			cmds+=(--command-name "$rt" "$bin --root $work/state-$rt run --bundle $bundle bench-$rt-\$\$")
		done
	fi
	if ((quick)); then
		runs=(--warmup 2 --runs 10)
	else
		runs=(--warmup 10 --min-runs 50)
	fi
	hyperfine --style basic "${runs[@]}" --export-json "$work/result.json" "${cmds[@]}"
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "bench: run as root" >&2
	exit 1
fi
bash hack/deps.sh
for rt in "${rts[@]}"; do
	if [[ $rt == hull ]]; then
		cargo build --release --quiet
	fi
	bin=$(binary_of "$rt")
	[[ -x $bin ]] || { echo "bench: $rt binary $bin not found" >&2; exit 1; }
	echo "$rt: $bin ($("$bin" --version 2>/dev/null | head -1))"
done

rootfs=$(bash bundle-fixtures/build-rootfs.sh)
work=$(mktemp -d /tmp/hull-bench.XXXXXX)
cleanup() {
	for rt in "${rts[@]}"; do
		root=$work/state-$rt
		[[ -d $root ]] || continue
		bin=$(binary_of "$rt") || continue
		for id in $("$bin" --root "$root" list --quiet 2>/dev/null); do
			"$bin" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/bundle"
cp -a "$rootfs" "$work/bundle/rootfs"
jq '.process.args = ["/bin/true"]' bundle-fixtures/base.json >"$work/bundle/true.json"
jq '.process.args = ["echo", "bench-check-ok"]' bundle-fixtures/base.json >"$work/bundle/check.json"
jq '.process.args = ["sleep", "100000"]' bundle-fixtures/base.json >"$work/bundle/sleep.json"

args=(--inner "$work" --runtimes "$runtimes")
((quick)) && args+=(--quick)
((exec_mode)) && args+=(--exec)
unshare --mount --propagation private bash "${BASH_SOURCE[0]}" "${args[@]}"

echo
if ((exec_mode)); then
	echo "mean latency of exec /bin/true into a running container:"
else
	echo "mean startup-to-exit time of a /bin/true container:"
fi
jq -r '.results[] | "  \(.command)\t\(.mean * 1000 * 100 | round / 100) ms ± \(.stddev * 1000 * 100 | round / 100) ms"' \
	"$work/result.json"
mean() { jq -r --arg c "$1" '.results[] | select(.command == $c) | .mean' "$work/result.json"; }
if [[ ,$runtimes, == *,hull,* ]]; then
	for other in runc crun; do
		[[ ,$runtimes, == *,$other,* ]] || continue
		awk -v a="$(mean hull)" -v b="$(mean "$other")" -v o="$other" \
			'BEGIN { printf "  hull/%s\t%.2f (below 1 means hull is faster)\n", o, a / b }'
	done
fi
