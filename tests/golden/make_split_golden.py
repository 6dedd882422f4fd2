#!/usr/bin/python3
"""Golden data for lib/mt19937 (tests/unit/test_split_shuffle.c): CPython's
random.seed(S); random.shuffle(list(range(N))) for several seeds and sizes.
Per case it stores the first and last 50 shuffled indices and a 64-bit FNV-1a
hash of the whole permutation written as decimal numbers joined by ','.
Run: /usr/bin/python3 tests/golden/make_split_golden.py > tests/golden/split_shuffle.txt"""
import random
import sys

CASES = [(1234, 0), (1234, 1), (1234, 2), (1234, 3), (1234, 10), (1234, 100),
         (1234, 1999), (1234, 65535), (1234, 65536), (1234, 65537), (1234, 100000),
         (1234, 202599), (0, 1000), (42, 5000), (2**32 + 7, 777), (1, 202599)]


def fnv1a64(text):
    h = 1469598103934665603
    for b in text.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    out = sys.stdout
    out.write("# python %s\n" % sys.version.split()[0])
    random.seed(1234)
    out.write("bits32 1234 %s\n" % " ".join(str(random.getrandbits(32)) for _ in range(1300)))
    for seed, n in CASES:
        random.seed(seed)
        perm = list(range(n))
        random.shuffle(perm)
        out.write("case %d %d %d\n" % (seed, n, fnv1a64(",".join(map(str, perm)))))
        out.write("head %s\n" % " ".join(map(str, perm[:50])))
        out.write("tail %s\n" % " ".join(map(str, perm[-50:] if n >= 50 else perm)))


if __name__ == "__main__":
    main()
