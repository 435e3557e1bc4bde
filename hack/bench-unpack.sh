#!/usr/bin/env bash
# Times `hull image unpack` against `umoci unpack` on the same generated image (at least
# 200 MiB in ~30k small files and some large ones, three gzip layers with whiteouts), in
# one hyperfine run, checks that both trees are equal, and prints the ratio.
# Usage: hack/bench-unpack.sh [--quick]
# Env: BENCH_MIB=240; BENCH_DIR=/var/tmp/hull-bench-unpack (the image, cached);
# BENCH_OUT (where bundles and the store go) defaults to /dev/shm, a tmpfs, so the numbers are
# the unpackers' own work and not this VM's disk (ext4 with online discard: there the
# rm of the last run's tree and the writeback dominate and swing by 3x between runs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
mib=${BENCH_MIB:-240}
work=${BENCH_DIR:-/var/tmp/hull-bench-unpack}
runs=10
[[ ${1:-} == --quick ]] && runs=3

for tool in hyperfine umoci python3; do
	command -v "$tool" >/dev/null || { echo "bench-unpack: $tool missing" >&2; exit 1; }
done
if [[ -z ${HULL_BIN:-} ]]; then
	(cd "$repo" && cargo build --release --quiet)
	HULL_BIN=$repo/target/x86_64-unknown-linux-gnu/release/hull
fi

mkdir -p "$work"
out=${BENCH_OUT:-/dev/shm/hull-bench-unpack}
mkdir -p "$out"
stamp="$mib $(sha256sum "$repo/bundle-fixtures/images/gen.py" | cut -d' ' -f1)"
if [[ ! -f $work/img/.stamp || $(cat "$work/img/.stamp") != "$stamp" ]]; then
	rm -rf "$work/img"
	python3 "$repo/bundle-fixtures/images/gen.py" "$work/img" --big "$mib"
	echo "$stamp" >"$work/img/.stamp"
fi
img=$work/img/big
echo "image: $(du -sh "$img" | cut -f1) compressed, layers of $(python3 -c "
import json,sys; d=json.load(open('$img/index.json'))['manifests'][0]['digest'][7:]
m=json.load(open('$img/blobs/sha256/'+d)); print(sum(l['size'] for l in m['layers'])>>20)") MiB"

# Same image, same output filesystem, one hyperfine run.
hyperfine --warmup 1 --runs "$runs" --export-json "$work/result.json" \
	--prepare "rm -rf '$out/out' '$out/store'; sync" \
	-n hull "'$HULL_BIN' image unpack --ref big '$img' '$out/out'" \
	-n hull-overlay "'$HULL_BIN' image unpack --overlay --store '$out/store' --ref big '$img' '$out/out'" \
	-n umoci "umoci unpack --image '$img:big' '$out/out'"

# The trees must be equal for the numbers to mean anything.
rm -rf "$out/out" "$out/out-umoci" "$out/store"
"$HULL_BIN" image unpack --ref big "$img" "$out/out"
umoci unpack --image "$img:big" "$out/out-umoci" >/dev/null
python3 "$repo/bundle-fixtures/images/compare.py" "$out/out/rootfs" "$out/out-umoci/rootfs" | tail -1
echo "unpacked: $(du -sm --apparent-size "$out/out/rootfs" | cut -f1) MiB in $(find "$out/out/rootfs" | wc -l) entries"
rm -rf "$out"

python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
print("umoci / hull         = %.2fx" % (r["umoci"] / r["hull"]))
print("umoci / hull-overlay = %.2fx" % (r["umoci"] / r["hull-overlay"]))
PY
