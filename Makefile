# spotlight.cam: one non-recursive Makefile for every daemon, tool and test.
#
#   make            build everything into build/
#   make run        start the whole suite locally on http://localhost:8080
#   make stop       stop what `make run` started
#   make test       every test (unit, integration through nginx)
#   make asan       the test suite against ASan+UBSan builds
#   make bench      benchmarks that print numbers
#   make frontend   build the PWA into frontend/dist (npm ci when needed)
#   make fuzz       run every libFuzzer harness for a while (tests/fuzz/)
#   make valgrind   integration tests against daemons under valgrind memcheck
#   make deps       install the Debian packages the suite needs
#
# Layout rules (no edits needed when adding files):
#   common/*.c            -> build/libsc.a         (*_test.c excluded)
#   common/*_test.c       -> build/test/<name>     (Check, linked with libsc.a)
#   services/S/*.c        -> build/S               (*_test.c excluded)
#   services/S/*_test.c   -> build/test/S_<name>   (linked with S's objects but main.c)
#   common/cmd/*.c        -> build/<name>          (command-line tools: one file each)

SANITIZE ?=
BUILD    ?= build
CC       ?= cc

ifneq ($(SANITIZE),)
BUILD    := build/asan
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKGS     := libevent libevent_pthreads libpq json-c libjwt libargon2 openssl check
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs libevent libevent_pthreads libpq json-c libjwt libargon2 openssl 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
            -Wwrite-strings -Wvla -Wformat-security -fno-common
CFLAGS   ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) \
              -Icommon $(PKG_CFLAGS) -include common/banned.h
# nng and wslay ship no pkg-config file on Debian 12.
LDLIBS   := $(PKG_LIBS) -lnng -lwslay -lpthread -lm
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS)

COMMON_SRC  := $(filter-out %_test.c,$(wildcard common/*.c))
COMMON_OBJ  := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
COMMON_TEST := $(patsubst common/%.c,$(BUILD)/test/%,$(wildcard common/*_test.c))
LIBSC       := $(BUILD)/libsc.a

SERVICES    := $(notdir $(wildcard services/*))
SERVICE_BIN := $(SERVICES:%=$(BUILD)/%)
TOOLS       := $(patsubst common/cmd/%.c,$(BUILD)/%,$(wildcard common/cmd/*.c))

# Per-service objects and tests.
svc_src  = $(filter-out %_test.c,$(wildcard services/$(1)/*.c))
svc_obj  = $(patsubst %.c,$(BUILD)/obj/%.o,$(call svc_src,$(1)))
svc_lib  = $(filter-out %/main.o,$(call svc_obj,$(1)))
svc_test = $(patsubst services/$(1)/%.c,$(BUILD)/test/$(1)_%,$(wildcard services/$(1)/*_test.c))

SERVICE_TESTS := $(foreach s,$(SERVICES),$(call svc_test,$(s)))
UNIT_TESTS    := $(COMMON_TEST) $(SERVICE_TESTS)

.PHONY: all clean run stop test unit integration asan bench deps format format-check \
        frontend valgrind FORCE
.DEFAULT_GOAL := all
# Keep test and tool objects: they are not throwaway intermediates.
.SECONDARY:

all: $(SERVICE_BIN) $(TOOLS) $(UNIT_TESTS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIBSC): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/test/%_test: $(BUILD)/obj/common/%_test.o $(LIBSC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ -o $@ $(LDLIBS) $(CHECK_LIBS)

$(BUILD)/%: $(BUILD)/obj/common/cmd/%.o $(LIBSC)
	$(CC) $(ALL_LDFLAGS) $^ -o $@ $(LDLIBS)

define SERVICE_RULES
$(BUILD)/$(1): $(call svc_obj,$(1)) $(LIBSC)
	$$(CC) $$(ALL_LDFLAGS) $$^ -o $$@ $$(LDLIBS)
$(BUILD)/test/$(1)_%_test: $(BUILD)/obj/services/$(1)/%_test.o $(call svc_lib,$(1)) $(LIBSC)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) $$^ -o $$@ $$(LDLIBS) $$(CHECK_LIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call SERVICE_RULES,$(s))))

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The version /metrics reports (spotlight_build_info): `git describe`, or
# "dev" outside a git checkout. Only metrics_daemon.o sees it, through a
# header rewritten when the version changes, so a commit rebuilds one file.
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
$(BUILD)/version.h: FORCE
	@mkdir -p $(dir $@)
	@echo '#define SC_VERSION "$(VERSION)"' | cmp -s - $@ || \
		echo '#define SC_VERSION "$(VERSION)"' >$@
$(BUILD)/obj/common/metrics_daemon.o: $(BUILD)/version.h
$(BUILD)/obj/common/metrics_daemon.o: ALL_CFLAGS += -include $(BUILD)/version.h
FORCE:

# ---- the PWA -------------------------------------------------------------

# npm ci when the lock file is newer than the installed tree; vite build when
# any source is newer than the built index.html.
FRONTEND_SRC := $(shell find frontend/src frontend/public -type f 2>/dev/null) \
                $(wildcard frontend/*.html frontend/*.js frontend/package.json)

frontend: frontend/dist/index.html

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error

frontend/dist/index.html: $(FRONTEND_SRC) frontend/node_modules/.package-lock.json
	cd frontend && npx vite build --logLevel warn

# ---- fuzzing: tests/fuzz/fuzz.mk (fuzz-build, fuzz, fuzz-regress) ---------

-include tests/fuzz/fuzz.mk

# ---- operations --------------------------------------------------------

deps:
	@deploy/deps.sh

run: deps
	@$(MAKE) --no-print-directory all frontend
	@deploy/local.sh run

stop:
	@deploy/local.sh stop

# Unit tests need a PostgreSQL (db, migrations); integration tests need the
# whole suite. tests/run.sh starts a throwaway one for both and stops it.
test: deps
	@$(MAKE) --no-print-directory all frontend
	@BUILD=$(BUILD) tests/run.sh

asan: deps
	@$(MAKE) --no-print-directory all SANITIZE=address,undefined CC=clang
	@$(MAKE) --no-print-directory frontend
	@BUILD=build/asan tests/run.sh

# The -O2 -g build: the binaries that ship, with line numbers for reports.
valgrind: deps
	@$(MAKE) --no-print-directory all frontend
	@BUILD=$(BUILD) tests/valgrind.sh

bench: deps
	@$(MAKE) --no-print-directory all frontend
	@BUILD=$(BUILD) tests/bench/run.sh

format:
	clang-format -i common/*.[ch] common/cmd/*.c services/*/*.[ch] tests/fuzz/*.[ch]

format-check:
	clang-format --dry-run --Werror common/*.[ch] common/cmd/*.c services/*/*.[ch] tests/fuzz/*.[ch]

clean:
	rm -rf build
