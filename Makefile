# stargan-c — build, deps, test, bench, install, experiment.
# `make` builds every tool into bin/; `make test` and `make experiment` install
# missing Debian packages first (as root), so on a fresh Debian 12 machine those
# two commands are the whole set-up.

PREFIX    ?= /usr/local
CC        ?= cc
CFLAGS    ?= -O2 -g
CUDA_HOME ?= /usr/local/cuda
NVCC      ?= $(CUDA_HOME)/bin/nvcc
VERSION   := 0.1.0

OPENBLAS_INC := /usr/include/x86_64-linux-gnu/openblas-pthread
# GCC's -Wformat-truncation flags every snprintf that truncates on purpose;
# clang has no such warning and warns about the option (make CC=clang)
NO_FORMAT_TRUNCATION := $(shell $(CC) -Werror -Wno-format-truncation -x c -c /dev/null -o /dev/null 2>/dev/null && \
                          echo -Wno-format-truncation)
ALL_CFLAGS = -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare $(NO_FORMAT_TRUNCATION) \
             -Ilib -Itools/cli -I$(OPENBLAS_INC) -pthread -MMD -MP \
             $(CUDA_DEFS) $(CFLAGS)
# OpenBLAS is not linked: the CPU backend dlopen's it with no threads of its
# own (lib/backend_cpu.c, blas_open); its headers come from OPENBLAS_INC.
# BASE_LIBS: every link but CUDA's (the emulated builds too); the scripts
# that link on their own get it from `make -s print-libs`.
BASE_LIBS = -llmdb -lturbojpeg -ljpeg -lpng -lz -lm -ldl -lpthread
LDLIBS    = $(BASE_LIBS) $(CUDA_LIBS)

