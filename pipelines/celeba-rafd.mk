# The reference's multi-dataset experiment (yunjey/stargan --dataset Both): CelebA
# (five attributes) and RaFD (eight expressions, one class per folder) trained as one
# model with a mask vector, then CelebA test images translated to every CelebA
# attribute and every RaFD expression (solver.py test_multi). The reference's
# configuration: CelebA 178 crop, RaFD 256 crop, 128 px, 200000 iterations (decay
# over the last 100000), batch 16, n_critic 5, conv_dim 64, 6 residual blocks.
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
ifeq ($(wildcard $(CELEBA)/list_attr_celeba.txt),)
$(error CELEBA=$(CELEBA): no list_attr_celeba.txt there (expected CelebA's layout: img_align_celeba/, list_attr_celeba.txt))
endif
BIN ?= bin
OUT ?= experiments/celeba-rafd
ATTRS ?= Black_Hair,Blond_Hair,Brown_Hair,Male,Young
TEST ?= 1999
SPLIT_SEED ?= 1234
CROP ?= 178
RAFD_CROP ?= 256
SIZE ?= 128
CONV ?= 64
G_REPEAT ?= 6
D_REPEAT ?=
ITERS ?= 200000
DECAY ?= 100000
BATCH ?= 16
N_CRITIC ?= 5
LR ?= 0.0001
LOG_EVERY ?= 10
SAMPLE_EVERY ?= 1000
SAVE_EVERY ?= 10000
SEED ?= 0
DEVICE ?= auto
THREADS ?= 0
GRID_COUNT ?= 16

SPLIT  = $(OUT)/split
SHARDS = $(OUT)/shards
RUN    = $(OUT)/run

.PHONY: all summary FORCE
.DELETE_ON_ERROR:
# Keep every intermediate output (shards, stamps): nothing is remade needlessly.
.SECONDARY:
all: summary

$(SPLIT)/split.done: $(CELEBA)/list_attr_celeba.txt
	@mkdir -p $(SPLIT)
	$(BIN)/celeb-split -q --group CelebA=$(ATTRS) --rest CelebA --split reference \
	    --test-count $(TEST) --seed $(SPLIT_SEED) -o $(SPLIT) $< > $(SPLIT)/stats.txt
	touch $@

$(SHARDS)/CelebA_%.lmdb: $(SPLIT)/split.done
	@mkdir -p $(SHARDS)
	$(BIN)/celeb-pack -q --force --attrs $(SPLIT)/attr_CelebA_$*.txt --images $(CELEBA)/img_align_celeba \
	    --select $(ATTRS) --crop $(CROP) --size $(SIZE) -o $@

# The class folders are the prerequisite: a folder's time changes when files are
# added or removed.
$(SHARDS)/RaFD.lmdb: $(RAFD) $(wildcard $(RAFD)/*/)
	@mkdir -p $(SHARDS)
	$(BIN)/celeb-pack -q --force --folders $(RAFD) --crop $(RAFD_CROP) --size $(SIZE) -o $@

TRAIN_SHARDS = $(SHARDS)/CelebA_train.lmdb $(SHARDS)/RaFD.lmdb
TRAIN_ARGS = --g-conv-dim $(CONV) --d-conv-dim $(CONV) --g-repeat $(G_REPEAT) $(if $(D_REPEAT),--d-repeat $(D_REPEAT)) \
    --iters $(ITERS) --decay-iters $(DECAY) --batch $(BATCH) --n-critic $(N_CRITIC) --g-lr $(LR) --d-lr $(LR) \
    --log-every $(LOG_EVERY) --sample-every $(SAMPLE_EVERY) --save-every $(SAVE_EVERY) --seed $(SEED)
include $(dir $(lastword $(MAKEFILE_LIST)))train.mk

# CelebA test images to every CelebA attribute and every RaFD expression (test_multi),
# and some RaFD images the same way.
$(OUT)/samples/celeba_test_grid.png: $(OUT)/train.done $(SHARDS)/CelebA_test.lmdb
	@mkdir -p $(@D)
	$(BIN)/sg-sample -q --ckpt $(RUN) --data $(SHARDS)/CelebA_test.lmdb --count $(GRID_COUNT) \
	    --device $(DEVICE) -o $@

$(OUT)/samples/rafd_grid.png: $(OUT)/train.done $(SHARDS)/RaFD.lmdb
	@mkdir -p $(@D)
	$(BIN)/sg-sample -q --ckpt $(RUN) --data $(SHARDS)/RaFD.lmdb --count $(GRID_COUNT) --seed 1 \
	    --device $(DEVICE) -o $@

$(OUT)/plots/losses.png: $(OUT)/train.done
	@mkdir -p $(@D)
	$(BIN)/sg-plot -q $(RUN)/history.jsonl -o $@

$(OUT)/plots/%_attrs.png: $(SHARDS)/%.lmdb
	@mkdir -p $(@D)
	$(BIN)/celeb-dump --stats --json $< > $(@D)/$*_stats.json
	$(BIN)/sg-plot -q --bars $(@D)/$*_stats.json -o $@

PICTURES = $(OUT)/samples/celeba_test_grid.png $(OUT)/samples/rafd_grid.png $(OUT)/plots/losses.png \
           $(OUT)/plots/CelebA_train_attrs.png $(OUT)/plots/RaFD_attrs.png

summary: $(PICTURES)
	@echo
	@echo "== CelebA + RaFD experiment (reference configuration): $(OUT)"
	@echo "pictures:"
	@for f in $(PICTURES); do echo "  $$f"; done
	@echo "  $(RUN)/samples/ (sample grids during training)"
	@echo "final losses (last line of $(RUN)/history.jsonl):"
	@tail -n 1 $(RUN)/history.jsonl | sed 's/^/  /'
