#!/usr/bin/env bats
load helpers
# sg-plot: history panels with spike clipping, bars, errors that write nothing.

setup() {
  T="$BATS_TEST_TMPDIR"
  # 300 logged iterations: smooth curves, G terms every 5th line only, one huge
  # spike in D/loss_gp (iteration 1500), lr decaying linearly over the second half.
  awk 'BEGIN {
    for (i = 1; i <= 300; i++) {
      it = i * 10
      gp = (it == 1500) ? 5000 : 0.3 + 0.05 * sin(i / 7)
      printf "{\"iteration\": %d, \"dataset\": \"celebA\", \"D/loss_real\": %.6f, \"D/loss_fake\": %.6f, \"D/loss_cls\": %.6f, \"D/loss_gp\": %.6f", it, -2 - i / 100 + 0.1 * sin(i), 1 + 0.2 * cos(i / 3), 0.7 * exp(-i / 150), gp
      if (i % 5 == 0) printf ", \"G/loss_fake\": %.6f, \"G/loss_rec\": %.6f, \"G/loss_cls\": %.6f", 3 + 0.3 * sin(i / 5), 0.1 + 0.4 * exp(-i / 60), 1 + 0.1 * cos(i)
      lr = (it <= 1500) ? 0.0001 : 0.0001 * (3000 - it) / 1500
      printf ", \"lr\": %.9g, \"images/s\": 120.5, \"elapsed\": %d}\n", lr, i
    }
  }' > "$T/history.jsonl"
  cat > "$T/stats.json" <<'JSON'
{"shard": "celebA.lmdb", "count": 2000, "label_kind": "multi-hot", "labels": [
 {"name": "Black_Hair", "positive": 480, "negative": 1520},
 {"name": "Blond_Hair", "positive": 300, "negative": 1700},
 {"name": "Male", "positive": 830, "negative": 1170}]}
JSON
}


# sg-plot FILE --DIM SMALL must fail naming the size it needs (the image
# is too small for WHAT); that size then works and one less does not. Sets
# need; the plot at that size is $T/size.png. Options after WHAT (--bars)
# go to each sg-plot.
size_named_fits() {
  local file=$1 dim=$2 small=$3 what=$4
  shift 4
  run sg-plot "$@" "$file" --"$dim" "$small" -o "$T/size.png"
  [ "$status" -eq 1 ]
  [[ "$output" =~ ^"sg-plot: image $dim $small is too small for $what; this plot needs --$dim "([0-9]+)" or more"$ ]] ||
    { echo "$output"; false; }
  need=${BASH_REMATCH[1]}
  sg-plot "$@" "$file" --"$dim" "$need" -o "$T/size.png"
  run sg-plot "$@" "$file" --"$dim" $((need - 1)) -o "$T/size.png"
  [ "$status" -eq 1 ]
}

@test "plots a history with a spike: PNG 1200x900, the spike is clipped and reported" {
  run sg-plot "$T/history.jsonl" -o "$T/losses.png"
  [ "$status" -eq 0 ]
  [ "$(png_size "$T/losses.png")" = 1200x900 ]
  # Exactly the one spike point is outside the robust range.
  [[ "$output" == *"1 point clipped (D 1, G 0, lr 0)"* ]]
  [ -z "$(ls "$T" | grep tmp)" ]
}

@test "--full-range clips nothing; --quiet prints nothing" {
  run sg-plot --full-range "$T/history.jsonl" -o "$T/full.png"
  [ "$status" -eq 0 ]
  [[ "$output" != *clipped* ]]
  run sg-plot --quiet "$T/history.jsonl" -o "$T/q.png"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "the plot is not blank: dark text and several series colours (PIL)" {
  /usr/bin/python3 -c 'import PIL' 2>/dev/null || skip "no python3 PIL"
  sg-plot "$T/history.jsonl" --smooth 5 --width 1000 --height 700 -o "$T/s.png"
  /usr/bin/python3 - "$T/s.png" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
assert im.size == (1000, 700), im.size
px = list(im.getdata())
dark = sum(1 for p in px if max(p) < 60)
# The palette's first four colours (D terms) must all appear as line pixels.
want = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
seen = set(px)
missing = [c for c in want if c not in seen]
assert dark > 2000, "only %d dark pixels" % dark
assert not missing, "series colours missing: %s" % missing
# Title row has ink, the far corner is background.
assert any(max(im.getpixel((x, y))) < 60 for x in range(1000) for y in range(0, 30))
assert im.getpixel((999, 699)) == (255, 255, 255)
PY
}

@test "stdin in, PNG on stdout" {
  sg-plot - -o - < "$T/history.jsonl" > "$T/out.png"
  [ "$(png_size "$T/out.png")" = 1200x900 ]
}

@test "-o - refuses a terminal (script(1) gives it one); nothing written there" {
  command -v script > /dev/null || skip "no script(1)"
  run script -qec "sg-plot '$T/history.jsonl' -o -" /dev/null
  [ "$status" -eq 1 ]
  [ "$(printf '%s' "$output" | tr -d '\r')" = "sg-plot: refusing to write an image to a terminal; use -o FILE or a redirection" ]
}

@test "a history being written: its last line, cut short without a newline, is skipped with a note" {
  head -c -40 "$T/history.jsonl" > "$T/live.jsonl"
  run sg-plot "$T/live.jsonl" -o "$T/live.png"
  [ "$status" -eq 0 ]
  [ "$(png_size "$T/live.png")" = 1200x900 ]
  [[ "$output" == *"sg-plot: $T/live.jsonl line 300: cut short (no newline at its end: a run still writing it?); skipped"* ]]
  run sg-plot -q "$T/live.jsonl" -o "$T/live.png"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # the same line followed by a newline is malformed, not being written
  printf '\n' >> "$T/live.jsonl"
  run sg-plot "$T/live.jsonl" -o "$T/live2.png"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-plot: $T/live.jsonl line 300: "* ]]
  [ ! -e "$T/live2.png" ]
  printf '{"iteration": 1, "D/lo' > "$T/one.jsonl"
  run sg-plot "$T/one.jsonl" -o "$T/one.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/one.jsonl: no records (line 1 is cut short: no newline at its end); plot it once the run has written that line whole, or resume a run that crashed (sg-train --resume drops the line)" ]
}

