#!/usr/bin/env bats
load helpers
# celeb-dump on a small shard made by celeb-synth + celeb-pack: every mode,
# labels checked against the attribute file, corruption and bad inputs.

SELECT=Black_Hair,Blond_Hair,Brown_Hair,Eyeglasses,Male

setup_file() {
  command -v celeb-synth >/dev/null && command -v celeb-pack >/dev/null || return 0
  D="$BATS_FILE_TMPDIR"
  celeb-synth -n 12 -s 5 -o "$D/syn" -q
  celeb-pack --attrs "$D/syn/list_attr_celeba.txt" --images "$D/syn/img_align_celeba" \
    --select "$SELECT" -S 32 -j 1 -q -o "$D/s.lmdb"
  # Expected labels: "file<TAB>bits" in attribute-file order, from the text file itself.
  awk -v sel="$SELECT" 'NR == 2 { for (i = 1; i <= NF; i++) col[$i] = i + 1; n = split(sel, want, ","); next }
       NR > 2 { b = ""; for (k = 1; k <= n; k++) b = b ($(col[want[k]]) == 1 ? "1" : "0"); print $1 "\t" b }' \
    "$D/syn/list_attr_celeba.txt" > "$D/expected.tsv"
}

setup() {
  command -v celeb-synth >/dev/null && command -v celeb-pack >/dev/null || skip "celeb-synth/celeb-pack not built"
  D="$BATS_FILE_TMPDIR"
  T="$BATS_TEST_TMPDIR"
}


@test "metadata: count, size, labels in order; --json" {
  run celeb-dump "$D/s.lmdb"
  [ "$status" -eq 0 ]
  [[ "$output" == *"records         12"* ]]
  [[ "$output" == *"image           32x32, 3 channels, stored as raw"* ]]
  [[ "$output" == *"labels          5, multi-hot: Black_Hair Blond_Hair Brown_Hair Eyeglasses Male"* ]]
  [[ "$output" == *"center crop 178, resize to 32"* ]]
  v=$(celeb-dump --version)
  v=${v#celeb-dump }
  [[ "$output" == *"created by      stargan-c $v"* ]]   # which build wrote it
  run celeb-dump --json "$D/s.lmdb"
  [ "$status" -eq 0 ]
  [[ "$output" == *'"count": 12, "width": 32, "height": 32'* ]]
  [[ "$output" == *"\"crop\": 178, \"size\": 32, \"created_by\": \"stargan-c $v\"}" ]]
  [[ "$output" == *'"labels": ["Black_Hair", "Blond_Hair", "Brown_Hair", "Eyeglasses", "Male"]'* ]]
}

@test "--list: index, file name and label bits equal the attribute file" {
  celeb-dump --list "$D/s.lmdb" > "$T/list.tsv"
  [ "$(wc -l < "$T/list.tsv")" -eq 12 ]
  awk -F'\t' 'NF != 3 || $1 != NR - 1 { exit 1 }' "$T/list.tsv"
  cut -f2,3 "$T/list.tsv" | diff - "$D/expected.tsv"
}

@test "--list --names and --list --json agree with the bits" {
  celeb-dump --list "$D/s.lmdb" > "$T/bits.tsv"
  celeb-dump --list --names "$D/s.lmdb" > "$T/names.tsv"
  # Rebuild bits from names.
  awk -F'\t' -v sel="$SELECT" 'BEGIN { n = split(sel, a, ",") }
    { b = ""; for (k = 1; k <= n; k++) b = b ((("," $3 ",") ~ ("," a[k] ",")) ? "1" : "0"); print $1 "\t" $2 "\t" b }' \
    "$T/names.tsv" | diff - "$T/bits.tsv"
  run celeb-dump --list --json "$D/s.lmdb"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 12 ]
  first_bits=$(sed -n 1p "$T/bits.tsv" | cut -f3 | sed 's/./&, /g; s/, $//')
  [[ "${lines[0]}" == "{\"index\": 0, \"name\": \"000001.jpg\", \"labels\": [$first_bits]}" ]]
}

@test "--stats counts positives per attribute; --stats --json feeds sg-plot --bars" {
  run celeb-dump --stats "$D/s.lmdb"
  [ "$status" -eq 0 ]
  for k in 1 2 3 4 5; do
    name=$(echo "$SELECT" | cut -d, -f$k)
    want=$(cut -f2 "$D/expected.tsv" | cut -c$k | grep -c 1 || true)
    line=$(printf '%s\n' "$output" | awk -v n="$name" '$1 == n')
    [ "$(echo "$line" | awk '{print $2}')" = "$want" ] || { echo "$name: $line, want $want positive"; false; }
    [ "$(echo "$line" | awk '{print $3}')" = "$((12 - want))" ]
  done
  celeb-dump --stats --json "$D/s.lmdb" > "$T/stats.json"
  grep -q '"count": 12, "label_kind": "multi-hot", "labels": \[{"name": "Black_Hair", "positive": ' "$T/stats.json"
  sg-plot --bars "$T/stats.json" -o "$T/bars.png"
  png_size "$T/bars.png"
}

