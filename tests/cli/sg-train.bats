#!/usr/bin/env bats
# sg-train: run directory contents, exact resume, signals, non-finite stop, bad input
# that writes nothing. Tiny shards (16 px, 24 images) and a tiny model: seconds.
load helpers

setup_file() {
  D="$BATS_FILE_TMPDIR"
  celeb-synth -q -n 24 -o "$D/synth"
  celeb-pack -q -a "$D/synth/list_attr_celeba.txt" -i "$D/synth/img_align_celeba" \
    -s Black_Hair,Blond_Hair,Brown_Hair,Male -S 16 -o "$D/a.lmdb"
  celeb-pack -q -a "$D/synth/list_attr_celeba.txt" -i "$D/synth/img_align_celeba" \
    -s Eyeglasses,Wearing_Hat -S 16 -o "$D/b.lmdb"
  celeb-pack -q -a "$D/synth/list_attr_celeba.txt" -i "$D/synth/img_align_celeba" \
    -s Male -S 32 -o "$D/big.lmdb"
  # A one-hot dataset: two classes from folders.
  mkdir -p "$D/faces/calm" "$D/faces/smile"
  for i in 000001 000002 000003 000004 000005 000006; do cp "$D/synth/img_align_celeba/$i.jpg" "$D/faces/calm/"; done
  for i in 000007 000008 000009 000010 000011 000012; do cp "$D/synth/img_align_celeba/$i.jpg" "$D/faces/smile/"; done
  celeb-pack -q -F "$D/faces" -c 178 -S 16 -o "$D/onehot.lmdb"
}

setup() {
  D="$BATS_FILE_TMPDIR"
  T="$BATS_TEST_TMPDIR"
  TINY=(--batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --threads 1 --device cpu -q)
}

# A test that starts an endless run sets BG_PID: a failed assertion must not leave it running.
teardown() {
  if [ -n "${BG_PID:-}" ]; then kill -KILL "$BG_PID" 2>/dev/null || true; fi
}

# Sends SIGINT to the background run $1 (whose pid is in BG_PID) and waits
# for it: its exit status in $status, BG_PID cleared (nothing left to kill).
interrupt_and_wait() {
  kill -INT "$1"
  status=0
  wait "$1" || status=$?
  BG_PID=
}

# The line that a first stop signal in training ($1: INT, TERM or HUP) says
# at once, from the handler; with "wait" as $2, in a wait for space.
answer_line() {
  local verb again
  case $1 in
    INT) verb=interrupted again="^C again" ;;
    TERM) verb=terminated again="a second SIGTERM or ^C" ;;
    HUP) verb="hung up" again="a SIGINT or SIGTERM" ;;
  esac
  if [ "${2:-}" = wait ]; then
    echo "sg-train: $verb: ending the wait for space with one last try, then stopping ($again stops at once, giving up that write)"
  else
    echo "sg-train: $verb: stopping at the end of the iteration under way, with a checkpoint ($again stops at once, without it)"
  fi
}

# history.jsonl without the timing fields.
strip_timing() { sed -E 's/,"images\/s":[^,]*,"elapsed":[^}]*//' "$1"; }

# Tensor names, dtypes and shapes of a safetensors file, one per line (python3's json only).
st_tensors() {
  /usr/bin/python3 - "$1" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
for k, v in h.items():
    if k != "__metadata__":
        print(k, v["dtype"], v["shape"])
PY
}

st_meta() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
print(json.loads(b[8:8 + n])["__metadata__"][sys.argv[2]])
PY
}

tree_sum() { (cd "$1" && find . -type f | sort | xargs md5sum); }

# Waits (up to a minute, for a loaded machine; the caller asserts what it
# needs) until the run in $T/r has at least $1 lines of history.
wait_history_lines() {
  for _ in $(seq 1200); do
    [ -s "$T/r/history.jsonl" ] && [ "$(wc -l < "$T/r/history.jsonl")" -ge "$1" ] && return 0
    sleep 0.05
  done
  return 0
}

# Starts an endless tiny training run (stderr to $T/err), waits until its history
# has LINES lines, sends it SIGNAL and sets status to its exit status.
signal_long_run() {
  # SIGHUP at its default even when the suite runs under nohup (sg-train keeps
  # an ignored SIGHUP ignored: the run would never stop)
  env --default-signal=HUP sg-train -o "$T/r" --iters 1000000 --log-every 1 --sample-every 0 --save-every 0 "${TINY[@]}" "$D/a.lmdb" 2> "$T/err" &
  local pid=$!
  wait_history_lines "$2"
  kill -"$1" "$pid"
  status=0
  wait "$pid" || status=$?
}

# Runs sg-train -o RUN ARGS... and needs exit 1, the message MESSAGE (a glob:
# "*" stands for the varying parts) and RUN left byte for byte as it was.
refused_run_unchanged() {
  local run_dir=$1 message=$2 before
  shift 2
  before=$(tree_sum "$run_dir")
  run sg-train -o "$run_dir" "$@"
  [ "$status" -eq 1 ]
  [[ "$output" == $message ]]
  [ "$(tree_sum "$run_dir")" = "$before" ]
}

@test "--help and --version" {
  run sg-train --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"Usage: sg-train -o RUN"* ]]
  [[ "$output" == *"--resume"* ]]
  run sg-train --version
  [ "$status" -eq 0 ]
  [[ "$output" == "sg-train "* ]]
}

@test "usage errors exit 2" {
  run sg-train "$D/a.lmdb"
  [ "$status" -eq 2 ]
  [[ "$output" == *"no run directory"* ]]
  run sg-train -o "$T/r"
  [ "$status" -eq 2 ]
  run sg-train -o "$T/r" --device tpu "$D/a.lmdb"
  [ "$status" -eq 2 ]
  run sg-train -o "$T/r" --resume --force
  [ "$status" -eq 2 ]
  run sg-train -o "$T/r" --batch 0 "$D/a.lmdb"
  [ "$status" -eq 2 ]
  run sg-train -o "$T/r" --target-labels maybe "$D/a.lmdb"
  [ "$status" -eq 2 ]
  run sg-train -o "$T/r" --precision fp16 "$D/a.lmdb"
  [ "$status" -eq 2 ]
  [[ "$output" == *"expected tf32, fp32 or bf16"* ]]
  run sg-train -o "" "$D/a.lmdb"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-train: -o/--output: empty path" ]
  # a beta that is 1 as a float (0.999999999) is refused as an option, with its range
  run sg-train -o "$T/r" --beta2 0.999999999 "$D/a.lmdb"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-train: --beta2: 0.999999999 is out of range [0, 0.9999999]" ]
  run sg-train -o "$T/r" --beta1 0.9999999 "$D/a.lmdb"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-train: --beta1: 0.9999999 is out of range [0, 0.999999]" ]
  [ ! -e "$T/r" ]
  # a run is a directory: "-" is no standard output for it (it trained into a directory named -)
  mkdir "$T/cwd"
  cd "$T/cwd"
  run sg-train -o - "${TINY[@]}" --iters 1 --sample-every 0 "$D/a.lmdb"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-train: -o/--output: a run is a directory and cannot go to standard output; for a directory named -, give -o ./-" ]
  [ "${lines[1]}" = "Try 'sg-train --help'." ]
  [ "${#lines[@]}" -eq 2 ]
  [ ! -e "$T/cwd/-" ]
  run sg-train -o ./- "${TINY[@]}" --iters 1 --sample-every 0 "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ "$(cat "$T/cwd/-/latest")" = 000001 ]
}

@test "names and values in messages are quoted escaped: options, config.json, checkpoint metadata" {
  run sg-train -o "$T/r" --device $'cpu\e[2J' "$D/a.lmdb"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--device: expected cpu, cuda, cuda:N or auto, not 'cpu\\x1b[2J'"* ]]
  run sg-train -o "$T/r" --precision $'\xff\xfe' "$D/a.lmdb"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--precision: expected tf32, fp32 or bf16, not '\\xff\\xfe'"* ]]
  run sg-train -o "$T/r" --target-labels "$(printf 'p%.0s' {1..50})" "$D/a.lmdb"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--target-labels: 'pppppppppppppppppppppppppppppppppppppppp...' is not permute or random"* ]]
  run sg-train -o "$T/r" --lambda-gp $'1\e[1m' "$D/a.lmdb"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--lambda-gp: '1\\x1b[1m' is not a number"* ]]
  only_printable "$output"
  [ ! -e "$T/r" ]
  # a dataset name and label kind from config.json, and from a checkpoint's metadata
  sg-train -o "$T/r" --iters 1 "${TINY[@]}" "$D/a.lmdb"
  cp -r "$T/r" "$T/r2"
  /usr/bin/python3 - "$T/r/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["datasets"][0]["name"] = "\x1b[2Ja"
c["datasets"][0]["label_kind"] = "multi-hot\x07"
json.dump(c, open(sys.argv[1], "w"))
PY
  run sg-train -o "$T/r" --resume --iters 2 -q "$D/big.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $D/big.lmdb: 32x32 images, but the run's dataset \\x1b[2Ja has 16 px images; give the run's shards (--resume without shards takes them)" ]
  run sg-train -o "$T/r" --resume --iters 2 -q
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $D/a.lmdb: labels (4, multi-hot) differ from the run's dataset \\x1b[2Ja (4, multi-hot\\x07): another dataset?" ]
  /usr/bin/python3 - "$T/r2/ckpt/000001-G.safetensors" <<'PY'
import json, struct, sys
path = sys.argv[1]
b = open(path, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
ds = json.loads(h["__metadata__"]["datasets"])
ds[0]["name"] = "\x1b[2Ja"
ds[0]["labels"][-1] = "Mal"
h["__metadata__"]["datasets"] = json.dumps(ds)
text = json.dumps(h).encode()
text += b" " * (-len(text) % 8)
open(path, "wb").write(struct.pack("<Q", len(text)) + text + b[8 + n:])
PY
  run sg-train -o "$T/r2" --resume --iters 2 -q
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/r2/ckpt/000001-G.safetensors: the labels of dataset \\x1b[2Ja differ from shard $D/a.lmdb" ]
}

@test "--precision bf16 is accepted (the CPU computes in float32 whatever it says)" {
  sg-train -o "$T/a" --iters 2 --log-every 1 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  sg-train -o "$T/b" --iters 2 --log-every 1 --sample-every 0 --precision bf16 "${TINY[@]}" "$D/a.lmdb"
  diff <(strip_timing "$T/a/history.jsonl") <(strip_timing "$T/b/history.jsonl")
}

@test "one dataset: config, history, samples, checkpoints with the reference's tensor names" {
  run sg-train -o "$T/r" --iters 10 --log-every 2 --sample-every 5 --save-every 5 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ "$(cat "$T/r/latest")" = 000010 ]
  [ -s "$T/r/ckpt/000005-G.safetensors" ]
  [ -s "$T/r/ckpt/000010-D.safetensors" ]
  [ -s "$T/r/ckpt/000010-state.safetensors" ]
  [ -s "$T/r/samples/000005.png" ]
  [ -s "$T/r/samples/000010.png" ]
  [ "$(wc -l < "$T/r/history.jsonl")" -eq 5 ]
  # Iterations 2, 4, ..., 10; G terms where G stepped (10); lr decays linearly to 1e-5 at the last.
  run /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["iteration"] for r in rows] == [2, 4, 6, 8, 10], rows
for r in rows:
    for k in ("dataset", "D/loss_real", "D/loss_fake", "D/loss_cls", "D/loss_gp", "lr", "images/s", "elapsed"):
        assert k in r, (k, r)
    assert ("G/loss_rec" in r) == (r["iteration"] % 5 == 0), r
assert rows[0]["dataset"] == "a"
assert abs(rows[-1]["lr"] - 1e-5) < 1e-12, rows[-1]["lr"]
' "$T/r/history.jsonl"
  [ "$status" -eq 0 ]
  # Sample grid: 8 rows of 16 px, input + 4 targets = 5 columns.
  [ "$(od -An -tu1 -j16 -N8 "$T/r/samples/000010.png" | awk '{print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8}')" = 80x128 ]
  run st_tensors "$T/r/ckpt/000010-G.safetensors"
  [ "${lines[0]}" = "main.0.weight F32 [4, 7, 7, 7]" ]
  [[ "$output" == *"main.1.num_batches_tracked I64 []"* ]]
  run st_tensors "$T/r/ckpt/000010-D.safetensors"
  [[ "$output" == *"conv1.weight F32 [1, 16, 3, 3]"* ]]
  [[ "$output" == *"conv2.weight F32 [4, 16, 2, 2]"* ]]
  [ "$(st_meta "$T/r/ckpt/000010-G.safetensors" step)" = 10 ]
  [ "$(st_meta "$T/r/ckpt/000010-G.safetensors" label_names)" = '["Black_Hair","Blond_Hair","Brown_Hair","Male"]' ]
  run st_tensors "$T/r/ckpt/000010-state.safetensors"
  [[ "$output" == *"G.exp_avg.main.0.weight F32 [4, 7, 7, 7]"* ]]
  [[ "$output" == *"D.exp_avg_sq.conv2.weight F32 [4, 16, 2, 2]"* ]]
  [[ "$output" == *"iteration I64 [1]"* ]]
  grep -q '"d_repeat": 3' "$T/r/config.json"
}

@test "resume after a crash is exact: weights, optimizer state, history, samples" {
  args=(--iters 16 --decay-iters 6 --log-every 1 --sample-every 4 --save-every 8 "${TINY[@]}")
  sg-train -o "$T/straight" "${args[@]}" "$D/a.lmdb" "$D/b.lmdb"
  sg-train -o "$T/crash" "${args[@]}" "$D/a.lmdb" "$D/b.lmdb"
  # Pretend the run died after logging iterations 9..16 but before saving 16.
  echo 000008 > "$T/crash/latest"
  rm "$T/crash"/ckpt/000016-*
  # ...with a torn last history line and the temporary file of a killed save.
  printf '{"iteration":17,"dataset":"a","D/lo' >> "$T/crash/history.jsonl"
  echo partial > "$T/crash/ckpt/000016-G.safetensors.tmp.99999"
  echo partial > "$T/crash/ckpt/000016-D.safetensors.tmp.99999.3"   # (an earlier version's had no .N)
  # ...and those of the run's other files, written the same way (NAME.tmp.PID.N, then renamed)
  for f in latest config.json history.jsonl cudnn-engines.txt samples/000016.png; do
    echo partial > "$T/crash/$f.tmp.99998"
    echo partial > "$T/crash/$f.tmp.99998.12"
  done
  echo "a user's file" > "$T/crash/notes.tmp.txt"
  echo "a user's file" > "$T/crash/config.json.tmp.bak"   # (one that only looks like a temporary name)
  run sg-train -o "$T/crash" --resume
  [ "$status" -eq 0 ]
  for f in G D state; do cmp "$T/straight/ckpt/000016-$f.safetensors" "$T/crash/ckpt/000016-$f.safetensors"; done
  diff <(strip_timing "$T/straight/history.jsonl") <(strip_timing "$T/crash/history.jsonl")
  [ "$(wc -l < "$T/crash/history.jsonl")" -eq 16 ]
  # cut back to the checkpoint before it went on: its iterations go only forward, as sg-plot needs them
  sg-plot -q "$T/crash/history.jsonl" -o "$T/crash.png"
  cmp "$T/straight/samples/000016.png" "$T/crash/samples/000016.png"
  [ ! -e "$T/crash/ckpt/000016-G.safetensors.tmp.99999" ]
  [ -z "$(find "$T/crash" -name '*.tmp.9999*')" ]
  [ -e "$T/crash/notes.tmp.txt" ] && [ -e "$T/crash/config.json.tmp.bak" ]
}

@test "stale temporary files are all removed, also those listed after one that cannot be (the cleanup stopped there; review-diff15 2)" {
  sg-train -o "$T/r" --iters 2 --save-every 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  mkdir "$T/r/ckpt/000009-G.safetensors.tmp.99990.0"   # matches, but unlink cannot remove a directory
  for i in 1 2 3 4 5 6 7 8; do echo x > "$T/r/ckpt/00000$i-G.safetensors.tmp.99999$i"; done
  sg-train -o "$T/r" --resume --iters 3 -q
  [ -z "$(find "$T/r/ckpt" -name '*.tmp.99999*')" ] || { ls "$T/r/ckpt"; false; }
  [ -d "$T/r/ckpt/000009-G.safetensors.tmp.99990.0" ]
}

@test "k iterations + resume to N equals N straight (--iters raised on resume)" {
  args=(--decay-iters 0 --log-every 1 --sample-every 0 "${TINY[@]}")
  sg-train -o "$T/straight" --iters 12 "${args[@]}" "$D/a.lmdb" "$D/b.lmdb"
  sg-train -o "$T/split" --iters 5 "${args[@]}" "$D/a.lmdb" "$D/b.lmdb"
  [ "$(cat "$T/split/latest")" = 000005 ]
  run sg-train -o "$T/split" --resume --iters 12 -q
  [ "$status" -eq 0 ]
  for f in G D state; do cmp "$T/straight/ckpt/000012-$f.safetensors" "$T/split/ckpt/000012-$f.safetensors"; done
  diff <(strip_timing "$T/straight/history.jsonl") <(strip_timing "$T/split/history.jsonl")
  grep -q '"iters": 12' "$T/split/config.json"
  # Nothing left to do: exits 0 and changes nothing.
  before=$(tree_sum "$T/split")
  run sg-train -o "$T/split" --resume
  [ "$status" -eq 0 ]
  [ "$(tree_sum "$T/split")" = "$before" ]
  [ -z "$output" ]
  # --iters below the run's iteration: nothing trained, and it says so
  run sg-train -o "$T/split" --resume --iters 7
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: $T/split: the run is at iteration 12, past --iters 7: nothing to train" ]
  [ "$(cat "$T/split/latest")" = 000012 ]
}

@test "train longer: a resume whose --iters moves the decay window says the learning rate jumps, once; the schedule is as documented; no line when the rate stays within a factor 2" {
  sg-train -o "$T/r" --iters 40 --log-every 1 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  cp -r "$T/r" "$T/same"
  run sg-train -o "$T/r" --resume --iters 80 -q
  [ "$status" -eq 0 ]
  # iteration 40 (0-based 39) used 1e-4 x 1/40; iteration 41 under --iters 80, 1e-4 x 40/80
  [ "$output" = "sg-train: --iters 80 moves the learning-rate decay: the rate goes from 2.5e-06 to 5e-05 at iteration 41 (the linear decay now runs over iterations 1 to 80)" ]
  [ "$(sed -nE 's/^\{"iteration":(4[01]),.*"lr":([^,]*),.*/\1 \2/p' "$T/r/history.jsonl" | awk '{ printf "%s %.2g\n", $1, $2 }')" = "40 2.5e-06
41 5e-05" ]
  # D's rate alone, and a decay that covers the rest: the line names what changed
  run sg-train -o "$T/r" --resume --iters 100 --decay-iters 10 --d-lr 1e-3 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: --iters 100 --decay-iters 10 --d-lr 0.001 moves the learning-rate decay: G's rate goes from 1.2e-06 to 0.0001, D's from 1.2e-06 to 0.001 at iteration 81 (the linear decay now runs over iterations 91 to 100)" ]
  run sg-train -o "$T/r" --resume --iters 101 --decay-iters 0 --d-lr 1e-4 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: --iters 101 --decay-iters 0 --d-lr 0.0001 moves the learning-rate decay: G's rate goes from 1e-05 to 0.0001, D's from 0.0001 to 0.0001 at iteration 101 (--decay-iters 0: no decay)" ]
  # within a factor 2 (iteration 24 of 40 used 1e-4 x 17/40, 25 under --iters 44 uses 1e-4 x 20/44): nothing said
  sg-train -o "$T/w" --iters 24 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  sed -i 's/"iters": 24/"iters": 40/' "$T/w/config.json"
  run sg-train -o "$T/w" --resume --iters 44 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # a stopped run resumed with its own options: nothing said
  run sg-train -o "$T/same" --resume --iters 40 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "--keep keeps the newest checkpoints; the last iteration is always saved" {
  run sg-train -o "$T/r" --iters 11 --save-every 3 --keep 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ "$(ls "$T/r/ckpt" | tr '\n' ' ')" = "000009-D.safetensors 000009-G.safetensors 000009-state.safetensors 000011-D.safetensors 000011-G.safetensors 000011-state.safetensors " ]
  [ "$(cat "$T/r/latest")" = 000011 ]
}

# A directory under an old checkpoint's G name (D and state beside it) once
# counted as a complete checkpoint kept, and its unlink failed: every save's
# prune then failed, and with it the run.
@test "--keep: a directory or a link to nowhere named like a G file is no checkpoint: neither counted nor deleted" {
  sg-train -o "$T/r" --iters 2 --save-every 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  for s in 000000 000001; do
    cp "$T/r/ckpt/000002-D.safetensors" "$T/r/ckpt/$s-D.safetensors"
    cp "$T/r/ckpt/000002-state.safetensors" "$T/r/ckpt/$s-state.safetensors"
  done
  mkdir "$T/r/ckpt/000000-G.safetensors"
  ln -s "$T/nowhere" "$T/r/ckpt/000001-G.safetensors"
  run sg-train -o "$T/r" --resume --iters 5 --save-every 1 --keep 2 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(ls "$T/r/ckpt" | tr '\n' ' ')" = "000000-D.safetensors 000000-G.safetensors 000000-state.safetensors 000001-D.safetensors 000001-G.safetensors 000001-state.safetensors 000004-D.safetensors 000004-G.safetensors 000004-state.safetensors 000005-D.safetensors 000005-G.safetensors 000005-state.safetensors " ]
  [ -d "$T/r/ckpt/000000-G.safetensors" ] && [ -L "$T/r/ckpt/000001-G.safetensors" ]
  [ "$(cat "$T/r/latest")" = 000005 ]
}

@test "one-hot shard and a one-hot second dataset train" {
  run sg-train -o "$T/r1" --iters 5 --sample-every 5 "${TINY[@]}" "$D/onehot.lmdb"
  [ "$status" -eq 0 ]
  [ "$(st_meta "$T/r1/ckpt/000005-G.safetensors" datasets)" = '[{"name":"onehot","label_kind":"one-hot","offset":0,"labels":["calm","smile"],"crop":178}]' ]
  run sg-train -o "$T/r2" --iters 6 --sample-every 6 --log-every 1 "${TINY[@]}" "$D/a.lmdb" "$D/onehot.lmdb"
  [ "$status" -eq 0 ]
  [ "$(st_meta "$T/r2/ckpt/000006-G.safetensors" mask)" = '{"offset":6,"size":2}' ]
  [ "$(st_meta "$T/r2/ckpt/000006-G.safetensors" c_dim)" = 8 ]
  grep -q '"dataset":"onehot"' "$T/r2/history.jsonl"
}

# What sg-train(1) says of several datasets holds (review-multi20 L1-L3): it
# named neither the limit of 8 nor a run that ends within a round, and gave the
# reference's loader as the reason for dropping the last short batch.
@test "sg-train(1) on several datasets: the limit and the 9th shard's line, an --iters within a round as its example, the dropped short batch" {
  command -v groff >/dev/null || skip "no groff"
  man=$(groff -man -Tascii -rLL=5000n -rHY=0 -P-cbou "$BATS_TEST_DIRNAME/../../man/man1/sg-train.1" 2>/dev/null | tr -s ' \n' '  ')
  # the limit: as many shards as it says train (a mask entry each), one more is its line
  max=$(sed -nE 's/.*A model takes 1 to ([0-9]+) shards.*/\1/p' <<< "$man")
  line=$(sed -nE 's/.*a usage error \((sg-train: [0-9]+ shards given \(at most [0-9]+\)), exit 2\).*/\1/p' <<< "$man")
  echo "max $max; line $line"
  [ "$max" = "$(sed -nE 's/^#define SG_MAX_DATASETS ([0-9]+)$/\1/p' "$BATS_TEST_DIRNAME/../../lib/model.h")" ]
  shards=()
  for k in $(seq 1 "$max"); do cp -r "$D/a.lmdb" "$T/s$k.lmdb"; shards+=("$T/s$k.lmdb"); done
  run sg-train -o "$T/max" --iters "$max" --sample-every 0 "${TINY[@]}" "${shards[@]}"
  [ "$status" -eq 0 ]
  [ "$(st_meta "$T/max/ckpt/$(printf %06d "$max")-G.safetensors" mask)" = "{\"offset\":$((4 * max)),\"size\":$max}" ]
  cp -r "$D/a.lmdb" "$T/more.lmdb"
  run sg-train -o "$T/more" --iters 1 "${TINY[@]}" "${shards[@]}" "$T/more.lmdb"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "$line" ]
  [ "$line" = "sg-train: $((max + 1)) shards given (at most $max)" ]
  # its example of a run that ends within a round
  ex=$(sed -nE 's/.*two datasets and --iters ([0-9]+): dataset 1 trains on ([0-9]+) batches, dataset 2 on ([0-9]+)\).*/\1 \2 \3/p' <<< "$man")
  echo "example: $ex"
  read -r iters n1 n2 <<< "$ex"
  [ $((iters % 2)) -eq 1 ]
  sg-train -o "$T/odd" --iters "$iters" --log-every 1 --sample-every 0 "${TINY[@]}" "$D/a.lmdb" "$D/b.lmdb"
  [ "$(grep -c '"dataset":"a"' "$T/odd/history.jsonl")" -eq "$n1" ]
  [ "$(grep -c '"dataset":"b"' "$T/odd/history.jsonl")" -eq "$n2" ]
  [[ "$(tail -n 1 "$T/odd/history.jsonl")" == *'"dataset":"a"'* ]]
  # --iters and --decay-iters against the reference's rounds
  [[ "$man" == *"--iters N total iterations (200000 per shard: 200000 on one, 400000 on two, the reference's 200000 rounds). With n datasets each iteration trains one dataset's batch"*"the reference's num_iters N is --iters nxN"* ]]
  [[ "$man" == *"the reference's num_iters_decay M is --decay-iters nxM"* ]]
  # the last short batch: dropped by sg-train, not by the reference's loader
  [[ "$man" != *"as the reference's data loader does"* ]]
  [[ "$man" == *"the last incomplete batch is dropped"*"without drop_last, trains on it as a smaller batch"*"a shard with fewer images than --batch is an error"* ]]
}

