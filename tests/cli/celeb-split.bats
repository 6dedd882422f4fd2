#!/usr/bin/env bats
# celeb-split: assignment rule, output format, reference and partition splits,
# JSON, and every kind of bad input (one-line error, nothing overwritten).
load helpers

PY=/usr/bin/python3
GOLDEN="$BATS_TEST_DIRNAME/../golden"

setup() {
  T="$BATS_TEST_TMPDIR"
  # Rows and the group each must land in with
  #   --group g1=A,B --group g2=C --group g3=D --priority g3 --rest g2
  # 1: A            -> g1     4: none      -> g2 (rest)
  # 2: C            -> g2     5: A,D       -> g3 (priority beats order)
  # 3: B,C          -> g1     6: C,D       -> g3
  cat > "$T/small.txt" <<'EOF'
6
A B C D E 
1.jpg  1 -1 -1 -1  1
2.jpg -1 -1  1 -1 -1
3.jpg -1  1  1 -1  1
4.jpg -1 -1 -1 -1  1
5.jpg  1 -1 -1  1 -1
6.jpg -1 -1  1  1 -1
EOF
}

names() { tail -n +3 "$1" | awk '{print $1}' | tr '\n' ' '; }

@test "--help and --version exit 0" {
  run celeb-split --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--group NAME=A,B"* ]]
  run celeb-split --version
  [ "$status" -eq 0 ]
  [[ "$output" == "celeb-split "* ]]
}

@test "assignment rule: priority group, then command-line order, then rest" {
  run celeb-split -q --group g1=A,B --group g2=C --group g3=D --priority g3 --rest g2 -o "$T/out" "$T/small.txt"
  [ "$status" -eq 0 ]
  [ "$(names "$T/out/attr_g1.txt")" = "1.jpg 3.jpg " ]
  [ "$(names "$T/out/attr_g2.txt")" = "2.jpg 4.jpg " ]
  [ "$(names "$T/out/attr_g3.txt")" = "5.jpg 6.jpg " ]
  # rows unchanged (all columns), count line updated, header kept
  [ "$(head -n 2 "$T/out/attr_g1.txt")" = "$(printf '2\nA B C D E ')" ]
  grep -qx '3.jpg -1  1  1 -1  1' "$T/out/attr_g1.txt"
}

@test "without --priority the first group in command-line order wins; --rest drop drops" {
  run celeb-split --group g2=C --group g1=A,B -o "$T/out" "$T/small.txt"
  [ "$status" -eq 0 ]
  [ "$(names "$T/out/attr_g2.txt")" = "2.jpg 3.jpg 6.jpg " ]
  [ "$(names "$T/out/attr_g1.txt")" = "1.jpg 5.jpg " ]
  [[ "$output" == *"(dropped)"*"1"* ]]
  # stats table: g2's C is positive on all 3 rows
  echo "$output" | grep -Eq '^g2 +C +3 +0$'
}

@test "--json is valid JSON with the counts" {
  [ -x "$PY" ] || skip "no $PY"
  run celeb-split --json -g g1=A,B -g g2=C -g g3=D -p g3 -r g2 -o "$T/out" "$T/small.txt"
  [ "$status" -eq 0 ]
  echo "$output" | $PY -c '
import json, sys
d = json.load(sys.stdin)
g = {x["name"]: x for x in d["groups"]}
assert d["rows"] == 6 and d["dropped"] == 0, d
assert [g[n]["rows"] for n in ("g1", "g2", "g3")] == [2, 2, 2], g
a = {x["name"]: x for x in g["g1"]["attributes"]}
assert a["A"] == {"name": "A", "positive": 1, "negative": 1}, a
'
}

@test "the CelebA/CelebB split of a synthetic dataset covers every row once" {
  celeb-synth -q -n 60 --seed 5 -o "$T/syn"
  run celeb-split -q --group celebA=Bangs,Black_Hair,Blond_Hair,Brown_Hair,Gray_Hair \
      --group celebB=Wearing_Earrings,Wearing_Hat,Mustache,Eyeglasses \
      --priority celebB --rest celebB -o "$T/split" "$T/syn/list_attr_celeba.txt"
  [ "$status" -eq 0 ]
  a=$(head -n1 "$T/split/attr_celebA.txt"); b=$(head -n1 "$T/split/attr_celebB.txt")
  [ $((a + b)) -eq 60 ]
  [ "$(cat "$T/split/attr_celebA.txt" "$T/split/attr_celebB.txt" | grep -c "^[0-9]*\.jpg ")" -eq 60 ]
  # no celebA row has a celebB attribute (priority)
  for col in 36 37 24 17; do   # awk fields (file name is $1): Earrings Hat Mustache Eyeglasses
    [ -z "$(tail -n +3 "$T/split/attr_celebA.txt" | awk -v c=$col '$c == 1')" ]
  done
}

@test "--split reference matches the Python reference (committed golden)" {
  awk 'BEGIN{n=3000; print n; print "A B C "; for(i=1;i<=n;i++) printf "%06d.jpg %2d %2d %2d\n", i, (i%3==0)?1:-1, (i%5==0)?1:-1, (i%7==0)?-1:1}' > "$T/ref.txt"
  run celeb-split -q -g all=C -r all --split reference -o "$T/out" "$T/ref.txt"
  [ "$status" -eq 0 ]
  want_test=$(awk '$1=="test"{print $2}' "$GOLDEN/split_reference_3000.txt")
  want_train=$(awk '$1=="train"{print $2}' "$GOLDEN/split_reference_3000.txt")
  [ "$(sha256sum < "$T/out/attr_all_test.txt" | cut -d' ' -f1)" = "$want_test" ]
  [ "$(sha256sum < "$T/out/attr_all_train.txt" | cut -d' ' -f1)" = "$want_train" ]
  [ "$(head -n1 "$T/out/attr_all_test.txt")" = 1999 ]
}

@test "--split reference shuffles each group's file as the reference would (live Python)" {
  [ -x "$PY" ] || skip "no $PY"
  awk 'BEGIN{n=4500; print n; print "A B C "; for(i=1;i<=n;i++) printf "%06d.jpg %2d %2d %2d\n", i, (i%3==0)?1:-1, (i%4==0)?1:-1, 1}' > "$T/in.txt"
  run celeb-split -q -g ga=A -g gb=B -r gb --split reference --test-count 500 -o "$T/out" "$T/in.txt"
  [ "$status" -eq 0 ]
  for g in ga gb; do
    $PY - "$T/out/attr_$g.txt" "$T/out/attr_${g}_test.txt" "$T/out/attr_${g}_train.txt" <<'EOF'
import random, sys
lines = open(sys.argv[1]).readlines()
rows = lines[2:]
random.seed(1234)
random.shuffle(rows)
test = [l for i, l in enumerate(rows) if (i + 1) < 501]
train = [l for i, l in enumerate(rows) if not (i + 1) < 501]
assert open(sys.argv[2]).readlines()[2:] == test, "test rows differ"
assert open(sys.argv[3]).readlines()[2:] == train, "train rows differ"
EOF
  done
}

# --seed takes Python's seeds up to 2^64-1 (two 32-bit key words), not only
# up to 2^63-1 (was: out of range)
@test "--split reference --seed past 2^63 shuffles as Python's random.seed(SEED) (live Python)" {
  [ -x "$PY" ] || skip "no $PY"
  awk 'BEGIN{n=300; print n; print "A "; for(i=1;i<=n;i++) printf "%06d.jpg %2d\n", i, (i%3==0)?1:-1}' > "$T/in.txt"
  for seed in 18446744073709551615 9223372036854775808; do
    rm -rf "$T/out"
    celeb-split -q -g ga=A --split reference --test-count 50 --seed "$seed" -o "$T/out" "$T/in.txt"
    $PY - "$seed" "$T/out/attr_ga.txt" "$T/out/attr_ga_test.txt" <<'EOF2'
import random, sys
rows = open(sys.argv[2]).readlines()[2:]
random.seed(int(sys.argv[1]))
random.shuffle(rows)
assert open(sys.argv[3]).readlines()[2:] == rows[:50], "test rows differ"
EOF2
  done
  run celeb-split -q -g ga=A --split reference --seed 18446744073709551616 -o "$T/out2" "$T/in.txt"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "celeb-split: --seed: 18446744073709551616 is out of range [0, 18446744073709551615]" ]
  [ ! -e "$T/out2" ]
}

