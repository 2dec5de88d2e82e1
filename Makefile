# Viza — two commands do everything on a fresh machine:
#   make run    start the service (the embedded demo company when there is no viza.yaml)
#   make test   run every test with the race detector

GO      ?= go
BIN     ?= bin/viza
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
CONFIG  ?= $(if $(wildcard viza.yaml),-config viza.yaml,--demo)

.PHONY: run test lint bench scale stress fuzz build check-config clean screenshots ru-strings

run:
	$(GO) run ./cmd/viza serve $(CONFIG)

# Then the engine's and the channels' suites again with the writer
# rehearsing every batch (run once, rolled back, run for real): a command
# that keeps anything outside its transaction fails them.
#
# Tests that need pdftotext (poppler-utils), chromium or openssl (standing
# in for cryptcp) skip when those are missing, and the note below says so;
# .ci/run installs them and sets VIZA_TEST_ALL=1, under which a missing one
# fails instead.
MISSING_NOTE = for p in pdftotext:poppler-utils chromium:chromium openssl:openssl; do \
		command -v $${p%%:*} >/dev/null 2>&1 || echo "NOTE: $${p%%:*} is missing, so the tests that need it were skipped; apt-get install $${p\#\#*:} runs them"; \
	done; \
	[ -f node_modules/axe-core/axe.min.js ] || echo "NOTE: axe-core is missing, so the accessibility check of the pages was skipped; npm ci installs it"
#
# Last, on PostgreSQL: the storage contract and the engine's tests (crash
# tests included) with the race detector — the code that differs between
# the backends is theirs — then the channels' suites and the whole
# service's tests (every channel's scenarios, SIGKILL of the real binary,
# two replicas killed in turn, viza migrate), each in a schema of its own
# at VIZA_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
# Without a server that answers they are skipped with a note saying so;
# under VIZA_TEST_ALL=1 (CI) that fails instead.
PG_NOTE = NOTE: PostgreSQL does not answer, so the PostgreSQL suite was skipped; start one, or point VIZA_TEST_POSTGRES_URL at one, to run it
test:
	@$(MISSING_NOTE)
	$(GO) test -race -count=1 -timeout 30m ./...
	VIZA_WRITER_RUN_TWICE=1 $(GO) test -count=1 -timeout 30m ./flows/... ./bot/... ./cmd/viza/...
	@if $(GO) run ./internal/pgready; then \
		echo "VIZA_TEST_BACKEND=postgres $(GO) test -race -count=1 ./storage/... ./flows/... ./stats/... && … ./compare/... ./bot/... ./messages/... ./cmd/viza/..."; \
		VIZA_TEST_BACKEND=postgres $(GO) test -race -count=1 -timeout 30m ./storage/... ./flows/... ./stats/... && \
		VIZA_TEST_BACKEND=postgres $(GO) test -count=1 -timeout 30m ./compare/... ./bot/... ./messages/... ./cmd/viza/...; \
	elif [ -n "$$VIZA_TEST_ALL" ]; then echo "PostgreSQL is required here (VIZA_TEST_ALL=1)"; exit 1; \
	else echo "$(PG_NOTE)"; fi
	@$(MISSING_NOTE)
	@$(GO) run ./internal/pgready 2>/dev/null || echo "$(PG_NOTE)"

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Decisions per second through the engine next to raw INSERT commits (one
# JSON line per backend and concurrency: SQLite, then PostgreSQL when one
# answers), then the Go micro-benchmarks.
bench:
	$(GO) run ./cmd/vizabench
	@if $(GO) run ./internal/pgready; then $(GO) run ./cmd/vizabench -postgres "$${VIZA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"; \
	else echo "$(PG_NOTE)"; fi
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Every view at 1 k, 10 k and 100 k documents made through the engine: time,
# peak RSS and database size, one JSON line each (SCALE=1000 for a quick look).
SCALE ?= 1000,10000,100000
scale:
	VIZA_SCALE=$(SCALE) $(GO) test -count=1 -run '^TestScaleReport$$' -v -timeout 0 ./cmd/viza

# Crash safety at length: 200 rounds of SIGKILL while decisions stream in;
# on PostgreSQL also with two engine processes, one killed each round.
stress:
	VIZA_CRASH_ROUNDS=200 $(GO) test -count=1 -run '^TestCrashSafety$$' -v ./flows
	@if $(GO) run ./internal/pgready; then \
		VIZA_TEST_BACKEND=postgres VIZA_CRASH_ROUNDS=200 $(GO) test -count=1 -run '^TestCrashSafety' -v ./flows; \
	else echo "$(PG_NOTE)"; fi

# Every parser that takes outside input, fuzzed for FUZZTIME each.
FUZZTIME ?= 10m
FUZZ_TARGETS = ./bot/telegram:FuzzUpdate ./bot/slack:FuzzClassify ./bot/bitrix24:FuzzEvent ./config:FuzzParse \
	./bot/input:FuzzParseAmount ./flows:FuzzCleanFileName ./compare/extract:FuzzOffice ./compare/pdftext:FuzzPDF
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "== $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -timeout 0 $$pkg || exit 1; \
	done

# Every page of the demo at 390 px (a phone) and 1280 px, as PNG files in
# SHOTS, for a reviewer to look at; the same test fails if a page scrolls
# sideways on the phone. Needs chromium.
SHOTS ?= screenshots
screenshots:
	VIZA_TEST_ALL=1 VIZA_SCREENSHOTS=$(abspath $(SHOTS)) $(GO) test -count=1 -run '^TestBrowserPagesFitAPhone$$' ./cmd/viza
	@echo "screenshots in $(SHOTS)/"

# Every Russian string, key and text one per line, to read the wording in
# one place (LANG_LIST=en for the English catalogue).
LANG_LIST ?= ru
ru-strings:
	@$(GO) run ./locales/list $(LANG_LIST)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/viza

check-config:
	$(GO) run ./cmd/viza check-config $(CONFIG)

clean:
	rm -rf bin demo-data screenshots