@test "JPEG output by extension" {
  sg-plot "$T/history.jsonl" -o "$T/l.jpg" -q
  [ "$(head -c 3 "$T/l.jpg" | od -An -tx1 | tr -d ' \n')" = ffd8ff ]
}

@test "malformed JSON line: exit 1 naming file, line and column; no output, old output kept" {
  sed -i '3s/, "D\/loss_fake"/ "D\/loss_fake"/' "$T/history.jsonl"
  run sg-plot "$T/history.jsonl" -o "$T/bad.png"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-plot: $T/history.jsonl line 3: expected ',' or '}' at column "* ]]
  [ ! -e "$T/bad.png" ]
  echo keep > "$T/old.png"
  run sg-plot "$T/history.jsonl" -o "$T/old.png"
  [ "$status" -eq 1 ]
  [ "$(cat "$T/old.png")" = keep ]
}

@test "iterations going back or repeated (two histories joined, lines edited): exit 1 naming the file and both lines; nothing drawn" {
  local tail="a run's history goes only forward (two runs' histories joined, or lines edited?): plot each run's history on its own"
  # a second run's history after the first's (a zigzag if drawn in file order)
  { head -n 20 "$T/history.jsonl"; head -n 10 "$T/history.jsonl"; } > "$T/joined.jsonl"
  run sg-plot "$T/joined.jsonl" -o "$T/bad.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/joined.jsonl line 21: iteration 10 after iteration 200 (line 20); $tail" ]
  [ ! -e "$T/bad.png" ]
  # a record repeated, after a blank line; from stdin
  { head -n 5 "$T/history.jsonl"; echo; sed -n 5p "$T/history.jsonl"; } > "$T/again.jsonl"
  echo keep > "$T/old.png"
  run sg-plot - -o "$T/old.png" < "$T/again.jsonl"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: <stdin> line 7: iteration 50 after iteration 50 (line 5); $tail" ]
  [ "$(cat "$T/old.png")" = keep ]
  # going forward by any step, not from 1, is a history
  sed -n '10,20p;25p;300p' "$T/history.jsonl" > "$T/gaps.jsonl"
  sg-plot -q "$T/gaps.jsonl" -o "$T/gaps.png"
  is_png "$T/gaps.png"
}

