#!/usr/bin/env bats
# Atomic writes are durable: the temporary file is fsync'ed before it is
# renamed over the output, and the directory is fsync'ed after the rename
# (lib/fileio.c sg_write_file_atomic, lib/safetensors.c's writer). Without the
# first fsync a power loss can leave an empty file under the final name;
# without the second the rename itself can be lost. Seen with strace -y.
load helpers

setup() {
  need_strace
  T="$BATS_TEST_TMPDIR"
  TP=$(cd "$T" && pwd -P)   # strace -y shows the physical path
}

# Runs the command under strace, recording fsync and rename calls in $T/trace.
traced() {
  strace -f -qq -y -o "$T/trace" -e trace=fsync,rename,renameat,renameat2 "$@"
}

# check_durable TRACE PATH: PATH (absolute, physical) was written as
# PATH.tmp.PID.N, that file fsync'ed, renamed to PATH, then PATH's directory
# fsync'ed, in this order. Prints the three trace line numbers; on failure
# prints what it found and the trace, and returns 1.
check_durable() {
  awk -v path="$2" '
    BEGIN { dir = path; sub(/\/[^\/]*$/, "", dir); base = path; sub(/^.*\//, "", base) }
    {
      line = $0
      sub(/^[0-9]+ +/, "", line)                 # strace -f: the thread id
      if (line ~ /^fsync\([0-9]+</) {
        p = substr(line, index(line, "<") + 1)
        p = substr(p, 1, index(p, ">") - 1)       # the file the descriptor names
        if (!ren && !synced && index(p, path ".tmp.") == 1 && p ~ /\.tmp\.[0-9]+\.[0-9]+$/) { synced = NR; tmp = p }
        if (ren && !dirsynced && p == dir) dirsynced = NR
      } else if (line ~ /^rename(at|at2)?\(/ && !ren) {
        n = split(line, q, "\"")
        if (n < 5) next
        src = q[2]; dst = q[4]
        sb = src; sub(/^.*\//, "", sb)
        db = dst; sub(/^.*\//, "", db)
        if (db == base && sb ~ /\.tmp\.[0-9]+\.[0-9]+$/ && index(sb, base ".tmp.") == 1) {
          ren = NR
          renamed = sb
        }
      }
    }
    END {
      t = tmp; sub(/^.*\//, "", t)
      if (synced && ren && dirsynced && synced < ren && ren < dirsynced && t == renamed) {
        print synced, ren, dirsynced
        exit 0
      }
      printf "%s: fsync of the temporary file at trace line %d (%s), rename at %d (%s), fsync of %s after it at %d\n",
             path, synced, tmp, ren, renamed, dir, dirsynced
      exit 1
    }' "$1" || { echo "--- trace:"; cat "$1"; return 1; }
}

@test "sg-plot: the PNG's temporary file is fsync'ed, renamed, then its directory fsync'ed" {
  command -v sg-plot >/dev/null || skip "sg-plot not built"
  printf '{"shard": "x", "count": 12, "label_kind": "multi-hot", "labels": [{"name": "A", "positive": 3, "negative": 9}, {"name": "B", "positive": 5, "negative": 7}]}\n' > "$T/stats.json"
  cd "$T"
  traced sg-plot --bars stats.json -o out.png
  png_size "$T/out.png"
  check_durable "$T/trace" "$TP/out.png"
  # into another directory, given by an absolute path: that directory is the one fsync'ed
  mkdir "$T/sub"
  traced sg-plot --bars stats.json -o "$TP/sub/bars.png"
  png_size "$T/sub/bars.png"
  check_durable "$T/trace" "$TP/sub/bars.png"
  # nothing but the outputs is left
  [ "$(ls "$T/sub")" = bars.png ]
}

@test "sg-train: config.json, history.jsonl, the checkpoint's files and latest are each fsync'ed, renamed, and their directory fsync'ed; latest comes last" {
  command -v sg-train >/dev/null && command -v celeb-synth >/dev/null && command -v celeb-pack >/dev/null ||
    skip "sg-train/celeb-synth/celeb-pack not built"
  celeb-synth -q -n 8 -o "$T/syn"
  celeb-pack -q -a "$T/syn/list_attr_celeba.txt" -i "$T/syn/img_align_celeba" -s Black_Hair,Male -S 16 -o "$T/a.lmdb"
  traced sg-train -o "$TP/r" --iters 1 --sample-every 0 --batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 \
    --threads 1 --device cpu -q "$T/a.lmdb"
  [ "$(cat "$T/r/latest")" = 000001 ]
  check_durable "$T/trace" "$TP/r/config.json"
  check_durable "$T/trace" "$TP/r/history.jsonl"
  local last=0 f out s r d
  for f in G D state; do
    out=$(check_durable "$T/trace" "$TP/r/ckpt/000001-$f.safetensors") || { echo "$out"; false; }
    read -r s r d <<< "$out"
    [ "$s" -gt "$last" ] || { echo "$f fsync'ed at trace line $s, before the file before it was durable ($last)"; false; }
    last=$d
  done
  out=$(check_durable "$T/trace" "$TP/r/latest") || { echo "$out"; false; }
  read -r s r d <<< "$out"
  # latest names a checkpoint only once all of its files are durable
  [ "$r" -gt "$last" ] || { echo "latest renamed at trace line $r, before the checkpoint was durable (line $last)"; false; }
}

# check_shard_durable TRACE PATH: the shard directory PATH (absolute,
# physical) was written as PATH.tmp-PID.N, whose data.mdb was fsync'ed or
# fdatasync'ed (the environment is opened MDB_NOSYNC: this is its only flush)
# and then the directory itself, renamed to PATH, then PATH's parent
# fsync'ed, in this order.
check_shard_durable() {
  awk -v path="$2" '
    BEGIN { dir = path; sub(/\/[^\/]*$/, "", dir) }
    {
      line = $0
      sub(/^[0-9]+ +/, "", line)
      if (line ~ /^f(data)?sync\([0-9]+</) {
        p = substr(line, index(line, "<") + 1)
        p = substr(p, 1, index(p, ">") - 1)
        if (!ren && index(p, path ".tmp-") == 1 && p ~ /\.tmp-[0-9]+\.[0-9]+\/data\.mdb$/) { data = NR; tmp = p; sub(/\/data\.mdb$/, "", tmp) }
        if (!ren && data && p == tmp) tmpsynced = NR
        if (ren && !dirsynced && p == dir) dirsynced = NR
      } else if (line ~ /^rename(at|at2)?\(/ && !ren) {
        n = split(line, q, "\"")
        if (n >= 5 && q[4] == path && q[2] ~ /\.tmp-[0-9]+\.[0-9]+$/) { ren = NR; renamed = q[2] }
      }
    }
    END {
      if (data && tmpsynced && ren && dirsynced && data < tmpsynced && tmpsynced < ren && ren < dirsynced && tmp == renamed)
        exit 0
      printf "%s: sync of data.mdb at trace line %d (%s), of its directory at %d, rename at %d (%s), fsync of %s after it at %d\n",
             path, data, tmp, tmpsynced, ren, renamed, dir, dirsynced
      exit 1
    }' "$1" || { echo "--- trace:"; cat "$1"; return 1; }
}

@test "celeb-pack: the shard's data.mdb is flushed, its temporary directory fsync'ed, renamed, then the parent fsync'ed (new and --force)" {
  command -v celeb-synth >/dev/null && command -v celeb-pack >/dev/null || skip "celeb-synth/celeb-pack not built"
  celeb-synth -q -n 8 -o "$T/syn"
  local args=(-q -a "$T/syn/list_attr_celeba.txt" -i "$T/syn/img_align_celeba" -s Black_Hair,Male -S 16 -o "$TP/a.lmdb")
  strace -f -qq -y -o "$T/trace" -e trace=fsync,fdatasync,rename,renameat,renameat2 celeb-pack "${args[@]}"
  [ -s "$T/a.lmdb/data.mdb" ]
  check_shard_durable "$T/trace" "$TP/a.lmdb"
  # replacing a shard: the same order
  strace -f -qq -y -o "$T/trace" -e trace=fsync,fdatasync,rename,renameat,renameat2 celeb-pack --force "${args[@]}"
  check_shard_durable "$T/trace" "$TP/a.lmdb"
  [ "$(ls "$T")" = "$(printf 'a.lmdb\nsyn\ntrace')" ]
}

@test "a failed fsync of the directory after the rename: every tool names the output, says it was written, and exits 0" {
  command -v celeb-synth >/dev/null && command -v celeb-pack >/dev/null && command -v sg-train >/dev/null ||
    skip "tools not built"
  celeb-synth -q -n 8 -o "$T/syn"
  celeb-pack -q -a "$T/syn/list_attr_celeba.txt" -i "$T/syn/img_align_celeba" -s Black_Hair,Male -S 16 -o "$T/a.lmdb"
  sg-train -q -o "$T/r" --iters 1 --log-every 1 --sample-every 0 --batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 \
    --threads 1 --device cpu "$T/a.lmdb"
  mkdir "$T/o"
  cd "$T"
  # EIO from every fsync of the directory o (strace -P matches the descriptor's path), none other
  unsynced() {
    run strace -f -qq -o /dev/null -P "$TP/o" -e trace=fsync -e inject=fsync:error=EIO "$@"
  }
  written() { echo "$1 written, but syncing its directory failed (o: fsync: Input/output error): a crash soon may lose it"; }
  unsynced sg-plot -q -o o/plot.png r/history.jsonl
  [ "$status" -eq 0 ]
  [ "$output" = "sg-plot: $(written o/plot.png)" ]
  png_size o/plot.png
  unsynced celeb-dump --grid 2x2 -o o/grid.png a.lmdb
  [ "$status" -eq 0 ]
  [ "$output" = "celeb-dump: $(written o/grid.png)" ]
  unsynced sg-sample -q --ckpt r --device cpu --threads 1 -o o/sample.png syn/img_align_celeba/000001.jpg
  [ "$status" -eq 0 ]
  [ "$output" = "sg-sample: $(written o/sample.png)" ]
  unsynced celeb-pack -q -a syn/list_attr_celeba.txt -i syn/img_align_celeba -s Black_Hair,Male -S 16 -o o/b.lmdb
  [ "$status" -eq 0 ]
  [ "$output" = "celeb-pack: $(written o/b.lmdb)" ]
  mkdir o/s
  run strace -f -qq -o /dev/null -P "$TP/o/s" -e trace=fsync -e inject=fsync:error=EIO celeb-synth -q -n 2 -o o/s
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "celeb-synth: o/s/list_eval_partition.txt written, but syncing its directory failed (o/s: fsync: Input/output error): a crash soon may lose it" ]
  [ "${lines[1]}" = "celeb-synth: o/s/list_attr_celeba.txt written, but syncing its directory failed (o/s: fsync: Input/output error): a crash soon may lose it" ]
  [ "${#lines[@]}" -eq 2 ]
  # celeb-split's lists, and sg-train's checkpoint files (each renamed into ckpt/, then synced)
  mkdir o/l
  run strace -f -qq -o /dev/null -P "$TP/o/l" -e trace=fsync -e inject=fsync:error=EIO \
    bash -c 'exec celeb-split -q -g all=Male -r all -s reference --test-count 2 -o o/l syn/list_attr_celeba.txt > /dev/null'
  [ "$status" -eq 0 ]
  [ "$output" = "celeb-split: the lists in o/l written, but syncing its directory failed (o/l: fsync: Input/output error): a crash soon may lose it" ]
  [ -s o/l/attr_all_train.txt ]
  run strace -f -qq -o /dev/null -P "$TP/r/ckpt" -e trace=fsync -e inject=fsync:error=EIO \
    sg-train -q -o r --resume --iters 2 --keep 1
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "sg-train: r/ckpt/000002-G.safetensors written, but syncing its directory failed (r/ckpt: fsync: Input/output error): a crash soon may lose it" ]
  [ "$(cat r/latest)" = 000002 ]
  # --keep 1 does not prune the checkpoint before it: the new one may not survive a crash
  [ -e r/ckpt/000001-state.safetensors ]
  rm -r o/l
  # every output is there, and nothing else
  [ "$(ls o | tr '\n' ' ')" = "b.lmdb grid.png plot.png s sample.png " ]
  [ "$(ls o/s | tr '\n' ' ')" = "img_align_celeba list_attr_celeba.txt list_eval_partition.txt " ]
}
