#!/usr/bin/env bash
# Network hook benchmark: one hyperfine run timing attach + detach of one container's network,
# hull's hooks (`hull network attach` then `detach`) against Debian's CNI `bridge` plugin with
# `host-local` IPAM (containernetworking-plugins, driven directly: CNI_* variables and a JSON
# config on stdin), then the means and the ratio hull/cni.
#
# Usage: bash hack/bench-net.sh [--quick]
#
# Both do the same work: create the bridge if missing (it stays between runs for both), a
# veth pair into the container's namespace, an address from a lease directory, the default
# route, outbound masquerade (nftables for hull, the plugin's iptables for CNI), and undo it.
# Everything runs in a network namespace of the script's own (`unshare --net`); the
# "container" is a `sleep` in a namespace of its own (`unshare -n`). The host's interfaces,
# routes and rules are untouched, and all of it goes when the script ends.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
hull=$repo/target/x86_64-unknown-linux-gnu/release/hull
cni=/usr/lib/cni

usage() {
	sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

quick=0
inner=0
work=
while (($#)); do
	case $1 in
	--quick) quick=1 ;;
	--inner) inner=1; work=${2:?}; shift ;;
	-h | --help) usage ;;
	*) echo "bench-net: unknown argument $1" >&2; usage ;;
	esac
	shift
done

# The part that runs inside the benchmark's own network namespace.
if ((inner)); then
	ip link set lo up
	unshare -n sleep 100000 &
	target=$!
	trap 'kill $target 2>/dev/null || true' EXIT
	# unshare execs sleep once it is in its new namespace.
	while [[ $(readlink /proc/$target/ns/net) == $(readlink /proc/self/ns/net) ]]; do sleep 0.01; done
	netns=/proc/$target/ns/net
	printf '{"ociVersion":"1.0.2","id":"bench","pid":%d,"status":"created","bundle":"/"}' "$target" \
		>"$work/state.json"
	cat >"$work/cni.json" <<-EOF
		{"cniVersion": "1.0.0", "name": "benchnet", "type": "bridge", "bridge": "cni0",
		 "isGateway": true, "ipMasq": true,
		 "ipam": {"type": "host-local", "subnet": "10.89.0.0/16", "dataDir": "$work/cni-leases",
		          "routes": [{"dst": "0.0.0.0/0"}]}}
	EOF
	hull_cmd="$hull network attach --state-dir $work/hull-state <$work/state.json && $hull network detach --state-dir $work/hull-state bench"
	cni_env="CNI_CONTAINERID=bench CNI_NETNS=$netns CNI_IFNAME=eth0 CNI_PATH=$cni"
	cni_cmd="CNI_COMMAND=ADD $cni_env $cni/bridge <$work/cni.json >/dev/null && CNI_COMMAND=DEL $cni_env $cni/bridge <$work/cni.json"
	# One untimed round of each, checked: the container must have its address in between.
	for name in hull cni; do
		cmd=${name}_cmd
		attach=${!cmd%% && *}
		eval "$attach" >/dev/null
		if ! nsenter -t "$target" -n ip -o -4 addr show eth0 | grep -q 'inet 10\.8[89]\.'; then
			echo "bench-net: $name did not give the container an address" >&2
			exit 1
		fi
		eval "${!cmd#* && }"
		if nsenter -t "$target" -n ip link show eth0 >/dev/null 2>&1; then
			echo "bench-net: $name did not remove the container's eth0" >&2
			exit 1
		fi
	done
	if ((quick)); then
		runs=(--warmup 2 --runs 10)
	else
		runs=(--warmup 10 --min-runs 50)
	fi
	hyperfine --style basic "${runs[@]}" --export-json "$work/result.json" \
		--command-name hull "$hull_cmd" --command-name cni "$cni_cmd"
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "bench-net: run as root" >&2
	exit 1
fi
for tool in hyperfine jq unshare nsenter ip; do
	command -v "$tool" >/dev/null || { echo "bench-net: $tool not found" >&2; exit 1; }
done
[[ -x $cni/bridge && -x $cni/host-local ]] ||
	{ echo "bench-net: CNI plugins not found in $cni (apt-get install containernetworking-plugins)" >&2; exit 1; }
cargo build --release --quiet
echo "hull: $hull ($("$hull" --version | head -1))"
echo "cni: $cni/bridge + host-local ($(dpkg-query -W -f '${Version}' containernetworking-plugins 2>/dev/null || echo '?'))"

work=$(mktemp -d /tmp/hull-bench-net.XXXXXX)
trap 'rm -rf "$work"' EXIT
args=(--inner "$work")
((quick)) && args+=(--quick)
unshare --net --fork bash "${BASH_SOURCE[0]}" "${args[@]}"

echo
echo "mean time of attach + detach of one container:"
jq -r '.results[] | "  \(.command)\t\(.mean * 1000 * 100 | round / 100) ms ± \(.stddev * 1000 * 100 | round / 100) ms"' \
	"$work/result.json"
mean() { jq -r --arg c "$1" '.results[] | select(.command == $c) | .mean' "$work/result.json"; }
awk -v a="$(mean hull)" -v b="$(mean cni)" \
	'BEGIN { printf "  hull/cni\t%.2f (below 1 means hull is faster)\n", a / b }'
