#!/usr/bin/env python3
"""Compares two unpacked trees (hull's and umoci's): names, types, modes, owners, sizes,
contents, link targets, device numbers, user.* xattrs and hardlink groups. Prints each
difference; exits 1 if there is any. Usage: compare.py TREE_A TREE_B"""
import hashlib
import os
import stat
import sys


def walk(root):
    out, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            rec = {"type": stat.S_IFMT(st.st_mode), "mode": oct(stat.S_IMODE(st.st_mode)),
                   "uid": st.st_uid, "gid": st.st_gid}
            if stat.S_ISREG(st.st_mode):
                rec["size"] = st.st_size
                with open(p, "rb") as f:
                    rec["sha"] = hashlib.sha256(f.read()).hexdigest()
                if st.st_nlink > 1:
                    inodes.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                rec["target"] = os.readlink(p)
                del rec["mode"]
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                rec["dev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            if not stat.S_ISLNK(st.st_mode):
                try:
                    rec["xattrs"] = sorted((k, os.getxattr(p, k, follow_symlinks=False))
                                           for k in os.listxattr(p, follow_symlinks=False)
                                           if k.startswith("user."))
                except OSError:
                    pass
            out[rel] = rec
    links = sorted(sorted(g) for g in inodes.values())
    return out, links


def main():
    a, la = walk(sys.argv[1])
    b, lb = walk(sys.argv[2])
    diffs = 0
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            diffs += 1
            print("%s\n  %s: %s\n  %s: %s" % (k, sys.argv[1], a.get(k), sys.argv[2], b.get(k)))
    if la != lb:
        diffs += 1
        print("hardlink groups differ: %s vs %s" % (la, lb))
    print("%d entries compared, %d differences" % (len(a), diffs))
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
