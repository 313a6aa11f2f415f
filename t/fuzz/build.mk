# t/fuzz/build.mk: libFuzzer targets for the parsers of untrusted input in src/.
# A GNU make fragment, included by the top Makefile; paths are relative to the top directory.
#
#   make fuzz-replay   build each target with cc + ASan/UBSan and t/fuzz/replay.c as its main
#                      and run every file of its committed corpus t/fuzz/corpus/<name>/;
#                      fails if any input fails (seconds; part of make test)
#   make fuzz          build each target with clang -fsanitize=fuzzer,address,undefined and
#                      fuzz it for FUZZ_SECONDS (default 60) on a working copy of its corpus in
#                      build/fuzz/<name>/corpus/ (the committed corpus is not written); prints
#                      the executions of each; fails if any target crashed, leaving the
#                      reproducer as build/fuzz/<name>/crash-* (or leak-*, timeout-*, oom-*)
#   make fuzz-merge    add to t/fuzz/corpus/<name>/ the inputs of the working copies that reach
#                      new coverage (libFuzzer -merge=1); review and commit them by hand
#   make fuzz-clean    remove build/fuzz/
#
#   make fuzz FUZZ_TARGETS=form FUZZ_SECONDS=600   one target, longer
#   make fuzz FUZZ_FLAGS='-jobs=2 -workers=2'      further libFuzzer flags
#
# To run one reproducer: build/fuzz/replay_<name> build/fuzz/<name>/crash-... (or give it to
# build/fuzz/fuzz_<name>). Each target is t/fuzz/fuzz_<name>.c; what it checks is at its top.

FUZZ_ALL     := form json cookie resume confval broadcast resp action
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 4096
FUZZ_TIMEOUT ?= 10
FUZZ_FLAGS   ?=
FUZZ_DIR     := build/fuzz

FUZZ_REPLAY_CC ?= cc
FUZZ_CC        ?= clang
FUZZ_WARN      := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -fno-omit-frame-pointer \
                  -Isrc -Ibuild -It/fuzz
FUZZ_REPLAY_CFLAGS := $(FUZZ_WARN) -O1 -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS        := $(FUZZ_WARN) -O1 -fsanitize=fuzzer,address,undefined \
                      -fno-sanitize-recover=all
# Asked when a recipe runs, never when make reads this file: APR's development files may be
# installed by `make deps` in the same make run.
FUZZ_APR_CFLAGS = $$(apr-1-config --includes --cppflags)
FUZZ_LDLIBS     = $$(apu-1-config --link-ld) $$(apr-1-config --link-ld --libs) -lhiredis -ljansson -lcrypto \
                  -lpthread

# Keep the including Makefile's default goal: this fragment defines no default target.
fuzz_saved_goal := $(.DEFAULT_GOAL)

# Each target links the archive of the core built its way (t/unit/build.mk): the replays the
# unit tests' (cc, ASan + UBSan), the fuzzers one built with clang's fuzzer instrumentation.
FUZZ_HDR := $(CORE_HDR) $(wildcard t/fuzz/*.h)

$(FUZZ_DIR)/replay_%: t/fuzz/fuzz_%.c t/fuzz/replay.c $(UNIT_LIB) $(FUZZ_HDR)
	@mkdir -p $(@D)
	$(FUZZ_REPLAY_CC) $(FUZZ_REPLAY_CFLAGS) $(FUZZ_APR_CFLAGS) -o $@ $(filter %.c,$^) \
	    $(UNIT_LIB) $(FUZZ_LDLIBS)

# FUZZ_TOOLS: a target the including Makefile runs first, to install clang and libFuzzer.
$(call CORE_OBJ,fuzz): | $(FUZZ_TOOLS)
$(FUZZ_DIR)/fuzz_%: t/fuzz/fuzz_%.c build/core/fuzz/libtweetsse.a $(FUZZ_HDR) | $(FUZZ_TOOLS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_APR_CFLAGS) -o $@ $< build/core/fuzz/libtweetsse.a \
	    $(FUZZ_LDLIBS)

.PHONY: fuzz-replay fuzz fuzz-merge fuzz-clean

fuzz-replay: $(addprefix $(FUZZ_DIR)/replay_,$(FUZZ_TARGETS))
	@failed=; \
	for t in $(FUZZ_TARGETS); do \
	    ./$(FUZZ_DIR)/replay_$$t t/fuzz/corpus/$$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz-replay: FAILED:$$failed"; exit 1; fi; \
	echo "fuzz-replay: every corpus passes"

# libFuzzer writes new inputs into the first corpus directory only: the working copy.
fuzz: $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))
	@failed=; summary=; \
	for t in $(FUZZ_TARGETS); do \
	    d=$(FUZZ_DIR)/$$t; mkdir -p $$d/corpus; \
	    cp -p t/fuzz/corpus/$$t/* $$d/corpus/; \
	    dict=; if [ -f t/fuzz/$$t.dict ]; then dict=-dict=t/fuzz/$$t.dict; fi; \
	    echo "# fuzz_$$t: $(FUZZ_SECONDS) s, log in $$d/fuzz.log"; \
	    ./$(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -max_len=$(FUZZ_MAX_LEN) -timeout=$(FUZZ_TIMEOUT) -artifact_prefix=$$d/ $$dict \
	        $(FUZZ_FLAGS) $$d/corpus >$$d/fuzz.log 2>&1; \
	    rc=$$?; \
	    execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$d/fuzz.log | tail -n 1); \
	    rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $$d/fuzz.log | tail -n 1); \
	    files=$$(ls $$d/corpus | wc -l); \
	    if [ $$rc -eq 0 ]; then res=ok; else \
	        res="FAILED (exit $$rc): $$(ls $$d/crash-* $$d/leak-* $$d/timeout-* $$d/oom-* \
	            2>/dev/null | tr '\n' ' ')"; \
	        failed="$$failed $$t"; tail -n 40 $$d/fuzz.log; fi; \
	    line=$$(printf '%-10s %12s execs %8s exec/s %6s corpus files  %s' \
	        $$t "$${execs:-?}" "$${rate:-?}" $$files "$$res"); \
	    echo "$$line"; summary="$$summary$$line\n"; \
	done; \
	printf "# fuzz summary (%s s each)\n$$summary" $(FUZZ_SECONDS); \
	if [ -n "$$failed" ]; then echo "fuzz: FAILED:$$failed"; exit 1; fi

fuzz-merge: $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	    [ -d $(FUZZ_DIR)/$$t/corpus ] || continue; \
	    out=$$(./$(FUZZ_DIR)/fuzz_$$t -merge=1 -max_len=$(FUZZ_MAX_LEN) t/fuzz/corpus/$$t \
	        $(FUZZ_DIR)/$$t/corpus 2>&1) || { echo "$$out" | tail -n 40; exit 1; }; \
	    echo "$$t: $$(echo "$$out" | grep -o 'MERGE-OUTER: [0-9]* new files.*')"; \
	done

fuzz-clean:
	rm -rf $(FUZZ_DIR)

.DEFAULT_GOAL := $(fuzz_saved_goal)