# The reference's 200000 rounds are 200000 iterations per dataset: a run on two
# shards without --iters trained half of them.
@test "several shards: the default --iters and --decay-iters are 200000 and 100000 per shard; given ones are kept, and --resume keeps the run's" {
  sg-train -o "$T/r" --log-every 1 --sample-every 0 --save-every 0 "${TINY[@]}" "$D/a.lmdb" "$D/b.lmdb" 2> "$T/err" &
  BG_PID=$!
  wait_history_lines 1
  interrupt_and_wait "$BG_PID"
  [ "$status" -eq 130 ]
  grep -q '"iters": 400000' "$T/r/config.json"
  grep -q '"decay_iters": 200000' "$T/r/config.json"
  # --resume without them: the run's, not rescaled
  at=$(ls "$T/r/ckpt" | sed -nE 's/^0*([0-9]+)-G\.safetensors$/\1/p' | sort -n | tail -n 1)
  run sg-train -o "$T/r" --resume --iters $((at + 2)) -q
  [ "$status" -eq 0 ]
  grep -q "\"iters\": $((at + 2))" "$T/r/config.json"
  grep -q '"decay_iters": 200000' "$T/r/config.json"
  # given: as they are, also on several shards
  sg-train -o "$T/given" --iters 3 --decay-iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb" "$D/b.lmdb"
  grep -q '"iters": 3' "$T/given/config.json"
  grep -q '"decay_iters": 2' "$T/given/config.json"
  # --help says so
  run sg-train --help
  [[ "$output" == *"(200000;"*"times the shards: 400000 on two"*"(100000; times the shards; 0: none)"* ]]
}

# The reference's log, sample and save steps count rounds too: on two shards
# its log every 10 rounds is every 20 iterations.
@test "several shards: the default --log-every, --sample-every and --save-every are 10, 1000 and 10000 per shard; given ones are kept, and --resume keeps the run's" {
  sg-train -o "$T/r" --iters 40 "${TINY[@]}" "$D/a.lmdb" "$D/b.lmdb"
  grep -q '"log_every": 20,' "$T/r/config.json"
  grep -q '"sample_every": 2000,' "$T/r/config.json"
  grep -q '"save_every": 20000,' "$T/r/config.json"
  # the rounds holding every 20th iteration are logged (counted from 1)
  [ "$(sed -E 's/^\{"iteration":([0-9]+),.*/\1/' "$T/r/history.jsonl" | tr '\n' ' ')" = "19 20 39 40 " ]
  # --resume without them: the run's, not rescaled
  run sg-train -o "$T/r" --resume --iters 60 -q
  [ "$status" -eq 0 ]
  [ "$(tail -n 2 "$T/r/history.jsonl" | sed -E 's/^\{"iteration":([0-9]+),.*/\1/' | tr '\n' ' ')" = "59 60 " ]
  grep -q '"log_every": 20,' "$T/r/config.json"
  grep -q '"sample_every": 2000,' "$T/r/config.json"
  grep -q '"save_every": 20000,' "$T/r/config.json"
  # given: as they are, also on several shards; one shard: unscaled
  sg-train -o "$T/given" --iters 2 --log-every 3 --sample-every 0 --save-every 7 "${TINY[@]}" "$D/a.lmdb" "$D/b.lmdb"
  grep -q '"log_every": 3,' "$T/given/config.json"
  grep -q '"sample_every": 0,' "$T/given/config.json"
  grep -q '"save_every": 7,' "$T/given/config.json"
  sg-train -o "$T/one" --iters 1 "${TINY[@]}" "$D/a.lmdb"
  grep -q '"log_every": 10,' "$T/one/config.json"
  grep -q '"sample_every": 1000,' "$T/one/config.json"
  grep -q '"save_every": 10000,' "$T/one/config.json"
  # --help says so
  run sg-train --help
  [[ "$output" == *"(10; times the"*"shards, as --iters; 0: none)"*"(1000; times the"*"shards; 0: never)"*"(10000; times the shards;"*"0: only the last"* ]]
}

@test "--force killed while deleting the old run: the next start says to run it again, and that --force starts over" {
  command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null || skip "no strace"
  sg-train -o "$T/r" --iters 4 --save-every 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  sg-train -o "$T/new" --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  # the fifth unlink: latest, history.jsonl and config.json are gone, checkpoints are left
  run strace -f -qq -o /dev/null -e trace=unlink,unlinkat -e inject=unlink,unlinkat:signal=KILL:when=5 \
    sg-train -o "$T/r" --force --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -ne 0 ]
  [ ! -e "$T/r/config.json" ]
  [ -n "$(ls "$T/r/ckpt")" ]
  run sg-train -o "$T/r" --resume
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: $T/r holds a run's ckpt/ but no config.json (deleted by hand? restore it to --resume; left by an interrupted --force? run it again: --force starts over)" ]]
  run sg-train -o "$T/r" --force --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 0 ]
  for f in G D state; do cmp "$T/new/ckpt/000002-$f.safetensors" "$T/r/ckpt/000002-$f.safetensors"; done
  [ ! -e "$T/r/ckpt/000004-G.safetensors" ]
}

@test "a history.jsonl, config.json, latest or cudnn-engines.txt sg-train did not write is named, with or without --force, and nothing is removed; a run's own, cut short or empty, goes; a user's files in ckpt/ and samples/ stay" {
  local tail args=(--iters 2 --log-every 1 --sample-every 0 "${TINY[@]}" "$D/a.lmdb")
  tail="and a new run in $T/u would delete it: move it away, or choose another -o"
  mkdir "$T/u"
  echo '{"step": 1, "loss": 0.5}' > "$T/u/history.jsonl"
  for force in --force ""; do
    refused_run_unchanged "$T/u" "sg-train: $T/u/history.jsonl: not sg-train's (its first line is not a record sg-train writes), $tail" $force "${args[@]}"
  done
  # a record's fields, but not as sg-train writes them (iteration first, then dataset)
  echo '{"dataset": "a", "iteration": 1, "elapsed": 2}' > "$T/u/history.jsonl"
  refused_run_unchanged "$T/u" "sg-train: $T/u/history.jsonl: not sg-train's (*" --force "${args[@]}"
  rm "$T/u/history.jsonl"
  echo '{"name": "my project"}' > "$T/u/config.json"
  for force in --force ""; do
    refused_run_unchanged "$T/u" "sg-train: $T/u/config.json: not sg-train's (not a stargan-c run configuration (no \"format\": \"stargan-c-run/N\")), $tail" $force "${args[@]}"
  done
  rm "$T/u/config.json"
  echo "the newest photos" > "$T/u/latest"
  refused_run_unchanged "$T/u" "sg-train: $T/u/latest: not sg-train's (not a checkpoint number), $tail" --force "${args[@]}"
  rm "$T/u/latest"
  echo "made by hand" > "$T/u/cudnn-engines.txt"
  refused_run_unchanged "$T/u" "sg-train: $T/u/cudnn-engines.txt: not sg-train's (not the cuDNN engines file sg-train writes), $tail" --force "${args[@]}"
  rm "$T/u/cudnn-engines.txt"
  mkfifo "$T/u/latest"
  refused_run_unchanged "$T/u" "sg-train: $T/u/latest: not a regular file (a FIFO; move it away)" --force "${args[@]}"
  rm "$T/u/latest"
  # a run's history without its config.json, its only line cut short (a run killed while writing it), and one whole:
  # --force starts over
  printf '{"iteration":10,"dataset":"a","D/lo' > "$T/u/history.jsonl"
  sg-train -q -o "$T/u" --force "${args[@]}"
  [ "$(cat "$T/u/latest")" = 000002 ]
  ! grep -q '"iteration":10' "$T/u/history.jsonl"
  rm "$T/u/config.json"
  echo "000002" > "$T/u/latest"
  run sg-train -o "$T/u" --force "${args[@]}"
  [ "$status" -eq 0 ]
  [ "$(grep -c '^{"iteration":' "$T/u/history.jsonl")" -eq 2 ]
  # a user's own files in ckpt/ and samples/ (a plot, a model) are no run's and stay
  mkdir -p "$T/u/samples"
  echo plot > "$T/u/samples/loss.png"
  echo model > "$T/u/ckpt/mine.safetensors"
  echo copy > "$T/u/ckpt/2-G.safetensors"
  sg-train -q -o "$T/u" --force "${args[@]}"
  [ "$(cat "$T/u/samples/loss.png")" = plot ] && [ "$(cat "$T/u/ckpt/mine.safetensors")" = model ]
  [ "$(cat "$T/u/ckpt/2-G.safetensors")" = copy ]
  # an empty history.jsonl holds nothing to lose; a folder of one's own pictures named samples/ is no run's
  rm -r "$T/u"; mkdir -p "$T/u/samples"; : > "$T/u/history.jsonl"
  echo photo > "$T/u/samples/holiday.png"
  sg-train -q -o "$T/u" "${args[@]}"
  [ -s "$T/u/history.jsonl" ]
  [ "$(cat "$T/u/samples/holiday.png")" = photo ]
}

@test "an existing run is not overwritten without --resume or --force" {
  sg-train -o "$T/r" --iters 3 "${TINY[@]}" "$D/a.lmdb"
  refused_run_unchanged "$T/r" "sg-train: $T/r already holds a run (--resume continues it, --force starts over)" --iters 3 "${TINY[@]}" "$D/a.lmdb"
  before=$(tree_sum "$T/r")
  # without its config.json (deleted by hand) the run's other files still count
  mv "$T/r/config.json" "$T/config.json.saved"
  run sg-train -o "$T/r" --iters 3 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/r holds a run's latest but no config.json (deleted by hand? restore it to --resume; left by an interrupted --force? run it again: --force starts over)" ]
  mv "$T/config.json.saved" "$T/r/config.json"
  [ "$(tree_sum "$T/r")" = "$before" ]
  # --force with bad shards still leaves the old run alone.
  run sg-train -o "$T/r" --force --iters 3 "${TINY[@]}" "$D/a.lmdb" "$D/big.lmdb"
  [ "$status" -eq 1 ]
  [ "$(tree_sum "$T/r")" = "$before" ]
  # the previous run's engine choices (a CUDA run's) go with it
  printf '# stargan-c: the cuDNN engines chosen per convolution shape\ndevice another\n' > "$T/r/cudnn-engines.txt"
  run sg-train -o "$T/r" --force --iters 2 "${TINY[@]}" "$D/b.lmdb"
  [ "$status" -eq 0 ]
  [ "$(cat "$T/r/latest")" = 000002 ]
  [ ! -e "$T/r/ckpt/000003-G.safetensors" ]
  [ ! -e "$T/r/cudnn-engines.txt" ]
}

@test "bad shards: different image sizes, unreadable, too few images; nothing written" {
  run sg-train -o "$T/r" "${TINY[@]}" "$D/a.lmdb" "$D/big.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: $D/big.lmdb: 32x32 images, but $D/a.lmdb has 16x16: all shards must have the same image size" ]]
  run sg-train -o "$T/r" "${TINY[@]}" "$T/missing.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: "*missing.lmdb* ]]
  [ "${#lines[@]}" -eq 1 ]
  run sg-train -o "$T/r" --batch 30 "${TINY[@]:2}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $D/a.lmdb: 24 images, fewer than the batch size 30; give --batch 24 or less, or pack more images into it" ]
  [ ! -e "$T/r" ]
}

@test "a one-hot shard of one class (another writer's: celeb-pack refuses one class folder): one line naming the shard, its class and celeb-pack --folders; nothing written" {
  /usr/bin/python3 -c 'import lmdb' 2>/dev/null || skip "no python3 lmdb"
  # celeb-pack refuses one class folder: a one-attribute list, every row 1,
  # packed, its metadata then made one-hot (each record holds one 1)
  { echo 6; echo only; for i in 1 2 3 4 5 6; do echo "00000$i.jpg 1"; done; } > "$T/only.txt"
  celeb-pack -q -a "$T/only.txt" -i "$D/synth/img_align_celeba" -S 16 -o "$T/one-class.lmdb"
  /usr/bin/python3 - "$T/one-class.lmdb" <<'PY'
import json, lmdb, sys
env = lmdb.open(sys.argv[1])
with env.begin(write=True) as txn:
    m = json.loads(txn.get(b"meta"))
    m["label_kind"] = "one-hot"
    txn.put(b"meta", json.dumps(m).encode())
PY
  [ "$(celeb-dump --verify "$T/one-class.lmdb")" = "6 records OK" ]
  # it said "model: one-hot dataset 1 needs at least 2 classes"
  run sg-train -o "$T/r" "${TINY[@]}" "$T/one-class.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/one-class.lmdb: one class only (only): a one-hot dataset needs at least 2 classes to translate between; pack two or more class folders into it (celeb-pack --folders)" ]
  [ ! -e "$T/r" ]
  # beside a shard that is fine, too
  run sg-train -o "$T/r" "${TINY[@]}" "$D/a.lmdb" "$T/one-class.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: $T/one-class.lmdb: one class only (only): "* ]]
  [ ! -e "$T/r" ]
}

