# stargan-c — build, deps, test, bench, install, experiment.
# `make` builds every tool into bin/; `make test` and `make experiment` install
# missing Debian packages first (as root), so on a fresh Debian 12 machine those
# two commands are the whole set-up.

# PREFIX, or GNU's lower-case prefix; DESTDIR stages an install (packages).
prefix    ?= /usr/local
PREFIX    ?= $(prefix)
CC        ?= cc
CFLAGS    ?= -O2 -g
CXXFLAGS  ?= -O2 -g
VERSION   := 0.1.0

# nvcc: $(CUDA_HOME)/bin/nvcc, else the one on PATH (whose CUDA_HOME is then
# the directory above its bin/). NVCC may be a path or a name on PATH.
NVCC_ORIGIN := $(origin NVCC)
ifeq ($(origin NVCC),undefined)
NVCC := $(shell p='$(or $(CUDA_HOME),/usr/local/cuda)/bin/nvcc'; test -x "$$p" && echo "$$p" || command -v nvcc)
ifeq ($(origin CUDA_HOME),undefined)
ifneq ($(NVCC),)
CUDA_HOME := $(patsubst %/bin/nvcc,%,$(NVCC))
endif
endif
endif
CUDA_HOME ?= /usr/local/cuda
NVCC_FOUND := $(if $(NVCC),$(shell command -v '$(NVCC)' 2>/dev/null))
NVCC := $(or $(NVCC_FOUND),$(NVCC),$(CUDA_HOME)/bin/nvcc)
comma := ,
# The GPU architectures the kernels are compiled for: compute capabilities
# without the dot (90, or a list: make CUDA_ARCH="80 90"). Only 90 is tested.
CUDA_ARCH ?= 90
NVCCFLAGS ?= -O3

OPENBLAS_INC := /usr/include/x86_64-linux-gnu/openblas-pthread
# GCC's -Wformat-truncation flags every snprintf that truncates on purpose;
# clang has no such warning and warns about the option (make CC=clang)
NO_FORMAT_TRUNCATION := $(shell $(CC) -Werror -Wno-format-truncation -x c -c /dev/null -o /dev/null 2>/dev/null && \
                          echo -Wno-format-truncation)
ALL_CFLAGS = -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare $(NO_FORMAT_TRUNCATION) \
             -Ilib -Itools/cli -I$(OPENBLAS_INC) -pthread -MMD -MP \
             $(CUDA_DEFS) $(CPPFLAGS) $(CFLAGS)
# OpenBLAS is not linked: the CPU backend dlopen's it with no threads of its
# own (lib/backend_cpu.c, blas_open); its headers come from OPENBLAS_INC.
# BASE_LIBS: every link but CUDA's (the emulated builds too); the scripts
# that link on their own get it from `make -s print-libs`.
BASE_LIBS = -llmdb -lturbojpeg -ljpeg -lpng -lz -lm -ldl -lpthread
LDLIBS    = $(BASE_LIBS) $(CUDA_LIBS)