@test "empty input, no loss keys, non-object line, wrong value type: exit 1" {
  : > "$T/empty.jsonl"
  run sg-plot "$T/empty.jsonl" -o "$T/e.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/empty.jsonl: no records (empty input); give a history that sg-train has written to (one record every --log-every iterations)" ]
  [ ! -e "$T/e.png" ]
  echo '{"iteration": 1, "images/s": 3}' > "$T/nokeys.jsonl"
  run sg-plot "$T/nokeys.jsonl" -o "$T/e.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/nokeys.jsonl: no loss or lr values in 1 record; sg-plot draws keys beginning D/ or G/ and keys ending in lr (sg-train's history.jsonl has D/loss_real, G/loss_rec, lr...): give a history with such keys" ]
  echo '{"iteration": 2, "images/s": 3}' >> "$T/nokeys.jsonl"
  run sg-plot "$T/nokeys.jsonl" -o "$T/e.png"
  [ "$output" = "sg-plot: $T/nokeys.jsonl: no loss or lr values in 2 records; sg-plot draws keys beginning D/ or G/ and keys ending in lr (sg-train's history.jsonl has D/loss_real, G/loss_rec, lr...): give a history with such keys" ]
  printf '{"iteration": 1, "D/loss_real": 1}\n[1, 2]\n' > "$T/arr.jsonl"
  run sg-plot "$T/arr.jsonl" -o "$T/e.png"
  [ "$status" -eq 1 ]
  [[ "$output" == *"arr.jsonl line 2: expected a JSON object, found array"* ]]
  echo '{"iteration": 1, "D/loss_real": "high"}' > "$T/str.jsonl"
  run sg-plot "$T/str.jsonl" -o "$T/e.png"
  [ "$status" -eq 1 ]
  [[ "$output" == *"line 1: key \"D/loss_real\": expected a number, found string"* ]]
  printf '{"iteration": 1, "D/loss_\\u001b[2J": "high"}\n' > "$T/esc.jsonl"
  run sg-plot "$T/esc.jsonl" -o "$T/e.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/esc.jsonl line 1: key \"D/loss_\\x1b[2J\": expected a number, found string" ]
  echo '{"D/loss_real": 1}' > "$T/noit.jsonl"
  run sg-plot "$T/noit.jsonl" -o "$T/e.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/noit.jsonl: not a history.jsonl (line 1's object has no \"iteration\"); give $T/history.jsonl" ]
  mkdir "$T/elsewhere"; cp "$T/noit.jsonl" "$T/elsewhere/"
  run sg-plot "$T/elsewhere/noit.jsonl" -o "$T/e.png"
  [ "$output" = "sg-plot: $T/elsewhere/noit.jsonl: not a history.jsonl (line 1's object has no \"iteration\"); give RUN/history.jsonl, the file sg-train appends a record to" ]
  [ ! -e "$T/e.png" ]
}

# review-readme27 7: the README's tour stopped before its first logged
# iteration left an empty history ("no records (empty input)"), and a run's
# config.json given for its history was "unexpected end of input".
@test "a run's history with no record yet says when the first comes; its config.json given instead names the history" {
  celeb-synth -q -n 8 -o "$T/s"
  celeb-pack -q -a "$T/s/list_attr_celeba.txt" -i "$T/s/img_align_celeba" -s Black_Hair,Male -S 16 -o "$T/a.lmdb"
  tiny=(--iters 2 --batch 2 --g-conv-dim 4 --d-conv-dim 4 --g-repeat 1 --threads 1 --device cpu -q)
  sg-train -o "$T/run" "${tiny[@]}" --log-every 5 "$T/a.lmdb"
  [ ! -s "$T/run/history.jsonl" ]
  # finished (latest is its last iteration) before its first record: none will come
  run sg-plot "$T/run/history.jsonl" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/run/history.jsonl: no records (an empty history: the run finished at iteration 2, before its first record at iteration 5, --log-every); train it on to that record: sg-train -o $T/run --resume --iters 5, or start it over with --log-every 2 or less (sg-train --force)" ]
  # the command it gives writes the record
  sg-train -o "$T/run" --resume --iters 5 -q
  sg-plot -q "$T/run/history.jsonl" -o "$T/o.png"
  [ -s "$T/o.png" ]
  rm "$T/o.png"
  # a run still going (its --iters ahead of its latest checkpoint): the record is yet to come
  sg-train -o "$T/going" "${tiny[@]}" --log-every 5 "$T/a.lmdb"
  sed -i 's/"iters": 2,/"iters": 100,/' "$T/going/config.json"
  grep -q '"iters": 100,' "$T/going/config.json"
  run sg-plot "$T/going/history.jsonl" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/going/history.jsonl: no records yet (an empty history: sg-train writes one every 5 iterations, --log-every); plot it once the run has passed iteration 5" ]
  sg-train -o "$T/run0" "${tiny[@]}" --log-every 0 "$T/a.lmdb"
  run sg-plot "$T/run0/history.jsonl" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/run0/history.jsonl: no records (an empty history: the run was started with --log-every 0, which writes none); train with --log-every N to plot its losses" ]
  run sg-plot "$T/run/config.json" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/run/config.json: not a history.jsonl (one JSON document over several lines, not a record a line); give $T/run/history.jsonl" ]
  # a JSON document elsewhere: the general form
  mkdir "$T/elsewhere"; printf '{\n"a": 1\n}\n' > "$T/elsewhere/doc.json"
  run sg-plot "$T/elsewhere/doc.json" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/elsewhere/doc.json: not a history.jsonl (one JSON document over several lines, not a record a line); give RUN/history.jsonl, the file sg-train appends a record to" ]
  [ ! -e "$T/o.png" ]
}

