#!/usr/bin/env bats
# Every message of the tools is one line, whatever the paths in it: control
# bytes (a newline, a tab, ESC), C1 controls, invisible and bidirectional
# format characters and bytes of no UTF-8 are written escaped (\n, \t,
# \x1b, \xe2\x80\xae), printable UTF-8 and the rest as they are. Before, a
# path holding a newline split a message over two lines, and a script
# reading stderr line by line misread it.

load helpers

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

@test "C1 controls (CSI, NEL), bidi overrides, U+2028 and bytes of no UTF-8 are escaped too; printable UTF-8 is kept" {
  # U+009B is CSI to xterm in UTF-8 mode, U+202E reverses what follows on
  # screen, Python's splitlines breaks at U+0085 and U+2028
  P=$'a\xc2\x9b31mred\xe2\x80\xaeabc\xc2\x85d\xe2\x80\xa8e\xff-\xc3\xa9\\n'
  run celeb-dump "$P"
  [ "$status" -eq 1 ]
  one_line
  [ "$output" = $'celeb-dump: a\\xc2\\x9b31mred\\xe2\\x80\\xaeabc\\xc2\\x85d\\xe2\\x80\\xa8e\\xff-\xc3\xa9\\n: No such file or directory' ]
}

@test "the progress line on a terminal shows the path escaped" {
  command -v script >/dev/null || skip "no script(1) for a terminal"
  F=$'a\xc2\x9b31m\xe2\x80\xaeb'
  for dir in "$D" "$F"; do
    mkdir -p -- "$dir"
    celeb-synth -q -n 3 -o "$dir/syn"
    celeb-pack -q --attrs "$dir/syn/list_attr_celeba.txt" --images "$dir/syn/img_align_celeba" --size 16 -o "$dir/s.lmdb"
    run env P="$dir/s.lmdb" script -qec 'celeb-dump --verify "$P" >/dev/null' /dev/null
    [ "$status" -eq 0 ]
    # The redraws (\r, ESC [K, the line), then the one newline that ends
    # the line, which the terminal writes as \r\n and run drops: a newline
    # in a redraw would be a \r\n before.
    [[ "$output" != *$'\n'* ]] || { printf '%s\n' "$output" | od -c | head -20; false; }
    if [ "$dir" = "$D" ]; then
      [[ "$output" == *"celeb-dump: $E/s.lmdb: verified 3/3 records"* ]]
    else
      [[ "$output" == *'celeb-dump: a\xc2\x9b31m\xe2\x80\xaeb/s.lmdb: verified 3/3 records'* ]]
    fi
  done
}

# Suggested commands ("sg-train -o RUN --resume", "celeb-dump --verify SHARD",
# "--images DIR", "--ckpt PREFIX") write each path as one shell word: bare
# when ordinary, else quoted ('...', or bash's $'...' where it holds a
# control byte, so that the message stays one line), so that the command
# pasted into bash names the same files. Before, the path was pasted in as it
# was: a space split it, a quote left bash waiting for its end.
Q='it'\''s a "run" $x'   # a space, both quotes and a $

# tiny_run DIR: DIR/s.lmdb (24 images, 16 px) and DIR/run, 2 iterations of a tiny model.
TINY=(--g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --batch 4 --threads 1 --device cpu -q)
tiny_run() {
  celeb-synth -q -n 24 -o "$1/syn"
  celeb-pack -q --attrs "$1/syn/list_attr_celeba.txt" --images "$1/syn/img_align_celeba" --select Bangs,Male \
    --crop 178 --size 16 -o "$1/s.lmdb"
  sg-train -o "$1/run" --iters 2 "${TINY[@]}" "$1/s.lmdb"
}

