#!/usr/bin/env bats
# sg-train --device cuda on the CPU emulation of CUDA and cuDNN (tests/emu,
# build/emu-bin/sg-train): what tests/gpu/run checks on a lent GPU (steps 2,
# 2b, 2c), here on every machine at a tiny size: equal runs, resume exactness
# under the default algorithms and under timed engines (RUN/cudnn-engines.txt
# reloaded), and running out of device memory.

EMU="$BATS_TEST_DIRNAME/../../build/emu-bin/sg-train"
EMU_SAMPLE="$BATS_TEST_DIRNAME/../../build/emu-bin/sg-sample"

setup_file() {
  [ -x "$EMU" ] || return 0
  D="$BATS_FILE_TMPDIR"
  celeb-synth -q -n 16 -o "$D/synth"
  celeb-pack -q -a "$D/synth/list_attr_celeba.txt" -i "$D/synth/img_align_celeba" \
    -s Black_Hair,Blond_Hair,Male -S 16 -o "$D/a.lmdb"
  celeb-pack -q -a "$D/synth/list_attr_celeba.txt" -i "$D/synth/img_align_celeba" \
    -s Eyeglasses,Wearing_Hat -S 16 -o "$D/b.lmdb"
}

setup() {
  [ -x "$EMU" ] || skip "no CUDA build here: $EMU"
  D="$BATS_FILE_TMPDIR"
  T="$BATS_TEST_TMPDIR"
  TINY=(--iters 8 --decay-iters 3 --save-every 4 --log-every 1 --sample-every 0 --batch 2
        --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --n-critic 2 -q --device cuda)
}

strip_timing() { sed -E 's/,"images\/s":[^,]*,"elapsed":[^}]*//' "$1"; }

# A run to 8 (extra options: the arguments; shards: $SHARDS, default a.lmdb),
# the same run's checkpoint 8 removed and resumed at 4: equal files.
resume_case() {
  local shards=(${SHARDS:-$D/a.lmdb})
  "$EMU" -o "$T/part" "${TINY[@]}" "$@" "${shards[@]}"
  mkdir -p "$T/orig"
  cp "$T/part"/ckpt/000008-* "$T/part/history.jsonl" "$T/orig/"
  echo 000004 > "$T/part/latest"
  rm "$T/part"/ckpt/000008-*
  env -u SG_CUDNN_SEARCH "$EMU" -o "$T/part" --resume -q
  for f in G D state; do
    cmp "$T/orig/000008-$f.safetensors" "$T/part/ckpt/000008-$f.safetensors"
  done
  diff <(strip_timing "$T/orig/history.jsonl") <(strip_timing "$T/part/history.jsonl")
}

@test "emulated CUDA: two equal runs write equal checkpoints" {
  export SG_CUDNN_SEARCH=legacy   # timed (the default) picks by timings, which differ between processes
  "$EMU" -o "$T/a" "${TINY[@]}" "$D/a.lmdb"
  "$EMU" -o "$T/b" "${TINY[@]}" "$D/a.lmdb"
  for f in G D state; do cmp "$T/a/ckpt/000008-$f.safetensors" "$T/b/ckpt/000008-$f.safetensors"; done
  [ "$(grep -c . "$T/a/history.jsonl")" = 8 ]
}

@test "emulated CUDA: a resumed run repeats the uninterrupted one bit for bit (default algorithms)" {
  resume_case
}

@test "emulated CUDA: resume under timed engines reloads RUN/cudnn-engines.txt" {
  export SG_CUDNN_SEARCH=timed
  resume_case
  [ -s "$T/part/cudnn-engines.txt" ]
  grep -q "engine" "$T/part/cudnn-engines.txt"
  # no --precision: the backend's default is what the run records
  grep -q '"device": "cuda", "precision": "tf32"' "$T/part/config.json"
}

@test "emulated CUDA: with the emulated backend API off, timed search falls back to the legacy calls" {
  SG_EMU_CUDNN_BACKEND=0 SG_CUDNN_SEARCH=timed "$EMU" -o "$T/a" "${TINY[@]}" "$D/a.lmdb"
  SG_CUDNN_SEARCH=legacy "$EMU" -o "$T/b" "${TINY[@]}" "$D/a.lmdb"
  for f in G D state; do cmp "$T/a/ckpt/000008-$f.safetensors" "$T/b/ckpt/000008-$f.safetensors"; done
}

