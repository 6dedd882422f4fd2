#!/usr/bin/env bats
# The Makefile's own promises: plain `make` on a machine without the
# development packages names them, instead of failing in the compiler.

ROOT="$BATS_TEST_DIRNAME/../.."

@test "make check-headers: passes here, where the packages are installed" {
    run make -s -C "$ROOT" check-headers
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "make check-headers: a missing header names it, its Debian package and 'make deps'" {
    run make -s -C "$ROOT" check-headers BUILD_HEADERS='sg_no_such.h:sg-fake-dev lmdb.h:liblmdb-dev zz_none.h:zz-dev'
    [ "$status" -ne 0 ]
    [[ "$output" == *"make: cannot build: missing headers sg_no_such.h (sg-fake-dev) zz_none.h (zz-dev)"* ]]
    [[ "$output" == *"make: run 'make deps' as root to install them, or: apt-get install sg-fake-dev zz-dev"* ]]
    # a header that is there is not named
    [[ "$output" != *liblmdb-dev* ]]
}

@test "make: on a fresh tree, a missing header stops the build before the first compile" {
    T=$(mktemp -d "$BATS_TMPDIR/make.XXXXXX")
    cp -r "$ROOT/Makefile" "$ROOT/lib" "$ROOT/tools" "$T/"
    run make -C "$T" CUDA=0 BUILD_HEADERS='sg_no_such.h:sg-fake-dev' bin/celeb-dump
    [ "$status" -ne 0 ]
    [[ "$output" == *"make: cannot build: missing headers sg_no_such.h (sg-fake-dev)"* ]]
    # no compiler ran: its first error would have been the user's first line
    [[ "$output" != *" -c lib/"* ]]
    [ ! -e "$T/build/.headers-ok" ]
    [ -z "$(find "$T" -name '*.o')" ]
    # and with the headers there, the same tree builds that tool
    run make -s -C "$T" CUDA=0 -j2 bin/celeb-dump
    [ "$status" -eq 0 ]
    [ -x "$T/bin/celeb-dump" ]
    rm -rf "$T"
}

@test "CFLAGS: their hash (in lib/version.o for the run's numerics) changes with them, and the objects are compiled again" {
  T=$(mktemp -d "$BATS_TMPDIR/make.XXXXXX")
  cp -r "$ROOT/Makefile" "$ROOT/lib" "$ROOT/tools" "$T/"
  run make -s -C "$T" CUDA=0 build/lib/version.o build/lib/json.o
  [ "$status" -eq 0 ]
  a=$(strings "$T/build/lib/version.o" | grep -xE '[0-9a-f]{8}')
  [[ "$a" =~ ^[0-9a-f]{8}$ ]]
  # the same flags: nothing compiled
  run make -C "$T" CUDA=0 build/lib/version.o build/lib/json.o
  [ "$status" -eq 0 ]
  [[ "$output" != *" -c lib/"* ]]
  # other flags: every object again, and another hash
  run make -C "$T" CUDA=0 CFLAGS="-O1 -g" build/lib/version.o build/lib/json.o
  [ "$status" -eq 0 ]
  [[ "$output" == *" -c lib/version.c"* ]]
  [[ "$output" == *" -c lib/json.c"* ]]
  b=$(strings "$T/build/lib/version.o" | grep -xE '[0-9a-f]{8}')
  [[ "$b" =~ ^[0-9a-f]{8}$ ]]
  [ "$b" != "$a" ]
  rm -rf "$T"
}

@test "--version names the build it was made as (build/version-id): VERSION and, in a git checkout, a commit of it" {
    version=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")
    [ -n "$version" ]
    name=$(cat "$ROOT/build/version-id")
    for tool in celeb-dump sg-train sg-sample; do
        run "$ROOT/bin/$tool" --version
        [ "$status" -eq 0 ]
        [ "$output" = "$tool $name" ]
    done
    # the tree may have changed since the build: the name holds a commit of this checkout
    if [ "$(git -C "$ROOT" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$ROOT" && pwd -P)" ]; then
        [[ "$name" =~ ^"$version (git "([0-9a-f]{12})(", modified")?")"$ ]]
        git -C "$ROOT" rev-parse --quiet --verify "${BASH_REMATCH[1]}^{commit}"
    else
        [ "$name" = "$version" ]
    fi
}

@test "no tool needs CUDA's libraries to start; only sg-train and sg-sample carry a RUNPATH (for dlopen's cuDNN)" {
    command -v readelf >/dev/null || skip "no readelf"
    for tool in "$ROOT"/bin/*; do
        dyn=$(readelf -d "$tool")
        echo "$tool: $(grep -oE '(NEEDED|RUNPATH|RPATH).*' <<< "$dyn" | tr '\n' ' ')"
        ! grep -qE 'NEEDED.*(libcudnn|libcudart|libcublas|libcuda\.so)' <<< "$dyn" || false
        case ${tool##*/} in
            sg-train|sg-sample) ;;
            *) ! grep -qE 'RUNPATH|RPATH' <<< "$dyn" || false ;;
        esac
    done
}

