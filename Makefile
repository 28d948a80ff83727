# Berth - the one entry point: make, make run, make test, make bench,
# make install. `make deps` installs the Debian packages the build needs,
# `make test-deps` those the tests drive (real clients, the peer registry).

CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
UNITDIR  ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DOCDIR   ?= $(PREFIX)/share/doc/berth
MANDIR   ?= $(PREFIX)/share/man
PKGS      = libmicrohttpd jansson sqlite3 libcrypto libcrypt libcurl libarchive libseccomp yaml-0.1 libmnl
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu17 -D_GNU_SOURCE -fPIC -Wall -Wextra -Werror -pthread -MMD -MP
LDLIBS   += -pthread

ifeq ($(SANITIZE),1)
BUILD    := build-asan
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

# The fuzz targets' build (tests/fuzz): everything compiled by clang with
# the sanitizers and libFuzzer's coverage hooks, in a build dir of its own.
ifeq ($(FUZZ),1)
BUILD    := build-fuzz
CC       := clang
# (clang 14 warns where gcc does not: a variable that exists for its cleanup
# attribute "unused", and libseccomp's macros)
CFLAGS   += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined -Wno-unused-variable \
            -Wno-missing-field-initializers
endif

DEPS_PKGS  = build-essential pkg-config libmicrohttpd-dev libssl-dev libsqlite3-dev \
             libjansson-dev libcmocka-dev libcurl4-openssl-dev libarchive-dev libcrypt-dev \
             libseccomp-dev libyaml-dev libmnl-dev
TEST_PKGS  = curl jq sqlite3 skopeo podman docker.io containerd docker-registry umoci \
             busybox-static wrk apache2-utils procps psmisc iproute2 openssl python3 python3-cryptography \
             nginx-light chromium systemd python3-prometheus-client e2fsprogs util-linux \
             debootstrap clang