@test "emulated CUDA: two datasets with the mask vector alternate and resume bit for bit" {
  SHARDS="$D/a.lmdb $D/b.lmdb" resume_case
  grep -q '"n_datasets": 2' "$T/part/config.json"
}

@test "emulated CUDA: every iteration's losses are the CPU's (same batches, same steps)" {
  "$EMU" -o "$T/gpu" "${TINY[@]}" --precision fp32 "$D/a.lmdb"
  sg-train -o "$T/cpu" --iters 8 --decay-iters 3 --save-every 4 --log-every 1 --sample-every 0 --batch 2 \
    --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --n-critic 2 -q --device cpu --threads 1 "$D/a.lmdb"
  # float sums in other orders, so agreement to 1e-4 of each loss's size (seen:
  # under 1e-6), not bit for bit; a wrong batch or step differs by far more
  /usr/bin/python3 - "$T/gpu/history.jsonl" "$T/cpu/history.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
worst = 0
for x, y in zip(a, b):
    for k, v in y.items():
        if "/loss_" in k:
            worst = max(worst, abs(x[k] - v) / (abs(v) + 1e-3))
print("worst relative difference", worst)
sys.exit(0 if len(a) == len(b) == 8 and worst <= 1e-4 else 1)
PY
}

@test "emulated CUDA: bf16 convolutions and 3-channel padding train and resume bit for bit" {
  export SG_CUDA_PAD3=8
  resume_case --precision bf16
  grep -q '"precision": *"bf16"\|"precision":"bf16"' "$T/part/config.json"
}

@test "emulated CUDA: a resume computes as the run did: its device and precision are recorded" {
  resume_case --precision fp32
  grep -q '"device": "cuda", "precision": "fp32"' "$T/part/config.json"
  # another precision given: allowed, with a warning
  echo 000004 > "$T/part/latest"
  run "$EMU" -o "$T/part" --resume -q --precision tf32
  [ "$status" -eq 0 ]
  [[ "$output" == *"--precision tf32: the run trained with fp32"* ]]
  # the run's device gone: one line that says how to go on
  run env SG_EMU_NO_DEVICE=1 "$EMU" -o "$T/part" --resume -q
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"the run trained on cuda; --device cpu continues it on the CPU"* ]]
}

@test "emulated CUDA: --resume at another precision is one line (the run's engines file, made for its precision, is not read); a damaged one or one of another GPU is still said" {
  export SG_CUDNN_SEARCH=timed
  "$EMU" -o "$T/r0" "${TINY[@]}" "$D/a.lmdb"
  grep -qx 'precision tf32' "$T/r0/cudnn-engines.txt"
  echo 000004 > "$T/r0/latest"
  local e="$T/r/cudnn-engines.txt" tail="the resumed run may differ from an uninterrupted one in the last bits"
  rm -rf "$T/r"; cp -r "$T/r0" "$T/r"
  run "$EMU" -o "$T/r" --resume -q --precision fp32
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: --precision fp32: the run trained with tf32; from here on it does not repeat an uninterrupted run" ]
  # the engines chosen under fp32 replace the file
  grep -qx 'precision fp32' "$e"
  # damaged: said, the precision too
  rm -rf "$T/r"; cp -r "$T/r0" "$T/r"
  echo "not an engines file" > "$e"
  run "$EMU" -o "$T/r" --resume -q --precision fp32
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = "sg-train: --precision fp32: the run trained with tf32; from here on it does not repeat an uninterrupted run" ]
  # the file named once (review-fuzz22 F5: "$e: $e line 1")
  [[ "${lines[1]}" == "sg-train: $e line 1: expected"*"; $tail" ]]
  # made for another GPU, the precision unchanged: said
  rm -rf "$T/r"; cp -r "$T/r0" "$T/r"
  sed -i 's/^device .*/device Another GPU/' "$e"
  run "$EMU" -o "$T/r" --resume -q
  [ "$status" -eq 0 ]
  [[ "$output" == "sg-train: $e: made for Another GPU / "*"/ tf32, this is "*"/ tf32; choosing anew; $tail" ]]
  [ "${#lines[@]}" -eq 1 ]
}