@test "--stats text table agrees with --stats --json: positive, negative and positive% per row" {
  celeb-dump --stats --json "$D/s.lmdb" > "$T/stats.json"
  run celeb-dump --stats "$D/s.lmdb"
  [ "$status" -eq 0 ]
  # the name column is as wide as the longest name (Black_Hair: 10)
  [ "${lines[0]}" = "$(printf '%-10s %10s %10s %8s' attribute positive negative positive%)" ]
  [ "$(printf '%s\n' "$output" | awk '$1 == "records" {print $2}')" = 12 ]
  rows=0 uneven=0
  for k in 1 2 3 4 5; do
    name=$(echo "$SELECT" | cut -d, -f$k)
    pos=$(grep -o "{\"name\": \"$name\", \"positive\": [0-9]*" "$T/stats.json" | grep -o '[0-9]*$')
    neg=$(grep -o "{\"name\": \"$name\", \"positive\": [0-9]*, \"negative\": [0-9]*" "$T/stats.json" | grep -o '[0-9]*$')
    [ -n "$pos" ] && [ -n "$neg" ] || { echo "$name: not in $(cat "$T/stats.json")"; false; }
    [ $((pos + neg)) -eq 12 ]
    pct=$(awk -v p="$pos" 'BEGIN { printf "%.2f", 100.0 * p / 12 }')
    line=$(printf '%s\n' "$output" | awk -v n="$name" '$1 == n')
    want=$(printf '%-10s %10s %10s %8s' "$name" "$pos" "$neg" "$pct")
    [ "$line" = "$want" ] || { echo "row '$line', want '$want' (from --json)"; false; }
    rows=$((rows + 1))
    [ "$pos" -eq "$neg" ] || uneven=$((uneven + 1))
  done
  [ "$rows" -eq 5 ]
  # a row with positive% != 50 tells positives from negatives
  [ "$uneven" -ge 1 ]
}

@test "--get N writes the record's image (PNG, JPEG, stdout, --scale)" {
  celeb-dump --get 3 -o "$T/r3.png" "$D/s.lmdb"
  [ "$(png_size "$T/r3.png")" = 32x32 ]
  celeb-dump --get 3 -o - "$D/s.lmdb" > "$T/stdout.png"
  cmp "$T/r3.png" "$T/stdout.png"
  celeb-dump --get 11 --scale 3 -o "$T/r11.png" "$D/s.lmdb"
  [ "$(png_size "$T/r11.png")" = 96x96 ]
  celeb-dump --get 0 -o "$T/r0.jpg" "$D/s.lmdb"
  [ "$(head -c 3 "$T/r0.jpg" | od -An -tx1 | tr -d ' \n')" = ffd8ff ]
  ! cmp -s "$T/r3.png" "$T/r11.png" || false
}

@test "--get killed while writing leaves no temporary file and the old output" {
  echo old > "$T/r.png"
  run_signalled_at_fsync TERM 1 celeb-dump --get 3 -o "$T/r.png" "$D/s.lmdb"
  [ "$status" -eq 143 ]
  [ "$(ls -A "$T")" = r.png ]
  [ "$(cat "$T/r.png")" = old ]
}

@test "--get pixels are the shard's pixels (PIL, compared with the record bytes)" {
  /usr/bin/python3 -c 'import PIL, lmdb' 2>/dev/null || skip "no python3 PIL/lmdb"
  celeb-dump --get 5 -o "$T/r5.png" "$D/s.lmdb"
  /usr/bin/python3 - "$D/s.lmdb" "$T/r5.png" <<'PY'
import sys, struct, lmdb
from PIL import Image
env = lmdb.open(sys.argv[1], readonly=True, lock=False)
with env.begin() as txn:
    v = txn.get(struct.pack(">Q", 5))
n_labels, name_len = struct.unpack("<HH", v[4:8])
npix = struct.unpack("<I", v[12:16])[0]
start = 16 + n_labels + name_len
raw = v[start:start + npix]
got = Image.open(sys.argv[2]).convert("RGB").tobytes()
assert got == raw, "pixels differ"
PY
}

@test "--get out of range, --get without -o" {
  run celeb-dump --get 12 -o "$T/x.png" "$D/s.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == *"record 12 out of range (the shard holds 12 records: 0..11)"* ]]
  [ ! -e "$T/x.png" ]
  run celeb-dump --get 1 "$D/s.lmdb"
  [ "$status" -eq 2 ]
  run celeb-dump --get -1 -o "$T/x.png" "$D/s.lmdb"
  [ "$status" -eq 2 ]
}

@test "a one-record shard: counts in the singular (1 record OK, holds 1 record: 0)" {
  celeb-pack -q --attrs "$D/syn/list_attr_celeba.txt" --images "$D/syn/img_align_celeba" \
    --select "$SELECT" -S 16 -j 1 -n 1 -o "$T/one.lmdb"
  run celeb-dump --verify "$T/one.lmdb"
  [ "$status" -eq 0 ]
  [ "$output" = "1 record OK" ]
  run celeb-dump --get 1 -o "$T/x.png" "$T/one.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: $T/one.lmdb: record 1 out of range (the shard holds 1 record: 0)" ]
}

@test "--grid --seed takes 0 to 2^64-1 (the draw's 64-bit seed), past 2^63-1 too; beyond is a usage error" {
  celeb-dump --grid 2x3 --seed 18446744073709551615 -o "$T/g1.png" "$D/s.lmdb"
  celeb-dump --grid 2x3 --seed 9223372036854775807 -o "$T/g2.png" "$D/s.lmdb"
  ! cmp -s "$T/g1.png" "$T/g2.png" || false
  run celeb-dump --grid 2x3 --seed 18446744073709551616 -o "$T/g3.png" "$D/s.lmdb"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "celeb-dump: --seed: 18446744073709551616 is out of range [0, 18446744073709551615]" ]
  [ ! -e "$T/g3.png" ]
}