# The shard's header counts two classes, its records hold one (celeb-pack
# --folders with a class folder empty warns and packs it): sg-train counted
# the labels, not the classes its records hold, and trained a useless model.
@test "a one-hot shard whose records are all of one class: one line naming the shard, the class and the way out, before anything in RUN changes (new, --force, --resume, beside another shard); sg-sample takes it; a damaged label it reads is one line" {
  mkdir -p "$T/f/calm" "$T/f/smile"
  cp "$D"/faces/calm/*.jpg "$T/f/calm/"
  celeb-pack -q -F "$T/f" -c 178 -S 16 -o "$T/calm-only.lmdb" 2>/dev/null
  [ "$(celeb-dump --verify "$T/calm-only.lmdb")" = "6 records OK" ]
  line="sg-train: $T/calm-only.lmdb: every record is of class calm, none of smile: a one-hot dataset needs images of at least 2 classes to translate between, and sg-train learns nothing from it; pack images of two or more classes into it (celeb-pack --folders DIR, each class's images in DIR/CLASS/)"
  run sg-train -o "$T/r" --iters 1 --sample-every 1 "${TINY[@]}" "$T/calm-only.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "$line" ]
  [ ! -e "$T/r" ]
  # each shard of several is checked
  run sg-train -o "$T/r" --iters 1 --sample-every 1 "${TINY[@]}" "$D/a.lmdb" "$T/calm-only.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "$line" ]
  [ ! -e "$T/r" ]
  # a run there is left as it was: --force removes nothing, --resume changes nothing
  sg-train -o "$T/run" --iters 1 --sample-every 1 "${TINY[@]}" "$D/onehot.lmdb"
  before=$(cd "$T/run" && find . -type f | sort | xargs cksum)
  run sg-train -o "$T/run" --force --iters 1 --sample-every 1 "${TINY[@]}" "$T/calm-only.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "$line" ]
  run sg-train -o "$T/run" --resume --iters 2 "$T/calm-only.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "$line" ]
  [ "$(cd "$T/run" && find . -type f | sort | xargs cksum)" = "$before" ]
  # sampling from it is fine: a test set of one class, with the model's labels
  run sg-sample --ckpt "$T/run" --data "$T/calm-only.lmdb" --count 1 --device cpu -o "$T/x.png"
  [ "$status" -eq 0 ]
  is_png "$T/x.png"
  # a record whose labels the check reads and cannot take: named, with the way to find the others
  /usr/bin/python3 -c 'import lmdb' 2>/dev/null || return 0
  cp -r "$T/calm-only.lmdb" "$T/bad.lmdb"
  damage_label_record "$T/bad.lmdb" 3
  run sg-train -o "$T/r" --iters 1 --sample-every 1 "${TINY[@]}" "$T/bad.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/bad.lmdb: record 3: label 0 is 2 (celeb-dump --verify $T/bad.lmdb lists every damaged record: pack the shard again)" ]
  [ ! -e "$T/r" ]
}

# Every attribute the same in every record is as useless to train on, but
# only said: the records of a tiny shard packed for a test may well agree,
# and some attributes constant among others that vary is a legitimate set.
@test "a multi-hot shard whose records all hold the same labels trains, with one warning naming the shard and its labels; one attribute constant among others says nothing" {
  { echo 6; echo "Black_Hair Blond_Hair Male"
    for i in 1 2 3 4 5 6; do echo "00000$i.jpg 1 -1 1"; done; } > "$T/same.txt"
  celeb-pack -q -a "$T/same.txt" -i "$D/synth/img_align_celeba" -S 16 -o "$T/same.lmdb"
  line="sg-train: $T/same.lmdb: every record holds the same labels (set: Black_Hair, Male; not set: Blond_Hair): D's classifier sees no other combination, so sg-train learns no translation from this shard; pack images whose selected attributes differ, or select attributes that vary among them (celeb-pack -s)"
  run sg-train -o "$T/r" --iters 1 --sample-every 1 "${TINY[@]}" "$T/same.lmdb"
  [ "$status" -eq 0 ]
  [ "$output" = "$line" ]
  [ "$(cat "$T/r/latest")" = 000001 ]
  # beside another dataset, said of that shard alone
  run sg-train -o "$T/r2" --iters 2 --sample-every 2 "${TINY[@]}" "$D/a.lmdb" "$T/same.lmdb"
  [ "$status" -eq 0 ]
  [ "$output" = "$line" ]
  # a resume that trains says it again (of the run's shard as config.json
  # records it, or as given), one with nothing to train does not
  run sg-train -o "$T/r" --resume --iters 2 -q
  [ "$status" -eq 0 ]
  [[ "$output" == "sg-train: /"*"/same.lmdb: every record holds the same labels (set: Black_Hair, Male; not set: Blond_Hair): "* ]]
  [ "${#lines[@]}" -eq 1 ]
  run sg-train -o "$T/r" --resume --iters 3 -q "$T/same.lmdb"
  [ "$status" -eq 0 ]
  [ "$output" = "$line" ]
  run sg-train -o "$T/r" --resume --iters 3 -q "$T/same.lmdb"
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  # Black_Hair the same in every record, Male not
  { echo 6; echo "Black_Hair Male"
    for i in 1 2 3 4 5 6; do echo "00000$i.jpg 1 $((i % 2 * 2 - 1))"; done; } > "$T/part.txt"
  celeb-pack -q -a "$T/part.txt" -i "$D/synth/img_align_celeba" -S 16 -o "$T/part.lmdb"
  run sg-train -o "$T/r3" --iters 1 --sample-every 1 "${TINY[@]}" "$T/part.lmdb"
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
}

@test "a dataset of one image: batch 1 trains, samples and resumes; batch 2 is one line" {
  { echo 1; sed -n 2,3p "$D/synth/list_attr_celeba.txt"; } > "$T/one.txt"
  celeb-pack -q -a "$T/one.txt" -i "$D/synth/img_align_celeba" -s Black_Hair,Male -S 16 -o "$T/one.lmdb"
  run sg-train -o "$T/r" --batch 2 "${TINY[@]:2}" "$T/one.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/one.lmdb: 1 image, fewer than the batch size 2; give --batch 1 or less, or pack more images into it" ]
  [ ! -e "$T/r" ]
  run sg-train -o "$T/r" --iters 2 --batch 1 --sample-every 1 "${TINY[@]:2}" "$T/one.lmdb"
  [ "$status" -eq 0 ]
  [ "$(png_size "$T/r/samples/000002.png")" = 48x16 ]
  run sg-train -o "$T/r" --resume --iters 3
  [ "$status" -eq 0 ]
  [ "$(cat "$T/r/latest")" = 000003 ]
}

# The CPU backend's blocks are calloc'd and touched later: a model larger than
# the memory used to be OOM-killed mid-run without a word. SG_TEST_MEMORY_KIB
# (lib/sysmem.h, a test hook) plays a machine of LIMIT,AVAILABLE KiB.
@test "CPU memory: a model over the machine's memory is refused before the run directory, naming a batch that fits" {
  run env SG_TEST_MEMORY_KIB=1024,1024 sg-train -o "$T/r" --iters 2 --batch 16 "${TINY[@]:2}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: --batch 16 at 16 px needs about "*" MB of memory on the CPU; this machine has 1.0 MB (1.0 MB available): use --batch "*" or less" ]]
  [ ! -e "$T/r" ]
  # the batch it names fits: no refusal, no warning
  fits=$(sed -E 's/.*use --batch ([0-9]+) or less$/\1/' <<< "$output")
  [ "$fits" -ge 1 ] && [ "$fits" -lt 16 ] || { echo "named batch: $fits"; false; }
  run env SG_TEST_MEMORY_KIB=1024,1024 sg-train -o "$T/r" --iters 2 --batch "$fits" "${TINY[@]:2}" "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # one more does not
  run env SG_TEST_MEMORY_KIB=1024,1024 sg-train -o "$T/r2" --iters 2 --batch $((fits + 1)) "${TINY[@]:2}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ ! -e "$T/r2" ]
  # not even one image: the model's size is what to lower
  run env SG_TEST_MEMORY_KIB=1024,1024 sg-train -o "$T/r2" --iters 2 --batch 4 --g-conv-dim 64 --d-conv-dim 64 --threads 1 \
    --device cpu -q "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: --batch 4 at 16 px needs about "*" MB of memory on the CPU, and --batch 1 about "*" MB; this machine has 1.0 MB (1.0 MB available): use smaller --g-conv-dim and --d-conv-dim, or a GPU (--device cuda)" ]]
  [ ! -e "$T/r2" ]
}

@test "CPU memory: over what is available but within the machine, one warning and the run goes on" {
  run env SG_TEST_MEMORY_KIB=1024000,1024 sg-train -o "$T/r" --iters 2 --batch 16 "${TINY[@]:2}" "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: --batch 16 at 16 px needs about "*" MB of memory on the CPU, more than the 1.0 MB available now (of 1.0 GB): training goes on, but may swap, or be killed if other processes need theirs; --batch "*" or less fits" ]]
  [ "$(cat "$T/r/latest")" = 000002 ]
}

@test "CPU memory: a resume is checked the same, and changes nothing when refused" {
  sg-train -o "$T/r" --iters 2 --batch 16 "${TINY[@]:2}" "$D/a.lmdb"
  before=$(tree_sum "$T/r")
  run env SG_TEST_MEMORY_KIB=1024,1024 sg-train -o "$T/r" --resume --iters 4
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: --batch 16 at 16 px needs about "*"; this machine has 1.0 MB (1.0 MB available): use --batch "*" or less" ]]
  [ "$(tree_sum "$T/r")" = "$before" ]
}

@test "CPU memory: swap counts toward what a run may have (a warning, not a refusal); a resume is advised a GPU, not other sizes" {
  # over the memory but within memory and swap together: slow, not killed
  run env SG_TEST_MEMORY_KIB=1024,1024,1024000 sg-train -o "$T/r" --iters 2 --batch 16 "${TINY[@]:2}" "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: --batch 16 at 16 px needs about "*" MB of memory on the CPU, more than the 1.0 MB available now (of 1.0 MB): training goes on, but may swap"* ]]
  # beyond both, the refusal names the swap it counted
  run env SG_TEST_MEMORY_KIB=1024,1024,10 sg-train -o "$T/r2" --iters 2 --batch 16 "${TINY[@]:2}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: --batch 16 at 16 px needs about "*"; this machine has 1.0 MB (1.0 MB available, and 10 kB of swap): use --batch "*" or less" ]]
  # a resume that not even --batch 1 fits: --resume takes no other model sizes
  sg-train -o "$T/big" --iters 1 --batch 4 --g-conv-dim 64 --d-conv-dim 64 --threads 1 --device cpu -q \
    --sample-every 0 "$D/a.lmdb"
  run env SG_TEST_MEMORY_KIB=1024,1024 sg-train -o "$T/big" --resume --iters 2
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: --batch 4 at 16 px needs about "*", and --batch 1 about "*"; this machine has 1.0 MB (1.0 MB available): resume the run on a GPU (--device cuda) or a machine with more memory" ]]
}

@test "CPU memory: the sample grid, taken at the first sample, is counted at the start" {
  # the model and batches alone fit in 900 KiB; with the grid of 8 images to 4 targets they do not
  run env SG_TEST_MEMORY_KIB=900,900 sg-train -o "$T/r" --iters 2 --batch 4 "${TINY[@]:2}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: --batch 4 at 16 px needs about "*" of memory on the CPU"*"; this machine has 922 kB (922 kB available): use --batch "*" or less" ]]
  [ ! -e "$T/r" ]
  run env SG_TEST_MEMORY_KIB=900,900 sg-train -o "$T/r" --iters 2 --batch 4 --sample-every 0 "${TINY[@]:2}" "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "CPU memory: the backend's out of memory (under ulimit -v, which the check does not see) names the batch to lower" {
  bash -c 'ulimit -v 1500000' 2>/dev/null || skip "ulimit -v cannot be set here"
  # sanitizer builds reserve terabytes of shadow memory: they cannot start under any such limit
  if grep -qaE '__(a|hwa|t|m)san_init' "$(command -v sg-train)"; then skip "a sanitizer build"; fi
  celeb-pack -q -a "$D/synth/list_attr_celeba.txt" -i "$D/synth/img_align_celeba" -s Black_Hair,Male --limit 4 \
    -S 1024 -o "$T/k.lmdb"
  # 2.2 GB of model at 1024 px, batch 4: over the limit; a machine said to be large
  run env SG_TEST_MEMORY_KIB=100000000,100000000 bash -c 'ulimit -v 1500000; exec "$@"' _ sg-train -o "$T/r" \
    --iters 1 --batch 4 "${TINY[@]:2}" "$T/k.lmdb"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: model: cpu backend: out of memory allocating "*" bytes (--batch 4 at 1024 px; try a smaller --batch)" ]]
  [ ! -e "$T/r" ]
}

@test "a conv weight over 2^31-1 values (cuDNN's filter limit) is refused before the run directory, naming the conv dim that fits" {
  # 16 px: D halves 3 times; its last conv (4d, 2d, 4, 4) is 2^31 at d = 4096
  run sg-train -o "$T/r" "${TINY[@]}" --d-conv-dim 4096 "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: model: D's conv main.4 would hold 2147483648 weights, more than 2^31-1 (cuDNN's limit for one tensor; kept on the CPU so that runs move between the backends): use --d-conv-dim 4095 or less" ]
  [ ! -e "$T/r" ]
}

@test "resume refuses other shards or model options, naming the mismatch" {
  sg-train -o "$T/r" --iters 3 "${TINY[@]}" "$D/a.lmdb"
  before=$(tree_sum "$T/r")
  run sg-train -o "$T/r" --resume --iters 5 --g-conv-dim 8
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: --g-conv-dim 8 differs from the run's 4 (it changes the model; start a new run with -o)" ]]
  run sg-train -o "$T/r" --resume --iters 5 "$D/b.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == *"b.lmdb: labels (2, multi-hot) differ from the run's dataset a (4, multi-hot): another dataset?" ]]
  run sg-train -o "$T/r" --resume --iters 5 "$D/a.lmdb" "$D/b.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == *"was trained on 1 dataset, 2 shards given" ]]
  run sg-train -o "$T/nothing" --resume
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/nothing: no run to resume (no config.json): is it the run's directory? A run stopped before writing config.json leaves none: start such a run again without --resume" ]
  # the run's files without config.json: restore it
  cp -r "$T/r" "$T/lost" && rm "$T/lost/config.json"
  run sg-train -o "$T/lost" --resume
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/lost holds a run's latest but no config.json (deleted by hand? restore it to --resume; left by an interrupted --force? run it again: --force starts over)" ]
  [ "$(tree_sum "$T/r")" = "$before" ]
}

@test "a hand-edited config.json: a value outside what the options allow is one line naming it, nothing changed" {
  sg-train -o "$T/r" --iters 3 --sample-every 3 "${TINY[@]}" "$D/a.lmdb"
  before=$(tree_sum "$T/r")
  # a negative sample count once drew past the 64 sample slots (shards of more than 64 images)
  for edit in 'samples=-3:"training": "samples" is -3, expected 0 to 64' \
              'batch=1099511627776:"training": "batch" is 1099511627776, expected 1 to 8192' \
              'g_lr=-1:"training": "g_lr" is -1, expected 0 to 1000' \
              'threads=-5:"training": "threads" is -5, expected 0 to 1024' \
              'target_labels="shuffle":"training": "target_labels" is "shuffle", expected "permute" or "random"'; do
    cp -r "$T/r" "$T/e"
    /usr/bin/python3 - "$T/e/config.json" "${edit%%:*}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
key, value = sys.argv[2].split("=", 1)
c["training"][key] = json.loads(value)
json.dump(c, open(sys.argv[1], "w"))
PY
    refused_run_unchanged "$T/e" "sg-train: $T/e/config.json: ${edit#*:}" --resume --iters 6
    rm -r "$T/e"
  done
  [ "$(tree_sum "$T/r")" = "$before" ]
}

# lib's option table (sg_train_field) gives both ranges: one written twice
# drifts, and sg-train --resume refuses a config.json sg-train wrote.
@test "every option's range is the same on the command line and in config.json; every option with a range is checked here" {
  sg-train -o "$T/r" --iters 1 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  # the options with a range: option:section:key (a value past every range names the range)
  specs=(g-conv-dim:model:g_conv_dim g-repeat:model:g_repeat d-conv-dim:model:d_conv_dim d-repeat:model:d_repeat
         iters:training:iters decay-iters:training:decay_iters batch:training:batch n-critic:training:n_critic
         g-lr:training:g_lr d-lr:training:d_lr beta1:training:beta1 beta2:training:beta2
         lambda-cls:training:lambda_cls lambda-rec:training:lambda_rec lambda-gp:training:lambda_gp
         log-every:training:log_every sample-every:training:sample_every save-every:training:save_every
         keep:training:keep threads:training:threads)
  # config.json's every other value has no range of an option (samples has no option)
  /usr/bin/python3 - "$T/r/config.json" "${specs[@]}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
tested = {tuple(s.split(":")[1:]) for s in sys.argv[2:]}
other = {("model", k) for k in ("image_size", "c_dim", "cls_dim", "n_datasets")} | \
        {("training", k) for k in ("flip", "target_labels", "seed", "samples", "device", "precision")}
keys = {(s, k) for s in ("model", "training") for k in c[s]}
assert keys - other == tested, sorted((keys - other) ^ tested)
PY
  for spec in "${specs[@]}"; do
    IFS=: read -r opt section key <<< "$spec"
    case $key in *lr|beta*|lambda*) past=1e999 ;; *) past=99999999999999999999 ;; esac
    run sg-train -o "$T/x" "--$opt" "$past" "$D/a.lmdb"
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" =~ ^sg-train:\ --$opt:\ .*\ \[([^,]*),\ ([^]]*)\]$ ]] || { echo "--$opt: ${lines[0]}"; false; }
    lo=${BASH_REMATCH[1]} hi=${BASH_REMATCH[2]}
    cp -r "$T/r" "$T/e"
    /usr/bin/python3 - "$T/e/config.json" "$section" "$key" "$lo" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c[sys.argv[2]][sys.argv[3]] = int(sys.argv[4]) - 1 if sys.argv[4].isdigit() else float(sys.argv[4]) - 1
json.dump(c, open(sys.argv[1], "w"))
PY
    run sg-train -o "$T/e" --resume --iters 2
    [ "$status" -eq 1 ]
    [[ "$output" =~ ^"sg-train: $T/e/config.json: \"$section\": \"$key\" is "[^,]*", expected "(.*)" to "(.*)$ ]] ||
      { echo "$key: $output"; false; }
    /usr/bin/python3 - "$lo" "$hi" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" <<'PY' || { echo "--$opt [$lo, $hi], config.json's \"$key\": $output"; false; }
import sys
n = [int(v) if v.lstrip("-").isdigit() else float(v) for v in sys.argv[1:]]
sys.exit(n[:2] != n[2:])
PY
    rm -r "$T/e"
  done
}

@test "resume on a shard that now holds another number of images warns that the data order differs" {
  cp -r "$D/a.lmdb" "$T/a.lmdb"
  sg-train -o "$T/r" --iters 3 --sample-every 0 "${TINY[@]}" "$T/a.lmdb"
  # repacked from 19 of the 24 rows
  { echo 19; sed -n 2p "$D/synth/list_attr_celeba.txt"; sed -n 3,21p "$D/synth/list_attr_celeba.txt"; } > "$T/attrs.txt"
  rm -r "$T/a.lmdb"
  celeb-pack -q -a "$T/attrs.txt" -i "$D/synth/img_align_celeba" -s Black_Hair,Blond_Hair,Brown_Hair,Male -S 16 -o "$T/a.lmdb"
  run sg-train -o "$T/r" --resume --iters 5 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: $(realpath "$T/a.lmdb"): 19 images, the run's dataset a had 24: from here on the data order differs from the run's" ]
  [ "$(cat "$T/r/latest")" = 000005 ]
  grep -q '"count": 19' "$T/r/config.json"
  # now the run's count: no warning
  run sg-train -o "$T/r" --resume --iters 6 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "corrupt or truncated checkpoints: one clear line, exit 1, nothing overwritten" {
  sg-train -o "$T/r" --iters 3 "${TINY[@]}" "$D/a.lmdb"
  truncate -s -10 "$T/r/ckpt/000003-D.safetensors"
  before=$(tree_sum "$T/r")
  run sg-train -o "$T/r" --resume --iters 6
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: $T/r/ckpt/000003-D.safetensors: "*"out of bounds"* ]]
  [ "$(tree_sum "$T/r")" = "$before" ]
  # A header length beyond the file.
  printf '\377\377\377\000\000\000\000\000' | dd of="$T/r/ckpt/000003-G.safetensors" conv=notrunc status=none
  run sg-train -o "$T/r" --resume --iters 6
  [ "$status" -eq 1 ]
  [[ "$output" == *"000003-G.safetensors: header length 16777215 runs past the end of the file"* ]]
  echo garbage > "$T/r/latest"
  run sg-train -o "$T/r" --resume --iters 6
  [ "$status" -eq 1 ]
  [[ "$output" == *"latest: expected a checkpoint number"* ]]
}

# Poisons D's first weight in checkpoint file $1 (RUN/ckpt/NNNNNN-D.safetensors) with NaN
# (0x7fc00000), keeping the header valid and the data CRC-32s (its own, and the one its
# state file recorded for it) right, as if the NaN had been computed.
poison_d() {
  /usr/bin/python3 - "$1" <<'PY'
import json, struct, sys, zlib
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
off = 8 + n + h["main.0.weight"]["data_offsets"][0]
old_crc = h["__metadata__"]["data_crc32"].encode()
b[off:off + 4] = struct.pack("<I", 0x7fc00000)
new_crc = b"%08x" % zlib.crc32(bytes(b[8 + n:]))
for path in (p, p.replace("-D.safetensors", "-state.safetensors")):
    f = b if path == p else bytearray(open(path, "rb").read())
    m = struct.unpack("<Q", f[:8])[0]
    f[8:8 + m] = f[8:8 + m].replace(b'"' + old_crc + b'"', b'"' + new_crc + b'"')
    open(path, "wb").write(f)
PY
}

@test "a non-finite loss stops the run naming the iteration and the last good checkpoint" {
  # --log-every 1: the losses are read at every iteration, so the iteration is exact.
  sg-train -o "$T/r" --iters 4 --log-every 1 "${TINY[@]}" "$D/a.lmdb"
  poison_d "$T/r/ckpt/000004-D.safetensors"
  run sg-train -o "$T/r" --resume --iters 8
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: iteration 5: D/loss_real is nan; last good checkpoint: $T/r/ckpt/000004 (sg-train -o $T/r --resume continues from it)" ]]
  [ "$(cat "$T/r/latest")" = 000004 ]
  [ ! -e "$T/r/ckpt/000005-G.safetensors" ]
  [ ! -e "$T/r/ckpt/000008-G.safetensors" ]
}

@test "between logged iterations a non-finite loss still stops the run before any checkpoint, naming the range" {
  # --decay-iters 0: the resumes to 12 and on keep the rate (else a line says it jumps)
  sg-train -o "$T/r" --iters 4 --decay-iters 0 --log-every 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  poison_d "$T/r/ckpt/000004-D.safetensors"
  # NaN from iteration 5 on; losses are read at logged iterations (10) and checkpoints (7): 7 finds it.
  run sg-train -o "$T/r" --resume --iters 12 --log-every 10 --save-every 7
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: iteration 7: D/loss_real is nan; it appeared between iterations 5 and 7 (losses are checked at logged iterations and checkpoints); last good checkpoint: $T/r/ckpt/000004 (sg-train -o $T/r --resume continues from it)" ]]
  [ "$(cat "$T/r/latest")" = 000004 ]
  [ "$(ls "$T/r/ckpt" | tr '\n' ' ')" = "000004-D.safetensors 000004-G.safetensors 000004-state.safetensors " ]
  [ "$(strip_timing "$T/r/history.jsonl" | cut -d, -f1 | tr '\n' ' ')" = '{"iteration":2 {"iteration":4 ' ]
  # No history and no checkpoint before the last iteration: the last one's read stops it.
  run sg-train -o "$T/r" --resume --iters 9 --log-every 0 --save-every 0
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: iteration 9: D/loss_real is nan; it appeared between iterations 5 and 9 "* ]]
  [ "$(cat "$T/r/latest")" = 000004 ]
  [ ! -e "$T/r/ckpt/000009-G.safetensors" ]
  # A stop signal reads the losses too: no checkpoint of the poisoned weights.
  sg-train -o "$T/r" --resume --iters 1000000 --log-every 0 --save-every 0 2> "$T/err" &
  pid=$!
  # config.json is rewritten with the new --iters just before training starts (a stop before it says so instead).
  for _ in $(seq 1200); do grep -q '"iters": 1000000' "$T/r/config.json" && break; sleep 0.05; done
  sleep 0.2
  kill -INT "$pid"
  status=0
  wait "$pid" || status=$?
  [ "$status" -eq 1 ]
  grep -q "^sg-train: iteration [0-9]*: D/loss_real is nan; .*last good checkpoint: $T/r/ckpt/000004" "$T/err"
  [ "$(cat "$T/r/latest")" = 000004 ]
  [ "$(ls "$T/r/ckpt" | wc -l)" -eq 3 ]
}

@test "SIGINT finishes the iteration, writes a checkpoint and exits 130; resume continues" {
  signal_long_run INT 3
  [ "$status" -eq 130 ]
  n=$(cat "$T/r/latest")
  # the stop said at once, then where the run stopped
  [ "$(sed -n 1p "$T/err")" = "$(answer_line INT)" ]
  [ "$(sed -n 2p "$T/err")" = "sg-train: interrupted at iteration $((10#$n)): checkpoint $T/r/ckpt/$n written (sg-train -o $T/r --resume continues)" ]
  [ "$(wc -l < "$T/err")" -eq 2 ]
  [ -s "$T/r/ckpt/$n-state.safetensors" ]
  [ "$(wc -l < "$T/r/history.jsonl")" -eq "$((10#$n))" ]
  run sg-train -o "$T/r" --resume --iters $((10#$n + 2))
  [ "$status" -eq 0 ]
  [ "$(cat "$T/r/latest")" = "$(printf %06d $((10#$n + 2)))" ]
}

@test "the first stop in training is answered at once, by the signal handler: before the iteration under way ends, not after its checkpoint" {
  need_strace
  args=(--iters 6 --save-every 0 --sample-every 0 --log-every 1 "${TINY[@]}" "$D/a.lmdb")
  strace -f -qq -y -o "$T/trace" -e trace=write sg-train -o "$T/plain" "${args[@]}"
  # the signal at the write of iteration 1's history line: the trainer sees
  # it after iteration 2 (its stop was looked at before that write) and
  # writes checkpoint 2
  local w1
  w1=$(grep 'write(' "$T/trace" | grep -n 'history.jsonl>, "{\\"iteration\\":1,' | cut -d: -f1)
  [ -n "$w1" ]
  local sig verb st a h c
  for sig in INT TERM HUP; do
    case $sig in
      INT) verb=interrupted st=130 ;;
      TERM) verb=terminated st=143 ;;
      HUP) verb="hung up" st=129 ;;
    esac
    rm -rf "$T/r"
    run env --default-signal="$sig" strace -f -qq -y -s 400 -o "$T/trace" -e trace=write,openat \
      -e inject=write:signal="$sig":when="$w1" sg-train -o "$T/r" "${args[@]}"
    [ "$status" -eq "$st" ]
    [ "${lines[0]}" = "$(answer_line "$sig")" ]
    [ "${lines[1]}" = "sg-train: $verb at iteration 2: checkpoint $T/r/ckpt/000002 written (sg-train -o $T/r --resume continues)" ]
    [ "${#lines[@]}" -eq 2 ]
    [ "$(cat "$T/r/latest")" = 000002 ]
    [ -z "$(find "$T/r" -name '*.tmp.*')" ]
    # in the trace: the answer before iteration 2's history line and the
    # first file of its checkpoint (with no answer, the first line on
    # stderr came after the checkpoint)
    a=$(grep -n 'write(2<.*stopping at the end of the iteration under way' "$T/trace" | cut -d: -f1)
    h=$(grep -n 'history.jsonl>, "{\\"iteration\\":2,' "$T/trace" | cut -d: -f1)
    c=$(grep -n 'openat(.*000002-G\.safetensors' "$T/trace" | head -n 1 | cut -d: -f1)
    [ -n "$a" ]
    [ -n "$h" ]
    [ -n "$c" ]
    [ "$a" -lt "$h" ]
    [ "$a" -lt "$c" ]
  done
  # the run goes on from the stop's checkpoint as the uninterrupted one
  sg-train -o "$T/r" --resume
  for f in G D state; do cmp "$T/plain/ckpt/000006-$f.safetensors" "$T/r/ckpt/000006-$f.safetensors"; done
}

# Starts COMMAND... in the background under ended_how --pid, which writes to
# $T/how the command's pid at once and, once it ended, "signal N" or "exit
# N": what a shell's $? (128 + N either way) does not tell apart. Sets PID
# (the command's) and WATCHER (the watcher's, to wait for).
start_watched() {
  ended_how --pid "$@" > "$T/how" &
  WATCHER=$!
  # a minute at most: a loaded machine can take seconds to start it
  for _ in $(seq 6000); do [ -s "$T/how" ] && break; sleep 0.01; done
  PID=$(head -n 1 "$T/how")
  [ -n "$PID" ] || { echo "start_watched: no pid from ended_how after 60 s"; return 1; }
}

@test "a stop ends sg-train by its signal after the checkpoint, not by exit 128+N: a script running it stops on ^C" {
  local sig
  for sig in INT TERM; do
    rm -rf "$T/r"
    start_watched sg-train -o "$T/r" --iters 1000000 --log-every 1 --sample-every 0 --save-every 0 "${TINY[@]}" \
      "$D/a.lmdb" 2> "$T/err"
    BG_PID=$PID
    wait_history_lines 2
    kill -"$sig" "$PID"
    wait "$WATCHER"
    BG_PID=
    [ "$(sed -n 2p "$T/how")" = "signal $(kill -l "$sig")" ]
    n=$(cat "$T/r/latest")
    [ -s "$T/r/ckpt/$n-state.safetensors" ]
    grep -q "^sg-train: [a-z]* at iteration $((10#$n)): checkpoint $T/r/ckpt/$n written" "$T/err"
  done
  # ^C in a terminal reaches the script's shell too (the foreground process
  # group): bash goes on after a child that exited, even with 130, and stops
  # after one that died of the SIGINT. Its own process group, SIGINT at its
  # default (a background job starts with it ignored).
  rm -rf "$T/r"
  perl -e '$SIG{INT} = "DEFAULT"; setpgrp(0, 0); exec @ARGV or die "$ARGV[0]: $!\n"' -- \
    bash -c 'sg-train "$@"; echo after' bash -o "$T/r" --iters 1000000 --log-every 1 --sample-every 0 \
    --save-every 0 "${TINY[@]}" "$D/a.lmdb" > "$T/out" 2> "$T/err" &
  local script=$!
  BG_PID=$script
  wait_history_lines 2
  kill -INT -- "-$script"
  st=0
  wait "$script" || st=$?
  BG_PID=
  cat "$T/err"
  [ "$st" -eq 130 ]
  [ ! -s "$T/out" ]
  [ -s "$T/r/ckpt/$(cat "$T/r/latest")-state.safetensors" ]
}

@test "a stop too late to stop the run (the last iteration, its checkpoint, nothing to train) is not lost: one line (after the answer, in training), then the signal" {
  need_strace
  args=(--iters 2 --save-every 2 --sample-every 0 --log-every 1 "${TINY[@]}" "$D/a.lmdb")
  strace -f -qq -y -o "$T/trace" -e trace=write,fsync sg-train -o "$T/plain" "${args[@]}"
  # numbers among the writes of iteration 1's history line (the stop is then
  # seen after the last iteration, which ends in the checkpoint it was to
  # write anyway: no resume is left to offer); among the fsyncs of the last
  # checkpoint's first (G's temporary file) and of the run directory's after
  # latest was renamed (the last)
  local w g l h
  w=$(grep 'write(' "$T/trace" | grep -n 'history.jsonl>, "{\\"iteration\\":1,' | cut -d: -f1)
  g=$(grep 'fsync(' "$T/trace" | grep -n '000002-G.safetensors.tmp' | head -n 1 | cut -d: -f1)
  l=$(grep -c 'fsync(' "$T/trace")
  [ -n "$w" ]
  [ -n "$g" ]
  local at sig
  for at in "write:$w" "fsync:$g" "fsync:$l"; do
    for sig in INT TERM; do
      rm -rf "$T/r"
      run ended_how env --default-signal="$sig" strace -f -qq -o /dev/null -e trace="${at%:*}" \
        -e inject="${at%:*}":signal="$sig":when="${at#*:}" sg-train -o "$T/r" "${args[@]}"
      local verb=interrupted
      [ "$sig" = INT ] || verb=terminated
      [ "${lines[0]}" = "$(answer_line "$sig")" ]
      [ "${lines[1]}" = "sg-train: $verb while finishing; the run completed at iteration 2: checkpoint $T/r/ckpt/000002 written (sg-train -o $T/r --resume --iters N trains longer)" ]
      [ "${lines[2]}" = "signal $(kill -l "$sig")" ]
      [ "${#lines[@]}" -eq 3 ]
      [ "$(cat "$T/r/latest")" = 000002 ]
      for f in G D state; do cmp "$T/plain/ckpt/000002-$f.safetensors" "$T/r/ckpt/000002-$f.safetensors"; done
    done
  done
  # a resume with nothing to train, the signal held while the run is set up
  # (the rt_sigprocmask call after the one that holds the stop signals, in a
  # plain traced run of the same command: it changes nothing)
  strace -f -qq -o "$T/trace" -e trace=rt_sigprocmask sg-train -o "$T/r" --resume --iters 1 2> /dev/null
  h=$(grep 'rt_sigprocmask(' "$T/trace" | grep -n 'SIG_BLOCK, \[HUP INT TERM\]' | head -n 1 | cut -d: -f1)
  [ -n "$h" ]
  run ended_how env --default-signal=INT,HUP strace -f -qq -o /dev/null -e trace=rt_sigprocmask \
    -e inject=rt_sigprocmask:signal=INT:when=$((h + 1)) sg-train -o "$T/r" --resume --iters 1
  [ "${lines[0]}" = "sg-train: $T/r: the run is at iteration 2, past --iters 1: nothing to train" ]
  [ "${lines[1]}" = "sg-train: interrupted while finishing; the run completed at iteration 2: checkpoint $T/r/ckpt/000002 written (sg-train -o $T/r --resume --iters N trains longer)" ]
  [ "${lines[2]}" = "signal 2" ]
  [ "${#lines[@]}" -eq 3 ]
  [ "$(cat "$T/r/latest")" = 000002 ]
}

@test "a second signal while sg-train closes (the trainer and the backend freed) ends it at once, saying where a resume goes on from" {
  need_strace
  args=(--iters 6 --save-every 2 --sample-every 0 --log-every 1 "${TINY[@]}" "$D/a.lmdb")
  strace -f -qq -y -o "$T/trace" -e trace=write,close sg-train -o "$T/plain" "${args[@]}"
  # numbers among the writes of iterations 1's and 6's history lines, and among
  # the closes of history.jsonl's as the trainer is freed (the last)
  local w1 w6 h
  w1=$(grep 'write(' "$T/trace" | grep -n 'history.jsonl>, "{\\"iteration\\":1,' | cut -d: -f1)
  w6=$(grep 'write(' "$T/trace" | grep -n 'history.jsonl>, "{\\"iteration\\":6,' | cut -d: -f1)
  h=$(grep 'close(' "$T/trace" | grep -n 'history.jsonl>)' | tail -n 1 | cut -d: -f1)
  [ -n "$w1" ]
  [ -n "$w6" ]
  [ -n "$h" ]
  # too late to stop the run (its last history line), then SIGTERM as it
  # closes: the closing line, in the second's words, and the second's status
  # (before, the second was ignored: "interrupted ...", 130, after the freeing)
  run ended_how env --default-signal=INT,TERM strace -f -qq -o /dev/null -e trace=write,close \
    -e inject=write:signal=INT:when="$w6" -e inject=close:signal=TERM:when="$h" sg-train -o "$T/late" "${args[@]}"
  [ "${lines[0]}" = "$(answer_line INT)" ]
  [ "${lines[1]}" = "sg-train: terminated while finishing; the run completed at iteration 6: checkpoint $T/late/ckpt/000006 written (sg-train -o $T/late --resume --iters N trains longer)" ]
  [ "${lines[2]}" = "signal 15" ]
  [ "${#lines[@]}" -eq 3 ]
  for f in G D state; do cmp "$T/plain/ckpt/000006-$f.safetensors" "$T/late/ckpt/000006-$f.safetensors"; done
  # a stop in training (the stop's checkpoint is 2), traced alone for the
  # close of history.jsonl of that shorter run, then SIGTERM there
  run env --default-signal=INT strace -f -qq -y -o "$T/trace" -e trace=write,close \
    -e inject=write:signal=INT:when="$w1" sg-train -o "$T/one" "${args[@]}"
  [ "$status" -eq 130 ]
  [ "$output" = "$(answer_line INT)"$'\n'"sg-train: interrupted at iteration 2: checkpoint $T/one/ckpt/000002 written (sg-train -o $T/one --resume continues)" ]
  h=$(grep 'close(' "$T/trace" | grep -n 'history.jsonl>)' | tail -n 1 | cut -d: -f1)
  [ -n "$h" ]
  run ended_how env --default-signal=INT,TERM strace -f -qq -o /dev/null -e trace=write,close \
    -e inject=write:signal=INT:when="$w1" -e inject=close:signal=TERM:when="$h" sg-train -o "$T/r" "${args[@]}"
  [ "${lines[0]}" = "$(answer_line INT)" ]
  [ "${lines[1]}" = "sg-train: interrupted at iteration 2: checkpoint $T/r/ckpt/000002 written (sg-train -o $T/r --resume continues)" ]
  [ "${lines[2]}" = "sg-train: terminated again while finishing: the run's last checkpoint is $T/r/ckpt/000002 (sg-train -o $T/r --resume continues from it)" ]
  [ "${lines[3]}" = "signal 15" ]
  [ "${#lines[@]}" -eq 4 ]
  [ "$(cat "$T/r/latest")" = 000002 ]
  [ -z "$(find "$T/r" -name '*.tmp.*')" ]
  sg-train -o "$T/r" --resume
  for f in G D state; do cmp "$T/plain/ckpt/000006-$f.safetensors" "$T/r/ckpt/000006-$f.safetensors"; done
  cmp <(strip_timing "$T/plain/history.jsonl") <(strip_timing "$T/r/history.jsonl")
  # a SIGHUP as the second changes nothing, as in training: the first's status, after the freeing
  run ended_how env --default-signal=INT,HUP strace -f -qq -o /dev/null -e trace=write,close \
    -e inject=write:signal=INT:when="$w1" -e inject=close:signal=HUP:when="$h" sg-train -o "$T/hup" "${args[@]}"
  [ "${lines[0]}" = "$(answer_line INT)" ]
  [ "${lines[1]}" = "sg-train: interrupted at iteration 2: checkpoint $T/hup/ckpt/000002 written (sg-train -o $T/hup --resume continues)" ]
  [ "${lines[2]}" = "signal 2" ]
  [ "${#lines[@]}" -eq 3 ]
}

# Runs a 6-iteration run into $T/r with signal $1 delivered as 000004-G is
# renamed into place and signal $2 at the fsync of 000004-D's temporary file,
# while it exists (strace's fault injection, at the points a plain traced run
# into $T/plain shows); the status in $status.
signals_during_checkpoint() {
  need_strace
  args=(--iters 6 --save-every 2 --sample-every 0 --log-every 1 "${TINY[@]}" "$D/a.lmdb")
  strace -f -qq -o "$T/trace" -e trace=fsync,rename,openat sg-train -o "$T/plain" "${args[@]}"
  local r k
  r=$(grep 'rename(' "$T/trace" | grep -n '000004-G' | cut -d: -f1)
  k=$(grep -E 'fsync\(|openat\(.*000004-D.safetensors.tmp' "$T/trace" | grep -n 'openat' | cut -d: -f1)
  [ -n "$r" ]
  [ -n "$k" ]
  run env --default-signal="$1,$2" strace -f -qq -o /dev/null -e trace=fsync,rename \
    -e inject=rename:signal="$1":when="$r" -e inject=fsync:signal="$2":when="$k" sg-train -o "$T/r" "${args[@]}"
}

@test "a second signal during the checkpoint gives it up at once, saying so and which one a resume continues from; resume continues exactly" {
  signals_during_checkpoint INT INT
  [ "$status" -eq 130 ]
  [ "$output" = "$(answer_line INT)"$'\n'"sg-train: interrupted again: checkpoint $T/r/ckpt/000004 not written; the last one written is $T/r/ckpt/000002 (sg-train -o $T/r --resume continues from it)" ]
  [ -z "$(find "$T/r" -name '*.tmp.*')" ]
  [ "$(cat "$T/r/latest")" = 000002 ]
  # G was in place already: the checkpoint's part is removed with it
  [ "$(ls "$T/r/ckpt" | tr '\n' ' ')" = "000002-D.safetensors 000002-G.safetensors 000002-state.safetensors " ]
  sg-train -o "$T/r" --resume
  for f in G D state; do cmp "$T/plain/ckpt/000006-$f.safetensors" "$T/r/ckpt/000006-$f.safetensors"; done
  cmp <(strip_timing "$T/plain/history.jsonl") <(strip_timing "$T/r/history.jsonl")
}

@test "a second signal during the run's first checkpoint says that none is left: --resume starts the run again, as an uninterrupted one" {
  need_strace
  args=(--iters 6 --save-every 2 --sample-every 0 --log-every 1 "${TINY[@]}" "$D/a.lmdb")
  strace -f -qq -y -o "$T/trace" -e trace=write,fsync sg-train -o "$T/plain" "${args[@]}"
  # the first at iteration 1's history line, the second at the fsync of 000002-D's temporary file
  local w k
  w=$(grep 'write(' "$T/trace" | grep -n 'history.jsonl>, "{\\"iteration\\":1,' | cut -d: -f1)
  k=$(grep 'fsync(' "$T/trace" | grep -n '000002-D.safetensors.tmp' | cut -d: -f1)
  [ -n "$w" ]
  [ -n "$k" ]
  run env --default-signal=TERM,INT strace -f -qq -o /dev/null -e trace=write,fsync \
    -e inject=write:signal=TERM:when="$w" -e inject=fsync:signal=INT:when="$k" sg-train -o "$T/r" "${args[@]}"
  [ "$status" -eq 130 ]
  [ "$output" = "$(answer_line TERM)"$'\n'"sg-train: interrupted again: checkpoint $T/r/ckpt/000002, the run's first, not written (sg-train -o $T/r --resume starts the run again)" ]
  [ ! -e "$T/r/latest" ]
  [ -z "$(ls "$T/r/ckpt")" ]
  [ -z "$(find "$T/r" -name '*.tmp.*')" ]
  sg-train -o "$T/r" --resume
  for f in G D state; do cmp "$T/plain/ckpt/000006-$f.safetensors" "$T/r/ckpt/000006-$f.safetensors"; done
  cmp <(strip_timing "$T/plain/history.jsonl") <(strip_timing "$T/r/history.jsonl")
}

@test "a second signal between checkpoints ends at once, naming the checkpoint a resume continues from (none: it starts again); resume is exact" {
  need_strace
  args=(--iters 6 --save-every 2 --sample-every 1 --log-every 1 "${TINY[@]}" "$D/a.lmdb")
  strace -f -qq -y -o "$T/trace" -e trace=rename,fsync sg-train -o "$T/plain" "${args[@]}"
  local n r k want
  # the first as sample N is renamed into place, the second at the fsync of sample N+1's temporary file
  for n in 1 3; do
    r=$(grep 'rename(' "$T/trace" | grep -n "samples/00000$n.png\"" | cut -d: -f1)
    k=$(grep 'fsync(' "$T/trace" | grep -n "samples/00000$((n + 1)).png.tmp" | cut -d: -f1)
    [ -n "$r" ]
    [ -n "$k" ]
    rm -rf "$T/r"
    run env --default-signal=INT strace -f -qq -o /dev/null -e trace=rename,fsync \
      -e inject=rename:signal=INT:when="$r" -e inject=fsync:signal=INT:when="$k" sg-train -o "$T/r" "${args[@]}"
    [ "$status" -eq 130 ]
    if [ "$n" = 1 ]; then
      want="sg-train: interrupted again before the stop's checkpoint was written, the run's first (sg-train -o $T/r --resume starts the run again)"
      [ ! -e "$T/r/latest" ]
    else
      want="sg-train: interrupted again before the stop's checkpoint was written; the last one written is $T/r/ckpt/000002 (sg-train -o $T/r --resume continues from it)"
      [ "$(cat "$T/r/latest")" = 000002 ]
    fi
    [ "$output" = "$(answer_line INT)"$'\n'"$want" ]
    [ -z "$(find "$T/r" -name '*.tmp.*')" ]
    sg-train -o "$T/r" --resume
    for f in G D state; do cmp "$T/plain/ckpt/000006-$f.safetensors" "$T/r/ckpt/000006-$f.safetensors"; done
    cmp "$T/plain/samples/000006.png" "$T/r/samples/000006.png"
  done
}

@test "a SIGHUP after SIGTERM (systemd's SendSIGHUP) is no second signal: the checkpoint is written" {
  signals_during_checkpoint TERM HUP
  [ "$status" -eq 143 ]
  # checkpoint 4 completed, then the stop at the end of the iteration under way
  [ "$(cat "$T/r/latest")" = 000005 ]
  for f in G D state; do cmp "$T/plain/ckpt/000004-$f.safetensors" "$T/r/ckpt/000004-$f.safetensors"; done
  sg-train -o "$T/r" --resume
  for f in G D state; do cmp "$T/plain/ckpt/000006-$f.safetensors" "$T/r/ckpt/000006-$f.safetensors"; done
}

@test "a stop before the first iteration: while the run is read and checked it ends at once, nothing written; while it is set up it waits for config.json and history.jsonl; each says how to go on, and that works" {
  need_strace
  args=(--iters 6 --save-every 2 --sample-every 0 --log-every 1 "${TINY[@]}" "$D/a.lmdb")
  sg-train -o "$T/plain" "${args[@]}"
  # at the run directory's lock (the run read and checked): nothing of the run
  run env --default-signal=INT strace -f -qq -o /dev/null -e trace=flock -e inject=flock:signal=INT:when=1 \
    sg-train -o "$T/r" "${args[@]}"
  [ "$status" -eq 130 ]
  [ "$output" = "sg-train: interrupted before training began: nothing of the run was written to $T/r (the same command starts it)" ]
  [ -z "$(ls -A "$T/r")" ]
  sg-train -o "$T/r" "${args[@]}"
  for f in G D state; do cmp "$T/plain/ckpt/000006-$f.safetensors" "$T/r/ckpt/000006-$f.safetensors"; done
  # the handler's line is escaped as every message: a newline in RUN leaves it one line
  run env --default-signal=INT strace -f -qq -o /dev/null -e trace=flock -e inject=flock:signal=INT:when=1 \
    sg-train -o "$T/a"$'\n'"b" "${args[@]}"
  [ "$status" -eq 130 ]
  [ "$output" = "sg-train: interrupted before training began: nothing of the run was written to $T/a\\nb (the same command starts it)" ]
  # at config.json's rename (held): history.jsonl is written too, then the stop
  rm -rf "$T/r"
  run env --default-signal=TERM strace -f -qq -o /dev/null -e trace=rename -e inject=rename:signal=TERM:when=1 \
    sg-train -o "$T/r" "${args[@]}"
  [ "$status" -eq 143 ]
  [ "$output" = "sg-train: terminated before the first iteration: $T/r holds the new run, set up with no iteration trained (sg-train -o $T/r --resume starts it)" ]
  [ -s "$T/r/config.json" ]
  [ -e "$T/r/history.jsonl" ] && [ ! -s "$T/r/history.jsonl" ]
  [ ! -e "$T/r/ckpt" ]
  run sg-train -o "$T/r" "${args[@]}"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/r already holds a run (--resume continues it, --force starts over)" ]
  sg-train -o "$T/r" --resume
  for f in G D state; do cmp "$T/plain/ckpt/000006-$f.safetensors" "$T/r/ckpt/000006-$f.safetensors"; done
  cmp <(strip_timing "$T/plain/history.jsonl") <(strip_timing "$T/r/history.jsonl")
}

@test "a stop during --force's removal of the previous run waits for it (the run is intact or gone, never half): the new run is set up, one line says so, and --resume starts it" {
  need_strace
  args=(--iters 4 --save-every 2 --sample-every 1 --log-every 1 "${TINY[@]}" "$D/a.lmdb")
  sg-train -o "$T/new" "${args[@]}"
  sg-train -o "$T/old" --iters 6 --save-every 2 --sample-every 2 "${TINY[@]}" "$D/a.lmdb"
  local when
  # the first unlink (latest), one among the checkpoints, the last (samples/)
  for when in 1 3 9; do
    rm -rf "$T/r"
    cp -a "$T/old" "$T/r"
    run env --default-signal=INT strace -f -qq -o /dev/null -e trace=unlink,unlinkat,rmdir \
      -e inject=unlink,unlinkat,rmdir:signal=INT:when="$when" sg-train -o "$T/r" --force "${args[@]}"
    [ "$status" -eq 130 ]
    [ "$output" = "sg-train: interrupted before the first iteration: the previous run in $T/r was removed, and the new one set up with no iteration trained (sg-train -o $T/r --resume starts it)" ]
    [ "$(ls "$T/r" | tr '\n' ' ')" = "config.json history.jsonl " ]
    grep -q '"iters": 4' "$T/r/config.json"
    sg-train -o "$T/r" --resume
    for f in G D state; do cmp "$T/new/ckpt/000004-$f.safetensors" "$T/r/ckpt/000004-$f.safetensors"; done
    [ "$(ls "$T/r/ckpt" | wc -l)" -eq 6 ]
    [ "$(ls "$T/r/samples" | tr '\n' ' ')" = "000001.png 000002.png 000003.png 000004.png " ]
  done
  # before the removal (the lock): nothing removed
  rm -rf "$T/r"
  cp -a "$T/old" "$T/r"
  local before
  before=$(tree_sum "$T/r")
  run env --default-signal=HUP strace -f -qq -o /dev/null -e trace=flock -e inject=flock:signal=HUP:when=1 \
    sg-train -o "$T/r" --force "${args[@]}"
  [ "$status" -eq 129 ]
  [ "$output" = "sg-train: hung up before training began: nothing in $T/r was removed or written (the same command starts over)" ]
  [ "$(tree_sum "$T/r")" = "$before" ]
  sg-train -o "$T/r" --force "${args[@]}"
  for f in G D state; do cmp "$T/new/ckpt/000004-$f.safetensors" "$T/r/ckpt/000004-$f.safetensors"; done
}

@test "a stop while --resume starts: loading changes nothing, the history cut and config.json wait; each says where the run is, and resuming is exact" {
  need_strace
  args=(--iters 6 --save-every 2 --sample-every 0 --log-every 1 "${TINY[@]}" "$D/a.lmdb")
  sg-train -o "$T/plain" "${args[@]}"
  # a run at checkpoint 4 that logged past it (killed before its next one)
  remake() { rm -rf "$T/r"; cp -a "$T/plain" "$T/r"; echo 000004 > "$T/r/latest"; rm "$T/r/ckpt/000006-"*; }
  remake
  local before
  before=$(tree_sum "$T/r")
  run env --default-signal=INT strace -f -qq -o /dev/null -P "$T/r/ckpt/000004-G.safetensors" -e trace=openat \
    -e inject=openat:signal=INT:when=1 sg-train -o "$T/r" --resume
  [ "$status" -eq 130 ]
  [ "${lines[-1]}" = "sg-train: interrupted before training resumed: nothing in $T/r was changed (the same command resumes the run)" ]
  [ "$(tree_sum "$T/r")" = "$before" ]
  sg-train -o "$T/r" --resume
  for f in G D state; do cmp "$T/plain/ckpt/000006-$f.safetensors" "$T/r/ckpt/000006-$f.safetensors"; done
  # at the history cut (held): cut, then the stop
  remake
  ! grep -q '{"from":4,' "$T/r/config.json"
  run env --default-signal=TERM strace -f -qq -o /dev/null -e trace=ftruncate -e inject=ftruncate:signal=TERM:when=1 \
    sg-train -o "$T/r" --resume
  [ "$status" -eq 143 ]
  [ "$output" = "sg-train: terminated before training resumed: the run in $T/r is at checkpoint $T/r/ckpt/000004 (sg-train -o $T/r --resume continues from it)" ]
  # the cut, and config.json after it (this start's session), both made
  [ "$(wc -l < "$T/r/history.jsonl")" -eq 4 ]
  grep -q '{"from":4,' "$T/r/config.json"
  sg-train -o "$T/r" --resume
  for f in G D state; do cmp "$T/plain/ckpt/000006-$f.safetensors" "$T/r/ckpt/000006-$f.safetensors"; done
  cmp <(strip_timing "$T/plain/history.jsonl") <(strip_timing "$T/r/history.jsonl")
  # a run stopped before its first iteration, resumed and stopped as it is set up: still none
  rm -rf "$T/r"
  run env --default-signal=INT strace -f -qq -o /dev/null -e trace=rename -e inject=rename:signal=INT:when=1 \
    sg-train -o "$T/r" "${args[@]}"
  [ "$status" -eq 130 ]
  run env --default-signal=INT strace -f -qq -o /dev/null -e trace=rename -e inject=rename:signal=INT:when=1 \
    sg-train -o "$T/r" --resume
  [ "$status" -eq 130 ]
  [ "$output" = "sg-train: interrupted before training resumed: the run in $T/r has no checkpoint yet (sg-train -o $T/r --resume starts it again)" ]
  sg-train -o "$T/r" --resume
  for f in G D state; do cmp "$T/plain/ckpt/000006-$f.safetensors" "$T/r/ckpt/000006-$f.safetensors"; done
}

# SigBlk of /proc/PID/task/TID/status: hex, bit N-1 for signal N.
sig_blocked() { local blk; blk=$(awk '/^SigBlk:/ {print $2}' "$1"); (( (16#$blk >> ($2 - 1)) & 1 )); }

@test "worker threads (the CPU backend's pool, the batch loader) block SIGINT, SIGTERM, SIGHUP, not SIGSEGV or SIGBUS" {
  # a stop taken by a worker would not interrupt the main thread's waits
  sg-train -o "$T/r" --iters 1000000 --log-every 1 --sample-every 0 --save-every 0 \
    --batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --threads 2 --device cpu -q "$D/a.lmdb" 2> "$T/err" &
  BG_PID=$!
  wait_history_lines 2   # the pool starts with the backend, the loader for the first batch
  workers=0
  for st in /proc/"$BG_PID"/task/*/status; do
    [ "$st" = "/proc/$BG_PID/task/$BG_PID/status" ] && continue
    for sig in 1 2 15; do sig_blocked "$st" "$sig" || { echo "$st: signal $sig not blocked"; false; }; done
    for sig in 7 11; do ! sig_blocked "$st" "$sig" || { echo "$st: signal $sig blocked"; false; }; done
    workers=$((workers + 1))
  done
  [ "$workers" -ge 2 ]
  interrupt_and_wait "$BG_PID"
  [ "$status" -eq 130 ]
}