@test "emulated CUDA: --resume on another device than the run's warns in one line, --device auto too" {
  local opts=(--iters 2 --batch 2 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --sample-every 0 -q)
  local tail="from here on it does not repeat an uninterrupted run"
  "$EMU" -o "$T/gpu" "${opts[@]}" --device cuda "$D/a.lmdb"
  # no GPU: auto falls back to the CPU, and says so even in a log, with why
  run env SG_EMU_NO_DEVICE=1 "$EMU" -o "$T/gpu" --resume -q --iters 3 --device auto
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [ "$output" = "sg-train: --device auto: no CUDA GPU found; training on the CPU, but the run trained on cuda: $tail" ]
  grep -q '"device": "cpu"' "$T/gpu/config.json"
  # the other way: auto finds the GPU for a run that trained on the CPU
  sg-train -o "$T/cpu" "${opts[@]}" --device cpu "$D/a.lmdb"
  run "$EMU" -o "$T/cpu" --resume -q --iters 3 --device auto
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: --device auto: training on the GPU, but the run trained on cpu: $tail" ]
  # auto on the run's own device, and a device given that is the run's: nothing to say
  run "$EMU" -o "$T/cpu" --resume -q --iters 4 --device auto
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run "$EMU" -o "$T/cpu" --resume -q --iters 5 --device cuda:0
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run "$EMU" -o "$T/cpu" --resume -q --iters 6 --device cpu
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: --device cpu: the run trained on cuda; $tail" ]
}

@test "emulated CUDA: --resume on a device or of a run that cannot be opened is one line: no warning of a change before it" {
  local opts=(--iters 2 --batch 2 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --sample-every 0 -q)
  sg-train -o "$T/cpu" "${opts[@]}" --device cpu "$D/a.lmdb"
  run env SG_EMU_NO_DEVICE=1 "$EMU" -o "$T/cpu" --resume -q --iters 3 --device cuda
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: --device cuda: no CUDA GPU found"* ]]
  "$EMU" -o "$T/gpu" "${opts[@]}" --device cuda --precision fp32 "$D/a.lmdb"
  run "$EMU" -o "$T/gpu" --resume -q --iters 3 --device cuda:1 --precision tf32
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: --device cuda:1: CUDA device 1 does not exist"* ]]
  # the device opened, the run not (another dataset's shard): the error alone
  run "$EMU" -o "$T/gpu" --resume -q --iters 3 --device cpu "$D/b.lmdb"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: $D/b.lmdb: labels (2, multi-hot) differ from the run's dataset a"* ]]
  # a plain --resume of a CUDA run with no GPU stays an error that says how to go on
  run env SG_EMU_NO_DEVICE=1 "$EMU" -o "$T/gpu" --resume -q --iters 3
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"(the run trained on cuda; --device cpu continues it on the CPU, not bit for bit)" ]]
  grep -q '"device": "cuda", "precision": "fp32"' "$T/gpu/config.json"
}

@test "emulated CUDA: sg-sample --device cuda draws what the CPU draws" {
  "$EMU" -o "$T/run" "${TINY[@]}" "$D/a.lmdb"
  "$EMU_SAMPLE" --ckpt "$T/run" --data "$D/a.lmdb" --count 3 --each --device cuda --precision fp32 -o "$T/gpu"
  sg-sample --ckpt "$T/run" --data "$D/a.lmdb" --count 3 --each --device cpu -o "$T/cpu"
  [ "$(ls "$T/gpu")" = "$(ls "$T/cpu")" ]
  cmp "$T/gpu/targets.tsv" "$T/cpu/targets.tsv"
  # 8-bit pictures of float outputs that differ by rounding: a level at most
  /usr/bin/python3 - "$T/gpu" "$T/cpu" <<'PY'
import os, sys
from PIL import Image
worst = 0
names = sorted(f for f in os.listdir(sys.argv[1]) if f.endswith(".png"))
assert len(names) > 3, names
for f in names:
    a = Image.open(os.path.join(sys.argv[1], f)).tobytes()
    b = Image.open(os.path.join(sys.argv[2], f)).tobytes()
    assert len(a) == len(b), f
    worst = max(worst, max(abs(x - y) for x, y in zip(a, b)))
print("worst difference", worst)
sys.exit(0 if worst <= 1 else 1)
PY
}

