#!/usr/bin/env bats
# pipelines/convert_reference_ckpt.py (a reference PyTorch generator -> a stargan-c
# G file): what it refuses to overwrite and what it refuses to convert. Its
# conversions that sg-sample then runs are checked in sg-sample.bats.

PY=/usr/bin/python3
CONVERT=pipelines/convert_reference_ckpt.py
DS=--dataset=CelebA=Black_Hair,Blond_Hair,Brown_Hair,Male,Young

setup_file() {
    cd "$BATS_TEST_DIRNAME/../.."
    T=$BATS_FILE_TMPDIR
    $PY -c 'import torch' 2>/dev/null || return 0
    # A tiny reference Generator (conv_dim 4, c_dim 5, one residual block).
    $PY - "$T" <<'EOF'
import sys, torch
sys.path.insert(0, "tests/golden")
from stargan_ref import Generator
torch.manual_seed(1)
torch.save(Generator(4, 5, 1).state_dict(), sys.argv[1] + "/000007-G.ckpt")
EOF
    $PY -c 'import sys; from PIL import Image; Image.new("RGB", (16, 16), (90, 60, 30)).save(sys.argv[1])' "$T/in.png"
}

setup() {
    cd "$BATS_TEST_DIRNAME/../.."
    T=$BATS_FILE_TMPDIR
    W=$BATS_TEST_TMPDIR
    $PY -c 'import torch' 2>/dev/null || skip "no torch for $PY"
}

convert() { $PY $CONVERT "$@" "$DS" --image-size 16 --d-repeat 2; }

# Runs convert with the arguments and checks it failed with one line on stderr
# ending in $want (first argument), and left no temporary file in $W.
refused() {
    local want=$1; shift
    run convert "$@"
    echo "status $status: $output"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "convert_reference_ckpt.py: "*"$want" ]]
    [ -z "$(find "$W" -name '*.tmp*')" ]
}

@test "convert_reference_ckpt.py: never writes over its input, by any name" {
    cp "$T/000007-G.ckpt" "$W/copy-G.ckpt"
    ln -s copy-G.ckpt "$W/link-G.safetensors"
    ln "$W/copy-G.ckpt" "$W/hard-G.safetensors"
    mkdir "$W/sub"
    sum=$(md5sum < "$W/copy-G.ckpt")
    same="the output is the same file as the input $W/copy-G.ckpt; choose another output"
    refused "$W/copy-G.ckpt: $same" "$W/copy-G.ckpt" "$W/copy-G.ckpt"
    refused "$W/sub/../copy-G.ckpt: $same" "$W/copy-G.ckpt" "$W/sub/../copy-G.ckpt"
    refused "$W/link-G.safetensors: $same" "$W/copy-G.ckpt" "$W/link-G.safetensors"
    refused "$W/hard-G.safetensors: $same" "$W/copy-G.ckpt" "$W/hard-G.safetensors"
    # --force replaces other files, never the input
    refused "$W/copy-G.ckpt: $same" --force "$W/copy-G.ckpt" "$W/copy-G.ckpt"
    refused "$W/hard-G.safetensors: $same" --force "$W/copy-G.ckpt" "$W/hard-G.safetensors"
    refused "$W/link-G.safetensors: $same" --force "$W/copy-G.ckpt" "$W/link-G.safetensors"
    [ "$(md5sum < "$W/copy-G.ckpt")" = "$sum" ]
    [ -L "$W/link-G.safetensors" ]
    # from the directory itself, by a relative name
    run bash -c "cd '$W' && $PY '$PWD/$CONVERT' copy-G.ckpt ./copy-G.ckpt --image-size 16 --d-repeat 2 '$DS'"
    [ "$status" -eq 1 ]
    [ "$output" = "convert_reference_ckpt.py: ./copy-G.ckpt: the output is the same file as the input copy-G.ckpt; choose another output" ]
    [ "$(md5sum < "$W/copy-G.ckpt")" = "$sum" ]
}