# The threads (/proc/PID/task: the main one, the pool's workers, the batch
# loader) of an endless run pinned to CPU 0 with --threads $1, once its history
# has 2 lines, into $tasks.
tasks_on_cpu0() {
  rm -rf "$T/r"
  taskset -c 0 sg-train -o "$T/r" --iters 1000000 --log-every 1 --sample-every 0 --save-every 0 \
    --batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --threads "$1" --device cpu -q "$D/a.lmdb" 2> "$T/err" &
  BG_PID=$!
  wait_history_lines 2
  tasks=$(ls /proc/"$BG_PID"/task | wc -l)
  interrupt_and_wait "$BG_PID"
  [ "$status" -eq 130 ]
}

@test "--threads 0 takes the CPUs the process may use: pinned to one (taskset -c 0), 1 thread, as --threads 1" {
  command -v taskset > /dev/null || skip "no taskset"
  [ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] || skip "one CPU online: every CPU and the usable ones are the same"
  tasks_on_cpu0 1; one=$tasks
  tasks_on_cpu0 2; two=$tasks
  tasks_on_cpu0 0; zero=$tasks
  echo "threads 1: $one tasks, 2: $two, 0: $zero"
  [ "$two" -gt "$one" ]   # the count sees the pool's workers
  [ "$zero" -eq "$one" ]
}

# A value of config.json's "sessions" entry $2 (0-based; -1 the last): its
# own key $3, or its training option of that name.
session_value() {
  /usr/bin/python3 - "$1/config.json" "$2" "$3" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["sessions"][int(sys.argv[2])]
v = e[sys.argv[3]] if sys.argv[3] in e else e["training"].get(sys.argv[3], "-")
print(json.dumps(v) if isinstance(v, bool) else v)
PY
}

@test "a resume with another thread count says so in one line naming the count the run computed with (config.json's sessions record it); the same count or other intervals say nothing" {
  args=(--batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --device cpu --sample-every 0 -q)
  sg-train -o "$T/r" --iters 2 --threads 2 "${args[@]}" "$D/a.lmdb"
  [ "$(session_value "$T/r" -1 threads_used)" = 2 ]
  cp -r "$T/r" "$T/same"
  run sg-train -o "$T/r" --resume --iters 4 --threads 1 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: 1 thread (the run used 2 up to iteration 2): from here on it does not repeat an uninterrupted run; --threads 2 keeps it" ]
  [ "$(cat "$T/r/latest")" = 000004 ]
  [ "$(session_value "$T/r" 0 threads_used) $(session_value "$T/r" 1 threads_used) $(session_value "$T/r" 1 from)" = "2 1 2" ]
  # the next resume compares with the count of the start before it
  run sg-train -o "$T/r" --resume --iters 5 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run sg-train -o "$T/r" --resume --iters 6 --threads 3 -q
  [ "$output" = "sg-train: 3 threads (the run used 1 up to iteration 5): from here on it does not repeat an uninterrupted run; --threads 1 keeps it" ]
  # the same count, other intervals, --keep, --disk-full-wait: nothing said
  run sg-train -o "$T/same" --resume --iters 4 --log-every 1 --save-every 1 --sample-every 1 --keep 2 --disk-full-wait 0 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(session_value "$T/same" 1 save_every) $(session_value "$T/same" 0 save_every)" = "1 10000" ]
}

@test "--threads 0 records the count it resolved to: a resume under taskset -c 0 (one CPU) says the count changed, --threads N of the run's does not" {
  command -v taskset > /dev/null || skip "no taskset"
  args=(--batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --device cpu --sample-every 0 -q)
  sg-train -o "$T/r" --iters 2 "${args[@]}" "$D/a.lmdb"
  grep -q '"threads": 0' "$T/r/config.json"   # asked for: the CPUs this process may use
  n=$(session_value "$T/r" 0 threads_used)
  [ "$n" -ge 1 ]
  [ "$n" -ge 2 ] || skip "this process may use one CPU"
  cp -r "$T/r" "$T/kept"
  run taskset -c 0 sg-train -o "$T/r" --resume --iters 4 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: 1 thread (the run used $n up to iteration 2): from here on it does not repeat an uninterrupted run; --threads $n keeps it" ]
  [ "$(session_value "$T/r" 1 threads_used)" = 1 ]
  run taskset -c 0 sg-train -o "$T/kept" --resume --iters 4 --threads "$n" -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "a resume on another OpenBLAS kernel says the CPU computes otherwise, naming both; the sessions record each" {
  args=(--batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --threads 1 --device cpu --sample-every 0 -q)
  OPENBLAS_CORETYPE=Nehalem sg-train -o "$T/r" --iters 2 "${args[@]}" "$D/a.lmdb"
  was=$(session_value "$T/r" 0 numerics)
  [[ "$was" =~ ^"OpenBLAS "[^\ ]+" Nehalem, x86-64"(-v3)?" clones, cflags "[0-9a-f]{8}$ ]] ||
    [[ "$was" == *"no clones, cflags "* ]] || skip "OpenBLAS without a kernel per CPU (no DYNAMIC_ARCH): $was"
  run env OPENBLAS_CORETYPE=Core2 sg-train -o "$T/r" --resume --iters 4 -q
  [ "$status" -eq 0 ]
  now=$(session_value "$T/r" 1 numerics)
  [ "$now" = "${was/Nehalem/Core2}" ]
  [ "$output" = "sg-train: the CPU computes with $now (the run used $was up to iteration 2): from here on it does not repeat an uninterrupted run" ]
  # the thread count too: one line for both
  run env OPENBLAS_CORETYPE=Nehalem sg-train -o "$T/r" --resume --iters 6 --threads 2 -q
  [ "$output" = "sg-train: 2 threads, $was (the run used 1, $now up to iteration 4): from here on it does not repeat an uninterrupted run; --threads 1 keeps the thread count" ]
  [ "$(session_value "$T/r" -1 created_by)" = "stargan-c $(sg-train --version | sed 's/^sg-train //')" ]
}

@test "a resume with options that change the results says each, with the run's value and the iteration it held to; config.json's sessions keep what each stretch used" {
  sg-train -o "$T/r" --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  run sg-train -o "$T/r" --resume --iters 4 --batch 2 --n-critic 3 --g-lr 1.5e-4 --beta1 0.9 --beta2 0.99 \
    --lambda-cls 2 --lambda-rec 7 --lambda-gp 5 --no-flip --target-labels random --log-every 1 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: --batch 2 (the run used 4 up to iteration 2)
sg-train: --n-critic 3 (the run used 5 up to iteration 2)
sg-train: --g-lr 0.00015 (the run used 0.0001 up to iteration 2)
sg-train: --beta1 0.9 (the run used 0.5 up to iteration 2)
sg-train: --beta2 0.99 (the run used 0.999 up to iteration 2)
sg-train: --lambda-cls 2 (the run used 1 up to iteration 2)
sg-train: --lambda-rec 7 (the run used 10 up to iteration 2)
sg-train: --lambda-gp 5 (the run used 10 up to iteration 2)
sg-train: --no-flip (the run used --flip up to iteration 2)
sg-train: --target-labels random (the run used permute up to iteration 2)" ]
  [ "$(cat "$T/r/latest")" = 000004 ]
  # the record: both starts, each with its own options; "training" the last's
  [ "$(session_value "$T/r" 0 from) $(session_value "$T/r" 0 batch) $(session_value "$T/r" 0 lambda_gp) $(session_value "$T/r" 0 flip) $(session_value "$T/r" 0 target_labels)" = "0 4 10 true permute" ]
  [ "$(session_value "$T/r" 1 from) $(session_value "$T/r" 1 batch) $(session_value "$T/r" 1 lambda_gp) $(session_value "$T/r" 1 flip) $(session_value "$T/r" 1 target_labels)" = "2 2 5 false random" ]
  grep -q '"training": {.*"batch": 2,.*"lambda_gp": 5,' "$T/r/config.json"
  # back to the run's values: said again, against the second start's
  run sg-train -o "$T/r" --resume --iters 5 --batch 4 -q
  [ "$output" = "sg-train: --batch 4 (the run used 2 up to iteration 4)" ]
  # a learning rate that jumps: the learning-rate line alone says it
  run sg-train -o "$T/r" --resume --iters 6 --d-lr 1e-3 -q
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: --iters 6 --d-lr 0.001 moves the learning-rate decay: "* ]]
  [ "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["sessions"]))' "$T/r/config.json")" = 4 ]
  # nothing to train: nothing said, no entry
  run sg-train -o "$T/r" --resume --lambda-gp 1 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["sessions"]))' "$T/r/config.json")" = 4 ]
}

