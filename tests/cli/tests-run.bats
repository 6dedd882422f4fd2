#!/usr/bin/env bats
# tests/run itself, on fake test directories (SG_TEST_UNIT_DIR, SG_TEST_CLI_DIR):
# the summary line and exit status, that ^C or SIGTERM stops every job it
# started, their children included, and the test binaries it runs in parts
# (test_cuda_ops_emu --part K/P).

ROOT="$BATS_TEST_DIRNAME/../.."

setup() {
  T=$(mktemp -d "$BATS_TMPDIR/tests-run.XXXXXX")
  mkdir "$T/unit" "$T/cli"
  export SG_TEST_UNIT_DIR="$T/unit" SG_TEST_CLI_DIR="$T/cli"
  printf '#!/bin/sh\necho "3 passed, 0 failed"\n' > "$T/unit/test_pass"
  printf '#!/bin/sh\necho "FAIL test_fail.c:7: one is not two"\necho "2 passed, 1 failed, 1 skipped"\nexit 1\n' \
    > "$T/unit/test_fail"
  # a test that runs long in a child of its own, and says the child's pid (first by name)
  printf '#!/bin/sh\nsleep 300 &\necho $! > "%s"\nwait\necho "1 passed, 0 failed"\n' "$T/sleep.pid" \
    > "$T/unit/test_a_sleep"
  chmod +x "$T/unit/"test_*
  printf '@test "one" { true; }\n@test "two" { skip "not here"; }\n' > "$T/cli/fake.bats"
}

teardown() {
  if [ -s "$T/sleep.pid" ]; then kill "$(cat "$T/sleep.pid")" 2>/dev/null || true; fi
  rm -rf "$T"
}

@test "tests/run: passing tests, unit and bats: their reports, the summary line, exit 0" {
  run "$ROOT/tests/run" all test_pass fake
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "== unit test_pass" ]
  [[ "$output" == *"== cli $T/cli/fake.bats"* ]]
  [ "${lines[${#lines[@]}-1]}" = "4 passed, 0 failed, 1 skipped" ]
}

@test "tests/run: a failing test: its FAIL line, 'failing:' naming it, the sums, exit 1 (SG_TEST_JOBS=1 and 2)" {
  for j in 1 2; do
    run env SG_TEST_JOBS=$j "$ROOT/tests/run" unit test_pass test_fail
    [ "$status" -eq 1 ]
    # the serial order either way: test_fail before test_pass (by name)
    [ "${lines[0]}" = "== unit test_fail" ]
    [ "${lines[1]}" = "FAIL test_fail.c:7: one is not two" ]
    [[ "$output" == *"== unit test_pass"* ]]
    [ "${lines[${#lines[@]}-2]}" = "failing: test_fail" ]
    [ "${lines[${#lines[@]}-1]}" = "5 passed, 1 failed, 1 skipped" ]
  done
}

# Starts tests/run (SG_TEST_JOBS=$1) on the unit tests in its own process group,
# as a shell starts a command, and waits for test_a_sleep's child to be running.
# INT and TERM at their defaults as at a terminal: a make test started in the
# background of a non-interactive shell (cmd &) hands SIGINT down ignored, and
# a shell cannot trap a signal ignored on entry, so tests/run would not hear ^C.
start_run() {
  set -m
  SG_TEST_JOBS=$1 env --default-signal=INT,TERM "$ROOT/tests/run" unit > "$T/out" 2>&1 3>&- &
  RUN=$!
  set +m
  for ((i = 0; i < 200; i++)); do [ -s "$T/sleep.pid" ] && break; sleep 0.05; done
  [ -s "$T/sleep.pid" ]
  SLEEPER=$(cat "$T/sleep.pid")
  kill -0 "$SLEEPER"
}

# Waits for tests/run to end, 30 s at most (then kills it and the sleeper: a
# tests/run that leaves the sleeper would wait for it); STATUS its exit status.
wait_run() {
  ( sleep 30; kill -KILL -- "-$RUN" "$SLEEPER" ) > /dev/null 2>&1 3>&- &
  local watchdog=$!
  STATUS=0
  wait "$RUN" || STATUS=$?
  kill "$watchdog" 2>/dev/null || true
  cat "$T/out"
}

@test "tests/run: SIGTERM stops the running jobs, their children included, in one line; exit 143" {
  start_run 2
  kill -TERM "$RUN"
  wait_run
  [ "$STATUS" -eq 143 ]
  run kill -0 "$SLEEPER"
  [ "$status" -ne 0 ]
  # the second slot's short jobs may still be running on a loaded machine: 1 or 2
  grep -Eqx 'tests/run: interrupted by SIGTERM: stopped [12] running job\(s\) of 3, no summary' "$T/out"
  # no summary line after it
  tail -n1 "$T/out" | grep -Eqx 'tests/run: interrupted by SIGTERM: stopped [12] running job\(s\) of 3, no summary'
}

