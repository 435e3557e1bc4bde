#!/usr/bin/env bash
# Builds the busybox rootfs every test bundle copies, from Debian's busybox-static (never a
# download). Usage: build-rootfs.sh [OUT]   (default: bundle-fixtures/rootfs, gitignored).
# Idempotent: a stamp of this script and the busybox binary skips the rebuild; a rebuild goes to
# a temporary directory that replaces OUT in one rename, so parallel callers never see half a tree.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/rootfs}
busybox=/usr/bin/busybox

if [[ ! -x $busybox ]] || ! $busybox --list >/dev/null 2>&1; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "build-rootfs: $busybox missing; install busybox-static (apt-get install busybox-static)" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
# A dynamically linked busybox would need the host's libc inside the rootfs.
if ldd "$busybox" >/dev/null 2>&1; then
	echo "build-rootfs: $busybox is dynamically linked; install busybox-static" >&2
	exit 1
fi

stamp="$(sha256sum "$busybox" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"
if [[ -f $out/.hull-fixture && $(cat "$out/.hull-fixture") == "$stamp" ]]; then
	echo "$out"
	exit 0
fi

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$out.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"

mkdir -p "$tmp"/{bin,sbin,etc,proc,sys,dev,tmp,root,home/hull,run,var/tmp,usr/bin,usr/sbin}
chmod 1777 "$tmp/tmp" "$tmp/var/tmp"
chmod 0700 "$tmp/root"
cp "$busybox" "$tmp/bin/busybox"
chmod 0755 "$tmp/bin/busybox"
# Every applet in /bin (PATH finds it there), and also where `busybox --install` would put it
# (sbin, usr/bin, usr/sbin) so absolute paths such as /sbin/init or /usr/bin/env work.
while read -r applet; do
	[[ $applet == busybox ]] && continue
	ln -s busybox "$tmp/bin/$applet"
done < <($busybox --list)
while read -r full; do
	case $full in
	sbin/*) ln -sf ../bin/busybox "$tmp/$full" ;;
	usr/bin/* | usr/sbin/*) ln -sf ../../bin/busybox "$tmp/$full" ;;
	esac
done < <($busybox --list-full)

cat >"$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
hull:x:1000:1000:hull test user:/home/hull:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$tmp/etc/group" <<'GROUP'
root:x:0:
tty:x:5:
hull:x:1000:
hulltest:x:1001:hull
nogroup:x:65534:
GROUP
echo hull-fixture >"$tmp/etc/hostname"
: >"$tmp/etc/hosts"
: >"$tmp/etc/resolv.conf"
chown 1000:1000 "$tmp/home/hull"
chmod 0755 "$tmp/home/hull"
echo "$stamp" >"$tmp/.hull-fixture"

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