@test "emulated CUDA: out of device memory, wherever it happens, is one line and exit 1" {
  # G at 3861 channels (the most within cuDNN's 2^31-1 values per filter):
  # ~122 GB of parameters on a device of 24 GiB
  run "$EMU" -o "$T/big" --iters 2 --batch 4 --g-conv-dim 3861 -q --device cuda "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: "*"out of memory"* ]]
  # every device size in 512 KiB steps until the run fits: the backend, the
  # model, then the first iteration's buffers run out in turn; with the
  # engine search too (its buffers missing only skip the search)
  local kib stages search
  for search in legacy heuristic; do
    stages=""
    for kib in $(seq 512 512 65536); do
      run env SG_EMU_MEMORY_KIB=$kib SG_CUDNN_SEARCH=$search "$EMU" -o "$T/r$search$kib" --iters 2 \
        --log-every 1 --sample-every 0 --save-every 0 --batch 2 --g-conv-dim 32 --d-conv-dim 32 \
        --g-repeat 1 -q --device cuda "$D/a.lmdb"
      [ "$status" -eq 0 ] && break
      echo "$search, $kib KiB: $output"
      [ "$status" -eq 1 ]
      [ "${#lines[@]}" -eq 1 ]
      [[ "$output" == "sg-train: "*"out of memory"* ]]
      case "$output" in *"iteration 1"*) stages="$stages iteration";; *"model"*) stages="$stages model";; esac
    done
    [ "$status" -eq 0 ]
    [[ "$stages" == *model* ]]
    [[ "$stages" == *iteration* ]]
  done
}

@test "emulated CUDA: no device is one line and exit 1, never a CPU fallback" {
  run env SG_EMU_NO_DEVICE=1 "$EMU" -o "$T/r" "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: --device cuda: "* ]]
  [ ! -e "$T/r/history.jsonl" ]
}

@test "emulated CUDA: SG_CUDA_GEMM_MAX_PIXELS without a cuBLAS to load: one line at start naming the switch, exit 1" {
  run env SG_EMU_NO_CUBLAS=1 SG_CUDA_GEMM_MAX_PIXELS=16 "$EMU" -o "$T/r" "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: --device cuda: "*"SG_CUDA_GEMM_MAX_PIXELS: cannot load cuBLAS"* ]]
  [ ! -e "$T/r/history.jsonl" ]
  # --device auto: the same error, not a CPU fallback (a switch the user set is not a missing GPU)
  run env SG_EMU_NO_CUBLAS=1 SG_CUDA_GEMM_MAX_PIXELS=16 "$EMU" -o "$T/r3" "${TINY[@]}" --device auto "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: --device auto: "*"SG_CUDA_GEMM_MAX_PIXELS: cannot load cuBLAS"* ]]
  [ ! -e "$T/r3/history.jsonl" ]
  # the switch unset (cuDNN everywhere, the default), or where the path never
  # applies (bf16): cuBLAS is never needed
  run env SG_EMU_NO_CUBLAS=1 "$EMU" -o "$T/r2" "${TINY[@]}" -q "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ -s "$T/r2/history.jsonl" ]
  run env SG_EMU_NO_CUBLAS=1 SG_CUDA_GEMM_MAX_PIXELS=16 "$EMU" -o "$T/r4" "${TINY[@]}" --precision bf16 -q "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ -s "$T/r4/history.jsonl" ]
}

@test "emulated CUDA: --device cuda:N picks GPU N; a missing one is one line and exit 1" {
  run "$EMU" -o "$T/r1" "${TINY[@]}" --device cuda:1 "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: --device cuda:1: CUDA device 1 does not exist (1 device present)"* ]]
  [ ! -e "$T/r1/history.jsonl" ]
  run "$EMU" -o "$T/r2" "${TINY[@]}" --device cuda:x "$D/a.lmdb"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--device: expected cpu, cuda, cuda:N or auto, not 'cuda:x'"* ]]
  # cuda:0 is the run's kind of device: a resume on it warns of nothing and
  # repeats the uninterrupted run (trained on plain cuda)
  "$EMU" -o "$T/part" "${TINY[@]}" "$D/a.lmdb"
  mkdir -p "$T/orig"
  cp "$T/part"/ckpt/000008-G.safetensors "$T/part/history.jsonl" "$T/orig/"
  echo 000004 > "$T/part/latest"
  rm "$T/part"/ckpt/000008-*
  run "$EMU" -o "$T/part" --resume -q --device cuda:0
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  cmp "$T/orig/000008-G.safetensors" "$T/part/ckpt/000008-G.safetensors"
  diff <(strip_timing "$T/orig/history.jsonl") <(strip_timing "$T/part/history.jsonl")
}

# Sends SIGINT to process $1 once run directory $2's history has $3 lines
# (a minute at most: a loaded machine); sets status to its exit status.
interrupt_after_logged() {
  for _ in $(seq 1200); do
    [ -s "$2/history.jsonl" ] && [ "$(wc -l < "$2/history.jsonl")" -ge "$3" ] && break
    sleep 0.05
  done
  kill -INT "$1"
  status=0
  wait "$1" || status=$?
}

