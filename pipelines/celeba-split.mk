# The seed's two-dataset experiment (CelebA split into celebA = hair attributes and
# celebB = accessories, one model with a mask vector) on real CelebA at the
# reference's full configuration: 178 center crop, 128 px, conv_dim 64, 6 residual
# blocks, 200000 iterations (decay over the last 100000), batch 16, n_critic 5, lr 1e-4, the
# reference's test split (1999 test images per dataset), on the GPU when there is one.
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
ITERS ?= 200000
DECAY ?= 100000
# synthetic.mk's own is 2e-4 (for its few thousand iterations); the reference's:
LR ?= 0.0001
LOG_EVERY ?= 10
SAMPLE_EVERY ?= 1000
SAVE_EVERY ?= 10000
GRID_COUNT ?= 16
include $(dir $(lastword $(MAKEFILE_LIST)))synthetic.mk
