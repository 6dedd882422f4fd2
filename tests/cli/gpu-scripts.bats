#!/usr/bin/env bats
# The scripts of tests/gpu where they need no GPU: what they refuse before
# they build, write or spend device time.

ROOT="$BATS_TEST_DIRNAME/../.."

setup() {
  T="$BATS_TEST_TMPDIR"
}

@test "SG_GPU_LIMIT_SCALE: integers and decimals to the thousandth are read; anything else, or 0, is refused" {
  . "$ROOT/tests/gpu/limit-scale.bash"
  local v want
  for v in 6:6000 1:1000 2.5:2500 0.5:500 .25:250 1.0005:1000 0.001:1 999999:999999000; do
    gpu_limit_scale_milli who "${v%%:*}" "advice"
    [ "$scale_milli" -eq "${v#*:}" ] || { echo "${v%%:*}: $scale_milli"; false; }
  done
  for v in abc 0 0.0 0.0004 "" . 1. -1 +2 1e3 "2 " 1,5 1234567; do
    run gpu_limit_scale_milli who "$v" "the advice"
    [ "$status" -eq 2 ]
    want="who: SG_GPU_LIMIT_SCALE=$v: expected a number above 0 that multiplies each step's time limit, such as 6 or 2.5; the advice"
    [ "$output" = "$want" ] || { echo "'$v': $output"; false; }
  done
}

# A make on PATH that says it ran and fails: a script that builds before its
# checks is caught in a second, not after minutes.
fake_make() {
  mkdir -p "$T/fakebin"
  printf '#!/bin/sh\ntouch "%s/make-ran"\nexit 1\n' "$T" > "$T/fakebin/make"
  chmod +x "$T/fakebin/make"
}

@test "tests/gpu/dry-run refuses a bad SG_GPU_LIMIT_SCALE before it builds anything, in seconds" {
  fake_make
  local t0=$SECONDS
  run env PATH="$T/fakebin:$PATH" SG_GPU_LIMIT_SCALE=abc timeout 60 "$ROOT/tests/gpu/dry-run"
  echo "$output"
  [ "$status" -eq 2 ]
  [ "$output" = "gpu/dry-run: SG_GPU_LIMIT_SCALE=abc: expected a number above 0 that multiplies each step's time limit, such as 6 or 2.5; unset it for the dry run's 6" ]
  [ ! -e "$T/make-ran" ]
  [ $((SECONDS - t0)) -lt 10 ]
}

@test "tests/gpu/run refuses a bad SG_GPU_LIMIT_SCALE before it writes anything (its logs' directory)" {
  run env OUT="$T/out" SG_GPU_LIMIT_SCALE=0 timeout 60 bash "$ROOT/tests/gpu/run"
  [ "$status" -eq 2 ]
  [ "$output" = "gpu/run: SG_GPU_LIMIT_SCALE=0: expected a number above 0 that multiplies each step's time limit, such as 6 or 2.5; unset it for the GPU's own limits" ]
  [ ! -e "$T/out" ]
}

# Its work files were fixed /tmp/sg-* paths (the unpacked .debs, the steps'
# runs, engine files and logs): shared with any other run on the machine and
# left behind. Now one mktemp -d directory under $TMPDIR, removed on exit,
# also when the run is stopped.
@test "tests/gpu/run works in a directory of its own under TMPDIR and removes it, also when stopped; no fixed /tmp/sg- paths" {
  run grep -n '/tmp/sg-' "$ROOT/tests/gpu/run" "$ROOT/tests/gpu/dry-run" "$ROOT/tests/gpu/prepare-carry"
  [ "$status" -eq 1 ]
  mkdir "$T/tmp"
  run env OUT="$T/out" TMPDIR="$T/tmp" SG_GPU_STEPS=none timeout 60 bash "$ROOT/tests/gpu/run"
  [ "$status" -eq 0 ]
  [[ "$output" == *"LD_LIBRARY_PATH=$T/tmp/sg-gpu."*"/carry/usr/lib/x86_64-linux-gnu:"* ]]
  [ -s "$T/out/gpu-run.log" ]
  [ -z "$(ls -A "$T/tmp")" ]
  # stopped (the device tool's timeout) while a step runs: removed too
  command -v setsid > /dev/null || skip "no setsid"
  mkdir -p "$T/fakebin"
  printf '#!/bin/sh\ntouch "%s/smi-ran"\nexec sleep 30\n' "$T" > "$T/fakebin/nvidia-smi"
  chmod +x "$T/fakebin/nvidia-smi"
  env PATH="$T/fakebin:$PATH" OUT="$T/out2" TMPDIR="$T/tmp" SG_GPU_STEPS=none setsid bash "$ROOT/tests/gpu/run" \
    > "$T/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -e "$T/smi-ran" ] && break; sleep 0.1; done
  [ -e "$T/smi-ran" ]
  [ -n "$(ls -A "$T/tmp")" ]
  kill -TERM -- -"$pid"
  rc=0; wait "$pid" || rc=$?
  [ "$rc" -eq 143 ]
  [ -z "$(ls -A "$T/tmp")" ]
}
