# Shared helpers of the bats files (load helpers).

# Prints "WIDTHxHEIGHT" of a PNG after checking its signature.
png_size() {
  [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || { echo "not a PNG: $1"; return 1; }
  local w h
  w=$(od -An -tu1 -j16 -N4 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
  h=$(od -An -tu1 -j20 -N4 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
  echo "${w}x${h}"
}
is_png() { [ "$(od -An -N4 -tx1 "$1" | tr -d ' ')" = 89504e47 ]; }
is_jpeg() { [ "$(od -An -N2 -tx1 "$1" | tr -d ' ')" = ffd8 ]; }

# Fails, showing the bytes, when $1 (a tool's messages) holds a byte outside
# printable ASCII other than the newlines between lines: bytes of the input
# must reach the terminal escaped (lib/error.h sg_quote_bytes).
only_printable() {
  if printf '%s' "$1" | tr -d '\n' | LC_ALL=C grep -q '[^ -~]'; then
    printf 'unescaped bytes in: %s\n' "$1" | od -c | head -20
    return 1
  fi
}

# Flips a byte inside record INDEX's PNG data in SHARD and writes the record's
# CRC anew: the record reads back, its image does not decode.
damage_png_record() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, lmdb, struct, zlib
env = lmdb.open(sys.argv[1])
with env.begin(write=True) as txn:
    k = struct.pack(">Q", int(sys.argv[2]))
    v = txn.get(k)
    nl, nn = struct.unpack("<HH", v[4:8])
    body = bytearray(v[:-4])
    body[16 + nl + nn + 40] ^= 0xFF
    txn.put(k, bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)) & 0xFFFFFFFF))
PY
}

# Sets the first label of record INDEX in SHARD to 2 and writes the record's
# CRC anew: the record reads back, its labels do not.
damage_label_record() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, lmdb, struct, zlib
env = lmdb.open(sys.argv[1])
with env.begin(write=True) as txn:
    k = struct.pack(">Q", int(sys.argv[2]))
    body = bytearray(txn.get(k)[:-4])
    body[16] = 2
    txn.put(k, bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)) & 0xFFFFFFFF))
PY
}

# Runs the command with SIGNAL delivered at its Nth fsync (strace's fault
# injection), the moment a temporary file is complete but not yet renamed;
# skips the test where strace cannot trace (no strace, no ptrace).
# Skips the test where strace cannot inject faults (no strace, no ptrace).
need_strace() {
  command -v strace >/dev/null || skip "no strace"
  strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here"
}

run_signalled_at_fsync() {
  local sig=$1 nth=$2; shift 2
  need_strace
  # the signal at its default even under nohup (an ignored one stays ignored)
  run env --default-signal="$sig" strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:signal="$sig":when="$nth" "$@"
}

# Runs COMMAND... under perl and prints, as a last line after its output,
# how it ended: "signal N" where it died of signal N, else "exit N" (a
# shell's $? is 128 + N either way; a script's shell stops on ^C only after a
# child that died of it). With --pid first, the command's pid comes first,
# as soon as it started, on a line of its own (for one run in the background).
ended_how() {
  local pid=0
  [ "$1" = --pid ] && { pid=1; shift; }
  perl -e '$| = 1; my $pid = shift; defined(my $p = fork) or die "fork: $!\n";
    if (!$p) { exec { $ARGV[0] } @ARGV; die "$ARGV[0]: $!\n" }
    print "$p\n" if $pid; waitpid $p, 0; print(($? & 127 ? "signal " . ($? & 127) : "exit " . ($? >> 8)), "\n")' \
    -- "$pid" "$@"
}

# Renames metadata key $2 of safetensors file $1 to one of the same length
# ("data_crc32" -> "data_crc3X"), as a damaged header would: the file then
# reads as one without that key.
rename_key() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import struct, sys
p, key = sys.argv[1], sys.argv[2].encode()
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = bytes(b[8:8 + n])
assert b'"' + key + b'"' in h
b[8:8 + n] = h.replace(b'"' + key + b'"', b'"' + key[:-1] + b'X"')
open(p, "wb").write(b)
PY
}

# make_tiny_run DIR: DIR/synth (12 celeb-synth images), DIR/s.lmdb (16 px,
# Bangs, Black_Hair, Blond_Hair) and DIR/run (a 4-iteration run of a tiny
# model: checkpoints and samples at 2 and 4).
make_tiny_run() {
  celeb-synth -q -n 12 --seed 1 -o "$1/synth"
  celeb-pack -q --attrs "$1/synth/list_attr_celeba.txt" --images "$1/synth/img_align_celeba" \
    --select Bangs,Black_Hair,Blond_Hair --size 16 -o "$1/s.lmdb"
  sg-train -q -o "$1/run" --iters 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --batch 4 \
    --save-every 2 --log-every 1 --sample-every 2 --threads 1 "$1/s.lmdb"
}

# stderr_gone CMD...: runs CMD (as `run` does: $status, $output is empty) with
# its stderr a pipe whose reader has gone (`CMD 2>&1 | head` once head ended)
# and SIGPIPE at its default, whatever the caller ignores.
stderr_gone() {
  run perl -e '$SIG{PIPE} = "DEFAULT"; pipe(my $r, my $w) or die "pipe: $!"; close $r;
    open(STDERR, ">&", $w) or die "dup: $!"; close $w; exec @ARGV or exit 127' "$@"
}

# stdout_gone CMD...: as stderr_gone, for stdout (`CMD | head` once head ended).
stdout_gone() {
  run perl -e '$SIG{PIPE} = "DEFAULT"; pipe(my $r, my $w) or die "pipe: $!"; close $r;
    open(STDOUT, ">&", $w) or die "dup: $!"; close $w; exec @ARGV or exit 127' "$@"
}
