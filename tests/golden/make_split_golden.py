#!/usr/bin/python3
"""Golden data for lib/mt19937 (tests/unit/test_split_shuffle.c): CPython's
random.seed(S); random.shuffle(list(range(N))) for several seeds and sizes.
Per case it stores the first and last 50 shuffled indices and a 64-bit FNV-1a
hash of the whole permutation written as decimal numbers joined by ','.
Run: /usr/bin/python3 tests/golden/make_split_golden.py > tests/golden/split_shuffle.txt

With --cli it prints instead the SHA-256 of the test and train attribute files
that yunjey/stargan's CelebA.preprocess split (random.seed(1234); shuffle of
lines[2:]; rows with i+1 < 2000 are test) gives for the 3000-row file that
tests/cli/celeb-split.bats makes with awk (reference_input below):
    /usr/bin/python3 tests/golden/make_split_golden.py --cli > tests/golden/split_reference_3000.txt"""
import hashlib
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


def reference_input(n=3000):
    """Same text as the awk line in tests/cli/celeb-split.bats."""
    rows = ["%06d.jpg %2d %2d %2d\n" % (i, 1 if i % 3 == 0 else -1, 1 if i % 5 == 0 else -1,
                                      -1 if i % 7 == 0 else 1) for i in range(1, n + 1)]
    return ["%d\n" % n, "A B C \n"] + rows


def reference_split(lines, test_count=1999):
    """yunjey/stargan data_loader.py CelebA.preprocess, returning the files' text."""
    header = lines[1]
    rows = lines[2:]
    random.seed(1234)
    random.shuffle(rows)
    test = [l for i, l in enumerate(rows) if (i + 1) < test_count + 1]
    train = [l for i, l in enumerate(rows) if not (i + 1) < test_count + 1]
    return ("%d\n" % len(test) + header + "".join(test), "%d\n" % len(train) + header + "".join(train))


def cli_main():
    test, train = reference_split(reference_input())
    print("test %s" % hashlib.sha256(test.encode()).hexdigest())
    print("train %s" % hashlib.sha256(train.encode()).hexdigest())


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
    if sys.argv[1:] == ["--cli"]:
        cli_main()
    else:
        main()
