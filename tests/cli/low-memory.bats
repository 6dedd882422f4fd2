#!/usr/bin/env bats
# sg-train and sg-sample under a tight address-space limit (ulimit -v): status 1
# and one line that says memory, or success; never a hang. OpenBLAS retries a
# failed mapping of its 128 MiB work buffer for ever, in the threads it started
# when it was loaded (exit() then waited for them, after the tool's message or
# after --version) and in a run's first sgemm (lib/backend_cpu.c: blas_open,
# blas_reserve).

load helpers

A_ATTRS=Black_Hair,Blond_Hair,Brown_Hair

setup_file() {
    T=$BATS_FILE_TMPDIR
    celeb-synth -q -n 12 -o "$T/synth"
    celeb-pack -q --attrs "$T/synth/list_attr_celeba.txt" --images "$T/synth/img_align_celeba" \
        --select $A_ATTRS --size 16 -o "$T/a.lmdb"
    sg-train -q -o "$T/run" --device cpu --threads 1 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 \
        --iters 1 --batch 2 "$T/a.lmdb"
}

setup() {
    T=$BATS_FILE_TMPDIR
    W=$BATS_TEST_TMPDIR
    bash -c 'ulimit -v 1000000' 2>/dev/null || skip "ulimit -v cannot be set here"
    # sanitizer builds reserve terabytes of shadow memory: they cannot start under any such limit
    if grep -qaE '__(a|hwa|t|m)san_init' "$(command -v sg-train)"; then skip "a sanitizer build"; fi
    TRAIN=(-q -o "$W/r" --device cpu --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --iters 2 --batch 4 "$T/a.lmdb")
}

# Runs "$@" with its address space limited to $1 KiB; a hang ends as status
# 124 (137 where SIGTERM was not enough).
run_limited() {
    local kib=$1; shift
    run bash -c 'ulimit -v "$1" || exit 99; shift; exec timeout -k 2 20 "$@"' _ "$kib" "$@"
}

# After run_limited: status 0 and no output, or status 1 and one line
# "TOOL: ..." that says memory.
ended_cleanly() {
    local tool=$1 kib=$2
    if [ "$status" -eq 0 ] && [ -z "$output" ]; then return 0; fi
    if [ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "${lines[0]}" == "$tool: "* ]] \
        && [[ "${lines[0],,}" == *memory* ]]; then return 0; fi
    echo "under ulimit -v $kib: status $status (124 or 137: it hung), output:"
    printf '%s\n' "$output"
    return 1
}

@test "--version under a 120 MB limit: printed, status 0, no wait for OpenBLAS's threads" {
    for tool in sg-train sg-sample; do
        run_limited 120000 $tool --version
        [ "$status" -eq 0 ] || { echo "$tool: status $status"; false; }
        [ "${#lines[@]}" -eq 1 ] && [[ "${lines[0]}" == "$tool "* ]]
    done
}

@test "sg-train under a 120 MB limit: one line that says memory, status 1" {
    # one 128 MiB OpenBLAS buffer alone is more than the limit
    for threads in 1 2; do
        run_limited 120000 sg-train --threads $threads "${TRAIN[@]}"
        [ "$status" -eq 1 ] || { echo "--threads $threads: status $status: $output"; false; }
        ended_cleanly sg-train 120000
    done
    [ ! -e "$W/r/latest" ]
}

@test "sg-train from 100 MB to 500 MB: every run ends, with status 0 or one line that says memory" {
    for threads in 1 2; do
        for kib in $(seq 100000 40000 500000); do
            rm -rf "$W/r"
            run_limited $kib sg-train --threads $threads "${TRAIN[@]}"
            ended_cleanly sg-train $kib
        done
    done
    # unlimited, the same run trains
    rm -rf "$W/r"
    run sg-train --threads 2 "${TRAIN[@]}"
    [ "$status" -eq 0 ] && [ -e "$W/r/latest" ]
}

@test "sg-sample from 100 MB to 500 MB: every run ends, with status 0 or one line that says memory" {
    for threads in 1 2; do
        for kib in $(seq 100000 40000 500000); do
            rm -f "$W/g.png"
            run_limited $kib sg-sample -q --ckpt "$T/run" --data "$T/a.lmdb" --count 2 --device cpu \
                --threads $threads -o "$W/g.png"
            ended_cleanly sg-sample $kib
            if [ "$status" -eq 0 ]; then is_png "$W/g.png"; else [ ! -e "$W/g.png" ]; fi
        done
    done
}
