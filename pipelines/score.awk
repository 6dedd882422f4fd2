# Translation scores from sg-sample --each outputs judged by celeb-synth --judge.
#
# Usage: awk -f pipelines/score.awk DIR1/targets.tsv DIR1/judged.tsv [DIR2/targets.tsv DIR2/judged.tsv ...]
#   targets.tsv (sg-sample --each): file, input, target, dataset, value (tab separated,
#               one header line; a dataset's name may hold spaces); value is the
#               target label's value (e.g. 1 for Blond_Hair, 0 when Eyeglasses is
#               flipped off); target is the attribute's name, with its dataset's
#               name or number and _ before it where datasets share the name
#               (celebA_Bangs, 2_Bangs: sg-sample(1) --each)
#   judged.tsv  (celeb-synth --judge): FILE<tab>ATTR=0|1<tab>... for every
#               NNNNNN_input.png and every output image of the same directory
#               (FILE escaped, so holding no tab; one blank-separated as an
#               older judge wrote it is read too)
#
# For every target attribute that the judge reads, over all test images:
#   reached    share of outputs whose judged attribute equals the target value
#   needed     the same, over the inputs whose judged attribute differed from the
#              target value (where the generator had to change something)
#   already    share of inputs that already showed the target value (the score of
#              a generator that returns its input)
#   kept       share of the other judged attributes left as the judge saw them in
#              the input (for a hair-colour target the other hair colours are
#              expected to change and are not counted)
# and two summary lines: hair colour (the 4 colour targets pooled; chance 25%: one
# of four colours) and eyeglasses (chance 50%), then both per input directory.

function dir_of(path) { if (path !~ /\//) return "."; sub(/\/[^\/]*$/, "", path); return path }
function is_hair(a) { return a == "Black_Hair" || a == "Blond_Hair" || a == "Brown_Hair" || a == "Gray_Hair" }
function pct(a, b) { return b ? sprintf("%.1f%%", 100.0 * a / b) : "-" }

BEGIN { FS = "[\t ]+" }

# The attribute a target names: t itself, or the longest judged attribute
# that ends it after a "_" (sg-sample writes DATASET_NAME or N_NAME where
# datasets share an attribute, the dataset's name with unsafe characters as
# _, and @N after a name that met another): however the prefix is spelt
function attribute_of(t,    k, a, best) {
    sub(/@[0-9]+$/, "", t)
    if (t in is_judged) return t
    best = ""
    for (k = 1; k <= n_judged; k++) {
        a = judged_names[k]
        if (length(t) > length(a) + 1 && substr(t, length(t) - length(a)) == "_" a && length(a) > length(best))
            best = a
    }
    return best == "" ? t : best
}

FILENAME ~ /targets\.tsv$/ {
    if (FNR == 1) next
    split($0, f, "\t")                            # only tabs: names may hold spaces
    d = dir_of(FILENAME)
    key = d "/" f[1]
    n_out++
    out_key[n_out] = key
    out_target[key] = f[3]
    out_value[key] = (f[5] == "-") ? -1 : (f[5] >= 0.5 ? 1 : 0)
    out_input[key] = d "/" sprintf("%06d_input.png", f[2])
    next
}

{   # judged.tsv: FILE<tab>ATTR=V<tab>... (FILE escaped: never a tab in it,
    # but maybe a blank; sg-sample --each's names escape to themselves)
    d = dir_of(FILENAME)
    tab = index($0, "\t")
    file = tab ? substr($0, 1, tab - 1) : $1     # no tab: an older judge's blanks
    key = d "/" file
    nf = split(tab ? substr($0, tab + 1) : substr($0, length($1) + 1), fld, /[\t ]+/)
    for (i = 1; i <= nf; i++) {
        if (split(fld[i], kv, "=") != 2) continue
        judged[key, kv[1]] = kv[2]
        if (!(kv[1] in is_judged)) { is_judged[kv[1]] = 1; judged_names[++n_judged] = kv[1] }
    }
    seen[key] = 1
}

END {
    missing = 0
    for (k = 1; k <= n_out; k++) {
        key = out_key[k]
        t = attribute_of(out_target[key])
        v = out_value[key]
        if (v < 0) continue
        if (!(t in is_judged)) {
            if (!(t in unjudged)) { unjudged[t] = 1; unjudged_list = unjudged_list (unjudged_list == "" ? "" : ", ") t }
            continue
        }
        if (!(key in seen) || !(out_input[key] in seen)) { missing++; continue }
        if (!(t in n)) order[++n_targets] = t
        in_key = out_input[key]
        n[t]++
        if (judged[key, t] == v) reached[t]++
        d = dir_of(key)
        if (!(d in set_seen)) { set_seen[d] = 1; sets[++n_sets] = d }
        g = is_hair(t) ? "hair" : t
        set_n[d, g]++
        if (judged[key, t] == v) set_reached[d, g]++
        if (judged[in_key, t] == v) already[t]++
        else { need[t]++; if (judged[key, t] == v) need_reached[t]++ }
        for (j = 1; j <= n_judged; j++) {
            a = judged_names[j]
            if (a == t || (is_hair(t) && is_hair(a))) continue
            others[t]++
            if (judged[key, a] == judged[in_key, a]) kept[t]++
        }
    }
    if (missing) printf("warning: %d outputs or inputs were not judged\n", missing)
    if (unjudged_list != "") printf("not scored (the judge does not read them): %s\n", unjudged_list)
    printf("%-18s %6s %8s %8s %8s %8s\n", "target", "images", "reached", "needed", "already", "kept")
    for (k = 1; k <= n_targets; k++) {
        t = order[k]
        printf("%-18s %6d %8s %8s %8s %8s\n", t, n[t], pct(reached[t], n[t]),
               pct(need_reached[t], need[t]), pct(already[t], n[t]), pct(kept[t], others[t]))
        if (is_hair(t)) {
            hn += n[t]; hr += reached[t]; hneed += need[t]; hnr += need_reached[t]
            ha += already[t]; ho += others[t]; hk += kept[t]
        }
    }
    printf("hair colour (4 targets pooled; chance 25%%): reached %s, where a change was needed %s (inputs already %s), other attributes kept %s\n",
           pct(hr, hn), pct(hnr, hneed), pct(ha, hn), pct(hk, ho))
    t = "Eyeglasses"
    printf("eyeglasses (chance 50%%): reached %s, where a change was needed %s (inputs already %s), other attributes kept %s\n",
           pct(reached[t], n[t]), pct(need_reached[t], need[t]), pct(already[t], n[t]), pct(kept[t], others[t]))
    # by input set (a set's inputs translated to the other set's attributes is the
    # mask vector's cross-dataset case)
    for (k = 1; k <= n_sets; k++) {
        d = sets[k]
        name = d; sub(/^.*\//, "", name)
        printf("inputs from %s: hair colour reached %s, eyeglasses reached %s\n", name,
               pct(set_reached[d, "hair"], set_n[d, "hair"]), pct(set_reached[d, "Eyeglasses"], set_n[d, "Eyeglasses"]))
    }
}