@test "emulated CUDA: SIGINT finishes the iteration, writes a checkpoint, exits 130; resume continues" {
  "$EMU" -o "$T/r" "${TINY[@]}" --iters 1000000 --log-every 1 --save-every 0 "$D/a.lmdb" 2> "$T/err" &
  interrupt_after_logged $! "$T/r" 3
  [ "$status" -eq 130 ]
  n=$(cat "$T/r/latest")
  [ -s "$T/r/ckpt/$n-state.safetensors" ]
  [ "$(wc -l < "$T/r/history.jsonl")" -eq "$((10#$n))" ]
  run "$EMU" -o "$T/r" --resume -q --iters $((10#$n + 2))
  [ "$status" -eq 0 ]
  [ "$(cat "$T/r/latest")" = "$(printf %06d $((10#$n + 2)))" ]
}

# SG_OVERLAP_G=1: the next batch is queued before each D step that no G step
# or checkpoint follows, and its G forward runs on the backend's second lane
# beside that D step (lib/model.h sg_model_queue_batch_drawn).
@test "emulated CUDA: SG_OVERLAP_G=1 writes the plain run's checkpoints and history, and resumes bit for bit" {
  # legacy: the same engines in both processes (timed picks by timings)
  SG_CUDNN_SEARCH=legacy SG_OVERLAP_G=0 "$EMU" -o "$T/plain" "${TINY[@]}" --n-critic 3 "$D/a.lmdb"
  export SG_OVERLAP_G=1
  SG_CUDNN_SEARCH=legacy "$EMU" -o "$T/ov" "${TINY[@]}" --n-critic 3 "$D/a.lmdb"
  for n in 000004 000008; do
    for f in G D state; do cmp "$T/plain/ckpt/$n-$f.safetensors" "$T/ov/ckpt/$n-$f.safetensors"; done
  done
  diff <(strip_timing "$T/plain/history.jsonl") <(strip_timing "$T/ov/history.jsonl")
  resume_case --n-critic 3
}

@test "emulated CUDA: SG_OVERLAP_G=1: SIGINT's checkpoint is the plain run's at that iteration" {
  # n_critic 50: almost every iteration queues the next batch, so the stop
  # almost always comes while one is queued and must end an iteration later
  local opts=("${TINY[@]}" --n-critic 50 --iters 1000000 --log-every 1 --save-every 0)
  export SG_CUDNN_SEARCH=legacy   # the same engines in both processes
  SG_OVERLAP_G=1 "$EMU" -o "$T/ov" "${opts[@]}" "$D/a.lmdb" 2> "$T/err" &
  interrupt_after_logged $! "$T/ov" 5
  [ "$status" -eq 130 ]
  n=$(cat "$T/ov/latest")
  # the plain run, stopped once it has written checkpoint n
  SG_OVERLAP_G=0 "$EMU" -o "$T/plain" "${TINY[@]}" --n-critic 50 --iters 1000000 --log-every 1 --save-every $((10#$n)) \
    "$D/a.lmdb" 2> /dev/null &
  local pid=$!
  for _ in $(seq 1200); do [ -s "$T/plain/ckpt/$n-state.safetensors" ] && break; sleep 0.05; done
  kill -INT "$pid"
  wait "$pid" || true
  for f in G D state; do cmp "$T/plain/ckpt/$n-$f.safetensors" "$T/ov/ckpt/$n-$f.safetensors"; done
  head -n $((10#$n)) "$T/plain/history.jsonl" > "$T/plain-head.jsonl"
  diff <(strip_timing "$T/ov/history.jsonl") <(strip_timing "$T/plain-head.jsonl")
}

@test "emulated CUDA: SG_CUDNN_ENGINES seeds a new run with another run's engine choices: the same results" {
  export SG_CUDNN_SEARCH=timed
  "$EMU" -o "$T/a" "${TINY[@]}" "$D/a.lmdb"
  [ -s "$T/a/cudnn-engines.txt" ]
  SG_CUDNN_ENGINES="$T/a/cudnn-engines.txt" "$EMU" -o "$T/b" "${TINY[@]}" "$D/a.lmdb"
  for f in G D state; do cmp "$T/a/ckpt/000008-$f.safetensors" "$T/b/ckpt/000008-$f.safetensors"; done
  cmp "$T/a/cudnn-engines.txt" "$T/b/cudnn-engines.txt"
  # a file that cannot be used: said, and the run chooses anew
  echo "not an engines file" > "$T/bad.txt"
  run env SG_CUDNN_ENGINES="$T/bad.txt" "$EMU" -o "$T/c" "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [[ "$output" == "sg-train: SG_CUDNN_ENGINES=$T/bad.txt line 1: expected"*"; choosing anew" ]]
  [ -s "$T/c/ckpt/000008-G.safetensors" ]
}

@test "emulated CUDA: SG_CUDNN_NONDET=1 is said to give up bit-exact resumes (not on the CPU)" {
  SG_CUDNN_NONDET=1 run "$EMU" -o "$T/n" "${TINY[@]}" --iters 2 "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [[ "$output" == *"SG_CUDNN_NONDET=1: nondeterministic cuDNN engines and legacy algorithms may run; a resumed run will not repeat an uninterrupted one bit for bit"* ]]
  run "$EMU" -o "$T/d" "${TINY[@]}" --iters 2 "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [[ "$output" != *"SG_CUDNN_NONDET"* ]]
  # the CPU has no cuDNN engines: nothing to say
  SG_CUDNN_NONDET=1 run "$EMU" -o "$T/c" "${TINY[@]}" --iters 2 --device cpu "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [[ "$output" != *"SG_CUDNN_NONDET"* ]]
}

# The sample grid is host memory on every backend, taken at the first sample
# (--sample-every in): a run that cannot afford it stops at the start. The
# model's memory is not counted on CUDA (cudaMalloc fails cleanly).
# SG_TEST_MEMORY_KIB (lib/sysmem.h, a test hook) plays a machine of
# LIMIT,AVAILABLE KiB.
@test "emulated CUDA: a sample grid over the machine's memory is refused at the start; over what is available, a warning" {
  run env SG_TEST_MEMORY_KIB=100,100 "$EMU" -o "$T/r" "${TINY[@]}" --sample-every 4 "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: the sample grid (8 images to 3 targets at 16 px) needs about "*" kB of memory; this machine has 102 kB (102 kB available): use --sample-every 0 (no samples)" ]]
  [ ! -e "$T/r" ]
  run env SG_TEST_MEMORY_KIB=100,100 "$EMU" -o "$T/r" "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run env SG_TEST_MEMORY_KIB=100000,100 "$EMU" -o "$T/r2" "${TINY[@]}" --sample-every 4 "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [[ "$output" == "sg-train: the sample grid (8 images to 3 targets at 16 px) needs about "*" kB of memory, more than the 102 kB available now (of 102 MB): training goes on, but may swap, or be killed if other processes need theirs" ]]
  [ -e "$T/r2/samples/000008.png" ]
}

@test "emulated CUDA: a GPU older than the build's CUDA_ARCH is one line naming the architectures built for and how to rebuild" {
  run env SG_EMU_COMPUTE_CAPABILITY=8.0 "$EMU" -o "$T/old" "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"has compute capability 8.0; this build was compiled for CUDA_ARCH=90 (sm_90 or newer): rebuild with make CUDA_ARCH=80 (untested; the kernels are tested on sm_90)"* ]]
  [ ! -e "$T/old/ckpt" ]
}

@test "emulated CUDA: cuDNN missing where there is a GPU names cuDNN and what to install; where there is none, the missing GPU" {
  # a library that does not load stands for a missing cuDNN (kernels/cudnn_api.cu)
  export SG_TEST_CUDNN_LIBRARY=/nonexistent/libcudnn.so.9
  for dev in cuda cuda:0; do
    run "$EMU" -o "$T/r" "${TINY[@]}" --device $dev "$D/a.lmdb"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "sg-train: --device $dev: cannot load cuDNN (/nonexistent/libcudnn.so.9): "*"No such file or directory; install cuDNN "*" or use --device cpu" ]]
    [ ! -e "$T/r" ]
  done
  # no GPU either: that is said, which installing cuDNN would not change
  run env SG_EMU_NO_DEVICE=1 "$EMU" -o "$T/r" "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: --device cuda: no CUDA GPU found" ]
  # and so in auto's line on a resume of a CUDA run
  env -u SG_TEST_CUDNN_LIBRARY "$EMU" -o "$T/gpu" --iters 2 --batch 2 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 \
    --sample-every 0 -q --device cuda "$D/a.lmdb"
  run env SG_EMU_NO_DEVICE=1 "$EMU" -o "$T/gpu" --resume -q --iters 3 --device auto
  [ "$status" -eq 0 ]
  [[ "$output" == "sg-train: --device auto: no CUDA GPU found; training on the CPU, but the run trained on cuda: "* ]]
}