@test "--grid: labelled tiles, same seed same image, other seed other image" {
  celeb-dump --grid 2x3 --seed 4 -o "$T/g1.png" "$D/s.lmdb"
  celeb-dump --grid 2x3 --seed 4 -o "$T/g2.png" "$D/s.lmdb"
  celeb-dump --grid 2x3 --seed 5 -o "$T/g3.png" "$D/s.lmdb"
  cmp "$T/g1.png" "$T/g2.png"
  ! cmp -s "$T/g1.png" "$T/g3.png" || false
  # 32 px images are upscaled x6 to 192 px tiles: 3 columns -> 3*192 + 4*12 wide.
  size=$(png_size "$T/g1.png")
  [ "${size%x*}" -eq $((3 * 192 + 4 * 12)) ]
  # More tiles than records: every record once.
  celeb-dump --grid 4x4 -o "$T/all.png" "$D/s.lmdb"
  run celeb-dump --grid 3 -o "$T/x.png" "$D/s.lmdb"
  [ "$status" -eq 2 ]
  run celeb-dump --grid 0x2 -o "$T/x.png" "$D/s.lmdb"
  [ "$status" -eq 2 ]
}

# celeb-pack never writes a shard of no records (it refuses no images to
# pack): such a shard is another program's. --grid said only "the shard holds
# no records".
@test "--grid on a shard of no records says so, that another program wrote it, and to pack the images with celeb-pack; nothing written" {
  /usr/bin/python3 -c 'import lmdb' 2>/dev/null || skip "no python3 lmdb"
  cp -r "$D/s.lmdb" "$T/empty.lmdb"
  /usr/bin/python3 - "$T/empty.lmdb" <<'PY'
import json, lmdb, sys
env = lmdb.open(sys.argv[1])
with env.begin(write=True) as txn:
    for k in [k for k, _ in txn.cursor() if k != b"meta"]:
        txn.delete(k)
    m = json.loads(txn.get(b"meta"))
    m["count"] = 0
    txn.put(b"meta", json.dumps(m).encode())
PY
  rm -f "$T/empty.lmdb/lock.mdb"
  [ "$(celeb-dump --verify "$T/empty.lmdb")" = "0 records OK" ]
  run celeb-dump --grid 2x2 -o "$T/g.png" "$T/empty.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: $T/empty.lmdb: the shard holds no records, so there is nothing to draw (celeb-pack never writes an empty shard: another program wrote this one, from no images); pack the images into a shard with celeb-pack (--attrs LIST --images DIR, or --folders DIR) and draw that" ]
  [ ! -e "$T/g.png" ]
}

@test "--grid too large an image names the shard, the size and the --scale that fits (it said only 'too large')" {
  run celeb-dump --grid 1x64 --scale 64 -o "$T/big.png" "$D/s.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" =~ ^"celeb-dump: $D/s.lmdb: --grid 1x64 of 2048x2048 tiles (--scale 64) makes an image of "[0-9]+x[0-9]+" pixels, over the most of 32768 a side; give --scale "([0-9]+)" or less, or a smaller --grid"$ ]] ||
    { echo "$output"; false; }
  fits=${BASH_REMATCH[1]}
  celeb-dump -q --grid 1x64 --scale "$fits" -o "$T/big.png" "$D/s.lmdb"
  [ "$(png_size "$T/big.png" | cut -dx -f1)" -le 32768 ]
  run celeb-dump --grid 1x64 --scale $((fits + 1)) -o "$T/big.png" "$D/s.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == *"(--scale $((fits + 1))) makes an image of "* ]]
}

@test "--verify: OK on a good shard; names the corrupted record and exits 1" {
  run celeb-dump --verify "$D/s.lmdb"
  [ "$status" -eq 0 ]
  [ "$output" = "12 records OK" ]
  cp -r "$D/s.lmdb" "$T/bad.lmdb"
  # Flip one pixel byte of record 6 (000007.jpg) inside data.mdb.
  off=$(grep -obUa "000007.jpg" "$T/bad.lmdb/data.mdb" | head -1 | cut -d: -f1)
  [ -n "$off" ]
  pos=$((off + 10 + 100))
  byte=$(od -An -tu1 -j$pos -N1 "$T/bad.lmdb/data.mdb" | tr -d ' ')
  printf "$(printf '\\%03o' $(( (byte + 1) % 256 )))" | dd of="$T/bad.lmdb/data.mdb" bs=1 seek=$pos conv=notrunc status=none
  run celeb-dump --verify "$T/bad.lmdb"
  [ "$status" -eq 1 ]
  [[ "${lines[0]}" == "celeb-dump: $T/bad.lmdb: record 6: CRC mismatch"* ]]
  # the last line says what mends it, naming the source the shard records
  [ "${lines[-1]}" = "celeb-dump: $T/bad.lmdb: 1 of 12 records bad; the shard is damaged: pack it again with celeb-pack (its source: $D/syn/list_attr_celeba.txt)" ]
  run celeb-dump --get 6 -o "$T/x.png" "$T/bad.lmdb"
  [ "$status" -eq 1 ]
  [ ! -e "$T/x.png" ]
  # The other records still read.
  celeb-dump --get 5 -o "$T/ok.png" "$T/bad.lmdb"
  run celeb-dump --stats "$T/bad.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == *"record 6: CRC mismatch"* ]]
}

