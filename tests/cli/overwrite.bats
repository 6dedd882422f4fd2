#!/usr/bin/env bats
# -o of sg-plot, sg-sample and celeb-dump never replaces what the tools made
# before: another shard's data, a training run's files (a slip of tab
# completion: -o runs/x/c<TAB>); celeb-pack, celeb-split and celeb-synth
# write nothing into a shard's directory or a run's ckpt/ either.

load helpers

setup_file() {
  T=$BATS_FILE_TMPDIR
  make_tiny_run "$T"
}

setup() {
  T=$BATS_FILE_TMPDIR
  W=$BATS_TEST_TMPDIR
  cp -r "$T/s.lmdb" "$W/s2.lmdb"
  cp -r "$T/run" "$W/run"
  (cd "$W" && find s2.lmdb run -type f -exec md5sum {} + | sort > "$W/before")
  cd "$W"
}

# Nothing of the copies in $W changed.
unchanged() {
  find s2.lmdb run -type f -exec md5sum {} + | sort | diff "$W/before" -
}

# The three tools' ways of writing FILE: each must be refused with MESSAGE.
refused_by_all() {
  local out=$1 msg=$2
  run sg-plot "$T/run/history.jsonl" -o "$out"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $out: $msg; choose another -o" ] || { echo "sg-plot: $output"; false; }
  run sg-sample --ckpt run --data "$T/s.lmdb" --count 2 -o "$out"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-sample: $out: $msg; choose another -o" ] || { echo "sg-sample: $output"; false; }
  for mode in "--grid 2x2" "--get 0"; do
    run celeb-dump $mode -o "$out" "$T/s.lmdb"
    [ "$status" -eq 1 ]
    [ "$output" = "celeb-dump: $out: $msg; choose another -o" ] || { echo "celeb-dump $mode: $output"; false; }
  done
  unchanged
}

@test "-o inside another shard (its data.mdb, or next to it) is refused by sg-plot, sg-sample and celeb-dump" {
  refused_by_all s2.lmdb/data.mdb "the output lies inside the shard $W/s2.lmdb"
  refused_by_all s2.lmdb/x.png "the output lies inside the shard $W/s2.lmdb"
  [ ! -e s2.lmdb/x.png ]
  refused_by_all s2.lmdb/new/x.png "the output lies inside the shard $W/s2.lmdb"
  # in a directory that exists below the shard's (celeb-pack --force would delete it with the shard)
  mkdir -p s2.lmdb/sub/deeper
  refused_by_all s2.lmdb/sub/x.png "the output lies inside the shard $W/s2.lmdb"
  refused_by_all s2.lmdb/sub/deeper/x.png "the output lies inside the shard $W/s2.lmdb"
  rm -r s2.lmdb/sub
  # also through a symbolic link, which the write would follow
  ln -s s2.lmdb/data.mdb link.png
  refused_by_all link.png "the output lies inside the shard $W/s2.lmdb"
  celeb-dump --verify s2.lmdb
}

@test "-o onto a training run's latest, config.json, history.jsonl, cudnn-engines.txt or into its ckpt/ is refused" {
  echo "engines" > run/cudnn-engines.txt
  (cd "$W" && find s2.lmdb run -type f -exec md5sum {} + | sort > "$W/before")
  for f in latest config.json history.jsonl cudnn-engines.txt; do
    refused_by_all run/$f "the output is the file $f of the training run $W/run"
  done
  refused_by_all run/ckpt/000004-D.safetensors "the output lies inside the checkpoints (ckpt/) of the training run $W/run"
  refused_by_all run/ckpt/new.png "the output lies inside the checkpoints (ckpt/) of the training run $W/run"
  mkdir run/ckpt/sub
  refused_by_all run/ckpt/sub/new.png "the output lies inside the checkpoints (ckpt/) of the training run $W/run"
  rmdir run/ckpt/sub
  # from inside the run directory, and through a link
  cd run
  run sg-plot history.jsonl -o latest
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: latest: the output is the file latest of the training run $W/run; choose another -o" ]
  cd ..
  ln -s run/config.json cj
  refused_by_all cj "the output is the file config.json of the training run $W/run"
  sg-train -q -o run --resume --iters 5 --threads 1
}

