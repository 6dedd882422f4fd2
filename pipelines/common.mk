# What the experiment makefiles share (included; not run alone): the defaults they
# have in common, the output layout, the split and pack steps, the training step and
# the recipes for the pictures and the summary.
#
# An experiment sets, before including this file: OUT; its own defaults with ?=
# (these win over the reference's below); DATA (holds list_attr_celeba.txt, the
# images, see IMAGES, and for SPLIT_BY=partition list_eval_partition.txt); SPLIT_GROUPS (celeb-split's --group/--priority/--rest options);
# ATTRS_<set> (the attributes packed into the shards <set>_train and <set>_test);
# TRAIN_SHARDS. After it, the experiment's pictures and
#   summary: $(PICTURES)
#   	$(summary_recipe)
# with SUMMARY_TITLE set.

PIPELINES := $(dir $(lastword $(MAKEFILE_LIST)))

# Make splits words at spaces, so such a path can be neither a target nor a
# prerequisite: stop at once, before anything is written (RAFD is read through
# a listing, pipelines/celeba-rafd.mk, and may hold one).
no_space = $(if $(word 2,$($(1))),$(error $(1)='$($(1))': make cannot use a path with a space; make a symlink without one ($(2)) and give that))
$(call no_space,CELEBA,ln -s '$(CELEBA)' /tmp/celeba)
$(call no_space,OUT,mkdir -p '$(OUT)' && ln -s '$(OUT)' /tmp/out)
$(call no_space,IMAGES,ln -s '$(IMAGES)' /tmp/images)
# The tools: BIN=DIR given to make; else an environment's BIN that holds them
# (a dotfile's BIN=~/bin usually does not); else those built beside these
# makefiles (../bin from here), whatever directory make runs in; else those on
# PATH (make install).
ifneq ($(filter undefined environment%,$(origin BIN)),)
ifeq ($(if $(BIN),$(wildcard $(BIN)/sg-train)),)
override BIN := $(abspath $(PIPELINES)../bin)
ifeq ($(wildcard $(BIN)/sg-train),)
override BIN := $(patsubst %/,%,$(dir $(abspath $(shell command -v sg-train 2>/dev/null))))
ifeq ($(BIN),)
$(error no stargan-c tools in $(abspath $(PIPELINES)../bin) or on PATH: build them (make in the source tree), install them (make install), or give BIN=DIR)
endif
endif
endif
endif
$(call no_space,BIN,ln -s '$(BIN)' /tmp/bin)

# One make per OUT at a time: two would trip over each other's temporary files
# and replace shards under each other. The lock (flock(1) on OUT/.make.lock) is
# taken before anything is written and held by a helper process that ends with
# this make; a second make waits up to 5 s (for the helper of one that just
# ended) and then stops. Makes started by this one inherit the lock.
# make -n, -q and -p (a dry run, a question, bash's completion) only read, and
# answer at once; without flock(1) there is no lock.
ifeq ($(SG_OUT_LOCKED)$(findstring n,$(firstword -$(MAKEFLAGS)))$(findstring q,$(firstword -$(MAKEFLAGS)))$(findstring p,$(firstword -$(MAKEFLAGS))),)
OUT_LOCK := $(shell command -v flock >/dev/null || exit 0; mkdir -p '$(OUT)' 2>/dev/null && exec 9>>'$(OUT)/.make.lock' 2>/dev/null || exit 0; \
    if flock -w 5 9; then { tail --pid=$$PPID -s 0.2 -f /dev/null & } >/dev/null 2>&1 </dev/null; echo held; else echo busy; fi)
ifeq ($(OUT_LOCK),busy)
$(error another make is working in OUT=$(OUT) (it holds $(OUT)/.make.lock): wait for it to end, or give another OUT)
endif
export SG_OUT_LOCKED := 1
endif

