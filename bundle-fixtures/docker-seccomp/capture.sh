#!/usr/bin/env bash
# Captures the seccomp profile dockerd really writes into a container's config.json, so hull's
# tests run Docker's default profile exactly as Docker hands it over (resolved for this
# architecture and Docker's default capability set), not a hand conversion of moby's template.
#
# Usage: capture.sh [OUT]   (default: bundle-fixtures/docker-seccomp/default.json). Needs root
# and Debian's docker.io (dockerd 20.10); no network.
#
# How: a private dockerd (its own data root, exec root, pid file, unix socket, config file and
# key, all under one temp dir; no bridge, no iptables, no ip forwarding, no masquerade, the vfs
# storage driver so no overlay mounts, a private cgroup parent) imports the busybox fixture
# rootfs as an image, runs `true` in it through a runtime wrapper that copies the bundle's
# config.json aside and then execs runc, and is then stopped. `.linux.seccomp` of the copy is
# the fixture. Everything is torn down on exit, and the script fails if a process, mount,
# network device, netfilter rule or cgroup of the private daemon is left.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/default.json}
[[ $(id -u) -eq 0 ]] || { echo "capture: must run as root" >&2; exit 1; }
for p in dockerd /usr/bin/docker runc jq tar; do
	command -v "$p" >/dev/null || { echo "capture: $p missing (apt-get install docker.io jq)" >&2; exit 1; }
done
rootfs=$(bash "$here/../build-rootfs.sh")

tmp=$(mktemp -d /var/tmp/hull-docker-capture.XXXXXX)
sock=$tmp/docker.sock
cgparent=hull-docker-capture-$$
export DOCKER_HOST=unix://$sock DOCKER_CONFIG=$tmp/client
docker=/usr/bin/docker
dockerd_pid=

snapshot() { # what the private daemon must not change on the host
	ip -o link show | awk -F': ' '{print $2}' | sort
	nft list ruleset 2>/dev/null | md5sum
	iptables-save 2>/dev/null | grep -v '^#' | md5sum
	cat /proc/sys/net/ipv4/ip_forward
	ls -d /run/docker /run/containerd /var/lib/docker /var/lib/containerd /var/run/docker.sock 2>/dev/null || true
}

cleanup() {
	local rc=$? leftover=
	if [[ -n $dockerd_pid ]] && kill -0 "$dockerd_pid" 2>/dev/null; then
		kill -TERM "$dockerd_pid"
		for _ in $(seq 150); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$dockerd_pid" 2>/dev/null && kill -KILL "$dockerd_pid"
	fi
	# Anything still running from the private daemon's tree (managed containerd, shims).
	for pid in $(pgrep -f -- "$tmp" || true); do
		[[ $pid == "$$" ]] && continue
		leftover+=" process $pid ($(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null))"
		kill -KILL "$pid" 2>/dev/null || true
	done
	while read -r mnt; do
		leftover+=" mount $mnt"
		umount -l "$mnt" 2>/dev/null || true
	done < <(awk -v t="$tmp" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r)
	for dir in /sys/fs/cgroup/*/"$cgparent" /sys/fs/cgroup/unified/"$cgparent"; do
		[[ -d $dir ]] || continue
		find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || leftover+=" cgroup $dir"
	done
	rm -rf "$tmp"
	# Fixed paths dockerd and the containerd shim make whatever their roots: /run/docker/plugins
	# (plugin discovery) and /run/containerd/s (shim sockets). Removed when new and empty.
	for dir in /run/docker/plugins /run/docker /run/containerd/s /run/containerd; do
		[[ -d $dir && ${before_dirs:-} != *"$dir "* ]] && { rmdir "$dir" 2>/dev/null || true; }
	done
	if [[ -n ${before:-} && $(snapshot) != "$before" ]]; then
		leftover+=" host-state-changed"
		diff <(echo "$before") <(snapshot) >&2 || true
	fi
	if [[ -n $leftover ]]; then
		echo "capture: left behind (now removed):$leftover" >&2
		rc=1
	fi
	exit "$rc"
}
trap cleanup EXIT
before_dirs=$(for d in /run/docker/plugins /run/docker /run/containerd/s /run/containerd; do [[ ! -d $d ]] || printf "%s " "$d"; done)
before=$(snapshot)

mkdir -p "$tmp"/{data,exec,client,dump}
# The libtrust key would go to /etc/docker/key.json; daemon.json (not a flag) moves it.
echo "{\"deprecated-key-path\": \"$tmp/key.json\"}" >"$tmp/daemon.json"
# The runtime dockerd's shim calls: keep config.json of every `create`, then be runc.
cat >"$tmp/dump-runtime" <<EOF
#!/bin/sh
bundle=
prev=
for a in "\$@"; do
	case "\$prev" in --bundle|-b) bundle=\$a ;; esac
	case "\$a" in --bundle=*) bundle=\${a#--bundle=} ;; esac
	prev=\$a
done
[ -n "\$bundle" ] && cp "\$bundle/config.json" "$tmp/dump/config.json"
exec runc "\$@"
EOF
chmod 0755 "$tmp/dump-runtime"

dockerd \
	--config-file "$tmp/daemon.json" \
	--data-root "$tmp/data" --exec-root "$tmp/exec" --pidfile "$tmp/dockerd.pid" \
	--host "unix://$sock" \
	--iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none \
	--storage-driver vfs --cgroup-parent "$cgparent" \
	--add-runtime "dump=$tmp/dump-runtime" \
	>"$tmp/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 150); do
	$docker version >/dev/null 2>&1 && break
	kill -0 "$dockerd_pid" 2>/dev/null || { cat "$tmp/dockerd.log" >&2; exit 1; }
	sleep 0.2
done
$docker version --format 'captured with dockerd {{.Server.Version}}' >&2

tar -C "$rootfs" -c . | $docker import - hull-capture:busybox >/dev/null
$docker run --rm --runtime dump --network none hull-capture:busybox true
$docker rmi hull-capture:busybox >/dev/null

jq '.linux.seccomp' "$tmp/dump/config.json" >"$out.tmp"
[[ $(jq -r '.defaultAction' "$out.tmp") == SCMP_ACT_* ]] || { echo "capture: no seccomp in config.json" >&2; exit 1; }
mv "$out.tmp" "$out"
echo "capture: wrote $out ($(jq '.syscalls | length' "$out") rules)" >&2