# The CUDA backend is built whenever nvcc and cuDNN are present (no GPU needed).
# `make CUDA=0` forces a CPU-only build, `make CUDA=1` a CUDA one. A CUDA
# given this way is kept in build/config.mk: a later make, make test or make
# install without it builds the same way (make clean forgets it).
ifneq ($(CUDA),)
CUDA_WHY := built with CUDA=$(CUDA)
CUDA_NOTE := CUDA=$(CUDA) given
else ifneq ($(wildcard build/config.mk),)
include build/config.mk
CUDA := $(KEPT_CUDA)
CUDA_WHY := built with CUDA=$(CUDA)
CUDA_NOTE := CUDA=$(CUDA) kept from an earlier make CUDA=$(CUDA) (build/config.mk; make clean forgets it)
endif
ifeq ($(CUDA),)
ifeq ($(NVCC_FOUND),)
CUDA := 0
CUDA_WHY := $(if $(filter undefined,$(NVCC_ORIGIN)),no nvcc at $(CUDA_HOME)/bin/nvcc or on PATH,NVCC=$(NVCC) was not found) at build time
else ifeq ($(wildcard $(CUDA_HOME)/include/cudnn.h /usr/include/cudnn.h),)
CUDA := 0
CUDA_WHY := nvcc was found but not cudnn.h at build time
else
CUDA := 1
CUDA_WHY := $(NVCC_FOUND) and cuDNN found
endif
endif
ifeq ($(CUDA),1)
CUDA_DEFS = -DSG_HAVE_CUDA=1 -I$(CUDA_HOME)/include
# The CUDA runtime is linked statically (it loads the driver itself), and
# cuDNN and cuBLAS are not linked: kernels/cudnn_api.cu and conv_gemm.cu load
# them (dlopen) when a CUDA backend starts, so a CUDA build's tools start
# without them. The links that can start a backend get an rpath to find them.
CUDA_LIBS  = -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lpthread
CUDA_RPATH = -Wl,-rpath,$(CUDA_HOME)/lib64
CU_SRC   := $(wildcard kernels/*.cu)
endif
# CUDA_ARCH as sm numbers (80 or sm_80): one is -arch=sm_NN (SASS and PTX),
# several a -gencode each. The backend names them and refuses a GPU older
# than the oldest (kernels/backend_cuda.cu, open_device).
CUDA_ARCHS := $(patsubst sm_%,%,$(patsubst compute_%,%,$(CUDA_ARCH)))
CUDA_ARCH_MIN := $(shell printf '%s\n' $(CUDA_ARCHS) | sed 's/[^0-9].*//' | sort -n | head -n 1)
# nvcc's native and all cannot be checked against the GPU: refused, as is an empty one
ifeq ($(CUDA),1)
ifneq ($(if $(CUDA_ARCH_MIN),$(shell printf '%s\n' $(CUDA_ARCHS) | grep -vx '[0-9][0-9]*[a-z]*'),bad),)
$(error CUDA_ARCH=$(CUDA_ARCH): give compute capabilities without the dot, such as 90 or "80 90")
endif
endif
CUDA_ARCH_DEFS = -DSG_CUDA_ARCHS='"$(CUDA_ARCHS)"' -DSG_CUDA_ARCH_MIN=$(CUDA_ARCH_MIN)
NVCC_ARCH = $(if $(word 2,$(CUDA_ARCHS)),$(foreach a,$(CUDA_ARCHS),-gencode 'arch=compute_$a$(comma)code=[sm_$a$(comma)compute_$a]'),-arch=sm_$(CUDA_ARCHS))
ALL_NVCCFLAGS = $(strip -std=c++17 $(NVCC_ARCH) -Xcompiler -fPIC -Ilib -Ikernels $(CPPFLAGS) -DSG_HAVE_CUDA=1 $(CUDA_ARCH_DEFS) $(NVCCFLAGS))
CU_OBJ := $(CU_SRC:kernels/%.cu=build/kernels/%.o)
# The same CUDA sources built with the host compiler against a CPU emulation
# of the CUDA runtime and cuDNN (tests/emu): test_cuda_ops runs where there is
# no GPU, CI included.
EMU_OBJ := $(CU_SRC:kernels/%.cu=build/emu/%.o) $(if $(CU_SRC),build/emu/cudart_emu.o build/emu/cudnn_emu.o build/emu/cublas_emu.o)
EMU_CXXFLAGS = -std=c++17 -Wall -Wno-unused-parameter -Wno-sign-compare -Wno-unused-function -Wno-comment -Wno-unknown-pragmas -Wno-format-truncation \
               -Itests/emu/include -Itests/emu -I$(CUDA_HOME)/include -Ilib -Ikernels $(CPPFLAGS) -DSG_HAVE_CUDA=1 $(CUDA_ARCH_DEFS) -MMD -MP $(CXXFLAGS)
EMU_TESTS := $(if $(CU_SRC),build/tests/test_emu_runtime build/tests/test_cudnn_emu build/tests/test_cuda_ops_emu build/tests/test_model_gtape_emu build/tests/test_model_overlap_emu \
                 build/tests/test_model_inference_emu build/tests/test_cuda_op_times_emu build/emu-bin/sg-train build/emu-bin/sg-sample \
                 build/emu-bin/train-step-bench)

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:lib/%.c=build/lib/%.o)
CLI_OBJ  := build/cli/cli.o
TOOL_SRC := $(wildcard tools/*.c)
TOOLS    := $(TOOL_SRC:tools/%.c=bin/%)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNITS    := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
LIBSG    := build/libstargan.a

.PHONY: all tools deps test unit cli-test bench install uninstall clean experiment gpu-check print-libs check-headers
all: $(TOOLS) $(UNITS) $(EMU_TESTS)

# The tools' and tests' objects are made through pattern rules only, so make
# would delete them as intermediate files after linking, and the next make,
# which then knows them from their .d files, would compile them again.
.SECONDARY: $(TOOL_SRC:tools/%.c=build/tools/%.o) $(CLI_OBJ) $(UNIT_SRC:tests/unit/%.c=build/tests/%.o)

# The headers the build needs, as HEADER:DEBIAN-PACKAGE. They are checked once,
# before the first compile, so that a machine without them gets one line naming
# what to install rather than a compiler error (`make` does not install; `make
# deps`, `make test` and `make experiment` do).
BUILD_HEADERS ?= lmdb.h:liblmdb-dev turbojpeg.h:libturbojpeg0-dev jpeglib.h:libjpeg62-turbo-dev \
                 png.h:libpng-dev zlib.h:zlib1g-dev cblas.h:libopenblas-dev
check-headers:
	@missing=; for hp in $(BUILD_HEADERS); do \
	  printf '#include <%s>\n' "$${hp%%:*}" | $(CC) $(filter-out -MMD -MP,$(ALL_CFLAGS)) -E -x c - -o /dev/null 2>/dev/null \
	    || missing="$$missing $$hp"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make: cannot build: missing headers$$(for hp in $$missing; do printf ' %s (%s)' "$${hp%%:*}" "$${hp#*:}"; done)" >&2; \
	  echo "make: run 'make deps' as root to install them, or: apt-get install$$(for hp in $$missing; do printf ' %s' "$${hp#*:}"; done)" >&2; \
	  exit 1; fi
build/.headers-ok:
	@$(MAKE) --no-print-directory check-headers
	@mkdir -p $(@D) && touch $@

# A stamp's rule is forced only when its text differs from the file's, so
# that make -q and make -n see an up-to-date tree as up to date; the file is
# rewritten only then, and what depends on it is remade only then.
stamp_changed = $(if $(subst x$(file <$1),,x$2)$(subst x$2,,x$(file <$1)),FORCE)
stamp_write_to = mkdir -p $(dir $1) && printf '%s\n' '$(subst ','\'',$2)' > $1.tmp && { cmp -s $1.tmp $1 && rm -f $1.tmp || mv $1.tmp $1; }
stamp_write = $(call stamp_write_to,$@,$1)

# The build's name (lib/version.h): VERSION, and the git commit when this
# directory is a git checkout's top. Only lib/version.c sees it, and
# build/version-id changes only when the name does, so a commit relinks the
# tools but recompiles one file. safe.directory: git refuses a checkout another
# user owns (`su -c 'make install'`, a container over a mounted tree), and the
# name would lose its commit and every tool be relinked.
GIT_HERE = git -c safe.directory='$(CURDIR)'
BUILD_NAME := $(VERSION)$(shell [ "$$($(GIT_HERE) rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ] && \
    h=$$($(GIT_HERE) rev-parse --short=12 HEAD 2>/dev/null) && \
    { $(GIT_HERE) diff --quiet HEAD -- 2>/dev/null && echo " (git $$h)" || echo " (git $$h, modified)"; })
build/version-id: $(call stamp_changed,build/version-id,$(BUILD_NAME)) | build/.headers-ok
	@$(call stamp_write,$(BUILD_NAME))
build/lib/version.o: build/version-id
build/lib/version.o: ALL_CFLAGS += -DSG_VERSION='"$(BUILD_NAME)"'
# The compiler (its --version line, the program's name left out) and the C
# flags, hashed (lib/version.h sg_cflags_id): the same commit built otherwise
# may sum in another order, and a run records the hash. The compiler's line is
# in build/config-id too (below), so an upgraded compiler rebuilds every object
# and the hash says what built them all.
CC_VERSION := $(shell $(CC) --version 2>/dev/null | sed -n '1s/^[^ ]* //p')
CFLAGS_ID := $(shell printf '%s\n' '$(subst ','\'',$(CC_VERSION))' '$(subst ','\'',$(CPPFLAGS) $(CFLAGS))' | \
    sha256sum | cut -c1-8)
build/lib/version.o: ALL_CFLAGS += -DSG_CFLAGS_ID='"$(CFLAGS_ID)"'
.PHONY: FORCE

# The build's configuration: what changes a tool, as NAME=value fields.
# Every object depends on build/config-id, which changes only when the
# configuration does, so `make CUDA=0` after a CUDA build (or CC=clang, or
# other CFLAGS) rebuilds and relinks everything the same way, never a mix.
# CUDA's fields only where it is built. build/config.mk is written with it
# (a CUDA given on the command line, above), also where only it differs.
CONFIG_FIELDS = CUDA CC CPPFLAGS CFLAGS LDFLAGS $(if $(filter 1,$(CUDA)),CUDA_HOME NVCC NVCCFLAGS CUDA_ARCH)
config_value = $(if $(filter CC,$1),$(CC)$(if $(CC_VERSION), $(CC_VERSION)),$(if $(filter CUDA_ARCH,$1),$(CUDA_ARCHS),$($1)))
CONFIG_ID = $(subst ;<end>,,$(foreach f,$(CONFIG_FIELDS),$f=$(call config_value,$f);)<end>)
CONFIG_MK = $(if $(CUDA_NOTE),KEPT_CUDA := $(CUDA))
build/config-id: $(call stamp_changed,build/config-id,$(CONFIG_ID)) $(call stamp_changed,build/config.mk,$(CONFIG_MK))
	@$(call stamp_write,$(CONFIG_ID))
	@$(if $(CONFIG_MK),$(call stamp_write_to,build/config.mk,$(CONFIG_MK)),rm -f build/config.mk)
# What builds only the tests on the CPU emulation of CUDA (never installed)
EMU_ID = CXX=$(CXX); CXXFLAGS=$(CXXFLAGS)
build/emu-id: $(call stamp_changed,build/emu-id,$(EMU_ID))
	@$(call stamp_write,$(EMU_ID))

# `make install` builds the tools where they are not built, but it does not
# rebuild a tree whose tools another configuration built: as root in a user's
# tree that would leave root-owned files there, and install another build
# than the one made. sudo's environment has no CUDA_HOME, CFLAGS or PATH of
# the user's, so the message names the fields that differ and how to give them.
CONFIG_DIFF_AWK = BEGIN { FS = "; " } \
  { for (i = 1; i <= NF; i++) { k = $$i; sub(/=.*/, "", k); v = substr($$i, length(k) + 2); \
      if (!(k in was) && !(k in now)) keys[++n] = k; if (NR == 1) was[k] = v; else now[k] = v } } \
  function show(a, k) { return !(k in a) ? "unused" : a[k] == "" ? "(empty)" : a[k] } \
  END { for (j = 1; j <= n; j++) { k = keys[j]; if (show(was, k) == show(now, k)) continue; \
          d = d s k ": built " show(was, k) ", now " show(now, k); s = "; "; \
          if (k != "CC" && (k in was)) { q = was[k]; if (q !~ /^[-A-Za-z0-9_.\/:=,+@%]+$$/) q = "\047" q "\047"; g = g " " k "=" q } } \
        printf "%s. sudo drops the environment: run sudo -E make install%s (or run make with the settings of the install first)", \
          d, g == "" ? "" : ", or give the build\047s settings: make install" g }
