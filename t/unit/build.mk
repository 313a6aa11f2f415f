# t/unit/build.mk: the httpd-free unit tests of src/ (TAP output, ASan + UBSan), the proof
# that the core links without httpd, and the archives of the core that every unit and fuzz
# test links (as hiredis links its tests against one library). A GNU make fragment, included
# by the top Makefile; paths are relative to the top directory.
#
#   make unit          build every test and run it; fails if any test fails. The store tests
#                      run against a throwaway redis-server on a private unix socket as well.
#   make unit-tsan     the tests of the threaded core under ThreadSanitizer instead
#   make unit-clean    remove the test executables and the archives
#
# Each t/unit/test_X is built from t/unit/test_X.c and the archive of the core, so a new core
# file or a new dependency between core files needs no change here; a new test is one word in
# UNIT_TESTS. No httpd include path is given, so a core file that includes an httpd header does
# not compile, and t/unit/core-link links the whole archive with APR, hiredis and jansson only.

UNIT_TESTS := $(addprefix t/unit/test_,buf id text input name sse html confval ring hub thread \
                engine_socket engine_thread feedcache store_redis_wire store sign origin peers \
                metrics feed identity)
# The tests of what runs threads, also built for ThreadSanitizer.
UNIT_THREADED := test_ring test_hub test_thread test_engine_socket test_engine_thread \
                 test_store test_peers

UNIT_CC      ?= cc
UNIT_WARN    := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -fno-omit-frame-pointer
UNIT_ASAN    := -fsanitize=address,undefined -fno-sanitize-recover=all
UNIT_CFLAGS  := $(UNIT_WARN) $(UNIT_ASAN) -Isrc -Ibuild
# Asked when a recipe runs, never when make reads this file: APR's development files may be
# installed by `make deps` in the same make run.
UNIT_APR_CFLAGS = $$(apr-1-config --includes --cppflags)
UNIT_LDLIBS     = $$(apu-1-config --link-ld) $$(apr-1-config --link-ld --libs) -lhiredis \
                  -ljansson -lcrypto -lpthread

# Keep the including Makefile's default goal: this fragment defines no default target.
unit_saved_goal := $(.DEFAULT_GOAL)

# ---- The core as archives, one per way of building it -------------------------------------
# build/core/<flavour>/libtweetsse.a holds every src/tw_*.c, the test-only memory store
# (tw_store_mem.c) included, compiled with that flavour's compiler and flags:
#   asan  the unit tests and the fuzz corpora's replay (cc, ASan + UBSan)
#   tsan  the threaded unit tests under ThreadSanitizer
#   fuzz  the libFuzzer targets (clang; the fuzzer's coverage instrumentation)
CORE_SRC   := $(wildcard src/tw_*.c)
CORE_HDR   := $(wildcard src/*.h) $(patsubst src/%.lua,build/%_lua.h,$(wildcard src/*.lua))
CORE_OBJ    = $(patsubst src/%.c,build/core/$(1)/%.o,$(CORE_SRC))
CORE_CC_asan     = $(UNIT_CC)
CORE_FLAGS_asan  = $(UNIT_CFLAGS) -O1
CORE_CC_tsan     = $(UNIT_CC)
CORE_FLAGS_tsan  = $(UNIT_WARN) -fsanitize=thread -O1 -Isrc -Ibuild
CORE_CC_fuzz     = clang
CORE_FLAGS_fuzz  = $(UNIT_WARN) -O1 -fsanitize=fuzzer-no-link,address,undefined \
                   -fno-sanitize-recover=all -Isrc -Ibuild

.SECONDEXPANSION:
build/core/%.o: src/$$(notdir $$*).c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CORE_CC_$(patsubst %/,%,$(dir $*))) $(CORE_FLAGS_$(patsubst %/,%,$(dir $*))) \
	    $(UNIT_APR_CFLAGS) -c -o $@ $<

build/core/%/libtweetsse.a: $$(call CORE_OBJ,$$*)
	rm -f $@
	ar rcs $@ $^

# Made by pattern rules only, yet kept: the next build reuses them.
.PRECIOUS: build/core/%/libtweetsse.a build/core/%.o

UNIT_LIB      := build/core/asan/libtweetsse.a
UNIT_TSAN_LIB := build/core/tsan/libtweetsse.a
UNIT_DEPS     := t/unit/tap.h t/unit/fixture.h t/unit/edge.h $(CORE_HDR)

t/unit/test_%: t/unit/test_%.c $(UNIT_LIB) $(UNIT_DEPS)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_APR_CFLAGS) -o $@ $< $(UNIT_LIB) $(UNIT_LDLIBS)

# The whole core in one program: an httpd symbol anywhere in it fails this link.
t/unit/core-link: t/unit/core_link.c $(UNIT_LIB)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_APR_CFLAGS) -o $@ $< -Wl,--whole-archive $(UNIT_LIB) \
	    -Wl,--no-whole-archive $(UNIT_LDLIBS)

# ThreadSanitizer builds of the threaded tests (TSan cannot share a binary with ASan).
UNIT_TSAN_TESTS := $(addprefix t/unit/tsan/,$(UNIT_THREADED))
t/unit/tsan/test_%: t/unit/test_%.c $(UNIT_TSAN_LIB) $(UNIT_DEPS)
	@mkdir -p t/unit/tsan
	$(UNIT_CC) $(CORE_FLAGS_tsan) $(UNIT_APR_CFLAGS) -o $@ $< $(UNIT_TSAN_LIB) $(UNIT_LDLIBS)

# Run a list of test programs (TAP), with a private redis-server for the store tests.
define unit_run
	@failed=; pass=0; fail=0; dir=$$(mktemp -d /tmp/tweetsse-unit.XXXXXX); \
	redis-server --port 0 --unixsocket $$dir/redis.sock --dir $$dir --save '' \
	    --appendonly no --daemonize yes --pidfile $$dir/redis.pid --logfile $$dir/redis.log; \
	for i in $$(seq 100); do redis-cli -s $$dir/redis.sock ping >/dev/null 2>&1 && break; \
	    sleep 0.05; done; \
	for t in $(1); do \
	    echo "# $$t"; \
	    out=$$(TW_TEST_REDIS=$$dir/redis.sock $(2) ./$$t 2>&1) || failed="$$failed $$t"; \
	    echo "$$out"; \
	    pass=$$((pass + $$(echo "$$out" | grep -c '^ok'))); \
	    fail=$$((fail + $$(echo "$$out" | grep -c '^not ok'))); \
	done; \
	redis-cli -s $$dir/redis.sock shutdown nosave >/dev/null 2>&1; rm -rf $$dir; \
	echo "unit: $$pass passed, $$fail failed"; \
	if [ -n "$$failed" ]; then echo "# FAILED:$$failed"; exit 1; fi
endef

.PHONY: unit unit-tsan unit-clean
unit: $(UNIT_TESTS) t/unit/core-link
	@./t/unit/core-link
	$(call unit_run,$(UNIT_TESTS),)

unit-tsan: $(UNIT_TSAN_TESTS)
	$(call unit_run,$(UNIT_TSAN_TESTS),TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1)

unit-clean:
	rm -rf $(UNIT_TESTS) t/unit/core-link t/unit/tsan build/core

.DEFAULT_GOAL := $(unit_saved_goal)
