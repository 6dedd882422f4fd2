#!/usr/bin/env bats
# celeb-pack: end to end on synthetic CelebA images (pixels checked against
# PIL with the man page's Python recipe when /usr/bin/python3 has lmdb+PIL),
# skipping and --strict, --force, interrupted runs, class folders, PNG storage,
# bad input.
load helpers

PY=/usr/bin/python3
GOLDEN="$BATS_TEST_DIRNAME/../golden/resize"
MAN5="$BATS_TEST_DIRNAME/../../man/man5/stargan-shard.5"
SEL=Bangs,Black_Hair,Blond_Hair,Brown_Hair,Gray_Hair

setup_file() {
  command -v celeb-synth >/dev/null || return 0
  celeb-synth -q -n 12 --seed 5 -o "$BATS_FILE_TMPDIR/syn"
}

setup() {
  T="$BATS_TEST_TMPDIR"
  S="$BATS_FILE_TMPDIR/syn"
  [ -d "$S" ] || skip "celeb-synth not built"
}

have_py() { "$PY" -c 'import lmdb, numpy, PIL' 2>/dev/null; }

# The reading recipe from stargan-shard(5), without its usage example.
recipe() {
  sed -n '/recipe-begin/,/recipe-end/p' "$MAN5" | grep -v '^\.' |
    sed '/^env, meta = open_shard("celebA.lmdb")/,$d' > "$T/recipe.py"
  [ "$(grep -c '^def ' "$T/recipe.py")" -eq 2 ]
}

# check_shard SHARD IMAGES_DIR CROP SIZE [ATTRS SELECT]: every record equals
# PIL's CenterCrop+Resize of its source image; labels equal the attribute file.
check_shard() {
  recipe
  "$PY" - "$@" <<'EOF'
import sys, os
sys.path.insert(0, os.environ["T"])
sys.path.insert(0, os.path.join(os.environ["GOLDEN"], ".."))
from recipe import open_shard, read_record
from make_resize_golden import center_crop, resize
from PIL import Image
import numpy as np
shard, images, crop, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
env, meta = open_shard(shard)
attrs = {}
if len(sys.argv) > 5:
    lines = open(sys.argv[5]).read().split("\n")
    names = lines[1].split()
    sel = [names.index(a) for a in sys.argv[6].split(",")]
    for l in lines[2:]:
        if l.strip():
            f = l.split()
            attrs[f[0]] = [1.0 if int(f[1 + j]) == 1 else 0.0 for j in sel]
assert meta["width"] == size and meta["height"] == size and meta["crop"] == crop, meta
for i in range(meta["count"]):
    pixels, labels, name = read_record(env, meta, i)
    ref = np.asarray(resize(center_crop(Image.open(os.path.join(images, name)).convert("RGB"), crop, crop), size, size))
    diff = np.abs(ref.astype(int) - pixels.astype(int))
    assert diff.max() == 0, f"record {i} ({name}): {int((diff > 0).sum())} values differ, worst {diff.max()}"
    if attrs:
        assert list(labels) == attrs[name], (name, list(labels), attrs[name])
print("checked", meta["count"])
EOF
}
export T GOLDEN

@test "--help and --version" {
  run celeb-pack --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--folders"* ]]
  run celeb-pack --version
  [ "$status" -eq 0 ]
  [[ "$output" == "celeb-pack "* ]]
}

@test "attribute list: summary, metadata, pixels and labels equal PIL's" {
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --select "$SEL" \
      --crop 178 --size 64 --threads 3 -o "$T/c.lmdb"
  [ "$status" -eq 0 ]
  [ "$output" = "celeb-pack: wrote 12 records to $T/c.lmdb, 64x64, 5 labels" ]
  [ -f "$T/c.lmdb/data.mdb" ]
  [ ! -e "$T/c.lmdb/lock.mdb" ]
  [ -z "$(ls -d "$T"/c.lmdb.tmp-* 2>/dev/null)" ]
  have_py || skip "no /usr/bin/python3 with lmdb, numpy, PIL"
  T="$T" GOLDEN="$GOLDEN" run check_shard "$T/c.lmdb" "$S/img_align_celeba" 178 64 "$S/list_attr_celeba.txt" "$SEL"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "checked 12" ]
  # Reading leaves nothing next to the data.
  [ ! -e "$T/c.lmdb/lock.mdb" ]
}

@test "-j 0 is the default thread count (the CPUs the process may use), as in sg-train" {
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/a.lmdb"
  run celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -j 0 -o "$T/b.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(celeb-dump --list "$T/a.lmdb")" = "$(celeb-dump --list "$T/b.lmdb")" ]
  cmp "$T/a.lmdb/data.mdb" "$T/b.lmdb/data.mdb"
}

@test "the thread count does not change the shard's records" {
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --threads 1 -o "$T/a.lmdb"
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --threads 4 -o "$T/b.lmdb"
  have_py || skip "no python lmdb"
  recipe
  T="$T" run "$PY" -c "
import sys; sys.path.insert(0, '$T')
from recipe import open_shard, read_record
ea, ma = open_shard('$T/a.lmdb'); eb, mb = open_shard('$T/b.lmdb')
assert ma == mb and ma['count'] == 12 and len(ma['labels']) == 40
for i in range(12):
    pa, la, na = read_record(ea, ma, i); pb, lb, nb = read_record(eb, mb, i)
    assert (pa == pb).all() and (la == lb).all() and na == nb == '%06d.jpg' % (i + 1), i
print('same')"
  [ "$output" = same ]
}