@test "the build name of a fresh clone is its commit; another user's checkout (git's 'dubious ownership') keeps it" {
    git -C "$ROOT" rev-parse --show-toplevel >/dev/null 2>&1 || skip "not a git checkout"
    [ "$(id -u)" -eq 0 ] || skip "needs root to give the clone to another user"
    T=$(mktemp -d "$BATS_TMPDIR/make.XXXXXX")
    git clone -q "$ROOT" "$T/c"
    # the Makefile under test (a clone holds the last commit's), committed so that the clone is clean
    cp "$ROOT/Makefile" "$T/c/Makefile"
    git -C "$T/c" -c user.name=test -c user.email=test@localhost commit -q --allow-empty -am "the Makefile under test"
    want="$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile") (git $(git -C "$T/c" rev-parse --short=12 HEAD))"
    run make -s -C "$T/c" build/version-id
    [ "$status" -eq 0 ]
    [ "$(cat "$T/c/build/version-id")" = "$want" ]
    # root building in a checkout nobody else's: git refuses it without safe.directory
    rm -rf "$T/c/build"
    chown -R nobody "$T/c"
    run make -s -C "$T/c" build/version-id
    [ "$status" -eq 0 ]
    [ "$(cat "$T/c/build/version-id")" = "$want" ]
    rm -rf "$T"
}

# A copy of what a CPU-only build and an install need (no kernels/: CUDA=0).
copy_tree() {
    mkdir -p "$1"
    cp -r "$ROOT/Makefile" "$ROOT/lib" "$ROOT/tools" "$ROOT/man" "$ROOT/pipelines" "$1/"
}

# A stand-in CUDA toolkit at $1: an nvcc that does nothing, and cudnn.h
# unless $2 is "no-cudnn" (a toolkit without cuDNN)
fake_cuda() {
    mkdir -p "$1/bin"
    printf '#!/bin/sh\nexit 0\n' > "$1/bin/nvcc"
    chmod +x "$1/bin/nvcc"
    [ "${2:-}" = no-cudnn ] || { mkdir -p "$1/include"; : > "$1/include/cudnn.h"; }
}

