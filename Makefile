# ngx_http_fib_module: `make help` lists every target, one line each.

SHELL := /bin/bash

# a comma inside a $(call ...) argument
, := ,

PORT        ?= 8080
BUILD       ?= $(CURDIR)/build
NGINX       ?= /usr/sbin/nginx
# make puts a command line's NGINX=... in every recipe's environment,
# where nginx takes it for sockets inherited from an old binary: it
# would not daemonize, and the suite would wait for it for ever
unexport NGINX
# nginx's sources: Debian's nginx-dev, or any upstream source tree
NGINX_SRC   ?= /usr/share/nginx/src

# `make install`: Debian's module directory unless told otherwise
DESTDIR     ?=
MODULES_DIR ?= /usr/lib/nginx/modules

# the one place the version is written: `config`, which also hands it to
# the C code as NGX_HTTP_FIB_VERSION
VERSION     := $(shell sed -n 's/^ngx_http_fib_version=//p' $(CURDIR)/config)

# a port nothing listens on now, unless the caller names one
# the suite's ten ports (TEST_NGINX_PORT .. +9, t/README.md), free now
# and below the kernel's ephemeral range, where clients' connections
# would take one of them at any moment
TEST_NGINX_PORT ?= $(shell perl -MIO::Socket::INET -e \
    'for (1 .. 200) { my $$p = 20000 + 10 * int rand 1200; \
         next if grep { !IO::Socket::INET->new(Listen => 1, \
             LocalAddr => "127.0.0.1", LocalPort => $$_, ReuseAddr => 1) } \
             $$p .. $$p + 9; \
         print $$p; last }')

# what Debian's own nginx was compiled with (see `nginx -V`)
CC_OPT      ?= -g -O2 -fstack-protector-strong -Wformat \
               -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2
LD_OPT      ?= -Wl,-z,relro -Wl,-z,now -fPIC

NGX_BUILD   ?= $(BUILD)/nginx

# ./configure's options beyond Debian's own (nginx-dev's conf_flags, when
# NGINX_SRC has them) and the module: an upstream tree gets what a
# dynamic module needs; NGX_MODULE_ADD=--add-module builds it in
NGX_CONFIGURE ?= $(if $(wildcard $(NGINX_SRC)/conf_flags),,--with-compat \
                 --with-threads)
NGX_MODULE_ADD ?= --add-dynamic-module
MODULE      := $(BUILD)/ngx_http_fib_module.so
UNIT        := $(BUILD)/test_fib_core
UNIT_CFLAGS ?= -g -O2 -Wall -Wextra -Wno-unused-parameter -Werror -pthread
LIBS        := -luriparser -lgmp -lm

# the package groups are tools/deps's table; these two the README and
# its test read
DEB_BUILD   := $(shell $(CURDIR)/tools/deps --list build)
DEB_TEST    := $(shell $(CURDIR)/tools/deps --list test)
H3CLIENT    := $(BUILD)/h3client
H3_PKGS     := libngtcp2 libngtcp2_crypto_gnutls libnghttp3 gnutls

BENCH_SECONDS ?= 6
SIZING_SECONDS ?= 2
SOAK_SECONDS ?= 120

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_parse fuzz_compute

ASAN_BUILD  := $(BUILD)/asan
ASAN_CC_OPT := -g -O1 -fno-omit-frame-pointer -fPIC \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined

# the real Test::Nginx when the caller's PERL5LIB (or the system) has it,
# else the local runner in front of the caller's PERL5LIB
TEST_PERL5LIB = $$(perl -MTest::Nginx::Socket -e1 2>/dev/null \
                   && echo "$$PERL5LIB" \
                   || echo "$(CURDIR)/t/lib$${PERL5LIB:+:$$PERL5LIB}")

TEST_ENV = TEST_NGINX_BINARY=$(NGINX) \
           TEST_NGINX_LOAD_MODULES=$(MODULE) \
           TEST_FIB_UNIT=$(UNIT) \
           TEST_NGINX_PORT=$(TEST_NGINX_PORT) \
           PERL5LIB=$(TEST_PERL5LIB)

.PHONY: all build configure install uninstall deps deps-build deps-test \
        deps-valgrind deps-prometheus deps-quic \
        deps-bench deps-fuzz run test test-unit test-nginx test-valgrind \
        test-asan bench bench-heavy sizing fuzz soak deb test-deb test-builds version help \
        clean

all: build ## the same as make build

# Each user-facing target carries a "## " description on its rule line.
help: ## this list
	@sed -n 's/^\([a-z][a-z-]*\):.*## \(.*\)/\1\t\2/p' \
	    $(firstword $(MAKEFILE_LIST)) | expand -t 16 | sed 's/^/make /'

version: ## print the module's version (from config)
	@echo $(VERSION)