@test "stderr's reader gone (celeb-pack 2>&1 | head): the pack still ends whole, status 0, no temporary left" {
  mkdir "$T/img"
  cp "$S"/img_align_celeba/*.jpg "$T/img/"
  rm "$T/img/000003.jpg" "$T/img/000005.jpg"
  # it died by SIGPIPE at the first "(skipped)" line (141), its temporary shard left behind
  stderr_gone celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$T/img" --select "$SEL" -o "$T/s.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$(ls -d "$T"/s.lmdb.tmp-* 2>/dev/null)" ]
  run celeb-dump --verify "$T/s.lmdb"
  [ "$status" -eq 0 ]
  [ "$output" = "10 records OK" ]
}

@test "missing and truncated images are skipped and counted; --strict fails and leaves nothing" {
  mkdir "$T/img"
  cp "$S"/img_align_celeba/*.jpg "$T/img/"
  rm "$T/img/000003.jpg"
  head -c 2000 "$S/img_align_celeba/000007.jpg" > "$T/img/000007.jpg"
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$T/img" --select "$SEL" -o "$T/s.lmdb"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "celeb-pack: $T/img/000003.jpg: No such file or directory (skipped)" ]]
  [[ "${lines[1]}" == "celeb-pack: $T/img/000007.jpg: JPEG: corrupt or truncated data: "*"(skipped)" ]]
  [ "${lines[2]}" = "celeb-pack: wrote 10 records to $T/s.lmdb (2 skipped: 1 missing, 1 corrupt), 128x128, 5 labels" ]

  run celeb-pack --strict --attrs "$S/list_attr_celeba.txt" --images "$T/img" -o "$T/strict.lmdb"
  echo "$output"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "celeb-pack: $T/img/000003.jpg: No such file or directory; $T/strict.lmdb not written" ]]
  [ ! -e "$T/strict.lmdb" ]
  [ -z "$(ls -d "$T"/strict.lmdb.tmp-* 2>/dev/null)" ]
}

@test "an existing output is kept without --force and replaced with it" {
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --limit 4 -o "$T/f.lmdb"
  sum=$(cksum < "$T/f.lmdb/data.mdb")
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/f.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/f.lmdb exists (use --force to replace it)" ]
  [ "$(cksum < "$T/f.lmdb/data.mdb")" = "$sum" ]
  run celeb-pack --force --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --limit 6 -o "$T/f.lmdb"
  [ "$status" -eq 0 ]
  [[ "$output" == "celeb-pack: wrote 6 records to $T/f.lmdb, "* ]]
  [ "$(cksum < "$T/f.lmdb/data.mdb")" != "$sum" ]
  [ -z "$(ls -d "$T"/f.lmdb.* 2>/dev/null)" ]
  # --force never replaces a directory that is not a shard.
  mkdir "$T/notashard"; touch "$T/notashard/keep"
  run celeb-pack --force --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/notashard"
  [ "$status" -eq 1 ]
  [[ "$output" == *"not a shard; not replacing it"* ]]
  [ -f "$T/notashard/keep" ]
  # Nor a FIFO or device (as root, -o /dev/full --force replaced /dev/full with a shard).
  mkfifo "$T/fifo"
  run celeb-pack --force --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --limit 2 -o "$T/fifo"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/fifo exists and is not a shard; not replacing it" ]
  [ -p "$T/fifo" ]
}

@test "--force replaces only a shard: a regular file at OUT (a mistyped -o notes.txt) is kept" {
  echo "my notes" > "$T/notes.txt"
  run celeb-pack --force --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --limit 2 -o "$T/notes.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/notes.txt exists and is not a shard; not replacing it" ]
  [ "$(cat "$T/notes.txt")" = "my notes" ]
  [ -z "$(ls -d "$T"/notes.txt.* 2>/dev/null)" ]
  # a link to a shard is no shard directory either: it stays a link
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --limit 2 -o "$T/real.lmdb"
  ln -s "$T/real.lmdb" "$T/link.lmdb"
  run celeb-pack --force --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --limit 2 -o "$T/link.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/link.lmdb is a symbolic link; not replacing it (give the shard's own path)" ]
  [ -L "$T/link.lmdb" ]
}

# review-live19 F11: without --force an OUT that is not a shard got "exists
# (use --force to replace it)", and --force then refused it.
@test "an OUT that --force would not replace is refused as such without --force too, before any image is read" {
  mkdir "$T/somedir"; touch "$T/somedir/f"
  echo "my notes" > "$T/notes.txt"
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --limit 2 -o "$T/r.lmdb"
  ln -s "$T/r.lmdb" "$T/link.lmdb"
  for f in "" --force; do
    run celeb-pack $f --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/somedir"
    [ "$status" -eq 1 ]
    [ "$output" = "celeb-pack: $T/somedir exists and is a directory that is not a shard; not replacing it" ]
    run celeb-pack $f --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/notes.txt"
    [ "$output" = "celeb-pack: $T/notes.txt exists and is not a shard; not replacing it" ]
    run celeb-pack $f --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/link.lmdb"
    [ "$output" = "celeb-pack: $T/link.lmdb is a symbolic link; not replacing it (give the shard's own path)" ]
    # a trailing slash (a shell's completion) names the link itself too (was: "exists (use --force...)")
    run celeb-pack $f --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/link.lmdb/"
    [ "$status" -eq 1 ]
    [ "$output" = "celeb-pack: $T/link.lmdb is a symbolic link; not replacing it (give the shard's own path)" ]
  done
  [ -f "$T/somedir/f" ]
  [ "$(cat "$T/notes.txt")" = "my notes" ]
  # refused before any image is read: an --images directory that does not exist is not reached
  run celeb-pack --force --attrs "$S/list_attr_celeba.txt" --images "$T/no-such-dir" -o "$T/somedir"
  [ "$output" = "celeb-pack: $T/somedir exists and is a directory that is not a shard; not replacing it" ]
  # a shard: --force is the advice, and it works
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --limit 3 -o "$T/r.lmdb"
  [ "$output" = "celeb-pack: $T/r.lmdb exists (use --force to replace it)" ]
  celeb-pack -q --force --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --limit 3 -o "$T/r.lmdb"
  [ "$(celeb-dump --verify "$T/r.lmdb")" = "3 records OK" ]
}

@test "OUT naming one of the inputs (--attrs, --images, --folders) is refused, with or without --force" {
  cp -r "$S" "$T/s"
  cp "$T/s/list_attr_celeba.txt" "$T/attrs.orig"
  for f in "" --force; do
    run celeb-pack $f -a "$T/s/list_attr_celeba.txt" -i "$T/s/img_align_celeba" -o "$T/s/list_attr_celeba.txt"
    [ "$status" -eq 1 ]
    [ "$output" = "celeb-pack: $T/s/list_attr_celeba.txt: the output is the same file as the --attrs file $T/s/list_attr_celeba.txt; choose another -o" ]
    cmp "$T/s/list_attr_celeba.txt" "$T/attrs.orig"
    # another name of it (./, a symbolic link) is the same file
    ln -sf "$T/s/list_attr_celeba.txt" "$T/attrs-link"
    run celeb-pack $f -a "$T/attrs-link" -i "$T/s/img_align_celeba" -o "$T/s/./list_attr_celeba.txt"
    [ "$status" -eq 1 ]
    [ "$output" = "celeb-pack: $T/s/./list_attr_celeba.txt: the output is the same file as the --attrs file $T/attrs-link; choose another -o" ]
    run celeb-pack $f -a "$T/s/list_attr_celeba.txt" -i "$T/s/img_align_celeba" -o "$T/s/img_align_celeba/"
    [ "$status" -eq 1 ]
    [ "$output" = "celeb-pack: $T/s/img_align_celeba/: the output is the same directory as the --images directory $T/s/img_align_celeba; choose another -o" ]
    [ "$(ls "$T/s/img_align_celeba" | wc -l)" -eq 12 ]
  done
  mkdir -p "$T/f/a" "$T/f/b"
  cp "$S/img_align_celeba/000001.jpg" "$T/f/a/"; cp "$S/img_align_celeba/000002.jpg" "$T/f/b/"
  run celeb-pack --force --folders "$T/f" -o "$T/f"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/f: the output is the same directory as the --folders directory $T/f; choose another -o" ]
  [ -f "$T/f/a/000001.jpg" ]
  [ -f "$T/f/b/000002.jpg" ]
  # inside it, the shard would be read as a third class the next time (it was, with --force)
  run celeb-pack --folders "$T/f" -o "$T/f/x.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/f/x.lmdb: the output lies inside the --folders directory $T/f, where it would count as a class; write it outside" ]
  [ ! -e "$T/f/x.lmdb" ]
  [ -z "$(ls -d "$T"/*.tmp-* "$T"/s/*.tmp-* 2>/dev/null)" ]
}

@test "--force keeps a shard that holds files of its own (a README) and says what to move" {
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --limit 4 -o "$T/r.lmdb"
  echo "my notes" > "$T/r.lmdb/README"
  sum=$(cksum < "$T/r.lmdb/data.mdb")
  run celeb-pack --force --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --limit 6 -o "$T/r.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/r.lmdb holds README, which is not part of a shard; not replacing it (move it out first)" ]
  [ "$(cksum < "$T/r.lmdb/data.mdb")" = "$sum" ]
  [ "$(cat "$T/r.lmdb/README")" = "my notes" ]
  [ -z "$(ls -d "$T"/r.lmdb.* 2>/dev/null)" ]
  mv "$T/r.lmdb/README" "$T/README"
  run celeb-pack --force --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --limit 6 -o "$T/r.lmdb"
  [ "$status" -eq 0 ]
  [[ "$output" == "celeb-pack: wrote 6 records to $T/r.lmdb, "* ]]
  [ -z "$(ls -d "$T"/r.lmdb.* 2>/dev/null)" ]
}

# A large input: N hard links to the 12 images under new names and an attribute
# list naming them; packed with --encoding png on one thread (about a
# millisecond an image) a run lasts long enough to be killed mid-way.
big_list() {
  local n=$1
  mkdir -p "$T/bigimg"
  # Hard links: creating new inodes (symlinks) is slow on some file systems.
  perl -e 'my ($n, $src, $dst) = @ARGV; for my $i (1 .. $n) {
      my ($s, $d) = (sprintf("%s/%06d.jpg", $src, ($i - 1) % 12 + 1), sprintf("%s/%06d.jpg", $dst, $i));
      link($s, $d) or symlink($s, $d) or die "$!\n" }' \
    "$n" "$S/img_align_celeba" "$T/bigimg"
  awk -v n="$n" 'NR == 2 { print n; print; next } NR > 2 { row[NR - 3] = $0 }
      END { for (i = 0; i < n; i++) { r = row[i % 12]; sub(/^[^ ]+/, sprintf("%06d.jpg", i + 1), r); print r } }' \
    "$S/list_attr_celeba.txt" > "$T/big.txt"
}

@test "a run killed with SIGKILL leaves no shard; the next run cleans up and succeeds" {
  big_list 3000
  celeb-pack -q --threads 1 --encoding png --attrs "$T/big.txt" --images "$T/bigimg" -o "$T/k.lmdb" &
  pid=$!
  # Wait until the first transactions of records are in the temporary
  # directory, OUT.tmp-PID.N (N: its number among the process's temporary names).
  local tmp
  for ((i = 0; i < 400; i++)); do
    tmp=$(ls -d "$T/k.lmdb.tmp-$pid."* 2>/dev/null | head -1)
    [ -n "$tmp" ] && [ "$(stat -c %s "$tmp/data.mdb" 2>/dev/null || echo 0)" -gt 1000000 ] && break
    sleep 0.05
  done
  kill -0 "$pid"                    # still running
  [[ "$tmp" =~ /k\.lmdb\.tmp-$pid\.[0-9]+$ ]] && [ -d "$tmp" ]
  [ ! -e "$T/k.lmdb" ]
  kill -9 "$pid"
  wait "$pid" || true
  [ ! -e "$T/k.lmdb" ]
  [ -d "$tmp" ]                     # the dead run's leftovers, never mistaken for a shard
  # and one of an earlier version's name, OUT.tmp-PID, of another dead run
  dead=$(sh -c 'echo $$')
  mkdir "$T/k.lmdb.tmp-$dead"
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/k.lmdb"
  [ "$status" -eq 0 ]
  [ ! -e "$tmp" ]
  [ ! -e "$T/k.lmdb.tmp-$dead" ]
}

@test "a --force killed between its two renames (no RENAME_EXCHANGE): the next run puts the old shard back, or removes it once replaced" {
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/o.lmdb"
  cp -r "$T/o.lmdb" "$T/orig.lmdb"
  pid=$(sh -c 'echo $$')            # a process that is gone
  mv "$T/o.lmdb" "$T/o.lmdb.tmp-old-$pid"
  # without --force: the old shard is back, so the run is refused before it packs anything
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == *"o.lmdb exists (use --force to replace it)"* ]]
  [ ! -e "$T/o.lmdb.tmp-old-$pid" ]
  diff -r "$T/orig.lmdb" "$T/o.lmdb"
  # with the new shard in place, the old one left aside is removed
  cp -r "$T/o.lmdb" "$T/o.lmdb.tmp-old-$pid"
  run celeb-pack --force -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -S 32 -o "$T/o.lmdb"
  [ "$status" -eq 0 ]
  [ ! -e "$T/o.lmdb.tmp-old-$pid" ]
  # a user's own OUT.old-N (a dated backup) is never taken for it, with or without --force
  mv "$T/o.lmdb" "$T/o.lmdb.old-20241130"
  cp -r "$T/o.lmdb.old-20241130" "$T/backup"
  run celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/o.lmdb"
  [ "$status" -eq 0 ]
  run celeb-pack --force -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/o.lmdb"
  [ "$status" -eq 0 ]
  diff -r "$T/backup" "$T/o.lmdb.old-20241130"
}

@test "SIGTERM stops a run cleanly: ended by the signal (143), no shard, no temporary directory" {
  big_list 3000
  celeb-pack -q --threads 1 --encoding png --attrs "$T/big.txt" --images "$T/bigimg" -o "$T/t.lmdb" 2> "$T/err" &
  pid=$!
  for ((i = 0; i < 200; i++)); do [ -s "$(echo "$T/t.lmdb.tmp-$pid".*/data.mdb)" ] && break; sleep 0.05; done
  kill -0 "$pid"                    # still running
  kill -TERM "$pid"
  st=0
  wait "$pid" || st=$?
  [ "$st" -eq 143 ]
  [ "$(cat "$T/err")" = "$(stop_answer "$T/t.lmdb")"$'\n'"celeb-pack: interrupted; no shard written" ]
  [ ! -e "$T/t.lmdb" ]
  [ -z "$(ls -d "$T/t.lmdb.tmp-"* 2>/dev/null)" ]
}

# The line a first stop signal while packing to $1 is answered with at once.
stop_answer() {
  echo "celeb-pack: interrupted: stopping; removing what was written of $1: no shard is written, and any earlier $1 is untouched"
}

@test "^C while packing is answered at once, and the run stops promptly: no shard, an earlier one untouched" {
  big_list 6000
  celeb-pack -q -S 8 --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/i.lmdb"
  cp "$T/i.lmdb/data.mdb" "$T/before.mdb"
  for j in 1 2; do
    env --default-signal=INT celeb-pack --force -j $j --encoding png --attrs "$T/big.txt" --images "$T/bigimg" \
      -o "$T/i.lmdb" 2> "$T/err" &
    pid=$!
    for ((i = 0; i < 200; i++)); do [ -s "$(echo "$T/i.lmdb.tmp-$pid".*/data.mdb)" ] && break; sleep 0.05; done
    kill -0 "$pid"                  # still running
    kill -INT "$pid"
    # the answer comes from the handler at once (generous: 3 s), not with the
    # line that ends the run
    for ((i = 0; i < 60; i++)); do grep -q 'interrupted: stopping' "$T/err" && break; sleep 0.05; done
    grep -qxF "$(stop_answer "$T/i.lmdb")" "$T/err"
    # and the run ends within seconds (generous: it takes well under one)
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    ! kill -0 "$pid" 2>/dev/null
    st=0
    wait "$pid" || st=$?
    [ "$st" -eq 130 ]
    # the progress line, ended by the answer, then the line that ends the run
    [ "$(tr '\r' '\n' < "$T/err" | grep -v '^celeb-pack: [0-9]*/6000 images' | grep -v '^$')" = \
      "$(stop_answer "$T/i.lmdb")"$'\n'"celeb-pack: interrupted; no shard written" ]
    cmp "$T/before.mdb" "$T/i.lmdb/data.mdb"     # the earlier shard untouched
    [ -z "$(ls -d "$T"/i.lmdb.* 2>/dev/null)" ]
  done
}