@test "sg-sample --each refuses a shard's directory (or one below it) and a run's ckpt/ (or a new one below it) as DIR" {
  for dir in s2.lmdb s2.lmdb/sub run/ckpt run/ckpt/new; do
    run sg-sample --ckpt run --data "$T/s.lmdb" --count 2 --each -o $dir
    [ "$status" -eq 1 ]
    what="the output lies inside the shard $W/s2.lmdb"
    [[ $dir != run/ckpt* ]] || what="the output lies inside the checkpoints (ckpt/) of the training run $W/run"
    [ "$output" = "sg-sample: $dir/targets.tsv: $what; choose another -o DIR" ] || { echo "$dir: $output"; false; }
  done
  [ ! -e s2.lmdb/sub ]
  [ ! -e run/ckpt/new ]
  unchanged
}

@test "celeb-pack, celeb-split and celeb-synth write nothing into a shard's directory or a run's ckpt/ (below them neither)" {
  # celeb-pack --force could no longer replace a shard holding anything else
  A=$T/synth/list_attr_celeba.txt
  for out in s2.lmdb/x.lmdb s2.lmdb/sub/x.lmdb run/ckpt/x.lmdb; do
    run celeb-pack -q --attrs "$A" --images "$T/synth/img_align_celeba" --size 16 -o $out
    [ "$status" -eq 1 ]
    what="the output lies inside the shard $W/s2.lmdb"
    [[ $out != run/ckpt* ]] || what="the output lies inside the checkpoints (ckpt/) of the training run $W/run"
    [ "$output" = "celeb-pack: $out: $what; choose another -o" ] || { echo "$out: $output"; false; }
  done
  for dir in s2.lmdb s2.lmdb/sub run/ckpt run/ckpt/sub; do
    what="the output lies inside the shard $W/s2.lmdb"
    [[ $dir != run/ckpt* ]] || what="the output lies inside the checkpoints (ckpt/) of the training run $W/run"
    run celeb-split -q --group a=Bangs -o $dir "$A"
    [ "$status" -eq 1 ]
    [ "$output" = "celeb-split: $dir/attr_a.txt: $what; choose another -o DIR" ] || { echo "$dir: $output"; false; }
    run celeb-synth -q -n 2 --force -o $dir
    [ "$status" -eq 1 ]
    [ "$output" = "celeb-synth: $dir/list_attr_celeba.txt: $what; choose another -o DIR" ] || { echo "$dir: $output"; false; }
  done
  [ ! -e s2.lmdb/sub ]
  [ ! -e run/ckpt/sub ]
  [ "$(ls s2.lmdb)" = data.mdb ]
  unchanged
  # the run's own directory and a new shard beside the others stay writable; --force replaces a shard
  celeb-split -q --group a=Bangs -o run "$A" >/dev/null
  [ -s run/attr_a.txt ]
  celeb-pack -q --attrs "$A" --images "$T/synth/img_align_celeba" --size 16 -o run/x.lmdb
  celeb-pack -q --force --attrs "$A" --images "$T/synth/img_align_celeba" --size 16 -o s2.lmdb
  celeb-dump --verify s2.lmdb
}

@test "what is no shard's or run's data stays writable: a run's samples/, a file named config.json elsewhere, a directory named ckpt" {
  sg-plot run/history.jsonl -o run/samples/loss.png
  is_png run/samples/loss.png
  echo '{"format": "something-else/1"}' > config.json
  mkdir -p other/ckpt
  echo '{"format": "stargan-c-run/1"}' > other/config.json.bak
  sg-plot run/history.jsonl -o config.json
  is_png config.json
  sg-sample --ckpt run --data "$T/s.lmdb" --count 2 -o other/ckpt/g.png
  is_png other/ckpt/g.png
  celeb-dump --grid 2x2 -o latest "$T/s.lmdb"
  is_png latest
  sg-sample --ckpt run --data "$T/s.lmdb" --count 2 --each -o each
  [ -s each/targets.tsv ]
}
