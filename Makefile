# mod_tweetsse — build with apxs; see README.md.
#   make            build the module (.libs/mod_tweetsse.so)
#   make frontend   install the pinned front-end libraries into htdocs/lib
#   make install    install module, Debian a2enmod files and htdocs (DESTDIR stages them;
#                   an edited tweetsse.conf is kept, the new one put beside it as .dist)
#   make uninstall  remove what make install put there (an edited tweetsse.conf stays)
#   make deb        the Debian package libapache2-mod-tweetsse into dist/ (debian/)
#   make run        fresh Debian machine -> running feed on http://127.0.0.1:$(PORT)
#                   (REDIS=host:port|/socket|sentinel://... uses that Redis; EXTRA_CONF=file;
#                   HOST=0.0.0.0 listens on every interface instead of loopback only)
#   make run-cluster  INSTANCES (3) instances behind HAProxy on $(PORT), Redis primary +
#                   replica + 3 Sentinels (MIN_REPLICAS, EXTRA_CONF; TLS=1 adds HTTPS with h2
#                   on $(PORT)+102; see scripts/cluster.sh)
#   make test       the whole suite (log codes, unit, integration, browser, then test-asan)
#   make test-tsan  the threaded core and the delivery and fault suites under ThreadSanitizer
#   make test-asan  every integration suite against the module built with ASan + UBSan
#   make fuzz       fuzz every parser for FUZZ_SECONDS (60) each (make test replays the corpora)
#   make bench      side-by-side benchmark with nginx + Nchan (not part of make test)
#   make bench-100k 100,000 subscribers on one instance, and on the peer (bench/run.sh S7)

APXS      ?= apxs
PORT      ?= 8080
INSTANCES ?= 3
TLS       ?= 0
PREFIX    ?= /usr/share/tweetsse