@test "non-finite values (\"nan\", null) are skipped and counted; several datasets" {
  {
    echo '{"iteration": 1, "dataset": "celebA", "D/loss_real": "nan", "G/loss_rec": null, "lr": 0.0001}'
    echo '{"iteration": 1, "dataset": "celebB", "D/loss_real": 1.5, "lr": 0.0001}'
    echo ''
    echo '{"iteration": 2, "dataset": "celebA", "D/loss_real": 1.0, "G/loss_rec": "-Infinity", "lr": 0.0001}'
    echo '{"iteration": 2, "dataset": "celebB", "D/loss_real": 1.2, "lr": 0.0001}'
  } > "$T/multi.jsonl"
  run sg-plot "$T/multi.jsonl" -o "$T/m.png"
  [ "$status" -eq 0 ]
  [[ "$output" == *"3 non-finite values skipped"* ]]
  [ "$(png_size "$T/m.png")" = 1200x900 ]
}

@test "--bars from celeb-dump statistics JSON (stdin), height fits the attributes" {
  run sg-plot --bars - -o "$T/bars.png" < "$T/stats.json"
  [ "$status" -eq 0 ]
  size=$(png_size "$T/bars.png")
  [ "${size%x*}" = 1200 ]
  [ "${size#*x}" -gt 100 ]
  [ "${size#*x}" -lt 400 ]
  sg-plot --bars "$T/stats.json" --height 600 --width 800 -o "$T/b2.png"
  [ "$(png_size "$T/b2.png")" = 800x600 ]
}

# review-live19 F10: a run directory, a history with --bars, celeb-dump's
# text table with --bars and statistics without --bars were each met with a
# message about the symptom ("read: Is a directory", "line 2: unexpected
# data", "missing key \"iteration\"") instead of the slip.
@test "near misses (a run directory, the wrong kind of input for the mode) say what was meant" {
  mkdir -p "$T/run/ckpt"; echo '{}' > "$T/run/config.json"; cp "$T/history.jsonl" "$T/run/"
  run sg-plot "$T/run" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/run is a run directory: give its training history, $T/run/history.jsonl" ]
  run sg-plot --bars "$T/run/" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/run/ is a run directory: give its training history, $T/run/history.jsonl, without --bars" ]
  # another directory: as before
  run sg-plot "$T/run/ckpt" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-plot: $T/run/ckpt: "* ]]
  # a history with --bars: several records, and one
  run sg-plot --bars "$T/history.jsonl" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/history.jsonl: a training history, not statistics JSON: drop --bars" ]
  head -n 1 "$T/history.jsonl" > "$T/one.jsonl"
  run sg-plot --bars "$T/one.jsonl" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/one.jsonl: a training history, not statistics JSON: drop --bars" ]
  # celeb-dump --stats's table (without --json)
  printf 'attribute    positive   negative positive%%\nBangs              23         44    34.33\n' > "$T/table.txt"
  run sg-plot --bars - -o "$T/o.png" < "$T/table.txt"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: <stdin> line 1: expected a value at column 1: not JSON (--bars reads celeb-dump --stats --json or celeb-split --json)" ]
  # statistics without --bars: over several lines (stats.json) and on one
  run sg-plot "$T/stats.json" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/stats.json: dataset statistics, not a training history: add --bars" ]
  tr -d '\n' < "$T/stats.json" > "$T/stats1.json"; echo >> "$T/stats1.json"
  run sg-plot "$T/stats1.json" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/stats1.json: dataset statistics, not a training history: add --bars" ]
  [ ! -e "$T/o.png" ]
  # a history whose later line lacks "iteration" is still named by its line
  { head -n 2 "$T/history.jsonl"; echo '{"labels": []}'; } > "$T/mixed.jsonl"
  run sg-plot "$T/mixed.jsonl" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/mixed.jsonl line 3: missing key \"iteration\"" ]
}

@test "--bars accepts celeb-split --json; rejects other JSON with a clear message" {
  echo '{"input": "list_attr_celeba.txt", "rows": 10, "groups": [{"name": "celebA", "rows": 6, "attributes": [{"name": "Bangs", "positive": 2, "negative": 4}]}, {"name": "celebB", "rows": 4, "attributes": [{"name": "Eyeglasses", "positive": 4, "negative": 0}]}]}' > "$T/split.json"
  sg-plot --bars "$T/split.json" -o "$T/split.png"
  png_size "$T/split.png"
  echo '{"x": 1}' > "$T/other.json"
  run sg-plot --bars "$T/other.json" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [[ "$output" == *'expected statistics JSON with a "labels" array'* ]]
  printf '{"labels": [\n{"name": "a", "positive": 1 "negative": 2}]}' > "$T/broken.json"
  run sg-plot --bars "$T/broken.json" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [[ "$output" == *"broken.json line 2: expected ',' or '}' at column 29"* ]]
  [ ! -e "$T/o.png" ]
  # nothing to plot: what to give instead
  echo '{"labels": []}' > "$T/none.json"
  run sg-plot --bars "$T/none.json" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/none.json: no attributes to plot (an empty \"labels\" array); give the statistics of a shard, as celeb-dump --stats --json writes them" ]
  echo '{"groups": [{"name": "celebA", "attributes": []}]}' > "$T/none.json"
  run sg-plot --bars "$T/none.json" -o "$T/o.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/none.json: no attributes to plot (no group lists any); give the groups celeb-split --json writes" ]
  [ ! -e "$T/o.png" ]
}

