#!/usr/bin/env bats
# The recipes that load a stargan-c checkpoint into PyTorch, as the README,
# stargan-checkpoint(5) and sg-sample(1) show them, run with Debian's python3
# (numpy and torch; Debian 12 has no safetensors package) on a checkpoint made by
# sg-train, and load it strictly into the reference's networks
# (tests/golden/stargan_ref.py standing in for yunjey/stargan's model.py).

PY=/usr/bin/python3

setup_file() {
    cd "$BATS_TEST_DIRNAME/../.."
    T=$BATS_FILE_TMPDIR
    celeb-synth -q -n 20 -o "$T/synth"
    celeb-pack -q --attrs "$T/synth/list_attr_celeba.txt" --images "$T/synth/img_align_celeba" \
        --select Black_Hair,Blond_Hair,Brown_Hair,Male,Young -S 16 -o "$T/s.lmdb"
    sg-train -q -o "$T/run" --batch 4 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --threads 1 --device cpu \
        --iters 2 "$T/s.lmdb"
}

setup() {
    cd "$BATS_TEST_DIRNAME/../.."
    T=$BATS_FILE_TMPDIR
    W=$BATS_TEST_TMPDIR
    $PY -c 'import numpy, torch' 2>/dev/null || skip "no numpy and torch for $PY"
}

# Writes the recipes of document $1 (a man page or markdown) as $W/recipe-N.py:
# the .nf/.fi blocks (man) or ``` blocks (markdown) that call load_state_dict(,
# as a reader sees them (the man page's escapes undone). Prints how many.
extract_recipes() {
    $PY - "$1" "$W" <<'EOF'
import re, sys
doc, out = sys.argv[1], sys.argv[2]
text = open(doc, encoding="utf-8").read()
if doc.endswith(".md"):
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)
else:
    blocks = []
    for b in re.findall(r"^\.nf\n(.*?)^\.fi", text, re.M | re.S):
        lines = [l for l in b.split("\n") if not l.startswith(".")]
        b = "\n".join(lines)
        for esc, ch in (("\\(aq", "'"), ("\\(dq", '"'), ("\\-", "-"), ("\\e", "\\")):
            b = b.replace(esc, ch)
        blocks.append(b)
n = 0
for b in blocks:
    if "load_state_dict(" in b:
        n += 1
        open("%s/recipe-%d.py" % (out, n), "w").write(b)
print(n)
EOF
}

# Runs $W/recipe-N.py in $W, where model.py stands for the reference's, with the
# checkpoint paths it names replaced by sg-train's; then checks that G (and D when
# the recipe makes it) hold exactly the files' tensors.
run_recipe() {
    cat > "$W/model.py" <<EOF
import sys
sys.path.insert(0, "$PWD/tests/golden")
from stargan_ref import Generator, Discriminator
EOF
    $PY - "$1" "$T/run/ckpt" "$PWD/tests/golden" <<'EOF'
import re, sys, os
recipe, ckpt, golden = sys.argv[1:4]
code = open(recipe).read()
assert "strict=False" not in code, "the recipe does not load strictly"
names = re.findall(r'"([^"]*/)?[0-9]+-([GD])\.safetensors"', code)
assert names, "no checkpoint path in the recipe"
code = re.sub(r'"([^"]*/)?[0-9]+-([GD])\.safetensors"', lambda m: '"%s/000002-%s.safetensors"' % (ckpt, m.group(2)), code)
os.chdir(os.path.dirname(recipe))
sys.path.insert(0, os.getcwd())
env = {"__name__": "__main__"}
exec(compile(code, recipe, "exec"), env)
sys.path.insert(0, golden)
import torch
from stargan_ref import Generator, Discriminator
from load_ckpt_in_torch import read_safetensors
for net, cls in (("G", Generator), ("D", Discriminator)):
    if net not in env:
        assert net == "D", "the recipe makes no G"
        continue
    assert isinstance(env[net], cls), "%s is a %s" % (net, type(env[net]))
    want, _ = read_safetensors("%s/000002-%s.safetensors" % (ckpt, net))
    got = env[net].state_dict()
    assert list(got) == list(want), "%s: names differ" % net
    for k in want:
        assert got[k].dtype == want[k].dtype and torch.equal(got[k], want[k]), "%s: %s differs" % (net, k)
    print("%s: %d tensors loaded" % (net, len(want)))
EOF
}

# Every line of recipe $1 appears as it is in the rendered man page $2.
rendered_as_is() {
    MANWIDTH=250 man -l "$2" 2>/dev/null | sed 's/^ *//' > "$W/rendered"
    while IFS= read -r line; do
        line=${line#"${line%%[! ]*}"}
        [ -z "$line" ] && continue
        grep -qxF -- "$line" "$W/rendered" || { echo "not rendered as written: $line"; return 1; }
    done < "$1"
}

check_doc() {
    run extract_recipes "$1"
    echo "$1: $output recipe(s)"
    [ "$status" -eq 0 ]
    [ "$output" -ge 1 ]
    for i in $(seq "$output"); do
        run run_recipe "$W/recipe-$i.py"
        echo "$1 recipe $i: $output"
        [ "$status" -eq 0 ]
        [[ "$output" == *"G: "*" tensors loaded"* ]]
        case $1 in *.[15]) rendered_as_is "$W/recipe-$i.py" "$1" ;; esac
    done
    # G in training mode, as sg-sample and the reference's test() translate;
    # a reader's habit of G.eval() gives other images (running statistics)
    grep -q '^G\.train() *# translate as the reference' "$1"
    # the safetensors package is the alternative, not the recipe
    grep -q 'pip install safetensors' "$1"
}

@test "README.md: the recipe loading a checkpoint into PyTorch runs with Debian's packages" {
    check_doc README.md
    [[ "$(cat "$W/recipe-1.py")" == *"D.load_state_dict("* ]]
}

@test "stargan-checkpoint(5): the recipe loading a checkpoint into PyTorch runs with Debian's packages" {
    check_doc man/man5/stargan-checkpoint.5
    [[ "$(cat "$W/recipe-1.py")" == *"D.load_state_dict("* ]]
}

@test "sg-sample(1): the recipe loading a generator into PyTorch runs with Debian's packages" {
    check_doc man/man1/sg-sample.1
}