@test "a run from before config.json had sessions resumes without a false warning, even on another thread count; it gets one entry from 0" {
  sg-train -o "$T/r" --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  /usr/bin/python3 - "$T/r/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
del c["sessions"]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
  ! grep -q -e sessions -e threads_used -e numerics "$T/r/config.json" || false
  cp -r "$T/r" "$T/r2"
  run sg-train -o "$T/r" --resume --iters 4 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run sg-train -o "$T/r2" --resume --iters 4 --threads 2 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(session_value "$T/r2" 0 from) $(session_value "$T/r2" 0 threads_used) $(session_value "$T/r2" 0 batch)" = "0 - 4" ]
  [ "$(session_value "$T/r2" 1 from) $(session_value "$T/r2" 1 threads_used)" = "2 2" ]
  # an option changed against such a run: config.json's value, as it was
  sg-train -o "$T/r3" --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  sed -i '/"sessions": \[/,/^  \],$/d' "$T/r3/config.json"
  ! grep -q sessions "$T/r3/config.json" || false
  run sg-train -o "$T/r3" --resume --iters 4 --lambda-gp 5 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: --lambda-gp 5 (the run used 10 up to iteration 2)" ]
}

@test "lib/ and the tools start threads with sg_thread_start only (it blocks the stop signals in them)" {
  cd "$BATS_TEST_DIRNAME/../.."
  run grep -l 'pthread_create *(' lib/*.c tools/*.c tools/cli/*.c
  [ "$output" = lib/thread.c ]
}

@test "a second sg-train on a run directory in use is refused; the first one's run stays whole" {
  sg-train -o "$T/r" --iters 1000000 --log-every 1 --sample-every 0 --save-every 0 "${TINY[@]}" "$D/a.lmdb" 2> "$T/err" &
  pid=$!
  BG_PID=$pid
  wait_history_lines 3
  msg="sg-train: $T/r: the run directory is locked (flock) by another process: another sg-train training it, or a flock(1) or script locking the directory itself (two sg-train at once would mix their checkpoints and history: wait for it to end or stop it; a script guarding sg-train should lock another file)"
  # busy is EX_TEMPFAIL (75), not a failure (1): a cron job tells "already running" apart
  run sg-train -o "$T/r" --resume --iters 3
  [ "$status" -eq 75 ]
  [ "$output" = "$msg" ]
  run sg-train -o "$T/r" --force --iters 3 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 75 ]
  [ "$output" = "$msg" ]
  interrupt_and_wait "$pid"
  [ "$status" -eq 130 ]
  # the first run's history was not trimmed under it: one line per iteration up to its checkpoint
  n=$(cat "$T/r/latest")
  [ "$(wc -l < "$T/r/history.jsonl")" -eq "$((10#$n))" ]
  [ "$(strip_timing "$T/r/history.jsonl" | tail -n 1 | cut -d, -f1)" = "{\"iteration\":$((10#$n))" ]
  # the lock goes with the process
  run sg-train -o "$T/r" --resume --iters $((10#$n + 2))
  [ "$status" -eq 0 ]
  [ "$(wc -l < "$T/r/history.jsonl")" -eq "$((10#$n + 2))" ]
}

@test "flock(1) on RUN itself (a cron guard) is refused as busy, exit 75, naming the lock, not only another sg-train" {
  command -v flock >/dev/null || skip "no flock(1)"
  sg-train -q -o "$T/r" --iters 1 --log-every 1 "${TINY[@]}" "$D/a.lmdb"
  run flock -n "$T/r" sg-train -q -o "$T/r" --resume --iters 2
  [ "$status" -eq 75 ]
  [[ "$output" == "sg-train: $T/r: the run directory is locked (flock) by another process: "*"a flock(1) or script locking the directory itself"*"lock another file)" ]]
  [ "$(wc -l < "$T/r/history.jsonl")" -eq 1 ]
  # a shared lock (a reader's backup) blocks it too; a lock on another file does not
  run flock -s "$T/r" sg-train -q -o "$T/r" --resume --iters 2
  [ "$status" -eq 75 ]
  run flock -n "$T/r.lock" sg-train -q -o "$T/r" --resume --iters 2
  [ "$status" -eq 0 ]
  [ "$(wc -l < "$T/r/history.jsonl")" -eq 2 ]
}

@test "a crash while reading shards (LMDB trusts its pages) is one line naming the shards, exit 1" {
  signal_long_run SEGV 1
  [ "$status" -eq 1 ]
  grep -q "^sg-train: fatal signal while reading the shards $D/a.lmdb: the data may be damaged" "$T/err"
}

# review-fuzz22 F7: --resume with another shard path opens the run's recorded
# shard to compare it; a crash in that one was blamed on the given shard only.
@test "--resume with another shard: a crash inside the run's recorded shard names it too, exit 1" {
  need_strace
  cp -r "$D/a.lmdb" "$T/rec"
  cp -r "$D/a.lmdb" "$T/a2.lmdb"
  sg-train -o "$T/r" --iters 2 --save-every 2 --sample-every 0 "${TINY[@]}" "$T/rec"
  # a fault inside LMDB while it reads rec (a damaged page: SIGBUS, SIGSEGV) as a SEGV when
  # rec/data.mdb is opened; pages that point past the file no longer fault (shards map the
  # file's size: MDB_PAGE_NOTFOUND), so strace stands in for them
  crash_in_rec() {
    # (-P matches the path as the tool opens it: rec_data, when that is relative)
    env --default-signal=SEGV strace -f -qq -o /dev/null -P "${rec_data:-$T/rec/data.mdb}" -e trace=openat \
      -e inject=openat:signal=SEGV:when=1 sg-train "$@"
  }
  cp "$T/r/config.json" "$T/config.before"
  run crash_in_rec -o "$T/r" --resume --iters 3 -q "$T/a2.lmdb"
  [ "$status" -eq 1 ]
  # (after the newline the handler starts with: its own line after a partial one)
  [ "${output#$'\n'}" = "sg-train: fatal signal while reading the shards $T/a2.lmdb, or the run's own shard $T/rec that config.json records (read to compare with them): the data may be damaged, LMDB does not check its pages (celeb-dump --verify checks a shard, celeb-pack remakes it)" ]
  cmp "$T/r/config.json" "$T/config.before"
  # the shards given, and those taken from config.json, are named as before
  run crash_in_rec -o "$T/r" --resume --iters 3 -q "$T/rec"
  [ "$status" -eq 1 ]
  [[ "${output#$'\n'}" == "sg-train: fatal signal while reading the shards $T/rec: the data"* ]]
  run crash_in_rec -o "$T/r" --resume --iters 3 -q
  [ "$status" -eq 1 ]
  [[ "${output#$'\n'}" == "sg-train: fatal signal while reading the shards $T/rec: the data"* ]]
  # the run's own shard by another name (relative, config.json's is absolute): named once
  cd "$T"
  rec_data=rec/data.mdb run crash_in_rec -o r --resume --iters 3 -q rec
  [ "$status" -eq 1 ]
  [[ "$output" == *"sg-train: fatal signal while reading the shards rec: the data"* ]]
  [[ "$output" != *"the run's own"* ]]
}

@test "--device cuda without a usable GPU or CUDA build is a clear error, never a CPU fallback" {
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    skip "a GPU is present"
  fi
  run sg-train -o "$T/r" --device cuda --iters 2 --batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 -q "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: --device cuda: "* ]]
  [ "${#lines[@]}" -eq 1 ]
  [ ! -e "$T/r" ]
  # auto falls back to the CPU.
  run sg-train -o "$T/r" --device auto --iters 2 --batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 -q "$D/a.lmdb"
  [ "$status" -eq 0 ]
}

@test "a CUDA build where cuDNN is missing: --version and --device cpu run, --device cuda names the library and what to install (or the missing GPU first)" {
  run sg-train -o "$T/probe" --iters 1 "${TINY[@]/cpu/cuda}" "$D/a.lmdb"
  [[ "$output" != *"this build has no CUDA backend"* ]] || skip "a build without CUDA"
  # with no usable GPU (no driver even), that is what --device cuda says,
  # cuDNN or not: installing cuDNN would not help (the emulated build, which
  # has a "GPU", checks the cuDNN message of the backend: sg-train-emu.bats)
  gpu=$status
  no_gpu=$output
  # cuDNN is loaded at run time (kernels/cudnn_api.cu); the tool's RUNPATH
  # would find the real one, so the tests name a library that is not there
  export SG_TEST_CUDNN_LIBRARY=/nonexistent/libcudnn.so.9
  run sg-train --version
  [ "$status" -eq 0 ]
  sg-train -o "$T/cpu" --iters 1 "${TINY[@]}" "$D/a.lmdb"
  [ -e "$T/cpu/ckpt/000001-G.safetensors" ]
  for dev in cuda cuda:0; do
    run sg-train -o "$T/r" --device $dev --iters 1 --batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 -q "$D/a.lmdb"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    if [ "$gpu" -eq 0 ]; then
      [[ "$output" == "sg-train: --device $dev: cannot load cuDNN (/nonexistent/libcudnn.so.9): "*"No such file or directory; install cuDNN "*" or use --device cpu" ]]
    else
      [[ "$no_gpu" == "sg-train: --device cuda: no "* ]]
      [ "$output" = "${no_gpu/--device cuda:/--device $dev:}" ]
    fi
    [ ! -e "$T/r" ]
  done
  # auto trains on the CPU
  sg-train -o "$T/auto" --device auto --iters 1 --batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 -q "$D/a.lmdb"
  [ -e "$T/auto/ckpt/000001-G.safetensors" ]
  # and sg-sample the same
  run sg-sample --version
  [ "$status" -eq 0 ]
  run sg-sample --ckpt "$T/cpu" --data "$D/a.lmdb" --count 1 --device cuda -o "$T/x.png"
  [ "$status" -eq 1 ]
  if [ "$gpu" -eq 0 ]; then
    [[ "$output" == "sg-sample: --device cuda: cannot load cuDNN (/nonexistent/libcudnn.so.9): "*"; install cuDNN "*" or use --device cpu" ]]
  else
    [ "$output" = "${no_gpu/sg-train:/sg-sample:}" ]
  fi
  sg-sample --ckpt "$T/cpu" --data "$D/a.lmdb" --count 1 --device cpu -o "$T/x.png"
  [ -s "$T/x.png" ]
}

@test "cuDNN hidden for real (a mount namespace): the tools start; a cuDNN shim without its sub-libraries is one line, not an abort" {
  [ "$(id -u)" -eq 0 ] || skip "needs root (unshare -m)"
  unshare -m true 2>/dev/null || skip "no mount namespaces here"
  root="$BATS_TEST_DIRNAME/../.."
  # where the loader test found cuDNN (it follows the tools' RUNPATH)
  lib=$("$root/build/tests/test_cudnn_load" | sed -n 's/: [0-9]* functions bound.*//p')
  [ -n "$lib" ] || skip "no CUDA build, or no cuDNN here"
  mkdir "$T/empty" "$T/shim"
  cp "$lib" "$T/shim/"
  # an empty directory over cuDNN's: the RUNPATH and ld.so.cache find nothing
  hide() { unshare -m sh -c 'mount --bind "$0" "$1" && shift && exec "$@"' "$T/empty" "$(dirname "$(readlink -f "$lib")")" "$@"; }
  run hide sg-train --version
  [ "$status" -eq 0 ]
  hide sg-train -o "$T/cpu" --iters 1 "${TINY[@]}" "$D/a.lmdb"
  [ -e "$T/cpu/ckpt/000001-G.safetensors" ]
  # the loader's message (SG_TEST_CUDNN_LIBRARY, empty: the real name), from its test, which needs no GPU
  loader() { hide env SG_TEST_CUDNN_LIBRARY="$1" "$root/build/tests/test_cudnn_load" | sed -n 's/^SKIP cuDNN is not installed here: //p'; }
  # the tool: one line, never an abort; the loader's message where there is a GPU, else the missing GPU's
  gpu=0
  sg-train -o "$T/probe" --iters 1 "${TINY[@]/cpu/cuda}" "$D/a.lmdb" 2>/dev/null || gpu=1
  tool() {
    run hide env SG_TEST_CUDNN_LIBRARY="$1" sg-train -o "$T/r" --device cuda --iters 1 --batch 4 --g-conv-dim 4 \
      --d-conv-dim 4 --g-repeat 1 -q "$D/a.lmdb"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [ ! -e "$T/r" ]
    if [ "$gpu" -eq 0 ]; then [ "$output" = "sg-train: --device cuda: $(loader "$1")" ]
    else [[ "$output" == "sg-train: --device cuda: no "* ]]; fi
  }
  msg=$(loader "")
  [[ "$msg" == "cannot load cuDNN (libcudnn.so."*"): libcudnn.so."*": cannot open shared object file: No such file or directory; install cuDNN "*" or use --device cpu" ]]
  tool ""
  # the shim alone: its first call would abort the process ("Invalid handle")
  msg=$(loader "$T/shim/${lib##*/}")
  [[ "$msg" == "cannot load cuDNN ($T/shim/${lib##*/}): $T/shim/libcudnn_cnn.so."*": cannot open shared object file: No such file or directory; install cuDNN "* ]]
  tool "$T/shim/${lib##*/}"
  # cnn beside the shim, but not the libraries it needs: those are named, not cnn
  cp "$(dirname "$lib")"/libcudnn_cnn.so.[0-9] "$T/shim/"
  msg=$(loader "$T/shim/${lib##*/}")
  [[ "$msg" == "cannot load cuDNN ($T/shim/${lib##*/}): libcudnn_"@(ops|graph)".so."*": cannot open shared object file: No such file or directory; install cuDNN "* ]]
  tool "$T/shim/${lib##*/}"
}

@test "CUDA (when a GPU is usable): trains, and a resume is exact on the GPU too" {
  if ! sg-train -q -o "$T/probe" --device cuda --iters 1 --batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 \
       --sample-every 0 "$D/a.lmdb" 2>/dev/null; then
    skip "no usable CUDA GPU"
  fi
  base=(--iters 12 --decay-iters 6 --log-every 1 --sample-every 6 --save-every 6 --batch 4 --g-conv-dim 8
        --d-conv-dim 8 --g-repeat 2 -q)
  args=("${base[@]}" --device cuda)
  sg-train -o "$T/straight" "${args[@]}" "$D/a.lmdb" "$D/onehot.lmdb"
  sg-train -o "$T/crash" "${args[@]}" "$D/a.lmdb" "$D/onehot.lmdb"
  echo 000006 > "$T/crash/latest"
  rm "$T/crash"/ckpt/000012-*
  run sg-train -o "$T/crash" --resume --device cuda -q
  [ "$status" -eq 0 ]
  for f in G D state; do cmp "$T/straight/ckpt/000012-$f.safetensors" "$T/crash/ckpt/000012-$f.safetensors"; done
  diff <(strip_timing "$T/straight/history.jsonl") <(strip_timing "$T/crash/history.jsonl")
  # Close to the CPU: the first D losses of the same run on the CPU agree to TF32 precision.
  sg-train -o "$T/cpu" "${base[@]}" --device cpu --threads 1 "$D/a.lmdb" "$D/onehot.lmdb"
  /usr/bin/python3 - "$T/straight/history.jsonl" "$T/cpu/history.jsonl" <<'PY'
import json, sys
g = json.loads(open(sys.argv[1]).readline()); c = json.loads(open(sys.argv[2]).readline())
for k in ("D/loss_real", "D/loss_fake", "D/loss_cls", "D/loss_gp"):
    assert abs(g[k] - c[k]) <= 1e-2 * max(1.0, abs(c[k])), (k, g[k], c[k])
PY
}

@test "robustness: a malformed history line on --resume names line and column once" {
  sg-train -o "$T/r" --iters 2 --log-every 1 "${TINY[@]}" "$D/a.lmdb"
  printf '{"iteration": 1, x}\n{"iteration": 2}\n' >> "$T/r/history.jsonl"
  before=$(cksum < "$T/r/history.jsonl")
  run sg-train -o "$T/r" --resume --iters 4
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/r/history.jsonl line 3: expected a string key at column 18 (mend or delete that line, then resume again)" ]
  [ "$(cksum < "$T/r/history.jsonl")" = "$before" ]
}

@test "a run file replaced by a FIFO, a device or a directory is one line naming it, never a hang" {
  sg-train -o "$T/r" --iters 3 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  for f in latest config.json history.jsonl ckpt/000003-G.safetensors ckpt/000003-state.safetensors; do
    for kind in fifo zero dir; do
      cp -r "$T/r" "$T/e"
      rm "$T/e/$f"
      case $kind in
        fifo) mkfifo "$T/e/$f" ;;
        zero) ln -s /dev/zero "$T/e/$f" ;;
        dir) mkdir "$T/e/$f" ;;
      esac
      # each of these blocked for ever (a FIFO) or read /dev/zero up to 16 GiB (history.jsonl) before
      run timeout 20 sg-train -o "$T/e" --resume --iters 4
      echo "$f $kind: $status $output"
      [ "$status" -eq 1 ]
      [ "${#lines[@]}" -eq 1 ]
      case $kind in
        fifo) [[ "$output" == "sg-train: $T/e/$f: not a regular file (a FIFO; move it away)"* ]] ;;
        zero) [[ "$output" == "sg-train: $T/e/$f: not a regular file (a device; move it away)"* ]] ;;
        # said as what it is, and not a checkpoint to go back from (its files are sound)
        dir) [[ "$output" == "sg-train: $T/e/$f: is a directory, not a file (move it away)"* ]]
             [[ "$output" != *unusable* ]] ;;
      esac
      rm -r "$T/e"
    done
  done
  # latest as a link to nowhere is an unreadable latest, not a run without checkpoints
  rm "$T/r/latest"
  ln -s "$T/nowhere" "$T/r/latest"
  run sg-train -o "$T/r" --resume --iters 4
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/r/latest: No such file or directory" ]
  [ ! -e "$T/r/ckpt/000004-G.safetensors" ]
  # history.jsonl as a link to nowhere, the same (it was replaced by an empty history)
  rm "$T/r/latest"
  echo 000003 > "$T/r/latest"
  mv "$T/r/history.jsonl" "$T/history.jsonl"
  ln -s "$T/nowhere" "$T/r/history.jsonl"
  refused_run_unchanged "$T/r" "sg-train: $T/r/history.jsonl: No such file or directory" --resume --iters 4
  [ ! -e "$T/nowhere" ]
  [ -L "$T/r/history.jsonl" ]
}

@test "resume without latest but with checkpoints goes on from the newest complete one (it restarted from 0, overwriting them)" {
  args=(--decay-iters 0 --save-every 2 --log-every 1 --sample-every 0 "${TINY[@]}")
  sg-train -o "$T/straight" --iters 6 "${args[@]}" "$D/a.lmdb"
  sg-train -o "$T/r" --iters 4 "${args[@]}" "$D/a.lmdb"
  rm "$T/r/latest"
  run sg-train -o "$T/r" --resume --iters 6 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: $T/r/latest is missing: resuming from checkpoint 000004, the newest in $T/r/ckpt (latest names it again)" ]
  for f in G D state; do cmp "$T/straight/ckpt/000006-$f.safetensors" "$T/r/ckpt/000006-$f.safetensors"; done
  diff <(strip_timing "$T/straight/history.jsonl") <(strip_timing "$T/r/history.jsonl")
  # a first save killed after its three files, before latest: the same; a resume with nothing
  # to train puts latest back too (sg-sample and the pipelines read it)
  sg-train -o "$T/k" --iters 2 "${args[@]}" "$D/a.lmdb"
  rm "$T/k/latest"
  run sg-train -o "$T/k" --resume --iters 2 -q
  [ "$status" -eq 0 ]
  [ "$(cat "$T/k/latest")" = 000002 ]
  rm "$T/k/latest"
  # ... but not a resume that is refused (a damaged "sessions"): the run is left as it was
  cp "$T/k/config.json" "$T/k.config"
  sed -i 's|"sessions": \[|"sessions": 5, "was": [|' "$T/k/config.json"
  run sg-train -o "$T/k" --resume --iters 2 -q
  [ "$status" -eq 1 ]
  [ ! -e "$T/k/latest" ]
  cp "$T/k.config" "$T/k/config.json"
  run sg-train -o "$T/k" --resume --iters 6 -q
  [ "$status" -eq 0 ]
  for f in G D state; do cmp "$T/straight/ckpt/000006-$f.safetensors" "$T/k/ckpt/000006-$f.safetensors"; done
  # the newest damaged: the message names the one before
  rm "$T/r/latest"
  printf 'x' | dd of="$T/r/ckpt/000006-G.safetensors" bs=1 seek=5000 conv=notrunc status=none
  run sg-train -o "$T/r" --resume --iters 8
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: $T/r/ckpt/000006-G.safetensors: "*"(checkpoint 000006 is unusable; to resume from the one before it: echo 000004 > $T/r/latest)" ]]
  # only the files of a first save killed before all three were written: from the start, as before
  sg-train -o "$T/p" --iters 2 --save-every 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  rm "$T/p/latest" "$T/p/ckpt/000002-state.safetensors"
  run sg-train -o "$T/p" --resume --iters 2
  [ "$status" -eq 0 ]
  [ "$(cat "$T/p/latest")" = 000002 ]
}

# Flips bits in byte $2 (from the end) of file $1.
flip_byte() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[-off] ^= 0x10
open(p, "wb").write(b)
PY
}

@test "a resume prunes what a save killed while pruning left (a finished run kept it for good)" {
  args=(--iters 6 --save-every 3 --sample-every 0 "${TINY[@]}" "$D/a.lmdb")
  sg-train -o "$T/all" --keep 0 "${args[@]}"
  sg-train -o "$T/r" --keep 1 "${args[@]}"
  [ "$(ls "$T/r/ckpt")" = "$(printf '000006-D.safetensors\n000006-G.safetensors\n000006-state.safetensors')" ]
  # killed after removing checkpoint 3's state (state, D, G is prune's order)
  cp "$T/all/ckpt/000003-G.safetensors" "$T/all/ckpt/000003-D.safetensors" "$T/r/ckpt/"
  run sg-train -o "$T/r" --resume
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(ls "$T/r/ckpt")" = "$(printf '000006-D.safetensors\n000006-G.safetensors\n000006-state.safetensors')" ]
  # a whole checkpoint too many, and a longer run goes on as before
  cp "$T/all/ckpt/000003-"* "$T/r/ckpt/"
  run sg-train -o "$T/r" --resume --iters 7
  [ "$status" -eq 0 ]
  [ "$(ls "$T/r/ckpt" | grep -c 000003)" -eq 0 ]
  [ -e "$T/r/ckpt/000007-state.safetensors" ]
  [ ! -e "$T/r/ckpt/000006-G.safetensors" ]
}

@test "a flipped bit in a checkpoint's data, or a G/D of another run, is refused naming the file (it loaded silently)" {
  sg-train -o "$T/r" --iters 3 --save-every 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  for f in G D state; do
    cp -r "$T/r" "$T/e"
    flip_byte "$T/e/ckpt/000003-$f.safetensors" 3
    refused_run_unchanged "$T/e" "sg-train: $T/e/ckpt/000003-$f.safetensors: the data does not match its checksum (CRC-32 "*", recorded "*"): the file is damaged (checkpoint 000003 is unusable; to resume from the one before it: echo 000002 > $T/e/latest)" --resume --iters 4
    # as it says
    echo 000002 > "$T/e/latest"
    run sg-train -o "$T/e" --resume --iters 4
    [ "$status" -eq 0 ]
    rm -r "$T/e"
  done
  # with no checkpoint before it
  cp -r "$T/r" "$T/e"
  rm "$T/e"/ckpt/000002-*
  flip_byte "$T/e/ckpt/000003-G.safetensors" 3
  run sg-train -o "$T/e" --resume --iters 4
  [ "$status" -eq 1 ]
  [[ "$output" == *"the file is damaged (checkpoint 000003 is unusable and there is no earlier one; --force starts over)" ]]
  # the same model and step from another run (another seed): each file is whole, but they do not belong together
  sg-train -o "$T/o" --iters 3 --seed 5 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  cp "$T/o/ckpt/000003-D.safetensors" "$T/r/ckpt/"
  run sg-train -o "$T/r" --resume --iters 4
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: $T/r/ckpt/000003-D.safetensors: not the D saved with $T/r/ckpt/000003-state.safetensors (its data CRC-32 is "*"): files of different checkpoints or runs mixed (checkpoint 000003 is unusable; to resume from the one before it: echo 000002 > $T/r/latest)" ]]
  [ ! -e "$T/r/ckpt/000004-G.safetensors" ]
}

