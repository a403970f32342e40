# ms: diffusion-based tools for medical image segmentation. See README.md.
PREFIX    = /usr/local
MANPREFIX = $(PREFIX)/share/man
CC       ?= cc
PKGS      = libpng zlib yaml-0.1 openblas
OPT       = -O2
# no -march: the binaries run on any x86-64; the hot loops pick AVX-512 or AVX2 at run time
# (MS_CLONES in lib/nn/vec.h), whose 16-float vectors -Wno-psabi is about
CFLAGS    = -std=c11 -D_DEFAULT_SOURCE $(OPT) -g -Wall -Wextra -Wno-psabi
PKG_CFLAGS != pkg-config --cflags $(PKGS) 2>/dev/null || echo
PKG_LIBS   != pkg-config --libs $(PKGS) 2>/dev/null || echo -lpng16 -lz -lyaml -lopenblas
# SANITIZE=1: AddressSanitizer + UndefinedBehaviorSanitizer, warnings as errors (CI)
SAN_1     = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -Werror
XFLAGS    = $(SAN_$(SANITIZE))
ALL_CFLAGS = $(CFLAGS) $(XFLAGS) $(PKG_CFLAGS) -Ilib
# MPI (optional; NOMPI=1 builds without): lib/core/dist.c is built with it when pkg-config
# knows Open MPI (ompi-c) or an "mpi" package; tools that call no MPI do not link it
MPI_PKG   != [ -n "$(NOMPI)" ] || { pkg-config --exists ompi-c 2>/dev/null && echo ompi-c; } || \
             { pkg-config --exists mpi 2>/dev/null && echo mpi; } || echo
MPI_CFLAGS != [ -z "$(MPI_PKG)" ] || echo -DMS_MPI $$(pkg-config --cflags $(MPI_PKG))
MPI_LIBS   != [ -z "$(MPI_PKG)" ] || pkg-config --libs $(MPI_PKG)
ALL_CFLAGS += $(MPI_CFLAGS)
LDLIBS    = -Wl,--as-needed $(PKG_LIBS) $(MPI_LIBS) -lm -lpthread

LIB_SRC  != ls lib/*/*.c 2>/dev/null
LIB_OBJ   = $(LIB_SRC:.c=.o)
LIB_HDR  != ls lib/*/*.h 2>/dev/null
BIN_SRC  != ls bin/ms-*.c
BIN       = $(BIN_SRC:.c=)
TEST_SRC != ls tests/unit/test_*.c 2>/dev/null
TESTS     = $(TEST_SRC:.c=)
MAN1     != ls man/*.1 2>/dev/null
MAN5     != ls man/*.5 2>/dev/null
MAN7     != ls man/*.7 2>/dev/null

all: $(BIN)

# rebuild everything when the flags change (e.g. SANITIZE=1)
.flags: FORCE
	@echo '$(CC) $(ALL_CFLAGS) $(LDLIBS)' | cmp -s - $@ || echo '$(CC) $(ALL_CFLAGS) $(LDLIBS)' > $@

$(LIB_OBJ): %.o: %.c $(LIB_HDR) .flags
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

lib/libms.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(BIN): bin/%: bin/%.c lib/libms.a $(LIB_HDR) .flags
	$(CC) $(ALL_CFLAGS) -o $@ $< lib/libms.a $(LDLIBS)

$(TESTS): tests/unit/%: tests/unit/%.c tests/unit/test.h lib/libms.a $(LIB_HDR) .flags
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< lib/libms.a $(LDLIBS)

check: layers $(BIN) $(TESTS)
	@sh tests/run $(TESTS)

# lib/ is in layers (lib/README): no file includes a header of a higher layer
layers:
	@sh tests/layers.sh

# libFuzzer harnesses (clang) for the stream reader, PNG and NIfTI import and the
# pipeline parser, built apart in tests/fuzz/build; each runs FUZZ_SECONDS on its seeds
FUZZ_SECONDS ?= 60
FUZZ_CC    = clang
# (the harnesses run where they are built: -march=native, no clones; clang refuses the
# 16-float vectors of lib/nn in code built for less than AVX-512)
FUZZ_FLAGS = -std=c11 -D_DEFAULT_SOURCE -O1 -g -march=native -DMS_NO_CLONES \
             -fsanitize=fuzzer-no-link,address,undefined \
             -fno-sanitize-recover=undefined $(PKG_CFLAGS) -Ilib
FUZZ_BIN   = tests/fuzz/build/fuzz_stream tests/fuzz/build/fuzz_png \
             tests/fuzz/build/fuzz_nifti tests/fuzz/build/fuzz_pipeline
FUZZ_OBJ   = $(LIB_SRC:%.c=tests/fuzz/build/%.o)

$(FUZZ_OBJ): tests/fuzz/build/%.o: %.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -c -o $@ $<

$(FUZZ_BIN): tests/fuzz/build/%: tests/fuzz/%.c tests/fuzz/fuzz_file.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(LDLIBS)

fuzz: $(FUZZ_BIN)
	@sh tests/fuzz/run $(FUZZ_SECONDS)

# the README's main job on the bundled sample data
demo: $(BIN)
	PATH="$(CURDIR)/bin:$$PATH" bin/ms-run -v pipelines/demo.yaml

# the small models the demo uses, trained on the BUSI train split (MS_DATA/busi), one
# thread, fixed steps: about 30 minutes; see pipelines/models.yaml
MS_DATA ?= $(CURDIR)/../shared/data
models: $(BIN)
	PATH="$(CURDIR)/bin:$$PATH" bin/ms-run -v --set data="$(MS_DATA)/busi" pipelines/models.yaml

bench: $(BIN)
	@sh tests/bench/run

install: $(BIN)
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANPREFIX)/man1 \
	         $(DESTDIR)$(MANPREFIX)/man5 $(DESTDIR)$(MANPREFIX)/man7
	cp -f $(BIN) $(DESTDIR)$(PREFIX)/bin/
	cp -f $(MAN1) $(DESTDIR)$(MANPREFIX)/man1/
	cp -f $(MAN5) $(DESTDIR)$(MANPREFIX)/man5/
	cp -f $(MAN7) $(DESTDIR)$(MANPREFIX)/man7/

uninstall:
	for f in $(BIN); do rm -f $(DESTDIR)$(PREFIX)/bin/$${f#bin/}; done
	for f in $(MAN1) $(MAN5) $(MAN7); do s=$${f##*.}; rm -f $(DESTDIR)$(MANPREFIX)/man$$s/$${f#man/}; done

# Debian packages for building and testing (run as root, or with sudo)
DEBS = build-essential pkg-config libpng-dev zlib1g-dev libopenblas-dev libyaml-dev \
       bats mandoc python3-numpy python3-scipy python3-skimage python3-opencv python3-nibabel \
       python3-pydicom dcm2niix clang libclang-rt-dev libopenmpi-dev openmpi-bin
deps:
	@missing=; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

clean:
	rm -f $(LIB_OBJ) lib/libms.a $(BIN) $(TESTS) .flags
	rm -rf tests/fuzz/build

FORCE:
.PHONY: all check layers fuzz demo models bench install uninstall deps clean FORCE