@test "--split reference: a group whose every row goes to test is written, with a warning" {
  celeb-synth -q -n 60 --seed 5 -o "$T/syn"
  run celeb-split -q -g ga=Male -r ga --split reference -o "$T/out" "$T/syn/list_attr_celeba.txt"
  [ "$status" -eq 0 ]
  [[ "$output" == *"celeb-split: group ga: all 60 rows went to test (--test-count 1999): its training list is empty; give a smaller --test-count"* ]]
  [ "$(head -n1 "$T/out/attr_ga_train.txt")" = 0 ]
  run celeb-split -q -g ga=Male -r ga --split reference --test-count 10 -o "$T/out2" "$T/syn/list_attr_celeba.txt"
  [ "$status" -eq 0 ]
  [[ "$output" != *"training list is empty"* ]]
  # --split partition: a partition file without a training part
  awk '{print $1, 2}' "$T/syn/list_eval_partition.txt" > "$T/all_test.txt"
  run celeb-split -q -g ga=Male -r ga --split "partition=$T/all_test.txt" -o "$T/out3" "$T/syn/list_attr_celeba.txt"
  [ "$status" -eq 0 ]
  [[ "$output" == *"celeb-split: group ga: none of its 60 rows is in the partition file's training part (0): its training list is empty; give --val-to train (its validation rows, 1), or another --partition file that puts rows of it in 0"* ]]
  # validation rows already go to train: only another partition file helps
  run celeb-split -q -g ga=Male -r ga --split "partition=$T/all_test.txt" --val-to train -o "$T/out4" "$T/syn/list_attr_celeba.txt"
  [ "$status" -eq 0 ]
  [[ "$output" == *"celeb-split: group ga: none of its 60 rows is in the partition file's training part (0): its training list is empty; give another --partition file that puts rows of it in 0"* ]]
  # one row: in the singular
  printf '2\nA B\n1.jpg 1 -1\n2.jpg -1 1\n' > "$T/two.txt"
  run celeb-split -q -g a=A -g b=B --split reference -o "$T/out5" "$T/two.txt"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "celeb-split: group a: its 1 row went to test (--test-count 1999): its training list is empty; give a smaller --test-count" ]]
  printf '1.jpg 2\n2.jpg 0\n' > "$T/part2.txt"
  run celeb-split -q -g a=A -g b=B --split "partition=$T/part2.txt" -o "$T/out6" "$T/two.txt"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "celeb-split: group a: its 1 row is not in the partition file's training part (0): its training list is empty; give --val-to train (its validation rows, 1), or another --partition file that puts rows of it in 0" ]]
}

# review-script20 F6: an earlier run's other lists stayed in -o DIR without a
# word, where celeb-pack or a glob took them for the new split's.
@test "lists of an earlier split that this run did not write are named in one warning, and kept" {
  celeb-split -q -g A=A -g B=C -r B --split reference --test-count 1 -o "$T/st" "$T/small.txt" > /dev/null
  celeb-split -q -g A=A,B --split none -o "$T/st" "$T/small.txt" > /dev/null 2> "$T/err"
  [ "$(cat "$T/err")" = "celeb-split: $T/st also holds attr_A_test.txt, attr_A_train.txt, attr_B.txt, attr_B_test.txt, attr_B_train.txt, not written by this run: lists of an earlier split, or your files; remove them, or split into an empty -o DIR, so that nothing takes them for this split's" ]
  [ -e "$T/st/attr_A_train.txt" ]
  [ -e "$T/st/attr_B.txt" ]
  [ "$(names "$T/st/attr_A.txt")" = "1.jpg 3.jpg 5.jpg " ]
  # the same split again, into its own directory: no warning
  celeb-split -q -g A=A -g B=C -r B --split reference --test-count 1 -o "$T/st" "$T/small.txt" > /dev/null 2> "$T/err"
  [ ! -s "$T/err" ]
  # the input, other files and names celeb-split never writes are not named
  mkdir "$T/in"
  cp "$T/small.txt" "$T/in/attr_all.txt"
  touch "$T/in/notes.txt" "$T/in/attr_a b.txt" "$T/in/attr_.txt"
  mkdir "$T/in/attr_d.txt"
  celeb-split -q -g A=A -o "$T/in" "$T/in/attr_all.txt" > /dev/null 2> "$T/err"
  [ ! -s "$T/err" ]
}

@test "--split partition uses list_eval_partition.txt; validation dropped by default" {
  celeb-synth -q -n 50 --seed 2 -o "$T/syn"
  run celeb-split -q -g all=Male -r all --split partition --partition "$T/syn/list_eval_partition.txt" -o "$T/out" "$T/syn/list_attr_celeba.txt"
  [ "$status" -eq 0 ]
  n0=$(awk '$2==0' "$T/syn/list_eval_partition.txt" | wc -l)
  n2=$(awk '$2==2' "$T/syn/list_eval_partition.txt" | wc -l)
  [ "$(head -n1 "$T/out/attr_all_train.txt")" -eq "$n0" ]
  [ "$(head -n1 "$T/out/attr_all_test.txt")" -eq "$n2" ]
  run celeb-split -q -g all=Male -r all --split "partition=$T/syn/list_eval_partition.txt" --val-to train -o "$T/out2" "$T/syn/list_attr_celeba.txt"
  [ "$status" -eq 0 ]
  [ $(( $(head -n1 "$T/out2/attr_all_train.txt") + n2 )) -eq 50 ]
}

# review-live19 F7: --test-count 100 kept while --split reference was left out
# wrote attr_g.txt alone with exit 0, and the next step failed on a missing
# attr_g_train.txt; --partition without its split was already refused.
@test "an option of the other split (or of none) is a usage error naming the split it needs, as --partition's is" {
  printf '1.jpg 0\n2.jpg 2\n3.jpg 0\n4.jpg 2\n5.jpg 0\n6.jpg 1\n' > "$T/part.txt"
  P=(--split partition --partition "$T/part.txt")
  check() {   # want-message args...
    local want=$1; shift
    run celeb-split -q -g g=A "$@" -o "$T/out" "$T/small.txt"
    [ "$status" -eq 2 ] || { echo "$* -> $status: $output"; return 1; }
    [ "${lines[0]}" = "celeb-split: $want" ] || { echo "$* -> ${lines[0]}"; return 1; }
    [ ! -e "$T/out" ]
  }
  check "--test-count is only for --split reference" --test-count 10
  check "--seed is only for --split reference" --seed 3
  check "--test-count is only for --split reference" --split none --test-count 10
  check "--test-count is only for --split reference" "${P[@]}" --test-count 5
  check "--seed is only for --split reference" "${P[@]}" --seed 5
  check "--val-to is only for --split partition" --val-to train
  check "--val-to is only for --split partition" --split reference --val-to test
  check "--partition is only for --split partition" --partition "$T/part.txt"
  # with their own split they work
  celeb-split -q -g g=A --split reference --test-count 1 --seed 3 -o "$T/ref" "$T/small.txt" > /dev/null
  [ "$(head -n1 "$T/ref/attr_g_test.txt")" -eq 1 ]
  celeb-split -q -g g=A "${P[@]}" --val-to test -o "$T/part" "$T/small.txt" > /dev/null
  [ -f "$T/part/attr_g_test.txt" ]
}