@test "sg-train's resume advice for a moved shard pastes back into bash (a space, quotes, \$; a newline)" {
  for dir in "$Q" "$D"; do
    mkdir -p -- "$dir"
    tiny_run "$dir"
    mv -- "$dir/s.lmdb" "$dir/t.lmdb"
    run sg-train -q -o "$dir/run" --resume --iters 3
    [ "$status" -eq 1 ]
    one_line
    cmd=${output##*in order: }
    [ "$cmd" != "$output" ]
    [ "${cmd% SHARD...}" != "$cmd" ]
    cmd=${cmd% SHARD...}
    # as the message shows them: quoted, and the newline as \n inside $'...'
    if [ "$dir" = "$Q" ]; then
      [ "$output" = "sg-train: $Q/run/config.json: the run's shard $T/$Q/s.lmdb is missing (moved or renamed?): give the run's shard after --resume, in order: sg-train -o 'it'\\''s a \"run\" \$x/run' --resume SHARD..." ]
    else
      [ "$cmd" = "sg-train -o \$'a b\\nc-d/run' --resume" ]
    fi
    [ "$(bash -c "printf '%s|' ${cmd#sg-train -o }")" = "$dir/run|--resume|" ]
    run bash -c "$cmd --iters 3 -q $(printf %q "$dir/t.lmdb")"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(cat "$dir/run/latest")" = 000003 ]
  done
}

@test "a latest that names no checkpoint number, or a damaged one: the echo back to a good checkpoint pastes back (sg-train, sg-sample)" {
  mkdir -- "$Q"
  tiny_run "$Q"
  sg-train -o "$Q/run" --resume --iters 4 -q   # checkpoints 000002 and 000004
  # it said only "expected a checkpoint number such as 001000"
  for tool in sg-train sg-sample; do
    echo garbage > "$Q/run/latest"
    if [ $tool = sg-train ]; then
      run sg-train -o "$Q/run" --resume --iters 4
    else
      run sg-sample --ckpt "$Q/run" --device cpu -o "$T/o.png" "$Q/syn/img_align_celeba/000001.jpg"
    fi
    [ "$status" -eq 1 ]
    one_line
    [ "$output" = "$tool: $Q/run/latest: expected a checkpoint number such as 001000; the newest complete checkpoint is 000004: echo 000004 > 'it'\''s a \"run\" \$x/run/latest'" ]
    run bash -c "echo ${output##*: echo }"
    [ "$status" -eq 0 ]
    [ "$(cat "$Q/run/latest")" = 000004 ]
  done
  # a damaged newest checkpoint: the one before it, quoted too (it was pasted in bare)
  head -c 100 "$Q/run/ckpt/000004-D.safetensors" > "$T/d"
  cp "$T/d" "$Q/run/ckpt/000004-D.safetensors"
  run sg-train -o "$Q/run" --resume --iters 6
  [ "$status" -eq 1 ]
  one_line
  [[ "$output" == *"(checkpoint 000004 is unusable; to resume from the one before it: echo 000002 > 'it'\''s a \"run\" \$x/run/latest')" ]]
  cmd=${output##*: echo }
  run bash -c "echo ${cmd%)}"
  [ "$status" -eq 0 ]
  [ "$(cat "$Q/run/latest")" = 000002 ]
  sg-train -o "$Q/run" --resume --iters 6 -q
  [ "$(cat "$Q/run/latest")" = 000006 ]
  # no complete checkpoint to name: a G file alone
  rm "$Q"/run/ckpt/*-[DS]*
  echo garbage > "$Q/run/latest"
  run sg-sample --ckpt "$Q/run" --device cpu -o "$T/o.png" "$Q/syn/img_align_celeba/000001.jpg"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-sample: $Q/run/latest: expected a checkpoint number such as 001000 ($Q/run/ckpt holds no complete checkpoint)" ]
  # no checkpoint at all: the run has none yet, and when sg-train writes its first (config.json's
  # --save-every, or --iters where that comes first); it said "holds no complete checkpoint"
  rm "$Q"/run/ckpt/*
  for tool in sg-train sg-sample; do
    if [ $tool = sg-train ]; then
      run sg-train -o "$Q/run" --resume --iters 6
    else
      run sg-sample --ckpt "$Q/run" --device cpu -o "$T/o.png" "$Q/syn/img_align_celeba/000001.jpg"
    fi
    [ "$status" -eq 1 ]
    [ "$output" = "$tool: $Q/run/latest: expected a checkpoint number such as 001000, and the run has no checkpoint yet: sg-train writes its first at iteration 6 (--iters in config.json: the end of the run) or when it is stopped before; remove it (sg-train writes latest anew with each checkpoint)" ]
  done
  sed -i 's/"save_every": [0-9]*/"save_every": 3/' "$Q/run/config.json"
  run sg-sample --ckpt "$Q/run" --device cpu -o "$T/o.png" "$Q/syn/img_align_celeba/000001.jpg"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-sample: $Q/run/latest: expected a checkpoint number such as 001000, and the run has no checkpoint yet: sg-train writes its first at iteration 3 (--save-every in config.json) or when it is stopped before; remove it (sg-train writes latest anew with each checkpoint)" ]
  # what it says to do
  rm "$Q/run/latest"
  sg-train -o "$Q/run" --resume --iters 6 -q
  [ "$(cat "$Q/run/latest")" = 000006 ]
}

# it said "PATH: No such file or directory" (celeb-pack: "cannot create the temporary directory PATH.tmp-N.M")
@test "-o into a directory that does not exist: every tool names the directory and the mkdir -p that makes it" {
  tiny_run "$T"
  N="$T/no such/dir"
  W="'$T/no such/dir'"   # as a shell takes it back
  run celeb-pack -q --attrs "$T/syn/list_attr_celeba.txt" --images "$T/syn/img_align_celeba" --select Bangs \
    --size 16 -o "$N/s.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-pack: $N/s.lmdb: the directory $N does not exist; create it first: mkdir -p $W" ]
  run celeb-dump --grid 2x2 -o "$N/g.png" "$T/s.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: $N/g.png: the directory $N does not exist; create it first: mkdir -p $W" ]
  run celeb-dump --get 0 -o "$N/g.png" "$T/s.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: $N/g.png: the directory $N does not exist; create it first: mkdir -p $W" ]
  run sg-sample --ckpt "$T/run" --device cpu --data "$T/s.lmdb" -o "$N/x.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-sample: $N/x.png: the directory $N does not exist; create it first: mkdir -p $W" ]
  # sg-plot: sg-plot.bats
  [ ! -e "$T/no such" ]
  # what it says to do
  run bash -c "mkdir -p $W"
  celeb-dump --grid 2x2 -o "$N/g.png" "$T/s.lmdb"
  is_png "$N/g.png"
}