# The reference's configuration (yunjey/stargan main.py defaults) for whatever the
# experiment leaves unset: five CelebA attributes, 178 center crop, 128 px, conv_dim
# 64, 6 residual blocks, 200000 rounds with the learning rate decaying over the
# last 100000, a checkpoint every 10000, a sample grid every 1000 and the losses
# every 10 rounds, batch 16, n_critic 5, lr 1e-4, the reference's test split
# (random.seed(1234); shuffle; 1999 test images).
#
# ITERS, DECAY and the *_EVERY count sg-train's iterations, one batch of one
# dataset each (the datasets in turn); the reference's num_iters,
# num_iters_decay and *_step count rounds, one batch of every dataset
# (train_multi). Their defaults are therefore the reference's rounds times the
# datasets (the shards in TRAIN_SHARDS): 200000 rounds are ITERS=200000 with
# one dataset, ITERS=400000 with two. REF_ITERS etc. hold these defaults, for
# an experiment that must set its own before another file's
# (pipelines/celeba-split.mk, before pipelines/synthetic.mk's).
DATASETS := $(words $(TRAIN_SHARDS))
ref_rounds = $(shell expr $(1) \* $(DATASETS))
REF_ITERS := $(call ref_rounds,200000)
REF_DECAY := $(call ref_rounds,100000)
REF_SAVE_EVERY := $(call ref_rounds,10000)
REF_SAMPLE_EVERY := $(call ref_rounds,1000)
REF_LOG_EVERY := $(call ref_rounds,10)
REF_ATTRS := Black_Hair,Blond_Hair,Brown_Hair,Male,Young
REF_SPLIT_BY := reference
REF_TEST := 1999
REF_SPLIT_SEED := 1234
REF_CROP := 178
REF_SIZE := 128
REF_CONV := 64
REF_G_REPEAT := 6
REF_D_REPEAT :=
REF_BATCH := 16
REF_N_CRITIC := 5
REF_LR := 0.0001
ATTRS ?= $(REF_ATTRS)
TEST ?= $(REF_TEST)
SPLIT_SEED ?= $(REF_SPLIT_SEED)
CROP ?= $(REF_CROP)
SIZE ?= $(REF_SIZE)
CONV ?= $(REF_CONV)
G_REPEAT ?= $(REF_G_REPEAT)
D_REPEAT ?= $(REF_D_REPEAT)
ITERS ?= $(REF_ITERS)
DECAY ?= $(REF_DECAY)
BATCH ?= $(REF_BATCH)
N_CRITIC ?= $(REF_N_CRITIC)
LR ?= $(REF_LR)
LOG_EVERY ?= $(REF_LOG_EVERY)
SAMPLE_EVERY ?= $(REF_SAMPLE_EVERY)
SAVE_EVERY ?= $(REF_SAVE_EVERY)
SEED ?= 0
# KEEP: checkpoints kept (sg-train --keep); empty: all, as the reference
KEEP ?=
DEVICE ?= auto
THREADS ?= 0
GRID_COUNT ?= 16

# The split: SPLIT_BY=reference, the reference's shuffle with TEST test images
# per set; or SPLIT_BY=partition, CelebA's own list_eval_partition.txt in DATA
# (0 train, 2 test; validation rows go where VAL_TO says: drop, train or test).
SPLIT_BY ?= $(REF_SPLIT_BY)
VAL_TO ?= drop
# The images: DATA/img_align_celeba (CelebA's layout), or the folder inside it
# that Kaggle's download nests there, or DATA/images (yunjey/stargan's
# download.sh layout); IMAGES=DIR gives another.
IMAGES ?= $(patsubst %/.,%,$(firstword $(wildcard $(DATA)/img_align_celeba/img_align_celeba/. \
    $(DATA)/img_align_celeba/. $(DATA)/images/.) $(DATA)/img_align_celeba))

# The lists: CelebA's .txt, or the .csv of Kaggle's download (the tools read both).
ATTR_LIST = $(firstword $(wildcard $(DATA)/list_attr_celeba.txt $(DATA)/list_attr_celeba.csv) $(DATA)/list_attr_celeba.txt)
PARTITION_LIST = $(firstword $(wildcard $(DATA)/list_eval_partition.txt $(DATA)/list_eval_partition.csv) \
    $(DATA)/list_eval_partition.txt)