@test "-o naming the input (by its name, another name, a link; stdin from it) is refused; the input is kept" {
  cp "$T/history.jsonl" "$T/h.orig"
  ln -s "$T/history.jsonl" "$T/link.jsonl"
  for pair in "$T/history.jsonl $T/history.jsonl" "$T/history.jsonl $T/./history.jsonl" "$T/link.jsonl $T/history.jsonl"; do
    set -- $pair
    run sg-plot "$1" -o "$2"
    [ "$status" -eq 1 ]
    [ "$output" = "sg-plot: $2: the output is the same file as the input $1; choose another -o" ]
    cmp "$T/history.jsonl" "$T/h.orig"
  done
  run sg-plot - -o "$T/history.jsonl" < "$T/history.jsonl"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/history.jsonl: the output is the same file as the input <stdin>; choose another -o" ]
  cp "$T/stats.json" "$T/s.orig"
  run sg-plot --bars "$T/stats.json" -o "$T/stats.json"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/stats.json: the output is the same file as the input $T/stats.json; choose another -o" ]
  cmp "$T/history.jsonl" "$T/h.orig"
  cmp "$T/stats.json" "$T/s.orig"
  [ -z "$(ls "$T" | grep '\.tmp\.')" ]
  # a hard link of the input under another name (a cp -al snapshot): the
  # write replaces that name only, the input keeps its data: allowed
  ln "$T/history.jsonl" "$T/hard.jsonl"
  run sg-plot "$T/history.jsonl" -o "$T/hard.jsonl"
  [ "$status" -eq 0 ]
  cmp "$T/history.jsonl" "$T/h.orig"
  # a device is written in place: reading and writing /dev/null is no loss
  run sg-plot - -o /dev/null < /dev/null
  [[ "$output" != *"same file"* ]]
}

@test "a UTF-8 byte-order mark at the start of the input is skipped (history and --bars), as the attribute readers do" {
  sg-plot --title t "$T/history.jsonl" -o "$T/plain.png"
  { printf '\xef\xbb\xbf'; cat "$T/history.jsonl"; } > "$T/bom.jsonl"
  run sg-plot --title t "$T/bom.jsonl" -o "$T/bom.png"
  [ "$status" -eq 0 ]
  cmp "$T/plain.png" "$T/bom.png"
  sg-plot --bars --title t "$T/stats.json" -o "$T/bars.png"
  run bash -c "{ printf '\xef\xbb\xbf'; cat '$T/stats.json'; } | sg-plot --bars --title t - -o '$T/bars-bom.png'"
  [ "$status" -eq 0 ]
  cmp "$T/bars.png" "$T/bars-bom.png"
  # a mark alone is an empty input; one further on is still an error
  printf '\xef\xbb\xbf' > "$T/only.json"
  run sg-plot --bars "$T/only.json" -o "$T/x.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/only.json: empty input" ]
  { head -n 1 "$T/history.jsonl"; printf '\xef\xbb\xbf'; tail -n 1 "$T/history.jsonl"; } > "$T/mid.jsonl"
  run sg-plot "$T/mid.jsonl" -o "$T/x.png"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-plot: $T/mid.jsonl line 2: "*" at column 1" ]]
  [ ! -e "$T/x.png" ]
}

@test "usage: missing -o or input is exit 2; --help exit 0; --version" {
  run sg-plot "$T/history.jsonl"
  [ "$status" -eq 2 ]
  [[ "$output" == *"missing -o/--output"* ]]
  run sg-plot -o x.png
  [ "$status" -eq 2 ]
  run sg-plot --smooth 0 "$T/history.jsonl" -o x.png
  [ "$status" -eq 2 ]
  run sg-plot --help
  [ "$status" -eq 0 ]
  [[ "$output" == Usage:* ]]
  run sg-plot --version
  [ "$status" -eq 0 ]
  [[ "$output" == "sg-plot "* ]]
  run sg-plot "$T/history.jsonl" -o ""
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-plot: -o/--output: empty path" ]
}

