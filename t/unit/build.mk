# t/unit/build.mk: the httpd-free unit tests of src/ (TAP output, ASan + UBSan), and the proof
# that the core links without httpd. A GNU make fragment, included by the top Makefile; paths
# are relative to the top directory.
#
#   make unit          build every test and run it; fails if any test fails. The store tests
#                      run against a throwaway redis-server on a private unix socket as well.
#   make unit-tsan     the tests of the threaded core under ThreadSanitizer instead
#   make unit-clean    remove the test executables
#
# Each t/unit/test_X is built from t/unit/test_X.c and the src/*.c files it needs. No httpd
# include path is given, so a core file that includes an httpd header does not compile, and
# t/unit/core-link links every core file with APR, hiredis and jansson only.

UNIT_TESTS := t/unit/test_buf t/unit/test_id t/unit/test_text t/unit/test_input \
              t/unit/test_name t/unit/test_sse t/unit/test_html t/unit/test_confval \
              t/unit/test_ring t/unit/test_hub t/unit/test_thread t/unit/test_pump \
              t/unit/test_relay t/unit/test_feedcache t/unit/test_redis_wire t/unit/test_store \
              t/unit/test_sign t/unit/test_origin \
              t/unit/test_peers t/unit/test_stats
# The tests of what runs threads, also built for ThreadSanitizer.
UNIT_THREADED := test_ring test_hub test_thread test_pump test_relay test_store test_peers

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

# The core sources each test links.
UNIT_HUB := src/tw_hub.c src/tw_ring.c src/tw_blob.c src/tw_log.c src/tw_memstore.c \
            src/tw_sse.c src/tw_buf.c src/tw_id.c src/tw_stats.c
UNIT_SRC_test_buf        := src/tw_buf.c
UNIT_SRC_test_id         := src/tw_id.c
UNIT_SRC_test_text       := src/tw_text.c
UNIT_SRC_test_input      := src/tw_input.c src/tw_text.c
UNIT_SRC_test_name       := src/tw_name.c src/tw_text.c
UNIT_SRC_test_sign       := src/tw_sign.c src/tw_text.c
UNIT_SRC_test_origin     := src/tw_origin.c
UNIT_SRC_test_sse        := src/tw_sse.c src/tw_buf.c
UNIT_SRC_test_html       := src/tw_html.c src/tw_buf.c src/tw_name.c src/tw_text.c src/tw_id.c \
                            src/tw_sse.c src/tw_render.c src/tw_blob.c
UNIT_SRC_test_confval    := src/tw_confval.c
UNIT_SRC_test_ring       := src/tw_ring.c src/tw_blob.c src/tw_id.c
UNIT_SRC_test_hub        := $(UNIT_HUB)
UNIT_SRC_test_thread     := src/tw_thread.c
UNIT_SRC_test_pump       := $(UNIT_HUB) src/tw_pump.c src/tw_thread.c
UNIT_SRC_test_relay      := $(UNIT_HUB) src/tw_relay.c
UNIT_SRC_test_feedcache  := src/tw_feedcache.c src/tw_blob.c
UNIT_SRC_test_peers      := src/tw_peers.c
UNIT_SRC_test_stats      := src/tw_stats.c src/tw_buf.c src/tw_id.c
UNIT_SRC_test_redis_wire := src/tw_redis_wire.c src/tw_id.c
UNIT_SRC_test_store      := $(UNIT_HUB) src/tw_redis.c src/tw_redis_sub.c \
                            src/tw_redis_wire.c src/tw_thread.c

UNIT_DEPS := t/unit/tap.h t/unit/fixture.h t/unit/edge.h $(wildcard src/*.h) build/tw_redis_publish_lua.h

.SECONDEXPANSION:
t/unit/test_%: t/unit/test_%.c $$(UNIT_SRC_test_$$*) $(UNIT_DEPS)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_APR_CFLAGS) -o $@ $(filter %.c,$^) $(UNIT_LDLIBS)

# Every core file in one program: an httpd symbol anywhere in the core fails this link.
t/unit/core-link: t/unit/core_link.c $(wildcard src/*.c) $(wildcard src/*.h) build/tw_redis_publish_lua.h
	$(UNIT_CC) $(UNIT_WARN) -Isrc -Ibuild $(UNIT_APR_CFLAGS) -o $@ $(filter %.c,$^) $(UNIT_LDLIBS)

# ThreadSanitizer builds of the threaded tests (clang or gcc; TSan cannot share a binary
# with ASan).
UNIT_TSAN_TESTS := $(addprefix t/unit/tsan/,$(UNIT_THREADED))
t/unit/tsan/test_%: t/unit/test_%.c $$(UNIT_SRC_test_$$*) $(UNIT_DEPS)
	@mkdir -p t/unit/tsan
	$(UNIT_CC) $(UNIT_WARN) -fsanitize=thread -O1 -Isrc -Ibuild $(UNIT_APR_CFLAGS) -o $@ \
	    $(filter %.c,$^) $(UNIT_LDLIBS)

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
	rm -rf $(UNIT_TESTS) t/unit/core-link t/unit/tsan

.DEFAULT_GOAL := $(unit_saved_goal)
