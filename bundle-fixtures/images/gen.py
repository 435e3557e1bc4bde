#!/usr/bin/env python3
"""Test images for `hull image`: OCI layouts and a docker-save archive, made from scratch
with Python's tarfile (test tooling only; hull itself never shells out to tar).

Usage: gen.py OUT [--big MB]

OUT/layout        OCI layout, refs: v1 (3 layers: gzip busybox base + test files, plain
                  tar changes with whiteouts and an opaque dir, zstd top), v2 (shares v1's
                  base layer), multi (a nested index: linux/arm64 decoy + linux/amd64 = v1)
OUT/layout-gz     v1 again with every layer gzip (for tools without zstd)
OUT/docker.tar    `docker save` archive of v1 layers, tag hulltest:v1, User hull:hulltest
OUT/docker.tar.gz the same, gzipped (`docker save | gzip`, which `docker load` reads)
OUT/bad/NAME      one broken or malicious layout per case (see BAD below)
OUT/big           with --big: an image of at least MB MiB in many small and some large
                  files, three gzip layers with whiteouts (the unpack benchmark)
"""
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
MTIME = 1700000000
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


def sha(b):
    return hashlib.sha256(b).hexdigest()


def zstd(data):
    """zstd via the `zstd` CLI if present, else the python module."""
    try:
        import zstandard  # type: ignore
        return zstandard.ZstdCompressor(level=3).compress(data)
    except ImportError:
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, check=True,
                              stdout=subprocess.PIPE).stdout