@test "make: NVCC is found at CUDA_HOME or by name on PATH; the build says why it has no CUDA backend" {
    T=$(mktemp -d "$BATS_TMPDIR/make.XXXXXX")
    copy_tree "$T/t"
    mkdir -p "$T/path"
    fake_cuda "$T/cuda"
    cp "$T/cuda/bin/nvcc" "$T/path/sg-fake-nvcc"
    run make -n -C "$T/t" CUDA_HOME="$T/cuda" bin/celeb-dump
    [ "$status" -eq 0 ]
    [[ "$output" == *"stargan-c: CUDA backend on ($T/cuda/bin/nvcc and cuDNN found; CUDA_ARCH=90)"* ]]
    # a name on PATH, as NVCC=nvcc would be
    run env PATH="$T/path:$PATH" make -n -C "$T/t" CUDA_HOME="$T/cuda" NVCC=sg-fake-nvcc bin/celeb-dump
    [[ "$output" == *"stargan-c: CUDA backend on ($T/path/sg-fake-nvcc and cuDNN found; CUDA_ARCH=90)"* ]]
    run make -n -C "$T/t" NVCC=sg-no-such-nvcc bin/celeb-dump
    [[ "$output" == *"stargan-c: CUDA backend off (NVCC=sg-no-such-nvcc was not found at build time)"* ]]
    [[ "$output" == *"-DSG_NO_CUDA_WHY='\"NVCC=sg-no-such-nvcc was not found at build time\"'"* ]]
    # CUDA=0 on purpose is not a missing nvcc
    run make -n -C "$T/t" CUDA_HOME="$T/cuda" CUDA=0 bin/celeb-dump
    [[ "$output" == *"stargan-c: CUDA backend off (CUDA=0 given)"* ]]
    [[ "$output" == *"-DSG_NO_CUDA_WHY='\"built with CUDA=0\"'"* ]]
    # the architecture is a variable of its own (sm_90 by default); NVCCFLAGS keeps the -I and -D the build needs
    cp -r "$ROOT/kernels" "$T/t/"
    run make -n -C "$T/t" CUDA_HOME="$T/cuda" bin/celeb-dump
    [[ "$output" == *"$T/cuda/bin/nvcc -std=c++17 -arch=sm_90 -Xcompiler -fPIC -Ilib -Ikernels -DSG_HAVE_CUDA=1 -DSG_CUDA_ARCHS='\"90\"' -DSG_CUDA_ARCH_MIN=90 -O3 -c kernels/adam.cu "* ]]
    run make -n -C "$T/t" CUDA_HOME="$T/cuda" NVCCFLAGS=-O1 CUDA_ARCH="80 sm_90" bin/celeb-dump
    [[ "$output" == *"nvcc -std=c++17 -gencode 'arch=compute_80,code=[sm_80,compute_80]' -gencode 'arch=compute_90,code=[sm_90,compute_90]' -Xcompiler -fPIC -Ilib -Ikernels -DSG_HAVE_CUDA=1 -DSG_CUDA_ARCHS='\"80 90\"' -DSG_CUDA_ARCH_MIN=80 -O1 -c kernels/adam.cu "* ]]
    [[ "$output" == *"stargan-c: CUDA backend on ($T/cuda/bin/nvcc and cuDNN found; CUDA_ARCH=80 90)"* ]]
    rm -rf "$T"
}