@test "malformed attribute files: one-line error with file and line, exit 1" {
  printf '3\nA B\n1.jpg 1 -1\n2.jpg 1\n3.jpg 1 1\n' > "$T/bad.txt"
  run celeb-split -g g=A -o "$T/out" "$T/bad.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/bad.txt line 4: expected 2 values, found 1" ]
  printf '3\nA B\n1.jpg 1 -1\n' > "$T/bad.txt"
  run celeb-split -g g=A -o "$T/out" "$T/bad.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/bad.txt line 1: the count says 3 rows, but the file has 1: set line 1 to 1" ]
  printf '2\nA B\n1.jpg 1 -1\n1.jpg 1 2\n' > "$T/bad.txt"
  run celeb-split -g g=A -o "$T/out" "$T/bad.txt"
  [ "$status" -eq 1 ]
  [[ "$output" == *"bad.txt line 4: value '2' of B is not 1 or -1" ]]
  printf '2\nA B\n1.jpg 1 -1\n1.jpg 1 1\n' > "$T/bad.txt"
  run celeb-split -g g=A -o "$T/out" "$T/bad.txt"
  [[ "$output" == *"bad.txt line 4: duplicate file name 1.jpg (first on line 3)" ]]
  : > "$T/empty.txt"
  run celeb-split -g g=A -o "$T/out" "$T/empty.txt"
  [ "$status" -eq 1 ]
  [[ "$output" == *"empty.txt: empty file" ]]
  run celeb-split -g g=A -o "$T/out" "$T/missing.txt"
  [ "$status" -eq 1 ]
  [[ "$output" == *"missing.txt: No such file or directory" ]]
  [ ! -e "$T/out" ]
}

@test "bad groups: unknown attribute, group named twice, unknown --priority/--rest" {
  run celeb-split -g g1=A,Blond -o "$T/out" "$T/small.txt"
  [ "$status" -eq 1 ]
  [[ "$output" == *"unknown attribute 'Blond' (valid: A B C D E)" ]]
  [ "${#lines[@]}" -eq 1 ]
  # a near name (a typo, another case) is suggested at the end
  cat > "$T/near.txt" <<'EOF2'
2
Black_Hair Blond_Hair Male
a.jpg 1 -1 1
b.jpg -1 1 -1
EOF2
  run celeb-split -g g1=Male,blond_hair -o "$T/out" "$T/near.txt"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [ "$output" = "celeb-split: --group g1 ($T/near.txt): unknown attribute 'blond_hair' (valid: Black_Hair Blond_Hair Male); did you mean 'Blond_Hair'?" ]
  # behind a long path, with a long list of long names: the name asked for,
  # the list's start (cut with ' ...') and the suggestion all kept
  local long="$T/$(printf 'd%.0s' {1..200})/$(printf 'e%.0s' {1..200})/$(printf 'f%.0s' {1..200})/$(printf 'g%.0s' {1..200})"
  mkdir -p "$long"
  { echo 1; for i in $(seq -w 1 40); do printf 'Attribute_with_a_rather_long_name_%s ' "$i"; done; echo
    printf 'a.jpg'; for i in $(seq 40); do printf ' 1'; done; echo; } > "$long/near.txt"
  run celeb-split -g g1=Atribute_with_a_rather_long_name_07 -o "$T/out" "$long/near.txt"
  [ "$status" -eq 1 ]
  [[ "$output" == "celeb-split: --group g1 ($T/"*" ... "*"unknown attribute 'Atribute_with_a_rather_long_name_07' (valid: Attribute_with_a_rather_long_name_01 "*" ...); did you mean 'Attribute_with_a_rather_long_name_07'?" ]]
  run celeb-split -g g1=A -g g1=B -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  [[ "$output" == *"group g1 given twice"* ]]
  run celeb-split -g g1=A -p g9 -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--priority: no group named g9"* ]]
  run celeb-split -g g1=A -r g9 -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--rest: no group named g9"* ]]
  run celeb-split -g g1 -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  run celeb-split -g g1=A "$T/small.txt"
  [ "$status" -eq 2 ]
  run celeb-split -g x=A -g x_train=B --split reference -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  [[ "$output" == *"groups x and x_train would both write attr_x_train.txt"* ]]
  [ ! -e "$T/out" ]
  # the lists go to a directory: "-" is no standard output for them (it made a directory named -)
  mkdir "$T/cwd"
  cd "$T/cwd"
  run celeb-split -g g1=A -o - "$T/small.txt"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "celeb-split: -o/--output: the groups' lists go to a directory, not to standard output; for a directory named -, give -o ./-" ]
  [ "${lines[1]}" = "Try 'celeb-split --help'." ]
  [ "${#lines[@]}" -eq 2 ]
  [ ! -e "$T/cwd/-" ]
  run celeb-split -q -g g1=A -o ./- "$T/small.txt"
  [ "$status" -eq 0 ]
  [ "$(names "$T/cwd/-/attr_g1.txt")" = "1.jpg 5.jpg " ]
}

@test "failures never overwrite earlier outputs" {
  run celeb-split -q -g g1=A,B -g g2=C -o "$T/out" "$T/small.txt"
  [ "$status" -eq 0 ]
  cp -r "$T/out" "$T/before"
  # bad partition file (the split fails after reading the input)
  printf '1.jpg 0\n2.jpg 7\n' > "$T/part.txt"
  run celeb-split -q -g g1=A,B -g g2=C --split partition --partition "$T/part.txt" -o "$T/out" "$T/small.txt"
  [ "$status" -eq 1 ]
  [[ "$output" == *"part.txt line 2: partition '7' is not 0, 1 or 2" ]]
  # a directory where the last output goes: refused before any rename
  mkdir "$T/out/attr_g2_test.txt"
  printf '1.jpg 0\n2.jpg 2\n3.jpg 0\n4.jpg 2\n5.jpg 0\n6.jpg 2\n' > "$T/part.txt"
  run celeb-split -q -g g1=A,B -g g2=C --split partition --partition "$T/part.txt" -o "$T/out" "$T/small.txt"
  [ "$status" -eq 1 ]
  [[ "$output" == *"attr_g2_test.txt: is a directory" ]]
  rmdir "$T/out/attr_g2_test.txt"
  diff -r "$T/before" "$T/out"
  # an output directory that cannot be made
  : > "$T/afile"
  run celeb-split -q -g g1=A -o "$T/afile/out" "$T/small.txt"
  [ "$status" -eq 1 ]
  [[ "$output" == "celeb-split: $T/afile"* ]]
}

@test "an output that is the attribute file or the --partition file is refused before anything is written" {
  mkdir "$T/sp"
  cp "$T/small.txt" "$T/sp/attr_a.txt"
  cp "$T/small.txt" "$T/orig.txt"
  # attr_a.txt is the group's own output; stdin from it, and through a link, too
  ln -s "$T/sp/attr_a.txt" "$T/link.txt"
  for input in "$T/sp/attr_a.txt" "$T/link.txt" -; do
    run celeb-split -q -g a=A -g b=C -o "$T/sp" "$input" < "$T/sp/attr_a.txt"
    [ "$status" -eq 1 ]
    shown=$input; [ "$input" = - ] && shown="<stdin>"
    [ "$output" = "celeb-split: $T/sp/attr_a.txt: the output is the same file as the attribute file $shown; choose another -o DIR" ]
    cmp "$T/sp/attr_a.txt" "$T/orig.txt"
    [ "$(ls -A "$T/sp")" = attr_a.txt ]
  done
  # the training list of group 'a' where the input is attr_a_train.txt (the second output: the first is not written either)
  mv "$T/sp/attr_a.txt" "$T/sp/attr_a_train.txt"
  run celeb-split -q -g a=A --split reference --test-count 1 -o "$T/sp" "$T/sp/attr_a_train.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/sp/attr_a_train.txt: the output is the same file as the attribute file $T/sp/attr_a_train.txt; choose another -o DIR" ]
  [ "$(ls -A "$T/sp")" = attr_a_train.txt ]
  # the partition file
  printf '1.jpg 0\n2.jpg 2\n3.jpg 0\n4.jpg 2\n5.jpg 0\n6.jpg 2\n' > "$T/sp/attr_a_test.txt"
  cp "$T/sp/attr_a_test.txt" "$T/part.orig"
  run celeb-split -q -g a=A --split partition --partition "$T/sp/attr_a_test.txt" -o "$T/sp" "$T/small.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/sp/attr_a_test.txt: the output is the same file as the --partition file $T/sp/attr_a_test.txt; choose another -o DIR" ]
  cmp "$T/sp/attr_a_test.txt" "$T/part.orig"
  [ "$(ls -A "$T/sp" | tr '\n' ' ')" = "attr_a_test.txt attr_a_train.txt " ]
  # the same split into another directory works
  celeb-split -q -g a=A --split partition --partition "$T/sp/attr_a_test.txt" -o "$T/other" "$T/small.txt" > /dev/null
  [ "$(head -n1 "$T/other/attr_a_train.txt")" -eq 2 ]
}