@test "--verify on a PNG shard: a record that fails to decode is named with its file" {
  /usr/bin/python3 -c 'import lmdb' 2>/dev/null || skip "no python3 lmdb"
  celeb-pack --attrs "$D/syn/list_attr_celeba.txt" --images "$D/syn/img_align_celeba" \
    --select "$SELECT" -S 32 -e png -j 1 -q -o "$T/png.lmdb"
  run celeb-dump --verify "$T/png.lmdb"
  [ "$output" = "12 records OK" ]
  damage_png_record "$T/png.lmdb" 4
  run celeb-dump --verify "$T/png.lmdb"
  [ "$status" -eq 1 ]
  [[ "${lines[0]}" == "celeb-dump: $T/png.lmdb: record 4 (000005.jpg): "* ]]
  [[ "$output" == *"1 of 12 records bad"* ]]
}

# A record whose CRC is intact but whose labels are wrong (one-hot with two
# ones) was reported without its file name, which celeb-dump(1) says is shown
# whenever the CRC can be trusted.
@test "--verify: a one-hot record with two ones, its CRC intact, is named with its file" {
  /usr/bin/python3 -c 'import lmdb' 2>/dev/null || skip "no python3 lmdb"
  for c in angry happy sad; do
    mkdir -p "$T/f/$c"
    cp "$D/syn/img_align_celeba/000001.jpg" "$T/f/$c/${c}_1.jpg"
  done
  celeb-pack --folders "$T/f" -S 8 -j 1 -q -o "$T/oh.lmdb"
  [ "$(celeb-dump --verify "$T/oh.lmdb")" = "3 records OK" ]
  /usr/bin/python3 - "$T/oh.lmdb" 1 <<'PY'
import sys, lmdb, struct, zlib
env = lmdb.open(sys.argv[1])
with env.begin(write=True) as txn:
    k = struct.pack(">Q", int(sys.argv[2]))
    v = txn.get(k)
    nl = struct.unpack("<H", v[4:6])[0]
    body = bytearray(v[:-4])
    for i in range(nl):
        body[16 + i] = 1 if i < 2 else 0
    txn.put(k, bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)) & 0xFFFFFFFF))
PY
  name=$(/usr/bin/python3 -c '
import sys, lmdb, struct
env = lmdb.open(sys.argv[1], readonly=True, lock=False)
with env.begin() as txn:
    v = txn.get(struct.pack(">Q", 1))
    nl, nn = struct.unpack("<HH", v[4:8])
    print(v[16 + nl:16 + nl + nn].decode())' "$T/oh.lmdb")
  [ "$name" = "happy/happy_1.jpg" ]
  run celeb-dump --verify "$T/oh.lmdb"
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = "celeb-dump: $T/oh.lmdb: record 1 (happy/happy_1.jpg): one-hot labels with 2 ones" ]
  [ "${lines[1]}" = "celeb-dump: $T/oh.lmdb: 1 of 3 records bad; the shard is damaged: pack it again with celeb-pack (its source: $T/f)" ]
}

# A count past SG_SHARD_MAX_RECORDS (2^32 - 1) in the metadata (another
# program's shard, or damage) is refused by the shard reader, so by every
# tool alike, naming the shard and the limit: sg-train alone had a check of
# its own, and celeb-dump said only that the count did not match the records.
@test "a shard whose metadata counts more records than a shard may hold is refused, naming it and the limit (sg-train the same)" {
  /usr/bin/python3 -c 'import lmdb' 2>/dev/null || skip "no python3 lmdb"
  cp -r "$D/s.lmdb" "$T/big.lmdb"
  /usr/bin/python3 - "$T/big.lmdb" <<'PY'
import sys, lmdb, json
env = lmdb.open(sys.argv[1], lock=False)
with env.begin(write=True) as txn:
    m = json.loads(txn.get(b"meta"))
    m["count"] = 4294967296
    txn.put(b"meta", json.dumps(m).encode())
PY
  want="$T/big.lmdb: metadata: 4294967296 records, more than the 4294967295 a shard may hold (sg-train draws each epoch's order in 32 bits; no tool reads more): pack fewer images into it"
  for mode in "" --verify --stats --list; do
    run celeb-dump $mode "$T/big.lmdb"
    [ "$status" -eq 1 ]
    [ "$output" = "celeb-dump: $want" ]
  done
  run sg-train -o "$T/r" --device cpu -q "$T/big.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $want" ]
  [ ! -e "$T/r" ]
}

@test "--verify names a bad record by its file name quoted escaped; option values too" {
  /usr/bin/python3 -c 'import lmdb' 2>/dev/null || skip "no python3 lmdb"
  mkdir "$T/img"
  cp "$D/syn/img_align_celeba/000001.jpg" "$T/img/"$'\e[2J\xffname.jpg'
  printf '1\nA\n\033[2J\377name.jpg 1\n' > "$T/attrs.txt"
  celeb-pack --attrs "$T/attrs.txt" --images "$T/img" -S 32 -e png -j 1 -q -o "$T/png.lmdb"
  damage_png_record "$T/png.lmdb" 0
  run celeb-dump --verify "$T/png.lmdb"
  [ "$status" -eq 1 ]
  [[ "${lines[0]}" == "celeb-dump: $T/png.lmdb: record 0 (\\x1b[2J\\xffname.jpg): "* ]]
  only_printable "$output"
  run celeb-dump --grid $'3x\e[3' -o "$T/g.png" "$D/s.lmdb"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--grid: '3x\\x1b[3' is not RxC with R, C in 1..64"* ]]
  only_printable "$output"
}

