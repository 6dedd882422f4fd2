#!/usr/bin/env bats
# Usage errors that every tool shares (status 2).
#
# An empty path ('') given to any tool, as an option's value or an operand,
# is a usage error naming it. Before, celeb-synth -o '' wrote its dataset into
# the root directory ("" + "/img_align_celeba"), celeb-split -o '' read
# uninitialised memory, and others said only "tool: : No such file".

setup() {
  command -v celeb-synth >/dev/null || skip "tools not built"
  T="$BATS_TEST_TMPDIR"
  mkdir "$T/cwd"
  cd "$T/cwd"
}

# Runs "tool args..." (args may be ''): status 2, first line "tool: WHAT:
# empty path", and nothing created in the working directory.
refused() {
  local what=$1; shift
  run "$@"
  [ "$status" -eq 2 ] || { echo "$* -> status $status: $output"; return 1; }
  [ "${lines[0]}" = "$1: $what: empty path" ] || { echo "$* -> '${lines[0]}'"; return 1; }
  [ -z "$(ls -A)" ] || { echo "$* created: $(ls -A)"; return 1; }
}

@test "every tool refuses an empty path with a usage error that names it, and writes nothing" {
  refused "-o/--output" celeb-synth -n 2 -o ''
  refused "--judge: an image file" celeb-synth --judge ''
  refused "-o/--output" celeb-split -g x=Bangs -o '' attrs.txt
  refused "ATTR_FILE" celeb-split -g x=Bangs -o out ''
  refused "--partition" celeb-split -g x=Bangs -o out --split partition --partition '' attrs.txt
  refused "-o/--output" celeb-pack --attrs a.txt --images i -o ''
  refused "--attrs" celeb-pack --attrs '' --images i -o s.lmdb
  refused "--images" celeb-pack --attrs a.txt --images '' -o s.lmdb
  refused "--folders" celeb-pack --folders '' -o s.lmdb
  refused "SHARD" celeb-dump ''
  refused "-o/--output" celeb-dump s.lmdb --get 0 -o ''
  refused "-o/--output" sg-train -o '' s.lmdb
  refused "SHARD" sg-train -o run s.lmdb ''
  refused "--ckpt" sg-sample --ckpt '' x.png
  refused "-o/--output" sg-sample --ckpt run -o '' x.png
  refused "--data" sg-sample --ckpt run --data '' -o x.png
  refused "an image file" sg-sample --ckpt run -o x.png ''
  refused "-o/--output" sg-plot -o '' history.jsonl
  refused "the input file" sg-plot -o x.png ''
}

@test "an unknown option or a missing argument: getopt's line and 'Try --help', nothing else" {
  for t in celeb-synth celeb-split celeb-pack celeb-dump sg-train sg-sample sg-plot; do
    run "$t" --bogus
    [ "$status" -eq 2 ] && [ "${#lines[@]}" -eq 2 ] || { echo "$t --bogus: $status: $output"; return 1; }
    [[ "${lines[0]}" == *"unrecognized option '--bogus'" ]] && [ "${lines[1]}" = "Try '$t --help'." ] ||
      { echo "$t --bogus: $output"; return 1; }
  done
  run celeb-dump --get
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == *"option '--get' requires an argument" ]]
  [ "${lines[1]}" = "Try 'celeb-dump --help'." ]
  [ "${#lines[@]}" -eq 2 ]
}

@test "an integer beyond 64 bits is out of range, not 'not an integer'" {
  run sg-train -o run --iters 99999999999999999999 s.lmdb
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-train: --iters: 99999999999999999999 is out of range [1, 4611686018427387903]" ]
  run celeb-synth -s -99999999999999999999 -o out
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "celeb-synth: --seed: -99999999999999999999 is out of range [0, 18446744073709551615]" ]
  run celeb-synth -n 5x -o out
  [ "${lines[0]}" = "celeb-synth: --count: '5x' is not an integer" ]
}

# review-script20 F7: a number beyond a double was "not a number"
@test "a real number that underflows or overflows a double is out of range, not 'not a number'" {
  run sg-train -o run --g-lr 1e-400 s.lmdb
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-train: --g-lr: 1e-400 is out of range (too small for a double) [0, 1000]" ]
  run sg-train -o run --lambda-gp -1e999 s.lmdb
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-train: --lambda-gp: -1e999 is out of range (too large for a double) [0, 1e+06]" ]
  run sg-train -o run --d-lr 1e-4x s.lmdb
  [ "${lines[0]}" = "sg-train: --d-lr: '1e-4x' is not a number" ]
}

# NaN passes both range comparisons: only the parser's own NaN check stops
# it (else config.json records "g_lr": null and the run trains with NaN;
# review-mutate21 finding 5).
@test "a real option given NaN is 'not a number', in any spelling strtod reads; nothing written" {
  local v
  for v in nan -nan NaN +NAN 'nan(0x1)'; do
    run sg-train -o run --g-lr "$v" s.lmdb
    [ "$status" -eq 2 ] || { echo "--g-lr $v: status $status: $output"; false; }
    [ "${lines[0]}" = "sg-train: --g-lr: '$v' is not a number" ] || { echo "--g-lr $v: ${lines[0]}"; false; }
  done
  run sg-train -o run --lambda-gp nan s.lmdb
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-train: --lambda-gp: 'nan' is not a number" ]
  [ -z "$(ls -A)" ]
}