# The stop does not wait for the decoding threads (as it did before 945f06c,
# measured then on 8000x8000 PNGs): here one is held in the open() of image 4
# by strace for a minute (a FIFO would not do: it is skipped unopened), and
# -j 2 lets the writer go on. strace -D: celeb-pack is this shell's child, its
# tracer is killed once the checks are taken, which lets the held thread go.
@test "^C while packing does not wait for a decoding thread held in an image's open(): the run ends within seconds" {
  celeb-pack -q -S 8 --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/i.lmdb"
  cp "$T/i.lmdb/data.mdb" "$T/before.mdb"
  env --default-signal=INT strace -D -f -qq -o "$T/log" -P "$S/img_align_celeba/000004.jpg" -e trace=openat \
    -e inject=openat:delay_enter=60000000 \
    celeb-pack --force -j 2 -S 8 --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" \
    -o "$T/i.lmdb" 2> "$T/err" &
  pid=$!
  # the thread that took image 4 is held in its open()
  for ((i = 0; i < 200; i++)); do grep -qs 000004.jpg "$T/log" && break; sleep 0.05; done
  held=0; grep -qs 000004.jpg "$T/log" && held=1
  tracer=$(awk '$1 == "TracerPid:" { print $2 }' "/proc/$pid/status")
  kill -INT "$pid"
  # what was written is removed and the run says it stopped within seconds
  # (generous: 10 s; it takes well under one), the thread still held
  for ((i = 0; i < 200; i++)); do grep -q 'no shard written' "$T/err" && break; sleep 0.05; done
  ended=0; grep -q 'no shard written' "$T/err" && ended=1
  left=$(ls -d "$T"/i.lmdb.* 2>/dev/null || true)
  kill -KILL "$tracer"
  st=0
  wait "$pid" || st=$?
  [ "$held" -eq 1 ]
  [ "$tracer" -gt 0 ]
  cat "$T/err"
  [ "$ended" -eq 1 ]
  [ -z "$left" ]
  [ "$st" -eq 130 ]
  # (strace may say that the held thread had an event while held)
  [ "$(grep -v '^strace: ' "$T/err")" = "$(stop_answer "$T/i.lmdb")"$'\n'"celeb-pack: interrupted; no shard written" ]
  cmp "$T/before.mdb" "$T/i.lmdb/data.mdb"     # the earlier shard untouched
}

@test "under nohup, SIGHUP does not stop a run (a signal ignored at start stays ignored)" {
  big_list 1500
  nohup celeb-pack -q --threads 1 --encoding png --attrs "$T/big.txt" --images "$T/bigimg" -o "$T/h.lmdb" \
    > /dev/null 2> "$T/err" &
  pid=$!
  for ((i = 0; i < 200; i++)); do [ -s "$(echo "$T/h.lmdb.tmp-$pid".*/data.mdb)" ] && break; sleep 0.05; done
  kill -0 "$pid"                    # still running
  kill -HUP "$pid"
  st=0
  wait "$pid" || st=$?
  cat "$T/err"
  [ "$st" -eq 0 ]
  [ -d "$T/h.lmdb" ]
  [ -z "$(ls -d "$T/h.lmdb.tmp-"* 2>/dev/null)" ]
}

@test "a stop signal after the last record, before the commit, stops the run as one while packing: by the signal" {
  need_strace
  # The last row names a missing file: its message, written once that record
  # was waited for, is where the signal comes.
  awk 'NR == 1 { print $1 + 1; next } { print } END { r = $0; sub(/^[^ ]+/, "gone.jpg", r); print r }' \
    "$S/list_attr_celeba.txt" > "$T/last.txt"
  celeb-pack -q -S 8 --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/s.lmdb"
  cp "$T/s.lmdb/data.mdb" "$T/before.mdb"
  for j in 1 2; do
    # strace ends as its tracee did: by the signal too
    run ended_how env --default-signal=INT strace -f -qq -o /dev/null -e trace=write \
      -e inject=write:signal=INT:when=1 \
      celeb-pack -j $j -S 8 --force --attrs "$T/last.txt" --images "$S/img_align_celeba" -o "$T/s.lmdb"
    [ "${lines[0]}" = "celeb-pack: $S/img_align_celeba/gone.jpg: No such file or directory (skipped)" ]
    [ "${lines[1]}" = "$(stop_answer "$T/s.lmdb")" ]
    [ "${lines[2]}" = "celeb-pack: interrupted; no shard written" ]
    [ "${lines[3]}" = "signal 2" ]
    [ "${#lines[@]}" -eq 4 ]
    cmp "$T/before.mdb" "$T/s.lmdb/data.mdb"     # the earlier shard untouched
    [ -z "$(ls -d "$T"/s.lmdb.* 2>/dev/null)" ]
  done
}