@test "robustness: --bars with absurd counts or 100000 attributes is exit 1, old output kept" {
  sg-plot --bars "$T/stats.json" -o "$T/keep.png"
  cp "$T/keep.png" "$T/keep.orig"
  echo '{"labels": [{"name": "a", "positive": 4611686018427387904, "negative": 4611686018427387904}]}' > "$T/huge.json"
  run sg-plot --bars "$T/huge.json" -o "$T/keep.png"
  [ "$status" -eq 1 ]
  [[ "$output" == "sg-plot: $T/huge.json: labels[0]: count larger than "* ]]
  awk 'BEGIN { printf "{\"labels\": ["; for (i = 0; i < 100000; i++) printf "%s{\"name\": \"a%d\", \"positive\": 1, \"negative\": 1}", i ? "," : "", i; print "]}" }' > "$T/many.json"
  run sg-plot --bars "$T/many.json" --height 16384 -o "$T/keep.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/many.json: 100000 attributes (at most 4096 can be plotted, a bar each); plot them in parts: split its \"labels\" array into files of at most 4096 attributes" ]
  cmp "$T/keep.png" "$T/keep.orig"
}

@test "series: any sg-train history plots (8 datasets, 7 losses, lr, G/lr and D/lr each); more says how to plot fewer" {
  # 8 datasets x 10 keys = 80 series: the most sg-train writes (a resumed run
  # with other rates logs G/lr and D/lr after lr); sg-plot drew at most 64
  awk 'BEGIN {
    split("D/loss_real D/loss_fake D/loss_cls D/loss_gp G/loss_fake G/loss_rec G/loss_cls lr G/lr D/lr", k, " ")
    for (i = 1; i <= 20; i++) for (d = 1; d <= 8; d++) {
      printf "{\"iteration\":%d,\"dataset\":\"ds%d\"", i * 10, d
      for (j = 1; j <= 10; j++) printf ",\"%s\":%f", k[j], j + i / 10 + d
      printf "}\n"
    }
  }' > "$T/eight.jsonl"
  sg-plot "$T/eight.jsonl" -o "$T/eight.png"
  [ -s "$T/eight.png" ]
  # a ninth dataset: the message gives the command that plots one dataset, which works
  cp "$T/eight.jsonl" "$T/nine.jsonl"
  echo '{"iteration":10,"dataset":"ds9","D/loss_real":1}' >> "$T/nine.jsonl"
  run sg-plot "$T/nine.jsonl" -o "$T/nine.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/nine.jsonl line 161: more than 80 series (one for each key of each dataset, of 8 datasets so far); plot fewer datasets at a time with --dataset NAME (repeatable), e.g. sg-plot --dataset ds1 -o OUT $T/nine.jsonl" ]
  [ ! -e "$T/nine.png" ]
  sg-plot --dataset ds1 -o "$T/nine.png" "$T/nine.jsonl"
  [ -s "$T/nine.png" ]
  sg-plot --dataset ds9 --dataset ds2 -o "$T/nine.png" "$T/nine.jsonl"
  # on standard input, the command reads it
  run sg-plot -o "$T/nine.png" - < "$T/nine.jsonl"
  [ "$status" -eq 1 ]
  [[ "$output" == *" e.g. sg-plot --dataset ds1 -o OUT -" ]]
  # one dataset of more keys: which keys count, and to drop some
  awk 'BEGIN { printf "{\"iteration\":1"; for (j = 0; j < 81; j++) printf ",\"D/k%d\":1", j; print "}" }' > "$T/keys.jsonl"
  run sg-plot -o "$T/keys.png" - < "$T/keys.jsonl"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: <stdin> line 1: more than 80 series (keys beginning D/ or G/ or ending in lr); plot a history of at most 80 such keys (drop the others from its lines)" ]
}

@test "--dataset NAME plots only that dataset's records (repeatable; NAME selects N:NAME too); a name of none lists the history's, with the nearest" {
  cd "$T"
  for i in 1 2 3; do
    for ds in celebA CelebB 1:train 2:train; do
      printf '{"iteration":%d,"dataset":"%s","D/loss_real":%d.%d,"G/loss_rec":0.%d,"lr":0.0001}\n' "$i" "$ds" "$i" "${#ds}" "$i"
    done
  done > h.jsonl
  # the same image as the grep of those records, titled after the datasets
  grep '"dataset":"celebA"' h.jsonl > a.jsonl
  sg-plot --title "Training history: h.jsonl, dataset celebA" a.jsonl -o ref.png
  sg-plot --dataset celebA h.jsonl -o a.png
  cmp ref.png a.png
  grep -E '"dataset":"[12]:train"' h.jsonl > t.jsonl
  sg-plot --title "Training history: h.jsonl, dataset train (moving average of 2)" --smooth 2 t.jsonl -o ref.png
  sg-plot --dataset train --smooth 2 h.jsonl -o t.png
  cmp ref.png t.png
  grep -E '"dataset":"(CelebB|2:train)"' h.jsonl > b2.jsonl
  sg-plot --title "Training history: h.jsonl, datasets 2:train, CelebB" b2.jsonl -o ref.png
  sg-plot --dataset 2:train --dataset CelebB h.jsonl -o b2.png
  cmp ref.png b2.png
  # a name that no record has: the datasets, and the nearest when one is near; nothing written
  run sg-plot --dataset celebA --dataset celebB h.jsonl -o none.png
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: h.jsonl: no dataset is called 'celebB' (--dataset); the history's datasets are celebA, CelebB, 1:train, 2:train; did you mean 'CelebB'?" ]
  run sg-plot --dataset trian - -o none.png < h.jsonl
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: <stdin>: no dataset is called 'trian' (--dataset); the history's datasets are celebA, CelebB, 1:train, 2:train; did you mean 'train'?" ]
  run sg-plot --dataset imagenet h.jsonl -o none.png
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: h.jsonl: no dataset is called 'imagenet' (--dataset); the history's datasets are celebA, CelebB, 1:train, 2:train" ]
  [ ! -e none.png ]
  # a history of one dataset without "dataset"; --bars; an empty name
  sg-plot --dataset celebA history.jsonl -o hist.png
  printf '{"iteration":1,"D/loss_real":1}\n' > one.jsonl
  run sg-plot --dataset celebA one.jsonl -o none.png
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: one.jsonl: no record names a dataset (none has a \"dataset\": a history of one dataset); drop --dataset" ]
  run sg-plot --bars --dataset celebA stats.json -o none.png
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-plot: --dataset is for a history plot, not for --bars" ]
  run sg-plot --dataset '' h.jsonl -o none.png
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "sg-plot: --dataset: empty (give a dataset's name, as the history's records have it)" ]
  [ ! -e none.png ]
}