# httpd glue (mod_tweetsse*.c) and the httpd-free core (src/tw_*.c) but the memory store,
# which only the tests link; build/ holds what is generated from src/ (the Lua script as a C
# string) and the tests' archives of the core.
SRC       := $(wildcard mod_tweetsse*.c) $(filter-out src/tw_store_mem.c,$(wildcard src/tw_*.c))
LUA_HDR   := $(patsubst src/%.lua,build/%_lua.h,$(wildcard src/*.lua))
HDR       := $(wildcard mod_tweetsse*.h) $(wildcard src/*.h) $(LUA_HDR)
WARN      := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
MODULE    := .libs/mod_tweetsse.so

all: $(MODULE)

$(MODULE): $(SRC) $(HDR)
	$(APXS) -c -o mod_tweetsse.la -Ibuild $(addprefix -Wc$(comma),$(WARN)) $(SRC) -lhiredis -ljansson -lcrypto

comma := ,

# Embed a Lua script as a C string constant named after it (src/x.lua: x_lua[] in
# build/x_lua.h): each line becomes one escaped "...\n" literal.
build/%_lua.h: src/%.lua
	@mkdir -p build
	{ echo '/* Generated from $< by the Makefile; do not edit. */'; \
	  echo 'static const char $*_lua[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/' $<; \
	  echo '    ;'; } > $@

# Front-end libraries from the npm registry, pinned by package-lock.json: the one list of them.
# FRONTEND is what the page loads (src/tw_html.c names the files); FRONTEND_SOURCES, in the
# same order, the unminified file npm ships beside each minified one, which `make deb` puts in
# the source package (debian/missing-sources/), as Debian asks of minified files. make install
# and the Debian package install whatever htdocs/lib holds; debian/copyright names each file
# (t/package/version.test.mjs checks that it does).
FRONTEND := htdocs/lib/htmx.min.js htdocs/lib/sse.js htdocs/lib/bootstrap.min.css
FRONTEND_SOURCES := node_modules/htmx.org/dist/htmx.js node_modules/htmx-ext-sse/dist/sse.js \
                    node_modules/bootstrap/dist/css/bootstrap.css
frontend: $(FRONTEND) htdocs/lib/tweetsse.js htdocs/lib/tweetsse.css

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

htdocs/lib/htmx.min.js: node_modules/.installed
	install -D -m 644 node_modules/htmx.org/dist/htmx.min.js $@
htdocs/lib/sse.js: node_modules/.installed
	install -D -m 644 node_modules/htmx-ext-sse/dist/sse.min.js $@
htdocs/lib/bootstrap.min.css: node_modules/.installed
	install -D -m 644 node_modules/bootstrap/dist/css/bootstrap.min.css $@
htdocs/lib/%: htdocs/%
	install -D -m 644 $< $@

# scripts/install.sh stages every file with `install` under DESTDIR (apxs -i ignores it), asks
# apxs for its directories when it runs (apache2-dev may have been installed by this very make),
# records what it installed for `make uninstall`, and writes a cookie secret only into a live
# system (no DESTDIR), never into a staged tree.
install: $(MODULE) frontend
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' APXS='$(APXS)' MODULE='$(MODULE)' \
	    bash scripts/install.sh install

uninstall:
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' APXS='$(APXS)' bash scripts/install.sh uninstall

# The Debian package (debian/) into dist/: the .deb, and the source package beside it. npm runs
# first, outside the package build (make frontend): the source package carries the front-end
# files and their sources, so that the build itself needs Debian's packages only (its
# Build-Depends, which scripts/deps.sh deb installs).
deb: deps-deb
	$(MAKE) frontend
	FRONTEND_SOURCES='$(FRONTEND_SOURCES)' bash scripts/deb.sh

deps-deb:
	bash scripts/deps.sh deb

deps:
	bash scripts/deps.sh

# run, test and bench install what is missing first, as a step of its own: everything after it
# (apxs, apr-1-config, node) may come from those packages.
run: deps
	$(MAKE) all frontend
	PORT=$(PORT) REDIS='$(REDIS)' EXTRA_CONF='$(EXTRA_CONF)' $(HOST_ARG) bash scripts/run.sh

# HOST only when given on make's command line: a HOST in the environment (some shells set
# one) must not move `make run` off loopback.
HOST_ARG = $(if $(filter command line,$(origin HOST)),HOST='$(HOST)',HOST=)

# Several instances behind HAProxy (conf/haproxy.cfg.example), sharing Redis through Sentinel.
# MIN_REPLICAS is passed only when given, so that scripts/cluster.sh's default (1) holds.
run-cluster: deps
	$(MAKE) all frontend
	PORT=$(PORT) INSTANCES=$(INSTANCES) EXTRA_CONF='$(EXTRA_CONF)' TLS=$(TLS) \
	    $(if $(MIN_REPLICAS),MIN_REPLICAS=$(MIN_REPLICAS)) bash scripts/cluster.sh

# make fuzz builds with clang and libFuzzer: installed first, like every other tool.
FUZZ_TOOLS := deps-fuzz
deps-fuzz:
	bash scripts/deps.sh fuzz

include t/unit/build.mk
include t/fuzz/build.mk

# The whole suite: unit tests of the core, every fuzzing corpus replayed (no fuzzing engine
# needed), the integration and browser tests against real Apache, Redis and Chromium, then
# the integration suites again against the module built with ASan + UBSan (test-asan).
test: deps
	$(MAKE) all frontend check-codes unit fuzz-replay
	bash scripts/integration.sh
	$(MAKE) test-asan

# The module built with a sanitizer, beside the normal build (apxs would share its objects):
# build/tsan/ or build/asan/mod_tweetsse.so, with that directory's compiler and flags. ASan is
# clang's: its runtime carries UBSan, so one preloaded library and one log hold every report
# (gcc's libubsan writes to stderr, whatever the ASan log says).
SAN_CC_tsan    := $(CC)
SAN_FLAGS_tsan := -fsanitize=thread
SAN_CC_asan    := clang
SAN_FLAGS_asan := -fsanitize=address,undefined -shared-libasan -fno-omit-frame-pointer
build/%/mod_tweetsse.so: $(SRC) $(HDR)
	@mkdir -p $(@D)
	$(SAN_CC_$*) -shared -fPIC -g -O1 $(WARN) $(SAN_FLAGS_$*) $$($(APXS) -q EXTRA_CPPFLAGS) \
	    -I$$($(APXS) -q INCLUDEDIR) $$(apr-1-config --includes) -Ibuild -o $@ \
	    $(filter %.c,$^) -lhiredis -ljansson -lcrypto

# ThreadSanitizer over the unit tests of the threaded core, then the delivery and fault
# suites against Apache running the module built with it; a report in the module fails.
test-tsan: deps
	$(MAKE) all frontend unit-tsan build/tsan/mod_tweetsse.so
	SAN_CC='$(SAN_CC_tsan)' bash scripts/sanitizer.sh tsan

# AddressSanitizer + UBSan (the unit tests always run under them) over every integration
# suite against Apache running the module built with them; any report fails. About a minute
# here (build and run), so make test runs it too.
test-asan: deps deps-fuzz
	$(MAKE) all frontend build/asan/mod_tweetsse.so
	SAN_CC='$(SAN_CC_asan)' bash scripts/sanitizer.sh asan

bench: deps
	$(MAKE) all frontend
	bash bench/run.sh

# S7 alone: 100,000 concurrent subscribers on one instance (make run's 8 children) and on the
# peer, 30 posts at 1/s (about 2 minutes; see docs/performance.md).
bench-100k: deps
	$(MAKE) all frontend
	bash bench/run.sh S7

# Every log code starts one message only, and the README's table of codes lists exactly them.
check-codes:
	bash scripts/log-codes.sh

format:
	clang-format -i mod_tweetsse*.c mod_tweetsse*.h src/*.c src/*.h t/unit/*.c t/unit/*.h \
	    t/fuzz/*.c t/fuzz/*.h

# The module's build products only (the Debian package's clean: its htdocs/lib is source).
clean-module:
	rm -rf .libs *.la *.lo *.slo src/.libs src/*.lo src/*.la src/*.slo src/*.o *.o build

clean: clean-module
	rm -rf htdocs/lib dist $(UNIT_TESTS) t/unit/core-link t/unit/tsan
	rm -f bench/sseload bench/stall

.PHONY: check-codes all frontend install uninstall deb deps deps-deb deps-fuzz run run-cluster test \
        test-tsan test-asan bench bench-100k format clean clean-module unit