@test "robustness: a NUL byte in the attribute file is an error naming the line" {
  printf '2\nA B\n1.jpg 1 -1\n2\000x.jpg 1 1\n' > "$T/nul.txt"
  run celeb-split -g g=A -o "$T/out" "$T/nul.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/nul.txt line 4: NUL byte (not a text file?)" ]
  [ ! -e "$T/out" ]
}

@test "robustness: the partition file's and the command line's bytes are quoted escaped and cut" {
  # control bytes, invalid UTF-8 and an over-long value in the partition file
  printf '1.jpg 0\n2.jpg \033[2J\n' > "$T/part.txt"
  run celeb-split -q -g g=A --split partition --partition "$T/part.txt" -o "$T/out" "$T/small.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/part.txt line 2: partition '\\x1b[2J' is not 0, 1 or 2" ]
  printf '1.jpg 0\n2.jpg 0%s\n' "$(printf 'x%.0s' {1..60})" > "$T/part.txt"
  run celeb-split -q -g g=A --split partition --partition "$T/part.txt" -o "$T/out" "$T/small.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/part.txt line 2: partition '0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is not 0, 1 or 2" ]
  printf '1.jpg 0\n2.jpg \xff\xfe\x07\n' > "$T/part.txt"
  run celeb-split -q -g g=A --split partition --partition "$T/part.txt" -o "$T/out" "$T/small.txt"
  [ "$output" = "celeb-split: $T/part.txt line 2: partition '\\xff\\xfe\\x07' is not 0, 1 or 2" ]
  # file names from the attribute file, in the partition file's messages
  printf '2\nA B\n\033]0;x\a.jpg 1 -1\ncaf\xc3\xa9.jpg -1 1\n' > "$T/names.txt"
  printf 'caf\xc3\xa9.jpg 0\n\033]0;x\a.jpg 0\ncaf\xc3\xa9.jpg 2\n' > "$T/part.txt"
  run celeb-split -q -g g=A --split partition --partition "$T/part.txt" -o "$T/out" "$T/names.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/part.txt line 3: duplicate file name caf\\xc3\\xa9.jpg (first on line 1)" ]
  printf 'caf\xc3\xa9.jpg 0\n' > "$T/part.txt"
  run celeb-split -q -g g=A --split partition --partition "$T/part.txt" -o "$T/out" "$T/names.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/part.txt: \\x1b]0;x\\x07.jpg is not listed (images of the attribute list missing from it: 1 of 2): give the partition file of the attribute list's own dataset, or --split reference, which needs none" ]
  # a partition file without rows: said so, and which file to give (it said "1.jpg is not listed")
  for content in '' '\n\n'; do
    printf "$content" > "$T/part.txt"
    run celeb-split -q -g g=A --split partition --partition "$T/part.txt" -o "$T/out" "$T/small.txt"
    [ "$status" -eq 1 ]
    [ "$output" = "celeb-split: $T/part.txt: the file is empty (no 'FILE PARTITION' rows): give CelebA's partition file, list_eval_partition.txt (or Kaggle's list_eval_partition.csv)" ]
  done
  printf 'image_id,partition\r\n' > "$T/part.csv"
  run celeb-split -q -g g=A --split partition --partition "$T/part.csv" -o "$T/out" "$T/small.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/part.csv: the file holds only its header (no 'FILE,PARTITION' rows): give CelebA's partition file, list_eval_partition.txt (or Kaggle's list_eval_partition.csv)" ]
  [ ! -e "$T/out" ]
  # a NUL byte would cut a file name short
  printf '1.jpg 0\n2.jpg\0x 0\n' > "$T/part.txt"
  run celeb-split -q -g g=A --split partition --partition "$T/part.txt" -o "$T/out" "$T/small.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/part.txt line 2: NUL byte (not a text file?)" ]
  # a name of dots alone: lists named attr_..txt were written (a '/' is refused as any other character)
  for name in . .. ...; do
    run celeb-split -g "$name=A" -o "$T/out" "$T/small.txt"
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "celeb-split: --group: name '$name' is dots alone: give one with a letter or digit" ]
    [ "${#lines[0]}" -le 79 ]
  done
  run celeb-split -g "a/b=A" -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "celeb-split: --group: name 'a/b' may hold only letters, digits, '_', '-', '.'" ]
  [ "${#lines[0]}" -le 79 ]
  [ ! -e "$T/out" ]
  celeb-split -q -g ".a=A" -o "$T/out" "$T/small.txt"
  [ -f "$T/out/attr_.a.txt" ]
  rm -r "$T/out"
  # command-line values
  run celeb-split -g $'g\e[1m=A' -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--group: name 'g\\x1b[1m' may hold only letters"* ]]
  only_printable "$output"
  run celeb-split -g $'\e[1m' -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--group: expected NAME=ATTR[,ATTR]..., got '\\x1b[1m'"* ]]
  run celeb-split -g "$(printf 'n%.0s' {1..80})=A" -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--group: name too long in 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...'"* ]]
  run celeb-split -g g=A --split $'\xc3(' -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--split: expected none, reference or partition[=FILE], got '\\xc3('"* ]]
  run celeb-split -g g=A --split partition --partition "$T/part.txt" --val-to $'\x9b2J' -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--val-to: expected train, test or drop, got '\\x9b2J'"* ]]
  run celeb-split -g g=A -p $'g\x7f' -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--priority: no group named g\\x7f"* ]]
  run celeb-split -g g=A -r $'g\tx\e' -o "$T/out" "$T/small.txt"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--rest: no group named g\\tx\\x1b (or 'drop')"* ]]
  only_printable "$output"
  run celeb-split -g $'g=A,\e[5m' -o "$T/out" "$T/small.txt"
  [ "$status" -eq 1 ]
  [[ "$output" == *"unknown attribute '\\x1b[5m' (valid: A B C D E)"* ]]
  only_printable "$output"
  [ ! -e "$T/out" ]
}

@test "robustness: the statistics table escapes the file's attribute names" {
  printf '2\nA\033[31m caf\303\251\302\233 C\n1.jpg 1 -1 1\n2.jpg -1 1 1\n' > "$T/esc.txt"
  LC_ALL=C run celeb-split -g $'g=A\e[31m,caf\xc3\xa9\xc2\x9b' -o "$T/out" "$T/esc.txt"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[4]}" = 'g                A\x1b[31m                   1        1' ]
  [ "${lines[5]}" = 'g                caf\xc3\xa9\xc2\x9b         1        1' ]
  only_printable "$output"
  LC_ALL=C.UTF-8 run celeb-split -g $'g=caf\xc3\xa9\xc2\x9b' -o "$T/out" "$T/esc.txt"
  [ "${lines[4]}" = 'g                caf'$'\xc3\xa9''\xc2\x9b                1        0' ]
  # --json keeps them exact
  run celeb-split --json -g $'g=A\e[31m' -o "$T/out" "$T/esc.txt"
  [[ "$output" == *'"attributes": [{"name": "A\u001b[31m", "positive": 1, "negative": 0}]'* ]]
}

