#!/usr/bin/env bats
# Every message of the tools is one line, whatever the paths in it: control
# bytes (a newline, a tab, ESC) are written escaped (\n, \t, \x1b), UTF-8
# and the rest as they are. Before, a path holding a newline split a message
# over two lines, and a script reading stderr line by line misread it.

setup() {
  command -v celeb-synth >/dev/null || skip "tools not built"
  T="$BATS_TEST_TMPDIR"
  cd "$T"
  D=$'a b\nc-d'
  E='a b\nc-d'   # D as the messages show it
  mkdir -- "$D"
}

# Fails, showing it, when $output holds a newline (or is empty).
one_line() {
  [ -n "$output" ] || { echo "no message"; return 1; }
  [[ "$output" != *$'\n'* ]] || { printf 'more than one line:\n%s\n' "$output"; return 1; }
}

@test "sg-train --resume of a run whose shard moved: one line naming the run and the shard escaped" {
  celeb-synth -q -n 5 -o "$D/syn"
  celeb-pack -q --attrs "$D/syn/list_attr_celeba.txt" --images "$D/syn/img_align_celeba" --select Bangs \
    --crop 178 --size 16 -o "$D/s.lmdb"
  sg-train -q -o "$D/run" --iters 2 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --batch 2 --threads 1 "$D/s.lmdb"
  mv -- "$D/s.lmdb" "$D/t.lmdb"
  run sg-train -q -o "$D/run" --resume --iters 3
  [ "$status" -eq 1 ]
  one_line
  [[ "$output" == "sg-train: $E/run/config.json: the run's shard $T/$E/s.lmdb is missing "* ]]
}

@test "a missing input under a directory with a newline: one line from every tool" {
  run celeb-pack --attrs "$D/nope.txt" --images "$D" -o "$D/s.lmdb"
  [ "$status" -eq 1 ]
  one_line
  [ "$output" = "celeb-pack: $E/nope.txt: No such file or directory" ]

  run celeb-dump "$D/nope.lmdb"
  [ "$status" -eq 1 ]
  one_line
  [ "$output" = "celeb-dump: $E/nope.lmdb: No such file or directory" ]

  run sg-plot -o "$D/p.png" "$D/history.jsonl"
  [ "$status" -eq 1 ]
  one_line
  [[ "$output" == "sg-plot: $E/history.jsonl: "* ]]

  run celeb-split -g x=Bangs -o "$D/out" "$D/attrs.txt"
  [ "$status" -eq 1 ]
  one_line
  [[ "$output" == "celeb-split: $E/attrs.txt: "* ]]

  run sg-sample --ckpt "$D/run" -o "$D/x.png" "$D/in.png"
  [ "$status" -eq 1 ]
  one_line
  [[ "$output" == "sg-sample: $E/run: no checkpoint found "* ]]
}

@test "notes that name an output (wrote..., checkpoint written) are one line too" {
  run celeb-synth -n 4 -o "$D/syn"
  [ "$status" -eq 0 ]
  one_line
  [[ "$output" == "celeb-synth: wrote 4 images to $E/syn in "* ]]

  run celeb-pack --attrs "$D/syn/list_attr_celeba.txt" --images "$D/syn/img_align_celeba" --select Bangs \
    --size 16 -o "$D/s.lmdb"
  [ "$status" -eq 0 ]
  one_line
  [ "$output" = "celeb-pack: wrote 4 records to $E/s.lmdb, 16x16, 1 label" ]

  # stderr no terminal: one line per checkpoint instead of a progress line
  run sg-train -o "$D/run" --iters 2 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --batch 2 --threads 1 "$D/s.lmdb"
  [ "$status" -eq 0 ]
  one_line
  [[ "$output" == "sg-train: iteration 2/2: checkpoint $E/run/ckpt/000002 written "* ]]
}

@test "a tab and ESC are escaped as \\t and \\x1b; UTF-8 and backslashes are kept" {
  P=$'t\tab\e[31mred-\xc3\xa9-x\\y'
  run celeb-dump "$P"
  [ "$status" -eq 1 ]
  one_line
  [ "$output" = $'celeb-dump: t\\tab\\x1b[31mred-\xc3\xa9-x\\y: No such file or directory' ]
}

@test "the progress line on a terminal shows the path escaped" {
  command -v script >/dev/null || skip "no script(1) for a terminal"
  celeb-synth -q -n 3 -o "$D/syn"
  celeb-pack -q --attrs "$D/syn/list_attr_celeba.txt" --images "$D/syn/img_align_celeba" --size 16 -o "$D/s.lmdb"
  run env P="$D/s.lmdb" script -qec 'celeb-dump --verify "$P" >/dev/null' /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *"celeb-dump: $E/s.lmdb: verified 3/3 records"* ]]
  # a newline only where the line ends: after the last redraw
  body=${output%%$'\r\n'*}
  [[ "$body" != *$'\n'* ]] || { printf '%s\n' "$output" | od -c | head; false; }
}