@test "convert_reference_ckpt.py: an existing output is replaced only with --force, atomically" {
    convert "$T/000007-G.ckpt" "$W/000007-G.safetensors" --step 7 > /dev/null
    sum=$(md5sum < "$W/000007-G.safetensors")
    ino=$(stat -c %i "$W/000007-G.safetensors")
    refused "$W/000007-G.safetensors: exists; give --force to replace it" "$T/000007-G.ckpt" "$W/000007-G.safetensors" --step 8
    [ "$(md5sum < "$W/000007-G.safetensors")" = "$sum" ]
    # an existing file of any kind, a dangling link too
    echo keep > "$W/notes.txt"
    refused "$W/notes.txt: exists; give --force to replace it" "$T/000007-G.ckpt" "$W/notes.txt"
    [ "$(cat "$W/notes.txt")" = keep ]
    ln -s nowhere "$W/dangling"
    refused "$W/dangling: exists; give --force to replace it" "$T/000007-G.ckpt" "$W/dangling"
    [ "$(readlink "$W/dangling")" = nowhere ]
    # --force replaces it by a rename: a new file, not the old one rewritten
    run convert --force "$T/000007-G.ckpt" "$W/000007-G.safetensors" --step 8
    [ "$status" -eq 0 ]
    [[ "$output" == *"step 8"* ]]
    [ "$(md5sum < "$W/000007-G.safetensors")" != "$sum" ]
    [ "$(stat -c %i "$W/000007-G.safetensors")" != "$ino" ]
    head -c 4096 "$W/000007-G.safetensors" | grep -aq '"step":"8"'
    [ -z "$(find "$W" -name '*.tmp*')" ]
    run $PY $CONVERT --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--force"*"replace an existing output"* ]]
    # and sg-sample(1), where it describes the script
    sed -n '/^\.SH CONVERTING A REFERENCE CHECKPOINT/,/^\.SH EXAMPLES/p' man/man1/sg-sample.1 |
        grep -q 'refused unless \\fB\\-\\-force'
}

# The review's case: a conversion aimed at a checkpoint of an sg-train run.
@test "convert_reference_ckpt.py: refuses to replace a G file of an sg-train run without --force" {
    celeb-synth -q -n 20 -o "$W/synth"
    celeb-pack -q --attrs "$W/synth/list_attr_celeba.txt" --images "$W/synth/img_align_celeba" \
        --select Black_Hair,Blond_Hair,Brown_Hair,Male,Young -S 16 -o "$W/s.lmdb"
    sg-train -q -o "$W/run" --batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --threads 1 --device cpu --iters 2 "$W/s.lmdb"
    g=$W/run/ckpt/000002-G.safetensors
    sum=$(md5sum < "$g")
    refused "$g: exists; give --force to replace it" "$T/000007-G.ckpt" "$g"
    [ "$(md5sum < "$g")" = "$sum" ]
    sg-sample -q --ckpt "$W/run" --device cpu "$W/synth/img_align_celeba/000001.jpg" -o "$W/ok.png"
}