# review-live19 F10: a shard's data.mdb given for the shard said "not a
# directory", a run directory "no data.mdb". The message is lib/shard.c's,
# so sg-train and sg-sample give it too.
@test "a shard's data.mdb, or a run directory, given as the shard: the message says what to give (every tool)" {
  run celeb-dump "$D/s.lmdb/data.mdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: $D/s.lmdb/data.mdb: not a stargan shard (that is a shard's own file: give its directory, $D/s.lmdb)" ]
  run celeb-dump "$D/s.lmdb//data.mdb"
  [ "$output" = "celeb-dump: $D/s.lmdb//data.mdb: not a stargan shard (that is a shard's own file: give its directory, $D/s.lmdb)" ]
  run sg-train -q -o "$T/r" --iters 1 "$D/s.lmdb/data.mdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $D/s.lmdb/data.mdb: not a stargan shard (that is a shard's own file: give its directory, $D/s.lmdb)" ]
  # another file is not a directory, as before
  echo x > "$T/notes.mdb"
  run celeb-dump "$T/notes.mdb"
  [ "$output" = "celeb-dump: $T/notes.mdb: not a stargan shard (not a directory)" ]
  # a run directory: config.json beside ckpt/ or history.jsonl
  mkdir -p "$T/run/ckpt"; echo '{}' > "$T/run/config.json"
  run celeb-dump "$T/run"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: $T/run: not a stargan shard (no data.mdb): that is a run directory of sg-train; give one of the shards its config.json lists" ]
  rmdir "$T/run/ckpt"; : > "$T/run/history.jsonl"
  run celeb-dump --stats "$T/run"
  [ "$output" = "celeb-dump: $T/run: not a stargan shard (no data.mdb): that is a run directory of sg-train; give one of the shards its config.json lists" ]
  # config.json alone is no run
  rm "$T/run/history.jsonl"
  run celeb-dump "$T/run"
  [ "$output" = "celeb-dump: $T/run: not a stargan shard (no data.mdb)" ]
}

@test "not a shard, missing path, newer format version: one line, exit 1; nothing written" {
  mkdir "$T/notashard"
  run celeb-dump "$T/notashard"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: $T/notashard: not a stargan shard (no data.mdb)" ]
  [ -z "$(ls -A "$T/notashard")" ]
  run celeb-dump "$T/missing.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == *"missing.lmdb: No such file or directory" ]]
  echo x > "$T/file"
  run celeb-dump --verify "$T/file"
  [ "$status" -eq 1 ]
  command -v mdb_dump >/dev/null && command -v mdb_load >/dev/null || skip "no lmdb-utils"
  mkdir "$T/new.lmdb"
  # Hex dump format: '"version":1,' is 2276657273696f6e223a312c.
  mdb_dump "$D/s.lmdb" | sed 's/2276657273696f6e223a312c/2276657273696f6e223a322c/' | mdb_load -f /dev/stdin "$T/new.lmdb" 2>/dev/null
  run celeb-dump "$T/new.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: $T/new.lmdb: shard format version 2 is newer than this tool supports (1): read it with a newer stargan-c, or pack it again with this one" ]
}

@test "the shard is opened read-only: no lock file is created next to the data" {
  cp -r "$D/s.lmdb" "$T/ro.lmdb"
  rm -f "$T/ro.lmdb/lock.mdb"
  chmod a-w "$T/ro.lmdb"
  celeb-dump --verify "$T/ro.lmdb"
  [ ! -e "$T/ro.lmdb/lock.mdb" ]
  chmod u+w "$T/ro.lmdb"
}

@test "-o inside the shard (data.mdb, lock.mdb, a new name, a link to it) is refused; the shard is untouched" {
  cp -r "$D/s.lmdb" "$T/x.lmdb"
  sum=$(cksum < "$T/x.lmdb/data.mdb")
  listing=$(ls -A "$T/x.lmdb")
  ln -s "$T/x.lmdb/data.mdb" "$T/link.png"
  for out in "$T/x.lmdb/data.mdb" "$T/x.lmdb/lock.mdb" "$T/x.lmdb/new.png" "$T/x.lmdb/./data.mdb" "$T/link.png"; do
    for mode in "--get 0" "--grid 2x2"; do
      run celeb-dump $mode -o "$out" "$T/x.lmdb"
      echo "$mode -o $out: $output"
      [ "$status" -eq 1 ]
      [ "$output" = "celeb-dump: $out: the output lies inside the shard $T/x.lmdb; write it outside the shard" ]
    done
  done
  # relative names, from inside the shard's directory
  cd "$T/x.lmdb"
  run celeb-dump --get 0 -o data.mdb .
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: data.mdb: the output lies inside the shard .; write it outside the shard" ]
  cd "$T"
  [ "$(cksum < "$T/x.lmdb/data.mdb")" = "$sum" ]
  [ "$(ls -A "$T/x.lmdb")" = "$listing" ]
  celeb-dump --verify "$T/x.lmdb"
  # beside the shard is fine
  celeb-dump --get 0 -o "$T/x.png" "$T/x.lmdb"
  is_png "$T/x.png"
}