@test "a stop signal while the shard writer opens its temporary directory stops the run cleanly: no temporary left" {
  need_strace
  args=(-j 1 -S 8 --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba")
  # the openat calls, counted in a plain traced run, that open files inside
  # OUT.tmp-PID.N (data.mdb) while the writer is opening, before any record
  (cd "$T" && strace -f -qq -o "$T/trace" -e trace=openat celeb-pack -q "${args[@]}" -o plain.lmdb)
  local at
  at=$(grep 'openat(' "$T/trace" | grep -n '"plain\.lmdb\.tmp-[0-9]*\.[0-9]*/' | cut -d: -f1)
  [ -n "$at" ]
  cd "$T"
  for k in $at; do
    for sig in INT TERM; do
      run ended_how env --default-signal="$sig" strace -f -qq -o /dev/null -e trace=openat \
        -e inject=openat:signal="$sig":when="$k" celeb-pack "${args[@]}" -o o.lmdb
      [ "${lines[0]}" = "$(stop_answer o.lmdb)" ]
      [ "${lines[1]}" = "celeb-pack: interrupted; no shard written" ]
      [ "${lines[2]}" = "signal $(kill -l "$sig")" ]
      [ "${#lines[@]}" -eq 3 ]
      [ -z "$(ls -d "$T"/o.lmdb* 2>/dev/null)" ]
    done
  done
}

# The line a stop signal during the commit of shard $1 is answered with at once.
commit_answer() {
  echo "celeb-pack: interrupted while finishing: $1 is written in full first (all its records are packed; another signal does not cut it short), then celeb-pack stops"
}

@test "a stop signal during the commit lets it finish: answered at once, then one line says the shard was written, then it ends by the signal" {
  run_signalled_at_fsync INT 1 celeb-pack -j 2 -S 8 --attrs "$S/list_attr_celeba.txt" \
    --images "$S/img_align_celeba" -o "$T/s.lmdb"
  [ "$status" -eq 130 ]
  [ "$output" = "$(commit_answer "$T/s.lmdb")"$'\n'"celeb-pack: interrupted while finishing; the shard $T/s.lmdb was written in full" ]
  [ "$(celeb-dump --verify "$T/s.lmdb")" = "12 records OK" ]
  [ -z "$(ls -d "$T"/s.lmdb.* 2>/dev/null)" ]
  # --quiet too: the line explains the exit status
  run_signalled_at_fsync TERM 2 celeb-pack -q -j 1 -S 8 --attrs "$S/list_attr_celeba.txt" \
    --images "$S/img_align_celeba" -o "$T/t.lmdb"
  [ "$status" -eq 143 ]
  [ "$output" = "$(commit_answer "$T/t.lmdb")"$'\n'"celeb-pack: interrupted while finishing; the shard $T/t.lmdb was written in full" ]
  [ "$(celeb-dump --verify "$T/t.lmdb")" = "12 records OK" ]
  # by the signal, not exit 128+signal (strace ends as its tracee did)
  run ended_how env --default-signal=INT strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:signal=INT:when=1 \
    celeb-pack -q -j 2 -S 8 --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -o "$T/u.lmdb"
  [ "$output" = "$(commit_answer "$T/u.lmdb")"$'\n'"celeb-pack: interrupted while finishing; the shard $T/u.lmdb was written in full"$'\n'"signal 2" ]
  [ "$(celeb-dump --verify "$T/u.lmdb")" = "12 records OK" ]
  # the answer comes from the handler, as the signal lands in the commit:
  # before the shard is renamed into place, where the other line comes after
  run env --default-signal=INT strace -f -qq -y -s 400 -o "$T/trace" -e trace=fsync,write,rename,renameat,renameat2 \
    -e inject=fsync:signal=INT:when=1 celeb-pack -q -j 1 -S 8 --attrs "$S/list_attr_celeba.txt" \
    --images "$S/img_align_celeba" -o "$T/v.lmdb"
  [ "$status" -eq 130 ]
  [ "${#lines[@]}" -eq 2 ]
  local a r w
  a=$(grep -n 'write(2<.*interrupted while finishing: ' "$T/trace" | cut -d: -f1)
  r=$(grep -n -E "rename(at2?)?\(.*v\.lmdb\.tmp-" "$T/trace" | tail -n 1 | cut -d: -f1)
  w=$(grep -n 'write(2<.*interrupted while finishing; the shard' "$T/trace" | cut -d: -f1)
  [ -n "$a" ]
  [ -n "$r" ]
  [ -n "$w" ]
  [ "$a" -lt "$r" ]
  [ "$r" -lt "$w" ]
}

# The line a second stop signal during the commit of shard $1 is answered with.
again_answer() {
  echo "celeb-pack: still finishing: $1 is being written in full (another signal does not cut it short); it ends complete or, should the commit fail, not written, with any earlier $1 untouched: never half-written"
}

@test "a second stop signal during the commit is answered once: the shard is still being finished, whole or not at all; a SIGHUP is no second request" {
  need_strace
  args=(-q -j 1 -S 8 --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba")
  celeb-pack "${args[@]}" -S 4 -o "$T/s.lmdb"
  # ^C at the commit's first fsync, again at the next: answered at once, the
  # second too (it said nothing), then the shard is in place
  run env --default-signal=INT strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:signal=INT:when=1+ \
    celeb-pack "${args[@]}" --force -o "$T/s.lmdb"
  [ "$status" -eq 130 ]
  [ "$output" = "$(commit_answer "$T/s.lmdb")"$'\n'"$(again_answer "$T/s.lmdb")"$'\n'"celeb-pack: interrupted while finishing; the shard $T/s.lmdb was written in full" ]
  [ "$(celeb-dump --verify "$T/s.lmdb")" = "12 records OK" ]
  [ "$(celeb-dump --json "$T/s.lmdb" | grep -o '"size": [0-9]*')" = '"size": 8' ]
  [ -z "$(ls -d "$T"/s.lmdb.* 2>/dev/null)" ]
  # a third (SIGTERM) is not answered again
  run env --default-signal=INT strace -f -qq -o /dev/null -e trace=fsync,fdatasync \
    -e inject=fdatasync:signal=INT:when=1 -e inject=fsync:signal=TERM:when=1+ celeb-pack "${args[@]}" -o "$T/t.lmdb"
  [ "$status" -eq 130 ]
  [ "$output" = "$(commit_answer "$T/t.lmdb")"$'\n'"$(again_answer "$T/t.lmdb")"$'\n'"celeb-pack: interrupted while finishing; the shard $T/t.lmdb was written in full" ]
  [ "$(celeb-dump --verify "$T/t.lmdb")" = "12 records OK" ]
  # a SIGHUP after the first (a terminal closing) asks for nothing
  run env --default-signal=INT --default-signal=HUP strace -f -qq -o /dev/null -e trace=fsync,fdatasync \
    -e inject=fdatasync:signal=INT:when=1 -e inject=fsync:signal=HUP:when=1+ celeb-pack "${args[@]}" -o "$T/u.lmdb"
  [ "$status" -eq 130 ]
  [ "$output" = "$(commit_answer "$T/u.lmdb")"$'\n'"celeb-pack: interrupted while finishing; the shard $T/u.lmdb was written in full" ]
  [ "$(celeb-dump --verify "$T/u.lmdb")" = "12 records OK" ]
}

@test "a second stop signal while a stopped pack removes what it wrote is answered once; a SIGHUP is no second request" {
  need_strace
  # ^C at the warning of the last row (missing), again as data.mdb is
  # removed (unlink), a third (SIGTERM) at the rmdir: the second is answered
  awk 'NR == 1 { print $1 + 1; next } { print } END { r = $0; sub(/^[^ ]+/, "gone.jpg", r); print r }' \
    "$S/list_attr_celeba.txt" > "$T/last.txt"
  args=(-j 1 -S 8 --attrs "$T/last.txt" --images "$S/img_align_celeba")
  local stopping="celeb-pack: still stopping: removing what was written of $T/s.lmdb (another signal does not cut it short, which would leave it behind); no shard is written, and any earlier $T/s.lmdb is untouched"
  run env --default-signal=INT strace -f -qq -o /dev/null -e trace=write,unlink,rmdir \
    -e inject=write:signal=INT:when=1 -e inject=unlink:signal=INT:when=1 -e inject=rmdir:signal=TERM:when=1 \
    celeb-pack "${args[@]}" -o "$T/s.lmdb"
  [ "$status" -eq 130 ]
  [ "${lines[0]}" = "celeb-pack: $S/img_align_celeba/gone.jpg: No such file or directory (skipped)" ]
  [ "${lines[1]}" = "$(stop_answer "$T/s.lmdb")" ]
  [ "${lines[2]}" = "$stopping" ]
  [ "${lines[3]}" = "celeb-pack: interrupted; no shard written" ]
  [ "${#lines[@]}" -eq 4 ]
  [ -z "$(ls -d "$T"/s.lmdb* 2>/dev/null)" ]
  # a SIGHUP after the first (a terminal closing) asks for nothing
  run env --default-signal=INT --default-signal=HUP strace -f -qq -o /dev/null -e trace=write,unlink \
    -e inject=write:signal=INT:when=1 -e inject=unlink:signal=HUP:when=1 celeb-pack "${args[@]}" -o "$T/s.lmdb"
  [ "$status" -eq 130 ]
  [ "${lines[1]}" = "$(stop_answer "$T/s.lmdb")" ]
  [ "${lines[2]}" = "celeb-pack: interrupted; no shard written" ]
  [ "${#lines[@]}" -eq 3 ]
  [ -z "$(ls -d "$T"/s.lmdb* 2>/dev/null)" ]
}

@test "class folders: sorted classes, one-hot labels, JPEG and PNG inputs" {
  mkdir -p "$T/f/sad" "$T/f/Happy" "$T/f/angry" "$T/f/.hidden"
  cp "$S/img_align_celeba/000001.jpg" "$T/f/sad/b.JPG"
  cp "$S/img_align_celeba/000002.jpg" "$T/f/sad/a.jpeg"
  cp "$S/img_align_celeba/000003.jpg" "$T/f/Happy/x.jpg"
  cp "$GOLDEN/small.png" "$T/f/angry/p.png"
  cp "$GOLDEN/alpha.png" "$T/f/angry/q.PNG"
  echo not an image > "$T/f/angry/notes.txt"
  cp "$S/img_align_celeba/000004.jpg" "$T/f/.hidden/h.jpg"
  run celeb-pack --folders "$T/f" --crop 40 --size 32 -o "$T/r.lmdb"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "celeb-pack: wrote 5 records to $T/r.lmdb (1 file ignored: 1 not .jpg/.jpeg/.png), 32x32, 3 labels" ]
  have_py || skip "no python lmdb"
  recipe
  run "$PY" -c "
import sys; sys.path.insert(0, '$T')
from recipe import open_shard, read_record
env, meta = open_shard('$T/r.lmdb')
assert meta['labels'] == ['Happy', 'angry', 'sad'] and meta['label_kind'] == 'one-hot', meta
for i in range(meta['count']):
    p, l, n = read_record(env, meta, i)
    print(n, ''.join(str(int(v)) for v in l))"
  echo "$output"
  [ "$output" = "$(printf 'Happy/x.jpg 100\nangry/p.png 010\nangry/q.PNG 010\nsad/a.jpeg 001\nsad/b.JPG 001')" ]
  T="$T" GOLDEN="$GOLDEN" run check_shard "$T/r.lmdb" "$T/f" 40 32
  echo "$output"
  [ "$output" = "checked 5" ]
}

@test "PNG storage reads back equal to raw storage" {
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --size 48 -o "$T/raw.lmdb"
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --size 48 --encoding png -o "$T/png.lmdb"
  [ "$(du -sk "$T/png.lmdb" | cut -f1)" -lt "$(du -sk "$T/raw.lmdb" | cut -f1)" ]
  have_py || skip "no python lmdb"
  recipe
  run "$PY" -c "
import sys; sys.path.insert(0, '$T')
from recipe import open_shard, read_record
ea, ma = open_shard('$T/raw.lmdb'); eb, mb = open_shard('$T/png.lmdb')
assert ma['pixel_encoding'] == 'raw' and mb['pixel_encoding'] == 'png'
for i in range(ma['count']):
    assert (read_record(ea, ma, i)[0] == read_record(eb, mb, i)[0]).all(), i
print('equal')"
  [ "$output" = equal ]
}

@test "a flipped byte in a record is caught by its CRC" {
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --size 32 --limit 3 -o "$T/x.lmdb"
  have_py || skip "no python lmdb"
  recipe
  # Flip a byte in the middle of record 1's pixels (found by content in data.mdb).
  run "$PY" -c "
import sys; sys.path.insert(0, '$T')
from recipe import open_shard, read_record
env, meta = open_shard('$T/x.lmdb')
pix = read_record(env, meta, 1)[0].tobytes(); env.close()
data = bytearray(open('$T/x.lmdb/data.mdb', 'rb').read())
at = data.find(pix) + len(pix) // 2
data[at] ^= 0x40
open('$T/x.lmdb/data.mdb', 'wb').write(data)
env, meta = open_shard('$T/x.lmdb')
read_record(env, meta, 0)
try:
    read_record(env, meta, 1)
except AssertionError as e:
    print('caught', e)"
  echo "$output"
  [ "$output" = "caught CRC mismatch" ]
}

@test "bad input: one-line errors, exit 1" {
  printf '3\nA B\n1.jpg 1 -1\n2.jpg 1\n' > "$T/short.txt"
  run celeb-pack --attrs "$T/short.txt" --images "$S/img_align_celeba" -o "$T/o.lmdb"
  echo "$output"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "celeb-pack: $T/short.txt line "* ]]
  [ ! -e "$T/o.lmdb" ]

  printf 'x\nA B\n' > "$T/nocount.txt"
  run celeb-pack --attrs "$T/nocount.txt" --images "$S/img_align_celeba" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "celeb-pack: $T/nocount.txt"* ]]

  run celeb-pack --attrs "$T/missing.txt" --images "$S/img_align_celeba" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == "celeb-pack: $T/missing.txt"*"No such file or directory"* ]]

  # the message names the option the directory was given with
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$T/nodir" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: --images $T/nodir: No such file or directory" ]
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/list_attr_celeba.txt" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: --images $S/list_attr_celeba.txt: not a directory" ]
  run celeb-pack --folders "$T/nodir" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: --folders $T/nodir: No such file or directory" ]
  run celeb-pack --folders "$S/list_attr_celeba.txt" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: --folders $S/list_attr_celeba.txt: not a directory" ]
  [ ! -e "$T/o.lmdb" ]

  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --select Bangs,Purple_Hair -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "celeb-pack: --select: "*"Purple_Hair"* ]]
  [[ "$output" != *"did you mean"* ]]
  # a near name: the nearest attribute of the list is suggested, at the end
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --select Bangs,Blnd_Hair -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "celeb-pack: --select: unknown attribute 'Blnd_Hair' (valid: 5_o_Clock_Shadow "*" Young); did you mean 'Blond_Hair'?" ]]
  [ ! -e "$T/o.lmdb" ]

  mkdir "$T/empty"
  run celeb-pack --folders "$T/empty" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/empty: no class subfolders" ]
  [ ! -e "$T/o.lmdb" ]
}

@test "nothing to pack: an empty list, its header lines alone, or class folders without images; the last line says what to give instead" {
  printf '0\nBangs Male\n' > "$T/none.txt"
  run celeb-pack --attrs "$T/none.txt" --images "$S/img_align_celeba" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/none.txt: no images to pack: the list has no image rows; give --attrs a list that names images (celeb-split writes an empty one for a group no image went to: check its --group and --rest)" ]
  [ ! -e "$T/o.lmdb" ]
  # the header lines alone, the count line not 0: the list names no images
  # (it said "set line 1 to 0", which then was the error above)
  printf '3\nBangs Male\n' > "$T/head.txt"
  run celeb-pack --attrs "$T/head.txt" --images "$S/img_align_celeba" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/head.txt: lists no images: line 1 counts 3 rows, but no image row follows the attribute names (cut short after its header?); give the whole list" ]
  [ ! -e "$T/o.lmdb" ]
  # Kaggle's .csv, its names line alone
  printf 'image_id,Bangs,Male\r\n' > "$T/head.csv"
  run celeb-pack --attrs "$T/head.csv" --images "$S/img_align_celeba" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/head.csv: no images to pack: the list has no image rows; give --attrs a list that names images (celeb-split writes an empty one for a group no image went to: check its --group and --rest)" ]
  [ ! -e "$T/o.lmdb" ]
  mkdir -p "$T/classes/calm" "$T/classes/smile/deeper"
  cp "$S/img_align_celeba/000001.jpg" "$T/classes/smile/deeper/"
  run celeb-pack -q --folders "$T/classes" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "${lines[2]}" = "celeb-pack: $T/classes: no images to pack: its 2 class folders hold no .jpg/.jpeg/.png files (1 file in nested folders, which are not read); put each class's images directly in its folder ($T/classes/CLASS/IMAGE.jpg)" ]
  [ ! -e "$T/o.lmdb" ]
}