@test "a checkpoint not opened for want of file descriptors is not called unusable (its advice to go back lost iterations; review-env15 F3)" {
  sg-train -o "$T/r" --iters 4 --save-every 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  before=$(tree_sum "$T/r")
  # a limit that lets config.json open but not one of the checkpoint's files
  ckpt_emfile=0
  for n in $(seq 4 16); do
    bash -c "ulimit -n $n && exec sg-train --version" > /dev/null 2>&1 || continue   # too few to start at all
    run bash -c "ulimit -n $n && exec sg-train -o '$T/r' --resume --iters 4 -q"
    [ "$status" -eq 0 ] && continue
    [ "$status" -eq 1 ]
    [[ "$output" != *unusable* && "$output" != *"echo "* ]] || { echo "ulimit -n $n: $output"; false; }
    if [[ "$output" == "sg-train: $T/r/ckpt/000004-"*".safetensors: Too many open files (raise ulimit -n)" ]]; then
      ckpt_emfile=1
      [ "$(tree_sum "$T/r")" = "$before" ]
    fi
  done
  [ "$ckpt_emfile" -eq 1 ]
  [ "$(cat "$T/r/latest")" = 000004 ]
}

@test "a checkpoint that does not fit in memory is not called unusable either (the library's own out of memory said nothing of errno; review-diff15 1)" {
  # the reference's channel widths, so that loading the state file needs more
  # memory than the model: some address-space limit lets the model in, not the load
  sg-train -o "$T/big" --iters 2 --save-every 1 --sample-every 0 --batch 4 --threads 1 --device cpu -q "$D/a.lmdb"
  load_oom=0
  for v in $(seq 300000 10000 700000); do
    run bash -c "ulimit -v $v && exec sg-train -o '$T/big' --resume --iters 2 -q"
    [ "$status" -eq 0 ] && continue
    [ "$status" -eq 1 ]
    [[ "$output" != *unusable* && "$output" != *"echo "* ]] || { echo "ulimit -v $v: $output"; false; }
    [[ "$output" == "sg-train: $T/big/ckpt/000002-"*": out of memory (free some memory, then try again)" ]] && load_oom=1
  done
  [ "$load_oom" -eq 1 ]
  [ "$(cat "$T/big/latest")" = 000002 ]
}

@test "an image size D or G cannot take names the shard and the ways out (it blamed the model)" {
  celeb-pack -q -a "$D/synth/list_attr_celeba.txt" -i "$D/synth/img_align_celeba" -s Male -S 20 -o "$T/s20.lmdb"
  celeb-pack -q -a "$D/synth/list_attr_celeba.txt" -i "$D/synth/img_align_celeba" -s Male -S 18 -o "$T/s18.lmdb"
  run sg-train -o "$T/r" --iters 2 "${TINY[@]}" "$T/s20.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/s20.lmdb: 20 px images, but D halves them 3 times (the default for this size; 20 px needs a multiple of 8): give --d-repeat 2 or less, or repack it with celeb-pack --size 16 or 24" ]
  run sg-train -o "$T/r" --iters 2 "${TINY[@]}" "$T/s18.lmdb"
  [ "$output" = "sg-train: $T/s18.lmdb: 18 px images: the model takes multiples of 4 up to 4096 (G halves them twice); repack it with celeb-pack --size 16 or 24" ]
  celeb-pack -q -a "$D/synth/list_attr_celeba.txt" -i "$D/synth/img_align_celeba" -s Male -S 4 -o "$T/s4.lmdb"
  run sg-train -o "$T/r" --iters 2 --d-repeat 2 "${TINY[@]}" "$T/s4.lmdb"
  [ "$output" = "sg-train: $T/s4.lmdb: 4 px images: the model takes 8 px or more (G's residual blocks normalize image/4 planes); repack it with celeb-pack --size 8" ]
  run sg-train -o "$T/r" --iters 2 --d-repeat 5 "${TINY[@]}" "$D/a.lmdb"
  [ "$output" = "sg-train: $D/a.lmdb: 16 px images, but D halves them 5 times (--d-repeat; 16 px needs a multiple of 32): give --d-repeat 4 or less, or repack it with celeb-pack --size 32" ]
  [ ! -e "$T/r" ]
  # as it says
  run sg-train -o "$T/r" --iters 1 --d-repeat 2 --sample-every 0 "${TINY[@]}" "$T/s20.lmdb"
  [ "$status" -eq 0 ]
}

@test "two shards of the same name stay two datasets in the history (N:NAME), as sg-plot draws them" {
  mkdir -p "$T/x" "$T/y"
  cp -r "$D/a.lmdb" "$T/x/train.lmdb"; cp -r "$D/b.lmdb" "$T/y/train.lmdb"
  sg-train -o "$T/r" --iters 4 --log-every 1 --sample-every 0 "${TINY[@]}" "$T/x/train.lmdb" "$T/y/train.lmdb"
  [ "$(grep -o '"dataset":"[^"]*"' "$T/r/history.jsonl" | sort | uniq -c | tr -s ' ')" = " 2 \"dataset\":\"1:train\"
 2 \"dataset\":\"2:train\"" ]
  # one name each: as before
  sg-train -o "$T/s" --iters 2 --log-every 1 --sample-every 0 "${TINY[@]}" "$D/a.lmdb" "$D/b.lmdb"
  [ "$(grep -o '"dataset":"[^"]*"' "$T/s/history.jsonl" | tr '\n' ' ')" = '"dataset":"a" "dataset":"b" ' ]
}

@test "a shard given as '.', 'x.lmdb/.' or 'x.lmdb/sub/..' is named after the directory it stands for (it was '.'); a trailing slash as before" {
  cp -r "$D/a.lmdb" "$T/celebA.lmdb"
  mkdir "$T/celebA.lmdb/sub"
  (cd "$T/celebA.lmdb" && sg-train -o "$T/dot" --iters 2 --log-every 1 --sample-every 0 "${TINY[@]}" .)
  grep -q '"name": "celebA"' "$T/dot/config.json"
  [ "$(grep -o '"dataset":"[^"]*"' "$T/dot/history.jsonl" | sort -u)" = '"dataset":"celebA"' ]
  local k=0 given
  for given in "$T/celebA.lmdb/." "$T/celebA.lmdb/./" "$T/celebA.lmdb/sub/.." "$T/celebA.lmdb/"; do
    k=$((k + 1))
    sg-train -o "$T/r$k" --iters 1 --sample-every 0 "${TINY[@]}" "$given"
    grep -q '"name": "celebA"' "$T/r$k/config.json"
  done
}

@test "--precision on the CPU says it does nothing there (it was accepted silently); fp32 says nothing" {
  run sg-train -o "$T/r" --iters 1 --sample-every 0 --precision bf16 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: --precision bf16 is for CUDA's convolutions; the CPU computes in fp32" ]
  run sg-train -o "$T/s" --iters 1 --sample-every 0 --precision fp32 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run sg-sample -q --ckpt "$T/r" --device cpu --precision tf32 --count 1 --data "$D/a.lmdb" -o "$T/x.png"
  [ "$status" -eq 0 ]
  [ "$output" = "sg-sample: --precision tf32 is for CUDA's convolutions; the CPU computes in fp32" ]
}

@test "on a terminal the progress line ends on N/N, whatever the rate limit showed last" {
  command -v script >/dev/null || skip "no script(1) for a terminal"
  run script -qec "sg-train -o '$T/r' --iters 40 --sample-every 0 ${TINY[*]/-q/} '$D/a.lmdb'" /dev/null
  [ "$status" -eq 0 ]
  last=$(printf '%s' "$output" | tr '\r' '\n' | grep -a 'sg-train: [0-9]*/40 ' | tail -n 1)
  [[ "$last" == *"sg-train: 40/40 "* ]] || { echo "last progress: $last"; false; }
  # G's losses: none before G's first update; then the last G update's (the
  # first line and the last are always shown; the last iteration, 42, is no G
  # round's: two datasets, G in rounds 4, 9, ..., 19 = iterations 39, 40).
  # 80 columns show it all: the iteration, it/s, ETA, D's four losses and G's
  # three (the long labelled line, cut to the width, lost G's)
  run script -qec "stty cols 80; sg-train -o '$T/g' --iters 42 --log-every 25 --save-every 1 --sample-every 0 ${TINY[*]/-q/} '$D/a.lmdb' '$D/b.lmdb'" /dev/null
  [ "$status" -eq 0 ]
  shown=$(printf '%s' "$output" | tr '\r' '\n' | sed 's/\x1b\[K//g' | grep -a "ETA .* D ")
  first=$(printf '%s\n' "$shown" | head -n 1) last=$(printf '%s\n' "$shown" | tail -n 1)
  n='-?[0-9]+(\.[0-9]+)?'
  [[ "$first" =~ ^"sg-train: 1/42 "$n"it/s ETA "[0-9hms?]+" D "$n" "$n" "$n" "$n$ ]] || { echo "first: $first"; false; }
  [[ "$last" =~ ^"sg-train: 42/42 "$n"it/s ETA "[0-9hms]+" D "$n" "$n" "$n" "$n" G "$n" "$n" "$n$ ]] || { echo "last: $last"; false; }
  [ "${#last}" -lt 79 ] || { echo "cut at 80 columns: $last"; false; }
  run script -qec "celeb-synth -n 120 -o '$T/s'" /dev/null
  last=$(printf '%s' "$output" | tr '\r' '\n' | grep -a 'images$' | tail -n 1)
  [[ "$last" == *"120/120 images" ]] || { echo "last progress: $last"; false; }
}

@test "resuming a multi-dataset run made before G's rounds schedule says it now differs; one dataset says nothing" {
  sg-train -o "$T/r" --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb" "$D/b.lmdb"
  grep -q '"format": "stargan-c-run/2"' "$T/r/config.json"
  sed -i 's|stargan-c-run/2|stargan-c-run/1|' "$T/r/config.json"   # as the former sg-train wrote it
  run sg-train -o "$T/r" --resume --iters 4 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: $T/r was trained with the former multi-dataset schedule (G after iterations i with (i+1) mod n_critic = 0); it goes on with the reference's (G after every dataset's D step in every n_critic-th round), so it does not repeat an uninterrupted run" ]
  grep -q '"format": "stargan-c-run/2"' "$T/r/config.json"   # rewritten on resume: said once
  run sg-train -o "$T/r" --resume --iters 6 -q
  [ -z "$output" ]
  # format 1 with "g_schedule": "rounds", as the first sg-train with rounds recorded it: no warning
  sed -i 's|stargan-c-run/2",|stargan-c-run/1",|; s|"threads": [0-9]*|&, "g_schedule": "rounds"|' "$T/r/config.json"
  grep -q '"g_schedule": "rounds"' "$T/r/config.json"
  run sg-train -o "$T/r" --resume --iters 8 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  sg-train -o "$T/s" --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  grep -q '"format": "stargan-c-run/1"' "$T/s/config.json"   # one dataset: what every sg-train reads
  run sg-train -o "$T/s" --resume --iters 4 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "a multi-dataset run of the former schedule stays stargan-c-run/1 until a resume saves a checkpoint; one with nothing to train keeps its config.json; one killed before latest named that checkpoint is still of the former schedule" {
  sg-train -o "$T/r" --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb" "$D/b.lmdb"
  ! grep -q g_rounds_from "$T/r/config.json" || false   # in rounds from its start
  sed -i 's|stargan-c-run/2|stargan-c-run/1|' "$T/r/config.json"   # as the former sg-train wrote it
  cp "$T/r/config.json" "$T/config.old"
  # nothing to train (a look at a finished run): config.json not rewritten, nor a word of a schedule
  # it does not go on with (the build that made the run refused it afterwards)
  run sg-train -o "$T/r" --resume -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  cmp "$T/r/config.json" "$T/config.old"
  run sg-train -o "$T/r" --resume --iters 1 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: $T/r: the run is at iteration 2, past --iters 1: nothing to train" ]
  cmp "$T/r/config.json" "$T/config.old"
  # killed before its first checkpoint: every checkpoint is still of the former schedule
  sg-train -o "$T/r" --resume --iters 1000000 --log-every 1 --save-every 0 -q 2> "$T/err" &
  BG_PID=$!
  wait_history_lines 4
  kill -KILL "$BG_PID"
  wait "$BG_PID" || true
  BG_PID=
  [ "$(wc -l < "$T/r/history.jsonl")" -ge 4 ]
  [ "$(cat "$T/r/latest")" = 000002 ]
  grep -q '"format": "stargan-c-run/1"' "$T/r/config.json"
  grep -q '"iters": 1000000' "$T/r/config.json"   # the session's options, in the run's format
  # a first checkpoint that fails (a directory in the way of its G): back to /1
  mkdir "$T/r/ckpt/000004-G.safetensors"
  run sg-train -o "$T/r" --resume --iters 4 -q
  [ "$status" -eq 1 ]
  [ "$(cat "$T/r/latest")" = 000002 ]
  grep -q '"format": "stargan-c-run/1"' "$T/r/config.json"
  rmdir "$T/r/ckpt/000004-G.safetensors"
  cp -a "$T/r" "$T/k"
  # through a checkpoint: stargan-c-run/2, with it
  run sg-train -o "$T/r" --resume --iters 4 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: $T/r was trained with the former multi-dataset schedule (G after iterations i with (i+1) mod n_critic = 0); it goes on with the reference's (G after every dataset's D step in every n_critic-th round), so it does not repeat an uninterrupted run" ]
  [ "$(cat "$T/r/latest")" = 000004 ]
  grep -q '"format": "stargan-c-run/2"' "$T/r/config.json"
  grep -q '"g_rounds_from": 4,' "$T/r/config.json"   # where the rounds began
  run sg-train -o "$T/r" --resume --iters 6 -q
  [ -z "$output" ]
  grep -q '"g_rounds_from": 4,' "$T/r/config.json"
  # /2 before latest names the first checkpoint in rounds: killed at the sixth rename, latest's
  # (config.json at the start, config.json's /2, then G, D, state and latest)
  if command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null; then
    run strace -f -qq -o /dev/null -e trace=rename -e inject=rename:signal=KILL:when=6 \
      sg-train -o "$T/k" --resume --iters 4 -q
    [ "$status" -ne 0 ]
    [ -s "$T/k/ckpt/000004-state.safetensors" ]
    [ "$(cat "$T/k/latest")" = 000002 ]
    grep -q '"format": "stargan-c-run/2"' "$T/k/config.json"
    grep -q '"g_rounds_from": 4,' "$T/k/config.json"
    # the resume goes on from 000002, of the former schedule: said, and /1 until its checkpoint
    # (it resumed silently as a run in rounds)
    cp "$T/k/config.json" "$T/config.killed"
    run sg-train -o "$T/k" --resume --iters 2 -q
    [ -z "$output" ]
    cmp "$T/k/config.json" "$T/config.killed"   # nothing to train: left alone
    run sg-train -o "$T/k" --resume --iters 6 --save-every 3 -q
    [ "$status" -eq 0 ]
    [ "$output" = "sg-train: $T/k was trained with the former multi-dataset schedule (G after iterations i with (i+1) mod n_critic = 0); it goes on with the reference's (G after every dataset's D step in every n_critic-th round), so it does not repeat an uninterrupted run" ]
    [ "$(cat "$T/k/latest")" = 000006 ]
    grep -q '"format": "stargan-c-run/2"' "$T/k/config.json"
    grep -q '"g_rounds_from": 3,' "$T/k/config.json"
  fi
}

@test "--force refuses a run of a newer format (config.json's or a checkpoint's) and deletes nothing; an older format's it replaces" {
  sg-train -o "$T/r" --iters 4 --save-every 2 --sample-every 2 "${TINY[@]}" "$D/a.lmdb"
  cp -r "$T/r" "$T/c"
  cp -r "$T/r" "$T/o"
  sed -i 's|stargan-c-run/1|stargan-c-run/3|' "$T/r/config.json"
  refused_run_unchanged "$T/r" "sg-train: $T/r was written by a newer stargan-c (format \"stargan-c-run/3\"): --force would delete it; remove it yourself (rm -r $T/r) to start over, or use that version" --force --iters 2 "${TINY[@]}" "$D/a.lmdb"
  [ -e "$T/r/ckpt/000004-G.safetensors" ]
  # the newest checkpoint's D in format 2 (same length: the header's size is kept)
  sed -i 's|stargan-c-checkpoint/1|stargan-c-checkpoint/2|' "$T/c/ckpt/000004-D.safetensors"
  refused_run_unchanged "$T/c" "sg-train: $T/c was written by a newer stargan-c (checkpoint $T/c/ckpt/000004 of a format newer than stargan-c-checkpoint/1): --force would delete it; remove it yourself (rm -r $T/c) to start over, or use that version" --force --iters 2 "${TINY[@]}" "$D/a.lmdb"
  # a run of the formats this build writes (or an older one) is replaced as before
  run sg-train -o "$T/o" --force --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(cat "$T/o/latest")" = 000002 ]
  [ ! -e "$T/o/ckpt/000004-G.safetensors" ]
  [ ! -e "$T/o/samples/000004.png" ]
}

@test "a run or checkpoint of a newer format is refused as newer, with no advice that would undo it (it was 'unusable: echo 000002 > latest')" {
  sg-train -o "$T/r" --iters 4 --save-every 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  cp -r "$T/r" "$T/c"
  sed -i 's|stargan-c-run/1|stargan-c-run/3|' "$T/r/config.json"
  refused_run_unchanged "$T/r" "sg-train: $T/r/config.json: written by a newer stargan-c (format \"stargan-c-run/3\"; this one reads stargan-c-run/1 to /2): use that version, or start a new run with another -o" --resume --iters 6
  sed -i 's|stargan-c-run/3|stargan-c-rnu/1|' "$T/r/config.json"
  refused_run_unchanged "$T/r" "sg-train: $T/r/config.json: not a stargan-c run configuration (format \"stargan-c-rnu/1\", expected stargan-c-run/1 to /2)" --resume --iters 6
  # the newest checkpoint's D in format 2 (same length: the header's size is kept)
  sed -i 's|stargan-c-checkpoint/1|stargan-c-checkpoint/2|' "$T/c/ckpt/000004-D.safetensors"
  refused_run_unchanged "$T/c" "sg-train: $T/c/ckpt/000004-D.safetensors: written by a newer stargan-c (format \"stargan-c-checkpoint/2\"; this one reads stargan-c-checkpoint/1): use that version" --resume --iters 6
  # sg-sample says the same of a G
  sed -i 's|stargan-c-checkpoint/1|stargan-c-checkpoint/2|' "$T/c/ckpt/000004-G.safetensors"
  run sg-sample --ckpt "$T/c" --data "$D/a.lmdb" --count 1 -o "$T/out.png"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-sample: $T/c/ckpt/000004-G.safetensors: written by a newer stargan-c (format \"stargan-c-checkpoint/2\"; this one reads stargan-c-checkpoint/1): use that version"* ]]
}

@test "two datasets: the batches of a round share the learning rate, as the reference decays after each round (each batch had its own)" {
  sg-train -o "$T/r" --iters 8 --decay-iters 4 --log-every 1 --sample-every 0 "${TINY[@]}" "$D/a.lmdb" "$D/b.lmdb"
  # rounds 2 (iterations 5, 6) and 3 (7, 8): lr * 4/4 and lr * 2/4
  [ "$(grep -o '"lr":[0-9.e-]*' "$T/r/history.jsonl" | tail -n 4 | tr '\n' ' ')" = '"lr":9.99999975e-05 "lr":9.99999975e-05 "lr":4.99999987e-05 "lr":4.99999987e-05 ' ]
}

@test "two datasets: SG_OVERLAP_G=1 equals the plain run, and a resume from the middle of a round is exact" {
  args=(--iters 24 --decay-iters 0 --n-critic 2 --log-every 1 --sample-every 0 --save-every 5 "${TINY[@]}" "$D/a.lmdb" "$D/b.lmdb")
  sg-train -o "$T/plain" "${args[@]}"
  SG_OVERLAP_G=1 sg-train -o "$T/over" "${args[@]}"
  for f in G D state; do cmp "$T/plain/ckpt/000024-$f.safetensors" "$T/over/ckpt/000024-$f.safetensors"; done
  # G after both D steps of every 2nd round (iterations 3 and 4, 7 and 8, ...)
  [ "$(grep -c G/loss_rec "$T/plain/history.jsonl")" -eq 12 ]
  [ "$(grep G/loss_rec "$T/plain/history.jsonl" | grep -o '"iteration":[0-9]*' | head -4 | tr '\n' ' ')" = \
    '"iteration":3 "iteration":4 "iteration":7 "iteration":8 ' ]
  # checkpoint 15 ends the first iteration of round 7: resume from it
  for mode in 0 1; do
    sg-train -o "$T/cut$mode" "${args[@]/#24/15}"   # /#: the value 24 alone, not a 24 in a path
    SG_OVERLAP_G=$mode sg-train -o "$T/cut$mode" --resume --iters 24
    for f in G D state; do cmp "$T/plain/ckpt/000024-$f.safetensors" "$T/cut$mode/ckpt/000024-$f.safetensors"; done
    diff <(strip_timing "$T/plain/history.jsonl") <(strip_timing "$T/cut$mode/history.jsonl")
  done
}

@test "a damaged training record names the last good checkpoint and celeb-dump --verify (it said only the record)" {
  cp -r "$D/a.lmdb" "$T/bad.lmdb"
  damage_label_record "$T/bad.lmdb" 5
  run sg-train -o "$T/r" --iters 12 --save-every 2 --sample-every 0 "${TINY[@]}" "$T/bad.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: iteration "*": "*"record 5: "*"; last good checkpoint: $T/r/ckpt/0000"*" (celeb-dump --verify "*"bad.lmdb lists every damaged record: pack the shard again, then sg-train -o $T/r --resume continues from it)" ]]
  run celeb-dump --verify "$T/bad.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == *"record 5"* ]]
}

@test "a missing, truncated or garbled G names the checkpoint before it too (only D and state files did)" {
  sg-train -o "$T/r" --iters 3 --save-every 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  hint="(checkpoint 000003 is unusable; to resume from the one before it: echo 000002 > $T/e/latest)"
  cp -r "$T/r" "$T/e"
  rm "$T/e/ckpt/000003-G.safetensors"
  refused_run_unchanged "$T/e" "sg-train: $T/e/ckpt/000003-G.safetensors: No such file or directory $hint" --resume --iters 4
  rm -r "$T/e"; cp -r "$T/r" "$T/e"
  truncate -s 1000 "$T/e/ckpt/000003-G.safetensors"
  refused_run_unchanged "$T/e" "sg-train: $T/e/ckpt/000003-G.safetensors: header length "*" runs past the end of the file (1000 bytes; truncated?) $hint" --resume --iters 4
  rm -r "$T/e"; cp -r "$T/r" "$T/e"
  printf 'x' | dd of="$T/e/ckpt/000003-G.safetensors" bs=1 seek=20 conv=notrunc status=none
  refused_run_unchanged "$T/e" "sg-train: $T/e/ckpt/000003-G.safetensors: "*" $hint" --resume --iters 4
}

@test "a full file system with --disk-full-wait 0: one line saying so and what to do; the last checkpoint and history survive, resume is exact" {
  mkdir "$T/small"
  mount -t tmpfs -o size=700k none "$T/small" 2>/dev/null || skip "cannot mount a tmpfs (not root?)"
  args=(--iters 12 --decay-iters 6 --log-every 1 --sample-every 1 --save-every 1 "${TINY[@]}")
  run sg-train -o "$T/small/r" --disk-full-wait 0 "${args[@]}" "$D/a.lmdb"
  cp -r "$T/small/r" "$T/r"
  umount "$T/small"
  echo "$output"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: $T/small/r/"*": No space left on device"*"(the file system is full: free space on it (--keep N keeps fewer checkpoints), then sg-train -o $T/small/r --resume continues from it)" ]]
  # moved to where there is room, the run resumes from its last checkpoint as if never stopped
  n=$(cat "$T/r/latest")
  [ "$((10#$n))" -ge 1 ]
  [ "$((10#$n))" -lt 12 ]
  sg-train -o "$T/straight" "${args[@]}" "$D/a.lmdb"
  run sg-train -o "$T/r" --resume
  [ "$status" -eq 0 ]
  for f in G D state; do cmp "$T/straight/ckpt/000012-$f.safetensors" "$T/r/ckpt/000012-$f.safetensors"; done
  diff <(strip_timing "$T/straight/history.jsonl") <(strip_timing "$T/r/history.jsonl")
}

@test "SIGHUP (a closed terminal) stops with a checkpoint as SIGINT does, exit 129; a gone stderr reader does not change the status" {
  signal_long_run HUP 3
  [ "$status" -eq 129 ]
  grep -q "^sg-train: hung up at iteration [0-9]*: checkpoint $T/r/ckpt/[0-9]* written" "$T/err"
  n=$(cat "$T/r/latest")
  [ "$(wc -l < "$T/r/history.jsonl")" -eq "$((10#$n))" ]
  run sg-train -o "$T/r" --resume --iters $((10#$n + 2))
  [ "$status" -eq 0 ]
  # standard error a pipe whose reader has exited: the closing message's write used to end it by SIGPIPE (141)
  rm -r "$T/r"
  sg-train -o "$T/r" --iters 1000000 --log-every 1 --sample-every 0 --save-every 0 "${TINY[@]}" "$D/a.lmdb" 2> >(exec true) &
  pid=$!
  BG_PID=$pid
  wait_history_lines 3
  interrupt_and_wait "$pid"
  [ "$status" -eq 130 ]
  [ -s "$T/r/ckpt/$(cat "$T/r/latest")-state.safetensors" ]
  # nohup: an ignored SIGHUP stays ignored
  rm -r "$T/r"
  nohup sg-train -o "$T/r" --iters 1000000 --log-every 1 --sample-every 0 --save-every 0 "${TINY[@]}" "$D/a.lmdb" > /dev/null 2>&1 &
  pid=$!
  BG_PID=$pid
  wait_history_lines 3
  # it goes on training after the SIGHUP (three more history lines) until ^C
  kill -HUP "$pid"
  n=$(wc -l < "$T/r/history.jsonl")
  wait_history_lines $((n + 3))
  [ "$(wc -l < "$T/r/history.jsonl")" -ge $((n + 3)) ]
  kill -0 "$pid"
  interrupt_and_wait "$pid"
  [ "$status" -eq 130 ]
}

@test "a seed edited in config.json is refused on resume (the state file records the run's seed)" {
  sg-train -o "$T/r" --iters 3 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  [ "$(st_meta "$T/r/ckpt/000003-state.safetensors" seed)" = 0 ]
  sed -i 's/"seed": 0/"seed": 7/' "$T/r/config.json"
  refused_run_unchanged "$T/r" "sg-train: $T/r/config.json: seed 7, but $T/r/ckpt/000003-state.safetensors was trained with seed 0 (edited by hand? every draw would differ from the run's: put the seed back)" --resume --iters 4
  sed -i 's/"seed": 7/"seed": 0/' "$T/r/config.json"
  run sg-train -o "$T/r" --resume --iters 4
  [ "$status" -eq 0 ]
}

@test "--seed takes the whole uint64_t range, 0 to 2^64-1: recorded, resumed exactly, and not cut to 2^63-1; beyond, negative or junk is a usage error" {
  sg-train -o "$T/r" --iters 3 --sample-every 0 --seed 18446744073709551615 "${TINY[@]}" "$D/a.lmdb"
  grep -q '"seed": 18446744073709551615,' "$T/r/config.json"
  [ "$(st_meta "$T/r/ckpt/000003-state.safetensors" seed)" = 18446744073709551615 ]
  # a resume reads it back from config.json (with --seed given or not) and goes on exactly
  sg-train -o "$T/s" --iters 2 --sample-every 0 --seed 18446744073709551615 "${TINY[@]}" "$D/a.lmdb"
  sg-train -o "$T/s" --resume --iters 3 --seed 18446744073709551615 -q
  cmp "$T/r/ckpt/000003-G.safetensors" "$T/s/ckpt/000003-G.safetensors"
  run sg-train -o "$T/r" --resume --iters 4 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run sg-train -o "$T/r" --resume --iters 5 --seed 9223372036854775807
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: --seed 9223372036854775807 differs from the run's 18446744073709551615 (the data order and draws would change)" ]
  sg-train -o "$T/m" --iters 3 --sample-every 0 --seed 9223372036854775807 "${TINY[@]}" "$D/a.lmdb"
  ! cmp -s "$T/r/ckpt/000003-G.safetensors" "$T/m/ckpt/000003-G.safetensors" || false
  local s
  for s in 18446744073709551616 99999999999999999999 -1 -18446744073709551615; do
    run sg-train -o "$T/x" --seed "$s" "${TINY[@]}" "$D/a.lmdb"
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "sg-train: --seed: $s is out of range [0, 18446744073709551615]" ]
    [ "${lines[1]}" = "Try 'sg-train --help'." ]
  done
  for s in 1x 0x10 ""; do
    run sg-train -o "$T/x" --seed "$s" "${TINY[@]}" "$D/a.lmdb"
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "sg-train: --seed: '$s' is not an integer" ]
  done
  [ ! -e "$T/x" ]
  # a seed out of range in a hand-edited config.json is one line
  sed -i 's/"seed": 18446744073709551615/"seed": -1/' "$T/r/config.json"
  refused_run_unchanged "$T/r" "sg-train: $T/r/config.json: \"training\": key \"seed\": expected an integer from 0 to 18446744073709551615" --resume --iters 5
}

# Rewrites safetensors metadata key $2 of file $1 as $3 ("-": removes the key), as another build would have written it.
st_set_meta() {
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import json, struct, sys
p, key, val = sys.argv[1:4]
b = open(p, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
if val == "-": h["__metadata__"].pop(key)
else: h["__metadata__"][key] = val
hb = json.dumps(h, separators=(",", ":")).encode()
hb += b" " * (-len(hb) % 8)
open(p, "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
PY
}

@test "a resume on another build than the checkpoint's says so, and goes on; on the same build it says nothing" {
  sg-train -o "$T/r" --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  v=$(sg-train --version)
  v=${v#sg-train }
  for k in G D state; do [ "$(st_meta "$T/r/ckpt/000002-$k.safetensors" created_by)" = "stargan-c $v" ]; done
  run sg-train -o "$T/r" --resume --iters 3 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  st_set_meta "$T/r/ckpt/000003-state.safetensors" created_by "stargan-c 0.0.9 (git 0123456789ab)"
  run sg-train -o "$T/r" --resume --iters 4 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: $T/r/ckpt/000003-state.safetensors was written by stargan-c 0.0.9 (git 0123456789ab), this is stargan-c $v: the run goes on, bit-for-bit as an uninterrupted run only on the build that wrote it" ]
  [ "$(cat "$T/r/latest")" = 000004 ]
  # a state file of a build from before the key
  st_set_meta "$T/r/ckpt/000004-state.safetensors" created_by -
  run sg-train -o "$T/r" --resume --iters 5 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: $T/r/ckpt/000004-state.safetensors was written by an older build of stargan-c, this is stargan-c $v: the run goes on, bit-for-bit as an uninterrupted run only on the build that wrote it" ]
  [ "$(cat "$T/r/latest")" = 000005 ]
}

@test "resume with labels of the same number and kind but another name names the first that differs" {
  sg-train -o "$T/r" --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  sed -i 's/"Brown_Hair"/"Bald"/' "$T/r/config.json"
  run sg-train -o "$T/r" --resume --iters 3
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $D/a.lmdb: label 3 is Brown_Hair, the run's dataset a has Bald there: another dataset?" ]
}

@test "a full file system before the first checkpoint says there is none and that --resume starts again" {
  need_strace
  # the first write(2) to history.jsonl fails
  run strace -f -o /dev/null -P "$T/r/history.jsonl" -e trace=write -e inject=write:error=ENOSPC:when=1 \
    sg-train -o "$T/r" --disk-full-wait 0 --iters 4 --log-every 1 --sample-every 0 --save-every 2 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/r/history.jsonl: No space left on device; last good checkpoint: none yet (the file system is full: free space on it, then sg-train -o $T/r --resume starts the run again)" ]
  run sg-train -o "$T/r" --resume
  [ "$status" -eq 0 ]
  [ "$(cat "$T/r/latest")" = 000004 ]
  [ "$(wc -l < "$T/r/history.jsonl")" -eq 4 ]
}

@test "a full file system while the run is set up says so and what to do; no run directory is left" {
  need_strace
  # the first fsync: config.json's temporary file
  run strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=ENOSPC:when=1 \
    sg-train -o "$T/r" --iters 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/r/config.json: fsync: No space left on device (the file system is full: free space on it and try again)" ]
  [ ! -e "$T/r" ]
}

@test "an I/O error syncing history names the checkpoint a resume continues from; after latest names the new checkpoint, a warning that it was written" {
  need_strace
  args=(--iters 4 --save-every 2 --sample-every 0 --log-every 1 "${TINY[@]}" "$D/a.lmdb")
  strace -f -qq -y -o "$T/trace" -e trace=fsync,rename sg-train -o "$T/plain" "${args[@]}"
  # numbers among the fsyncs: history's before checkpoint 4, and the run
  # directory's after latest was renamed to name checkpoint 4
  local h l
  h=$(grep 'fsync(' "$T/trace" | grep -n 'history.jsonl>' | sed -n 2p | cut -d: -f1)
  l=$(grep -E 'fsync\(|rename\(.*/latest"' "$T/trace" | awk '/rename\(/ { n++; next } { f++ } n == 2 { print f; exit }')
  [ -n "$h" ]
  [ -n "$l" ]
  run strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=EIO:when="$h" sg-train -o "$T/h" "${args[@]}"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/h/history.jsonl: Input/output error; last good checkpoint: $T/h/ckpt/000002 (sg-train -o $T/h --resume continues from it)" ]
  # latest is in place: written, not yet durable (lib/fileio.h sg_fsync_dir_after), as every tool says it
  run strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=EIO:when="$l" sg-train -o "$T/l" "${args[@]}"
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: $T/l/latest written, but syncing its directory failed ($T/l: fsync: Input/output error): a crash soon may lose it" ]
  [ "$(cat "$T/l/latest")" = 000004 ]  # a full disk at checkpoint 4's state file: its G and D already written are removed, no third of a checkpoint stays
  local s
  s=$(grep 'fsync(' "$T/trace" | grep -n '000004-state.safetensors.tmp' | head -n 1 | cut -d: -f1)
  [ -n "$s" ]
  run strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=ENOSPC:when="$s" sg-train -o "$T/s" --disk-full-wait 0 "${args[@]}"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: $T/s/ckpt/000004-state.safetensors"*"No space left on device (the partial checkpoint $T/s/ckpt/000004 was removed); last good checkpoint: $T/s/ckpt/000002 ("* ]]
  [ "$(cat "$T/s/latest")" = 000002 ]
  [ -z "$(find "$T/s/ckpt" -name '000004-*')" ]
}

# --disk-full-wait: runs of 4 iterations, checkpoints at 2 and 4 (samples
# every $2 iterations, default 0: none), traced once into $T/plain (an
# uninterrupted run); sets args and, in $s, the number among the fsyncs of the
# first one on a file whose name holds $1.
plain_run_fsync() {
  need_strace
  args=(--iters 4 --save-every 2 --sample-every "${2:-0}" --log-every 1 "${TINY[@]}" "$D/a.lmdb")
  strace -f -qq -y -o "$T/trace" -e trace=fsync sg-train -o "$T/plain" "${args[@]}"
  s=$(grep 'fsync(' "$T/trace" | grep -n "$1" | head -n 1 | cut -d: -f1)
  [ -n "$s" ]
}

# plain_run_fsync for checkpoint $1's state file
plain_run_state_fsync() { plain_run_fsync "$1-state.safetensors.tmp"; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

@test "--disk-full-wait: a checkpoint that finds the disk full is tried again after the wait; the run ends bit for bit as an uninterrupted one" {
  plain_run_state_fsync 000002
  # the first checkpoint's state file finds the disk full once; tried again at 2 s, not at 10
  t0=$(now_ms)
  run strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=ENOSPC:when="$s" \
    sg-train -o "$T/r" --disk-full-wait 2 "${args[@]}"
  took=$(( $(now_ms) - t0 ))
  echo "$output"; echo "took $took ms"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = "sg-train: $T/r/ckpt: no space left on device saving iteration 2; waiting up to 0m02s for space (free some and training goes on by itself; Ctrl-C stops, there is no checkpoint yet)" ]
  [ "${lines[1]}" = "sg-train: space found: checkpoint 2 saved, training goes on" ]
  [ "$took" -ge 2000 ]
  [ "$took" -lt 9000 ]
  for n in 000002 000004; do
    for f in G D state; do cmp "$T/plain/ckpt/$n-$f.safetensors" "$T/r/ckpt/$n-$f.safetensors"; done
  done
  [ "$(cat "$T/r/latest")" = 000004 ]
  diff <(strip_timing "$T/plain/history.jsonl") <(strip_timing "$T/r/history.jsonl")
  [ -z "$(find "$T/r" -name '*.tmp.*')" ]
}

@test "--disk-full-wait: a history line or a sample grid that finds the disk or quota full is tried again too, with no line torn or doubled" {
  plain_run_fsync samples/000004.png.tmp 2
  # the third history line (after checkpoint 2) finds the quota reached
  run strace -f -o /dev/null -P "$T/h/history.jsonl" -e trace=write -e inject=write:error=EDQUOT:when=3 \
    sg-train -o "$T/h" --disk-full-wait 1 "${args[@]}"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = "sg-train: $T/h/history.jsonl: disk quota exceeded logging iteration 3; waiting up to 0m01s for space (free some or raise the quota and training goes on by itself; Ctrl-C stops, the last good checkpoint is 2)" ]
  [ "${lines[1]}" = "sg-train: space found: history line of iteration 3 written, training goes on" ]
  diff <(strip_timing "$T/plain/history.jsonl") <(strip_timing "$T/h/history.jsonl")
  # iteration 4's images/s leaves out the second waited: with it, 4 images in
  # over a second (under 4/s); without, one tiny iteration (far over 8/s)
  ips=$(sed -n 4p "$T/h/history.jsonl" | grep -o '"images/s":[0-9.e+-]*' | cut -d: -f2)
  awk -v v="$ips" 'BEGIN { exit !(v > 8) }' || { echo "images/s at iteration 4: $ips"; false; }
  for f in G D state; do cmp "$T/plain/ckpt/000004-$f.safetensors" "$T/h/ckpt/000004-$f.safetensors"; done
  # the second sample grid finds the disk full
  run strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=ENOSPC:when="$s" \
    sg-train -o "$T/g" --disk-full-wait 1 "${args[@]}"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = "sg-train: $T/g/samples: no space left on device writing the sample of iteration 4; waiting up to 0m01s for space (free some and training goes on by itself; Ctrl-C stops, the last good checkpoint is 2)" ]
  [ "${lines[1]}" = "sg-train: space found: sample of iteration 4 written, training goes on" ]
  for n in 000002 000004; do cmp "$T/plain/samples/$n.png" "$T/g/samples/$n.png"; done
  for f in G D state; do cmp "$T/plain/ckpt/000004-$f.safetensors" "$T/g/ckpt/000004-$f.safetensors"; done
}

@test "--disk-full-wait: a disk that stays full stops the run at the deadline as without the wait: its message, status 1, no partial checkpoint" {
  plain_run_state_fsync 000004
  t0=$(now_ms)
  run strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=ENOSPC:when="$s+" \
    sg-train -o "$T/r" --disk-full-wait 1 "${args[@]}"
  took=$(( $(now_ms) - t0 ))
  echo "$output"; echo "took $took ms"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = "sg-train: $T/r/ckpt: no space left on device saving iteration 4; waiting up to 0m01s for space (free some and training goes on by itself; Ctrl-C stops, the last good checkpoint is 2)" ]
  [[ "${lines[1]}" == "sg-train: $T/r/ckpt/000004-"*": No space left on device"*"; last good checkpoint: $T/r/ckpt/000002 (the file system is full: free space on it (--keep N keeps fewer checkpoints), then sg-train -o $T/r --resume continues from it)" ]]
  [ "$took" -ge 1000 ]
  [ "$took" -lt 9000 ]
  [ "$(cat "$T/r/latest")" = 000002 ]
  [ -z "$(find "$T/r/ckpt" -name '000004-*')" ]
  [ -z "$(find "$T/r" -name '*.tmp.*')" ]
}

@test "--disk-full-wait 0 stops at once as before: one line, the partial checkpoint removed" {
  plain_run_state_fsync 000004
  run strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=ENOSPC:when="$s+" \
    sg-train -o "$T/r" --disk-full-wait 0 "${args[@]}"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "sg-train: $T/r/ckpt/000004-state.safetensors: fsync: No space left on device (the partial checkpoint $T/r/ckpt/000004 was removed); last good checkpoint: $T/r/ckpt/000002 (the file system is full: free space on it (--keep N keeps fewer checkpoints), then sg-train -o $T/r --resume continues from it)" ]]
  [ "$(cat "$T/r/latest")" = 000002 ]
  [ -z "$(find "$T/r/ckpt" -name '000004-*')" ]
}