# Every file it writes must be one sg-sample runs: the whole state_dict is checked
# against the names, shapes and dtypes the configuration implies, and the labels
# against what sg-sample accepts, before anything is written.
@test "convert_reference_ckpt.py: a state_dict that is not the reference Generator's, or repeated labels, is refused" {
    $PY - "$T/000007-G.ckpt" "$W" <<'EOF2'
import sys, torch
sd = torch.load(sys.argv[1])
w = sys.argv[2]
def save(name, edit):
    d = dict(sd); edit(d); torch.save(d, "%s/%s-G.ckpt" % (w, name))
save("missing", lambda d: d.pop("main.4.running_mean"))
save("shape", lambda d: d.__setitem__("main.1.weight", torch.ones(5)))
save("convshape", lambda d: d.__setitem__("main.9.main.3.weight", torch.ones(16, 16, 5, 5)))
save("extra", lambda d: d.__setitem__("main.17.weight", torch.ones(3)))
save("dtype", lambda d: d.__setitem__("main.1.bias", torch.zeros(4, dtype=torch.float64)))
save("counter", lambda d: d.__setitem__("main.1.num_batches_tracked", torch.tensor(0.0)))
save("notensor", lambda d: d.__setitem__("main.1.running_var", [1.0, 1.0, 1.0, 1.0]))
EOF2
    for case in "missing|missing tensor main.4.running_mean" \
                "shape|tensor main.1.weight: shape [5], expected [4]" \
                "convshape|tensor main.9.main.3.weight: shape [16, 16, 5, 5], expected [16, 16, 3, 3]" \
                "extra|unexpected tensor main.17.weight" \
                "dtype|tensor main.1.bias: dtype torch.float64, expected torch.float32" \
                "counter|tensor main.1.num_batches_tracked: dtype torch.float32, expected torch.int64" \
                "notensor|main.1.running_var is a list, not a tensor"; do
        IFS='|' read -r name want <<< "$case"
        run convert "$W/$name-G.ckpt" "$W/$name-G.safetensors"
        echo "$name: status $status: $output"
        [ "$status" -eq 1 ]
        [ "${#lines[@]}" -eq 1 ]
        [[ "$output" == "convert_reference_ckpt.py: $W/$name-G.ckpt: not the reference Generator's state_dict"*"$want"* ]]
        [ ! -e "$W/$name-G.safetensors" ]
    done
    # labels sg-sample would refuse
    for case in "--dataset=CelebA=Male,Male,Young,A,B|--dataset CelebA: label Male is given twice" \
                "--dataset=A=a,b|--dataset=B:one-hot=x|--dataset B: a one-hot dataset needs at least 2 classes"; do
        IFS='|' read -r -a args <<< "$case"
        want=${args[-1]}; unset 'args[-1]'
        run $PY $CONVERT "$T/000007-G.ckpt" "$W/labels-G.safetensors" --image-size 16 --d-repeat 2 "${args[@]}"
        echo "${args[*]}: status $status: $output"
        [ "$status" -eq 1 ]
        [ "${#lines[@]}" -eq 1 ]
        [ "$output" = "convert_reference_ckpt.py: $want" ]
        [ ! -e "$W/labels-G.safetensors" ]
    done
    # the same label in two datasets is fine (sg-sample qualifies it by dataset)
    run $PY $CONVERT "$T/000007-G.ckpt" "$W/two-G.safetensors" --image-size 16 --d-repeat 2 \
        --dataset=A=Male,Young --dataset=B=Male
    echo "$output"
    [ "$status" -eq 0 ]
    sg-sample -q --ckpt "$W/two-G.safetensors" --device cpu --targets +B:Male "$T/in.png" -o "$W/b.png"
    [ -z "$(find "$W" -name '*.tmp*')" ]
}

@test "a state_dict saved before PyTorch 0.4.1 (no num_batches_tracked at all) converts, its counters 0, as PyTorch loads it" {
    $PY - "$T/000007-G.ckpt" "$W/old-G.ckpt" <<'EOF2'
import sys, torch
sd = torch.load(sys.argv[1])
torch.save({k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}, sys.argv[2])
EOF2
    run convert "$W/old-G.ckpt" "$W/old-G.safetensors"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    convert "$T/000007-G.ckpt" "$W/new-G.safetensors"
    sg-sample -q --ckpt "$W/old-G.safetensors" --device cpu --targets +Male -o "$W/old.png" "$T/in.png"
    sg-sample -q --ckpt "$W/new-G.safetensors" --device cpu --targets +Male -o "$W/new.png" "$T/in.png"
    cmp "$W/old.png" "$W/new.png"
    # the counters: I64 zeros
    $PY - "$W/old-G.safetensors" <<'EOF2'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
c = [k for k in h if k.endswith("num_batches_tracked")]
assert c and all(h[k]["dtype"] == "I64" for k in c), c
assert all(b[8 + n + h[k]["data_offsets"][0]:8 + n + h[k]["data_offsets"][1]] == bytes(8) for k in c)
EOF2
    # one counter missing among others is still a damaged file
    $PY - "$T/000007-G.ckpt" "$W/one-G.ckpt" <<'EOF2'
import sys, torch
sd = torch.load(sys.argv[1]); del sd["main.1.num_batches_tracked"]; torch.save(sd, sys.argv[2])
EOF2
    run convert "$W/one-G.ckpt" "$W/one-G.safetensors"
    [ "$status" -eq 1 ]
    [[ "$output" == *"missing tensor main.1.num_batches_tracked"* ]]
}