@test "robustness: -o into a missing directory or onto a directory; -o - to a full device" {
  run sg-plot "$T/history.jsonl" -o "$T/missing/x.png"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/missing/x.png: the directory $T/missing does not exist; create it first: mkdir -p $T/missing" ]
  mkdir "$T/d"
  run sg-plot "$T/history.jsonl" -o "$T/d"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: $T/d: is a directory" ]
  run bash -c "sg-plot '$T/history.jsonl' -o - > /dev/full"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: <stdout>: No space left on device" ]
}

@test "values near the largest double still get a y-range, ticks and a line (every span was inf: an empty panel)" {
  printf '{"iteration":1,"D/loss_real":1e308}\n{"iteration":2,"D/loss_real":-1e308}\n{"iteration":3,"D/loss_real":5}\n' > "$T/h.jsonl"
  run sg-plot "$T/h.jsonl" -o "$T/h.png"
  [ "$status" -eq 0 ]
  [ "$output" = "sg-plot: $T/h.jsonl: 2 points clipped (D 2, G 0, lr 0), 0 non-finite values skipped" ]
  # the D panel has a line: some blue pixels of the series colour in its area
  /usr/bin/python3 -c 'import PIL' 2>/dev/null || skip "no python3 PIL to look at the pixels"
  /usr/bin/python3 - "$T/h.png" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
w, h = im.size
blue = sum(1 for x in range(100, 960) for y in range(75, 330) if im.getpixel((x, y)) == (31, 119, 180))
assert blue > 100, blue
PY
}