# tools/deps installs the packages a target needs (as root; it says
# what to run otherwise).  A "+" line runs under make -n too: there it
# only prints what it would run, so make -n shows the packages.
MAKE_DRY = $(findstring n,$(firstword -$(MAKEFLAGS)))$(findstring \
           t,$(firstword -$(MAKEFLAGS)))$(findstring q,$(firstword -$(MAKEFLAGS)))
deps_of = +@$(CURDIR)/tools/deps $(if $(MAKE_DRY),--dry-run) $(1)

deps: deps-build deps-test ## deps-build and deps-test

deps-build: ## install the Debian packages missing to build
	$(call deps_of,build)

deps-test: ## install the Debian packages missing to test
	$(call deps_of,test)

deps-valgrind: ## install valgrind if missing
	$(call deps_of,valgrind)

deps-quic: ## install the HTTP/3 clients' packages if missing
	$(call deps_of,quic)

deps-prometheus: ## install prometheus and promtool if missing, not started
	$(call deps_of,prometheus)

deps-fuzz: ## install clang and its fuzzer runtime if missing
	$(call deps_of,fuzz)

deps-bench: ## install wrk, gnuplot and the Lua peer if missing
	$(call deps_of,bench peers)

NO_SOURCES := no nginx sources in NGINX_SRC=$(NGINX_SRC): install \
              nginx-dev (Debian: make deps-build), or name a source tree \
              (make NGINX_SRC=/path/to/nginx-1.x.y)

# The one configure recipe (build, test-asan, test-builds): NGINX_SRC
# copied to $(1), so that nothing under /usr is written, and configured
# there with Debian's flags when it has them, $(NGX_CONFIGURE) and the
# module; $(2) and $(3) the compiler's and the linker's options.  A
# release has ./configure, a git checkout of nginx keeps it in auto/.
define configure_nginx
	@[ -x $(NGINX_SRC)/configure ] || [ -x $(NGINX_SRC)/auto/configure ] \
	    || { echo "$(NO_SOURCES)"; exit 1; }
	rm -rf $(1)
	mkdir -p $(1)
	cp -r $(NGINX_SRC)/. $(1)
	cd $(1) && NGX_CONF_FLAGS=() \
	    && { [ ! -e conf_flags ] || . ./conf_flags; } \
	    && cfg=./configure && { [ -x $$cfg ] || cfg=auto/configure; } \
	    && $$cfg "$${NGX_CONF_FLAGS[@]}" $(NGX_CONFIGURE) \
	        --with-cc-opt="$(2)" --with-ld-opt="$(3)" \
	        $(NGX_MODULE_ADD)=$(CURDIR) > $(1)/configure.log 2>&1 \
	    || { cat $(1)/configure.log; exit 1; }
endef

# config writes the dashboard into objs/: configure again when it changes
$(NGX_BUILD)/objs/Makefile: config ngx_http_fib_dashboard.html \
                            $(wildcard $(NGINX_SRC)/conf_flags)
	$(call configure_nginx,$(NGX_BUILD),$(CC_OPT),$(LD_OPT))

configure: ## configure NGINX_SRC with the module in NGX_BUILD (build/nginx)
	$(call configure_nginx,$(NGX_BUILD),$(CC_OPT),$(LD_OPT))

# No package manager here: make run and make test install what is
# missing, the build needs only nginx's sources and the two libraries.
build: ## the module alone: build/ngx_http_fib_module.so
	$(MAKE) --no-print-directory $(NGX_BUILD)/objs/Makefile
	$(MAKE) --no-print-directory -C $(NGX_BUILD) -f objs/Makefile modules
	cp $(NGX_BUILD)/objs/ngx_http_fib_module.so $(MODULE).tmp
	mv -f $(MODULE).tmp $(MODULE)

INSTALLED   = $(DESTDIR)$(MODULES_DIR)/ngx_http_fib_module.so

# a file of the Debian package is the package's to replace or remove:
# make install and make uninstall stop there, saying which package
define not_packaged
	@if [ -z "$(DESTDIR)" ] && dpkg-query -S "$(INSTALLED)" >/dev/null 2>&1; \
	then \
	    echo "$(INSTALLED) belongs to a package: apt-get remove" \
	         "$$(dpkg-query -S "$(INSTALLED)" | cut -d: -f1) first"; \
	    exit 1; \
	fi
endef

# stripped, as a package installs it: the debug build is five times
# the size
install: build ## copy the module, stripped, to DESTDIR/MODULES_DIR
	$(call not_packaged)
	install -d $(DESTDIR)$(MODULES_DIR)
	install -m 0644 -s $(MODULE) $(INSTALLED)

# what make install put there
uninstall: ## remove the module from DESTDIR/MODULES_DIR
	$(call not_packaged)
	rm -f $(INSTALLED)