ifneq ($(filter install,$(MAKECMDGOALS)),)
ifneq ($(wildcard build/config-id),)
ifneq ($(call stamp_changed,build/config-id,$(CONFIG_ID)),)
$(error make install: this tree was built with other settings than make install has: $(shell printf '%s\n' \
  '$(subst ','\'',$(file <build/config-id))' '$(subst ','\'',$(CONFIG_ID))' | awk '$(CONFIG_DIFF_AWK)'))
endif
endif
endif

# Why a CPU-only build has no CUDA backend, for the stub's --device cuda
# message: a stamp of its own, so that another reason recompiles one object,
# and make install (whose root may find no nvcc where the user found one
# without cuDNN) keeps the build's.
NO_CUDA_WHY := $(if $(filter 1,$(CUDA)),,$(subst ',,$(subst ",,$(CUDA_WHY))))
ifneq ($(filter install,$(MAKECMDGOALS)),)
NO_CUDA_WHY := $(if $(wildcard build/no-cuda-why),$(file <build/no-cuda-why),$(NO_CUDA_WHY))
endif
build/no-cuda-why: $(call stamp_changed,build/no-cuda-why,$(NO_CUDA_WHY))
	@$(call stamp_write,$(NO_CUDA_WHY))
build/lib/backend_cuda_stub.o: build/no-cuda-why
build/lib/backend_cuda_stub.o: ALL_CFLAGS += -DSG_NO_CUDA_WHY='"$(NO_CUDA_WHY)"'
build/lib/%.o: lib/%.c build/config-id | build/.headers-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
build/cli/%.o: tools/cli/%.c build/config-id | build/.headers-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
build/tools/%.o: tools/%.c build/config-id | build/.headers-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
build/tests/%.o: tests/unit/%.c build/config-id | build/.headers-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -c $< -o $@
build/kernels/%.o: kernels/%.cu $(wildcard kernels/*.cuh) $(wildcard lib/*.h) build/config-id
	@mkdir -p $(@D)
	$(NVCC) $(ALL_NVCCFLAGS) -c $< -o $@

build/emu/%.cc: kernels/%.cu tests/emu/unchevron.pl
	@mkdir -p $(@D)
	perl tests/emu/unchevron.pl $< > $@.tmp && mv $@.tmp $@
build/emu/%.o: build/emu/%.cc build/config-id build/emu-id
	$(CXX) $(EMU_CXXFLAGS) -c $< -o $@
build/emu/%.o: tests/emu/%.cc build/config-id build/emu-id
	@mkdir -p $(@D)
	$(CXX) $(EMU_CXXFLAGS) -c $< -o $@
.SECONDARY: $(CU_SRC:kernels/%.cu=build/emu/%.cc) $(EMU_OBJ)

build/tests/%_emu: build/tests/%.o $(EMU_OBJ) $(LIB_OBJ)
	$(CXX) $(LDFLAGS) $^ $(BASE_LIBS) -o $@
# the emulated runtime's promises to the kernels, on small kernels of its own
build/emu/check_emu_runtime.cc: tests/emu/check_emu_runtime.cu tests/emu/unchevron.pl
	@mkdir -p $(@D)
	perl tests/emu/unchevron.pl $< > $@.tmp && mv $@.tmp $@
build/tests/test_emu_runtime: build/emu/check_emu_runtime.o build/emu/cudart_emu.o
	$(CXX) $(LDFLAGS) $^ -o $@
# the cuDNN emulation against a float64 reference, on its own
build/tests/test_cudnn_emu: tests/emu/check_cudnn_emu.cc tests/emu/cudnn_emu.cc tests/emu/emu.h build/config-id build/emu-id
	@mkdir -p $(@D)
	$(CXX) $(filter-out -MMD -MP,$(EMU_CXXFLAGS)) $(LDFLAGS) tests/emu/check_cudnn_emu.cc tests/emu/cudnn_emu.cc -o $@
# train-step-bench on the emulation (tests/gpu/dry-run runs bench/train-speed with it)
build/emu-bin/train-step-bench: bench/train_step_bench.c $(EMU_OBJ) $(LIB_OBJ) build/config-id
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o build/emu-bin/train_step_bench.o
	$(CXX) $(LDFLAGS) build/emu-bin/train_step_bench.o $(EMU_OBJ) $(LIB_OBJ) $(BASE_LIBS) -o $@
# sg-train with --device cuda on the emulation (tests/cli/sg-train-emu.bats)
build/emu-bin/%: build/tools/%.o $(CLI_OBJ) $(EMU_OBJ) $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) $^ $(BASE_LIBS) -o $@

$(LIBSG): $(LIB_OBJ) $(CU_OBJ)
	@echo "stargan-c: CUDA backend $(if $(filter 1,$(CUDA)),on,off) ($(or $(CUDA_NOTE),$(CUDA_WHY))$(if $(filter 1,$(CUDA)),; CUDA_ARCH=$(CUDA_ARCHS)))"
	@rm -f $@
	ar rcs $@ $^

bin/%: build/tools/%.o $(CLI_OBJ) $(LIBSG)
	@mkdir -p bin
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(CLI_OBJ) $(LIBSG) $(LDLIBS) $(if $(CU_OBJ),-lstdc++) -o $@

bin/sg-train bin/sg-sample build/tests/% build/bench/train-step-bench: LDLIBS += $(CUDA_RPATH)
build/tests/%: build/tests/%.o $(LIBSG)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIBSG) $(LDLIBS) $(if $(CU_OBJ),-lstdc++) -o $@

# Debian packages the build, the tests and the experiment need. Idempotent.
# DEB_OPTIONAL_PKGS: tests skip without them (the PyTorch comparisons without
# python3-torch, the fault-injection tests without strace, celeb-dump's
# mdb_dump/mdb_load round trip without lmdb-utils); as root deps installs them
# too, each on its own after the required ones (a release without one only
# skips its tests), as another user it names them and goes on.
DEB_PKGS = build-essential pkg-config liblmdb-dev libpng-dev libturbojpeg0-dev libjpeg62-turbo-dev \
           libopenblas-dev bats python3 python3-numpy python3-pil python3-lmdb
DEB_OPTIONAL_PKGS = python3-torch strace lmdb-utils
deps:
	@absent() { for p in "$$@"; do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done; }; \
	missing=$$(absent $(DEB_PKGS)); optional=$$(absent $(DEB_OPTIONAL_PKGS)); \
	if [ -z "$$missing$$optional" ]; then echo "deps: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  inst() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$$@"; }; \
	  apt-get update -q; \
	  if [ -n "$$missing" ]; then echo "deps: installing $$(echo $$missing)"; inst $$missing || exit 1; fi; \
	  skipped=; for p in $$optional; do echo "deps: installing $$p (optional)"; inst $$p || skipped="$$skipped $$p"; done; \
	  [ -z "$$skipped" ] || echo "deps: optional packages not installed, the tests that need them will be skipped:$$skipped"; \
	elif [ -n "$$missing" ]; then echo "deps: missing packages; run as root:"; echo "  apt-get update && apt-get install -y $$(echo $$missing)"; exit 1; \
	else echo "deps: optional packages missing, the tests that need them will be skipped: $$(echo $$optional)"; fi

test: deps
	@$(MAKE) --no-print-directory all
	@tests/run

bench: deps
	@$(MAKE) --no-print-directory all build/bench/train-step-bench
	@bench/run

# the training-step timer that bench/train-speed and bench/train-cpu-speed run
build/bench/train-step-bench: bench/train_step_bench.c $(LIBSG)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIBSG) $(LDLIBS) $(if $(CU_OBJ),-lstdc++) -o $@

print-libs:
	@echo $(BASE_LIBS)

# synthetic.mk by default; with CELEBA=dir celeba-split.mk (the same experiment on
# CelebA), with RAFD=dir too celeba-rafd.mk; EXPERIMENT=NAME picks pipelines/NAME.mk.
experiment: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -f pipelines/$(or $(EXPERIMENT),$(if $(CELEBA),$(if $(RAFD),celeba-rafd,celeba-split),synthetic)).mk

# sg-sample(1) names the reference-checkpoint converter and score.awk: they go
# to PREFIX/share/stargan-c, and the installed pages name that directory (their
# .ds stargan_share line).
# The paths are quoted: a DESTDIR or PREFIX with a space installs there.
# uninstall removes what install puts, with the same DESTDIR and PREFIX.
INST = $(DESTDIR)$(PREFIX)
# $(call sed_text,TEXT): TEXT as the replacement of a single-quoted sed s|||
# (\, & and | escaped, ' closed and reopened)
sed_text = $(subst ','\'',$(subst |,\|,$(subst &,\&,$(subst \,\\,$(1)))))
MAN1 := $(wildcard man/man1/*.1)
MAN5 := $(wildcard man/man5/*.5)
# PREFIX/share/stargan-c: the converter (a program), score.awk and beside it
# the experiment makefiles, which read it and take the installed tools from
# PATH (make -f PREFIX/share/stargan-c/celeba.mk ...)
SHARE_PROGRAMS := pipelines/convert_reference_ckpt.py
SHARE_DATA := pipelines/score.awk $(wildcard pipelines/*.mk)
SHARE := $(SHARE_PROGRAMS) $(SHARE_DATA)
install: $(TOOLS)
	install -d "$(INST)/bin" "$(INST)/share/man/man1" "$(INST)/share/man/man5" "$(INST)/share/stargan-c"
	install -m 755 $(TOOLS) "$(INST)/bin/"
	install -m 644 $(MAN1) "$(INST)/share/man/man1/"
	install -m 644 $(MAN5) "$(INST)/share/man/man5/"
	sed -i 's|^\.ds stargan_share .*|.ds stargan_share $(call sed_text,$(PREFIX))/share/stargan-c|' \
	    $(foreach f,$(MAN1),"$(INST)/share/man/man1/$(notdir $f)") $(foreach f,$(MAN5),"$(INST)/share/man/man5/$(notdir $f)")
	install -m 755 $(SHARE_PROGRAMS) "$(INST)/share/stargan-c/"
	install -m 644 $(SHARE_DATA) "$(INST)/share/stargan-c/"

uninstall:
	rm -f $(foreach f,$(TOOLS),"$(INST)/bin/$(notdir $f)") \
	    $(foreach f,$(MAN1),"$(INST)/share/man/man1/$(notdir $f)") \
	    $(foreach f,$(MAN5),"$(INST)/share/man/man5/$(notdir $f)") \
	    $(foreach f,$(SHARE),"$(INST)/share/stargan-c/$(notdir $f)")
	rmdir --ignore-fail-on-non-empty "$(INST)/share/stargan-c" 2>/dev/null || true

# the tools alone, as make install builds them (make builds the tests too)
tools: $(TOOLS)

# ---- make fuzz: coverage-guided fuzzing (libFuzzer) of the parsers of the
# files users hand the tools, one harness per parser in tests/fuzz (its
# README). Not part of `make test`: it needs clang's libFuzzer and takes
# minutes. FUZZ_SECONDS per harness (default 60); FUZZ="json shard" runs
# those alone. lib/ is built again under build/fuzz with ASan and UBSan.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DEB_PKGS = clang libclang-rt-14-dev
FUZZ_CFLAGS = -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Ilib -Itests/fuzz -I$(OPENBLAS_INC) \
              -pthread -MMD -MP -DSG_VERSION='"fuzz"' -g -O1 -fno-omit-frame-pointer \
              -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_LIB := build/fuzz/libstargan.a
.PHONY: fuzz fuzz-build
# deps installs clang's libFuzzer too, for this target only
fuzz: DEB_PKGS += $(FUZZ_DEB_PKGS)
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_SECONDS='$(FUZZ_SECONDS)' tests/fuzz/run $(FUZZ)
fuzz-build: $(FUZZ_BIN)
build/fuzz/lib/%.o: lib/%.c | build/.headers-ok
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_LIB): $(LIB_SRC:lib/%.c=build/fuzz/lib/%.o)
	rm -f $@ && ar rcs $@ $^
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB) $(BASE_LIBS) -o $@

clean:
	rm -rf build bin

-include $(wildcard build/*/*.d) $(wildcard build/fuzz/lib/*.d)
