# The seed's two-dataset experiment (CelebA split into celebA = hair attributes and
# celebB = accessories, one model with a mask vector) on real CelebA at the
# reference's full configuration: 178 center crop, 128 px, conv_dim 64, 6 residual
# blocks, 200000 rounds (decay over the last 100000), batch 16, n_critic 5, lr 1e-4, the
# reference's test split (1999 test images per dataset), on the GPU when there is one.
# ITERS counts sg-train's iterations, one batch of one dataset each: the reference's
# 200000 rounds over the two datasets are ITERS=400000 (the default; DECAY=200000,
# and the *_EVERY likewise doubled, pipelines/common.mk).
#
#   make experiment CELEBA=/path/to/celeba
#   make -f pipelines/celeba-split.mk CELEBA=/path/to/celeba
#
# The steps are pipelines/synthetic.mk's with the data taken from CELEBA
# (img_align_celeba/, list_attr_celeba.txt) and no scoring step (the judge reads
# synthetic faces only). Any variable can be overridden on the command line.

ifndef CELEBA
$(error CELEBA is not set: make -f pipelines/celeba-split.mk CELEBA=/path/to/celeba)
endif
OUT ?= experiments/celeba-split
TEST ?= 1999
SIZE ?= 128
CONV ?= 64
G_REPEAT ?= 6
# The reference's schedule, set here before synthetic.mk's short one: REF_ITERS
# etc. are pipelines/common.mk's (defined when it is included, before these are
# used), the reference's rounds times the datasets.
ITERS ?= $(REF_ITERS)
DECAY ?= $(REF_DECAY)
# synthetic.mk's own is 2e-4 (for its few thousand iterations); the reference's:
LR ?= 0.0001
LOG_EVERY ?= $(REF_LOG_EVERY)
SAMPLE_EVERY ?= $(REF_SAMPLE_EVERY)
SAVE_EVERY ?= $(REF_SAVE_EVERY)
GRID_COUNT ?= 16
include $(dir $(lastword $(MAKEFILE_LIST)))synthetic.mk
