#!/usr/bin/env bash
# Runs the integration test binary on a pure cgroup v2 host: Debian's cloud kernel under qemu
# (TCG: KVM hangs at boot on this machine), an initramfs with the test binary, hull, their
# libraries and the bundle fixtures at the paths they have here, and hack/guest/init as /init.
# The guest's serial console is streamed here; the exit status is the tests' own, read from
# the marker line /init prints (124 if the guest timed out, 125 if it never printed one).
#
# Usage: bash hack/guest-v2.sh [TEST_BINARY_ARGS...]   e.g.  cgroups_v2 lifecycle
# (default: cgroups_v2). Arguments go to the guest on the kernel command line, so each must be
# one word without quotes.
# Environment: HULL_GUEST_TIMEOUT (s, default 1500), HULL_GUEST_THREADS (--test-threads,
# default 2), HULL_GUEST_MEM (default 2G), HULL_GUEST_CACHE (kernel cache, default
# /var/cache/hull-guest), HULL_GUEST_MODULES (kernel modules to load, default below).
#
# Caches: the kernel package is downloaded once per version and unpacked under
# HULL_GUEST_CACHE (never installed as the host's kernel); the initramfs is rebuilt under
# target/guest/ only when one of its inputs changed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
here=$repo/hack
out=$repo/target/guest
cache=${HULL_GUEST_CACHE:-/var/cache/hull-guest}
timeout_s=${HULL_GUEST_TIMEOUT:-1500}
threads=${HULL_GUEST_THREADS:-2}
mem=${HULL_GUEST_MEM:-2G}
# overlay, veth and bridge for the tests; nf_tables and NAT for the network hook.
read -r -a modules <<<"${HULL_GUEST_MODULES:-overlay veth bridge nf_tables nft_chain_nat nft_nat nft_masq}"
meta=linux-image-cloud-amd64
marker=HULL-GUEST-EXIT
args=("$@")
((${#args[@]})) || args=(cgroups_v2)
[[ $threads =~ ^[1-9][0-9]*$ ]] || { echo "guest-v2: HULL_GUEST_THREADS must be a number" >&2; exit 1; }

log() { echo "guest-v2: $*" >&2; }
die() {
	log "$*"
	exit 1
}

t_start=$SECONDS
phase() { log "$1 ($((SECONDS - t_start)) s)"; }

ensure_packages() {
	local need=(qemu-system-x86 cpio kmod jq binutils busybox-static bash) missing=() p
	for p in "${need[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	[[ $(id -u) -eq 0 ]] || die "missing packages: ${missing[*]}; run as root"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The real package behind the cloud metapackage and its candidate version, from apt's local
# lists (after one `apt-get update` if they are missing or "$1" is "update").
kernel_package() {
	local pkg ver
	[[ ${1:-} == update ]] && apt-get update -qq >&2
	pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
	if [[ -z $pkg && ${1:-} != update ]]; then
		kernel_package update
		return
	fi
	[[ -n $pkg ]] || return 1
	ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2; exit}')
	[[ -n $ver && $ver != "(none)" ]] || return 1
	echo "${pkg}_$ver"
}

# Downloads and unpacks package id "$1" (name_version) into $cache/$1; false on failure.
download_kernel() {
	local id=$1 tmp ok=0
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.download.XXXXXX")
	if (cd "$tmp" && apt-get download -q=2 -o APT::Sandbox::User=root "${id%%_*}=${id#*_}") &&
		dpkg-deb -x "$tmp"/*.deb "$tmp/x"; then
		rm -rf "${cache:?}/$id"
		mkdir -p "$cache/$id"
		mv "$tmp/x/boot" "$tmp/x/lib" "$cache/$id/"
		: >"$cache/$id/.complete"
		ok=1
	fi
	rm -rf "$tmp"
	((ok))
}

# Sets kdir (the unpacked package: boot/vmlinuz-*, lib/modules/<kver>/), kver and vmlinuz.
# Uses the candidate version apt knows; only one version is kept in the cache.
fetch_kernel() {
	local id old
	if ! id=$(kernel_package); then
		kdir=$(find "$cache" -mindepth 1 -maxdepth 1 -type d -name 'linux-image-*' 2>/dev/null | sort -V | tail -n1)
		[[ -n $kdir && -f $kdir/.complete ]] || die "cannot resolve $meta with apt and no kernel is cached in $cache"
		log "apt cannot resolve $meta; using the cached $(basename "$kdir")"
	else
		if [[ ! -f $cache/$id/.complete ]]; then
			log "downloading ${id%%_*} ${id#*_}"
			# Stale lists name a version the mirror no longer has: refresh them once.
			download_kernel "$id" || { id=$(kernel_package update) && download_kernel "$id"; } ||
				die "cannot download $meta's kernel package (${id:-unresolved})"
			for old in "$cache"/linux-image-*; do
				[[ $old == "$cache/$id" ]] || rm -rf "$old"
			done
		fi
		kdir=$cache/$id
	fi
	vmlinuz=$(echo "$kdir"/boot/vmlinuz-*)
	kver=${vmlinuz##*/vmlinuz-}
	[[ -f $vmlinuz && -d $kdir/lib/modules/$kver ]] || die "incomplete kernel in $kdir"
}

# Sets test_bin and hull_bin from cargo's build messages.
build_binaries() {
	local json
	# --features shim: the shim's OOM watch runs here too (integration/shim.rs oom_watch).
	json=$(cargo test --features shim --test integration --no-run --message-format=json) || die "cargo build failed"
	test_bin=$(jq -r 'select(.reason == "compiler-artifact" and .profile.test and .target.name == "integration") | .executable // empty' <<<"$json" | tail -n1)
	hull_bin=$(jq -r 'select(.reason == "compiler-artifact" and (.target.kind | index("bin")) and .target.name == "hull") | .executable // empty' <<<"$json" | tail -n1)
	[[ -x $test_bin && -x $hull_bin ]] || die "cargo did not report the integration test binary and hull"
}

# Sets mod_files: the module files to load, dependencies first, relative to
# lib/modules/<kver>/. Built-in modules are skipped.
module_order() {
	local mdir=$kdir/lib/modules/$kver m
	local -A seen=()
	mod_files=()
	visit() {
		local name=$1 file dep
		[[ -n ${seen[$name]:-} ]] && return 0
		seen[$name]=1
		grep -qE "/${name//[-_]/[-_]}\.ko\$" "$mdir/modules.builtin" && return 0
		file=$(cd "$mdir" && find kernel -regex ".*/${name//[-_]/[-_]}\.ko" -print -quit)
		[[ -n $file ]] || die "kernel $kver has no module $name"
		for dep in $(modinfo -F depends "$mdir/$file" | tr ',' ' '); do
			visit "$dep"
		done
		mod_files+=("$file")
	}
	for m in "${modules[@]}"; do visit "$m"; done
}

# Every input of the initramfs, one line each, so a change anywhere triggers a rebuild.
inputs() {
	sha256sum "$here/guest-v2.sh" "$here/guest/init"
	echo "kernel $kdir modules ${modules[*]}"
	stat -L -c '%n %s %Y %a' "$test_bin" "$hull_bin" /usr/bin/busybox /usr/bin/bash /usr/bin/setpriv
	# hull and the test binary are static (.cargo/config.toml): ldd lists no library for them.
	{ ldd "$test_bin" "$hull_bin" /usr/bin/bash /usr/bin/setpriv 2>/dev/null || true; } |
		awk '/=> \// {print $3} /^\t\// {print $1}' |
		sort -u | xargs stat -L -c '%n %s %Y'
	find "$repo/bundle-fixtures" -path '*/rootfs.tmp.*' -prune -o \
		-printf '%p %s %T@ %m %U %G %l\n' | LC_ALL=C sort
}

# Copies a host file to the same path under the stage (following symlinks).
put() {
	local src=$1 dst=$stage${2:-$1}
	mkdir -p "$(dirname "$dst")"
	cp -L --preserve=mode "$src" "$dst"
}

# Copies an executable with its shared libraries and the dynamic loader (none when static).
put_exe() {
	local exe=$1 lib
	put "$exe"
	for lib in $(ldd "$exe" 2>/dev/null | awk '/=> \// {print $3} /^\t\// {print $1}'); do
		[[ -e $stage$lib ]] || put "$lib"
	done
}

# A binary without its debug info (a fifth of the size, so the guest boots faster); the
# symbols stay, so backtraces still name functions.
put_stripped() {
	put_exe "$1"
	objcopy --strip-debug "$stage$1"
}

stage_initramfs() {
	local img=$out/initramfs.cpio sum l f rel
	mkdir -p "$out"
	sum=$(inputs | sha256sum | cut -d' ' -f1)
	if [[ -f $img && -f $out/initramfs.sum && $(cat "$out/initramfs.sum") == "$sum" ]]; then
		initrd=$img
		log "initramfs unchanged: $img"
		return 0
	fi
	stage=$out/stage
	rm -rf "$stage"
	mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,proc,sys,dev,run,tmp,root,etc/hull-guest}
	# Merged /usr, like this host: /bin, /sbin, /lib, /lib64 are links into /usr.
	for l in bin sbin lib lib64; do ln -s "usr/$l" "$stage/$l"; done
	chmod 1777 "$stage/tmp"
	chmod 0700 "$stage/root"
	# build-rootfs.sh, run by the tests, is a bash script; busybox gives every other tool.
	put_exe /usr/bin/bash
	# util-linux's setpriv: the rootless tests run the runtime as another user with it.
	put_exe /usr/bin/setpriv
	put /usr/bin/busybox
	while read -r f; do
		[[ -e $stage/$f || -L $stage/$f ]] || ln -s /usr/bin/busybox "$stage/$f"
	done < <(/usr/bin/busybox --list-full)
	put_stripped "$test_bin"
	put_stripped "$hull_bin"
	mkdir -p "$stage$repo"
	(cd "$repo" && find bundle-fixtures -path '*/rootfs.tmp.*' -prune -o -print0 |
		cpio --quiet -0 -pdm "$stage$repo")
	local mods=()
	module_order
	for rel in "${mod_files[@]}"; do
		put "$kdir/lib/modules/$kver/$rel" "/lib/modules/$kver/$rel"
		mods+=("/lib/modules/$kver/$rel")
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
	printf 'root:x:0:\ntty:x:5:\n' >"$stage/etc/group"
	{
		printf 'TEST_BIN=%q\nREPO=%q\n' "$test_bin" "$repo"
		printf 'MODULES=%q\n' "${mods[*]}"
	} >"$stage/etc/hull-guest/env"
	cp "$here/guest/init" "$stage/init"
	chmod 0755 "$stage/init"
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible) >"$img.tmp"
	mv "$img.tmp" "$img"
	echo "$sum" >"$out/initramfs.sum"
	rm -rf "$stage"
	initrd=$img
	log "initramfs rebuilt: $img ($(du -h "$img" | cut -f1))"
}

