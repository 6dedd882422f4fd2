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