@test "robustness: an output name longer than PATH_MAX is an error, not a cut name" {
  # A directory whose path is 4080 bytes long: DIR/attr_g_train.txt is over 4095.
  d="$T"
  while [ $(( ${#d} + 201 )) -lt 4080 ]; do d="$d/$(printf 'd%.0s' {1..200})"; done
  d="$d/$(printf 'e%.0s' $(seq $(( 4080 - ${#d} - 1 ))))"
  mkdir -p "$d"
  [ "${#d}" -eq 4080 ]
  run celeb-split -q -g g=A --split reference --test-count 1 -o "$d" "$T/small.txt"
  [ "$status" -eq 1 ]
  [[ "$output" == "celeb-split: attr_g.txt: path too long (over 4095 bytes) in the output directory $T/"* ]]
  [ -z "$(ls -A "$d")" ]
}

@test "robustness: a UTF-8 byte-order mark at the start of either file is ignored" {
  printf '\xef\xbb\xbf' > "$T/bom.txt"
  cat "$T/small.txt" >> "$T/bom.txt"
  printf '\xef\xbb\xbf1.jpg 0\n2.jpg 2\n3.jpg 0\n4.jpg 2\n5.jpg 0\n6.jpg 0\n' > "$T/part.txt"
  run celeb-split -q -g g1=A,B -g g2=C --split partition --partition "$T/part.txt" -o "$T/out" "$T/bom.txt"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(names "$T/out/attr_g1_train.txt")" = "1.jpg 3.jpg 5.jpg " ]
  [ "$(head -n 1 "$T/out/attr_g1.txt")" = 3 ]   # written without the mark
}

@test "robustness: killed while writing, it leaves no temporary files and the old outputs" {
  mkdir "$T/out"
  echo old > "$T/out/attr_g1_train.txt"
  # The 2nd fsync: attr_g1.txt's temporary file is complete, attr_g1_train.txt's too.
  for sig_status in TERM:143 INT:130 HUP:129; do   # ended by the signal: 128 + its number
    run_signalled_at_fsync ${sig_status%:*} 2 celeb-split -q -g g1=A,B -g g2=C --split reference --test-count 1 -o "$T/out" "$T/small.txt"
    [ "$status" -eq "${sig_status#*:}" ]
    [ "$(ls -A "$T/out")" = attr_g1_train.txt ]
    [ "$(cat "$T/out/attr_g1_train.txt")" = old ]
  done
}

@test "a stop signal says what it leaves: no list, a -o DIR this run made removed while empty (never one that was there); the lists once in place" {
  need_strace
  S=(-q -g g1=A,B -g g2=C --split reference --test-count 1)
  celeb-split "${S[@]}" -o "$T/want" "$T/small.txt" > /dev/null
  stopped() {   # SIG WHEN TRACE [INJECT...] -- OUT: celeb-split into OUT, SIG at the WHEN-th TRACE call
    local sig=$1 when=$2 trace=$3
    shift 3
    local inject=(-e "inject=$trace:signal=$sig:when=$when")
    while [ "$1" != -- ]; do inject+=(-e "$1"); shift; done
    run ended_how env --default-signal="$sig" strace -f -qq -o /dev/null -e "trace=$trace,rmdir" "${inject[@]}" \
      celeb-split "${S[@]}" -o "$2" "$T/small.txt"
    [ "${lines[-1]}" = "signal $(kill -l "$sig")" ] || { echo "$output"; false; }
    [ "${#lines[@]}" -eq 2 ] || { echo "$output"; false; }
  }
  # a new DIR, and the directories above it that this run made: removed,
  # with the lists staged in it (at the 2nd fsync: the 1st list staged)
  for sig in INT TERM; do
    stopped "$sig" 2 fsync -- "$T/new/deep/out"
    [ "${lines[0]}" = "celeb-split: interrupted: no list written; $T/new/deep/out, which this run made, is removed, and so are the directories above it that it made, up to $T/new" ]
    [ ! -e "$T/new" ]
  done
  stopped INT 1 mkdir -- "$T/one/"   # the stop held while it is made
  [ "${lines[0]}" = "celeb-split: interrupted: no list written; $T/one, which this run made, is removed" ]
  [ ! -e "$T/one" ]
  # one that was there stays, as it was, empty or not
  mkdir "$T/empty" "$T/out"
  echo old > "$T/out/attr_g1_train.txt"
  for dir in empty out; do
    cp -r "$T/$dir" "$T/$dir.before"
    stopped TERM 2 fsync -- "$T/$dir"
    [ "${lines[0]}" = "celeb-split: interrupted: no list written; $T/$dir is as it was" ]
    diff -r "$T/$dir.before" "$T/$dir"
  done
  # what another process put into a new directory stays (rmdir failing as then)
  stopped INT 2 fsync inject=rmdir:error=ENOTEMPTY:when=1 -- "$T/new/out"
  [ "${lines[0]}" = "celeb-split: interrupted: no list written; $T/new/out, which this run made, is left: it is not empty (another process wrote into it?)" ]
  [ -d "$T/new/out" ]
  rm -r "$T/new"
  stopped INT 2 fsync inject=rmdir:error=ENOTEMPTY:when=2 -- "$T/new/out"
  [ "${lines[0]}" = "celeb-split: interrupted: no list written; $T/new/out, which this run made, is removed" ]
  [ -d "$T/new" ] && [ ! -e "$T/new/out" ]
  # before any output: nothing made
  run ended_how env --default-signal=INT strace -f -qq -o /dev/null -P "$T/small.txt" -e trace=openat \
    -e inject=openat:signal=INT:when=1 celeb-split "${S[@]}" -o "$T/early" "$T/small.txt"
  [ "$output" = "$(printf 'celeb-split: interrupted: no list written\nsignal 2')" ]
  [ ! -e "$T/early" ]
  # once the renames begin (the stop held over them): every list in place
  stopped TERM 1 rename -- "$T/late"
  [ "${lines[0]}" = "celeb-split: interrupted: $T/late holds this split's lists, written in full" ]
  diff -r "$T/want" "$T/late"
  # a signal ignored when it started stays ignored (nohup, a script's background job)
  run env --ignore-signal=INT strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:signal=INT:when=2 \
    celeb-split "${S[@]}" -o "$T/ignored" "$T/small.txt"
  [ "$status" -eq 0 ]
  diff -r "$T/want" "$T/ignored"
}

@test "an error before the lists are in place removes a -o DIR this run made while empty, deepest first (never one that was there), and says so" {
  need_strace
  S=(-q -g g1=A,B -g g2=C)
  failed() {   # TRACE INJECT... -- OUT: celeb-split into OUT with strace's INJECTs on TRACE
    local trace=$1 inject=()
    shift
    while [ "$1" != -- ]; do inject+=(-e "inject=$1"); shift; done
    run strace -f -qq -o /dev/null -e "trace=$trace" "${inject[@]}" celeb-split "${S[@]}" -o "$2" "$T/small.txt"
    [ "$status" -eq 1 ] || { echo "status $status: $output"; false; }
    [ "${#lines[@]}" -eq 1 ] || { echo "$output"; false; }
  }
  full="No space left on device"
  hint="(the file system is full: free space on it and try again)"
  # a write error (the 1st list's fsync): DIR and the directories above it that this run made go
  failed fsync fsync:error=ENOSPC:when=1 -- "$T/new/deep/out"
  [[ "$output" == "celeb-split: $T/new/deep/out/.attr_g1.txt.tmp."*": write: $full; $T/new/deep/out, which this run made, is removed, and so are the directories above it that it made, up to $T/new $hint" ]]
  [ ! -e "$T/new" ]
  # a failed rename (die_uncommitted: no new list left in place)
  failed rename rename:error=EIO:when=2 -- "$T/renamed/"
  [ "$output" = "celeb-split: $T/renamed//attr_g2.txt: rename: Input/output error; $T/renamed, which this run made, is removed" ]
  [ ! -e "$T/renamed" ]
  # mkdir -p failing part-way: what it made before goes
  long=$(printf 'a%.0s' {1..300})
  run celeb-split "${S[@]}" -o "$T/new/deep/$long" "$T/small.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/new/deep/$long: File name too long; $T/new/deep, which this run made, is removed, and so are the directories above it that it made, up to $T/new" ]
  [ ! -e "$T/new" ]
  # one that was there stays, empty or not, and the message says nothing of it
  mkdir "$T/empty"
  failed fsync fsync:error=ENOSPC:when=1 -- "$T/empty"
  [[ "$output" == "celeb-split: $T/empty/.attr_g1.txt.tmp."*": write: $full $hint" ]]
  [ -d "$T/empty" ] && [ -z "$(ls -A "$T/empty")" ]
  failed fsync fsync:error=ENOSPC:when=1 -- "$T/empty/new"
  [[ "$output" == "celeb-split: $T/empty/new/.attr_g1.txt.tmp."*": write: $full; $T/empty/new, which this run made, is removed $hint" ]]
  [ -d "$T/empty" ] && [ -z "$(ls -A "$T/empty")" ]
  # what another process put into a new directory stays (rmdir failing as then), and so does one rmdir refuses
  failed fsync,rmdir fsync:error=ENOSPC:when=1 rmdir:error=ENOTEMPTY:when=2 -- "$T/new/out"
  [[ "$output" == *": write: $full; $T/new/out, which this run made, is removed $hint" ]]
  [ -d "$T/new" ] && [ ! -e "$T/new/out" ]
  rm -r "$T/new"
  failed fsync,rmdir fsync:error=ENOSPC:when=1 rmdir:error=ENOTEMPTY:when=1 -- "$T/new/out"
  [[ "$output" == *": write: $full; $T/new/out, which this run made, is left: it is not empty (another process wrote into it?) $hint" ]]
  [ -d "$T/new/out" ] && [ -z "$(ls -A "$T/new/out")" ]
  rm -r "$T/new"
  failed fsync,rmdir fsync:error=ENOSPC:when=1 rmdir:error=EIO:when=1 -- "$T/new/out"
  [[ "$output" == *": write: $full; $T/new/out, which this run made, is left (rmdir: Input/output error) $hint" ]]
  [ -d "$T/new/out" ]
}

@test "robustness: a full file system (ENOSPC) and a disk quota reached (EDQUOT) are named as such, with what to do; the old outputs stay" {
  need_strace
  mkdir "$T/out"
  echo old > "$T/out/attr_g1.txt"
  # errno|strerror and the advice for it
  for failure in "ENOSPC|No space left on device (the file system is full: free space on it and try again)" \
      "EDQUOT|Disk quota exceeded (the disk quota is exceeded: free space or ask for more quota, then try again)"; do
    # the first fsync: attr_g1.txt's temporary file (fsync is where a full NFS or delayed allocation says so)
    run strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=${failure%%|*}:when=1 \
      celeb-split -q -g g1=A,B -g g2=C -o "$T/out" "$T/small.txt"
    [ "$status" -eq 1 ] || { echo "${failure%%|*}: status $status: $output"; false; }
    [[ "$output" == "celeb-split: $T/out/.attr_g1.txt.tmp."*": write: ${failure#*|}" ]] || { echo "${failure%%|*}: $output"; false; }
    [ "$(ls -A "$T/out")" = attr_g1.txt ]
    [ "$(cat "$T/out/attr_g1.txt")" = old ]
  done
}

@test "a rerun removes a killed run's temporaries; SIGTERM during the renames waits for them (two splits never side by side)" {
  celeb-split -q --group g1=A,B --group g2=C --split reference --test-count 1 -o "$T/out" "$T/small.txt"
  dead=$(sh -c 'echo $$')
  : > "$T/out/.attr_g1_train.txt.tmp.$dead"
  : > "$T/out/.attr_g1_train.txt.tmp.$$"
  touch -d '1 hour ago' "$T/out/.attr_g1_train.txt.tmp.$dead" "$T/out/.attr_g1_train.txt.tmp.$$"
  : > "$T/out/.attr_g2_train.txt.tmp.$dead"   # dead but new: perhaps another machine's live writer
  celeb-split -q --group g1=A,B --group g2=C --split reference --test-count 1 -o "$T/out" "$T/small.txt"
  [ ! -e "$T/out/.attr_g1_train.txt.tmp.$dead" ]
  [ -e "$T/out/.attr_g1_train.txt.tmp.$$" ]
  [ -e "$T/out/.attr_g2_train.txt.tmp.$dead" ]
  rm "$T/out/.attr_g1_train.txt.tmp.$$" "$T/out/.attr_g2_train.txt.tmp.$dead"
  need_strace
  # SIGTERM on entering the 2nd rename: all four files are the new run's, then it ends as SIGTERM does
  cp -r "$T/out" "$T/before"
  run strace -f -o /dev/null -e trace=rename -e inject=rename:signal=TERM:when=2 \
    celeb-split -q --group g1=A,B --group g2=C --split reference --test-count 1 --seed 9 -o "$T/out" "$T/small.txt"
  [ "$status" -eq 143 ]
  celeb-split -q --group g1=A,B --group g2=C --split reference --test-count 1 --seed 9 -o "$T/want" "$T/small.txt"
  diff -r "$T/want" "$T/out"
}

# F4 (review-crash23): the earlier lists of a split (before) and the lists of
# another one over them (want: other groups, one of them new, another seed)
make_two_splits() {
  OLD=(-q -g g1=A -g g2=B,C --split reference --test-count 1)
  NEW=(-q -g g1=A,B -g g2=C -g g3=E --split reference --test-count 0)
  celeb-split "${OLD[@]}" -o "$T/before" "$T/small.txt" > /dev/null
  celeb-split "${NEW[@]}" -o "$T/want" "$T/small.txt" > /dev/null
  # every earlier list differs from the new one of its name, so that a mix shows
  for f in "$T"/before/*; do ! cmp -s "$f" "$T/want/${f##*/}" || false; done
  [ "$(ls "$T/before" | wc -l)" -eq 6 ]
  [ "$(ls "$T/want" | wc -l)" -eq 9 ]
}

# A run into $T/out that does nothing but what every run does first (putting
# back or removing what a killed run left aside): a directory where its
# output goes stops it before any rename.
settle() {
  mkdir "$T/out/attr_g9.txt"
  run celeb-split -q -g g9=D -o "$T/out" "$T/small.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/out/attr_g9.txt: is a directory" ]
  rmdir "$T/out/attr_g9.txt"
}

@test "a user's files named like the lists set aside (.attr_g1.txt.old.20241130, a dead number) are left alone" {
  mkdir "$T/out"
  echo "my backup" > "$T/out/.attr_g1.txt.old.20241130"
  echo "mine too" > "$T/out/.attr_g9.txt.old.31337"
  run celeb-split -q -g g1=A,B -o "$T/out" "$T/small.txt"
  [ "$status" -eq 0 ]
  [ "$(cat "$T/out/.attr_g1.txt.old.20241130")" = "my backup" ]
  [ "$(cat "$T/out/.attr_g9.txt.old.31337")" = "mine too" ]
  [ ! -e "$T/out/attr_g9.txt" ]
}

@test "a rename that fails at any point of the commit leaves every earlier list as it was, byte for byte" {
  need_strace
  make_two_splits
  cp -a "$T/before" "$T/out"
  strace -f -qq -o "$T/trace" -e trace=rename celeb-split "${NEW[@]}" -o "$T/out" "$T/small.txt" > /dev/null
  diff -r "$T/want" "$T/out"
  total=$(grep -c '^[0-9]* *rename(' "$T/trace")
  [ "$total" -eq 18 ]   # the 9 names' earlier lists aside (3 of them missing), then the 9 new ones in place
  for err in EIO EXDEV EACCES; do
    for n in $(seq 1 "$total"); do
      rm -rf "$T/out" && cp -a "$T/before" "$T/out"
      # it deleted every earlier list first, and the failure then left none
      run strace -f -qq -o /dev/null -e trace=rename -e inject=rename:error=$err:when=$n \
        celeb-split "${NEW[@]}" -o "$T/out" "$T/small.txt"
      [ "$status" -eq 1 ] || { echo "$err N=$n: status $status: $output"; false; }
      [[ "$output" == "celeb-split: $T/out/attr_"*".txt: rename: "* ]] || { echo "$err N=$n: $output"; false; }
      diff -r "$T/before" "$T/out" || { echo "$err N=$n"; false; }
    done
  done
  # every rename failing from the Nth on, those that put the earlier lists back too: the next run puts them back
  for n in 3 6 7 10 15 18; do
    rm -rf "$T/out" && cp -a "$T/before" "$T/out"
    run strace -f -qq -o /dev/null -e trace=rename -e inject=rename:error=EIO:when=$n+ \
      celeb-split "${NEW[@]}" -o "$T/out" "$T/small.txt"
    [ "$status" -eq 1 ]
    [[ "$output" == *"failed too (Input/output error): the next celeb-split into this directory puts it back" ]] || { echo "N=$n+: $output"; false; }
    settle
    diff -r "$T/before" "$T/out" || { echo "N=$n+"; false; }
  done
}

@test "SIGKILL at any point of the commit: the next run puts the earlier lists back whole, or keeps only new ones; never a mix" {
  need_strace
  make_two_splits
  for call in rename:18 unlink:6; do
    for n in $(seq 1 "${call#*:}"); do
      rm -rf "$T/out" && cp -a "$T/before" "$T/out"
      run strace -f -qq -o /dev/null -e trace=${call%:*} -e inject=${call%:*}:signal=KILL:when=$n \
        celeb-split "${NEW[@]}" -o "$T/out" "$T/small.txt"
      [ "$status" -eq 137 ] || { echo "$call N=$n: status $status: $output"; false; }
      settle
      [ -z "$(ls -A "$T/out" | grep '\.tmp\.[0-9]*\.old$')" ]   # nothing left aside
      if [ "${call%:*}" = rename ] && [ "$n" -le 10 ]; then
        # no new list in place yet: the earlier ones, all of them (and the killed run's young temporaries)
        [ "$(ls "$T/out")" = "$(ls "$T/before")" ] || { echo "$call N=$n: $(ls "$T/out")"; false; }
        for f in "$T"/before/*; do cmp "$f" "$T/out/${f##*/}"; done
      else
        # some new lists in place: only new ones stay (some may be missing), no earlier one beside them
        [ -n "$(ls "$T/out")" ]
        for f in "$T"/out/*; do cmp "$f" "$T/want/${f##*/}" || { echo "$call N=$n: ${f##*/}"; false; }; done
      fi
      [ "${call%:*}" = rename ] || diff -r "$T/want" "$T/out"   # killed removing the earlier ones: all new in place
    done
  done
  # without the lock (NFS refuses flock), a dead writer's lists aside may be another machine's live run's: kept
  # for ten minutes, as its temporary files
  rm -rf "$T/out" && cp -a "$T/before" "$T/out"
  run strace -f -qq -o /dev/null -e trace=rename -e inject=rename:signal=KILL:when=3 \
    celeb-split "${NEW[@]}" -o "$T/out" "$T/small.txt"
  [ "$status" -eq 137 ]
  mkdir "$T/out/attr_g9.txt"
  run strace -f -qq -o /dev/null -e trace=flock -e inject=flock:error=ENOLCK celeb-split -q -g g9=D -o "$T/out" "$T/small.txt"
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = "celeb-split: $T/out: not locked (flock: No locks available): run one celeb-split into it at a time" ]
  [ "$(ls -A "$T/out" | grep -c '\.tmp\.[0-9]*\.old$')" -eq 2 ]
  rmdir "$T/out/attr_g9.txt"
  settle
  [ "$(ls "$T/out")" = "$(ls "$T/before")" ]
  for f in "$T"/before/*; do cmp "$f" "$T/out/${f##*/}"; done
}