boot() {
	local serial=$out/serial.log append code
	local a
	for a in "${args[@]}"; do
		[[ $a =~ ^[][A-Za-z0-9_:.=,/*+-]+$ ]] || die "argument ${a@Q} cannot go on the kernel command line"
	done
	append="console=ttyS0 panic=-1 loglevel=4 mitigations=off rdinit=/init -- --test-threads=$threads ${args[*]}"
	: >"$serial"
	log "booting $kver (tcg, $mem, 2 cpus, timeout ${timeout_s} s): ${args[*]}"
	set +e
	timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
		-accel tcg,thread=multi -cpu max -m "$mem" -smp 2 \
		-nodefaults -display none -no-reboot -nic none \
		-serial "file:$serial" -monitor none \
		-kernel "$vmlinuz" -initrd "$initrd" -append "$append" </dev/null &
	qemu=$!
	# timeout runs qemu in its own process group, out of reach of a ^C here.
	trap 'kill "$qemu" 2>/dev/null' EXIT
	tail -n +1 -F --pid="$qemu" "$serial" 2>/dev/null | tr -d '\r'
	wait "$qemu"
	code=$?
	trap - EXIT
	set -e
	phase "guest finished"
	if ((code == 124 || code == 137)); then
		log "the guest did not finish within ${timeout_s} s"
		return 124
	fi
	((code == 0)) || log "qemu exited with $code"
	code=$(tr -d '\r' <"$serial" | awk -v m="$marker" '$1 == m && $2 ~ /^[0-9]+$/ {c = $2} END {print c}')
	if [[ -z $code ]]; then
		log "no '$marker' line in $serial: the guest died before the tests finished"
		return 125
	fi
	return "$code"
}

mkdir -p "$out"
# One guest per checkout at a time: they share the initramfs and the console log.
exec 9>"$out/.lock"
flock 9
ensure_packages
fetch_kernel
phase "kernel $kver ready"
build_binaries
bash bundle-fixtures/build-rootfs.sh >/dev/null
phase "binaries and fixtures built"
stage_initramfs
phase "initramfs ready"
status=0
boot || status=$?
log "exit status $status (total $((SECONDS - t_start)) s)"
exit "$status"