# Each dataset's crop goes into its "datasets" entry: the reference's by
# default (CelebA-style multi-hot 178, RaFD-style one-hot 256; was 178 for
# every model, so a RaFD-only model framed photos as CelebA's), --crop N for
# every dataset, --crop NAME=N or K=N for one; the top-level "crop" is the
# first dataset's. sg-sample then crops to the targets' dataset's.
@test "convert_reference_ckpt.py: each dataset's crop, the reference's by default, --crop [DATASET=]N" {
    $PY - "$T" <<'EOF2'
import sys, torch
sys.path.insert(0, "tests/golden")
from stargan_ref import Generator
torch.manual_seed(2)
torch.save(Generator(4, 5 + 2 + 2, 1).state_dict(), sys.argv[1] + "/000009-G.ckpt")   # 5 + 2 labels, a mask
torch.save(Generator(4, 3, 1).state_dict(), sys.argv[1] + "/000011-G.ckpt")
EOF2
    crops() {
        $PY - "$1" <<'EOF2'
import json, sys
b = open(sys.argv[1], "rb").read()
n = int.from_bytes(b[:8], "little")
m = json.loads(b[8:8 + n])["__metadata__"]
print(m["crop"], " ".join("%s:%s" % (d["name"], d["crop"]) for d in json.loads(m["datasets"])))
EOF2
    }
    R=--dataset=RaFD:one-hot=angry,happy
    conv() { $PY $CONVERT "$@" --image-size 16 --d-repeat 2 > /dev/null; }
    conv "$T/000009-G.ckpt" "$W/a-G.safetensors" "$DS" "$R"
    [ "$(crops "$W/a-G.safetensors")" = "178 CelebA:178 RaFD:256" ]
    conv "$T/000009-G.ckpt" "$W/b-G.safetensors" "$R" --dataset=CelebA=Black_Hair,Blond_Hair,Brown_Hair,Male,Young
    [ "$(crops "$W/b-G.safetensors")" = "256 RaFD:256 CelebA:178" ]
    conv "$T/000009-G.ckpt" "$W/c-G.safetensors" "$DS" "$R" --crop 200 --crop RaFD=300
    [ "$(crops "$W/c-G.safetensors")" = "200 CelebA:200 RaFD:300" ]
    conv "$T/000009-G.ckpt" "$W/d-G.safetensors" "$DS" "$R" --crop 2=0 --crop 1=170
    [ "$(crops "$W/d-G.safetensors")" = "170 CelebA:170 RaFD:0" ]
    # a RaFD-only model: 256
    conv "$T/000011-G.ckpt" "$W/e-G.safetensors" --dataset=RaFD:one-hot=angry,happy,sad
    [ "$(crops "$W/e-G.safetensors")" = "256 RaFD:256" ]
    # sg-sample reads them: a RaFD target is cropped to 256 (here, the image's short side)
    $PY -c 'import sys; from PIL import Image; Image.radial_gradient("L").convert("RGB").resize((300, 260)).save(sys.argv[1])' "$W/p.png"
    sg-sample -q --ckpt "$W/c-G.safetensors" --device cpu --targets RaFD:angry "$W/p.png" -o "$W/s.png"
    sg-sample -q --ckpt "$W/c-G.safetensors" --device cpu --targets RaFD:angry --crop 300 "$W/p.png" -o "$W/s300.png"
    sg-sample -q --ckpt "$W/c-G.safetensors" --device cpu --targets RaFD:angry --crop 200 "$W/p.png" -o "$W/s200.png"
    cmp "$W/s.png" "$W/s300.png"
    ! cmp -s "$W/s.png" "$W/s200.png" || false
    sg-sample -q --ckpt "$W/c-G.safetensors" --device cpu --targets +Male "$W/p.png" -o "$W/m.png"
    sg-sample -q --ckpt "$W/c-G.safetensors" --device cpu --targets +Male --crop 200 "$W/p.png" -o "$W/m200.png"
    cmp "$W/m.png" "$W/m200.png"
    # mistakes: one line, nothing written
    refused "--crop RaFD=300: no dataset is called 'RaFD'; the datasets are 1 CelebA" \
        "$T/000007-G.ckpt" "$W/x-G.safetensors" --crop RaFD=300
    refused "--crop 2=300: no dataset 2; the datasets are 1 CelebA" "$T/000007-G.ckpt" "$W/x-G.safetensors" --crop 2=300
    refused "--crop x: expected N or DATASET=N, N a side in 0..65536 (0: none)" "$T/000007-G.ckpt" "$W/x-G.safetensors" \
        --crop x
    refused "--crop CelebA=70000: expected N or DATASET=N, N a side in 0..65536 (0: none)" "$T/000007-G.ckpt" \
        "$W/x-G.safetensors" --crop CelebA=70000
    [ ! -e "$W/x-G.safetensors" ]
}