# it said only "PATH: larger than the limit of N bytes"
@test "a file over its reader's limit (/dev/zero, a file given for another) says which file was expected" {
  tiny_run "$T"
  run timeout 120 celeb-split -q -g a=Bangs -o "$T/sp" /dev/zero
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: /dev/zero: larger than the limit of 2147483648 bytes; no attribute list is that large: give list_attr_celeba.txt or a list of its format" ]
  run timeout 120 celeb-split -q -g a=Bangs --split partition --partition /dev/zero -o "$T/sp" "$T/syn/list_attr_celeba.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: /dev/zero: larger than the limit of 1073741824 bytes; no partition file is that large: give list_eval_partition.txt" ]
  run timeout 120 sg-plot -o "$T/p.png" /dev/zero
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: /dev/zero: larger than the limit of 1073741824 bytes; sg-plot reads a run's history.jsonl" ]
  run timeout 120 sg-plot --bars -o "$T/p.png" /dev/zero
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: /dev/zero: larger than the limit of 1073741824 bytes; sg-plot reads the statistics of celeb-dump --stats --json or celeb-split --json" ]
  # RUN/latest: as any other text that is no checkpoint number
  cp -r "$T/run" "$T/r2"
  head -c 100 /dev/zero | tr '\0' 1 > "$T/r2/latest"
  run sg-sample --ckpt "$T/r2" --device cpu -o "$T/o.png" "$T/syn/img_align_celeba/000001.jpg"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-sample: $T/r2/latest: expected a checkpoint number such as 001000; the newest complete checkpoint is 000002: echo 000002 > $T/r2/latest" ]
  head -c 17000000 /dev/zero > "$T/r2/config.json"
  run sg-train -q -o "$T/r2" --resume
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/r2/config.json: larger than the limit of 16777216 bytes; not the config.json sg-train writes (a few KiB): restore the run's own" ]
  [ ! -e "$T/sp" ] && [ ! -e "$T/p.png" ] && [ ! -e "$T/o.png" ]
}