@test "each panel is as high as its legend (three datasets' 12 D entries ran into the G panel's)" {
  for ds in a b c d e f; do
    for i in 1 2; do
      printf '{"iteration":%d,"dataset":"%s","D/loss_real":0.1,"D/loss_fake":-0.1,"D/loss_cls":1,"D/loss_gp":0.5,"G/loss_fake":1,"G/loss_rec":0.2,"G/loss_cls":0.3,"lr":0.0001}\n' "$i" "$ds"
    done
  done > "$T/six.jsonl"
  # 24 D and 18 G entries do not fit 900 pixels: given, it says which height
  # does; by default the image is that high
  size_named_fits "$T/six.jsonl" height 900 "three panels and their legends"
  sg-plot "$T/six.jsonl" -o "$T/auto.png"
  cmp "$T/size.png" "$T/auto.png"
  # three datasets fit the default size; the D panel grows to hold its 12
  # entries: the G panel's title (dark text at its left) starts below the
  # last D swatch (a colour, at the legend's left)
  grep -E '"dataset":"[abc]"' "$T/six.jsonl" > "$T/three.jsonl"
  sg-plot "$T/three.jsonl" -o "$T/three.png"
  /usr/bin/python3 - "$T/three.png" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
w, h = im.size
white = (255, 255, 255)
def runs(ys):
    out = []
    for y in ys:
        if out and y - out[-1][-1] <= 1: out[-1].append(y)
        else: out.append([y])
    return [r[0] for r in out]
# the panels' frames: rows of the axis grey across the plot; top and bottom of each
frame = runs([y for y in range(h) if sum(1 for x in range(100, 900, 4) if im.getpixel((x, y)) == (90, 90, 90)) > 180])
assert len(frame) == 6, frame
g_top = frame[2]
# the frames' right edge, then the legend swatches just right of it
right = max(range(w // 2, w), key=lambda x: sum(1 for y in range(0, h, 2) if im.getpixel((x, y)) == (90, 90, 90)))
sx = next(x for x in range(right + 5, w) if sum(1 for y in range(h) if im.getpixel((x, y)) != white) > 20) + 8
swatches = runs([y for y in range(frame[0], h) if im.getpixel((sx, y)) != white])
assert len(swatches) == 12 + 9 + 3, swatches
# all 12 D entries above the G panel's title band (its frame's top less a line)
assert swatches[11] < g_top - 20, (swatches[11], g_top)
PY
}

@test "a size too small for a history plot names the size it needs, which then works" {
  size_named_fits "$T/history.jsonl" width 200 "the plot and its legend"
  size_named_fits "$T/history.jsonl" height 150 "three panels"
  # a legend so wide that the size needed is past a text-scale step (text
  # doubles from 840 pixels): the shortfall at 200 pixels was no answer
  long=$(printf 'a%.0s' $(seq 100))
  for ds in "$long" "b$long"; do
    printf '{"iteration":1,"dataset":"%s","D/loss_real":0.1,"D/loss_fake":-0.1,"D/loss_cls":1,"D/loss_gp":0.5,"lr":0.0001}\n' "$ds"
  done > "$T/wide.jsonl"
  size_named_fits "$T/wide.jsonl" width 200 "the plot and its legend"
  [ "$need" -gt 840 ]
}

@test "a size too small for --bars names the size it needs, which then works (it said only 'too small')" {
  # 40 attributes: 150 pixels cannot hold their rows
  {
    printf '{"shard": "s.lmdb", "count": 10, "labels": [\n'
    for i in $(seq 40); do printf ' {"name": "Attr_%02d", "positive": 3, "negative": 7}%s\n' "$i" "$([ "$i" = 40 ] || echo ,)"; done
    printf ']}\n'
  } > "$T/many.json"
  size_named_fits "$T/many.json" height 150 "40 bars" --bars
  # a label too long for the width (with and without --height)
  long=$(printf 'a%.0s' $(seq 60))
  printf '{"labels": [{"name": "%s", "positive": 1, "negative": 1}]}\n' "$long" > "$T/long.json"
  size_named_fits "$T/long.json" width 200 "the labels" --bars
  size_named_fits "$T/long.json" width 200 "the labels" --bars --height 300
}

@test "--bars: --smooth and --full-range are usage errors (ignored before); an empty group draws no bar" {
  for opt in "--smooth 3" "--full-range"; do
    run sg-plot --bars $opt "$T/stats.json" -o "$T/b.png"
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "sg-plot: ${opt%% *} is for a history plot, not for --bars" ]
  done
  printf '3\nA B C\n1.jpg  1 -1  1\n2.jpg -1 -1 -1\n3.jpg  1 -1  1\n' > "$T/z.txt"
  celeb-split -q -g g=A -g e=B --json -o "$T/zsp" "$T/z.txt" > "$T/z.json"
  sg-plot --bars "$T/z.json" -o "$T/z.png"
  /usr/bin/python3 -c 'import PIL' 2>/dev/null || skip "no python3 PIL to look at the pixels"
  # the grey of a negative share: none at all (group e has no records; g's 2 are positive)
  /usr/bin/python3 - "$T/z.png" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
w, h = im.size
# below the title and the legend (its grey swatch): the bars' rows
grey = sum(1 for y in range(80, h) for x in range(w) if im.getpixel((x, y)) == (205, 205, 205))
assert grey == 0, grey
PY
}

@test "a killed run's temporary output is removed by the next run; a live writer's stays (SIGKILL left them for good)" {
  dead=$(sh -c 'echo $$')
  # NAME.tmp.PID.N, and NAME.tmp.PID as earlier versions named them
  local f
  for f in "$dead" "$$" "$dead.0" "$$.3" "$dead.old"; do : > "$T/out.png.tmp.$f"; done
  (cd "$T" && touch -d '1 hour ago' out.png.tmp.*)
  sg-plot "$T/history.jsonl" -o "$T/out.png"
  [ ! -e "$T/out.png.tmp.$dead" ]
  [ ! -e "$T/out.png.tmp.$dead.0" ]
  [ -e "$T/out.png.tmp.$$" ]
  [ -e "$T/out.png.tmp.$$.3" ]
  [ -e "$T/out.png.tmp.$dead.old" ]   # not a temporary file's name
}

@test "a closed standard input is named as such, not 'read: Is a directory'" {
  run bash -c 'sg-plot - -o "$1/o.png" <&-' _ "$T"
  [ "$status" -eq 1 ]
  [ "$output" = "sg-plot: <stdin>: standard input is closed (or a directory): give the data on it or name a file" ] ||
    { echo "$output"; false; }
  [ ! -e "$T/o.png" ]
}