ifdef CELEBA
ifeq ($(wildcard $(CELEBA)/list_attr_celeba.txt $(CELEBA)/list_attr_celeba.csv),)
$(error CELEBA=$(CELEBA): no list_attr_celeba.txt (or Kaggle's .csv) there (expected CelebA's layout: img_align_celeba/ or images/, list_attr_celeba.txt))
endif
endif
ifeq ($(SPLIT_BY),reference)
SPLIT_ARGS = --split reference --test-count $(TEST) --seed $(SPLIT_SEED)
else ifeq ($(SPLIT_BY),partition)
SPLIT_ARGS = --split partition --partition $(PARTITION_LIST) --val-to $(VAL_TO)
else
$(error SPLIT_BY=$(SPLIT_BY): expected reference (the reference's shuffle) or partition (list_eval_partition.txt))
endif

SPLIT  = $(OUT)/split
SHARDS = $(OUT)/shards
RUN    = $(OUT)/run

.PHONY: all summary
.DELETE_ON_ERROR:
# Keep the shards that only pattern rules name (e.g. the test shards): nothing
# is remade needlessly. Not `.SECONDARY:` for all targets: that made every
# stamp intermediate, and a missing train.done (an interrupted run) was then
# not remade whenever the pictures were newer.
.PRECIOUS: $(SHARDS)/%.lmdb
all: summary

# ---- data ------------------------------------------------------------------
# $(OUT)/split.args holds the split's options, rewritten only when they change
# (as train.args below): a changed TEST or SPLIT_BY splits and packs anew (and a
# run trained on the old shards stops, see training below).
# An OUT split by a build before this file adopts its split (the file is dated
# as split.done): a new file would be newer, and redo the split and the packing
# and retrain a finished run from zero.
#
# $(call write_args,FILE,LINE,ADOPT,TOUCH): shell text that writes LINE to
# FILE only when it differs, so that FILE's time says when LINE last changed;
# a FILE written for the first time where the test ADOPT holds (an OUT made
# before FILE existed) is dated by touch TOUCH, not now, so that what it
# stands for is not made again. Used for split.args, SHARDS/NAME.args and
# train.args.
write_args = { echo '$(2)' | cmp -s - '$(1)' || { echo '$(2)' > '$(1).new' && \
    if test ! -e '$(1)' && $(3); then touch $(4) '$(1).new'; fi && mv '$(1).new' '$(1)'; }; }
SPLIT_ARGS_LINE = $(strip $(SPLIT_GROUPS) $(SPLIT_ARGS))
$(shell mkdir -p '$(OUT)' && $(call write_args,$(OUT)/split.args,$(SPLIT_ARGS_LINE),test -e '$(SPLIT)/split.done',-r '$(SPLIT)/split.done'))

# A split that leaves a set fewer training rows than BATCH stops here, naming
# the variables that fix it, and is not recorded as done (celeb-split only
# warns about an empty list: the tool cannot know the batch size, and an empty
# list left celeb-pack and sg-train to fail later, after the split's stamp).
# The first line of a split list is its row count. $(call split_check,DIR,
# CLEANUP): shell text checking the lists in DIR, running CLEANUP (shell text
# ending in ;) before it stops. The split checks split.new (and removes it);
# the training step checks the split it trains on, so that a BATCH raised
# after the split was done stops there, with the same line, before sg-train
# runs (whose own refusal names --batch, not BATCH=).
define split_check
for s in $(PACK_SETS); do \
    f='$(1)/attr_'$$s'_train.txt'; test -e "$$f" || continue; \
    n=$$(head -n 1 "$$f"); test "$$n" -ge $(BATCH) && continue; \
    t=$$(head -n 1 '$(1)/attr_'$$s'_test.txt' 2>/dev/null || echo 0); all=$$((n + t)); fix=; \
    if test '$(SPLIT_BY)' = reference; then \
        what="set $$s has $$all rows; TEST=$(TEST) leaves $$n to train on, fewer than BATCH=$(BATCH) (each set needs TEST + BATCH rows)"; \
        test $$((all - $(BATCH))) -ge 1 && fix="TEST=$$((all - $(BATCH))) or less, "; \
    else \
        what="set $$s: $$n of its rows are in the partition file's training part (0), fewer than BATCH=$(BATCH)"; \
        test '$(VAL_TO)' = train || fix="VAL_TO=train (its validation rows too), "; \
    fi; \
    test "$$n" -ge 1 && fix="$$fix""BATCH=$$n or less, "; \
    echo "$(ATTR_LIST): $$what; give $$fix""or more images" >&2; $(2) exit 1; \
done
endef

# A pipeline's own training shard (PACK_ARGS_<name>, packed from the folder
# PACK_DIR_<name>: celeba-rafd.mk's RaFD) with fewer images than BATCH stops
# before sg-train too, in split_check's words, naming BATCH= (sg-train's own
# refusal names --batch). The count is the shard's (celeb-dump --json), not
# the folder's: celeb-pack skips an image it cannot read.
own_shard_names = $(foreach n,$(patsubst PACK_DIR_%,%,$(filter PACK_DIR_%,$(.VARIABLES))),$(if \
    $(filter $(SHARDS)/$(n).lmdb,$(TRAIN_SHARDS)),$(n)))
define own_shard_check
c=$$($(BIN)/celeb-dump --json '$(SHARDS)/$(1).lmdb' | sed -n 's/.*, "count": \([0-9][0-9]*\),.*/\1/p'); \
test -n "$$c" || exit 1; \
if test "$$c" -lt $(BATCH); then \
    fix=; test "$$c" -ge 1 && fix="BATCH=$$c or less, "; \
    echo '$(PACK_DIR_$(1))'": $$c image$$(test "$$c" -eq 1 || echo s) packed into $(SHARDS)/$(1).lmdb, fewer than BATCH=$(BATCH); give $$fix""or more images" >&2; \
    exit 1; \
fi
endef

# The split is made in split.new; a list whose content did not change is kept
# with its time, so that an attribute list touched or copied (cp -r without -p)
# splits again but packs and trains nothing again.
$(SPLIT)/split.done: $(ATTR_LIST) $(if $(filter partition,$(SPLIT_BY)),$(wildcard $(PARTITION_LIST))) $(OUT)/split.args
	@rm -rf $(SPLIT).new && mkdir -p $(SPLIT) $(SPLIT).new
	$(BIN)/celeb-split -q $(SPLIT_ARGS_LINE) -o $(SPLIT).new $< > $(SPLIT).new/stats.txt
	@$(call split_check,$(SPLIT).new,rm -rf '$(SPLIT).new';)
	@for f in $(SPLIT).new/*; do cmp -s "$$f" "$(SPLIT)/$${f##*/}" && rm "$$f" || mv -f "$$f" $(SPLIT)/ || exit 1; done; \
	rmdir $(SPLIT).new
	touch $@

# SHARDS/<name>.args holds what the shard <name>.lmdb is packed with, rewritten
# only when it changes: for each ATTRS_<set>, <set>_train and <set>_test get
# CROP, SIZE and the set's attributes; a pipeline's own shard <name> gets
# PACK_ARGS_<name> (set before this file is included). A change packs that
# shard anew, and no other (a run trained on the old one then stops, see
# training below). A shard packed by a build before these files adopts its
# file (dated 1970, older than the shard), and is not packed again.
PACK_SETS = $(patsubst ATTRS_%,%,$(filter ATTRS_%,$(.VARIABLES)))
PACK_NAMES = $(foreach s,$(PACK_SETS),$(s)_train $(s)_test) $(patsubst PACK_ARGS_%,%,$(filter PACK_ARGS_%,$(.VARIABLES)))
pack_line = $(strip $(or $(PACK_ARGS_$(1)),--select $(ATTRS_$(firstword $(subst _, ,$(1)))) --crop $(CROP) --size $(SIZE)))
pack_args_write = $(call write_args,$(SHARDS)/$(1).args,$(call pack_line,$(1)),test -d '$(SHARDS)/$(1).lmdb',-d @0) &&
# OUT/pack.args: what every shard was packed with, in one file, before these.
$(shell mkdir -p '$(SHARDS)' && $(foreach n,$(PACK_NAMES),$(call pack_args_write,$(n))) rm -f '$(OUT)/pack.args')

# <set>_train.lmdb, <set>_test.lmdb: the split's lists attr_<set>_*.txt, packed
# with ATTRS_<set>. A list is the split's output (an empty recipe: make looks at
# its time again after the split); .PRECIOUS: not removed as intermediate.
.PRECIOUS: $(SPLIT)/attr_%.txt
$(SPLIT)/attr_%.txt: $(SPLIT)/split.done ;
$(SHARDS)/%.lmdb: $(SPLIT)/attr_%.txt $(SHARDS)/%.args
	@mkdir -p $(SHARDS)
	$(BIN)/celeb-pack --force --attrs $(SPLIT)/attr_$*.txt --images $(IMAGES) \
	    $(call pack_line,$*) -o $@

# ---- training ----------------------------------------------------------------
# $(OUT)/train.args holds TRAIN_ARGS and the training shards, named relative to
# OUT (OUT/shards/NAME.lmdb: an OUT moved or copied elsewhere is the same run);
# it is rewritten only when they change. $(OUT)/run.args is what the run in RUN
# was last started or resumed with: train.args and, for each training shard, a
# fingerprint of what it was packed from and with (its split list, or a
# pipeline's own listing PACK_SOURCE_<name>, and its SHARDS/<name>.args, by
# cksum) and its labels. The stamp $(OUT)/train.done is written only when
# sg-train finished every iteration, and is remade when train.args or a
# training shard is newer. Then a RUN without a checkpoint starts (--force:
# nothing to keep); one with checkpoints is never deleted unasked:
# - nothing differs: it resumes (an interrupted run), or is done; a shard
#   packed again from the same list with the same options is the same data
#   (a split changed by mistake and changed back);
# - only what sg-train --resume takes differs (ITERS, DECAY, BATCH, N_CRITIC,
#   LR): it resumes with them; a run past ITERS, or finished with no iteration
#   left for them, stops and says what to do;
#   a finished run is trained on by a larger ITERS only when ITERS is given
#   (command line or environment), not by a default that grew: it is kept, and
#   train.done dated before train.args, so that the next make looks again;
# - anything else stops with one line naming it: CONV, G_REPEAT, D_REPEAT,
#   SEED or a shard's labels (FORCE=1 starts over); other shards, or a
#   training shard packed from another list or with other options (by mtime
#   for a run.args of a build before the fingerprints: packed after the run
#   last started): FORCE=1, or RESUME=1 goes on with them.
# run.args is written before sg-train runs, and put back when sg-train stopped
# before it took the run (config.json unchanged: options refused, say).
# FORCE=1 and RESUME=1 are taken from make's command line only (an exported
# FORCE must never wipe a run; the stop line says so when one is there).
# FORCE=1 starts over where anything differs, RESUME=1 resumes anyway
# (sg-train --resume checks what it can take); a run that matches resumes even
# with FORCE=1, so that the same command after a Ctrl-C goes on. LOG_EVERY,
# SAMPLE_EVERY, SAVE_EVERY and KEEP change no result; DEVICE and THREADS change
# only the last bits (on the CPU the thread count decides the order of sums, as
# the machine's OpenBLAS and CPU do; sg-train --resume says when they differ
# from the run's). None is in TRAIN_ARGS: they are given at every start and resume.
# The losses plot needs a logged iteration: a run shorter than LOG_EVERY logs
# its last one (LOG_EVERY is taken as ITERS then); LOG_EVERY=0 would log none.
ifeq ($(strip $(LOG_EVERY)),0)
$(error LOG_EVERY=0 logs no losses, and the pipeline plots them: give LOG_EVERY=N)
endif
FORCE_RUN = $(if $(filter command line,$(origin FORCE)),$(filter-out 0,$(strip $(FORCE))))
RESUME_RUN = $(if $(filter command line,$(origin RESUME)),$(filter-out 0,$(strip $(RESUME))))
# FORCE or RESUME set in the environment (not taken): named in the stop line.
RUN_ENV_IGNORED = $(strip $(foreach v,FORCE RESUME,$(if $(filter environment%,$(origin $(v))),$(if $(filter-out 0,$(strip $($(v)))),$(v)))))
ifneq ($(and $(FORCE_RUN),$(RESUME_RUN)),)
$(error FORCE=1 and RESUME=1: give one of them (FORCE=1 starts a run over, RESUME=1 goes on with it))
endif
LOG_EVERY_RUN = $(shell test '$(ITERS)' -lt '$(LOG_EVERY)' 2>/dev/null && echo '$(ITERS)' || echo '$(LOG_EVERY)')
TRAIN_ARGS = --g-conv-dim $(CONV) --d-conv-dim $(CONV) --g-repeat $(G_REPEAT) $(if $(D_REPEAT),--d-repeat $(D_REPEAT)) \
    --iters $(ITERS) --decay-iters $(DECAY) --batch $(BATCH) --n-critic $(N_CRITIC) --g-lr $(LR) --d-lr $(LR) --seed $(SEED)
RUN_ARGS = --log-every $(LOG_EVERY_RUN) --sample-every $(SAMPLE_EVERY) --save-every $(SAVE_EVERY) \
    --device $(DEVICE) --threads $(THREADS) $(if $(KEEP),--keep $(KEEP))

# A training shard as recorded: OUT/shards/NAME.lmdb; and its fingerprint and
# labels for run.args (shell text, run in the recipe after the shard is made).
shard_rel = $(patsubst $(OUT)/%,OUT/%,$(1))
shard_name = $(basename $(notdir $(1)))
shard_labels = $(or $(LABELS_$(call shard_name,$(1))),$(ATTRS_$(firstword $(subst _, ,$(call shard_name,$(1))))))
shard_record = --packed:$(call shard_rel,$(1)) $$(cat $(or $(PACK_SOURCE_$(call shard_name,$(1))),$(SPLIT)/attr_$(call \
    shard_name,$(1)).txt) $(SHARDS)/$(call shard_name,$(1)).args 2>/dev/null | cksum | tr ' ' -)$(if \
    $(call shard_labels,$(1)), --labels:$(call shard_rel,$(1)) $(call shard_labels,$(1)))

# Written while the makefile is read (not by a FORCE rule, whose untouched
# file make -j and make disagree about).
TRAIN_ARGS_LINE = $(strip $(TRAIN_ARGS)) $(call shard_rel,$(TRAIN_SHARDS))
$(shell mkdir -p '$(OUT)' && $(call write_args,$(OUT)/train.args,$(TRAIN_ARGS_LINE),false,))

# What to do with RUN (the rules above), from the environment: old and new (the
# run's record and this one: run.args, and train.args with the shards'
# fingerprints), at (its checkpoint's iteration; empty: none), newer (training
# shards packed after it last started, for a record without fingerprints), out
# (OUT, for the messages), env (FORCE or RESUME given in the environment),
# iters_given (not empty: ITERS given on the command line or in the environment).
# Prints --force, --resume, done or kept (a note before it on stderr), or stops with
# one line on stderr and exit 1. Option pairs are compared by name (numbers by
# value: LR=1e-4 is 0.0001; --seed as digits: seeds go up to 2^64-1, past
# awk's exact numbers); --log-every, --sample-every and --save-every, in the
# run.args of a build before they left TRAIN_ARGS, are left out. A shard
# recorded by a build before OUT/ (its absolute path) is taken as
# OUT/shards/NAME.
define TRAIN_MODE_AWK
function parse(line, a, order,   n, t, i, k, p) {
    n = split(line, t, " ")
    for (i = 1; i <= n; i++)
        if (t[i] ~ /^--/) { a[t[i]] = t[i + 1]; order[++k] = t[i]; i++ }
        else {
            p = t[i]
            if (p !~ /^OUT\// && match(p, /\/shards\/[^\/]+$$/)) p = "OUT" substr(p, RSTART)
            a["shards"] = a["shards"] (a["shards"] == "" ? "" : " ") p
        }
    order[++k] = "shards"
    return k
}
function digits(s) { s = s ""; sub(/^\+/, "", s); sub(/^0+/, "", s); return s == "" ? "0" : s }
function same(k, a, b) {
    if (k == "--seed") return digits(a) == digits(b)
    if (k == "shards" || k ~ /^--(packed|labels):/) return (a "") == (b "")
    return a == b
}
function show(p,   n, t, i, s) {
    n = split(p, t, " ")
    for (i = 1; i <= n; i++) s = s (i > 1 ? " " : "") (t[i] ~ /^OUT\// ? ENVIRON["out"] substr(t[i], 4) : t[i])
    return s
}
function add(list, item) { return list (list == "" ? "" : ", ") item }
function cmdline(offer,   e) {
    e = ENVIRON["env"]; sub(/ /, " and ", e)
    return "; give " offer " on make's command line" (e == "" ? "" : " (" e " in the environment " (e ~ / and / ? "are" : "is") " not taken)")
}
function stop(msg) { print msg > "/dev/stderr"; exit 1 }
BEGIN {
    n = split("--iters ITERS --decay-iters DECAY --batch BATCH --n-critic N_CRITIC --g-lr LR --d-lr LR", r, " ")
    for (i = 1; i < n; i += 2) { name[r[i]] = r[i + 1]; resumable[r[i]] = 1 }
    n = split("--g-conv-dim CONV --d-conv-dim CONV --g-repeat G_REPEAT --d-repeat D_REPEAT --seed SEED", r, " ")
    for (i = 1; i < n; i += 2) name[r[i]] = r[i + 1]
    skip["--log-every"] = skip["--sample-every"] = skip["--save-every"] = 1
    run = ENVIRON["run"]; at = ENVIRON["at"]; iters = ENVIRON["iters"] + 0
    if (at == "") { print "--force"; exit }
    at += 0
    n = parse(ENVIRON["new"], nw, no); m = parse(ENVIRON["old"], od, oo)
    nd = split(ENVIRON["newer"], t, " ")
    for (i = 1; i <= nd; i++) newer[t[i]] = 1
    for (k in od) if (k ~ /^--packed:/) fingerprints = 1
    for (i = 1; i <= n; i++) if (!seen[no[i]]++) keys[++nk] = no[i]
    for (i = 1; i <= m; i++) if (!seen[oo[i]]++) keys[++nk] = oo[i]
    for (i = 1; i <= nk; i++) {
        k = keys[i]; hn = k in nw; ho = k in od
        if (k ~ /^--packed:/) {
            # another fingerprint; none recorded (an older build): by mtime
            if (hn && (ho ? !same(k, nw[k], od[k]) : !fingerprints && (show(substr(k, 10)) in newer))) D = add(D, show(substr(k, 10)))
            continue
        }
        if (k ~ /^--labels:/) {
            if (hn && ho && !same(k, nw[k], od[k])) {
                d = "labels of " show(substr(k, 10)) " " od[k] " -> " nw[k]
                L = add(L, d); all = add(all, d)
            }
            continue
        }
        if (k in skip || (hn && ho && same(k, nw[k], od[k]))) continue
        if (k == "shards") {
            S = "TRAIN_SHARDS " (ho ? show(od[k]) : "none") " -> " (hn ? show(nw[k]) : "none")
            all = add(all, S)
            # another number of datasets: another model, sg-train refuses it
            if (split(od[k], t, " ") != split(nw[k], t, " ")) L = add(L, S)
            continue
        }
        v = k in name ? name[k] : k
        if (said[v]++) continue
        d = v " " (ho ? od[k] : "none") " -> " (hn ? nw[k] : "none")
        all = add(all, d)
        if (k in resumable) R = add(R, d); else O = add(O, d)
    }
    if (ENVIRON["old"] == "") O = "none recorded: no " ENVIRON["record"]
    fresh = "FORCE=1 starts over (deleting its checkpoints)"
    past = run " is at iteration " at ", past ITERS=" iters ": give ITERS=" at " or more to keep it, or FORCE=1 to start over (deleting its checkpoints)" cmdline("FORCE=1")
    if (all == "" && O == "" && D == "") {
        if (at > iters) stop(past)
        # done needs latest: sg-sample reads it, and sg-train --resume writes it back
        print at == iters && ENVIRON["nolatest"] == "" ? "done" : "--resume"; exit
    }
    if (ENVIRON["force"] != "") { print "--force"; exit }
    if (at > iters) stop(past)
    if (ENVIRON["resume"] != "") { print "--resume"; exit }
    if (O != "")
        stop(run " holds a run made with other options (" (ENVIRON["old"] == "" ? O : all) "): " fresh ", or move " run " away" cmdline("FORCE=1"))
    if (L != "")
        stop(run " holds another model (" L "): " fresh ", or move " run " away" cmdline("FORCE=1"))
    if (S != "" || D != "")
        stop(run " was trained on other data (" S (S != "" && D != "" ? "; " : "") D (D == "" ? "" : D ~ /, / ? " were packed since" : " was packed since") \
             "): " fresh ", RESUME=1 goes on with " (S != "" ? "these shards" : "the new shards") ", or move " run " away" cmdline("FORCE=1 or RESUME=1"))
    # a finished run is trained on only by an ITERS given (the pipelines' default
    # ITERS went from 200000 to the reference's 200000 rounds times the datasets)
    if (ENVIRON["iters_given"] == "" && ("--iters" in od) && at == od["--iters"] + 0 && iters > at) {
        print run " finished its " at " iterations; ITERS=" iters " is this pipeline's default now, not given: the run is kept as it is (give ITERS=" iters " on make's command line to train it on to " iters ")" > "/dev/stderr"
        print "kept"; exit
    }
    if (at == iters)
        stop(run " finished its " at " iterations with other options (" R "), which apply only to iterations still to train: give ITERS above " \
             at " to train on with them, or FORCE=1 to start over with them (deleting its checkpoints)" cmdline("FORCE=1"))
    print run ": resuming at iteration " at " with " R " (FORCE=1 starts over instead)" > "/dev/stderr"
    print "--resume"
}
endef
export TRAIN_MODE_AWK

$(OUT)/train.done: $(OUT)/train.args $(TRAIN_SHARDS)
	@$(call split_check,$(SPLIT),)
	@$(foreach n,$(own_shard_names),$(call own_shard_check,$(n));) :
	@at=; nolatest=; if test -e $(RUN)/latest || test -n "$$(ls -A $(RUN)/ckpt 2>/dev/null)"; then \
	    at=$$(sed -n '1s/^\([0-9][0-9]*\)$$/\1/p' $(RUN)/latest 2>/dev/null); \
	    : "no latest (a save killed before it): the newest checkpoint whose state file, written"; \
	    : "after its G and D, is there; sg-train --resume goes on from it and names it in latest"; \
	    test -n "$$at" || { nolatest=1; at=$$(ls $(RUN)/ckpt 2>/dev/null | sed -n 's/^\([0-9][0-9]*\)-state\.safetensors$$/\1/p' | sort -n | tail -n 1); }; \
	    at=$${at:-0}; \
	fi; \
	newer=; if test -e $(RUN)/config.json; then \
	    for s in $(TRAIN_SHARDS); do test $(RUN)/config.json -nt $$s || newer="$$newer $$s"; done; fi; \
	new="$$(cat $(OUT)/train.args) $(foreach s,$(TRAIN_SHARDS),$(call shard_record,$(s)))"; \
	mode=$$(run=$(RUN) at="$$at" nolatest="$$nolatest" iters='$(ITERS)' newer="$$newer" record=$(OUT)/run.args out='$(OUT)' \
	    old="$$(cat $(OUT)/run.args 2>/dev/null)" new="$$new" env='$(RUN_ENV_IGNORED)' \
	    force='$(FORCE_RUN)' resume='$(RESUME_RUN)' iters_given='$(filter command line environment%,$(origin ITERS))' \
	    LC_ALL=C awk "$$TRAIN_MODE_AWK") || exit 1; \
	if test "$$mode" = kept && test -n "$$nolatest"; then \
	    : "kept, but a save killed before latest: sg-train writes latest back (training nothing) for"; \
	    : "sg-sample; done and resumed runs never get here (without latest the main call resumes)"; \
	    echo "$(BIN)/sg-train -o $(RUN) --resume --iters $$at -q $(strip $(RUN_ARGS)) $(TRAIN_SHARDS)"; \
	    $(BIN)/sg-train -o $(RUN) --resume --iters $$at -q $(RUN_ARGS) $(TRAIN_SHARDS) || exit 1; \
	fi; \
	if test "$$mode" = kept; then \
	    : "train.done keeps its time (older than train.args, so the note comes again; not newer than the"; \
	    : "pictures made from the run, which would be made again); a missing one is dated just before"; \
	    test -e $@ || touch -d "@$$(($$(stat -c %Y $(OUT)/train.args) - 1))" $@; \
	    exit 0; \
	fi; \
	if test "$$mode" = done; then \
	    echo "$$new" > $(OUT)/run.args; \
	    if test -e $@; then touch -r $@ $(OUT)/train.args; else touch $@; fi; \
	    exit 0; \
	fi; \
	old=$$(cat $(OUT)/run.args 2>/dev/null); was=$$(stat -c %y $(RUN)/config.json 2>/dev/null); \
	echo "$$new" > $(OUT)/run.args; \
	echo "$(BIN)/sg-train -o $(RUN) $$mode $(strip $(TRAIN_ARGS)) $(strip $(RUN_ARGS)) $(TRAIN_SHARDS)"; \
	$(BIN)/sg-train -o $(RUN) $$mode $(TRAIN_ARGS) $(RUN_ARGS) $(TRAIN_SHARDS) && touch $@ && exit 0; \
	status=$$?; \
	if test "$$(stat -c %y $(RUN)/config.json 2>/dev/null)" = "$$was"; then \
	    if test -n "$$old"; then echo "$$old" > $(OUT)/run.args; else rm -f $(OUT)/run.args; fi; \
	fi; \
	exit $$status

# ---- pictures ----------------------------------------------------------------
$(OUT)/plots/losses.png: $(OUT)/train.done
	@mkdir -p $(@D)
	$(BIN)/sg-plot -q $(RUN)/history.jsonl -o $@

# Recipe for a grid of GRID_COUNT inputs of a shard, the last prerequisite (after
# $(OUT)/train.done); $(call sample_grid,OPTIONS) adds sg-sample options.
define sample_grid
@mkdir -p $(@D)
$(BIN)/sg-sample -q --ckpt $(RUN) --data $(lastword $^) --count $(GRID_COUNT) --device $(DEVICE) --threads $(THREADS) -o $@ $(1)
endef

# Recipe for NAME_attrs.png, the attribute bars of the shard $<; NAME_stats.json beside it.
define attr_bars
@mkdir -p $(@D)
$(BIN)/celeb-dump --stats --json $< > $(@:_attrs.png=_stats.json)
$(BIN)/sg-plot -q --bars $(@:_attrs.png=_stats.json) -o $@
endef

# The variables whose REF_ value is the reference's configuration (an
# experiment adds its own, e.g. RAFD_CROP), and $(ref_note): " (reference
# configuration)" when each has its REF_ value, numbers compared as numbers
# (LR=1e-4 is 0.0001), else " (not the reference configuration: SIZE=16
# (reference 128), ...)"; for a summary's title (shell text). An empty REF_
# value is sg-train's automatic choice: REF_AUTO_<name> (if set) is what that
# choice gives at the run's settings, and a value equal to it matches too
# (D_REPEAT=6 at SIZE=128; D_REPEAT=3 at SIZE=64 differs, reference automatic:
# 5 there).
REF_VARS = ATTRS SPLIT_BY TEST SPLIT_SEED CROP SIZE CONV G_REPEAT D_REPEAT ITERS DECAY BATCH N_CRITIC LR \
           LOG_EVERY SAMPLE_EVERY SAVE_EVERY
# sg-train's default --d-repeat (lib/trainer.c, sg_train_default_d_repeat):
# floor(log2(SIZE)) - 1, from 1 to 6; empty for a SIZE that is no number.
REF_AUTO_D_REPEAT = $(shell LC_ALL=C awk 'BEGIN { s = ARGV[1]; if (s !~ /^[0-9]+$$/) exit; \
    lg = 0; while (2 ^ (lg + 1) <= s + 0) lg++; r = lg - 1; print (r > 6 ? 6 : r < 1 ? 1 : r) }' '$(strip $(SIZE))')
REF_AUTO_NOTE_D_REPEAT = at SIZE=$(strip $(SIZE))
ref_note = $$(LC_ALL=C awk 'BEGIN { num = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$$"; \
    for (i = 1; i + 4 < ARGC; i += 5) { v = ARGV[i + 1]; r = ARGV[i + 2]; a = ARGV[i + 3]; \
        if ((v ~ num && r ~ num) ? (v + 0 == r + 0) : (v == r)) continue; \
        if (r == "" && a != "" && ((v ~ num && a ~ num) ? (v + 0 == a + 0) : (v == a))) continue; \
        d = d s ARGV[i] "=" v " (reference " (r != "" ? r : a != "" ? "automatic: " a " " ARGV[i + 4] : "unset") ")"; s = ", " } \
    print d == "" ? " (reference configuration)" : " (not the reference configuration: " d ")" }' \
    $(foreach v,$(REF_VARS),'$(v)' '$(strip $($(v)))' '$(strip $(REF_$(v)))' '$(strip $(REF_AUTO_$(v)))' \
    '$(strip $(REF_AUTO_NOTE_$(v)))'))

define summary_recipe
@echo
@echo "== $(SUMMARY_TITLE): $(OUT)"
@echo "pictures:"
@for f in $(PICTURES); do echo "  $$f"; done
@if [ -d $(RUN)/samples ]; then echo "  $(RUN)/samples/ (sample grids during training)"; fi
@echo "final losses (last line of $(RUN)/history.jsonl):"
@tail -n 1 $(RUN)/history.jsonl | sed 's/^/  /'
endef
