# The README's test command is `make test`; .ci/run calls exactly that.
#
# The repository holds several Go modules (see go.work): the root module
# (core, the net/http adapter, the memory, file and cookie stores, the
# conformance suite), one module per framework adapter and per store with a
# driver, the demo and the benchmarks. Each module is vetted and tested on
# its own, with GOWORK=off, so that it builds from its own go.mod exactly as
# a user's build would (the replace directives point the nested modules at
# this checkout; users never see them).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GO          ?= go
# GO125 is the older of the two Go releases sessionkit supports (its
# latest patch release); the go125 target vets and tests on it (the go
# command downloads that toolchain through the module proxy).
GO125       ?= go1.25.14

# Every module, found from its go.mod: the library modules, the demo, bench
# and internal tools.
ALL_MODULES := $(patsubst %/go.mod,%,$(shell git ls-files '*go.mod' 2>/dev/null || find . -name go.mod))
ALL_MODULES := $(patsubst go.mod,.,$(ALL_MODULES))
# The modules whose tests make test runs (bench has only benchmarks and
# runs with make bench; internal/modcheck runs as the modcheck target).
TEST_MODULES := $(filter-out bench internal/modcheck,$(ALL_MODULES))
# The modules users import: they must build on every OS and on GO125.
LIB_MODULES := $(filter-out cmd/sessiondemo,$(TEST_MODULES))

export GOWORK := off

# Every build leaves the checkout's directory out of its cache keys and of
# what it writes (-trimpath). Without it the go command keys each compiled
# package of this repository by its absolute directory, so a clone at
# another path (CI's clean clone) recompiled every one of them for every
# check (race tests, vet, darwin, windows, Go 1.25, staticcheck) although
# the build cache held them: the redisstore tests' build took 8-10 s in a
# second clone instead of 2.4 s. A caller's own GOFLAGS are kept.
export GOFLAGS := $(strip $(GOFLAGS) -trimpath)

# Each module in $(1) runs the shell command $(2) in its directory; the
# first failure stops the loop with its status.
foreach_module = set -e; for m in $(1); do echo "--- $$m: $(2)"; (cd $$m && $(2)); done

# One gotest-MODULE target per test module ("gotest-." is the root module),
# so that make -j runs several at once.
GOTEST_MODULES := $(addprefix gotest-,$(TEST_MODULES))

.PHONY: test checks fmt vet staticcheck gotest $(GOTEST_MODULES) benchtools crossbuild go125 go125-vet go125-test \
	latest repocheck modcheck demo bench tidy

# make test runs every check (the prerequisites of checks), TEST_JOBS at a
# time: most of the test time is spent waiting (on expiry, servers, the
# disk, the network), so the compiling, vetting and other modules' tests
# fill it. Each target's output is printed in one piece when it ends
# (--output-sync=target), with how long it took; the first failure stops
# make from starting more and makes make test fail once the running ones
# have finished. make starts the prerequisites in the order listed, so the
# longest come first (SLOW_TESTS: the slowest modules' tests).
TEST_JOBS ?= 3
gotest_of = $(foreach m,$(1),$(filter gotest-$(m),$(GOTEST_MODULES)))
SLOW_TESTS := $(call gotest_of,. stores/redisstore stores/memcachestore stores/sqlitestore)
MORE_TESTS := $(call gotest_of,cmd/sessiondemo stores/mysqlstore stores/postgresstore)
test:
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target checks

checks: repocheck fmt $(SLOW_TESTS) modcheck go125 $(MORE_TESTS) crossbuild staticcheck vet latest gotest
	@echo "make test: every check passed"

# timed runs the shell command $(1) in a subshell and then prints how long
# it took, the CPU time it used, and whether it passed; the recipe fails
# with the subshell's status. (bash: the time keyword and TIMEFORMAT.)
SHELL := /bin/bash
timed = set -e; trap 'st=$$?; [ $$st = 0 ] && echo "=== $@ passed" || echo "=== $@ FAILED"; exit $$st' EXIT; \
	TIMEFORMAT="=== $@ took %0Rs (CPU: user %0Us, sys %0Ss)"; { time ( $(1) ); } 2>&1