@test "tests/run: ^C (SIGINT to its process group) stops the running job, its children included; exit 130 (SG_TEST_JOBS=1)" {
  start_run 1
  kill -INT -- "-$RUN"
  wait_run
  [ "$STATUS" -eq 130 ]
  run kill -0 "$SLEEPER"
  [ "$status" -ne 0 ]
  grep -qx 'tests/run: interrupted by SIGINT: stopped 1 running job(s) of 3, no summary' "$T/out"
  [ "$(tail -n1 "$T/out")" = 'tests/run: interrupted by SIGINT: stopped 1 running job(s) of 3, no summary' ]
  # the jobs after the interrupted one never started
  [ "$(head -n1 "$T/out")" = '== unit test_a_sleep' ]
  run grep -c '^== ' "$T/out"
  [ "$output" = 1 ]
}

@test "tests/run: test_cuda_ops_emu runs as one job per part (--part K/P, P the jobs, 4 at most), summed; SG_TEST_JOBS=1: one job" {
  # a fake that says its options and counts 2 per part (5 whole)
  printf '#!/bin/sh\necho "args: $*"\n[ $# -eq 0 ] && { echo "5 passed, 0 failed, 1 skipped"; exit 0; }\necho "2 passed, 0 failed"\n' \
    > "$T/unit/test_cuda_ops_emu"
  chmod +x "$T/unit/test_cuda_ops_emu"
  run env SG_TEST_JOBS=3 "$ROOT/tests/run" unit test_cuda_ops_emu test_pass
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "== unit test_cuda_ops_emu --part 1/3" ]
  [ "${lines[2]}" = "== unit test_cuda_ops_emu --part 2/3" ]
  [ "${lines[4]}" = "== unit test_cuda_ops_emu --part 3/3" ]
  [ "${lines[6]}" = "== unit test_pass" ]
  [ "${lines[${#lines[@]}-1]}" = "9 passed, 0 failed, 0 skipped" ]
  run env SG_TEST_JOBS=9 "$ROOT/tests/run" unit test_cuda_ops_emu
  [ "${lines[6]}" = "== unit test_cuda_ops_emu --part 4/4" ]
  [ "${lines[${#lines[@]}-1]}" = "8 passed, 0 failed, 0 skipped" ]
  run env SG_TEST_JOBS=1 "$ROOT/tests/run" unit test_cuda_ops_emu
  [ "${lines[0]}" = "== unit test_cuda_ops_emu" ]
  [ "${lines[${#lines[@]}-1]}" = "5 passed, 0 failed, 1 skipped" ]
  # a failing part is named with its part
  printf '#!/bin/sh\ncase "$*" in *2/2*) echo "FAIL x"; echo "1 passed, 1 failed"; exit 1;; esac\necho "2 passed, 0 failed"\n' \
    > "$T/unit/test_cuda_ops_emu"
  run env SG_TEST_JOBS=2 "$ROOT/tests/run" unit test_cuda_ops_emu
  [ "$status" -eq 1 ]
  [ "${lines[${#lines[@]}-2]}" = "failing: test_cuda_ops_emu --part 2/2" ]
  [ "${lines[${#lines[@]}-1]}" = "3 passed, 1 failed, 0 skipped" ]
}

@test "test_cuda_ops --part K/N: the parts' steps (--list) are every step once, for N 1 to 6" {
  B="$ROOT/build/tests/test_cuda_ops"
  [ -x "$B" ] || skip "no build/tests/test_cuda_ops (make)"
  all=$("$B" --list | sort)
  [ "$(printf '%s\n' "$all" | wc -l)" -gt 10 ]
  for n in 1 2 3 4 5 6; do
    got=$(for ((k = 1; k <= n; k++)); do "$B" --list --part "$k/$n"; done | sort)
    [ "$got" = "$all" ]
    for ((k = 1; k <= n; k++)); do [ -n "$("$B" --list --part "$k/$n")" ]; done
  done
  run "$B" --part 3/2
  [ "$status" -eq 2 ]
  [[ "$output" == *"--part: expected K/N with 1 <= K <= N <= 64, such as 2/4"* ]]
}

# A step's random inputs were drawn from a counter that ran on across the
# steps, so a part (its steps without those before them) checked other data
# than the whole run. Each step's lines ('== step NAME' to 'time NAME', with the
# worst element and its values per check) from the parts are the whole run's.
# On the CPU steps (--cpu-as-gpu-nhwc, seconds); test_cuda_ops_emu's steps
# draw the same way, at minutes a run.
@test "test_cuda_ops --part K/N: each step prints, per check, what it prints in the whole run (the same data)" {
  B="$ROOT/build/tests/test_cuda_ops"
  [ -x "$B" ] || skip "no build/tests/test_cuda_ops (make)"
  # "NAME<tab>line" for each line a step prints, its time left out
  per_step() { awk '/^== step / { s = $3; next } /^time / { s = ""; next } s != "" { print s "\t" $0 }' | sort; }
  "$B" --cpu-as-gpu-nhwc --times > "$T/whole"
  tail -n 1 "$T/whole" | grep -qE '^[0-9]+ passed, 0 failed'
  per_step < "$T/whole" > "$T/whole.steps"
  [ "$(sed -n 's/^== step //p' "$T/whole")" = "$("$B" --cpu-as-gpu-nhwc --list)" ]
  [ "$(grep -c ' worst ' "$T/whole.steps")" -gt 100 ]
  for k in 1 2; do "$B" --cpu-as-gpu-nhwc --times --part "$k/2"; done > "$T/parts"
  per_step < "$T/parts" > "$T/parts.steps"
  diff "$T/whole.steps" "$T/parts.steps"
}