@test "one class folder is refused before anything is decoded: no tool takes a one-hot shard of one class" {
  mkdir -p "$T/one/calm"
  cp "$S"/img_align_celeba/00000[1-3].jpg "$T/one/calm/"
  run celeb-pack -q --folders "$T/one" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/one: one class folder only (calm): a shard of one class is of no use to sg-train, which needs at least 2 classes to translate between, nor to sg-sample, which takes only the shard of a dataset it was trained on; put each class's images in a folder of its own under $T/one, two or more ($T/one/CLASS/IMAGE.jpg)" ]
  [ -z "$(ls -d "$T"/o.lmdb* 2>/dev/null)" ]
  # --folders one level too high: the one folder holds the classes
  mkdir -p "$T/up/rafd/angry" "$T/up/rafd/happy" "$T/up/.hidden"
  cp "$S/img_align_celeba/000001.jpg" "$T/up/rafd/angry/"
  cp "$S/img_align_celeba/000002.jpg" "$T/up/rafd/happy/"
  run celeb-pack -q --folders "$T/up" -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/up: one class folder only (rafd), and a one-hot shard needs at least 2 classes (sg-train translates between them); $T/up/rafd holds 2 folders of its own: if they are the classes, give --folders $T/up/rafd" ]
  [ -z "$(ls -d "$T"/o.lmdb* 2>/dev/null)" ]
  run celeb-pack -q --folders "$T/up/rafd" -o "$T/o.lmdb"
  [ "$status" -eq 0 ]
  [ "$(celeb-dump --verify "$T/o.lmdb")" = "2 records OK" ]
}