@test "usage errors exit 2; --help exit 0" {
  run celeb-dump --stats --list "$D/s.lmdb"
  [ "$status" -eq 2 ]
  run celeb-dump --stats -o x.png "$D/s.lmdb"
  [ "$status" -eq 2 ]
  # an option of another mode is refused as --json --verify is, not ignored
  for args in "--names|--names is for --list" "--stats --names|--names is for --list" \
              "--get 0 -o $T/g.png --names|--names is for --list" "--seed 3|--seed is for --grid" \
              "--list --seed 3|--seed is for --grid" "--get 0 -o $T/g.png --seed 3|--seed is for --grid" \
              "--scale 2|--scale is for --get and --grid" "--list --scale 2|--scale is for --get and --grid"; do
    IFS='|' read -r opts msg <<< "$args"
    run celeb-dump $opts "$D/s.lmdb"
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "celeb-dump: $msg" ]
    [ "${lines[1]}" = "Try 'celeb-dump --help'." ]
  done
  [ ! -e "$T/g.png" ]
  # with their mode: taken
  celeb-dump --list --names "$D/s.lmdb" > /dev/null
  celeb-dump --grid 1x1 --seed 3 --scale 2 -o "$T/g.png" "$D/s.lmdb"
  celeb-dump --get 0 --scale 2 -o "$T/g.png" "$D/s.lmdb"
  run celeb-dump
  [ "$status" -eq 2 ]
  run celeb-dump --help
  [ "$status" -eq 0 ]
  [[ "$output" == Usage:* ]]
}

@test "robustness: a truncated data.mdb is an error, not SIGBUS" {
  mkdir "$T/trunc.lmdb"
  head -c 20000 "$D/s.lmdb/data.mdb" > "$T/trunc.lmdb/data.mdb"
  for mode in "" --list --verify; do
    run celeb-dump $mode "$T/trunc.lmdb"
    [ "$status" -eq 1 ]
    [[ "$output" == "celeb-dump: $T/trunc.lmdb: data.mdb is truncated"* ]]
    [ "${#lines[@]}" -eq 1 ]
  done
  : > "$T/trunc.lmdb/data.mdb"
  run celeb-dump "$T/trunc.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: $T/trunc.lmdb: not a stargan shard (data.mdb is empty)" ]
}

@test "robustness: -o into a directory, a FIFO, a full device" {
  mkdir "$T/outdir"
  run celeb-dump --get 0 -o "$T/outdir" "$D/s.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == *"$T/outdir: is a directory"* ]]
  [ -d "$T/outdir" ]
  # A FIFO is written through, not replaced by a regular file.
  mkfifo "$T/fifo"
  timeout 10 cat "$T/fifo" > "$T/from_fifo.png" &
  run celeb-dump --get 0 -o "$T/fifo" "$D/s.lmdb"
  wait
  [ "$status" -eq 0 ]
  [ -p "$T/fifo" ]
  [ "$(png_size "$T/from_fifo.png")" = 32x32 ]
  # a device's ENOSPC gets no advice about a full file system: there is none
  run bash -c "celeb-dump --get 0 -o - '$D/s.lmdb' > /dev/full"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: <stdout>: No space left on device" ]
  run celeb-dump --get 0 --scale 2 -o /dev/full "$D/s.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: /dev/full: write: No space left on device" ]
  run bash -c "celeb-dump --list '$D/s.lmdb' > /dev/full"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: <stdout>: No space left on device" ]
  # standard output closed: an error by descriptor and by name alike, no image lost silently
  run bash -c "celeb-dump --get 0 -o - '$D/s.lmdb' >&-"
  [ "$status" -eq 1 ]
  run bash -c "celeb-dump --get 0 -o /dev/stdout '$D/s.lmdb' >&-"
  [ "$status" -eq 1 ]
  [ "$(celeb-dump --verify "$D/s.lmdb")" = "12 records OK" ]
}

@test "human-readable output escapes the shard's names; --json keeps them exact" {
  mkdir "$T/img"
  cp "$D/syn/img_align_celeba/000001.jpg" "$T/img/"$'a\e]0;pwned\ab.jpg'
  cp "$D/syn/img_align_celeba/000002.jpg" "$T/img/"$'c\e[2Jd\xff.jpg'
  printf '2\nRed\033[31mX caf\303\251\302\233 back\\slash\na\033]0;pwned\007b.jpg 1 -1 1\nc\033[2Jd\377.jpg -1 1 -1\n' \
    > "$T/attrs.txt"
  celeb-pack --attrs "$T/attrs.txt" --images "$T/img" -S 8 -j 1 -q -o "$T/e.lmdb"
  # names with characters other than letters, digits, _-.+:@%/=^~ and non-ASCII bytes quoted
  labels=\''Red\x1b[31mX'\'' caf\xc3\xa9\xc2\x9b '\''back\\slash'\'
  export LC_ALL=C
  run celeb-dump "$T/e.lmdb"
  [ "$status" -eq 0 ]
  [ "${lines[4]}" = "labels          3, multi-hot: $labels" ]
  only_printable "$output"
  run celeb-dump --stats "$T/e.lmdb"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = 'Red\x1b[31mX                 1          1    50.00' ]
  [ "${lines[2]}" = 'caf\xc3\xa9\xc2\x9b          1          1    50.00' ]
  only_printable "$output"
  run celeb-dump --list "$T/e.lmdb"
  [ "${lines[0]}" = $'0\ta\\x1b]0;pwned\\x07b.jpg\t101' ]
  [ "${lines[1]}" = $'1\tc\\x1b[2Jd\\xff.jpg\t010' ]
  only_printable "$(printf '%s' "$output" | tr '\t' ' ')"
  run celeb-dump --list --names "$T/e.lmdb"
  [ "${lines[0]}" = $'0\ta\\x1b]0;pwned\\x07b.jpg\t\'Red\\x1b[31mX\',\'back\\\\slash\'' ]
  only_printable "$(printf '%s' "$output" | tr '\t' ' ')"
  # In a UTF-8 locale printable UTF-8 stays; the C1 control U+009B does not.
  LC_ALL=C.UTF-8 run celeb-dump --list --names "$T/e.lmdb"
  [ "${lines[1]}" = $'1\tc\\x1b[2Jd\\xff.jpg\tcaf\xc3\xa9\\xc2\\x9b' ]
  # JSON carries the exact text.
  run celeb-dump --list --json "$T/e.lmdb"
  [[ "${lines[0]}" == '{"index": 0, "name": "a\u001b]0;pwned\u0007b.jpg", '* ]]
  run celeb-dump --json "$T/e.lmdb"
  [[ "$output" == *'"labels": ["Red\u001b[31mX", "caf'$'\xc3\xa9\xc2\x9b''", "back\\slash"]'* ]]
  # A tab or newline in a name (a class folder's) no longer breaks the columns.
  mkdir -p "$T/f/"$'t\tn\nx' "$T/f/z"   # (celeb-pack refuses one class folder)
  cp "$D/syn/img_align_celeba/000001.jpg" "$T/f/"$'t\tn\nx/'$'p\tq.jpg'
  cp "$D/syn/img_align_celeba/000002.jpg" "$T/f/z/"
  celeb-pack --folders "$T/f" -S 8 -j 1 -q -o "$T/f.lmdb"
  run celeb-dump --list --names "$T/f.lmdb"
  [ "${lines[0]}" = $'0\tt\\tn\\nx/p\\tq.jpg\t\'t\\tn\\nx\'' ]
  [ "${lines[1]}" = $'1\tz/000002.jpg\tz' ]
  [ "${#lines[@]}" -eq 2 ]
}

