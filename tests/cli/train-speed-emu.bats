#!/usr/bin/env bats
# Where cuDNN offers only nondeterministic legacy algorithms for a shape, on
# the CPU emulation of CUDA and cuDNN (SG_EMU_CUDNN_LEGACY_NONDET_ONLY,
# tests/emu/cudnn_emu.cc): train-step-bench under each search mode, and
# bench/train-speed's bf16 row, which then runs again with SG_CUDNN_NONDET=1
# and says so. bench/train-speed runs in a copy of the tree at its tiny size
# (SG_BENCH_TINY=1) with a train-step-bench that is the emulated one for
# bf16 and a stub printing a fixed line for the other rows (each row of
# tests/gpu/dry-run takes minutes on the emulation).

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

# bench/train-speed in $T/tree: the stub train-step-bench for every row but
# bf16's, which runs the emulated one; prints the script's output.
train_speed() {
  mkdir -p "$T/tree/bench" "$T/tree/build/bench"
  cp "$ROOT/bench/train-speed" "$T/tree/bench/"
  cat > "$T/tree/build/bench/train-step-bench" <<EOF
#!/usr/bin/env bash
for a in "\$@"; do [ "\$a" = bf16 ] && exec "$BENCH" "\$@"; done
echo "stub it_per_s=1.00 gpu_peak_gib=0 gpu_mem_gib=0 d_step_ms=1 g_step_ms=1 warmup_s=0 graphs=on d_loss_real=1 d_loss_gp=2 g_loss_rec=3"
EOF
  chmod +x "$T/tree/build/bench/train-step-bench"
  OUT="$T/out" SG_BENCH_TINY=1 ITERS=2 WARMUP=1 "$T/tree/bench/train-speed"
}

@test "bench/train-speed (emulated bf16): a bf16 row refused as nondeterministic runs again with SG_CUDNN_NONDET=1, labelled" {
  mkdir -p "$T/out"
  export SG_EMU_CUDNN_LEGACY_NONDET_ONLY=backward-filter
  run train_speed
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"train-speed: bf16: deterministic bf16 refused: again as bf16-nondet (SG_CUDNN_NONDET=1)"* ]]
  # the table's row: a number, the name saying why
  row=$(printf '%s\n' "$output" | grep '^stargan-c-memory-bf16')
  [ "$(printf '%s\n' "$row" | wc -l)" -eq 1 ]
  [[ "$row" =~ ^stargan-c-memory-bf16-nondet\ \(deterministic\ bf16\ refused\)\ +[0-9]+\.[0-9]+\  ]]
  [[ "$output" == *"bf16: its row ran with SG_CUDNN_NONDET=1 (its last bits differ run to run): deterministic bf16 was refused: train-step-bench: "*"cuDNN offers only nondeterministic bf16 backward-filter algorithms"* ]]
  grep -q '^== bf16-nondet (deterministic bf16 refused) (' "$T/out/plans.txt"
}

@test "bench/train-speed (emulated bf16): a bf16 row that runs is the plain bf16 row" {
  mkdir -p "$T/out"
  run train_speed
  echo "$output"
  [ "$status" -eq 0 ]
  row=$(printf '%s\n' "$output" | grep '^stargan-c-memory-bf16')
  [[ "$row" =~ ^stargan-c-memory-bf16\ +[0-9]+\.[0-9]+\  ]]
  [[ "$output" != *"deterministic bf16 refused"* ]]
}