@test "--folders whose images are all of one class of several is packed with a warning before anything is decoded: sg-train learns nothing of the others" {
  mkdir -p "$T/f/angry" "$T/f/calm" "$T/f/happy"
  cp "$S"/img_align_celeba/00000[1-3].jpg "$T/f/angry/"
  cp "$S"/img_align_celeba/00000[4-5].jpg "$T/f/calm/"
  cp "$S/img_align_celeba/000006.jpg" "$T/f/happy/"
  # --limit takes the first N images in class order: all of angry's
  for n in 2 3; do
    run celeb-pack -q --folders "$T/f" -S 8 --limit $n -o "$T/l$n.lmdb"
    [ "$status" -eq 0 ]
    [ "$output" = "celeb-pack: --limit $n takes the first $n images in class order (not some of each class): all are of class angry (which holds 3), none of calm, happy; sg-train on this shard learns nothing of those classes: give a --limit above 3 to reach them, or leave --limit out" ]
    [ "$(celeb-dump --verify "$T/l$n.lmdb")" = "$n records OK" ]
  done
  # reaching a second class: no warning
  run celeb-pack -q --folders "$T/f" -S 8 --limit 4 -o "$T/l4.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # said before the first image is read (strace: the warning, then the first open of an image)
  if command -v strace >/dev/null; then
    strace -f -qq -s 300 -o "$T/trace" -e trace=openat,write celeb-pack -q -j 1 --folders "$T/f" -S 8 --limit 2 -o "$T/t.lmdb" 2>/dev/null
    local w o
    w=$(grep -n 'write(2, "celeb-pack: --limit 2 takes' "$T/trace" | cut -d: -f1)
    o=$(grep -n 'openat(.*angry/000001.jpg' "$T/trace" | head -n 1 | cut -d: -f1)
    [ -n "$w" ] && [ -n "$o" ] && [ "$w" -lt "$o" ]
  fi
  # the other class folders hold no image
  rm "$T"/f/calm/* "$T"/f/happy/*
  run celeb-pack -q --folders "$T/f" -S 8 -o "$T/e.lmdb"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "celeb-pack: $T/f/calm: no .jpg/.jpeg/.png files in class folder" ]
  [ "${lines[1]}" = "celeb-pack: $T/f/happy: no .jpg/.jpeg/.png files in class folder" ]
  [ "${lines[2]}" = "celeb-pack: $T/f: only class angry has images to pack, not calm, happy: every record is of one class, and sg-train on this shard learns nothing of the others; put each class's images in its folder ($T/f/CLASS/IMAGE.jpg)" ]
  [ "${#lines[@]}" -eq 3 ]
  [ "$(celeb-dump --verify "$T/e.lmdb")" = "3 records OK" ]
  # the images of the others all skipped: said once the records are written, before the summary
  head -c 100 "$S/img_align_celeba/000004.jpg" > "$T/f/calm/cut.jpg"
  run celeb-pack -j 1 --folders "$T/f" -S 8 -o "$T/s.lmdb"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "celeb-pack: $T/f/happy: no .jpg/.jpeg/.png files in class folder" ]
  [ "${lines[1]}" = "celeb-pack: $T/f/calm/cut.jpg: JPEG: corrupt or truncated data: Premature end of JPEG file (skipped)" ]
  [ "${lines[2]}" = "celeb-pack: $T/s.lmdb: every record is of class angry, none of calm, happy (their images were skipped, see above, or not there): sg-train on this shard learns nothing of those classes" ]
  [ "${lines[3]}" = "celeb-pack: wrote 3 records to $T/s.lmdb (1 skipped: 1 corrupt), 8x8, 3 labels" ]
  [ "${#lines[@]}" -eq 4 ]
  # names beyond the fourth are counted
  for c in d1 d2 d3 d4; do mkdir "$T/f/$c"; done
  run celeb-pack -q --folders "$T/f" -S 8 --limit 1 -o "$T/m.lmdb"
  [ "$status" -eq 0 ]
  [ "$output" = "celeb-pack: --limit 1 takes the first image in class order (not some of each class): it is of class angry (which holds 3), none of calm, d1, d2, d3 and 2 more; sg-train on this shard learns nothing of those classes: give a --limit above 3 to reach them, or leave --limit out" ]
}

@test "usage errors exit 2" {
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba"
  [ "$status" -eq 2 ]
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --size 0 -o "$T/o.lmdb"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "celeb-pack: --size: 0 is out of range"* ]]
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --encoding gif -o "$T/o.lmdb"
  [ "$status" -eq 2 ]
  run celeb-pack --folders "$S" --attrs "$S/list_attr_celeba.txt" -o "$T/o.lmdb"
  [ "$status" -eq 2 ]
  run celeb-pack --bogus
  [ "$status" -eq 2 ]
  [ ! -e "$T/o.lmdb" ]
  # a shard is a directory: "-" is no standard output for it
  cd "$T"
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -S 8 -o -
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "celeb-pack: -o/--output: a shard is a directory and cannot go to standard output; for a directory named -, give -o ./-" ]
  [ "${lines[1]}" = "Try 'celeb-pack --help'." ]
  [ "${#lines[@]}" -eq 2 ]
  [ ! -e "$T/-" ]
  run celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -S 8 -o ./-
  [ "$status" -eq 0 ]
  [ "$(celeb-dump --verify ./-)" = "12 records OK" ]
}

@test "names from the attribute file, folders and the command line are quoted escaped in messages" {
  mkdir "$T/img"
  cp "$S/img_align_celeba/000001.jpg" "$T/img/"
  head -c 2000 "$S/img_align_celeba/000002.jpg" > "$T/img/"$'\e[2Jbad.jpg'
  long=$(printf 'L%.0s' {1..60}).jpg
  printf '4\nA B\n000001.jpg 1 -1\n\033[2Jbad.jpg 1 -1\ncaf\xc3\xa9.jpg -1 1\n%s 1 1\n' "$long" > "$T/attrs.txt"
  run celeb-pack --attrs "$T/attrs.txt" --images "$T/img" -S 16 -o "$T/s.lmdb"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "celeb-pack: $T/img/\\x1b[2Jbad.jpg: JPEG: corrupt or truncated data: "*"(skipped)" ]]
  [ "${lines[1]}" = "celeb-pack: $T/img/caf\\xc3\\xa9.jpg: No such file or directory (skipped)" ]
  # a printable name stays whole, however long: it finds the file
  [ "${lines[2]}" = "celeb-pack: $T/img/$long: No such file or directory (skipped)" ]
  only_printable "$output"
  # class folders: an empty class and an undecodable file, named with bytes to escape
  mkdir -p "$T/f/ok" "$T/f/"$'cl\e[1m'
  cp "$S/img_align_celeba/000001.jpg" "$T/f/ok/"
  printf 'not a jpeg' > "$T/f/ok/"$'\xff\x9b.jpg'
  run celeb-pack --folders "$T/f" -S 16 -o "$T/f.lmdb"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "celeb-pack: $T/f/cl\\x1b[1m: no .jpg/.jpeg/.png files in class folder" ]
  [ "${lines[1]}" = "celeb-pack: $T/f: only class ok has images to pack, not cl\\x1b[1m: every record is of one class, and sg-train on this shard learns nothing of the others; put each class's images in its folder ($T/f/CLASS/IMAGE.jpg)" ]
  [ "${lines[2]}" = "celeb-pack: $T/f/ok/\\xff\\x9b.jpg: not a JPEG or PNG image (skipped)" ]
  only_printable "$output"
  # option values
  run celeb-pack --attrs "$T/attrs.txt" --images "$T/img" --encoding $'\e[5m' -o "$T/o.lmdb"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "celeb-pack: --encoding: '\\x1b[5m' is not raw or png" ]]
  run celeb-pack --attrs "$T/attrs.txt" --images "$T/img" --size $'16\a' -o "$T/o.lmdb"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "celeb-pack: --size: '16\\x07' is not an integer" ]]
  run celeb-pack --attrs "$T/attrs.txt" --images "$T/img" -o "$T/o.lmdb" $'\xc3\x28'
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "celeb-pack: unexpected argument '\\xc3('" ]]
  only_printable "$output"
  [ ! -e "$T/o.lmdb" ]
}

@test "the summary counts each kind of skipped image as what it is: missing, not a regular file, unreadable, empty, corrupt" {
  mkdir "$T/img"
  cp "$S"/img_align_celeba/*.jpg "$T/img/"
  rm "$T/img/000001.jpg"; mkdir "$T/img/000001.jpg"               # a directory
  rm "$T/img/000002.jpg"; mkfifo "$T/img/000002.jpg"              # a FIFO
  : > "$T/img/000003.jpg"                                         # empty
  rm "$T/img/000005.jpg"                                          # missing
  head -c 2000 "$S/img_align_celeba/000006.jpg" > "$T/img/000006.jpg"   # truncated
  denied="$T/img/000004.jpg"
  # permission denied: chmod does not stop root, an injected EACCES does
  if [ "$(id -u)" != 0 ]; then
    chmod 000 "$denied"; pre=()
  else
    need_strace
    pre=(strace -f -qq -o /dev/null -P "$denied" -e trace=openat -e inject=openat:error=EACCES)
  fi
  run "${pre[@]}" celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$T/img" --select "$SEL" -S 16 -j 2 -o "$T/s.lmdb"
  chmod 644 "$denied"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "celeb-pack: $T/img/000001.jpg: not a regular file (skipped)" ]
  [ "${lines[1]}" = "celeb-pack: $T/img/000002.jpg: not a regular file (skipped)" ]
  [ "${lines[2]}" = "celeb-pack: $T/img/000003.jpg: empty file (skipped)" ]
  [ "${lines[3]}" = "celeb-pack: $T/img/000004.jpg: Permission denied (skipped)" ]
  [ "${lines[4]}" = "celeb-pack: $T/img/000005.jpg: No such file or directory (skipped)" ]
  [[ "${lines[5]}" == "celeb-pack: $T/img/000006.jpg: JPEG: corrupt or truncated data: "*"(skipped)" ]]
  [ "${lines[6]}" = "celeb-pack: wrote 6 records to $T/s.lmdb (6 skipped: 1 missing, 2 not regular files, 1 unreadable, 1 empty, 1 corrupt), 16x16, 5 labels" ]
  # a read error (EIO) is no bad image but a failing storage (a network file
  # system's hiccup would drop images at random): the pack stops
  printf '2\nBangs\n000007.jpg 1\n000001.jpg -1\n' > "$T/two.txt"
  need_strace
  run strace -f -qq -o /dev/null -P "$T/img/000007.jpg" -e trace=read -e inject=read:error=EIO \
    celeb-pack --attrs "$T/two.txt" --images "$T/img" -S 16 -j 1 -o "$T/t.lmdb"
  echo "$output"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/img/000007.jpg: Input/output error: check the disk or network file system and try again, or move the file away; $T/t.lmdb not written" ]
  [ ! -e "$T/t.lmdb" ]
  # one of a kind; one record, one label
  printf '3\nBangs\n000007.jpg 1\n000001.jpg -1\n000008.jpg 1\n' > "$T/two.txt"
  run strace -f -qq -o /dev/null -P "$T/img/000007.jpg" -e trace=openat -e inject=openat:error=EACCES \
    celeb-pack --attrs "$T/two.txt" --images "$T/img" -S 16 -j 1 -o "$T/t.lmdb"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[2]}" = "celeb-pack: wrote 1 record to $T/t.lmdb (2 skipped: 1 not a regular file, 1 unreadable), 16x16, 1 label" ]
}

@test "robustness: a FIFO among the images is skipped, not waited on forever" {
  mkdir -p "$T/img" "$T/f/c"
  cp "$S/img_align_celeba/000001.jpg" "$T/img/"
  mkfifo "$T/img/000002.jpg"
  printf '2\nA\n000001.jpg 1\n000002.jpg -1\n' > "$T/attrs.txt"
  for j in 1 2; do
    run timeout 20 celeb-pack --attrs "$T/attrs.txt" --images "$T/img" -S 16 -j $j -o "$T/a$j.lmdb"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "celeb-pack: $T/img/000002.jpg: not a regular file (skipped)" ]
    [ "$(celeb-dump --list "$T/a$j.lmdb")" = $'0\t000001.jpg\t1' ]
  done
  cp "$S/img_align_celeba/000001.jpg" "$T/f/c/a.jpg"
  mkfifo "$T/f/c/b.png"
  mkdir "$T/f/d"   # a second class (one alone is refused)
  cp "$S/img_align_celeba/000002.jpg" "$T/f/d/"
  run timeout 20 celeb-pack --folders "$T/f" -S 16 -j 1 -o "$T/f.lmdb"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "celeb-pack: $T/f/c/b.png: not a regular file (skipped)" ]
}

@test "robustness: -o SHARD/ (a trailing slash) names SHARD, with and without --force" {
  args=(--attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -S 16 -q -j 1)
  run celeb-pack "${args[@]}" -o "$T/new.lmdb/"
  [ "$status" -eq 0 ]
  [ "$(celeb-dump --verify "$T/new.lmdb")" = "12 records OK" ]
  run celeb-pack "${args[@]}" -n 3 -o "$T/new.lmdb//"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/new.lmdb exists (use --force to replace it)" ]
  # The temporary directory was made inside the old shard, which then could not be replaced.
  run celeb-pack "${args[@]}" -n 3 -f -o "$T/new.lmdb/"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(celeb-dump --verify "$T/new.lmdb")" = "3 records OK" ]
  [ "$(ls -A "$T/new.lmdb")" = data.mdb ]
  [ -z "$(ls -d "$T"/new.lmdb.* 2>/dev/null)" ]
  run celeb-pack "${args[@]}" -o ""
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "celeb-pack: -o/--output: empty path" ]
}

@test "robustness: with stderr closed the skip warnings do not land in the shard" {
  mkdir "$T/img"
  cp "$S/img_align_celeba/00000"[1-3].jpg "$T/img/"
  # data.mdb would be opened as descriptor 2, and each warning written into it
  run bash -c "celeb-pack --attrs '$S/list_attr_celeba.txt' --images '$T/img' -S 16 -j 1 -o '$T/s.lmdb' 2>&-"
  [ "$status" -eq 0 ]
  [ "$(celeb-dump --verify "$T/s.lmdb")" = "3 records OK" ]
  run bash -c "celeb-pack --attrs '$S/list_attr_celeba.txt' --images '$T/img' -S 16 -j 2 -o '$T/s2.lmdb' 2>&- <&- >&-"
  [ "$status" -eq 0 ]
  [ "$(celeb-dump --verify "$T/s2.lmdb")" = "3 records OK" ]
}

@test "the man page's Python recipe reads a record whose file name is not UTF-8" {
  have_py || skip "no python3 with lmdb, numpy, PIL"
  recipe
  mkdir -p "$T/f/c" "$T/f/d"   # two classes (one alone is refused)
  cp "$S/img_align_celeba/000001.jpg" "$T/f/c/"$'caf\xe9.jpg'
  cp "$S/img_align_celeba/000002.jpg" "$T/f/d/"
  celeb-pack --folders "$T/f" -S 8 -j 1 -q -o "$T/l1.lmdb"
  run "$PY" -c "
import sys, os; sys.path.insert(0, os.environ['T'])
from recipe import open_shard, read_record
env, meta = open_shard(sys.argv[1])
pixels, labels, name = read_record(env, meta, 0)
assert os.fsencode(name) == b'c/caf\xe9.jpg', name
print('ok', pixels.shape)" "$T/l1.lmdb"
  echo "$output"
  [ "$output" = "ok (8, 8, 3)" ]
}

@test "robustness: a full file system is named as such; the old shard stays, nothing is left" {
  mkdir "$T/small"
  mount -t tmpfs -o size=512k tmpfs "$T/small" 2>/dev/null || skip "cannot mount a small tmpfs (needs root)"
  args=(--attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -S 16 -j 1 -q)
  # Nothing may stop the test before the umount.
  first=0
  celeb-pack "${args[@]}" -o "$T/small/s.lmdb" || first=$?
  # LMDB reports the short write as EIO: "Input/output error" alone suggested a broken disk.
  run celeb-pack "${args[@]}" -S 128 -f -o "$T/small/s.lmdb"
  st=$status
  verify=$(celeb-dump --verify "$T/small/s.lmdb" 2>&1 || true)
  left=$(ls -A "$T/small")
  umount "$T/small"
  echo "$output"
  [ "$first" -eq 0 ]
  [ "$st" -eq 1 ]
  # LMDB's EIO on a file system with no room left is reported as ENOSPC: the
  # advice every tool gives for a full file system, said once
  [[ "$output" == "celeb-pack: $T/small/s.lmdb.tmp-"*": write: No space left on device ("*" bytes free); $T/small/s.lmdb not written (the file system is full: free space on it and try again)" ]]
  [ "$(grep -o "file system is full" <<< "$output" | wc -l)" -eq 1 ]
  [ "$verify" = "12 records OK" ]
  [ "$left" = s.lmdb ]
}

@test "robustness: a write LMDB is refused for want of space (ENOSPC) says the file system is full, with what to do" {
  need_strace
  args=(--attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -S 16 -j 1 -q -o "$T/s.lmdb")
  inject=(strace -f -qq -o /dev/null -e trace=pwrite64,pwritev,writev)
  # LMDB's first write creates the database (sg_shard_writer_open)
  run "${inject[@]}" -e inject=pwrite64,pwritev,writev:error=ENOSPC:when=1 celeb-pack "${args[@]}"
  [ "$status" -eq 1 ]
  [[ "$output" == "celeb-pack: $T/s.lmdb.tmp-"*": cannot create the database: No space left on device (the file system is full: free space on it and try again)" ]]
  # a later one writes the records (the commit, for 12 small ones)
  run "${inject[@]}" -e inject=pwrite64,pwritev,writev:error=ENOSPC:when=2 celeb-pack "${args[@]}"
  [ "$status" -eq 1 ]
  [[ "$output" == "celeb-pack: $T/s.lmdb.tmp-"*": write: No space left on device; $T/s.lmdb not written (the file system is full: free space on it and try again)" ]]
  [ -z "$(ls -A "$T")" ]
}

@test "robustness: a short write where there is room stays LMDB's Input/output error, with no advice about space" {
  need_strace
  free_kib=$(df -Pk "$T" | awk 'NR == 2 {print $4}')
  [ "$free_kib" -gt 65536 ] || skip "less than 64 MiB free under $T"
  # LMDB's second write (the commit's) is made to write 1 byte
  run strace -f -qq -o /dev/null -e trace=pwrite64,pwritev -e inject=pwrite64,pwritev:retval=1:when=2 \
    celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -S 16 -j 1 -q -o "$T/s.lmdb"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == "celeb-pack: $T/s.lmdb.tmp-"*": write: Input/output error; $T/s.lmdb not written" ]]
  [ -z "$(ls -A "$T")" ]
}

@test "robustness: a disk quota reached (EDQUOT) is not called a full file system" {
  need_strace
  args=(--attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -S 16 -j 1 -q -o "$T/s.lmdb")
  run strace -f -qq -o /dev/null -e trace=pwrite64,pwritev,writev -e inject=pwrite64,pwritev,writev:error=EDQUOT:when=2 \
    celeb-pack "${args[@]}"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == "celeb-pack: $T/s.lmdb.tmp-"*": write: Disk quota exceeded; $T/s.lmdb not written (the disk quota is exceeded: free space or ask for more quota, then try again)" ]]
  [ -z "$(ls -A "$T")" ]
}

@test "robustness: standard output on a device (/dev/full) gets no advice about a file system; a file on a full one does" {
  run bash -c 'celeb-pack --version > /dev/full'
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: <stdout>: No space left on device" ]
  run bash -c 'celeb-pack --help > /dev/full'
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: <stdout>: No space left on device" ]
  mkdir "$T/small"
  mount -t tmpfs -o size=64k tmpfs "$T/small" 2>/dev/null || skip "cannot mount a small tmpfs (needs root)"
  # Nothing may stop the test before the umount.
  dd if=/dev/zero of="$T/small/fill" bs=4k 2>/dev/null || true
  run bash -c "celeb-pack --help > '$T/small/help'"
  umount "$T/small"
  echo "$output"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: <stdout>: No space left on device (the file system is full: free space on it and try again)" ]
}

# The Nth mmap(2) of the command that maps a thread stack (MAP_STACK) when run
# alone: glibc's pthread_create maps each new thread's stack so.
first_stack_mmap() {
  strace -f -qq -o "$T/trace" -e trace=mmap "$@" >/dev/null 2>&1 || true
  grep -n MAP_STACK "$T/trace" | head -n 1 | cut -d: -f1
}

@test "robustness: a thread that cannot be started is reported with pthread_create's error (not a stale errno), the output and what -j to give" {
  need_strace
  args=(--attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" -S 16 -j 2 -q -o "$T/s.lmdb")
  n=$(first_stack_mmap celeb-pack "${args[@]}")
  rm -rf "$T/s.lmdb" "$T/trace"
  [ -n "$n" ]
  # the stack's mmap fails with ENOMEM (errno); pthread_create returns EAGAIN
  run strace -f -qq -o /dev/null -e trace=mmap -e inject=mmap:error=ENOMEM:when="$n" celeb-pack "${args[@]}"
  echo "$output"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $T/s.lmdb: cannot start decoding thread 1 of 2 (Resource temporarily unavailable); $T/s.lmdb not written: give -j 1 (decoding in the main thread)" ]
  [ -z "$(ls -A "$T")" ]
}

@test "robustness: a dangling symbolic link among class folders and images is not a read error of the folder" {
  mkdir -p "$T/f/a" "$T/f/b"
  cp "$S/img_align_celeba/000001.jpg" "$T/f/a/"
  cp "$S/img_align_celeba/000002.jpg" "$T/f/b/"
  ln -s "$T/nowhere" "$T/f/gone"
  ln -s "$T/nowhere" "$T/f/b/zz.jpg"
  run celeb-pack --folders "$T/f" -S 8 -j 1 -q -o "$T/f.lmdb"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == "celeb-pack: $T/f/b/zz.jpg: "*"(skipped)" ]]
  [ "$(celeb-dump --verify "$T/f.lmdb")" = "2 records OK" ]
}

@test "Kaggle's list_attr_celeba.csv packs into the same shard as the .txt list" {
  mkdir "$T/txt" "$T/csv"
  cp "$S/list_attr_celeba.txt" "$T/txt/list"
  # the CSV form, CRLF line ends; the same name, so that the shard's recorded source is the same
  { printf 'image_id,'; sed -n 2p "$S/list_attr_celeba.txt" | sed 's/ *$//' | tr ' ' ,; echo
    tail -n +3 "$S/list_attr_celeba.txt" | sed -E 's/ +/,/g'; } | sed 's/$/\r/' > "$T/csv/list"
  head -n 1 "$T/csv/list" | grep -q '^image_id,5_o_Clock_Shadow,'
  for d in txt csv; do
    (cd "$T/$d" && celeb-pack -q --attrs list --images "$S/img_align_celeba" --select "$SEL" -S 16 -j 2 -o s.lmdb)
  done
  cmp "$T/txt/s.lmdb/data.mdb" "$T/csv/s.lmdb/data.mdb"
}

# A list of the 12 synthetic rows and then N rows naming missing files.
list_with_missing() {
  local n=$1 out=$2
  { echo $((12 + n)); sed -n 2p "$S/list_attr_celeba.txt"; tail -n +3 "$S/list_attr_celeba.txt"
    for ((k = 0; k < n; k++)); do tail -n 1 "$S/list_attr_celeba.txt" | sed "s/^[^ ]*/gone$k.jpg/"; done; } > "$out"
}

