# The two commands of the README, and a few more. CMake does the building;
# this file only strings the steps together.
#   make run    install what is missing, build, serve demo data at http://127.0.0.1:8080/fhir:
#               demo/seed.ndjson and a generated city of CITY patients (made once, kept
#               in DATA-seed/, loaded when the store is empty)
#   make check  install what is missing, build (release + sanitizers), run every test
#   make bench  read/create benchmark against nginx, figures to bench/RESULTS.md
#   make bench-search  search on a generated store of 1,000,000 resources (built
#               once, about 15 min, then kept in bench/out/), figures to bench/RESULTS.md
#   make bench-ingest  transactions (8 clients) and `lienthong import` of 1,000,000
#               Synthea-shaped resources (INGEST_RESOURCES=N), figures to bench/RESULTS.md
#   make bench-export  Bulk Data $export of the same store: resources/s, RSS, download
#   make bench-hl7  ORU^R01 over MLLP from 8 connections: messages/s, ACK latency
#   make bench-auth  read by id with a bearer token and the audit trail on, against
#               both off, in one run (issue 6 goal: >= 0.85), figures to bench/RESULTS.md
#   make bench-everything  Patient/$everything of a 1,000-resource record among
#               100,000 resources (store built once, about 2 min), figures to bench/RESULTS.md

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
LISTEN     ?= 127.0.0.1:8080
MLLP       ?= 127.0.0.1:2575
DATA       ?= data/demo
SOAK_MINUTES ?= 30
SOAK_WARMUP_MINUTES ?= 15
CITY       ?= 2000

.PHONY: all run check bench bench-auth bench-search bench-ingest bench-export bench-everything bench-hl7 lint crash-test fault-test soak fuzz deps deps-test deps-bench build build-asan test-deps clean

all: build

deps:
	@tools/install-deps.sh build
deps-test:
	@tools/install-deps.sh test
deps-bench:
	@tools/install-deps.sh bench

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps-test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLT_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build $(DATA)-seed
	$(BUILD)/lienthong serve --data $(DATA) --listen $(LISTEN) --mllp $(MLLP) --seed $(DATA)-seed

# The demo's data: the hand-written records and a synthetic city (issue 7).
$(DATA)-seed: | build
	@rm -rf $@.tmp && mkdir -p $@.tmp
	@cp demo/seed.ndjson $@.tmp/
	$(BUILD)/lienthong gen --patients $(CITY) --seed 79 --out $@.tmp/city
	@mv $@.tmp $@

test-deps: deps-test
	@if [ -f tests/client/package-lock.json ]; then \
		npm ci --prefix tests/client --no-audit --no-fund --loglevel=error; fi

check: build build-asan test-deps
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

bench: build deps-bench
	@bench/run.sh $(BUILD)/lienthong

bench-search: build deps-bench
	@bench/search.sh $(BUILD)/lienthong

bench-ingest: build deps-bench
	@bench/ingest.sh $(BUILD)/lienthong
bench-export: build deps-bench
	@bench/export.sh $(BUILD)/lienthong
bench-hl7: build deps-bench
	@bench/hl7.sh $(BUILD)/lienthong
bench-everything: build deps-bench
	@bench/everything.sh $(BUILD)/lienthong
bench-auth: build deps-bench
	@bench/auth.sh $(BUILD)/lienthong

# SIGKILL during mixed writes, ROUNDS times; 0 lost and 0 corrupted or it fails.
ROUNDS ?= 200
crash-test: build deps-test
	python3 tests/reliability/crash.py $(BUILD)/lienthong --rounds $(ROUNDS)

# Failed writes, fsyncs and allocations and a full disk, injected under the
# store (the sanitizer build has the hooks): clean errors, a consistent store.
fault-test: build-asan deps-test
	python3 tests/reliability/faults.py $(ASAN_BUILD)/lienthong

# Mixed load: SOAK_WARMUP_MINUTES (15) for the page caches to fill, then
# SOAK_MINUTES (30) judged; RSS, open files, errors and latency every 10 s;
# fails on any error, on growing files, or RSS growth over 5 % after the warm-up.
soak: build deps-test
	python3 tests/reliability/soak.py $(BUILD)/lienthong --minutes $$(($(SOAK_MINUTES) + $(SOAK_WARMUP_MINUTES))) \
		--warmup $$(($(SOAK_WARMUP_MINUTES) * 60))

# libFuzzer targets (clang, ASan+UBSan) for every parser fed by the network;
# FUZZ_SECONDS per target. Crashes land in build-fuzz/crashes/.
FUZZ_SECONDS ?= 60
fuzz:
	@tools/install-deps.sh fuzz
	fuzz/build.sh && fuzz/run.sh $(FUZZ_SECONDS)

# Static analysis (cppcheck; the generated tables are left out, they are data).
lint:
	@command -v cppcheck >/dev/null || tools/install-deps.sh lint
	cppcheck --quiet --error-exitcode=1 --inline-suppr --enable=warning,performance,portability \
		--std=c11 -I src --suppress=missingIncludeSystem \
		$(filter-out src/fhir/fhir_tables.c src/fhir/search_params.c,$(wildcard src/*/*.c))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