@test "sg-train's advice after a failed write, and after a damaged record (celeb-dump --verify too), pastes back" {
  mkdir -- "$Q"
  tiny_run "$Q"
  rm -rf -- "$Q/run/samples"
  echo "not a directory" > "$Q/run/samples"
  run sg-train -o "$Q/run" --resume --iters 4 --sample-every 1
  [ "$status" -eq 1 ]
  one_line
  [[ "$output" == *"; last good checkpoint: $Q/run/ckpt/000002 (sg-train -o "*" --resume continues from it)" ]]
  cmd=${output##*(}
  cmd=${cmd% continues from it)}
  rm -- "$Q/run/samples"
  run bash -c "$cmd --iters 4"
  [ "$status" -eq 0 ]
  [ "$(cat "$Q/run/latest")" = 000004 ]

  cp -r -- "$Q/s.lmdb" "$Q/bad.lmdb"
  damage_label_record "$Q/bad.lmdb" 5
  run sg-train -o "$Q/r2" --iters 12 --save-every 2 --sample-every 0 "${TINY[@]}" "$Q/bad.lmdb"
  [ "$status" -eq 1 ]
  one_line
  verify=${output##*(celeb-dump --verify }
  verify="celeb-dump --verify ${verify%% lists every damaged record*}"
  resume=${output##*pack the shard again, then }
  resume=${resume% continues from it)}
  [ "$verify" = "celeb-dump --verify '$T/it'\\''s a \"run\" \$x/bad.lmdb'" ]
  [ "$resume" = "sg-train -o 'it'\\''s a \"run\" \$x/r2' --resume" ]
  run bash -c "$verify"
  [ "$status" -eq 1 ]
  [[ "$output" == *"record 5"* ]]
  rm -r -- "$Q/bad.lmdb"
  cp -r -- "$Q/s.lmdb" "$Q/bad.lmdb"   # packed again
  run bash -c "$resume"
  [ "$status" -eq 0 ]
  [ "$(cat "$Q/r2/latest")" = 000012 ]
}

@test "celeb-pack's --images advice and sg-sample's --ckpt advice paste back into bash" {
  mkdir -- "$Q"
  tiny_run "$Q"
  # the images one folder down, as in Kaggle's img_align_celeba/img_align_celeba
  mkdir -- "$Q/imgs"
  mv -- "$Q/syn/img_align_celeba" "$Q/imgs/"
  run celeb-pack -q --attrs "$Q/syn/list_attr_celeba.txt" --images "$Q/imgs" --select Bangs --size 16 -o "$Q/p.lmdb"
  [ "$status" -eq 1 ]
  one_line
  [[ "$output" == *": give --images 'it'\\''s a \"run\" \$x/imgs/img_align_celeba'; $Q/p.lmdb not written" ]]
  opt=${output##*: give }
  opt=${opt%%; *}
  run bash -c "celeb-pack -q --attrs $(printf %q "$Q/syn/list_attr_celeba.txt") $opt --select Bangs --size 16 -o p.lmdb"
  [ "$status" -eq 0 ]
  [ -e p.lmdb/data.mdb ]

  rm -- "$Q/run/latest"
  run sg-sample --ckpt "$Q/run" -o x.png "$Q/imgs/img_align_celeba/000001.jpg"
  [ "$status" -eq 1 ]
  one_line
  [[ "$output" == *"; to sample from the newest complete checkpoint there: --ckpt 'it'\\''s a \"run\" \$x/run/ckpt/000002'" ]]
  run bash -c "sg-sample ${output##*there: } -o x.png $(printf %q "$Q/imgs/img_align_celeba/000001.jpg")"
  [ "$status" -eq 0 ]
  [ -s x.png ]
}

@test "a tool run through a link whose name holds a newline names itself escaped, on one line" {
  ln -s "$(command -v sg-plot)" "$T/$(printf 'sg\nplot')"
  run "$T/$(printf 'sg\nplot')" --bogus
  [ "$status" -eq 2 ]
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = "sg\\nplot: unrecognized option '--bogus'" ]
  [ "${lines[1]}" = "Try 'sg\\nplot --help'." ]
}

# The write(2) calls a command made on descriptor 2, one per line of $T/trace
# (strace -o $T/trace -e trace=write -e signal=none, strings in full).
stderr_writes() {
  grep -E '^write\(2, ' "$T/trace" || true
}

@test "each message line goes out in one write(2): two tools sharing a stderr never interleave mid-line" {
  need_strace
  # an error with strerror (cli_die's trailing ':'), from lib/ through cli_die_err
  strace -qq -s 100000 -o "$T/trace" -e trace=write -e signal=none sg-plot -o p.png "$D/missing.jsonl" 2>/dev/null || true
  run stderr_writes
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" == 'write(2, "sg-plot: a b\\nc-d/missing.jsonl: No such file or directory\n", '* ]]
  # a usage error: its line and "Try 'tool --help'." one write each
  strace -qq -s 100000 -o "$T/trace" -e trace=write -e signal=none sg-sample --bogus 2>/dev/null || true
  run stderr_writes
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = "write(2, \"sg-sample: unrecognized option '--bogus'\\n\", 41) = 41" ]
  [ "${lines[1]}" = "write(2, \"Try 'sg-sample --help'.\\n\", 24) = 24" ]
  # a line longer than the stack buffer (9000 bytes of option) is one write too
  long=$(printf '%9000s' '' | tr ' ' x)
  strace -qq -s 100000 -o "$T/trace" -e trace=write -e signal=none celeb-split "--$long" 2>/dev/null || true
  run stderr_writes
  [ "${#lines[@]}" -eq 2 ]
  [[ "${lines[0]}" == "write(2, \"celeb-split: unrecognized option '--$long'\\n\", 9038) = 9038" ]]
}
