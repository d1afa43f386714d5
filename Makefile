# The README's test command is `make test`; .ci/run calls exactly that.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GO          ?= go

.PHONY: test fmt vet staticcheck gotest demo bench

test: fmt vet staticcheck gotest

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

gotest:
	$(GO) test -race -count=1 -timeout 12m ./...

demo:
	$(GO) run ./cmd/sessiondemo

# Benchmarks against peer libraries (bench/ is its own module); writes bench/RESULTS.md.
bench:
	cd bench && GO=$(GO) ./run.sh
