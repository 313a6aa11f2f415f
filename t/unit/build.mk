# t/unit/build.mk: the httpd-free unit tests of src/ (TAP output, ASan + UBSan).
# A GNU make fragment, included by the top Makefile; paths are relative to the top directory.
#
#   make unit          build every test and run it; fails if any test fails
#   make unit-clean    remove the test executables
#
# Each t/unit/test_X is built from t/unit/test_X.c and the src/*.c files it needs.

UNIT_TESTS := t/unit/test_buf t/unit/test_id t/unit/test_text t/unit/test_input \
              t/unit/test_name t/unit/test_sse t/unit/test_html t/unit/test_confval

UNIT_CC      ?= cc
UNIT_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g \
                -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
                -Isrc
# Asked when a recipe runs, never when make reads this file: APR's development files may be
# installed by `make deps` in the same make run.
UNIT_APR_CFLAGS = $$(apr-1-config --includes --cppflags)
UNIT_LDLIBS     = $$(apu-1-config --link-ld) $$(apr-1-config --link-ld --libs) -ljansson

# Keep the including Makefile's default goal: this fragment defines no default target.
unit_saved_goal := $(.DEFAULT_GOAL)

# The core sources each test links.
t/unit/test_buf:   src/tw_buf.c
t/unit/test_id:    src/tw_id.c
t/unit/test_text:  src/tw_text.c
t/unit/test_input: src/tw_input.c src/tw_text.c
t/unit/test_name:  src/tw_name.c src/tw_text.c
t/unit/test_sse:   src/tw_sse.c src/tw_buf.c
t/unit/test_html:  src/tw_html.c src/tw_buf.c src/tw_name.c src/tw_text.c src/tw_id.c src/tw_sse.c
t/unit/test_confval: src/tw_confval.c

t/unit/test_%: t/unit/test_%.c t/unit/tap.h $(wildcard src/*.h)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_APR_CFLAGS) -o $@ $(filter %.c,$^) $(UNIT_LDLIBS)

.PHONY: unit unit-clean
unit: $(UNIT_TESTS)
	@failed=; pass=0; fail=0; \
	for t in $(UNIT_TESTS); do \
	    echo "# $$t"; \
	    out=$$(./$$t 2>&1) || failed="$$failed $$t"; \
	    echo "$$out"; \
	    pass=$$((pass + $$(echo "$$out" | grep -c '^ok'))); \
	    fail=$$((fail + $$(echo "$$out" | grep -c '^not ok'))); \
	done; \
	echo "unit: $$pass passed, $$fail failed"; \
	if [ -n "$$failed" ]; then echo "# FAILED:$$failed"; exit 1; fi

unit-clean:
	rm -f $(UNIT_TESTS)

.DEFAULT_GOAL := $(unit_saved_goal)