@test "a killed run's lists aside under this run's own process number (reused) are put back too" {
  make_two_splits
  cp -a "$T/before" "$T/out"
  # as a run killed after setting g1's and g2's earlier lists aside, whose number this run now has
  run bash -c 'for g in g1 g2; do mv "$1/attr_$g.txt" "$1/.attr_$g.txt.tmp.$$.old"; done; exec celeb-split -q -g g9=D -o "$1" "$2"' \
    _ "$T/out" "$T/small.txt"
  [ "$status" -eq 0 ]
  [ -z "$(ls -A "$T/out" | grep '\.tmp\.[0-9]*\.old$')" ]
  for f in "$T"/before/*; do cmp "$f" "$T/out/${f##*/}"; done
  [ -f "$T/out/attr_g9.txt" ]
}

@test "one run at a time into a DIR (an flock on it): a second is refused as busy, exit 75, nothing changed" {
  command -v flock > /dev/null || skip "no flock(1)"
  args=(-q --group g1=A,B --group g2=C --split reference --test-count 1 --seed 9)
  celeb-split -q --group g1=A,B --group g2=C --split reference --test-count 1 -o "$T/out" "$T/small.txt"
  cp -a "$T/out" "$T/before"
  # busy is EX_TEMPFAIL (75), as sg-sample --each's: two runs at once mixed their lists, both exit 0
  run flock "$T/out" celeb-split "${args[@]}" -o "$T/out" "$T/small.txt"
  [ "$status" -eq 75 ]
  [ "$output" = "celeb-split: $T/out: the directory is locked (flock) by another process: another celeb-split writing into it, or a flock(1) or script locking the directory itself (two runs at once would leave a mix of their lists: wait for it to end, or give each its own -o DIR; a script guarding celeb-split should lock another file)" ]
  diff -r "$T/before" "$T/out"
  [ "$(ls -A "$T/out")" = "$(ls -A "$T/before")" ]
  run flock -s "$T/out" celeb-split "${args[@]}" -o "$T/out" "$T/small.txt"
  [ "$status" -eq 75 ]
  diff -r "$T/before" "$T/out"
  # a lock on another file guards the command without refusing it
  flock -n "$T/out.lock" celeb-split "${args[@]}" -o "$T/out" "$T/small.txt" > /dev/null
  celeb-split "${args[@]}" -o "$T/want" "$T/small.txt" > /dev/null
  diff -r "$T/want" "$T/out"
}