@test "missing images: the first 10 are named, then one line says how many more; with -q too" {
  list_with_missing 15 "$T/l.txt"
  run celeb-pack --attrs "$T/l.txt" --images "$S/img_align_celeba" -S 16 -j 2 -o "$T/s.lmdb"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 12 ]
  [ "${lines[0]}" = "celeb-pack: $S/img_align_celeba/gone0.jpg: No such file or directory (skipped)" ]
  [ "${lines[9]}" = "celeb-pack: $S/img_align_celeba/gone9.jpg: No such file or directory (skipped)" ]
  [ "${lines[10]}" = "celeb-pack: ... and 5 more missing (skipped)" ]
  [ "${lines[11]}" = "celeb-pack: wrote 12 records to $T/s.lmdb (15 skipped: 15 missing), 16x16, 40 labels" ]
  run celeb-pack -q --attrs "$T/l.txt" --images "$S/img_align_celeba" -S 16 -j 1 -o "$T/q.lmdb"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 11 ]
  [ "${lines[10]}" = "celeb-pack: ... and 5 more missing (skipped)" ]
  # ten or fewer: no such line
  list_with_missing 10 "$T/l.txt"
  run celeb-pack -q --attrs "$T/l.txt" --images "$S/img_align_celeba" -S 16 -o "$T/t.lmdb"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 10 ]
  [ "${lines[9]}" = "celeb-pack: $S/img_align_celeba/gone9.jpg: No such file or directory (skipped)" ]
}

# runs celeb-pack on $T/img with -q and without; both: exit 1, the one line $1, nothing left
expect_all_missing() {
  for q in -v -q; do
    [ $q = -v ] && q=()
    run celeb-pack "${q[@]}" --attrs "${ATTRS:-$S/list_attr_celeba.txt}" --images "$T/img" -S 16 -o "$T/o.lmdb"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [ "$output" = "$1; $T/o.lmdb not written" ]
    [ ! -e "$T/o.lmdb" ]
    [ -z "$(ls -d "$T"/o.lmdb.tmp-* 2>/dev/null)" ]
  done
}