@test "sg-train: a run directory that is a shard it reads, lies inside one, or is a shard is refused; nothing written" {
  celeb-synth -q -n 4 -o "$T/syn"
  celeb-pack -q --attrs "$T/syn/list_attr_celeba.txt" --images "$T/syn/img_align_celeba" \
    --select Bangs,Male -S 16 -j 1 -o "$T/y.lmdb"
  cp -r "$T/y.lmdb" "$T/z.lmdb"
  listing=$(ls -A "$T/y.lmdb"); sum=$(cksum < "$T/y.lmdb/data.mdb")
  train=(sg-train -q --device cpu --threads 1 --iters 1 --batch 2 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1)
  check() {
    local want=$1; shift
    run "${train[@]}" "$@"
    [ "$status" -eq 1 ] || { echo "$* -> status $status: $output"; return 1; }   # as other refused outputs
    [ "$output" = "sg-train: $want" ] || { echo "$* -> '$output'"; return 1; }
    [ "$(ls -A "$T/y.lmdb")" = "$listing" ]
    [ "$(cksum < "$T/y.lmdb/data.mdb")" = "$sum" ]
    [ "$(ls -A "$T/z.lmdb")" = "$listing" ]
  }
  check "$T/y.lmdb: the run directory is the shard $T/y.lmdb it trains on; choose another -o RUN" -o "$T/y.lmdb" "$T/y.lmdb"
  check "$T/y.lmdb/: the run directory is the shard $T/z.lmdb/../y.lmdb it trains on; choose another -o RUN" \
    -o "$T/y.lmdb/" "$T/z.lmdb" "$T/z.lmdb/../y.lmdb"
  check "$T/y.lmdb/run: the run directory lies inside the shard $T/y.lmdb; choose another -o RUN" -o "$T/y.lmdb/run" "$T/y.lmdb"
  check "$T/z.lmdb: the run directory is a shard (it holds data.mdb); choose another -o RUN" -o "$T/z.lmdb" "$T/y.lmdb"
  check "$T/z.lmdb: the run directory is a shard (it holds data.mdb); choose another -o RUN" -o "$T/z.lmdb" --resume
  check "$T/z.lmdb: the run directory is a shard (it holds data.mdb); choose another -o RUN" -o "$T/z.lmdb" --force "$T/y.lmdb"
  # an operand that is no shard is reported as such, not as "the shard"
  run "${train[@]}" -o "$T/syn/r6" "$T/syn"
  [ "$status" -eq 1 ]
  [[ "$output" == *"not a stargan shard"* ]] || { echo "$output"; return 1; }
  # beside the shard is fine
  "${train[@]}" -o "$T/run" "$T/y.lmdb"
  [ -f "$T/run/config.json" ]
}

@test "every tool run by its path names itself, not the path, in getopt's messages" {
  local t p
  for t in celeb-dump celeb-pack celeb-split celeb-synth sg-plot sg-sample sg-train; do
    p=$(command -v "$t")
    [ "${p#/}" != "$p" ]               # run by its full path
    run "$p" --no-such-option
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "$t: unrecognized option '--no-such-option'" ]
    [ "${lines[1]}" = "Try '$t --help'." ]
    run "$p" -Z
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "$t: invalid option -- 'Z'" ]
  done
}

@test "option errors are the tools' own lines in getopt's words: one line each, control bytes escaped" {
  local t
  for t in celeb-dump celeb-pack celeb-split celeb-synth sg-plot sg-sample sg-train; do
    run "$t" $'--no\nsuch'
    [ "$status" -eq 2 ]
    [ "${#lines[@]}" -eq 2 ] || { echo "$t: $output"; false; }
    [ "${lines[0]}" = "$t: unrecognized option '--no\\nsuch'" ]
    [ "${lines[1]}" = "Try '$t --help'." ]
    run "$t" $'-\x1b'
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "$t: invalid option -- '\\x1b'" ]
    run "$t" --help=x
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "$t: option '--help' doesn't allow an argument" ]
    run "$t" -o
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "$t: option requires an argument -- 'o'" ]
    run "$t" --outp
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "$t: option '--output' requires an argument" ]
  done
  # an abbreviation of several options, and a short option's error after a long option
  run sg-sample --c
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-sample: option '--c' is ambiguous; possibilities: '--ckpt' '--count' '--crop'" ]
  run sg-train --quiet -Zq
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-train: invalid option -- 'Z'" ]
  # a bad letter inside a group, after a long option whose value is that letter: the letter is named
  run celeb-dump --stats -Sq x
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "celeb-dump: invalid option -- 'S'" ]
  run sg-plot --bars -bq h.jsonl
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-plot: invalid option -- 'b'" ]
  # an ambiguous abbreviation is shown whole, with its value
  run sg-sample --c=x
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-sample: option '--c=x' is ambiguous; possibilities: '--ckpt' '--count' '--crop'" ]
}