# The CUDA backend is built whenever nvcc and cuDNN are present (no GPU needed).
# `make CUDA=0` forces a CPU-only build.
ifeq ($(CUDA),)
CUDA := $(shell test -x $(NVCC) && { test -e $(CUDA_HOME)/include/cudnn.h || test -e /usr/include/cudnn.h; } && echo 1 || echo 0)
endif
ifeq ($(CUDA),1)
CUDA_DEFS = -DSG_HAVE_CUDA=1 -I$(CUDA_HOME)/include
# cuBLAS is not linked: kernels/conv_gemm.cu loads it (dlopen, through the
# rpath) when a CUDA backend starts with SG_CUDA_GEMM_MAX_PIXELS on
CUDA_LIBS = -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudnn -lcudart
CU_SRC   := $(wildcard kernels/*.cu)
NVCCFLAGS ?= -O3 -std=c++17 -arch=sm_90 -Xcompiler -fPIC -Ilib -Ikernels -DSG_HAVE_CUDA=1
endif
CU_OBJ := $(CU_SRC:kernels/%.cu=build/kernels/%.o)
# The same CUDA sources built with the host compiler against a CPU emulation
# of the CUDA runtime and cuDNN (tests/emu): test_cuda_ops runs where there is
# no GPU, CI included.
EMU_OBJ := $(CU_SRC:kernels/%.cu=build/emu/%.o) $(if $(CU_SRC),build/emu/cudart_emu.o build/emu/cudnn_emu.o build/emu/cublas_emu.o)
EMU_CXXFLAGS = -std=c++17 -O2 -g -Wall -Wno-unused-parameter -Wno-sign-compare -Wno-unused-function -Wno-comment -Wno-unknown-pragmas -Wno-format-truncation \
               -Itests/emu/include -Itests/emu -I$(CUDA_HOME)/include -Ilib -Ikernels -DSG_HAVE_CUDA=1 -MMD -MP
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

.PHONY: all deps test unit cli-test bench install clean experiment gpu-check print-libs check-headers
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
build/version-id: FORCE | build/.headers-ok
	@printf '%s\n' '$(BUILD_NAME)' > $@.tmp && { cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@; }
build/lib/version.o: build/version-id
build/lib/version.o: ALL_CFLAGS += -DSG_VERSION='"$(BUILD_NAME)"'
.PHONY: FORCE

build/lib/%.o: lib/%.c | build/.headers-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
build/cli/%.o: tools/cli/%.c | build/.headers-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
build/tools/%.o: tools/%.c | build/.headers-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
build/tests/%.o: tests/unit/%.c | build/.headers-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -c $< -o $@
build/kernels/%.o: kernels/%.cu $(wildcard kernels/*.cuh) $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

build/emu/%.cc: kernels/%.cu tests/emu/unchevron.pl
	@mkdir -p $(@D)
	perl tests/emu/unchevron.pl $< > $@.tmp && mv $@.tmp $@
build/emu/%.o: build/emu/%.cc
	$(CXX) $(EMU_CXXFLAGS) -c $< -o $@
build/emu/%.o: tests/emu/%.cc
	@mkdir -p $(@D)
	$(CXX) $(EMU_CXXFLAGS) -c $< -o $@
.SECONDARY: $(CU_SRC:kernels/%.cu=build/emu/%.cc) $(EMU_OBJ)

build/tests/%_emu: build/tests/%.o $(EMU_OBJ) $(LIB_OBJ)
	$(CXX) $^ $(BASE_LIBS) -o $@
# the emulated runtime's promises to the kernels, on small kernels of its own
build/emu/check_emu_runtime.cc: tests/emu/check_emu_runtime.cu tests/emu/unchevron.pl
	@mkdir -p $(@D)
	perl tests/emu/unchevron.pl $< > $@.tmp && mv $@.tmp $@
build/tests/test_emu_runtime: build/emu/check_emu_runtime.o build/emu/cudart_emu.o
	$(CXX) $^ -o $@
# the cuDNN emulation against a float64 reference, on its own
build/tests/test_cudnn_emu: tests/emu/check_cudnn_emu.cc tests/emu/cudnn_emu.cc tests/emu/emu.h
	@mkdir -p $(@D)
	$(CXX) $(filter-out -MMD -MP,$(EMU_CXXFLAGS)) tests/emu/check_cudnn_emu.cc tests/emu/cudnn_emu.cc -o $@
# train-step-bench on the emulation (tests/gpu/dry-run runs bench/train-speed with it)
build/emu-bin/train-step-bench: bench/train_step_bench.c $(EMU_OBJ) $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o build/emu-bin/train_step_bench.o
	$(CXX) build/emu-bin/train_step_bench.o $(EMU_OBJ) $(LIB_OBJ) $(BASE_LIBS) -o $@
# sg-train with --device cuda on the emulation (tests/cli/sg-train-emu.bats)
build/emu-bin/%: build/tools/%.o $(CLI_OBJ) $(EMU_OBJ) $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CXX) $^ $(BASE_LIBS) -o $@

$(LIBSG): $(LIB_OBJ) $(CU_OBJ)
	@rm -f $@
	ar rcs $@ $^

bin/%: build/tools/%.o $(CLI_OBJ) $(LIBSG)
	@mkdir -p bin
	$(CC) $(ALL_CFLAGS) $< $(CLI_OBJ) $(LIBSG) $(LDLIBS) $(if $(CU_OBJ),-lstdc++) -o $@

build/tests/%: build/tests/%.o $(LIBSG)
	$(CC) $(ALL_CFLAGS) $< $(LIBSG) $(LDLIBS) $(if $(CU_OBJ),-lstdc++) -o $@

# Debian packages the build, the tests and the experiment need. Idempotent.
DEB_PKGS = build-essential pkg-config liblmdb-dev lmdb-utils libpng-dev libturbojpeg0-dev libjpeg62-turbo-dev \
           libopenblas-dev bats strace python3 python3-numpy python3-torch python3-pil python3-lmdb
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then echo "deps: installing$$(echo ' '$$missing)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "deps: missing packages; run as root:"; echo "  apt-get update && apt-get install -y $$(echo $$missing)"; exit 1; fi

test: deps
	@$(MAKE) --no-print-directory all
	@tests/run

bench: deps
	@$(MAKE) --no-print-directory all build/bench/train-step-bench
	@bench/run

# the training-step timer that bench/train-speed and bench/train-cpu-speed run
build/bench/train-step-bench: bench/train_step_bench.c $(LIBSG)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $< $(LIBSG) $(LDLIBS) $(if $(CU_OBJ),-lstdc++) -o $@

print-libs:
	@echo $(BASE_LIBS)

# synthetic.mk by default; with CELEBA=dir celeba-split.mk (the same experiment on
# CelebA), with RAFD=dir too celeba-rafd.mk; EXPERIMENT=NAME picks pipelines/NAME.mk.
experiment: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -f pipelines/$(or $(EXPERIMENT),$(if $(CELEBA),$(if $(RAFD),celeba-rafd,celeba-split),synthetic)).mk

# sg-sample(1) names the reference-checkpoint converter and score.awk: they go
# to PREFIX/share/stargan-c.
install: $(TOOLS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	    $(DESTDIR)$(PREFIX)/share/stargan-c
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 man/man1/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/man5/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 755 pipelines/convert_reference_ckpt.py $(DESTDIR)$(PREFIX)/share/stargan-c/
	install -m 644 pipelines/score.awk $(DESTDIR)$(PREFIX)/share/stargan-c/
	@# the experiment makefiles beside score.awk, which they read; they take the
	@# installed tools from PATH (make -f PREFIX/share/stargan-c/celeba.mk ...)
	install -m 644 pipelines/*.mk $(DESTDIR)$(PREFIX)/share/stargan-c/

clean:
	rm -rf build bin

-include $(wildcard build/*/*.d)
