# The targets CI and developers share. `make test` is the README's test
# command; .ci/run calls it after installing the tools it needs.
GO       ?= go
PKGS     := ./...
STATICCHECK_VERSION := v0.8.2

.PHONY: test unit allocs lint vet staticcheck cross fuzz bench bench-compare e2e

## test: everything CI checks: lint, race-enabled unit tests, allocation tests, the adoption module, cross builds, e2e when root.
test: lint unit allocs adoption cross e2e

## unit: unit tests with the race detector.
unit:
	$(GO) test -race -count=1 $(PKGS)

## allocs: the zero-allocation tests, which skip under the race detector.
allocs:
	$(GO) test -count=1 -run 'NoAllocs' $(PKGS)

## lint: gofmt, go vet and staticcheck.
lint: vet staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	GOOS=darwin $(GO) vet $(PKGS)
	$(GO) vet -tags e2e ./e2e/...
	cd bench && $(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags e2e ./e2e/...

## cross: the library must build where the protocol does not exist.
cross:
	GOOS=darwin $(GO) build $(PKGS)
	GOOS=windows $(GO) build $(PKGS)
	GOOS=freebsd $(GO) build $(PKGS)

## fuzz: run every fuzz target for FUZZTIME each. A count (Nx), not a
## duration: Go 1.26's fuzz coordinator can report a spurious "context
## deadline exceeded" when a duration ends mid-execution (go.dev/issue/75804,
## fixed in Go 1.27).
FUZZTIME ?= 100000x
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: library benchmarks (see BENCHMARKS.md for the comparisons).
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## bench-compare: sdlife against go-systemd, side by side, through benchstat.
COUNT ?= 10
bench-compare:
	cd bench && $(GO) test -run '^$$' -bench . -benchmem -count $(COUNT) ./... | tee /tmp/sdlife-bench.txt
	$(GO) run golang.org/x/perf/cmd/benchstat@latest -col /lib /tmp/sdlife-bench.txt

## e2e: end-to-end tests against a real systemd in nspawn (root only; skipped otherwise).
e2e:
	@if [ "$$(id -u)" = 0 ] && [ -x e2e/run.sh ]; then e2e/run.sh; else echo "e2e: skipped (needs root and e2e/run.sh)"; fi

## adoption: the adoption test module (adoption/, its own go.mod): a plain
## chi app and an fx app adopting sdlife as a user would, tested with sdtest.
.PHONY: adoption
adoption:
	cd adoption && $(GO) vet ./... && $(GO) test -race -count=1 ./...

## mutate: apply each deliberate breakage in internal/mutate/table.go to a
## copy of the repository and fail if the unit tests miss any (no -race;
## 115 rows, about 28 minutes on 2 cores, so not part of `test`).
.PHONY: mutate
mutate:
	$(GO) run ./internal/mutate