# Label lists are space separated (comma separated with --list --names): a
# class called "sad face" read as two ("labels 4, one-hot: angry happy neutral
# sad face"), and the grid's footer as well; one-hot tiles were titled with
# their bits ("0001") instead of the class.
@test "names with a space or a quote are quoted in label lists; one-hot grid tiles are titled with the class" {
  for c in angry "it's" "sad face"; do
    mkdir -p "$T/f/$c"
    cp "$D/syn/img_align_celeba/000001.jpg" "$T/f/$c/a.jpg"
  done
  celeb-pack --folders "$T/f" -S 8 -j 1 -q -o "$T/q.lmdb"
  run celeb-dump "$T/q.lmdb"
  [ "$status" -eq 0 ]
  [ "${lines[4]}" = "labels          3, one-hot: angry 'it'\''s' 'sad face'" ]
  run celeb-dump --list --names "$T/q.lmdb"
  [ "${lines[1]}" = $'1\tit\'s/a.jpg\t\'it\'\\\'\'s\'' ]
  [ "${lines[2]}" = $'2\tsad face/a.jpg\t\'sad face\'' ]
  # the footer: classes "x y" and "z" read as "x", "y z" before
  for set in "x y:z" "x:y z"; do
    d="$T/fs_${set// /_}"
    mkdir -p "$d/${set%%:*}" "$d/${set#*:}"
    cp "$D/syn/img_align_celeba/000001.jpg" "$d/${set%%:*}/a.jpg"
    cp "$D/syn/img_align_celeba/000002.jpg" "$d/${set#*:}/b.jpg"
    celeb-pack --folders "$d" -S 8 -j 1 -q -o "$d.lmdb"
    celeb-dump --grid 1x1 --scale 24 -o "$d.png" "$d.lmdb"   # wide: the footer on one line
  done
  /usr/bin/python3 -c 'import PIL' 2>/dev/null || skip "no PIL for the pixel checks"
  # footers (the last 24 rows) differ; they were the same ("bits: x y z")
  run /usr/bin/python3 -c '
import sys; from PIL import Image
a, b = (Image.open(p).convert("RGB") for p in sys.argv[1:3])
assert a.size == b.size, (a.size, b.size)
w, h = a.size
box = (0, h - 24, w, h)
print("same" if a.crop(box).tobytes() == b.crop(box).tobytes() else "differ")' "$T/fs_x_y:z.png" "$T/fs_x:y_z.png"
  [ "$output" = differ ]
  # a one-hot tile's title is its class: class "0100" (bits 1000) titled as a
  # multi-hot record whose bits are 0100
  mkdir -p "$T/oh/0100" "$T/oh/x" "$T/oh/y" "$T/oh/z" "$T/mh"
  cp "$D/syn/img_align_celeba/000001.jpg" "$T/oh/0100/000001.jpg"
  cp "$D/syn/img_align_celeba/000001.jpg" "$T/mh/000001.jpg"
  celeb-pack --folders "$T/oh" -S 8 -j 1 -q -o "$T/oh.lmdb" 2>/dev/null
  printf '1\nA B C D\n000001.jpg -1 1 -1 -1\n' > "$T/mh.txt"
  celeb-pack --attrs "$T/mh.txt" --images "$T/mh" -S 8 -j 1 -q -o "$T/mh.lmdb"
  celeb-dump --grid 1x1 -o "$T/oh.png" "$T/oh.lmdb"
  celeb-dump --grid 1x1 -o "$T/mh.png" "$T/mh.lmdb"
  # the title's first line: rows 6..16 (gap 6, one 11-pixel line at scale 1)
  run /usr/bin/python3 -c '
import sys; from PIL import Image
a, b = (Image.open(p).convert("RGB") for p in sys.argv[1:3])
assert a.size[0] == b.size[0], (a.size, b.size)
box = (0, 6, a.size[0], 17)
ink = sum(1 for px in a.crop(box).getdata() if px != (255, 255, 255))
print("same" if a.crop(box).tobytes() == b.crop(box).tobytes() else "differ", ink > 0)' "$T/oh.png" "$T/mh.png"
  [ "$output" = "same True" ]
}

