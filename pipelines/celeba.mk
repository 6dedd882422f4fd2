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
# training run is resumed. Every variable here or in pipelines/common.mk can be
# given on the command line, e.g. shrunk to seconds with
# SIZE=16 CONV=4 G_REPEAT=1 ITERS=4 TEST=5.

ifndef CELEBA
$(error CELEBA is not set: make -f pipelines/celeba.mk CELEBA=/path/to/celeba (img_align_celeba/, list_attr_celeba.txt))
endif
# The reference's configuration is pipelines/common.mk's default.
OUT ?= experiments/celeba
DATA = $(CELEBA)
# Every image (--rest), split as the reference's CelebA loader does.
SPLIT_GROUPS = --group celeba=$(ATTRS) --rest celeba
ATTRS_celeba = $(ATTRS)
TRAIN_SHARDS = $(SHARDS)/celeba_train.lmdb
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk

$(OUT)/samples/test_grid.png: $(OUT)/train.done $(SHARDS)/celeba_test.lmdb
	$(sample_grid)

$(OUT)/plots/celeba_attrs.png: $(SHARDS)/celeba_train.lmdb
	$(attr_bars)

PICTURES = $(OUT)/samples/test_grid.png $(OUT)/plots/losses.png $(OUT)/plots/celeba_attrs.png
SUMMARY_TITLE = CelebA experiment$(ref_note)
summary: $(PICTURES)
	$(summary_recipe)