@test "the progress line ends on N/N (it stayed at '0/202599 rows')" {
  run script -qec "celeb-split --group g1=A,B -o '$T/p' '$T/small.txt'" /dev/null
  [ "$status" -eq 0 ]
  last=$(printf '%s' "$output" | tr '\r' '\n' | grep -a '[0-9]/[0-9]* rows' | tail -n 1)
  [[ "$last" == *"6/6 rows"* ]] || { echo "last: $last"; false; }
}

# Kaggle's forms of the two lists, from the .txt ones (CRLF line ends, as
# Kaggle's files have).
attrs_to_csv() {
  { printf 'image_id,'; sed -n 2p "$1" | sed 's/ *$//' | tr ' ' ,; echo
    tail -n +3 "$1" | sed -E 's/ +/,/g'; } | sed 's/$/\r/'
}
partition_to_csv() { { echo image_id,partition; tr ' ' , < "$1"; } | sed 's/$/\r/'; }

@test "Kaggle's list_attr_celeba.csv and list_eval_partition.csv give the same files as the .txt lists" {
  celeb-synth -q -n 60 --seed 4 -o "$T/syn"
  attrs_to_csv "$T/syn/list_attr_celeba.txt" > "$T/list_attr_celeba.csv"
  partition_to_csv "$T/syn/list_eval_partition.txt" > "$T/list_eval_partition.csv"
  head -n 1 "$T/list_attr_celeba.csv" | grep -q '^image_id,5_o_Clock_Shadow,Arched_Eyebrows,'
  grep -q $'^000001.jpg,[-1,]*\r$' "$T/list_attr_celeba.csv"
  grep -q $'^000001.jpg,[012]\r$' "$T/list_eval_partition.csv"
  G=(-g a=Black_Hair,Blond_Hair -g b=Eyeglasses --rest b)
  for split in none reference partition; do
    extra=(); [ $split = partition ] && extra=(--partition "$T/syn/list_eval_partition.txt")
    [ $split = reference ] && extra=(--test-count 5)
    run celeb-split "${G[@]}" --split $split "${extra[@]}" -o "$T/txt-$split" "$T/syn/list_attr_celeba.txt"
    [ "$status" -eq 0 ]
    want=$output
    [ $split = partition ] && extra=(--partition "$T/list_eval_partition.csv")
    run celeb-split "${G[@]}" --split $split "${extra[@]}" -o "$T/csv-$split" "$T/list_attr_celeba.csv"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "$want" ]
    diff -r "$T/txt-$split" "$T/csv-$split"
  done
  # the .txt partition with the .csv attributes, and the reverse
  celeb-split "${G[@]}" --split partition --partition "$T/list_eval_partition.csv" -o "$T/mix1" "$T/syn/list_attr_celeba.txt" >/dev/null
  celeb-split "${G[@]}" --split partition --partition "$T/syn/list_eval_partition.txt" -o "$T/mix2" "$T/list_attr_celeba.csv" >/dev/null
  diff -r "$T/txt-partition" "$T/mix1"
  diff -r "$T/txt-partition" "$T/mix2"
  # the outputs are CelebA's .txt layout, names line ending in a space
  [ "$(sed -n 2p "$T/csv-none/attr_a.txt" | tail -c 7)" = "Young " ]
  [ "$(ls "$T/txt-reference" | wc -l)" -eq 6 ]
}