# No build output, binaries or large files in the repository: the module
# zip is what users download.
repocheck:
	@bad=$$(git ls-files -z | xargs -0 -r stat -c '%s %n' | awk '$$1 > 1048576 {print "larger than 1 MiB: " $$2}'); \
	bins=$$(git ls-files -z | xargs -0 -r file --mime-type | grep -E 'application/x-(executable|pie-executable|sharedlib|object|mach-binary|dosexec)' | sed 's/^/executable: /'); \
	modes=$$(git ls-files -s | awk '$$1 == "100755" && $$4 !~ /(^|\/)(run|run\.sh|[a-z0-9_-]+\.sh)$$/ {print "executable bit: " $$4}'); \
	out=$$(printf '%s\n%s\n%s\n' "$$bad" "$$bins" "$$modes" | sed '/^$$/d'); \
	if [ -n "$$out" ]; then echo "repocheck: tracked files that must not be in the repository:"; echo "$$out"; exit 1; fi; \
	echo "repocheck: no tracked file over 1 MiB, no executables"

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	@$(call timed,$(call foreach_module,$(ALL_MODULES),$(GO) vet ./...))

staticcheck:
	@$(call timed,$(call foreach_module,$(ALL_MODULES),$(GO) run $(STATICCHECK) ./...))

gotest: $(GOTEST_MODULES) benchtools

# bench's own tools (the report generator, the latency tool's floor) have
# tests that need no external server; its benchmarks run with make bench.
benchtools:
	@$(call timed,cd bench && $(GO) test -race -count=1 ./cmd/...)

$(GOTEST_MODULES): gotest-%:
	@echo "--- $*: $(GO) test -race -count=1 -timeout 25m ./..."
	@$(call timed,cd $* && $(GO) test -race -count=1 -timeout 25m ./...)

# Every package builds for macOS and Windows (Linux: vet and gotest), and
# the root module, where the OS-specific code lives (the file store's
# locks), also type-checks its tests there.
crossbuild:
	@$(call timed,set -e; for os in darwin windows; do \
		for m in $(TEST_MODULES); do (cd $$m && GOOS=$$os GOARCH=amd64 $(GO) build ./...); done; \
		GOOS=$$os GOARCH=amd64 $(GO) vet ./...; \
		echo "crossbuild: every package of every module builds for $$os; the root module vets for $$os"; \
	done)

# The older supported Go release: every library module vets (type-checks
# against Go 1.25's standard library, tests included) and the root module's
# short tests run. The toolchain comes through the module proxy.
go125: go125-vet go125-test

go125-vet:
	@$(call timed,$(call foreach_module,$(LIB_MODULES),GOTOOLCHAIN=$(GO125) $(GO) vet ./...))

go125-test:
	@echo "--- .: GOTOOLCHAIN=$(GO125) $(GO) test -short -count=1 ./..."
	@$(call timed,GOTOOLCHAIN=$(GO125) $(GO) test -short -count=1 ./...)

# go.mod asks for the lowest Gin and Echo versions the adapters pass with
# (and that have no published advisory); this runs the adapter and demo
# tests once more against the latest releases, in a throw-away copy of each
# go.mod (-modfile), so the go.mod files themselves are untouched.
LATEST := adapters/ginsession:github.com/gin-gonic/gin adapters/echosession:github.com/labstack/echo/v4 \
	adapters/echov5:github.com/labstack/echo/v5 \
	cmd/sessiondemo:github.com/gin-gonic/gin cmd/sessiondemo:github.com/labstack/echo/v4 \
	cmd/sessiondemo:github.com/labstack/echo/v5
latest:
	@$(call timed,set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for dir in $$(echo "$(LATEST)" | tr ' ' '\n' | cut -d: -f1 | sort -u); do \
		[ -d "$$dir" ] || continue; \
		mods=$$(echo "$(LATEST)" | tr ' ' '\n' | awk -F: -v d="$$dir" '$$1 == d {print $$2 "@latest"}'); \
		cp $$dir/go.mod "$$tmp/go.mod"; cp $$dir/go.sum "$$tmp/go.sum"; \
		(cd $$dir && $(GO) get -modfile="$$tmp/go.mod" $$mods && \
		 $(GO) list -modfile="$$tmp/go.mod" -m $$(echo $$mods | sed 's/@latest//g') | sed "s|^|latest ($$dir): |" && \
		 $(GO) test -count=1 -modfile="$$tmp/go.mod" ./... -skip TestBrowser); \
	done)

# What a user pays for each set of imports, measured in fresh user modules
# against a local module proxy built from this checkout (see the README).
modcheck:
	@echo "--- internal/modcheck: $(GO) run . -repo ../.."
	@$(call timed,cd internal/modcheck && $(GO) run . -repo ../..)

# go mod tidy in every module.
tidy:
	@$(call foreach_module,$(ALL_MODULES),$(GO) mod tidy)

demo:
	GOWORK= $(GO) run ./cmd/sessiondemo

# Benchmarks against peer libraries (bench/ is its own module); writes bench/RESULTS.md.
bench:
	cd bench && GO=$(GO) ./run.sh