# A reference --dataset Both model (review-multi20 N1): given one dataset's
# labels, the count error did not say that it takes both; given RaFD's first,
# the reverse of its [CelebA | RaFD | mask], it converted without a word.
@test "convert_reference_ckpt.py: a CelebA + RaFD model: one --dataset is refused with the hint to give both, CelebA first; RaFD first converts with a warning" {
    $PY - "$W" <<'EOF2'
import sys, torch
sys.path.insert(0, "tests/golden")
from stargan_ref import Generator
torch.manual_seed(3)
torch.save(Generator(4, 5 + 3 + 2, 1).state_dict(), sys.argv[1] + "/000013-G.ckpt")   # 5 + 3 labels, a mask
EOF2
    R=--dataset=RaFD:one-hot=angry,happy,sad
    conv() { $PY $CONVERT "$W/000013-G.ckpt" "$@" --image-size 16 --d-repeat 2; }
    hint="(if it is the reference's --dataset Both model, it takes both datasets' labels and a 2-dataset mask"
    run conv "$W/a-G.safetensors" "$DS"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [ "$output" = "convert_reference_ckpt.py: $W/000013-G.ckpt: the generator takes 10 label channels, but --dataset gives 5 labels = 5 $hint, here 10 = 5 + 3 + 2: give a --dataset for each dataset, CelebA first)" ]
    run conv "$W/a-G.safetensors" "$R"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "convert_reference_ckpt.py: $W/000013-G.ckpt: the generator takes 10 label channels, but --dataset gives 3 labels = 3 $hint, here 10 = 3 + 5 + 2: give a --dataset for each dataset, CelebA first)" ]
    [ ! -e "$W/a-G.safetensors" ]
    # no hint where no other dataset and mask fit: too many labels, two datasets, or too few channels left
    run conv "$W/a-G.safetensors" --dataset=A=a,b,c,d,e,f,g,h,i,j,k
    [ "$status" -eq 1 ]
    [[ "$output" == *"but --dataset gives 11 labels = 11" ]]
    # one channel left beside a mask: no second dataset (a RaFD-only model given CelebA's labels)
    run conv "$W/a-G.safetensors" --dataset=A=a,b,c,d,e,f,g
    [ "$status" -eq 1 ]
    [[ "$output" == *"but --dataset gives 7 labels = 7" ]]
    run conv "$W/a-G.safetensors" "$DS" --dataset=RaFD:one-hot=angry,happy
    [ "$status" -eq 1 ]
    [[ "$output" == *"but --dataset gives 7 labels + a 2-dataset mask = 9" ]]
    run $PY $CONVERT "$T/000007-G.ckpt" "$W/a-G.safetensors" --image-size 16 --d-repeat 2 --dataset=A=a,b,c
    [ "$status" -eq 1 ]
    [[ "$output" == *"the generator takes 5 label channels, but --dataset gives 3 labels = 3" ]]
    # CelebA first, as the reference: no warning
    conv "$W/b-G.safetensors" "$DS" "$R" > "$W/out" 2> "$W/err"
    [ ! -s "$W/err" ]
    grep -q "c_dim 10" "$W/out"
    # RaFD first: converted (the labels fit either order), with a warning
    conv "$W/c-G.safetensors" "$R" "$DS" > "$W/out" 2> "$W/err"
    cat "$W/err"
    [ "$(cat "$W/err")" = "convert_reference_ckpt.py: warning: RaFD (one-hot) is given before CelebA (multi-hot), but the reference's --dataset Both model has CelebA (multi-hot) first; if $W/000013-G.ckpt is one, convert it again with the --dataset options swapped" ]
    grep -q "c_dim 10" "$W/out"
    [ -s "$W/c-G.safetensors" ]
    # two multi-hot datasets (the seed's celebA/celebB): no warning
    conv "$W/d-G.safetensors" --dataset=A=a,b,c,d,e --dataset=B=x,y,z > "$W/out" 2> "$W/err"
    [ ! -s "$W/err" ]
}