@test "Kaggle CSV lists: errors name the file and the line (the header is line 1)" {
  printf 'image_id,A,B\r\n1.jpg,1,-1\r\n2.jpg,1\r\n' > "$T/a.csv"
  run celeb-split -g g=A -o "$T/out" "$T/a.csv"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/a.csv line 3: expected 2 values, found 1" ]
  printf 'image_id,A,B\r\n1.jpg,1,-1\r\n2.jpg,1,-1\r\n' > "$T/a.csv"
  printf 'image_id,partition\r\n1.jpg,0\r\n2.jpg,3\r\n' > "$T/p.csv"
  run celeb-split -g g=A -o "$T/out" --split partition --partition "$T/p.csv" "$T/a.csv"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/p.csv line 3: partition '3' is not 0, 1 or 2" ]
  printf 'image_id,partition\r\n1.jpg,0\r\n2.jpg 2\r\n' > "$T/p.csv"
  run celeb-split -g g=A -o "$T/out" --split partition --partition "$T/p.csv" "$T/a.csv"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/p.csv line 3: expected 'FILE,PARTITION', found 1 field" ]
  # the two files swapped
  run celeb-split -g g=A -o "$T/out" --split partition --partition "$T/a.csv" "$T/a.csv"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/a.csv line 1: expected 'image_id,partition', found another CSV header: this looks like an attribute list (list_attr_celeba.csv); give the partition file (list_eval_partition.csv)" ]
  printf 'image_id,partition\r\n1.jpg,0\r\n2.jpg,2\r\n' > "$T/p.csv"
  run celeb-split -g g=A -o "$T/out" "$T/p.csv"
  [ "$status" -eq 1 ]
  [[ "$output" == "celeb-split: $T/p.csv line 1: 'image_id,partition': this is a partition file"* ]]
  [ ! -e "$T/out" ]
  # a .txt partition list whose first file is named 'image_id,...' is no CSV (the header is exact)
  printf '2\nA B \nimage_id,1.jpg 1 -1\n2.jpg 1 -1\n' > "$T/odd.txt"
  printf 'image_id,1.jpg 0\n2.jpg 2\n' > "$T/odd-part.txt"
  run celeb-split -g g=A -o "$T/odd" --split partition --partition "$T/odd-part.txt" "$T/odd.txt"
  [ "$status" -eq 0 ]
  [ "$(tail -n +3 "$T/odd/attr_g_train.txt")" = "image_id,1.jpg  1 -1" ]
  [ "$(tail -n +3 "$T/odd/attr_g_test.txt")" = "2.jpg  1 -1" ]
  # a CSV file name with a blank: the .txt lists written from it could not be read back
  printf 'image_id,A,B\nmy photo.jpg,1,-1\n2.jpg,1,-1\n' > "$T/blank.csv"
  run celeb-split -g g=A -o "$T/blank" "$T/blank.csv"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/blank.csv line 2: file name 'my photo.jpg' has a blank, which the .txt lists cannot hold: rename the file" ]
  [ ! -e "$T/blank" ]
}

@test "the attribute list and the partition file swapped: each says what it looks like" {
  celeb-synth -q -n 20 --seed 4 -o "$T/syn"
  run celeb-split -g g=Male -o "$T/out" "$T/syn/list_eval_partition.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/syn/list_eval_partition.txt line 1: expected the number of rows, found '000001.jpg ...': this looks like a partition file (list_eval_partition.txt); give the attribute list (list_attr_celeba.txt)" ]
  run celeb-split -g g=Male -o "$T/out" --split partition --partition "$T/syn/list_attr_celeba.txt" "$T/syn/list_attr_celeba.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/syn/list_attr_celeba.txt line 1: expected 'FILE PARTITION', found a number: this looks like an attribute list (list_attr_celeba.txt); give the partition file (list_eval_partition.txt)" ]
  # rows filtered with grep: line 1 still says 20
  { head -n 2 "$T/syn/list_attr_celeba.txt"; grep '^00000[1-5]\.jpg' "$T/syn/list_attr_celeba.txt"; } > "$T/five.txt"
  run celeb-split -g g=Male -o "$T/out" "$T/five.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/five.txt line 1: the count says 20 rows, but the file has 5: set line 1 to 5" ]
  sed -i 1s/20/5/ "$T/five.txt"
  celeb-split -q -g g=Male -r g -o "$T/out" "$T/five.txt"
  [ "$(head -n 1 "$T/out/attr_g.txt")" = 5 ]
  [ ! -e "$T/out/attr_g_train.txt" ]
}

@test "a CSV attribute or file name with a blank of any kind is refused, naming it: the .txt lists written from it could not be read back" {
  printf 'image_id,Male,Big Nose\n000001.jpg,1,-1\n000002.jpg,-1,1\n' > "$T/name.csv"
  run celeb-split -q -g m=Male -o "$T/sp" "$T/name.csv"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/name.csv line 1: attribute name 'Big Nose' has a blank, which the .txt lists cannot hold: rename the attribute" ]
  [ ! -e "$T/sp" ]
  # a vertical tab, a form feed, a CR inside a file name (blanks around a field are trimmed, not refused)
  printf 'image_id,Male\n000001\v.jpg,1\n000002.jpg,-1\n' > "$T/vt.csv"
  run celeb-split -q -g m=Male -o "$T/sv" "$T/vt.csv"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/vt.csv line 2: file name '000001\\x0b.jpg' has a blank, which the .txt lists cannot hold: rename the file" ]
  [ ! -e "$T/sv" ]
  printf 'image_id,Male\r\n000001.jpg,1\r\n000002\f.jpg,-1\r\n' > "$T/ff.csv"
  run celeb-split -q -g m=Male -o "$T/sf" "$T/ff.csv"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/ff.csv line 3: file name '000002\\x0c.jpg' has a blank, which the .txt lists cannot hold: rename the file" ]
  printf 'image_id,Male\r\n000001\r.jpg,1\r\n' > "$T/cr.csv"
  run celeb-split -q -g m=Male -o "$T/sc" "$T/cr.csv"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/cr.csv line 2: file name '000001\\r.jpg' has a blank, which the .txt lists cannot hold: rename the file" ]
  # what is accepted reads back: celeb-split on its own output
  printf 'image_id, Male ,Young\r\n000001.jpg\v,1,-1\r\n000002.jpg,-1,1\r\n' > "$T/ok.csv"
  celeb-split -q -g m=Male -o "$T/ok" "$T/ok.csv"
  celeb-split -q -g m=Male -o "$T/ok2" "$T/ok/attr_m.txt"
  cmp "$T/ok/attr_m.txt" "$T/ok2/attr_m.txt"
  # one attribute, a row with two values: "1 value"
  printf '1\nMale\n000001.jpg 1 -1\n' > "$T/one.txt"
  run celeb-split -q -g m=Male -o "$T/one" "$T/one.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "celeb-split: $T/one.txt line 3: expected 1 value, found 2" ]
}