@test "--disk-full-wait on a terminal: the progress line counts the wait down, its times written as the ETA's" {
  plain_run_state_fsync 000002
  run script -qec "strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=ENOSPC:when=$s sg-train -o '$T/r' --disk-full-wait 2 ${args[*]/-q/}" /dev/null
  [ "$status" -eq 0 ]
  shown=$(printf '%s' "$output" | tr '\r' '\n' | sed 's/\x1b\[K//g' | grep -a 'waiting for space')
  echo "$shown"
  [ "$(sed -n 1p <<< "$shown")" = "sg-train: 2/4  waiting for space (disk full): next try in 0m02s, gives up in 0m02s, Ctrl-C stops" ]
  # redrawn each second (a loaded machine may miss one)
  [ -z "$(grep -v -E '^sg-train: 2/4  waiting for space \(disk full\): next try in 0m0([12])s, gives up in 0m0\1s, Ctrl-C stops$' <<< "$shown")" ]
  [[ "$output" == *"waiting up to 0m02s for space"* ]]
  [[ "$output" =~ "4/4 "[0-9.]+"it/s ETA "[0-9]+m[0-9][0-9]s ]]
}

@test "--disk-full-wait: Ctrl-C ends the wait with one last try; a checkpoint then written stops the run as a signal does (130), else it stops as for a full disk (1)" {
  command -v pgrep >/dev/null || skip "no pgrep"
  plain_run_state_fsync 000002
  for when in "$s" "$s+"; do
    rm -rf "$T/r"
    t0=$(now_ms)
    strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=ENOSPC:when="$when" \
      sg-train -o "$T/r" --disk-full-wait 60 "${args[@]}" 2> "$T/err" &
    pid=$!
    BG_PID=$pid
    for _ in $(seq 1200); do grep -q 'waiting up to' "$T/err" && break; sleep 0.05; done
    kill -INT "$(pgrep -P "$pid")"
    status=0
    wait "$pid" || status=$?
    BG_PID=
    took=$(( $(now_ms) - t0 ))
    cat "$T/err"; echo "took $took ms"
    [ "$took" -lt 9000 ]   # not at the next try, 10 s on
    [ "$(sed -n 1p "$T/err")" = "sg-train: $T/r/ckpt: no space left on device saving iteration 2; waiting up to 1m00s for space (free some and training goes on by itself; Ctrl-C stops, there is no checkpoint yet)" ]
    # the stop answered at once, from the handler
    [ "$(sed -n 2p "$T/err")" = "$(answer_line INT wait)" ]
    if [ "$when" = "$s" ]; then
      # the last try finds space: checkpoint 2, then the stop's own at the end of the iteration under way
      [ "$status" -eq 130 ]
      [ "$(sed -n 3p "$T/err")" = "sg-train: space found: checkpoint 2 saved, stopping as asked" ]
      [ "$(sed -n 4p "$T/err")" = "sg-train: interrupted at iteration 3: checkpoint $T/r/ckpt/000003 written (sg-train -o $T/r --resume continues)" ]
      [ "$(wc -l < "$T/err")" -eq 4 ]
      [ "$(cat "$T/r/latest")" = 000003 ]
      for f in G D state; do cmp "$T/plain/ckpt/000002-$f.safetensors" "$T/r/ckpt/000002-$f.safetensors"; done
    else
      [ "$status" -eq 1 ]
      [ "$(wc -l < "$T/err")" -eq 3 ]
      [[ "$(sed -n 3p "$T/err")" == "sg-train: $T/r/ckpt/000002-"*": No space left on device"*"; last good checkpoint: none yet (the file system is full: free space on it, then sg-train -o $T/r --resume starts the run again)" ]]
      [ -z "$(find "$T/r" -name '*.safetensors*')" ]
    fi
  done
}

# Runs COMMAND... (strace over sg-train, a full disk injected) in the
# background and, once it waits for space, gives it SIGINT and SIGTERM at
# once, as a quick double ^C: both sent while it is stopped (SIGSTOP), then
# SIGCONT. Its stderr in $T/err, its status in $status, and in $verb the
# second signal's word as the status says it (the kernel hands both over
# together: either may be taken first), in $first the first's name (INT,
# TERM), whose answer is the second line.
double_stop_in_wait() {
  "$@" 2> "$T/err" &
  local pid=$! p st
  BG_PID=$pid
  for _ in $(seq 1200); do grep -q 'waiting up to' "$T/err" && break; sleep 0.05; done
  sleep 0.3   # past the line, into the wait's sleep
  p=$(pgrep -P "$pid")
  kill -STOP "$p"
  for _ in $(seq 200); do
    st=$(awk '{ print $3 }' "/proc/$p/stat")
    [ "$st" = T ] || [ "$st" = t ] && break
    sleep 0.01
  done
  kill -INT "$p"
  kill -TERM "$p"
  kill -CONT "$p"
  status=0
  wait "$pid" || status=$?
  BG_PID=
  cat "$T/err"
  case $status in 130) verb=interrupted first=TERM;; 143) verb=terminated first=INT;; *) echo "status $status"; return 1;; esac
}

@test "--disk-full-wait: a double ^C in the wait gives up what it waited for: a checkpoint is not written, a sample or history line ends the run at once; the line says where --resume goes on, and it does exactly" {
  command -v pgrep >/dev/null || skip "no pgrep"
  # the run's first checkpoint (its state file) waits: given up, none is left
  plain_run_state_fsync 000002
  double_stop_in_wait strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=ENOSPC:when="$s" \
    sg-train -o "$T/r" --disk-full-wait 60 "${args[@]}"
  [ "$(sed -n 1p "$T/err")" = "sg-train: $T/r/ckpt: no space left on device saving iteration 2; waiting up to 1m00s for space (free some and training goes on by itself; Ctrl-C stops, there is no checkpoint yet)" ]
  [ "$(sed -n 2p "$T/err")" = "$(answer_line "$first" wait)" ]
  [ "$(sed -n 3p "$T/err")" = "sg-train: $verb again: checkpoint $T/r/ckpt/000002, the run's first, not written (sg-train -o $T/r --resume starts the run again)" ]
  [ "$(wc -l < "$T/err")" -eq 3 ]
  [ ! -e "$T/r/latest" ]
  [ -z "$(ls "$T/r/ckpt")" ]
  [ -z "$(find "$T/r" -name '*.tmp*')" ]
  sg-train -o "$T/r" --resume
  for f in G D state; do cmp "$T/plain/ckpt/000004-$f.safetensors" "$T/r/ckpt/000004-$f.safetensors"; done
  cmp <(strip_timing "$T/plain/history.jsonl") <(strip_timing "$T/r/history.jsonl")
  # the sample of iteration 2 waits (before its checkpoint): the run ends at once, with none
  rm -rf "$T/plain"
  plain_run_fsync samples/000002.png.tmp 2
  double_stop_in_wait strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=ENOSPC:when="$s" \
    sg-train -o "$T/g" --disk-full-wait 60 "${args[@]}"
  [ "$(sed -n 1p "$T/err")" = "sg-train: $T/g/samples: no space left on device writing the sample of iteration 2; waiting up to 1m00s for space (free some and training goes on by itself; Ctrl-C stops, there is no checkpoint yet)" ]
  [ "$(sed -n 2p "$T/err")" = "$(answer_line "$first" wait)" ]
  [ "$(sed -n 3p "$T/err")" = "sg-train: $verb again before the stop's checkpoint was written, the run's first (sg-train -o $T/g --resume starts the run again)" ]
  [ "$(wc -l < "$T/err")" -eq 3 ]
  [ ! -e "$T/g/latest" ]
  [ -z "$(ls "$T/g/samples")" ]
  [ -z "$(find "$T/g" -name '*.tmp*')" ]
  sg-train -o "$T/g" --resume
  for f in G D state; do cmp "$T/plain/ckpt/000004-$f.safetensors" "$T/g/ckpt/000004-$f.safetensors"; done
  for n in 000002 000004; do cmp "$T/plain/samples/$n.png" "$T/g/samples/$n.png"; done
  # the third history line (after checkpoint 2) finds the quota reached: ends at once, checkpoint 2 left
  double_stop_in_wait strace -f -qq -o /dev/null -P "$T/h/history.jsonl" -e trace=write \
    -e inject=write:error=EDQUOT:when=3 sg-train -o "$T/h" --disk-full-wait 60 "${args[@]}"
  [ "$(sed -n 1p "$T/err")" = "sg-train: $T/h/history.jsonl: disk quota exceeded logging iteration 3; waiting up to 1m00s for space (free some or raise the quota and training goes on by itself; Ctrl-C stops, the last good checkpoint is 2)" ]
  [ "$(sed -n 2p "$T/err")" = "$(answer_line "$first" wait)" ]
  [ "$(sed -n 3p "$T/err")" = "sg-train: $verb again before the stop's checkpoint was written; the last one written is $T/h/ckpt/000002 (sg-train -o $T/h --resume continues from it)" ]
  [ "$(wc -l < "$T/err")" -eq 3 ]
  [ "$(cat "$T/h/latest")" = 000002 ]
  [ "$(wc -l < "$T/h/history.jsonl")" -eq 2 ]   # no line torn
  [ -z "$(find "$T/h" -name '*.tmp*')" ]
  sg-train -o "$T/h" --resume
  for f in G D state; do cmp "$T/plain/ckpt/000004-$f.safetensors" "$T/h/ckpt/000004-$f.safetensors"; done
  cmp <(strip_timing "$T/plain/history.jsonl") <(strip_timing "$T/h/history.jsonl")
}

