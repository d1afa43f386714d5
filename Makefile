# The README's test command is `make test`; .ci/run calls exactly that.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GO          ?= go

.PHONY: test fmt vet staticcheck gotest latest demo bench

test: fmt vet staticcheck gotest latest

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

gotest:
	$(GO) test -race -count=1 -timeout 12m ./...

# go.mod asks for the lowest Gin and Echo versions the adapters pass with;
# this runs the adapter and demo tests once more against the latest ones,
# in a throw-away copy of go.mod (-modfile), so go.mod itself is untouched.
latest:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp go.mod "$$tmp/go.mod" && cp go.sum "$$tmp/go.sum" && \
	$(GO) get -modfile="$$tmp/go.mod" github.com/gin-gonic/gin@latest github.com/labstack/echo/v4@latest && \
	grep -E 'gin-gonic/gin |labstack/echo/v4 ' "$$tmp/go.mod" | sed 's/^/latest:/' && \
	$(GO) test -count=1 -modfile="$$tmp/go.mod" ./adapters/gin ./adapters/echo ./cmd/sessiondemo -skip TestBrowser

demo:
	$(GO) run ./cmd/sessiondemo

# Benchmarks against peer libraries (bench/ is its own module); writes bench/RESULTS.md.
bench:
	cd bench && GO=$(GO) ./run.sh
