# The reference's multi-dataset experiment (yunjey/stargan --dataset Both): CelebA
# (five attributes) and RaFD (eight expressions, one class per folder) trained as one
# model with a mask vector, then CelebA test images translated to every CelebA
# attribute and every RaFD expression (solver.py test_multi). The reference's
# configuration: CelebA 178 crop, RaFD 256 crop, 128 px, 200000 rounds (decay
# over the last 100000), batch 16, n_critic 5, conv_dim 64, 6 residual blocks.
# ITERS counts sg-train's iterations, one batch of one dataset each: the reference's
# 200000 rounds over the two datasets are ITERS=400000 (the default; DECAY=200000,
# and the *_EVERY likewise doubled, pipelines/common.mk).
#
#   make experiment CELEBA=/path/to/celeba RAFD=/path/to/RaFD/train
#   make -f pipelines/celeba-rafd.mk CELEBA=/path/to/celeba RAFD=/path/to/RaFD/train
#
# CELEBA holds img_align_celeba/ and list_attr_celeba.txt; RAFD one folder per class
# (angry/, contemptuous/, ...; celeb-pack --folders). Outputs under OUT; running it
# again redoes nothing that is done; an interrupted training run is resumed. Any
# variable can be overridden on the command line (the CI test shrinks it to seconds).

ifndef CELEBA
$(error CELEBA is not set: make -f pipelines/celeba-rafd.mk CELEBA=/path/to/celeba RAFD=/path/to/RaFD/train)
endif
ifndef RAFD
$(error RAFD is not set: make -f pipelines/celeba-rafd.mk CELEBA=/path/to/celeba RAFD=/path/to/RaFD/train)
endif
ifneq ($(shell test -d '$(RAFD)' && echo yes),yes)
$(error RAFD=$(RAFD): not a directory (expected one folder per class, as celeb-pack --folders reads))
endif
# The reference's configuration is pipelines/common.mk's default; RaFD's crop:
OUT ?= experiments/celeba-rafd
REF_RAFD_CROP := 256
RAFD_CROP ?= $(REF_RAFD_CROP)
DATA = $(CELEBA)
SPLIT_GROUPS = --group CelebA=$(ATTRS) --rest CelebA
ATTRS_CelebA = $(ATTRS)
TRAIN_SHARDS = $(SHARDS)/CelebA_train.lmdb $(SHARDS)/RaFD.lmdb
# What RaFD.lmdb is packed with (its SHARDS/RaFD.args) and from (the listing
# below, its fingerprint in a run's record), pipelines/common.mk.
PACK_ARGS_RaFD = --crop $(RAFD_CROP) --size $(SIZE)
PACK_SOURCE_RaFD = $(RAFD_LIST)
# The folder named when RaFD.lmdb holds fewer images than BATCH (common.mk's
# own_shard_check, before sg-train).
PACK_DIR_RaFD = $(RAFD)
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk

# RaFD.lmdb depends on $(OUT)/rafd.list, a listing of what celeb-pack --folders
# reads from RAFD: the class folders' names and, in each, the names, sizes and
# modification times of its .jpg, .jpeg and .png files (hidden entries left out,
# symbolic links followed, as celeb-pack does). Make cannot name a path with a
# space (a class folder such as 'very sad') as a prerequisite, so the listing
# stands for them: it is rewritten while the makefile is read (as train.args),
# and only when it differs, so a class or image added, removed or renamed, or an
# image rewritten, packs the shard again (a run trained on the old one then
# waits for FORCE=1 or RESUME=1, pipelines/common.mk); other files and a second
# make leave it as it is. Not seen: an image changed with its size and time kept.
# A first listing beside a shard that nothing in RAFD is newer than (an
# experiment made before the listing existed) takes the shard's time, so that
# it neither repacks the shard nor retrains the run from the start.
RAFD_LIST = $(OUT)/rafd.list
$(shell mkdir -p '$(OUT)' && LC_ALL=C find -L '$(RAFD)' -mindepth 1 -maxdepth 2 -name '.*' -prune -o \
    -printf '%d\t%y\t%P\t%s\t%T@\n' 2>/dev/null | LC_ALL=C awk -F '\t' \
    '$$1 == 1 && $$2 == "d" { print $$3 } $$1 == 2 && $$2 == "f" && tolower($$3) ~ /\.(jpe?g|png)$$/ { print $$3 "\t" $$4 "\t" $$5 }' | \
    LC_ALL=C sort > '$(RAFD_LIST).new' && \
    { cmp -s '$(RAFD_LIST).new' '$(RAFD_LIST)' && rm -f '$(RAFD_LIST).new' || \
      { test ! -e '$(RAFD_LIST)' && test -d '$(SHARDS)/RaFD.lmdb' && \
        test -z "$$(find -L '$(RAFD)' -mindepth 1 -maxdepth 2 -newer '$(SHARDS)/RaFD.lmdb' -print -quit 2>/dev/null)" && \
        touch -r '$(SHARDS)/RaFD.lmdb' '$(RAFD_LIST).new'; mv -f '$(RAFD_LIST).new' '$(RAFD_LIST)'; }; })
# RaFD's labels for run.args (pipelines/common.mk's shard_labels): its class
# folders, from the listing, spaces as _. A class added or removed is another
# model, as a changed ATTRS is: the run stops without offering RESUME=1, which
# sg-train would refuse.
LABELS_RaFD := $(shell LC_ALL=C awk -F '\t' 'NF == 1 { gsub(/ /, "_"); printf "%s%s", sep, $$0; sep = "," }' \
    '$(RAFD_LIST)' 2>/dev/null)

$(SHARDS)/RaFD.lmdb: $(RAFD_LIST) $(SHARDS)/RaFD.args
	@mkdir -p $(SHARDS)
	$(BIN)/celeb-pack --force --folders '$(RAFD)' $(PACK_ARGS_RaFD) -o $@

# CelebA test images to every CelebA attribute and every RaFD expression (test_multi),
# and some RaFD images the same way.
$(OUT)/samples/celeba_test_grid.png: $(OUT)/train.done $(SHARDS)/CelebA_test.lmdb
	$(sample_grid)

$(OUT)/samples/rafd_grid.png: $(OUT)/train.done $(SHARDS)/RaFD.lmdb
	$(call sample_grid,--seed 1)

$(OUT)/plots/%_attrs.png: $(SHARDS)/%.lmdb
	$(attr_bars)

PICTURES = $(OUT)/samples/celeba_test_grid.png $(OUT)/samples/rafd_grid.png $(OUT)/plots/losses.png \
           $(OUT)/plots/CelebA_train_attrs.png $(OUT)/plots/RaFD_attrs.png
REF_VARS += RAFD_CROP
SUMMARY_TITLE = CelebA + RaFD experiment$(ref_note)
summary: $(PICTURES)
	$(summary_recipe)