@test "--disk-full-wait: a real full file system (tmpfs) made larger during the wait; the run goes on bit for bit" {
  mkdir "$T/small"
  mount -t tmpfs -o size=700k none "$T/small" 2>/dev/null || skip "cannot mount a tmpfs (not root?)"
  args=(--iters 12 --decay-iters 6 --log-every 1 --sample-every 1 --save-every 1 "${TINY[@]}" "$D/a.lmdb")
  sg-train -o "$T/small/r" --disk-full-wait 60 "${args[@]}" 2> "$T/err" &
  pid=$!
  BG_PID=$pid
  for _ in $(seq 1200); do grep -q 'waiting up to' "$T/err" && break; sleep 0.05; done
  mount -o remount,size=20m "$T/small"
  status=0
  wait "$pid" || status=$?
  BG_PID=
  cp -r "$T/small/r" "$T/r"
  umount "$T/small"
  cat "$T/err"
  [ "$status" -eq 0 ]
  [ "$(wc -l < "$T/err")" -eq 2 ]
  [[ "$(sed -n 1p "$T/err")" == "sg-train: $T/small/r/"*": no space left on device "*" iteration "*"; waiting up to 1m00s for space (free some and training goes on by itself; Ctrl-C stops, "* ]]
  [[ "$(sed -n 2p "$T/err")" == "sg-train: space found: "*", training goes on" ]]
  sg-train -o "$T/straight" "${args[@]}"
  for f in G D state; do cmp "$T/straight/ckpt/000012-$f.safetensors" "$T/r/ckpt/000012-$f.safetensors"; done
  diff <(strip_timing "$T/straight/history.jsonl") <(strip_timing "$T/r/history.jsonl")
  for i in $(seq 1 12); do cmp "$T/straight/samples/$(printf %06d "$i").png" "$T/r/samples/$(printf %06d "$i").png"; done
  [ "$(ls "$T/r/ckpt" | wc -l)" -eq 36 ]
}

@test "--disk-full-wait: a bad value is a usage error; the option is not recorded, and --resume takes it" {
  for v in -1 abc ''; do
    run sg-train -o "$T/r" --disk-full-wait "$v" "${TINY[@]}" "$D/a.lmdb"
    [ "$status" -eq 2 ]
    [ ! -e "$T/r" ]
  done
  [ "${lines[0]}" = "sg-train: --disk-full-wait: '' is not an integer" ]
  run sg-train -o "$T/r" --disk-full-wait -1 "${TINY[@]}" "$D/a.lmdb"
  [ "${lines[0]}" = "sg-train: --disk-full-wait: -1 is out of range [0, 2147483647]" ]
  run sg-train -o "$T/r" --disk-full-wait abc "${TINY[@]}" "$D/a.lmdb"
  [ "${lines[0]}" = "sg-train: --disk-full-wait: 'abc' is not an integer" ]
  sg-train -o "$T/r" --iters 2 --sample-every 0 --disk-full-wait 5 "${TINY[@]}" "$D/a.lmdb"
  ! grep -q -i 'disk' "$T/r/config.json" || false
  cp "$T/r/config.json" "$T/config.before"
  run sg-train -o "$T/r" --resume --iters 2 --disk-full-wait 0
  [ "$status" -eq 0 ]
  cmp "$T/config.before" "$T/r/config.json"
  run sg-train -o "$T/r" --resume --iters 3 --disk-full-wait 7
  [ "$status" -eq 0 ]
  [ "$(cat "$T/r/latest")" = 000003 ]
  sg-train --help | grep -q -- '--disk-full-wait S'
}

@test "a failed sample or history write names the last good checkpoint and the resume command" {
  sg-train -o "$T/r" --iters 2 --save-every 2 --sample-every 2 "${TINY[@]}" "$D/a.lmdb"
  rm -r "$T/r/samples"
  echo "not a directory" > "$T/r/samples"
  run sg-train -o "$T/r" --resume --iters 4
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/r/samples: not a directory; last good checkpoint: $T/r/ckpt/000002 (sg-train -o $T/r --resume continues from it)" ]
}

@test "a shard given twice (same path, another spelling, a link) is refused, new run or resume" {
  ln -s "$D/a.lmdb" "$T/link.lmdb"
  for second in "$D/a.lmdb" "$D/synth/../a.lmdb" "$T/link.lmdb"; do
    run sg-train -o "$T/r" --iters 2 "${TINY[@]}" "$D/a.lmdb" "$second"
    [ "$status" -eq 1 ]
    [ "$output" = "sg-train: $D/a.lmdb and $second are the same shard (given twice): each dataset needs a shard of its own" ]
    [ ! -e "$T/r" ]
  done
  cp -r "$D/a.lmdb" "$T/c.lmdb"
  # no decay: a run this short decays throughout, and two datasets' rounds make the rate at
  # each resume jump (its own line, not this test's)
  sg-train -o "$T/r" --iters 2 --decay-iters 0 --sample-every 0 "${TINY[@]}" "$D/a.lmdb" "$T/c.lmdb"
  refused_run_unchanged "$T/r" "sg-train: $D/a.lmdb and $T/link.lmdb are the same shard (given twice): each dataset needs a shard of its own" --resume --iters 3 "$D/a.lmdb" "$T/link.lmdb"
  # a run that was trained on one shard twice (config.json says so) goes on, with a warning
  sed -i "s|\"$(realpath "$T/c.lmdb")\"|\"$(realpath "$D/a.lmdb")\"|" "$T/r/config.json"
  run sg-train -o "$T/r" --resume --iters 3 -q
  [ "$status" -eq 0 ]
  [ "$output" = "sg-train: $(realpath "$D/a.lmdb") is datasets 1 and 2 of the run (the same shard twice: a new run would refuse it)" ]
  [ "$(cat "$T/r/latest")" = 000003 ]
  # with a checkpoint of a build from before created_by too: each note a line of its own (they were
  # joined by "; " into one sentence)
  v=$(sg-train --version)
  v=${v#sg-train }
  st_set_meta "$T/r/ckpt/000003-state.safetensors" created_by -
  run sg-train -o "$T/r" --resume --iters 4 -q
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = "sg-train: $(realpath "$D/a.lmdb") is datasets 1 and 2 of the run (the same shard twice: a new run would refuse it)" ]
  [ "${lines[1]}" = "sg-train: $T/r/ckpt/000003-state.safetensors was written by an older build of stargan-c, this is stargan-c $v: the run goes on, bit-for-bit as an uninterrupted run only on the build that wrote it" ]
}

@test "resume refuses shards of the same labels in another order (by path, or by name when moved); moved in order resumes" {
  cp -r "$D/a.lmdb" "$T/a.lmdb"
  cp -r "$D/a.lmdb" "$T/c.lmdb"
  sg-train -o "$T/r" --iters 2 --sample-every 0 "${TINY[@]}" "$T/a.lmdb" "$T/c.lmdb"
  A=$(realpath "$T/a.lmdb") C=$(realpath "$T/c.lmdb")
  refused_run_unchanged "$T/r" "sg-train: shards given in another order than the run in $T/r was trained on (given: $T/c.lmdb $T/a.lmdb); give them in its order (each dataset keeps its slot in the label vector): $A $C" --resume --iters 3 "$T/c.lmdb" "$T/a.lmdb"
  # moved, in the run's order: resumes (config.json then records the new paths)
  mkdir "$T/new" "$T/newer"
  mv "$T/a.lmdb" "$T/c.lmdb" "$T/new/"
  # ... when given; without them, the message says so (it said only 'No such file or directory')
  refused_run_unchanged "$T/r" "sg-train: $T/r/config.json: the run's shard $A is missing (moved or renamed?): give the run's shards after --resume, in order: sg-train -o $T/r --resume SHARD..." --resume --iters 3
  run sg-train -o "$T/r" --resume --iters 3 "$T/new/a.lmdb" "$T/new/c.lmdb"
  [ "$status" -eq 0 ]
  [ "$(cat "$T/r/latest")" = 000003 ]
  grep -q "\"path\": \"$(realpath "$T/new/c.lmdb")\", \"name\": \"c\"" "$T/r/config.json"
  # moved again and swapped: no recorded path matches, the names do
  mv "$T/new/a.lmdb" "$T/new/c.lmdb" "$T/newer/"
  refused_run_unchanged "$T/r" "sg-train: shards given in another order than the run in $T/r was trained on (given: $T/newer/c.lmdb $T/newer/a.lmdb); give them in its order (each dataset keeps its slot in the label vector): "* --resume --iters 4 "$T/newer/c.lmdb" "$T/newer/a.lmdb"
  # moved and renamed, in order: nothing says it is another dataset's (as before)
  mv "$T/newer/a.lmdb" "$T/newer/renamed.lmdb"
  run sg-train -o "$T/r" --resume --iters 4 "$T/newer/renamed.lmdb" "$T/newer/c.lmdb"
  [ "$status" -eq 0 ]
  [ "$(cat "$T/r/latest")" = 000004 ]
  # the second moved to the first's name: the first is at its recorded path, so this is no swap
  mkdir "$T/other"
  mv "$T/newer/c.lmdb" "$T/other/renamed.lmdb"
  run sg-train -o "$T/r" --resume --iters 5 "$T/newer/renamed.lmdb" "$T/other/renamed.lmdb"
  [ "$status" -eq 0 ]
  [ "$(cat "$T/r/latest")" = 000005 ]
}

@test "resume refuses another shard of the same labels while the run's own is still there (the test shards beside the training ones); a link to the run's own, or a copy of it (cp -r, to a faster disk; the original still there, also read-only), resumes; a moved one keeps the run's dataset name" {
  # train and test shards of the same labels from one split: other lists (source) and counts
  celeb-split -q -g all=Male -r all -s reference --test-count 8 -o "$T/split" "$D/synth/list_attr_celeba.txt" > /dev/null
  for s in train test; do
    celeb-pack -q -a "$T/split/attr_all_$s.txt" -i "$D/synth/img_align_celeba" \
      -s Black_Hair,Blond_Hair,Brown_Hair,Male -S 16 -o "$T/celebA_$s.lmdb"
    celeb-pack -q -a "$T/split/attr_all_$s.txt" -i "$D/synth/img_align_celeba" \
      -s Eyeglasses,Wearing_Hat -S 16 -o "$T/celebB_$s.lmdb"
  done
  # no decay (as above: resumes of a run this short would say the rate jumps)
  sg-train -o "$T/r" --iters 2 --decay-iters 0 --log-every 1 --sample-every 0 "${TINY[@]}" "$T/celebA_train.lmdb" "$T/celebB_train.lmdb"
  A=$(realpath "$T/celebA_train.lmdb")
  refused_run_unchanged "$T/r" "sg-train: $T/celebA_test.lmdb is not the run's dataset 1 celebA_train, whose shard $A is still there (and not a copy of it: its record count differs): give the run's shards (--resume without shards takes them); to go on with $T/celebA_test.lmdb instead, move that one away first" --resume --iters 4 "$T/celebA_test.lmdb" "$T/celebB_test.lmdb"
  B=$(realpath "$T/celebB_train.lmdb")
  refused_run_unchanged "$T/r" "sg-train: $T/celebB_test.lmdb is not the run's dataset 2 celebB_train, whose shard $B is still there (and not a copy of it: its record count differs): give the run's shards (--resume without shards takes them); to go on with $T/celebB_test.lmdb instead, move that one away first" --resume --iters 4 "$T/celebA_train.lmdb" "$T/celebB_test.lmdb"
  # the run's own shard under another spelling or through a link: the same directory, resumes
  ln -s "$T/celebA_train.lmdb" "$T/link.lmdb"
  run sg-train -o "$T/r" --resume --iters 3 -q "$T/link.lmdb" "$T/../$(basename "$T")/celebB_train.lmdb/"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(cat "$T/r/latest")" = 000003 ]
  # copies (cp -r to a faster disk, under other names) while the originals are still there:
  # the same data, resumes as a moved shard does (the new paths recorded, the run's names kept)
  mkdir "$T/scratch"
  cp -r "$T/celebA_train.lmdb" "$T/scratch/A.lmdb"
  cp -r "$T/celebB_train.lmdb" "$T/scratch/B.lmdb"
  run sg-train -o "$T/r" --resume --iters 4 -q "$T/scratch/A.lmdb" "$T/scratch/B.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(cat "$T/r/latest")" = 000004 ]
  grep -q "\"path\": \"$(realpath "$T/scratch/A.lmdb")\", \"name\": \"celebA_train\"" "$T/r/config.json"
  grep -q "\"path\": \"$(realpath "$T/scratch/B.lmdb")\", \"name\": \"celebB_train\"" "$T/r/config.json"
  # ... and back to the originals, now the copies of the recorded ones
  run sg-train -o "$T/r" --resume --iters 5 -q "$T/celebA_train.lmdb" "$T/celebB_train.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # the originals read-only (shared storage): the copies still resume
  chmod -R a-w "$T/celebA_train.lmdb" "$T/celebB_train.lmdb"
  run sg-train -o "$T/r" --resume --iters 6 -q "$T/scratch/A.lmdb" "$T/scratch/B.lmdb"
  chmod -R u+w "$T/celebA_train.lmdb" "$T/celebB_train.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(cat "$T/r/latest")" = 000006 ]
  # the test shard is still no copy of the (now copied) training one
  A2=$(realpath "$T/scratch/A.lmdb")
  refused_run_unchanged "$T/r" "sg-train: $T/celebA_test.lmdb is not the run's dataset 1 celebA_train, whose shard $A2 is still there (and not a copy of it: its record count differs): give the run's shards (--resume without shards takes them); to go on with $T/celebA_test.lmdb instead, move that one away first" --resume --iters 7 "$T/celebA_test.lmdb" "$T/scratch/B.lmdb"
  # moved (the recorded path gone): resumes, and the datasets keep the run's names (they became the new paths')
  mkdir "$T/moved"
  mv "$T/scratch/A.lmdb" "$T/moved/celebA.lmdb"
  run sg-train -o "$T/r" --resume --iters 8 -q "$T/moved/celebA.lmdb" "$T/scratch/B.lmdb"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  grep -q "\"path\": \"$(realpath "$T/moved/celebA.lmdb")\", \"name\": \"celebA_train\"" "$T/r/config.json"
  [ "$(grep -o '"dataset":"[^"]*"' "$T/r/history.jsonl" | sort | uniq -c | tr -s ' ')" = " 4 \"dataset\":\"celebA_train\"
 4 \"dataset\":\"celebB_train\"" ]
  # ... and the checkpoint answers to them
  run sg-sample -q --ckpt "$T/r" --targets "+celebA_train:Male" -o "$T/s.png" "$D/synth/img_align_celeba/000001.jpg"
  [ "$status" -eq 0 ]
}

@test "a shard whose metadata names a label twice is one line, in sg-train and celeb-dump" {
  cp -r "$D/a.lmdb" "$T/twice.lmdb"
  /usr/bin/python3 - "$T/twice.lmdb" <<'PY'
import json, sys, lmdb
env = lmdb.open(sys.argv[1], lock=False)
with env.begin(write=True) as txn:
    meta = json.loads(txn.get(b"meta"))
    meta["labels"][1] = meta["labels"][0]
    txn.put(b"meta", (json.dumps(meta, separators=(",", ":")) + "\n").encode())
PY
  run sg-train -o "$T/r" --iters 2 "${TINY[@]}" "$T/twice.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/twice.lmdb: metadata: labels 0 and 1 are both Black_Hair (label names must differ)" ]
  [ ! -e "$T/r" ]
  run celeb-dump "$T/twice.lmdb"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-dump: $T/twice.lmdb: metadata: labels 0 and 1 are both Black_Hair (label names must differ)" ]
}

@test "a damaged G or D whose data_crc32 key is damaged too is caught by the state's record; files without CRCs load" {
  sg-train -o "$T/r" --iters 3 --save-every 2 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  for f in G D; do
    # the key alone: the data is what the state recorded, so it resumes
    cp -r "$T/r" "$T/e"
    rename_key "$T/e/ckpt/000003-$f.safetensors" data_crc32
    run sg-train -o "$T/e" --resume --iters 4
    [ "$status" -eq 0 ]
    rm -r "$T/e"
    # the key and a bit of the data (it loaded silently, as a file without a CRC)
    cp -r "$T/r" "$T/e"
    rename_key "$T/e/ckpt/000003-$f.safetensors" data_crc32
    flip_byte "$T/e/ckpt/000003-$f.safetensors" 3
    refused_run_unchanged "$T/e" "sg-train: $T/e/ckpt/000003-$f.safetensors: the data does not match the checksum $T/e/ckpt/000003-state.safetensors recorded for it (CRC-32 "*", recorded "*"): the file is damaged, or files of different checkpoints or runs are mixed (checkpoint 000003 is unusable; to resume from the one before it: echo 000002 > $T/e/latest)" --resume --iters 4
    rm -r "$T/e"
  done
  # the state's own key damaged, and its data: the keys saved with it say it had one
  cp -r "$T/r" "$T/e"
  rename_key "$T/e/ckpt/000003-state.safetensors" data_crc32
  flip_byte "$T/e/ckpt/000003-state.safetensors" 200
  run sg-train -o "$T/e" --resume --iters 4
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: $T/e/ckpt/000003-state.safetensors: metadata holds G_data_crc32 but not data_crc32: the header is damaged (checkpoint 000003 is unusable; "* ]]
  rm -r "$T/e"
  # no CRC keys at all (converted or older checkpoints): read unchecked, as before
  cp -r "$T/r" "$T/e"
  for f in G D; do rename_key "$T/e/ckpt/000003-$f.safetensors" data_crc32; done
  for k in data_crc32 G_data_crc32 D_data_crc32; do rename_key "$T/e/ckpt/000003-state.safetensors" $k; done
  run sg-train -o "$T/e" --resume --iters 4
  [ "$status" -eq 0 ]
  [ "$(cat "$T/e/latest")" = 000004 ]
}

@test "a disk quota reached (EDQUOT) is named as such, not as a full file system, before and after the first checkpoint" {
  need_strace
  args=(--iters 4 --log-every 1 --sample-every 0 --save-every 2 --disk-full-wait 0 "${TINY[@]}" "$D/a.lmdb")
  # the first write(2) to history.jsonl fails: no checkpoint yet
  run strace -f -o /dev/null -P "$T/r/history.jsonl" -e trace=write -e inject=write:error=EDQUOT:when=1 \
    sg-train -o "$T/r" "${args[@]}"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/r/history.jsonl: Disk quota exceeded; last good checkpoint: none yet (the disk quota is exceeded: free space or ask for more quota, then sg-train -o $T/r --resume starts the run again)" ]
  # the third: checkpoint 000002 is there
  rm -r "$T/r"
  run strace -f -o /dev/null -P "$T/r/history.jsonl" -e trace=write -e inject=write:error=EDQUOT:when=3 \
    sg-train -o "$T/r" "${args[@]}"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-train: $T/r/history.jsonl: Disk quota exceeded; last good checkpoint: $T/r/ckpt/000002 (the disk quota is exceeded: free space (--keep N keeps fewer checkpoints) or ask for more quota, then sg-train -o $T/r --resume continues from it)" ]
  run sg-train -o "$T/r" --resume
  [ "$status" -eq 0 ]
  [ "$(cat "$T/r/latest")" = 000004 ]
}

@test "a run directory's path too long: the reason survives a long message, and a path past PATH_MAX fails before training (it failed at the first checkpoint)" {
  long="$T/$(printf 'x%.0s' $(seq 1100))/run"
  run sg-train -o "$long" --iters 1 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-train: $T/xxx"*" ... "*"xxx: File name too long" ]] || { echo "$output"; false; }
  deep="$T"
  while [ ${#deep} -lt 4000 ]; do deep="$deep/$(printf 'd%.0s' $(seq 200))"; done
  run sg-train -o "$deep" --iters 1 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  [ "$status" -eq 1 ]
  [[ "$output" == *": the run directory's path is too long (${#deep} bytes; at most 3999, its files' names add up to 96 more)" ]] || { echo "$output"; false; }
  [ ! -e "$T/$(printf 'd%.0s' $(seq 200))" ]   # nothing made
}

@test "two datasets, --log-every 3: every round that holds a multiple of 3 is logged, both datasets, G's losses in G's rounds (only rounds ending on one were)" {
  sg-train -o "$T/r" --iters 16 --log-every 3 --n-critic 2 --decay-iters 0 --sample-every 0 "${TINY[@]}" "$D/a.lmdb" "$D/b.lmdb"
  # rounds of two iterations; those holding 3, 6, 9, 12, 15: iterations 3-4, 5-6, 9-10, 11-12, 15-16
  [ "$(grep -o '"iteration":[0-9]*,"dataset":"[ab]"' "$T/r/history.jsonl" | tr '\n' ' ')" = \
    '"iteration":3,"dataset":"a" "iteration":4,"dataset":"b" "iteration":5,"dataset":"a" "iteration":6,"dataset":"b" "iteration":9,"dataset":"a" "iteration":10,"dataset":"b" "iteration":11,"dataset":"a" "iteration":12,"dataset":"b" "iteration":15,"dataset":"a" "iteration":16,"dataset":"b" ' ]
  # n_critic 2: G in every 2nd round (iterations 3-4, 7-8, 11-12, 15-16); logged: 3-4, 11-12, 15-16, both datasets
  [ "$(grep -c '"dataset":"a".*G/loss_rec' "$T/r/history.jsonl")" -eq 3 ]
  [ "$(grep -c '"dataset":"b".*G/loss_rec' "$T/r/history.jsonl")" -eq 3 ]
}

@test "a run directory moved while training goes on in its new place, told once; deleted, the run stops saying so (it split the run in two)" {
  sg-train -o "$T/r" --iters 1000000 --log-every 1 --sample-every 2 --save-every 3 "${TINY[@]}" "$D/a.lmdb" 2> "$T/err" &
  pid=$!
  BG_PID=$pid
  wait_history_lines 3
  mv "$T/r" "$T/moved"
  for _ in $(seq 1200); do grep -q 'was moved' "$T/err" && break; sleep 0.05; done
  interrupt_and_wait "$pid"
  cat "$T/err"
  [ "$status" -eq 130 ]
  [ ! -e "$T/r" ]
  n=$(cat "$T/moved/latest")
  [ -s "$T/moved/ckpt/$n-state.safetensors" ]
  [ "$(grep -c 'was moved' "$T/err")" -eq 1 ]
  grep -qxF "sg-train: $T/r was moved to $T/moved: the run goes on there" "$T/err"
  [ "$(tail -n 1 "$T/err")" = "sg-train: interrupted at iteration $((10#$n)): checkpoint $T/moved/ckpt/$n written (sg-train -o $T/moved --resume continues)" ]
  [ "$(wc -l < "$T/moved/history.jsonl")" -eq "$((10#$n))" ]
  run sg-train -o "$T/moved" --resume --iters $((10#$n + 2))
  [ "$status" -eq 0 ]
  [ "$(cat "$T/moved/latest")" = "$(printf %06d $((10#$n + 2)))" ]
  [ ! -e "$T/r" ]

  sg-train -o "$T/d" --iters 1000000 --log-every 1 --sample-every 2 --save-every 3 "${TINY[@]}" "$D/a.lmdb" 2> "$T/err" &
  pid=$!
  BG_PID=$pid
  for _ in $(seq 1200); do [ -s "$T/d/history.jsonl" ] && [ "$(wc -l < "$T/d/history.jsonl")" -ge 3 ] && break; sleep 0.05; done
  # sg-train writes into it meanwhile, so one rm -rf can find a file it did not list
  for _ in $(seq 100); do rm -rf "$T/d" 2>/dev/null || true; [ -e "$T/d" ] || break; sleep 0.02; done
  status=0
  wait "$pid" || status=$?
  BG_PID=
  cat "$T/err"
  [ "$status" -eq 1 ]
  [[ "$(cat "$T/err")" == "sg-train: $T/d: the run directory was deleted while training"*"nothing can be saved there, so the run stops at iteration "*" without a checkpoint" ]]
  [ ! -e "$T/d" ]
}

@test "--resume keeps history.jsonl's inode: cut in place past the checkpoint, untouched when nothing goes (tail -f went on reading a replaced file)" {
  sg-train -o "$T/r" --iters 6 --save-every 4 --log-every 1 --sample-every 0 "${TINY[@]}" "$D/a.lmdb"
  head -n 4 "$T/r/history.jsonl" > "$T/first4"
  # lines past the checkpoint and a torn last line: cut in place
  echo 000004 > "$T/r/latest"
  printf '{"iteration": 7, "D/lo' >> "$T/r/history.jsonl"
  ino=$(stat -c %i "$T/r/history.jsonl")
  sg-train -o "$T/r" --resume --iters 4
  [ "$(stat -c %i "$T/r/history.jsonl")" = "$ino" ]
  cmp "$T/first4" "$T/r/history.jsonl"
  # nothing to cut: the file is left as it is, and the run appends to it
  cp "$T/r/history.jsonl" "$T/before"
  sg-train -o "$T/r" --resume --iters 6
  [ "$(stat -c %i "$T/r/history.jsonl")" = "$ino" ]
  [ "$(wc -l < "$T/r/history.jsonl")" -eq 6 ]
  cmp "$T/before" <(head -n 4 "$T/r/history.jsonl")
}

@test "stderr not a terminal: one line per checkpoint written, none with -q (a log under nohup or systemd showed nothing for days)" {
  run sg-train -o "$T/r" --iters 6 --save-every 3 --sample-every 0 --batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --threads 1 --device cpu "$D/a.lmdb"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 2 ]
  [[ "${lines[0]}" == "sg-train: iteration 3/6: checkpoint $T/r/ckpt/000003 written ("*" it/s, ETA "*")" ]]
  [[ "${lines[1]}" == "sg-train: iteration 6/6: checkpoint $T/r/ckpt/000006 written ("*" it/s, ETA "*")" ]]
  run sg-train -o "$T/r" --resume --iters 9 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # review-script20 F7: the help said only "no progress line"
  run sg-train --help
  [[ "$output" == *"-q, --quiet               no progress line, nor the checkpoint lines"*"that stand for it when stderr is not a terminal"* ]]
}
