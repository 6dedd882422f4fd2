#!/usr/bin/env bats
# train-step-bench --op-times on the CPU emulation of CUDA and cuDNN
# (tests/emu, build/emu-bin/train-step-bench): what tests/gpu/run's optimes
# step prints on a lent GPU, here at a tiny size. The emulation counts its
# launches by kernel (SG_EMU_LAUNCH_COUNTS=1), so a run with the op-times
# phase minus the same run without it is that phase's launches: the calls
# the report counts must match them.

BENCH="$BATS_TEST_DIRNAME/../../build/emu-bin/train-step-bench"

setup() {
  [ -x "$BENCH" ] || skip "no CUDA build here: $BENCH"
  T="$BATS_TEST_TMPDIR"
  TINY=(--image-size 64 --batch 2 --conv-dim 4 --warmup 1 --iters 5)
}

@test "train-step-bench --op-times (emulated CUDA): calls per op match the phase's emulated launches" {
  # legacy algorithms: one cuDNN call per convolution, the same in both runs
  export SG_CUDNN_SEARCH=legacy SG_EMU_LAUNCH_COUNTS=1
  "$BENCH" "${TINY[@]}" --op-times > "$T/with.out" 2> "$T/with.err"
  "$BENCH" "${TINY[@]}" > "$T/without.out" 2> "$T/without.err"
  /usr/bin/python3 - "$T" <<'PY'
import re, sys
d = sys.argv[1]
def launches(path):
    n = {}
    for line in open(path):
        m = re.match(r"^\s*(\d+)  (\S.*)$", line)
        if m: n[m.group(2)] = int(m.group(1))
    return n
with_out = open(d + "/with.out").read().splitlines()
without_out = open(d + "/without.out").read().splitlines()
assert len(without_out) == 1, without_out
# the timed loop's line comes first and is the run's without the phase
# (only its timings and memory may differ)
keys = lambda line: dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
a, b = keys(with_out[0]), keys(without_out[0])
for k in ("iters", "g_steps", "graphs", "prefetches", "d_loss_real", "d_loss_gp", "g_loss_rec"):
    assert a[k] == b[k], (k, a[k], b[k])
rest = with_out[1:]
assert rest and all(l.startswith("op-times: ") for l in rest), rest[:3]
rest = [l[len("op-times: "):] for l in rest]
assert rest[0].split()[:6] == ["total_ms", "ms/it", "share", "calls", "calls/it", "rate"], rest[0]
rows, rates, i = [], {}, 1
row = re.compile(r"^\s*([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)%\s+(\d+)\s+([0-9.]+)\s+(\S+)  (.+)$")
while not rest[i].lstrip().split("  ")[-1].startswith("sum of "):
    m = row.match(rest[i]); assert m, rest[i]
    rows.append((float(m.group(1)), int(m.group(4)), float(m.group(5)), m.group(7)))
    rates[m.group(7)] = m.group(6)
    i += 1
m = row.match(rest[i]); assert m, rest[i]
sum_ms, sum_calls, label = float(m.group(1)), int(m.group(4)), m.group(7)
assert m.group(6) == "-", rest[i]
# a convolution's rate: 2 x its multiply-adds (from the label's shape) per second, to 3 digits
conv = re.compile(r"^conv2d_(forward|backward_data|backward_filter) N=(\d+) Ci=(\d+) H=(\d+)(?: W=(\d+))? "
                  r"Co=(\d+) K=(\d+) s=(\d+) p=(\d+)")
n_conv = 0
for ms, nc, _, lab in rows:
    c = conv.match(lab)
    if not c or ms < 1e-3: continue
    N, Ci, H, W, Co, K, st, p = (int(v) if v else None for v in c.groups()[1:])
    W = W or H
    flop = 2.0 * N * ((H + 2 * p - K) // st + 1) * ((W + 2 * p - K) // st + 1) * Co * Ci * K * K * nc
    r = re.match(r"^([0-9.e+-]+)TFLOP/s$", rates[lab]); assert r, (lab, rates[lab])
    lo, hi = flop / (ms + 5e-5) * 1e-9 * 0.995, flop / (ms - 5e-5) * 1e-9 * 1.005
    assert lo <= float(r.group(1)) <= hi, (lab, rates[lab], lo, hi)
    n_conv += 1
assert n_conv > 0
# every other op with an estimate in GB/s: D's bias gradients too, in the LeakyReLU backward's pass
# (bytes, not a convolution's FLOPs; the D step has no bias gradient of its own any more)
assert any(re.match(r"^leaky_relu_backward_bias .* n_bias=\d+$", l) for l in rates), rates
assert not any(l.startswith("conv2d_bias_grad") for l in rates), rates
assert all(re.match(r"^[0-9.e+-]+GB/s$", rates[l]) for l in rates if not conv.match(l) and rates[l] != "-"), rates
assert all(rates[l] != "-" for l in rates if l.startswith(("adam", "instnorm", "leaky_relu_backward_bias"))), rates
assert label == "sum of %d labels" % len(rows), label
assert sum_calls == sum(r[1] for r in rows), (sum_calls, sum(r[1] for r in rows))
assert abs(sum_ms - sum(r[0] for r in rows)) <= 1e-4 * (len(rows) + 1), sum_ms
assert all(r[0] >= 0 and abs(r[2] - r[1] / 5) < 0.006 for r in rows), "calls/it is calls / 5"
assert [r[0] for r in rows] == sorted((r[0] for r in rows), reverse=True), "largest first"
calls = lambda op: sum(r[1] for r in rows if r[3].split()[0] == op)
lw, lo = launches(d + "/with.err"), launches(d + "/without.err")
delta = lambda pred: sum(v for k, v in lw.items() if pred(k)) - sum(v for k, v in lo.items() if pred(k))
for op, fn in (("conv2d_forward", "cudnnConvolutionForward"), ("conv2d_backward_data", "cudnnConvolutionBackwardData"),
               ("conv2d_backward_filter", "cudnnConvolutionBackwardFilter"), ("draw_batch", "draw_batch_kernel")):
    assert calls(op) > 0 and calls(op) == delta(lambda k: k == fn), (op, calls(op), fn, delta(lambda k: k == fn))
assert calls("adam") > 0 and calls("adam") == delta(lambda k: k.startswith("adam")), ("adam", calls("adam"))
# instance norm: every call launches at least one kernel of its own
n_in = calls("instnorm_forward") + calls("instnorm_backward")
assert calls("instnorm_forward") > 0 and calls("instnorm_backward") > 0
assert delta(lambda k: k.startswith("instnorm")) >= n_in, (n_in, delta(lambda k: k.startswith("instnorm")))
by_op = [l for l in rest[i + 1:] if l.startswith("by op ")]
assert any(re.search(r" [0-9.e+-]+TFLOP/s  conv2d_forward$", l) for l in by_op), by_op
assert re.match(r"^5 iterations \(1 with a G step\), eager .*wall [0-9.]+ ms/it, sum of the op times [0-9.]+ ms/it",
                rest[-1]), rest[-1]
# a hold kernel before each iteration (sg_backend_cuda_op_times_hold), none
# held here: the emulation runs each kernel when it is queued, and says so
assert delta(lambda k: k == "op_times_hold_kernel") == 5, delta(lambda k: k == "op_times_hold_kernel")
assert re.search(r"eager \(no step graphs while timing\), as launched \(0 of 5 iterations queued whole behind a "
                 r"hold kernel on lane 0, [0-9.]+ ms/it, untimed; .*the emulation runs each kernel when it is queued",
                 rest[-1]), rest[-1]
print("%d labels, %d calls in 5 iterations; conv fwd/bwd-data/bwd-filter %d/%d/%d" % (len(rows), sum_calls,
      calls("conv2d_forward"), calls("conv2d_backward_data"), calls("conv2d_backward_filter")))
PY
}

@test "train-step-bench --op-times --op-times-no-hold: no hold kernel, and the last line says so" {
  export SG_CUDNN_SEARCH=legacy SG_EMU_LAUNCH_COUNTS=1
  "$BENCH" "${TINY[@]}" --op-times --op-times-no-hold > "$T/out" 2> "$T/err"
  last=$(tail -n 1 "$T/out")
  echo "$last"
  [[ "$last" == "op-times: 5 iterations (1 with a G step), eager (no step graphs while timing), as launched (--op-times-no-hold:"*"wall "*" ms/it, sum of the op times "* ]]
  ! grep -q 'op_times_hold_kernel' "$T/err"
}

@test "train-step-bench --op-times: CUDA only, and listed by --help" {
  run "$BENCH" --device cpu --op-times --iters 1
  [ "$status" -eq 2 ]
  [[ "$output" == *"--op-times"*"--device cuda"* ]]
  run "$BENCH" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--op-times"* ]]
  [[ "$output" == *"--op-times-no-hold"* ]]
}
