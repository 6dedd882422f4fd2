#!/usr/bin/env bats
# Where cuDNN offers only nondeterministic legacy algorithms for a shape, on
# the CPU emulation of CUDA and cuDNN (SG_EMU_CUDNN_LEGACY_NONDET_ONLY,
# tests/emu/cudnn_emu.cc): train-step-bench under each search mode.

ROOT="$BATS_TEST_DIRNAME/../.."
BENCH="$ROOT/build/emu-bin/train-step-bench"

setup() {
  [ -x "$BENCH" ] || skip "no CUDA build here: $BENCH"
  T="$BATS_TEST_TMPDIR"
  TINY=(--device cuda --image-size 16 --batch 2 --conv-dim 4 --g-repeat 1 --d-repeat 2 --warmup 1 --iters 2)
}

@test "train-step-bench (emulated CUDA), only nondeterministic legacy backward-filter algorithms: legacy and bf16 stop in one line, timed and heuristic run on engines" {
  export SG_EMU_CUDNN_LEGACY_NONDET_ONLY=backward-filter
  run env SG_CUDNN_SEARCH=legacy "$BENCH" "${TINY[@]}"
  [ "$status" -ne 0 ]
  [[ "${lines[-1]}" == "train-step-bench: "*"cuDNN offers only nondeterministic backward-filter algorithms for N "*"raise SG_CUDNN_WORKSPACE_MIB (or SG_CUDNN_NONDET=1 lets them run: runs then differ in the last bits)" ]]
  run env SG_CUDNN_SEARCH=timed "$BENCH" "${TINY[@]}" --precision bf16
  [ "$status" -ne 0 ]
  [[ "${lines[-1]}" == *"cuDNN offers only nondeterministic bf16 backward-filter algorithms for N "* ]]
  for search in timed heuristic; do
    SG_BENCH_PLANS=1 SG_CUDNN_SEARCH=$search "$BENCH" "${TINY[@]}" > "$T/$search.out" 2> "$T/$search.err" ||
      { cat "$T/$search.err"; false; }
    grep -q ' it_per_s=' "$T/$search.out"
    # every backward-filter shape on an engine, its legacy algorithm the check's reference only
    n=$(grep -o 'bwd-filter engine [0-9]*' "$T/$search.err" | wc -l)
    [ "$n" -gt 0 ]
    [ "$(grep -o ', legacy algo 0 nondeterministic: the check' "$T/$search.err" | wc -l)" -eq "$n" ]
    ! grep -q 'bwd-filter legacy algo' "$T/$search.err"
  done
  grep -q 'legacy not timed' "$T/timed.err"
  # no deterministic engine either (the backend API off): the line names both paths
  run env SG_EMU_CUDNN_BACKEND=0 SG_CUDNN_SEARCH=timed "$BENCH" "${TINY[@]}"
  [ "$status" -ne 0 ]
  [[ "${lines[-1]}" == *"cuDNN offers only nondeterministic backward-filter algorithms (legacy, and no deterministic backend-API engine) for N "* ]]
  # SG_CUDNN_NONDET=1 lets the legacy pick take them
  SG_CUDNN_NONDET=1 SG_CUDNN_SEARCH=legacy "$BENCH" "${TINY[@]}" --precision bf16 | grep -q ' it_per_s='
}

@test "SG_EMU_CUDNN_LEGACY_NONDET_ONLY: a kind's input channels narrow it; a malformed value is an error" {
  # D's first layer alone (3 input channels): its backward-filter has no deterministic legacy algorithm
  run env SG_EMU_CUDNN_LEGACY_NONDET_ONLY=backward-filter:3 SG_CUDNN_SEARCH=legacy "$BENCH" "${TINY[@]}"
  [ "$status" -ne 0 ]
  [[ "${lines[-1]}" == *"only nondeterministic backward-filter algorithms for N "*" Ci 3 "* ]]
  SG_EMU_CUDNN_LEGACY_NONDET_ONLY=backward-filter:1000 SG_CUDNN_SEARCH=legacy "$BENCH" "${TINY[@]}" | grep -q ' it_per_s='
  run env SG_EMU_CUDNN_LEGACY_NONDET_ONLY=forward SG_CUDNN_SEARCH=legacy "$BENCH" "${TINY[@]}"
  [ "$status" -ne 0 ]
  [[ "${lines[-1]}" == *'SG_EMU_CUDNN_LEGACY_NONDET_ONLY="forward" is not kind[:C],... (kind backward-data or backward-filter)' ]]
}
