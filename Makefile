# lambda-role-audit. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/lambda-role-audit
SAMPLE := testdata/sample-account
# Fuzzing budgets are execution counts, not durations: a duration ends with a
# race in Go 1.26's fuzz coordinator (golang/go#75804) that fails the run with
# "context deadline exceeded" and no failing input. CI runs a short pass.
FUZZTIME ?= 300000x

.PHONY: help build test demo lint bench fuzz sample build-AuditFunction clean

help:
	@echo "make demo    audit the bundled sample account ($(SAMPLE)) and print the report"
	@echo "make test    run every test (unit, moto integration, template, fuzz smoke)"
	@echo "make build   build $(BIN)"
	@echo "make lint    cfn-lint, gofmt, go vet, go mod tidy check"
	@echo "make bench   scale benchmark (not part of make test)"
	@echo "make fuzz    run each fuzz target for FUZZTIME executions"
	@echo "make sample  regenerate $(SAMPLE) from moto with deploy/export-snapshot.sh"

# The command line is built like the Lambda artifact: no RPC mode (the
# provided runtimes use the runtime API), no symbol tables. 71 MB → about 20.
build:
	$(GO) build -tags lambda.norpc -trimpath -ldflags="-s -w" -o $(BIN) ./function

demo: build
	@./$(BIN) --snapshot $(SAMPLE); status=$$?; \
	  if [ $$status -gt 1 ]; then echo "demo failed with exit status $$status" >&2; exit $$status; fi

test: lint
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -count=1 -race -run Concurrent ./pkg/run
	$(MAKE) --no-print-directory fuzz FUZZTIME=20000x

lint:
	cfn-lint template.yaml deploy/slack.yaml deploy/central-alerts.yaml deploy/organization.yaml deploy/event-forwarder.yaml
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...
	@# Tidiness is checked on a copy: go.mod and go.sum are never rewritten here.
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  cp go.mod go.sum "$$tmp/"; \
	  $(GO) mod tidy -modfile="$$tmp/go.mod" && \
	  if ! diff -q go.mod "$$tmp/go.mod" >/dev/null || ! diff -q go.sum "$$tmp/go.sum" >/dev/null; then \
	    echo "go.mod/go.sum are not tidy: run go mod tidy and commit the result" >&2; diff go.mod "$$tmp/go.mod" >&2; exit 1; fi

# Scale benchmark: the real binary against the AWS-compatible test server
# (50 ms per call, AWS-like throttling) at 100, 1,000 and 10,000 functions.
bench: build
	$(GO) run ./internal/bench/cmd/lra-bench -binary $(BIN)
	@# Detection latency: a change batch to its alert, through the runtime
	@# emulator against moto; held under 2 s here, only logged by make test.
	set -o pipefail; LRA_CHECK_LATENCY=1 $(GO) test -count=1 -v -run '^TestChangeTriggeredAuditUnderRuntimeEmulator$$' ./function | grep -E 'change batch to alert|^(---|ok|FAIL)'


# Each fuzz target as package:Target.
FUZZ_TARGETS := ./pkg/policy:FuzzParse ./pkg/inventory:FuzzLoadSnapshot ./pkg/handler:FuzzDecodeEvent ./pkg/handler:FuzzReadBatch

fuzz:
	@set -e; log=$$(mktemp); trap 'rm -f "$$log"' EXIT; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; target=$${t##*:}; echo "fuzz $$pkg $$target for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -timeout 10m $$pkg >"$$log" 2>&1 || { cat "$$log"; exit 1; }; \
	done

sample:
	rm -rf $(SAMPLE) && mkdir -p $(SAMPLE)
	testdata/with-moto.sh bash -c 'python3 testdata/make-sample-account.py && deploy/export-snapshot.sh $(SAMPLE) us-east-1 eu-west-1'
	python3 testdata/finish-export.py $(SAMPLE)

# SAM (BuildMethod: makefile) runs this with ARTIFACTS_DIR set: a static
# arm64 binary named bootstrap for the provided.al2023 runtime.
build-AuditFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags="-s -w" -o $(ARTIFACTS_DIR)/bootstrap ./function

clean:
	rm -rf bin .aws-sam