class Layer:
    """One layer tar built in memory."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def add(self, name, kind=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0,
            link="", xattrs=None, dev=(0, 0), mtime=MTIME):
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.mtime = mtime
        ti.linkname = link
        ti.devmajor, ti.devminor = dev
        if xattrs:
            ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in xattrs.items()}
        if kind == tarfile.REGTYPE:
            ti.size = len(data)
            self.tar.addfile(ti, io.BytesIO(data))
        else:
            self.tar.addfile(ti)

    def dir(self, name, mode=0o755, **kw):
        self.add(name, tarfile.DIRTYPE, mode=mode, **kw)

    def tree(self, root):
        """Adds a host directory (the busybox fixture) under the layer root."""
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for n in sorted(dirnames + filenames):
                p = os.path.join(dirpath, n)
                rel = os.path.relpath(p, root)
                if rel == ".hull-fixture":
                    continue
                ti = self.tar.gettarinfo(p, arcname=rel)
                ti.uname = ti.gname = ""
                if ti.isreg():
                    with open(p, "rb") as f:
                        self.tar.addfile(ti, f)
                else:
                    self.tar.addfile(ti)

    def bytes(self):
        self.tar.close()
        return self.buf.getvalue()


class Layout:
    """An OCI image layout being written."""

    def __init__(self, path):
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(os.path.join(path, "blobs", "sha256"))
        self.path = path
        self.index = []
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def blob(self, data, media_type):
        d = sha(data)
        with open(os.path.join(self.path, "blobs", "sha256", d), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": "sha256:" + d, "size": len(data)}

    def image(self, layers, config, ref=None, compress=None, add=True):
        """layers: list of (tar bytes, compression); returns the manifest descriptor."""
        descs, diff_ids = [], []
        for tar_bytes, comp in layers:
            comp = compress or comp
            diff_ids.append("sha256:" + sha(tar_bytes))
            if comp == "gzip":
                descs.append(self.blob(gzip.compress(tar_bytes, 6, mtime=0), LAYER_TAR + "+gzip"))
            elif comp == "zstd":
                descs.append(self.blob(zstd(tar_bytes), LAYER_TAR + "+zstd"))
            else:
                descs.append(self.blob(tar_bytes, LAYER_TAR))
        cfg = dict(config)
        cfg.setdefault("architecture", "amd64")
        cfg.setdefault("os", "linux")
        cfg["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
        cdesc = self.blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cdesc, "layers": descs}
        mdesc = self.blob(json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
        if add:
            self.add(mdesc, ref)
        return mdesc

    def add(self, desc, ref=None, platform=None):
        d = dict(desc)
        if ref:
            d["annotations"] = {"org.opencontainers.image.ref.name": ref}
        if platform:
            d["platform"] = platform
        self.index.append(d)

    def close(self):
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": self.index}, f)


def busybox_rootfs():
    out = subprocess.run(["bash", os.path.join(HERE, "..", "build-rootfs.sh")], check=True,
                         stdout=subprocess.PIPE, text=True).stdout.strip()
    return out


def base_layer():
    """busybox + what the tests look for in the lowest layer."""
    l = Layer()
    l.tree(busybox_rootfs())
    l.dir("data", mode=0o755)
    l.add("data/lower.txt", data=b"from layer 1\n", xattrs={"user.test": "hello"})
    l.add("data/changed.txt", data=b"v1\n")
    l.add("data/deleted.txt", data=b"delete me\n")
    l.dir("data/gone")
    l.add("data/gone/inner.txt", data=b"inner\n")
    l.dir("opq")
    l.add("opq/old1", data=b"old 1\n")
    l.add("opq/old2", data=b"old 2\n")
    l.dir("opq2")
    l.add("opq2/old", data=b"old\n")
    l.dir("hard")
    l.add("hard/a", data=b"linked\n", mode=0o640, uid=1000, gid=1000)
    l.add("hard/b", tarfile.LNKTYPE, link="hard/a")
    l.add("link", tarfile.SYMTYPE, link="data/lower.txt")
    l.dir("srv")
    l.add("srv/fifo", tarfile.FIFOTYPE, mode=0o600)
    l.add("srv/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
    l.add("srv/setuid", data=b"#!/bin/sh\n", mode=0o4755, uid=1000, gid=1001, mtime=1234567890)
    return l.bytes()


def middle_layer():
    """Changes, a whiteout, a deleted dir, an opaque dir (plain tar)."""
    l = Layer()
    l.dir("data")
    l.add("data/changed.txt", data=b"v2 from layer 2\n")
    l.add("data/.wh.deleted.txt")
    l.add("data/.wh.gone")
    l.dir("opq")
    l.add("opq/.wh..wh..opq")
    l.add("opq/new", data=b"new in layer 2\n")
    l.dir("app")
    l.add("app/run.sh", data=b"#!/bin/sh\necho app\n", mode=0o755)
    # Written before its whiteout / opaque marker in the same layer: it stays (the spec
    # applies whiteouts to lower layers only); the lower content goes.
    l.add("data/same.txt", data=b"same layer\n")
    l.add("data/.wh.same.txt")
    l.dir("opq2")
    l.add("opq2/keep", data=b"keep\n")
    l.add("opq2/.wh..wh..opq")
    return l.bytes()


def top_layer():
    """A file written and whited out in the same layer stays (zstd)."""
    l = Layer()
    l.dir("etc")
    l.add("etc/motd", data=b"top layer\n")
    l.dir("app")
    l.add("app/.wh.run.sh")
    l.add("app/run.sh", data=b"#!/bin/sh\necho app v3\n", mode=0o755)
    return l.bytes()


def v2_layer():
    l = Layer()
    l.add("v2.txt", data=b"image v2\n")
    return l.bytes()


CONFIG = {
    "config": {
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["cat /data/changed.txt"],
        "Env": ["HULL_IMAGE=1"],
        "WorkingDir": "/data",
        "Labels": {"org.example.test": "yes"},
        "ExposedPorts": {"8080/tcp": {}},
        "StopSignal": "SIGINT",
        "Volumes": {"/vol": {}},
    }
}


def docker_archive(path, layers, config):
    """Old-style `docker save`: <id>/layer.tar, <config hex>.json, manifest.json."""
    cfg = dict(config)
    cfg.update({"architecture": "amd64", "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(t) for t in layers]}})
    cfg_bytes = json.dumps(cfg).encode()
    members = [(sha(cfg_bytes) + ".json", cfg_bytes)]
    names = []
    for i, t in enumerate(layers):
        lid = sha(("layer%d" % i).encode() + sha(t).encode())
        members.append((lid + "/layer.tar", t))
        members.append((lid + "/VERSION", b"1.0"))
        names.append(lid + "/layer.tar")
    manifest = [{"Config": members[0][0], "RepoTags": ["hulltest:v1"], "Layers": names}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    with tarfile.open(path, "w") as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = MTIME
            tf.addfile(ti, io.BytesIO(data))


def tiny():
    l = Layer()
    l.dir("etc")
    l.add("etc/hostname", data=b"tiny\n")
    return l.bytes()


def bad_cases(out):
    """Each case: a layout whose unpack must fail (or stay confined), named after it."""
    cases = {}

    def one(name, layers, mutate=None, media=None):
        lay = Layout(os.path.join(out, name))
        m = lay.image(layers, {"config": {"Cmd": ["true"]}}, ref="v1")
        lay.close()
        if media:
            path = os.path.join(out, name, "blobs", "sha256", m["digest"][7:])
            man = json.load(open(path))
            man["layers"][-1]["mediaType"] = media
            data = json.dumps(man).encode()
            os.unlink(path)
            nd = lay.blob(data, m["mediaType"])
            lay.index = []
            lay.add(nd, "v1")
            lay.close()
        if mutate:
            man = json.load(open(os.path.join(out, name, "blobs", "sha256", m["digest"][7:])))
            mutate(os.path.join(out, name, "blobs", "sha256", man["layers"][-1]["digest"][7:]))
        cases[name] = True

    def remove(p):
        os.unlink(p)

    def flip(p):
        b = bytearray(open(p, "rb").read())
        i = b.find(b"tiny")
        b[i] ^= 0x20
        open(p, "wb").write(bytes(b))

    def truncate(p):
        b = open(p, "rb").read()
        open(p, "wb").write(b[: len(b) // 2])

    def corrupt(p):
        b = bytearray(open(p, "rb").read())
        for i in range(20, min(len(b) - 8, 60)):
            b[i] ^= 0xA5
        open(p, "wb").write(bytes(b))

    one("missing-blob", [(tiny(), None)], mutate=remove)
    one("digest-mismatch", [(tiny(), None)], mutate=flip)
    big = Layer()
    big.add("blob.bin", data=bytes(random.Random(1).randbytes(200000)))
    one("truncated", [(big.bytes(), "gzip")], mutate=truncate)
    one("corrupt", [(big.bytes(), "gzip")], mutate=corrupt)
    one("unknown-media-type", [(tiny(), None)], media="application/x-hull-unknown")
    l = Layer()
    l.add("../escape.txt", data=b"out\n")
    one("escape-dotdot", [(tiny(), None), (l.bytes(), None)])
    l = Layer()
    l.add("h", tarfile.LNKTYPE, link="../../../../etc/passwd")
    one("escape-hardlink", [(tiny(), None), (l.bytes(), None)])
    # Confined, not refused: an absolute name, a symlink out, and a later layer writing
    # through an earlier layer's symlink all land inside the rootfs.
    l1 = Layer()
    l1.dir("tmp")
    l1.add("out", tarfile.SYMTYPE, link="../../../../../../tmp")
    l1.add("root", tarfile.SYMTYPE, link="/")
    l1.add("/abs.txt", data=b"abs\n")
    l1.add("out/hull-confined.txt", data=b"confined\n")
    l2 = Layer()
    l2.add("root/etc/through-symlink", data=b"through\n")
    l2.add("lnk-hard", tarfile.LNKTYPE, link="root/etc/hostname")
    one("confined", [(tiny(), None), (l1.bytes(), None), (l2.bytes(), None)])


def big_image(out, mib):
    rng = random.Random(42)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(4000)]
    text = b" ".join(rng.choice(words) for _ in range(400000))
    noise = rng.randbytes(1 << 20)

    def content(n):
        parts, left = [], n
        while left > 0:
            k = min(left, 1 << 20)
            off = rng.randrange(0, len(text) - k)
            chunk = bytearray(text[off:off + k])
            # a little noise, so compression is realistic (about 3:1)
            for _ in range(k // 512):
                i = rng.randrange(k)
                chunk[i] = noise[i]
            parts.append(bytes(chunk))
            left -= k
        return b"".join(parts)

    target = mib << 20
    layers, total, files = [], 0, 0
    for li in range(3):
        l = Layer()
        share = target // 3
        used, count = 0, 0
        l.dir("l%d" % li)
        while used < share * 0.55:
            if count % 200 == 0:
                l.dir("l%d/d%04d" % (li, count // 200))
            n = rng.randint(512, 8192)
            l.add("l%d/d%04d/f%06d" % (li, count // 200, count), data=content(n))
            used += n
            count += 1
        for i in range(8):
            n = int(share * 0.45 / 8)
            l.add("l%d/large%d.bin" % (li, i), data=content(n))
            used += n
        if li > 0:
            for i in range(50):
                l.add("l%d/d%04d/.wh.f%06d" % (li - 1, i // 200, i))
        total += used
        files += count + 8
        layers.append((l.bytes(), "gzip"))
    lay = Layout(os.path.join(out, "big"))
    lay.image(layers, {"config": {"Cmd": ["true"]}}, ref="big")
    lay.close()
    print("big image: %d MiB uncompressed, %d files" % (total >> 20, files), file=sys.stderr)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    if "--big" in sys.argv:
        big_image(out, int(sys.argv[sys.argv.index("--big") + 1]))
        return
    base, mid, top, v2 = base_layer(), middle_layer(), top_layer(), v2_layer()
    lay = Layout(os.path.join(out, "layout"))
    v1 = lay.image([(base, "gzip"), (mid, None), (top, "zstd")], CONFIG, ref="v1")
    lay.image([(base, "gzip"), (v2, "gzip")], {"config": {"Cmd": ["cat", "/v2.txt"]}}, ref="v2")
    decoy = lay.image([(v2, "gzip")], {"architecture": "arm64", "config": {"Cmd": ["false"]}}, add=False)
    nested = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
              "manifests": [dict(decoy, platform={"architecture": "arm64", "os": "linux"}),
                            dict(v1, platform={"architecture": "amd64", "os": "linux"})]}
    ndesc = lay.blob(json.dumps(nested).encode(), "application/vnd.oci.image.index.v1+json")
    lay.add(ndesc, "multi")
    lay.close()
    gz = Layout(os.path.join(out, "layout-gz"))
    gz.image([(base, None), (mid, None), (top, None)], CONFIG, ref="v1", compress="gzip")
    gz.close()
    dcfg = json.loads(json.dumps(CONFIG))
    dcfg["config"]["User"] = "hull:hulltest"
    docker_archive(os.path.join(out, "docker.tar"), [base, mid, top], dcfg)
    with open(os.path.join(out, "docker.tar"), "rb") as f:
        archive = gzip.compress(f.read(), mtime=0)
    with open(os.path.join(out, "docker.tar.gz"), "wb") as f:
        f.write(archive)
    bad_cases(os.path.join(out, "bad"))
    # A gzipped archive cut short: its tar ends before manifest.json.
    with open(os.path.join(out, "bad", "docker-truncated.tar.gz"), "wb") as f:
        f.write(archive[: len(archive) // 2])


if __name__ == "__main__":
    main()