$(UNIT): t/unit/test_fib_core.c fib_core.c fib_core.h
	mkdir -p $(BUILD)
	$(CC) $(UNIT_CFLAGS) -DFIB_TEST_HOOKS=1 -I. -o $@ \
	    t/unit/test_fib_core.c fib_core.c -lcmocka $(LIBS)

# the HTTP/3 client that resets and stops streams at chosen moments
$(H3CLIENT): t/h3/h3client.c
	mkdir -p $(BUILD)
	$(CC) $(UNIT_CFLAGS) -o $@ t/h3/h3client.c \
	    $$(pkg-config --cflags --libs $(H3_PKGS))

test-unit: deps-build deps-test ## the core's unit tests (cmocka)
	$(MAKE) --no-print-directory $(UNIT)
	$(UNIT)

# prove runs the unit tests too: t/core-unit.t runs $(UNIT)
test-nginx: deps-build deps-test deps-prometheus build $(UNIT) ## the whole suite: prove -r t
	$(TEST_ENV) prove -r t

test: test-nginx ## build, then every test (prove -r t, the unit tests too)

# valgrind prints its findings on stderr; any of them fails the run
test-valgrind: deps-build deps-test deps-valgrind build $(UNIT) ## the suite under valgrind
	set -o pipefail; \
	$(TEST_ENV) TEST_NGINX_USE_VALGRIND=1 prove -r t \
	    2> >(tee $(BUILD)/valgrind.log >&2); rc=$$?; \
	if grep -q '^==[0-9]*==' $(BUILD)/valgrind.log; then \
	    echo "valgrind reported errors: see $(BUILD)/valgrind.log"; \
	    exit 1; \
	fi; \
	exit $$rc