@test "robustness: --get/--grid -o - refuse a terminal as standard output" {
  command -v script >/dev/null || skip "no script(1) for a terminal"
  for mode in "--get 0" "--grid 1x1"; do
    run script -qec "celeb-dump $mode -o - '$D/s.lmdb'" /dev/null
    [ "$status" -eq 1 ]
    [[ "$output" == "celeb-dump: refusing to write an image to a terminal; use -o FILE or a redirection"* ]]
  done
  # a pipe is fine
  celeb-dump --get 0 -o - "$D/s.lmdb" | cat > "$T/p.png"
  [ "$(png_size "$T/p.png")" = 32x32 ]
}

@test "--get: a killed run's temporary output is removed by the next run (SIGKILL left it for good)" {
  dead=$(sh -c 'echo $$')
  : > "$T/r.png.tmp.$dead"
  touch -d '1 hour ago' "$T/r.png.tmp.$dead"
  celeb-dump --get 0 -o "$T/r.png" "$D/s.lmdb"
  [ ! -e "$T/r.png.tmp.$dead" ]
  [ -s "$T/r.png" ]
}

@test "--verify and --stats progress lines end on N/N (the last one shown stayed: 'verified 197120/200600')" {
  run script -qec "celeb-dump --verify '$D/s.lmdb'" /dev/null
  [ "$status" -eq 0 ]
  last=$(printf '%s' "$output" | tr '\r' '\n' | grep -a 'verified' | tail -n 1)
  [[ "$last" == *"verified 12/12 records"* ]] || { echo "last: $last"; false; }
  run script -qec "celeb-dump --stats '$D/s.lmdb'" /dev/null
  last=$(printf '%s' "$output" | tr '\r' '\n' | grep -a '/12 records' | tail -n 1)
  [[ "$last" == *": 12/12 records"* ]] || { echo "last: $last"; false; }
}

@test "a progress line fits the terminal's width (a wrapped one leaves a row behind at each redraw); a wide one is whole" {
  # the line, as it is at full width: "celeb-dump: $D/s.lmdb: verified 12/12 records"
  full="celeb-dump: $D/s.lmdb: verified 12/12 records"
  for cols in 20 45; do
    run script -qec "stty cols $cols; celeb-dump --verify '$D/s.lmdb'" /dev/null
    [ "$status" -eq 0 ]
    shown=0
    while IFS= read -r seg; do
      seg=${seg#$'\e[K'}
      [[ "$seg" == celeb-dump:* ]] || continue
      shown=$((shown + 1))
      [ "${#seg}" -le $((cols - 1)) ] || { echo "at $cols columns: ${#seg}: $seg"; false; }
      [[ "$full" == "$seg"* ]] || { echo "not a start of the line: $seg"; false; }   # $D is longer than 45
    done < <(printf '%s' "$output" | tr '\r' '\n')
    [ "$shown" -ge 1 ]
  done
  run script -qec "stty cols 300; celeb-dump --verify '$D/s.lmdb'" /dev/null
  [[ "$(printf '%s' "$output" | tr '\r' '\n' | grep -a verified | tail -n 1)" == *"$full" ]]
}

@test "a dumb terminal (TERM=dumb or unset: Emacs' shell buffer) gets no escape sequence in the progress line, others get ESC [K" {
  command -v script >/dev/null || skip "no script(1) for a terminal"
  for term in "TERM=dumb" "-u TERM" "TERM="; do
    run script -qec "env $term celeb-dump --verify '$D/s.lmdb'" /dev/null
    [ "$status" -eq 0 ]
    [[ "$output" == *$'\r'"celeb-dump: $D/s.lmdb: verified 12/12 records"* ]] || { echo "$term: $output"; false; }
    [[ "$output" != *$'\e'* ]] || { echo "$term: $output" | od -c | head; false; }
  done
  run script -qec "env TERM=xterm celeb-dump --verify '$D/s.lmdb'" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *$'\r\e[K'"celeb-dump: $D/s.lmdb: verified 12/12 records"* ]]
}

@test "a shard another user may not read says Permission denied, not 'not a stargan shard'" {
  [ "$(id -u)" = 0 ] || skip "needs root to act as another user"
  command -v setpriv >/dev/null || skip "no setpriv"
  local top
  top=$(mktemp -d /tmp/celeb-dump-perm.XXXXXX)
  chmod 755 "$top"
  cp -r "$D/s.lmdb" "$top/s.lmdb"
  chmod 700 "$top/s.lmdb"
  run setpriv --reuid=65534 --regid=65534 --clear-groups "$(command -v celeb-dump)" "$top/s.lmdb"
  rm -rf "$top"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: $top/s.lmdb/data.mdb: Permission denied" ] || { echo "$output"; false; }
}

@test "stdout's reader gone (celeb-dump --list | head): ended by SIGPIPE, silently, as any filter; a closed stderr changes nothing" {
  stdout_gone celeb-dump --list "$D/s.lmdb"
  [ "$status" -eq 141 ]
  [ -z "$output" ]
  stderr_gone celeb-dump --list "$D/s.lmdb"
  [ "$status" -eq 0 ]
}