@test "every image missing: one line that says what the --images directory holds instead, with -q too" {
  L="$S/list_attr_celeba.txt"
  # Kaggle's nested img_align_celeba/img_align_celeba
  mkdir -p "$T/img"
  cp -r "$S/img_align_celeba" "$T/img/"
  mkdir "$T/img/other"
  expect_all_missing "celeb-pack: --images $T/img: none of the 12 images $L lists is there (the first: 000001.jpg), but $T/img/img_align_celeba holds it (a nested folder, as in Kaggle's img_align_celeba/img_align_celeba): give --images $T/img/img_align_celeba"
  celeb-pack -q --attrs "$L" --images "$T/img/img_align_celeba" -S 16 -o "$T/o.lmdb"
  rm -r "$T/img" "$T/o.lmdb"
  # the PNG variant: NAME.png for NAME.jpg; the sed line given works
  mkdir "$T/img"
  for f in "$S"/img_align_celeba/*.jpg; do b=$(basename "$f" .jpg); cp "$f" "$T/img/$b.png"; done
  msg="celeb-pack: --images $T/img: none of the 12 images $L lists is there (the first: 000001.jpg), but 000001.png is (the PNG variant, img_align_celeba_png): rewrite the list's names with sed -E 's/\\.jpg([ ,])/.png\\1/' $L > list_attr_png.txt and give --attrs list_attr_png.txt"
  expect_all_missing "$msg"
  sed -E 's/\.jpg([ ,])/.png\1/' "$L" > "$T/list_attr_png.txt"
  celeb-pack -q --attrs "$T/list_attr_png.txt" --images "$T/img" -S 16 -o "$T/o.lmdb"
  [ "$(celeb-dump --list "$T/o.lmdb" | head -n 1 | cut -f2)" = 000001.png ]
  rm -r "$T/o.lmdb"
  # a CSV list: the sed line keeps the commas, and the new name ends in .csv
  { printf 'image_id,'; sed -n 2p "$L" | sed 's/ *$//' | tr ' ' ,; echo; tail -n +3 "$L" | sed -E 's/ +/,/g'; } > "$T/list.csv"
  ATTRS="$T/list.csv" expect_all_missing "celeb-pack: --images $T/img: none of the 12 images $T/list.csv lists is there (the first: 000001.jpg), but 000001.png is (the PNG variant, img_align_celeba_png): rewrite the list's names with sed -E 's/\\.jpg([ ,])/.png\\1/' $T/list.csv > list_attr_png.csv and give --attrs list_attr_png.csv"
  sed -E 's/\.jpg([ ,])/.png\1/' "$T/list.csv" > "$T/list_attr_png.csv"
  celeb-pack -q --attrs "$T/list_attr_png.csv" --images "$T/img" -S 16 -o "$T/o.lmdb"
  rm -r "$T/o.lmdb"
  # a list whose path has a blank and a quote: the command given is one to paste, and it works
  cp "$L" "$T/it's a list.txt"
  run celeb-pack -q --attrs "$T/it's a list.txt" --images "$T/img" -S 16 -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == *" sed -E 's/\\.jpg([ ,])/.png\\1/' '$T/it'\\''s a list.txt' > list_attr_png.txt and give"* ]]
  cmd=${output#*rewrite the list\'s names with }
  cmd=${cmd% and give --attrs*}
  (cd "$T" && rm -f list_attr_png.txt && eval "$cmd")
  cmp "$T/list_attr_png.txt" <(sed -E 's/\.jpg([ ,])/.png\1/' "$L")
  # a list named -attrs.txt: the command names it ./-attrs.txt, which sed
  # does not read as options (-attrs.txt: invalid option -- 'a')
  cp "$L" "$T/-attrs.txt"
  cd "$T"
  run celeb-pack -q --attrs=-attrs.txt --images img -S 16 -o o.lmdb
  [ "$status" -eq 1 ]
  [[ "$output" == *" sed -E 's/\\.jpg([ ,])/.png\\1/' ./-attrs.txt > list_attr_png.txt and give"* ]]
  cmd=${output#*rewrite the list\'s names with }
  cmd=${cmd% and give --attrs*}
  rm -f list_attr_png.txt
  run bash -c "$cmd"
  [ "$status" -eq 0 ]
  cmp list_attr_png.txt <(sed -E 's/\.jpg([ ,])/.png\1/' "$L")
  rm -r "$T/img"
  # one folder, without the images
  mkdir -p "$T/img/photos"
  expect_all_missing "celeb-pack: --images $T/img: none of the 12 images $L lists is there (the first: 000001.jpg); it holds only the folder photos: give --images $T/img/photos if the images are in it"
  # empty; other files
  rmdir "$T/img/photos"
  expect_all_missing "celeb-pack: --images $T/img: none of the 12 images $L lists is there (the first: 000001.jpg): the directory is empty; check --images"
  touch "$T/img/a.jpg"; mkdir "$T/img/b" "$T/img/c"
  expect_all_missing "celeb-pack: --images $T/img: none of the 12 images $L lists is there (the first: 000001.jpg): check --images"
  # one row
  printf '1\nA\n000001.jpg 1\n' > "$T/one.txt"
  ATTRS="$T/one.txt" expect_all_missing "celeb-pack: --images $T/img: the image $T/one.txt lists (000001.jpg) is not there: check --images"
}

@test "every image missing: it stops after the first 100 rows when rows spread over the rest are missing too" {
  mkdir "$T/img"
  { echo 5000; echo A; for ((k = 1; k <= 5000; k++)); do printf '%06d.jpg 1\n' $k; done; } > "$T/l.txt"
  # row 101 exists: not among the rows looked at
  cp "$S/img_align_celeba/000001.jpg" "$T/img/000101.jpg"
  run celeb-pack -q --attrs "$T/l.txt" --images "$T/img" -S 16 -o "$T/o.lmdb"
  echo "$output"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: --images $T/img: none of the first 100 images $T/l.txt lists is there (the first: 000001.jpg): check --images; $T/o.lmdb not written" ]
  [ ! -e "$T/o.lmdb" ]
  # --limit below the list's rows: they are its first ones
  run celeb-pack -q --attrs "$T/l.txt" --images "$T/img" -S 16 --limit 99 -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: --images $T/img: none of the first 99 images $T/l.txt lists is there (the first: 000001.jpg): check --images; $T/o.lmdb not written" ]
  run celeb-pack -q --attrs "$T/l.txt" --images "$T/img" -S 16 --limit 1 -o "$T/o.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: --images $T/img: the first image $T/l.txt lists (000001.jpg) is not there: check --images; $T/o.lmdb not written" ]
  [ ! -e "$T/o.lmdb" ]
  # a folder of the later images only (a partial unzip) is the right one: its rows are packed
  cp "$S/img_align_celeba/000001.jpg" "$T/img/005000.jpg"
  run celeb-pack --attrs "$T/l.txt" --images "$T/img" -S 16 -o "$T/o.lmdb"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 12 ]
  [ "${lines[0]}" = "celeb-pack: $T/img/000001.jpg: No such file or directory (skipped)" ]
  [ "${lines[10]}" = "celeb-pack: ... and 4988 more missing (skipped)" ]
  [ "${lines[11]}" = "celeb-pack: wrote 2 records to $T/o.lmdb (4998 skipped: 4998 missing), 16x16, 1 label" ]
  rm -r "$T/o.lmdb" "$T/img/005000.jpg"
  # one image among the first 100: the rest are skipped as before, the first 10 named
  cp "$S/img_align_celeba/000001.jpg" "$T/img/000100.jpg"
  run celeb-pack --attrs "$T/l.txt" --images "$T/img" -S 16 --limit 150 -o "$T/o.lmdb"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 12 ]
  [ "${lines[0]}" = "celeb-pack: $T/img/000001.jpg: No such file or directory (skipped)" ]
  [ "${lines[10]}" = "celeb-pack: ... and 138 more missing (skipped)" ]
  [ "${lines[11]}" = "celeb-pack: wrote 2 records to $T/o.lmdb (148 skipped: 148 missing), 16x16, 1 label" ]
}

@test "class folders: files in nested folders and of other types are counted as ignored in the summary (ImageFolder would see them)" {
  mkdir -p "$T/f/a/nested/deeper" "$T/f/a/.ipynb_checkpoints" "$T/f/b" "$T/f/.hidden"
  cp "$S/img_align_celeba/000001.jpg" "$T/f/a/1.jpg"
  cp "$S/img_align_celeba/000002.jpg" "$T/f/a/nested/2.jpg"
  cp "$S/img_align_celeba/000003.jpg" "$T/f/a/nested/deeper/3.jpg"
  echo x > "$T/f/a/nested/deeper/readme.txt"
  cp "$S/img_align_celeba/000004.jpg" "$T/f/a/.ipynb_checkpoints/4.jpg"   # hidden: not counted
  cp "$S/img_align_celeba/000005.jpg" "$T/f/a/.5.jpg"
  cp "$S/img_align_celeba/000006.jpg" "$T/f/b/6.jpg"
  cp "$S/img_align_celeba/000007.jpg" "$T/f/b/7.bmp"
  cp "$S/img_align_celeba/000008.jpg" "$T/f/.hidden/8.jpg"
  ln -s .. "$T/f/a/nested/up"    # a link to a folder below: not followed (a loop)
  run celeb-pack --folders "$T/f" -S 16 -o "$T/r.lmdb"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "celeb-pack: wrote 2 records to $T/r.lmdb (4 files ignored: 3 in nested folders, 1 not .jpg/.jpeg/.png), 16x16, 2 labels" ]
  rm -r "$T/r.lmdb" "$T/f/b/7.bmp"
  rm -r "$T/f/a/nested/deeper"
  # one of a kind, with skipped images before it
  : > "$T/f/b/8.jpg"
  run celeb-pack --folders "$T/f" -S 16 -o "$T/r.lmdb"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "celeb-pack: wrote 2 records to $T/r.lmdb (1 skipped: 1 empty; 1 file ignored: 1 in a nested folder), 16x16, 2 labels" ]
  rm -r "$T/r.lmdb" "$T/f/a/nested" "$T/f/b/8.jpg"
  run celeb-pack --folders "$T/f" -S 16 -o "$T/r.lmdb"
  [ "$output" = "celeb-pack: wrote 2 records to $T/r.lmdb, 16x16, 2 labels" ]
}

@test "a CMYK JPEG is counted as unsupported, not corrupt (a CMYK one cut before its scan is corrupt)" {
  "$PY" -c 'import PIL' 2>/dev/null || skip "no /usr/bin/python3 with PIL"
  mkdir "$T/img"
  cp "$S"/img_align_celeba/*.jpg "$T/img/"
  "$PY" -c "
from PIL import Image
im = Image.open('$S/img_align_celeba/000002.jpg').convert('CMYK')
im.save('$T/img/000002.jpg', 'JPEG')
im.save('$T/img/000003.jpg', 'JPEG', progressive=True)
im.save('$T/cmyk.jpg', 'JPEG')"
  head -c 3000 "$T/cmyk.jpg" > "$T/img/000004.jpg"     # the scan cut: still refused as CMYK
  head -c 200 "$T/cmyk.jpg" > "$T/img/000005.jpg"      # cut before its frame header is whole
  head -c 2000 "$S/img_align_celeba/000006.jpg" > "$T/img/000006.jpg"
  run celeb-pack --attrs "$S/list_attr_celeba.txt" --images "$T/img" -S 16 -j 2 -o "$T/s.lmdb"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "celeb-pack: $T/img/000002.jpg: JPEG: CMYK/YCCK colour space is not supported (skipped)" ]
  [ "${lines[1]}" = "celeb-pack: $T/img/000003.jpg: JPEG: CMYK/YCCK colour space is not supported (skipped)" ]
  [ "${lines[2]}" = "celeb-pack: $T/img/000004.jpg: JPEG: CMYK/YCCK colour space is not supported (skipped)" ]
  [[ "${lines[3]}" == "celeb-pack: $T/img/000005.jpg: JPEG: "*"(skipped)" ]]
  [[ "${lines[3]}" != *CMYK* ]]
  [ "${lines[5]}" = "celeb-pack: wrote 7 records to $T/s.lmdb (5 skipped: 3 unsupported, 2 corrupt), 16x16, 40 labels" ]
}

# review-size20 L4: --crop 16384 for 178x218 images padded each to
# 16384x16384 (805 MB a thread) without a word; almost surely a typo.
@test "--crop more than twice the images' larger side: packed as CenterCrop pads, with one warning" {
  run celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --select "$SEL" \
      --crop 437 --size 16 --threads 2 -o "$T/big.lmdb"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [ "${lines[0]}" = "celeb-pack: --crop 437 is more than twice the larger side of the images ($S/img_align_celeba/000001.jpg: 178x218): each is padded with black to 437x437 (1 MiB a thread), the picture a small part of it; probably a typo (--crop 178 fits inside)" ]
  [ -e "$T/big.lmdb/data.mdb" ]
  # twice the larger side is no typo (a padded border is a choice): nothing said
  run celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --select "$SEL" \
      --crop 436 --size 16 --threads 1 -o "$T/edge.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

# review-fuzz22 F4: a damaged map size in data.mdb's meta page (LMDB mapped
# that much: "Cannot allocate memory") does not stop a shard from being read.
@test "a shard whose data.mdb records a map size of 2^60 reads as it is (the map is the file's size)" {
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --select "$SEL" --size 16 -o "$T/a.lmdb"
  celeb-dump -q --get 3 -o "$T/r3.png" "$T/a.lmdb"
  mkdir "$T/big.lmdb"
  "$PY" -c "import struct,sys;b=bytearray(open(sys.argv[1],'rb').read());struct.pack_into('<Q',b,32,1<<60);ps=struct.unpack_from('<I',b,40)[0];struct.pack_into('<Q',b,ps+32,1<<60);open(sys.argv[2],'wb').write(b)" \
      "$T/a.lmdb/data.mdb" "$T/big.lmdb/data.mdb"
  ! cmp -s "$T/a.lmdb/data.mdb" "$T/big.lmdb/data.mdb" || false
  run celeb-dump --verify "$T/big.lmdb"
  [ "$status" -eq 0 ]
  [[ "$output" == *"12 records OK"* ]]
  celeb-dump -q --get 3 -o "$T/b3.png" "$T/big.lmdb"
  cmp "$T/r3.png" "$T/b3.png"
}

# The same for the last page number (LMDB maps up to it whatever the map size:
# "Cannot allocate memory" for a damaged one): the message says what is wrong.
@test "a shard whose data.mdb records a last page far past its end: truncated or damaged, not out of memory" {
  celeb-pack -q --attrs "$S/list_attr_celeba.txt" --images "$S/img_align_celeba" --select "$SEL" --size 16 -o "$T/a.lmdb"
  # LMDB: ENOMEM; MDB_MAP_RESIZED (the size passes 2^64); opens, then page not found (last + 1 wraps to 0)
  for last in '1<<50' '1<<62' '(1<<64)-1'; do
    rm -rf "$T/far.lmdb"
    mkdir "$T/far.lmdb"
    "$PY" -c "import struct,sys;b=bytearray(open(sys.argv[1],'rb').read());ps=struct.unpack_from('<I',b,40)[0];[struct.pack_into('<Q',b,m+136,$last) for m in (0,ps)];open(sys.argv[2],'wb').write(b)" \
        "$T/a.lmdb/data.mdb" "$T/far.lmdb/data.mdb"
    size=$(stat -c %s "$T/far.lmdb/data.mdb")
    run celeb-dump "$T/far.lmdb"
    echo "$last: $output"
    [ "$status" -eq 1 ]
    [[ "$output" == "celeb-dump: $T/far.lmdb: data.mdb is truncated or its header damaged ($size bytes, the header records "[0-9]*" pages of "[0-9]*"): pack the shard again (celeb-pack)" ]]
  done
}
