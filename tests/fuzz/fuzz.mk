# tests/fuzz/fuzz.mk: the libFuzzer harnesses (tests/fuzz/<name>_fuzz.c),
# included from the top Makefile, whose variables it uses (WARN,
# PKG_CFLAGS, LDLIBS, COMMON_SRC). Everything is built with clang into
# build/fuzz/, apart from the main build: common/*.c and the service files
# below with -fsanitize=fuzzer-no-link,address,undefined, each harness
# linked with -fsanitize=fuzzer,address,undefined.
#
#   make fuzz-build     build every harness
#   make fuzz           run each for FUZZ_SECONDS (60) on a copy of its corpus
#                       (build/fuzz/corpus/<name>); new crashes are written to
#                       build/fuzz/crashes/; non-zero exit on any crash
#   make fuzz-regress   run every checked-in corpus file once; non-zero exit
#                       on any failure (what `make test` runs)
#   make fuzz FUZZ_ONLY="sio_packet token" FUZZ_SECONDS=600   some harnesses

FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_ONLY    ?=
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(WARN) -O1 -g \
                $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Icommon -Iservices \
                $(PKG_CFLAGS) -include common/banned.h
FUZZ_LDFLAGS := $(FUZZ_SAN) -fsanitize=fuzzer

# The service files with parsers reachable without a database.
FUZZ_SVC_SRC := services/events/import_parse.c services/events/params.c \
                services/matchmaking/status.c services/ratings/rules.c \
                services/signaling/payload.c

FUZZ_COMMON_OBJ := $(COMMON_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_SVC_OBJ    := $(FUZZ_SVC_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_LIB        := $(FUZZ_BUILD)/libsc-fuzz.a
FUZZ_SVC_LIB    := $(FUZZ_BUILD)/libsvc-fuzz.a
FUZZ_ALL        := $(patsubst tests/fuzz/%_fuzz.c,%,\
                     $(wildcard tests/fuzz/*_fuzz.c))
FUZZ_NAMES      := $(if $(FUZZ_ONLY),$(FUZZ_ONLY),$(FUZZ_ALL))
FUZZ_BINS       := $(FUZZ_ALL:%=$(FUZZ_BUILD)/%_fuzz)

# libFuzzer options for every run: a slow input is a hang; one process.
FUZZ_OPTS := -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

.PHONY: fuzz-build fuzz fuzz-regress

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_LIB): $(FUZZ_COMMON_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_SVC_LIB): $(FUZZ_SVC_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/%_fuzz: $(FUZZ_BUILD)/obj/tests/fuzz/%_fuzz.o \
                      $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_loop.o $(FUZZ_SVC_LIB) \
                      $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_LDFLAGS) $^ -o $@ $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# Each harness on a scratch copy of its corpus (new inputs land there, not
# in the checked-in one), with its dictionary when there is one.
fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/crashes; fail=0; \
	for n in $(FUZZ_NAMES); do \
		c=$(FUZZ_BUILD)/corpus/$$n; mkdir -p $$c; \
		cp -n tests/fuzz/corpus/$$n/* $$c/ 2>/dev/null; \
		d=; [ -f tests/fuzz/$$n.dict ] && d=-dict=tests/fuzz/$$n.dict; \
		log=$(FUZZ_BUILD)/$$n.log; \
		echo "fuzz $$n: $(FUZZ_SECONDS) s"; \
		if $(FUZZ_BUILD)/$${n}_fuzz $(FUZZ_OPTS) $$d \
			-max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=$(FUZZ_BUILD)/crashes/$$n- \
			$$c >$$log 2>&1; then r=ok; \
		else r=CRASH; fail=1; fi; \
		execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log); \
		rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $$log); \
		echo "fuzz $$n: $$r, $${execs:-?} executions, $${rate:-?}/s (log $$log)"; \
		if [ $$r = CRASH ]; then \
			grep -E 'ERROR:|runtime error|invariant failed|Test unit written' $$log | head -5; \
		fi; \
	done; exit $$fail

# Every checked-in corpus file once, as a regression test.
fuzz-regress: fuzz-build
	@fail=0; \
	for n in $(FUZZ_NAMES); do \
		files=$$(find tests/fuzz/corpus/$$n -type f | sort); \
		count=$$(echo "$$files" | grep -c .); \
		log=$(FUZZ_BUILD)/$$n-regress.log; \
		if [ $$count -eq 0 ]; then \
			echo "fuzz $$n: no corpus"; fail=1; continue; \
		fi; \
		if $(FUZZ_BUILD)/$${n}_fuzz -timeout=10 -rss_limit_mb=2048 \
			$$files >$$log 2>&1; then \
			echo "fuzz $$n: $$count inputs ok"; \
		else \
			echo "fuzz $$n: FAILED (log $$log)"; fail=1; \
			grep -E 'Running:|ERROR:|runtime error|invariant failed' $$log | tail -5; \
		fi; \
	done; exit $$fail

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