COMMON_SRC  = $(wildcard common/*.c)
STORAGE_SRC = $(wildcard storage/*.c)
AUTH_SRC    = $(wildcard auth/*.c)
GC_SRC      = $(wildcard gc/*.c)
CLIENT_SRC  = $(wildcard client-lib/*.c)
RUNTIME_SRC = $(wildcard runtime/*.c)
BUILDER_SRC = $(wildcard builder/*.c)
COMPOSE_SRC = $(wildcard compose/*.c)
CLI_SRC     = $(wildcard cli/*.c)
SERVER_SRC  = $(wildcard server/*.c)
LIB_OBJ     = $(patsubst %.c,$(BUILD)/%.o,$(COMMON_SRC) $(STORAGE_SRC) $(AUTH_SRC) $(GC_SRC))
SERVER_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(SERVER_SRC))
CLIENT_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(COMMON_SRC) $(CLIENT_SRC))
RUNTIME_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(RUNTIME_SRC))
BUILDER_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(BUILDER_SRC))
COMPOSE_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(COMPOSE_SRC))
CLI_OBJ     = $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRC))
UNIT_SRC    = $(wildcard tests/unit/test_*.c)
UNIT_BIN    = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

# pkg-config only answers once the -dev packages are in: deps runs first.
pkgflags = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
pkglibs  = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

.PHONY: all deps deps-check test-deps fixtures run test unit integration interop ui-test asan bench install clean \
        fuzz fuzz-build fuzz-smoke

all: deps-check $(BUILD)/berthd $(BUILD)/berth $(BUILD)/libberth.so

deps-check:
	@pkg-config --exists $(PKGS) cmocka || $(MAKE) --no-print-directory deps

deps:
	@missing=$$(for p in $(DEPS_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

test-deps: deps
	@missing=$$(for p in $(TEST_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

# test fixtures kept between runs: a debootstrap'd Debian base image
# (build/fixtures/debian-bookworm.tar) and the tutorial's one with Flask and
# redis (debian-flask.tar), made once; tests make them on demand too
fixtures:
	tests/fixture-debian build/fixtures >/dev/null
	tests/fixture-debian build/fixtures flask >/dev/null

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(pkgflags) -c -o $@ $<

# The version: `git describe` at build time (common/version.h has the
# fallback for a tarball). The stamp changes only when the version does, so
# only the files that print it are rebuilt.
BERTH_VERSION := $(shell git -C $(CURDIR) describe --always --dirty 2>/dev/null)
VERSION_OBJ = $(BUILD)/server/main.o $(BUILD)/server/http.o $(BUILD)/cli/berth.o
$(VERSION_OBJ): $(BUILD)/version.stamp
$(VERSION_OBJ): CFLAGS += $(if $(BERTH_VERSION),-DBERTH_VERSION='"$(BERTH_VERSION)"')
$(BUILD)/version.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(BERTH_VERSION)' | cmp -s - $@ || echo '$(BERTH_VERSION)' >$@
.PHONY: FORCE
FORCE:

$(BUILD)/libberthcore.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# the web UI, built into berthd (server/api_ui.c serves it under /ui/)
UI_FILES    = $(sort $(wildcard ui/*.html ui/*.js ui/*.css ui/*.svg))

$(BUILD)/ui_files.c: ui/embed.sh $(UI_FILES)
	@mkdir -p $(dir $@)
	sh ui/embed.sh $@ $(UI_FILES)

$(BUILD)/ui_files.o: $(BUILD)/ui_files.c server/ui_files.h
	$(CC) $(CFLAGS) -I. -c -o $@ $<

# berthd uses libberth for its pull-through cache
$(BUILD)/berthd: $(SERVER_OBJ) $(BUILD)/ui_files.o $(BUILD)/libberthcore.a $(BUILD)/libberth.a
	$(CC) $(LDFLAGS) -o $@ $^ $(pkglibs) $(LDLIBS)

# libberth: the client library (one public header, client-lib/berth.h)
$(BUILD)/libberth.a: $(CLIENT_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libberth.so: $(CLIENT_OBJ)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libberth.so.1 -o $@ $^ $(pkglibs) $(LDLIBS)

# the container runtime, a library of berth's
$(BUILD)/libberthrt.a: $(RUNTIME_OBJ)
	rm -f $@ && ar rcs $@ $^

# the image builder (build, commit), a library of berth's over the runtime
$(BUILD)/libberthbuild.a: $(BUILDER_OBJ)
	rm -f $@ && ar rcs $@ $^

# compose, a library of berth's over the builder and the runtime
$(BUILD)/libberthcompose.a: $(COMPOSE_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/berth: $(CLI_OBJ) $(BUILD)/libberthcompose.a $(BUILD)/libberthbuild.a $(BUILD)/libberthrt.a $(BUILD)/libberth.a
	$(CC) $(LDFLAGS) -o $@ $^ $(pkglibs) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libberthcore.a $(filter-out $(BUILD)/server/main.o,$(SERVER_OBJ)) $(BUILD)/ui_files.o $(BUILD)/libberthcompose.a $(BUILD)/libberthbuild.a $(BUILD)/libberthrt.a $(BUILD)/libberth.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(pkgflags) $(LDFLAGS) -o $@ $< $(filter %.o,$^) $(filter %.a,$^) $(pkglibs) $$(pkg-config --libs cmocka) $(LDLIBS)

run: all
	./$(BUILD)/berthd serve

# ---- fuzzing (tests/fuzz, docs/security.md) ---------------------------------
# `make fuzz` builds every target in build-fuzz/ and runs each, one at a
# time, for FUZZ_SECONDS over its seed corpus (read only; what it finds new
# stays in build-fuzz/corpus/); any crash, leak, timeout, out-of-memory or
# sanitizer report fails it and leaves the input in build-fuzz/findings/.
FUZZ_SECONDS ?= 60
FUZZ_SRC     = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
FUZZ_LIBS    = $(BUILD)/libberthcore.a $(filter-out $(BUILD)/server/main.o,$(SERVER_OBJ)) \
               $(BUILD)/ui_files.o $(BUILD)/libberthcompose.a $(BUILD)/libberthbuild.a \
               $(BUILD)/libberthrt.a $(BUILD)/libberth.a

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(pkgflags) -o $@ $< $(filter %.o,$^) $(filter %.a,$^) \
	    $(pkglibs) $(LDLIBS)

fuzz-build: deps-check
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-bins

.PHONY: fuzz-bins
fuzz-bins: $(FUZZ_BIN)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run build-fuzz

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=3

unit: deps-check $(UNIT_BIN)
	@failed=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || failed=1; done; exit $$failed

# the registry's tests and the runtime's run side by side (tests/run-suite)
LANES ?= 0-2 3
integration: all
	LANES="$(LANES)" BERTHD=$(BUILD)/berthd BERTH=$(BUILD)/berth tests/run-suite integration

interop: all
	BERTHD=$(BUILD)/berthd tests/run-suite interop

# the web UI in headless Chromium
ui-test: all
	BERTHD=$(BUILD)/berthd tests/ui/run.sh

# The same suites against an ASan+UBSan build. (stdbuf, used by a test,
# preloads a library, which ASan would otherwise refuse.)
asan: export ASAN_OPTIONS = verify_asan_link_order=0
asan:
	$(MAKE) --no-print-directory SANITIZE=1 unit integration interop

# The fixtures are made in the background while the first tests run; a
# test that needs one waits for it (tests/fixture-debian takes a lock).
test: test-deps
	$(MAKE) --no-print-directory all
	{ $(MAKE) --no-print-directory fixtures >$(BUILD)/fixtures.log 2>&1 || cat $(BUILD)/fixtures.log; } & \
	$(MAKE) --no-print-directory unit integration interop ui-test; rc=$$?; wait; exit $$rc
	$(MAKE) --no-print-directory asan
	$(MAKE) --no-print-directory fuzz-smoke

bench: test-deps all
	bench/run $(BUILD)/berthd

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/berthd $(BUILD)/berth $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 0644 $(BUILD)/libberth.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(BUILD)/libberth.so $(DESTDIR)$(PREFIX)/lib/libberth.so.1
	ln -sf libberth.so.1 $(DESTDIR)$(PREFIX)/lib/libberth.so
	install -m 0644 client-lib/berth.h $(DESTDIR)$(PREFIX)/include/berth.h
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	sed 's|/usr/local/|$(PREFIX)/|g' deploy/berthd.service >$(DESTDIR)$(UNITDIR)/berthd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/berthd.service
	install -m 0644 deploy/berthd.sysusers $(DESTDIR)$(SYSUSERSDIR)/berthd.conf
	install -m 0644 README.md CHANGELOG.md docs/*.md deploy/config.example.json deploy/nginx.conf.example \
	    $(DESTDIR)$(DOCDIR)/
	install -m 0644 deploy/man/berth.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 deploy/man/berthd.8 $(DESTDIR)$(MANDIR)/man8/

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