@test "make: the build's settings are recorded (build/config-id); other settings rebuild everything, a CUDA=0 is kept, install does not rebuild, uninstall removes what install put" {
    T=$(mktemp -d "$BATS_TMPDIR/make.XXXXXX")
    copy_tree "$T/t"
    run make -s -C "$T/t" -j2 CUDA=0 tools
    [ "$status" -eq 0 ]
    [[ "$(cat "$T/t/build/config-id")" == "CUDA=0; CC=cc "*"; CPPFLAGS=; CFLAGS=-O2 -g; LDFLAGS=" ]]
    # the tools say why they have no CUDA backend
    run "$T/t/bin/sg-train" -o "$T/r" --iters 1 --device cuda "$T/none.lmdb"
    [ "$status" -eq 1 ]
    [ "$output" = "sg-train: --device cuda: this build has no CUDA backend (built with CUDA=0)" ]
    # up to date, with CUDA=0 kept (make -q, make -n and make agree)
    run make -q -C "$T/t" tools
    [ "$status" -eq 0 ]
    run make -s -C "$T/t" tools
    [ -z "$output" ]
    # other flags: every object again, and the stamp is not rewritten by make -n
    id=$(cat "$T/t/build/config-id")
    run make -q -C "$T/t" tools CFLAGS=-O1
    [ "$status" -eq 1 ]
    run make -n -C "$T/t" tools CFLAGS=-O1
    [ "$(grep -c ' -O1 .*-c lib/' <<< "$output")" -eq "$(ls "$T/t"/lib/*.c | wc -l)" ]
    [ "$(cat "$T/t/build/config-id")" = "$id" ]
    # make install with other settings than the build's: refused, nothing built or installed
    run make -C "$T/t" install CFLAGS=-O1 DESTDIR="$T/d d" PREFIX=/usr
    [ "$status" -ne 0 ]
    [[ "$output" == *"make install: this tree was built with other settings than make install has: CFLAGS: built -O2 -g, now -O1. "* ]]
    [ ! -e "$T/d d" ]
    [ "$(cat "$T/t/build/config-id")" = "$id" ]
    # with the build's settings: nothing built; a DESTDIR with a space is one path
    run make -C "$T/t" install DESTDIR="$T/d d" prefix=/usr
    [ "$status" -eq 0 ]
    [[ "$output" != *" -c "* ]]
    [ ! -e "$T/t/d" ]
    [ -x "$T/d d/usr/bin/sg-train" ]
    [ -f "$T/d d/usr/share/man/man5/stargan-shard.5" ]
    [ -f "$T/d d/usr/share/stargan-c/score.awk" ]
    # the installed pages name the installed converter, not the default prefix's
    grep -q '^\.ds stargan_share /usr/share/stargan-c$' "$T/d d/usr/share/man/man1/sg-sample.1"
    ! grep -rq '/usr/local/share' "$T/d d/usr/share/man" || false
    (cd "$T/d d" && find . -type f | sort) > "$T/installed"
    [ "$(wc -l < "$T/installed")" -eq $(( $(ls "$T/t"/bin | wc -l) + $(ls "$T/t"/man/man1 "$T/t"/man/man5 | grep -c '\.[15]$') + $(ls "$T/t"/pipelines/*.mk | wc -l) + 2 )) ]
    # uninstall: the same files gone, and share/stargan-c; something else there stays
    touch "$T/d d/usr/bin/other-tool"
    run make -C "$T/t" uninstall DESTDIR="$T/d d" PREFIX=/usr
    [ "$status" -eq 0 ]
    [ "$(cd "$T/d d" && find . -type f)" = "./usr/bin/other-tool" ]
    [ ! -e "$T/d d/usr/share/stargan-c" ]
    # other settings given: the build redone (and relinked) with them, and they are kept
    run make -s -C "$T/t" -j2 tools CUDA=0 CFLAGS='-O1 -g'
    [ "$status" -eq 0 ]
    [[ "$(cat "$T/t/build/config-id")" == *"; CFLAGS=-O1 -g; "* ]]
    [ "$T/t/bin/celeb-dump" -nt "$T/installed" ]
    run make -q -C "$T/t" tools CFLAGS='-O1 -g'
    [ "$status" -eq 0 ]
    rm -rf "$T"
}

@test "make install: settings that change no installed file do not stop it (sudo's environment: no CUDA_HOME, CXXFLAGS or PATH, another reason for no CUDA)" {
    T=$(mktemp -d "$BATS_TMPDIR/make.XXXXXX")
    copy_tree "$T/t"
    # the user's shell: CUDA_HOME exported at a toolkit with nvcc but no cuDNN (a CPU-only build), CXXFLAGS of their own
    fake_cuda "$T/cuda" no-cudnn
    CUDA_HOME="$T/cuda" CXXFLAGS='-O2 -g -pipe' make -s -C "$T/t" -j2 tools
    run "$T/t/bin/sg-train" -o "$T/r" --iters 1 --device cuda "$T/none.lmdb"
    [ "$output" = "sg-train: --device cuda: this build has no CUDA backend (nvcc was found but not cudnn.h at build time)" ]
    # sudo's environment (env -i stands in): no CUDA_HOME, no CXXFLAGS; NVCC=... stands for root's
    # PATH finding no nvcc (this machine may have one at /usr/local/cuda)
    run env -i HOME="$HOME" PATH=/usr/sbin:/usr/bin:/sbin:/bin make -C "$T/t" install NVCC=sg-no-such-nvcc DESTDIR="$T/d"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" != *" -c "* ]]
    [[ "$output" != *"-o bin/"* ]]
    # what was installed is what was built, the reason for no CUDA included
    cmp "$T/t/bin/sg-train" "$T/d/usr/local/bin/sg-train"
    # and the tree is as its user left it
    run env CUDA_HOME="$T/cuda" CXXFLAGS='-O2 -g -pipe' make -q -C "$T/t" tools
    [ "$status" -eq 0 ]
    # CUDA=0 given (and kept), with CUDA_HOME exported: no CUDA_HOME in what install compares
    rm -rf "$T/t/build"
    CUDA_HOME=/usr/local/cuda-sg-none make -s -C "$T/t" CUDA=0 build/config-id
    run env -i HOME="$HOME" PATH=/usr/sbin:/usr/bin:/sbin:/bin make -n -C "$T/t" install
    [ "$status" -eq 0 ]
    [[ "$output" != *"make install: "* ]]
    rm -rf "$T"
}

@test "make install: a difference in what builds the tools is refused, naming only the fields that differ and how to give them" {
    T=$(mktemp -d "$BATS_TMPDIR/make.XXXXXX")
    copy_tree "$T/t"
    # a CUDA build (a stand-in toolkit: nvcc and cudnn.h)
    fake_cuda "$T/cuda-13"
    ln -s cuda-13 "$T/cuda"
    CUDA_HOME="$T/cuda-13" make -s -C "$T/t" CFLAGS='-O2 -g -DX' build/config-id
    run make -s -n -C "$T/t" install CUDA_HOME="$T/cuda" CFLAGS='-O2 -g -DX'
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"make install: this tree was built with other settings than make install has: CUDA_HOME: built $T/cuda-13, now $T/cuda; NVCC: built $T/cuda-13/bin/nvcc, now $T/cuda/bin/nvcc. "* ]]
    [[ "$output" == *"sudo -E make install, or give the build's settings: make install CUDA_HOME=$T/cuda-13 NVCC=$T/cuda-13/bin/nvcc "* ]]
    [[ "$output" != *CFLAGS* ]]
    [[ "$output" != *CUDA_ARCH* ]]
    # CFLAGS lost (sudo): named, and given back quoted
    run make -s -n -C "$T/t" install CUDA_HOME="$T/cuda-13"
    [ "$status" -ne 0 ]
    [[ "$output" == *": CFLAGS: built -O2 -g -DX, now -O2 -g. "*"make install CFLAGS='-O2 -g -DX' "* ]]
    [[ "$output" != *CUDA_HOME* ]]
    # no nvcc for the install: the CUDA fields are unused there
    run make -s -n -C "$T/t" install NVCC=sg-no-such-nvcc CFLAGS='-O2 -g -DX'
    [ "$status" -ne 0 ]
    [[ "$output" == *": CUDA: built 1, now 0; CUDA_HOME: built $T/cuda-13, now unused; "* ]]
    [[ "$output" == *"make install CUDA=1 CUDA_HOME=$T/cuda-13 "* ]]
    rm -rf "$T"
}

@test "make CUDA=1 is kept (build/config.mk) like CUDA=0, also where the tree was already a CUDA build" {
    T=$(mktemp -d "$BATS_TMPDIR/make.XXXXXX")
    copy_tree "$T/t"
    fake_cuda "$T/cuda"
    # found, not given: nothing kept
    make -s -C "$T/t" CUDA_HOME="$T/cuda" build/config-id
    [ ! -e "$T/t/build/config.mk" ]
    # given: kept, though the configuration is the same
    run make -C "$T/t" CUDA_HOME="$T/cuda" CUDA=1 build/config-id
    [ "$status" -eq 0 ]
    [ "$(cat "$T/t/build/config.mk")" = "KEPT_CUDA := 1" ]
    run make -n -C "$T/t" CUDA_HOME="$T/cuda" NVCC="$T/cuda/bin/nvcc" bin/celeb-dump
    [[ "$output" == *"stargan-c: CUDA backend on (CUDA=1 kept from an earlier make CUDA=1"* ]]
    # kept: make -q sees nothing to do
    run make -q -C "$T/t" CUDA_HOME="$T/cuda" build/config-id
    [ "$status" -eq 0 ]
    rm -rf "$T"
}

@test "CPPFLAGS come after the build's own -I (a cuda_runtime.h there does not replace the emulation's), and nvcc gets them too" {
    T=$(mktemp -d "$BATS_TMPDIR/make.XXXXXX")
    copy_tree "$T/t"
    mkdir -p "$T/t/tests"
    cp -r "$ROOT/kernels" "$T/t/"
    cp -r "$ROOT/tests/emu" "$T/t/tests/"
    fake_cuda "$T/cuda"
    run make -n -C "$T/t" CUDA_HOME="$T/cuda" CPPFLAGS=-I/sg/cppflags build/emu/cudnn_api.o build/kernels/adam.o build/lib/json.o
    [ "$status" -eq 0 ]
    emu=$(grep -- ' -c build/emu/cudnn_api.cc' <<< "$output")
    [[ "$emu" == *" -Itests/emu/include "*" -Ilib -Ikernels "*"-I/sg/cppflags "* ]]
    [[ "$emu" != *"-I/sg/cppflags "*" -Itests/emu/include "* ]]
    nvcc=$(grep -- ' -c kernels/adam.cu' <<< "$output")
    [[ "$nvcc" == *" -Ilib -Ikernels "*"-I/sg/cppflags "* ]]
    c=$(grep -- ' -c lib/json.c' <<< "$output")
    [[ "$c" == *" -Ilib -Itools/cli "*"-I/sg/cppflags "* ]]
    [[ "$c" != *"-I/sg/cppflags "*" -Ilib "* ]]
    rm -rf "$T"
}

@test "CUDA_ARCH that is not compute capabilities (native, all, empty) is one Makefile error line" {
    T=$(mktemp -d "$BATS_TMPDIR/make.XXXXXX")
    copy_tree "$T/t"
    fake_cuda "$T/cuda"
    for arch in native all "" "80 native"; do
        run make -s -n -C "$T/t" CUDA_HOME="$T/cuda" CUDA_ARCH="$arch" bin/celeb-dump
        [ "$status" -ne 0 ]
        [ "${#lines[@]}" -eq 1 ]
        [[ "$output" == *"*** CUDA_ARCH=$arch: give compute capabilities without the dot, such as 90 or \"80 90\""* ]]
    done
    # a CPU-only build does not use it
    run make -n -C "$T/t" CUDA=0 CUDA_ARCH=native bin/celeb-dump
    [ "$status" -eq 0 ]
    rm -rf "$T"
}

@test "make deps as root: the required packages in one apt-get call, the optional ones apart, whose failure only warns" {
    [ "$(id -u)" -eq 0 ] || skip "make deps installs only as root"
    T=$(mktemp -d "$BATS_TMPDIR/make.XXXXXX")
    mkdir "$T/bin"
    # an apt-get that logs its calls and cannot install sg-fake-opt2
    printf '#!/bin/sh\necho "$*" >> "%s/log"\ncase "$*" in *sg-fake-opt2*) exit 100;; esac\n' "$T" > "$T/bin/apt-get"
    chmod +x "$T/bin/apt-get"
    run env PATH="$T/bin:$PATH" make -s -C "$ROOT" deps DEB_PKGS='sg-fake-req1 sg-fake-req2' DEB_OPTIONAL_PKGS='sg-fake-opt1 sg-fake-opt2'
    echo "$output"; cat "$T/log"
    [ "$status" -eq 0 ]
    grep -qx 'install -y -q --no-install-recommends sg-fake-req1 sg-fake-req2' "$T/log"
    grep -qx 'install -y -q --no-install-recommends sg-fake-opt1' "$T/log"
    [[ "$output" == *"deps: optional packages not installed, the tests that need them will be skipped: sg-fake-opt2"* ]]
    # a required package that fails: make deps fails
    run env PATH="$T/bin:$PATH" make -s -C "$ROOT" deps DEB_PKGS='sg-fake-req1 sg-fake-opt2' DEB_OPTIONAL_PKGS=
    [ "$status" -ne 0 ]
    rm -rf "$T"
}

@test "test hooks (lib/*_testing.h) are out of the tools' reach: no tool, and no part of lib/ but their own, includes them" {
  cd "$ROOT"
  local h base module f n=0
  for h in lib/*_testing.h; do
    [ -e "$h" ] || continue
    n=$((n + 1))
    base=$(basename "$h")
    module=${base%_testing.h}
    run grep -rl --include='*.c' --include='*.h' "#include \"$base\"" tools
    [ -z "$output" ] || { echo "$base included by tools: $output"; false; }
    # in lib/, only the .c files the hooks live in (lib/model_testing.h: lib/model.c;
    # lib/backend_cuda_testing.h: lib/backend_cuda_stub.c), so that each declaration is
    # checked against its definition; the unit tests and bench/ may include them too
    run grep -l "#include \"$base\"" lib/*.c lib/*.h
    [ -n "$output" ] || { echo "$base: no lib/$module.c or lib/${module}_*.c includes it"; false; }
    for f in $output; do
      case "$f" in
        "lib/$module.c" | "lib/${module}_"*.c) ;;
        *) echo "$base included by $f"; false ;;
      esac
    done
  done
  # shard, model, checkpoint, image_decode, resize, ...: the hooks moved out of the public headers
  [ "$n" -ge 13 ]
}

@test "lib/'s internal headers (first comment 'Internal to lib/') are included by no tool" {
  cd "$ROOT"
  local h base n=0
  for h in lib/*.h; do
    head -n 1 "$h" | grep -q '^/\* Internal to lib/' || continue
    n=$((n + 1))
    base=$(basename "$h")
    run grep -rl --include='*.c' --include='*.h' "#include \"$base\"" tools
    [ -z "$output" ] || { echo "$base (internal) included by tools: $output"; false; }
  done
  for base in png_messages.h cgroup.h engines_file.h batch_draw.h; do
    head -n 1 "lib/$base" | grep -q '^/\* Internal to lib/' || { echo "lib/$base: not marked internal"; false; }
  done
  [ "$n" -ge 4 ]
}
