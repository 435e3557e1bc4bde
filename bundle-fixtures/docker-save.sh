#!/usr/bin/env bash
# Builds a `docker save` archive of the busybox fixture for the client tests (containerd's
# `ctr images import`, `docker load`, `podman load`): two layers and a whiteout.
#   layer 1: the busybox rootfs (build-rootfs.sh) plus /etc/doomed and /usr/share/hull/base
#   layer 2: /etc/.wh.doomed (deletes /etc/doomed) and /usr/share/hull/top
# Image config: Cmd ["sh"], a PATH, WorkingDir /, tag hull-test/busybox:latest.
# Usage: docker-save.sh [OUT]   (default: bundle-fixtures/busybox-save.tar, gitignored).
# Idempotent: a stamp of this script and the rootfs skips the rebuild; the archive is written
# to a temp file and renamed, so parallel callers never see half an archive.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/busybox-save.tar}
tag=hull-test/busybox:latest
rootfs=$(bash "$here/build-rootfs.sh")

stamp="$(cat "$rootfs/.hull-fixture") $(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
if [[ -f $out && -f $out.stamp && $(cat "$out.stamp") == "$stamp" ]]; then
	echo "$out"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hull-docker-save.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Reproducible tars with the member names docker uses (no "./"): fixed owner, mtime, order.
tarit() {
	(cd "$1" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
		tar --numeric-owner --owner=0 --group=0 --mtime=@0 --no-recursion -T - -cf "$2")
}

mkdir -p "$work/l1" "$work/l2/etc" "$work/l2/usr/share/hull" "$work/archive"
cp -a "$rootfs/." "$work/l1/"
rm -f "$work/l1/.hull-fixture"
echo "deleted by the upper layer" >"$work/l1/etc/doomed"
mkdir -p "$work/l1/usr/share/hull"
echo base >"$work/l1/usr/share/hull/base"
: >"$work/l2/etc/.wh.doomed"
echo top >"$work/l2/usr/share/hull/top"

diff_ids=()
layers=()
for l in l1 l2; do
	tarit "$work/$l" "$work/$l.tar"
	sum=$(sha256sum "$work/$l.tar" | cut -d' ' -f1)
	mkdir -p "$work/archive/$sum"
	mv "$work/$l.tar" "$work/archive/$sum/layer.tar"
	echo 1.0 >"$work/archive/$sum/VERSION"
	echo "{\"id\":\"$sum\"}" >"$work/archive/$sum/json"
	diff_ids+=("\"sha256:$sum\"")
	layers+=("\"$sum/layer.tar\"")
done

join() { local IFS=,; echo "$*"; }
config=$(printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",%s,%s,%s}' \
	'"config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"WorkingDir":"/"}' \
	"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$(join "${diff_ids[@]}")]}" \
	'"history":[{"created_by":"busybox rootfs"},{"created_by":"whiteout /etc/doomed"}]')
csum=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
printf '%s' "$config" >"$work/archive/$csum.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' \
	"$csum" "$tag" "$(join "${layers[@]}")" >"$work/archive/manifest.json"
printf '{"hull-test/busybox":{"latest":"%s"}}' "${diff_ids[-1]//[\"]/}" >"$work/archive/repositories"

tarit "$work/archive" "$work/out.tar"
mkdir -p "$(dirname "$out")"
mv "$work/out.tar" "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
echo "$stamp" >"$out.stamp"
echo "$out"
