# The reference's single-dataset CelebA experiment (yunjey/stargan main.py defaults):
# five attributes, 178 center crop, 128 px, 200000 iterations with the learning
# rate decaying over the last 100000, batch 16, n_critic 5, conv_dim 64, 6 residual
# blocks, the reference's test split (random.seed(1234); shuffle; 1999 test images).
#
#   make -f pipelines/celeba.mk CELEBA=/path/to/celeba
#   make experiment CELEBA=/path/to/celeba EXPERIMENT=celeba
#
# CELEBA holds img_align_celeba/ and list_attr_celeba.txt (the official layout;
# celeb-synth writes the same). Outputs under OUT; each step's output is a real file
# or a stamp, so running it again redoes nothing that is done, and an interrupted
# training run is resumed. Every variable below can be given on the command line,
# e.g. the CI test shrinks it to seconds with SIZE=16 CONV=4 G_REPEAT=1 ITERS=4 TEST=5.

ifndef CELEBA
$(error CELEBA is not set: make -f pipelines/celeba.mk CELEBA=/path/to/celeba (img_align_celeba/, list_attr_celeba.txt))
endif
ifeq ($(wildcard $(CELEBA)/list_attr_celeba.txt),)
$(error CELEBA=$(CELEBA): no list_attr_celeba.txt there (expected CelebA's layout: img_align_celeba/, list_attr_celeba.txt))
endif
BIN ?= bin
OUT ?= experiments/celeba
ATTRS ?= Black_Hair,Blond_Hair,Brown_Hair,Male,Young
TEST ?= 1999
SPLIT_SEED ?= 1234
CROP ?= 178
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

# Every image (--rest), split as the reference's CelebA loader does.
$(SPLIT)/split.done: $(CELEBA)/list_attr_celeba.txt
	@mkdir -p $(SPLIT)
	$(BIN)/celeb-split -q --group celeba=$(ATTRS) --rest celeba --split reference \
	    --test-count $(TEST) --seed $(SPLIT_SEED) -o $(SPLIT) $< > $(SPLIT)/stats.txt
	touch $@

$(SHARDS)/celeba_%.lmdb: $(SPLIT)/split.done
	@mkdir -p $(SHARDS)
	$(BIN)/celeb-pack -q --force --attrs $(SPLIT)/attr_celeba_$*.txt --images $(CELEBA)/img_align_celeba \
	    --select $(ATTRS) --crop $(CROP) --size $(SIZE) -o $@

TRAIN_SHARDS = $(SHARDS)/celeba_train.lmdb
TRAIN_ARGS = --g-conv-dim $(CONV) --d-conv-dim $(CONV) --g-repeat $(G_REPEAT) $(if $(D_REPEAT),--d-repeat $(D_REPEAT)) \
    --iters $(ITERS) --decay-iters $(DECAY) --batch $(BATCH) --n-critic $(N_CRITIC) --g-lr $(LR) --d-lr $(LR) \
    --log-every $(LOG_EVERY) --sample-every $(SAMPLE_EVERY) --save-every $(SAVE_EVERY) --seed $(SEED)
include $(dir $(lastword $(MAKEFILE_LIST)))train.mk

$(OUT)/samples/test_grid.png: $(OUT)/train.done $(SHARDS)/celeba_test.lmdb
	@mkdir -p $(@D)
	$(BIN)/sg-sample -q --ckpt $(RUN) --data $(SHARDS)/celeba_test.lmdb --count $(GRID_COUNT) \
	    --device $(DEVICE) -o $@

$(OUT)/plots/losses.png: $(OUT)/train.done
	@mkdir -p $(@D)
	$(BIN)/sg-plot -q $(RUN)/history.jsonl -o $@

$(OUT)/plots/celeba_attrs.png: $(SHARDS)/celeba_train.lmdb
	@mkdir -p $(@D)
	$(BIN)/celeb-dump --stats --json $< > $(@D)/celeba_stats.json
	$(BIN)/sg-plot -q --bars $(@D)/celeba_stats.json -o $@

PICTURES = $(OUT)/samples/test_grid.png $(OUT)/plots/losses.png $(OUT)/plots/celeba_attrs.png

summary: $(PICTURES)
	@echo
	@echo "== CelebA experiment (reference configuration): $(OUT)"
	@echo "pictures:"
	@for f in $(PICTURES); do echo "  $$f"; done
	@echo "  $(RUN)/samples/ (sample grids during training)"
	@echo "final losses (last line of $(RUN)/history.jsonl):"
	@tail -n 1 $(RUN)/history.jsonl | sed 's/^/  /'