# The module and core built with AddressSanitizer and UBSan, loaded into
# Debian's nginx with the sanitizer runtime preloaded.  Reports go to
# files; any report fails the run.  intercept_tls_get_addr=0: with it,
# LeakSanitizer's tracer now and then reads a bogus dynamic TLS range
# of an exiting worker with pool threads and dies ("Tracer caught signal
# 11"), a failure of the tool and not a leak; leaks are still found.
# Workers run as nobody when the suite runs as root: they too must be
# able to write their reports.
test-asan: deps $(UNIT) ## the suite, the module built with ASan and UBSan
	rm -rf $(ASAN_BUILD)
	mkdir -p $(ASAN_BUILD)/reports
	chmod 1777 $(ASAN_BUILD)/reports
	$(call configure_nginx,$(ASAN_BUILD)/nginx,$(ASAN_CC_OPT),-fsanitize=address$(,)undefined)
	$(MAKE) --no-print-directory -C $(ASAN_BUILD)/nginx -f objs/Makefile \
	    modules
	printf '#!/bin/sh\nLD_PRELOAD="%s %s" exec %s "$$@"\n' \
	    "$$($(CC) -print-file-name=libasan.so)" \
	    "$$($(CC) -print-file-name=libubsan.so)" $(NGINX) \
	    > $(ASAN_BUILD)/nginx-asan
	chmod +x $(ASAN_BUILD)/nginx-asan
	$(TEST_ENV) \
	TEST_NGINX_BINARY=$(ASAN_BUILD)/nginx-asan \
	TEST_NGINX_LOAD_MODULES=$(ASAN_BUILD)/nginx/objs/ngx_http_fib_module.so \
	ASAN_OPTIONS=detect_leaks=1:intercept_tls_get_addr=0:log_path=$(ASAN_BUILD)/reports/asan \
	LSAN_OPTIONS=suppressions=$(CURDIR)/t/lsan.suppress:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$(ASAN_BUILD)/reports/ubsan \
	    prove -r t
	@if ls $(ASAN_BUILD)/reports/* >/dev/null 2>&1; then \
	    cat $(ASAN_BUILD)/reports/*; \
	    echo "sanitizer reports: see $(ASAN_BUILD)/reports"; \
	    exit 1; \
	fi

# libFuzzer targets of the core, with ASan and UBSan; the seed corpus is
# fuzz/corpus, the grown one stays in the build folder
$(BUILD)/fuzz/%: fuzz/%.c fib_core.c fib_core.h
	mkdir -p $(BUILD)/fuzz
	clang -g -O1 -Wall -Werror -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -DFIB_TEST_HOOKS=1 -I. -o $@ $< \
	    fib_core.c $(LIBS)

fuzz: deps deps-fuzz ## libFuzzer on the core's parser and computation
	$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/fuzz/corpus-$$t; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    $(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=9000 \
	        -timeout=10 -print_final_stats=1 -dict=fuzz/fib.dict \
	        -artifact_prefix=$(BUILD)/fuzz/$$t- \
	        $(BUILD)/fuzz/corpus-$$t fuzz/corpus \
	        > $(BUILD)/fuzz/$$t.log 2>&1; rc=$$?; \
	    grep -E '^(#[0-9]+ +DONE|stat::|==|SUMMARY|INFO: Running)' \
	        $(BUILD)/fuzz/$$t.log | tail -12; \
	    [ $$rc = 0 ] || { tail -40 $(BUILD)/fuzz/$$t.log; exit 1; }; \
	done

# Debian's own tooling (dh-sequence-nginx) on a copy of the tree; it
# configures inside /usr/share/nginx/src, so the Makefile it leaves there
# is removed again when it was not there before.
deb: ## the package libnginx-mod-http-fib in build/deb, unsigned
	$(call deps_of,packaging)
	rm -rf $(BUILD)/deb
	mkdir -p $(BUILD)/deb/src
	tar -cf - --exclude=./build --exclude='./t/servroot*' . \
	    | tar -xf - -C $(BUILD)/deb/src
	had=$$([ -e $(NGINX_SRC)/Makefile ] && echo 1 || echo 0); \
	cd $(BUILD)/deb/src && dpkg-buildpackage -us -uc -b \
	    > $(BUILD)/deb/build.log 2>&1; rc=$$?; \
	[ $$had = 1 ] || rm -f $(NGINX_SRC)/Makefile; \
	[ $$rc = 0 ] || { tail -40 $(BUILD)/deb/build.log; exit 1; }
	ls -l $(BUILD)/deb/*.deb

test-deb: deb ## install the package here, test it, remove it
	$(call deps_of,deb-test)
	bash debian/tests/run.sh $(BUILD)/deb

# NGINX_TREE=/path: the user's own nginx source tree instead of Debian's
test-builds: deps deps-prometheus deps-quic $(UNIT) $(H3CLIENT) ## nginx's own source (or NGINX_TREE): dynamic, static, no threads
	$(call deps_of,srcbuild)
	TEST_NGINX_PORT=$(TEST_NGINX_PORT) TEST_FIB_UNIT=$(UNIT) \
	TEST_FIB_H3CLIENT=$(H3CLIENT) NGINX_TREE=$(NGINX_TREE) \
	    bash builds/run.sh $(CURDIR) $(BUILD) $(BUILDS)

soak: build ## bounded mixed load: aborts, reloads, 412s, SSI, HTTP/2
	$(call deps_of,soak)
	NGINX_BINARY=$(NGINX) bash soak/run.sh $(MODULE) $(BUILD) $(SOAK_SECONDS)

# the core alone, compiled as the module is: the single-thread baseline
$(BUILD)/corebench: bench/corebench.c bench/plain.c bench/plain.h \
                    fib_core.c fib_core.h
	mkdir -p $(BUILD)
	$(CC) $(CC_OPT) -I. -Ibench -pthread -o $@ bench/corebench.c \
	    bench/plain.c fib_core.c $(LIBS)

# SECTIONS="heavy isolation ..." runs those sections of bench/sections/
# alone and writes build/bench/REPORT.md, leaving bench/results/ as it is
SECTIONS    ?=
bench: build deps-bench ## throughput and latency against baselines (SECTIONS=... some)
	$(MAKE) --no-print-directory $(BUILD)/corebench
	SECTIONS="$(SECTIONS)" NGINX_BINARY=$(NGINX) \
	    bash bench/run.sh $(MODULE) $(BUILD) $(BENCH_SECONDS)

bench-heavy: ## make bench SECTIONS=heavy (build/bench/REPORT.md)
	$(MAKE) --no-print-directory bench SECTIONS=heavy

# examples/cluster/ measured: what one backend core computes, what one
# front core serves from its cache
sizing: build deps-bench ## per-core figures for examples/cluster/ (bench/results/SIZING.md)
	$(MAKE) --no-print-directory $(BUILD)/corebench
	NGINX_BINARY=$(NGINX) bash bench/sizing.sh $(MODULE) $(BUILD) $(SIZING_SECONDS)

# make run serves examples/nginx.conf, the README's Synopsis, with the
# module just built, PORT, and its logs, pid and temporary files in
# build/run (tools/run.sh).  The build's forty compiler lines go to
# build/build.log, shown if it fails: make run says one line per step,
# while make build shows the compiler's lines as make users expect.
run: deps-build examples/nginx.conf ## nginx in the foreground on 127.0.0.1:PORT (8080)
	@echo "building $(MODULE) (compiler output: $(BUILD)/build.log)"
	@mkdir -p $(BUILD)
	@$(MAKE) --no-print-directory build > $(BUILD)/build.log 2>&1 \
	    || { cat $(BUILD)/build.log; echo "make run: the build failed"; \
	         exit 1; }
	@NGINX_BINARY=$(NGINX) bash tools/run.sh $(MODULE) $(BUILD)/run $(PORT)

clean: ## remove build/ and t/servroot
	rm -rf $(BUILD) t/servroot
