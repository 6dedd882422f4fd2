#!/usr/bin/env bats
load helpers
# Created files and directories take their mode from the umask, as cp, mkdir
# and the shell's > do: a group sharing a setgid directory under umask 002
# must be able to replace each other's shards and resume each other's runs.

setup() {
  T="$BATS_TEST_TMPDIR"
  celeb-synth -q -n 12 --seed 3 -o "$T/synth"
}

# mode_of PATH: the octal permission bits
mode_of() { stat -c %a "$1"; }

@test "umask 002: shards, split lists, plots, grids and checkpoints are group-writable" {
  cd "$T"
  umask 002
  celeb-split -q --group a=Black_Hair,Blond_Hair -o split synth/list_attr_celeba.txt
  celeb-pack -q --attrs split/attr_a.txt --images synth/img_align_celeba --crop 178 --size 16 -o s.lmdb
  celeb-dump --grid 2x2 -o grid.png s.lmdb
  sg-train -q -o run --iters 2 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --d-repeat 1 --batch 2 \
    --save-every 2 --log-every 1 --sample-every 2 --threads 1 s.lmdb
  sg-plot run/history.jsonl -o plot.png
  for d in split s.lmdb run run/ckpt run/samples; do
    [ "$(mode_of $d)" = 775 ] || { echo "$d: $(mode_of $d)"; false; }
  done
  for f in split/attr_a.txt s.lmdb/data.mdb grid.png plot.png run/config.json run/ckpt/000002-G.safetensors \
           run/ckpt/000002-state.safetensors run/samples/000002.png; do
    [ "$(mode_of $f)" = 664 ] || { echo "$f: $(mode_of $f)"; false; }
  done
}

@test "umask 077: the same files are private" {
  cd "$T"
  umask 077
  celeb-pack -q --attrs synth/list_attr_celeba.txt --images synth/img_align_celeba --select Bangs \
    --crop 178 --size 16 -o s.lmdb
  celeb-dump --grid 2x2 -o grid.png s.lmdb
  [ "$(mode_of s.lmdb)" = 700 ]
  [ "$(mode_of s.lmdb/data.mdb)" = 600 ]
  [ "$(mode_of grid.png)" = 600 ]
}
