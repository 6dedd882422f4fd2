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

@test "--version names the build: VERSION, and the commit of this git checkout (', modified' when it differs)" {
    version=$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")
    [ -n "$version" ]
    want="$version"
    if [ "$(git -C "$ROOT" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$ROOT" && pwd)" ]; then
        want="$version (git $(git -C "$ROOT" rev-parse --short=12 HEAD)"
        git -C "$ROOT" diff --quiet HEAD -- || want="$want, modified"
        want="$want)"
    fi
    for tool in celeb-dump sg-train sg-sample; do
        run "$ROOT/bin/$tool" --version
        [ "$status" -eq 0 ]
        [ "$output" = "$tool $want" ]
    done
}
